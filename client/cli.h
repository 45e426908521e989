/* cli.h: what the parts of the cdrp command line share -- exit codes, the
 * parsed options, the command table and the helpers that talk to cdrpd
 * and report its answers (cdrp.c), used by the casework commands
 * (casework.c). */
#ifndef CDRP_CLI_H
#define CDRP_CLI_H

#include "http.h"
#include "proto.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes; the numbers follow sysexits.h where one fits. */
enum {
	CDRP_EXIT_OK = 0,
	/* audit verify: the audit log is not what its signed checkpoints say
	 * (no sysexits.h code means "the data was tampered with") */
	CDRP_EXIT_TAMPERED = 3,
	CDRP_EXIT_USAGE = 64,
	CDRP_EXIT_DATAERR = 65,
	CDRP_EXIT_NOINPUT = 66,
	CDRP_EXIT_UNAVAILABLE = 69,
	CDRP_EXIT_SOFTWARE = 70,
	CDRP_EXIT_TLS = 75,
	CDRP_EXIT_NOPERM = 77,
	CDRP_EXIT_CONFIG = 78,
	CDRP_EXIT_NOTFOUND = 79,
	CDRP_EXIT_CONFLICT = 80,
	CDRP_EXIT_STALE = 81,
};

#define CDRP_MAX_WORDS 16
#define CDRP_MAX_OPTS  128

/* One option as given on the command line (value NULL for a flag). */
struct cdrp_optval {
	const char *name;
	const char *value;
};

struct cdrp_command;

struct cdrp_opts {
	/* options every command accepts */
	const char *url, *ca, *cert, *key, *timeout;
	const char *why, *partnership; /* sent as headers with every request */
	const char *config, *profile;  /* the profile file and the profile in it */
	bool json, help, version;
	/* Once the command is known, url, ca, cert, key, partnership and
	 * timeout_sec hold the settings in force: option, else environment,
	 * else profile, else the built-in default (cdrp.c, cdrp_settings). */
	int timeout_sec;
	/* the command-specific options, in the order given */
	struct cdrp_optval given[CDRP_MAX_OPTS];
	int ngiven;
	/* the command's own arguments once resolved */
	const char *words[CDRP_MAX_WORDS];
	int nwords;
	const struct cdrp_command *cmd;
};

/* How a change proves it saw the current version. */
enum cdrp_if_match {
	CDRP_IM_NONE,
	CDRP_IM_CASE,    /* read the case's ETag first, unless --if-match gives it */
	CDRP_IM_EXPLICIT /* --if-match is required (actions have no GET) */
};

/* What the first argument names, to check it before any network use. */
enum cdrp_id_kind {
	CDRP_ID_NONE,
	CDRP_ID_NUMBER, /* a positive integer */
	CDRP_ID_CASE,   /* a positive integer or a case reference */
	CDRP_ID_ISA,    /* a positive integer or an ISA reference (may hold '/') */
	CDRP_ID_AGENCY  /* an agency code: 2-16 of A-Z and 0-9 */
};

/* Which Idempotency-Key a write without If-Match sends. */
enum cdrp_key {
	CDRP_KEY_REQUEST, /* derived from the request: a re-run replays */
	/* derived from the request and today's date (UTC): for changes that
	 * may be asked again later in the same words (suspend, resume, hold
	 * on/off, roles, a retention run), where a key for ever would replay
	 * an old answer instead of doing it */
	CDRP_KEY_DAILY
};

/* One command. Those with `run` do everything themselves; the others are
 * one request described by the remaining fields (casework.c runs them). */
