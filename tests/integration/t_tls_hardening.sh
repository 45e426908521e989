#!/usr/bin/env bash
# t_tls_hardening: the TLS defences of issue 6. An expired (or not yet
# valid) CRL fails --check-config and startup naming the file and its date,
# and a SIGHUP with one keeps the CRL in use; a CRL in its last week is
# warned about. No TLS 1.3 session tickets. Every failed handshake is
# logged once with the peer's address and the reason, never the
# certificate's names. Stalled handshakes neither hold max_connections nor
# keep a legitimate client out: they have their own budget
# (max_handshakes, oldest dropped first) and deadline
# (tls_handshake_timeout_ms). During a CA changeover (two CAs in tls_ca,
# both CRLs in tls_crl) every CRL is loaded and checked: either CA's
# certificates work and its revoked ones are refused, a bad CRL anywhere in
# the file is refused naming it, and the warning gives the earliest
# nextUpdate. Extra cdrpds run on their own ports and CRL copies; the
# devstack's files are never changed.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

CDRPD=$CDRP_BIN/cdrpd
pids=()

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		[[ -n $pid ]] && kill "$pid" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

# conf_with FILE KEY=VALUE...: the devstack's config with these settings
# (replaced if present, else appended) and no port_file.
conf_with() {
	local conf=$1 kv
	shift
	grep -v -e '^port_file' "$CDRP_CONF" >"$conf"
	for kv in "$@"; do
		sed -i "/^${kv%%=*} *=/d" "$conf"
		echo "${kv%%=*} = ${kv#*=}" >>"$conf"
	done
}

# start_daemon NAME KEY=VALUE...: a cdrpd with these settings on its own
# port, logging to $WORK/NAME.log; sets REQ_URL, PORT and DAEMON_PID.
start_daemon() {
	local name=$1
	shift
	conf_with "$WORK/$name.conf" "$@" "port_file=$WORK/$name.port"
	"$CDRPD" -c "$WORK/$name.conf" >>"$WORK/$name.log" 2>&1 </dev/null &
	DAEMON_PID=$!
	pids+=("$DAEMON_PID")
	wait_for 15 test -s "$WORK/$name.port" || return 1
	PORT=$(head -n 1 "$WORK/$name.port")
	REQ_URL=https://127.0.0.1:$PORT
}

health_code() { # MAX_SECONDS: HTTP status of GET /v1/health on REQ_URL, 000 if none
	curl -s -o /dev/null -w '%{http_code}' --max-time "$1" --cacert "$CDRP_CA" \
		--cert "$CDRP_PKI/police-referrer.crt" --key "$CDRP_PKI/police-referrer.key" \
		"$REQ_URL/v1/health" || true
}

# --- CRLs with chosen dates, from a copy of the dev CA -------------------------------

cp -r -- "$CDRP_PKI/ca-db" "$WORK/ca-db"
cp -- "$CDRP_PKI/openssl.cnf" "$CDRP_PKI/ca.crt" "$CDRP_PKI/ca.key" "$WORK/"
# gen_crl FILE LAST NEXT: a CRL (revoking what the dev CA revoked) with
# lastUpdate LAST and nextUpdate NEXT (YYYYMMDDHHMMSSZ).
gen_crl() {
	(cd -- "$WORK" && openssl ca -batch -config openssl.cnf -gencrl \
		-crl_lastupdate "$2" -crl_nextupdate "$3" -out "$1") >>"$WORK/openssl.log" 2>&1
}
utc() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
check "made an expired CRL (nextUpdate 2024-02-01)" \
	gen_crl "$WORK/expired.pem" 20240101000000Z 20240201000000Z
check "made a CRL expiring in 2 days" \
	gen_crl "$WORK/expiring.pem" "$(utc '-1 day')" "$(utc '+2 days')"
check "made a CRL not valid until 2099" \
	gen_crl "$WORK/future.pem" 20990101000000Z 20990201000000Z
check "made a current CRL (30 days)" \
	gen_crl "$WORK/current.pem" "$(utc '-1 hour')" "$(utc '+30 days')"

# --- expired CRL: --check-config, startup -----------------------------------------------

conf_with "$WORK/expired.conf" "tls_crl=$WORK/expired.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/expired.conf" 2>&1) || rc=$?
assert_eq "--check-config with an expired CRL: exit 78" 78 "$rc"
assert_contains "the error names the CRL file" "$WORK/expired.pem" "$out"
assert_contains "the error gives its nextUpdate" "2024-02-01 00:00:00 UTC" "$out"
assert_contains "the error says it expired" "expired" "$out"
assert_contains "the error says every handshake would fail" "every client handshake would fail" "$out"

