/* db.c: PostgreSQL for cdrpd. A pool of non-blocking libpq connections
 * watched by libevent, each in pipeline mode so concurrent requests never
 * wait on each other's round trips. Each request is one call of a cdrp_api
 * function (one statement, its own transaction, closed by its own sync).
 *
 * Group commit: calls of statements registered as groupable that queue up
 * while every connection is busy go together, at most group_commit_max,
 * under one sync: one (implicit) transaction, one WAL flush, one round
 * trip. Each caller is answered only after the sync, i.e. the commit. If any
 * statement of a group fails, the database rolled all of it back, so
 * every call of the group is queued again to run alone: the failure stays
 * with its own request and nothing is done twice.
 * Within a group, calls of a statement registered with a merged form
 * (db_register_merged) that agree on its shared parameters go as one call
 * of the merged statement, the other parameters as arrays: one execution
 * for all of them (referral intake does its inserts set-based).
 * A broken connection fails its in-flight calls as DB_UNAVAILABLE (the
 * caller answers 503: a call may have committed, and a retry with the same
 * Idempotency-Key is safe) and reconnects with backoff.
 *
 * Also the blocking helpers used before the loop starts: schema check and
 * migrations (compiled in from sql/ by deploy/embed-sql). */
#include "cdrpd.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "migrations.h"

#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 5000
/* Connecting and preparing must finish within this, or we start over. */
#define DB_CONNECT_TIMEOUT_S 10

/* Statements registered before the pool starts; every connection
 * prepares all of them when it connects. */
#define DB_STMT_MAX      96
#define DB_SETUP_VERSION (-1) /* the schema-version query of the setup */
#define DB_SETUP_SESSION (-2) /* session settings, first in the setup */
#define DB_GROUP         (-3) /* a group commit's carrier */
/* A group is sent only to a connection with fewer batches than this in
 * flight, so that calls queue (and group) while the database is busy. */
#define DB_GROUP_INFLIGHT 1
static struct {
	char name[64];
	char *sql;
	bool groupable;
	int merged;      /* the merged form's statement, or -1 */
	unsigned shared; /* bit i: parameter i is the same for all merged calls */
} stmts[DB_STMT_MAX];
static int nstmts;

int db_register_groupable(const char *name, const char *sql)
{
	int id = db_register(name, sql);
	stmts[id].groupable = true;
	return id;
}

int db_register_merged(const char *name, const char *sql, const char *merged_sql, unsigned shared)
{
	char merged_name[sizeof stmts[0].name];
	snprintf(merged_name, sizeof merged_name, "%s_merged", name);
	int id = db_register_groupable(name, sql);
	stmts[id].merged = db_register(merged_name, merged_sql);
	stmts[id].shared = shared;
	return id;
}

int db_register(const char *name, const char *sql)
{
	if (nstmts >= DB_STMT_MAX)
		log_fatal("db_register: more than %d statements", DB_STMT_MAX);
	snprintf(stmts[nstmts].name, sizeof stmts[nstmts].name, "%s", name);
	stmts[nstmts].merged = -1;
	stmts[nstmts].sql = strdup(sql);
	if (!stmts[nstmts].sql)
		log_fatal("out of memory");
	return nstmts++;
}

/* The schema version and the hash of the SQL code (sql/code/) that the
 * last migrate installed: cdrpd runs only against its own. */
#define SCHEMA_VERSION_SQL                                                                         \
	"SELECT coalesce(max(version), 0), (SELECT sha256 FROM public.cdrp_schema_code) "          \
	"FROM public.cdrp_schema_migrations"
/* Advisory lock key taken by every migrate transaction. */
#define DB_MIGRATE_LOCK "7242001"

struct db_query {
	TAILQ_ENTRY(db_query) link;
	int stmt; /* index into stmts, or DB_SETUP_VERSION */
	int nparams;
	char *params[DB_MAX_PARAMS];
	db_cb cb; /* NULL once cancelled */
	void *arg;
	PGresult *res; /* first result of the statement */
	bool ended;    /* its results ended (a NULL from PQgetResult) */
	bool setup;    /* an internal setup step, not a caller's query */
	bool solo;     /* failed in a group: runs alone */
	/* A member of a merged call: its row of the group's result (columns:
	 * n, then as a single call's). */
	const PGresult *merged_res;
	int merged_row;
	/* DB_GROUP: the calls sent before one sync, as statements ("parts"):
	 * part i is members [part_end[i - 1], part_end[i]), one call or a
	 * merged one; `at` is the part whose results come next. */
	struct db_query **members;
	int nmembers;
	int *part_end;
	PGresult **part_res; /* a merged part's result */
	int nparts;
	int at;
	bool at_got; /* the statement at `at` has given a result */
	bool failed; /* some statement of the group failed */
};
TAILQ_HEAD(query_list, db_query);

enum conn_state { C_DOWN, C_CONNECTING, C_SETUP, C_READY };

struct db_conn {
	struct db_pool *pool;
	int index;
	PGconn *pg;
	struct event *io;
	struct event *retry;
	struct event *connect_deadline;
	enum conn_state state;
	int backoff_ms;
	struct query_list inflight;
	int ninflight;
	bool want_write;
	bool setup_failed; /* a setup step failed: down once the setup ends */
};

struct db_pool {
	struct event_base *base;
	const struct cfg *cfg;
	struct db_conn *conns;
	int nconns;
	struct query_list waiting; /* no connection had room */
	int nwaiting;
	struct event *drain; /* fails waiting queries when nothing is up */
	struct event *kick;  /* dispatches waiting queries from the loop */
	char session_sql[128];
	unsigned long long groups, group_calls, merged_calls, group_failures; /* metrics */
};