struct cdrp_command {
	const char *group; /* "case"; NULL for a top-level command */
	const char *name;  /* "show" */
	const char *synopsis;
	const char *summary;
	const char *usage;
	int min_args, max_args;
	const char *args_hint; /* "an ID" -- for "needs ..." errors */
	const char *opts;      /* command-specific options allowed, " a b " */
	const char *required;  /* options that must be given, " a b " */
	int (*run)(const struct cdrp_opts *o);
	/* the request */
	const char *method;
	const char *path; /* "%s" is the first argument, normalised */
	enum cdrp_id_kind id_kind;
	enum proto_body body;
	int (*build)(const struct cdrp_opts *o, json_t *body); /* 0 or an exit code */
	enum proto_query query;
	const char *const *query_opts; /* option, parameter, ..., NULL */
	enum cdrp_if_match if_match;
	const char *noun; /* what a stale If-Match is about: "case" */
	/* after connecting, before the request (e.g. fetch the questionnaire) */
	int (*prepare)(const struct cdrp_opts *o, struct http_client *c, json_t *body);
	void (*render)(const json_t *doc);
	const char *empty; /* lists: what to print for no items */
	enum cdrp_key key;
	const char *no_key_flag; /* this flag makes the write a preview: no key */
};

/* GET /v1/cases/{id}/actions as a table (render_case.c; its place is
 * beside render_action in render.h). */
void render_actions(const json_t *list);

extern const struct cdrp_command cdrp_casework_cmds[];
extern const size_t cdrp_casework_ncmds;
/* Information-sharing agreements and administration (admin.c). */
extern const struct cdrp_command cdrp_admin_cmds[];
extern const size_t cdrp_admin_ncmds;
/* Meetings and the improvement report (meeting.c). */
extern const struct cdrp_command cdrp_meeting_cmds[];
extern const size_t cdrp_meeting_ncmds;
/* The audit log's verifier (audit.c). */
extern const struct cdrp_command cdrp_audit_cmds[];
extern const size_t cdrp_audit_ncmds;
/* The quarterly report (report.c). */
extern const struct cdrp_command cdrp_report_cmds[];
/* cdrp report improvement --format html: one self-contained page. */
void report_improvement_html(const json_t *imp);
extern const size_t cdrp_report_ncmds;

/* Options given for the command: the last value (NULL if absent; "" for
 * a flag), whether a flag is set, every value of a repeatable one. */
const char *cdrp_opt(const struct cdrp_opts *o, const char *name);
/* --format: its index in the NULL-terminated `formats` (0, the default,
 * when not given), or -1 with *rc the usage error naming them all. */
int cdrp_pick_format(const struct cdrp_opts *o, const char *const *formats, int *rc);
bool cdrp_flag(const struct cdrp_opts *o, const char *name);
size_t cdrp_opt_all(const struct cdrp_opts *o, const char *name, const char **vals, size_t max);

int cdrp_usage_error(const struct cdrp_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cdrp_oom(void);
int cdrp_print_json(const json_t *doc);
const char *cdrp_str(const json_t *obj, const char *key);
void cdrp_today(char out[16]);

/* A failure of local validation: reported naming the field, exit 65. */
int cdrp_invalid(const char *what, const struct proto_error *pe);

/* Read FILE, or stdin for "-", whole; 0 or an exit code. */
int cdrp_read_input(const char *path, char **bufp, size_t *lenp);

struct http_client *cdrp_connect(const struct cdrp_opts *o, int *exit_code);
/* One request, its answer checked; 0 with *docp set, or an exit code
 * (the failure already reported). */
int cdrp_call(const struct cdrp_opts *o, struct http_client *c, const char *method,
              const char *path, const char *const *headers, const char *body, size_t body_len,
              struct http_response *resp, json_t **docp, bool *sent);
/* GET a list, following cursors with --all: 0 with *docp (items and
 * next_cursor) set, or an exit code. `query` is "a=b&c=d" or "". */
int cdrp_get_list(const struct cdrp_opts *o, struct http_client *c, const char *base,
                  const char *query, json_t **docp);

int cdrp_run_request(const struct cdrp_opts *o);
/* "sha256:" + 32 hex digits of the SHA-256 of canonical; 0 or -1. */
int cdrp_derive_key(const char *canonical, char *out, size_t outlen);

#endif