conf_with "$WORK/future.conf" "tls_crl=$WORK/future.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/future.conf" 2>&1) || rc=$?
assert_eq "--check-config with a CRL not valid yet: exit 78" 78 "$rc"
assert_contains "that error gives its lastUpdate" "2099-01-01 00:00:00 UTC" "$out"

conf_with "$WORK/expiring.conf" "tls_crl=$WORK/expiring.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/expiring.conf" 2>&1) || rc=$?
assert_eq "--check-config with a CRL expiring in 2 days: exit 0" 0 "$rc"
assert_match "but it warns that the CRL expires soon" "warn .*$WORK/expiring.pem expires at" "$out"

rc=0
out=$("$CDRPD" --check-config -c "$CDRP_CONF" 2>&1) || rc=$?
assert_eq "--check-config on the devstack config: exit 0" 0 "$rc"
assert_not_contains "and no CRL warning for a 30-day CRL" "expires at" "$out"

rc=0
conf_with "$WORK/expired-start.conf" "tls_crl=$WORK/expired.pem" "port_file=$WORK/expired-start.port"
timeout 20 "$CDRPD" -c "$WORK/expired-start.conf" >"$WORK/expired-start.log" 2>&1 </dev/null || rc=$?
assert_eq "cdrpd refuses to start with an expired CRL (exit 78)" 78 "$rc"
assert_contains "and says which CRL expired and when" \
	"CRL $WORK/expired.pem expired: its nextUpdate was 2024-02-01 00:00:00 UTC" \
	"$(cat "$WORK/expired-start.log")"
check "no port file was written" test ! -e "$WORK/expired-start.port"

# --- SIGHUP with an expired CRL keeps the one in use ------------------------------------

cp -- "$WORK/current.pem" "$WORK/live-crl.pem"
check "a cdrpd on its own CRL copy starts" start_daemon hup "tls_crl=$WORK/live-crl.pem"
hup_pid=$DAEMON_PID
check "it answers" test "$(health_code 5)" = 200
cp -- "$WORK/expired.pem" "$WORK/live-crl.pem"
before=$(wc -l <"$WORK/hup.log")
kill -HUP "$hup_pid"
hup_logged() { tail -n "+$((before + 1))" "$WORK/hup.log" | grep -q 'SIGHUP: keeping the running configuration, certificates'; }
check "SIGHUP with an expired CRL: the log says it keeps the current files" wait_for 5 hup_logged
hup_lines=$(tail -n "+$((before + 1))" "$WORK/hup.log")
assert_match "at error level, naming the CRL and its nextUpdate" \
	"error SIGHUP: keeping the running configuration, certificates and CRL: CRL $WORK/live-crl.pem expired: its nextUpdate was 2024-02-01" \
	"$hup_lines"
check "cdrpd still runs" kill -0 "$hup_pid"
assert_eq "valid clients are still served with the old CRL" 200 "$(health_code 5)"
req revoked GET /v1/health
assert_no_http "the revoked certificate is still refused"
cp -- "$WORK/expiring.pem" "$WORK/live-crl.pem"
before=$(wc -l <"$WORK/hup.log")
kill -HUP "$hup_pid"
reloaded() { tail -n "+$((before + 1))" "$WORK/hup.log" | grep -q 'SIGHUP: configuration, certificates and CRL reloaded'; }
check "SIGHUP with a CRL expiring in 2 days: reloaded" wait_for 5 reloaded
assert_match "with a warning that it expires soon" "warn SIGHUP: the CRL $WORK/live-crl.pem expires at" \
	"$(tail -n "+$((before + 1))" "$WORK/hup.log")"
assert_eq "and clients are served" 200 "$(health_code 5)"
unset REQ_URL

# --- no TLS 1.3 session tickets ----------------------------------------------------------

