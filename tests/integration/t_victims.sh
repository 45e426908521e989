#!/usr/bin/env bash
# t_victims: incidents, repeat victims and the ASB Case Review over HTTPS
# with curl (issue 3): incidents reported by several agencies count once,
# the third incident makes a repeat victim, manual flags, the "explain the
# Case Review" prompt on the second complaint and eligibility on the third,
# the community variant, applications, decisions, meetings and the annual
# figures, and the refusals.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

TODAY=$(date -u +%F)

# --- helpers ------------------------------------------------------------------------

# bq EXPR: the Python expression EXPR evaluated on the last body (as `d`).
bq() {
	"$PY" - "$BODY" "$1" <<'EOF' 2>/dev/null || echo "<error>"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
v = eval(sys.argv[2])
print(json.dumps(v, sort_keys=True) if not isinstance(v, str) else v)
EOF
}

# new_case WHO_REFERS SUBJECT: a referral by WHO_REFERS, accepted by the
# council caseworker into a new case; its reference in CREF.
CREF=
new_case() {
	local file=$WORK/referral-$RANDOM$RANDOM.json rid
	"$PY" - "$2" >"$file" <<'EOF'
import json, sys
print(json.dumps({"case_kind": "asb", "subject": {"type": "individual", "name": sys.argv[1]},
                  "reason": "Repeated harassment of neighbours; no agency can solve it alone."}))
EOF
	post_referral "$1" "$(new_key victims)" "$file"
	rid=$(body_field id)
	post council-caseworker "/v1/referrals/$rid/accept" '{}'
	CREF=$(body_field case_reference)
	if [[ $STATUS != 200 || ! $CREF =~ ^ASB- ]]; then
		not_ok "setup: a case for $2" "accept: HTTP $STATUS $(head -c 300 "$BODY")"
		finish
	fi
}

# add_person CASE NAME [ROLE]: links a new person; its id in PID.
PID=
add_person() {
	post council-caseworker "/v1/cases/$1/persons" "{\"name\":\"$2\",\"role\":\"${3:-victim}\"}"
	PID=$(body_field person_id)
	if [[ $STATUS != 201 || ! $PID =~ ^[0-9]+$ ]]; then
		not_ok "setup: person $2" "HTTP $STATUS $(head -c 300 "$BODY")"
		finish
	fi
}

# incident WHO CASE OCCURRED REPORTED [EXTRA_JSON_MEMBERS]: POST an incident.
incident() {
	local extra=${5:+,$5}
	post "$1" "/v1/cases/$2/incidents" "{\"occurred_on\":\"$3\",\"reported_on\":\"$4\",\"category\":\"personal\",\"place\":\"Mill Lane\"$extra}"
}

# has_prompt CODE PERSON: the last body's prompts hold CODE for PERSON.
has_prompt() {
	[[ $(bq "any(p['code'] == '$1' and p['person_id'] == $2 for p in d['prompts'])") == true ]]
}
lacks_prompt() { # CODE PERSON: the last body's prompts hold no CODE for PERSON.
	[[ $(bq "any(p['code'] == '$1' and p['person_id'] == $2 for p in d['prompts'])") == false ]]
}

# victim ID: the item of person ID in the victim list of the last body (or null).
victim() {
	bq "next((v for v in d['items'] if v['person_id'] == $1), None)"
}

# victims QUERY: GET /v1/victims?QUERY (the newest 50 first: this test's
# victims are among them however many earlier tests left; a page of 200
# costs ~0.4 s and reached the 5 s deadline on a loaded machine).
victims() {
	req council-caseworker GET "/v1/victims?limit=50${1:+&$1}"
	[[ $STATUS == 200 ]] || echo "# victims ${1:-}: status $STATUS" >&2
}

audit_count() { # OBJECT_TYPE OBJECT_ID
	sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = $(sql_lit "$1") AND object_id = $2"
}

# --- setup: a case referred by the police, two victims and a subject ------------------

new_case police-referrer "Victims Subject $RUN_TAG"
C1=$CREF
add_person "$C1" "Victim Vee $RUN_TAG"
V=$PID
add_person "$C1" "Victim Wren $RUN_TAG"
W=$PID
add_person "$C1" "Witness Xu $RUN_TAG" witness
X=$PID
new_case housing-referrer "Other Subject $RUN_TAG"
C2=$CREF
add_person "$C2" "Victim Elsewhere $RUN_TAG"
P2=$PID

