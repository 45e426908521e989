/* api.c: the HTTP API of proto/API.md. Each request: identity from the
 * verified certificate, route (a table), limits and validation (proto/),
 * then one call of a cdrp_api SQL function whose answer becomes the
 * response. A request that outlives
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

struct route;
struct api_req {
	struct daemon *d;
	const struct route *rt;
	char path_id[48];           /* the {id} segment, if the route has one */
	struct evhttp_request *req; /* NULL once the connection has gone */
	struct evhttp_connection *evcon;
	struct event *deadline;
	struct db_query *query;
	char id[24];
	struct tls_identity who;
	struct timespec started;
};

/* One endpoint. Every route calls cdrp_api.call(agency, cn, fn, args, key,
 * hash, partnership, why) with args {id, body, query, if_match}, which
 * runs cdrp_impl.<fn> for the resolved caller; the kinds differ only in
 * how cdrpd reads the request. */
enum route_kind { RK_HEALTH, RK_REFERRAL_SUBMIT, RK_REFERRAL_GET, RK_REFERRAL_LIST, RK_GENERIC };
struct route {
	enum evhttp_cmd_type method;
	const char *path; /* "{id}" matches an id or a case reference */
	const char *fn;
	enum route_kind kind;
	enum proto_body body;
	enum proto_query query;
	bool if_match;
};
#define GET                   EVHTTP_REQ_GET
#define POST                  EVHTTP_REQ_POST
#define PUT                   EVHTTP_REQ_PUT
#define PATCH                 EVHTTP_REQ_PATCH
#define ROUTE_REFERRAL_SUBMIT 1
static struct route routes[] = {
    {GET, "/v1/health", "health", RK_HEALTH, PB_NONE, PQ_NONE, false},
    {POST, "/v1/referrals", "referral_submit", RK_REFERRAL_SUBMIT, PB_NONE, PQ_NONE, false},
    {GET, "/v1/referrals", "referral_list", RK_REFERRAL_LIST, PB_NONE, PQ_NONE, false},
    {GET, "/v1/referrals/{id}", "referral_get", RK_REFERRAL_GET, PB_NONE, PQ_NONE, false},
    {PUT, "/v1/referrals/{id}", "referral_resubmit", RK_GENERIC, PB_REFERRAL, PQ_NONE, false},
    {POST, "/v1/referrals/{id}/accept", "referral_accept", RK_GENERIC, PB_ACCEPT, PQ_NONE, false},
    {POST, "/v1/referrals/{id}/decline", "referral_decline", RK_GENERIC, PB_DECLINE, PQ_NONE,
     false},
    {POST, "/v1/referrals/{id}/request-info", "referral_request_info", RK_GENERIC, PB_REQUEST_INFO,
     PQ_NONE, false},
    {GET, "/v1/cases", "case_list", RK_GENERIC, PB_NONE, PQ_CASES, false},
    {GET, "/v1/cases/{id}", "case_get", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {PATCH, "/v1/cases/{id}", "case_update", RK_GENERIC, PB_CASE_PATCH, PQ_NONE, true},
    {POST, "/v1/cases/{id}/close", "case_close", RK_GENERIC, PB_CASE_CLOSE, PQ_NONE, true},
    {POST, "/v1/cases/{id}/reopen", "case_reopen", RK_GENERIC, PB_CASE_REOPEN, PQ_NONE, true},
    {POST, "/v1/cases/{id}/strand", "case_strand", RK_GENERIC, PB_STRAND, PQ_NONE, true},
    {POST, "/v1/cases/{id}/ppo-removal", "case_ppo_removal", RK_GENERIC, PB_PPO_REMOVAL, PQ_NONE,
     true},
    {GET, "/v1/cases/{id}/history", "case_history", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {POST, "/v1/cases/{id}/notes", "case_note_add", RK_GENERIC, PB_NOTE, PQ_NONE, false},
    {GET, "/v1/cases/{id}/notes", "case_notes", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {POST, "/v1/cases/{id}/persons", "case_person_add", RK_GENERIC, PB_PERSON, PQ_NONE, false},
    {POST, "/v1/cases/{id}/incidents", "incident_add", RK_GENERIC, PB_INCIDENT, PQ_NONE, false},
    {GET, "/v1/cases/{id}/incidents", "incident_list", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {POST, "/v1/cases/{id}/risk", "risk_assess", RK_GENERIC, PB_RISK, PQ_NONE, false},
    {POST, "/v1/cases/{id}/actions", "action_add", RK_GENERIC, PB_ACTION, PQ_NONE, false},
    {GET, "/v1/cases/{id}/actions", "action_list", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {GET, "/v1/actions/{id}", "action_get", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {PATCH, "/v1/actions/{id}", "action_update", RK_GENERIC, PB_ACTION_PATCH, PQ_NONE, true},
    {GET, "/v1/victims", "victim_list", RK_GENERIC, PB_NONE, PQ_VICTIMS, false},
    {POST, "/v1/persons/{id}/flags", "person_flag_add", RK_GENERIC, PB_FLAG, PQ_NONE, false},
    {GET, "/v1/persons/{id}/case-review", "person_case_review", RK_GENERIC, PB_NONE, PQ_NONE,
     false},
    {POST, "/v1/case-reviews", "case_review_apply", RK_GENERIC, PB_CASE_REVIEW, PQ_NONE, false},
    {POST, "/v1/case-reviews/{id}/decision", "case_review_decide", RK_GENERIC, PB_CR_DECISION,
     PQ_NONE, false},
    {POST, "/v1/case-reviews/{id}/meeting", "case_review_meeting", RK_GENERIC, PB_CR_MEETING,
     PQ_NONE, false},
    {GET, "/v1/case-reviews/stats", "case_review_stats", RK_GENERIC, PB_NONE, PQ_STATS, false},
    {GET, "/v1/risk/questionnaire", "risk_questionnaire", RK_GENERIC, PB_NONE, PQ_NONE, false},
    /* information-sharing agreements */
    {POST, "/v1/isas", "isa_create", RK_GENERIC, PB_ISA_CREATE, PQ_NONE, false},
    {GET, "/v1/isas", "isa_list", RK_GENERIC, PB_NONE, PQ_ISAS, false},
    {GET, "/v1/isas/{id}", "isa_get", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {POST, "/v1/isas/{id}/sign", "isa_sign", RK_GENERIC, PB_ISA_SIGN, PQ_NONE, false},
    {POST, "/v1/isas/{id}/suspend", "isa_suspend", RK_GENERIC, PB_REASON, PQ_NONE, false},
    {POST, "/v1/isas/{id}/resume", "isa_resume", RK_GENERIC, PB_REASON, PQ_NONE, false},
    {POST, "/v1/isas/{id}/terminate", "isa_terminate", RK_GENERIC, PB_REASON, PQ_NONE, false},
    /* administration */
    {POST, "/v1/admin/agencies", "admin_agency_add", RK_GENERIC, PB_AGENCY_ADD, PQ_NONE, false},
    {GET, "/v1/admin/agencies", "admin_agency_list", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {POST, "/v1/admin/agencies/{id}/disable", "admin_agency_disable", RK_GENERIC, PB_REASON,
     PQ_NONE, false},
    {POST, "/v1/admin/users", "admin_user_add", RK_GENERIC, PB_USER_ADD, PQ_NONE, false},
    {GET, "/v1/admin/users", "admin_user_list", RK_GENERIC, PB_NONE, PQ_USERS, false},
    {POST, "/v1/admin/users/{id}/disable", "admin_user_disable", RK_GENERIC, PB_REASON, PQ_NONE,
     false},
    {PUT, "/v1/admin/users/{id}/roles", "admin_user_roles", RK_GENERIC, PB_USER_ROLES, PQ_NONE,
     false},
    {POST, "/v1/admin/retention/run", "admin_retention_run", RK_GENERIC, PB_RETENTION_RUN, PQ_NONE,
     false},
    {GET, "/v1/admin/sar", "admin_sar", RK_GENERIC, PB_NONE, PQ_SAR, false},
    {POST, "/v1/cases/{id}/legal-hold", "admin_legal_hold", RK_GENERIC, PB_LEGAL_HOLD, PQ_NONE,
     false},
    /* meetings and reports (issue 7) */
    {POST, "/v1/meetings", "meeting_create", RK_GENERIC, PB_MEETING_CREATE, PQ_NONE, false},
    {GET, "/v1/meetings", "meeting_list", RK_GENERIC, PB_NONE, PQ_MEETINGS, false},
    {GET, "/v1/meetings/{id}", "meeting_get", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {POST, "/v1/meetings/{id}/attendance", "meeting_attend", RK_GENERIC, PB_ATTENDANCE, PQ_NONE,
     false},
    {POST, "/v1/meetings/{id}/items", "meeting_item_add", RK_GENERIC, PB_AGENDA_ITEM, PQ_NONE,
     false},
    {PUT, "/v1/meetings/{id}/items", "meeting_items_order", RK_GENERIC, PB_AGENDA_ORDER, PQ_NONE,
     false},
    {POST, "/v1/meetings/{id}/reviews", "meeting_review", RK_GENERIC, PB_REVIEW, PQ_NONE, false},
    {POST, "/v1/meetings/{id}/decisions", "meeting_decide", RK_GENERIC, PB_DECISIONS, PQ_NONE,
     false},
    {POST, "/v1/meetings/{id}/close", "meeting_close", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {GET, "/v1/meetings/{id}/minutes", "meeting_minutes", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {GET, "/v1/reports/improvement", "report_improvement", RK_GENERIC, PB_NONE, PQ_IMPROVEMENT,
     false},
    {GET, "/v1/reports/quarterly", "report_quarterly", RK_GENERIC, PB_NONE, PQ_QUARTERLY, false},
    {POST, "/v1/admin/import", "admin_import", RK_GENERIC, PB_IMPORT, PQ_NONE, false},
    /* the audit log's verifier (cdrp audit verify) */
    {GET, "/v1/audit/checkpoint", "audit_checkpoint", RK_GENERIC, PB_NONE, PQ_NONE, false},
    {GET, "/v1/audit/consistency", "audit_consistency", RK_GENERIC, PB_NONE, PQ_AUDIT_CONSISTENCY,
     false},
    {GET, "/v1/audit/inclusion", "audit_inclusion", RK_GENERIC, PB_NONE, PQ_AUDIT_INCLUSION, false},
    {GET, "/v1/audit/entries", "audit_entries", RK_GENERIC, PB_NONE, PQ_AUDIT_ENTRIES, false},
};
#define NROUTES (sizeof routes / sizeof routes[0])

size_t api_route_count(void)
{
	return NROUTES;
}

static const char *method_name(enum evhttp_cmd_type m)
{
	return m == GET ? "GET" : m == POST ? "POST" : m == PUT ? "PUT" : "PATCH";
}

bool api_route_name(size_t i, const char **method, const char **path)
{
	if (i >= NROUTES)
		return false;
	*method = method_name(routes[i].method);
	*path = routes[i].path;
	return true;
}

void api_print_routes(FILE *f)
{
	json_t *list = json_array();
	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *rt = &routes[i];
		const char *m = method_name(rt->method);
		/* Idempotency-Key: required for referral intake, honoured on
		 * every other write, ignored on reads. */
		const char *key = rt->kind == RK_REFERRAL_SUBMIT ? "required"
		                  : rt->method == GET            ? "ignored"
		                                                 : "optional";
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s}", "method", m, "path",
		                    rt->path, "operation", rt->fn, "body",
		                    rt->body != PB_NONE || rt->kind == RK_REFERRAL_SUBMIT, "query",
		                    rt->query != PQ_NONE || rt->kind == RK_REFERRAL_LIST,
		                    "if_match", rt->if_match, "idempotency_key", key));
	}
	char *text = json_dumps(list, JSON_INDENT(1));
	if (!text)
		log_fatal("out of memory");
	fprintf(f, "%s\n", text);
	free(text);
	json_decref(list);
}
/* The one statement: cdrp_api.call. */
static int call_stmt;
static int submit_stmt; /* call_stmt for referral_submit, merged in groups */
static int purge_stmt;  /* cdrp_api.idempotency_purge */

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
                    const char *location, bool replay, const char *etag)
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
		if (etag) {
			char quoted[64];
			snprintf(quoted, sizeof quoted, "\"%s\"", etag);
			evhttp_add_header(h, "ETag", quoted);
		}
		if (r->d->stopping)
			evhttp_add_header(h, "Connection", "close");
		struct evbuffer *buf = evbuffer_new();
		if (!buf || evbuffer_add(buf, body, len) != 0)
			log_fatal("out of memory");
		evhttp_send_reply(r->req, status, NULL, buf);
		evbuffer_free(buf);
	}
	double ms = elapsed_ms(&r->started);
	log_info("req %s %s %s agency=%s status=%d %.1fms", r->id,
	         r->rt ? method_name(r->rt->method) : "-", r->rt ? r->rt->path : "-",
	         r->who.agency[0] ? r->who.agency : "-", status, ms);
	admin_observe(r->rt ? (int)(r->rt - routes) : -1, status, ms / 1000);
	req_free(r);
}

/* A problem answer; `etag` (or NULL) tells a 412's client the current version. */
static void respond_problem_etag(struct api_req *r, const struct proto_error *pe, const char *etag)
{
	json_t *p = proto_problem(pe);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	if (!text)
		log_fatal("out of memory");
	respond(r, proto_err_status(pe->code), "application/problem+json", text, strlen(text), NULL,
	        false, etag);
	free(text);
	json_decref(p);
}

static void respond_problem(struct api_req *r, const struct proto_error *pe)
{
	respond_problem_etag(r, pe, NULL);
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
		if (res->status == 201 && r->rt == &routes[ROUTE_REFERRAL_SUBMIT]) {
			json_t *b = json_loadb(res->body, res->body_len, 0, NULL);
			json_int_t id = json_integer_value(json_object_get(b, "id"));
			snprintf(location, sizeof location, "/v1/referrals/%lld", (long long)id);
			json_decref(b);
		}
		respond(r, res->status, "application/json", res->body, res->body_len,
		        location[0] ? location : NULL, res->replay, res->etag);
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
	respond_problem_etag(r, &pe, res->etag);
}

/* Calls cdrp_api.call for the request: `args` as JSON text, and the
 * Idempotency-Key and request hash, or NULLs. The partnership and
 * justification headers are checked here, once for every route. */
static void call_api(struct api_req *r, const char *args, const char *key, const char *hash)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct proto_error pe = {0};
	const char *partnership = evhttp_find_header(in, PROTO_PARTNERSHIP_HEADER);
	const char *why = evhttp_find_header(in, PROTO_JUSTIFICATION_HEADER);
	if ((partnership && !proto_valid_partnership(partnership, &pe)) ||
	    (why && !proto_valid_justification(why, &pe))) {
		respond_problem(r, &pe);
		return;
	}
	const char *params[] = {r->who.agency, r->who.user, r->rt->fn,   args,
	                        key,           hash,        partnership, why};
	int stmt = r->rt->kind == RK_REFERRAL_SUBMIT ? submit_stmt : call_stmt;
	r->query = db_call(r->d->db, stmt, params, 8, db_answered, r);
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

/* call_api with `args` built here (consumed). */
static void call_api_json(struct api_req *r, json_t *args, const char *key, const char *hash)
{
	char *text = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text)
		log_fatal("out of memory");
	call_api(r, text, key, hash);
	free(text);
	json_decref(args);
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

/* The body as JSON, checked for type and size; NULL after answering. */
static json_t *read_json_body(struct api_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct proto_error pe = {0};
	if (!is_json_type(evhttp_find_header(in, "Content-Type"))) {
		respond_error(r, PROTO_UNSUPPORTED_MEDIA_TYPE, NULL,
		              "send the body as application/json");
		return NULL;
	}
	struct evbuffer *ib = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(ib);
	if (len > r->d->cfg.max_body_bytes) {
		respond_error(r, PROTO_BODY_TOO_LARGE, NULL, "the body is over max_body_bytes");
		return NULL;
	}
	char *buf = malloc(len + 1);
	if (!buf || evbuffer_copyout(ib, buf, len) != (ev_ssize_t)len)
		log_fatal("out of memory");
	json_t *body = proto_parse_body(buf, len, &pe);
	free(buf);
	if (!body)
		respond_problem(r, &pe);
	return body;
}

/* SHA-256 of prefix + text as a bytea literal ("\\x" + 64 hex digits). */
#define SHA256_BYTEA_LEN (2 + 64 + 1)
static void sha256_bytea(const char *prefix, const char *text, char out[SHA256_BYTEA_LEN])
{
	unsigned char md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, prefix, strlen(prefix)) ||
	    !EVP_DigestUpdate(ctx, text, strlen(text)) || !EVP_DigestFinal_ex(ctx, md, NULL))
		log_fatal("sha256 failed");
	EVP_MD_CTX_free(ctx);
	memcpy(out, "\\x", 2);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", md[i]);
}

static void post_referral(struct api_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct proto_error pe = {0};
	json_t *body = NULL;
	char *canon = NULL;

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
	char today[11];
	today_utc(today);
	body = read_json_body(r);
	if (!body)
		goto out;
	if (!proto_validate_referral(body, today, &pe)) {
		respond_problem(r, &pe);
		goto out;
	}
	/* Same key, same body means the same canonical JSON, whatever the key
	 * order or whitespace. */
	canon = proto_canonical(body);
	if (!canon)
		log_fatal("out of memory");
	char hash[SHA256_BYTEA_LEN];
	sha256_bytea("", canon, hash);
	call_api_json(r, json_pack("{sO}", "body", body), key, hash);
out:
	free(canon);
	json_decref(body);
}

static void get_referral(struct api_req *r)
{
	if (!strchr("123456789", r->path_id[0]) || strlen(r->path_id) > 18 ||
	    strspn(r->path_id, "0123456789") != strlen(r->path_id)) {
		respond_error(r, PROTO_NOT_FOUND, NULL, "no such referral");
		return;
	}
	call_api_json(r, json_pack("{ss}", "id", r->path_id), NULL, NULL);
}

/* The query string as an object of strings; NULL after answering 400. */
static json_t *read_query(struct api_req *r)
{
	struct evkeyvalq q = {0};
	json_t *obj = json_object();
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	if (!obj)
		log_fatal("out of memory");
	if (query && evhttp_parse_query_str(query, &q) != 0) {
		respond_error(r, PROTO_INVALID_PARAMETER, NULL, "the query string is malformed");
		goto fail;
	}
	for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next) {
		char field[64];
		snprintf(field, sizeof field, "%.60s", kv->key);
		json_t *v = json_stringn(kv->value, strlen(kv->value));
		if (json_object_get(obj, kv->key) || !v) {
			json_decref(v);
			respond_error(r, PROTO_INVALID_PARAMETER, field,
			              v ? "given twice" : "must be valid UTF-8");
			goto fail;
		}
		json_object_set_new(obj, kv->key, v);
	}
	evhttp_clear_headers(&q);
	return obj;
fail:
	evhttp_clear_headers(&q);
	json_decref(obj);
	return NULL;
}

static void list_referrals(struct api_req *r)
{
	struct proto_error pe = {0};
	struct proto_list_query lq;
	json_t *q = read_query(r);
	if (!q)
		return;
	const char *key;
	json_t *v;
	json_object_foreach(q, key, v)
	{
		if (strcmp(key, "status") && strcmp(key, "limit") && strcmp(key, "cursor") &&
		    strcmp(key, "submitted_from") && strcmp(key, "submitted_to")) {
			char field[64];
			snprintf(field, sizeof field, "%.60s", key);
			respond_error(r, PROTO_INVALID_PARAMETER, field, "unknown query parameter");
			goto out;
		}
	}
	if (!proto_parse_list_query(json_string_value(json_object_get(q, "status")),
	                            json_string_value(json_object_get(q, "limit")),
	                            json_string_value(json_object_get(q, "cursor")), &lq, &pe)) {
		respond_problem(r, &pe);
		goto out;
	}
	/* submitted_from/submitted_to: days (UTC), both ends included. */
	const char *from = json_string_value(json_object_get(q, "submitted_from"));
	const char *to = json_string_value(json_object_get(q, "submitted_to"));
	if ((from && !proto_valid_date(from)) || (to && !proto_valid_date(to))) {
		respond_error(r, PROTO_INVALID_PARAMETER,
		              from && !proto_valid_date(from) ? "submitted_from" : "submitted_to",
		              "must be a calendar date YYYY-MM-DD");
		goto out;
	}
	if (from && to && strcmp(from, to) > 0) {
		respond_error(r, PROTO_INVALID_PARAMETER, "submitted_to",
		              "must not be before submitted_from");
		goto out;
	}
	call_api_json(r,
	              json_pack("{s{ss?sIsiss?ss?}}", "query", "status", lq.status, "after",
	                        (json_int_t)lq.after_id, "limit", lq.limit, "submitted_from", from,
	                        "submitted_to", to),
	              NULL, NULL);
out:
	json_decref(q);
}

/* Versions are SQL ints: at most this many digits. */
#define API_VERSION_DIGITS_MAX 9
/* If-Match: "7" (or 7, or W/"7") -> "7"; false if absent or not a version
 * (too long to be one included). */
static bool if_match_version(const char *h, char *out, size_t outlen)
{
	if (!h)
		return false;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	size_t n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= outlen || n > API_VERSION_DIGITS_MAX || strspn(h, "0123456789") < n)
		return false;
	memcpy(out, h, n);
	out[n] = '\0';
	return true;
}

