/* main.c: cdrpd's entry point. Parses arguments, loads the config, checks
 * the database schema, then runs one libevent loop. Signals are loop
 * events: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads TLS files. An
 * hourly timer warns before the CRL in use expires and shouts after. */
#include "cdrpd.h"
#include "proto.h"

#include <event2/listener.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define DRAIN_GRACE_MS 1000
#define CRL_CHECK_S    3600
/* Descriptors besides client sockets: pool, listener, logs, slack. */
#define FD_SLACK 64
/* Sockets accepted and being dropped at once (http.c's ACCEPT_BATCH, x2). */
#define FD_ACCEPT_SLACK 64

static void usage(FILE *f)
{
	fprintf(f, "usage: cdrpd -c FILE            run the daemon\n"
	           "       cdrpd -c FILE -t         test the config: every key, the TLS and audit\n"
	           "                                files, the database connection and schema;\n"
	           "                                reports every error (exit 78 if any)\n"
	           "       cdrpd -c FILE --check-config  the same without the database\n"
	           "       cdrpd -c FILE --migrate  apply database migrations "
	           "(uses migrate_database, else database)\n"
	           "       cdrpd --routes           print the route table as JSON\n"
	           "       cdrpd --version\n");
}

#define DRAIN_TICK_MS 100

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* While stopping, requests still arriving on open keep-alive connections
 * are answered 503 at once (api.c). The loop ends when nothing is in flight
 * and either every connection has closed (answers carry Connection: close,
 * so they close once flushed) or nothing has finished for DRAIN_GRACE_MS
 * (idle keep-alive clients); at the latest after the request deadline. */
static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct daemon *d = arg;
	uint64_t now = now_ms();
	bool quiet = d->inflight == 0 &&
	             (d->nconns + d->nhandshakes == 0 || now - d->last_done_ms >= DRAIN_GRACE_MS);
	bool late = now - d->stop_ms >= (uint64_t)d->cfg.request_deadline_ms + DRAIN_GRACE_MS;
	if (quiet || late)
		event_base_loopexit(d->base, NULL);
}

void daemon_request_done(struct daemon *d)
{
	d->inflight--;
	d->last_done_ms = now_ms();
	if (d->stopping && d->inflight == 0 && d->nconns + d->nhandshakes == 0)
		event_base_loopexit(d->base, NULL);
}

void daemon_conn_closed(struct daemon *d)
{
	if (d->stopping && d->inflight == 0 && d->nconns + d->nhandshakes == 0)
		event_base_loopexit(d->base, NULL);
}

/* Logs how the CRL in use stands: an error once it has expired (OpenSSL
 * then refuses every client certificate), a warning in its last week. */
static void crl_report(const struct daemon *d, const char *when_prefix)
{
	char when[64];
	time_t now = time(NULL);
	if (!d->crl_next_update)
		return;
	tls_format_time(d->crl_next_update, when, sizeof when);
	if (d->crl_next_update < now)
		log_error("%sthe CRL in use (%s) expired at %s: EVERY client handshake fails until "
		          "a new CRL is installed and cdrpd gets SIGHUP",
		          when_prefix, d->cfg.tls_crl, when);
	else if (d->crl_next_update - now < TLS_CRL_WARN_S)
		log_warn("%sthe CRL %s expires at %s (in %lld h): issue a new one and send SIGHUP, "
		         "or every client handshake will fail",
		         when_prefix, d->cfg.tls_crl, when,
		         (long long)((d->crl_next_update - now) / 3600));
}

static void crl_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	crl_report(arg, "");
}

/* Raises the soft limit on open files to the hard one: the budgets allow
 * max_connections + max_handshakes client sockets. */
static void raise_fd_limit(const struct cfg *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return;
	}
	rlim_t need = (rlim_t)c->max_connections + (rlim_t)c->max_handshakes +
	              (rlim_t)c->pool_size + FD_ACCEPT_SLACK + FD_SLACK;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn("open file limit %llu is below max_connections + max_handshakes + %d "
		         "(%llu): raise it (ulimit -n / LimitNOFILE) or lower the limits",
		         (unsigned long long)rl.rlim_cur, c->pool_size + FD_ACCEPT_SLACK + FD_SLACK,
		         (unsigned long long)need);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct daemon *d = arg;
	if (d->stopping)
		return;
	log_info("signal %d: no new connections; finishing %d request(s)", (int)sig, d->inflight);
	d->stopping = true;
	d->stop_ms = d->last_done_ms = now_ms();
	http_stop_accepting(d);
	struct timeval tick = {0, DRAIN_TICK_MS * 1000};
	if (!d->drain || event_add(d->drain, &tick) != 0)
		log_fatal("cannot start the drain timer");
	drain_tick(-1, 0, d);
}

