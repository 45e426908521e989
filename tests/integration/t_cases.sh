#!/usr/bin/env bash
# t_cases: triage and cases over HTTPS with curl (issue 3): accepting a
# referral opens a case (or attaches to one), decline, request-info and
# resubmit, impossible transitions, ETag/If-Match on case changes, close and
# reopen, PPO strands and removal, notes, persons, case list filters and
# pagination, and the audit rows and tables behind them.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

YEAR=$(date -u +%Y)
# A ward no other test or run uses: list filters see only this run's cases.
WARD="Ward $RUN_TAG"
WARD2="Other Ward $RUN_TAG"

# Referrals that get accepted come from HMFRS, HMHA and HMYOS: t_intake
# expects no accepted referral in HMPOL's list.

# --- helpers ------------------------------------------------------------------------

# make_referral FILE SUBJECT KIND TYPE WARD CONTACT: a referral with two
# incidents (the first naming victim 0) and one victim whose contact is CONTACT.
make_referral() {
	"$PY" - "$@" <<'EOF'
import json, sys
out, name, kind, stype, ward, contact = sys.argv[1:7]
subject = {"type": stype, "name": name, "ward": ward}
if stype != "area":
    subject["address"] = "Flat " + contact
doc = {
    "case_kind": kind,
    "subject": subject,
    "reason": "Repeated intimidation of neighbours; no single agency can resolve it.",
    "incidents": [
        {"occurred_on": "2025-03-01", "reported_on": "2025-03-02", "category": "personal",
         "place": "Mill Lane", "victims": [0]},
        {"occurred_on": "2025-03-09", "category": "nuisance", "place": "Mill Lane"},
    ],
    "victims": [{"name": "A Neighbour", "contact": contact, "vulnerable": True,
                 "consent_to_share": True}],
    "risk": {"band": "medium"},
}
if kind == "ppo":
    doc["strand"] = "deter"
json.dump(doc, open(out, "w"))
EOF
}

# submit WHO SUBJECT [KIND [TYPE [WARD]]]: submit a referral; its id in RID.
RID=
submit() {
	local file
	file=$WORK/ref-$RANDOM$RANDOM.json
	make_referral "$file" "$2" "${3:-asb}" "${4:-individual}" "${5:-$WARD}" "contact $RUN_TAG"
	post_referral "$1" "$(new_key cases)" "$file"
	RID=$(body_field id)
	[[ $STATUS == 201 ]] || not_ok "submit $2: 201" "got $STATUS: $(head -c 300 "$BODY")"
}

# patch WHO PATH JSON [CURL_ARGS...]
patch() {
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" PATCH "$path" -H 'Content-Type: application/json' --data-binary "$json" "$@"
}

