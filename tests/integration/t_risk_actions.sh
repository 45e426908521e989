#!/usr/bin/env bash
# t_risk_actions: risk assessments and actions over HTTPS (proto/API.md "Risk
# and actions"): the questionnaire, scoring, bands, next review and the
# victim-support prompt; refused answers; the Community Protection Notice
# rule; action updates with If-Match and status transitions; derived
# overdue; roles; audit rows.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

CASE_SEQ=0

# seed_case LEAD_AGENCY: a new open ASB case made directly in PostgreSQL;
# prints its id.
seed_case() {
	CASE_SEQ=$((CASE_SEQ + 1))
	sql "INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name,
	       lead_agency_id, referral_date)
	     SELECT partnership_id, $(sql_lit "ASB-2099-R$$-${EPOCHREALTIME/[.,]/}-$CASE_SEQ"), 'asb',
	            'individual', 'Fictional Subject', id, cdrp.today()
	     FROM cdrp.agencies WHERE code = $(sql_lit "$1") RETURNING id"
}

# accepted_case: a case opened by accepting a youth offending referral through
# the API (lead agency HMDC, Sam Okafor's); falls back to seed_case HMDC when the
# accept endpoint does not answer 200. Prints the case id.
accepted_case() {
	local rid ref
	write_referral "$WORK/ref.json" "Risk Subject $RUN_TAG"
	post_referral youth-referrer "$(new_key risk)" "$WORK/ref.json"
	rid=$(body_field id)
	req council-caseworker POST "/v1/referrals/$rid/accept" -H 'Content-Type: application/json' \
		--data-binary '{}'
	ref=$(body_field case_reference)
	if [[ $STATUS == 200 && $ref == ASB-* ]]; then
		sql "SELECT id FROM cdrp.cases WHERE reference = $(sql_lit "$ref")"
	else
		echo "# accept answered $STATUS: seeding the case in PostgreSQL instead" >&2
		seed_case HMDC
	fi
}

# answers TRUE_IDS...: a complete answers object, these questions true.
answers() {
	"$PY" - "$@" <<'EOF'
import json, sys
ids = ["happened_before", "feel_targeted", "hate_motivated", "disabled_or_ill",
       "affecting_health", "afraid_at_home", "children_affected", "violence_or_threats",
       "isolated", "considered_moving"]
print(json.dumps({i: i in sys.argv[1:] for i in ids}, separators=(",", ":")))
EOF
}

# post_json WHO PATH JSON [CURL_ARGS...]
post_json() {
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" POST "$path" -H 'Content-Type: application/json' --data-binary "$json" "$@"
}

# patch_action WHO ID JSON [CURL_ARGS...]
patch_action() {
	local who=$1 id=$2 json=$3
	shift 3
	req "$who" PATCH "/v1/actions/$id" -H 'Content-Type: application/json' \
		--data-binary "$json" "$@"
}

# assess WHO CASE ANSWERS_JSON [EXTRA_JSON_MEMBERS]
assess() {
	post_json "$1" "/v1/cases/$2/risk" "{\"answers\":$3${4:+,$4}}"
}

# audit_count TYPE ID ACTION: audit rows about one object.
audit_count() {
	sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = $(sql_lit "$1")
	     AND object_id = $2 AND action = $(sql_lit "$3")"
}

today_plus() {
	sql "SELECT (cdrp.today() + $1)::text"
}

# --- questionnaire ----------------------------------------------------------------

for who in county-analyst police-referrer council-caseworker; do
	req "$who" GET /v1/risk/questionnaire
	assert_status "questionnaire: $who gets 200" 200
