#!/usr/bin/env bash
# t_casework_defects: the casework defects of issue 9 over HTTPS (curl) and
# the cdrp client: a referral joining an existing case matches the persons
# and incidents already there instead of copying them (so repeat-victim and
# Case Review counts are not inflated); an external_ref reused for another
# incident is 409, the same incident again a replay; same_as with another
# date or category is 422; a closed case has no next review date; case list
# date filters (opened_*, closed_*) and its closed_at and outcome.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

# A ward no other test or run uses: the list filters see only this run's cases.
WARD="Defects Ward $RUN_TAG"
WARD_Q=$(printf '%s' "$WARD" | sed 's/ /%20/g')
TODAY=$(date -u +%F)
TOMORROW=$(date -u -d '+1 day' +%F)
YESTERDAY=$(date -u -d '-1 day' +%F)

# referral FILE SUBJECT VICTIMS_JSON INCIDENTS_JSON: a referral body.
referral() {
	"$PY" - "$@" <<'EOF'
import json, sys
out, subject, victims, incidents, ward = sys.argv[1:6]
json.dump({
    "case_kind": "asb",
    "subject": {"type": "individual", "name": subject, "ward": ward},
    "reason": "Intimidation of neighbours in the close; no single agency can resolve it.",
    "victims": json.loads(victims),
    "incidents": json.loads(incidents),
}, open(out, "w"))
EOF
}

# submit WHO SUBJECT VICTIMS_JSON INCIDENTS_JSON: submit; the referral id in RID.
RID=
submit() {
	local file=$WORK/ref-$RANDOM$RANDOM.json
	referral "$file" "$2" "$3" "$4" "$WARD"
	post_referral "$1" "$(new_key defects)" "$file"
	RID=$(body_field id)
	[[ $STATUS == 201 ]] || not_ok "submit $2: 201" "got $STATUS: $(head -c 300 "$BODY")"
}

# person NAME: the ids of the persons of case $cid with this exact name.
person() {
	sql "SELECT string_agg(p.id::text, ' ' ORDER BY p.id) FROM cdrp.persons p
	     JOIN cdrp.case_persons cp ON cp.person_id = p.id
	     WHERE cp.case_id = $cid AND p.name = $(sql_lit "$1")"
}

# incidents_of_case: how many incidents case $cid has.
incidents_of_case() {
	sql "SELECT count(*) FROM cdrp.incidents WHERE case_id = $cid"
}

# list_refs: the references of the items of the last list, space-separated.
list_refs() {
	"$PY" -c 'import json,sys; print(" ".join(i["reference"] for i in json.load(open(sys.argv[1]))["items"]))' "$BODY" 2>/dev/null || echo "<invalid>"
}

# list_item REF KEY: KEY of the item REF of the last list (JSON), or <none>.
list_item() {
	"$PY" - "$BODY" "$1" "$2" <<'EOF' 2>/dev/null || echo "<invalid>"
import json, sys
items = [i for i in json.load(open(sys.argv[1]))["items"] if i["reference"] == sys.argv[2]]
print(json.dumps(items[0].get(sys.argv[3], "<missing>")) if items else "<none>")
EOF
}

JO="Jo Bloggs $RUN_TAG"
SAM="Sam Other $RUN_TAG"
NEWP="Pat Newcomer $RUN_TAG"

# --- 1. a second referral joins the case: persons and incidents matched ----------

submit fire-referrer "Defects Subject $RUN_TAG" \
	"[{\"name\":\"$JO\",\"contact\":\"07700 900123\"},{\"name\":\"$SAM\"}]" \
	'[{"occurred_on":"2025-05-01","reported_on":"2025-05-01","category":"personal","place":"Mill Lane","victims":[0]},
	  {"occurred_on":"2025-05-03","reported_on":"2025-05-04","category":"nuisance","place":"Mill Lane","victims":[0,1]}]'
post council-caseworker "/v1/referrals/$RID/accept" '{}'
assert_status "first referral opens a case: 200" 200
CASE=$(body_field case_reference)
cid=$(sql "SELECT id FROM cdrp.cases WHERE reference = $(sql_lit "$CASE")")
jo=$(person "$JO")
sam=$(person "$SAM")
assert_match "the case has Jo and Sam once each" '^[0-9]+ [0-9]+$' "$jo $sam"
i1=$(sql "SELECT id FROM cdrp.incidents WHERE case_id = $cid AND occurred_on = '2025-05-01'")

