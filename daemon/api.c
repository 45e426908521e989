/* api.c: the HTTP API of proto/API.md. Each request: identity from the
 * verified certificate, route, limits and validation (proto/), then one
 * database call whose answer becomes the response. A request that outlives
 * its deadline is answered 503 and its database answer dropped; a request
 * whose connection closes is forgotten the same way. */
#include "cdrpd.h"
#include "proto.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_RETRY_AFTER_S "2"
#define API_ID_MAX        20

struct api_req {
	struct daemon *d;
	struct evhttp_request *req; /* NULL once the connection has gone */
	struct evhttp_connection *evcon;
	struct event *deadline;
	struct db_query *query;
	char id[24];
	const char *route;
	struct tls_identity who;
	struct timespec started;
};

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct api_req *r = arg;
	log_info("req %s: client went away before the answer", r->id);
	r->req = NULL;
}

static void req_free(struct api_req *r)
{
	if (r->deadline)
		event_free(r->deadline);
	struct daemon *d = r->d;
	free(r);
	daemon_request_done(d);
}

/* Send the response (if the client is still there) and free the request. */
static void respond(struct api_req *r, int status, const char *ctype, const char *body, size_t len,
                    const char *location, bool replay)
{
	if (r->req) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
		evhttp_connection_set_closecb(r->evcon, NULL, NULL);
		evhttp_add_header(h, "Content-Type", ctype);
		evhttp_add_header(h, "X-Request-Id", r->id);
		evhttp_add_header(h, "Cache-Control", "no-store");
		if (status == 503)
			evhttp_add_header(h, "Retry-After", API_RETRY_AFTER_S);
		if (location)
			evhttp_add_header(h, "Location", location);
		if (replay)
			evhttp_add_header(h, "Idempotent-Replay", "true");
		if (r->d->stopping)
			evhttp_add_header(h, "Connection", "close");
		struct evbuffer *buf = evbuffer_new();
		if (!buf || evbuffer_add(buf, body, len) != 0)
			log_fatal("out of memory");
		evhttp_send_reply(r->req, status, NULL, buf);
		evbuffer_free(buf);
	}
	log_info("req %s %s agency=%s status=%d %.1fms", r->id, r->route,
	         r->who.agency[0] ? r->who.agency : "-", status, elapsed_ms(&r->started));
	req_free(r);
}

static void respond_problem(struct api_req *r, const struct proto_error *pe)
{
	json_t *p = proto_problem(pe);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	if (!text)
		log_fatal("out of memory");
	respond(r, proto_err_status(pe->code), "application/problem+json", text, strlen(text), NULL,
	        false);
	free(text);
	json_decref(p);
}

static void respond_error(struct api_req *r, enum proto_err code, const char *field,
                          const char *detail)
{
	struct proto_error pe = {.code = code};
	snprintf(pe.field, sizeof pe.field, "%s", field ? field : "");
	snprintf(pe.detail, sizeof pe.detail, "%s", detail ? detail : "");
	respond_problem(r, &pe);
}

static void deadline_hit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct api_req *r = arg;
	db_cancel(r->query);
	respond_error(r, PROTO_DEADLINE_EXCEEDED, NULL,
	              "the request may or may not have been stored; retry with the same "
	              "Idempotency-Key");
}

/* The database answered: a success body passes through; an error body
 * {code, detail, field} becomes problem+json. */
static void db_answered(void *arg, const struct db_result *res)
{
	struct api_req *r = arg;
	r->query = NULL;
	if (res->outcome == DB_UNAVAILABLE) {
		respond_error(r, PROTO_DATABASE_UNAVAILABLE, NULL,
		              "the database is unavailable; retry later with the same "
		              "Idempotency-Key");
		return;
	}
	if (res->outcome != DB_DONE) {
		respond_error(r, PROTO_INTERNAL, NULL, "internal error; see the request id");
		return;
	}
	if (res->status < 400) {
		char location[64] = "";
		if (res->status == 201) {
			json_t *b = json_loadb(res->body, res->body_len, 0, NULL);
			json_int_t id = json_integer_value(json_object_get(b, "id"));
			snprintf(location, sizeof location, "/v1/referrals/%lld", (long long)id);
			json_decref(b);
		}
		respond(r, res->status, "application/json", res->body, res->body_len,
		        location[0] ? location : NULL, res->replay);
		return;
	}
	struct proto_error pe = {.code = PROTO_INTERNAL};
	json_t *b = json_loadb(res->body, res->body_len, 0, NULL);
	enum proto_err code = proto_err_from_code(json_string_value(json_object_get(b, "code")));
	if (code != PROTO_ERR_COUNT && proto_err_status(code) == res->status) {
		pe.code = code;
		snprintf(pe.field, sizeof pe.field, "%s",
		         json_string_value(json_object_get(b, "field")) ?: "");
		snprintf(pe.detail, sizeof pe.detail, "%s",
		         json_string_value(json_object_get(b, "detail")) ?: "");
	} else {
		log_error("req %s: database answered status %d with an unknown code", r->id,
		          res->status);
	}
	json_decref(b);
	respond_problem(r, &pe);
}

