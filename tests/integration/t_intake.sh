#!/usr/bin/env bash
# t_intake: the referral happy path over HTTPS with curl: submit, read back,
# list, idempotent replay and conflict, what PostgreSQL holds afterwards
# (one referral, one audit row, an intact audit chain), visibility between
# agencies, and list filtering and pagination.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

# list_ids: the ids of the items in the last response, space-separated.
# none_of LIST WORD...: no WORD is a word of LIST (other tests may have
# accepted referrals of their own in the same stack).
none_of() {
	local list=" $1 " w
	shift
	for w in "$@"; do
		[[ $list != *" $w "* ]] || return 1
	done
}

list_ids() {
	"$PY" -c 'import json,sys; print(" ".join(str(i["id"]) for i in json.load(open(sys.argv[1]))["items"]))' "$BODY" 2>/dev/null || echo "<invalid>"
}

# list_item_field ID FIELD: FIELD of item ID in the last list response.
list_item_field() {
	"$PY" - "$BODY" "$1" "$2" <<'EOF' 2>/dev/null || echo "<invalid>"
import json, sys
items = json.load(open(sys.argv[1]))["items"]
hit = [i for i in items if str(i.get("id")) == sys.argv[2]]
print(hit[0].get(sys.argv[3], "<missing>") if hit else "<absent>")
EOF
}

# has_word WORD LIST: WORD is one of the space-separated LIST.
has_word() {
	[[ " $2 " == *" $1 "* ]]
}

lacks_word() {
	! has_word "$@"
}

# is_cursor TEXT: TEXT looks like a next_cursor value (not null or missing).
is_cursor() {
	[[ -n $1 && $1 != null && $1 != "<"* ]]
}

# --- submit -------------------------------------------------------------------

subject="Intake Subject $RUN_TAG"
write_referral "$WORK/r1.json" "$subject"
key=$(new_key intake)
post_referral police-referrer "$key" "$WORK/r1.json"
assert_status "POST /v1/referrals answers 201" 201
cp -- "$BODY" "$WORK/first.json"
id=$(body_field id)
ref=$(body_field reference)
assert_match "201 body has a numeric id" '^[1-9][0-9]*$' "$id"
assert_match "201 reference is REF-YYYY-NNNNNN" '^REF-[0-9]{4}-[0-9]{6}$' "$ref"
assert_eq "201 reference year is this year (UTC)" "$(date -u +%Y)" "$(cut -d- -f2 <<<"$ref")"
assert_eq "201 status is submitted" submitted "$(body_field status)"
assert_eq "201 case_kind echoes the request" asb "$(body_field case_kind)"
assert_match "201 submitted_at is RFC 3339 UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
	"$(body_field submitted_at)"
assert_eq "201 Location header names the referral" "/v1/referrals/$id" "$(header location)"
assert_match "201 content-type is application/json" '^application/json' "$(header content-type)"
assert_eq "first submission is not a replay" "" "$(header idempotent-replay)"
assert_match "201 has an X-Request-Id" '.' "$(header x-request-id)"

# --- read back ----------------------------------------------------------------

req police-referrer GET "/v1/referrals/$id"
assert_status "GET /v1/referrals/{id} answers 200" 200
assert_eq "GET: same id" "$id" "$(body_field id)"
assert_eq "GET: same reference" "$ref" "$(body_field reference)"
assert_eq "GET: subject name as submitted" "$subject" "$(body_field subject.name)"
assert_eq "GET: subject type as submitted" individual "$(body_field subject.type)"
assert_eq "GET: reason as submitted" "$(jget "$WORK/r1.json" reason)" "$(body_field reason)"
assert_eq "GET: incident place as submitted" "Mill Lane" "$(body_field incidents.0.place)"
assert_eq "GET: agency is the certificate's O" HMPOL "$(body_field agency)"
assert_eq "GET: submitted_by is the certificate's CN" "Dana Whitlock" "$(body_field submitted_by)"
assert_eq "GET: status submitted" submitted "$(body_field status)"
assert_eq "GET: marking defaults to OFFICIAL" OFFICIAL "$(body_field marking)"
assert_eq "GET: case_reference is null" null "$(body_field case_reference)"

