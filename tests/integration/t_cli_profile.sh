#!/usr/bin/env bash
# t_cli_profile: cdrp's profile file and encrypted keys against the
# devstack's cdrpd (issue 9). Which identity a command ran as shows in the
# server's answer: police-referrer is let in (0), unknown-agency is not
# registered (77), revoked is refused in the handshake (75). So each
# precedence rule (option > environment > profile > default) is checked
# by what the daemon did, not by what the client says it picked.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"

# The devstack's settings are in the environment; these tests give them
# through profiles instead, so start from none.
URL=$CDRP_URL
unset CDRP_URL CDRP_CA CDRP_CERT CDRP_KEY CDRP_PARTNERSHIP CDRP_TIMEOUT CDRP_PROFILE \
	CDRP_KEY_PASSPHRASE_FILE
export XDG_CONFIG_HOME=$WORK/xdg
export CDRP_CONFIG=$WORK/config

# pcli [VAR=VALUE...] -- ARGS...: cdrp with those variables; CLI_RC, $OUT,
# $ERR as cli_as.
pcli() {
	local -a vars=()
	while [[ $1 != -- ]]; do
		vars+=("$1")
		shift
	done
	shift
	CLI_RC=0
	env "${vars[@]}" timeout 60 "$CLI" "$@" >"$OUT" 2>"$ERR" </dev/null || CLI_RC=$?
}

# section NAME WHO: a profile for the identity WHO of the devstack PKI.
section() {
	printf '[%s]\nurl = %s\nca = %s\ncert = %s\nkey = %s\n' "$1" "$URL" "$CDRP_PKI/ca.crt" \
		"$CDRP_PKI/$2.crt" "$CDRP_PKI/$2.key"
}

{
	echo "# profiles of t_cli_profile"
	echo "default = police"
	section police police-referrer
	echo "timeout = 20"
	section stranger unknown-agency
	section revoked revoked
} >"$CDRP_CONFIG"
chmod 600 "$CDRP_CONFIG"

# --- the profile file alone --------------------------------------------------

pcli -- health
assert_rc "default = police: health with no option or variable set: exit 0" 0
assert_contains "default = police: cdrpd answered" "database ok" "$(out)"
pcli -- health --profile stranger
assert_rc "--profile stranger: the server does not know that agency (77)" 77
pcli CDRP_PROFILE=stranger -- health
assert_rc "CDRP_PROFILE=stranger: 77" 77
pcli CDRP_PROFILE=stranger -- health --profile police
assert_rc "--profile wins over CDRP_PROFILE: 0" 0
pcli -- health --profile revoked
assert_rc "--profile revoked: refused in the handshake (75)" 75

# --- precedence: option > environment > profile --------------------------------

pcli CDRP_CERT="$CDRP_PKI/police-referrer.crt" CDRP_KEY="$CDRP_PKI/police-referrer.key" \
	-- health --profile revoked
assert_rc "environment wins over the profile (revoked profile, police env): 0" 0
pcli CDRP_CERT="$CDRP_PKI/unknown-agency.crt" CDRP_KEY="$CDRP_PKI/unknown-agency.key" -- health
assert_rc "environment wins over the profile (police profile, stranger env): 77" 77
pcli CDRP_CERT="$CDRP_PKI/unknown-agency.crt" CDRP_KEY="$CDRP_PKI/unknown-agency.key" \
	-- health --cert "$CDRP_PKI/police-referrer.crt" --key "$CDRP_PKI/police-referrer.key"
assert_rc "option wins over the environment: 0" 0
pcli -- health --profile stranger --cert "$CDRP_PKI/police-referrer.crt" \
	--key "$CDRP_PKI/police-referrer.key"
assert_rc "option wins over the profile: 0" 0
free_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pcli CDRP_URL="https://127.0.0.1:$free_port" -- health
assert_rc "CDRP_URL wins over the profile's url (nothing listens: 69)" 69
pcli CDRP_URL="https://127.0.0.1:$free_port" -- health --url "$URL"
assert_rc "--url wins over CDRP_URL: 0" 0

# --- where the file is ------------------------------------------------------------

mkdir -p "$XDG_CONFIG_HOME/cdrp" "$WORK/home/.config/cdrp"
cp "$CDRP_CONFIG" "$XDG_CONFIG_HOME/cdrp/config"
pcli -u CDRP_CONFIG -- health
assert_rc "\$XDG_CONFIG_HOME/cdrp/config is read: 0" 0
cp "$CDRP_CONFIG" "$WORK/home/.config/cdrp/config"
pcli -u CDRP_CONFIG -u XDG_CONFIG_HOME HOME="$WORK/home" -- health --profile stranger
assert_rc "without XDG_CONFIG_HOME, ~/.config/cdrp/config is read (stranger: 77)" 77
pcli CDRP_CONFIG=/dev/null -- health
assert_rc "CDRP_CONFIG=/dev/null: no profile, nothing configured (78)" 78