/* A casework endpoint: validate, then cdrp_api.<fn>(agency, cn, args). */
static void generic(struct api_req *r)
{
	const struct route *rt = r->rt;
	struct proto_error pe = {0};
	json_t *args = json_object(), *body = NULL, *q = NULL;
	char *text = NULL;
	char today[11];
	today_utc(today);
	if (!args)
		log_fatal("out of memory");
	if (rt->body != PB_NONE) {
		if (!(body = read_json_body(r)))
			goto out;
		if (!proto_validate_body(rt->body, body, today, &pe)) {
			respond_problem(r, &pe);
			goto out;
		}
		json_object_set(args, "body", body);
	}
	if (!(q = read_query(r)))
		goto out;
	if (rt->query == PQ_NONE && json_object_size(q) > 0) {
		respond_error(r, PROTO_INVALID_PARAMETER, NULL,
		              "this endpoint takes no parameters");
		goto out;
	}
	if (rt->query != PQ_NONE && !proto_validate_query(rt->query, q, &pe)) {
		respond_problem(r, &pe);
		goto out;
	}
	json_object_set(args, "query", q);
	if (rt->if_match) {
		char version[24];
		const char *h =
		    evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-Match");
		if (!h) {
			respond_error(r, PROTO_IF_MATCH_REQUIRED, "If-Match",
			              "send If-Match with the ETag of your last read");
			goto out;
		}
		if (!if_match_version(h, version, sizeof version)) {
			respond_error(r, PROTO_PRECONDITION_FAILED, "If-Match",
			              "not an ETag of this resource");
			goto out;
		}
		json_object_set_new(args, "if_match", json_integer(strtoll(version, NULL, 10)));
	}
	if (r->path_id[0])
		json_object_set_new(args, "id", json_string(r->path_id));
	text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		log_fatal("out of memory");
	const char *key =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Idempotency-Key");
	if (key && rt->method != GET) {
		/* The same key and the same request (function and canonical
		 * arguments) replays; see cdrp_api.call. */
		char hash[SHA256_BYTEA_LEN];
		if (!proto_valid_idempotency_key(key, &pe)) {
			respond_problem(r, &pe);
			goto out;
		}
		char prefix[96];
		snprintf(prefix, sizeof prefix, "%s\n", rt->fn);
		sha256_bytea(prefix, text, hash);
		call_api(r, text, key, hash);
		goto out;
	}
	call_api(r, text, NULL, NULL);
out:
	free(text);
	json_decref(q);
	json_decref(body);
	json_decref(args);
}

