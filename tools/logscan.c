/* SPDX-License-Identifier: ISC */
/*
 * floodgate - streaming reader of ejabberd and Prosody server logs.
 *
 * One fixed buffer per scanner: read (through zlib, which passes plain
 * files through), split with memchr, parse each complete line in place,
 * move the partial tail to the front, read again. Over-long lines are
 * skipped up to their newline and counted as bad.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "logscan_int.h"

#define LOGSCAN_BUF (1024 * 1024)    /* read buffer, bytes */
#define LOGSCAN_LINE_MAX (64 * 1024) /* longer lines are bad, bytes */

struct logscan {
	struct logscan_opts  opts;
	logscan_cb           cb;
	void                *arg;
	struct logscan_stats st;
	struct lp_file       f;
	struct lp_out        out;
	const char          *name; /* current file, for samples */
	uint64_t             lineno;
	int                  skipping; /* inside an over-long line */
	char                *buf;
};

static void scan_line(struct logscan *, const char *, size_t);
static void sample(struct logscan *, const char *, size_t);
static void file_begin(struct logscan *, const char *, const struct stat *);

struct logscan *
logscan_new(const struct logscan_opts *opts, logscan_cb cb, void *arg)
{
	struct logscan *ls = xcalloc(1, sizeof(*ls));

	if (opts != NULL)
		ls->opts = *opts;
	ls->cb = cb;
	ls->arg = arg;
	return ls;
}

void
logscan_free(struct logscan *ls)
{
	if (ls == NULL)
		return;
	free(ls->buf);
	free(ls);
}

const struct logscan_stats *
logscan_stats(const struct logscan *ls)
{
	return &ls->st;
}

const char *
logscan_type_name(enum logscan_type t)
{
	static const char *names[] = {
	    "auth-ok",  "auth-fail", "session-open", "session-close",
	    "register", "connect",   "server-start"};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int
logscan_fmt_parse(const char *s, enum logscan_fmt *fmt)
{
	if (strcmp(s, "auto") == 0)
		*fmt = LOGSCAN_FMT_AUTO;
	else if (strcmp(s, "ejabberd") == 0)
		*fmt = LOGSCAN_FMT_EJABBERD;
	else if (strcmp(s, "prosody") == 0)
		*fmt = LOGSCAN_FMT_PROSODY;
	else
		return -1;
	return 0;
}

/* Keep the first few bad lines, escaped, with file:line. */
static void
sample(struct logscan *ls, const char *p, size_t n)
{
	char line[LOGSCAN_SAMPLE_LEN], *dst;
	int  w;

	ls->st.bad++;
	if (ls->st.nsamples >= LOGSCAN_SAMPLES)
		return;
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	memcpy(line, p, n);
	line[n] = '\0';
	dst = ls->st.samples[ls->st.nsamples++];
	w = snprintf(dst, LOGSCAN_SAMPLE_LEN, "%s:%llu: ", ls->name,
		     (unsigned long long)ls->lineno);
	if (w < 0 || w >= LOGSCAN_SAMPLE_LEN - 8)
		return;
	/* log_esc stops at NUL; a NUL in a log line is itself suspect. */
	log_esc(dst + w, LOGSCAN_SAMPLE_LEN - w, line);
}

static void
scan_line(struct logscan *ls, const char *p, size_t n)
{
	struct lp_out *o = &ls->out;
	const char    *end = p + n;
	enum lp_res    res;

	ls->st.lines++;
	ls->lineno++;
	if (n > 0 && end[-1] == '\r')
		end--;
	if (end == p) {
		ls->st.ignored++;
		return;
	}
	if (ls->f.fmt == LOGSCAN_FMT_AUTO &&
	    (ls->f.fmt = lp_detect(p, end)) == LOGSCAN_FMT_AUTO) {
		sample(ls, p, end - p);
		return;
	}
	o->user[0] = o->host[0] = o->ip[0] = o->sid[0] = '\0';
	o->rec.user_len = o->rec.host_len = o->rec.ip_len = o->rec.sid_len = 0;
	if (ls->f.fmt == LOGSCAN_FMT_EJABBERD)
		res = lp_ejabberd(p, end, &ls->f, o);
	else
		res = lp_prosody(p, end, &ls->f, o);
	switch (res) {
	case LP_RECORD:
		o->rec.user = o->user;
		o->rec.host = o->host;
		o->rec.ip = o->ip;
		o->rec.sid = o->sid;
		ls->st.records++;
		ls->cb(&o->rec, ls->arg);
		break;
	case LP_IGNORED:
		ls->st.ignored++;
		break;
	case LP_BAD:
		sample(ls, p, end - p);
		break;
	}
}

static void
file_begin(struct logscan *ls, const char *name, const struct stat *sb)
{
	struct tm tm;
	time_t    now;

	memset(&ls->f, 0, sizeof(ls->f));
	ls->f.fmt = ls->opts.fmt;
	ls->name = name;
	ls->lineno = 0;
	ls->skipping = 0;
	ls->st.files++;
	if (ls->opts.year != 0) {
		ls->f.year = ls->opts.year;
		return;
	}
	now = sb != NULL ? sb->st_mtime : time(NULL);
	gmtime_r(&now, &tm);
	ls->f.mtime_year = tm.tm_year + 1900;
	ls->f.mtime_mon = tm.tm_mon + 1;
}

void
logscan_buf(struct logscan *ls, const char *name, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;

	file_begin(ls, name, NULL);
	ls->st.bytes += len;
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (nl - p > LOGSCAN_LINE_MAX) {
			ls->st.lines++;
			ls->lineno++;
			sample(ls, p, nl - p);
		} else
			scan_line(ls, p, nl - p);
		p = nl + 1;
	}
}

