/* config.c: parse cdrpd's `key = value` configuration file. Every limit a
 * client can push against has a named key and a default here. */
#include "cdrpd.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_FILE_MAX (64 * 1024)

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
	c->listen_port = 8443;
	c->pool_size = 4;
	c->pipeline_depth = 16;
	c->max_queue = 1024;
	c->max_body_bytes = 64 * 1024;
	c->max_header_bytes = 8 * 1024;
	c->max_connections = 256;
	c->max_handshakes = 256;
	c->idle_timeout_s = 30;
	c->handshake_timeout_s = 10;
	c->tls_handshake_timeout_ms = 3000;
	c->request_deadline_ms = 5000;
	c->group_commit_max = 32;
	c->audit_seal_interval_ms = 250;
	c->audit_seal_batch = 20000;
	c->idempotency_key_ttl_s = 24 * 3600;
	snprintf(c->audit_origin, sizeof c->audit_origin, "cdrp.invalid/audit");
	c->log_level = LL_INFO;
}

static bool parse_int(const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

/* HOST:PORT or [V6]:PORT into host (of hostlen bytes) and port. */
static bool parse_listen(const char *v, char *host, size_t hostlen, int *port_out)
{
	const char *colon = strrchr(v, ':');
	long port;
	if (!colon || colon == v || (size_t)(colon - v) >= hostlen)
		return false;
	if (!parse_int(colon + 1, 0, 65535, &port))
		return false;
	size_t n = (size_t)(colon - v);
	if (v[0] == '[' && v[n - 1] == ']') { /* [::1]:8443 */
		v++;
		n -= 2;
	}
	memcpy(host, v, n);
	host[n] = '\0';
	*port_out = (int)port;
	return true;
}

struct int_key {
	const char *name;
	long lo, hi;
	size_t off;
	bool is_size;
};
#define INT_KEY(n, lo, hi)                                                                         \
	{                                                                                          \
#n, lo, hi, offsetof(struct cfg, n), false                                         \
	}
#define SIZE_KEY(n, lo, hi)                                                                        \
	{                                                                                          \
#n, lo, hi, offsetof(struct cfg, n), true                                          \
	}
static const struct int_key int_keys[] = {
    INT_KEY(pool_size, 1, 64),
    INT_KEY(pipeline_depth, 1, 256),
    INT_KEY(max_queue, 0, 100000),
    SIZE_KEY(max_body_bytes, 256, 16 * 1024 * 1024),
    SIZE_KEY(max_header_bytes, 512, 256 * 1024),
    INT_KEY(max_connections, 1, 100000),
    INT_KEY(max_handshakes, 1, 10000),
    INT_KEY(idle_timeout_s, 1, 3600),
    INT_KEY(handshake_timeout_s, 1, 300),
    INT_KEY(tls_handshake_timeout_ms, 100, 60000),
    INT_KEY(request_deadline_ms, 10, 600000),
    INT_KEY(group_commit_max, 1, 256),
    INT_KEY(audit_seal_interval_ms, 10, 60000),
    INT_KEY(audit_seal_batch, 100, 1000000),
    INT_KEY(idempotency_key_ttl_s, 1, 30 * 24 * 3600),
};
struct str_key {
	const char *name;
	size_t off;
};
#define STR_KEY(n)                                                                                 \
	{                                                                                          \
#n, offsetof(struct cfg, n)                                                        \
	}
static const struct str_key str_keys[] = {
    STR_KEY(port_file),        STR_KEY(tls_cert),          STR_KEY(tls_key),
    STR_KEY(tls_ca),           STR_KEY(tls_crl),           STR_KEY(database),
    STR_KEY(migrate_database), STR_KEY(audit_signing_key), STR_KEY(audit_checkpoint_file),
    STR_KEY(audit_origin),
};

static bool set_key(struct cfg *c, const char *k, const char *v, char *why, size_t whylen)
{
	if (strcmp(k, "listen") == 0) {
		if (!parse_listen(v, c->listen_host, sizeof c->listen_host, &c->listen_port))
			snprintf(why, whylen, "listen must be HOST:PORT");
		return why[0] == '\0';
	}
	if (strcmp(k, "admin_listen") == 0) {
		if (!parse_listen(v, c->admin_host, sizeof c->admin_host, &c->admin_port))
			snprintf(why, whylen,
			         "admin_listen must be HOST:PORT (a loopback address)");
		return why[0] == '\0';
	}
	if (strcmp(k, "log_level") == 0) {
		if (!log_level_parse(v, &c->log_level))
			snprintf(why, whylen, "log_level must be error, warn, info or debug");
		return why[0] == '\0';
	}
	if (strcmp(k, "log_target") == 0) {
		if (strcmp(v, "stderr") == 0 || strcmp(v, "syslog") == 0)
			c->log_syslog = v[1] == 'y';
		else
			snprintf(why, whylen, "log_target must be stderr or syslog");
		return why[0] == '\0';
	}
	for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
		const struct int_key *ik = &int_keys[i];
		long n;
		if (strcmp(k, ik->name) != 0)
			continue;
		if (!parse_int(v, ik->lo, ik->hi, &n)) {
			snprintf(why, whylen, "%s must be an integer from %ld to %ld", k, ik->lo,
			         ik->hi);
			return false;
		}
		if (ik->is_size)
			*(size_t *)((char *)c + ik->off) = (size_t)n;
		else
			*(int *)((char *)c + ik->off) = (int)n;
		return true;
	}
	for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
		if (strcmp(k, str_keys[i].name) != 0)
			continue;
		if (strlen(v) >= CFG_STR_MAX) {
			snprintf(why, whylen, "%s is too long", k);
			return false;
		}
		snprintf((char *)c + str_keys[i].off, CFG_STR_MAX, "%s", v);
		return true;
	}
	snprintf(why, whylen, "unknown key '%.64s'", k);
	return false;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Appends one finding to err, one per line. */
