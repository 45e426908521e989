/* http.c: the HTTPS listener. Every accepted connection gets its own SSL
 * object from the current context (so SIGHUP reloads affect only new
 * connections).
 *
 * Two budgets, so that clients who never finish a TLS handshake cannot
 * starve those who do (a few thousand sockets that send 4 bytes of a
 * ClientHello and stall would otherwise hold every slot):
 *
 * - max_handshakes: connections still in their TLS handshake. When a new
 *   connection arrives with the budget full, the oldest pending handshake
 *   is dropped: first among those that sent part of a ClientHello and
 *   stalled, then among those that sent nothing yet, then among the rest
 *   (a real client sends its whole ClientHello at once).
 *   Dropping the oldest rather than refusing the newest means a flood
 *   cannot lock the door: a legitimate client gets its turn and needs only
 *   one round trip to move past the ClientHello. Each handshake must also
 *   finish within tls_handshake_timeout_ms (capped by handshake_timeout_s).
 * - max_connections: connections past their handshake, i.e. holders of a
 *   valid certificate. At the limit the listener pauses until one closes,
 *   leaving further clients in the kernel's backlog. Handshakes already
 *   under way may still complete, so at most max_connections +
 *   max_handshakes sockets are open (plus one accept batch being dropped).
 *
 * handshake_timeout_s still bounds accept to the first complete request.
 * Each failed handshake is logged once (rate-limited) with the peer's
 * address and OpenSSL's reason, never with certificate contents. */
#include "cdrpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Large enough that a flood of stalled connections waiting to be accepted
 * (and dropped) does not overflow it: the kernel would then drop the SYNs
 * of legitimate clients, who retry only after a second. Capped by
 * net.core.somaxconn. */
#define HTTP_BACKLOG 4096
/* Accepts per loop iteration: between batches the loop reads what the
 * accepted clients sent, so a real ClientHello is seen before a burst of
 * newer connections can push its sender out of the handshake budget. */
#define ACCEPT_BATCH 32
/* Out of file descriptors: stop accepting this long. */
#define EMFILE_PAUSE_MS 100
/* Failed handshakes logged per second; the rest are counted and summed up. */
#define FAIL_LOG_PER_S 20
/* libevent's own caps are a hard stop at twice the configured limits:
 * between the two, api.c answers with problem+json (413/431); beyond,
 * libevent answers a bare 413 and closes. */
#define HTTP_HARD_CAP_FACTOR 2

static int conn_ex_index = -1;

/* The pending-handshake lists, in the order they are dropped from when
 * the budget is full: part of a ClientHello and then silence (the
 * slow-handshake attack), nothing read yet (a real client may just be
 * slow to send its ClientHello), past the ClientHello. */
enum { HS_PARTIAL, HS_SILENT, HS_PAST_HELLO, HS_LISTS, HS_NONE = HS_LISTS };
static const char *const hs_list_names[HS_LISTS] = {
    "sent part of a ClientHello and stalled",
    "sent nothing",
    "sent its ClientHello",
};

/* Per connection, hung on its SSL object. */
struct conn_state {
	struct daemon *d;
	struct bufferevent *bev;
	/* The TLS handshake deadline, then the first request's. */
	struct event *timer;
	struct conn_state *prev, *next; /* in hs->pending[list] */
	int list;                       /* HS_NONE: not pending */
	bool established;               /* handshake completed */
	bool started;                   /* the handshake has begun */
	uint64_t accepted_ms;
	char peer[INET6_ADDRSTRLEN + 8]; /* "addr:port", once known */
	char fail[200];                  /* why the handshake failed, once known */
};

struct conn_list {
	struct conn_state *head, *tail; /* oldest first */
};