int
logscan_file(struct logscan *ls, const char *path)
{
	struct stat sb;
	gzFile      gz;
	size_t      fill = 0, off;
	int         fd, n, errnum, rc = 0;
	const char *nl, *msg;

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY);
	if (fd == -1 || fstat(fd, &sb) == -1) {
		log_warn("%s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if ((gz = gzdopen(fd, "rb")) == NULL) {
		log_warnx("%s: cannot start zlib", path);
		close(fd);
		return -1;
	}
	gzbuffer(gz, 256 * 1024);
	if (ls->buf == NULL)
		ls->buf = xmalloc(LOGSCAN_BUF);
	file_begin(ls, path, &sb);
	for (;;) {
		n = gzread(gz, ls->buf + fill, LOGSCAN_BUF - fill);
		if (n < 0) {
			msg = gzerror(gz, &errnum);
			log_warnx("%s: %s; keeping what was read", path,
				  errnum == Z_ERRNO ? strerror(errno) : msg);
			rc = -1;
		}
		if (n <= 0)
			break;
		ls->st.bytes += n;
		fill += n;
		off = 0;
		while ((nl = memchr(ls->buf + off, '\n', fill - off)) != NULL) {
			if (ls->skipping)
				ls->skipping = 0;
			else
				scan_line(ls, ls->buf + off,
					  nl - (ls->buf + off));
			off = nl - ls->buf + 1;
		}
		if (off == 0 && fill == LOGSCAN_BUF) {
			/* No newline in a full buffer: count once, skip. */
			if (!ls->skipping) {
				ls->st.lines++;
				ls->lineno++;
				sample(ls, ls->buf, fill);
			}
			ls->skipping = 1;
			fill = 0;
			continue;
		}
		if (fill - off > LOGSCAN_LINE_MAX && !ls->skipping) {
			ls->st.lines++;
			ls->lineno++;
			sample(ls, ls->buf + off, fill - off);
			ls->skipping = 1;
		}
		if (ls->skipping) {
			fill = 0;
			continue;
		}
		memmove(ls->buf, ls->buf + off, fill - off);
		fill -= off;
	}
	/* A last line without newline, e.g. a log cut mid-write. */
	if (fill > 0 && !ls->skipping)
		scan_line(ls, ls->buf, fill);
	/* zlib reports a truncated .gz only through gzerror() at EOF. */
	msg = gzerror(gz, &errnum);
	if (rc == 0 && errnum != Z_OK) {
		log_warnx("%s: %s; keeping what was read", path, msg);
		rc = -1;
	}
	gzclose(gz);
	return rc;
}