req police-referrer GET "/v1/referrals?limit=200"
assert_status "GET /v1/referrals answers 200" 200
check "list includes the new referral" has_word "$id" "$(list_ids)"
assert_eq "list item has the reference" "$ref" "$(list_item_field "$id" reference)"
assert_eq "list item has subject_type" individual "$(list_item_field "$id" subject_type)"
assert_eq "list item has the agency" HMPOL "$(list_item_field "$id" agency)"

# --- idempotency ----------------------------------------------------------------

post_referral police-referrer "$key" "$WORK/r1.json"
assert_status "replay (same key, same body) answers 201 again" 201
assert_eq "replay has Idempotent-Replay: true" true "$(header idempotent-replay)"
assert_eq "replay body is the original body" "$(json_canon "$WORK/first.json")" "$(json_canon "$BODY")"
assert_eq "replay Location header" "/v1/referrals/$id" "$(header location)"

# The same document with its keys in another order and other whitespace.
"$PY" - "$WORK/r1.json" >"$WORK/r1-reordered.json" <<'EOF'
import json, sys
def rev(v):
    if isinstance(v, dict):
        return {k: rev(v[k]) for k in reversed(list(v))}
    if isinstance(v, list):
        return [rev(x) for x in v]
    return v
print(json.dumps(rev(json.load(open(sys.argv[1]))), indent=3))
EOF
check "reordered body really differs as text" test "$(cat "$WORK/r1.json")" != "$(cat "$WORK/r1-reordered.json")"
post_referral police-referrer "$key" "$WORK/r1-reordered.json"
assert_status "replay with reordered keys and whitespace answers 201" 201
assert_eq "reordered replay has Idempotent-Replay: true" true "$(header idempotent-replay)"
assert_eq "reordered replay body is the original body" "$(json_canon "$WORK/first.json")" "$(json_canon "$BODY")"

# Same key, different body.
write_referral "$WORK/r1-other.json" "$subject (changed)"
post_referral police-referrer "$key" "$WORK/r1-other.json"
assert_problem "same key, different body: 409 idempotency_conflict" 409 idempotency_conflict
assert_eq "conflict is not flagged as a replay" "" "$(header idempotent-replay)"

# Keys are scoped to the agency: another agency's same key is a new referral.
post_referral housing-referrer "$key" "$WORK/r1.json"
assert_status "same key from another agency: 201" 201
assert_eq "same key from another agency: not a replay" "" "$(header idempotent-replay)"
assert_ne "same key from another agency: a different referral" "$id" "$(body_field id)"
housing_same_key_id=$(body_field id)

# --- what PostgreSQL holds ------------------------------------------------------

kl=$(sql_lit "$key")
assert_eq "db: one idempotency record for the key (HMPOL)" 1 \
	"$(sql "SELECT count(*) FROM cdrp.idempotency_keys k JOIN cdrp.agencies a ON a.id = k.agency_id
	        WHERE a.code = 'HMPOL' AND k.key = $kl")"
assert_eq "db: the idempotency record points at the referral" "$id" \
	"$(sql "SELECT k.referral_id FROM cdrp.idempotency_keys k JOIN cdrp.agencies a ON a.id = k.agency_id
	        WHERE a.code = 'HMPOL' AND k.key = $kl")"
assert_eq "db: the idempotency record stored status 201" 201 \
	"$(sql "SELECT k.status FROM cdrp.idempotency_keys k JOIN cdrp.agencies a ON a.id = k.agency_id
	        WHERE a.code = 'HMPOL' AND k.key = $kl")"
assert_eq "db: exactly one HMPOL referral with this subject" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referrals r JOIN cdrp.agencies a ON a.id = r.agency_id
	        WHERE a.code = 'HMPOL' AND r.body->'subject'->>'name' = $(sql_lit "$subject")")"
