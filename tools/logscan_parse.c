/* SPDX-License-Identifier: ISC */
/*
 * floodgate - line parsers for ejabberd 23.01 and Prosody 0.12 logs.
 *
 * Hand-written matching over [p, end) without copying the line: the
 * message is recognised by its fixed opening words, then the few fields
 * are copied into bounded buffers (the session id only for lines that
 * become records). What is done for speed is in "Memory and speed" of
 * doc/floodgatectl-sweep.md. Formats (see the same file):
 *
 *   2023-01-20 10:00:00.123456+01:00 [info] <0.775.0>@ejabberd_c2s:...
 *       (tcp|<0.775.0>) Accepted c2s PLAIN authentication for Abc1@h
 *       by mnesia backend from 1.2.3.4
 *   Nov 22 11:00:01 c2s55d0c8a0d3a0<TAB>info<TAB>Authenticated as a@h
 */
#include <string.h>

#include "logscan_int.h"

#define MATCH(p, end, lit)                                                     \
	((size_t)((end) - (p)) >= sizeof(lit) - 1 &&                           \
	 memcmp((p), (lit), sizeof(lit) - 1) == 0)

/* Byte classes. A field ends at the first byte whose class shares a bit
 * with the field's stop mask: one table load per byte instead of a
 * compare per stop character (this is the hot loop of a 1 GB sweep). A
 * field never holds a NUL, so field() adds C_NUL to every mask. */
#define C_AT 0x01
#define C_SLASH 0x02
#define C_SP 0x04
#define C_COLON 0x08
#define C_RPAR 0x10
#define C_TAB 0x20
#define C_NUL 0x40
#define C_IP 0x80 /* hex digit, ':' or '.': may be part of an address */

static const unsigned char cls[256] = {
    ['\0'] = C_NUL,         ['\t'] = C_TAB,  [' '] = C_SP, [')'] = C_RPAR,
    ['.'] = C_IP,           ['/'] = C_SLASH, ['0'] = C_IP, ['1'] = C_IP,
    ['2'] = C_IP,           ['3'] = C_IP,    ['4'] = C_IP, ['5'] = C_IP,
    ['6'] = C_IP,           ['7'] = C_IP,    ['8'] = C_IP, ['9'] = C_IP,
    [':'] = C_COLON | C_IP, ['@'] = C_AT,    ['A'] = C_IP, ['B'] = C_IP,
    ['C'] = C_IP,           ['D'] = C_IP,    ['E'] = C_IP, ['F'] = C_IP,
    ['a'] = C_IP,           ['b'] = C_IP,    ['c'] = C_IP, ['d'] = C_IP,
    ['e'] = C_IP,           ['f'] = C_IP};

static int    num(const char **, const char *, int, int *);
static size_t span(const char *, const char *, unsigned);
static int    field(const char **, const char *, unsigned, char *, uint16_t *);
static int    jid(const char **, const char *, struct lp_out *);
static int    ipaddr(const char **, const char *, char *, uint16_t *);
static const char *skip_word(const char *, const char *);

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* Exactly n digits into *v. */
static int
num(const char **pp, const char *end, int n, int *v)
{
	const char *p = *pp;
	int         x = 0;

	if (end - p < n)
		return -1;
	while (n-- > 0) {
		if (*p < '0' || *p > '9')
			return -1;
		x = x * 10 + (*p++ - '0');
	}
	*v = x;
	*pp = p;
	return 0;
}

/* The two digits at p (the caller checked they are there), or -1. */
static int
two(const char *p)
{
	unsigned a = (unsigned char)p[0] - '0', b = (unsigned char)p[1] - '0';

	return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

/* Bytes from p up to the first one of a class in mask, or to end. Four
 * bytes a turn: fields are some ten bytes, and the end test per byte
 * was a third of the loop. */
static size_t
span(const char *p, const char *end, unsigned mask)
{
	const unsigned char *s = (const unsigned char *)p;
	const unsigned char *e = (const unsigned char *)end;

	for (; e - s >= 4; s += 4) {
		if ((cls[s[0]] & mask) != 0)
			return (size_t)((const char *)s - p);
		if ((cls[s[1]] & mask) != 0)
			return (size_t)((const char *)s + 1 - p);
		if ((cls[s[2]] & mask) != 0)
			return (size_t)((const char *)s + 2 - p);
		if ((cls[s[3]] & mask) != 0)
			return (size_t)((const char *)s + 3 - p);
	}
	while (s < e && (cls[*s] & mask) == 0)
		s++;
	return (size_t)((const char *)s - p);
}

/* memcpy for the short strings of a line. A memcpy whose length the
 * compiler knows to be below LOGSCAN_FIELD_MAX becomes "rep movsq",
 * whose start-up costs more than copying a 10-byte name: copy 8 or 4
 * bytes at a time instead, the last chunk overlapping the one before
 * (never reading outside src[0..n)). */
static void
copy_short(char *dst, const char *src, size_t n)
{
	size_t i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8)
			memcpy(dst + i, src + i, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		for (i = 0; i < n; i++)
			dst[i] = src[i];
	}
	dst[n] = '\0';
}

