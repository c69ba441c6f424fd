/* SPDX-License-Identifier: ISC */
/*
 * floodgate - logging.
 *
 * stderr in the foreground (-d), syslog otherwise. Debug logging costs one
 * branch when off: use log_debug() only through the LOG_DEBUG_ON() guard
 * when building its arguments is expensive. Untrusted text (JIDs, bodies,
 * stanza fragments) must go through log_esc() before it is logged.
 */
#ifndef FG_LOG_H
#define FG_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_ESC_MAX 256 /* bytes of escaped output per log_esc() buffer */

extern int log_verbose; /* 0 = info, 1 = debug, 2 = trace */

void log_init(int foreground, int verbose, const char *ident);
void log_setverbose(int);
/* From now on log to syslog as ident (NULL: keep) and facility (a name,
 * NULL: daemon). */
void log_syslog(const char *ident, const char *facility);
/* LOG_DAEMON, LOG_LOCAL0... for "daemon", "local0"...; -1 if unknown. */
int  log_facility_parse(const char *);
void log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void log_debug_(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)))
__attribute__((__noreturn__));
void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)))
__attribute__((__noreturn__));

/* Route libevent's own messages here: errors as warnings, the rest at
 * debug. */
void log_libevent(void);

/* Escape untrusted text into buf (C-style, non-printables as \ooo,
 * truncated with "..." to fit); returns buf. */
const char *log_esc(char *buf, size_t bufsz, const char *s);

/* Arguments are not evaluated at all when debug logging is off. */
#define LOG_DEBUG_ON() (log_verbose > 0)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (LOG_DEBUG_ON())                                            \
			log_debug_(__VA_ARGS__);                               \
	} while (0)

#endif