/* SIGHUP: the config file read again and, if it is valid and its TLS
 * files load, every setting that can change while running takes effect
 * (limits, timeouts, log level, group commit, sealer, key expiry, TLS
 * files); the ones bound at start (listen, database, pool, audit key and
 * file...) are kept, with a warning naming them. Anything wrong keeps the
 * whole running configuration. An expired CRL is refused here too. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	struct daemon *d = arg;
	char err[2048], restart[512];
	time_t next_update = 0;
	struct cfg *next = malloc(sizeof *next);
	if (!next)
		log_fatal("out of memory");
	if (!cfg_load(d->cfg_path, next, err, sizeof err)) {
		for (char *nl; (nl = strchr(err, '\n'));)
			*nl = ';'; /* one log line */
		log_error("SIGHUP: keeping the running configuration: %s", err);
		goto out;
	}
	SSL_CTX *ctx = tls_server_ctx(next, &next_update, err, sizeof err);
	if (!ctx) {
		log_error("SIGHUP: keeping the running configuration, certificates and CRL: %s",
		          err);
		crl_report(d, "SIGHUP: ");
		goto out;
	}
	SSL_CTX_free(d->ssl_ctx); /* live connections hold their own reference */
	d->ssl_ctx = ctx;
	d->crl_next_update = next_update;
	cfg_reload(&d->cfg, next, restart, sizeof restart);
	log_init(d->cfg.log_level, d->cfg.log_syslog);
	http_apply_limits(d);
	log_info("SIGHUP: configuration, certificates and CRL reloaded");
	if (restart[0])
		log_warn("SIGHUP: changed but kept until a restart: %s", restart);
	crl_report(d, "SIGHUP: ");
out:
	free(next);
}

