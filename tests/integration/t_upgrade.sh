#!/usr/bin/env bash
# t_upgrade: deploy/PRODUCTION.md's "Upgrading", for real, from the previous
# release (git commit ec22fd9) to this build, on a devstack of its own:
#   1. the old cdrpd and cdrp are built from ec22fd9 in a git worktree under
#      /tmp (removed at the end); the old tree's deploy/devstack brings up a
#      stack with the old cdrpd, which stores referrals, accepts one into a
#      case, seals and signs; the checkpoint file is copied (a holder's copy)
#      and a base backup taken (the guide's restore point);
#   2. the guide's steps with the new binary: --version, --check-config on
#      the old config, -t naming the pending migration; the old cdrpd
#      stopped; `cdrpd --migrate -c FILE`; a second --migrate changes
#      nothing; the new cdrpd started;
#   3. checks: the schema version (cdrpd --version, cdrp_schema_migrations,
#      /v1/health, `cdrp health`), the old referrals and case through the
#      new API, a new referral, `cdrp audit verify` with the checkpoint held
#      from before the upgrade (the upgraded log extends it);
#   4. the old cdrpd refuses to start on the upgraded database.
. "$(dirname "$0")/lib.sh"

readonly OLD_REV=ec22fd9
readonly ADMIN=council-admin
readonly PGBIN=/usr/lib/postgresql/15/bin
readonly NEW_CDRPD=$CDRP_BIN/cdrpd

TMPD=$(mktemp -d /tmp/cdrp-upgrade.XXXXXX)
OLD_SRC=$TMPD/src
OLD_BIN=$OLD_SRC/build
own_stack cdrp-up
WORKTREE=0
# After the stack is down (by the old tree's devstack once it exists: the
# one that wrote its config): the old source tree.
own_stack_cleanup_hook() {
	if ((WORKTREE)); then
		git -C "$REPO" worktree remove --force "$OLD_SRC" >>"$WORK/build.log" 2>&1 ||
			echo "# git worktree remove --force $OLD_SRC failed"
	fi
	rm -rf -- "$TMPD"
}

schema_of() { # BINARY: the schema version it needs, from --version
	"$1" --version | sed -n 's/.*(schema \([0-9]*\)).*/\1/p'
}

# --- 1. the old release --------------------------------------------------------------------

t0=$SECONDS
# The previous release must be in the clone; a shallow clone (CI may make
# one) fetches it, and without it the test says so and stops.
if ! git -C "$REPO" cat-file -e "$OLD_REV^{commit}" 2>/dev/null; then
	git -C "$REPO" fetch --quiet --depth=100 origin main >>"$WORK/build.log" 2>&1 || true
fi
if ! git -C "$REPO" cat-file -e "$OLD_REV^{commit}" 2>/dev/null; then
	echo "ok - # SKIP the previous release $OLD_REV is not in this clone (shallow, no origin)"
	finish
fi
if git -C "$REPO" worktree add --detach "$OLD_SRC" "$OLD_REV" >>"$WORK/build.log" 2>&1; then
	WORKTREE=1
	how="git worktree"
else
	mkdir -p -- "$OLD_SRC"
	git -C "$REPO" archive "$OLD_REV" | tar -x -C "$OLD_SRC"
	how="git archive"
fi
# A plain build: not the sanitizer settings a make check-asan passes down
# in MAKEFLAGS (they would build into build-asan/).
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u B -u OPT -u CFLAGS -u LDFLAGS \
	make -C "$OLD_SRC" -j2 all >>"$WORK/build.log" 2>&1 && [[ -x $OLD_BIN/cdrpd && -x $OLD_BIN/cdrp ]]; then
	ok "old cdrpd and cdrp built from $OLD_REV ($how, $((SECONDS - t0)) s)"
else
	not_ok "old cdrpd and cdrp built from $OLD_REV ($how)" "$(tail -n 20 "$WORK/build.log")"
	finish