# --- incidents: the same incident from two agencies counts once ---------------------

incident police-referrer "$C1" 2026-09-01 2026-09-02 "\"victims\":[$V],\"external_ref\":\"POL-1-$RUN_TAG\""
assert_status "referring agency (police) records an incident: 201" 201
I1=$(body_field id)
assert_eq "incident: one report, by HMPOL" '[{"agency": "HMPOL", "external_ref": "POL-1-'"$RUN_TAG"'", "reported_on": "2026-09-02"}]' "$(body_field reports)"
assert_eq "incident: its victims" "[$V]" "$(body_field victims)"
assert_eq "incident: the case reference" "$C1" "$(body_field case)"
assert_eq "first incident: no prompts" "[]" "$(body_field prompts)"
assert_eq "audit: the incident was collected once" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = 'incident' AND object_id = $I1 AND action = 'collect'")"

incident council-caseworker "$C1" 2026-09-01 2026-09-03 "\"same_as\":$I1,\"external_ref\":\"DC-1-$RUN_TAG\""
assert_status "the council reports the same incident (same_as): 201" 201
assert_eq "same_as: the same incident" "$I1" "$(body_field id)"
assert_eq "same_as: two reports now" "HMPOL HMDC" "$(bq "' '.join(r['agency'] for r in d['reports'])")"
incident council-caseworker "$C1" 2026-09-01 2026-09-03 "\"same_as\":$I1,\"external_ref\":\"DC-1-$RUN_TAG\""
assert_status "the same report again: 200 (replay)" 200
assert_eq "replay: Idempotent-Replay header" true "$(header idempotent-replay)"
assert_eq "replay: the same incident" "$I1" "$(body_field id)"
incident police-referrer "$C1" 2026-09-01 2026-09-02 "\"victims\":[$V],\"external_ref\":\"POL-1-$RUN_TAG\""
assert_status "police posts its report again (same external_ref, no same_as): 200" 200
assert_eq "replay without same_as: the same incident" "$I1" "$(body_field id)"
assert_eq "db: one incident, two reports" "1|2" \
	"$(sql "SELECT count(DISTINCT i.id), count(r.id) FROM cdrp.incidents i JOIN cdrp.incident_reports r ON r.incident_id = i.id WHERE i.case_id = (SELECT id FROM cdrp.cases WHERE reference = '$C1')")"
assert_eq "audit: collect, alter (second report), two consults (replays)" 4 "$(audit_count incident "$I1")"

incident police-referrer "$C1" 2026-10-01 2026-10-02 "\"victims\":[$V]"
assert_status "second incident for the victim: 201" 201
I2=$(body_field id)
check "second complaint within 6 months: explain_case_review prompt" has_prompt explain_case_review "$V"
check "second incident: no repeat_victim prompt yet" lacks_prompt repeat_victim "$V"

victims "repeat=true"
assert_status "victim list (repeat=true): 200" 200
assert_eq "2 distinct incidents + 1 duplicate report: not a repeat victim" null "$(victim "$V")"
victims ""
assert_eq "unfiltered list: the victim, not repeat, 2 incidents in the window" \
	'[false, null, 2]' "$(bq "[[v['repeat_victim'], v['repeat_reason'], v['incidents_in_window']] for v in d['items'] if v['person_id'] == $V][0]")"
req council-caseworker GET "/v1/persons/$V/case-review"
assert_status "person case-review: 200" 200
assert_eq "case-review after 2 complaints: explain, not eligible" \
	'{"basis": null, "eligible": false, "explain_prompt": true, "qualifying_complaints": 2}' "$(bq d)"

incident council-caseworker "$C1" 2026-11-01 2026-11-02 "\"victims\":[$V],\"description\":\"third\""
assert_status "third incident (case role): 201" 201
I3=$(body_field id)
check "third incident: repeat_victim prompt" has_prompt repeat_victim "$V"
check "third complaint: case_review_eligible prompt" has_prompt case_review_eligible "$V"
check "third complaint: no more explain prompt" lacks_prompt explain_case_review "$V"
victims "repeat=true"
assert_eq "third incident: a repeat victim in the repeat list" \
	"[true, \"computed\", 3, [\"$C1\"], {\"basis\": \"three_complaints\", \"eligible\": true}]" \
	"$(bq "[[v['repeat_victim'], v['repeat_reason'], v['incidents_in_window'], v['cases'], v['case_review']] for v in d['items'] if v['person_id'] == $V][0]")"