assert_eq "db: the referral row has the reference" "$ref" \
	"$(sql "SELECT reference FROM cdrp.referrals WHERE id = $id")"
assert_eq "db: the conflicting body was not stored" 0 \
	"$(sql "SELECT count(*) FROM cdrp.referrals WHERE body->'subject'->>'name' = $(sql_lit "$subject (changed)")")"
assert_eq "db: exactly one 'collect' audit row for the referral" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'collect' AND object_type = 'referral'
	        AND object_id = $id")"
assert_eq "db: the collect audit row names HMPOL and its user" "HMPOL|Dana Whitlock" \
	"$(sql "SELECT a.code, u.cn FROM cdrp.audit_log l JOIN cdrp.agencies a ON a.id = l.agency_id
	        JOIN cdrp.users u ON u.id = l.user_id
	        WHERE l.action = 'collect' AND l.object_type = 'referral' AND l.object_id = $id")"
check "db: the read was audited ('consult')" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'consult' AND object_type = 'referral'
	        AND object_id = $id")" -ge 1
assert_eq "db: one transition row (to submitted)" "1|submitted" \
	"$(sql "SELECT count(*), max(to_status) FROM cdrp.referral_transitions WHERE referral_id = $id")"
assert_eq "db: cdrp.audit_verify() is NULL (chain intact)" intact \
	"$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"

# --- visibility ---------------------------------------------------------------

write_referral "$WORK/housing.json" "Housing Subject $RUN_TAG" ppo
post_referral housing-referrer "$(new_key housing)" "$WORK/housing.json"
assert_status "housing-referrer submits: 201" 201
hid=$(body_field id)
href=$(body_field reference)
req police-referrer GET "/v1/referrals/$hid"
assert_problem "police cannot see housing's referral: 404 not_found" 404 not_found
assert_not_contains "the 404 does not disclose the reference" "$href" "$(cat "$BODY")"
req council-caseworker GET "/v1/referrals/$hid"
assert_status "caseworker sees housing's referral: 200" 200
assert_eq "caseworker sees the same reference" "$href" "$(body_field reference)"
assert_eq "caseworker sees agency HMHA" HMHA "$(body_field agency)"
req housing-referrer GET "/v1/referrals/$hid"
assert_status "housing sees its own referral: 200" 200
req housing-referrer GET "/v1/referrals/$id"
assert_problem "housing cannot see police's referral: 404" 404 not_found
req council-chair GET "/v1/referrals/$id"
assert_status "chair sees police's referral: 200" 200
req county-analyst GET "/v1/referrals/$hid"
assert_problem "analyst (aggregates only) gets 403 forbidden" 403 forbidden
assert_contains "the 403 names the permission" "referral.read" "$(body_field detail)"

req police-referrer GET "/v1/referrals?limit=200"
check "police list omits housing's referral" lacks_word "$hid" "$(list_ids)"
check "police list omits housing's same-key referral" lacks_word "$housing_same_key_id" "$(list_ids)"
req council-caseworker GET "/v1/referrals?limit=200"
assert_status "caseworker list: 200" 200
check "caseworker list includes housing's referral" has_word "$hid" "$(list_ids)"
check "caseworker list includes police's referral" has_word "$id" "$(list_ids)"

req police-referrer GET "/v1/referrals/999999999"
assert_problem "nonexistent id: 404 not_found" 404 not_found
req police-referrer GET "/v1/referrals/abc"
assert_problem "non-numeric id: 404 not_found" 404 not_found
req police-referrer GET "/v1/referrals/0"
assert_problem "id 0: 404 not_found" 404 not_found
req police-referrer GET "/v1/referrals/99999999999999999999"
assert_problem "id beyond bigint: 404 not_found (not 500)" 404 not_found
req council-caseworker GET "/v1/cases/99999999999999999999"
assert_problem "case id beyond bigint: 404 not_found (not 500)" 404 not_found

