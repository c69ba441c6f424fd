/* SPDX-License-Identifier: ISC */
/*
 * floodgate - outgoing XEP-0377 reports: the abuse addresses of a remote
 * server's disco#info answer (XEP-0157), the report message, its text,
 * and the per-destination rate limit. Everything here works on borrowed
 * stanzas and plain memory, so it is tested and fuzzed without a link.
 *
 * The disco#info answer comes from whatever server the reported account
 * lives on, which may be the spammer's own: every value is bounded,
 * checked as a JID, and at most ROUT_ADDRS_MAX are used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/pct.h"
#include "../core/xmalloc.h"
#include "report_out.h"

#define NS_DATA_FORMS "jabber:x:data"
#define NS_JID0 "urn:xmpp:jid:0"
#define SERVERINFO "http://jabber.org/network/serverinfo"
#define ABUSE_FIELD "abuse-addresses"
#define REPORT_FIELD "report-addresses"
#define URI_MAX 2048 /* bytes of one address URI we look at */

struct rate_ent {
	char   *dest;
	double  tokens;
	int64_t at; /* unix ms of the last refill */
};

struct rout_rate {
	struct rate_ent *v;
	size_t           n;
};

static int         is_elem(xmpp_stanza_t *, const char *, const char *);
static const char *field_value(xmpp_stanza_t *field, char *buf, size_t sz);
static int         form_is_serverinfo(xmpp_stanza_t *x);
static int         uri_to_jid(const char *uri, char *out, size_t sz);
static void        utf8_cut(char *buf, size_t len);

/* 1 when st is an element called name (in ns, when ns is not NULL). */
static int
is_elem(xmpp_stanza_t *st, const char *name, const char *ns)
{
	const char *n, *s;

	if (xmpp_stanza_is_text(st) || (n = xmpp_stanza_get_name(st)) == NULL ||
	    strcmp(n, name) != 0)
		return 0;
	if (ns == NULL)
		return 1;
	return (s = xmpp_stanza_get_ns(st)) != NULL && strcmp(s, ns) == 0;
}

/* The text of a <value/> into buf, or NULL when it is missing, empty or
 * longer than the buffer. */
static const char *
field_value(xmpp_stanza_t *v, char *buf, size_t sz)
{
	char  *t;
	size_t n;

	if ((t = xmpp_stanza_get_text(v)) == NULL)
		return NULL;
	n = strlen(t);
	if (n == 0 || n >= sz) {
		xmpp_free(xmpp_stanza_get_context(v), t);
		return NULL;
	}
	memcpy(buf, t, n + 1);
	xmpp_free(xmpp_stanza_get_context(v), t);
	return buf;
}

/* 1 when the data form x says FORM_TYPE = serverinfo. */
static int
form_is_serverinfo(xmpp_stanza_t *x)
{
	xmpp_stanza_t *f, *v;
	const char    *var;
	char           buf[sizeof SERVERINFO + 1];

	for (f = xmpp_stanza_get_children(x); f != NULL;
	     f = xmpp_stanza_get_next(f)) {
		if (!is_elem(f, "field", NULL) ||
		    (var = xmpp_stanza_get_attribute(f, "var")) == NULL ||
		    strcmp(var, "FORM_TYPE") != 0)
			continue;
		for (v = xmpp_stanza_get_children(f); v != NULL;
		     v = xmpp_stanza_get_next(v))
			if (is_elem(v, "value", NULL) &&
			    field_value(v, buf, sizeof buf) != NULL &&
			    strcmp(buf, SERVERINFO) == 0)
				return 1;
		return 0; /* only the first FORM_TYPE counts */
	}
	return 0;
}

/*
 * xmpp:node@domain[?query][#fragment] (RFC 5122), also with an
 * authority (xmpp://auth@host/node@domain), percent-escapes decoded, to
 * a normalised bare JID. -1 when it is no such URI.
 */
