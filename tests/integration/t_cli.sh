#!/usr/bin/env bash
# t_cli: the cdrp client against the devstack's cdrpd: health, submit (and
# its replay), show, list, and the exit codes of the failures (invalid input,
# unreadable file, not found, TLS refusal, unregistered identity, role,
# idempotency conflict, unavailable server, missing configuration).
# Settings come from the devstack env (CDRP_URL, CDRP_CA, CDRP_CERT,
# CDRP_KEY: police-referrer) unless a test passes options.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

FIXTURES=$REPO/tests/integration/fixtures

# cli ARGS...: run cdrp; CLI_RC, stdout in $OUT, stderr in $ERR.
cli() {
	CLI_RC=0
	timeout 60 "$CLI" "$@" >"$OUT" 2>"$ERR" </dev/null || CLI_RC=$?
}

# cli_in FILE ARGS...: the same with standard input from FILE.
cli_in() {
	local in=$1
	shift
	CLI_RC=0
	timeout 60 "$CLI" "$@" >"$OUT" 2>"$ERR" <"$in" || CLI_RC=$?
}

assert_rc_in() { # NAME "EXPECTED..."
	if [[ " $2 " == *" $CLI_RC "* ]]; then
		ok "$1"
	else
		not_ok "$1" "expected exit in {$2}, got $CLI_RC" "stdout: $(head -c 400 "$OUT")" \
			"stderr: $(head -c 400 "$ERR")"
	fi
}

# cli_as WHO ARGS...: cli with the client certificate of WHO.
cli_as() {
	local who=$1
	shift
	cli "$@" --cert "$CDRP_PKI/$who.crt" --key "$CDRP_PKI/$who.key"
}

# fixture NAME SUBJECT: fixtures/NAME.json with @SUBJECT@ replaced, as a file
# in $WORK (the subject makes the content, so the derived key, unique).
fixture() {
	sed "s/@SUBJECT@/$2/" "$FIXTURES/$1.json" >"$WORK/$1.json"
	printf '%s\n' "$WORK/$1.json"
}

if [[ ! -x $CLI ]]; then
	not_ok "the client $CLI exists"
	finish
fi

# --- health -----------------------------------------------------------------------

cli health
assert_rc "health: exit 0" 0
assert_match "health: says ok" '\<ok\>' "$(cat "$OUT")"
cli --json health
assert_rc "health --json: exit 0" 0
assert_eq "health --json: status ok" ok "$(jget "$OUT" status)"
assert_eq "health --json: database ok" ok "$(jget "$OUT" database)"

# --- submit, replay -----------------------------------------------------------------

subject="CLI Subject $RUN_TAG"
file=$(fixture referral "$subject")
cli referral submit "$file"
assert_rc "submit FILE: exit 0" 0
ref=$(grep -Eo 'REF-[0-9]{4}-[0-9]{6}' "$OUT" | head -n 1)
assert_match "submit: prints the reference" '^REF-[0-9]{4}-[0-9]{6}$' "$ref"
assert_not_contains "first submit is not reported as a replay" "already" "$(cat "$OUT")"
first_out=$(cat "$OUT")
id=$(sql "SELECT id FROM cdrp.referrals WHERE reference = $(sql_lit "$ref")")
assert_match "the printed reference is stored" '^[0-9]+$' "$id"
assert_match "submit: prints the id" "(^|[^0-9-])$id([^0-9]|\$)" "$first_out"

cli referral submit "$file"
assert_rc "same file again: exit 0" 0
assert_contains "same file again: same reference" "$ref" "$(cat "$OUT")"
assert_match "same file again: says it is a replay" '([Rr]eplay|already)' "$(cat "$OUT")"

# The same referral reformatted derives the same key: still a replay.
"$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=1, sort_keys=True))' \
	"$file" >"$WORK/reformatted.json"
cli referral submit "$WORK/reformatted.json"
assert_rc "same referral reformatted: exit 0" 0
assert_contains "same referral reformatted: same reference" "$ref" "$(cat "$OUT")"
assert_match "same referral reformatted: a replay" '([Rr]eplay|already)' "$(cat "$OUT")"

cli_in "$file" referral submit -
assert_rc "submit - (stdin): exit 0" 0
assert_contains "submit - (stdin): same reference" "$ref" "$(cat "$OUT")"

