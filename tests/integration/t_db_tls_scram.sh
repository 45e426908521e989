#!/usr/bin/env bash
# t_db_tls_scram: deploy/PRODUCTION.md's database set-up ("PostgreSQL":
# "Roles", "Network, TLS and pg_hba.conf", "cdrpd's connection strings"),
# for real, on a devstack of its own:
#   1. a test CA made with openssl issues PostgreSQL's server certificate
#      (127.0.0.1 and localhost); the cluster listens on 127.0.0.1 with
#      ssl = on, password_encryption = scram-sha-256, and a pg_hba.conf
#      that lets cdrp_app in only by `hostssl ... 127.0.0.1/32
#      scram-sha-256` (plain TCP and the Unix socket rejected); reloaded;
#   2. cdrp_app gets a password (stored as a SCRAM verifier), which cdrpd
#      reads from a libpq password file (PGPASSFILE, 0600), never from its
#      config; `database =` is the guide's form, sslmode=verify-full with
#      sslrootcert = the test CA;
#   3. `cdrpd -t` passes, cdrpd starts, answers /v1/health and stores a
#      referral; pg_stat_ssl shows its connections encrypted;
#   4. what must fail does: another CA as sslrootcert, a wrong password, a
#      group-readable password file, sslmode=disable, the Unix socket;
#      and the password is in no log and no output;
#   5. `cdrpd --migrate` (as an upgrade runs it) leaves the password alone.
# The devstack's PostgreSQL runs as an unprivileged OS user, so the server's
# files belong to that user and pg_ctl runs as it (as `postgres` would).
. "$(dirname "$0")/lib.sh"

readonly PGBIN=/usr/lib/postgresql/15/bin
readonly CDRPD=$CDRP_BIN/cdrpd
# The schema version this cdrpd needs ("cdrpd 0.2 (schema 12)").
SCHEMA=$("$CDRPD" --version | sed -n 's/.*(schema \([0-9]*\)).*/\1/p')
# devstack down (at exit) stops the cdrpd named by $STACK/cdrpd.pid (ours,
# see start_cdrpd) and the cluster, whatever port it listens on.
own_stack cdrp-tls

if stack_up; then
	ok "own devstack up"
else
	not_ok "own devstack up"
	finish
fi

PGDATA_DIR=$STACK/pg/data
PGLOG=$STACK/pg/log/postgresql.log
CONF=$STACK/cdrpd.conf
LOG=$STACK/cdrpd-tls.log

# The devstack's own cdrpd connects over the socket with trust: stop it,
# this test starts its own on the same config file (so devstack down stops
# it too).
stop_cdrpd
no_app_sessions() { [[ -z $(sql "SELECT 1 FROM pg_stat_activity WHERE usename = 'cdrp_app' LIMIT 1") ]]; }
check "the devstack's own cdrpd stopped, its sessions gone" wait_for 10 no_app_sessions

# --- 1. a test CA and PostgreSQL's server certificate -------------------------------------

