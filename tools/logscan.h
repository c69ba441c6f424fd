/* SPDX-License-Identifier: ISC */
/*
 * floodgate - streaming reader of ejabberd and Prosody server logs.
 *
 * Reads plain or gzip-compressed files (zlib reads both), one after the
 * other in the order given, splits lines with memchr in a fixed buffer
 * and turns the lines that matter (authentication, c2s sessions,
 * registrations) into records handed to a callback. Nothing is kept per
 * line: memory is the buffer plus what the callback keeps. Lines that
 * cannot be parsed are counted and a few are kept as samples; they are
 * never fatal.
 */
#ifndef FG_LOGSCAN_H
#define FG_LOGSCAN_H

#include <stddef.h>
#include <stdint.h>

#define LOGSCAN_FIELD_MAX 256  /* bytes per field incl. NUL; longer = bad */
#define LOGSCAN_SAMPLES 5      /* bad lines kept as samples */
#define LOGSCAN_SAMPLE_LEN 160 /* bytes per sample incl. location */

enum logscan_fmt {
	LOGSCAN_FMT_AUTO, /* decide per file from its first lines */
	LOGSCAN_FMT_EJABBERD,
	LOGSCAN_FMT_PROSODY
};

enum logscan_type {
	LOGSCAN_AUTH_OK,       /* user as typed, ip (if logged), sid */
	LOGSCAN_AUTH_FAIL,     /* user as typed (may be ""), ip */
	LOGSCAN_SESSION_OPEN,  /* user, sid */
	LOGSCAN_SESSION_CLOSE, /* sid; user when the server logs it */
	LOGSCAN_REGISTER,      /* user, ip (ejabberd) */
	LOGSCAN_CONNECT,       /* sid: a client connected (Prosody) */
	LOGSCAN_SERVER_START   /* the server started or stopped: every
				* open session is gone, ids start over */
};

/* One parsed line. Strings are NUL-terminated, "" when absent, and only
 * valid during the callback. */
struct logscan_rec {
	int64_t           t; /* unix seconds; Prosody's local time as UTC */
	enum logscan_type type;
	enum logscan_fmt  fmt;
	const char       *user; /* node part as the client typed it */
	const char       *host;
	const char       *ip;
	const char       *sid; /* c2s process id / Prosody session id */
	uint16_t user_len, host_len, ip_len, sid_len; /* strlen of each */
};

typedef void (*logscan_cb)(const struct logscan_rec *, void *);

struct logscan_opts {
	enum logscan_fmt fmt;  /* forced format or AUTO */
	int              year; /* Prosody lines carry none: 0 = file mtime */
};

struct logscan_stats {
	uint64_t files;
	uint64_t bytes; /* uncompressed */
	uint64_t lines;
	uint64_t records; /* callbacks made */
	uint64_t ignored; /* well-formed lines of no interest */
	uint64_t bad;     /* unparseable, truncated or over-long lines */
	size_t   nsamples;
	char     samples[LOGSCAN_SAMPLES][LOGSCAN_SAMPLE_LEN];
};

struct logscan;

struct logscan *logscan_new(const struct logscan_opts *, logscan_cb, void *);
void            logscan_free(struct logscan *);
/* Read one file ("-" = standard input) to its end; -1 (logged) if it
 * cannot be opened or read. A corrupt gzip stream is reported and what was read
 * is kept. */
int logscan_file(struct logscan *, const char *path);
/* Scan a buffer as if it were a file named name (tests, fuzzing). */
void logscan_buf(struct logscan *, const char *name, const char *buf,
		 size_t len);
const struct logscan_stats *logscan_stats(const struct logscan *);
const char                 *logscan_type_name(enum logscan_type);
int                         logscan_fmt_parse(const char *, enum logscan_fmt *);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t logscan_days_from_civil(int y, int m, int d);

#endif