static void conn_io(evutil_socket_t fd, short what, void *arg);
static void conn_connect_timeout(evutil_socket_t fd, short what, void *arg);

static void ignore_notice(void *arg, const char *message)
{
	(void)arg, (void)message;
}
static void conn_start(struct db_conn *c);
static void pool_dispatch(struct db_pool *p);
static void requeue(struct db_pool *p, struct db_query *q);

static void query_free(struct db_query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	PQclear(q->res);
	for (int i = 0; q->part_res && i < q->nparts; i++)
		PQclear(q->part_res[i]);
	free(q->part_res);
	free(q->part_end);
	free(q->members);
	free(q);
}

static void query_finish(struct db_query *q, enum db_outcome outcome)
{
	if (q->stmt == DB_GROUP) { /* only when it failed as a whole */
		for (int i = 0; i < q->nmembers; i++)
			query_finish(q->members[i], outcome);
		query_free(q);
		return;
	}
	struct db_result r = {.outcome = outcome};
	/* Its own result, or its row of a merged call's (past the n column). */
	const PGresult *res = q->merged_res ? q->merged_res : q->res;
	int row = q->merged_res ? q->merged_row : 0, col = q->merged_res ? 1 : 0;
	if (outcome == DB_DONE && res) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    (q->merged_res || PQntuples(res) == 1) && PQnfields(res) >= col + 3) {
			r.status = atoi(PQgetvalue(res, row, col));
			r.body = PQgetvalue(res, row, col + 1);
			r.body_len = (size_t)PQgetlength(res, row, col + 1);
			r.replay = PQgetvalue(res, row, col + 2)[0] == 't';
			if (PQnfields(res) >= col + 4 && !PQgetisnull(res, row, col + 3))
				r.etag = PQgetvalue(res, row, col + 3);
		} else {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			/* Shutdown, lost connection, resources, serialization: retryable. */
			bool transient =
			    state &&
			    (strncmp(state, "57", 2) == 0 || strncmp(state, "08", 2) == 0 ||
			     strncmp(state, "53", 2) == 0 || strncmp(state, "40", 2) == 0);
			const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
			log_error("db: %s failed: sqlstate %s%s%s", stmts[q->stmt].name,
			          state ? state : "?", constraint ? " constraint " : "",
			          constraint ? constraint : "");
			r.outcome = transient ? DB_UNAVAILABLE : DB_FAILED;
		}
	} else if (outcome == DB_DONE) {
		r.outcome = DB_FAILED;
	}
	if (q->cb)
		q->cb(q->arg, &r);
	query_free(q);
}

static void fail_all(struct query_list *list, int *count)
{
	struct db_query *q;
	while ((q = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, q, link);
		(*count)--;
		if (q->setup)
			query_free(q);
		else
			query_finish(q, DB_UNAVAILABLE);
	}
}

static void conn_schedule_retry(struct db_conn *c)
{
	struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
	evtimer_add(c->retry, &tv);
	c->backoff_ms =
	    c->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void conn_down(struct db_conn *c, const char *why)
{
	if (c->state == C_READY)
		log_warn("db: connection %d lost (%s); reconnecting", c->index, why);
	else
		log_debug("db: connection %d failed (%s)", c->index, why);
	if (c->io) {
		event_free(c->io);
		c->io = NULL;
	}
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = C_DOWN;
	c->want_write = false;
	event_del(c->connect_deadline);
	fail_all(&c->inflight, &c->ninflight);
	conn_schedule_retry(c);
	/* Queries waiting for room fail now if no connection is left. */
	if (db_ready_count(c->pool) == 0)
		event_active(c->pool->drain, 0, 0);
}

static void conn_watch(struct db_conn *c, bool want_write)
{
	short what = EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0);
	/* While connecting libpq may close its socket and open another (next
	 * host or address), often with the same fd number, which epoll has
	 * already forgotten: then always register afresh. */
	if (c->io && c->state != C_CONNECTING && c->want_write == want_write &&
	    event_pending(c->io, EV_READ, NULL))
		return;
	if (c->io)
		event_free(c->io);
	c->io = event_new(c->pool->base, PQsocket(c->pg), what, conn_io, c);
	if (!c->io)
		log_fatal("out of memory");
	c->want_write = want_write;
	event_add(c->io, NULL);
}

/* Push buffered output; watch for writability only while some remains. */
static bool conn_flush(struct db_conn *c)
{
	int r = PQflush(c->pg);
	if (r < 0) {
		conn_down(c, "write failed");
		return false;
	}
	conn_watch(c, r == 1);
	return true;
}

static struct db_query *query_new(int stmt, const char *const *params, int nparams)
{
	struct db_query *q = calloc(1, sizeof *q);
	if (!q)
		log_fatal("out of memory");
	q->stmt = stmt;
	q->nparams = nparams;
	for (int i = 0; i < nparams; i++) {
		if (params[i] && !(q->params[i] = strdup(params[i])))
			log_fatal("out of memory");
	}
	return q;
}

/* Parameter k of members [from, to) of group g as the text of a
 * PostgreSQL array: {"a","b\\"c",NULL}. */
