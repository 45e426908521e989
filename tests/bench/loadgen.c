/* loadgen.c: mutual-TLS HTTP/1.1 load generator for cdrpd. One thread per
 * keep-alive connection, each doing its handshake once and then sending
 * POST requests back to back, every one with a fresh Idempotency-Key so that
 * each stores a new referral. Only 201 counts as success. Latency is taken
 * on the monotonic clock for requests that start after the warmup and end
 * before the deadline. The last line is machine-readable:
 *   RESULT conns=N rps=X p50_ms=Y p99_ms=Z errors=E created=C
 * (created: every 201 seen, warmup included). Exit 1 if over 0.1% failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS    1024
#define IO_TIMEOUT_S 30
#define RBUF_SIZE    16384
#define HEAD_MAX     16384
#define MAX_BODY     (1 << 20)
#define ERROR_LIMIT  0.001 /* fail the run above this share of failures */

struct opts {
	char host[256];
	char port[8];
	const char *ca, *cert, *key, *body_file, *path;
	int conns;
	double seconds, warmup;
	char run_id[64];
};

/* Shared, read-only once the threads run. */
static struct opts opt;
static SSL_CTX *ctx;
static char *body;
static size_t body_len;
static double t_measure, t_end; /* monotonic seconds */
/* Every connection is up (or failed); then the clock is set; then go. */
static pthread_barrier_t connected, go;

struct worker {
	pthread_t tid;
	int index;
	int fd;
	SSL *ssl;
	char rbuf[RBUF_SIZE];
	size_t roff, rlen;
	bool peer_closes; /* the last response said Connection: close */
	char *req;        /* the request being sent */
	size_t req_cap;
	/* results */
	uint64_t created;           /* every 201, warmup included */
	uint64_t ok, failed;        /* in the measured window */
	uint64_t status_count[600]; /* in the measured window, by status */
	uint64_t conn_errors;       /* in the measured window */
	uint64_t warm_failed;       /* outside the window */
	uint64_t reconnects;
	float *lat_ms;
	size_t nlat, caplat;
	int errors_shown;
	char last_error[200];
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: loadgen --url https://HOST:PORT --ca FILE --cert FILE --key FILE\n"
	           "               --body FILE [--path /v1/referrals] [-c CONNS] [-d SECONDS]\n"
	           "               [--warmup SECONDS] [--run-id ID]\n");
}

static void parse_url(const char *url)
{
	const char *p = url;
	if (strncmp(p, "https://", 8) != 0)
		die("--url must start with https://: %s", url);
	p += 8;
	const char *host_end, *port_start;
	if (*p == '[') {
		host_end = strchr(p, ']');
		if (!host_end)
			die("bad IPv6 address in %s", url);
		p++;
		port_start = host_end + 1;
	} else {
		host_end = p + strcspn(p, ":/");
		port_start = host_end;
	}
	size_t hl = (size_t)(host_end - p);
	if (hl == 0 || hl >= sizeof opt.host)
		die("bad host in %s", url);
	memcpy(opt.host, p, hl);
	opt.host[hl] = '\0';
	snprintf(opt.port, sizeof opt.port, "443");
	if (*port_start == ':') {
		size_t pl = strspn(port_start + 1, "0123456789");
		if (pl == 0 || pl >= sizeof opt.port)
			die("bad port in %s", url);
		memcpy(opt.port, port_start + 1, pl);
		opt.port[pl] = '\0';
		port_start += 1 + pl;
	}
	if (*port_start && strcmp(port_start, "/") != 0)
		die("--url takes no path (use --path): %s", url);
}

static double parse_seconds(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end || v < 0 || v > 86400)
		die("%s: not a number of seconds: %s", what, s);
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"ca", required_argument, NULL, 'A'},
	    {"cert", required_argument, NULL, 'C'},
	    {"key", required_argument, NULL, 'K'},
	    {"body", required_argument, NULL, 'b'},
	    {"path", required_argument, NULL, 'p'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"run-id", required_argument, NULL, 'r'},
	    {"connections", required_argument, NULL, 'c'},
	    {"duration", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *url = NULL;
	opt.conns = 8;
	opt.seconds = 10;
	opt.warmup = 3;
	opt.path = "/v1/referrals";
	for (int o; (o = getopt_long(argc, argv, "c:d:h", lo, NULL)) != -1;) {
		switch (o) {
		case 'u':
			url = optarg;
			break;
		case 'A':
			opt.ca = optarg;
			break;
		case 'C':
			opt.cert = optarg;
			break;
		case 'K':
			opt.key = optarg;
			break;
		case 'b':
			opt.body_file = optarg;
			break;
		case 'p':
			opt.path = optarg;
			break;
		case 'w':
			opt.warmup = parse_seconds(optarg, "--warmup");
			break;
		case 'd':
			opt.seconds = parse_seconds(optarg, "-d");
			break;
		case 'r':
			snprintf(opt.run_id, sizeof opt.run_id, "%s", optarg);
			break;
		case 'c': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || n < 1 || n > MAX_CONNS)
				die("-c: between 1 and %d connections", MAX_CONNS);
			opt.conns = (int)n;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !url || !opt.ca || !opt.cert || !opt.key || !opt.body_file) {
		usage(stderr);
		exit(2);
	}
	if (opt.seconds <= 0)
		die("-d must be more than 0 seconds");
	if (opt.path[0] != '/' || strpbrk(opt.path, " \r\n"))
		die("--path must start with / and contain no spaces");
	parse_url(url);
	if (!opt.run_id[0]) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(opt.run_id, sizeof opt.run_id, "lg%llx%05x", (unsigned long long)ts.tv_sec,
		         (unsigned)getpid() & 0xfffff);
	}
	for (const char *p = opt.run_id; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			die("--run-id must be printable ASCII without spaces");
}

