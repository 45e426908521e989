#!/usr/bin/env bash
# t_refusals: everything cdrpd must refuse, and how: TLS handshake refusals
# (no client certificate, a foreign CA, a revoked certificate), unregistered
# identities, invalid bodies and headers, limits, routing, roles. Afterwards
# nothing may be stored for any of the refused requests.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

refused_keys=()

# submit_raw NAME WHO BODY_TEXT [CURL_ARGS...]: POST BODY_TEXT with a fresh
# key, remembered as one that must store nothing.
submit_raw() {
	local who=$1 text=$2 key
	shift 2
	key=$(new_key refused)
	refused_keys+=("$key")
	printf '%s' "$text" >"$WORK/raw.json"
	post_referral "$who" "$key" "$WORK/raw.json" "$@"
}

# edit_json EXPR: a valid referral, changed by the Python expression EXPR on
# the dict `d` (e.g. "d['subject']['nickname'] = 'x'"), printed compactly.
edit_json() {
	"$PY" - "$1" "Refused Subject $RUN_TAG" <<'EOF'
import json, sys
d = {"case_kind": "asb",
     "subject": {"type": "individual", "name": sys.argv[2]},
     "reason": "Repeated noise at night.",
     "incidents": [{"occurred_on": "2025-03-01", "category": "nuisance", "place": "Mill Lane"}],
     "victims": [{"name": "A Neighbour"}]}
exec(sys.argv[1])
print(json.dumps(d, separators=(",", ":")))
EOF
}

# --- the TLS handshake ------------------------------------------------------------

req - GET /v1/health
assert_no_http "no client certificate: handshake refused, no HTTP status"
assert_eq "no client certificate: curl reports status 000" 000 "$STATUS"
req foreign GET /v1/health
assert_no_http "certificate from a foreign CA: handshake refused"
req revoked GET /v1/health
assert_no_http "revoked certificate: handshake refused"
# Same refusals on a POST: nothing reaches the API.
write_referral "$WORK/valid.json" "Refused Subject $RUN_TAG"
for who in - foreign revoked; do
	key=$(new_key tls)
	refused_keys+=("$key")
	post_referral "$who" "$key" "$WORK/valid.json"
	assert_no_http "POST with '$who' certificate: handshake refused"
done
# Control: the valid certificate gets through with the same curl options.
req police-referrer GET /v1/health
assert_status "control: a valid certificate gets 200 from /v1/health" 200

# --- unregistered identities ----------------------------------------------------

for who in unknown-agency unknown-user; do
	req "$who" GET /v1/health
	assert_problem "$who: GET /v1/health is 403 unknown_identity" 403 unknown_identity
	req "$who" GET /v1/referrals
	assert_problem "$who: GET /v1/referrals is 403 unknown_identity" 403 unknown_identity
	req "$who" GET /v1/referrals/1
	assert_problem "$who: GET /v1/referrals/1 is 403 unknown_identity" 403 unknown_identity
	submit_raw "$who" "$(cat "$WORK/valid.json")"
	assert_problem "$who: POST /v1/referrals is 403 unknown_identity" 403 unknown_identity
done

# --- bodies -------------------------------------------------------------------------

submit_raw police-referrer '{"case_kind": "asb", "subject": '
assert_problem "truncated JSON: 400 malformed_json" 400 malformed_json
submit_raw police-referrer 'not json at all'
assert_problem "not JSON: 400 malformed_json" 400 malformed_json
submit_raw police-referrer '[1, 2, 3]'
assert_problem "a JSON array, not an object: 400 malformed_json" 400 malformed_json
submit_raw police-referrer "$(printf '{"case_kind":"asb","subject":{"type":"individual","name":"\xff\xfe"},"reason":"x"}')"
assert_problem "invalid UTF-8: 400 malformed_json" 400 malformed_json
submit_raw police-referrer ''
assert_problem "empty body: 400 malformed_json" 400 malformed_json

submit_raw police-referrer "$(edit_json "d['nickname'] = 'x'")"
assert_problem "unknown top-level field: 400 unknown_field naming it" 400 unknown_field nickname
submit_raw police-referrer "$(edit_json "d['subject']['nickname'] = 'x'")"
assert_problem "unknown nested field: 400 unknown_field subject.nickname" 400 unknown_field subject.nickname
submit_raw police-referrer "$(edit_json "d['victims'][0]['age'] = 3")"
assert_problem "unknown field in an array item: 400 unknown_field victims[0].age" 400 unknown_field 'victims[0].age'

submit_raw police-referrer '{"case_kind":"asb","case_kind":"ppo","subject":{"type":"individual","name":"X"},"reason":"r"}'
assert_problem "duplicate top-level key: 400 duplicate_field naming it" 400 duplicate_field case_kind
submit_raw police-referrer '{"case_kind":"asb","subject":{"type":"individual","name":"X","name":"Y"},"reason":"r"}'
assert_problem "duplicate nested key: 400 duplicate_field subject.name" 400 duplicate_field subject.name