static char *array_literal(const struct db_query *g, int from, int to, int k)
{
	size_t len = 3;
	for (int j = from; j < to; j++) {
		const char *v = g->members[j]->params[k];
		len += 1 + (v ? 2 : 4);
		for (; v && *v; v++)
			len += 1 + (*v == '"' || *v == '\\');
	}
	char *out = malloc(len), *o = out;
	if (!out)
		log_fatal("out of memory");
	*o++ = '{';
	for (int j = from; j < to; j++) {
		const char *v = g->members[j]->params[k];
		if (j > from)
			*o++ = ',';
		if (!v) {
			memcpy(o, "NULL", 4);
			o += 4;
			continue;
		}
		*o++ = '"';
		for (; *v; v++) {
			if (*v == '"' || *v == '\\')
				*o++ = '\\';
			*o++ = *v;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* Part i of group g starts at this member (and ends at part_end[i]). */
static int part_from(const struct db_query *g, int i)
{
	return i ? g->part_end[i - 1] : 0;
}

/* Sends part i of group g: its one call, or the merged call of all. */
static bool send_part(struct db_conn *c, struct db_query *g, int i)
{
	int from = part_from(g, i), to = g->part_end[i];
	struct db_query *m = g->members[from];
	if (to - from == 1)
		return PQsendQueryPrepared(c->pg, stmts[m->stmt].name, m->nparams,
		                           (const char *const *)m->params, NULL, NULL, 0);
	char *arrays[DB_MAX_PARAMS] = {0};
	const char *params[DB_MAX_PARAMS];
	for (int k = 0; k < m->nparams; k++)
		params[k] = stmts[m->stmt].shared & (1u << k)
		                ? m->params[k]
		                : (arrays[k] = array_literal(g, from, to, k));
	bool ok = PQsendQueryPrepared(c->pg, stmts[stmts[m->stmt].merged].name, m->nparams, params,
	                              NULL, NULL, 0);
	for (int k = 0; k < m->nparams; k++)
		free(arrays[k]);
	return ok;
}

static bool conn_send(struct db_conn *c, struct db_query *q)
{
	int ok;
	if (q->setup && q->stmt == DB_SETUP_VERSION)
		ok = PQsendQueryParams(c->pg, SCHEMA_VERSION_SQL, 0, NULL, NULL, NULL, NULL, 0);
	else if (q->setup && q->stmt == DB_SETUP_SESSION)
		ok = PQsendQueryParams(c->pg, c->pool->session_sql, 0, NULL, NULL, NULL, NULL, 0);
	else if (q->setup)
		ok = PQsendPrepare(c->pg, stmts[q->stmt].name, stmts[q->stmt].sql, 0, NULL);
	else if (q->stmt == DB_GROUP) {
		/* No BEGIN: what a pipeline sends up to its sync is one implicit
		 * transaction, committed at the sync, and rolled back there (the
		 * rest skipped) if a statement fails. */
		ok = 1;
		for (int i = 0; ok && i < q->nparts; i++)
			ok = send_part(c, q, i);
	} else
		ok = PQsendQueryPrepared(c->pg, stmts[q->stmt].name, q->nparams,
		                         (const char *const *)q->params, NULL, NULL, 0);
	if (!ok || !PQpipelineSync(c->pg))
		return false;
	TAILQ_INSERT_TAIL(&c->inflight, q, link);
	c->ninflight++;
	return true;
}

/* After connecting: prepare every statement and read the schema version,
 * all in one pipeline. The version query goes last; its answer makes the
 * connection ready. */
static void conn_setup(struct db_conn *c)
{
	if (PQenterPipelineMode(c->pg) != 1) {
		conn_down(c, "cannot enter pipeline mode");
		return;
	}
	c->state = C_SETUP;
	for (int s = -1; s <= nstmts; s++) {
		/* session settings first; the version query last: its answer
		 * makes the connection ready */
		int which = s < 0 ? DB_SETUP_SESSION : s < nstmts ? s : DB_SETUP_VERSION;
		struct db_query *q = query_new(which, NULL, 0);
		q->setup = true;
		if (!conn_send(c, q)) {
			query_free(q);
			conn_down(c, "cannot send setup");
			return;
		}
	}
	(void)conn_flush(c);
}

static void setup_done(struct db_conn *c, struct db_query *q)
{
	if (q->stmt != DB_SETUP_VERSION) {
		/* A prepare answers COMMAND_OK, the session settings a row. */
		ExecStatusType want =
		    q->stmt == DB_SETUP_SESSION ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
		if (!q->res || PQresultStatus(q->res) != want) {
			const char *state =
			    q->res ? PQresultErrorField(q->res, PG_DIAG_SQLSTATE) : NULL;
			log_error("db: cannot prepare %s (sqlstate %s): is the schema migrated?",
			          q->stmt >= 0 ? stmts[q->stmt].name : "the session",
			          state ? state : "?");
			c->setup_failed = true;
		}
		return;
	}
	bool got = q->res && PQresultStatus(q->res) == PGRES_TUPLES_OK;
	int version = got ? atoi(PQgetvalue(q->res, 0, 0)) : -1;
	if (version != db_expected_version()) {
		log_error("db: schema version %d, cdrpd needs %d: run `cdrpd --migrate -c FILE`",
		          version, db_expected_version());
		c->setup_failed = true;
	} else if (strcmp(PQgetvalue(q->res, 0, 1), db_code_hash()) != 0) {
		log_error(
		    "db: the database's SQL code is not this cdrpd's: run `cdrpd --migrate -c "
		    "FILE`");
		c->setup_failed = true;
	}
	if (c->setup_failed) {
		c->setup_failed = false;
		conn_down(c, "setup failed"); /* requests get 503; retried with backoff */
		return;
	}
	event_del(c->connect_deadline);
	c->state = C_READY;
	c->backoff_ms = DB_BACKOFF_MIN_MS;
	log_info("db: connection %d ready", c->index);
	pool_dispatch(c->pool);
}

/* The group's statements ended: answer every member, or, if anything
 * failed (and so nothing was committed), queue them all to run alone. */
static void group_done(struct db_pool *p, struct db_query *g)
{
	if (g->failed) {
		p->group_failures++;
		log_info("db: a group of %d calls failed; running each alone", g->nmembers);
		for (int i = 0; i < g->nmembers; i++) {
			struct db_query *m = g->members[i];
			PQclear(m->res);
			m->res = NULL;
			m->merged_res = NULL;
			m->solo = true;
		}
		requeue(p, g);
		event_active(p->kick, 0, 0);
		return;
	}
	for (int i = 0; i < g->nmembers; i++)
		query_finish(g->members[i], DB_DONE);
	g->nmembers = 0;
	query_free(g);
}

/* Gives each member of a merged part its row: the row whose n (from 1)
 * is its place in the part. Any other answer fails the group. */
static void merged_rows(struct db_query *g, int from, int to, const PGresult *res)
{
	if (PQntuples(res) != to - from || PQnfields(res) < 4) {
		g->failed = true;
		return;
	}
	for (int row = 0; row < to - from; row++) {
		int n = atoi(PQgetvalue(res, row, 0));
		if (n < 1 || n > to - from || g->members[from + n - 1]->merged_res) {
			g->failed = true;
			return;
		}
		g->members[from + n - 1]->merged_res = res;
		g->members[from + n - 1]->merged_row = row;
	}
}

/* One result (or end of a statement's results, NULL) of a group. False
 * when nothing more is to be read now. */
static bool group_result(struct db_conn *c, struct db_query *g, PGresult *res)
{
	if (!res) {
		if (!g->at_got || PQstatus(c->pg) == CONNECTION_BAD)
			return false;
		g->at++;
		g->at_got = false;
		return true;
	}
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_PIPELINE_SYNC) {
		PQclear(res);
		TAILQ_REMOVE(&c->inflight, g, link);
		c->ninflight--;
		group_done(c->pool, g);
		return true;
	}
	g->at_got = true;
	if (g->at >= g->nparts) {
		g->failed = true; /* anything after the calls: the commit failed */
	} else if (st != PGRES_TUPLES_OK) {
		g->failed = true; /* this one, or skipped after it */
	} else {
		int from = part_from(g, g->at), to = g->part_end[g->at];
		if (to - from == 1 && !g->members[from]->res) {
			g->members[from]->res = res;
			return true;
		}
		if (to - from > 1 && !g->part_res[g->at]) {
			g->part_res[g->at] = res;
			merged_rows(g, from, to, res);
			return true;
		}
	}
	PQclear(res);
	return true;
}

static void conn_read(struct db_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		conn_down(c, "read failed");
		return;
	}
	struct db_query *q;
	while ((q = TAILQ_FIRST(&c->inflight)) != NULL && !PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		if (q->stmt == DB_GROUP) {
			if (!group_result(c, q, res))
				break;
			continue;
		}
		if (!res) {
			/* The end of this statement's results; its sync follows. A
			 * second end, or an end before any result, means nothing
			 * more is here now: stop rather than spin. */
			if (!q->res || q->ended || PQstatus(c->pg) == CONNECTION_BAD)
				break;
			q->ended = true;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			TAILQ_REMOVE(&c->inflight, q, link);
			c->ninflight--;
			if (q->setup) {
				setup_done(c, q);
				query_free(q);
			} else {
				query_finish(q, DB_DONE);
			}
			continue;
		}
		if (!q->res)
			q->res = res;
		else
			PQclear(res);
	}
	if (!c->pg)
		return; /* went down while dispatching */
	if (PQstatus(c->pg) == CONNECTION_BAD)
		conn_down(c, "connection closed");
	else if (c->state == C_READY)
		pool_dispatch(c->pool);
}

static void conn_poll_connect(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_watch(c, false);
		break;
	case PGRES_POLLING_WRITING:
		conn_watch(c, true);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->pg, 1) != 0) {
			conn_down(c, "cannot set non-blocking");
			break;
		}
		conn_watch(c, false);
		conn_setup(c);
		break;
	default:
		conn_down(c, "connect failed");
		break;
	}
}