/* Does `path` match `pattern`? Copies the {id} segment into out; the
 * handler (or the database) decides whether it names anything. */
static bool path_match(const char *pattern, const char *path, char *out, size_t outlen)
{
	out[0] = '\0';
	while (*pattern && *path) {
		if (strncmp(pattern, "{id}", 4) == 0) {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= outlen)
				return false;
			memcpy(out, path, n);
			out[n] = '\0';
			pattern += 4;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *pattern == '\0' && *path == '\0';
}

#define CALL_SQL                                                                                   \
	"SELECT status, body, replay, etag FROM cdrp_api.call("                                    \
	"$1, $2, $3, $4::jsonb, $5, $6::bytea, $7, $8)"

void api_init(void)
{
	call_stmt = db_register_groupable("call", CALL_SQL);
	/* Referrals of one caller that group are created set-based in one
	 * call (cdrp_api.submit_referrals): shared are the agency, CN,
	 * endpoint, partnership and justification; args, key and hash are
	 * arrays. */
	submit_stmt = db_register_merged(
	    "submit", CALL_SQL,
	    "SELECT n, status, body, replay, etag FROM cdrp_api.submit_referrals("
	    "$1, $2, $3, $4::jsonb[], $5::text[], $6::bytea[], $7, $8)",
	    1u << 0 | 1u << 1 | 1u << 2 | 1u << 6 | 1u << 7);
	purge_stmt =
	    db_register("idempotency_purge", "SELECT status, body, replay, etag FROM "
	                                     "cdrp_api.idempotency_purge($1::int, $2::int)");
}

/* ---- Idempotency-Key expiry: every API_PURGE_EVERY_S (or the TTL, if
 * shorter) the keys older than idempotency_key_ttl_s are deleted, at most
 * API_PURGE_BATCH a time (a backlog goes at once, in batches). */
#define API_PURGE_EVERY_S 60
#define API_PURGE_BATCH   10000
static struct {
	struct daemon *d;
	struct event *tick;
	struct db_query *query;
} P;

static void purge_schedule(int seconds)
{
	struct timeval tv = {seconds, 0};
	event_add(P.tick, &tv);
}

static int purge_every_s(void)
{
	int ttl = P.d->cfg.idempotency_key_ttl_s;
	return ttl < API_PURGE_EVERY_S ? ttl : API_PURGE_EVERY_S;
}

static void purge_answered(void *arg, const struct db_result *res)
{
	(void)arg;
	P.query = NULL;
	long long n = 0;
	if (res->outcome == DB_DONE && res->status == 200) {
		json_t *b = json_loadb(res->body, res->body_len, 0, NULL);
		n = json_integer_value(json_object_get(b, "purged"));
		json_decref(b);
		if (n > 0)
			log_info("idempotency: %lld key(s) older than %d s purged", n,
			         P.d->cfg.idempotency_key_ttl_s);
	} else {
		log_warn("idempotency: purge failed (outcome %d); retrying later",
		         (int)res->outcome);
	}
	purge_schedule(n >= API_PURGE_BATCH ? 0 : purge_every_s());
}

static void purge_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	char ttl[16], max[16];
	snprintf(ttl, sizeof ttl, "%d", P.d->cfg.idempotency_key_ttl_s);
	snprintf(max, sizeof max, "%d", API_PURGE_BATCH);
	const char *params[] = {ttl, max};
	if (P.d->stopping)
		return;
	P.query = db_call(P.d->db, purge_stmt, params, 2, purge_answered, NULL);
	if (!P.query)
		purge_schedule(purge_every_s()); /* no database now */
}

