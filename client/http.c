/* http.c: the HTTPS/1.1 client of cdrp. Mutual TLS over OpenSSL with the
 * server certificate checked against --ca and the URL's host; one request
 * per connection (Connection: close); the answer framed by Content-Length,
 * chunked coding or EOF and bounded by HTTP_MAX_BODY. Sockets are
 * non-blocking underneath only so that one deadline covers every step. */
#include "http.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define HTTP_READ_CHUNK 16384
/* A chunk-size line longer than this is not something a server sends. */
#define HTTP_CHUNK_LINE_MAX 1024

struct http_client {
	SSL_CTX *ctx;
	char host[256]; /* without IPv6 brackets */
	char port[6];
	char prefix[1024]; /* "" or "/a/b", no trailing slash */
	char host_header[300];
	char authority[300]; /* host:port for messages, IPv6 in brackets */
	bool host_is_ip;
	int timeout_sec;
};

enum http_frame { HTTP_FRAME_NONE, HTTP_FRAME_LENGTH, HTTP_FRAME_CHUNKED, HTTP_FRAME_EOF };

/* Incremental response reader. Once the header block is parsed it is
 * dropped from `raw`, which then holds body bytes (or undecoded chunks). */
struct http_reader {
	char *raw;
	size_t len, cap;
	bool have_head;
	enum http_frame frame;
	size_t content_length;
	/* chunked coding: decoded body and where the next undecoded chunk is */
	char *body;
	size_t body_len, body_cap;
	size_t chunk_pos;
	bool in_trailer;
	bool done;
};

