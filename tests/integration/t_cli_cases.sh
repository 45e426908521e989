#!/usr/bin/env bash
# t_cli_cases: the casework commands of the cdrp client against the
# devstack's cdrpd: triage (accept, decline, request-info, resubmit), a case
# read and changed (If-Match read first, a stale --if-match refused with exit
# 81, transitions refused with 80), persons, incidents with the Case Review
# prompts, the repeat-victim list, risk (every question answered, checked
# before sending), actions (version as ETag, a CPN without a warning refused
# with 65), Case Review applications and statistics, and who may read what.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"


# cw ARGS...: as the council caseworker (Sam Okafor, HMDC).
cw() {
	cli_as council-caseworker "$@"
}

assert_rc_in() { # NAME "EXPECTED..."
	if [[ " $2 " == *" $CLI_RC "* ]]; then
		ok "$1"
	else
		not_ok "$1" "expected exit in {$2}, got $CLI_RC" "stderr: $(head -c 400 "$ERR")"
	fi
}


# days N: the UTC date N days from today (negative: in the past).
days() {
	date -u -d "$1 days" +%F
}

# my_referral FILE SUBJECT VICTIM [KIND]: a referral with one victim and no
# incidents (so the prompts below come only from the incidents added here).
my_referral() {
	"$PY" - "$2" "$3" "${4:-asb}" >"$1" <<'EOF'
import json, sys
print(json.dumps({
    "case_kind": sys.argv[3],
    "subject": {"type": "individual", "name": sys.argv[1], "ward": "Millbrook"},
    "reason": "Noise and intimidation; housing cannot resolve it alone.",
    "victims": [{"name": sys.argv[2], "vulnerable": True, "consent_to_share": True}],
}))
EOF
}

# submitted FILE: submit FILE as the police referrer; prints the referral id.
submitted() {
	cli_as police-referrer --json referral submit "$1"
	jget "$OUT" id
}

if [[ ! -x $CLI ]]; then
	not_ok "the client $CLI exists"
	finish
fi

subject="Cases Subject $RUN_TAG"
victim_name="Cases Victim $RUN_TAG"

# --- triage: accept --------------------------------------------------------------

my_referral "$WORK/r1.json" "$subject" "Referral Victim $RUN_TAG"
rid=$(submitted "$WORK/r1.json")
assert_match "a referral to triage" '^[0-9]+$' "$rid"

cli_as police-referrer referral accept "$rid"
assert_rc "the police referrer may not accept: exit 77" 77

cw referral accept "$rid" --ward Millbrook --caseworker "HMDC:Sam Okafor"
assert_rc "referral accept: exit 0" 0
assert_contains "accept: says accepted" accepted "$(out)"
ref=$(grep -Eo 'ASB-[0-9]{4}-[0-9]+' "$OUT" | head -n 1)
assert_match "accept: prints the new case reference" '^ASB-[0-9]{4}-[0-9]+$' "$ref"
assert_eq "db: the referral is accepted into that case" "accepted $ref" \
	"$(sql "SELECT r.status || ' ' || c.reference FROM cdrp.referrals r JOIN cdrp.cases c ON c.id = r.case_id WHERE r.id = $rid")"
case_id=$(sql "SELECT id FROM cdrp.cases WHERE reference = $(sql_lit "$ref")")

cw referral accept "$rid"
assert_rc "accepting again: exit 80 (invalid transition)" 80
assert_contains "accepting again: says invalid_transition" invalid_transition "$(err)"

# --- case show, list ---------------------------------------------------------------

cw case show "$ref"
assert_rc "case show REF: exit 0" 0
assert_contains "case show: the reference" "$ref" "$(out)"
assert_contains "case show: the subject" "$subject" "$(out)"
assert_contains "case show: the caseworker" "Sam Okafor" "$(out)"
assert_contains "case show: the referral's victim" "Referral Victim $RUN_TAG" "$(out)"
assert_match "case show: the version" "version [0-9]+" "$(out)"
cw --json case show "$case_id"
assert_rc "case show ID --json: exit 0" 0
assert_eq "case show --json: the reference" "$ref" "$(jget "$OUT" reference)"
assert_eq "case show --json: status open" open "$(jget "$OUT" status)"
version=$(jget "$OUT" version)
assert_match "case show --json: a version" '^[0-9]+$' "$version"