# --- list filter and pagination --------------------------------------------------

ids=()
for n in 1 2 3; do
	write_referral "$WORK/page$n.json" "Page Subject $n $RUN_TAG"
	post_referral police-referrer "$(new_key page)" "$WORK/page$n.json"
	assert_status "pagination fixture $n: 201" 201
	ids+=("$(body_field id)")
done

req police-referrer GET "/v1/referrals?status=submitted&limit=200"
assert_status "status=submitted: 200" 200
check "status=submitted lists the new referral" has_word "${ids[2]}" "$(list_ids)"
assert_eq "status=submitted lists only submitted items" submitted \
	"$("$PY" -c 'import json,sys; print(",".join(sorted({i["status"] for i in json.load(open(sys.argv[1]))["items"]})))' "$BODY")"
req police-referrer GET "/v1/referrals?status=accepted&limit=200"
assert_status "status=accepted: 200" 200
check "status=accepted lists none of the new referrals" none_of "$(list_ids)" "${ids[@]}"

# Newest first, one per page: the three just submitted, in reverse order.
req police-referrer GET "/v1/referrals?limit=1"
assert_status "limit=1: 200" 200
assert_eq "limit=1 page 1 is the newest referral" "${ids[2]}" "$(list_ids)"
cursor=$(body_field next_cursor)
check "limit=1 page 1 has a next_cursor" is_cursor "$cursor"
req police-referrer GET /v1/referrals -G --data-urlencode "limit=1" --data-urlencode "cursor=$cursor"
assert_status "following next_cursor: 200" 200
assert_eq "page 2 is the next older referral" "${ids[1]}" "$(list_ids)"
cursor2=$(body_field next_cursor)
assert_ne "page 2 has another cursor" "$cursor" "$cursor2"
req police-referrer GET /v1/referrals -G --data-urlencode "limit=1" --data-urlencode "cursor=$cursor2"
assert_eq "page 3 is the oldest of the three" "${ids[0]}" "$(list_ids)"
req police-referrer GET "/v1/referrals?limit=2"
assert_eq "limit=2 gives the two newest" "${ids[2]} ${ids[1]}" "$(list_ids)"