# s_client -msg prints every handshake message it sees, NewSessionTicket
# included; -sess_out writes a session only if there is one to resume.
sclient() { # URL_HOSTPORT OUT: one TLS 1.3 GET /v1/health with police-referrer
	printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -connect "$1" -tls1_3 -CAfile "$CDRP_CA" \
			-cert "$CDRP_PKI/police-referrer.crt" -key "$CDRP_PKI/police-referrer.key" \
			-msg -ign_eof -sess_out "$2.sess" >"$2" 2>&1
}
sclient "${CDRP_URL#https://}" "$WORK/sclient.out"
sout=$(cat "$WORK/sclient.out")
assert_contains "s_client: the TLS 1.3 handshake completed (Finished seen)" "TLS 1.3, Handshake" "$sout"
assert_contains "s_client: the request was answered" "HTTP/1.1 200 OK" "$sout"
assert_not_contains "cdrpd sends no NewSessionTicket" "NewSessionTicket" "$sout"
check "s_client got no session to resume (no ticket)" test ! -s "$WORK/sclient.out.sess"
# Control: the same check sees the tickets of a server that sends them.
ctl_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$ctl_port" -cert "$CDRP_PKI/server.crt" \
	-key "$CDRP_PKI/server.key" -naccept 1 -www -quiet >"$WORK/s_server.log" 2>&1 </dev/null &
pids+=($!)
# s_server may not listen yet: try until a connection gets through.
ctl_try() {
	sclient "127.0.0.1:$ctl_port" "$WORK/sclient-control.out"
	grep -q CONNECTED "$WORK/sclient-control.out"
}
wait_for 5 ctl_try
assert_contains "control: a default OpenSSL server's NewSessionTicket is seen by the same check" \
	"NewSessionTicket" "$(cat "$WORK/sclient-control.out")"

# --- failed handshakes are logged once, with the reason and no names ---------------------

before=$(log_lines)
req - GET /v1/health
assert_no_http "no client certificate: refused at the handshake"
req revoked GET /v1/health
assert_no_http "revoked certificate: refused at the handshake"
req foreign GET /v1/health
assert_no_http "foreign CA: refused at the handshake"
logged() { log_since "$before" "$1"; }
check "logged: no certificate, with the peer's address" \
	wait_for 5 logged 'info tls: handshake failed from 127\.0\.0\.1:[0-9]+: no certificate'
check "logged: certificate revoked" \
	wait_for 5 logged 'tls: handshake failed from 127\.0\.0\.1:[0-9]+: certificate revoked'
check "logged: unknown CA" \
	wait_for 5 logged 'tls: handshake failed from 127\.0\.0\.1:[0-9]+: unknown CA'
curl -s -o /dev/null --max-time 5 "http://${CDRP_URL#https://}/v1/health"
check "logged: plain HTTP on the TLS port" \
	wait_for 5 logged 'tls: handshake failed from 127\.0\.0\.1:[0-9]+: plain HTTP, not TLS'
new_lines=$(tail -n "+$((before + 1))" "$CDRP_DEVSTACK/cdrpd.log")
assert_eq "four refusals, four log lines" 4 "$(grep -c 'tls: handshake failed' <<<"$new_lines")"
assert_not_contains "the log never names the revoked certificate's holder" "Morgan Hale" "$new_lines"
assert_not_contains "nor the foreign certificate's holder" "Dana Whitlock" "$new_lines"
assert_not_contains "nor their agency" "HMPOL" "$new_lines"

# --- the handshake budget and deadline ------------------------------------------------------

# stalled N SECONDS OUT: N connections that send 4 bytes of a ClientHello
# and stall for up to SECONDS (in the background); OUT then gets how many
# the server closed.
stalled() {
	"$PY" - "$PORT" "$1" "$2" "$3" <<'EOF' &
import socket, sys, time
port, n, secs, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"\x16\x03\x01\x02")
    s.setblocking(False)
    socks.append(s)
deadline, closed = time.time() + secs, set()
while time.time() < deadline and len(closed) < n:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if s.recv(100) == b"":
                closed.add(i)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(i)
    time.sleep(0.05)
open(out, "w").write("%d\n" % len(closed))
EOF
	pids+=($!)
}

# hold_tls FILE: an established TLS connection (police-referrer), idle;
# FILE.open appears once it is up, FILE if the server closes it.
hold_tls() {
	"$PY" - "$PORT" "$1" <<'EOF' &
import os, socket, ssl, sys
ctx = ssl.create_default_context(cafile=os.environ["CDRP_CA"])
ctx.load_cert_chain(os.environ["CDRP_PKI"] + "/police-referrer.crt",
                    os.environ["CDRP_PKI"] + "/police-referrer.key")
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="127.0.0.1")
open(sys.argv[2] + ".open", "w").close()
t.settimeout(60)
try:
    while t.recv(1000):
        pass
    open(sys.argv[2], "w").close()
except OSError:
    pass
EOF
	pids+=($!)
}