# Paths relative to the file's directory, ~/ from $HOME; a [default]
# section when nothing names a profile.
mkdir -p "$WORK/rel"
ln -sfn "$CDRP_PKI" "$WORK/rel/pki"
ln -sfn "$CDRP_PKI" "$WORK/home/pki"
printf '[default]\nurl = %s\nca = pki/ca.crt\ncert = ~/pki/police-referrer.crt\nkey = pki/police-referrer.key\n' \
	"$URL" >"$WORK/rel/config"
chmod 600 "$WORK/rel/config"
pushd / >/dev/null || exit 1
pcli CDRP_CONFIG="$WORK/rel/config" HOME="$WORK/home" -- health
popd >/dev/null || exit 1
assert_rc "[default] with relative and ~/ paths, run from /: 0" 0

# --- refusals ----------------------------------------------------------------------

chmod 660 "$CDRP_CONFIG"
pcli -- health
assert_rc "a group-writable profile file naming keys: refused (64)" 64
assert_match "the refusal gives FILE:LINE of the first key" "$CDRP_CONFIG:[0-9]+: names a key" "$(err)"
chmod 600 "$CDRP_CONFIG"
pcli -- health --profile polise
assert_rc "an unknown --profile: 64" 64
assert_contains "an unknown --profile: did you mean" "did you mean 'police'?" "$(err)"
cp "$CDRP_CONFIG" "$WORK/typo.config"
printf 'partnersihp = HM\n' >>"$WORK/typo.config"
pcli CDRP_CONFIG="$WORK/typo.config" -- health
assert_rc "an unknown key in the file: 64" 64
assert_match "an unknown key: FILE:LINE and a guess" \
	"typo.config:[0-9]+: unknown key 'partnersihp'; did you mean 'partnership'\\?" "$(err)"

# A partnership from the profile is sent: ZZ99 is none of police's, which
# the server refuses; police's own lets the same command through.
pol_agency=$(openssl x509 -in "$CDRP_PKI/police-referrer.crt" -noout -subject -nameopt multiline |
	awk -F' = ' '/organizationName/ {print $2; exit}')
pcode=$(sql "SELECT p.code FROM cdrp.partnerships p JOIN cdrp.agencies a ON a.partnership_id = p.id
	WHERE a.code = $(sql_lit "$pol_agency")")
assert_match "police's partnership code is known" '^[A-Z0-9]{2,16}$' "$pcode"
{
	section police police-referrer
	echo "partnership = ZZ99"
} >"$WORK/part.config"
chmod 600 "$WORK/part.config"
pcli CDRP_CONFIG="$WORK/part.config" -- referral list --profile police
assert_rc "the profile's partnership (ZZ99) reaches the server: refused, 77" 77
pcli CDRP_CONFIG="$WORK/part.config" CDRP_PARTNERSHIP="$pcode" -- referral list --profile police
assert_rc "CDRP_PARTNERSHIP wins over the profile's: 0" 0
pcli CDRP_CONFIG="$WORK/part.config" CDRP_PARTNERSHIP=ZZ98 -- referral list --profile police \
	--partnership "$pcode"
assert_rc "--partnership wins over CDRP_PARTNERSHIP: 0" 0

# --- encrypted private keys -------------------------------------------------------

PASS="t_cli_profile secret $RUN_TAG"
printf '%s\n' "$PASS" >"$WORK/pass"
printf '%s\r\n' "$PASS" >"$WORK/pass-crlf"
printf 'wrong %s\n' "$PASS" >"$WORK/pass-wrong"
(umask 077 && openssl pkey -in "$CDRP_PKI/police-referrer.key" -aes256 -passout "file:$WORK/pass" \
	-out "$WORK/enc-pkcs8.key")
(umask 077 && openssl ec -in "$CDRP_PKI/police-referrer.key" -aes256 -passout "file:$WORK/pass" \
	-out "$WORK/enc-trad.key" 2>/dev/null)
check "the PKCS#8 key is encrypted" grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$WORK/enc-pkcs8.key"
check "the traditional key is encrypted" grep -q "Proc-Type: 4,ENCRYPTED" "$WORK/enc-trad.key"
ENC=(--profile police --key "$WORK/enc-pkcs8.key")

pcli CDRP_KEY_PASSPHRASE_FILE="$WORK/pass" -- health "${ENC[@]}"
assert_rc "encrypted PKCS#8 key, passphrase file: exit 0" 0
pcli CDRP_KEY_PASSPHRASE_FILE="$WORK/pass" -- health --profile police --key "$WORK/enc-trad.key"
assert_rc "encrypted traditional PEM key, passphrase file: exit 0" 0
pcli CDRP_KEY_PASSPHRASE_FILE="$WORK/pass-crlf" -- health "${ENC[@]}"
assert_rc "a passphrase file with CRLF: exit 0" 0
pcli CDRP_KEY_PASSPHRASE_FILE="$WORK/pass-wrong" -- health "${ENC[@]}"
assert_rc "a wrong passphrase: exit 66" 66
assert_contains "a wrong passphrase: says so" "wrong passphrase" "$(err)"
assert_not_contains "a wrong passphrase: not printed" "$PASS" "$(out; err)"
pcli CDRP_KEY_PASSPHRASE_FILE="$WORK/no-such-pass" -- health "${ENC[@]}"
assert_rc "a missing passphrase file: exit 66" 66
pcli -- health "${ENC[@]}"
assert_rc "no passphrase file and stdin not a terminal: exit 78" 78
assert_contains "...saying how to give the passphrase" CDRP_KEY_PASSPHRASE_FILE "$(err)"

# An encrypted key named by the profile.
{
	section police police-referrer
} | sed "s|^key = .*|key = $WORK/enc-pkcs8.key|" >"$WORK/enc.config"
chmod 600 "$WORK/enc.config"
pcli CDRP_CONFIG="$WORK/enc.config" CDRP_KEY_PASSPHRASE_FILE="$WORK/pass" -- referral list --profile police
assert_rc "an encrypted key from the profile, passphrase file: exit 0" 0

# The prompt: on a terminal (a pty), with echo off, the passphrase never
# shown; then a wrong one typed.
cat >"$WORK/prompt_pty.py" <<'PY'
import os, pty, select, sys, termios, time
cdrp, typed = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cdrp, [cdrp] + sys.argv[3:])
out, echo = b"", "unknown"
def pump(until, secs):
    global out
    end = time.time() + secs
    while time.time() < end and not until(out):
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return
        out += data
