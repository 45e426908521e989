/* admin.c: the admin listener (config admin_listen, loopback only, plain
 * HTTP, no client certificate) for what a load balancer and Prometheus
 * poll, and the request counters behind it:
 *   GET /livez    200 while the event loop runs (liveness)
 *   GET /readyz   200 if a database connection is up and cdrpd is not
 *                 stopping, else 503 (readiness)
 *   GET /metrics  Prometheus text format 0.0.4: requests by route and
 *                 status, latency histograms by route, connections, the
 *                 database pool and group commit, the audit sealer.
 * It answers only these three GETs, reads no body, and serves nothing
 * about cases or people: the API stays behind mutual TLS. */
#include "cdrpd.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounded: the admin port takes no body and short headers only. */
#define ADMIN_MAX_HEADERS_BYTES 4096
#define ADMIN_TIMEOUT_S         5
#define ADMIN_MAX_BODY_BYTES    1024

/* Status codes counted one by one; the rest as "other". */
static const int admin_statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                                     412, 413, 415, 422, 428, 429, 431, 500, 503, 504};
#define ADMIN_NSTATUS (sizeof admin_statuses / sizeof admin_statuses[0] + 1)
/* Latency buckets, seconds (upper bounds; +Inf is the count). */
static const double admin_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,   0.25,   0.5,   1,    2.5,   5};
#define ADMIN_NBUCKETS (sizeof admin_buckets / sizeof admin_buckets[0])

struct admin_route_stats {
	unsigned long long by_status[ADMIN_NSTATUS];
	unsigned long long bucket[ADMIN_NBUCKETS]; /* not cumulative; summed on output */
	unsigned long long count;
	double sum_s;
};

static struct {
	struct daemon *d;
	struct evhttp *http;
	struct admin_route_stats *routes; /* api_route_count() + 1: the last is "no route" */
	size_t nroutes;
} M;

void admin_observe(int route, int status, double seconds)
{
	if (!M.routes)
		return;
	size_t r = route >= 0 && (size_t)route < M.nroutes - 1 ? (size_t)route : M.nroutes - 1;
	struct admin_route_stats *s = &M.routes[r];
	size_t i = 0;
	while (i < ADMIN_NSTATUS - 1 && admin_statuses[i] != status)
		i++;
	s->by_status[i]++;
	size_t b = 0;
	while (b < ADMIN_NBUCKETS && seconds > admin_buckets[b])
		b++;
	if (b < ADMIN_NBUCKETS)
		s->bucket[b]++;
	s->count++;
	s->sum_s += seconds;
}

static void reply(struct evhttp_request *req, int code, const char *type, struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, code, NULL, body);
}

static void metric_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void route_label(size_t r, char *out, size_t outlen)
{
	const char *method, *path;
	if (r == M.nroutes - 1 || !api_route_name(r, &method, &path))
		snprintf(out, outlen, "route=\"none\"");
	else
		snprintf(out, outlen, "route=\"%s %s\"", method, path);
}

