# cdrp build: cdrpd (daemon), cdrp (client), tests and benchmarks.
# `make demo` and `make check` are the two commands in the README.

CC      ?= gcc
PKGS    := libevent_openssl libevent openssl libpq jansson
# snprintf truncation is how bounded buffers are meant to work here.
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-truncation
OPT     ?= -O2 -g
ALL_CFLAGS = $(OPT) $(WARN) -D_GNU_SOURCE -Iproto -Idaemon -I$(B) \
	     $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LDLIBS  := $(shell pkg-config --libs $(PKGS))
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

# B is the build directory; the sanitizer build uses its own.
B ?= build
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

PROTO_SRC  := $(wildcard proto/*.c)
DAEMON_SRC := $(wildcard daemon/*.c)
CLIENT_SRC := $(wildcard client/*.c)
SQL        := $(sort $(wildcard sql/migrations/*.sql sql/code/*.sql))
# The pure daemon units the unit tests link against.
DAEMON_LIB := daemon/config.c daemon/tls.c daemon/log.c
UNIT_SRC   := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

.PHONY: all deps check check-unit check-integration check-asan bench demo format format-check clean \
	install uninstall
all: $(B)/cdrpd $(B)/cdrp

deps:
	deploy/install-deps

$(B)/obj/%.o: %.c $(wildcard proto/*.h daemon/*.h client/*.h) | $(B)/migrations.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Migrations are compiled into cdrpd so the binary and the schema version
# it expects can never drift apart.
$(B)/migrations.h: $(SQL) deploy/embed-sql
	@mkdir -p $(B)
	deploy/embed-sql sql > $@.tmp && mv $@.tmp $@

# test_enums.c includes proto/casework.c for its private schema tables.
$(B)/obj/tests/unit/test_enums.o: proto/casework.c

# db.c embeds the migrations: rebuild it when they change.
$(B)/obj/daemon/db.o: $(B)/migrations.h

$(B)/cdrpd: $(call obj,$(DAEMON_SRC) $(PROTO_SRC))
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/cdrp: $(call obj,$(CLIENT_SRC) $(PROTO_SRC))
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/unit: $(call obj,$(UNIT_SRC) $(DAEMON_LIB) $(PROTO_SRC))
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

check: deps
	$(MAKE) check-unit check-integration
	$(MAKE) check-asan

check-unit: $(B)/unit
	$(B)/unit

check-integration: $(B)/cdrpd $(B)/cdrp
	CDRP_BIN=$(abspath $(B)) tests/integration/run

# The whole suite again under AddressSanitizer + UBSan; any report fails.
check-asan:
	$(MAKE) B=build-asan OPT="$(SAN_FLAGS)" check-unit check-integration \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# deps first, then a fresh make: pkg-config flags are read when make starts.
demo: deps
	$(MAKE) all
	deploy/demo

bench: deps
	$(MAKE) all $(B)/loadgen
	CDRP_BIN=$(abspath $(B)) tests/bench/run

# The benchmark's mutual-TLS load generator (OpenSSL and pthreads only).
$(B)/loadgen: tests/bench/loadgen.c
	@mkdir -p $(B)
	$(CC) $(ALL_CFLAGS) -pthread -o $@ $< $(shell pkg-config --libs openssl)

FORMAT_SRC := $(wildcard daemon/*.[ch] client/*.[ch] proto/*.[ch] tests/unit/*.c tests/bench/*.c)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build build-asan

# --- install ----------------------------------------------------------------
# `make install` (PREFIX=/usr/local by default; DESTDIR for staging and
# packaging) installs the binaries, the man pages, the systemd unit, the
# bash completion (if deploy/cdrp.bash-completion exists) and the
# documentation. It never writes /etc: the configuration is the operator's
# (start from $(DOCDIR)/cdrpd.conf.example; deploy/PRODUCTION.md).
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/cdrp
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
INSTALL        ?= install

MAN_PAGES  := $(wildcard docs/man/*.[158])
DOC_FILES  := deploy/cdrpd.conf.example deploy/PRODUCTION.md SECURITY.md
BASH_COMPL := $(wildcard deploy/cdrp.bash-completion)

# The unit names $(SBINDIR)/cdrpd: deploy/cdrpd.service says /usr/local/sbin
# (the default PREFIX), rewritten here for any other.
install: all
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(BINDIR)" \
	  "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man8" \
	  "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(SYSTEMDUNITDIR)"
	$(INSTALL) -m 0755 $(B)/cdrpd "$(DESTDIR)$(SBINDIR)/cdrpd"
	$(INSTALL) -m 0755 $(B)/cdrp "$(DESTDIR)$(BINDIR)/cdrp"
	for page in $(MAN_PAGES); do \
	  $(INSTALL) -m 0644 "$$page" "$(DESTDIR)$(MANDIR)/man$${page##*.}/$${page##*/}" || exit 1; \
	done
	$(INSTALL) -m 0644 $(DOC_FILES) "$(DESTDIR)$(DOCDIR)/"
	$(INSTALL) -m 0644 deploy/cdrpd.service "$(DESTDIR)$(SYSTEMDUNITDIR)/cdrpd.service"
	sed -i 's|/usr/local/sbin/cdrpd|$(SBINDIR)/cdrpd|g' "$(DESTDIR)$(SYSTEMDUNITDIR)/cdrpd.service"
ifneq ($(BASH_COMPL),)
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(BASHCOMPDIR)"
	$(INSTALL) -m 0644 $(BASH_COMPL) "$(DESTDIR)$(BASHCOMPDIR)/cdrp"
endif

# Removes exactly what install installed (and the documentation directory
# once empty); the configuration, keys and /var/lib/cdrp stay.
uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/cdrpd" "$(DESTDIR)$(BINDIR)/cdrp" \
	  "$(DESTDIR)$(SYSTEMDUNITDIR)/cdrpd.service" "$(DESTDIR)$(BASHCOMPDIR)/cdrp"
	for page in $(notdir $(MAN_PAGES)); do \
	  rm -f "$(DESTDIR)$(MANDIR)/man$${page##*.}/$$page"; \
	done
	for doc in $(notdir $(DOC_FILES)); do rm -f "$(DESTDIR)$(DOCDIR)/$$doc"; done
	rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null || true
