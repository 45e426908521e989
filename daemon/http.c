/* http.c: the HTTPS listener. Every accepted connection gets its own SSL
 * object from the current context (so SIGHUP reloads affect only new
 * connections) and is counted; at max_connections the listener pauses
 * until one closes, leaving further clients in the kernel's backlog. */
#include "cdrpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTP_BACKLOG 512
/* libevent's own caps are a hard stop at twice the configured limits:
 * between the two, api.c answers with problem+json (413/431); beyond,
 * libevent answers a bare 413 and closes. */
#define HTTP_HARD_CAP_FACTOR 2

static int conn_ex_index = -1;

/* Per connection, hung on its SSL object. The timer bounds the time from
 * accept to the first complete request: without a certificate nobody can
 * hold a connection slot by sending a handshake byte by byte. */
struct conn_state {
	struct daemon *d;
	struct bufferevent *bev;
	struct event *first_request;
};

static void first_request_late(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct conn_state *cs = arg;
	log_info("http: no request within %d s of connecting: closing",
	         cs->d->cfg.handshake_timeout_s);
	/* libevent sees the end of the stream and frees the connection. */
	evutil_socket_t sock = bufferevent_getfd(cs->bev);
	if (sock >= 0)
		shutdown(sock, SHUT_RDWR);
}

void http_request_started(struct evhttp_connection *evcon)
{
	SSL *ssl = bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(evcon));
	struct conn_state *cs = ssl ? SSL_get_ex_data(ssl, conn_ex_index) : NULL;
	if (cs)
		event_del(cs->first_request);
}

/* Runs when an SSL object is freed, i.e. when its connection is gone. */
static void conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	struct conn_state *cs = ptr;
	if (!cs)
		return;
	struct daemon *d = cs->d;
	event_free(cs->first_request);
	free(cs);
	d->nconns--;
	if (d->listener_paused && !d->stopping && d->nconns < d->cfg.max_connections) {
		evconnlistener_enable(d->listener);
		d->listener_paused = false;
	}
	daemon_conn_closed(d);
}

static struct bufferevent *new_conn_bev(struct event_base *base, void *arg)
{
	struct daemon *d = arg;
	SSL *ssl = SSL_new(d->ssl_ctx);
	if (!ssl)
		log_fatal("SSL_new failed");
	struct conn_state *cs = calloc(1, sizeof *cs);
	if (!cs || !(cs->first_request = evtimer_new(base, first_request_late, cs)))
		log_fatal("out of memory");
	cs->d = d;
	SSL_set_ex_data(ssl, conn_ex_index, cs);
	d->nconns++;
	if (d->nconns >= d->cfg.max_connections && !d->listener_paused) {
		log_warn("http: %d connections, the maximum: pausing accept", d->nconns);
		evconnlistener_disable(d->listener);
		d->listener_paused = true;
	}
	/* evhttp must never get a plain socket bufferevent: that would serve
	 * HTTP without TLS. Out of memory here is fatal. */
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		log_fatal("bufferevent_openssl_socket_new failed");
	/* A dirty shutdown by the peer is a normal end of a connection. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	cs->bev = bev;
	struct timeval tv = {d->cfg.handshake_timeout_s, 0};
	evtimer_add(cs->first_request, &tv);
	return bev;
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

bool http_start(struct daemon *d, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[300];
	if (conn_ex_index < 0)
		conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_gone);
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
	evhttp_set_max_body_size(d->http,
	                         (ev_ssize_t)(d->cfg.max_body_bytes * HTTP_HARD_CAP_FACTOR));
	evhttp_set_max_headers_size(d->http,
	                            (ev_ssize_t)(d->cfg.max_header_bytes * HTTP_HARD_CAP_FACTOR));
	evhttp_set_timeout(d->http, d->cfg.idle_timeout_s);
	evhttp_set_default_content_type(d->http, "application/json");
	/* Read (and drop) an oversized body before closing, so the client sees
	 * the 413 instead of a reset. */
	evhttp_set_flags(d->http, EVHTTP_SERVER_LINGERING_CLOSE);
	if (!evhttp_bind_listener(d->http, d->listener))
		log_fatal("evhttp_bind_listener failed");

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
}

void http_free(struct daemon *d)
{
	if (d->http)
		evhttp_free(d->http); /* frees the bound listener too */
	d->http = NULL;
	d->listener = NULL;
}