static void write_metrics(struct evbuffer *b)
{
	struct daemon *d = M.d;
	char label[160];
	metric_head(b, "cdrp_http_requests_total", "counter",
	            "Requests answered, by route (method and path pattern) and status.");
	for (size_t r = 0; r < M.nroutes; r++) {
		route_label(r, label, sizeof label);
		for (size_t i = 0; i < ADMIN_NSTATUS; i++) {
			if (!M.routes[r].by_status[i])
				continue;
			if (i < ADMIN_NSTATUS - 1)
				evbuffer_add_printf(
				    b, "cdrp_http_requests_total{%s,status=\"%d\"} %llu\n", label,
				    admin_statuses[i], M.routes[r].by_status[i]);
			else
				evbuffer_add_printf(
				    b, "cdrp_http_requests_total{%s,status=\"other\"} %llu\n",
				    label, M.routes[r].by_status[i]);
		}
	}
	metric_head(b, "cdrp_http_request_duration_seconds", "histogram",
	            "Time from a request's arrival to its answer, by route.");
	for (size_t r = 0; r < M.nroutes; r++) {
		const struct admin_route_stats *s = &M.routes[r];
		if (!s->count)
			continue;
		route_label(r, label, sizeof label);
		unsigned long long cum = 0;
		for (size_t i = 0; i < ADMIN_NBUCKETS; i++) {
			cum += s->bucket[i];
			evbuffer_add_printf(
			    b, "cdrp_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
			    label, admin_buckets[i], cum);
		}
		evbuffer_add_printf(
		    b, "cdrp_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", label,
		    s->count);
		evbuffer_add_printf(b, "cdrp_http_request_duration_seconds_sum{%s} %.6f\n", label,
		                    s->sum_s);
		evbuffer_add_printf(b, "cdrp_http_request_duration_seconds_count{%s} %llu\n", label,
		                    s->count);
	}
	metric_head(b, "cdrp_http_connections", "gauge",
	            "Client connections past their TLS handshake.");
	evbuffer_add_printf(b, "cdrp_http_connections %d\n", d->nconns);
	metric_head(b, "cdrp_tls_handshakes_in_progress", "gauge",
	            "Connections in their TLS handshake.");
	evbuffer_add_printf(b, "cdrp_tls_handshakes_in_progress %d\n", d->nhandshakes);
	metric_head(b, "cdrp_http_requests_in_flight", "gauge",
	            "Requests accepted, not yet answered.");
	evbuffer_add_printf(b, "cdrp_http_requests_in_flight %d\n", d->inflight);

	struct db_stats ds;
	db_get_stats(d->db, &ds);
	metric_head(b, "cdrp_db_connections", "gauge", "Database connections by state.");
	evbuffer_add_printf(b, "cdrp_db_connections{state=\"ready\"} %d\n", ds.ready);
	evbuffer_add_printf(b, "cdrp_db_connections{state=\"down\"} %d\n", ds.size - ds.ready);
	metric_head(b, "cdrp_db_queue_waiting", "gauge",
	            "Calls waiting for a database connection.");
	evbuffer_add_printf(b, "cdrp_db_queue_waiting %d\n", ds.waiting);
	metric_head(b, "cdrp_db_calls_in_flight", "gauge", "Statements sent and not yet answered.");
	evbuffer_add_printf(b, "cdrp_db_calls_in_flight %d\n", ds.inflight);
	metric_head(b, "cdrp_db_groups_total", "counter",
	            "Group commits: calls sent together under one sync.");
	evbuffer_add_printf(b, "cdrp_db_groups_total %llu\n", ds.groups);
	metric_head(b, "cdrp_db_group_calls_total", "counter", "Calls sent in group commits.");
	evbuffer_add_printf(b, "cdrp_db_group_calls_total %llu\n", ds.group_calls);
	metric_head(b, "cdrp_db_merged_calls_total", "counter",
	            "Calls sent as part of a merged call (one set-based statement).");
	evbuffer_add_printf(b, "cdrp_db_merged_calls_total %llu\n", ds.merged_calls);
	metric_head(b, "cdrp_db_group_failures_total", "counter",
	            "Groups that failed and were run again call by call.");
	evbuffer_add_printf(b, "cdrp_db_group_failures_total %llu\n", ds.group_failures);

	json_t *a = audit_health();
	metric_head(b, "cdrp_audit_tree_size", "gauge", "Audit rows sealed into the Merkle tree.");
	evbuffer_add_printf(b, "cdrp_audit_tree_size %lld\n",
	                    (long long)json_integer_value(json_object_get(a, "tree_size")));
	metric_head(b, "cdrp_audit_checkpoint_size", "gauge",
	            "Tree size of the last signed checkpoint.");
	evbuffer_add_printf(b, "cdrp_audit_checkpoint_size %lld\n",
	                    (long long)json_integer_value(json_object_get(a, "checkpoint_size")));
	metric_head(b, "cdrp_audit_seal_lag_seconds", "gauge",
	            "Age of the oldest row of the last seal when it was sealed.");
	evbuffer_add_printf(b, "cdrp_audit_seal_lag_seconds %.3f\n",
	                    (double)json_integer_value(json_object_get(a, "seal_lag_ms")) / 1000);
	metric_head(b, "cdrp_audit_seal_lag_max_seconds", "gauge", "Largest seal lag since start.");
	evbuffer_add_printf(b, "cdrp_audit_seal_lag_max_seconds %.3f\n",
	                    (double)json_integer_value(json_object_get(a, "max_seal_lag_ms")) /
	                        1000);
	metric_head(b, "cdrp_audit_signing", "gauge",
	            "1 while checkpoints are signed, 0 if refused.");
	evbuffer_add_printf(b, "cdrp_audit_signing %d\n",
	                    strcmp(json_string_value(json_object_get(a, "signing")) ?: "", "ok") ==
	                        0);
	json_decref(a);
}

static void admin_handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *body = evbuffer_new();
	if (!body)
		log_fatal("out of memory");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || !path) {
		evbuffer_add_printf(body, "only GET /livez, /readyz and /metrics\n");
		reply(req, 405, "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/livez") == 0) {
		evbuffer_add_printf(body, "ok\n");
		reply(req, 200, "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/readyz") == 0) {
		bool ready = !M.d->stopping && db_ready_count(M.d->db) > 0;
		evbuffer_add_printf(body, "%s\n",
		                    M.d->stopping ? "stopping"
		                    : ready       ? "ok"
		                                  : "database unavailable");
		reply(req, ready ? 200 : 503, "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/metrics") == 0) {
		write_metrics(body);
		reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", body);
	} else {
		evbuffer_add_printf(body, "not found: /livez, /readyz, /metrics\n");
		reply(req, 404, "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

bool admin_start(struct daemon *d, char *err, size_t errlen)
{
	M.d = d;
	M.nroutes = api_route_count() + 1;
	M.routes = calloc(M.nroutes, sizeof *M.routes);
	if (!M.routes)
		log_fatal("out of memory");
	if (!d->cfg.admin_host[0])
		return true;
	M.http = evhttp_new(d->base);
	if (!M.http)
		log_fatal("evhttp_new failed");
	evhttp_set_allowed_methods(M.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                       EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(M.http, ADMIN_MAX_BODY_BYTES); /* read, then refused: 405 */
	evhttp_set_max_headers_size(M.http, ADMIN_MAX_HEADERS_BYTES);
	evhttp_set_timeout(M.http, ADMIN_TIMEOUT_S);
	evhttp_set_gencb(M.http, admin_handle, NULL);
	if (!evhttp_bind_socket_with_handle(M.http, d->cfg.admin_host,
	                                    (ev_uint16_t)d->cfg.admin_port)) {
		snprintf(err, errlen, "admin_listen: cannot listen on %s:%d", d->cfg.admin_host,
		         d->cfg.admin_port);
		return false;
	}
	log_info("admin: listening on %s:%d (GET /livez, /readyz, /metrics)", d->cfg.admin_host,
	         d->cfg.admin_port);
	return true;
}

void admin_stop(void)
{
	if (M.http)
		evhttp_free(M.http);
	M.http = NULL;
	free(M.routes);
	M.routes = NULL;
}
