#!/usr/bin/env bash
# t_concurrency: what must hold when requests race. The same referral sent
# at once on several connections with one Idempotency-Key is stored once and
# every answer names it; referrals accepted at once get distinct case
# references from the partnership's counter, with no gap.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

readonly N=8

# --- one key, N simultaneous submissions -------------------------------------------------
key=$(new_key race)
write_referral "$WORK/race.json" "Race Subject $RUN_TAG"
for i in $(seq "$N"); do
	curl -sS --max-time 20 --cacert "$CDRP_CA" --cert "$CDRP_PKI/police-referrer.crt" \
		--key "$CDRP_PKI/police-referrer.key" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $key" --data-binary "@$WORK/race.json" \
		-o "$WORK/race.$i.body" -w '%{http_code}\n' "$CDRP_URL/v1/referrals" \
		>"$WORK/race.$i.status" 2>/dev/null &
done
wait
assert_eq "all $N simultaneous submissions answered 201" "$N" \
	"$(cat "$WORK"/race.*.status | grep -c '^201$')"
assert_eq "every answer names the same referral" 1 \
	"$(for i in $(seq "$N"); do jget "$WORK/race.$i.body" id; done | sort -u | wc -l)"
assert_eq "db: one referral for the key" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referrals r JOIN cdrp.idempotency_keys k
	        ON k.referral_id = r.id WHERE k.key = $(sql_lit "$key")")"
assert_eq "db: one collect audit row for it" 1 \
	"$(sql "SELECT count(*) FROM cdrp.audit_log a JOIN cdrp.idempotency_keys k
	        ON k.referral_id = a.object_id WHERE k.key = $(sql_lit "$key")
	        AND a.action = 'collect' AND a.object_type = 'referral'")"

# --- N referrals accepted at once ---------------------------------------------------------
ids=()
for i in $(seq "$N"); do
	write_referral "$WORK/acc.$i.json" "Accept Race $i $RUN_TAG"
	post_referral youth-referrer "$(new_key acc)" "$WORK/acc.$i.json"
	ids+=("$(body_field id)")
done
for i in "${!ids[@]}"; do
	curl -sS --max-time 20 --cacert "$CDRP_CA" --cert "$CDRP_PKI/council-caseworker.crt" \
		--key "$CDRP_PKI/council-caseworker.key" -H 'Content-Type: application/json' \
		--data-binary '{}' -o "$WORK/acc.$i.body" -w '%{http_code}\n' \
		"$CDRP_URL/v1/referrals/${ids[$i]}/accept" >"$WORK/acc.$i.status" 2>/dev/null &
done
wait
assert_eq "all $N simultaneous accepts answered 200" "$N" \
	"$(cat "$WORK"/acc.*.status | grep -c '^200$')"
refs=$(for i in "${!ids[@]}"; do jget "$WORK/acc.$i.body" case_reference; done | sort)
assert_eq "$N distinct case references" "$N" "$(sort -u <<<"$refs" | wc -l)"
nums=$(awk -F- '{ print $NF }' <<<"$refs" | sort -n)
first=$(head -n 1 <<<"$nums")
last=$(tail -n 1 <<<"$nums")
assert_eq "the references are consecutive (no gap, none reused)" $((N - 1)) \
	$((10#$last - 10#$first))

finish
