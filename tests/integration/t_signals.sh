#!/usr/bin/env bash
# t_signals: cdrpd's process life: --check-config, refusing to start on an
# unmigrated database, SIGHUP (a broken CRL keeps the old files; a new CRL is
# really used after the reload) and SIGTERM (a second cdrpd on the same
# database finishes its in-flight request, exits 0 and closes its port).
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

CDRPD=$CDRP_BIN/cdrpd
CRL=$CDRP_PKI/crl.pem
CRL_BACKUP=$WORK/crl.pem.orig
readonly EMPTY_DB=cdrp_empty
main_pid=$(daemon_pid)
second_pid=
lock_pid=
post_pid=

cp -p -- "$CRL" "$CRL_BACKUP"

cleanup() {
	local pid
	for pid in "$second_pid" "$lock_pid" "$post_pid"; do
		[[ -n $pid ]] && kill "$pid" 2>/dev/null
	done
	# Leave the devstack's CRL as it was, and cdrpd using it.
	if ! cmp -s -- "$CRL_BACKUP" "$CRL"; then
		cp -p -- "$CRL_BACKUP" "$CRL"
		kill -HUP "$main_pid" 2>/dev/null
	fi
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $EMPTY_DB" >/dev/null 2>&1
	return 0
}
trap cleanup EXIT

# hup_and_wait NAME PATTERN: SIGHUP the devstack's cdrpd and wait for a new
# log line matching PATTERN.
hup_and_wait() {
	local before
	before=$(log_lines)
	kill -HUP "$main_pid"
	if wait_for 5 log_since "$before" "$2"; then
		ok "$1"
	else
		not_ok "$1" "no log line matching '$2' after SIGHUP" \
			"$(tail -n +"$((before + 1))" "$CDRP_DEVSTACK/cdrpd.log" | head -n 5)"
	fi
}

# --- --check-config -----------------------------------------------------------------

out=$("$CDRPD" --check-config -c "$CDRP_CONF" 2>&1)
assert_eq "--check-config on the devstack config: exit 0" 0 "$?"
assert_contains "--check-config says the config is valid" valid "$out"

cp -- "$CDRP_CONF" "$WORK/unknown-key.conf"
echo "frobnication_level = 11" >>"$WORK/unknown-key.conf"
line=$(wc -l <"$WORK/unknown-key.conf")
out=$("$CDRPD" --check-config -c "$WORK/unknown-key.conf" 2>&1)
assert_eq "--check-config with an unknown key: exit 78" 78 "$?"
assert_contains "the unknown key's error names its line" "line $line" "$out"
assert_contains "the unknown key's error names the key" frobnication_level "$out"
out=$("$CDRPD" -c "$WORK/unknown-key.conf" 2>&1)
assert_eq "starting with an unknown key: exit 78" 78 "$?"

conf_with "$WORK/bad-value.conf" pool_size 0
out=$("$CDRPD" --check-config -c "$WORK/bad-value.conf" 2>&1)
assert_eq "--check-config with pool_size = 0: exit 78" 78 "$?"
assert_contains "the bad value's error names pool_size" pool_size "$out"
conf_with "$WORK/no-cert.conf" tls_cert "$WORK/no-such.crt"
out=$("$CDRPD" --check-config -c "$WORK/no-cert.conf" 2>&1)
assert_eq "--check-config with a missing certificate file: exit 78" 78 "$?"
printf 'garbage\n' >"$WORK/garbage-crl.pem"
conf_with "$WORK/bad-crl.conf" tls_crl "$WORK/garbage-crl.pem"
out=$("$CDRPD" --check-config -c "$WORK/bad-crl.conf" 2>&1)
assert_eq "--check-config with an unparsable CRL: exit 78" 78 "$?"
"$CDRPD" --check-config -c "$WORK/no-such.conf" >/dev/null 2>&1
assert_eq "--check-config with no config file: exit 78" 78 "$?"
"$CDRPD" --check-config >/dev/null 2>&1
assert_eq "--check-config without -c: exit 64" 64 "$?"

# --- an unmigrated database ---------------------------------------------------------

"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $EMPTY_DB" >/dev/null 2>&1
check "createdb $EMPTY_DB" /usr/lib/postgresql/15/bin/createdb "$EMPTY_DB"
empty_dsn=$(sed -n 's/^database = //p' "$CDRP_CONF" | sed "s/dbname=[^ ]*/dbname=$EMPTY_DB/")
assert_contains "the empty database's connection string names it" "dbname=$EMPTY_DB" "$empty_dsn"
conf_with "$WORK/empty.conf" database "$empty_dsn"
conf_with "$WORK/empty.conf" port_file "$WORK/empty.port" "$WORK/empty.conf"
rc=0
timeout 20 "$CDRPD" -c "$WORK/empty.conf" >"$WORK/empty.log" 2>&1 || rc=$?
assert_ne "cdrpd on an unmigrated database refuses to start (non-zero exit)" 0 "$rc"
assert_ne "cdrpd on an unmigrated database exits by itself (not by timeout)" 124 "$rc"
assert_contains "the refusal says to run --migrate" --migrate "$(cat "$WORK/empty.log")"
check "no port file was written" test ! -e "$WORK/empty.port"
assert_eq "the empty database is still empty (no tables created)" 0 \
	"$("$PSQL" -X -q -A -t -d "$EMPTY_DB" -c "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"

