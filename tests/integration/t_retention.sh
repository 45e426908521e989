#!/usr/bin/env bash
# t_retention: retention runs (erasure of closed cases past the retention
# period, dry run, legal hold, audit) and subject access requests.
source "$(dirname "$0")/lib.sh"

post_json() { # WHO PATH JSON [CURL_ARGS...]
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" POST "$path" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $(new_key ret)" --data-binary "$json" "$@"
}

# closed_case NAME YEARS_AGO -> CASE (reference), CASE_ID: a case referred
# by the police with a victim, a note, closed as resolved YEARS_AGO.
closed_case() {
	write_referral "$WORK/$1.json" "$1 $RUN_TAG"
	post_referral police-referrer "$(new_key ref)" "$WORK/$1.json"
	local rid etag
	rid=$(body_field id)
	post_json council-caseworker "/v1/referrals/$rid/accept" '{"lead_agency":"HMDC"}'
	CASE=$(body_field case_reference)
	CASE_ID=$(sql "SELECT id FROM cdrp.cases WHERE reference = '$CASE'")
	post_json council-caseworker "/v1/cases/$CASE/notes" "{\"body\":\"Visited $1 at home.\"}"
	req council-caseworker GET "/v1/cases/$CASE"
	etag=$(header etag)
	req council-caseworker POST "/v1/cases/$CASE/close" -H 'Content-Type: application/json' \
		-H "If-Match: $etag" --data-binary '{"outcome":"resolved"}'
	sql "UPDATE cdrp.cases SET closed_at = now() - interval '$2 years' WHERE id = $CASE_ID" >/dev/null
}

closed_case "Old Case" 7
old=$CASE old_id=$CASE_ID
closed_case "Held Case" 7
held=$CASE held_id=$CASE_ID
closed_case "Recent Case" 1
recent=$CASE recent_id=$CASE_ID
assert_eq "setup: three closed cases" 3 \
	"$(sql "SELECT count(*) FROM cdrp.cases WHERE id IN ($old_id, $held_id, $recent_id) AND status = 'closed'")"
old_person=$(sql "SELECT min(person_id) FROM cdrp.case_persons WHERE case_id = $old_id")
held_person=$(sql "SELECT min(person_id) FROM cdrp.case_persons WHERE case_id = $held_id AND role = 'victim'")

post_json council-caseworker "/v1/cases/$held/legal-hold" '{"hold":true,"reason":"Pending civil claim"}'
assert_problem "a caseworker cannot set a legal hold: 403" 403 forbidden
post_json council-admin "/v1/cases/$held/legal-hold" '{"hold":true,"reason":"Pending civil claim"}'
assert_status "an administrator sets a legal hold: 200" 200
assert_eq "the hold is on" true "$(body_field legal_hold)"

post_json council-caseworker /v1/admin/retention/run '{}'
assert_problem "a caseworker cannot run retention: 403" 403 forbidden

post_json council-admin /v1/admin/retention/run '{"dry_run":true}'
assert_status "dry run: 200" 200
assert_contains "the dry run lists the old case" "\"$old\"" "$(cat "$BODY")"
assert_not_contains "...not the held one" "\"$held\"" "$(cat "$BODY")"
assert_not_contains "...nor the recent one" "\"$recent\"" "$(cat "$BODY")"
assert_eq "a dry run erases nothing" "Old Case $RUN_TAG" \
	"$(sql "SELECT subject_name FROM cdrp.cases WHERE id = $old_id")"

post_json council-admin /v1/admin/retention/run '{}'
assert_status "retention run: 200" 200
assert_contains "it erased the old case" "\"$old\"" "$(cat "$BODY")"
check "...and counted the held one" test "$(body_field held)" -ge 1
assert_eq "db: the old case's subject is erased" "[erased]|t" \
	"$(sql "SELECT subject_name, erased_at IS NOT NULL FROM cdrp.cases WHERE id = $old_id")"