static void call_db(struct api_req *r, enum db_stmt stmt, const char *const *params, int n)
{
	r->query = db_call(r->d->db, stmt, params, n, db_answered, r);
	if (!r->query) {
		respond_error(r, PROTO_DATABASE_UNAVAILABLE, NULL,
		              "the database is unavailable; retry later");
		return;
	}
	struct timeval tv = {r->d->cfg.request_deadline_ms / 1000,
	                     (r->d->cfg.request_deadline_ms % 1000) * 1000};
	r->deadline = evtimer_new(r->d->base, deadline_hit, r);
	if (!r->deadline)
		log_fatal("out of memory");
	evtimer_add(r->deadline, &tv);
	evhttp_connection_set_closecb(r->evcon, conn_closed, r);
}

static void today_utc(char out[11])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

static bool is_json_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static void post_referral(struct api_req *r)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct proto_error pe = {0};
	json_t *body = NULL;
	char *canon = NULL;
	char *buf = NULL;

	if (!is_json_type(evhttp_find_header(in, "Content-Type"))) {
		respond_error(r, PROTO_UNSUPPORTED_MEDIA_TYPE, NULL,
		              "send the referral as application/json");
		goto out;
	}
	const char *key = evhttp_find_header(in, "Idempotency-Key");
	if (!proto_valid_idempotency_key(key, &pe)) {
		respond_problem(r, &pe);
		goto out;
	}
	struct evbuffer *ib = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(ib);
	if (len > r->d->cfg.max_body_bytes) {
		respond_error(r, PROTO_BODY_TOO_LARGE, NULL, "the body is over max_body_bytes");
		goto out;
	}
	buf = malloc(len + 1);
	if (!buf || evbuffer_copyout(ib, buf, len) != (ev_ssize_t)len)
		log_fatal("out of memory");
	char today[11];
	today_utc(today);
	body = proto_parse_body(buf, len, &pe);
	if (!body || !proto_validate_referral(body, today, &pe)) {
		respond_problem(r, &pe);
		goto out;
	}
	/* Same key, same body means the same canonical JSON, whatever the key
	 * order or whitespace. */
	canon = proto_canonical(body);
	if (!canon)
		log_fatal("out of memory");
	unsigned char md[32];
	char hash[2 + 64 + 1] = "\\x";
	if (!EVP_Digest(canon, strlen(canon), md, NULL, EVP_sha256(), NULL))
		log_fatal("sha256 failed");
	for (int i = 0; i < 32; i++)
		snprintf(hash + 2 + 2 * i, 3, "%02x", md[i]);
	const char *params[] = {r->who.agency, r->who.user, key, hash, canon};
	call_db(r, DB_REFERRAL_SUBMIT, params, 5);
out:
	free(canon);
	free(buf);
	json_decref(body);
}

static void get_referral(struct api_req *r, const char *idtext)
{
	char *end;
	long long id = strtoll(idtext, &end, 10);
	if (*idtext < '1' || *idtext > '9' || *end || strlen(idtext) > 18 || id <= 0) {
		respond_error(r, PROTO_NOT_FOUND, NULL, "no such referral");
		return;
	}
	char idbuf[API_ID_MAX];
	snprintf(idbuf, sizeof idbuf, "%lld", id);
	const char *params[] = {r->who.agency, r->who.user, idbuf};
	call_db(r, DB_REFERRAL_GET, params, 3);
}