pump(lambda o: b"passphrase for" in o, 20)
if b"passphrase for" in out:
    echo = "on" if termios.tcgetattr(fd)[3] & termios.ECHO else "off"
    os.write(fd, typed.encode() + b"\n")
pump(lambda o: False, 40)
_, status = os.waitpid(pid, 0)
print(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128)
print("echo " + echo)
sys.stdout.write(out.decode(errors="replace"))
PY
tty_run() { # TYPED ARGS...: the exit code, "echo on|off", then what the terminal showed
	local typed=$1
	shift
	env CDRP_CONFIG="$CDRP_CONFIG" timeout 90 "$PY" "$WORK/prompt_pty.py" "$CLI" "$typed" "$@" 2>&1
}
tty_out=$(tty_run "$PASS" health "${ENC[@]}")
assert_eq "prompt on the terminal, right passphrase: exit 0" 0 "$(sed -n 1p <<<"$tty_out")"
assert_eq "prompt: echo is off while typing" "echo off" "$(sed -n 2p <<<"$tty_out")"
assert_contains "prompt: names the key file" "passphrase for $WORK/enc-pkcs8.key" "$tty_out"
assert_contains "prompt: then the command's answer" "database ok" "$tty_out"
assert_not_contains "prompt: the passphrase is not shown" "$PASS" "$tty_out"
tty_out=$(tty_run "wrong $PASS" health "${ENC[@]}")
assert_eq "prompt, wrong passphrase: exit 66" 66 "$(sed -n 1p <<<"$tty_out")"
assert_contains "prompt, wrong passphrase: says so" "wrong passphrase (as typed)" "$tty_out"
assert_not_contains "prompt, wrong passphrase: not shown" "wrong $PASS" "$tty_out"
# The passphrase file wins over the terminal: no prompt at all.
tty_out=$(CDRP_KEY_PASSPHRASE_FILE="$WORK/pass" tty_run "" health "${ENC[@]}")
assert_eq "passphrase file and a terminal: exit 0" 0 "$(sed -n 1p <<<"$tty_out")"
assert_not_contains "passphrase file and a terminal: no prompt" "passphrase for" "$tty_out"

# --- version and did-you-mean, with the daemon up --------------------------------

pcli -- --version
assert_eq "cdrp --version" "cdrp 0.2 (API v1)" "$(out)"
pcli -- helth
assert_rc "a mistyped command does not reach the server: 64" 64
assert_contains "a mistyped command: did you mean" "did you mean 'health'?" "$(err)"

finish