# The defect: with max_connections = 2, two stalled handshakes used to
# pause the listener and lock everyone out until handshake_timeout_s.
check "a cdrpd with max_connections = 3, max_handshakes = 4 starts" \
	start_daemon budget max_connections=3 max_handshakes=4 tls_handshake_timeout_ms=10000
hold_tls "$WORK/held.closed"
check "an established connection is held open" wait_for 5 test -e "$WORK/held.closed.open"
stalled 12 30 "$WORK/budget-stalled.out"
budget_full() { grep -q 'dropped: 4 handshakes pending (max_handshakes)' "$WORK/budget.log"; }
check "12 stalled handshakes against a budget of 4: the oldest are dropped" wait_for 10 budget_full
for i in 1 2 3; do
	start_ms=$(($(date +%s%N) / 1000000))
	code=$(health_code 3)
	took=$(($(date +%s%N) / 1000000 - start_ms))
	assert_eq "legitimate request $i during the stall flood: 200" 200 "$code"
	check "answered in under 2 s ($took ms)" test "$took" -lt 2000
done
check "the established connection was not dropped by the handshake budget" test ! -e "$WORK/held.closed"
assert_not_contains "stalled handshakes never paused accept (they do not count as connections)" \
	"pausing accept" "$(cat "$WORK/budget.log")"
assert_match "drops are logged with the peer's address" \
	'tls: handshake failed from 127\.0\.0\.1:[0-9]+: dropped: 4 handshakes pending \(max_handshakes\); the oldest that sent part of a ClientHello and stalled' "$(cat "$WORK/budget.log")"
budget_pid=$DAEMON_PID
kill -TERM "$budget_pid"
budget_gone() { ! kill -0 "$budget_pid" 2>/dev/null; }
check "SIGTERM with stalled handshakes pending: cdrpd exits within 3 s" wait_for 3 budget_gone
budget_rc=0
wait "$budget_pid" 2>/dev/null || budget_rc=$?
assert_eq "with status 0" 0 "$budget_rc"

# The handshake deadline: stalled handshakes are closed after
# tls_handshake_timeout_ms, well before handshake_timeout_s.
check "a cdrpd with tls_handshake_timeout_ms = 500 starts" \
	start_daemon deadline tls_handshake_timeout_ms=500 handshake_timeout_s=30
stalled 3 10 "$WORK/deadline-stalled.out"
check "3 stalled handshakes are closed by the server within a few seconds" \
	wait_for 8 test -s "$WORK/deadline-stalled.out"
assert_eq "all 3 closed" 3 "$(cat "$WORK/deadline-stalled.out" 2>/dev/null)"
assert_match "the log says why: timeout" \
	'tls: handshake failed from 127\.0\.0\.1:[0-9]+: timeout: no complete handshake within [0-9]+ ms' \
	"$(cat "$WORK/deadline.log")"
assert_eq "legitimate clients are served" 200 "$(health_code 5)"

# --- two CAs during a changeover: every CRL in tls_crl is loaded ----------------------

# A second CA (as a partnership's new CA would be) with its own CRLs; the
# trusted bundle holds both CAs and tls_crl both CRLs, one after the other.
# ca2 DIR CN: a CA in DIR (own database, same openssl.cnf as the dev CA).
ca2() {
	mkdir -p -- "$1/ca-db/certs" &&
		cp -- "$WORK/openssl.cnf" "$1/" &&
		(cd -- "$1" && : >ca-db/index.txt && echo 1000 >ca-db/serial && echo 1000 >ca-db/crlnumber &&
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key &&
			openssl req -new -x509 -config openssl.cnf -extensions ca_ext -key ca.key \
				-subj "/CN=$2" -days 3650 -sha256 -out ca.crt) >>"$WORK/openssl.log" 2>&1
}
# ca2_client DIR NAME SUBJECT: DIR/NAME.crt and .key, a client certificate of that CA.
ca2_client() {
	(cd -- "$1" && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2.key" &&
		openssl req -new -config openssl.cnf -key "$2.key" -subj "$3" -out "$2.csr" &&
		openssl ca -batch -notext -config openssl.cnf -extensions client_ext -in "$2.csr" \
			-out "$2.crt") >>"$WORK/openssl.log" 2>&1
}
# ca2_crl DIR FILE LAST NEXT: a CRL of that CA with these dates.
ca2_crl() {
	(cd -- "$1" && openssl ca -batch -config openssl.cnf -gencrl \
		-crl_lastupdate "$3" -crl_nextupdate "$4" -out "$2") >>"$WORK/openssl.log" 2>&1
}
# ca2_revoke DIR NAME: revoke DIR/NAME.crt (key compromise).
ca2_revoke() {
	(cd -- "$1" && openssl ca -batch -config openssl.cnf -revoke "$2.crt" \
		-crl_reason keyCompromise) >>"$WORK/openssl.log" 2>&1
}
# crl_lists CRL CERT: the CRL lists CERT's serial number.
crl_lists() {
	local serial
	serial=$(openssl x509 -in "$2" -noout -serial) || return 1
	openssl crl -in "$1" -noout -text | grep -q "Serial Number: ${serial#serial=}\$"
}
CA2=$WORK/ca2
CA2_CN="cdrp Test Partnership CA 2"
check "made a second CA (CA2)" ca2 "$CA2" "$CA2_CN"
# Same identity as police-referrer (registered in the devstack), from CA2.
check "made a CA2 client certificate for HMPOL / Dana Whitlock" \
	ca2_client "$CA2" dana "/O=HMPOL/CN=Dana Whitlock"