cli --json referral submit "$file"
assert_rc "submit --json: exit 0" 0
check "submit --json: output is JSON" is_json "$OUT"
assert_eq "submit --json: the id" "$id" "$(jget "$OUT" id)"
assert_eq "submit --json: the reference" "$ref" "$(jget "$OUT" reference)"
assert_eq "submit --json: status submitted" submitted "$(jget "$OUT" status)"

assert_eq "db: one referral for all those submissions" 1 \
	"$(sql "SELECT count(*) FROM cdrp.referrals WHERE body->'subject'->>'name' = $(sql_lit "$subject")")"

# --- show, list -----------------------------------------------------------------------

cli referral show "$id"
assert_rc "show of an OFFICIAL-SENSITIVE referral without --why: exit 77" 77
assert_contains "the refusal names the missing justification" justification_required "$(cat "$ERR")"
cli --why "t_cli: checking the referral before triage" referral show "$id"
assert_rc "show ID: exit 0" 0
assert_contains "show: prints the reference" "$ref" "$(cat "$OUT")"
assert_contains "show: prints the subject's name" "$subject" "$(cat "$OUT")"
cli --json --why "t_cli: checking the referral before triage" referral show "$id"
assert_rc "show --json: exit 0" 0
assert_eq "show --json: the reference" "$ref" "$(jget "$OUT" reference)"
assert_eq "show --json: marking as submitted" OFFICIAL-SENSITIVE "$(jget "$OUT" marking)"
assert_eq "show --json: second incident's place" "Mill Lane" "$(jget "$OUT" incidents.1.place)"

cli referral list
assert_rc "list: exit 0" 0
assert_contains "list: shows the referral" "$ref" "$(cat "$OUT")"
cli referral list --status submitted --limit 200
assert_rc "list --status submitted: exit 0" 0
assert_contains "list --status submitted: shows the referral" "$ref" "$(cat "$OUT")"
cli referral list --status accepted
assert_rc "list --status accepted: exit 0" 0
assert_not_contains "list --status accepted: not the new referral" "$ref" "$(cat "$OUT")"
cli --json referral list --limit 1
assert_rc "list --json --limit 1: exit 0" 0
assert_eq "list --json --limit 1: one item" 1 \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$OUT" 2>/dev/null)"
cli referral list --all
assert_rc "list --all: exit 0" 0
assert_contains "list --all: shows the referral" "$ref" "$(cat "$OUT")"
cli referral list --limit 0
assert_rc_in "list --limit 0: exit 64 or 65" "64 65"
# The referral is OFFICIAL-SENSITIVE: its subject's name is listed only
# with a justification; date filters by day of submission (UTC).
today=$(date -u +%F)
cli referral list --submitted-from "$today" --submitted-to "$today" --limit 200
assert_rc "list --submitted-from/--submitted-to today: exit 0" 0
assert_contains "list today: shows the referral" "$ref" "$(cat "$OUT")"
assert_contains "list: a NAME column" "NAME" "$(head -n 1 "$OUT")"
assert_not_contains "list without --why: the sensitive subject's name withheld" "$subject" "$(cat "$OUT")"
cli --why "t_cli: checking this week's referrals" referral list --submitted-from "$today" --limit 200
assert_contains "list with --why: the subject's name" "$subject" "$(cat "$OUT")"
cli referral list --submitted-from "$(date -u -d tomorrow +%F)"
assert_rc "list from tomorrow: exit 0" 0
assert_not_contains "list from tomorrow: not the new referral" "$ref" "$(cat "$OUT")"
cli referral list --submitted-from 2025-13-01
assert_rc "list --submitted-from not a date: exit 64" 64
cli referral list --submitted-from "$today" --submitted-to 2020-01-01
assert_rc "list with the range reversed: refused by the server (exit 65)" 65

# --- failures and their exit codes ------------------------------------------------------

bad=$(fixture referral-unknown-field "CLI Unknown $RUN_TAG")
cli referral submit "$bad"
assert_rc "unknown field: exit 65" 65
assert_contains "unknown field: names subject.nickname" subject.nickname "$(cat "$OUT" "$ERR")"
printf '{"case_kind": "asb", ' >"$WORK/truncated.json"
cli referral submit "$WORK/truncated.json"
assert_rc "malformed JSON: exit 65" 65
cli referral submit "$WORK/no-such-file.json"
assert_rc "nonexistent file: exit 66" 66

cli referral show 999999999
assert_rc "show of a nonexistent id: exit 79" 79