static enum http_err http_fail(struct http_error *err, enum http_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum http_err http_fail(struct http_error *err, enum http_err code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

/* The most useful OpenSSL reason for a failure, then the queue cleared so
 * a later failure does not report a stale cause. */
static const char *http_ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/* ---- URL and TLS context ---- */

static bool http_host_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

static enum http_err http_parse_url(struct http_client *c, const char *url, struct http_error *err)
{
	const char *auth, *hend, *pstart, *port = NULL;
	size_t alen, hlen, plen;
	unsigned char v6[16];

	if (strncasecmp(url, "https://", 8) != 0)
		return http_fail(err, HTTP_ERR_CONFIG, "--url must start with https://");
	auth = url + 8;
	alen = strcspn(auth, "/?#");
	pstart = auth + alen;
	if (memchr(auth, '@', alen))
		return http_fail(err, HTTP_ERR_CONFIG, "--url must not contain a user name");
	if (alen > 0 && auth[0] == '[') {
		hend = memchr(auth, ']', alen);
		if (!hend)
			return http_fail(err, HTTP_ERR_CONFIG,
			                 "--url has an unclosed '[' in its host");
		hlen = (size_t)(hend - auth) - 1;
		if (hlen == 0 || hlen >= sizeof(c->host))
			return http_fail(err, HTTP_ERR_CONFIG, "--url has an invalid IPv6 host");
		memcpy(c->host, auth + 1, hlen);
		c->host[hlen] = '\0';
		if (inet_pton(AF_INET6, c->host, v6) != 1)
			return http_fail(err, HTTP_ERR_CONFIG, "--url has an invalid IPv6 host");
		c->host_is_ip = true;
		if (hend + 1 < pstart) {
			if (hend[1] != ':')
				return http_fail(err, HTTP_ERR_CONFIG, "--url has junk after ']'");
			port = hend + 2;
		}
	} else {
		const char *colon = memchr(auth, ':', alen);

		hlen = colon ? (size_t)(colon - auth) : alen;
		if (hlen == 0 || hlen >= sizeof(c->host))
			return http_fail(err, HTTP_ERR_CONFIG, "--url has no valid host");
		for (size_t i = 0; i < hlen; i++)
			if (!http_host_char_ok(auth[i]))
				return http_fail(err, HTTP_ERR_CONFIG,
				                 "--url has an invalid character in its host");
		memcpy(c->host, auth, hlen);
		c->host[hlen] = '\0';
		c->host_is_ip = inet_pton(AF_INET, c->host, v6) == 1;
		if (colon)
			port = colon + 1;
	}
	if (port) {
		long n = 0;

		plen = (size_t)(pstart - port);
		if (plen == 0 || plen > 5)
			return http_fail(err, HTTP_ERR_CONFIG, "--url has an invalid port");
		for (size_t i = 0; i < plen; i++) {
			if (port[i] < '0' || port[i] > '9')
				return http_fail(err, HTTP_ERR_CONFIG, "--url has an invalid port");
			n = n * 10 + (port[i] - '0');
		}
		if (n < 1 || n > 65535)
			return http_fail(err, HTTP_ERR_CONFIG, "--url has an invalid port");
		snprintf(c->port, sizeof(c->port), "%ld", n);
	} else {
		snprintf(c->port, sizeof(c->port), "443");
	}

	/* The path prefix, if any, is used as given: no query, no fragment,
	 * nothing that would need escaping. */
	if (*pstart == '?' || *pstart == '#')
		return http_fail(err, HTTP_ERR_CONFIG, "--url must not have a query or fragment");
	plen = strlen(pstart);
	while (plen > 0 && pstart[plen - 1] == '/')
		plen--;
	if (plen >= sizeof(c->prefix))
		return http_fail(err, HTTP_ERR_CONFIG, "--url path is too long");
	for (size_t i = 0; i < plen; i++) {
		unsigned char ch = (unsigned char)pstart[i];

		if (ch <= ' ' || ch >= 0x7f || ch == '?' || ch == '#')
			return http_fail(err, HTTP_ERR_CONFIG,
			                 "--url path must not have a query, fragment or spaces");
	}
	memcpy(c->prefix, pstart, plen);
	c->prefix[plen] = '\0';

	snprintf(c->authority, sizeof(c->authority), "%s%s%s:%s", strchr(c->host, ':') ? "[" : "",
	         c->host, strchr(c->host, ':') ? "]" : "", c->port);
	snprintf(c->host_header, sizeof(c->host_header), "%s%s%s%s%s",
	         strchr(c->host, ':') ? "[" : "", c->host, strchr(c->host, ':') ? "]" : "",
	         strcmp(c->port, "443") ? ":" : "", strcmp(c->port, "443") ? c->port : "");
	return HTTP_OK;
}

/* Nothing but the key may ask for a passphrase, and never OpenSSL's own
 * prompt: that would stop a script waiting on the terminal. */
static int http_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---- the private key's passphrase ---- */

#define HTTP_PASS_MAX 1024

enum http_pass_state {
	HTTP_PASS_UNASKED, /* the key is not encrypted (or not yet read) */
	HTTP_PASS_GIVEN,   /* read from the file or typed at the terminal */
	HTTP_PASS_NONE,    /* no file named and no terminal to ask on */
	HTTP_PASS_FAILED   /* the file cannot be read, or nothing usable in it */
};

struct http_pass {
	const struct http_config *cfg;
	enum http_pass_state state;
	bool typed;
	char why[300]; /* HTTP_PASS_FAILED: what went wrong; never the passphrase */
	char buf[HTTP_PASS_MAX];
	size_t len;
};

/* The terminal's settings while echo is off, so that a signal there does
 * not leave the user's shell without echo. */
static volatile sig_atomic_t http_tty_fd = -1;
static struct termios http_tty_saved;

static void http_tty_restore_and_die(int sig)
{
	if (http_tty_fd >= 0)
		tcsetattr(http_tty_fd, TCSAFLUSH, &http_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The first line of the passphrase file (CR LF or LF ended, or not). */
static void http_pass_from_file(struct http_pass *p)
{
	const char *path = p->cfg->key_passphrase_file;
	FILE *f = fopen(path, "r");
	int ch;

	if (!f) {
		p->state = HTTP_PASS_FAILED;
		snprintf(p->why, sizeof p->why,
		         "cannot read the passphrase file %s (CDRP_KEY_PASSPHRASE_FILE): %s", path,
		         strerror(errno));
		return;
	}
	p->len = 0;
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (p->len + 1 >= sizeof p->buf) {
			p->state = HTTP_PASS_FAILED;
			snprintf(p->why, sizeof p->why,
			         "the first line of the passphrase file %s is over %d bytes", path,
			         HTTP_PASS_MAX - 1);
			fclose(f);
			return;
		}
		p->buf[p->len++] = (char)ch;
	}
	if (ferror(f)) {
		p->state = HTTP_PASS_FAILED;
		snprintf(p->why, sizeof p->why, "cannot read the passphrase file %s: %s", path,
		         strerror(errno));
		fclose(f);
		return;
	}
	fclose(f);
	if (p->len > 0 && p->buf[p->len - 1] == '\r')
		p->len--;
	if (p->len == 0) {
		p->state = HTTP_PASS_FAILED;
		snprintf(
		    p->why, sizeof p->why,
		    "the passphrase file %s (CDRP_KEY_PASSPHRASE_FILE) has an empty first line",
		    path);
		return;
	}
	p->state = HTTP_PASS_GIVEN;
}

/* Ask on the controlling terminal with echo off. The prompt and the
 * answer use /dev/tty, not stdin and stderr, which may be redirected. */
static void http_pass_from_tty(struct http_pass *p)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct sigaction sa, old[4];
	static const int sigs[4] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
	struct termios quiet;
	bool echo_off = false, too_long = false;
	char ch;

	if (fd < 0) {
		p->state = HTTP_PASS_NONE;
		return;
	}
	if (tcgetattr(fd, &http_tty_saved) == 0) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = http_tty_restore_and_die;
		sigemptyset(&sa.sa_mask);
		for (int i = 0; i < 4; i++)
			sigaction(sigs[i], &sa, &old[i]);
		quiet = http_tty_saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		http_tty_fd = fd;
		echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	dprintf(fd, "cdrp: passphrase for %s: ", p->cfg->key_file);
	p->len = 0;
	for (;;) {
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n' || ch == '\r')
			break;
		if (p->len + 1 >= sizeof p->buf)
			too_long = true;
		else
			p->buf[p->len++] = ch;
	}
	ch = 0;
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &http_tty_saved);
	if (http_tty_fd >= 0) {
		http_tty_fd = -1;
		for (int i = 0; i < 4; i++)
			sigaction(sigs[i], &old[i], NULL);
	}
	/* The typed newline was not echoed. */
	if (write(fd, "\n", 1) < 0) {
		/* nothing to be done: the prompt line just stays open */
	}
	close(fd);
	if (too_long) {
		p->state = HTTP_PASS_FAILED;
		snprintf(p->why, sizeof p->why, "the passphrase typed is over %d bytes",
		         HTTP_PASS_MAX - 1);
		return;
	}
	p->typed = true;
	p->state = HTTP_PASS_GIVEN;
}

/* OpenSSL asks only for an encrypted key; it may ask more than once, so
 * the passphrase is got once and kept until the key is loaded. */
static int http_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	struct http_pass *p = u;

	(void)rwflag;
	if (p->state == HTTP_PASS_UNASKED) {
		if (p->cfg->key_passphrase_file)
			http_pass_from_file(p);
		else if (p->cfg->key_prompt)
			http_pass_from_tty(p);
		else
			p->state = HTTP_PASS_NONE;
	}
	if (p->state != HTTP_PASS_GIVEN || size < 0 || p->len > (size_t)size)
		return -1;
	memcpy(buf, p->buf, p->len);
	return (int)p->len;
}