cw case show 999999999
assert_rc "case show of a nonexistent case: exit 79" 79
cli_as housing-referrer case show "$ref"
assert_rc "another agency's referrer cannot see the case: exit 79" 79
cli_as police-referrer case show "$ref"
assert_rc "the referring agency can read the case: exit 0" 0

cw case list --limit 200
assert_rc "case list: exit 0" 0
assert_contains "case list: the case" "$ref" "$(out)"
cw case list --kind ppo --limit 200
assert_rc "case list --kind ppo: exit 0" 0
assert_not_contains "case list --kind ppo: not the ASB case" "$ref" "$(out)"
cw case list --caseworker "Sam Okafor" --ward Millbrook --status open --limit 200
assert_contains "case list by caseworker, ward and status: the case" "$ref" "$(out)"
cw --json case list --limit 1
assert_eq "case list --json --limit 1: one item" 1 \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$OUT" 2>/dev/null)"

# --- persons and incidents: repeat victim and Case Review prompts -------------------

cw --json case person "$ref" --name "$victim_name" --role victim --vulnerable \
	--contact "via the housing officer"
assert_rc "case person (new victim): exit 0" 0
pid=$(jget "$OUT" person_id)
assert_match "case person: the person id" '^[0-9]+$' "$pid"
cw case person "$ref" --person-id "$pid" --role witness
assert_rc "case person --person-id (link): exit 0" 0
assert_contains "case person --person-id: the role" witness "$(out)"

incident() { # N DAYS_AGO
	cw incident add "$ref" --occurred "$(days "-$2")" --reported "$(days "-$(($2 - 1))")" \
		--category personal --place "Stairwell $1" --victim "$pid" --external-ref "inc-$RUN_TAG-$1"
}
incident 1 100
assert_rc "first incident: exit 0" 0
assert_not_contains "first incident: no Case Review prompt" case_review "$(out)"
incident 2 70
assert_rc "second incident: exit 0" 0
assert_contains "second complaint: the explain-the-Case-Review prompt" explain_case_review "$(out)"
assert_contains "second complaint: the prompt names the person" "person $pid" "$(out)"
assert_not_contains "second complaint: not yet eligible" case_review_eligible "$(out)"
incident 3 40
assert_rc "third incident: exit 0" 0
assert_contains "third complaint: Case Review eligible" case_review_eligible "$(out)"
assert_contains "third incident: repeat victim prompt" repeat_victim "$(out)"
incident 3 40
assert_rc "the same report again (same external ref): exit 0" 0
assert_contains "the same report again: a replay" "already recorded" "$(out)"
assert_eq "db: three incidents on the case" 3 \
	"$(sql "SELECT count(*) FROM cdrp.incidents WHERE case_id = $case_id")"

cw incident list "$ref"
assert_rc "incident list: exit 0" 0
assert_contains "incident list: the third incident" "Stairwell 3" "$(out)"

cw incident add "$ref" --occurred "$(days -5)" --reported "$(days -4)" --category personal \
	--place "Nowhere" --victim 999999999
assert_rc "incident naming a person not on the case: exit 65" 65

cw victim list --repeat --all
assert_rc "victim list --repeat: exit 0" 0
assert_contains "victim list --repeat: the victim" "$victim_name" "$(out)"
cw --json victim list --repeat --all
check "victim list --repeat --json: the person is a repeat victim" "$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))["items"]
hit = [i for i in items if str(i["person_id"]) == sys.argv[2]]
sys.exit(0 if hit and hit[0]["repeat_victim"] is True else 1)' "$OUT" "$pid"

cw victim case-review "$pid"
assert_rc "victim case-review: exit 0" 0
assert_contains "victim case-review: eligible" ELIGIBLE "$(out)"

cw case show "$ref"
assert_contains "case show: the victim marked as a repeat victim" "REPEAT VICTIM" \
	"$(grep -F "$victim_name (victim)" "$OUT")"
cw case list --flagged --limit 200
assert_contains "case list --flagged: the case" "$ref" "$(out)"

cw victim flag "$pid" --reason "Known to housing for a year"
assert_rc "victim flag: exit 0" 0

# --- risk ---------------------------------------------------------------------------

