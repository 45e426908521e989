#!/usr/bin/env bash
# t_isa: information-sharing agreements through the API (create, sign,
# suspend, resume, terminate, review prompts), their enforcement on case
# reads (suspension, expiry on the end date, PPO data, deny by default),
# tenancy (an agency in two partnerships; nothing crosses) and immediate
# disabling of users and agencies.
source "$(dirname "$0")/lib.sh"

TODAY=$(date -u +%F)
YESTERDAY=$(date -u -d yesterday +%F)

# post_json WHO PATH JSON [CURL_ARGS...]: a POST with a fresh key.
post_json() {
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" POST "$path" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $(new_key isa)" --data-binary "$json" "$@"
}
reason='{"reason":"t_isa: testing the agreement lifecycle"}'
fire_id=$(sql "SELECT id FROM cdrp.users WHERE cn = 'Chris Doyle'")

cleanup() {
	sql "UPDATE cdrp.isas SET status = 'active', ends_on = NULL
	     WHERE reference IN ('HM-ISA-ASB', 'HM-ISA-PPO');
	     UPDATE cdrp.users SET roles = '{referrer}', active = true WHERE cn = 'Chris Doyle';
	     UPDATE cdrp.users SET active = true WHERE cn = 'Alex Brennan';
	     UPDATE cdrp.agency_partnerships SET active = true;
	     DELETE FROM cdrp.agency_partnerships
	     WHERE partnership_id = (SELECT id FROM cdrp.partnerships WHERE code = 'WVCSP')" \
		>/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- lifecycle ---------------------------------------------------------------------------

ref="T-ISA-$RUN_TAG"
ref=${ref:0:40}
isa_body() { # REFERENCE PARTIES_JSON [EXTRA_JSON [CATEGORIES_JSON]]
	printf '{"reference":"%s","title":"Test agreement","purpose":"asb_case_management",
	  "data_categories":%s,"lawful_basis":"Crime and Disorder Act 1998 s.115",
	  "retention_months":24,"starts_on":"2020-01-01","review_on":"2021-01-01",
	  "parties":%s%s}' "$1" "${4:-[\"asb_casework\"]}" "$2" "${3:-}"
}
post_json council-admin /v1/isas "$(isa_body "$ref" '["HMDC","HMFRS"]')"
assert_status "an administrator creates an ISA: 201" 201
assert_eq "it starts as a draft" draft "$(body_field status)"
assert_eq "a draft is not in force" false "$(body_field in_force)"
isa_id=$(body_field id)
post_json council-admin /v1/isas "$(isa_body "$ref" '["HMDC","HMFRS"]')"
assert_problem "the same reference again: 409" 409 invalid_transition
post_json council-admin /v1/isas "$(isa_body "X$RUN_TAG" '["HMDC","HMFRS"]' ',"ends_on":"2019-01-01"')"
assert_problem "ending before it starts: 422" 422 rule_violation
post_json council-admin /v1/isas "$(isa_body "Y$RUN_TAG" '["HMDC","HMXX"]')"
assert_problem "an unknown party: 422" 422 rule_violation
post_json council-admin /v1/isas "$(isa_body "Z$RUN_TAG" '["HMDC"]')"
assert_problem "one party only: 400" 400 invalid_field
post_json council-admin /v1/isas "$(isa_body "W$RUN_TAG" '["HMDC","HMFRS"]' '' '["gossip"]')"
assert_problem "an unknown data category: 400" 400 invalid_field
post_json council-caseworker /v1/isas "$(isa_body "V$RUN_TAG" '["HMDC","HMFRS"]')"
assert_problem "a caseworker cannot create one: 403 naming isa.manage" 403 forbidden
assert_contains "the 403 names the permission" isa.manage "$(body_field detail)"