DBPKI=$STACK/dbpki
mkdir -p -- "$DBPKI"
(
	cd "$DBPKI" || exit 1
	exec 2>>openssl.log
	cat >ext.cnf <<'EOF'
[ ca_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
[ server_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EOF
	umask 077
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key &&
		openssl req -new -x509 -key ca.key -subj "/CN=cdrp test database CA" -days 30 \
			-sha256 -config ext.cnf -extensions ca_ext -out ca.crt &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out db.key &&
		openssl req -new -key db.key -subj "/O=Harrowmere CSP/CN=localhost" -out db.csr &&
		openssl x509 -req -in db.csr -CA ca.crt -CAkey ca.key -set_serial 0x1001 -days 30 \
			-sha256 -extfile ext.cnf -extensions server_ext -out db.crt &&
		chmod 0644 ca.crt db.crt
)
cert_ok() { openssl verify -CAfile "$DBPKI/ca.crt" -verify_ip 127.0.0.1 "$DBPKI/db.crt" >/dev/null; }
check "test CA and a server certificate for localhost/127.0.0.1" cert_ok
# The server's files, the key 0600 and owned by the server's OS user
# (PostgreSQL refuses a key others can read).
PGTLS=$STACK/pg/tls
mkdir -p -- "$PGTLS"
cp -- "$DBPKI/db.crt" "$DBPKI/db.key" "$PGTLS/"
chmod 0600 "$PGTLS/db.key"
if [[ -n $PG_OS_USER ]]; then
	chown -R -- "$PG_OS_USER:" "$PGTLS"
fi
chmod 0700 "$PGTLS"

# --- 2. TCP on 127.0.0.1, TLS, SCRAM, pg_hba.conf -------------------------------------------

# A free TCP port (the cluster's port also names its socket: PGPORT follows).
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sql "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" >/dev/null
sql "ALTER SYSTEM SET port = $PORT" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGLOG" -m fast -w -t 60 -s restart
assert_eq "PostgreSQL restarted to listen on 127.0.0.1:$PORT" 0 "$?"
export PGPORT=$PORT
assert_eq "...it answers on its socket at the new port" 1 "$(sql "SELECT 1")"

# The guide's postgresql.conf settings, then its pg_hba.conf (first match
# wins): the superuser keeps its socket (the devstack's trust stands in for
# peer); cdrp_app only over TLS from 127.0.0.1 with SCRAM; the rest refused.
sql "ALTER SYSTEM SET ssl = on" >/dev/null
sql "ALTER SYSTEM SET ssl_cert_file = '$PGTLS/db.crt'" >/dev/null
sql "ALTER SYSTEM SET ssl_key_file = '$PGTLS/db.key'" >/dev/null
sql "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2'" >/dev/null
sql "ALTER SYSTEM SET password_encryption = 'scram-sha-256'" >/dev/null
as_pg tee "$PGDATA_DIR/pg_hba.conf" >/dev/null <<'EOF'
# Written by tests/integration/t_db_tls_scram.sh (deploy/PRODUCTION.md).
# TYPE   DATABASE     USER          ADDRESS          METHOD
local    all          postgres                       trust
hostssl  cdrp         cdrp_app      127.0.0.1/32     scram-sha-256
local    all          all                            reject
host     all          all           0.0.0.0/0        reject
host     all          all           ::/0             reject
EOF
sql "SELECT pg_reload_conf()" >/dev/null
ssl_on() { [[ $(sql "SHOW ssl") == on ]]; }
check "reload: ssl = on" wait_for 10 ssl_on
assert_eq "reload: password_encryption = scram-sha-256" scram-sha-256 "$(sql "SHOW password_encryption")"
assert_eq "pg_hba_file_rules: no errors" 0 "$(sql "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")"
assert_eq "pg_hba_file_rules: cdrp_app only by hostssl 127.0.0.1 scram-sha-256" \
	"hostssl|{cdrp}|127.0.0.1|scram-sha-256" \
	"$(sql "SELECT type, database, address, auth_method FROM pg_hba_file_rules WHERE 'cdrp_app' = ANY (user_name)")"

# The password: random, stored by the server as a SCRAM verifier (the
# guide's \password does the hashing in psql; ALTER ROLE with
# password_encryption = scram-sha-256 stores the same kind of verifier).
PW="Pw-$(openssl rand -hex 12)"
sql "ALTER ROLE cdrp_app PASSWORD $(sql_lit "$PW")" >/dev/null
assert_eq "pg_authid: cdrp_app's password is a SCRAM verifier (the guide's check)" \
	'cdrp_app|SCRAM-SHA-256$' \
	"$(sql "SELECT rolname, left(rolpassword, 14) FROM pg_authid WHERE rolname LIKE 'cdrp%' AND rolpassword IS NOT NULL")"
verifier=$(sql "SELECT rolpassword FROM pg_authid WHERE rolname = 'cdrp_app'")
assert_not_contains "...which does not hold the password" "$PW" "$verifier"

# --- 3. cdrpd over TLS with SCRAM ------------------------------------------------------------

PGPASS=$STACK/pgpass
(umask 077 && printf '127.0.0.1:%s:cdrp:cdrp_app:%s\n' "$PORT" "$PW" >"$PGPASS")
assert_eq "password file mode 0600" 600 "$(stat -c %a "$PGPASS")"
DSN="host=127.0.0.1 port=$PORT dbname=cdrp user=cdrp_app sslmode=verify-full sslrootcert=$DBPKI/ca.crt"
# conf_with FILE DATABASE: the devstack's config with another `database =`
# (and `migrate_database =`, the superuser on the socket, at the new port).
conf_with() {
	sed -e "s|^database = .*|database = $2|" \
		-e "s|^migrate_database = .*|migrate_database = host=$PGHOST port=$PORT dbname=cdrp user=postgres|" \
		"$STACK/cdrpd.conf.devstack" >"$1"
}
cp -- "$CONF" "$STACK/cdrpd.conf.devstack"
conf_with "$CONF" "$DSN"
assert_eq "the config's database line is the guide's form" "database = $DSN" "$(grep '^database = ' "$CONF")"
assert_not_contains "no password in the config" "$PW" "$(cat "$CONF")"

# cdrpd_t PGPASSFILE CONF: `cdrpd -t`; exit code in T_RC, all output in $T_OUT.
T_OUT=$WORK/t.out
ALL_T_OUT=$WORK/t.all
: >"$ALL_T_OUT"
cdrpd_t() {
	T_RC=0
	PGPASSFILE=$1 timeout 30 "$CDRPD" -t -c "$2" >"$T_OUT" 2>&1 </dev/null || T_RC=$?
	cat -- "$T_OUT" >>"$ALL_T_OUT"
}
cdrpd_t "$PGPASS" "$CONF"
assert_eq "cdrpd -t: TLS (verify-full) and SCRAM: valid" 0 "$T_RC"
[[ $T_RC == 0 ]] || sed 's/^/#   /' "$T_OUT"
assert_contains "...at schema $SCHEMA" \
	"the database answers at schema $SCHEMA" "$(cat "$T_OUT")"

# The guide's production form: a name in host= (checked against the
# certificate), the address in hostaddr= (no lookup), and a password file
# whose host field is host=, not the address.
PGPASS_NAME=$WORK/pgpass-name
(umask 077 && printf 'localhost:%s:cdrp:cdrp_app:%s\n' "$PORT" "$PW" >"$PGPASS_NAME")
conf_with "$WORK/hostaddr.conf" "host=localhost hostaddr=127.0.0.1 port=$PORT dbname=cdrp user=cdrp_app sslmode=verify-full sslrootcert=$DBPKI/ca.crt"
cdrpd_t "$PGPASS_NAME" "$WORK/hostaddr.conf"
assert_eq "cdrpd -t: host=localhost hostaddr=127.0.0.1, password file keyed by host=: valid" 0 "$T_RC"
[[ $T_RC == 0 ]] || sed 's/^/#   /' "$T_OUT"
assert_not_contains "...and no warning about a blocking name lookup" "blocking lookup" "$(cat "$T_OUT")"

start_cdrpd() { PGPASSFILE=$PGPASS start_stack_cdrpd "$CDRPD"; }
if start_cdrpd; then
	ok "cdrpd started with PGPASSFILE (log: $LOG)"
else
	not_ok "cdrpd started with PGPASSFILE" "$(tail -n 20 "$LOG")"
	finish
fi
health_200() {
	req police-referrer GET /v1/health
	[[ $STATUS == 200 ]]
}
check "GET /v1/health: 200" wait_for 15 health_200
assert_eq "...database ok, schema $SCHEMA" \
	"ok $SCHEMA" \
	"$(body_field database) $(body_field schema_version)"

write_referral "$WORK/referral.json" "Morgan Tls"
post_referral police-referrer "$(new_key tls)" "$WORK/referral.json"
assert_status "POST /v1/referrals over a TLS database connection: 201" 201
ref_id=$(body_field id)
assert_eq "...stored in the database" 1 "$(sql "SELECT count(*) FROM cdrp.referrals WHERE id = $(sql_lit "$ref_id")::bigint")"

# Every connection of cdrp_app: from 127.0.0.1, encrypted.
assert_match "pg_stat_ssl: cdrpd's connections use TLS (connections|all ssl|client_addr)" \
	'^[1-9][0-9]*\|t\|127\.0\.0\.1$' \
	"$(sql "SELECT count(*), bool_and(s.ssl), string_agg(DISTINCT host(a.client_addr), ',')
	        FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'cdrp_app'")"
assert_match "...with TLS 1.2 or 1.3" '^TLSv1\.[23]$' \
	"$(sql "SELECT DISTINCT s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'cdrp_app'")"

# --- 4. what must be refused ---------------------------------------------------------------

# Another CA as sslrootcert: the partnership's client CA, a plausible slip.
conf_with "$WORK/wrong-ca.conf" "host=127.0.0.1 port=$PORT dbname=cdrp user=cdrp_app sslmode=verify-full sslrootcert=$CDRP_PKI/ca.crt"
cdrpd_t "$PGPASS" "$WORK/wrong-ca.conf"
assert_eq "cdrpd -t with another CA as sslrootcert: exit 78" 78 "$T_RC"
assert_match "...names the certificate verification" "certificate verify failed|certificate" "$(cat "$T_OUT")"

# No PGPASSFILE (an administrator running `cdrpd -t` from a shell, outside
# the unit that sets it): libpq looks in ~/.pgpass, which has no such line
# (deploy/PRODUCTION.md says to run -t with PGPASSFILE for this reason).
mkdir -p -- "$WORK/home"
T_RC=0
env -u PGPASSFILE HOME="$WORK/home" timeout 30 "$CDRPD" -t -c "$CONF" >"$T_OUT" 2>&1 </dev/null || T_RC=$?
cat -- "$T_OUT" >>"$ALL_T_OUT"
assert_eq "cdrpd -t without PGPASSFILE: exit 78" 78 "$T_RC"
assert_contains "...no password supplied" "no password supplied" "$(cat "$T_OUT")"

# A wrong password.
PGPASS_WRONG=$WORK/pgpass-wrong
(umask 077 && printf '127.0.0.1:%s:cdrp:cdrp_app:%s\n' "$PORT" "Wrong-$PW" >"$PGPASS_WRONG")
cdrpd_t "$PGPASS_WRONG" "$CONF"
assert_eq "cdrpd -t with a wrong password: exit 78" 78 "$T_RC"
assert_contains "...password authentication failed" "password authentication failed" "$(cat "$T_OUT")"

# The right password in a file others may read: libpq ignores the file.
PGPASS_OPEN=$WORK/pgpass-open
cp -- "$PGPASS" "$PGPASS_OPEN"
chmod 0644 "$PGPASS_OPEN"
cdrpd_t "$PGPASS_OPEN" "$CONF"
assert_eq "cdrpd -t with a password file of mode 0644: exit 78 (libpq ignores it)" 78 "$T_RC"
assert_match "...libpq says why" "group or world access|no password supplied" "$(cat "$T_OUT")"

# No TLS: pg_hba.conf has no line that lets it in.
conf_with "$WORK/no-ssl.conf" "host=127.0.0.1 port=$PORT dbname=cdrp user=cdrp_app sslmode=disable"
cdrpd_t "$PGPASS" "$WORK/no-ssl.conf"
assert_eq "cdrpd -t with sslmode=disable: exit 78" 78 "$T_RC"
assert_match "...refused by pg_hba.conf (no encryption)" 'pg_hba\.conf rejects connection.*no encryption' "$(cat "$T_OUT")"

# The Unix socket, where the devstack trusted everyone.
conf_with "$WORK/socket.conf" "host=$PGHOST port=$PORT dbname=cdrp user=cdrp_app"
cdrpd_t "$PGPASS" "$WORK/socket.conf"
assert_eq "cdrpd -t over the Unix socket as cdrp_app: exit 78" 78 "$T_RC"
assert_contains "...refused by pg_hba.conf" "pg_hba.conf rejects connection" "$(cat "$T_OUT")"

# No password anywhere it could leak.
cdrpd_t "$PGPASS" "$CONF"
assert_eq "cdrpd -t again: valid" 0 "$T_RC"
assert_not_contains "the password is not in cdrpd's log" "$PW" "$(cat "$LOG")"
assert_not_contains "...nor in any output of cdrpd -t" "$PW" "$(cat "$ALL_T_OUT")"
assert_not_contains "...nor in PostgreSQL's log" "$PW" "$(cat "$PGLOG")"
check "cdrpd's log is not empty (it was looked at)" test -s "$LOG"

# --- 5. an upgrade's migrate keeps the password -------------------------------------------------

stop_cdrpd
check "cdrpd stopped" bash -c "! kill -0 $(cat "$STACK/cdrpd.pid") 2>/dev/null"
"$CDRPD" --migrate -c "$CONF" >"$WORK/migrate.out" 2>&1
assert_eq "cdrpd --migrate (migrate_database: the superuser on the socket): exit 0" 0 "$?"
assert_eq "...cdrp_app's SCRAM verifier unchanged" "$verifier" \
	"$(sql "SELECT rolpassword FROM pg_authid WHERE rolname = 'cdrp_app'")"
cdrpd_t "$PGPASS" "$CONF"
assert_eq "...and cdrpd -t still connects with it" 0 "$T_RC"
assert_not_contains "the password is not in --migrate's output" "$PW" "$(cat "$WORK/migrate.out")"

finish
