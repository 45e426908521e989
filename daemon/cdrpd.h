/* cdrpd.h: the daemon's subsystems and how they meet. Each block below is
 * one file with one prefix: log_ (log.c), cfg_ (config.c), tls_ (tls.c),
 * db_ (db.c), http_ (http.c), audit_ (audit.c), api_ (api.c). main.c wires them together. */
#ifndef CDRPD_H
#define CDRPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#define WUR __attribute__((warn_unused_result))

/* ---- log.c: levelled logging to stderr or syslog. Never personal data. */
enum log_level { LL_ERROR, LL_WARN, LL_INFO, LL_DEBUG };
void log_init(enum log_level level, bool use_syslog);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool log_level_parse(const char *s, enum log_level *out) WUR;
#define log_error(...) log_msg(LL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LL_DEBUG, __VA_ARGS__)
/* Broken invariant or out of memory: log and abort. */
__attribute__((noreturn)) void log_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---- config.c: the `key = value` config file (deploy/cdrpd.conf.example). */
#define CFG_STR_MAX 1024
struct cfg {
	char listen_host[256];
	int listen_port;
	char port_file[CFG_STR_MAX];
	char tls_cert[CFG_STR_MAX], tls_key[CFG_STR_MAX], tls_ca[CFG_STR_MAX];
	char tls_crl[CFG_STR_MAX];
	char database[CFG_STR_MAX];
	char migrate_database[CFG_STR_MAX];
	int pool_size;
	int pipeline_depth;
	int max_queue;
	size_t max_body_bytes;
	size_t max_header_bytes;
	int max_connections; /* connections past their TLS handshake */
	int max_handshakes;  /* connections still in their TLS handshake */
	int idle_timeout_s;
	int handshake_timeout_s;      /* connect to the end of the first request */
	int tls_handshake_timeout_ms; /* connect to the end of the TLS handshake */
	int request_deadline_ms;
	int group_commit_max; /* calls sharing one transaction (1: none) */
	/* the audit log's sealer and signed checkpoints (audit.c) */
	char audit_signing_key[CFG_STR_MAX];     /* Ed25519 private key, PEM */
	char audit_checkpoint_file[CFG_STR_MAX]; /* signed checkpoints, appended */
	char audit_origin[CFG_STR_MAX];          /* the log's name in its checkpoints */
	int audit_seal_interval_ms;
	int audit_seal_batch;
	/* plain-HTTP admin listener (liveness, metrics), loopback only; off
	 * when admin_host is empty */
	char admin_host[64];
	int admin_port;
	int idempotency_key_ttl_s; /* keys kept at least this long, then purged */
	enum log_level log_level;
	bool log_syslog;
};
void cfg_defaults(struct cfg *c);
/* Parse config text; on error writes "line N: why" into err. */
bool cfg_parse(const char *text, struct cfg *c, char *err, size_t errlen) WUR;
bool cfg_load(const char *path, struct cfg *c, char *err, size_t errlen) WUR;
/* SIGHUP: copies from `next` every setting that can change while running
 * into `cur`; writes the names of changed ones that need a restart (kept
 * as they are) into `restart`. */
void cfg_reload(struct cfg *cur, const struct cfg *next, char *restart, size_t restartlen);

/* ---- tls.c: server TLS context and certificate identity. */
#define TLS_AGENCY_MAX 17  /* agency code: 2..16 of [A-Z0-9] */
#define TLS_USER_MAX   201 /* CN: 1..200 bytes of UTF-8 */
struct tls_identity {
	char agency[TLS_AGENCY_MAX];
	char user[TLS_USER_MAX];
};
/* Builds a context from the config's cert, key, CA and CRL; NULL + err.
 * A CRL outside its validity period (nextUpdate past, or lastUpdate in the
 * future) is refused: OpenSSL would fail every client handshake with it.
 * *crl_next_update gets the CRL's nextUpdate (0 if it has none). */
SSL_CTX *tls_server_ctx(const struct cfg *c, time_t *crl_next_update, char *err, size_t errlen) WUR;
/* Warn this long before a CRL's nextUpdate. */
#define TLS_CRL_WARN_S (7 * 24 * 3600)
enum tls_crl_status {
	TLS_CRL_CURRENT,       /* valid, and for more than TLS_CRL_WARN_S */
	TLS_CRL_EXPIRING,      /* valid, nextUpdate within TLS_CRL_WARN_S */
	TLS_CRL_EXPIRED,       /* nextUpdate has passed */
	TLS_CRL_NOT_YET_VALID, /* lastUpdate is in the future */
};
/* The CRL's validity at `now`; `when` gets the date that decided it
 * (nextUpdate, or lastUpdate if not yet valid) as "YYYY-MM-DD HH:MM:SS UTC",
 * or "none" for a CRL without nextUpdate. */
enum tls_crl_status tls_crl_status(const X509_CRL *crl, time_t now, time_t *next_update, char *when,
                                   size_t whenlen);
/* "YYYY-MM-DD HH:MM:SS UTC" */
void tls_format_time(time_t t, char *out, size_t outlen);
/* O and CN of a verified peer certificate, each present exactly once. */
bool tls_identity_from_cert(X509 *cert, struct tls_identity *id) WUR;