struct http_state {
	struct conn_list pending[HS_LISTS];
	struct event *batch; /* ends an accept batch (re-enables the listener) */
	int batch_accepts;
	bool batch_paused;
	bool closing; /* http_free is freeing the connections */
	uint64_t fail_window_ms;
	int fail_logged;
	unsigned long fail_suppressed;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void list_push(struct http_state *hs, struct conn_state *cs, int list)
{
	struct conn_list *l = &hs->pending[list];
	cs->list = list;
	cs->next = NULL;
	cs->prev = l->tail;
	if (l->tail)
		l->tail->next = cs;
	else
		l->head = cs;
	l->tail = cs;
}

static void list_remove(struct http_state *hs, struct conn_state *cs)
{
	if (cs->list == HS_NONE)
		return;
	struct conn_list *l = &hs->pending[cs->list];
	if (cs->prev)
		cs->prev->next = cs->next;
	else
		l->head = cs->next;
	if (cs->next)
		cs->next->prev = cs->prev;
	else
		l->tail = cs->prev;
	cs->prev = cs->next = NULL;
	cs->list = HS_NONE;
}

/* Accepting is wanted unless stopping, at max_connections, or between
 * batches; this applies that to the listener. */
static void listener_sync(struct daemon *d)
{
	struct http_state *hs = d->hs;
	if (!d->listener || !hs || hs->closing)
		return;
	bool want = !d->stopping && d->nconns < d->cfg.max_connections && !hs->batch_paused;
	if (want && d->listener_paused) {
		evconnlistener_enable(d->listener);
		d->listener_paused = false;
	} else if (!want && !d->listener_paused) {
		evconnlistener_disable(d->listener);
		d->listener_paused = true;
	}
}

static void batch_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct daemon *d = arg;
	d->hs->batch_accepts = 0;
	d->hs->batch_paused = false;
	listener_sync(d);
}

/* Pause accepting for ms milliseconds (0: until the next loop iteration). */
static void batch_pause(struct daemon *d, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	d->hs->batch_paused = true;
	event_add(d->hs->batch, &tv);
	listener_sync(d);
}

/* The peer's address, read while the socket is still open. */
static void capture_peer(struct conn_state *cs, evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "?";
	if (cs->peer[0] || fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		snprintf(cs->peer, sizeof cs->peer, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		snprintf(cs->peer, sizeof cs->peer, "[%s]:%u", host, ntohs(sin6->sin6_port));
	}
}

/* Logs a failed handshake, at most FAIL_LOG_PER_S a second (a flood must
 * not flood the log too); the rest are counted and reported as a sum. */
static void log_failed_handshake(struct http_state *hs, const struct conn_state *cs)
{
	uint64_t now = mono_ms();
	const char *peer = cs->peer[0] ? cs->peer : "unknown address";
	if (!cs->fail[0] && !cs->started) {
		/* A TCP connection that sent nothing: a port probe, not a handshake. */
		log_debug("tls: %s closed before sending any TLS data", peer);
		return;
	}
	if (now - hs->fail_window_ms >= 1000) {
		if (hs->fail_suppressed)
			log_info(
			    "tls: %lu more failed handshake(s) not logged one by one (over %d/s)",
			    hs->fail_suppressed, FAIL_LOG_PER_S);
		hs->fail_window_ms = now;
		hs->fail_logged = 0;
		hs->fail_suppressed = 0;
	}
	if (hs->fail_logged >= FAIL_LOG_PER_S) {
		hs->fail_suppressed++;
		return;
	}
	hs->fail_logged++;
	log_info("tls: handshake failed from %s: %s", peer,
	         cs->fail[0] ? cs->fail : "closed by the peer during the handshake");
}

/* Ends a pending handshake now: out of the budget at once, the socket
 * shut down so that libevent sees the end of the stream and frees it. */
static void drop_handshake(struct conn_state *cs, const char *why)
{
	struct daemon *d = cs->d;
	evutil_socket_t sock = bufferevent_getfd(cs->bev);
	capture_peer(cs, sock);
	if (!cs->fail[0])
		snprintf(cs->fail, sizeof cs->fail, "%s", why);
	if (cs->list != HS_NONE) {
		list_remove(d->hs, cs);
		d->nhandshakes--;
	}
	event_del(cs->timer);
	if (sock >= 0)
		shutdown(sock, SHUT_RDWR);
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct conn_state *cs = arg;
	struct daemon *d = cs->d;
	if (!cs->established) {
		char why[96];
		snprintf(why, sizeof why, "timeout: no complete handshake within %llu ms",
		         (unsigned long long)(mono_ms() - cs->accepted_ms));
		drop_handshake(cs, why);
		return;
	}
	log_info("http: no request within %d s of connecting: closing", d->cfg.handshake_timeout_s);
	/* libevent sees the end of the stream and frees the connection. */
	evutil_socket_t sock = bufferevent_getfd(cs->bev);
	if (sock >= 0)
		shutdown(sock, SHUT_RDWR);
}

/* The handshake completed: the connection moves from the handshake budget
 * to max_connections, with what is left of handshake_timeout_s to send
 * its first request. */
static void handshake_done(struct conn_state *cs)
{
	struct daemon *d = cs->d;
	if (cs->list == HS_NONE)
		return; /* already dropped: its socket is shut down */
	list_remove(d->hs, cs);
	d->nhandshakes--;
	cs->established = true;
	d->nconns++;
	uint64_t limit = (uint64_t)d->cfg.handshake_timeout_s * 1000;
	uint64_t spent = mono_ms() - cs->accepted_ms;
	uint64_t left = spent < limit ? limit - spent : 1;
	struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
	evtimer_add(cs->timer, &tv);
	if (d->nconns == d->cfg.max_connections)
		log_warn("http: %d connections, the maximum: pausing accept", d->nconns);
	listener_sync(d);
}

/* OpenSSL 3.0 has no text for TLS 1.3's certificate_required. */
static const char *alert_name(int alert)
{
	return alert == TLS13_AD_CERTIFICATE_REQUIRED ? "certificate required"
	                                              : SSL_alert_desc_string_long(alert);
}

/* OpenSSL's reason for error e, in the words an operator looks for. */
static const char *error_reason(unsigned long e, const struct conn_state *cs)
{
	if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
		switch (ERR_GET_REASON(e)) {
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
			return "no certificate";
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			return cs->list != HS_PAST_HELLO
			           ? "closed by the peer before a complete ClientHello"
			           : "closed by the peer during the handshake";
		case SSL_R_HTTP_REQUEST:
			return "plain HTTP, not TLS";
		}
	}
	const char *r = ERR_reason_error_string(e);
	return r ? r : "unknown error";
}

