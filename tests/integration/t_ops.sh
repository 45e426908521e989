#!/usr/bin/env bash
# t_ops: running cdrpd in production (issue 9): `cdrpd -t` (every error
# of the config, TLS and audit files and the database at once), SIGHUP
# reloading every setting that can change while running, the loopback
# admin listener (/livez, /readyz, /metrics in Prometheus text format) and
# Idempotency-Key expiry. A second cdrpd on the devstack's database, with
# its own config, so the devstack's own daemon is left as it is.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

CDRPD=$CDRP_BIN/cdrpd
OPS_CONF=$WORK/ops.conf
OPS_PORT=$WORK/ops.port
OPS_LOG=$WORK/ops.log
ops_pid=

cleanup() {
	[[ -n $ops_pid ]] && kill "$ops_pid" 2>/dev/null
	return 0
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- cdrpd -t ----------------------------------------------------------------------------

out=$("$CDRPD" -t -c "$CDRP_CONF" 2>&1)
assert_eq "-t on the devstack config: exit 0" 0 "$?"
assert_contains "-t: the database answers at the schema cdrpd needs" "the database answers at schema" "$out"

# Three faults at once: an unknown key, a bad value, and a database that
# does not exist: each is reported, not only the first.
BAD_CONF=$WORK/bad.conf
cp -- "$CDRP_CONF" "$BAD_CONF"
conf_with "$BAD_CONF" no_such_key 1 "$BAD_CONF"
conf_with "$BAD_CONF" pool_size 0 "$BAD_CONF"
conf_with "$BAD_CONF" database "$(sed -n 's/^database = //p' "$CDRP_CONF" | sed 's/dbname=[^ ]*/dbname=cdrp_no_such_db/')" "$BAD_CONF"
out=$("$CDRPD" -t -c "$BAD_CONF" 2>&1)
assert_eq "-t with three faults: exit 78" 78 "$?"
assert_contains "-t reports the unknown key" "unknown key 'no_such_key'" "$out"
assert_contains "-t reports the bad value" "pool_size must be an integer from 1 to 64" "$out"
assert_contains "-t reports the database" "database:" "$out"
assert_contains "-t counts them" "3 errors" "$out"
assert_not_contains "-t prints no connection password or key material" "PRIVATE" "$out"

# admin_listen must be loopback: it has no TLS.
cp -- "$CDRP_CONF" "$BAD_CONF"
conf_with "$BAD_CONF" admin_listen 0.0.0.0:9999 "$BAD_CONF"
out=$("$CDRPD" -t -c "$BAD_CONF" 2>&1)
assert_eq "-t with admin_listen on all addresses: exit 78" 78 "$?"
assert_contains "-t says why" "admin_listen must be a loopback address" "$out"

# --- a second cdrpd with the admin listener and a 2 s key lifetime -----------------------

ADMIN_PORT=$(free_port)
ADMIN=http://127.0.0.1:$ADMIN_PORT
cp -- "$CDRP_CONF" "$OPS_CONF"
conf_with "$OPS_CONF" port_file "$OPS_PORT" "$OPS_CONF"
conf_with "$OPS_CONF" admin_listen "127.0.0.1:$ADMIN_PORT" "$OPS_CONF"
conf_with "$OPS_CONF" idempotency_key_ttl_s 2 "$OPS_CONF"
rm -f -- "$OPS_PORT"
"$CDRPD" -c "$OPS_CONF" >>"$OPS_LOG" 2>&1 </dev/null &
ops_pid=$!
if ! wait_for 15 test -s "$OPS_PORT"; then
	not_ok "second cdrpd starts" "$(tail -n 5 "$OPS_LOG")"
	finish
fi
REQ_URL=https://127.0.0.1:$(head -n 1 "$OPS_PORT")
health_200() {
	req police-referrer GET /v1/health
	[[ $STATUS == 200 ]]
}
check "second cdrpd answers" wait_for 10 health_200

# --- the admin listener ------------------------------------------------------------------

admin() { # PATH [CURL_ARGS...]: prints the status; the body goes to $WORK/admin.body
	local path=$1
	shift
	curl -sS --max-time 5 -o "$WORK/admin.body" -w '%{http_code}' "$@" "$ADMIN$path"
}
assert_eq "/livez without a certificate: 200" 200 "$(admin /livez)"
assert_eq "/readyz: 200 with the database up" 200 "$(admin /readyz)"
assert_eq "POST /metrics: 405" 405 "$(admin /metrics -X POST -d x)"
assert_eq "an API path on the admin port: 404 (no case data here)" 404 "$(admin /v1/cases)"
check "the admin port speaks no TLS and needs no client certificate" \
	test "$(admin /livez)" = 200

write_referral "$WORK/ops.json" "Ops Person $RUN_TAG"
post_referral police-referrer "$(new_key ops)" "$WORK/ops.json"
assert_status "a referral through the second cdrpd: 201" 201
assert_eq "/metrics: 200" 200 "$(admin /metrics)"
metrics=$(cat "$WORK/admin.body")
assert_match "/metrics counts the referral by route and status" \
	'cdrp_http_requests_total\{route="POST /v1/referrals",status="201"\} [1-9]' "$metrics"
assert_match "/metrics has the route's latency histogram" \
	'cdrp_http_request_duration_seconds_bucket\{route="POST /v1/referrals",le="\+Inf"\} [1-9]' "$metrics"
assert_match "/metrics: the pool's ready connections" 'cdrp_db_connections\{state="ready"\} [1-9]' "$metrics"
assert_match "/metrics: the seal lag" 'cdrp_audit_seal_lag_seconds [0-9.]+' "$metrics"
assert_match "/metrics: signing" 'cdrp_audit_signing 1' "$metrics"
# Every sample line is "name{labels} value" or "name value", every
# family has HELP and TYPE (the text format a Prometheus server parses).
bad=$(grep -vE '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[^}]*\})? [0-9.e+-]+)$' <<<"$metrics" | head -n 3)
assert_eq "/metrics: every line is a comment or a sample" "" "$bad"
assert_not_contains "/metrics carries no names or agencies" "Ops Person" "$metrics"

# --- Idempotency-Key expiry ---------------------------------------------------------------

KEY=$(new_key expiry)
write_referral "$WORK/expiry-a.json" "Expiry First $RUN_TAG"
write_referral "$WORK/expiry-b.json" "Expiry Second $RUN_TAG"
post_referral police-referrer "$KEY" "$WORK/expiry-a.json"
assert_status "a referral with a key: 201" 201
first=$(body_field id)
post_referral police-referrer "$KEY" "$WORK/expiry-b.json"
assert_status "the key for another referral within its lifetime: 409" 409
key_gone() {
	[[ $(sql "SELECT count(*) FROM cdrp.idempotency_keys WHERE key = '$KEY'") == 0 ]]
}
check "the key is purged after idempotency_key_ttl_s (2 s)" wait_for 15 key_gone
post_referral police-referrer "$KEY" "$WORK/expiry-b.json"
assert_status "after expiry the same key is a new request: 201" 201
check "a new referral, not the first one" test "$(body_field id)" != "$first"
check "the purge is logged with its count" grep -qE "idempotency: [0-9]+ key\(s\) older than 2 s purged" "$OPS_LOG"

# --- SIGHUP reloads the settings that can change ------------------------------------------

hup() { # PATTERN: SIGHUP the second cdrpd, wait for a log line matching PATTERN
	local before
	before=$(wc -l <"$OPS_LOG")
	kill -HUP "$ops_pid"
	wait_for 5 bash -c "tail -n +$((before + 1)) '$OPS_LOG' | grep -Eq -- '$1'"
}
big=$WORK/big.json
python3 - "$WORK/ops.json" "$big" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["reason"] = (d.get("reason", "") + " " + "x" * 1500)[:1900]
json.dump(d, open(sys.argv[2], "w"))
EOF
post_referral police-referrer "$(new_key big)" "$big"
assert_status "a 2 KB referral before the reload: 201" 201
conf_with "$OPS_CONF" max_body_bytes 1024 "$OPS_CONF"
conf_with "$OPS_CONF" log_level debug "$OPS_CONF"
conf_with "$OPS_CONF" pool_size 2 "$OPS_CONF"
check "SIGHUP reloads the configuration" hup "configuration, certificates and CRL reloaded"
check "SIGHUP names what needs a restart (pool_size)" grep -q "kept until a restart: pool_size" "$OPS_LOG"
post_referral police-referrer "$(new_key big)" "$big"
assert_status "the same 2 KB referral after max_body_bytes = 1024: 413" 413
conf_with "$OPS_CONF" max_body_bytes 65536 "$OPS_CONF"
conf_with "$OPS_CONF" no_such_key 1 "$OPS_CONF"
check "SIGHUP with a broken config keeps the running one" hup "keeping the running configuration"
post_referral police-referrer "$(new_key big)" "$big"
assert_status "still 413: the broken file changed nothing" 413
conf_with "$OPS_CONF" no_such_key "" "$OPS_CONF"
sed -i '/^no_such_key/d' "$OPS_CONF"
check "SIGHUP with the config repaired" hup "configuration, certificates and CRL reloaded"
post_referral police-referrer "$(new_key big)" "$big"
assert_status "max_body_bytes back to 64 KiB: 201" 201
check "the second cdrpd is still running" kill -0 "$ops_pid"

# --- readiness follows the drain ---------------------------------------------------------

kill -TERM "$ops_pid"
wait "$ops_pid" 2>/dev/null
ops_rc=$?
ops_pid=
assert_eq "SIGTERM: the second cdrpd exits 0" 0 "$ops_rc"
check "the admin port is closed with it" bash -c "! curl -s --max-time 2 $ADMIN/livez"

finish
