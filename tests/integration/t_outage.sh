#!/usr/bin/env bash
# t_outage: PostgreSQL stops under load and comes back. Several curl loops
# submit referrals with unique keys and record every answer. While the
# database is down cdrpd must answer 503 (database_unavailable or
# deadline_exceeded) with Retry-After and never 2xx; afterwards it must
# recover by itself (same process). Every key that did not get a 201 is then
# retried with the same body until it does, and PostgreSQL must hold exactly
# one referral per key: nothing lost, nothing duplicated.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

readonly WORKERS=4 RETRY_WORKERS=8
readonly LOAD_BEFORE_S=2 OUTAGE_S=3 LOAD_AFTER_S=1 RECOVERY_LIMIT_S=20
STOP=$WORK/stop
DEVSTACK=$REPO/deploy/devstack
worker_pids=()

cleanup() {
	touch -- "$STOP"
	local pid
	for pid in "${worker_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	# Whatever happened, leave PostgreSQL running for the tests after us.
	"$DEVSTACK" pg-start "$CDRP_DEVSTACK" >>"$WORK/devstack.log" 2>&1 || true
}
trap cleanup EXIT

# body_for KEY: the referral body for KEY (the same every time).
body_for() {
	printf '{"case_kind":"asb","subject":{"type":"individual","name":"Outage %s"},"reason":"Submitted during a database outage test."}' "$1"
}