done
assert_eq "questionnaire: ten default questions" 10 \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["questions"]))' "$BODY")"
assert_eq "questionnaire: first question id" happened_before "$(body_field questions.0.id)"
assert_eq "questionnaire: hate_motivated weighs 5" 5 "$(body_field questions.2.weight)"
assert_eq "questionnaire: medium from 10" 10 "$(body_field bands.medium_from)"
assert_eq "questionnaire: high from 20" 20 "$(body_field bands.high_from)"
assert_eq "questionnaire: victim support from 15" 15 "$(body_field victim_support_from)"
assert_eq "questionnaire: high cadence 14 days" 14 "$(body_field cadence_days.high)"
req unknown-user GET /v1/risk/questionnaire
assert_problem "questionnaire: unknown identity 403" 403 unknown_identity

# --- assessments ------------------------------------------------------------------

case1=$(accepted_case)
assert_match "a case to work on" '^[1-9][0-9]*$' "$case1"

# 9 = hate 5 + disabled 4: standard, next review in 28 days, no prompt
assess council-caseworker "$case1" "$(answers hate_motivated disabled_or_ill)"
assert_status "assess score 9: 201" 201
ra9=$(body_field id)
assert_eq "score 9: score" 9 "$(body_field score)"
assert_eq "score 9: band standard" standard "$(body_field band)"
assert_eq "score 9: next review in 28 days" "$(today_plus 28)" "$(body_field next_review_on)"
assert_eq "score 9: no prompts" "[]" "$(body_field prompts)"
assert_eq "score 9: stored" "9|standard" \
	"$(sql "SELECT score || '|' || band FROM cdrp.risk_assessments WHERE id = $ra9")"
assert_eq "score 9: one collect audit row" 1 "$(audit_count risk_assessment "$ra9" collect)"

# 10 = hate 5 + violence 5: medium
assess council-chair "$case1" "$(answers hate_motivated violence_or_threats)"
assert_status "assess score 10 (chair): 201" 201
assert_eq "score 10: band medium" medium "$(body_field band)"
assert_eq "score 10: next review in 28 days" "$(today_plus 28)" "$(body_field next_review_on)"

# 14 = 5 + 5 + 4: medium, still no victim-support prompt
assess council-caseworker "$case1" "$(answers hate_motivated violence_or_threats afraid_at_home)"
assert_eq "score 14: score" 14 "$(body_field score)"
assert_eq "score 14: no prompt" "[]" "$(body_field prompts)"

# 15 = 3 + 3 + 5 + 4: the victim-support prompt
assess council-caseworker "$case1" \
	"$(answers happened_before feel_targeted hate_motivated disabled_or_ill)"
assert_eq "score 15: score" 15 "$(body_field score)"
assert_eq "score 15: band medium" medium "$(body_field band)"
assert_eq "score 15: prompt refer_to_victim_support" refer_to_victim_support \
	"$(body_field prompts.0.code)"

# 20 = 5 + 5 + 4 + 4 + 2: high, review in 14 days
assess council-admin "$case1" \
	"$(answers hate_motivated violence_or_threats afraid_at_home affecting_health isolated)"
assert_status "assess score 20 (admin): 201" 201
ra20=$(body_field id)
assert_eq "score 20: band high" high "$(body_field band)"
assert_eq "score 20: next review in 14 days" "$(today_plus 14)" "$(body_field next_review_on)"
assert_eq "score 20: prompt" refer_to_victim_support "$(body_field prompts.0.code)"
assert_eq "latest assessment is the case's risk" "$ra20" \
	"$(sql "SELECT cdrp.case_risk($case1)->>'id'")"
req council-caseworker GET "/v1/cases/$case1"
assert_eq "the case shows the latest assessment's victim-support prompt" refer_to_victim_support \
	"$("$PY" -c 'import json,sys; print(",".join(p["code"] for p in json.load(open(sys.argv[1]))["prompts"] if p["code"] == "refer_to_victim_support"))' "$BODY")"