cw risk questionnaire
assert_rc "risk questionnaire: exit 0" 0
assert_contains "risk questionnaire: a question id" happened_before "$(out)"
mapfile -t qids < <(cw --json risk questionnaire && "$PY" -c '
import json, sys
for q in json.load(open(sys.argv[1]))["questions"]:
    print(q["id"])' "$OUT")
assert_ne "the questionnaire has questions" 0 "${#qids[@]}"

before=$(sql "SELECT count(*) FROM cdrp.risk_assessments WHERE case_id = $case_id")
cw risk assess "$ref" --person "$pid" --yes "${qids[0]}"
assert_rc "risk assess with unanswered questions: exit 65" 65
assert_contains "risk assess: names an unanswered question" "${qids[1]}" "$(err)"
cw risk assess "$ref" --yes "${qids[0]}" --no no_such_question
assert_rc "risk assess with an unknown question: exit 65" 65
assert_eq "db: nothing stored for the refused assessments" "$before" \
	"$(sql "SELECT count(*) FROM cdrp.risk_assessments WHERE case_id = $case_id")"

yes_list=$(IFS=,; echo "${qids[*]}")
cw risk assess "$ref" --person "$pid" --yes "$yes_list"
assert_rc "risk assess, every question yes: exit 0" 0
assert_contains "risk assess: band high" high "$(out)"
assert_contains "risk assess: the victim support prompt" refer_to_victim_support "$(out)"
printf '{' >"$WORK/answers.json"
for i in "${!qids[@]}"; do
	printf '%s"%s": false' "$([[ $i -gt 0 ]] && echo ,)" "${qids[$i]}" >>"$WORK/answers.json"
done
printf '}' >>"$WORK/answers.json"
cw --json risk assess "$ref" --answers "$WORK/answers.json"
assert_rc "risk assess --answers FILE (all no): exit 0" 0
assert_eq "risk assess --json: score 0" 0 "$(jget "$OUT" score)"
assert_eq "risk assess --json: band standard" standard "$(jget "$OUT" band)"

# --- actions --------------------------------------------------------------------------

cw action add "$ref" --type cpn --stage 3 --owner HMDC
assert_rc "a CPN without a prior warning: exit 65 (rule violation)" 65
assert_contains "a CPN without a prior warning: says rule_violation" rule_violation "$(err)"
cw action add "$ref" --type warning_letter --stage 1 --owner HMDC --due "$(days -1)" \
	--notes "Letter about the noise"
assert_rc "action add: exit 0" 0
assert_contains "action add: prints the version" "version 1" "$(out)"
assert_contains "action add: overdue (due yesterday)" OVERDUE "$(out)"
aid=$(sql "SELECT max(id) FROM cdrp.actions WHERE case_id = $case_id")
cw case list --overdue --limit 200
assert_contains "case list --overdue: the case" "$ref" "$(out)"
cw action update "$aid" --status in_progress --if-match 1
assert_rc "action update --if-match 1: exit 0" 0
assert_contains "action update: the new version" "version 2" "$(out)"
cw action update "$aid" --status "done" --if-match 1
assert_rc "action update with a stale --if-match: exit 81" 81
assert_contains "stale action version: says it changed" "changed since you read it" "$(err)"
assert_eq "db: the stale update changed nothing" in_progress \
	"$(sql "SELECT status FROM cdrp.actions WHERE id = $aid")"
cw --json action add "$ref" --type cpn --stage 3 --owner HMDC
assert_rc "a CPN after the warning letter: exit 0" 0
assert_eq "action add --json: version 1" 1 "$(jget "$OUT" version)"
cpn=$(jget "$OUT" id)

cw action show "$aid"
assert_rc "action show: exit 0" 0
assert_contains "action show: the type and status" "warning_letter, stage 1, owner HMDC, in_progress" "$(out)"
assert_contains "action show: the version for --if-match" "version 2" "$(out)"
cw --json action show "$aid"
assert_eq "action show --json: the action as served" "$aid 2 in_progress" \
	"$(jget "$OUT" id) $(jget "$OUT" version) $(jget "$OUT" status)"
cw action update "$aid" --notes "Letter delivered by hand" --if-match "$(jget "$OUT" version)"
assert_rc "action update with the version action show printed: exit 0" 0
cw action list "$ref"
assert_rc "action list: exit 0" 0
assert_contains "action list: the warning letter" warning_letter "$(out)"
assert_contains "action list: the CPN" cpn "$(out)"
assert_contains "action list: the overdue letter is marked" OVERDUE "$(out)"
cw --json action list "$ref"
assert_eq "action list --json: both actions, oldest first" "[$aid, $cpn]" \
	"$("$PY" -c 'import json,sys; print(json.dumps([a["id"] for a in json.load(open(sys.argv[1]))["items"]]))' "$OUT")"
assert_eq "action list --json: the version of the updated letter" 3 "$(jget "$OUT" items.0.version)"
cli_as youth-referrer action show "$aid"
assert_rc "an agency that neither reads the case nor owns the action: exit 79" 79
cw action show 999999999
assert_rc "action show of no such action: exit 79" 79
offline council-caseworker action show abc
assert_rc "action show of a non-number: exit 64 before any network use" 64
offline council-caseworker action list
assert_rc "action list without a case: exit 64" 64

# --- changes with If-Match ----------------------------------------------------------

cw --json case show "$ref"
v0=$(jget "$OUT" version)
cw case assign "$ref" --ward Eastgate --marking OFFICIAL-SENSITIVE
assert_rc "case assign (reads the ETag first): exit 0" 0
assert_contains "case assign: the new ward" Eastgate "$(out)"
assert_eq "db: version bumped by one" "$((v0 + 1))" \
	"$(sql "SELECT version FROM cdrp.cases WHERE id = $case_id")"
# OFFICIAL-SENSITIVE now: without --why the case is refused, with it served.
cw case show "$ref"
assert_rc "show of an OFFICIAL-SENSITIVE case without --why: exit 77" 77
assert_contains "the refusal says to state why" "--why" "$(err)"
cw --why "short" case show "$ref"
assert_rc "a --why under 10 characters: exit 64" 64
WHY="t_cli_cases: reviewing the case for the task group"
cw case show "$ref"
assert_rc "show with --why: exit 0" 0
cw case close "$ref" --outcome resolved --if-match "$v0"
assert_rc "case close with a stale --if-match: exit 81" 81
assert_contains "stale case version: the advice" "the case changed since you read it; show it again and retry" "$(err)"
assert_eq "db: still open" open "$(sql "SELECT status FROM cdrp.cases WHERE id = $case_id")"
cw --json case close "$ref" --outcome resolved --if-match "$v0"
assert_rc "stale close --json: exit 81" 81
assert_eq "stale close --json: the problem on stdout" precondition_failed "$(jget "$OUT" code)"

cw case close "$ref" --outcome resolved --reason "Quiet for two months"
assert_rc "case close: exit 0" 0
assert_contains "case close: closed" closed "$(out)"
cw case close "$ref" --outcome resolved
assert_rc "closing a closed case: exit 80" 80
cw case reopen "$ref" --reason "Started again"
assert_rc "case reopen: exit 0" 0
assert_eq "db: open again" open "$(sql "SELECT status FROM cdrp.cases WHERE id = $case_id")"
cw case strand "$ref" --strand deter
assert_rc "a strand on an ASB case: exit 65 (rule violation)" 65
cli_as county-analyst case close "$ref" --outcome resolved --if-match 1
assert_rc_in "an analyst cannot close the case: exit 77 or 79" "77 79"

cw case history "$ref"
assert_rc "case history: exit 0" 0
assert_contains "case history: the closing reason" "Quiet for two months" "$(out)"
assert_contains "case history: the reopening" "Started again" "$(out)"

cw case note "$ref" "Joint visit with housing on $RUN_TAG."
assert_rc "case note: exit 0" 0
printf 'Second note %s\n' "$RUN_TAG" >"$WORK/note.txt"
CLI_RC=0
timeout 60 "$CLI" --cert "$CDRP_PKI/council-caseworker.crt" \
	--key "$CDRP_PKI/council-caseworker.key" --why "$WHY" case note "$ref" - <"$WORK/note.txt" \
	>"$OUT" 2>"$ERR" || CLI_RC=$?
assert_rc "case note from stdin: exit 0" 0
cw case notes "$ref"
assert_rc "case notes: exit 0" 0
assert_contains "case notes: the first note" "Joint visit with housing on $RUN_TAG." "$(out)"
assert_contains "case notes: the note from stdin" "Second note $RUN_TAG" "$(out)"

# --- triage: decline, request-info, resubmit ------------------------------------------

my_referral "$WORK/r2.json" "Cases Declined $RUN_TAG" "Someone $RUN_TAG"
rid2=$(submitted "$WORK/r2.json")
cw referral decline "$rid2" --reason "Single-agency matter for housing."
assert_rc "referral decline: exit 0" 0
assert_contains "decline: says declined" declined "$(out)"
cw referral decline "$rid2" --reason "Again."
assert_rc "declining again: exit 80" 80

my_referral "$WORK/r3.json" "Cases Info $RUN_TAG" "Someone Else $RUN_TAG"
rid3=$(submitted "$WORK/r3.json")
cw referral request-info "$rid3" --question "Which flat is affected?"
assert_rc "referral request-info: exit 0" 0
assert_contains "request-info: says info_requested" info_requested "$(out)"
sed 's/Noise and intimidation/Flat 3: noise and intimidation/' "$WORK/r3.json" >"$WORK/r3b.json"
cli_as housing-referrer referral resubmit "$rid3" "$WORK/r3b.json"
assert_rc_in "another agency cannot resubmit: exit 77 or 79" "77 79"
cli_as police-referrer referral resubmit "$rid3" "$WORK/r3b.json"
assert_rc "referral resubmit by the referring agency: exit 0" 0
assert_contains "resubmit: back to submitted" submitted "$(out)"
assert_eq "db: the new reason is stored" "Flat 3: noise and intimidation; housing cannot resolve it alone." \
	"$(sql "SELECT body->>'reason' FROM cdrp.referrals WHERE id = $rid3")"
# The same command again is a retry: the key derived from the request
# replays the first answer instead of resubmitting.
cli_as police-referrer referral resubmit "$rid3" "$WORK/r3b.json"
assert_rc "the same resubmit again (a retry): exit 0" 0
assert_contains "the retry is the original answer" "already recorded" "$(out)"
assert_eq "db: one resubmission transition" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referral_transitions WHERE referral_id = $rid3
	        AND from_status = 'info_requested' AND to_status = 'submitted'")"
sed 's/housing cannot resolve it alone/housing and police cannot resolve it alone/' \
	"$WORK/r3b.json" >"$WORK/r3c.json"
cli_as police-referrer referral resubmit "$rid3" "$WORK/r3c.json"
assert_rc "resubmitting a submitted referral (another body): exit 80" 80

# --- PPO: strand and removal -------------------------------------------------------

my_referral "$WORK/ppo.json" "Cases PPO $RUN_TAG" "PPO Victim $RUN_TAG" ppo
rid4=$(submitted "$WORK/ppo.json")
cw referral accept "$rid4"
assert_rc "accepting a PPO referral: exit 0" 0
ppo_ref=$(grep -Eo 'PPO-[0-9]{4}-[0-9]+' "$OUT" | head -n 1)
assert_match "a PPO case reference" '^PPO-[0-9]{4}-[0-9]+$' "$ppo_ref"
cli_as police-ppo case strand "$ppo_ref" --strand catch_and_convict --reason "Charged"
assert_rc "the PPO coordinator sets the strand: exit 0" 0
assert_contains "case strand: the new strand" catch_and_convict "$(out)"
cli_as police-ppo case remove "$ppo_ref" --reason moved_away
assert_rc "removal without an exit strategy: exit 65, before any network use" 65
cli_as police-ppo case remove "$ppo_ref" --reason moved_away \
	--exit-strategy "Handed to the receiving area's IOM team"
assert_rc "case remove (PPO removal): exit 0" 0
assert_contains "case remove: the case is closed" closed "$(out)"
cli_as police-ppo case history "$ppo_ref"
assert_rc "PPO case history: exit 0" 0
assert_contains "PPO case history: the strand change" catch_and_convict "$(out)"
assert_contains "PPO case history: the removal" moved_away "$(out)"

# --- Case Review ---------------------------------------------------------------------

cw --json case-review apply --person "$pid" --case "$ref" --applied "$(days -2)"
assert_rc "case-review apply: exit 0" 0
crid=$(jget "$OUT" id)
assert_match "case-review apply: the application id" '^[0-9]+$' "$crid"
assert_eq "case-review apply: eligible when applied" true "$(jget "$OUT" eligible_at_application)"
cw case-review decide "$crid" --met yes --decided "$(days -1)"
assert_rc "case-review decide: exit 0" 0
assert_contains "case-review decide: decided" decided "$(out)"
cw case-review meeting "$crid" --date "$(days 0)" --recommendation "Joint visit" \
	--recommendation "Mediation referral"
assert_rc "case-review meeting: exit 0" 0
assert_contains "case-review meeting: the recommendations" "Mediation referral" "$(out)"
cw --json case-review stats --year "$(date -u +%Y)"
assert_rc "case-review stats: exit 0" 0
assert_match "case-review stats: at least one review held" '^[1-9][0-9]*$' "$(jget "$OUT" reviews_held)"

finish
