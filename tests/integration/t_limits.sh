#!/usr/bin/env bash
# t_limits: the connection and time limits a client can push against:
# max_connections (the listener pauses; the next client waits until one
# closes), idle_timeout_s (an idle connection is closed) and
# request_deadline_ms (a request stuck in the database is answered 503
# deadline_exceeded; its retry with the same key finds the stored referral
# and never duplicates it). Each runs on its own extra cdrpd.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

CDRPD=$CDRP_BIN/cdrpd
pids=()
lock_pid=

cleanup() {
	local pid
	for pid in "${pids[@]}" "$lock_pid"; do
		[[ -n $pid ]] && kill "$pid" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

# start_daemon NAME KEY=VALUE...: a cdrpd with the devstack's config plus
# these settings and its own port; sets REQ_URL and PORT.
start_daemon() {
	local name=$1 conf=$WORK/$1.conf kv
	shift
	grep -v -e '^port_file' "$CDRP_CONF" >"$conf"
	echo "port_file = $WORK/$name.port" >>"$conf"
	for kv in "$@"; do
		sed -i "/^${kv%%=*} *=/d" "$conf"
		echo "${kv%%=*} = ${kv#*=}" >>"$conf"
	done
	"$CDRPD" -c "$conf" >>"$WORK/$name.log" 2>&1 </dev/null &
	pids+=($!)
	wait_for 15 test -s "$WORK/$name.port" || return 1
	PORT=$(head -n 1 "$WORK/$name.port")
	REQ_URL=https://127.0.0.1:$PORT
}

# hold_tls FILE: a TLS connection (police-referrer) that stays open and idle
# for up to 30 s; FILE appears when the server has closed it.
hold_tls() {
	"$PY" - "$PORT" "$1" <<'EOF' &
import os, socket, ssl, sys
ctx = ssl.create_default_context(cafile=os.environ["CDRP_CA"])
ctx.load_cert_chain(os.environ["CDRP_PKI"] + "/police-referrer.crt",
                    os.environ["CDRP_PKI"] + "/police-referrer.key")
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="127.0.0.1")
t.settimeout(30)
try:
    while t.recv(1000):
        pass
    open(sys.argv[2], "w").close()  # the server closed the connection
except OSError:
    pass
EOF
	pids+=($!)
}

health_code() { # MAX_SECONDS: HTTP status of GET /v1/health, 000 if none
	curl -s -o /dev/null -w '%{http_code}' --max-time "$1" --cacert "$CDRP_CA" \
		--cert "$CDRP_PKI/police-referrer.crt" --key "$CDRP_PKI/police-referrer.key" \
		"$REQ_URL/v1/health" || true
}

# --- max_connections --------------------------------------------------------------
check "a cdrpd with max_connections = 2 starts" start_daemon maxconn max_connections=2
check "it answers while under the limit" test "$(health_code 5)" = 200
hold_tls "$WORK/held1.closed"
hold_tls "$WORK/held2.closed"
accept_paused() { grep -q "pausing accept" "$WORK/maxconn.log"; }
check "two held connections reach the limit (listener paused)" wait_for 10 accept_paused
assert_eq "a third client gets no answer while two are held" 000 "$(health_code 2)"
kill "${pids[-1]}" 2>/dev/null
served() { [[ $(health_code 3) == 200 ]]; }
check "once a held connection closes, the next client is served" wait_for 10 served

# --- idle_timeout_s ------------------------------------------------------------------
check "a cdrpd with idle_timeout_s = 1 starts" start_daemon idle idle_timeout_s=1
hold_tls "$WORK/idle.closed"
check "an idle connection is closed by the server within a few seconds" \
	wait_for 6 test -e "$WORK/idle.closed"

# --- handshake_timeout_s ---------------------------------------------------------------
# A client that connects and never completes a request (here: not even a
# TLS handshake) is dropped after handshake_timeout_s, even though the idle
# timeout is longer; a client past its first request is not.
check "a cdrpd with handshake_timeout_s = 1 starts" start_daemon slow handshake_timeout_s=1
slow_client() { # MODE: "silent" (TCP, no bytes) or "keepalive" (two requests 2 s apart)
	"$PY" - "$PORT" "$1" <<'EOF'
import os, socket, ssl, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
if mode == "silent":
    t0 = time.time()
    data = s.recv(100)
    sys.exit(0 if data == b"" and time.time() - t0 < 5 else 1)
ctx = ssl.create_default_context(cafile=os.environ["CDRP_CA"])
ctx.load_cert_chain(os.environ["CDRP_PKI"] + "/police-referrer.crt",
                    os.environ["CDRP_PKI"] + "/police-referrer.key")
t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
for i in range(2):
    t.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"}"):  # headers and the JSON body
        chunk = t.recv(4096)
        if not chunk:
            sys.exit(1)
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 200 OK"):
        sys.exit(1)
    time.sleep(2)
EOF
}
check "a silent TCP client is closed after handshake_timeout_s" slow_client silent
check "a client past its first request keeps its connection longer" slow_client keepalive