post_json council-admin "/v1/isas/$ref/sign" '{}'
assert_status "HMDC signs: 200" 200
assert_eq "one party signed: still a draft" draft "$(body_field status)"
post_json council-admin "/v1/isas/$ref/sign" '{}'
assert_problem "signing twice: 409" 409 invalid_transition
post_json council-admin "/v1/isas/$ref/suspend" "$reason"
assert_problem "a draft cannot be suspended: 409" 409 invalid_transition
# Fire's signatory: an administrator of that agency.
req council-admin PUT "/v1/admin/users/$fire_id/roles" -H 'Content-Type: application/json' \
	--data-binary '{"roles":["referrer","admin"]}'
assert_status "HMFRS's user made an administrator: 200" 200
post_json fire-referrer "/v1/isas/$ref/sign" '{"note":"signed for Harrowmere Fire and Rescue"}'
assert_status "HMFRS signs: 200" 200
assert_eq "every party signed: active" active "$(body_field status)"
assert_eq "active and started: in force" true "$(body_field in_force)"
assert_eq "its review date has passed: review_due" true "$(body_field review_due)"
req council-caseworker GET /v1/isas
assert_status "any role lists agreements: 200" 200
assert_contains "the list prompts its review" "\"isa\": \"$ref\", \"detail\"" "$(tr -d '\n' <"$BODY" | sed 's/  */ /g')"
req county-analyst GET "/v1/isas/$isa_id"
assert_status "an analyst reads an agreement by id: 200" 200
post_json county-analyst "/v1/isas/$ref/suspend" "$reason"
assert_problem "an analyst cannot suspend: 403" 403 forbidden
post_json council-admin "/v1/isas/$ref/suspend" "$reason"
assert_eq "suspended" suspended "$(body_field status)"
post_json council-admin "/v1/isas/$ref/resume" "$reason"
assert_eq "resumed: active" active "$(body_field status)"
post_json council-admin "/v1/isas/$ref/terminate" "$reason"
assert_eq "terminated" terminated "$(body_field status)"
post_json council-admin "/v1/isas/$ref/resume" "$reason"
assert_problem "a terminated agreement cannot come back: 409" 409 invalid_transition
assert_eq "db: every change audited" 6 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = 'isa' AND object_id = $isa_id AND action = 'alter'")"
sql "UPDATE cdrp.users SET roles = '{referrer}' WHERE id = $fire_id" >/dev/null

# --- enforcement ---------------------------------------------------------------------------

# Fire refers an ASB case, youth a PPO case; the council leads both.
accept_new() { # WHO KIND NAME -> sets CASE
	write_referral "$WORK/$3.json" "$3 $RUN_TAG" "$2"
	post_referral "$1" "$(new_key ref)" "$WORK/$3.json"
	local rid
	rid=$(body_field id)
	post_json council-caseworker "/v1/referrals/$rid/accept" '{"lead_agency":"HMDC"}'
	CASE=$(body_field case_reference)
	REFERRAL=$rid
}
accept_new fire-referrer asb "ISA ASB"
asb=$CASE
asb_referral=$REFERRAL
write_referral "$WORK/lockout.json" "Lockout $RUN_TAG" ppo
post_referral youth-referrer "$(new_key ref)" "$WORK/lockout.json"
post_json council-caseworker "/v1/referrals/$(body_field id)/accept" '{"lead_agency":"HMFRS"}'
assert_problem "accepting a PPO case led by an agency outside the PPO agreement: 422" 422 rule_violation
assert_eq "...naming lead_agency" lead_agency "$(body_field field)"
accept_new youth-referrer ppo "ISA PPO"
ppo=$CASE
assert_match "setup: two cases" '^ASB-.* PPO-' "$asb $ppo"

req fire-referrer GET "/v1/cases/$asb"
assert_status "the referring agency reads the ASB case under HM-ISA-ASB: 200" 200
req youth-referrer GET "/v1/cases/$ppo"
assert_status "youth reads the PPO case it referred, under HM-ISA-PPO: 200" 200
post_json council-admin /v1/isas/HM-ISA-PPO/suspend "$reason"
req youth-referrer GET "/v1/cases/$ppo"
assert_problem "HM-ISA-PPO suspended: HM-ISA-ASB does not cover offender management (404)" \
	404 not_found
