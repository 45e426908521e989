#!/usr/bin/env bash
# t_install: `make install` and `make uninstall` (issue 9) into a staging
# directory: every file where the Makefile, the man pages and
# deploy/PRODUCTION.md say, with the right modes and contents; nothing in
# /etc; the installed binaries run; the installed man pages render without
# warnings; the installed systemd unit names the installed binary and passes
# `systemd-analyze verify` and `systemd-analyze security` (when present);
# PREFIX, DESTDIR and SYSTEMDUNITDIR are honoured; uninstall removes it all.
#
# The binaries installed are those of $CDRP_BIN (make's -o keeps make from
# rebuilding them here: the tree may be mid-edit while the tests run).
. "$(dirname "$0")/lib.sh"

STAGE=$WORK/stage
# The parent make's settings (B=build-asan, OPT=...) must not leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
mk() { # ARGS...: make in the repository with the test's binaries
	make -s -C "$REPO" B="$CDRP_BIN" -o "$CDRP_BIN/cdrpd" -o "$CDRP_BIN/cdrp" "$@"
}
mode() { stat -c %a -- "$1" 2>/dev/null || echo missing; }

# --- make install DESTDIR=... PREFIX=/usr --------------------------------------------------------

mk install DESTDIR="$STAGE" PREFIX=/usr >"$WORK/install.log" 2>&1
rc=$?
assert_eq "make install DESTDIR=... PREFIX=/usr" 0 "$rc"
((rc == 0)) || sed 's/^/# /' "$WORK/install.log" | tail -n 20

declare -A want=(
	[usr/sbin/cdrpd]="755 $CDRP_BIN/cdrpd"
	[usr/bin/cdrp]="755 $CDRP_BIN/cdrp"
	[usr/share/man/man1/cdrp.1]="644 $REPO/docs/man/cdrp.1"
	[usr/share/man/man5/cdrpd.conf.5]="644 $REPO/docs/man/cdrpd.conf.5"
	[usr/share/man/man8/cdrpd.8]="644 $REPO/docs/man/cdrpd.8"
	[usr/share/doc/cdrp/cdrpd.conf.example]="644 $REPO/deploy/cdrpd.conf.example"
	[usr/share/doc/cdrp/PRODUCTION.md]="644 $REPO/deploy/PRODUCTION.md"
	[usr/share/doc/cdrp/SECURITY.md]="644 $REPO/SECURITY.md"
	[usr/lib/systemd/system/cdrpd.service]="644 -"
)
if [[ -f $REPO/deploy/cdrp.bash-completion ]]; then
	want[usr/share/bash-completion/completions/cdrp]="644 $REPO/deploy/cdrp.bash-completion"
else
	echo "# deploy/cdrp.bash-completion does not exist (yet): not installed"
fi
for f in "${!want[@]}"; do
	read -r m src <<<"${want[$f]}"
	assert_eq "installed /$f, mode $m" "$m" "$(mode "$STAGE/$f")"
	if [[ $src != - ]]; then
		check "...the same as $(basename "$src")" cmp -s -- "$src" "$STAGE/$f"
	fi
done
# Nothing else: every regular file installed is one of the above.
mapfile -t got < <(cd "$STAGE" && find . -type f -printf '%P\n' | sort)
mapfile -t expected < <(printf '%s\n' "${!want[@]}" | sort)
assert_eq "nothing installed but those files" "${expected[*]}" "${got[*]}"
check "nothing under /etc (the configuration is the operator's)" test ! -e "$STAGE/etc"
check "no bash completion installed unless deploy/cdrp.bash-completion exists" \
	test -f "$REPO/deploy/cdrp.bash-completion" -o ! -e "$STAGE/usr/share/bash-completion"

# --- the installed programs and pages work ---------------------------------------------------------

v=$("$STAGE/usr/sbin/cdrpd" --version 2>&1)
assert_match "installed cdrpd --version" '^cdrpd [0-9]+\.[0-9]+ \(schema [0-9]+\)$' "$v"
"$STAGE/usr/sbin/cdrpd" -c "$CDRP_CONF" --check-config >"$WORK/cc.out" 2>&1
assert_eq "installed cdrpd --check-config on the devstack's config" 0 "$?"
"$STAGE/usr/bin/cdrp" --help >"$WORK/help.out" 2>&1
assert_eq "installed cdrp --help" 0 "$?"
"$STAGE/usr/bin/cdrp" health >"$WORK/health.out" 2>&1
assert_eq "installed cdrp health against the devstack" 0 "$?"

for page in man1/cdrp.1 man5/cdrpd.conf.5 man8/cdrpd.8; do
	f=$STAGE/usr/share/man/$page
	name=$(basename "$page")
	name=${name%.*}
	text=$(MANWIDTH=80 man -l "$f" 2>"$WORK/man.err")
	rc=$?
	assert_eq "man -l $page" 0 "$rc"
	assert_match "...renders its NAME line" "$(printf '%s' "$name" | sed 's/\./\\./g') +- " "$text"
	assert_eq "...no warnings" "" "$(cat "$WORK/man.err")"
	if command -v groff >/dev/null; then
		assert_eq "groff -man -ww $page: no warnings" "" "$(groff -man -Tutf8 -ww -z "$f" 2>&1)"
	fi
	if command -v mandoc >/dev/null; then
		assert_eq "mandoc -Tlint $page: clean" "" "$(mandoc -Tlint -W style "$f" 2>&1)"
	fi