submit_raw police-referrer "$(edit_json "d['reason'] = 42")"
assert_problem "reason is a number: 400 invalid_field reason" 400 invalid_field reason
submit_raw police-referrer "$(edit_json "d['subject'] = 'someone'")"
assert_problem "subject is a string: 400 invalid_field subject" 400 invalid_field subject
submit_raw police-referrer "$(edit_json "d['subject']['type'] = 'dog'")"
assert_problem "subject.type not allowed: 400 invalid_field subject.type" 400 invalid_field subject.type
submit_raw police-referrer "$(edit_json "d['case_kind'] = 'burglary'")"
assert_problem "case_kind not allowed: 400 invalid_field case_kind" 400 invalid_field case_kind
submit_raw police-referrer "$(edit_json "d['incidents'][0]['occurred_on'] = '2025-02-30'")"
assert_problem "impossible date: 400 invalid_field incidents[0].occurred_on" 400 invalid_field 'incidents[0].occurred_on'
submit_raw police-referrer "$(edit_json "d['incidents'][0]['occurred_on'] = '2999-01-01'")"
assert_problem "future date: 400 invalid_field incidents[0].occurred_on" 400 invalid_field 'incidents[0].occurred_on'
submit_raw police-referrer "$(edit_json "d['victims'][0]['vulnerable'] = 'yes'")"
assert_problem "boolean as string: 400 invalid_field victims[0].vulnerable" 400 invalid_field 'victims[0].vulnerable'
submit_raw police-referrer "$(edit_json "d['subject']['name'] = 'x' * 201")"
assert_problem "subject.name of 201 chars: 400 invalid_field" 400 invalid_field subject.name

submit_raw police-referrer "$(edit_json "del d['reason']")"
assert_problem "reason missing: 400 missing_field reason" 400 missing_field reason
submit_raw police-referrer "$(edit_json "del d['subject']['name']")"
assert_problem "subject.name missing: 400 missing_field subject.name" 400 missing_field subject.name
submit_raw police-referrer "$(edit_json "del d['incidents'][0]['place']")"
assert_problem "incident place missing: 400 missing_field incidents[0].place" 400 missing_field 'incidents[0].place'

# The error body never echoes the rejected value (it may be personal data).
submit_raw police-referrer "$(edit_json "d['subject']['date_of_birth'] = 'SECRET-VALUE-42'")"
assert_problem "bad date_of_birth: 400 invalid_field" 400 invalid_field subject.date_of_birth
assert_not_contains "the problem does not echo the rejected value" SECRET-VALUE-42 "$(cat "$BODY")"

# --- the Idempotency-Key header ---------------------------------------------------------

req police-referrer POST /v1/referrals -H 'Content-Type: application/json' --data-binary "@$WORK/valid.json"
assert_problem "no Idempotency-Key: 400 invalid_idempotency_key" 400 invalid_idempotency_key
req police-referrer POST /v1/referrals -H 'Content-Type: application/json' -H 'Idempotency-Key;' \
	--data-binary "@$WORK/valid.json"