static void conn_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct db_conn *c = arg;
	if (c->state == C_CONNECTING) {
		conn_poll_connect(c);
		return;
	}
	if ((what & EV_WRITE) && !conn_flush(c))
		return;
	/* Also after a write: PQflush may have read answers into libpq. */
	conn_read(c);
}

static void conn_start(struct db_conn *c)
{
	c->pg = PQconnectStart(c->pool->cfg->database);
	if (!c->pg)
		log_fatal("out of memory");
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_down(c, "bad connection string");
		return;
	}
	PQsetNoticeProcessor(c->pg, ignore_notice, NULL); /* notices are not our log */
	c->state = C_CONNECTING;
	struct timeval tv = {DB_CONNECT_TIMEOUT_S, 0};
	evtimer_add(c->connect_deadline, &tv);
	conn_watch(c, true);
}

static void conn_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct db_conn *c = arg;
	if (c->state == C_CONNECTING || c->state == C_SETUP)
		conn_down(c, "connect or setup timed out");
}

static void conn_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_start(arg);
}

void db_get_stats(const struct db_pool *p, struct db_stats *out)
{
	*out = (struct db_stats){.size = p->nconns,
	                         .ready = db_ready_count(p),
	                         .waiting = p->nwaiting,
	                         .groups = p->groups,
	                         .group_calls = p->group_calls,
	                         .merged_calls = p->merged_calls,
	                         .group_failures = p->group_failures};
	for (int i = 0; i < p->nconns; i++)
		out->inflight += p->conns[i].ninflight;
}

int db_ready_count(const struct db_pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nconns; i++)
		n += p->conns[i].state == C_READY;
	return n;
}