void api_start(struct daemon *d)
{
	P.d = d;
	P.tick = evtimer_new(d->base, purge_tick, NULL);
	if (!P.tick)
		log_fatal("out of memory");
	purge_schedule(1);
}

void api_stop(void)
{
	db_cancel(P.query);
	P.query = NULL;
	if (P.tick)
		event_free(P.tick);
	P.tick = NULL;
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
	char allow[64] = "";
	char id[sizeof r->path_id];
	if (!path)
		path = "";
	static const char *const names[] = {"GET", "POST", "PUT", "PATCH"};
	static const enum evhttp_cmd_type cmds[] = {GET, POST, PUT, PATCH};
	unsigned allowed = 0; /* methods of routes whose path matches */
	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *rt = &routes[i];
		if (!path_match(rt->path, path, id, sizeof id))
			continue;
		if (rt->method != m) {
			for (int k = 0; k < 4; k++)
				allowed |= (cmds[k] == rt->method) << k;
			continue;
		}
		r->rt = rt;
		snprintf(r->path_id, sizeof r->path_id, "%s", id);
		switch (rt->kind) {
		case RK_HEALTH:
			call_api_json(r, json_pack("{so}", "audit", audit_health()), NULL, NULL);
			return;
		case RK_REFERRAL_SUBMIT:
			post_referral(r);
			return;
		case RK_REFERRAL_GET:
			get_referral(r);
			return;
		case RK_REFERRAL_LIST:
			list_referrals(r);
			return;
		case RK_GENERIC:
			generic(r);
			return;
		}
	}
	for (int k = 0; k < 4; k++)
		if (allowed & (1u << k))
			snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
			         allow[0] ? ", " : "", names[k]);
	if (!allow[0]) {
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

	clock_gettime(CLOCK_MONOTONIC, &r->started);
	snprintf(r->id, sizeof r->id, "%llx-%llu", (unsigned long long)time(NULL) & 0xffffff,
	         (unsigned long long)++d->next_request_id);
	d->inflight++;
	http_request_started(r->evcon);
	if (d->stopping) {
		respond_error(r, PROTO_SHUTTING_DOWN, NULL, "cdrpd is stopping; retry shortly");
		return;
	}

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