assert_eq "repeat list: every item is a repeat victim" true "$(bq "all(v['repeat_victim'] for v in d['items'])")"
assert_eq "repeat list: W (no incidents) is not in it" null "$(victim "$W")"
victims "repeat=false"
assert_eq "repeat=false: V is not in it" null "$(victim "$V")"
assert_ne "repeat=false: W is in it" null "$(victim "$W")"

req council-caseworker GET "/v1/cases/$C1"
if [[ $STATUS == 200 ]]; then
	assert_eq "case read: V is a repeat victim" true \
		"$(bq "any(p['id'] == $V and p['repeat_victim'] for p in d['persons'])")"
	check "case read: the prompts are the victims' prompts" has_prompt repeat_victim "$V"
else
	not_ok "case read: 200" "HTTP $STATUS $(head -c 300 "$BODY")"
fi
req police-referrer GET "/v1/cases/$C1/incidents"
assert_status "incident list by the referring agency: 200" 200
assert_eq "incident list: three incidents, newest first" "[$I3, $I2, $I1]" "$(bq "[i['id'] for i in d['items']]")"
assert_eq "audit: the incident list read" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = 'incident_list' AND object_id = (SELECT id FROM cdrp.cases WHERE reference = '$C1') AND action = 'consult'")"

# --- incident refusals -------------------------------------------------------------------

n_before=$(sql "SELECT count(*) FROM cdrp.incidents")
incident council-caseworker "$C1" 2026-11-01 2026-11-02 "\"victims\":[$V,$P2]"
assert_problem "a victim not linked to the case: 422" 422 rule_violation "victims[1]"
incident council-caseworker "$C1" 2026-11-01 2026-11-02 "\"same_as\":999999999"
assert_problem "same_as of an unknown incident: 422" 422 rule_violation same_as
incident housing-referrer "$C2" 2026-11-01 2026-11-02 "\"same_as\":$I1"
assert_problem "same_as of another case's incident: 422" 422 rule_violation same_as
incident housing-referrer "$C1" 2026-11-01 2026-11-02
assert_problem "agency not on the case (housing): 404" 404 not_found
incident county-analyst "$C1" 2026-11-01 2026-11-02
assert_problem "analyst (aggregates only): 403 naming the permission" 403 forbidden
assert_contains "the 403 names case.contribute" "case.contribute" "$(body_field detail)"
req housing-referrer GET "/v1/cases/$C1/incidents"
assert_problem "incident list by an agency not on the case: 404" 404 not_found
incident council-caseworker ASB-1999-0001 2026-11-01 2026-11-02
assert_problem "unknown case: 404" 404 not_found
incident council-caseworker "$C1" 2026-11-02 2026-11-01
assert_problem "reported before it occurred: 400" 400 invalid_field reported_on
assert_eq "refusals stored no incident" "$n_before" "$(sql "SELECT count(*) FROM cdrp.incidents")"
new_case housing-referrer "Closed Subject $RUN_TAG"
C4=$CREF
req council-caseworker GET "/v1/cases/$C4"
post council-caseworker "/v1/cases/$C4/close" '{"outcome":"resolved"}' -H "If-Match: $(header etag)"
if [[ $STATUS == 200 ]]; then
	incident housing-referrer "$C4" 2026-11-01 2026-11-02
	assert_problem "incident on a closed case: 409" 409 invalid_transition
else
	not_ok "setup: close a case" "HTTP $STATUS $(head -c 300 "$BODY")"
fi

# --- manual flag -----------------------------------------------------------------------

post police-referrer "/v1/persons/$W/flags" '{"reason":"known history"}'
assert_problem "flag without a case role: 403" 403 forbidden
post council-caseworker "/v1/persons/999999999/flags" '{"reason":"known history"}'
assert_problem "flag an unknown person: 404" 404 not_found
post council-caseworker "/v1/persons/$W/flags" '{"reason":"known history with the landlord"}'
assert_status "manual flag: 201" 201
assert_eq "manual flag: the person, now a repeat victim" "[$W, true]" "$(bq "[d['person_id'], d['repeat_victim']]")"
F=$(body_field id)
assert_eq "audit: the flag collected, without its reason" "1|{\"person_id\": $W}" \
	"$(sql "SELECT count(*), min(detail::text) FROM cdrp.audit_log WHERE object_type = 'victim_flag' AND object_id = $F AND action = 'collect'")"