# Housing refers the same victims (the name written differently, the same
# phone number spaced differently; Sam had no contact yet) and one incident
# already recorded (the place written differently), plus a new person and two
# new incidents (one on a known date but of another category).
submit housing-referrer "Defects Subject $RUN_TAG" \
	"[{\"name\":\"  jo   BLOGGS $RUN_TAG\",\"contact\":\"07700900123\",\"vulnerable\":true},
	  {\"name\":\"$SAM\",\"contact\":\"sam@example.invalid\"},{\"name\":\"$NEWP\"}]" \
	'[{"occurred_on":"2025-05-01","reported_on":"2025-05-02","category":"personal","place":" mill  LANE ","victims":[0]},
	  {"occurred_on":"2025-05-03","reported_on":"2025-05-04","category":"environmental","place":"Mill Lane","victims":[2]},
	  {"occurred_on":"2025-05-10","reported_on":"2025-05-10","category":"personal","place":"Park Road","victims":[0]}]'
rb=$RID
post council-chair "/v1/referrals/$rb/accept" "{\"case\":\"$CASE\"}"
assert_status "the second referral joins the case: 200" 200
assert_eq "Jo is still one person on the case (name and contact match)" "$jo" "$(person "$JO")"
assert_eq "no person named as the referral wrote Jo" "" "$(person "  jo   BLOGGS $RUN_TAG")"
assert_eq "Sam is still one person (no contact held: the referral's is kept)" "$sam" "$(person "$SAM")"
assert_eq "db: Sam gains the referral's contact" "sam@example.invalid" \
	"$(sql "SELECT contact FROM cdrp.person_contacts WHERE person_id = $sam")"
assert_eq "db: Jo's contact is unchanged" "07700 900123" \
	"$(sql "SELECT contact FROM cdrp.person_contacts WHERE person_id = $jo")"
assert_eq "db: Jo is vulnerable now (the referral says so)" t \
	"$(sql "SELECT vulnerable FROM cdrp.persons WHERE id = $jo")"
assert_match "the new person joins as a victim" '^[0-9]+$' "$(person "$NEWP")"
assert_eq "db: four incidents, the known one not copied" 4 "$(incidents_of_case)"
assert_eq "db: the known incident has both agencies' reports, housing's with its date" \
	"HMFRS 2025-05-01,HMHA 2025-05-02" \
	"$(sql "SELECT string_agg(a.code || ' ' || r.reported_on, ',' ORDER BY a.code)
	        FROM cdrp.incident_reports r JOIN cdrp.agencies a ON a.id = r.agency_id
	        WHERE r.incident_id = $i1")"
assert_eq "db: Jo is a victim of three distinct incidents" 3 \
	"$(sql "SELECT cardinality(cdrp.person_incident_dates($jo))")"
assert_eq "db: the known incident counts once in Jo's Case Review complaints" 1 \
	"$(sql "SELECT count(*) FROM jsonb_array_elements(cdrp.person_complaints($jo)) c
	        WHERE (c->>'incident_id')::bigint = $i1")"
assert_eq "audit: the accept records what was matched" '{"persons_matched": 2, "incidents_matched": 1}' \
	"$(sql "SELECT jsonb_build_object('persons_matched', detail->'persons_matched',
	                                  'incidents_matched', detail->'incidents_matched')
	        FROM cdrp.audit_log WHERE object_type = 'referral' AND object_id = $rb
	        AND detail->>'to' = 'accepted'")"
req council-caseworker GET "/v1/cases/$CASE"
assert_eq "case read: Jo is a repeat victim (3 incidents within 365 days)" true \
	"$("$PY" -c 'import json,sys; print(str(any(p["id"] == int(sys.argv[2]) and p["repeat_victim"] for p in json.load(open(sys.argv[1]))["persons"])).lower())' "$BODY" "$jo")"
