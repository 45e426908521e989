#!/usr/bin/env bash
# t_db_security: regression tests for the database holes of issue 6, tried
# as an attacker would:
#  1. the pg_temp domain attack on SECURITY DEFINER functions, the owner
#     role, TEMP, and cdrpd's refusal to run as a dangerous role;
#  2. idempotent replays across users and roles;
#  4. the audit hash: NULL shifts, session time zones, every break reported;
#  5. 404 probes audited with the user; victims' contact details; a huge
#     If-Match.
source "$(dirname "$0")/lib.sh"

readonly CDRPD=$CDRP_BIN/cdrpd
readonly CALL_SIG='text, text, text, jsonb, text, bytea, text, text'

# app_sql SQL: run SQL as the daemon's own role, cdrp_app; output and errors.
app_sql() {
	"$PSQL" -X -q -A -t -U cdrp_app -v ON_ERROR_STOP=1 -c "$1" 2>&1
}
# as_role ROLE SQL: the same as another login role.
as_role() {
	"$PSQL" -X -q -A -t -U "$1" -v ON_ERROR_STOP=1 -c "$2" 2>&1
}
app_dsn=$(sed -n 's/^database = //p' "$CDRP_CONF")

cleanup() {
	for r in cdrp_attacker cdrp_t_temp cdrp_t_bypass cdrp_t_owner; do
		sql "DROP OWNED BY $r; DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT
cleanup

# --- 1. roles, ownership, search_path ------------------------------------------------

assert_eq "cdrp_owner: NOLOGIN, not a superuser, no BYPASSRLS" "f|f|f" \
	"$(sql "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'cdrp_owner'")"
assert_eq "every table, view and sequence of cdrp belongs to cdrp_owner" 0 \
	"$(sql "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	        WHERE n.nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl')
	          AND c.relowner <> 'cdrp_owner'::regrole")"
assert_eq "every function of cdrp belongs to cdrp_owner" 0 \
	"$(sql "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	        WHERE n.nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl')
	          AND p.proowner <> 'cdrp_owner'::regrole")"
assert_ne "there are SECURITY DEFINER functions to check" 0 \
	"$(sql "SELECT count(*) FROM pg_proc WHERE prosecdef AND pronamespace = 'cdrp_api'::regnamespace")"
assert_eq "every SECURITY DEFINER function pins search_path with pg_temp last" 0 \
	"$(sql "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	        WHERE n.nspname LIKE 'cdrp%' AND p.prosecdef
	          AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, cdrp, pg_temp'], false)")"
assert_eq "cdrp_app may not create temporary objects" f \
	"$(sql "SELECT has_database_privilege('cdrp_app', current_database(), 'TEMP')")"
assert_eq "nor may PUBLIC" f \
	"$(sql "SELECT coalesce(bool_or(a.privilege_type = 'TEMPORARY'), false)
	        FROM pg_database d, aclexplode(d.datacl) a
	        WHERE d.datname = current_database() AND a.grantee = 0")"
out=$(app_sql "SELECT count(*) FROM cdrp.cases")
assert_contains "cdrp_app cannot read a table" "permission denied" "$out"
out=$(app_sql "SELECT cdrp_impl.health(NULL, '{}')")
assert_contains "cdrp_app cannot call an endpoint around the dispatcher" "permission denied" "$out"

# The attack of the issue, as cdrp_app: a pg_temp function and a
# pg_temp.jsonb domain whose CHECK calls it, then an API call.
out=$(app_sql "CREATE FUNCTION pg_temp.evil() RETURNS boolean LANGUAGE sql AS 'SELECT true'")
assert_contains "cdrp_app: the pg_temp function of the attack is refused" \
	"permission denied" "$out"

# The same attack by a role that may create temporary objects: pinning
# search_path with pg_temp last means pg_temp.jsonb is never the jsonb the
# definer function uses, so the payload never runs as the owner.
sql "CREATE ROLE cdrp_attacker LOGIN;
     GRANT TEMP ON DATABASE $PGDATABASE TO cdrp_attacker;
     GRANT USAGE ON SCHEMA cdrp_api TO cdrp_attacker;
     GRANT EXECUTE ON FUNCTION cdrp_api.call($CALL_SIG) TO cdrp_attacker" >/dev/null
out=$(as_role cdrp_attacker "
CREATE FUNCTION pg_temp.evil() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN RAISE EXCEPTION 'payload ran as %', current_user; END \$\$;
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.evil());
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.evil());
CREATE DOMAIN pg_temp.bytea AS pg_catalog.bytea CHECK (pg_temp.evil());
SELECT status FROM cdrp_api.call('HMPOL', 'Dana Whitlock', 'health', '{}'::pg_catalog.jsonb);
SELECT status FROM cdrp_api.call('HMDC', 'Sam Okafor', 'case_list',
                                 '{\"query\": {\"limit\": 5}}'::pg_catalog.jsonb);")