static bool groupable(const struct db_query *q)
{
	return q->stmt >= 0 && stmts[q->stmt].groupable && !q->solo;
}

static bool same_param(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether b may go in the merged call that a starts. */
static bool mergeable(const struct db_query *a, const struct db_query *b)
{
	if (a->stmt != b->stmt || stmts[a->stmt].merged < 0 || a->nparams != b->nparams)
		return false;
	for (int k = 0; k < a->nparams; k++)
		if ((stmts[a->stmt].shared & (1u << k)) && !same_param(a->params[k], b->params[k]))
			return false;
	return true;
}

/* Orders a group's members into parts: each call with every later one it
 * merges with, in the order of their first. */
static void group_parts(struct db_query *g)
{
	struct db_query **sorted = calloc((size_t)g->nmembers, sizeof *sorted);
	g->part_end = calloc((size_t)g->nmembers, sizeof *g->part_end);
	g->part_res = calloc((size_t)g->nmembers, sizeof *g->part_res);
	if (!sorted || !g->part_end || !g->part_res)
		log_fatal("out of memory");
	int n = 0;
	for (int i = 0; i < g->nmembers; i++) {
		if (!g->members[i])
			continue;
		struct db_query *first = g->members[i];
		sorted[n++] = first;
		for (int j = i + 1; j < g->nmembers; j++) {
			if (g->members[j] && mergeable(first, g->members[j])) {
				sorted[n++] = g->members[j];
				g->members[j] = NULL;
			}
		}
		g->part_end[g->nparts++] = n;
	}
	free(g->members);
	g->members = sorted;
}

/* Takes q and the other groupable queries waiting (up to
 * group_commit_max) off the queue: q itself when it is alone, else a
 * group carrying them. Cancelled ones are dropped; NULL if none is left. */
static struct db_query *take_group(struct db_pool *p, struct db_query *q)
{
	int max = p->cfg->group_commit_max;
	struct db_query *g = query_new(DB_GROUP, NULL, 0), *next;
	g->members = calloc((size_t)max, sizeof *g->members);
	if (!g->members)
		log_fatal("out of memory");
	for (; q && g->nmembers < max; q = next) {
		next = TAILQ_NEXT(q, link);
		if (!groupable(q))
			continue;
		TAILQ_REMOVE(&p->waiting, q, link);
		p->nwaiting--;
		if (!q->cb)
			query_free(q);
		else
			g->members[g->nmembers++] = q;
	}
	if (g->nmembers > 1) {
		group_parts(g);
		p->groups++;
		p->group_calls += (unsigned long long)g->nmembers;
		for (int i = 0; i < g->nparts; i++) {
			int n = g->part_end[i] - part_from(g, i);
			if (n > 1)
				p->merged_calls += (unsigned long long)n;
		}
		return g;
	}
	q = g->nmembers ? g->members[0] : NULL;
	g->nmembers = 0;
	query_free(g);
	return q;
}

/* The ready connection with the shortest pipeline, below `depth`. */
static struct db_conn *pool_pick(struct db_pool *p, int depth)
{
	struct db_conn *best = NULL;
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		if (c->state == C_READY && c->ninflight < depth &&
		    (!best || c->ninflight < best->ninflight))
			best = c;
	}
	return best;
}

/* Puts a query (a group: its members) back at the head of the queue. */
static void requeue(struct db_pool *p, struct db_query *q)
{
	if (q->stmt != DB_GROUP) {
		TAILQ_INSERT_HEAD(&p->waiting, q, link);
		p->nwaiting++;
		return;
	}
	for (int i = q->nmembers - 1; i >= 0; i--) {
		TAILQ_INSERT_HEAD(&p->waiting, q->members[i], link);
		p->nwaiting++;
	}
	q->nmembers = 0;
	query_free(q);
}

static void pool_send(struct db_pool *p, struct db_conn *c, struct db_query *q)
{
	if (!conn_send(c, q)) {
		requeue(p, q);
		conn_down(c, "send failed");
		return;
	}
	if (!conn_flush(c))
		return;
	/* PQflush may have read answers into libpq (when the socket was
	 * full); the socket then stays quiet, so look at them now. */
	if (!PQisBusy(c->pg))
		event_active(c->io, EV_READ, 0);
}

/* Hand waiting queries to the ready connection with the shortest pipeline.
 * Groupable ones wait, and so group, while every connection has a batch in
 * flight; the others may pass them and use the pipelines. */
static void pool_dispatch(struct db_pool *p)
{
	struct db_query *q;
	while ((q = TAILQ_FIRST(&p->waiting)) != NULL) {
		if (!q->cb) { /* cancelled while waiting */
			TAILQ_REMOVE(&p->waiting, q, link);
			p->nwaiting--;
			query_free(q);
			continue;
		}
		bool group = groupable(q) && p->cfg->group_commit_max > 1;
		struct db_conn *c =
		    pool_pick(p, group ? DB_GROUP_INFLIGHT : p->cfg->pipeline_depth);
		if (c && group) {
			if ((q = take_group(p, q)) != NULL)
				pool_send(p, c, q);
			continue;
		}
		if (c) {
			TAILQ_REMOVE(&p->waiting, q, link);
			p->nwaiting--;
			pool_send(p, c, q);
			continue;
		}
		if (!group)
			return;
		/* The first query that is not groupable may still go. */
		while (q && groupable(q))
			q = TAILQ_NEXT(q, link);
		if (!q || !(c = pool_pick(p, p->cfg->pipeline_depth)))
			return;
		TAILQ_REMOVE(&p->waiting, q, link);
		p->nwaiting--;
		if (q->cb)
			pool_send(p, c, q);
		else
			query_free(q);
	}
}