# --- request_deadline_ms -------------------------------------------------------------
check "a cdrpd with request_deadline_ms = 700 starts" start_daemon deadline request_deadline_ms=700
# Hold the row lock of a key in another transaction, so that the request
# waits inside PostgreSQL beyond its deadline.
key=$(new_key deadline)
mkfifo -- "$WORK/lock.fifo"
"$PSQL" -X -q -v ON_ERROR_STOP=1 <"$WORK/lock.fifo" >"$WORK/lock.log" 2>&1 &
lock_pid=$!
exec 7>"$WORK/lock.fifo"
printf '%s\n' "BEGIN;" \
	"INSERT INTO cdrp.idempotency_keys (agency_id, user_id, key, request_hash, status, response)
	   SELECT a.id, u.id, $(sql_lit "$key"), '\\x00', 0, '{}' FROM cdrp.agencies a
	   JOIN cdrp.users u ON u.agency_id = a.id WHERE a.code = 'HMPOL' AND u.cn = 'Dana Whitlock';" \
	"SELECT 'limits_lock_$$';" >&7
lock_held() {
	[[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%limits_lock_$$%'
	          AND state = 'idle in transaction' AND pid <> pg_backend_pid()") -ge 1 ]]
}
check "the lock holder is in its transaction" wait_for 10 lock_held
write_referral "$WORK/deadline.json" "Deadline Case $RUN_TAG"
started=$(date +%s%N)
post_referral police-referrer "$key" "$WORK/deadline.json"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
assert_problem "a request stuck past its deadline: 503 deadline_exceeded" 503 deadline_exceeded
assert_eq "the 503 says when to retry" 2 "$(header retry-after)"
check "answered near the deadline (700 ms), not later than 3 s ($elapsed_ms ms)" \
	test "$elapsed_ms" -ge 600 -a "$elapsed_ms" -lt 3000
# Let the stuck statement go on: the lock holder rolls back, so the
# request's own insert proceeds and commits after its client was told 503.
printf 'ROLLBACK;\n' >&7
exec 7>&-
wait "$lock_pid" 2>/dev/null || true
lock_pid=
stored() { [[ $(sql "SELECT count(*) FROM cdrp.idempotency_keys WHERE key = $(sql_lit "$key")
                     AND referral_id IS NOT NULL") == 1 ]]; }
check "the stuck request completes in the database afterwards" wait_for 10 stored
post_referral police-referrer "$key" "$WORK/deadline.json"
assert_status "the retry with the same key and body: 201" 201
assert_eq "the retry is the stored answer (Idempotent-Replay)" true "$(header idempotent-replay)"
assert_eq "exactly one referral for the key" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referrals r JOIN cdrp.idempotency_keys k
	        ON k.referral_id = r.id WHERE k.key = $(sql_lit "$key")")"

# --- SIGTERM with a keep-alive client ---------------------------------------------------
# After SIGTERM a request on an already open connection is answered at once
# (503 shutting_down, Connection: close), and the daemon then exits 0.
check "a cdrpd for the SIGTERM check starts" start_daemon term
term_pid=${pids[-1]}
term_client() {
	"$PY" - "$PORT" "$term_pid" <<'EOF'
import json, os, signal, socket, ssl, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(cafile=os.environ["CDRP_CA"])
ctx.load_cert_chain(os.environ["CDRP_PKI"] + "/police-referrer.crt",
                    os.environ["CDRP_PKI"] + "/police-referrer.key")
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                    server_hostname="127.0.0.1")
def ask():
    t.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"}"):
        chunk = t.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer
if not ask().startswith(b"HTTP/1.1 200"):
    sys.exit(1)
os.kill(pid, signal.SIGTERM)
time.sleep(0.3)
answer = ask()
head, _, body = answer.partition(b"\r\n\r\n")
ok = head.startswith(b"HTTP/1.1 503") and b"Connection: close" in head \
    and json.loads(body)["code"] == "shutting_down"
sys.exit(0 if ok else 1)
EOF
}
check "after SIGTERM a keep-alive request gets 503 shutting_down and Connection: close" term_client
term_gone() { ! kill -0 "$term_pid" 2>/dev/null; }
check "then the daemon exits within 3 s" wait_for 3 term_gone
term_rc=0
wait "$term_pid" || term_rc=$?
assert_eq "with status 0" 0 "$term_rc"

# --- a database whose first address refuses --------------------------------------------
# libpq then moves to the next host on a new socket, often with the same fd
# number; the pool must watch the new socket, not the forgotten one.
check "a cdrpd whose conninfo lists a refusing host first starts" start_daemon multihost \
	"database=host=127.0.0.1,$PGHOST port=1,$PGPORT dbname=$PGDATABASE user=cdrp_app"
multihost_ready() { [[ $(health_code 3) == 200 ]]; }
check "it reaches PostgreSQL through the second host" wait_for 10 multihost_ready

finish