# the person assessed must be linked to the case
person=$(sql "INSERT INTO cdrp.persons (partnership_id, name)
              SELECT partnership_id, 'Fictional Victim' FROM cdrp.cases WHERE id = $case1
              RETURNING id")
assess council-caseworker "$case1" "$(answers)" "\"person_id\":$person"
assert_problem "person not linked to the case: 422" 422 rule_violation person_id
sql "INSERT INTO cdrp.case_persons VALUES ($case1, $person, 'victim')"
assess council-caseworker "$case1" "$(answers hate_motivated violence_or_threats afraid_at_home \
	affecting_health)" "\"person_id\":$person"
assert_status "linked person: 201" 201
ra_last=$(body_field id)
assert_eq "linked person: person_id echoed" "$person" "$(body_field person_id)"
assert_eq "linked person: prompt names the person" "$person" "$(body_field prompts.0.person_id)"

# refused answers
n_before=$(sql "SELECT count(*) FROM cdrp.risk_assessments WHERE case_id = $case1")
bad=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d["owns_a_dog"]=True; print(json.dumps(d))' "$(answers)")
assess council-caseworker "$case1" "$bad"
assert_problem "unknown question: 400 invalid_field naming it" 400 invalid_field answers.owns_a_dog
missing=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); del d["isolated"]; print(json.dumps(d))' "$(answers)")
assess council-caseworker "$case1" "$missing"
assert_problem "missing answer: 400 missing_field naming it" 400 missing_field answers.isolated
assess council-caseworker "$case1" '{"happened_before":"yes"}'
assert_problem "non-boolean answer: 400" 400 invalid_field
assert_eq "refused answers store nothing" "$n_before" \
	"$(sql "SELECT count(*) FROM cdrp.risk_assessments WHERE case_id = $case1")"

# roles and lookup
assess police-referrer "$case1" "$(answers)"
assert_problem "referrer cannot assess: 403" 403 forbidden
assess county-analyst "$case1" "$(answers)"
assert_problem "analyst cannot assess: 403" 403 forbidden
assess council-caseworker 999999999 "$(answers)"
assert_problem "no such case: 404" 404 not_found
closed=$(seed_case HMDC)
sql "UPDATE cdrp.cases SET status = 'closed', closed_at = now(), outcome = 'resolved' WHERE id = $closed"
assess council-caseworker "$closed" "$(answers)"
assert_problem "closed case: 409" 409 invalid_transition

# --- actions: CPN rule ---------------------------------------------------------------

case2=$(seed_case HMDC)
ref2=$(sql "SELECT reference FROM cdrp.cases WHERE id = $case2")
other=$(seed_case HMDC)
post_json council-caseworker "/v1/cases/$other/actions" \
	'{"type":"warning_letter","stage":1,"owner_agency":"HMDC"}'
assert_status "a warning letter on another case: 201" 201
post_json council-caseworker "/v1/cases/$case2/actions" \
	'{"type":"cpn","stage":3,"owner_agency":"HMDC"}'
assert_problem "CPN with no warning on this case: 422" 422 rule_violation
assert_contains "CPN refusal says why" "prior written warning" "$(body_field detail)"

post_json council-caseworker "/v1/cases/$ref2/actions" \
	'{"type":"cpn_warning","stage":2,"owner_agency":"HMDC"}'
assert_status "CPN warning (by reference): 201" 201
cw=$(body_field id)
sql "UPDATE cdrp.actions SET status = 'cancelled' WHERE id = $cw" >/dev/null
post_json council-caseworker "/v1/cases/$case2/actions" \
	'{"type":"cpn","stage":3,"owner_agency":"HMDC"}'
assert_problem "CPN after a cancelled warning: 422" 422 rule_violation

post_json council-caseworker "/v1/cases/$case2/actions" \
	"{\"type\":\"warning_letter\",\"stage\":1,\"owner_agency\":\"HMDC\",\"due_on\":\"$(today_plus 7)\",\"notes\":\"first letter\"}"