# --- SIGHUP with a broken CRL keeps the old files -------------------------------------

printf 'this is not a CRL\n' >"$CRL"
hup_and_wait "SIGHUP with a garbage CRL: the log says it keeps the current files" \
	'SIGHUP: keeping the running configuration, certificates'
check "cdrpd is still running after the failed reload" kill -0 "$main_pid"
req police-referrer GET /v1/health
assert_status "after the failed reload requests still work" 200
req revoked GET /v1/health
assert_no_http "after the failed reload the old CRL still refuses the revoked certificate"
cp -p -- "$CRL_BACKUP" "$CRL"
hup_and_wait "SIGHUP with the CRL restored: the log says reloaded" 'SIGHUP: configuration, certificates and CRL reloaded'
req police-referrer GET /v1/health
assert_status "after the reload requests work" 200
req revoked GET /v1/health
assert_no_http "after the reload the revoked certificate is still refused"

# --- SIGHUP really loads a new CRL --------------------------------------------------------

# A new client certificate from the dev CA, and a CRL revoking it, made in
# a copy of the CA's database (the devstack's PKI stays untouched).
cp -r -- "$CDRP_PKI/ca-db" "$WORK/ca-db"
cp -- "$CDRP_PKI/openssl.cnf" "$CDRP_PKI/ca.crt" "$CDRP_PKI/ca.key" "$WORK/"
made_pki=0
(
	cd -- "$WORK" &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out hup.key &&
		openssl req -new -config openssl.cnf -key hup.key -subj "/O=HMPOL/CN=Hup Tester" -out hup.csr &&
		openssl ca -batch -notext -config openssl.cnf -extensions client_ext -in hup.csr -out hup.crt &&
		openssl ca -batch -config openssl.cnf -revoke hup.crt &&
		openssl ca -batch -config openssl.cnf -gencrl -crldays 30 -out crl-hup.pem
) >"$WORK/openssl.log" 2>&1 && made_pki=1
check "made a new certificate and a CRL revoking it" test "$made_pki" = 1
req "$WORK/hup" GET /v1/health
assert_problem "the new (unregistered) certificate passes the handshake: 403 unknown_identity" 403 unknown_identity
cp -- "$WORK/crl-hup.pem" "$CRL.new" && mv -f -- "$CRL.new" "$CRL"
req "$WORK/hup" GET /v1/health
assert_problem "before SIGHUP the new CRL is not in use yet" 403 unknown_identity
hup_and_wait "SIGHUP with the new CRL: reloaded" 'SIGHUP: configuration, certificates and CRL reloaded'
req "$WORK/hup" GET /v1/health
assert_no_http "after SIGHUP the newly revoked certificate is refused"
req revoked GET /v1/health
assert_no_http "after SIGHUP the old revocation still holds"
req police-referrer GET /v1/health
assert_status "after SIGHUP valid certificates still work" 200
cp -p -- "$CRL_BACKUP" "$CRL"
hup_and_wait "SIGHUP with the original CRL: reloaded" 'SIGHUP: configuration, certificates and CRL reloaded'
req "$WORK/hup" GET /v1/health
assert_problem "with the original CRL back the new certificate passes the handshake again" 403 unknown_identity
assert_eq "the devstack's cdrpd survived every SIGHUP (same pid)" "$main_pid" "$(daemon_pid)"

# --- SIGTERM: a second cdrpd drains and exits 0 --------------------------------------------

SECOND_CONF=$WORK/second.conf
SECOND_PORT=$CDRP_DEVSTACK/second.port
SECOND_LOG=$WORK/second-1.log
rm -f -- "$SECOND_PORT"
conf_with "$SECOND_CONF" port_file "$SECOND_PORT"

# start_second LOG: start the second cdrpd, logging to LOG; sets second_pid
# and REQ_URL.
start_second() {
	SECOND_LOG=$1
	rm -f -- "$SECOND_PORT"
	"$CDRPD" -c "$SECOND_CONF" >>"$SECOND_LOG" 2>&1 </dev/null &
	second_pid=$!
	if wait_for 15 test -s "$SECOND_PORT"; then
		REQ_URL=https://127.0.0.1:$(head -n 1 "$SECOND_PORT")
		wait_for 10 health_200
	else
		return 1
	fi
}

health_200() {
	req police-referrer GET /v1/health
	[[ $STATUS == 200 ]]
}

second_gone() {
	! kill -0 "$second_pid" 2>/dev/null
}

# stop_second_wait SECONDS: wait up to SECONDS for the second cdrpd to exit;
# sets second_rc (its exit status, or "running").
stop_second_wait() {
	if wait_for "$1" second_gone; then
		second_rc=0
		wait "$second_pid" || second_rc=$?
		second_pid=
	else
		second_rc=running
	fi
}