static int
uri_to_jid(const char *uri, char *out, size_t sz)
{
	char        buf[URI_MAX];
	const char *p;
	size_t      o = 0;
	int         c;

	if (strncasecmp(uri, "xmpp:", 5) != 0)
		return -1;
	p = uri + 5;
	if (p[0] == '/' && p[1] == '/') {
		if ((p = strchr(p + 2, '/')) == NULL)
			return -1;
		p++;
	}
	for (; *p != '\0' && *p != '?' && *p != '#'; p++) {
		if (o + 1 >= sizeof buf)
			return -1;
		if (*p != '%') {
			buf[o++] = *p;
			continue;
		}
		if ((c = pct_byte(p, strnlen(p, 3))) <= 0) /* not NUL */
			return -1;
		buf[o++] = (char)c;
		p += 2;
	}
	buf[o] = '\0';
	/* no resource: an address is an account, or a bare domain (a
	 * component such as another floodgate; report_out.c decides which
	 * domains it believes) */
	if (o == 0 || strchr(buf, '/') != NULL)
		return -1;
	return jid_bare(buf, out, sz);
}

/* The account JIDs among the xmpp: URIs of the form's field var, added
 * to out[n..max) without duplicates; the new count. */
static int
field_addrs(xmpp_stanza_t *x, const char *var, char (*out)[JID_MAX + 1], int n,
	    int max)
{
	xmpp_stanza_t *f, *v;
	const char    *fv;
	char           uri[URI_MAX], jid[JID_MAX + 1];
	int            i, dup;

	for (f = xmpp_stanza_get_children(x); f != NULL && n < max;
	     f = xmpp_stanza_get_next(f)) {
		if (!is_elem(f, "field", NULL) ||
		    (fv = xmpp_stanza_get_attribute(f, "var")) == NULL ||
		    strcmp(fv, var) != 0)
			continue;
		for (v = xmpp_stanza_get_children(f); v != NULL && n < max;
		     v = xmpp_stanza_get_next(v)) {
			if (!is_elem(v, "value", NULL) ||
			    field_value(v, uri, sizeof uri) == NULL ||
			    uri_to_jid(uri, jid, sizeof jid) == -1)
				continue;
			for (dup = 0, i = 0; i < n && !dup; i++)
				dup = strcmp(out[i], jid) == 0;
			if (!dup)
				memcpy(out[n++], jid, strlen(jid) + 1);
		}
	}
	return n;
}

int
rout_parse_abuse(xmpp_stanza_t *q, char (*out)[JID_MAX + 1], int max)
{
	xmpp_stanza_t *x;
	const char    *type;
	int            n;

	if (q == NULL || max <= 0)
		return 0;
	for (x = xmpp_stanza_get_children(q); x != NULL;
	     x = xmpp_stanza_get_next(x)) {
		if (!is_elem(x, "x", NS_DATA_FORMS) || !form_is_serverinfo(x))
			continue;
		type = xmpp_stanza_get_type(x);
		if (type != NULL && strcmp(type, "result") != 0)
			continue;
		/* addresses for reports, where the server names them, else
		 * its abuse desk */
		if ((n = field_addrs(x, REPORT_FIELD, out, 0, max)) == 0)
			n = field_addrs(x, ABUSE_FIELD, out, 0, max);
		return n; /* one serverinfo form; a second is ignored */
	}
	return 0;
}

xmpp_stanza_t *
rout_build(xmpp_ctx_t *ctx, const char *from, const char *dest, const char *id,
	   const char *subject, const char *reason, const char *text)
{
	xmpp_stanza_t *m, *e, *r, *t;

	m = xmpp_message_new(ctx, NULL, dest, id);
	xmpp_stanza_set_from(m, from);
	xmpp_message_set_body(m, text);
	r = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(r, "report");
	xmpp_stanza_set_ns(r, NS_REPORTING1);
	xmpp_stanza_set_attribute(r, "reason", reason);
	e = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(e, "jid");
	xmpp_stanza_set_ns(e, NS_JID0);
	t = xmpp_stanza_new(ctx);
	xmpp_stanza_set_text(t, subject);
	xmpp_stanza_add_child(e, t);
	xmpp_stanza_release(t);
	xmpp_stanza_add_child(r, e);
	xmpp_stanza_release(e);
	e = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(e, "text");
	t = xmpp_stanza_new(ctx);
	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child(e, t);
	xmpp_stanza_release(t);
	xmpp_stanza_add_child(r, e);
	xmpp_stanza_release(e);
	xmpp_stanza_add_child(m, r);
	xmpp_stanza_release(r);
	return m;
}