/* Why we refuse: the certificate check's verdict, else OpenSSL's reason. */
static void refusal_reason(const SSL *ssl, const struct conn_state *cs, int alert, char *out,
                           size_t outlen)
{
	long v = SSL_get_verify_result(ssl);
	const char *alert_text = alert_name(alert);
	if (v != X509_V_OK) {
		const char *what = X509_verify_cert_error_string(v);
		const char *brief = "certificate not accepted";
		switch (v) {
		case X509_V_ERR_CERT_REVOKED:
			brief = "certificate revoked";
			break;
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			brief = "unknown CA";
			break;
		case X509_V_ERR_CRL_HAS_EXPIRED:
			brief = "the CRL has expired: every handshake fails until it is reissued";
			break;
		}
		snprintf(out, outlen, "%s (%s; alert %s)", brief, what, alert_text);
		return;
	}
	/* SSLfatal raised the error just before sending the alert. */
	unsigned long e = ERR_peek_last_error();
	snprintf(out, outlen, "%s (alert %s)", e ? error_reason(e, cs) : "refused", alert_text);
}

/* OpenSSL's progress report for one connection's handshake. */
static void conn_info(const SSL *ssl, int where, int ret)
{
	struct conn_state *cs = SSL_get_ex_data(ssl, conn_ex_index);
	if (!cs || cs->established)
		return;
	if (!cs->started) {
		/* Bytes (or the end of the stream) arrived. */
		cs->started = true;
		capture_peer(cs, SSL_get_fd(ssl));
		if (cs->list == HS_SILENT) {
			list_remove(cs->d->hs, cs);
			list_push(cs->d->hs, cs, HS_PARTIAL);
		}
	}
	if ((where & SSL_CB_LOOP) && cs->list == HS_PARTIAL) {
		/* Past reading the ClientHello: the server is writing its reply. */
		OSSL_HANDSHAKE_STATE st = SSL_get_state(ssl);
		if (st != TLS_ST_BEFORE && st != TLS_ST_SR_CLNT_HELLO) {
			list_remove(cs->d->hs, cs);
			list_push(cs->d->hs, cs, HS_PAST_HELLO);
		}
	}
	if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !cs->fail[0]) {
		if (where & SSL_CB_WRITE)
			refusal_reason(ssl, cs, ret & 0xff, cs->fail, sizeof cs->fail);
		else
			snprintf(cs->fail, sizeof cs->fail, "the client sent alert %s",
			         alert_name(ret & 0xff));
	}
	if ((where & SSL_CB_EXIT) && ret <= 0 && !cs->fail[0]) {
		/* Failed without an alert; wanting more data leaves no error. */
		unsigned long e = ERR_peek_last_error();
		if (e)
			snprintf(cs->fail, sizeof cs->fail, "%s", error_reason(e, cs));
	}
	if (where & SSL_CB_HANDSHAKE_DONE)
		handshake_done(cs);
}