assert_status "warning letter: 201" 201
wl=$(body_field id)
assert_eq "warning letter: type" warning_letter "$(body_field type)"
assert_eq "warning letter: status agreed" agreed "$(body_field status)"
assert_eq "warning letter: version 1" 1 "$(body_field version)"
assert_eq "warning letter: ETag is the version" '"1"' "$(header etag)"
assert_eq "warning letter: owner agency" HMDC "$(body_field owner_agency)"
assert_eq "warning letter: not overdue" false "$(body_field overdue)"
assert_eq "warning letter: one collect audit row" 1 "$(audit_count action "$wl" collect)"

post_json council-caseworker "/v1/cases/$case2/actions" \
	'{"type":"cpn","stage":3,"owner_agency":"HMDC"}'
assert_status "CPN after the warning letter: 201" 201
assert_eq "CPN stored" 1 "$(sql "SELECT count(*) FROM cdrp.actions WHERE case_id = $case2 AND action_type = 'cpn'")"

# other refusals of action_add
post_json council-caseworker "/v1/cases/$case2/actions" \
	'{"type":"mediation_referral","stage":1,"owner_agency":"NOSUCH"}'
assert_problem "unknown owner agency: 422" 422 rule_violation owner_agency
post_json council-caseworker "/v1/cases/$case2/actions" \
	'{"type":"teleportation","stage":1,"owner_agency":"HMDC"}'
assert_problem "unknown action type: 400" 400 invalid_field type
post_json police-referrer "/v1/cases/$case2/actions" \
	'{"type":"mediation_referral","stage":1,"owner_agency":"HMDC"}'
assert_problem "referrer cannot add actions: 403" 403 forbidden
post_json council-caseworker "/v1/cases/$closed/actions" \
	'{"type":"mediation_referral","stage":1,"owner_agency":"HMDC"}'
assert_problem "action on a closed case: 409" 409 invalid_transition

# --- actions: updates ---------------------------------------------------------------

patch_action council-caseworker "$wl" '{"status":"in_progress"}' -H 'If-Match: "1"'
assert_status "update with If-Match 1: 200" 200
assert_eq "update: status in_progress" in_progress "$(body_field status)"
assert_eq "update: version 2" 2 "$(body_field version)"
assert_eq "update: new ETag" '"2"' "$(header etag)"
assert_eq "update: one alter audit row" 1 "$(audit_count action "$wl" alter)"

patch_action council-caseworker "$wl" '{"notes":"stale"}' -H 'If-Match: "1"'
assert_problem "stale If-Match: 412" 412 precondition_failed
patch_action council-caseworker "$wl" '{"notes":"none"}'
assert_problem "no If-Match: 428" 428 if_match_required
assert_eq "refused updates change nothing" "2|first letter" \
	"$(sql "SELECT version || '|' || notes FROM cdrp.actions WHERE id = $wl")"
patch_action council-caseworker "$wl" '{"status":"agreed"}' -H 'If-Match: "2"'
assert_problem "in_progress -> agreed: 409" 409 invalid_transition

patch_action council-chair "$wl" '{"status":"done","notes":"letter delivered"}' -H 'If-Match: W/"2"'
assert_status "in_progress -> done (chair, weak ETag): 200" 200
assert_eq "done: version 3" 3 "$(body_field version)"
assert_eq "done: notes changed" "letter delivered" "$(body_field notes)"
patch_action council-caseworker "$wl" '{"status":"in_progress"}' -H 'If-Match: "3"'
assert_problem "done -> in_progress: 409" 409 invalid_transition
assert_contains "409 names the current state" "done" "$(body_field detail)"
patch_action council-caseworker "$wl" '{"status":"cancelled"}' -H 'If-Match: "3"'
assert_problem "done -> cancelled: 409" 409 invalid_transition
patch_action council-caseworker 999999999 '{"status":"done"}' -H 'If-Match: "1"'
assert_problem "no such action: 404" 404 not_found

# --- who may update ------------------------------------------------------------------

# An action owned by housing (HMHA) on a council-led case: housing's users
# may update it; police (not a reader, not the owner) do not even see it.
post_json council-caseworker "/v1/cases/$case2/actions" \
	'{"type":"tenancy_enforcement","stage":2,"owner_agency":"HMHA"}'