done
# The man pages name every key cdrpd knows (from the example, which lists
# them all, and from daemon/config.c).
mapfile -t keys < <({
	sed -n 's/^#\{0,1\}\([a-z_][a-z_]*\) = .*/\1/p' "$REPO/deploy/cdrpd.conf.example"
	grep -v '^#define' "$REPO/daemon/config.c" |
		grep -oE '(INT_KEY|SIZE_KEY|STR_KEY)\([a-z_]+' | sed 's/.*(//'
	grep -oE 'strcmp\(k, "[a-z_]+"\)' "$REPO/daemon/config.c" | sed 's/.*"\(.*\)".*/\1/'
} | sort -u)
conf5=$(MANWIDTH=200 man -l "$STAGE/usr/share/man/man5/cdrpd.conf.5" 2>/dev/null)
missing=()
for k in "${keys[@]}"; do
	grep -qE "^ {7}$k " <<<"$conf5" || missing+=("$k")
done
assert_eq "cdrpd.conf(5) documents all ${#keys[@]} keys" "" "${missing[*]}"

# --- the systemd unit ----------------------------------------------------------------------------

unit=$STAGE/usr/lib/systemd/system/cdrpd.service
assert_contains "the unit runs the installed cdrpd" \
	"ExecStart=/usr/sbin/cdrpd -c /etc/cdrp/cdrpd.conf" "$(cat "$unit")"
assert_contains "...checks the config before starting" \
	"ExecStartPre=/usr/sbin/cdrpd -c /etc/cdrp/cdrpd.conf --check-config" "$(cat "$unit")"
assert_not_contains "...and names no other prefix" "/usr/local" "$(cat "$unit")"
if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart exists and that Documentation= man pages
	# resolve: point both at the staged installation.
	mkdir -p "$WORK/unit"
	sed "s|/usr/sbin/cdrpd|$STAGE/usr/sbin/cdrpd|g" "$unit" >"$WORK/unit/cdrpd.service"
	out=$(MANPATH=$STAGE/usr/share/man systemd-analyze verify "$WORK/unit/cdrpd.service" 2>&1)
	rc=$?
	assert_eq "systemd-analyze verify (with its man pages)" "0 " "$rc $out"
	out=$(systemd-analyze security --offline=yes "$WORK/unit/cdrpd.service" 2>&1)
	level=$(sed -n 's/.*Overall exposure level for cdrpd.service: \([0-9.]*\).*/\1/p' <<<"$out")
	check "systemd-analyze security: exposure ${level:-?} below 2.0" \
		awk -v l="${level:-99}" 'BEGIN { exit !(l < 2.0) }'
else
	echo "# systemd-analyze not installed: unit not verified"
fi

# --- PREFIX default and SYSTEMDUNITDIR --------------------------------------------------------------

STAGE2=$WORK/stage2
mk install DESTDIR="$STAGE2" SYSTEMDUNITDIR=/lib/systemd/system >"$WORK/install2.log" 2>&1
assert_eq "make install with the default PREFIX and SYSTEMDUNITDIR=/lib/systemd/system" 0 "$?"
check "...cdrpd in /usr/local/sbin" test -x "$STAGE2/usr/local/sbin/cdrpd"
check "...cdrp in /usr/local/bin" test -x "$STAGE2/usr/local/bin/cdrp"
check "...cdrpd.8 in /usr/local/share/man/man8" test -f "$STAGE2/usr/local/share/man/man8/cdrpd.8"
check "...the unit in /lib/systemd/system" test -f "$STAGE2/lib/systemd/system/cdrpd.service"
check "...not in /usr/local/lib/systemd" test ! -e "$STAGE2/usr/local/lib/systemd"
assert_contains "...naming /usr/local/sbin/cdrpd" "ExecStart=/usr/local/sbin/cdrpd " \
	"$(cat "$STAGE2/lib/systemd/system/cdrpd.service" 2>/dev/null)"

# --- make uninstall --------------------------------------------------------------------------------------

mk uninstall DESTDIR="$STAGE" PREFIX=/usr >"$WORK/uninstall.log" 2>&1
assert_eq "make uninstall DESTDIR=... PREFIX=/usr" 0 "$?"
assert_eq "...removes every file" "" "$(cd "$STAGE" && find . -type f -printf '%P ')"
check "...and the documentation directory" test ! -e "$STAGE/usr/share/doc/cdrp"
mk uninstall DESTDIR="$STAGE" PREFIX=/usr >"$WORK/uninstall.log" 2>&1
assert_eq "a second make uninstall is harmless" 0 "$?"

finish