static void pool_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pool_dispatch(arg);
}

static void pool_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct db_pool *p = arg;
	if (db_ready_count(p) == 0)
		fail_all(&p->waiting, &p->nwaiting);
}

struct db_pool *db_pool_new(struct event_base *base, const struct cfg *cfg)
{
	struct db_pool *p = calloc(1, sizeof *p);
	if (!p)
		log_fatal("out of memory");
	p->base = base;
	p->cfg = cfg;
	p->nconns = cfg->pool_size;
	TAILQ_INIT(&p->waiting);
	p->conns = calloc((size_t)p->nconns, sizeof *p->conns);
	p->drain = event_new(base, -1, 0, pool_drain, p);
	p->kick = event_new(base, -1, 0, pool_kick, p);
	if (!p->conns || !p->drain || !p->kick)
		log_fatal("out of memory");
	/* A statement outliving its request (answered 503 at the deadline)
	 * still ends, and frees its connection, soon after. */
	/* No JIT: every statement is short, and compiling one costs more than
	 * running it (a plan with a disabled node type looks expensive enough
	 * to trigger it: cdrp_api.audit_seal). */
	snprintf(p->session_sql, sizeof p->session_sql,
	         "SELECT set_config('statement_timeout', '%d', false), "
	         "set_config('jit', 'off', false)",
	         cfg->request_deadline_ms * 2);
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		c->pool = p;
		c->index = i;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		TAILQ_INIT(&c->inflight);
		c->retry = evtimer_new(base, conn_retry, c);
		c->connect_deadline = evtimer_new(base, conn_connect_timeout, c);
		if (!c->retry || !c->connect_deadline)
			log_fatal("out of memory");
		conn_start(c);
	}
	return p;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nconns; i++) {
		struct db_conn *c = &p->conns[i];
		if (c->io)
			event_free(c->io);
		fail_all(&c->inflight, &c->ninflight);
		PQfinish(c->pg);
		event_free(c->retry);
		event_free(c->connect_deadline);
	}
	fail_all(&p->waiting, &p->nwaiting);
	event_free(p->drain);
	event_free(p->kick);
	free(p->conns);
	free(p);
}

struct db_query *db_call(struct db_pool *p, int stmt, const char *const *params, int nparams,
                         db_cb cb, void *arg)
{
	if (stmt < 0 || stmt >= nstmts || nparams > DB_MAX_PARAMS)
		log_fatal("db_call: statement %d with %d parameters", stmt, nparams);
	if (db_ready_count(p) == 0 || p->nwaiting >= p->cfg->max_queue)
		return NULL;
	struct db_query *q = query_new(stmt, params, nparams);
	q->cb = cb;
	q->arg = arg;
	TAILQ_INSERT_TAIL(&p->waiting, q, link);
	p->nwaiting++;
	/* Dispatch from the loop, never from here: a send failure fails
	 * queries, and their callbacks must not run inside the caller. */
	event_active(p->kick, 0, 0);
	return q;
}

void db_cancel(struct db_query *q)
{
	if (q)
		q->cb = NULL;
}

/* ---- blocking helpers, used before the event loop runs ---- */

void db_conninfo_warnings(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = NULL, *hostaddr = NULL;
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	/* A name to resolve: libpq's getaddrinfo blocks, on every reconnect. */
	bool name = false;
	for (const char *h = host; h && *h && !(hostaddr && hostaddr[0]);) {
		char one[256];
		size_t n = strcspn(h, ",");
		snprintf(one, sizeof one, "%.*s", (int)n, h);
		unsigned char addr[sizeof(struct in6_addr)];
		if (one[0] && one[0] != '/' && inet_pton(AF_INET, one, addr) != 1 &&
		    inet_pton(AF_INET6, one, addr) != 1)
			name = true;
		h += n + (h[n] == ',');
	}
	if (name)
		log_warn("db: database host is a name: libpq resolves it with a blocking lookup "
		         "on every reconnect; use an IP address (hostaddr=) or a socket directory");
	PQconninfoFree(opts);
}

int db_expected_version(void)
{
	return migrations[MIGRATION_COUNT - 1].version;
}