/* Load the private key, decrypting it if need be; names only the paths,
 * never anything read from the key or the passphrase. */
static enum http_err http_load_key(struct http_client *c, const struct http_config *cfg,
                                   struct http_error *err)
{
	struct http_pass pass;
	enum http_err rc = HTTP_OK;
	unsigned long e;
	int ok;

	memset(&pass, 0, sizeof pass);
	pass.cfg = cfg;
	SSL_CTX_set_default_passwd_cb(c->ctx, http_passphrase_cb);
	SSL_CTX_set_default_passwd_cb_userdata(c->ctx, &pass);
	ok = SSL_CTX_use_PrivateKey_file(c->ctx, cfg->key_file, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb(c->ctx, http_no_passphrase);
	SSL_CTX_set_default_passwd_cb_userdata(c->ctx, NULL);
	OPENSSL_cleanse(pass.buf, sizeof pass.buf);
	if (ok == 1) {
		if (SSL_CTX_check_private_key(c->ctx) == 1)
			return HTTP_OK;
		goto mismatch;
	}
	e = ERR_peek_last_error();
	/* OpenSSL checks the pair while loading: a mismatch is not a key that
	 * failed to load. */
	if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
		goto mismatch;
	switch (pass.state) {
	case HTTP_PASS_UNASKED:
		rc = http_fail(err, HTTP_ERR_CONFIG,
		               "cannot load private key from %s: %s (is it a PEM private key?)",
		               cfg->key_file, http_ssl_reason());
		break;
	case HTTP_PASS_NONE:
		rc =
		    http_fail(err, HTTP_ERR_CONFIG,
		              "the private key in %s is encrypted: set CDRP_KEY_PASSPHRASE_FILE to "
		              "a file whose first line is its passphrase, or run cdrp with a "
		              "terminal on standard input to be asked for it",
		              cfg->key_file);
		break;
	case HTTP_PASS_FAILED:
		rc = http_fail(err, HTTP_ERR_PASSPHRASE, "%s", pass.why);
		break;
	case HTTP_PASS_GIVEN:
		rc = http_fail(err, HTTP_ERR_PASSPHRASE,
		               "cannot decrypt the private key in %s: wrong passphrase (%s)",
		               cfg->key_file,
		               pass.typed ? "as typed" : "from CDRP_KEY_PASSPHRASE_FILE");
		break;
	}
	ERR_clear_error();
	return rc;
mismatch:
	ERR_clear_error();
	return http_fail(err, HTTP_ERR_CONFIG, "the key in %s does not match the certificate in %s",
	                 cfg->key_file, cfg->cert_file);
}

/* Check a file can be opened first: errno says more than OpenSSL does. */
static enum http_err http_check_readable(const char *opt, const char *path, struct http_error *err)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return http_fail(err, HTTP_ERR_CONFIG, "cannot read %s file %s: %s", opt, path,
		                 strerror(errno));
	fclose(f);
	return HTTP_OK;
}

static enum http_err http_load_tls(struct http_client *c, const struct http_config *cfg,
                                   struct http_error *err)
{
	enum http_err rc;