/* Copy up to the first byte of a class in stop, or to end, into dst and
 * its length into *len; fails when empty, too long for a field, or cut
 * short by a NUL. */
static int
field(const char **pp, const char *end, unsigned stop, char *dst, uint16_t *len)
{
	const char *p = *pp;
	size_t      n = span(p, end, stop | C_NUL);

	if (n == 0 || n >= LOGSCAN_FIELD_MAX || (p + n < end && p[n] == '\0'))
		return -1;
	copy_short(dst, p, n);
	*len = (uint16_t)n;
	*pp = p + n;
	return 0;
}

/* user@host[/resource]: user and host into out; the resource (which may
 * hold anything, even ": ") is skipped up to the next space or ':'
 * followed by a space. A name without '@' is taken as the user. */
static int
jid(const char **pp, const char *end, struct lp_out *o)
{
	const char *p = *pp;

	if (field(&p, end, C_AT | C_SLASH | C_SP, o->user, &o->rec.user_len) ==
	    -1)
		return -1;
	if (p < end && *p == '@') {
		p++;
		if (field(&p, end, C_SLASH | C_SP | C_COLON, o->host,
			  &o->rec.host_len) == -1)
			return -1;
	}
	if (p < end && *p == '/')
		for (;;) { /* a NUL does not end a resource */
			p += span(p, end, C_SP | C_COLON);
			if (p >= end || *p == ' ' ||
			    (p + 1 < end && p[1] == ' '))
				break;
			p++;
		}
	*pp = p;
	return 0;
}

/* What ejabberd writes instead of an IP with hide_sensitive_log_data
 * (ejabberd_config:may_hide_data/1, seen on a real 23.01). */
#define EJ_HIDDEN "hidden_by_ejabberd"

/* An IPv4 or IPv6 address; a trailing ':' (ejabberd's "from IP: why")
 * is not part of it, and IPv4-mapped IPv6 is shown as plain IPv4.
 * ejabberd's mask for a hidden IP gives an empty address. */
static int
ipaddr(const char **pp, const char *end, char *dst, uint16_t *len)
{
	const char *p = *pp, *s;
	size_t      n;

	if (MATCH(p, end, EJ_HIDDEN)) {
		dst[0] = '\0';
		*len = 0;
		*pp = p + sizeof(EJ_HIDDEN) - 1;
		return 0;
	}
	for (s = p; s < end && (cls[(unsigned char)*s] & C_IP) != 0; s++)
		;
	if (s < end && *s != ' ' && *s != ',' && *s != ')')
		return -1;
	n = s - p;
	if (n > 0 && p[n - 1] == ':' && (n < 2 || p[n - 2] != ':'))
		n--;
	if (n >= 7 + 7 && memcmp(p, "::ffff:", 7) == 0 &&
	    memchr(p + 7, '.', n - 7) != NULL) {
		p += 7;
		n -= 7;
	}
	if (n == 0 || n >= LOGSCAN_FIELD_MAX)
		return -1;
	copy_short(dst, p, n);
	*len = (uint16_t)n;
	*pp = s;
	return 0;
}

static const char *
skip_word(const char *p, const char *end)
{
	const char *s = p < end ? memchr(p, ' ', end - p) : NULL;

	return s != NULL ? s + 1 : end;
}

/* The session id found by the line's head, copied only for the lines
 * that become records (most lines a sweep reads do not). */
static void
put_sid(struct lp_out *o, const char *sid, size_t n)
{
	copy_short(o->sid, sid, n);
	o->rec.sid_len = (uint16_t)n;
}