static PGconn *connect_blocking(const char *conninfo, char *err, size_t errlen)
{
	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		/* libpq's message names host and database, never the password. */
		snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* SHA-256 of the compiled-in SQL code, as hex: what `--migrate` records and
 * what every connection checks. */
const char *db_code_hash(void)
{
	static char hex[2 * 32 + 1];
	if (hex[0])
		return hex;
	unsigned char md[32];
	unsigned int len = 0;
	if (!EVP_Digest(code_sql, strlen(code_sql), md, &len, EVP_sha256(), NULL) || len != 32)
		log_fatal("sha256 of the SQL code failed");
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

/* The schema version (0 if never migrated) and, in `code`, the recorded
 * code hash ("" if none); -1 on error. */
static int current_version(PGconn *pg, char *code, size_t codelen, char *err, size_t errlen)
{
	int version = -1;
	code[0] = '\0';
	PGresult *r = PQexec(pg, "SELECT to_regclass('public.cdrp_schema_migrations') IS NULL "
	                         "OR to_regclass('public.cdrp_schema_code') IS NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(pg));
		goto out;
	}
	if (PQgetvalue(r, 0, 0)[0] == 't') {
		version = 0;
		goto out;
	}
	PQclear(r);
	r = PQexec(pg, SCHEMA_VERSION_SQL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(pg));
		goto out;
	}
	version = atoi(PQgetvalue(r, 0, 0));
	snprintf(code, codelen, "%s", PQgetvalue(r, 0, 1));
out:
	PQclear(r);
	return version;
}

/* What the daemon's own database role must never be able to do: the
 * database's walls (row-level security, definer functions, audit
 * triggers) only hold for a plain role that owns nothing. */
#define ROLE_CHECK_SQL                                                                             \
	"WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname IN ('cdrp', 'cdrp_api', "          \
	"'cdrp_impl')), owners AS (SELECT relowner AS o FROM pg_class WHERE relnamespace IN "      \
	"(SELECT oid FROM ns) UNION SELECT proowner FROM pg_proc WHERE pronamespace IN "           \
	"(SELECT oid FROM ns) UNION SELECT nspowner FROM pg_namespace WHERE oid IN "               \
	"(SELECT oid FROM ns)) "                                                                   \
	"SELECT r.rolsuper, r.rolbypassrls, "                                                      \
	"has_database_privilege(current_database(), 'TEMP'), "                                     \
	"EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid), "                             \
	"EXISTS (SELECT 1 FROM owners WHERE pg_has_role(r.oid, o, 'USAGE')), "                     \
	"(SELECT count(*) FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns) AND "        \
	"p.prosecdef AND NOT coalesce(p.proconfig @> "                                             \
	"ARRAY['search_path=pg_catalog, cdrp, pg_temp'], false)), "                                \
	"(SELECT count(*) FROM owners JOIN pg_roles o ON o.oid = owners.o WHERE o.rolsuper OR "    \
	"o.rolbypassrls OR o.rolcanlogin), current_user "                                          \
	"FROM pg_roles r WHERE r.rolname = current_user"

static bool role_safe(PGconn *pg, char *err, size_t errlen)
{
	bool ok = false;
	PGresult *r = PQexec(pg, ROLE_CHECK_SQL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(err, errlen, "cannot check the database role: %s", PQerrorMessage(pg));
		goto out;
	}
	const char *role = PQgetvalue(r, 0, 7);
	if (PQgetvalue(r, 0, 0)[0] == 't')
		snprintf(err, errlen, "database role %s is a superuser", role);
	else if (PQgetvalue(r, 0, 1)[0] == 't')
		snprintf(err, errlen, "database role %s can bypass row-level security", role);
	else if (PQgetvalue(r, 0, 2)[0] == 't')
		snprintf(err, errlen,
		         "database role %s may create temporary objects (REVOKE TEMP ON DATABASE "
		         "... FROM PUBLIC; `cdrpd --migrate` does this)",
		         role);
	else if (PQgetvalue(r, 0, 3)[0] == 't')
		snprintf(err, errlen, "database role %s owns tables", role);
	else if (PQgetvalue(r, 0, 4)[0] == 't')
		snprintf(err, errlen,
		         "database role %s is, or may act as, the owner of cdrp's objects", role);
	else if (strcmp(PQgetvalue(r, 0, 5), "0") != 0)
		snprintf(err, errlen,
		         "%s SECURITY DEFINER functions do not pin search_path with pg_temp last: "
		         "run `cdrpd --migrate`",
		         PQgetvalue(r, 0, 5));
	else if (strcmp(PQgetvalue(r, 0, 6), "0") != 0)
		snprintf(err, errlen,
		         "cdrp's objects are owned by a superuser, BYPASSRLS or LOGIN role: run "
		         "`cdrpd --migrate` (it gives them to cdrp_owner)");
	else
		ok = true;
	if (!ok)
		strncat(err, ": cdrpd refuses to start (see SECURITY.md, \"Database roles\")",
		        errlen - strlen(err) - 1);
out:
	PQclear(r);
	return ok;
}

bool db_check_schema(const char *conninfo, char *err, size_t errlen)
{
	bool ok = false;
	char code[80];
	PGconn *pg = connect_blocking(conninfo, err, errlen);
	if (!pg)
		goto out;
	int v = current_version(pg, code, sizeof code, err, errlen);
	if (v < 0)
		goto out;
	if (v != db_expected_version()) {
		const char *next = v < db_expected_version() ? migrations[v].name : NULL;
		if (next)
			snprintf(err, errlen,
			         "database schema is at version %d but cdrpd needs %d: apply "
			         "migration %s with `cdrpd --migrate -c FILE`",
			         v, db_expected_version(), next);
		else
			snprintf(err, errlen,
			         "database schema is at version %d, newer than this cdrpd (%d): "
			         "upgrade cdrpd",
			         v, db_expected_version());
		goto out;
	}
	if (strcmp(code, db_code_hash()) != 0) {
		snprintf(err, errlen,
		         "the database's SQL code is not this cdrpd's (another version migrated "
		         "it): run `cdrpd --migrate -c FILE`");
		goto out;
	}
	ok = role_safe(pg, err, errlen);
out:
	PQfinish(pg);
	return ok;
}

static bool exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok) {
		snprintf(err, errlen, "%s: %s", what, PQerrorMessage(pg));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(r);
	return ok;
}

/* Run as the migrating superuser, once per migrate: the roles, the
 * database privileges, the bookkeeping tables, and the adoption by
 * cdrp_owner of objects that older versions created as the superuser. */