static void add_err(char *err, size_t errlen, int *nerr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_err(char *err, size_t errlen, int *nerr, const char *fmt, ...)
{
	size_t n = *nerr ? strlen(err) : 0;
	if (*nerr && n + 2 < errlen)
		n += (size_t)snprintf(err + n, errlen - n, "\n");
	va_list ap;
	va_start(ap, fmt);
	if (n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	(*nerr)++;
}

bool cfg_parse(const char *text, struct cfg *c, char *err, size_t errlen)
{
	int nerr = 0;
	char *copy = strdup(text);
	if (!copy)
		log_fatal("out of memory");
	int lineno = 0;
	for (char *line = copy, *next; line; line = next) {
		char why[160] = "";
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			add_err(err, errlen, &nerr, "line %d: expected key = value", lineno);
			continue;
		}
		*eq = '\0';
		if (!set_key(c, trim(s), trim(eq + 1), why, sizeof why))
			add_err(err, errlen, &nerr, "line %d: %s", lineno, why);
	}
	static const char *const required[] = {"tls_cert",
	                                       "tls_key",
	                                       "tls_ca",
	                                       "tls_crl",
	                                       "database",
	                                       "audit_signing_key",
	                                       "audit_checkpoint_file"};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		for (size_t j = 0; j < sizeof str_keys / sizeof str_keys[0]; j++) {
			if (strcmp(str_keys[j].name, required[i]) == 0 &&
			    !((char *)c + str_keys[j].off)[0])
				add_err(err, errlen, &nerr, "missing required key '%s'",
				        required[i]);
		}
	}
	if (c->admin_host[0] && strncmp(c->admin_host, "127.", 4) != 0 &&
	    strcmp(c->admin_host, "::1") != 0)
		add_err(err, errlen, &nerr,
		        "admin_listen must be a loopback address (it has no TLS and no client "
		        "certificates)");
	free(copy);
	return nerr == 0;
}

bool cfg_load(const char *path, struct cfg *c, char *err, size_t errlen)
{
	bool ok = false;
	char *buf = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf = malloc(CFG_FILE_MAX + 1);
	if (!buf)
		log_fatal("out of memory");
	size_t n = fread(buf, 1, CFG_FILE_MAX + 1, f);
	if (n > CFG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, CFG_FILE_MAX);
		goto out;
	}
	buf[n] = '\0';
	char why[2048];
	cfg_defaults(c);
	if (!cfg_parse(buf, c, why, sizeof why)) {
		/* "path: finding" for each line of why */
		size_t used = 0;
		for (char *line = why, *nl; line && used < errlen; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			used += (size_t)snprintf(err + used, errlen - used, "%s%s: %s",
			                         used ? "\n" : "", path, line);
		}
		goto out;
	}
	ok = true;
out:
	free(buf);
	if (f)
		fclose(f);
	return ok;
}

void cfg_reload(struct cfg *cur, const struct cfg *next, char *restart, size_t restartlen)
{
	struct cfg keep = *cur;
	size_t n = 0;
	restart[0] = '\0';
	*cur = *next;
	/* Bound, opened or connected at start: changing them needs a restart. */
#define KEEP(field)                                                                                \
	do {                                                                                       \
		if (memcmp(&keep.field, &next->field, sizeof keep.field) != 0 && n < restartlen)   \
			n += (size_t)snprintf(restart + n, restartlen - n, "%s%s", n ? ", " : "",  \
			                      #field);                                             \
		memcpy(&cur->field, &keep.field, sizeof keep.field);                               \
	} while (0)
	KEEP(listen_host);
	KEEP(listen_port);
	KEEP(port_file);
	KEEP(database);
	KEEP(migrate_database);
	KEEP(pool_size);
	KEEP(audit_signing_key);
	KEEP(audit_checkpoint_file);
	KEEP(audit_origin);
	KEEP(admin_host);
	KEEP(admin_port);
	KEEP(log_syslog);
#undef KEEP
}
