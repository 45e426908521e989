#!/usr/bin/env bash
# t_backup_restore: the backup, restore and audit-verify procedure of
# deploy/PRODUCTION.md, for real, on a devstack of its own:
#   1. WAL archiving on; referrals written, sealed and checkpointed; the
#      checkpoint file copied (held1); a base backup taken with
#      pg_basebackup -X stream and checked with pg_verifybackup;
#   2. more referrals (held2, and the time T2), then more again (held3);
#   3. restore of the base backup alone into a new data directory:
#      exactly the backup's referrals; `cdrp audit verify` with held1
#      passes, with held2 and held3 it reports the truncation (exit 3);
#      cdrpd refuses to sign while its checkpoint file is ahead of the
#      restored log, and signs again once the file is moved aside;
#   4. point-in-time recovery from the base backup and the WAL archive to
#      T2: exactly the referrals up to T2; held2 verifies, held3 reports
#      the truncation.
# The devstack's PostgreSQL runs as an unprivileged OS user (deploy/devstack
# pick_pg_user: the owner of the data directory), so every backup and
# restore command runs as that user, as it would as `postgres` in
# production.
. "$(dirname "$0")/lib.sh"

readonly ADMIN=council-admin
readonly PGBIN=/usr/lib/postgresql/15/bin
# (a PostgreSQL this test starts by hand for recovery stops with the rest:
# devstack down stops whatever runs on $STACK/pg/data)
own_stack cdrp-br

stack_up || {
	not_ok "own devstack up"
	finish
}
ok "own devstack up"

PGDATA_DIR=$STACK/pg/data
echo "# PostgreSQL runs as ${PG_OS_USER:-$(id -un)}"

ARCH=$STACK/wal-archive
BK=$STACK/backup
mkdir -p -- "$ARCH" "$BK"
if [[ -n $PG_OS_USER ]]; then
	chown -- "$PG_OS_USER:" "$ARCH" "$BK"
fi
chmod 0700 "$ARCH" "$BK"

referral_file=$WORK/referral.json
write_referral "$referral_file" "Morgan Ashdown"
submit() { # N: N referrals one after another; prints how many got 201
	local i n=0 code
	for ((i = 0; i < $1; i++)); do
		code=$(curl -sS --max-time 10 --cacert "$CDRP_CA" --cert "$CDRP_PKI/police-referrer.crt" \
			--key "$CDRP_PKI/police-referrer.key" -o /dev/null -w '%{http_code}' \
			-H 'Content-Type: application/json' -H "Idempotency-Key: $(new_key br)" \
			--data-binary "@$referral_file" "$CDRP_URL/v1/referrals")
		[[ $code == 201 ]] && n=$((n + 1))
	done
	echo "$n"
}
referrals() { sql "SELECT count(*) FROM cdrp.referrals"; }
# hold FILE: the checkpoint file as an outside holder keeps it.
hold() {
	cp -- "$CDRP_AUDIT_CHECKPOINTS" "$1"
}
verify() { # HELD [ARGS...]: cdrp audit verify as the admin
	local held=$1
	shift
	cli_as "$ADMIN" audit verify --checkpoint "$held" --pubkey "$CDRP_AUDIT_PUBKEY" "$@"
}
signing() {
	req "$ADMIN" GET /v1/health
	jget "$BODY" audit.signing
}
signing_is() { [[ $(signing) == "$1" ]]; }

# --- 1. archiving, first writes, base backup ------------------------------------------------

sql "ALTER SYSTEM SET archive_mode = 'on'" >/dev/null
sql "ALTER SYSTEM SET archive_command = 'test ! -f $ARCH/%f && cp %p $ARCH/%f'" >/dev/null
stack_down
stack_up || not_ok "devstack restarted with WAL archiving"
assert_eq "WAL archiving on" on "$(sql "SHOW archive_mode")"

assert_eq "5 referrals stored" 5 "$(submit 5)"
check "sealed and checkpointed" wait_for 10 audit_checkpointed
HELD1=$WORK/held1
hold "$HELD1"
R1=$(referrals)
size1=$(sql "SELECT size FROM cdrp.audit_seal_state")