assert_eq "case read: subject and three victims" "subject victim victim victim" \
	"$("$PY" -c 'import json,sys; print(" ".join(sorted(p["role"] for p in json.load(open(sys.argv[1]))["persons"])))' "$BODY")"

# Conservative: the same name with another phone number is another person;
# the same incident reported again by the same agency adds no second report.
submit police-referrer "Defects Subject $RUN_TAG" \
	"[{\"name\":\"$JO\",\"contact\":\"07700 111222\"}]" \
	'[{"occurred_on":"2025-05-01","reported_on":"2025-05-03","category":"personal","place":"Mill Lane","victims":[0]}]'
post council-caseworker "/v1/referrals/$RID/accept" "{\"case\":\"$CASE\"}"
assert_status "a third referral joins: 200" 200
assert_eq "same name, other contact: a second Jo, not merged" 2 "$(wc -w <<<"$(person "$JO")")"
assert_eq "db: still four incidents" 4 "$(incidents_of_case)"
assert_eq "db: police's report of the known incident is added" 3 \
	"$(sql "SELECT count(*) FROM cdrp.incident_reports WHERE incident_id = $i1")"
# Two persons now answer to Jo's name: a fourth referral naming Jo without a
# contact cannot tell which, so it makes a new person rather than guess.
submit fire-referrer "Defects Subject $RUN_TAG" "[{\"name\":\"$JO\"}]" '[]'
post council-caseworker "/v1/referrals/$RID/accept" "{\"case\":\"$CASE\"}"
assert_status "a fourth referral joins: 200" 200
assert_eq "two candidates: a new person rather than a guess" 3 "$(wc -w <<<"$(person "$JO")")"
# A new case never matches anything: the same victims make new persons.
submit fire-referrer "Defects Other Subject $RUN_TAG" "[{\"name\":\"$SAM\"}]" '[]'
post council-caseworker "/v1/referrals/$RID/accept" '{}'
other=$(body_field case_reference)
assert_eq "a new case: its own person for Sam" 1 \
	"$(sql "SELECT count(*) FROM cdrp.case_persons cp JOIN cdrp.cases c ON c.id = cp.case_id
	        WHERE c.reference = $(sql_lit "$other") AND cp.role = 'victim'
	        AND cp.person_id <> $sam")"

# --- 2. external_ref: the same incident replays, another incident conflicts ---------

incident() { # WHO JSON
	post "$1" "/v1/cases/$CASE/incidents" "$2"
}
EXT="EXT-$RUN_TAG"
base="\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-02\",\"category\":\"nuisance\",\"external_ref\":\"$EXT\",\"victims\":[$jo]"
incident council-caseworker "{$base,\"place\":\"High Street\"}"
assert_status "an incident with an external_ref: 201" 201
ie=$(body_field id)
n0=$(incidents_of_case)
incident council-caseworker "{$base,\"place\":\"High Street\"}"
assert_status "the same incident again: 200" 200
assert_eq "...the existing incident" "$ie" "$(body_field id)"
assert_eq "...marked as a replay" true "$(header idempotent-replay)"
incident council-caseworker "{$base,\"place\":\"  high   street\"}"
assert_status "the same place written differently: still a replay (200)" 200
assert_eq "...the existing incident" "$ie" "$(body_field id)"
incident council-caseworker "{\"occurred_on\":\"2025-06-05\",\"reported_on\":\"2025-06-05\",\"category\":\"nuisance\",\"external_ref\":\"$EXT\",\"place\":\"High Street\"}"
assert_problem "the external_ref reused for another date: 409" 409 external_ref_conflict external_ref
assert_contains "...the detail names what differs" occurred_on "$(body_field detail)"
incident council-caseworker "{\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-02\",\"category\":\"personal\",\"external_ref\":\"$EXT\",\"place\":\"High Street\"}"
assert_problem "the external_ref reused for another category: 409" 409 external_ref_conflict external_ref
incident council-caseworker "{\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-02\",\"category\":\"nuisance\",\"external_ref\":\"$EXT\",\"place\":\"Station Road\"}"
assert_problem "the external_ref reused for another place: 409" 409 external_ref_conflict external_ref
incident council-caseworker "{\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-03\",\"category\":\"nuisance\",\"external_ref\":\"$EXT\",\"place\":\"High Street\"}"
assert_problem "the external_ref reused with another report date: 409" 409 external_ref_conflict external_ref
incident council-caseworker "{\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-02\",\"category\":\"nuisance\",\"external_ref\":\"$EXT\",\"place\":\"High Street\",\"victims\":[$jo,$sam]}"
assert_problem "the external_ref reused naming another victim: 409" 409 external_ref_conflict external_ref
incident council-caseworker "{\"occurred_on\":\"2025-05-03\",\"reported_on\":\"2025-06-02\",\"category\":\"nuisance\",\"external_ref\":\"$EXT\",\"place\":\"Mill Lane\",\"same_as\":$(sql "SELECT id FROM cdrp.incidents WHERE case_id = $cid AND occurred_on = '2025-05-03' AND category = 'nuisance'")}"
assert_problem "the external_ref reused with same_as naming another incident: 409" 409 external_ref_conflict external_ref
assert_eq "db: the conflicts recorded nothing" "$n0|1" \
	"$(incidents_of_case)|$(sql "SELECT count(*) FROM cdrp.incident_reports WHERE external_ref = $(sql_lit "$EXT")")"
