/* SPDX-License-Identifier: ISC */
/*
 * floodgate - logging to stderr (foreground) or syslog.
 *
 * errno is preserved across every call so that callers can log and then
 * still inspect it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "utf8.h"

int log_verbose;

static int log_fg = 1;

static void log_vwrite(int, const char *, const char *, va_list);

static const struct {
	const char *name;
	int         fac;
} facilities[] = {
    {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};

/* openlog() keeps the pointer: the ident must outlive the process. */
static char log_ident[64] = "floodgated";

void
log_init(int foreground, int verbose, const char *ident)
{
	log_fg = foreground;
	log_verbose = verbose;
	snprintf(log_ident, sizeof log_ident, "%s", ident);
	if (!log_fg)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

int
log_facility_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].fac;
	return -1;
}

void
log_syslog(const char *ident, const char *facility)
{
	int fac = facility != NULL ? log_facility_parse(facility) : -1;

	if (ident != NULL)
		snprintf(log_ident, sizeof log_ident, "%s", ident);
	closelog();
	openlog(log_ident, LOG_PID | LOG_NDELAY, fac < 0 ? LOG_DAEMON : fac);
	log_fg = 0;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

static void
log_vwrite(int pri, const char *suffix, const char *fmt, va_list ap)
{
	char   msg[1024];
	int    saved = errno;
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (suffix != NULL) {
		n = strlen(msg);
		snprintf(msg + n, sizeof msg - n, ": %s", suffix);
	}
	if (log_fg) {
		struct timespec ts;
		struct tm       tm;
		char            tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s\n", tbuf, ts.tv_nsec / 1000000,
			msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int     saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, saved ? strerror(saved) : NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int     saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, saved ? strerror(saved) : NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_esc(char *buf, size_t bufsz, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t            o = 0;
	unsigned char     c;
	uint32_t          cp;

	if (bufsz == 0)
		return buf;
	if (s == NULL) {
		snprintf(buf, bufsz, "(null)");
		return buf;
	}
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		char   tmp[5];
		size_t n;

		if (c == '\\' || c == '"') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			n = 2;
		} else if (c == '\n') {
			memcpy(tmp, "\\n", 2);
			n = 2;
		} else if (c == '\t') {
			memcpy(tmp, "\\t", 2);
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			tmp[0] = '\\';
			tmp[1] = 'x';
			tmp[2] = hex[c >> 4];
			tmp[3] = hex[c & 0xf];
			n = 4;
		} else if (c < 0x80) {
			tmp[0] = (char)c;
			n = 1;
		} else if ((n = utf8_seq(s, strnlen(s, 4), &cp)) > 0) {
			/* well-formed UTF-8 passes whole: JIDs are UTF-8 */
			memcpy(tmp, s, n);
			s += n - 1;
		} else {
			/* a log line must stay valid UTF-8 itself */
			tmp[0] = '\\';
			tmp[1] = 'x';
			tmp[2] = hex[c >> 4];
			tmp[3] = hex[c & 0xf];
			n = 4;
		}
		if (o + n + 4 > bufsz) {
			if (bufsz >= 4) {
				size_t at = o + 4 > bufsz ? bufsz - 4 : o;
				memcpy(buf + at, "...", 4);
			} else
				buf[0] = '\0';
			return buf;
		}
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

static void
libevent_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

void
log_libevent(void)
{
	event_set_log_callback(libevent_cb);
}