victims "repeat=true"
assert_eq "flagged victim in the repeat list, reason manual" manual \
	"$(bq "[v['repeat_reason'] for v in d['items'] if v['person_id'] == $W][0]")"
req council-caseworker GET "/v1/cases/$C1"
check "case read: repeat_victim prompt for the flagged victim" has_prompt repeat_victim "$W"

# --- victim list: roles, pagination ---------------------------------------------------------

req police-referrer GET /v1/victims
assert_problem "victim list without a case role: 403" 403 forbidden
req council-chair GET "/v1/victims?limit=1"
assert_status "victim list, limit 1 (chair): 200" 200
first=$(bq "d['items'][0]['person_id']")
cursor=$(body_field next_cursor)
assert_match "limit 1: a next cursor" '^c[0-9]+$' "$cursor"
req council-chair GET "/v1/victims?limit=1&cursor=$cursor"
assert_status "victim list, next page: 200" 200
assert_eq "next page: an older person" true "$(bq "d['items'][0]['person_id'] < $first")"
req council-chair GET "/v1/victims?repeat=maybe"
assert_problem "repeat=maybe: 400" 400 invalid_parameter repeat

# --- Case Review: community variant --------------------------------------------------------

new_case police-referrer "Park Subject $RUN_TAG"
C3=$CREF
add_person "$C3" "Victim Zed $RUN_TAG"
Z=$PID
for m in 06 07 08; do
	incident police-referrer "$C3" "2026-$m-01" "2026-$m-02"
done
incident council-caseworker "$C3" 2026-09-01 2026-09-02
req council-caseworker GET "/v1/persons/$Z/case-review"
assert_eq "4 reports on the case: not eligible" false "$(body_field eligible)"
incident council-caseworker "$C3" 2026-09-05 2026-09-06
req council-caseworker GET "/v1/persons/$Z/case-review"
assert_eq "5 reports by 2 agencies within 6 months: eligible, five_reporters" \
	'{"basis": "five_reporters", "eligible": true, "explain_prompt": false, "qualifying_complaints": 0}' "$(bq d)"
req police-referrer GET "/v1/persons/$Z/case-review"
assert_problem "case-review read without a case role: 403" 403 forbidden
req council-caseworker GET "/v1/persons/abc/case-review"
assert_problem "case-review of a non-id: 404" 404 not_found

# --- Case Review: applications, decisions, meetings, stats -----------------------------------

req police-referrer GET /v1/case-reviews/stats
assert_status "stats for any registered user: 200" 200
read -r apps0 met0 held0 recs0 < <(bq "' '.join(str(d[k]) for k in ('applications', 'threshold_met', 'reviews_held', 'recommendations'))")
assert_eq "stats: the current year by default" "$(date -u +%Y)" "$(body_field year)"

post council-caseworker /v1/case-reviews "{\"person_id\":$V,\"case\":\"$C1\",\"applied_on\":\"$TODAY\"}"
assert_status "apply for V (eligible): 201" 201
CRV=$(body_field id)
assert_eq "application: eligible at application, basis, status" '[true, "three_complaints", "applied", "'"$C1"'"]' \
	"$(bq "[d['eligible_at_application'], d['basis_at_application'], d['status'], d['case']]")"
post council-caseworker /v1/case-reviews "{\"person_id\":$X,\"applied_on\":\"$TODAY\"}"
assert_status "apply for X (not eligible): 201" 201
CRX=$(body_field id)
assert_eq "application: not eligible at application" '[false, null]' \
	"$(bq "[d['eligible_at_application'], d['basis_at_application']]")"
post council-caseworker /v1/case-reviews "{\"person_id\":$P2,\"case\":\"$C1\",\"applied_on\":\"$TODAY\"}"
assert_problem "apply with a case the person is not on: 422" 422 rule_violation case
post council-caseworker /v1/case-reviews "{\"person_id\":999999999,\"applied_on\":\"$TODAY\"}"
assert_problem "apply for an unknown person: 422" 422 rule_violation person_id
post police-referrer /v1/case-reviews "{\"person_id\":$V,\"applied_on\":\"$TODAY\"}"
assert_problem "apply without a case role: 403" 403 forbidden