# External references are each agency's own: housing may use the same one.
incident housing-referrer "{\"occurred_on\":\"2025-06-07\",\"reported_on\":\"2025-06-07\",\"category\":\"environmental\",\"external_ref\":\"$EXT\",\"place\":\"Car park\"}"
assert_status "another agency's same external_ref: a new incident (201)" 201

# --- 3. same_as must agree on the date and the category --------------------------

incident housing-referrer "{\"occurred_on\":\"2025-06-02\",\"reported_on\":\"2025-06-03\",\"category\":\"nuisance\",\"place\":\"High Street\",\"same_as\":$ie}"
assert_problem "same_as with another occurred_on: 422" 422 rule_violation occurred_on
assert_contains "...the rule is stated" "same occurred_on" "$(body_field detail)"
incident housing-referrer "{\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-03\",\"category\":\"environmental\",\"place\":\"High Street\",\"same_as\":$ie}"
assert_problem "same_as with another category: 422" 422 rule_violation category
assert_contains "...the rule is stated" "same category" "$(body_field detail)"
assert_eq "db: the refused reports recorded nothing" 1 \
	"$(sql "SELECT count(*) FROM cdrp.incident_reports WHERE incident_id = $ie")"
incident housing-referrer "{\"occurred_on\":\"2025-06-01\",\"reported_on\":\"2025-06-03\",\"category\":\"nuisance\",\"place\":\"High St (by the shops)\",\"same_as\":$ie}"
assert_status "same_as with the same date and category (place worded otherwise): 201" 201
assert_eq "...a second report of the one incident" "$ie|2" \
	"$(body_field id)|$(sql "SELECT count(*) FROM cdrp.incident_reports WHERE incident_id = $ie")"

# --- 5 and 6. closing: no next review; list filters, closed_at and outcome ----------

# An open case in the same ward, opened today as well.
submit youth-referrer "Defects Open Subject $RUN_TAG" "[]" '[]'
post council-caseworker "/v1/referrals/$RID/accept" '{}'
OPEN_CASE=$(body_field case_reference)
req council-caseworker GET "/v1/cases/$OPEN_CASE"
assert_match "an open case has a next review date" '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "$(body_field next_review_on)"

req council-caseworker GET "/v1/cases/$CASE"
post council-caseworker "/v1/cases/$CASE/close" '{"outcome":"resolved","reason":"Quiet for two months."}' \
	-H "If-Match: \"$(etag)\""
assert_status "close the case: 200" 200
assert_eq "the close answer: no next review" null "$(body_field next_review_on)"
req council-caseworker GET "/v1/cases/$CASE"
assert_eq "a closed case: no next review date" null "$(body_field next_review_on)"
assert_match "a closed case: closed_at" "^${TODAY}T" "$(body_field closed_at)"
assert_eq "db: a closed case is not overdue for review" f "$(sql "SELECT cdrp.case_overdue($cid)")"