assert_eq "db: its persons are erased" 0 \
	"$(sql "SELECT count(*) FROM cdrp.persons p JOIN cdrp.case_persons cp ON cp.person_id = p.id
	        WHERE cp.case_id = $old_id AND (p.name <> '[erased]' OR p.erased_at IS NULL)")"
assert_eq "db: its contacts are gone" 0 \
	"$(sql "SELECT count(*) FROM cdrp.person_contacts pc JOIN cdrp.case_persons cp
	        ON cp.person_id = pc.person_id WHERE cp.case_id = $old_id")"
assert_eq "db: its referral body is erased" true \
	"$(sql "SELECT body->>'erased' FROM cdrp.referrals WHERE case_id = $old_id")"
assert_eq "db: its notes are erased" "[erased]" \
	"$(sql "SELECT string_agg(DISTINCT body, ',') FROM cdrp.case_notes WHERE case_id = $old_id")"
assert_eq "db: its incidents' places are erased" "[erased]" \
	"$(sql "SELECT string_agg(DISTINCT place, ',') FROM cdrp.incidents WHERE case_id = $old_id")"
assert_eq "db: one erase row in the audit trail" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'erase' AND object_id = $old_id")"
assert_eq "db: the held case is untouched" "Held Case $RUN_TAG" \
	"$(sql "SELECT subject_name FROM cdrp.cases WHERE id = $held_id")"
assert_eq "db: the recent case is untouched" "Recent Case $RUN_TAG" \
	"$(sql "SELECT subject_name FROM cdrp.cases WHERE id = $recent_id")"
out=$(sql "UPDATE cdrp.case_notes SET body = 'x' WHERE case_id = $held_id" 2>&1)
assert_contains "notes stay append-only outside erasure" append-only "$out"
post_json council-admin /v1/admin/retention/run '{}'
assert_not_contains "a second run does not erase it again" "\"$old\"" "$(cat "$BODY")"
assert_eq "the audit chain is intact" intact "$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"

post_json council-admin "/v1/cases/$held/legal-hold" '{"hold":false,"reason":"Claim settled"}'
post_json council-admin /v1/admin/retention/run '{}'
assert_contains "hold lifted: the next run erases the case" "\"$held\"" "$(cat "$BODY")"

# --- subject access requests ---------------------------------------------------------------

req council-admin GET "/v1/admin/sar?person=$old_person"
assert_status "SAR of an erased person: 200" 200
assert_eq "...shows the erasure" "[erased]" "$(jget "$BODY" person.name)"
sar_person=$(sql "SELECT min(person_id) FROM cdrp.case_persons WHERE case_id = $recent_id AND role = 'victim'")
req council-admin GET "/v1/admin/sar?person=$sar_person"
assert_status "SAR: 200" 200
assert_eq "the export names the person" "A Neighbour" "$(jget "$BODY" person.name)"
assert_eq "...lists their case" "$recent" "$(jget "$BODY" cases.0.case)"
assert_eq "...as a victim" victim "$(jget "$BODY" cases.0.role)"
assert_eq "...with their incidents" "Mill Lane" "$(jget "$BODY" incidents.0.place)"
assert_eq "db: the export is audited as a disclosure" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'disclose'
	        AND object_type = 'subject_access' AND object_id = $sar_person")"
req county-analyst GET "/v1/admin/sar?person=$sar_person"
assert_problem "an analyst cannot export: 403" 403 forbidden
req council-admin GET "/v1/admin/sar?person=999999999"
assert_problem "an unknown person: 404" 404 not_found
req council-admin GET "/v1/admin/sar"
assert_problem "no person named: 400" 400 invalid_parameter
out=$("$CDRP_BIN/cdrp" --cert "$CDRP_PKI/council-admin.crt" --key "$CDRP_PKI/council-admin.key" \
	admin sar "$sar_person" 2>&1)
assert_contains "cdrp admin sar prints the export" "A Neighbour" "$out"

finish
