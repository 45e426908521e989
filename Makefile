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

.PHONY: all deps check check-unit check-integration check-asan bench demo format format-check clean
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