static const char bootstrap_sql[] =
    "BEGIN; SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK ");"
    "DO $$ BEGIN"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdrp_owner') THEN"
    "    CREATE ROLE cdrp_owner NOLOGIN;"
    "  END IF;"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdrp_app') THEN"
    "    CREATE ROLE cdrp_app LOGIN;"
    "  END IF;"
    "  EXECUTE format('GRANT CREATE, CONNECT ON DATABASE %I TO cdrp_owner', current_database());"
    "  EXECUTE format('GRANT CONNECT ON DATABASE %I TO cdrp_app', current_database());"
    "  EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC, cdrp_app, cdrp_owner',"
    "                 current_database());"
    "END $$;"
    "ALTER ROLE cdrp_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;"
    "ALTER ROLE cdrp_app NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;"
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    /* functions of cdrp_owner pin the row-level security scope */
    "GRANT SET ON PARAMETER cdrp.scope TO cdrp_owner;"
    "CREATE TABLE IF NOT EXISTS public.cdrp_schema_migrations ("
    " version int PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS public.cdrp_schema_code ("
    " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), sha256 text NOT NULL,"
    " installed_at timestamptz NOT NULL DEFAULT now());"
    "ALTER TABLE public.cdrp_schema_migrations OWNER TO cdrp_owner;"
    "ALTER TABLE public.cdrp_schema_code OWNER TO cdrp_owner;"
    "GRANT SELECT ON public.cdrp_schema_migrations, public.cdrp_schema_code TO PUBLIC;"
    "DO $$ DECLARE o record; BEGIN"
    "  FOR o IN SELECT format('ALTER SCHEMA %I OWNER TO cdrp_owner', nspname) AS s"
    "    FROM pg_namespace WHERE nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl')"
    "     AND nspowner <> 'cdrp_owner'::regrole"
    "  UNION ALL SELECT format('ALTER TABLE %s OWNER TO cdrp_owner', c.oid::regclass)"
    "    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "    WHERE n.nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl') AND c.relkind IN ('r', 'p', 'v')"
    "      AND c.relowner <> 'cdrp_owner'::regrole"
    "  UNION ALL SELECT format('ALTER TYPE %s OWNER TO cdrp_owner', t.oid::regtype)"
    "    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
    "    WHERE n.nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl') AND t.typrelid = 0"
    "      AND t.typelem = 0 AND t.typowner <> 'cdrp_owner'::regrole"
    "  UNION ALL SELECT format('ALTER TYPE %s OWNER TO cdrp_owner', t.oid::regtype)"
    "    FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid"
    "    JOIN pg_namespace n ON n.oid = t.typnamespace"
    "    WHERE n.nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl') AND c.relkind = 'c'"
    "      AND t.typowner <> 'cdrp_owner'::regrole"
    "  UNION ALL SELECT format('ALTER FUNCTION %s OWNER TO cdrp_owner', p.oid::regprocedure)"
    "    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    "    WHERE n.nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl')"
    "      AND p.proowner <> 'cdrp_owner'::regrole"
    "  LOOP EXECUTE o.s; END LOOP;"
    "END $$;"
    "COMMIT";

/* Starts a migrate transaction that runs as cdrp_owner and sees every
 * row (row-level security, sql/code/008_rls.sql). */
#define MIGRATE_BEGIN                                                                              \
	"BEGIN; SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK "); SET LOCAL ROLE cdrp_owner; "    \
	"SET LOCAL cdrp.scope = 'all'"

static void rollback(PGconn *pg)
{
	PGresult *rb = PQexec(pg, "ROLLBACK");
	PQclear(rb);
}

bool db_migrate(const char *conninfo, char *err, size_t errlen)
{
	bool ok = false;
	char sql[256];
	PGconn *pg = connect_blocking(conninfo, err, errlen);
	if (!pg)
		goto out;
	PQsetNoticeProcessor(pg, ignore_notice, NULL); /* "already exists, skipping" */
	if (!exec_ok(pg, bootstrap_sql, err, errlen,
	             "cannot prepare the database (roles, privileges; migrate as a superuser)")) {
		rollback(pg);
		goto out;
	}
	for (int i = 0; i < MIGRATION_COUNT; i++) {
		const struct migration *m = &migrations[i];
		/* One transaction per migration; the advisory lock makes two
		 * concurrent migrators take turns. */
		if (!exec_ok(pg, MIGRATE_BEGIN, err, errlen, "cannot start migration"))
			goto out;
		snprintf(sql, sizeof sql,
		         "SELECT 1 FROM public.cdrp_schema_migrations WHERE version = %d",
		         m->version);
		PGresult *r = PQexec(pg, sql);
		bool applied = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
		PQclear(r);
		if (applied) {
			if (!exec_ok(pg, "COMMIT", err, errlen, "commit"))
				goto out;
			continue;
		}
		char what[128];
		snprintf(what, sizeof what, "migration %s failed", m->name);
		if (!exec_ok(pg, m->sql, err, errlen, what)) {
			rollback(pg);
			goto out;
		}
		snprintf(sql, sizeof sql,
		         "INSERT INTO public.cdrp_schema_migrations (version, name) "
		         "VALUES (%d, '%s'); COMMIT",
		         m->version, m->name);
		if (!exec_ok(pg, sql, err, errlen, "cannot record migration"))
			goto out;
		log_info("applied migration %s", m->name);
	}
	/* The code: dropped and re-created whole (sql/code/000_reset.sql),
	 * then its hash recorded, in one transaction. */
	if (!exec_ok(pg, MIGRATE_BEGIN, err, errlen, "cannot start installing the SQL code"))
		goto out;
	if (!exec_ok(pg, code_sql, err, errlen, "installing the SQL code failed")) {
		rollback(pg);
		goto out;
	}
	snprintf(
	    sql, sizeof sql,
	    "INSERT INTO public.cdrp_schema_code (sha256) VALUES ('%s') ON CONFLICT (only_row) "
	    "DO UPDATE SET sha256 = excluded.sha256, installed_at = now(); COMMIT",
	    db_code_hash());
	if (!exec_ok(pg, sql, err, errlen, "cannot record the SQL code"))
		goto out;
	log_info("installed the SQL code (%.12s)", db_code_hash());
	ok = true;
out:
	PQfinish(pg);
	return ok;
}