req council-caseworker GET "/v1/cases?ward=$WARD_Q&limit=200"
assert_status "case list: 200" 200
assert_eq "list: the closed case's outcome" '"resolved"' "$(list_item "$CASE" outcome)"
assert_match "list: the closed case's closed_at" "^\"${TODAY}T" "$(list_item "$CASE" closed_at)"
assert_eq "list: the closed case has no next review" null "$(list_item "$CASE" next_review_on)"
assert_eq "list: the open case has no closed_at" null "$(list_item "$OPEN_CASE" closed_at)"
assert_eq "list: the open case has no outcome" null "$(list_item "$OPEN_CASE" outcome)"
assert_match "list: the open case has a next review" '^"[0-9]{4}-' "$(list_item "$OPEN_CASE" next_review_on)"

req council-caseworker GET "/v1/cases?ward=$WARD_Q&closed_from=$TODAY&closed_to=$TODAY"
assert_eq "closed today: only the closed case" "$CASE" "$(list_refs)"
req council-caseworker GET "/v1/cases?ward=$WARD_Q&closed_to=$YESTERDAY"
assert_eq "closed by yesterday: none" "" "$(list_refs)"
req council-caseworker GET "/v1/cases?ward=$WARD_Q&closed_from=$TOMORROW"
assert_eq "closed from tomorrow: none" "" "$(list_refs)"
req council-caseworker GET "/v1/cases?ward=$WARD_Q&opened_from=$TODAY&opened_to=$TODAY&limit=200"
assert_contains "opened today: the closed case" "$CASE" "$(list_refs)"
assert_contains "opened today: the open case" "$OPEN_CASE" "$(list_refs)"
req council-caseworker GET "/v1/cases?ward=$WARD_Q&opened_from=$TOMORROW"
assert_eq "opened from tomorrow: none" "" "$(list_refs)"
req council-caseworker GET "/v1/cases?ward=$WARD_Q&opened_to=$YESTERDAY"
assert_eq "opened by yesterday: none" "" "$(list_refs)"
req council-caseworker GET "/v1/cases?opened_from=$TODAY&opened_to=$YESTERDAY"
assert_problem "opened_to before opened_from: 400" 400 invalid_parameter opened_to
req council-caseworker GET "/v1/cases?closed_from=2025-02-30"
assert_problem "not a calendar date: 400" 400 invalid_parameter closed_from
req council-caseworker GET "/v1/cases?closed_to=yesterday"
assert_problem "not a date at all: 400" 400 invalid_parameter closed_to

# --- the same through the client ------------------------------------------------------

cli_as council-caseworker case list --ward "$WARD" --closed-from "$TODAY" --closed-to "$TODAY"
assert_rc "cdrp case list --closed-from/--closed-to: exit 0" 0
assert_contains "...lists the closed case" "$CASE" "$(out)"
assert_contains "...with its outcome" resolved "$(out)"
assert_contains "...and a CLOSED column" CLOSED "$(out)"
assert_not_contains "...not the open case" "$OPEN_CASE" "$(out)"
cli_as council-caseworker case list --ward "$WARD" --opened-from "$TOMORROW"
assert_rc "cdrp case list --opened-from tomorrow: exit 0" 0
assert_eq "...no cases" "no cases" "$(out)"
cli_as council-caseworker --json case list --ward "$WARD" --closed-from "$TODAY"
assert_eq "cdrp --json case list: the outcome" resolved "$(jget "$OUT" items.0.outcome)"
offline council-caseworker case list --opened-from "$TODAY" --opened-to "$YESTERDAY"
assert_rc "cdrp case list with the range reversed: exit 64 before any network use" 64
assert_contains "...naming the option" "--opened-to" "$(err)"
offline council-caseworker case list --closed-from 2025-13-01
assert_rc "cdrp case list with a bad date: exit 64" 64
cli_as council-caseworker case show "$CASE"
assert_rc "cdrp case show of the closed case: exit 0" 0
assert_not_contains "a closed case shows no next review" "Next review" "$(out)"
assert_contains "...and shows when it closed" "Closed at" "$(out)"
cli_as council-caseworker case show "$OPEN_CASE"
assert_contains "an open case shows its next review" "Next review on" "$(out)"

check "audit chain intact" test -z "$(sql "SELECT cdrp.audit_verify()")"
finish