check "made a second CA2 client certificate, to revoke" \
	ca2_client "$CA2" gone "/O=HMPOL/CN=Dana Whitlock"
check "revoked it at CA2" ca2_revoke "$CA2" gone
check "made CA2's current CRL (30 days)" \
	ca2_crl "$CA2" crl-current.pem "$(utc '-1 hour')" "$(utc '+30 days')"
check "made an expired CA2 CRL (nextUpdate 2024-03-01)" \
	ca2_crl "$CA2" crl-expired.pem 20240201000000Z 20240301000000Z
ca2_next=$(($(date +%s) + 3 * 86400))
ca2_next_utc=$(date -u -d "@$ca2_next" '+%Y-%m-%d %H:%M:%S UTC')
check "made a CA2 CRL expiring in 3 days" \
	ca2_crl "$CA2" crl-expiring.pem "$(utc '-1 hour')" "$(date -u -d "@$ca2_next" +%Y%m%d%H%M%SZ)"
check "CA2's CRL lists the revoked certificate" crl_lists "$CA2/crl-current.pem" "$CA2/gone.crt"
cat -- "$CDRP_CA" "$CA2/ca.crt" >"$WORK/bundle.crt"
cat -- "$WORK/current.pem" "$CA2/crl-current.pem" >"$WORK/both-crl.pem"

conf_with "$WORK/both.conf" "tls_ca=$WORK/bundle.crt" "tls_crl=$WORK/both-crl.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/both.conf" 2>&1) || rc=$?
assert_eq "--check-config with two CAs and their two CRLs: exit 0" 0 "$rc"
assert_not_contains "and no CRL warning (both CRLs have 30 days)" "expires at" "$out"

cp -- "$WORK/both-crl.pem" "$WORK/rot-crl.pem"
check "a cdrpd trusting both CAs, with both CRLs, starts" \
	start_daemon rot "tls_ca=$WORK/bundle.crt" "tls_crl=$WORK/rot-crl.pem"
rot_pid=$DAEMON_PID
req "$CA2/dana" GET /v1/health
assert_eq "a CA2 certificate (HMPOL / Dana Whitlock) is accepted: 200" 200 "$STATUS"
req "$CA2/gone" GET /v1/health
assert_no_http "a CA2 certificate revoked in CA2's CRL is refused at the handshake"
req police-referrer GET /v1/health
assert_eq "a devstack certificate still works: 200" 200 "$STATUS"
req revoked GET /v1/health
assert_no_http "the revoked devstack certificate is still refused"
rot_revoked() { [[ $(grep -Ec 'tls: handshake failed from 127\.0\.0\.1:[0-9]+: certificate revoked' "$WORK/rot.log") == 2 ]]; }
check "both refusals are logged as revoked (not as a missing CRL)" wait_for 5 rot_revoked
assert_not_contains "no handshake failed for want of a CRL" "CRL" \
	"$(grep 'handshake failed' "$WORK/rot.log")"
assert_not_contains "and no CRL warning at start" "expires at" "$(cat "$WORK/rot.log")"

# SIGHUP: CA2's CRL now expires in 3 days, the devstack's in 30: the warning
# gives the earlier date.
cat -- "$WORK/current.pem" "$CA2/crl-expiring.pem" >"$WORK/rot-crl.pem"
before=$(wc -l <"$WORK/rot.log")
kill -HUP "$rot_pid"
rot_reloaded() { tail -n "+$((before + 1))" "$WORK/rot.log" | grep -q 'SIGHUP: configuration, certificates and CRL reloaded'; }
check "SIGHUP with CA2's CRL expiring in 3 days: reloaded" wait_for 5 rot_reloaded
assert_contains "the warning gives CA2's nextUpdate, the earliest" \
	"warn SIGHUP: the CRL $WORK/rot-crl.pem expires at $ca2_next_utc" \
	"$(tail -n "+$((before + 1))" "$WORK/rot.log")"