fi
OLD_SCHEMA=$(schema_of "$OLD_BIN/cdrpd")
NEW_SCHEMA=$(schema_of "$NEW_CDRPD")
check "the new cdrpd needs a newer schema ($NEW_SCHEMA) than the old ($OLD_SCHEMA)" \
	test "${OLD_SCHEMA:-0}" -gt 0 -a "${NEW_SCHEMA:-0}" -gt "${OLD_SCHEMA:-0}"

# The old tree's devstack: it writes the config the old cdrpd knows. It
# takes CDRP_BIN from the environment, where the runner put the new build.
OWN_DEVSTACK=$OLD_SRC/deploy/devstack
if STACK_BIN=$OLD_BIN stack_up; then
	ok "devstack of $OLD_REV up with the old cdrpd"
else
	not_ok "devstack of $OLD_REV up with the old cdrpd"
	finish
fi
CONF=$CDRP_CONF
LOG=$STACK/cdrpd.log
assert_eq "the running cdrpd is the old binary" "$(readlink -f "$OLD_BIN/cdrpd")" \
	"$(readlink "/proc/$(cat "$STACK/cdrpd.pid")/exe")"
schema_version() { sql "SELECT max(version) FROM public.cdrp_schema_migrations"; }
assert_eq "the database is at the old schema" "$OLD_SCHEMA" "$(schema_version)"

PGDATA_DIR=$STACK/pg/data

# Data written by the old cdrpd: three referrals, one accepted into a case.
declare -a REF_IDS=() REF_REFS=()
for name in "Morgan Oldham" "Casey Oldfield" "Jamie Oldcastle"; do
	write_referral "$WORK/referral.json" "$name"
	post_referral police-referrer "$(new_key up)" "$WORK/referral.json"
	assert_status "old cdrpd: referral for $name: 201" 201
	REF_IDS+=("$(body_field id)")
	REF_REFS+=("$(body_field reference)")
done
ACC=${REF_IDS[0]}
post council-caseworker "/v1/referrals/$ACC/accept" '{}'
assert_status "old cdrpd: the caseworker accepts referral $ACC into a case: 200" 200
CREF=$(body_field case_reference)
assert_match "...case reference" '^ASB-[0-9]{4}-[0-9]{4}$' "$CREF"
req council-caseworker GET "/v1/cases/$CREF"
assert_status "old cdrpd: the case reads back: 200" 200
OLD_CASE_STATUS=$(body_field status)
OLD_CASE_LEAD=$(body_field lead_agency)

check "old cdrpd: audit rows sealed and a checkpoint signed" wait_for 15 audit_checkpointed
HELD=$WORK/held-before-upgrade
cp -- "$CDRP_AUDIT_CHECKPOINTS" "$HELD"
OLD_SIZE=$(sql "SELECT size FROM cdrp.audit_seal_state")
echo "# checkpoint held before the upgrade: tree size $OLD_SIZE"
# The old client agrees the held checkpoint describes the old log.
CLI=$OLD_BIN/cdrp cli_as "$ADMIN" audit verify --checkpoint "$HELD" --pubkey "$CDRP_AUDIT_PUBKEY"
assert_rc "old cdrp audit verify against the old cdrpd: intact" 0

# The guide's step 1, a restore point (into a directory the server's OS
# user owns, as /srv/pg-backup belongs to postgres).
mkdir -p -- "$STACK/backup"
if [[ -n $PG_OS_USER ]]; then
	chown -- "$PG_OS_USER:" "$STACK/backup"
fi
chmod 0700 "$STACK/backup"
as_pg "$PGBIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$STACK/backup/pre-upgrade" \
	-X stream -c fast --no-password >"$WORK/basebackup.log" 2>&1
assert_eq "restore point: pg_basebackup before the upgrade" 0 "$?"

# --- 2. the upgrade, as the guide says -------------------------------------------------------

assert_match "cdrpd --version names the new schema" "\\(schema $NEW_SCHEMA\\)" "$("$NEW_CDRPD" --version)"
"$NEW_CDRPD" -c "$CONF" --check-config >"$WORK/check-config.out" 2>&1
assert_eq "new cdrpd --check-config on the old config: valid (no new keys needed)" 0 "$?"
[[ -s $WORK/check-config.out ]] && sed 's/^/#   /' "$WORK/check-config.out"
T_RC=0
"$NEW_CDRPD" -t -c "$CONF" >"$WORK/t-before.out" 2>&1 || T_RC=$?
assert_eq "new cdrpd -t before migrating: exit 78" 78 "$T_RC"
assert_contains "...names the version and the pending migration" \
	"database schema is at version $OLD_SCHEMA but cdrpd needs $NEW_SCHEMA: apply migration" \
	"$(cat "$WORK/t-before.out")"