req council-caseworker GET "/v1/cases/$ppo"
assert_status "the lead agency still reads its PPO case: 200" 200
write_referral "$WORK/fire-ppo.json" "Fire PPO $RUN_TAG" ppo
post_referral fire-referrer "$(new_key ref)" "$WORK/fire-ppo.json"
req council-caseworker GET "/v1/referrals/$(body_field id)"
assert_problem "a PPO referral from an agency without an offender-management agreement is not shown to triage: 404" \
	404 not_found
post_json council-admin /v1/isas/HM-ISA-PPO/resume "$reason"
req youth-referrer GET "/v1/cases/$ppo"
assert_status "HM-ISA-PPO resumed: 200" 200
req police-referrer GET "/v1/cases/$asb"
assert_problem "an agency with no working relation to the case: 404" 404 not_found

write_referral "$WORK/waiting.json" "Waiting $RUN_TAG"
post_referral fire-referrer "$(new_key ref)" "$WORK/waiting.json"
waiting=$(body_field id)
req council-caseworker GET "/v1/referrals/$waiting"
assert_status "triage sees fire's new referral under HM-ISA-ASB: 200" 200
post_json council-admin /v1/isas/HM-ISA-ASB/suspend "$reason"
assert_eq "HM-ISA-ASB suspended" suspended "$(body_field status)"
req fire-referrer GET "/v1/cases/$asb"
assert_problem "suspended: the referring agency's access stops at once (404)" 404 not_found
req fire-referrer GET "/v1/referrals/$asb_referral"
assert_status "...its own referral stays its own: 200" 200
req fire-referrer GET "/v1/cases?limit=200"
assert_not_contains "...and the case is gone from its case list" "$asb" "$(cat "$BODY")"
req council-caseworker GET "/v1/referrals/$asb_referral"
assert_status "the council still sees fire's referral on the case it leads: 200" 200
req council-caseworker GET "/v1/referrals/$waiting"
assert_problem "...but no longer fire's referral waiting for triage: 404" 404 not_found
post_json council-admin /v1/isas/HM-ISA-ASB/resume "$reason"
req fire-referrer GET "/v1/cases/$asb"
assert_status "resumed: access is back: 200" 200

# Expiry: the end date is the last day covered; after it, access stops
# without anyone acting.
sql "UPDATE cdrp.isas SET ends_on = '$TODAY' WHERE reference = 'HM-ISA-ASB'" >/dev/null
req fire-referrer GET "/v1/cases/$asb"
assert_status "on the end date the agreement still covers: 200" 200
sql "UPDATE cdrp.isas SET ends_on = '$YESTERDAY' WHERE reference = 'HM-ISA-ASB'" >/dev/null
req fire-referrer GET "/v1/cases/$asb"
assert_problem "the day after the end date: 404" 404 not_found
req fire-referrer GET /v1/isas/HM-ISA-ASB
assert_eq "the agreement shows as expired" expired "$(body_field status)"
assert_eq "...and not in force" false "$(body_field in_force)"
sql "UPDATE cdrp.isas SET ends_on = NULL WHERE reference = 'HM-ISA-ASB'" >/dev/null
req fire-referrer GET "/v1/cases/$asb"
assert_status "end date lifted: 200" 200

# --- tenancy -------------------------------------------------------------------------------

sql "SELECT cdrp.admin_register_partnership('WVCSP', 'Wessex Vale CSP');
     INSERT INTO cdrp.agency_partnerships (agency_id, partnership_id)
     SELECT a.id, p.id FROM cdrp.agencies a, cdrp.partnerships p
     WHERE a.code = 'HMPOL' AND p.code = 'WVCSP'" >/dev/null