/* ---- db.c: asynchronous PostgreSQL pool (libpq pipeline mode). */
#define DB_MAX_PARAMS 8
enum db_outcome {
	DB_DONE,        /* the function answered: status/body/replay are valid */
	DB_UNAVAILABLE, /* no connection, or it broke: may or may not have committed */
	DB_FAILED       /* the statement failed: a bug or a constraint */
};
struct db_result {
	enum db_outcome outcome;
	int status;
	const char *body; /* valid only during the callback */
	size_t body_len;
	bool replay;
	const char *etag; /* NULL, or the object's version (valid during the callback) */
};
typedef void (*db_cb)(void *arg, const struct db_result *r);
struct db_pool;
struct db_query;
struct db_pool *db_pool_new(struct event_base *base, const struct cfg *c) WUR;
void db_pool_free(struct db_pool *p);
/* Queues a call; the callback runs exactly once, later, from the loop,
 * unless db_cancel() was called first. Never blocks. */
/* Register a statement before db_pool_new(); returns its id for db_call. */
int db_register(const char *name, const char *sql);
/* Same, for a call that may share its transaction with others (group commit). */
int db_register_groupable(const char *name, const char *sql);
/* Groupable, and calls in one group that agree on the parameters in
 * `shared` (bit i: parameter i) go as one call of merged_sql: the same
 * parameters, the others as arrays, answering a row (n, then as sql) for
 * the n-th call (from 1). */
int db_register_merged(const char *name, const char *sql, const char *merged_sql, unsigned shared);
struct db_query *db_call(struct db_pool *p, int stmt, const char *const *params, int nparams,
                         db_cb cb, void *arg) WUR;
void db_cancel(struct db_query *q);
int db_ready_count(const struct db_pool *p);
struct db_stats {
	int size, ready, waiting, inflight;
	unsigned long long groups, group_calls, merged_calls, group_failures;
};
void db_get_stats(const struct db_pool *p, struct db_stats *out);
/* Blocking helpers for startup and `cdrpd --migrate` (not on the loop). */
int db_expected_version(void);
/* SHA-256 (hex) of the compiled-in SQL code of sql/code/. */
const char *db_code_hash(void);
/* Logs conninfo choices that would block the loop (a host name). */
void db_conninfo_warnings(const char *conninfo);
bool db_check_schema(const char *conninfo, char *err, size_t errlen) WUR;
bool db_migrate(const char *conninfo, char *err, size_t errlen) WUR;

/* ---- http.c: HTTPS server: listener, TLS per connection, limits. */
struct daemon;
bool http_start(struct daemon *d, char *err, size_t errlen) WUR;
void http_apply_limits(struct daemon *d);
void http_stop_accepting(struct daemon *d);
void http_free(struct daemon *d);
/* Closes connections still in their TLS handshake (used when stopping). */
void http_drop_handshakes(struct daemon *d);
/* A request arrived on this connection: it is past its handshake timer. */
void http_request_started(struct evhttp_connection *evcon);

/* ---- audit.c: the audit log's sealer and signed checkpoints. */
void audit_register(void); /* its statements; before db_pool_new() */
/* The signing key loads and the checkpoint file verifies with it. */
bool audit_check_config(const struct cfg *c, char *err, size_t errlen) WUR;
/* Loads the signing key and checks the checkpoint file; starts sealing. */
bool audit_start(struct daemon *d, char *err, size_t errlen) WUR;
void audit_stop(void);
/* The sealer's state for /v1/health (a new jansson object). */
struct json_t *audit_health(void);

/* ---- api.c: routes and handlers. */
void api_init(void);              /* registers the statements; before db_pool_new() */
void api_start(struct daemon *d); /* after db_pool_new(): the key expiry timer */
void api_stop(void);
/* The route table as JSON (cdrpd --routes): what proto/openapi.json must match. */
void api_print_routes(FILE *f);
size_t api_route_count(void);
/* Method and path pattern of route i; false past the end. */
bool api_route_name(size_t i, const char **method, const char **path);

/* ---- admin.c: the loopback admin listener (/livez, /readyz, /metrics). */
bool admin_start(struct daemon *d, char *err, size_t errlen) WUR;
void admin_stop(void);
/* One answered request: route index (-1: none matched), status, seconds. */
void admin_observe(int route, int status, double seconds);
void api_handle(struct evhttp_request *req, void *arg);

/* The daemon's state, owned by main.c. */
struct daemon {
	struct event_base *base;
	struct cfg cfg;
	const char *cfg_path;
	SSL_CTX *ssl_ctx; /* swapped on SIGHUP; connections keep their own ref */
	struct evhttp *http;
	struct evconnlistener *listener;
	struct db_pool *db;
	int nconns;              /* connections past their TLS handshake (max_connections) */
	int nhandshakes;         /* connections in their TLS handshake (max_handshakes) */
	struct http_state *hs;   /* http.c's own state: pending handshakes, log limits */
	time_t crl_next_update;  /* of the CRL in use; 0: none */
	struct event *crl_check; /* hourly: warns before and after the CRL expires */
	bool listener_paused;
	bool stopping;
	int inflight;          /* requests accepted and not yet answered */
	struct event *drain;   /* ticks while stopping */
	uint64_t stop_ms;      /* when SIGTERM came (monotonic ms) */
	uint64_t last_done_ms; /* when a request last finished */
	uint64_t next_request_id;
};
/* Called by api.c when a request is finished and by http.c when a
 * connection is gone, so that a SIGTERM drain can complete. */
void daemon_request_done(struct daemon *d);
void daemon_conn_closed(struct daemon *d);

#endif