# accept_new WHO REFERRAL_ID [JSON]: accept into a new case; its reference in CREF.
CREF=
accept_new() {
	local json='{}'
	if (($# >= 3)); then
		json=$3
	fi
	post "$1" "/v1/referrals/$2/accept" "$json"
	CREF=$(body_field case_reference)
}

# json_len PATH: the length of the array at PATH in the last body.
json_len() {
	"$PY" - "$BODY" "$1" <<'EOF' 2>/dev/null || echo "<invalid>"
import json, sys
v = json.load(open(sys.argv[1]))
for p in sys.argv[2].split("."):
    v = v[int(p)] if isinstance(v, list) else v[p]
print(len(v))
EOF
}

# list_refs: the references of the items of the last list, space-separated.
list_refs() {
	"$PY" -c 'import json,sys; print(" ".join(i["reference"] for i in json.load(open(sys.argv[1]))["items"]))' "$BODY" 2>/dev/null || echo "<invalid>"
}

# persons_roles: the roles of the persons of the last case body, sorted.
persons_roles() {
	"$PY" -c 'import json,sys; print(" ".join(sorted(p["role"] for p in json.load(open(sys.argv[1]))["persons"])))' "$BODY" 2>/dev/null || echo "<invalid>"
}

has_word() { [[ " $2 " == *" $1 "* ]]; }
lacks_word() { ! has_word "$@"; }
seq_num() { printf '%d\n' "$((10#${1##*-}))"; }

case_id_of() { # REFERENCE
	sql "SELECT id FROM cdrp.cases WHERE reference = $(sql_lit "$1")"
}

# --- accept: a new case ------------------------------------------------------------

submit fire-referrer "Case Subject A $RUN_TAG"
ra=$RID
post police-referrer "/v1/referrals/$ra/accept" '{}'
assert_problem "referrer (no case role) cannot accept: 403 forbidden" 403 forbidden
post county-analyst "/v1/referrals/$ra/accept" '{}'
assert_problem "analyst cannot accept: 403 forbidden" 403 forbidden
post council-caseworker "/v1/referrals/999999999/accept" '{}'
assert_problem "accept of an unknown referral: 404" 404 not_found
post council-caseworker "/v1/referrals/$ra/accept" '{"lead_agency":"HMZZ"}'
assert_problem "accept with an unknown lead agency: 422" 422 rule_violation lead_agency
post council-caseworker "/v1/referrals/$ra/accept" '{"caseworker":{"agency":"HMPOL","cn":"Dana Whitlock"}}'
assert_problem "accept with a caseworker without a case role: 422" 422 rule_violation caseworker
post council-caseworker "/v1/referrals/$ra/accept" '{"caseworker":{"agency":"HMDC","cn":"Nobody Here"}}'
assert_problem "accept with an unregistered caseworker: 422" 422 rule_violation caseworker
assert_eq "refused accepts changed nothing" "submitted|" \
	"$(sql "SELECT status, coalesce(case_id::text, '') FROM cdrp.referrals WHERE id = $ra")"

accept_new council-caseworker "$ra"
assert_status "caseworker accepts: 200" 200
assert_eq "accepted referral: status accepted" accepted "$(body_field status)"
assert_match "accepted referral: case reference ASB-YYYY-NNNN" '^ASB-[0-9]{4}-[0-9]{4}$' "$CREF"
assert_eq "case reference year is this year" "$YEAR" "$(cut -d- -f2 <<<"$CREF")"
assert_eq "transitions: submitted then accepted" 2 "$(json_len transitions)"
assert_eq "last transition: to accepted" accepted "$(body_field transitions.1.to)"
assert_eq "last transition: from submitted" submitted "$(body_field transitions.1.from)"
assert_eq "last transition: by the caseworker's agency" HMDC "$(body_field transitions.1.by_agency)"
assert_eq "first transition: by the referring agency" HMFRS "$(body_field transitions.0.by_agency)"
case_a=$CREF
cid_a=$(case_id_of "$case_a")

req fire-referrer GET "/v1/referrals/$ra"
assert_status "referrer reads its accepted referral: 200" 200
assert_eq "referral shows the case reference" "$case_a" "$(body_field case_reference)"
assert_eq "referral GET shows transitions" 2 "$(json_len transitions)"

req council-caseworker GET "/v1/cases/$case_a"
assert_status "GET /v1/cases/{reference}: 200" 200
assert_eq "case: reference" "$case_a" "$(body_field reference)"
assert_eq "case: kind asb" asb "$(body_field case_kind)"
assert_eq "case: status open" open "$(body_field status)"
assert_eq "case: subject name from the referral" "Case Subject A $RUN_TAG" "$(body_field subject_name)"
assert_eq "case: subject type from the referral" individual "$(body_field subject_type)"
assert_eq "case: ward from the referral" "$WARD" "$(body_field ward)"
assert_eq "case: lead agency defaults to the caseworker's" HMDC "$(body_field lead_agency)"
assert_eq "case: caseworker defaults to the caller" "Sam Okafor" "$(body_field caseworker.cn)"
assert_eq "case: referral_date is the submission date" \
	"$(sql "SELECT (submitted_at AT TIME ZONE 'UTC')::date FROM cdrp.referrals WHERE id = $ra")" \
	"$(body_field referral_date)"
assert_eq "case: referrals lists the referral" \
	"[\"$(sql "SELECT reference FROM cdrp.referrals WHERE id = $ra")\"]" "$(body_field referrals)"
assert_eq "case: persons are the subject and the victim" "subject victim" "$(persons_roles)"
assert_eq "case: version 1" 1 "$(body_field version)"
assert_eq "case: ETag is the version" 1 "$(etag)"
assert_eq "case: strand null for ASB" null "$(body_field strand)"
assert_not_contains "case: no contact details in the case" "contact $RUN_TAG" "$(cat "$BODY")"
for k in risk next_review_on actions prompts persons.0.repeat_victim persons.0.vulnerable; do
	assert_ne "case: has $k" "<missing>" "$(body_field "$k")"
done
req council-caseworker GET "/v1/cases/$cid_a"
assert_status "GET /v1/cases/{id}: 200" 200
assert_eq "by id: same reference" "$case_a" "$(body_field reference)"

assert_eq "db: the referral's incidents are on the case, reported by HMFRS" "2|HMFRS" \
	"$(sql "SELECT count(DISTINCT i.id), string_agg(DISTINCT a.code, ',') FROM cdrp.incidents i
	        JOIN cdrp.incident_reports r ON r.incident_id = i.id
	        JOIN cdrp.agencies a ON a.id = r.agency_id WHERE i.case_id = $cid_a")"
assert_eq "db: reported_on given, else the submission date" \
	"2025-03-02 $(sql "SELECT (submitted_at AT TIME ZONE 'UTC')::date FROM cdrp.referrals WHERE id = $ra")" \
	"$(sql "SELECT string_agg(r.reported_on::text, ' ' ORDER BY i.id) FROM cdrp.incidents i
	        JOIN cdrp.incident_reports r ON r.incident_id = i.id WHERE i.case_id = $cid_a")"
assert_eq "db: the first incident names the victim" 1 \
	"$(sql "SELECT count(*) FROM cdrp.incident_victims v JOIN cdrp.incidents i ON i.id = v.incident_id
	        JOIN cdrp.case_persons cp ON cp.person_id = v.person_id AND cp.case_id = i.case_id
	        AND cp.role = 'victim' WHERE i.case_id = $cid_a")"
assert_eq "db: the victim's contact is in person_contacts" 1 \
	"$(sql "SELECT count(*) FROM cdrp.person_contacts pc JOIN cdrp.case_persons cp
	        ON cp.person_id = pc.person_id WHERE cp.case_id = $cid_a AND cp.role = 'victim'
	        AND pc.contact = $(sql_lit "contact $RUN_TAG")")"
assert_eq "db: subject_person_id is the subject" \
	"$(sql "SELECT person_id FROM cdrp.case_persons WHERE case_id = $cid_a AND role = 'subject'")" \
	"$(sql "SELECT subject_person_id FROM cdrp.cases WHERE id = $cid_a")"
assert_eq "db: a transition row to accepted" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referral_transitions WHERE referral_id = $ra AND to_status = 'accepted'")"

# Impossible transitions on an accepted referral.
post council-caseworker "/v1/referrals/$ra/accept" '{}'
assert_problem "accepting an accepted referral: 409" 409 invalid_transition
assert_contains "the 409 names the current state" accepted "$(body_field detail)"
post council-caseworker "/v1/referrals/$ra/decline" '{"reason":"Not for the partnership."}'
assert_problem "declining an accepted referral: 409" 409 invalid_transition
post council-caseworker "/v1/referrals/$ra/request-info" '{"question":"Anything else?"}'
assert_problem "request-info on an accepted referral: 409" 409 invalid_transition

# --- accept: attach to an open case -------------------------------------------------

submit housing-referrer "Case Subject A $RUN_TAG"
rb=$RID
post council-chair "/v1/referrals/$rb/accept" "{\"case\":\"$case_a\"}"
assert_status "chair attaches a second referral to the case: 200" 200
assert_eq "attached referral names the same case" "$case_a" "$(body_field case_reference)"
req council-caseworker GET "/v1/cases/$case_a"
assert_eq "case lists both referrals" 2 "$(json_len referrals)"
# The same victim (same name and contact) and the same two incidents: matched,
# not copied (proto/API.md "Triage", matching rules).
assert_eq "the attached referral's victim is the one already on the case; no second subject" \
	"subject victim" "$(persons_roles)"
assert_eq "attaching bumped the version" 2 "$(etag)"
assert_eq "db: the attached referral's incidents are on the case (HMHA reports)" 2 \
	"$(sql "SELECT count(*) FROM cdrp.incidents i JOIN cdrp.incident_reports r ON r.incident_id = i.id
	        JOIN cdrp.agencies a ON a.id = r.agency_id WHERE i.case_id = $cid_a AND a.code = 'HMHA'")"
assert_eq "db: ...as reports of the two incidents already there, not copies" "2|4" \
	"$(sql "SELECT count(DISTINCT i.id) || '|' || count(r.id) FROM cdrp.incidents i
	        JOIN cdrp.incident_reports r ON r.incident_id = i.id WHERE i.case_id = $cid_a")"
req housing-referrer GET "/v1/cases/$case_a"
assert_status "the attached referral's agency reads the case: 200" 200
req youth-referrer GET "/v1/cases/$case_a"
assert_problem "an unrelated agency cannot read the case: 404" 404 not_found

submit police-referrer "Area $RUN_TAG" asb area
post council-caseworker "/v1/referrals/$RID/accept" "{\"case\":\"$case_a\"}"
assert_problem "attach with another subject type: 422" 422 rule_violation case
submit police-ppo "PPO Mismatch $RUN_TAG" ppo
post council-caseworker "/v1/referrals/$RID/accept" "{\"case\":\"$case_a\"}"
assert_problem "attach with another kind: 422" 422 rule_violation case
post council-caseworker "/v1/referrals/$RID/accept" '{"case":"ASB-1999-9999"}'
assert_problem "attach to an unknown case: 422" 422 rule_violation case
assert_eq "refused attaches left the referral submitted" submitted \
	"$(sql "SELECT status FROM cdrp.referrals WHERE id = $RID")"

# --- decline ---------------------------------------------------------------------------

submit police-referrer "Declined $RUN_TAG"
rc=$RID
post police-referrer "/v1/referrals/$rc/decline" '{"reason":"x"}'
assert_problem "referrer cannot decline: 403" 403 forbidden
post council-caseworker "/v1/referrals/$rc/decline" '{"reason":"Single-agency matter for housing."}'
assert_status "decline: 200" 200
assert_eq "declined: status" declined "$(body_field status)"
assert_eq "declined: decision_reason" "Single-agency matter for housing." "$(body_field decision_reason)"
assert_eq "declined: transition reason" "Single-agency matter for housing." "$(body_field transitions.1.reason)"
assert_eq "declined: no case" null "$(body_field case_reference)"
post council-caseworker "/v1/referrals/$rc/accept" '{}'
assert_problem "accepting a declined referral: 409" 409 invalid_transition
assert_contains "the 409 names the state declined" declined "$(body_field detail)"
post council-caseworker "/v1/referrals/$rc/decline" '{"reason":"again"}'
assert_problem "declining twice: 409" 409 invalid_transition

# --- request-info and resubmit ---------------------------------------------------------

submit fire-referrer "Needs Info $RUN_TAG"
rd=$RID
post council-caseworker "/v1/referrals/$rd/request-info" '{"question":"Which flats are affected?"}'
assert_status "request-info: 200" 200
assert_eq "request-info: status info_requested" info_requested "$(body_field status)"
assert_eq "request-info: decision_reason is the question" "Which flats are affected?" "$(body_field decision_reason)"
post council-caseworker "/v1/referrals/$rd/accept" '{}'
assert_problem "accepting while info is requested: 409" 409 invalid_transition
assert_contains "the 409 names info_requested" info_requested "$(body_field detail)"
post council-caseworker "/v1/referrals/$rd/request-info" '{"question":"again?"}'
assert_problem "request-info twice: 409" 409 invalid_transition

make_referral "$WORK/resubmit.json" "Needs Info Answered $RUN_TAG" asb family "$WARD" "contact $RUN_TAG"
req youth-referrer PUT "/v1/referrals/$rd" -H 'Content-Type: application/json' --data-binary "@$WORK/resubmit.json"
assert_problem "another agency cannot resubmit: 404" 404 not_found
req council-caseworker PUT "/v1/referrals/$rd" -H 'Content-Type: application/json' --data-binary "@$WORK/resubmit.json"
assert_problem "a caseworker (not referrer) cannot resubmit: 403" 403 forbidden
req fire-referrer PUT "/v1/referrals/$rd" -H 'Content-Type: application/json' --data-binary '{"case_kind":"asb"}'
assert_problem "resubmit with an invalid body: 400" 400 missing_field
assert_eq "refused resubmits changed nothing" "info_requested|Needs Info $RUN_TAG" \
	"$(sql "SELECT status, body->'subject'->>'name' FROM cdrp.referrals WHERE id = $rd")"
req fire-referrer PUT "/v1/referrals/$rd" -H 'Content-Type: application/json' --data-binary "@$WORK/resubmit.json"
assert_status "the referrer resubmits: 200" 200
assert_eq "resubmitted: status submitted" submitted "$(body_field status)"
assert_eq "resubmitted: the body is replaced" "Needs Info Answered $RUN_TAG" "$(body_field subject.name)"
assert_eq "resubmitted: subject type replaced" family "$(body_field subject.type)"
assert_eq "resubmitted: transitions submitted, info_requested, submitted" \
	"info_requested submitted" "$(body_field transitions.1.to) $(body_field transitions.2.to)"
req fire-referrer PUT "/v1/referrals/$rd" -H 'Content-Type: application/json' --data-binary "@$WORK/resubmit.json"
assert_problem "resubmitting a submitted referral: 409" 409 invalid_transition
accept_new council-caseworker "$rd"
assert_status "the resubmitted referral is accepted: 200" 200
req council-caseworker GET "/v1/cases/$CREF"
assert_eq "the case uses the resubmitted subject" "Needs Info Answered $RUN_TAG" "$(body_field subject_name)"
assert_eq "the case uses the resubmitted subject type" family "$(body_field subject_type)"

# request-info then decline is allowed.
submit police-referrer "Info Then Decline $RUN_TAG"
post council-caseworker "/v1/referrals/$RID/request-info" '{"question":"Is this still happening?"}'
post council-caseworker "/v1/referrals/$RID/decline" '{"reason":"No answer."}'
assert_status "info_requested -> declined: 200" 200
assert_eq "info_requested -> declined: status" declined "$(body_field status)"

# --- references are sequential per kind and year ----------------------------------------

submit housing-referrer "Seq One $RUN_TAG"
accept_new council-caseworker "$RID" '{"lead_agency":"HMHA"}'
ref1=$CREF
submit fire-referrer "Seq Two $RUN_TAG"
accept_new council-caseworker "$RID" '{"caseworker":{"agency":"HMDC","cn":"Priya Marsh"},"ward":"'"$WARD2"'"}'
ref2=$CREF
assert_match "second new case: ASB reference" '^ASB-[0-9]{4}-[0-9]{4}$' "$ref2"
assert_eq "two new cases get consecutive numbers" "$(($(seq_num "$ref1") + 1))" "$(seq_num "$ref2")"
assert_eq "db: references are unique" 0 \
	"$(sql "SELECT count(*) FROM (SELECT reference FROM cdrp.cases GROUP BY reference HAVING count(*) > 1) d")"
req council-caseworker GET "/v1/cases/$ref1"
assert_eq "lead_agency from the accept body" HMHA "$(body_field lead_agency)"
req council-caseworker GET "/v1/cases/$ref2"
assert_eq "caseworker from the accept body" "Priya Marsh" "$(body_field caseworker.cn)"
assert_eq "ward from the accept body" "$WARD2" "$(body_field ward)"
req housing-referrer GET "/v1/cases/$ref1"
assert_status "the lead agency reads its case: 200" 200

# --- ETag / If-Match --------------------------------------------------------------------

req council-caseworker GET "/v1/cases/$case_a"
v=$(etag)
assert_match "GET gives a numeric ETag" '^[0-9]+$' "$v"
patch council-caseworker "/v1/cases/$case_a" '{"marking":"OFFICIAL-SENSITIVE"}'
assert_problem "PATCH without If-Match: 428" 428 if_match_required
patch council-caseworker "/v1/cases/$case_a" '{"marking":"OFFICIAL-SENSITIVE"}' -H "If-Match: \"$v\""
assert_status "PATCH with the current ETag: 200" 200
v2=$(etag)
assert_eq "PATCH answers the next ETag" "$((v + 1))" "$v2"
assert_eq "PATCH: marking changed" OFFICIAL-SENSITIVE "$(body_field marking)"
assert_eq "PATCH: body version matches the ETag" "$v2" "$(body_field version)"
# OFFICIAL-SENSITIVE from here on: every access states why, and the
# statement is audited.
req council-caseworker GET "/v1/cases/$case_a"
assert_problem "OFFICIAL-SENSITIVE case without a justification: 403" 403 justification_required
req council-caseworker GET "/v1/cases/$case_a" -H "X-Cdrp-Justification: short"
assert_problem "a justification under 10 characters: 400" 400 invalid_header
req council-caseworker GET "/v1/cases?ward=$(printf '%s' "$WARD" | sed 's/ /%20/g')"
assert_not_contains "without a justification a ward filter does not find it (no side channel)" \
	"\"reference\": \"$case_a\"" "$(cat "$BODY")"
REQ_WHY="t_cases: preparing the task group review of this case"
req council-caseworker GET "/v1/cases?ward=$(printf '%s' "$WARD" | sed 's/ /%20/g')"
assert_status "with a justification the ward filter: 200" 200
assert_contains "...finds it" "\"reference\": \"$case_a\"" "$(cat "$BODY")"
req council-caseworker GET "/v1/cases/$case_a"
assert_status "OFFICIAL-SENSITIVE case with a justification: 200" 200
assert_eq "db: the read is audited with its justification" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'consult' AND object_type = 'case' AND object_id = $(body_field id) AND justification = 't_cases: preparing the task group review of this case'")"
patch council-caseworker "/v1/cases/$case_a" '{"ward":"Stale Ward"}' -H "If-Match: \"$v\""
assert_problem "PATCH with a stale ETag: 412" 412 precondition_failed
req council-caseworker GET "/v1/cases/$case_a"
assert_eq "after the 412 the ward is unchanged" "$WARD" "$(body_field ward)"
assert_eq "after the 412 the version is unchanged" "$v2" "$(etag)"
patch county-analyst "/v1/cases/$case_a" '{"ward":"x"}' -H "If-Match: \"$v2\""
assert_problem "PATCH by a role without case rights: 403" 403 forbidden
patch council-caseworker "/v1/cases/$case_a" '{"caseworker":{"agency":"HMPOL","cn":"Dana Whitlock"}}' -H "If-Match: \"$v2\""
assert_problem "PATCH caseworker to a user without a case role: 422" 422 rule_violation caseworker
patch council-caseworker "/v1/cases/$case_a" '{"lead_agency":"HMZZ"}' -H "If-Match: \"$v2\""
assert_problem "PATCH lead_agency unknown: 422" 422 rule_violation lead_agency
patch council-caseworker "/v1/cases/ASB-1999-9999" '{"ward":"x"}' -H "If-Match: \"1\""
assert_problem "PATCH an unknown case: 404" 404 not_found
patch council-chair "/v1/cases/$case_a" '{"caseworker":{"agency":"HMDC","cn":"Priya Marsh"},"ward":"'"$WARD"'"}' -H "If-Match: $v2"
assert_status "PATCH caseworker (unquoted If-Match): 200" 200
assert_eq "PATCH: caseworker changed" "Priya Marsh" "$(body_field caseworker.cn)"
v=$(etag)

# --- close and reopen -------------------------------------------------------------------

post council-caseworker "/v1/cases/$case_a/close" '{"outcome":"resolved"}'
assert_problem "close without If-Match: 428" 428 if_match_required
post council-caseworker "/v1/cases/$case_a/close" '{"outcome":"resolved"}' -H "If-Match: \"$((v - 1))\""
assert_problem "close with a stale ETag: 412" 412 precondition_failed
post council-caseworker "/v1/cases/$case_a/close" '{"outcome":"resolved","reason":"Behaviour stopped."}' -H "If-Match: \"$v\""
assert_status "close: 200" 200
assert_eq "closed: status" closed "$(body_field status)"
assert_eq "closed: outcome" resolved "$(body_field outcome)"
assert_match "closed: closed_at" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(body_field closed_at)"
v=$(etag)
post council-caseworker "/v1/cases/$case_a/close" '{"outcome":"other"}' -H "If-Match: \"$v\""
assert_problem "closing a closed case: 409" 409 invalid_transition
assert_contains "the 409 names the state closed" closed "$(body_field detail)"
patch council-caseworker "/v1/cases/$case_a" '{"ward":"x"}' -H "If-Match: \"$v\""
assert_problem "PATCH on a closed case: 409" 409 invalid_transition
post council-caseworker "/v1/cases/$case_a/reopen" '{"reason":"Incidents resumed."}' -H "If-Match: \"$v\""
assert_status "reopen: 200" 200
assert_eq "reopened: status open" open "$(body_field status)"
assert_eq "reopened: outcome cleared" null "$(body_field outcome)"
v=$(etag)
post council-caseworker "/v1/cases/$case_a/reopen" '{"reason":"again"}' -H "If-Match: \"$v\""
assert_problem "reopening an open case: 409" 409 invalid_transition
req fire-referrer GET "/v1/cases/$case_a/history"
assert_status "history: 200 for the referring agency" 200
assert_eq "history: open, closed, open" "open closed open" \
	"$(body_field status.0.status) $(body_field status.1.status) $(body_field status.2.status)"
assert_eq "history: close outcome and reason" "resolved|Behaviour stopped." \
	"$(body_field status.1.outcome)|$(body_field status.1.reason)"
assert_eq "history: reopen reason" "Incidents resumed." "$(body_field status.2.reason)"
assert_eq "history: by" HMDC "$(body_field status.1.by.agency)"

# --- PPO strands and removal ------------------------------------------------------------

sed -e "s/@SUBJECT@/PPO Subject $RUN_TAG/" -e "s/@WARD@/$WARD/" -e "s/@ADDRESS@/1 Quay St $RUN_TAG/" \
	-e "s/@CONTACT@/ppo contact $RUN_TAG/" tests/integration/fixtures/cases-ppo.json >"$WORK/ppo.json"
post_referral youth-referrer "$(new_key ppo)" "$WORK/ppo.json"
assert_status "PPO referral: 201" 201
accept_new council-caseworker "$(body_field id)" '{"lead_agency":"HMPOL"}'
assert_status "PPO referral accepted: 200" 200
ppo=$CREF
assert_match "PPO case reference PPO-YYYY-NNNN" '^PPO-[0-9]{4}-[0-9]{4}$' "$ppo"
req police-ppo GET "/v1/cases/$ppo"
assert_status "the PPO coordinator reads the PPO case: 200" 200
assert_eq "PPO case: strand from the referral" deter "$(body_field strand)"
assert_not_contains "PPO case: no subject address" "1 Quay St $RUN_TAG" "$(cat "$BODY")"
v=$(etag)
post police-referrer "/v1/cases/$ppo/strand" '{"strand":"rehabilitate_and_resettle"}' -H "If-Match: \"$v\""
assert_problem "a referrer cannot change the strand: 403" 403 forbidden
post police-ppo "/v1/cases/$ppo/strand" '{"strand":"catch_and_convict","reason":"Reoffended."}' -H "If-Match: \"$v\""
assert_status "the PPO coordinator changes the strand: 200" 200
assert_eq "strand changed" catch_and_convict "$(body_field strand)"
v=$(etag)
post police-ppo "/v1/cases/$ppo/strand" '{"strand":"deter"}' -H "If-Match: \"$((v - 1))\""
assert_problem "strand with a stale ETag: 412" 412 precondition_failed
post police-ppo "/v1/cases/$ppo/strand" '{"strand":"deter"}'
assert_problem "strand without If-Match: 428" 428 if_match_required
req council-caseworker GET "/v1/cases/$case_a"
post council-caseworker "/v1/cases/$case_a/strand" '{"strand":"deter"}' -H "If-Match: \"$(etag)\""
assert_problem "strand on an ASB case: 422" 422 rule_violation
post police-ppo "/v1/cases/$ref1/strand" '{"strand":"deter"}' -H "If-Match: \"1\""
assert_problem "the PPO coordinator cannot see another agency's ASB case: 404" 404 not_found
post council-caseworker "/v1/cases/$case_a/ppo-removal" '{"reason":"deceased"}' -H "If-Match: \"$(sql "SELECT version FROM cdrp.cases WHERE id = $cid_a")\""
assert_problem "ppo-removal on an ASB case: 422" 422 rule_violation
post police-ppo "/v1/cases/$ppo/ppo-removal" '{"reason":"moved_away"}' -H "If-Match: \"$v\""
assert_problem "removal without exit strategy: 400" 400 missing_field exit_strategy
post police-ppo "/v1/cases/$ppo/ppo-removal" '{"reason":"moved_away","exit_strategy":"Handed to the receiving IOM team."}' -H "If-Match: \"$v\""
assert_status "PPO removal: 200" 200
assert_eq "removal closes the case" "closed|other" "$(body_field status)|$(body_field outcome)"
v=$(etag)
post police-ppo "/v1/cases/$ppo/strand" '{"strand":"deter"}' -H "If-Match: \"$v\""
assert_problem "strand on a closed case: 409" 409 invalid_transition
post police-ppo "/v1/cases/$ppo/ppo-removal" '{"reason":"deceased"}' -H "If-Match: \"$v\""
assert_problem "removing a closed case: 409" 409 invalid_transition
req police-ppo GET "/v1/cases/$ppo/history"
assert_status "PPO history: 200" 200
assert_eq "strand history: deter, catch_and_convict, removal" "deter catch_and_convict true" \
	"$(body_field strands.0.strand) $(body_field strands.1.strand) $(body_field strands.2.removed)"
assert_eq "strand history: change reason" "Reoffended." "$(body_field strands.1.reason)"
assert_eq "strand history: removal reason and exit strategy" "moved_away|Handed to the receiving IOM team." \
	"$(body_field strands.2.removal_reason)|$(body_field strands.2.exit_strategy)"
assert_eq "status history: closed with outcome other" "closed|other" \
	"$(body_field status.1.status)|$(body_field status.1.outcome)"

sed -e "s/@SUBJECT@/PPO Two $RUN_TAG/" -e "s/@WARD@/$WARD/" -e "s/@ADDRESS@/x/" -e "s/@CONTACT@/y/" \
	tests/integration/fixtures/cases-ppo.json >"$WORK/ppo2.json"
post_referral youth-referrer "$(new_key ppo)" "$WORK/ppo2.json"
accept_new council-caseworker "$(body_field id)"
req police-ppo GET "/v1/cases/$CREF"
assert_status "PPO coordinator reads the second PPO case: 200" 200
post police-ppo "/v1/cases/$CREF/ppo-removal" '{"reason":"deceased"}' -H "If-Match: \"$(etag)\""
assert_status "removal as deceased needs no exit strategy: 200" 200
assert_eq "deceased removal closed the case" closed "$(body_field status)"

# --- notes ------------------------------------------------------------------------------

post council-caseworker "/v1/cases/$case_a/notes" '{"body":"First visit made."}'
assert_status "note added: 201" 201
assert_eq "note: body" "First visit made." "$(body_field body)"
assert_eq "note: author" "HMDC|Sam Okafor" "$(body_field author.agency)|$(body_field author.cn)"
n1=$(body_field id)
post council-chair "/v1/cases/$case_a/notes" '{"body":"Discussed at the task group."}'
assert_status "second note: 201" 201
n2=$(body_field id)
post housing-referrer "/v1/cases/$ref1/notes" '{"body":"Tenancy warning issued."}'
assert_status "a lead agency user adds a note: 201" 201
post fire-referrer "/v1/cases/$case_a/notes" '{"body":"x"}'
assert_problem "a reader that is not lead agency or case role cannot add notes: 403" 403 forbidden
post youth-referrer "/v1/cases/$case_a/notes" '{"body":"x"}'
assert_problem "a non-reader cannot add notes: 404" 404 not_found
req fire-referrer GET "/v1/cases/$case_a/notes"
assert_status "notes list for a reader: 200" 200
assert_eq "notes: oldest first" "$n1 $n2" "$(body_field items.0.id) $(body_field items.1.id)"
assert_eq "notes: two notes" 2 "$(json_len items)"
req youth-referrer GET "/v1/cases/$case_a/notes"
assert_problem "notes of an unreadable case: 404" 404 not_found
assert_contains "db: notes cannot be updated" "append-only" \
	"$(sql "UPDATE cdrp.case_notes SET body = 'changed' WHERE id = $n1" 2>&1)"
assert_eq "db: the note is unchanged" "First visit made." "$(sql "SELECT body FROM cdrp.case_notes WHERE id = $n1")"

# --- persons ----------------------------------------------------------------------------

post council-caseworker "/v1/cases/$case_a/persons" \
	'{"name":"A Witness","role":"witness","vulnerable":false,"address":"9 Elm Row '"$RUN_TAG"'","contact":"phone '"$RUN_TAG"'"}'
assert_status "new person: 201" 201
assert_eq "new person: role" witness "$(body_field role)"
pid=$(body_field person_id)
assert_match "new person: id" '^[1-9][0-9]*$' "$pid"
req council-caseworker GET "/v1/cases/$case_a"
assert_contains "case lists the witness" '"witness"' "$(body_field persons)"
assert_not_contains "case has no person address" "9 Elm Row $RUN_TAG" "$(cat "$BODY")"
assert_not_contains "case has no person contact" "phone $RUN_TAG" "$(cat "$BODY")"
assert_eq "db: contact details stored apart" "9 Elm Row $RUN_TAG|phone $RUN_TAG" \
	"$(sql "SELECT address, contact FROM cdrp.person_contacts WHERE person_id = $pid")"
post council-caseworker "/v1/cases/$ref1/persons" "{\"person_id\":$pid,\"role\":\"victim\"}"
assert_status "link an existing person to another case: 201" 201
assert_eq "linked person id" "$pid" "$(body_field person_id)"
post council-caseworker "/v1/cases/$ref1/persons" "{\"person_id\":$pid,\"role\":\"victim\"}"
assert_problem "duplicate link: 409" 409 invalid_transition
post council-caseworker "/v1/cases/$ref1/persons" '{"person_id":999999999,"role":"victim"}'
assert_problem "link an unknown person: 422" 422 rule_violation person_id
post police-referrer "/v1/cases/$case_a/persons" '{"name":"x","role":"witness"}'
assert_problem "persons need a case role: 403" 403 forbidden

# --- case list --------------------------------------------------------------------------

list() { # WHO [NAME=VALUE...]: GET /v1/cases with url-encoded parameters.
	local who=$1 a
	local -a args=()
	shift
	for a in "$@"; do
		args+=(--data-urlencode "$a")
	done
	req "$who" GET /v1/cases -G "${args[@]}"
}

list council-caseworker "ward=$WARD" limit=200
assert_status "list by ward: 200" 200
refs=$(list_refs)
check "list: includes the ASB case" has_word "$case_a" "$refs"
check "list: includes the PPO case" has_word "$ppo" "$refs"
check "list by ward: excludes the other ward's case" lacks_word "$ref2" "$refs"
assert_eq "list item fields" "$case_a|asb|individual|open|HMDC|Priya Marsh|$WARD" \
	"$("$PY" - "$BODY" "$case_a" <<'EOF'
import json, sys
i = [x for x in json.load(open(sys.argv[1]))["items"] if x["reference"] == sys.argv[2]][0]
print("|".join([i["reference"], i["case_kind"], i["subject_type"], i["status"], i["lead_agency"],
                i["caseworker"]["cn"], i["ward"]]))
for k in ("id", "subject_name", "opened_at", "next_review_on"):
    assert k in i, k
EOF
)"
list council-caseworker "ward=$WARD" status=closed limit=200
refs=$(list_refs)
check "status=closed: includes the removed PPO case" has_word "$ppo" "$refs"
check "status=closed: excludes the open case" lacks_word "$case_a" "$refs"
list council-caseworker "ward=$WARD" kind=ppo limit=200
refs=$(list_refs)
check "kind=ppo: includes the PPO case" has_word "$ppo" "$refs"
check "kind=ppo: excludes ASB" lacks_word "$case_a" "$refs"
list council-caseworker "ward=$WARD" lead_agency=HMHA limit=200
refs=$(list_refs)
check "lead_agency=HMHA: includes its case" has_word "$ref1" "$refs"
check "lead_agency=HMHA: excludes others" lacks_word "$case_a" "$refs"
list council-caseworker "ward=$WARD" "caseworker=Priya Marsh" limit=200
refs=$(list_refs)
check "caseworker filter: includes the reassigned case" has_word "$case_a" "$refs"
check "caseworker filter: excludes Sam Okafor's case" lacks_word "$ref1" "$refs"
list council-caseworker "ward=$WARD2"
assert_eq "ward filter: only the other ward's case" "$ref2" "$(list_refs)"
list council-caseworker "ward=$WARD" subject_type=family limit=200
check "subject_type=family: the resubmitted family case" has_word "$(sql "SELECT c.reference FROM cdrp.cases c JOIN cdrp.referrals r ON r.case_id = c.id WHERE r.id = $rd")" "$(list_refs)"
check "subject_type=family: excludes individuals" lacks_word "$case_a" "$(list_refs)"
list housing-referrer "ward=$WARD" limit=200
refs=$(list_refs)
check "housing sees its lead case and its referral's case" has_word "$ref1" "$refs"
check "housing sees the case of its referral" has_word "$case_a" "$refs"
check "housing does not see the PPO case" lacks_word "$ppo" "$refs"
list council-caseworker "ward=$WARD" flagged=false overdue=false limit=200
assert_status "flagged=false and overdue=false: 200" 200
list council-caseworker "ward=$WARD" flagged=true limit=200
assert_status "flagged=true: 200" 200
check "flagged=true: the fresh ASB case (one incident per victim) is not flagged" lacks_word "$ref2" "$(list_refs)"
list council-caseworker flagged=maybe
assert_problem "invalid flagged parameter: 400" 400 invalid_parameter flagged
list council-caseworker status=bogus
assert_problem "invalid status parameter: 400" 400 invalid_parameter status

# Pagination over this run's ward, newest first.
list council-caseworker "ward=$WARD" limit=200
all=$(list_refs)
total=$(wc -w <<<"$all")
check "several cases in the ward" test "$total" -ge 4
seen=
cursor=
pages=0
while :; do
	if [[ -n $cursor ]]; then
		list council-caseworker "ward=$WARD" limit=2 "cursor=$cursor"
	else
		list council-caseworker "ward=$WARD" limit=2
	fi
	[[ $STATUS == 200 ]] || break
	page=$(list_refs)
	seen="${seen:+$seen }$page"
	pages=$((pages + 1))
	cursor=$(body_field next_cursor)
	[[ $cursor != null && $pages -lt 50 ]] || break
done
assert_eq "pages of 2 walk the same list in order" "$all" "$seen"
assert_eq "page count" "$(((total + 1) / 2))" "$pages"
assert_eq "ids are newest first" "$(sql "SELECT string_agg(reference, ' ' ORDER BY id DESC) FROM cdrp.cases
	WHERE lower(ward) = lower($(sql_lit "$WARD"))")" "$all"

# --- audit ------------------------------------------------------------------------------

check "audit: case reads are 'consult' rows" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'consult' AND object_type = 'case' AND object_id = $cid_a")" -ge 5
check "audit: case changes are 'alter' rows" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'alter' AND object_type = 'case' AND object_id = $cid_a")" -ge 4
assert_eq "audit: one alter row per successful change of the ASB case (patch x2, close, reopen)" 4 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'alter' AND object_type = 'case' AND object_id = $cid_a")"
assert_eq "audit: the accept is one 'alter' row on the referral" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'alter' AND object_type = 'referral'
	        AND object_id = $ra AND detail->>'to' = 'accepted'")"
check "audit: list reads are audited" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = 'case_list'")" -ge 10
check "audit: notes are audited" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = 'case_note' AND action = 'collect'
	        AND object_id IN ($n1, $n2)")" -eq 2
check "audit: refusals are 'deny' rows" test \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny'")" -ge 5
assert_not_contains "audit: no personal data in details" "$RUN_TAG" \
	"$(sql "SELECT string_agg(detail::text, ' ') FROM cdrp.audit_log")"
assert_eq "db: cdrp.audit_verify() is NULL (chain intact)" intact \
	"$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"

finish