check "a second cdrpd starts on the same database and answers" start_second "$WORK/second-1.log"
second_url=$REQ_URL
check "the second cdrpd listens on another port" test "$second_url" != "$CDRP_URL"
write_referral "$WORK/second.json" "Second Daemon $RUN_TAG"
post_referral police-referrer "$(new_key second)" "$WORK/second.json"
assert_status "the second cdrpd takes a referral: 201" 201
sid=$(body_field id)
req police-referrer GET "/v1/referrals/$sid"
assert_status "the second cdrpd reads it back: 200" 200

# An in-flight request: hold the row lock of its Idempotency-Key in another
# transaction (a psql fed through a FIFO), so that the request's INSERT
# waits inside PostgreSQL until we roll back.
inflight_key=$(new_key inflight)
mkfifo -- "$WORK/lock.fifo"
"$PSQL" -X -q -v ON_ERROR_STOP=1 <"$WORK/lock.fifo" >"$WORK/lock.log" 2>&1 &
lock_pid=$!
exec 7>"$WORK/lock.fifo"
printf '%s\n' "BEGIN;" \
	"INSERT INTO cdrp.idempotency_keys (agency_id, user_id, key, request_hash, status, response)
	   SELECT a.id, u.id, $(sql_lit "$inflight_key"), '\\x00', 0, '{}' FROM cdrp.agencies a
	   JOIN cdrp.users u ON u.agency_id = a.id WHERE a.code = 'HMPOL' AND u.cn = 'Dana Whitlock';" \
	"SELECT 'lock_held_$$';" >&7

lock_held() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%lock_held_$$%'
	          AND state = 'idle in transaction' AND pid <> pg_backend_pid()") -ge 1 ]]
}
request_waits() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'cdrp_app'
	          AND wait_event_type = 'Lock'") -ge 1 ]]
}

check "the lock holder is in its transaction" wait_for 10 lock_held
write_referral "$WORK/inflight.json" "In Flight $RUN_TAG"
(
	CURL_ERR=$WORK/inflight.err BODY=$WORK/inflight.body HEADERS=$WORK/inflight.headers
	post_referral police-referrer "$inflight_key" "$WORK/inflight.json" -v
	printf '%s\n' "$STATUS" >"$WORK/inflight.status"
) &
post_pid=$!
check "the request waits inside PostgreSQL (in flight)" wait_for 10 request_waits
kill -TERM "$second_pid"
t_term=$EPOCHREALTIME
sleep 0.5
check "after SIGTERM the second cdrpd waits for its in-flight request" kill -0 "$second_pid"
check "the in-flight request is not answered yet" test ! -s "$WORK/inflight.status"
echo "ROLLBACK;" >&7
exec 7>&-
wait "$lock_pid"
lock_pid=
stop_second_wait 5
assert_eq "the second cdrpd exits with status 0 after SIGTERM" 0 "$second_rc"
check "it exited within 5 s of SIGTERM" "$PY" -c "import sys; sys.exit(0 if $EPOCHREALTIME - $t_term < 5 else 1)"
wait "$post_pid"
post_pid=
assert_eq "the in-flight request was answered 201, not cut off" 201 "$(cat "$WORK/inflight.status" 2>/dev/null)"
assert_eq "the in-flight request's referral is stored once" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referrals WHERE body->'subject'->>'name' = $(sql_lit "In Flight $RUN_TAG")")"
assert_match "the log says it drains the in-flight request" 'finishing 1 request' "$(cat "$SECOND_LOG")"
assert_contains "the log says it stopped" "cdrpd stopped" "$(cat "$SECOND_LOG")"
REQ_URL=$second_url
req police-referrer GET /v1/health --max-time 5
assert_eq "its port is closed afterwards (no HTTP answer)" 000 "$STATUS"
assert_eq "the port refuses connections (curl exit 7)" 7 "$CURL_RC"
unset REQ_URL

# SIGTERM when idle: immediate, clean exit.
check "the second cdrpd starts again" start_second "$WORK/second-2.log"
second_url=$REQ_URL
unset REQ_URL
kill -TERM "$second_pid"
stop_second_wait 5
assert_eq "idle cdrpd exits 0 after SIGTERM within 5 s" 0 "$second_rc"
REQ_URL=$second_url
req police-referrer GET /v1/health --max-time 5
assert_eq "its port is closed afterwards" 000 "$STATUS"
unset REQ_URL

# SIGINT works the same.
check "the second cdrpd starts a third time" start_second "$WORK/second-3.log"
unset REQ_URL
kill -INT "$second_pid"
stop_second_wait 5
assert_eq "idle cdrpd exits 0 after SIGINT within 5 s" 0 "$second_rc"

req police-referrer GET /v1/health
assert_status "the devstack's cdrpd is unaffected" 200
assert_eq "the devstack's cdrpd is the same process" "$main_pid" "$(daemon_pid)"

finish