req "$CA2/dana" GET /v1/health
assert_eq "the CA2 certificate is still accepted after the reload: 200" 200 "$STATUS"
req "$CA2/gone" GET /v1/health
assert_no_http "and the revoked CA2 certificate still refused"

# The same at startup, with the expiring CRL first and then second.
cat -- "$CA2/crl-expiring.pem" "$WORK/current.pem" >"$WORK/exp-first.pem"
cat -- "$WORK/current.pem" "$CA2/crl-expiring.pem" >"$WORK/exp-second.pem"
for order in first second; do
	check "a cdrpd with CA2's 3-day CRL $order starts" \
		start_daemon "exp-$order" "tls_ca=$WORK/bundle.crt" "tls_crl=$WORK/exp-$order.pem"
	assert_contains "its startup log warns with CA2's nextUpdate ($order in the file)" \
		"warn the CRL $WORK/exp-$order.pem expires at $ca2_next_utc" "$(cat "$WORK/exp-$order.log")"
	kill "$DAEMON_PID"
done

# A CRL file whose second CRL has expired is refused, naming that CRL.
cat -- "$WORK/current.pem" "$CA2/crl-expired.pem" >"$WORK/second-expired.pem"
conf_with "$WORK/second-expired.conf" "tls_ca=$WORK/bundle.crt" "tls_crl=$WORK/second-expired.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/second-expired.conf" 2>&1) || rc=$?
assert_eq "--check-config with the second CRL expired: exit 78" 78 "$rc"
assert_contains "the error names the file, the CRL's position and issuer, and its nextUpdate" \
	"CRL $WORK/second-expired.pem: CRL 2 of 2 (issuer CN=$CA2_CN) expired: its nextUpdate was 2024-03-01 00:00:00 UTC" \
	"$out"
rc=0
conf_with "$WORK/second-expired-start.conf" "tls_ca=$WORK/bundle.crt" \
	"tls_crl=$WORK/second-expired.pem" "port_file=$WORK/second-expired-start.port"
timeout 20 "$CDRPD" -c "$WORK/second-expired-start.conf" >"$WORK/second-expired-start.log" 2>&1 </dev/null || rc=$?
assert_eq "cdrpd refuses to start with the second CRL expired (exit 78)" 78 "$rc"
assert_contains "and its log names that CRL" "CRL 2 of 2 (issuer CN=$CA2_CN) expired" \
	"$(cat "$WORK/second-expired-start.log")"
check "no port file was written" test ! -e "$WORK/second-expired-start.port"

# A CRL whose issuer is not in tls_ca: refused, naming it.
conf_with "$WORK/unknown-issuer.conf" "tls_crl=$WORK/both-crl.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/unknown-issuer.conf" 2>&1) || rc=$?
assert_eq "--check-config with CA2's CRL but only the devstack CA in tls_ca: exit 78" 78 "$rc"
assert_contains "the error names the CRL, its issuer and tls_ca" \
	"CRL $WORK/both-crl.pem: CRL 2 of 2 (issuer CN=$CA2_CN) was not issued by a CA in $CDRP_CA (tls_ca)" \
	"$out"
# Same name as CA2, another key: a CRL it signs is not CA2's.
check "made an impostor CA with CA2's name" ca2 "$WORK/impostor" "$CA2_CN"
check "made the impostor's CRL" \
	ca2_crl "$WORK/impostor" crl.pem "$(utc '-1 hour')" "$(utc '+30 days')"
cat -- "$WORK/current.pem" "$WORK/impostor/crl.pem" >"$WORK/impostor-crl.pem"
conf_with "$WORK/impostor.conf" "tls_ca=$WORK/bundle.crt" "tls_crl=$WORK/impostor-crl.pem"
rc=0
out=$("$CDRPD" --check-config -c "$WORK/impostor.conf" 2>&1) || rc=$?
assert_eq "--check-config with a CRL signed by another key under CA2's name: exit 78" 78 "$rc"
assert_contains "the error says it is not signed by that CA's key" \
	"CRL 2 of 2 (issuer CN=$CA2_CN) is not signed by the key of the CA of that name" "$out"

finish