post council-caseworker "/v1/case-reviews/$CRX/meeting" "{\"meeting_on\":\"$TODAY\",\"recommendations\":[\"x\"]}"
assert_problem "meeting before the decision: 409" 409 invalid_transition
post council-caseworker "/v1/case-reviews/$CRX/decision" "{\"threshold_met\":true,\"decided_on\":\"$TODAY\"}"
assert_problem "threshold met against the rules without override_reason: 422" 422 rule_violation override_reason
post council-chair "/v1/case-reviews/$CRX/decision" "{\"threshold_met\":true,\"override_reason\":\"senior officer's decision\",\"decided_on\":\"$TODAY\"}"
assert_problem "an override for a victim not recorded as vulnerable: 422" 422 rule_violation override_reason
sql "UPDATE cdrp.persons SET vulnerable = true WHERE id = $X" >/dev/null
post council-chair "/v1/case-reviews/$CRX/decision" "{\"threshold_met\":true,\"override_reason\":\"vulnerable victim; senior officer's decision\",\"decided_on\":\"$TODAY\"}"
assert_status "override decision by the chair: 200" 200
assert_eq "decided: threshold met, status decided" '[true, "decided"]' "$(bq "[d['threshold_met'], d['status']]")"
post council-chair "/v1/case-reviews/$CRX/decision" "{\"threshold_met\":false,\"decided_on\":\"$TODAY\"}"
assert_problem "deciding twice: 409" 409 invalid_transition
req council-caseworker GET "/v1/persons/$X/case-review"
assert_eq "override: X is eligible, basis override" '[true, "override"]' "$(bq "[d['eligible'], d['basis']]")"
post council-caseworker "/v1/case-reviews/$CRX/meeting" "{\"meeting_on\":\"$TODAY\",\"recommendations\":[\"mediation with the neighbours\",\"a CCTV review\"]}"
assert_status "review meeting: 200" 200
assert_eq "reviewed: status and recommendations" '["reviewed", 2]' "$(bq "[d['status'], len(d['recommendations'])]")"
post council-caseworker "/v1/case-reviews/$CRX/meeting" "{\"meeting_on\":\"$TODAY\",\"recommendations\":[]}"
assert_problem "meeting twice: 409" 409 invalid_transition

post council-caseworker "/v1/case-reviews/$CRV/decision" "{\"threshold_met\":false,\"override_reason\":\"no\",\"decided_on\":\"$TODAY\"}"
assert_problem "override_reason with threshold_met false: 422" 422 rule_violation override_reason
post council-caseworker "/v1/case-reviews/$CRV/decision" "{\"threshold_met\":false,\"decided_on\":\"$TODAY\"}"
assert_status "threshold not met: 200" 200
post council-caseworker "/v1/case-reviews/$CRV/meeting" "{\"meeting_on\":\"$TODAY\",\"recommendations\":[]}"
assert_problem "meeting when the threshold was not met: 409" 409 invalid_transition
post council-caseworker /v1/case-reviews/999999999/decision "{\"threshold_met\":false,\"decided_on\":\"$TODAY\"}"
assert_problem "decision on an unknown application: 404" 404 not_found
post police-referrer "/v1/case-reviews/$CRV/decision" "{\"threshold_met\":false,\"decided_on\":\"$TODAY\"}"
assert_problem "decision without a case role: 403" 403 forbidden

req council-admin GET /v1/case-reviews/stats
assert_status "stats again: 200" 200
assert_eq "stats: +2 applications, +1 threshold met, +1 review held, +2 recommendations" \
	"$((apps0 + 2)) $((met0 + 1)) $((held0 + 1)) $((recs0 + 2))" \
	"$(bq "' '.join(str(d[k]) for k in ('applications', 'threshold_met', 'reviews_held', 'recommendations'))")"
req council-admin GET /v1/case-reviews/stats?year=2001
assert_eq "stats for 2001: nothing" '[2001, 0, 0, 0, 0]' \
	"$(bq "[d[k] for k in ('year', 'applications', 'threshold_met', 'reviews_held', 'recommendations')]")"
assert_eq "audit: application, decision and meeting of X" "collect alter alter" \
	"$(sql "SELECT string_agg(action, ' ' ORDER BY id) FROM cdrp.audit_log WHERE object_type = 'case_review' AND object_id = $CRX")"

finish