static void read_body_file(void)
{
	FILE *f = fopen(opt.body_file, "rb");
	if (!f)
		die("cannot open %s: %s", opt.body_file, strerror(errno));
	body = malloc(MAX_BODY);
	if (!body)
		die("out of memory");
	body_len = fread(body, 1, MAX_BODY, f);
	if (ferror(f) || !feof(f))
		die("cannot read %s (or it is over %d bytes)", opt.body_file, MAX_BODY);
	fclose(f);
	if (body_len == 0)
		die("%s is empty", opt.body_file);
}

static void make_ctx(void)
{
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
		die("cannot load CA %s", opt.ca);
	if (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1)
		die("cannot load certificate %s", opt.cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die("cannot load key %s (or it does not match the certificate)", opt.key);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
}

static void set_error(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct worker *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->last_error, sizeof w->last_error, fmt, ap);
	va_end(ap);
}

static void ssl_error(struct worker *w, const char *what, int ret)
{
	int e = SSL_get_error(w->ssl, ret);
	unsigned long q = ERR_get_error();
	char buf[160] = "";
	if (q)
		ERR_error_string_n(q, buf, sizeof buf);
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(buf, sizeof buf, "%s", errno ? strerror(errno) : "unexpected EOF");
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, sizeof buf, "closed by peer");
	set_error(w, "%s: SSL error %d %s", what, e, buf);
	ERR_clear_error();
}

static void conn_close(struct worker *w)
{
	if (w->ssl) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->roff = w->rlen = 0;
	w->peer_closes = false;
}

static bool conn_open(struct worker *w)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(opt.host, opt.port, &hints, &res);
	if (rc != 0) {
		set_error(w, "cannot resolve %s: %s", opt.host, gai_strerror(rc));
		return false;
	}
	w->fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		w->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (w->fd < 0)
			continue;
		if (connect(w->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		set_error(w, "connect: %s", strerror(errno));
		close(w->fd);
		w->fd = -1;
	}
	freeaddrinfo(res);
	if (w->fd < 0)
		return false;
	int one = 1;
	struct timeval tv = {IO_TIMEOUT_S, 0};
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

	w->ssl = SSL_new(ctx);
	if (!w->ssl)
		die("SSL_new failed");
	unsigned char addr[16];
	bool is_ip =
	    inet_pton(AF_INET, opt.host, addr) == 1 || inet_pton(AF_INET6, opt.host, addr) == 1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(w->ssl);
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, opt.host) != 1
	          : (SSL_set_tlsext_host_name(w->ssl, opt.host) != 1 ||
	             SSL_set1_host(w->ssl, opt.host) != 1))
		die("cannot set the expected server name %s", opt.host);
	SSL_set_fd(w->ssl, w->fd);
	int r = SSL_connect(w->ssl);
	if (r != 1) {
		ssl_error(w, "handshake", r);
		conn_close(w);
		return false;
	}
	return true;
}

/* Buffered reading from the TLS connection. */
static bool fill(struct worker *w)
{
	if (w->roff > 0) {
		memmove(w->rbuf, w->rbuf + w->roff, w->rlen - w->roff);
		w->rlen -= w->roff;
		w->roff = 0;
	}
	if (w->rlen == sizeof w->rbuf) {
		set_error(w, "response line or header over %d bytes", RBUF_SIZE);
		return false;
	}
	int n = SSL_read(w->ssl, w->rbuf + w->rlen, (int)(sizeof w->rbuf - w->rlen));
	if (n <= 0) {
		ssl_error(w, "read", n);
		return false;
	}
	w->rlen += (size_t)n;
	return true;
}