# post KEY PREFIX: POST the body for KEY; sets P_CODE (HTTP status), P_PCODE
# (problem code or -), P_RETRY (Retry-After or -), P_ID (id or -) and
# P_REPLAY (true or -). Files PREFIX.{json,body,hdr} are scratch.
post() {
	local key=$1 f=$2 body hdr
	body_for "$key" >"$f.json"
	: >"$f.body"
	: >"$f.hdr"
	P_CODE=$(curl -sS --max-time 15 --cacert "$CDRP_CA" --cert "$CDRP_CERT" --key "$CDRP_KEY" \
		-H 'Content-Type: application/json' -H "Idempotency-Key: $key" --data-binary "@$f.json" \
		-o "$f.body" -D "$f.hdr" -w '%{http_code}' "$CDRP_URL/v1/referrals" 2>/dev/null) || true
	[[ -n $P_CODE ]] || P_CODE=000
	body=$(<"$f.body")
	hdr=$(<"$f.hdr")
	P_PCODE=- P_RETRY=- P_ID=- P_REPLAY=-
	[[ $body =~ \"code\":\ ?\"([a-z_]+)\" ]] && P_PCODE=${BASH_REMATCH[1]}
	[[ $body =~ \"id\":\ ?([0-9]+) ]] && P_ID=${BASH_REMATCH[1]}
	[[ $hdr =~ [Rr]etry-[Aa]fter:\ *([0-9]+) ]] && P_RETRY=${BASH_REMATCH[1]}
	[[ $hdr =~ [Ii]dempotent-[Rr]eplay:\ *true ]] && P_REPLAY=true
	return 0
}

# load W: submit referrals until $STOP exists, one line per request in
# $WORK/load.W: key start end status problem-code retry-after id replay.
load() {
	local w=$1 n=0 key start
	while [[ ! -e $STOP ]]; do
		n=$((n + 1))
		key="outage-$RUN_TAG-w$w-$n"
		start=$EPOCHREALTIME
		post "$key" "$WORK/w$w"
		printf '%s %s %s %s %s %s %s %s\n' "$key" "$start" "$EPOCHREALTIME" "$P_CODE" \
			"$P_PCODE" "$P_RETRY" "$P_ID" "$P_REPLAY" >>"$WORK/load.$w"
	done
}

health_is() { # STATUS
	req police-referrer GET /v1/health --max-time 5
	[[ $STATUS == "$1" ]]
}

check "PostgreSQL is up before the test" health_is 200
pid_before=$(daemon_pid)

for ((w = 1; w <= WORKERS; w++)); do
	load "$w" &
	worker_pids+=($!)
done
sleep "$LOAD_BEFORE_S"

echo "# stopping PostgreSQL"
t_stop=$EPOCHREALTIME
"$DEVSTACK" pg-stop "$CDRP_DEVSTACK" >>"$WORK/devstack.log" 2>&1
check "devstack pg-stop succeeded" test $? -eq 0
t_stopped=$EPOCHREALTIME

req police-referrer GET /v1/health
assert_problem "health while PostgreSQL is down: 503 database_unavailable" 503 database_unavailable
assert_match "health 503 has Retry-After (seconds)" '^[0-9]+$' "$(header retry-after)"
write_referral "$WORK/down.json" "Outage Down $RUN_TAG"
down_key=$(new_key down)
post_referral police-referrer "$down_key" "$WORK/down.json"
check "POST while PostgreSQL is down: 503" test "$STATUS" = 503
check "POST while PostgreSQL is down: database_unavailable or deadline_exceeded" \
	grep -Eq '"code": ?"(database_unavailable|deadline_exceeded)"' "$BODY"
assert_match "POST 503 has Retry-After" '^[0-9]+$' "$(header retry-after)"
req police-referrer GET /v1/referrals
assert_problem "list while PostgreSQL is down: 503 database_unavailable" 503 database_unavailable

sleep "$OUTAGE_S"
echo "# starting PostgreSQL"
t_start=$EPOCHREALTIME
"$DEVSTACK" pg-start "$CDRP_DEVSTACK" >>"$WORK/devstack.log" 2>&1
check "devstack pg-start succeeded" test $? -eq 0

check "cdrpd recovers by itself within ${RECOVERY_LIMIT_S}s (health 200)" wait_for "$RECOVERY_LIMIT_S" health_is 200
t_healthy=$EPOCHREALTIME
echo "# healthy again $("$PY" -c "print('%.1f' % ($t_healthy - $t_start))")s after pg-start began"
assert_eq "cdrpd was not restarted (same pid)" "$pid_before" "$(daemon_pid)"
check "the same cdrpd process is alive" kill -0 "$pid_before"
sleep "$LOAD_AFTER_S"

touch -- "$STOP"
for pid in "${worker_pids[@]}"; do
	wait "$pid"
done
worker_pids=()
cat -- "$WORK"/load.* >"$WORK/load.all"

# --- what the load saw ------------------------------------------------------------------

# One line of numbers from the load log (see the print at the end).
read -r n_total n_201_before n_window n_window_2xx n_window_bad n_503 n_503_bad n_other \
	n_201_after < <("$PY" - "$WORK/load.all" "$t_stopped" "$t_start" "$t_healthy" "$t_stop" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
t_stopped, t_start, t_healthy, t_stop = map(float, sys.argv[2:6])
for r in rows:
    r[1], r[2] = float(r[1]), float(r[2])
ok503 = ("database_unavailable", "deadline_exceeded")
proper503 = lambda r: r[3] == "503" and r[4] in ok503 and r[5].isdigit()
window = [r for r in rows if t_stopped <= r[1] < t_start]
out = [len(rows),
       sum(1 for r in rows if r[3] == "201" and r[2] < t_stop),
       len(window),
       sum(1 for r in window if r[3].startswith("2")),
       sum(1 for r in window if not proper503(r)),
       sum(1 for r in rows if r[3] == "503"),
       sum(1 for r in rows if r[3] == "503" and not proper503(r)),
       sum(1 for r in rows if r[3] not in ("201", "503")),
       sum(1 for r in rows if r[3] == "201" and r[1] >= t_healthy)]
print(*out)
for r in window:
    if r[3].startswith("2") or not proper503(r):
        print("bad in window:", *r, file=sys.stderr)
for r in rows:
    if r[3] not in ("201", "503"):
        print("unexpected:", *r, file=sys.stderr)
EOF
)
echo "# load: $n_total requests, $n_503 answered 503, $n_window while PostgreSQL was down"
check "the load submitted referrals before the outage" test "${n_201_before:-0}" -gt 0
check "the load kept sending while PostgreSQL was down (>= 5 requests)" test "${n_window:-0}" -ge 5
assert_eq "no 2xx for a request started while PostgreSQL was down" 0 "${n_window_2xx:-?}"
assert_eq "every answer while down: 503 database_unavailable/deadline_exceeded with Retry-After" 0 \
	"${n_window_bad:-?}"
assert_eq "every 503 of the load has a proper code and Retry-After" 0 "${n_503_bad:-?}"
assert_eq "the load saw no answers but 201 and 503 (and no dropped connections)" 0 "${n_other:-?}"
check "the load got 201s again after recovery" test "${n_201_after:-0}" -gt 0

# --- retry every key without a 201 -------------------------------------------------------

awk '$4 != "201" { print $1 }' "$WORK/load.all" | sort -u >"$WORK/retry.keys"
echo "$down_key" >>"$WORK/retry.keys"
n_retry=$(wc -l <"$WORK/retry.keys")
echo "# retrying $n_retry keys until 201"

# retry_slice I: retry keys I, I+RETRY_WORKERS, ... of retry.keys; log lines
# "key 201 id replay" or "key FAILED last-status".
retry_slice() {
	local i=$1 key attempt
	while read -r key; do
		for ((attempt = 1; attempt <= 50; attempt++)); do
			if [[ $key == "$down_key" ]]; then
				# This one was sent by req with the write_referral body.
				P_CODE=$(curl -sS --max-time 15 --cacert "$CDRP_CA" --cert "$CDRP_CERT" --key "$CDRP_KEY" \
					-H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
					--data-binary "@$WORK/down.json" -o "$WORK/r$i.body" -D "$WORK/r$i.hdr" \
					-w '%{http_code}' "$CDRP_URL/v1/referrals" 2>/dev/null) || true
				P_ID=$(jget "$WORK/r$i.body" id 2>/dev/null) P_REPLAY=-
			else
				post "$key" "$WORK/r$i"
			fi
			[[ $P_CODE == 201 ]] && break
			sleep 0.2
		done
		if [[ $P_CODE == 201 ]]; then
			echo "$key 201 $P_ID $P_REPLAY"
		else
			echo "$key FAILED $P_CODE"
		fi
	done < <(awk -v n="$RETRY_WORKERS" -v i="$i" 'NR % n == i' "$WORK/retry.keys") >"$WORK/retried.$i"
}
retry_pids=()
for ((i = 0; i < RETRY_WORKERS; i++)); do
	retry_slice "$i" &
	retry_pids+=($!)
done
for pid in "${retry_pids[@]}"; do
	wait "$pid"
done
cat -- "$WORK"/retried.* >"$WORK/retried.all"
assert_eq "every retried key was answered" "$n_retry" "$(wc -l <"$WORK/retried.all")"
assert_eq "every retried key eventually got 201" "" "$(grep FAILED "$WORK/retried.all" | head -n 5)"
echo "# retries: $(grep -c ' true$' "$WORK/retried.all") were replays of referrals stored before the 503, $(grep -c ' -$' "$WORK/retried.all") new"

# --- what PostgreSQL holds ----------------------------------------------------------------

# Every (key, id) any client was told with a 201: from the load and the retries.
{
	awk '$4 == "201" { print $1 "\t" $7 }' "$WORK/load.all"
	awk '$2 == "201" { print $1 "\t" $3 }' "$WORK/retried.all"
} >"$WORK/told.tsv"
awk '{ print $1 }' "$WORK/load.all" | sort -u >"$WORK/all.keys"
echo "$down_key" >>"$WORK/all.keys"

read -r n_keys n_told_keys n_idem_ok n_refs n_dup_names n_id_mismatch n_wrong_body n_prefix_refs < <(
	"$PSQL" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 <<EOF
CREATE TEMP TABLE told (key text, id bigint);
\\copy told FROM '$WORK/told.tsv'
CREATE TEMP TABLE keys (key text);
\\copy keys FROM '$WORK/all.keys'
CREATE TEMP VIEW idem AS
  SELECT i.* FROM cdrp.idempotency_keys i JOIN cdrp.agencies a ON a.id = i.agency_id
  WHERE a.code = 'HMPOL';
CREATE TEMP VIEW named AS
  SELECT r.*, r.body->'subject'->>'name' AS name FROM cdrp.referrals r;
SELECT
  (SELECT count(DISTINCT key) FROM keys),
  (SELECT count(DISTINCT key) FROM told),
  (SELECT count(*) FROM keys k JOIN idem i USING (key)
    WHERE i.status = 201 AND i.referral_id IS NOT NULL),
  (SELECT count(*) FROM named WHERE name IN (SELECT 'Outage ' || key FROM keys)
                                  OR name = $(sql_lit "Outage Down $RUN_TAG")),
  (SELECT count(*) FROM (SELECT name FROM named WHERE name IN (SELECT 'Outage ' || key FROM keys)
                         GROUP BY name HAVING count(*) > 1) d),
  (SELECT count(*) FROM told t JOIN idem i USING (key) WHERE i.referral_id IS DISTINCT FROM t.id),
  (SELECT count(*) FROM keys k JOIN idem i USING (key) JOIN named r ON r.id = i.referral_id
    WHERE k.key <> $(sql_lit "$down_key") AND r.name <> 'Outage ' || k.key),
  (SELECT count(*) FROM named WHERE name LIKE $(sql_lit "Outage outage-$RUN_TAG-%"));
EOF
)
echo "# db: $n_keys keys sent, $n_refs referrals"
assert_eq "every key sent was told 201 at last" "$n_keys" "$n_told_keys"
assert_eq "db: every key has an idempotency record with status 201 and a referral" "$n_keys" "$n_idem_ok"
assert_eq "db: exactly one referral per key (referrals = distinct keys)" "$n_keys" "$n_refs"
assert_eq "db: no subject submitted twice" 0 "$n_dup_names"
assert_eq "db: every id a client was told is the key's referral" 0 "$n_id_mismatch"
assert_eq "db: each key's referral holds that key's body" 0 "$n_wrong_body"
assert_eq "db: no stray referrals from this test's load" "$((n_keys - 1))" "$n_prefix_refs"
assert_eq "db: audit chain intact after the outage" intact \
	"$(sql "SELECT coalesce(cdrp.audit_verify()::text, 'intact')")"
assert_eq "cdrpd still the same process at the end" "$pid_before" "$(daemon_pid)"

finish