t0=$SECONDS
as_pg "$PGBIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$BK/base" \
	-X stream -c fast --no-password >"$WORK/basebackup.log" 2>&1
rc=$?
assert_eq "pg_basebackup -X stream as $PG_OS_USER ($((SECONDS - t0)) s)" 0 "$rc"
[[ $rc == 0 ]] || sed 's/^/# /' "$WORK/basebackup.log"
check "the backup has its backup_label and WAL" \
	test -f "$BK/base/backup_label" -a -n "$(ls -A "$BK/base/pg_wal" 2>/dev/null)"
as_pg "$PGBIN/pg_verifybackup" "$BK/base" >"$WORK/verifybackup.log" 2>&1
assert_eq "pg_verifybackup: the backup is complete" 0 "$?"
assert_eq "no writes during the backup" "$R1" "$(referrals)"

# --- 2. writes after the backup --------------------------------------------------------------

assert_eq "5 more referrals" 5 "$(submit 5)"
check "sealed and checkpointed" wait_for 10 audit_checkpointed
HELD2=$WORK/held2
hold "$HELD2"
R2=$(referrals)
size2=$(sql "SELECT size FROM cdrp.audit_seal_state")
T2=$(sql "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1.2
assert_eq "5 more again" 5 "$(submit 5)"
check "sealed and checkpointed" wait_for 10 audit_checkpointed
HELD3=$WORK/held3
hold "$HELD3"
R3=$(referrals)
size3=$(sql "SELECT size FROM cdrp.audit_seal_state")
check "the checkpoints grew: $size1 < $size2 < $size3" test "$size1" -lt "$size2" -a "$size2" -lt "$size3"
check "the referrals too: $R1 < $R2 < $R3" test "$R1" -lt "$R2" -a "$R2" -lt "$R3"
verify "$HELD1"
assert_rc "before any restore, the live log extends held1" 0

# Close the current WAL segment and wait until it is archived.
last_wal=$(sql "SELECT pg_walfile_name(pg_current_wal_lsn())")
sql "SELECT pg_switch_wal()" >/dev/null
check "WAL up to the last writes archived ($last_wal)" wait_for 30 test -f "$ARCH/$last_wal"
stack_down
check "the original cluster stopped" test ! -f "$PGDATA_DIR/postmaster.pid"
# The server is "lost": its data directory is kept aside, untouched.
mv -- "$PGDATA_DIR" "$STACK/pg/data.lost"

# restore_base DIR: the base backup copied into a new data directory DIR.
restore_base() {
	rm -rf -- "$1"
	as_pg cp -a -- "$BK/base" "$1" && as_pg chmod 0700 "$1"
}

# --- 3. restore of the base backup alone ------------------------------------------------------

restore_base "$PGDATA_DIR"
assert_eq "base backup copied into a new data directory" 0 "$?"
# A copy that is not to archive into the primary's archive: off.
echo "archive_mode = 'off'" | as_pg tee -a "$PGDATA_DIR/postgresql.auto.conf" >/dev/null
# The checkpoint file stays as the lost server left it (held3 is its end).
if stack_up; then
	ok "PostgreSQL and cdrpd up on the restored base backup"
else
	not_ok "PostgreSQL and cdrpd up on the restored base backup"
	finish
fi
assert_eq "the restored database has exactly the backup's referrals" "$R1" "$(referrals)"
verify "$HELD1"
assert_rc "verify with the checkpoint held at backup time: intact" 0
assert_contains "...says intact" "intact" "$(out)"
verify "$HELD2"
assert_rc "verify with a later checkpoint: tampering found (exit 3)" 3
assert_contains "...the truncation" "truncated" "$(out)$(err)"
verify "$HELD3"
assert_rc "verify with the latest checkpoint: exit 3" 3
assert_contains "...the truncation" "truncated" "$(out)$(err)"

# New writes on the restored log: cdrpd's own checkpoint file is ahead of
# it, so it seals but refuses to sign (PRODUCTION.md, "When cdrpd stops
# signing").
assert_eq "a referral on the restored database" 1 "$(submit 1)"
check "cdrpd refuses to sign: its checkpoint file is ahead of the restored log" \
	wait_for 10 signing_is refused
check "...and says why in its log" grep -qiE "refus|not an extension|truncat" "$STACK/cdrpd.log"
# The documented procedure: keep the old file, move it aside, restart.
stop_cdrpd
mv -- "$CDRP_AUDIT_CHECKPOINTS" "$STACK/audit-checkpoints.before-restore"
stack_up || not_ok "cdrpd restarted with the checkpoint file moved aside"
assert_eq "another referral" 1 "$(submit 1)"
check "cdrpd signs again, into a new checkpoint file" wait_for 10 audit_checkpointed
assert_eq "health: signing ok" ok "$(signing)"
verify "$HELD1"
assert_rc "the checkpoint held at backup time still verifies against the new log" 0
verify "$CDRP_AUDIT_CHECKPOINTS"
assert_rc "...and so does the new checkpoint file" 0
# The new log has grown past held2's size (devstack up registers its
# identities again, 19 audit rows): held2 now sees a fork, not a truncation.
check "the new signed log is larger than held2 ($size2)" \
	test "$(sql "SELECT max(size) FROM cdrp.audit_checkpoint")" -gt "$size2"
verify "$HELD2"
assert_rc "verify with a checkpoint of the lost writes: still exit 3" 3
assert_contains "...now as a fork" "not an extension of your checkpoint" "$(out)$(err)"
stack_down

# --- 4. point-in-time recovery to T2 ------------------------------------------------------------

restore_base "$PGDATA_DIR"
as_pg tee -a "$PGDATA_DIR/postgresql.auto.conf" >/dev/null <<EOF
restore_command = 'cp $ARCH/%f %p'
recovery_target_time = '$T2'
recovery_target_action = 'promote'
EOF
as_pg touch "$PGDATA_DIR/recovery.signal"
pglog=$STACK/pg/log/postgresql.log
log_before=$(wc -l <"$pglog")
as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$pglog" -w -t 120 -s start
assert_eq "PostgreSQL started in recovery to $T2" 0 "$?"
promoted() { [[ $(sql "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]; }
check "recovery reached its target and promoted" wait_for 60 promoted
check "...stopping before a commit after the target" \
	grep -q "recovery stopping before commit" <(tail -n "+$((log_before + 1))" "$pglog")
check "...recovery.signal consumed" test ! -e "$PGDATA_DIR/recovery.signal"
# The server's checkpoint file is ahead of the recovered log: aside.
mv -- "$CDRP_AUDIT_CHECKPOINTS" "$STACK/audit-checkpoints.before-pitr"
if stack_up; then
	ok "cdrpd up on the recovered database"
else
	not_ok "cdrpd up on the recovered database"
	finish
fi
assert_eq "the recovered database has the referrals up to T2, none after" "$R2" "$(referrals)"
check "its audit tree reaches held2's size ($size2)" \
	test "$(sql "SELECT size FROM cdrp.audit_seal_state")" -ge "$size2"
verify "$HELD2"
assert_rc "verify with the checkpoint held at T2: intact" 0
verify "$HELD1"
assert_rc "verify with the checkpoint held at backup time: intact" 0
# Recovery stopped before held3's entries; since then the recovered log
# has had entries of its own (migrate, the identities, these verifies):
# while it is smaller than held3 that is a truncation, once it is as large
# a fork ("not an extension"). Either way exit 3.
now_size=$(sql "SELECT size FROM cdrp.audit_seal_state")
verify "$HELD3"
assert_rc "verify with the checkpoint taken after T2: exit 3" 3
assert_match "...as a truncation or a fork (log $now_size, held3 $size3)" \
	"the log was truncated|not an extension of your checkpoint" "$(out)$(err)"
assert_eq "a referral after recovery" 1 "$(submit 1)"
check "cdrpd signs the recovered log" wait_for 10 audit_checkpointed
assert_eq "health: signing ok" ok "$(signing)"

finish