write_referral "$WORK/housing.json" "CLI Housing $RUN_TAG"
cli_as housing-referrer referral submit "$WORK/housing.json"
assert_rc "housing-referrer submits: exit 0" 0
hid=$(sql "SELECT id FROM cdrp.referrals WHERE body->'subject'->>'name' = $(sql_lit "CLI Housing $RUN_TAG")")
cli referral show "$hid"
assert_rc "police shows housing's referral: exit 79 (not visible)" 79
cli_as council-caseworker referral show "$hid"
assert_rc "caseworker shows housing's referral: exit 0" 0

cli_as revoked health
assert_rc "revoked certificate: exit 75" 75
cli_as revoked referral submit "$file"
assert_rc "revoked certificate, submit: exit 75" 75
cli health --cert "$CDRP_PKI/foreign.crt" --key "$CDRP_PKI/foreign.key"
assert_rc "foreign-CA certificate: exit 75" 75
cli health --ca "$CDRP_PKI/foreign-ca.crt"
assert_rc "server certificate not trusted (--ca foreign): exit 75" 75

cli_as unknown-agency health
assert_rc "unknown-agency certificate: exit 77" 77
cli_as unknown-user referral list
assert_rc "unknown-user certificate: exit 77" 77
write_referral "$WORK/analyst.json" "CLI Analyst $RUN_TAG"
cli_as county-analyst referral submit "$WORK/analyst.json"
assert_rc "submit without the referrer role: exit 77" 77

key=$(new_key cli)
cli referral submit "$file" --idempotency-key "$key"
assert_rc "submit with --idempotency-key: exit 0" 0
key_ref=$(grep -Eo 'REF-[0-9]{4}-[0-9]{6}' "$OUT" | head -n 1)
assert_ne "a new key makes a new referral" "$ref" "$key_ref"
other=$(fixture referral-other "CLI Other $RUN_TAG")
cli referral submit "$other" --idempotency-key "$key"
assert_rc "the same --idempotency-key with another file: exit 80" 80
cli referral submit "$file" --idempotency-key "$key"
assert_rc "the same --idempotency-key with the same file: exit 0" 0
assert_contains "the same --idempotency-key with the same file: same reference" "$key_ref" "$(cat "$OUT")"
assert_eq "db: the conflicting file was not stored" 0 \
	"$(sql "SELECT count(*) FROM cdrp.referrals WHERE body->'subject'->>'name' = $(sql_lit "CLI Other $RUN_TAG")")"

# Unavailable: a port nobody listens on (bind one, then let it go).
free_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cli health --url "https://127.0.0.1:$free_port"
assert_rc "connection refused: exit 69" 69

# Configuration: settings missing or unusable.
CLI_RC=0
env -u CDRP_CA timeout 60 "$CLI" health >"$OUT" 2>"$ERR" </dev/null || CLI_RC=$?
assert_rc "no CA configured: exit 78" 78
cli health --cert "$WORK/no-such.crt"
assert_rc "unreadable --cert: exit 78" 78
cli health --url "ftp://127.0.0.1:1"
assert_rc_in "non-https --url: exit 78 or 64" "64 78"

cli referral frobnicate
assert_rc "unknown command: exit 64" 64
cli --no-such-option health
assert_rc "unknown option: exit 64" 64

# --- issue 9: version, did you mean, whole lists ----------------------------------------

cli --version
assert_rc "--version: exit 0" 0
assert_eq "--version: the client and the API it speaks" "cdrp 0.2 (API v1)" "$(out)"
cli version
assert_eq "cdrp version: the same" "cdrp 0.2 (API v1)" "$(out)"
cli referal list
assert_rc "a mistyped command: exit 64" 64
assert_contains "a mistyped command: did you mean" "unknown command 'referal'; did you mean 'referral'?" "$(err)"
cli referral lsit
assert_rc "a mistyped subcommand: exit 64" 64
assert_contains "a mistyped subcommand: did you mean" "did you mean 'list'?" "$(err)"
cli referral list --stauts submitted
assert_rc "a mistyped option: exit 64" 64
assert_contains "a mistyped option: did you mean" "did you mean '--status'?" "$(err)"
# The daemon's refusal names every choice too: action types is the longest
# list, cut at 200 bytes before.
req police-referrer POST /v1/cases/999999999/actions -H 'Content-Type: application/json' \
	-H "Idempotency-Key: $(new_key enum)" \
	--data-binary '{"type":"eviction"}'
assert_eq "daemon: an unknown action type is 400" 400 "$STATUS"
assert_contains "daemon: the problem lists every action type" \
	"criminal_behaviour_order, closure_order, other" "$(jget "$BODY" detail)"

finish