	if ((rc = http_check_readable("--ca", cfg->ca_file, err)) ||
	    (rc = http_check_readable("--cert", cfg->cert_file, err)) ||
	    (rc = http_check_readable("--key", cfg->key_file, err)))
		return rc;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return http_fail(err, HTTP_ERR_INTERNAL, "cannot create TLS context: %s",
		                 http_ssl_reason());
	if (!SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION))
		return http_fail(err, HTTP_ERR_INTERNAL, "cannot require TLS 1.2: %s",
		                 http_ssl_reason());
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	/* Framing is checked here (Content-Length, last chunk), so a missing
	 * close_notify is not by itself an error. */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_default_passwd_cb(c->ctx, http_no_passphrase);

	if (SSL_CTX_load_verify_locations(c->ctx, cfg->ca_file, NULL) != 1)
		return http_fail(err, HTTP_ERR_CONFIG, "cannot load CA certificates from %s: %s",
		                 cfg->ca_file, http_ssl_reason());
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cfg->cert_file) != 1)
		return http_fail(err, HTTP_ERR_CONFIG, "cannot load client certificate from %s: %s",
		                 cfg->cert_file, http_ssl_reason());
	return http_load_key(c, cfg, err);
}

struct http_client *http_client_new(const struct http_config *cfg, struct http_error *err)
{
	struct http_client *c;

	memset(err, 0, sizeof(*err));
	c = calloc(1, sizeof(*c));
	if (!c) {
		http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->timeout_sec = cfg->timeout_sec > 0 ? cfg->timeout_sec : 30;
	if (http_parse_url(c, cfg->url, err) != HTTP_OK || http_load_tls(c, cfg, err) != HTTP_OK)
		goto fail;
	return c;
fail:
	http_client_free(c);
	return NULL;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

/* ---- deadline-bound socket steps ---- */

static int http_remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* 1 when fd is ready, 0 when the deadline passed, -1 on error (errno). */
static int http_wait(int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int r;

	for (;;) {
		int ms = http_remaining_ms(deadline);

		if (ms == 0)
			return 0;
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Wait for what OpenSSL said it needs; an HTTP_ERR_* or HTTP_OK. */
static enum http_err http_wait_ssl(const struct http_client *c, int fd, int ssl_err,
                                   const struct timespec *deadline, const char *what,
                                   struct http_error *err)
{
	int r = http_wait(fd, ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline);

	if (r == 0)
		return http_fail(err, HTTP_ERR_TIMEOUT, "timed out after %d s %s", c->timeout_sec,
		                 what);
	if (r < 0)
		return http_fail(err, HTTP_ERR_IO, "poll failed %s: %s", what, strerror(errno));
	return HTTP_OK;
}

/* Try one address: 1 connected (*fdp set), 0 failed (errno set), -1 the
 * deadline passed. */
static int http_try_addr(const struct addrinfo *ai, const struct timespec *deadline, int *fdp)
{
	int fd, w, soerr = 0, rc = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		rc = 1;
		goto out;
	}
	if (errno != EINPROGRESS)
		goto out;
	w = http_wait(fd, POLLOUT, deadline);
	if (w <= 0) {
		rc = w == 0 ? -1 : 0;
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		goto out;
	if (soerr == 0)
		rc = 1;
	else
		errno = soerr;
out:
	if (rc == 1) {
		*fdp = fd;
	} else {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return rc;
}

static enum http_err http_connect(const struct http_client *c, const struct timespec *deadline,
                                  int *fdp, struct http_error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	int gai, last_errno = ECONNREFUSED;
	enum http_err rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	gai = getaddrinfo(c->host, c->port, &hints, &res);
	if (gai != 0) {
		rc = http_fail(err, HTTP_ERR_CONNECT, "cannot resolve host %s: %s", c->host,
		               gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		goto out;
	}
	rc = HTTP_ERR_CONNECT;
	for (ai = res; ai && rc == HTTP_ERR_CONNECT; ai = ai->ai_next) {
		int r = http_try_addr(ai, deadline, fdp);

		if (r == 1)
			rc = HTTP_OK;
		else if (r < 0)
			rc = http_fail(err, HTTP_ERR_TIMEOUT,
			               "timed out after %d s connecting to %s", c->timeout_sec,
			               c->authority);
		else
			last_errno = errno;
	}
	if (rc == HTTP_ERR_CONNECT)
		http_fail(err, rc, "cannot connect to %s: %s", c->authority, strerror(last_errno));
out:
	if (res)
		freeaddrinfo(res);
	return rc;
}

static bool http_alert_is_about_our_cert(int alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* Explain a failed TLS step. With TLS 1.3 the server judges our
 * certificate after our side of the handshake is done, so its refusal
 * shows up as an alert on the first read: that is reported as a
 * handshake failure too, since that is what it is. */
static enum http_err http_tls_failure(const struct http_client *c, SSL *ssl, int ret, int ssl_err,
                                      bool handshake, struct http_error *err)
{
	int saved_errno = errno;
	unsigned long e;
	int alert = -1, reason = 0;
	long vr = SSL_get_verify_result(ssl);
	const char *why = NULL;

	while ((e = ERR_get_error()) != 0) {
		int r = ERR_GET_REASON(e);

		if (ERR_GET_LIB(e) != ERR_LIB_SSL)
			continue;
		if (r >= SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256)
			alert = r - SSL_AD_REASON_OFFSET;
		if (!why) {
			reason = r;
			why = ERR_reason_error_string(e);
		}
	}
	ERR_clear_error();

	if (vr != X509_V_OK) {
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			return http_fail(
			    err, HTTP_ERR_TLS,
			    "TLS handshake failed: the server certificate is not valid "
			    "for %s (check the host in --url)",
			    c->host);
		return http_fail(err, HTTP_ERR_TLS,
		                 "TLS handshake failed: cannot verify the server certificate: %s "
		                 "(check --ca)",
		                 X509_verify_cert_error_string(vr));
	}
	if (alert >= 0 && http_alert_is_about_our_cert(alert))
		return http_fail(err, HTTP_ERR_TLS,
		                 "TLS handshake failed: the server refused the client certificate "
		                 "(%s alert; check --cert, and that it is not expired or revoked)",
		                 SSL_alert_desc_string_long(alert));
	if (alert >= 0)
		return http_fail(err, HTTP_ERR_TLS,
		                 "TLS handshake failed: the server sent a %s alert",
		                 SSL_alert_desc_string_long(alert));
	if (!handshake)
		return http_fail(err, HTTP_ERR_IO, "TLS error while talking to the server: %s",
		                 why ? why : "connection lost");
	if (ssl_err == SSL_ERROR_SYSCALL) {
		if (ret == 0 || saved_errno == 0 || saved_errno == ECONNRESET ||
		    saved_errno == EPIPE)
			return http_fail(
			    err, HTTP_ERR_TLS,
			    "TLS handshake failed: the server closed the connection "
			    "(is it the cdrp TLS port? does it accept this certificate?)");
		return http_fail(err, HTTP_ERR_TLS, "TLS handshake failed: %s",
		                 strerror(saved_errno));
	}
	/* What OpenSSL says when the other end does not speak TLS at all. */
	if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG)
		return http_fail(err, HTTP_ERR_TLS, "TLS handshake failed: %s (is %s a TLS port?)",
		                 why, c->authority);
	return http_fail(err, HTTP_ERR_TLS, "TLS handshake failed: %s",
	                 why ? why : "unknown error");
}

static enum http_err http_handshake(const struct http_client *c, SSL *ssl, int fd,
                                    const struct timespec *deadline, struct http_error *err)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	int ok;

	if (c->host_is_ip) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, c->host);
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = X509_VERIFY_PARAM_set1_host(vp, c->host, 0) &&
		     SSL_set_tlsext_host_name(ssl, c->host);
	}
	if (!ok || SSL_set_fd(ssl, fd) != 1)
		return http_fail(err, HTTP_ERR_INTERNAL, "cannot set up TLS: %s",
		                 http_ssl_reason());
	for (;;) {
		int r = SSL_connect(ssl), se;
		enum http_err rc;

		if (r == 1)
			return HTTP_OK;
		se = SSL_get_error(ssl, r);
		if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE)
			return http_tls_failure(c, ssl, r, se, true, err);
		rc = http_wait_ssl(c, fd, se, deadline, "in the TLS handshake", err);
		if (rc != HTTP_OK)
			return rc;
	}
}

static enum http_err http_send(const struct http_client *c, SSL *ssl, int fd, const char *buf,
                               size_t len, const struct timespec *deadline, struct http_error *err)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off > INT_MAX ? INT_MAX : len - off;
		int r = SSL_write(ssl, buf + off, (int)n), se;
		enum http_err rc;

		if (r > 0) {
			off += (size_t)r;
			err->request_sent = true;
			continue;
		}
		se = SSL_get_error(ssl, r);
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
			rc = http_wait_ssl(c, fd, se, deadline, "sending the request", err);
			if (rc != HTTP_OK)
				return rc;
			continue;
		}
		rc = http_tls_failure(c, ssl, r, se, false, err);
		if (rc == HTTP_ERR_IO)
			return http_fail(err, HTTP_ERR_IO,
			                 "the connection broke while sending the request (the "
			                 "server may have refused the client certificate)");
		return rc;
	}
	return HTTP_OK;
}