te=$(body_field id)
patch_action housing-referrer "$te" '{"status":"in_progress"}' -H 'If-Match: "1"'
assert_status "owner agency user may update: 200" 200
assert_eq "...and the update is stored" in_progress \
	"$(sql "SELECT status FROM cdrp.actions WHERE id = $te")"
patch_action police-referrer "$te" '{"status":"done"}' -H 'If-Match: "2"'
assert_problem "neither reader nor owner: 404" 404 not_found

# --- reading actions: GET /v1/actions/{id}, GET /v1/cases/{id}/actions ---------------

req housing-referrer GET "/v1/actions/$te"
assert_status "the owner agency reads its action on a case it cannot read: 200" 200
assert_eq "...ETag is the action's version" 2 "$(header etag | tr -d '"')"
assert_eq "...the stored status and version" "in_progress 2 HMHA" \
	"$(body_field status) $(body_field version) $(body_field owner_agency)"
patch_action housing-referrer "$te" '{"notes":"served"}' -H "If-Match: $(header etag)"
assert_status "the read ETag is what PATCH takes as If-Match: 200" 200
req housing-referrer GET "/v1/cases/$case2"
assert_problem "...while the case itself stays hidden: 404" 404 not_found
req housing-referrer GET "/v1/cases/$case2/actions"
assert_status "the owner agency lists the case's actions: 200" 200
assert_eq "...only its own, and it is told so" "true [$te]" \
	"$(body_field own_only) $("$PY" -c 'import json,sys; print(json.dumps([a["id"] for a in json.load(open(sys.argv[1]))["items"]]))' "$BODY")"
req council-caseworker GET "/v1/cases/$case2/actions"
assert_status "a reader of the case lists its actions: 200" 200
assert_eq "...every action of the case, oldest first" \
	"false $(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM cdrp.actions WHERE case_id = $case2")" \
	"$(body_field own_only) $("$PY" -c 'import json,sys; print(",".join(str(a["id"]) for a in json.load(open(sys.argv[1]))["items"]))' "$BODY")"
req council-caseworker GET "/v1/actions/$te"
assert_status "a reader of the case reads an action owned by another agency: 200" 200
req police-referrer GET "/v1/actions/$te"
assert_problem "neither reader nor owner reads the action: 404" 404 not_found
req police-referrer GET "/v1/cases/$case2/actions"
assert_problem "neither reader nor owner lists the actions: 404" 404 not_found
req county-analyst GET "/v1/actions/$te"
assert_problem "the analyst role has no case.read: 403" 403 forbidden
req council-caseworker GET /v1/actions/999999999
assert_problem "no such action: 404" 404 not_found
req council-caseworker GET /v1/cases/ASB-1999-9999/actions
assert_problem "actions of no such case: 404" 404 not_found
assert_eq "audit: each read is a consultation" "1 1" \
	"$(sql "SELECT count(*) FROM cdrp.audit_log a JOIN cdrp.agencies g ON g.id = a.agency_id
	        WHERE a.object_type = 'action' AND a.object_id = $te AND a.action = 'consult'
	        AND g.code = 'HMHA'") $(sql "SELECT count(*) FROM cdrp.audit_log a
	        JOIN cdrp.agencies g ON g.id = a.agency_id WHERE a.object_type = 'action_list'
	        AND a.object_id = $case2 AND a.action = 'consult' AND g.code = 'HMHA'
	        AND a.detail->>'own_only' = 'true'")"