static void list_referrals(struct api_req *r)
{
	struct evkeyvalq q = {0};
	struct proto_error pe = {0};
	struct proto_list_query lq;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	if (query && evhttp_parse_query_str(query, &q) != 0) {
		respond_error(r, PROTO_INVALID_PARAMETER, NULL, "the query string is malformed");
		goto out;
	}
	for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next) {
		if (strcmp(kv->key, "status") && strcmp(kv->key, "limit") &&
		    strcmp(kv->key, "cursor")) {
			char field[64];
			snprintf(field, sizeof field, "%.60s", kv->key);
			respond_error(r, PROTO_INVALID_PARAMETER, field, "unknown query parameter");
			goto out;
		}
	}
	if (!proto_parse_list_query(evhttp_find_header(&q, "status"),
	                            evhttp_find_header(&q, "limit"),
	                            evhttp_find_header(&q, "cursor"), &lq, &pe)) {
		respond_problem(r, &pe);
		goto out;
	}
	char after[API_ID_MAX], limit[API_ID_MAX];
	snprintf(after, sizeof after, "%lld", lq.after_id);
	snprintf(limit, sizeof limit, "%d", lq.limit);
	const char *params[] = {r->who.agency, r->who.user, lq.status, after, limit};
	call_db(r, DB_REFERRAL_LIST, params, 5);
out:
	evhttp_clear_headers(&q);
}

/* Size of the request head as received, near enough: request line plus
 * "name: value\r\n" per header. */
static size_t header_bytes(struct evhttp_request *req)
{
	size_t n = strlen(evhttp_request_get_uri(req)) + 16;
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next)
		n += strlen(kv->key) + strlen(kv->value) + 4;
	return n;
}

static void route(struct api_req *r)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(r->req));
	const char *allow = NULL;
	if (!path)
		path = "";
	if (strcmp(path, "/v1/health") == 0) {
		r->route = "GET /v1/health";
		if (m == EVHTTP_REQ_GET) {
			const char *params[] = {r->who.agency, r->who.user};
			call_db(r, DB_HEALTH, params, 2);
			return;
		}
		allow = "GET";
	} else if (strcmp(path, "/v1/referrals") == 0) {
		r->route = m == EVHTTP_REQ_POST ? "POST /v1/referrals" : "GET /v1/referrals";
		if (m == EVHTTP_REQ_POST) {
			post_referral(r);
			return;
		}
		if (m == EVHTTP_REQ_GET) {
			list_referrals(r);
			return;
		}
		allow = "GET, POST";
	} else if (strncmp(path, "/v1/referrals/", 14) == 0 && !strchr(path + 14, '/')) {
		r->route = "GET /v1/referrals/{id}";
		if (m == EVHTTP_REQ_GET) {
			get_referral(r, path + 14);
			return;
		}
		allow = "GET";
	}
	if (!allow) {
		r->route = "-";
		respond_error(r, PROTO_NO_ROUTE, NULL, "see proto/API.md for the endpoints");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", allow);
	respond_error(r, PROTO_METHOD_NOT_ALLOWED, NULL, NULL);
}

void api_handle(struct evhttp_request *req, void *arg)
{
	struct daemon *d = arg;
	struct api_req *r = calloc(1, sizeof *r);
	if (!r)
		log_fatal("out of memory");
	r->d = d;
	r->req = req;
	r->evcon = evhttp_request_get_connection(req);
	r->route = "-";
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	snprintf(r->id, sizeof r->id, "%llx-%llu", (unsigned long long)time(NULL) & 0xffffff,
	         (unsigned long long)++d->next_request_id);
	d->inflight++;

	/* The handshake already required a certificate that verifies against
	 * the CA and CRL; here we only read who it names. */
	SSL *ssl = bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(r->evcon));
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK ||
	    !tls_identity_from_cert(cert, &r->who)) {
		memset(&r->who, 0, sizeof r->who);
		respond_error(r, PROTO_UNKNOWN_IDENTITY, NULL,
		              "the certificate must name one agency (O) and one user (CN)");
		return;
	}
	if (header_bytes(req) > d->cfg.max_header_bytes) {
		respond_error(r, PROTO_HEADERS_TOO_LARGE, NULL,
		              "headers are over max_header_bytes");
		return;
	}
	route(r);
}
