# shellcheck shell=bash
# tests/integration/lib.sh: helpers shared by the integration tests, sourced
# by each tests/integration/t_*.sh. The driver (tests/integration/run) has
# sourced the devstack's env file, so CDRP_URL, CDRP_CA, CDRP_PKI,
# CDRP_DEVSTACK, CDRP_CONF and the PG* variables are set, as are CDRP_BIN
# and REPO.
#
# Output is TAP-ish: one "ok - NAME" or "not ok - NAME" line per assertion,
# with "#" lines of detail after a failure. A test file ends with `finish`,
# which exits 1 if any assertion failed.
#
# Tests run without `set -e`: a failed assertion is reported and the test
# carries on, so one run shows every failure.

set -uo pipefail

: "${CDRP_URL:?source the devstack env file first}" "${CDRP_PKI:?}" "${CDRP_DEVSTACK:?}"
: "${CDRP_BIN:?}" "${REPO:?}"

readonly PSQL=/usr/lib/postgresql/15/bin/psql
# No developer's own cdrp profile file (~/.config/cdrp/config) may steer the
# tests: t_cli_profile names its files itself.
export CDRP_CONFIG=/dev/null
unset CDRP_PROFILE
# The system python3 (a pyenv shim in PATH costs ~0.2 s per call).
PY=python3
if [[ -x /usr/bin/python3 ]]; then
	PY=/usr/bin/python3
fi
readonly PY
TEST_NAME=$(basename "${0%.sh}")
# Scratch space for this test, inside the devstack directory (the driver
# removes it with the rest when the run passes).
WORK=$CDRP_DEVSTACK/work/$TEST_NAME
rm -rf -- "$WORK"
mkdir -p -- "$WORK"
FAILS=0
PASSES=0
KEY_SEQ=0
# Unique per run and test, so tests never see each other's data.
RUN_TAG="$TEST_NAME-$$-$(date +%s%N | tail -c 10)"

# --- reporting ----------------------------------------------------------------

ok() {
	PASSES=$((PASSES + 1))
	printf 'ok - %s\n' "$1"
}

# not_ok NAME [DETAIL...]: a failed assertion, with detail lines.
not_ok() {
	local name=$1 line
	shift
	FAILS=$((FAILS + 1))
	printf 'not ok - %s\n' "$name"
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

# check NAME CMD...: ok if CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name" "command failed: $*"
	fi
}

assert_eq() { # NAME EXPECTED ACTUAL
	if [[ $3 == "$2" ]]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2" "actual:   $3"
	fi
}

assert_ne() { # NAME UNEXPECTED ACTUAL
	if [[ $3 != "$2" ]]; then
		ok "$1"
	else
		not_ok "$1" "expected anything but: $2"
	fi
}

assert_match() { # NAME ERE ACTUAL
	if [[ $3 =~ $2 ]]; then
		ok "$1"
	else
		not_ok "$1" "expected to match: $2" "actual: ${3:0:500}"
	fi
}

assert_contains() { # NAME NEEDLE HAYSTACK
	if [[ $3 == *"$2"* ]]; then
		ok "$1"
	else
		not_ok "$1" "expected to contain: $2" "actual: ${3:0:500}"
	fi
}

assert_not_contains() { # NAME NEEDLE HAYSTACK
	if [[ $3 != *"$2"* ]]; then
		ok "$1"
	else
		not_ok "$1" "expected not to contain: $2" "actual: ${3:0:500}"
	fi
}

# finish: the test's exit status.
finish() {
	printf '# %s: %d passed, %d failed\n' "$TEST_NAME" "$PASSES" "$FAILS"
	((FAILS == 0)) || exit 1
	exit 0
}

# --- JSON (python3) -----------------------------------------------------------

# jget FILE PATH: the value at PATH ("a.b", "items.0.id") in the JSON document
# in FILE ("-" for stdin): strings raw, anything else as JSON ("null",
# "true", "42", "{...}"). Prints "<missing>" if PATH is absent and
# "<invalid>" (exit 1) if FILE is not JSON.
jget() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
src, path = sys.argv[1], sys.argv[2]
try:
    doc = json.load(sys.stdin if src == "-" else open(src, encoding="utf-8"))
except Exception:
    print("<invalid>")
    sys.exit(1)
v = doc
for part in path.split(".") if path else []:
    if isinstance(v, list) and part.lstrip("-").isdigit() and -len(v) <= int(part) < len(v):
        v = v[int(part)]
    elif isinstance(v, dict) and part in v:
        v = v[part]
    else:
        print("<missing>")
        sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
EOF
}