void http_request_started(struct evhttp_connection *evcon)
{
	SSL *ssl = bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(evcon));
	struct conn_state *cs = ssl ? SSL_get_ex_data(ssl, conn_ex_index) : NULL;
	if (cs)
		event_del(cs->timer);
}

/* Runs when an SSL object is freed, i.e. when its connection is gone. */
static void conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	struct conn_state *cs = ptr;
	if (!cs)
		return;
	struct daemon *d = cs->d;
	if (cs->established) {
		d->nconns--;
	} else {
		if (cs->list != HS_NONE) {
			list_remove(d->hs, cs);
			d->nhandshakes--;
		}
		if (!d->hs->closing)
			log_failed_handshake(d->hs, cs);
	}
	event_free(cs->timer);
	free(cs);
	listener_sync(d);
	daemon_conn_closed(d);
}

static struct bufferevent *new_conn_bev(struct event_base *base, void *arg)
{
	struct daemon *d = arg;
	struct http_state *hs = d->hs;
	SSL *ssl = SSL_new(d->ssl_ctx);
	if (!ssl)
		log_fatal("SSL_new failed");
	struct conn_state *cs = calloc(1, sizeof *cs);
	if (!cs || !(cs->timer = evtimer_new(base, conn_timer, cs)))
		log_fatal("out of memory");
	cs->d = d;
	cs->list = HS_NONE;
	cs->accepted_ms = mono_ms();
	SSL_set_ex_data(ssl, conn_ex_index, cs);
	SSL_set_info_callback(ssl, conn_info);

	/* The handshake budget is full: drop the oldest pending handshake of
	 * the first non-empty list. */
	for (int l = 0; d->nhandshakes >= d->cfg.max_handshakes && l < HS_LISTS; l++) {
		char why[160];
		struct conn_state *old = hs->pending[l].head;
		if (!old)
			continue;
		snprintf(why, sizeof why,
		         "dropped: %d handshakes pending (max_handshakes); the oldest that %s",
		         d->nhandshakes, hs_list_names[l]);
		drop_handshake(old, why);
	}
	list_push(hs, cs, HS_SILENT);
	d->nhandshakes++;
	if (++hs->batch_accepts == 1)
		event_add(hs->batch, &(struct timeval){0, 0});
	if (hs->batch_accepts >= ACCEPT_BATCH)
		batch_pause(d, 0);