/* The next CRLF-terminated line, NUL-terminated in place, without CRLF. */
static char *read_line(struct worker *w)
{
	for (;;) {
		char *start = w->rbuf + w->roff;
		char *nl = memchr(start, '\n', w->rlen - w->roff);
		if (nl) {
			*nl = '\0';
			if (nl > start && nl[-1] == '\r')
				nl[-1] = '\0';
			w->roff = (size_t)(nl + 1 - w->rbuf);
			return start;
		}
		if (!fill(w))
			return NULL;
	}
}

static bool skip_bytes(struct worker *w, size_t n)
{
	while (n > 0) {
		if (w->roff == w->rlen && !fill(w))
			return false;
		size_t take = w->rlen - w->roff < n ? w->rlen - w->roff : n;
		w->roff += take;
		n -= take;
	}
	return true;
}

/* Reads one response; its status, or 0 on a connection or protocol error
 * (described in w->last_error). The body is read and dropped. */
static int read_response(struct worker *w)
{
	char *line = read_line(w);
	if (!line)
		return 0;
	int status;
	if (sscanf(line, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599) {
		set_error(w, "bad status line: %.80s", line);
		return 0;
	}
	long long clen = -1;
	bool chunked = false;
	size_t head = 0;
	w->peer_closes = false;
	while ((line = read_line(w)) != NULL && *line) {
		head += strlen(line);
		if (head > HEAD_MAX) {
			set_error(w, "response headers over %d bytes", HEAD_MAX);
			return 0;
		}
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *v = colon + 1;
		v += strspn(v, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			char *end;
			clen = strtoll(v, &end, 10);
			if (end == v || clen < 0) {
				set_error(w, "bad Content-Length: %.40s", v);
				return 0;
			}
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			if (strcasecmp(v, "chunked") != 0) {
				set_error(w, "unsupported Transfer-Encoding: %.40s", v);
				return 0;
			}
			chunked = true;
		} else if (strcasecmp(line, "Connection") == 0 && strcasestr(v, "close")) {
			w->peer_closes = true;
		}
	}
	if (!line)
		return 0;
	if (chunked) {
		for (;;) {
			if (!(line = read_line(w)))
				return 0;
			char *end;
			unsigned long long n = strtoull(line, &end, 16);
			if (end == line || n > MAX_BODY) {
				set_error(w, "bad chunk size: %.40s", line);
				return 0;
			}
			if (n == 0)
				break;
			if (!skip_bytes(w, (size_t)n) || !(line = read_line(w)))
				return 0;
		}
		/* Trailers, up to the empty line. */
		while ((line = read_line(w)) != NULL && *line)
			;
		if (!line)
			return 0;
	} else if (clen >= 0) {
		if (!skip_bytes(w, (size_t)clen))
			return 0;
	} else if (status >= 200 && status != 204 && status != 304) {
		/* A body delimited by the end of the connection: no keep-alive. */
		set_error(w, "status %d without Content-Length or chunked encoding", status);
		return 0;
	}
	return status;
}

static bool send_request(struct worker *w, uint64_t seq)
{
	size_t need = body_len + 1024 + strlen(opt.path) + strlen(opt.host);
	if (w->req_cap < need) {
		free(w->req);
		w->req = malloc(need);
		if (!w->req)
			die("out of memory");
		w->req_cap = need;
	}
	char *req = w->req;
	size_t cap = w->req_cap;
	int n = snprintf(req, cap,
	                 "POST %s HTTP/1.1\r\n"
	                 "Host: %s:%s\r\n"
	                 "Content-Type: application/json\r\n"
	                 "Idempotency-Key: %s-%d-%llu\r\n"
	                 "Content-Length: %zu\r\n"
	                 "\r\n",
	                 opt.path, opt.host, opt.port, opt.run_id, w->index,
	                 (unsigned long long)seq, body_len);
	if (n < 0 || (size_t)n + body_len > cap)
		die("request head too long");
	memcpy(req + n, body, body_len);
	int r = SSL_write(w->ssl, req, n + (int)body_len);
	if (r != n + (int)body_len) {
		ssl_error(w, "write", r);
		return false;
	}
	return true;
}

static void record_latency(struct worker *w, double ms)
{
	if (w->nlat == w->caplat) {
		w->caplat = w->caplat ? w->caplat * 2 : 4096;
		w->lat_ms = realloc(w->lat_ms, w->caplat * sizeof *w->lat_ms);
		if (!w->lat_ms)
			die("out of memory");
	}
	w->lat_ms[w->nlat++] = (float)ms;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	bool up = conn_open(w);
	if (!up)
		fprintf(stderr, "loadgen: connection %d: %s\n", w->index, w->last_error);
	pthread_barrier_wait(&connected);
	pthread_barrier_wait(&go);
	for (uint64_t seq = 0;; seq++) {
		double t0 = now_s();
		if (t0 >= t_end)
			break;
		int status = 0;
		if (!up) {
			w->reconnects++;
			up = conn_open(w);
		}
		if (up && send_request(w, seq))
			status = read_response(w);
		double t1 = now_s();
		bool measured = t0 >= t_measure && t1 <= t_end;
		if (status == 201) {
			w->created++;
			if (measured) {
				w->ok++;
				record_latency(w, (t1 - t0) * 1e3);
			}
		} else if (!measured) {
			w->warm_failed++;
		} else {
			w->failed++;
			if (status)
				w->status_count[status]++;
			else
				w->conn_errors++;
		}
		if (!status) {
			if (w->errors_shown++ < 3)
				fprintf(stderr, "loadgen: connection %d: %s\n", w->index,
				        w->last_error);
			conn_close(w);
			up = false;
			/* Do not spin on a server that refuses connections. */
			struct timespec pause = {0, 10 * 1000 * 1000};
			nanosleep(&pause, NULL);
		}
		if (up && w->peer_closes) {
			conn_close(w);
			up = false;
		}
	}
	if (w->ssl)
		SSL_shutdown(w->ssl);
	conn_close(w);
	free(w->req);
	return NULL;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const float *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	read_body_file();
	signal(SIGPIPE, SIG_IGN);
	make_ctx();

	struct worker *ws = calloc((size_t)opt.conns, sizeof *ws);
	if (!ws)
		die("out of memory");
	if (pthread_barrier_init(&connected, NULL, (unsigned)opt.conns + 1) != 0 ||
	    pthread_barrier_init(&go, NULL, (unsigned)opt.conns + 1) != 0)
		die("pthread_barrier_init failed");
	for (int i = 0; i < opt.conns; i++) {
		ws[i].index = i;
		ws[i].fd = -1;
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&connected);
	t_measure = now_s() + opt.warmup;
	t_end = t_measure + opt.seconds;
	pthread_barrier_wait(&go);
	printf("loadgen: %d connections to %s:%s, POST %s, %.0f s warmup + %.0f s measured "
	       "(run id %s)\n",
	       opt.conns, opt.host, opt.port, opt.path, opt.warmup, opt.seconds, opt.run_id);
	fflush(stdout);

	uint64_t ok = 0, failed = 0, conn_errors = 0, created = 0, warm_failed = 0;
	uint64_t reconnects = 0, status_count[600] = {0};
	size_t nlat = 0;
	for (int i = 0; i < opt.conns; i++) {
		pthread_join(ws[i].tid, NULL);
		ok += ws[i].ok;
		failed += ws[i].failed;
		conn_errors += ws[i].conn_errors;
		created += ws[i].created;
		warm_failed += ws[i].warm_failed;
		reconnects += ws[i].reconnects;
		nlat += ws[i].nlat;
		for (int s = 0; s < 600; s++)
			status_count[s] += ws[i].status_count[s];
	}
	float *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
	if (!lat)
		die("out of memory");
	size_t k = 0;
	for (int i = 0; i < opt.conns; i++) {
		if (ws[i].nlat)
			memcpy(lat + k, ws[i].lat_ms, ws[i].nlat * sizeof *lat);
		k += ws[i].nlat;
		free(ws[i].lat_ms);
	}
	qsort(lat, nlat, sizeof *lat, cmp_float);

	double rps = (double)ok / opt.seconds;
	double p50 = percentile(lat, nlat, 50), p90 = percentile(lat, nlat, 90);
	double p99 = percentile(lat, nlat, 99), pmax = nlat ? lat[nlat - 1] : 0;
	double share = ok + failed ? (double)failed / (double)(ok + failed) : 1;
	printf("requests:  %llu x 201 in %.1f s = %.1f req/s\n", (unsigned long long)ok,
	       opt.seconds, rps);
	printf("latency:   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50, p90, p99,
	       pmax);
	printf("errors:    %llu (%.3f%%)", (unsigned long long)failed, share * 100);
	if (conn_errors)
		printf(", %llu connection/protocol", (unsigned long long)conn_errors);
	for (int s = 0; s < 600; s++)
		if (status_count[s])
			printf(", %llu x %d", (unsigned long long)status_count[s], s);
	printf("; outside the window %llu; reconnects %llu\n", (unsigned long long)warm_failed,
	       (unsigned long long)reconnects);
	printf("RESULT conns=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%llu created=%llu\n",
	       opt.conns, rps, p50, p99, (unsigned long long)failed, (unsigned long long)created);
	free(lat);
	free(ws);
	free(body);
	SSL_CTX_free(ctx);
	if (ok == 0 || share > ERROR_LIMIT) {
		fprintf(stderr, "loadgen: %.3f%% of requests failed (limit %.1f%%)\n", share * 100,
		        ERROR_LIMIT * 100);
		return 1;
	}
	return 0;
}
