#!/usr/bin/env bash
# t_sql_rules: the SQL unit tests of the rule engines. Runs every
# tests/sql/*.sql with psql (as the devstack's superuser, ON_ERROR_STOP) and
# reports one ok / not ok per file. Each file does its work in a transaction
# it rolls back; a failed ASSERT makes psql exit non-zero. Afterwards the
# database must hold exactly what it held before.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SQL_DIR=$REPO/tests/sql

# run_sql_file FILE: psql on FILE, output into $WORK/<name>.out.
run_sql_file() {
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -f "$1" >"$WORK/$(basename "$1").out" 2>&1
}

# What the data tables hold (rows per table), to see that nothing stays.
snapshot() {
	sql "SELECT concat_ws(',', (SELECT count(*) FROM cdrp.partnerships),
		(SELECT count(*) FROM cdrp.agencies), (SELECT count(*) FROM cdrp.users),
		(SELECT count(*) FROM cdrp.cases), (SELECT count(*) FROM cdrp.persons),
		(SELECT count(*) FROM cdrp.case_persons), (SELECT count(*) FROM cdrp.incidents),
		(SELECT count(*) FROM cdrp.incident_reports), (SELECT count(*) FROM cdrp.victim_flags),
		(SELECT count(*) FROM cdrp.case_reviews), (SELECT count(*) FROM cdrp.risk_assessments),
		(SELECT count(*) FROM cdrp.actions), (SELECT count(*) FROM cdrp.audit_log))"
}

# The runner itself must see a failing assertion (else every file "passes").
printf '%s\n' '\set ON_ERROR_STOP 1' 'BEGIN;' \
	'DO $$ BEGIN ASSERT 1 = 2, '"'"'deliberate failure'"'"'; END $$;' 'ROLLBACK;' \
	>"$WORK/failing.sql"
if run_sql_file "$WORK/failing.sql"; then
	not_ok "control: a failing ASSERT makes the runner fail" "$(cat "$WORK/failing.sql.out")"
elif grep -q 'deliberate failure' "$WORK/failing.sql.out"; then
	ok "control: a failing ASSERT makes the runner fail"
else
	not_ok "control: a failing ASSERT fails for the wrong reason" "$(cat "$WORK/failing.sql.out")"
fi

files=("$SQL_DIR"/*.sql)
if [[ ! -e ${files[0]} ]]; then
	not_ok "tests/sql holds SQL unit tests" "no files in $SQL_DIR"
	finish
fi
for f in "${files[@]}"; do
	name=tests/sql/$(basename "$f")
	before=$(snapshot)
	if run_sql_file "$f"; then
		ok "$name"
	else
		not_ok "$name" "$(tail -n 20 "$WORK/$(basename "$f").out")"
	fi
	assert_eq "$name leaves the database as it was" "$before" "$(snapshot)"
done

finish
