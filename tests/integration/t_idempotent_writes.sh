#!/usr/bin/env bash
# t_idempotent_writes: casework writes with an Idempotency-Key (through
# cdrp_api.call): a retry replays the stored answer and records
# nothing twice; the same key with another request is 409; a refusal stores
# nothing, so the same request succeeds once the refusal's cause is gone.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

# post_json WHO PATH KEY JSON: POST JSON with an Idempotency-Key.
post_json() {
	req "$1" POST "$2" -H 'Content-Type: application/json' -H "Idempotency-Key: $3" \
		--data-binary "$4"
}

write_referral "$WORK/ref.json" "Idempotent Writes $RUN_TAG"
post_referral fire-referrer "$(new_key idem)" "$WORK/ref.json"
rid=$(body_field id)
req council-caseworker POST "/v1/referrals/$rid/accept" -H 'Content-Type: application/json' \
	--data-binary '{}'
assert_status "a case to write to (accept): 200" 200
case_ref=$(body_field case_reference)
case_id=$(sql "SELECT id FROM cdrp.cases WHERE reference = $(sql_lit "$case_ref")")

# --- a note, twice with one key ---------------------------------------------------------
key=$(new_key note)
post_json council-caseworker "/v1/cases/$case_id/notes" "$key" '{"body":"Visited the victim."}'
assert_status "note with a key: 201" 201
note_id=$(body_field id)
assert_eq "first answer is not a replay" "" "$(header idempotent-replay)"
post_json council-caseworker "/v1/cases/$case_id/notes" "$key" '{"body":"Visited the victim."}'
assert_status "the same note and key again: 201" 201
assert_eq "the retry is marked Idempotent-Replay" true "$(header idempotent-replay)"
assert_eq "the retry answers the same note" "$note_id" "$(body_field id)"
assert_eq "db: the note is recorded once" 1 \
	"$(sql "SELECT count(*) FROM cdrp.case_notes WHERE case_id = $case_id
	        AND body = 'Visited the victim.'")"
post_json council-caseworker "/v1/cases/$case_id/notes" "$key" '{"body":"Something else."}'
assert_problem "the same key with another body: 409" 409 idempotency_conflict
post_json council-caseworker "/v1/cases/$case_id/incidents" "$key" \
	'{"occurred_on":"2026-01-05","reported_on":"2026-01-06","category":"nuisance","place":"Yard"}'
assert_problem "the same key on another endpoint: 409" 409 idempotency_conflict
assert_eq "db: nothing recorded by the conflicting requests" 0 \
	"$(sql "SELECT (SELECT count(*) FROM cdrp.case_notes WHERE case_id = $case_id
	                 AND body = 'Something else.')
	             + (SELECT count(*) FROM cdrp.incidents WHERE case_id = $case_id
	                 AND place = 'Yard')")"
req council-caseworker POST "/v1/cases/$case_id/notes" -H 'Content-Type: application/json' \
	-H 'Idempotency-Key: has space' --data-binary '{"body":"Bad key."}'
assert_problem "an invalid key: 400" 400 invalid_idempotency_key
assert_eq "db: nothing recorded with an invalid key" 0 \
	"$(sql "SELECT count(*) FROM cdrp.case_notes WHERE body = 'Bad key.'")"

# --- an incident, retried ---------------------------------------------------------------
key=$(new_key incident)
incident='{"occurred_on":"2026-02-01","reported_on":"2026-02-02","category":"personal","place":"Stairwell"}'
post_json council-caseworker "/v1/cases/$case_id/incidents" "$key" "$incident"
assert_status "incident with a key: 201" 201
post_json council-caseworker "/v1/cases/$case_id/incidents" "$key" "$incident"
assert_eq "the incident retry is a replay" true "$(header idempotent-replay)"
assert_eq "db: one incident" 1 \
	"$(sql "SELECT count(*) FROM cdrp.incidents WHERE case_id = $case_id AND place = 'Stairwell'")"

# --- a refusal frees its key ------------------------------------------------------------
key=$(new_key cpn)
cpn='{"type":"cpn","stage":3,"owner_agency":"HMDC"}'
post_json council-caseworker "/v1/cases/$case_id/actions" "$key" "$cpn"
assert_problem "a CPN without a prior warning: 422" 422 rule_violation
assert_eq "db: the refused request left no key" 0 \
	"$(sql "SELECT count(*) FROM cdrp.idempotency_keys WHERE key = $(sql_lit "$key")")"
post_json council-caseworker "/v1/cases/$case_id/actions" "$(new_key warning)" \
	'{"type":"warning_letter","stage":1,"owner_agency":"HMDC"}'
assert_status "a warning letter: 201" 201
post_json council-caseworker "/v1/cases/$case_id/actions" "$key" "$cpn"
assert_status "the same CPN request and key after the warning: 201" 201
assert_eq "it is not a replay of the refusal" "" "$(header idempotent-replay)"

finish