# OFFICIAL-SENSITIVE: reading its actions needs a stated justification too.
sql "UPDATE cdrp.cases SET marking = 'OFFICIAL-SENSITIVE' WHERE id = $case2" >/dev/null
req housing-referrer GET "/v1/actions/$te"
assert_problem "an action of an OFFICIAL-SENSITIVE case without a justification: 403" 403 justification_required
req council-caseworker GET "/v1/cases/$case2/actions"
assert_problem "the actions of an OFFICIAL-SENSITIVE case without a justification: 403" 403 justification_required
REQ_WHY="t_risk_actions: checking the tenancy action" req housing-referrer GET "/v1/actions/$te"
assert_status "...with one: 200" 200
sql "UPDATE cdrp.cases SET marking = 'OFFICIAL' WHERE id = $case2" >/dev/null

# On a police-led case the police referrer reads the case but may not
# change a council-owned action.
case3=$(seed_case HMPOL)
post_json council-caseworker "/v1/cases/$case3/actions" \
	'{"type":"mediation_referral","stage":1,"owner_agency":"HMDC"}'
ma=$(body_field id)
patch_action police-referrer "$ma" '{"status":"done"}' -H 'If-Match: "1"'
assert_problem "lead agency without a case role, not the owner: 403" 403 forbidden
assert_eq "refused update changed nothing" "agreed|1" \
	"$(sql "SELECT status || '|' || version FROM cdrp.actions WHERE id = $ma")"

# --- overdue -------------------------------------------------------------------------

post_json council-caseworker "/v1/cases/$case3/actions" \
	"{\"type\":\"support_referral\",\"stage\":1,\"owner_agency\":\"HMDC\",\"due_on\":\"$(today_plus -1)\"}"
assert_status "action due yesterday: 201" 201
assert_eq "due yesterday: overdue" true "$(body_field overdue)"
post_json council-caseworker "/v1/cases/$case3/actions" \
	"{\"type\":\"other\",\"stage\":1,\"owner_agency\":\"HMDC\",\"due_on\":\"$(today_plus 0)\"}"
od=$(body_field id)
assert_eq "due today: not overdue" false "$(body_field overdue)"
sql "UPDATE cdrp.actions SET due_on = cdrp.today() - 1 WHERE id = $od" >/dev/null
patch_action council-caseworker "$od" '{"notes":"chased"}' -H 'If-Match: "1"'
assert_status "backdated action update: 200" 200
assert_eq "backdated to yesterday: overdue" true "$(body_field overdue)"
patch_action council-caseworker "$od" '{"status":"done"}' -H 'If-Match: "2"'
assert_eq "done: no longer overdue" false "$(body_field overdue)"
assert_eq "case with an overdue action is overdue" t "$(sql "SELECT cdrp.case_overdue($case3)")"

# The case read shows risk, next review and actions (when the case read
# endpoint exists).
req council-caseworker GET "/v1/cases/$case1"
if [[ $STATUS == 200 ]]; then
	assert_eq "case read: risk is the latest assessment" "$ra_last" "$(body_field risk.id)"
	assert_eq "case read: latest band" medium "$(body_field risk.band)"
	assert_eq "case read: next review from the latest assessment" "$(today_plus 28)" \
		"$(body_field next_review_on)"
	req council-caseworker GET "/v1/cases/$case3"
	assert_eq "case read: actions listed" 3 \
		"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["actions"]))' "$BODY")"
	assert_eq "case read: actions carry overdue" true "$(body_field actions.1.overdue)"
else
	echo "# GET /v1/cases/{id} answered $STATUS: case read checks skipped"
fi
req council-caseworker GET '/v1/cases?overdue=true&limit=200'
if [[ $STATUS == 200 ]]; then
	ids=$("$PY" -c 'import json,sys; print(" ".join(str(i["id"]) for i in json.load(open(sys.argv[1]))["items"]))' "$BODY")
	assert_contains "overdue filter: the case with an overdue action is listed" " $case3 " " $ids "
	assert_not_contains "overdue filter: a freshly assessed case is not" " $case1 " " $ids "
else
	echo "# GET /v1/cases answered $STATUS: overdue filter checks skipped"
fi

check "audit chain intact" test -z "$(sql "SELECT cdrp.audit_verify()")"

finish