req police-referrer GET /v1/health
assert_problem "an agency in two partnerships must name one: 403" 403 unknown_identity
assert_contains "...and is told how" X-Cdrp-Partnership "$(body_field detail)"
req police-referrer GET /v1/health -H 'X-Cdrp-Partnership: CSP'
assert_eq "acting within CSP" CSP "$(body_field partnership)"
req police-referrer GET /v1/health -H 'X-Cdrp-Partnership: WVCSP'
assert_eq "acting within WVCSP" WVCSP "$(body_field partnership)"
req police-referrer GET /v1/health -H 'X-Cdrp-Partnership: ZZCSP'
assert_problem "a partnership the agency is not in: 403" 403 unknown_identity
req police-referrer GET /v1/health -H 'X-Cdrp-Partnership: wv csp'
assert_problem "a malformed partnership header: 400" 400 invalid_header
write_referral "$WORK/wv.json" "Wessex Subject $RUN_TAG"
post_referral police-referrer "$(new_key wv)" "$WORK/wv.json" -H 'X-Cdrp-Partnership: WVCSP'
assert_status "a referral within WVCSP: 201" 201
wv=$(body_field id)
assert_eq "db: it belongs to WVCSP" WVCSP \
	"$(sql "SELECT p.code FROM cdrp.referrals r JOIN cdrp.partnerships p ON p.id = r.partnership_id WHERE r.id = $wv")"
req police-referrer GET "/v1/referrals/$wv" -H 'X-Cdrp-Partnership: CSP'
assert_problem "the same agency acting within CSP does not see it: 404" 404 not_found
req council-caseworker GET "/v1/referrals/$wv"
assert_problem "CSP's caseworker does not see it: 404" 404 not_found
req police-referrer GET "/v1/referrals?limit=200" -H 'X-Cdrp-Partnership: WVCSP'
assert_contains "within WVCSP the list has it" "\"id\": $wv" "$(cat "$BODY")"
assert_not_contains "...and no CSP referral" "\"id\": $asb_referral," "$(cat "$BODY")"
CLI_OUT=$("$CDRP_BIN/cdrp" --partnership WVCSP health 2>&1)
assert_contains "cdrp --partnership WVCSP health" "cdrpd ok" "$CLI_OUT"
sql "DELETE FROM cdrp.agency_partnerships WHERE partnership_id =
       (SELECT id FROM cdrp.partnerships WHERE code = 'WVCSP')" >/dev/null

# --- disabling is immediate ------------------------------------------------------------------

youth_id=$(sql "SELECT id FROM cdrp.users WHERE cn = 'Alex Brennan'")
req youth-referrer GET /v1/health
assert_status "youth's referrer: 200" 200
post_json council-admin "/v1/admin/users/$youth_id/disable" "$reason"
assert_eq "disabled" false "$(body_field active)"
req youth-referrer GET /v1/health
assert_problem "a disabled user is refused at the next request: 403" 403 unknown_identity
post_json council-admin /v1/admin/users '{"agency":"HMYOS","cn":"Alex Brennan","roles":["referrer"]}'
assert_status "re-added: 200" 200
req youth-referrer GET /v1/health
assert_status "...and back: 200" 200
post_json council-admin /v1/admin/agencies/HMYOS/disable "$reason"
assert_eq "agency disabled in CSP" false "$(body_field active)"
req youth-referrer GET /v1/health
assert_problem "a user of a disabled agency is refused: 403" 403 unknown_identity
post_json council-admin /v1/admin/agencies '{"code":"HMYOS"}'
assert_status "the agency re-added: 200" 200
req youth-referrer GET /v1/health
assert_status "...and its users are back: 200" 200
post_json council-caseworker /v1/admin/agencies '{"code":"HMYOS"}'
assert_problem "a caseworker cannot administer: 403 naming admin" 403 forbidden
assert_contains "the 403 names the permission" "admin permission" "$(body_field detail)"

finish