assert_not_contains "the pg_temp domain's CHECK never ran inside the API" "payload ran" "$out"
assert_eq "the calls were answered normally" "200 200" "$(printf '%s' "$out" | tr '\n' ' ' | sed 's/ $//')"

# cdrpd refuses to run as a role that could undo the walls.
refuses() { # NAME ROLE PATTERN
	local conf=$WORK/$2.conf rc=0
	conf_with "$conf" database "$(printf '%s' "$app_dsn" | sed "s/user=[^ ]*/user=$2/")"
	conf_with "$conf" port_file "$WORK/$2.port" "$conf"
	timeout 20 "$CDRPD" -c "$conf" >"$WORK/$2.log" 2>&1 || rc=$?
	if ((rc != 0 && rc != 124)) && grep -q -- "$3" "$WORK/$2.log" && [[ ! -e $WORK/$2.port ]]; then
		ok "$1"
	else
		not_ok "$1" "exit $rc" "$(tail -n 3 "$WORK/$2.log")"
	fi
}
refuses "cdrpd refuses to run as a superuser" postgres "is a superuser"
sql "CREATE ROLE cdrp_t_temp LOGIN; GRANT TEMP ON DATABASE $PGDATABASE TO cdrp_t_temp" >/dev/null
refuses "cdrpd refuses a role that may create temporary objects" cdrp_t_temp "temporary objects"
sql "CREATE ROLE cdrp_t_bypass LOGIN BYPASSRLS" >/dev/null
refuses "cdrpd refuses a role that bypasses row-level security" cdrp_t_bypass "bypass row-level"
sql "CREATE ROLE cdrp_t_owner LOGIN; CREATE TABLE public.t_owned (x int);
     ALTER TABLE public.t_owned OWNER TO cdrp_t_owner" >/dev/null
refuses "cdrpd refuses a role that owns tables" cdrp_t_owner "owns tables"
sql "DROP TABLE public.t_owned" >/dev/null

# --- 2. idempotent replays -----------------------------------------------------------------

write_referral "$WORK/r.json" "Replay Subject $RUN_TAG"
post_referral police-referrer "$(new_key setup)" "$WORK/r.json"
assert_status "setup: a referral" 201
rid=$(body_field id)
key="accept-$RUN_TAG"
post_accept() { # WHO
	req "$1" POST "/v1/referrals/$rid/accept" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $key" --data-binary '{"lead_agency":"HMDC"}'
}
post_accept council-caseworker
assert_status "the caseworker accepts with a key: 200" 200
case_ref=$(body_field case_reference)
post_accept council-caseworker
assert_eq "the same user's retry is a replay" true "$(header Idempotent-Replay)"
assert_eq "db: the replay is audited" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE object_type = 'replay'
	        AND detail->>'endpoint' = 'referral_accept'
	        AND user_id = (SELECT id FROM cdrp.users WHERE cn = 'Sam Okafor')")"
# Another user of the same agency with another role, same key, same body:
# no stored answer, the call is judged afresh (and refused for the role).
post_accept council-admin
assert_ne "another user's same key is not a replay" true "$(header Idempotent-Replay)"
assert_not_contains "...and does not get the stored answer" "\"case_reference\"" "$(cat "$BODY")"
post_accept county-analyst
assert_problem "a role without the permission: 403, no replay" 403 forbidden
assert_contains "the 403 names the permission" referral.triage "$(body_field detail)"
# The same user, once the role is gone, cannot replay the stored answer.
sql "UPDATE cdrp.users SET roles = '{referrer}' WHERE cn = 'Sam Okafor'" >/dev/null
post_accept council-caseworker
assert_problem "a replay after the role was removed: 403" 403 forbidden
sql "UPDATE cdrp.users SET roles = '{caseworker}' WHERE cn = 'Sam Okafor'" >/dev/null

# --- 4. the audit hash -----------------------------------------------------------------------

assert_eq "the chain verifies" intact "$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"
assert_eq "...also in another session time zone" intact \
	"$(PGTZ=America/New_York sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"