assert_problem "empty Idempotency-Key: 400 invalid_idempotency_key" 400 invalid_idempotency_key
long_key=$(head -c 201 /dev/zero | tr '\0' k)
refused_keys+=("$long_key")
post_referral police-referrer "$long_key" "$WORK/valid.json"
assert_problem "201-character Idempotency-Key: 400 invalid_idempotency_key" 400 invalid_idempotency_key
key200=$(new_key k200)
key200=$key200$(head -c $((200 - ${#key200})) /dev/zero | tr '\0' x)
check "the 200-character key is 200 characters" test "${#key200}" -eq 200
post_referral police-referrer "$key200" "$WORK/valid.json"
assert_status "200-character Idempotency-Key is accepted: 201" 201
key=$(new_key 'with space é')
refused_keys+=("$key")
post_referral police-referrer "$key" "$WORK/valid.json"
assert_problem "non-ASCII Idempotency-Key: 400 invalid_idempotency_key" 400 invalid_idempotency_key

# --- size limits ------------------------------------------------------------------------

max_body=$(sed -n 's/^[[:space:]]*max_body_bytes[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$CDRP_CONF")
max_header=$(sed -n 's/^[[:space:]]*max_header_bytes[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$CDRP_CONF")
check "max_body_bytes is in the config" test -n "$max_body"
check "max_header_bytes is in the config" test -n "$max_header"
max_body=${max_body:-65536}
max_header=${max_header:-8192}

# pad_body FILE SIZE: a valid-looking referral padded to exactly SIZE bytes.
pad_body() {
	"$PY" - "$1" "$2" <<'EOF'
import sys
head = '{"case_kind":"asb","subject":{"type":"individual","name":"Big"},"reason":"'
tail = '"}'
n = int(sys.argv[2]) - len(head) - len(tail)
open(sys.argv[1], "w").write(head + "x" * n + tail)
EOF
}
pad_body "$WORK/exact.json" "$max_body"
check "body of exactly max_body_bytes has that size" test "$(stat -c %s "$WORK/exact.json")" -eq "$max_body"
key=$(new_key exact)
refused_keys+=("$key")
post_referral police-referrer "$key" "$WORK/exact.json"
# Not too large: refused by validation (reason over 4000 characters), not 413.
assert_problem "body of exactly max_body_bytes is not 413 (reason too long: 400)" 400 invalid_field reason
pad_body "$WORK/over.json" $((max_body + 1))
key=$(new_key over)
refused_keys+=("$key")
post_referral police-referrer "$key" "$WORK/over.json"
assert_problem "body of max_body_bytes+1: 413 body_too_large" 413 body_too_large
pad_body "$WORK/huge.json" $((max_body * 10))
key=$(new_key huge)
refused_keys+=("$key")
post_referral police-referrer "$key" "$WORK/huge.json"
assert_status "body of 10 x max_body_bytes: 413" 413

pad=$(head -c "$max_header" /dev/zero | tr '\0' a)
req police-referrer GET /v1/health -H "X-Padding: $pad"
assert_problem "headers over max_header_bytes: 431 headers_too_large" 431 headers_too_large
key=$(new_key bighdr)
refused_keys+=("$key")
post_referral police-referrer "$key" "$WORK/valid.json" -H "X-Padding: $pad"
assert_problem "POST with headers over max_header_bytes: 431" 431 headers_too_large
# Beyond libevent's hard cap (2 x max_header_bytes) libevent itself refuses
# the request with a bare 400 and closes (SECURITY.md, "Limits"); it must
# never reach a handler.
big=$(head -c $((max_header * 4)) /dev/zero | tr '\0' a)
req police-referrer GET /v1/health -H "X-Padding: $big"
assert_status "headers of 4 x max_header_bytes: refused by libevent (400)" 400
half=$(head -c $((max_header / 2)) /dev/zero | tr '\0' a)
req police-referrer GET /v1/health -H "X-Padding: $half"
assert_status "headers at half of max_header_bytes: 200" 200

# --- media type, routes, methods ------------------------------------------------------

for ctype in text/plain application/x-www-form-urlencoded application/jsonp; do
	key=$(new_key ctype)
	refused_keys+=("$key")
	req police-referrer POST /v1/referrals -H "Content-Type: $ctype" -H "Idempotency-Key: $key" \
		--data-binary "@$WORK/valid.json"
	assert_problem "Content-Type $ctype: 415 unsupported_media_type" 415 unsupported_media_type
done
key=$(new_key noctype)
refused_keys+=("$key")
req police-referrer POST /v1/referrals -H "Content-Type:" -H "Idempotency-Key: $key" \
	--data-binary "@$WORK/valid.json"
assert_problem "no Content-Type: 415 unsupported_media_type" 415 unsupported_media_type
post_referral police-referrer "$(new_key charset)" "$WORK/valid.json" -H 'Content-Type: application/json; charset=utf-8'
assert_status "Content-Type application/json; charset=utf-8 is accepted: 201" 201

for path in /nope /v1 /v1/referral /v1/referrals/1/extra /v2/health; do
	req police-referrer GET "$path"
	assert_problem "GET $path: 404 no_route" 404 no_route
done
req police-referrer DELETE /v1/referrals
assert_problem "DELETE /v1/referrals: 405 method_not_allowed" 405 method_not_allowed
assert_eq "405 Allow header for /v1/referrals" "GET, POST" "$(header allow)"
req police-referrer POST /v1/health -H 'Content-Type: application/json' -d '{}'
assert_problem "POST /v1/health: 405" 405 method_not_allowed
assert_eq "405 Allow header for /v1/health" GET "$(header allow)"
req police-referrer DELETE /v1/referrals/1
assert_problem "DELETE /v1/referrals/1: 405" 405 method_not_allowed
assert_eq "405 Allow header for /v1/referrals/{id}" "GET, PUT" "$(header allow)"

# --- roles --------------------------------------------------------------------------------

for who in county-analyst council-caseworker; do
	submit_raw "$who" "$(cat "$WORK/valid.json")"
	assert_problem "$who (no referrer role) submits: 403 forbidden" 403 forbidden
done

# --- nothing stored for the refused requests --------------------------------------------

printf '%s\n' "${refused_keys[@]}" >"$WORK/refused-keys.txt"
stored=$("$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 <<EOF
CREATE TEMP TABLE refused (key text);
\\copy refused FROM '$WORK/refused-keys.txt'
SELECT count(*) FROM cdrp.idempotency_keys k JOIN refused USING (key);
EOF
)
assert_eq "no idempotency record for any of the ${#refused_keys[@]} refused keys" 0 "$stored"
assert_eq "the refused subject was stored only by the accepted requests" 2 \
	"$(sql "SELECT count(*) FROM cdrp.referrals WHERE body->'subject'->>'name' = $(sql_lit "Refused Subject $RUN_TAG")")"
assert_eq "no referral stored for the oversized bodies" 0 \
	"$(sql "SELECT count(*) FROM cdrp.referrals WHERE body->'subject'->>'name' = 'Big'")"
check "role refusals are audited as 'deny', naming the user" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny' AND user_id IN (SELECT id FROM cdrp.users WHERE cn IN ('Lee Carter', 'Sam Okafor'))")" -ge 2
assert_eq "audit chain still intact" intact "$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"

finish