# Stop cdrpd (systemctl stop: SIGTERM, exit 0 after the requests in flight).
old_pid=$(cat "$STACK/cdrpd.pid")
kill -TERM "$old_pid"
check "old cdrpd stopped on SIGTERM" wait_for 15 bash -c "! kill -0 $old_pid 2>/dev/null"
check "...and says so in its log" grep -q "cdrpd stopped" "$LOG"

MIG_RC=0
"$NEW_CDRPD" -c "$CONF" --migrate >"$WORK/migrate1.out" 2>"$WORK/migrate1.err" || MIG_RC=$?
assert_eq "cdrpd --migrate: exit 0" 0 "$MIG_RC"
[[ $MIG_RC == 0 ]] || sed 's/^/#   /' "$WORK/migrate1.err"
assert_eq "...prints the new schema version" "cdrpd: database schema at version $NEW_SCHEMA" \
	"$(cat "$WORK/migrate1.out")"
pending=$(sed -n 's/.*applied migration \([0-9][0-9]*_[a-z_]*\).*/\1/p' "$WORK/migrate1.err" | tr '\n' ' ')
expected_pending=
for f in "$REPO"/sql/migrations/[0-9]*.sql; do
	f=${f##*/}
	((10#${f%%_*} > OLD_SCHEMA)) && expected_pending+="${f%.sql} "
done
assert_eq "...applied exactly the migrations after $OLD_SCHEMA" "$expected_pending" "$pending"
assert_eq "schema version in cdrp_schema_migrations" "$NEW_SCHEMA" "$(schema_version)"
assert_eq "the code hash recorded is the new cdrpd's (cdrpd -t passes)" 0 \
	"$("$NEW_CDRPD" -t -c "$CONF" >"$WORK/t-after.out" 2>&1; echo $?)"

# state: what a second migrate must leave alone (applied_at included: a
# re-applied migration would get a new one).
state() {
	sql "SELECT string_agg(version || ' ' || name || ' ' || applied_at, ',' ORDER BY version)
	     FROM public.cdrp_schema_migrations"
	sql "SELECT sha256 FROM public.cdrp_schema_code"
	sql "SELECT (SELECT count(*) FROM cdrp.referrals), (SELECT count(*) FROM cdrp.cases),
	            (SELECT count(*) FROM cdrp.audit_log), (SELECT size FROM cdrp.audit_seal_state)"
	sql "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE 'cdrp%' ORDER BY 1"
	"$PGBIN/pg_dump" -X -s -d "$PGDATABASE" 2>&1 | grep -v '^--' | md5sum
}
state >"$WORK/state1"
MIG_RC=0
"$NEW_CDRPD" -c "$CONF" --migrate >"$WORK/migrate2.out" 2>"$WORK/migrate2.err" || MIG_RC=$?
assert_eq "cdrpd --migrate a second time: exit 0" 0 "$MIG_RC"
assert_not_contains "...applies no migration" "applied migration" "$(cat "$WORK/migrate2.err")"
state >"$WORK/state2"
if cmp -s "$WORK/state1" "$WORK/state2"; then
	ok "...and changes nothing (migrations, code hash, data, roles, pg_dump -s)"
else
	not_ok "...and changes nothing" "$(diff "$WORK/state1" "$WORK/state2")"
fi

# systemctl start cdrpd: the new binary on the same config.

log_before=$(log_lines)
if start_stack_cdrpd "$NEW_CDRPD"; then
	ok "new cdrpd started on the upgraded database"
else
	not_ok "new cdrpd started on the upgraded database" "$(tail -n +"$((log_before + 1))" "$LOG" | tail -n 20)"
	finish
fi
health_200() {
	req police-referrer GET /v1/health
	[[ $STATUS == 200 ]]
}
check "GET /v1/health: 200" wait_for 15 health_200
assert_eq "...database ok at schema $NEW_SCHEMA" "ok $NEW_SCHEMA" \
	"$(body_field database) $(body_field schema_version)"
check "its log says ready at schema $NEW_SCHEMA" log_since "$log_before" "cdrpd ready \\(schema $NEW_SCHEMA"

# --- 3. after the upgrade ---------------------------------------------------------------------

cli_as police-referrer health
assert_rc "cdrp health: exit 0" 0
assert_contains "...schema version $NEW_SCHEMA (the guide's check)" "schema version $NEW_SCHEMA" "$(out)"

for i in "${!REF_IDS[@]}"; do
	req police-referrer GET "/v1/referrals/${REF_IDS[$i]}"
	assert_status "old referral ${REF_REFS[$i]} readable through the new API: 200" 200
	assert_eq "...same reference" "${REF_REFS[$i]}" "$(body_field reference)"
done
req police-referrer GET "/v1/referrals/$ACC"
assert_eq "the accepted referral: accepted, into $CREF" "accepted $CREF" \
	"$(body_field status) $(body_field case_reference)"
req council-caseworker GET "/v1/cases/$CREF"
assert_status "the old case through the new API: 200" 200
assert_eq "...same reference, status and lead agency" "$CREF $OLD_CASE_STATUS $OLD_CASE_LEAD" \
	"$(body_field reference) $(body_field status) $(body_field lead_agency)"
req police-referrer GET "/v1/referrals?limit=50"
assert_status "referral list: 200" 200
assert_eq "...lists the three old referrals" 3 \
	"$("$PY" -c 'import json,sys; refs=set(sys.argv[2:]); print(sum(1 for i in json.load(open(sys.argv[1]))["items"] if i.get("reference") in refs))' "$BODY" "${REF_REFS[@]}" 2>/dev/null)"

write_referral "$WORK/referral.json" "Riley Newbury"
post_referral police-referrer "$(new_key up-new)" "$WORK/referral.json"
assert_status "a new referral after the upgrade: 201" 201

check "new cdrpd: sealed and signed a checkpoint" wait_for 15 audit_checkpointed
NEW_SIZE=$(sql "SELECT size FROM cdrp.audit_seal_state")
check "the signed log grew past the held checkpoint ($OLD_SIZE < $NEW_SIZE)" test "$NEW_SIZE" -gt "$OLD_SIZE"
req "$ADMIN" GET /v1/health
assert_eq "health: signing ok" ok "$(body_field audit.signing)"
cli_as "$ADMIN" audit verify --checkpoint "$HELD" --pubkey "$CDRP_AUDIT_PUBKEY"
assert_rc "cdrp audit verify with the checkpoint held from before the upgrade: exit 0" 0
assert_contains "...intact" "intact" "$(out)"
cli_as "$ADMIN" audit verify --checkpoint "$CDRP_AUDIT_CHECKPOINTS" --pubkey "$CDRP_AUDIT_PUBKEY"
assert_rc "...and with the whole checkpoint file, old and new notes: exit 0" 0

# --- 4. the old binary on the upgraded database ----------------------------------------------

new_pid=$(cat "$STACK/cdrpd.pid")
kill -TERM "$new_pid"
check "new cdrpd stopped" wait_for 15 bash -c "! kill -0 $new_pid 2>/dev/null"
rm -f -- "$STACK/cdrpd.port"
OLD_RC=0
timeout 20 "$OLD_BIN/cdrpd" -c "$CONF" >"$WORK/old-start.log" 2>&1 </dev/null || OLD_RC=$?
check "the old cdrpd refuses to start on the upgraded database (exit $OLD_RC)" \
	test "$OLD_RC" -ne 0 -a "$OLD_RC" -ne 124
assert_contains "...its log says why" \
	"database schema is at version $NEW_SCHEMA, newer than this cdrpd ($OLD_SCHEMA): upgrade cdrpd" \
	"$(cat "$WORK/old-start.log")"
check "...before it listened (no port file)" test ! -s "$STACK/cdrpd.port"

finish