assert_eq "...and with another DateStyle" intact \
	"$(PGOPTIONS='-c DateStyle=German' sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"
# Tampering with sealed rows, in a transaction rolled back (as a superuser
# who switched the append-only trigger off): a value shifted into a NULL
# column, and a second, separate edit. Every break is reported, each once.
# (t_audit_log checks the same and more with the signed checkpoints.)
tamper=$("$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -f - <<<"BEGIN;
ALTER TABLE cdrp.audit_log DISABLE TRIGGER audit_append_only;
CREATE TEMP TABLE victim AS
  SELECT id FROM cdrp.audit_log WHERE id IN (SELECT audit_id FROM cdrp.audit_leaf)
    AND object_id IS NOT NULL AND justification IS NULL ORDER BY id DESC LIMIT 2;
UPDATE cdrp.audit_log SET justification = object_id::text, object_id = NULL
  WHERE id = (SELECT min(id) FROM victim);
UPDATE cdrp.audit_log SET detail = detail || jsonb_build_object('edited', true)
  WHERE id = (SELECT max(id) FROM victim);
SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM victim) || '=' ||
       (SELECT string_agg(DISTINCT id::text, ',') FROM cdrp.audit_breaks());
ROLLBACK;" 2>&1 | grep '=')
assert_match "a value shifted into a NULL column and a second edit: both reported" \
	'^([0-9]+),([0-9]+)=\1,\2$' "$tamper"
assert_eq "after the rollback the chain verifies again" intact \
	"$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"

# --- 5. the low ones ---------------------------------------------------------------------------

before=$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny'")
req fire-referrer GET "/v1/cases/$case_ref"
assert_problem "a probe of another agency's case: 404" 404 not_found
assert_eq "db: the probe is audited as deny, with the user and the id" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny' AND object_type = 'case_get'
	        AND detail->>'id' = '$case_ref'
	        AND user_id = (SELECT id FROM cdrp.users WHERE cn = 'Chris Doyle')")"
req fire-referrer GET "/v1/referrals/999999999"
assert_problem "a probe of a referral that does not exist: 404" 404 not_found
assert_eq "db: both probes left deny rows" "$((before + 2))" \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny'")"

# An endpoint's own refusal (notes need a case role or the lead agency;
# police only referred the case) is audited once, not twice.
before=$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny'")
req police-referrer POST "/v1/cases/$case_ref/notes" -H 'Content-Type: application/json' \
	-H "Idempotency-Key: $(new_key note)" --data-binary '{"body":"Police note."}'
assert_problem "a reader without the right to add notes: 403" 403 forbidden
assert_eq "db: the refusal is audited exactly once" "$((before + 1))" \
	"$(sql "SELECT count(*) FROM cdrp.audit_log WHERE action = 'deny'")"

# Victims' contact details: the referring agency sees them; an agency
# whose only agreement with it lacks victim_details does not.
write_referral "$WORK/ppo.json" "Contact Subject $RUN_TAG" ppo
"$PY" - "$WORK/ppo.json" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["victims"] = [{"name": "Vic Tim", "contact": "07700 900123"}]
json.dump(d, open(p, "w"))
EOF
post_referral housing-referrer "$(new_key ppo)" "$WORK/ppo.json"
assert_status "housing refers a PPO case with a victim's contact: 201" 201
pid=$(body_field id)
req housing-referrer GET "/v1/referrals/$pid"
assert_eq "the referring agency sees the contact" "07700 900123" "$(jget "$BODY" victims.0.contact)"
req council-caseworker GET "/v1/referrals/$pid"
assert_status "the council's caseworker reads it under the PPO agreement: 200" 200
assert_eq "...sees the victim" "Vic Tim" "$(jget "$BODY" victims.0.name)"
assert_eq "...but not the contact (the PPO agreement has no victim_details)" "<missing>" \
	"$(jget "$BODY" victims.0.contact)"

# A huge If-Match is a version that cannot exist: 412, not 500.
req council-caseworker PATCH /v1/actions/1 -H 'Content-Type: application/json' \
	-H "If-Match: \"99999999999999999999\"" --data-binary '{"status":"done"}'
assert_problem "If-Match beyond any version: 412" 412 precondition_failed
req council-caseworker PATCH /v1/actions/1 -H 'Content-Type: application/json' \
	-H "If-Match: \"$(printf '9%.0s' {1..300})\"" --data-binary '{"status":"done"}'
assert_problem "a 300-digit If-Match: 412" 412 precondition_failed

finish