	/* evhttp must never get a plain socket bufferevent: that would serve
	 * HTTP without TLS. Out of memory here is fatal. */
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		log_fatal("bufferevent_openssl_socket_new failed");
	/* A dirty shutdown by the peer is a normal end of a connection. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	cs->bev = bev;
	int ms = d->cfg.tls_handshake_timeout_ms;
	if (ms > d->cfg.handshake_timeout_s * 1000)
		ms = d->cfg.handshake_timeout_s * 1000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(cs->timer, &tv);
	return bev;
}

/* accept() failed for other reasons than "nothing to accept": out of file
 * descriptors, typically. libevent would retry at once, for ever. */
static void accept_error(struct evconnlistener *lev, void *arg)
{
	(void)lev;
	struct daemon *d = arg;
	int e = EVUTIL_SOCKET_ERROR();
	uint64_t now = mono_ms();
	static uint64_t last_log_ms;
	if (now - last_log_ms >= 1000) {
		log_warn("http: accept failed: %s: pausing accept for %d ms", strerror(e),
		         EMFILE_PAUSE_MS);
		last_log_ms = now;
	}
	/* Give the descriptor of the oldest stalled handshake back. */
	if (d->hs->pending[HS_PARTIAL].head)
		drop_handshake(d->hs->pending[HS_PARTIAL].head,
		               "dropped: out of file descriptors; the oldest that stalled");
	batch_pause(d, EMFILE_PAUSE_MS);
}

void http_drop_handshakes(struct daemon *d)
{
	if (!d->hs)
		return;
	for (int l = 0; l < HS_LISTS; l++)
		while (d->hs->pending[l].head)
			drop_handshake(d->hs->pending[l].head, "dropped: cdrpd is stopping");
}

static bool write_port_file(const char *path, int port, char *err, size_t errlen)
{
	char tmp[CFG_STR_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot write port_file %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* The limits evhttp enforces itself (also on SIGHUP). */
void http_apply_limits(struct daemon *d)
{
	if (!d->http)
		return;
	evhttp_set_max_body_size(d->http,
	                         (ev_ssize_t)(d->cfg.max_body_bytes * HTTP_HARD_CAP_FACTOR));
	evhttp_set_max_headers_size(d->http,
	                            (ev_ssize_t)(d->cfg.max_header_bytes * HTTP_HARD_CAP_FACTOR));
	evhttp_set_timeout(d->http, d->cfg.idle_timeout_s);
}

bool http_start(struct daemon *d, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[300];
	if (conn_ex_index < 0)
		conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_gone);
	d->hs = calloc(1, sizeof *d->hs);
	if (!d->hs || !(d->hs->batch = evtimer_new(d->base, batch_end, d)))
		log_fatal("out of memory");
	snprintf(addr, sizeof addr, "%s:%d", d->cfg.listen_host, d->cfg.listen_port);
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, d->cfg.listen_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)d->cfg.listen_port);
		sslen = sizeof *sin;
	} else if (inet_pton(AF_INET6, d->cfg.listen_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)d->cfg.listen_port);
		sslen = sizeof *sin6;
	} else {
		snprintf(err, errlen, "listen: %s is not an IP address", d->cfg.listen_host);
		return false;
	}
	d->listener = evconnlistener_new_bind(
	    d->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    HTTP_BACKLOG, (struct sockaddr *)&ss, sslen);
	if (!d->listener) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		return false;
	}
	/* Accepted sockets inherit TCP_NODELAY on Linux: without it a response
	 * written as two TLS records waits for the client's delayed ACK. */
	int one = 1;
	if (setsockopt(evconnlistener_get_fd(d->listener), IPPROTO_TCP, TCP_NODELAY, &one,
	               sizeof one) != 0)
		log_warn("http: cannot set TCP_NODELAY: %s", strerror(errno));
	d->http = evhttp_new(d->base);
	if (!d->http)
		log_fatal("evhttp_new failed");
	evhttp_set_bevcb(d->http, new_conn_bev, d);
	evhttp_set_gencb(d->http, api_handle, d);
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	                                        EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	http_apply_limits(d);
	evhttp_set_default_content_type(d->http, "application/json");
	/* Read (and drop) an oversized body before closing, so the client sees
	 * the 413 instead of a reset. */
	evhttp_set_flags(d->http, EVHTTP_SERVER_LINGERING_CLOSE);
	if (!evhttp_bind_listener(d->http, d->listener))
		log_fatal("evhttp_bind_listener failed");
	evconnlistener_set_error_cb(d->listener, accept_error);

	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	if (getsockname(evconnlistener_get_fd(d->listener), (struct sockaddr *)&bound, &blen) != 0)
		log_fatal("getsockname: %s", strerror(errno));
	int port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
	                                             : ((struct sockaddr_in *)&bound)->sin_port);
	log_info("http: listening on %s:%d", d->cfg.listen_host, port);
	if (d->cfg.port_file[0] && !write_port_file(d->cfg.port_file, port, err, errlen))
		return false;
	return true;
}

void http_stop_accepting(struct daemon *d)
{
	if (d->listener && !d->listener_paused)
		evconnlistener_disable(d->listener);
	d->listener_paused = true;
	/* Nothing is in flight on them: they would only get 503. */
	http_drop_handshakes(d);
}

void http_free(struct daemon *d)
{
	if (d->hs)
		d->hs->closing = true;
	if (d->http)
		evhttp_free(d->http); /* frees the bound listener and connections too */
	d->http = NULL;
	d->listener = NULL;
	if (d->hs) {
		if (d->hs->fail_suppressed)
			log_info("tls: %lu more failed handshake(s) not logged one by one",
			         d->hs->fail_suppressed);
		event_free(d->hs->batch);
		free(d->hs);
		d->hs = NULL;
	}
}