/* cdrpd -t: every check, every error reported (not only the first). */
static int test_config(const char *path)
{
	char err[2048];
	int nerr = 0;
	time_t next_update = 0;
	struct cfg *c = malloc(sizeof *c);
	if (!c)
		log_fatal("out of memory");
	if (!cfg_load(path, c, err, sizeof err)) {
		for (char *line = err, *nl; line; line = nl ? nl + 1 : NULL, nerr++) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			fprintf(stderr, "cdrpd: error: %s\n", line);
		}
	}
	SSL_CTX *ctx = NULL;
	if (c->tls_cert[0] && c->tls_key[0] && c->tls_ca[0] && c->tls_crl[0]) {
		if (!(ctx = tls_server_ctx(c, &next_update, err, sizeof err))) {
			fprintf(stderr, "cdrpd: error: TLS: %s\n", err);
			nerr++;
		}
		SSL_CTX_free(ctx);
	}
	if (c->audit_signing_key[0] && c->audit_checkpoint_file[0] &&
	    !audit_check_config(c, err, sizeof err)) {
		fprintf(stderr, "cdrpd: error: audit: %s\n", err);
		nerr++;
	}
	if (c->database[0]) {
		if (!db_check_schema(c->database, err, sizeof err)) {
			fprintf(stderr, "cdrpd: error: database: %s\n", err);
			nerr++;
		} else {
			db_conninfo_warnings(c->database);
		}
	}
	if (nerr == 0)
		printf("cdrpd: %s is valid: TLS and audit files load, the database answers at "
		       "schema %d\n",
		       path, db_expected_version());
	else
		fprintf(stderr, "cdrpd: %s: %d error%s\n", path, nerr, nerr == 1 ? "" : "s");
	free(c);
	return nerr ? 78 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"migrate", no_argument, NULL, 'm'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {"routes", no_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon d = {0};
	bool check_only = false, migrate = false;
	char err[1024];
	int rc = 1;
	struct event *sigs[4] = {0};

	bool test = false;
	for (int o; (o = getopt_long(argc, argv, "c:th", opts, NULL)) != -1;) {
		switch (o) {
		case 'c':
			d.cfg_path = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'k':
			check_only = true;
			break;
		case 'm':
			migrate = true;
			break;
		case 'V':
			printf("cdrpd " PROTO_RELEASE " (schema %d)\n", db_expected_version());
			return 0;
		case 'R':
			api_print_routes(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (!d.cfg_path || optind != argc) {
		usage(stderr);
		return 64;
	}
	if (test) {
		log_init(LL_WARN, false);
		return test_config(d.cfg_path);
	}
	if (!cfg_load(d.cfg_path, &d.cfg, err, sizeof err)) {
		fprintf(stderr, "cdrpd: %s\n", err);
		return 78;
	}
	log_init(d.cfg.log_level, d.cfg.log_syslog && !check_only && !migrate);
	if (migrate) {
		const char *ci =
		    d.cfg.migrate_database[0] ? d.cfg.migrate_database : d.cfg.database;
		if (!db_migrate(ci, err, sizeof err)) {
			fprintf(stderr, "cdrpd: %s\n", err);
			return 1;
		}
		printf("cdrpd: database schema at version %d\n", db_expected_version());
		return 0;
	}
	d.ssl_ctx = tls_server_ctx(&d.cfg, &d.crl_next_update, err, sizeof err);
	if (!d.ssl_ctx) {
		/* Refusing to start beats running and refusing every client. */
		fprintf(stderr, "cdrpd: %s\n", err);
		if (d.cfg.log_syslog && !check_only)
			log_error("cannot start: %s", err);
		return 78;
	}
	crl_report(&d, "");
	if (!audit_check_config(&d.cfg, err, sizeof err)) {
		fprintf(stderr, "cdrpd: %s\n", err);
		if (d.cfg.log_syslog && !check_only)
			log_error("cannot start: %s", err);
		SSL_CTX_free(d.ssl_ctx);
		return 78;
	}
	if (check_only) {
		printf("cdrpd: %s is valid\n", d.cfg_path);
		SSL_CTX_free(d.ssl_ctx);
		return 0;
	}
	/* Before the loop exists, so blocking here blocks nobody. */
	if (!db_check_schema(d.cfg.database, err, sizeof err)) {
		log_error("%s", err);
		goto out;
	}
	db_conninfo_warnings(d.cfg.database);
	signal(SIGPIPE, SIG_IGN);
	d.base = event_base_new();
	if (!d.base)
		log_fatal("event_base_new failed");
	d.drain = event_new(d.base, -1, EV_PERSIST, drain_tick, &d);
	int signums[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		sigs[i] =
		    evsignal_new(d.base, signums[i], signums[i] == SIGHUP ? on_hup : on_term, &d);
		if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0)
			log_fatal("cannot watch signal %d", signums[i]);
	}
	d.crl_check = event_new(d.base, -1, EV_PERSIST, crl_tick, &d);
	if (!d.crl_check || event_add(d.crl_check, &(struct timeval){CRL_CHECK_S, 0}) != 0)
		log_fatal("cannot start the CRL check timer");
	raise_fd_limit(&d.cfg);
	api_init();
	audit_register();
	d.db = db_pool_new(d.base, &d.cfg);
	api_start(&d);
	if (!audit_start(&d, err, sizeof err)) {
		log_error("%s", err);
		goto out;
	}
	if (!http_start(&d, err, sizeof err) || !admin_start(&d, err, sizeof err)) {
		log_error("%s", err);
		goto out;
	}
	log_info("cdrpd ready (schema %d, pool %d, max %d connections, max %d handshakes of "
	         "at most %d ms)",
	         db_expected_version(), d.cfg.pool_size, d.cfg.max_connections,
	         d.cfg.max_handshakes, d.cfg.tls_handshake_timeout_ms);
	event_base_dispatch(d.base);
	log_info("cdrpd stopped");
	rc = 0;
out:
	api_stop();
	admin_stop();
	audit_stop();
	http_free(&d);
	db_pool_free(d.db);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	SSL_CTX_free(d.ssl_ctx);
	if (d.crl_check)
		event_free(d.crl_check);
	if (d.drain)
		event_free(d.drain);
	if (d.base)
		event_base_free(d.base);
	return rc;
}