# is_json FILE: exit 0 if FILE holds one JSON document.
is_json() {
	"$PY" -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$1" 2>/dev/null
}

# json_canon FILE: the document with sorted keys, compact (to compare bodies).
json_canon() {
	"$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1], encoding="utf-8")), sort_keys=True, separators=(",", ":")))' "$1" 2>/dev/null || echo "<invalid>"
}

# --- HTTP (curl) --------------------------------------------------------------

# The response of the last `req`: STATUS (000 if no HTTP answer), the body in
# $BODY, the headers in $HEADERS, curl's exit code in CURL_RC and its error
# message in $CURL_ERR.
BODY=$WORK/body
HEADERS=$WORK/headers
CURL_ERR=$WORK/curl.err
STATUS=000
CURL_RC=0

# req WHO METHOD PATH [CURL_ARGS...]: an HTTPS request to cdrpd with the
# client certificate $CDRP_PKI/WHO.crt. WHO "-" sends no client certificate;
# WHO may also be an absolute path prefix (FILE.crt/FILE.key). With REQ_WHY
# set, every request states it as its justification (X-Cdrp-Justification).
req() {
	local who=$1 method=$2 path=$3
	shift 3
	local -a cert=()
	if [[ -n ${REQ_WHY:-} ]]; then
		set -- -H "X-Cdrp-Justification: $REQ_WHY" "$@"
	fi
	if [[ $who == /* ]]; then
		cert=(--cert "$who.crt" --key "$who.key")
	elif [[ $who != - ]]; then
		cert=(--cert "$CDRP_PKI/$who.crt" --key "$CDRP_PKI/$who.key")
	fi
	: >"$BODY"
	: >"$HEADERS"
	CURL_RC=0
	STATUS=$(curl -sS --max-time 20 --cacert "$CDRP_CA" "${cert[@]}" -X "$method" \
		-o "$BODY" -D "$HEADERS" -w '%{http_code}' "$@" "${REQ_URL:-$CDRP_URL}$path" \
		2>"$CURL_ERR") || CURL_RC=$?
	[[ -n $STATUS ]] || STATUS=000
}

# post_referral WHO KEY BODY_FILE [CURL_ARGS...]: POST /v1/referrals.
post_referral() {
	local who=$1 key=$2 file=$3
	shift 3
	req "$who" POST /v1/referrals -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $key" --data-binary "@$file" "$@"
}

# post WHO PATH JSON [CURL_ARGS...]: a POST with a JSON body.
post() {
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" POST "$path" -H 'Content-Type: application/json' --data-binary "$json" "$@"
}

# etag: the ETag of the last response without its quotes.
etag() {
	local e
	e=$(header etag)
	e=${e#\"}
	printf '%s\n' "${e%\"}"
}

# header NAME: the value of header NAME in the last response (first one).
header() {
	awk -v want="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" '
		{ sub(/\r$/, "") }
		index($0, ":") {
			name = tolower(substr($0, 1, index($0, ":") - 1))
			if (name == want) {
				v = substr($0, index($0, ":") + 1)
				sub(/^[ \t]+/, "", v)
				print v
				exit
			}
		}' "$HEADERS"
}

# body_field PATH: jget on the last response body.
body_field() {
	jget "$BODY" "$1"
}

assert_status() { # NAME EXPECTED
	if [[ $STATUS == "$2" ]]; then
		ok "$1"
	else
		not_ok "$1" "expected HTTP $2, got $STATUS (curl exit $CURL_RC)" \
			"$(head -c 400 "$BODY")" "$(head -c 300 "$CURL_ERR")"
	fi
}

# assert_problem NAME STATUS CODE [FIELD]: the last response is an RFC 9457
# problem with this status and code (and field, if given), and the body's
# status agrees with the HTTP status.
assert_problem() {
	local name=$1 status=$2 code=$3 field=${4:-} ctype why=() got=()
	ctype=$(header content-type)
	# code, status, type and field of the body, in one python3 call.
	mapfile -t got < <("$PY" - "$BODY" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1], encoding="utf-8"))
    assert isinstance(d, dict)
except Exception:
    d = {}
for k in ("code", "status", "type", "field"):
    print(d.get(k, "<missing>"))
EOF
)
	[[ $STATUS == "$status" ]] || why+=("HTTP status $STATUS, want $status (curl exit $CURL_RC)")
	[[ $ctype == application/problem+json* ]] || why+=("content-type '$ctype', want application/problem+json")
	[[ ${got[0]:-} == "$code" ]] || why+=("code '${got[0]:-}', want $code")
	[[ ${got[1]:-} == "$status" ]] || why+=("body status '${got[1]:-}', want $status")
	[[ ${got[2]:-} == "https://cdrp.invalid/problems/$code" ]] || why+=("type '${got[2]:-}'")
	if [[ -n $field && ${got[3]:-} != "$field" ]]; then
		why+=("field '${got[3]:-}', want $field")
	fi
	[[ -n $(header x-request-id) ]] || why+=("no X-Request-Id header")
	if ((${#why[@]} == 0)); then
		ok "$name"
	else
		not_ok "$name" "${why[@]}" "body: $(head -c 400 "$BODY")"
	fi
}

# assert_no_http NAME: the last request got no HTTP answer at all (the TLS
# handshake was refused).
assert_no_http() {
	if [[ $STATUS == 000 && $CURL_RC != 0 ]]; then
		ok "$1"
	else
		not_ok "$1" "expected no HTTP answer, got status $STATUS (curl exit $CURL_RC)" \
			"$(head -c 300 "$BODY")"
	fi
}

# --- data ---------------------------------------------------------------------

# new_key [PREFIX]: an Idempotency-Key no other test or run uses (also when
# called in a subshell, as in "$(new_key)": the clock makes it unique).
new_key() {
	KEY_SEQ=$((KEY_SEQ + 1))
	printf '%s-%s-%s-%d\n' "${1:-k}" "$RUN_TAG" "${EPOCHREALTIME/[.,]/}" "$KEY_SEQ"
}

# referral_json SUBJECT_NAME [KIND]: a valid referral body (compact JSON).
referral_json() {
	"$PY" - "$1" "${2:-asb}" <<'EOF'
import json, sys
print(json.dumps({
    "case_kind": sys.argv[2],
    "subject": {"type": "individual", "name": sys.argv[1], "ward": "Harrow Central"},
    "reason": "Repeated noise at night; the housing team cannot resolve it alone.",
    "incidents": [{"occurred_on": "2025-03-01", "reported_on": "2025-03-02",
                   "category": "nuisance", "place": "Mill Lane", "victims": [0]}],
    "victims": [{"name": "A Neighbour", "vulnerable": False, "consent_to_share": True}],
    "risk": {"band": "medium"},
}, separators=(",", ":")))
EOF
}

# write_referral FILE SUBJECT_NAME [KIND]: referral_json into FILE.
write_referral() {
	referral_json "$2" "${3:-asb}" >"$1"
}

# --- the cdrp client ------------------------------------------------------------

CLI=$CDRP_BIN/cdrp
OUT=$WORK/cli.out
ERR=$WORK/cli.err
CLI_RC=0
# A URL nothing listens on: a command that tried the network would exit 69.
NOWHERE=https://127.0.0.1:9
# With WHY set, cli_as states it with every command (--why), as
# OFFICIAL-SENSITIVE cases need.
WHY=

# cli_as WHO ARGS...: run cdrp with the client certificate of WHO; CLI_RC,
# stdout in $OUT, stderr in $ERR.
cli_as() {
	local who=$1
	shift
	if [[ -n $WHY ]]; then
		set -- --why "$WHY" "$@"
	fi
	CLI_RC=0
	timeout 60 "$CLI" --cert "$CDRP_PKI/$who.crt" --key "$CDRP_PKI/$who.key" "$@" \
		>"$OUT" 2>"$ERR" </dev/null || CLI_RC=$?
}

# offline WHO ARGS...: as cli_as, but against $NOWHERE.
offline() {
	local who=$1
	shift
	cli_as "$who" --url "$NOWHERE" "$@"
}

assert_rc() { # NAME EXPECTED
	if [[ $CLI_RC == "$2" ]]; then
		ok "$1"
	else
		not_ok "$1" "expected exit $2, got $CLI_RC" "stdout: $(head -c 600 "$OUT")" \
			"stderr: $(head -c 400 "$ERR")"
	fi
}

out() { cat "$OUT"; }
err() { cat "$ERR"; }

# --- PostgreSQL (as the superuser, over the devstack's socket) ---------------

# sql SQL: run SQL, print the result unaligned without headers.
sql() {
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# sql_lit TEXT: TEXT as an SQL string literal.
sql_lit() {
	printf "'%s'" "${1//\'/\'\'}"
}

# --- a devstack of the test's own ------------------------------------------------
# For tests that break or rebuild a stack (audit log, backups, TLS to the
# database, upgrades): own_stack PREFIX makes STACK (a short /tmp path: the
# PostgreSQL socket path must fit) and, at exit, stops what runs on it with
# OWN_DEVSTACK (default deploy/devstack) and removes it unless a check
# failed. A test may define own_stack_cleanup_hook, run after the stack is
# down.
own_stack() {
	STACK=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 0755 "$STACK"
	OWN_DEVSTACK=${OWN_DEVSTACK:-$REPO/deploy/devstack}
	PG_OS_USER=
	trap own_stack_cleanup EXIT
}
own_stack_cleanup() {
	"$OWN_DEVSTACK" down "$STACK" >>"$WORK/devstack.log" 2>&1 || true
	if declare -F own_stack_cleanup_hook >/dev/null; then
		own_stack_cleanup_hook
	fi
	if ((FAILS == 0)); then
		rm -rf -- "$STACK"
	else
		echo "# kept $STACK"
	fi
}
# stack_up: start (or restart) it with cdrpd from STACK_BIN (default
# CDRP_BIN), then take its env (CDRP_URL, PG*...); the cluster's OS user
# in PG_OS_USER.
stack_up() {
	CDRP_BIN=${STACK_BIN:-$CDRP_BIN} "$OWN_DEVSTACK" up "$STACK" >>"$WORK/devstack.log" 2>&1 || {
		tail -n 20 "$WORK/devstack.log" | sed 's/^/# /'
		return 1
	}
	# shellcheck source=/dev/null
	. "$STACK/env"
	# As root the cluster runs as an unprivileged user (deploy/devstack).
	if ((EUID == 0)); then
		PG_OS_USER=$(stat -c %U -- "$STACK/pg/data")
	fi
}
stack_down() {
	"$OWN_DEVSTACK" down "$STACK" >>"$WORK/devstack.log" 2>&1
}
# stop_cdrpd: the stack's cdrpd only; PostgreSQL stays up.
stop_cdrpd() {
	local pid
	pid=$(cat "$STACK/cdrpd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
}
# start_stack_cdrpd BINARY: BINARY -c $CONF in the background, logging to
# $LOG, its pid in $STACK/cdrpd.pid (so that stack_down stops it too); waits
# for its port file and exports CDRP_URL. Variables set on the call (e.g.
# PGPASSFILE=...) reach the daemon.
start_stack_cdrpd() {
	local pid i port=
	rm -f -- "$STACK/cdrpd.port"
	setsid "$1" -c "$CONF" >>"$LOG" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$STACK/cdrpd.pid"
	for ((i = 0; i < 150; i++)); do
		port=$(head -n 1 "$STACK/cdrpd.port" 2>/dev/null) && [[ $port =~ ^[0-9]+$ ]] && break
		port=
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n $port ]] || return 1
	export CDRP_URL=https://127.0.0.1:$port
}
# audit_checkpointed: every committed audit row sealed, and the tree's size
# signed into the database and appended to the checkpoint file.
audit_checkpointed() {
	local size
	[[ $(sql "SELECT count(*) FROM cdrp.audit_log a WHERE NOT EXISTS
	         (SELECT 1 FROM cdrp.audit_leaf l WHERE l.audit_id = a.id)") == 0 ]] || return 1
	size=$(sql "SELECT size FROM cdrp.audit_seal_state")
	[[ -n $size && $size != 0 ]] || return 1
	[[ $(sql "SELECT coalesce(max(size), 0) FROM cdrp.audit_checkpoint") == "$size" ]] || return 1
	# A note's second line is the tree size, alone on its line.
	grep -qx -- "$size" "$CDRP_AUDIT_CHECKPOINTS" 2>/dev/null
}
# as_pg CMD...: as the cluster's OS user, from / (which it can read).
as_pg() {
	if [[ -n $PG_OS_USER ]]; then
		(cd / && runuser -u "$PG_OS_USER" -- "$@")
	else
		"$@"
	fi
}

# --- daemon -------------------------------------------------------------------

# conf_with OUT KEY VALUE [IN]: OUT is the config IN (default: the
# devstack's) with KEY = VALUE, replaced where it is, else appended. IN may
# be OUT itself.
conf_with() {
	awk -v k="$2" -v v="$3" '
		$1 == k && $2 == "=" { print k " = " v; done = 1; next }
		{ print }
		END { if (!done) print k " = " v }' "${4:-$CDRP_CONF}" >"$1.tmp" &&
		mv -- "$1.tmp" "$1"
}

daemon_pid() {
	cat -- "$CDRP_DEVSTACK/cdrpd.pid"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# log_lines: how many lines cdrpd's log has (to look only at newer ones).
log_lines() {
	wc -l <"$CDRP_DEVSTACK/cdrpd.log"
}

# log_since N PATTERN: a line after the first N lines of the log matches the ERE.
log_since() {
	tail -n "+$(($1 + 1))" -- "$CDRP_DEVSTACK/cdrpd.log" | grep -Eq -- "$2"
}