/* Drop a partial UTF-8 sequence left at the end of buf[0..len). */
static void
utf8_cut(char *buf, size_t len)
{
	size_t i = len, need;

	while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80 &&
	       len - i < 3)
		i--;
	if (i == 0 || ((unsigned char)buf[i - 1] & 0x80) == 0) {
		buf[len] = '\0';
		return;
	}
	/* buf[i - 1] leads a sequence of need bytes */
	need = ((unsigned char)buf[i - 1] & 0xe0) == 0xc0   ? 2
	       : ((unsigned char)buf[i - 1] & 0xf0) == 0xe0 ? 3
							    : 4;
	buf[len - (i - 1) >= need ? len : i - 1] = '\0';
}

static const char *
when(int64_t ms, char *buf, size_t sz)
{
	time_t    t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, sz, "unknown time");
	return buf;
}

char *
rout_text(const struct rout_evidence *e, char *buf, size_t size)
{
	char   t0[40], t1[40], t2[40];
	int    r;
	size_t o = 0;

	if (size == 0)
		return buf;
#define ADD(...)                                                               \
	do {                                                                   \
		if (o < size) {                                                \
			r = snprintf(buf + o, size - o, __VA_ARGS__);          \
			o = r < 0 ? size : o + (size_t)r;                      \
		}                                                              \
	} while (0)
	ADD("Spam report from the anti-spam service of %s about %s.\n",
	    e->server ? e->server : "our server",
	    e->subject ? e->subject : "an account");
	ADD("Verdict: %s, %s on %s.\n", e->verdict ? e->verdict : "block",
	    e->by_admin ? "set by an administrator" : "reached automatically",
	    when(e->at, t0, sizeof t0));
	if (e->reason != NULL && *e->reason != '\0')
		ADD("Reason: %s\n", e->reason);
	if (e->reports > 0)
		ADD("Spam reports from our users: %lld (first %s, last "
		    "%s).\n",
		    (long long)e->reports, when(e->first, t1, sizeof t1),
		    when(e->last, t2, sizeof t2));
	if (e->signals != NULL && *e->signals != '\0')
		ADD("Score %.1f; recent signals: %s.\n", e->score, e->signals);
	if (e->attached != NULL && *e->attached != '\0')
		ADD("Attached by a reporting user: %s\n", e->attached);
	ADD("No %smessage content is included.",
	    e->attached != NULL && *e->attached != '\0' ? "other " : "");
#undef ADD
	if (o >= size)
		utf8_cut(buf, size - 1);
	return buf;
}

struct rout_rate *
rout_rate_new(void)
{
	return xcalloc(1, sizeof(struct rout_rate));
}

void
rout_rate_free(struct rout_rate *rt)
{
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->n; i++)
		free(rt->v[i].dest);
	free(rt->v);
	free(rt);
}

/* dest's bucket refilled to now; created full (evicting the entry
 * refilled longest ago when the table is full). */
static struct rate_ent *
rate_get(struct rout_rate *rt, const char *dest, int64_t now)
{
	struct rate_ent *e = NULL;
	size_t           i, old = 0;

	for (i = 0; i < rt->n; i++) {
		if (strcmp(rt->v[i].dest, dest) == 0) {
			e = &rt->v[i];
			break;
		}
		if (rt->v[i].at < rt->v[old].at)
			old = i;
	}
	if (e == NULL) {
		if (rt->n < ROUT_RATE_DESTS) {
			rt->v = xreallocarray(rt->v, rt->n + 1, sizeof *rt->v);
			e = &rt->v[rt->n++];
		} else {
			e = &rt->v[old];
			free(e->dest);
		}
		e->dest = xstrdup(dest);
		e->tokens = ROUT_RATE_BURST;
		e->at = now;
		return e;
	}
	if (now > e->at) {
		e->tokens += (double)(now - e->at) * ROUT_RATE_COUNT /
			     (ROUT_RATE_PER_S * 1000.0);
		if (e->tokens > ROUT_RATE_BURST)
			e->tokens = ROUT_RATE_BURST;
		e->at = now;
	}
	return e;
}

int
rout_rate_ready(struct rout_rate *rt, const char *dest, int64_t now)
{
	return rate_get(rt, dest, now)->tokens >= 1.0;
}

void
rout_rate_take(struct rout_rate *rt, const char *dest, int64_t now)
{
	struct rate_ent *e = rate_get(rt, dest, now);

	if (e->tokens >= 1.0)
		e->tokens -= 1.0;
}