/* ---- response parsing ---- */

static char *http_trimdup(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return strndup(s, n);
}

/* Find the end of the header block: the byte after the empty line. */
static size_t http_head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool http_parse_size(const char *s, size_t n, size_t *out)
{
	size_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Keep a header value once (the first occurrence wins). */
static enum http_err http_keep(char **slot, const char *v, size_t n, struct http_error *err)
{
	if (*slot)
		return HTTP_OK;
	*slot = http_trimdup(v, n);
	if (!*slot)
		return http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
	return HTTP_OK;
}

/* Parse the status line and headers in buf[0..len) (the empty line
 * included) into resp and the reader's framing. */
static enum http_err http_parse_head(struct http_reader *rd, const char *buf, size_t len,
                                     struct http_response *resp, struct http_error *err)
{
	const char *p = buf, *end = buf + len;
	bool have_cl = false, chunked = false, have_te = false;
	size_t cl = 0;
	enum http_err rc;

	/* "HTTP/1.x NNN reason" */
	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (len > 12 && p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
		return http_fail(err, HTTP_ERR_PROTOCOL,
		                 "the server's answer is not HTTP/1.x (is --url the cdrp API?)");
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	p = memchr(p, '\n', len);
	p++;

	while (p < end) {
		const char *line = p, *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon, *v;
		size_t llen = (size_t)(eol - line), nlen, vlen;

		p = eol + 1;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break;
		colon = memchr(line, ':', llen);
		/* Folded or malformed lines carry nothing this client needs. */
		if (!colon || line[0] == ' ' || line[0] == '\t')
			continue;
		nlen = (size_t)(colon - line);
		v = colon + 1;
		vlen = llen - nlen - 1;
#define HTTP_IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
		if (HTTP_IS("Content-Type")) {
			if ((rc = http_keep(&resp->content_type, v, vlen, err)))
				return rc;
		} else if (HTTP_IS("Retry-After")) {
			if ((rc = http_keep(&resp->retry_after, v, vlen, err)))
				return rc;
		} else if (HTTP_IS("Location")) {
			if ((rc = http_keep(&resp->location, v, vlen, err)))
				return rc;
		} else if (HTTP_IS("X-Request-Id")) {
			if ((rc = http_keep(&resp->request_id, v, vlen, err)))
				return rc;
		} else if (HTTP_IS("ETag")) {
			if ((rc = http_keep(&resp->etag, v, vlen, err)))
				return rc;
		} else if (HTTP_IS("Idempotent-Replay")) {
			char *t = http_trimdup(v, vlen);

			if (!t)
				return http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
			resp->idempotent_replay = strcasecmp(t, "true") == 0;
			free(t);
		} else if (HTTP_IS("Content-Length")) {
			char *t = http_trimdup(v, vlen);
			size_t n = 0;
			bool ok = t && http_parse_size(t, strlen(t), &n);

			free(t);
			if (!ok || (have_cl && n != cl))
				return http_fail(err, HTTP_ERR_PROTOCOL,
				                 "the server sent an invalid Content-Length");
			have_cl = true;
			cl = n;
		} else if (HTTP_IS("Transfer-Encoding")) {
			/* Only the last coding decides the framing. */
			char *t = http_trimdup(v, vlen);
			const char *last;

			if (!t)
				return http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
			last = strrchr(t, ',');
			last = last ? last + 1 : t;
			while (*last == ' ' || *last == '\t')
				last++;
			have_te = true;
			chunked = strcasecmp(last, "chunked") == 0;
			free(t);
		}
#undef HTTP_IS
	}

	if (resp->status < 200 || resp->status == 204 || resp->status == 304) {
		rd->frame = HTTP_FRAME_NONE;
	} else if (have_te) {
		/* A non-chunked transfer coding is delimited by the close. */
		rd->frame = chunked ? HTTP_FRAME_CHUNKED : HTTP_FRAME_EOF;
	} else if (have_cl) {
		if (cl > HTTP_MAX_BODY)
			return http_fail(
			    err, HTTP_ERR_TOO_LARGE,
			    "the server's answer is too large (%zu bytes, limit %u MiB)", cl,
			    HTTP_MAX_BODY >> 20);
		rd->frame = HTTP_FRAME_LENGTH;
		rd->content_length = cl;
	} else {
		rd->frame = HTTP_FRAME_EOF;
	}
	return HTTP_OK;
}

/* Decode whatever complete chunks `raw` holds, then drop them from it. */
static enum http_err http_dechunk(struct http_reader *rd, struct http_error *err)
{
	enum http_err rc = HTTP_OK;

	while (!rd->done) {
		char *p = rd->raw + rd->chunk_pos;
		size_t avail = rd->len - rd->chunk_pos, llen, size = 0, data, need;
		char *eol = memchr(p, '\n', avail);
		size_t i;

		if (!eol) {
			if (avail > HTTP_CHUNK_LINE_MAX)
				rc = http_fail(err, HTTP_ERR_PROTOCOL,
				               "the server sent a malformed chunked answer");
			break;
		}
		llen = (size_t)(eol - p);
		if (rd->in_trailer) {
			rd->chunk_pos += llen + 1;
			if (llen == 0 || (llen == 1 && p[0] == '\r'))
				rd->done = true;
			continue;
		}
		for (i = 0; i < llen; i++) {
			int d;
			char ch = p[i];

			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else
				break;
			if (size > HTTP_MAX_BODY)
				break;
			size = size * 16 + (size_t)d;
		}
		if (i == 0 ||
		    (i < llen && p[i] != ';' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t')) {
			rc = http_fail(err, HTTP_ERR_PROTOCOL,
			               "the server sent a malformed chunked answer");
			break;
		}
		if (size > HTTP_MAX_BODY || rd->body_len + size > HTTP_MAX_BODY) {
			rc = http_fail(err, HTTP_ERR_TOO_LARGE,
			               "the server's answer is over the %u MiB limit",
			               HTTP_MAX_BODY >> 20);
			break;
		}
		if (size == 0) {
			rd->in_trailer = true;
			rd->chunk_pos += llen + 1;
			continue;
		}
		data = llen + 1;
		/* data, then CRLF (a bare LF is tolerated) */
		need = data + size + 1;
		if (avail < need || (p[data + size] == '\r' && avail < need + 1))
			break;
		if (p[data + size] != '\n' && p[data + size] != '\r') {
			rc = http_fail(err, HTTP_ERR_PROTOCOL,
			               "the server sent a malformed chunked answer");
			break;
		}
		if (p[data + size] == '\r') {
			if (p[data + size + 1] != '\n') {
				rc = http_fail(err, HTTP_ERR_PROTOCOL,
				               "the server sent a malformed chunked answer");
				break;
			}
			need++;
		}
		if (rd->body_len + size + 1 > rd->body_cap) {
			size_t ncap = rd->body_cap ? rd->body_cap : 4096;
			char *nb;

			while (ncap < rd->body_len + size + 1)
				ncap *= 2;
			nb = realloc(rd->body, ncap);
			if (!nb) {
				rc = http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
				break;
			}
			rd->body = nb;
			rd->body_cap = ncap;
		}
		memcpy(rd->body + rd->body_len, p + data, size);
		rd->body_len += size;
		rd->chunk_pos += need;
	}
	/* Drop decoded bytes so `raw` stays small whatever the chunk sizes. */
	memmove(rd->raw, rd->raw + rd->chunk_pos, rd->len - rd->chunk_pos);
	rd->len -= rd->chunk_pos;
	rd->chunk_pos = 0;
	return rc;
}

/* Look at what has arrived: parse the head once it is complete, then see
 * whether the body is. */
static enum http_err http_advance(struct http_reader *rd, struct http_response *resp,
                                  struct http_error *err)
{
	enum http_err rc;

	while (!rd->have_head) {
		size_t hend = http_head_end(rd->raw, rd->len);

		if (hend == 0) {
			if (rd->len > HTTP_MAX_HEADERS)
				return http_fail(err, HTTP_ERR_PROTOCOL,
				                 "the server's answer headers are over %u KiB",
				                 HTTP_MAX_HEADERS >> 10);
			return HTTP_OK;
		}
		rc = http_parse_head(rd, rd->raw, hend, resp, err);
		if (rc != HTTP_OK)
			return rc;
		memmove(rd->raw, rd->raw + hend, rd->len - hend);
		rd->len -= hend;
		/* An interim 1xx answer is followed by the real one. */
		if (resp->status >= 100 && resp->status < 200) {
			free(resp->content_type);
			free(resp->retry_after);
			free(resp->location);
			free(resp->request_id);
			free(resp->etag);
			memset(resp, 0, sizeof(*resp));
			continue;
		}
		rd->have_head = true;
	}
	switch (rd->frame) {
	case HTTP_FRAME_NONE:
		rd->done = true;
		break;
	case HTTP_FRAME_LENGTH:
		if (rd->len >= rd->content_length) {
			rd->len = rd->content_length;
			rd->done = true;
		}
		break;
	case HTTP_FRAME_CHUNKED:
		return http_dechunk(rd, err);
	case HTTP_FRAME_EOF:
		if (rd->len > HTTP_MAX_BODY)
			return http_fail(err, HTTP_ERR_TOO_LARGE,
			                 "the server's answer is over the %u MiB limit",
			                 HTTP_MAX_BODY >> 20);
		break;
	}
	return HTTP_OK;
}

/* The body read so far becomes resp->body (NUL-terminated). */
static enum http_err http_finish_body(struct http_reader *rd, struct http_response *resp,
                                      struct http_error *err)
{
	char *b, *nb;
	size_t n;

	if (rd->frame == HTTP_FRAME_CHUNKED) {
		b = rd->body;
		n = rd->body_len;
		rd->body = NULL;
	} else if (rd->frame == HTTP_FRAME_NONE) {
		b = NULL;
		n = 0;
	} else {
		b = rd->raw;
		n = rd->len;
		rd->raw = NULL;
	}
	nb = realloc(b, n + 1);
	if (!nb) {
		free(b);
		return http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
	}
	b = nb;
	b[n] = '\0';
	resp->body = b;
	resp->body_len = n;
	return HTTP_OK;
}

static enum http_err http_receive(const struct http_client *c, SSL *ssl, int fd,
                                  const struct timespec *deadline, struct http_reader *rd,
                                  struct http_response *resp, struct http_error *err)
{
	bool got_any = false;
	enum http_err rc;

	while (!rd->done) {
		int r, se;

		if (rd->cap - rd->len < HTTP_READ_CHUNK) {
			size_t ncap = rd->cap ? rd->cap * 2 : HTTP_READ_CHUNK * 2;
			char *nb = realloc(rd->raw, ncap);

			if (!nb)
				return http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
			rd->raw = nb;
			rd->cap = ncap;
		}
		r = SSL_read(ssl, rd->raw + rd->len, HTTP_READ_CHUNK);
		if (r > 0) {
			got_any = true;
			rd->len += (size_t)r;
			rc = http_advance(rd, resp, err);
			if (rc != HTTP_OK)
				return rc;
			continue;
		}
		se = SSL_get_error(ssl, r);
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
			rc = http_wait_ssl(c, fd, se, deadline, "waiting for the server's answer",
			                   err);
			if (rc != HTTP_OK)
				return rc;
			continue;
		}
		if (se != SSL_ERROR_ZERO_RETURN)
			return http_tls_failure(c, ssl, r, se, false, err);
		/* End of stream. */
		if (!got_any)
			return http_fail(err, HTTP_ERR_IO,
			                 "the server closed the connection without answering");
		if (!rd->have_head)
			return http_fail(err, HTTP_ERR_PROTOCOL,
			                 "the server's answer was cut off in its headers");
		if (rd->frame == HTTP_FRAME_EOF) {
			rd->done = true;
			break;
		}
		return http_fail(err, HTTP_ERR_PROTOCOL, "the server's answer was cut off");
	}
	return http_finish_body(rd, resp, err);
}

/* ---- the request ---- */

static enum http_err http_build(const struct http_client *c, const char *method, const char *path,
                                const char *const *headers, const char *body, size_t body_len,
                                char **out, size_t *outlen, struct http_error *err)
{
	FILE *f = open_memstream(out, outlen);
	enum http_err rc = HTTP_OK;

	if (!f)
		return http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
	fprintf(f,
	        "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cdrp/1\r\n"
	        "Accept: application/json, application/problem+json\r\nConnection: close\r\n",
	        method, c->prefix, path, c->host_header);
	if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
		fprintf(f, "Content-Length: %zu\r\n", body_len);
	for (size_t i = 0; headers && headers[i]; i++) {
		/* A CR or LF would let a value smuggle in headers of its own. */
		if (strpbrk(headers[i], "\r\n")) {
			rc = http_fail(err, HTTP_ERR_INTERNAL, "a request header has a line break");
			break;
		}
		fprintf(f, "%s\r\n", headers[i]);
	}
	fputs("\r\n", f);
	if (body_len > 0)
		fwrite(body, 1, body_len, f);
	if (ferror(f) && rc == HTTP_OK)
		rc = http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
	if (fclose(f) != 0 && rc == HTTP_OK)
		rc = http_fail(err, HTTP_ERR_INTERNAL, "out of memory");
	if (rc != HTTP_OK) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

enum http_err http_request(struct http_client *c, const char *method, const char *path,
                           const char *const *headers, const char *body, size_t body_len,
                           struct http_response *resp, struct http_error *err)
{
	struct http_reader rd;
	struct timespec deadline;
	struct sigaction ign, old;
	char *req = NULL;
	size_t req_len = 0;
	SSL *ssl = NULL;
	int fd = -1;
	enum http_err rc;

	memset(err, 0, sizeof(*err));
	memset(resp, 0, sizeof(*resp));
	memset(&rd, 0, sizeof(rd));
	/* A peer that hangs up must not kill us with SIGPIPE; only for the
	 * time of the request, so writing to a closed stdout still does. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->timeout_sec;

	rc = http_build(c, method, path, headers, body, body_len, &req, &req_len, err);
	if (rc != HTTP_OK)
		goto out;
	rc = http_connect(c, &deadline, &fd, err);
	if (rc != HTTP_OK)
		goto out;
	ssl = SSL_new(c->ctx);
	if (!ssl) {
		rc = http_fail(err, HTTP_ERR_INTERNAL, "cannot create TLS session: %s",
		               http_ssl_reason());
		goto out;
	}
	rc = http_handshake(c, ssl, fd, &deadline, err);
	if (rc != HTTP_OK)
		goto out;
	rc = http_send(c, ssl, fd, req, req_len, &deadline, err);
	if (rc == HTTP_ERR_IO) {
		/* A server that hangs up on us mid-request may have said why
		 * first -- an early answer (413) or, with TLS 1.3, the alert
		 * refusing our certificate -- and that is still readable. */
		struct http_error rerr = *err;
		enum http_err r2 = http_receive(c, ssl, fd, &deadline, &rd, resp, &rerr);

		if (r2 == HTTP_OK || r2 == HTTP_ERR_TLS) {
			rc = r2;
			*err = rerr;
		}
	} else if (rc == HTTP_OK) {
		rc = http_receive(c, ssl, fd, &deadline, &rd, resp, err);
	}
	if (rc != HTTP_OK)
		goto out;
	/* Best effort: tell the server we are done, without waiting. */
	SSL_shutdown(ssl);
out:
	if (rc != HTTP_OK)
		http_response_free(resp);
	free(rd.raw);
	free(rd.body);
	free(req);
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}

void http_response_free(struct http_response *resp)
{
	free(resp->content_type);
	free(resp->retry_after);
	free(resp->location);
	free(resp->request_id);
	free(resp->etag);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

char *http_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}