# Walk every page: exactly the referrals police may see (its agency's in
# this partnership, and those attached to cases it may read: visibility is
# t_authz_matrix's subject, pagination this one's), newest first, each
# once; the last page has a null cursor. The page size makes it a handful
# of pages however many there are.
expected=$(sql "SELECT coalesce(string_agg(r.id::text, ' ' ORDER BY r.id DESC), '')
                FROM cdrp.referrals r JOIN cdrp.agencies a ON a.code = 'HMPOL'
                WHERE r.partnership_id = a.partnership_id
                  AND (r.agency_id = a.id
                       OR (r.case_id IS NOT NULL
                           AND cdrp.case_readable(r.case_id, a.id, '{referrer}')))")
read -r -a expected_ids <<<"$expected"
page_size=$(((${#expected_ids[@]} + 3) / 4))
((page_size > 200)) && page_size=200
((page_size < 1)) && page_size=1
all=()
cursor=
pages=0
while ((pages < 1000)); do
	if [[ -n $cursor ]]; then
		req police-referrer GET /v1/referrals -G --data-urlencode "limit=$page_size" --data-urlencode "cursor=$cursor"
	else
		req police-referrer GET "/v1/referrals?limit=$page_size"
	fi
	[[ $STATUS == 200 ]] || break
	pages=$((pages + 1))
	read -r -a page <<<"$(list_ids)"
	all+=("${page[@]}")
	cursor=$(body_field next_cursor)
	[[ $cursor == null ]] && break
done
echo "# walked ${#all[@]} referrals in $pages pages of $page_size"
assert_eq "walking all pages ends with next_cursor null" null "$cursor"
assert_eq "walking all pages yields every visible referral once, newest first" "$expected" "${all[*]}"
check "walked pages include the first referral" has_word "$id" "${all[*]}"
check "walked pages include every pagination fixture" has_word "${ids[0]}" "${all[*]}"

for bad in "limit=0" "limit=201" "limit=abc" "limit=" "limit=-1"; do
	req police-referrer GET "/v1/referrals?$bad"
	assert_problem "invalid $bad: 400 invalid_parameter" 400 invalid_parameter limit
done
req police-referrer GET "/v1/referrals?status=open"
assert_problem "invalid status: 400 invalid_parameter" 400 invalid_parameter status
req police-referrer GET "/v1/referrals?cursor=zz9"
assert_problem "invalid cursor: 400 invalid_parameter" 400 invalid_parameter cursor
req police-referrer GET "/v1/referrals?colour=red"
assert_problem "unknown query parameter: 400 invalid_parameter" 400 invalid_parameter colour

# --- list: subject name, submission date filters (issue 9) ---------------------------------

write_referral "$WORK/listed.json" "Listed Person $RUN_TAG"
post_referral police-referrer "$(new_key listed)" "$WORK/listed.json"
assert_status "a referral to find in the list: 201" 201
listed=$(body_field id)
today=$(date -u +%F)
tomorrow=$(date -u -d tomorrow +%F)
yesterday=$(date -u -d yesterday +%F)
listed_item() { # prints the list item of $listed as JSON, or nothing
	"$PY" -c 'import json, sys
for i in json.load(open(sys.argv[1]))["items"]:
    if i["id"] == int(sys.argv[2]): print(json.dumps(i, sort_keys=True))' "$BODY" "$listed"
}
req police-referrer GET "/v1/referrals?submitted_from=$today&submitted_to=$today&limit=200"
assert_status "list submitted today: 200" 200
item=$(listed_item)
assert_contains "today's list has the new referral" "\"id\": $listed" "$item"
assert_contains "the list item names the subject" '"subject_name": "Listed Person' "$item"
assert_contains "the list item has its marking" '"marking": "OFFICIAL"' "$item"
req police-referrer GET "/v1/referrals?submitted_from=$tomorrow&limit=200"
assert_status "list from tomorrow: 200" 200
assert_eq "a list from tomorrow does not have it" "" "$(listed_item)"
req police-referrer GET "/v1/referrals?submitted_to=$yesterday&limit=200"
assert_eq "a list up to yesterday does not have it" "" "$(listed_item)"
req police-referrer GET "/v1/referrals?submitted_from=2025-02-30"
assert_problem "submitted_from not a date: 400" 400 invalid_parameter submitted_from
req police-referrer GET "/v1/referrals?submitted_from=$today&submitted_to=$yesterday"
assert_problem "submitted_to before submitted_from: 400" 400 invalid_parameter submitted_to

# An OFFICIAL-SENSITIVE referral: listed, but its subject's name only with
# a stated justification (as reading it needs one).
"$PY" - "$WORK/listed.json" "$WORK/sensitive.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
d["marking"] = "OFFICIAL-SENSITIVE"
d["subject"]["name"] = "Sensitive Subject"
json.dump(d, open(sys.argv[2], "w"))
EOF2
post_referral police-referrer "$(new_key sensitive)" "$WORK/sensitive.json"
assert_status "an OFFICIAL-SENSITIVE referral: 201" 201
listed=$(body_field id)
req police-referrer GET "/v1/referrals?submitted_from=$today&limit=200"
item=$(listed_item)
assert_contains "the sensitive referral is listed" "\"id\": $listed" "$item"
assert_contains "without a justification its subject's name is withheld" '"subject_name": null' "$item"
req police-referrer GET "/v1/referrals?submitted_from=$today&limit=200" \
	-H "X-Cdrp-Justification: Reviewing this week's referrals for the task group"
assert_contains "with a justification the name is shown" '"subject_name": "Sensitive Subject"' "$(listed_item)"

finish
