/* log.c: levelled logging to stderr or syslog. Callers pass identifiers
 * (request ids, agency codes, SQLSTATEs), never personal data or secrets. */
#include "cdrpd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum log_level log_threshold = LL_INFO;
static bool log_to_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(enum log_level level, bool use_syslog)
{
	log_threshold = level;
	if (use_syslog && !log_to_syslog)
		openlog("cdrpd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = use_syslog;
}

bool log_level_parse(const char *s, enum log_level *out)
{
	for (int i = LL_ERROR; i <= LL_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

static void log_v(enum log_level level, const char *fmt, va_list ap)
{
	if (log_to_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		vsyslog(prio[level], fmt, ap);
		return;
	}
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
	              level_names[level]);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(LL_ERROR, fmt, ap);
	va_end(ap);
	abort();
}