int64_t
logscan_days_from_civil(int y, int m, int d)
{
	/* H. Hinnant's days_from_civil: exact for the proleptic calendar. */
	int64_t  era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

enum logscan_fmt
lp_detect(const char *p, const char *end)
{
	int v;

	if (num(&p, end, 4, &v) == 0 && p < end && *p == '-')
		return LOGSCAN_FMT_EJABBERD;
	if (end - p >= 4 && p[3] == ' ') {
		const char *m;

		for (m = months; *m != '\0'; m += 3)
			if (memcmp(m, p, 3) == 0)
				return LOGSCAN_FMT_PROSODY;
	}
	return LOGSCAN_FMT_AUTO;
}

/* YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|+HH:MM|+HHMM]. The date of the last
 * line is kept in f: when the next one starts with the same ten bytes,
 * its day number is known. */
static int
ej_time(const char **pp, const char *end, struct lp_file *f, int64_t *t)
{
	const char *p = *pp;
	int64_t     days;
	int         y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;

	if (f->date_ok && end - p >= 10 && memcmp(p, f->date, 10) == 0) {
		days = f->date_days;
		p += 10;
	} else {
		if (num(&p, end, 4, &y) || p >= end || *p++ != '-' ||
		    num(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
		    num(&p, end, 2, &d))
			return -1;
		if (mo < 1 || mo > 12 || d < 1 || d > 31)
			return -1;
		days = logscan_days_from_civil(y, mo, d);
		memcpy(f->date, *pp, 10);
		f->date_days = days;
		f->date_ok = 1;
	}
	/* " HH:MM:SS" at fixed offsets, one length check */
	if (end - p < 9 || (p[0] != ' ' && p[0] != 'T') || p[3] != ':' ||
	    p[6] != ':' || (h = two(p + 1)) < 0 || (mi = two(p + 4)) < 0 ||
	    (s = two(p + 7)) < 0)
		return -1;
	p += 9;
	if (h > 23 || mi > 59 || s > 60)
		return -1;
	if (p < end && *p == '.') { /* ejabberd writes microseconds */
		p++;
		if (end - p >= 7 && two(p) >= 0 && two(p + 2) >= 0 &&
		    two(p + 4) >= 0 && (unsigned char)(p[6] - '0') >= 10)
			p += 6;
		else
			for (; p < end && (unsigned char)(*p - '0') < 10; p++)
				;
	}
	if (p < end && *p == 'Z')
		p++;
	else if (p < end && (*p == '+' || *p == '-')) {
		sign = *p++ == '-' ? -1 : 1;
		if (end - p < 2 || (oh = two(p)) < 0)
			return -1;
		p += 2;
		if (p < end && *p == ':')
			p++;
		if (end - p < 2 || (om = two(p)) < 0)
			return -1;
		p += 2;
	}
	*t = days * 86400 + h * 3600 + mi * 60 + s -
	     sign * (oh * 3600 + om * 60);
	*pp = p;
	return 0;
}

/* The message of an ejabberd line, from its first word on. */
static enum lp_res
ej_msg(const char *p, const char *end, struct lp_out *o)
{
	struct logscan_rec *r = &o->rec;
	const char         *q;

	if (p >= end)
		return LP_IGNORED;
	switch (*p) { /* one compare instead of a memcmp per message */
	case 'A':
		if (!MATCH(p, end, "Accepted c2s "))
			return LP_IGNORED;
		r->type = LOGSCAN_AUTH_OK;
		p = skip_word(p + 13, end);
		if (!MATCH(p, end, "authentication for "))
			return LP_BAD;
		p += 19;
		if (jid(&p, end, o) == -1)
			return LP_BAD;
		/* " by mnesia backend from IP": the IP is the last word */
		q = p < end ? memrchr(p, ' ', end - p) : NULL;
		q = q != NULL ? q + 1 : p;
		if (q - p >= 6 && memcmp(q - 6, " from ", 6) == 0 &&
		    ipaddr(&q, end, o->ip, &r->ip_len) == -1)
			return LP_BAD;
		return LP_RECORD;
	case 'F':
		if (!MATCH(p, end, "Failed c2s "))
			return LP_IGNORED;
		r->type = LOGSCAN_AUTH_FAIL;
		p = skip_word(p + 11, end);
		if (!MATCH(p, end, "authentication "))
			return LP_BAD;
		p += 15;
		if (MATCH(p, end, "for ")) {
			p += 4;
			if (jid(&p, end, o) == -1 || !MATCH(p, end, " "))
				return LP_BAD;
			p++;
		}
		if (!MATCH(p, end, "from "))
			return LP_BAD;
		p += 5;
		return ipaddr(&p, end, o->ip, &r->ip_len) == -1 ? LP_BAD
								: LP_RECORD;
	case 'O':
		if (!MATCH(p, end, "Opened c2s session for "))
			return LP_IGNORED;
		r->type = LOGSCAN_SESSION_OPEN;
		p += 23;
		return jid(&p, end, o) == -1 ? LP_BAD : LP_RECORD;
	case 'C':
		if (!MATCH(p, end, "Closing c2s session for "))
			return LP_IGNORED;
		r->type = LOGSCAN_SESSION_CLOSE;
		p += 24;
		return jid(&p, end, o) == -1 ? LP_BAD : LP_RECORD;
	case 'e':
		if (!MATCH(p, end, "ejabberd "))
			return LP_IGNORED;
		/* "ejabberd 23.01-1 is started in the node 'n@h' in 1.79s"
		 * (and "is stopped"): a restart ends every session without
		 * a close line, and the new node reuses the same pids. */
		p = skip_word(p + 9, end);
		if (MATCH(p, end, "is started in the node ") ||
		    MATCH(p, end, "is stopped in the node ")) {
			r->type = LOGSCAN_SERVER_START;
			return LP_RECORD;
		}
		return LP_IGNORED;
	case 'T':
		if (!MATCH(p, end, "The account "))
			return LP_IGNORED;
		r->type =
		    LOGSCAN_REGISTER; /* mod_register's pid is no session */
		p += 12;
		if (jid(&p, end, o) == -1 || !MATCH(p, end, " was registered"))
			return LP_BAD;
		p += 15;
		if (MATCH(p, end, " from IP address ")) {
			p += 17;
			if (ipaddr(&p, end, o->ip, &r->ip_len) == -1)
				return LP_BAD;
		}
		return LP_RECORD;
	}
	return LP_IGNORED;
}

enum lp_res
lp_ejabberd(const char *p, const char *end, struct lp_file *f, struct lp_out *o)
{
	struct logscan_rec *r = &o->rec;
	const char         *pid = NULL, *sid = NULL, *q;
	size_t              sidn = 0;
	enum lp_res         res;

	if (ej_time(&p, end, f, &r->t) == -1 || !MATCH(p, end, " ["))
		return LP_BAD;
	if (MATCH(p, end, "info] ")) /* most lines; else the first ']' */
		p += 6;
	else if ((p = memchr(p, ']', end - p)) == NULL || !MATCH(p, end, "] "))
		return LP_BAD;
	else
		p += 2;
	if (p < end && *p == '<') { /* <0.775.0>@module:function/arity:line */
		pid = p;
		p = skip_word(p, end);
	}
	/* Find and check the session id here, copy it only for records. */
	if (p < end && *p == '(') { /* (tcp|<0.775.0>) ties a c2s session */
		if ((q = memchr(p, ')', end - p)) == NULL)
			return LP_BAD;
		sid = ++p;
		if (MATCH(sid, q, "tcp|")) /* c2s lines: the first '|' */
			sid += 4;
		else if ((p = memchr(sid, '|', q - sid)) != NULL)
			sid = p + 1;
		sidn = q - sid;
		if (sidn == 0 || sidn >= LOGSCAN_FIELD_MAX ||
		    memchr(sid, '\0', sidn) != NULL)
			return LP_BAD;
		p = q + 1;
		if (p < end && *p == ' ')
			p++;
	} else if (pid != NULL) {
		sid = pid;
		sidn = span(pid, end, C_AT | C_SP | C_NUL);
		if (sidn == 0 || sidn >= LOGSCAN_FIELD_MAX ||
		    (pid + sidn < end && pid[sidn] == '\0'))
			return LP_BAD;
	}
	r->fmt = LOGSCAN_FMT_EJABBERD;
	res = ej_msg(p, end, o);
	if (res == LP_RECORD && sid != NULL &&
	    r->type != LOGSCAN_SERVER_START && r->type != LOGSCAN_REGISTER)
		put_sid(o, sid, sidn);
	return res;
}

/* The message of a Prosody line, after its level. */
static enum lp_res
pros_msg(const char *p, const char *end, struct lp_out *o)
{
	struct logscan_rec *r = &o->rec;

	switch (p < end ? *p : '\0') { /* one compare, not a memcmp each */
	case 'C':
		if (MATCH(p, end, "Client connected")) {
			r->type = LOGSCAN_CONNECT;
			return LP_RECORD;
		}
		if (MATCH(p, end, "Client disconnected")) {
			r->type = LOGSCAN_SESSION_CLOSE;
			return LP_RECORD;
		}
		break;
	case 'A':
		if (MATCH(p, end, "Authenticated as ")) {
			/* Prosody logs the nodeprepped name: case is lost. */
			r->type = LOGSCAN_SESSION_OPEN;
			p += 17;
			return jid(&p, end, o) == -1 ? LP_BAD : LP_RECORD;
		}
		break;
	case 'S':
		if (MATCH(p, end, "Successful authentication as ")) {
			r->type = LOGSCAN_AUTH_OK; /* mod_log_auth */
			p += 29;
			goto from_ip;
		}
		break;
	case 'F':
		if (MATCH(p, end, "Failed authentication attempt (")) {
			r->type = LOGSCAN_AUTH_FAIL;
			if ((p = memchr(p, ')', end - p)) == NULL ||
			    !MATCH(p, end, ") for user "))
				return LP_BAD;
			p += 11;
			if (!MATCH(p, end, "?@"))
				goto from_ip;
			p = skip_word(p, end) - 1; /* no user name was sent */
			goto ip_only;
		}
		break;
	case 'U':
		if (MATCH(p, end, "User account created: ")) {
			r->type = LOGSCAN_REGISTER;
			p += 22;
			return jid(&p, end, o) == -1 ? LP_BAD : LP_RECORD;
		}
		break;
	}
	return LP_IGNORED;

from_ip:
	if (jid(&p, end, o) == -1)
		return LP_BAD;
ip_only:
	if (!MATCH(p, end, " from IP: "))
		return LP_BAD;
	p += 10;
	if (MATCH(p, end, "?"))
		return LP_RECORD;
	return ipaddr(&p, end, o->ip, &o->rec.ip_len) == -1 ? LP_BAD
							    : LP_RECORD;
}

/* Prosody: "Mon DD HH:MM:SS source\tlevel\tmessage". Like ej_time, the
 * last "Mon DD" and its day number are kept in f: a line with the same
 * month as the one before leaves the year as it was. */
enum lp_res
lp_prosody(const char *p, const char *end, struct lp_file *f, struct lp_out *o)
{
	struct logscan_rec *r = &o->rec;
	const char         *m, *date = p, *sid;
	int                 mon = 0, d, h, mi, s, y;
	size_t              sidn;
	enum lp_res         res;

	if (end - p < 16)
		return LP_BAD;
	/* 4 + 2 bytes: gcc calls memcmp for 6 */
	if (f->date_ok && memcmp(p, f->date, 4) == 0 &&
	    memcmp(p + 4, f->date + 4, 2) == 0) {
		p += 6;
		d = 1; /* checked when the date was kept */
	} else {
		for (m = months; *m != '\0'; m += 3)
			if (memcmp(m, p, 3) == 0) {
				mon = (m - months) / 3 + 1;
				break;
			}
		if (mon == 0 || p[3] != ' ')
			return LP_BAD;
		p += 4;
		if (*p == ' ') /* space-padded day */
			p++, d = 0, num(&p, end, 1, &d);
		else if (num(&p, end, 2, &d))
			return LP_BAD;
	}
	/* " HH:MM:SS " at fixed offsets, one length check */
	if (end - p < 10 || p[0] != ' ' || p[3] != ':' || p[6] != ':' ||
	    p[9] != ' ' || (h = two(p + 1)) < 0 || (mi = two(p + 4)) < 0 ||
	    (s = two(p + 7)) < 0)
		return LP_BAD;
	p += 10;
	if (d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return LP_BAD;
	if (mon != 0) { /* a new date */
		if (f->mtime_year != 0)
			y = f->mtime_year - (mon > f->mtime_mon ? 1 : 0);
		else {
			/* Explicit year for the first line; a month far
			 * below the previous one means the log crossed New
			 * Year. */
			if (f->prev_mon != 0 && mon + 6 < f->prev_mon)
				f->year++;
			f->prev_mon = mon;
			y = f->year;
		}
		memcpy(f->date, date, 6);
		f->date_days = logscan_days_from_civil(y, mon, d);
		f->date_ok = 1;
	}
	r->t = f->date_days * 86400 + h * 3600 + mi * 60 + s;
	r->fmt = LOGSCAN_FMT_PROSODY;
	sid = p;
	sidn = span(p, end, C_TAB | C_NUL);
	p += sidn;
	if (sidn == 0 || sidn >= LOGSCAN_FIELD_MAX || p >= end || *p == '\0')
		return LP_BAD;
	p++;
	if ((p = memchr(p, '\t', end - p)) == NULL)
		return LP_BAD;
	p++;
	res = pros_msg(p, end, o);
	if (res == LP_RECORD)
		put_sid(o, sid, sidn);
	return res;
}
