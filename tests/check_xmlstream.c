/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: the stream parser (component/xmlstream.c) fed in-process
 * with arbitrary bytes and chunkings: stanzas look as libstrophe's parser
 * made them, structure stays linear (linear time), depth, attribute and child
 * limits drop one stanza (deep nesting, huge stanzas), the size limit and
 * restricted XML kill the stream (bad XML, huge stanzas), and output repair
 * (invalid UTF-8).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "component/xmlstream.h"
#include "core/utf8.h"
#include "core/log.h"

#define HDR                                                                    \
	"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx."     \
	"jabber.org/streams' xmlns='jabber:component:accept' id='s1'>"

struct got {
	int               opened, closed, n, nref;
	char              id[32];
	char             *text[16];
	enum xmls_refusal why;
	char              ref_id[32];
	int               children, textlen;
};

static xmpp_ctx_t *ctx;

static void
g_open(void *arg, const char *id)
{
	struct got *g = arg;

	g->opened++;
	snprintf(g->id, sizeof g->id, "%s", id ? id : "");
}

static void
g_stanza(void *arg, xmpp_stanza_t *st)
{
	struct got    *g = arg;
	xmpp_stanza_t *c;
	char          *buf;
	size_t         len;

	g->children = 0;
	for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
		g->children++;
	c = xmpp_stanza_get_children(st);
	if (c != NULL && (c = xmpp_stanza_get_children(c)) != NULL &&
	    xmpp_stanza_is_text(c))
		g->textlen = (int)strlen(xmpp_stanza_get_text_ptr(c));
	if (g->n < 16 && xmpp_stanza_to_text(st, &buf, &len) == XMPP_EOK) {
		g->text[g->n] = strdup(buf);
		xmpp_free(ctx, buf);
	}
	g->n++;
}

static void
g_refused(void *arg, xmpp_stanza_t *shell, enum xmls_refusal why)
{
	struct got *g = arg;
	const char *id = xmpp_stanza_get_id(shell);

	g->nref++;
	g->why = why;
	snprintf(g->ref_id, sizeof g->ref_id, "%s", id ? id : "");
	ck_assert_ptr_null(xmpp_stanza_get_children(shell));
}

static void
g_close(void *arg)
{
	((struct got *)arg)->closed++;
}

static const struct xmls_cbs cbs = {g_open, g_stanza, g_refused, g_close};

static void
got_free(struct got *g)
{
	int i;

	for (i = 0; i < g->n && i < 16; i++)
		free(g->text[i]);
	memset(g, 0, sizeof *g);
}

/* Feed s in pieces of step bytes (0: whole); the feed result. */
static int
feed(struct got *g, size_t max, const char *s, size_t len, size_t step,
     const char **cond)
{
	struct xmls *x = xmls_new(ctx, max, XMLS_DEF_MAX_DEPTH, &cbs, g);
	size_t       i, n;
	int          r = 0;

	for (i = 0; r == 0 && i < len; i += n) {
		n = step == 0 || len - i < step ? len - i : step;
		r = xmls_feed(x, s + i, n);
	}
	*cond = r == 0 ? NULL : xmls_error(x, NULL);
	xmls_free(x);
	return r;
}

static char *
cat(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	strcpy(s, a);
	strcat(s, b);
	return s;
}

/* What libstrophe's own parser made of the stanza alone. */
static char *
strophe_text(const char *stz)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, stz);
	char          *buf, *r;
	size_t         len;

	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(xmpp_stanza_to_text(st, &buf, &len), XMPP_EOK);
	r = strdup(buf);
	xmpp_free(ctx, buf);
	xmpp_stanza_release(st);
	return r;
}

START_TEST(same_stanzas_as_libstrophe)
{
	static const char *samples[] = {
	    "<iq xmlns='jabber:component:accept' type='get' id='g1' "
	    "from='example.org' to='fg.example.org'><gate xmlns='urn:"
	    "floodgate:0' kind='subscribe' from='bot@example.org' "
	    "to='a@b.example'/></iq>",
	    "<message xmlns='jabber:component:accept' from='a@b' id='m'>"
	    "<body>caf\xc3\xa9 &amp; &lt;b&gt; &#x263A; <![CDATA[<x>]]> "
	    "ok</body><x:y xmlns:x='urn:x' x:attr='v' xml:lang='en'>t</x:y>"
	    "</message>",
	    "<iq xmlns='jabber:component:accept' type='set' id='c'><command "
	    "xmlns='http://jabber.org/protocol/commands' node='n'><x xmlns="
	    "'jabber:x:data' type='submit'>\n <field var='a'><value>1"
	    "</value></field>\n</x></command></iq>",
	};
	struct got  g;
	const char *cond;
	size_t      i, step;

	for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		char *want = strophe_text(samples[i]);
		char *in = cat(HDR, samples[i]);

		for (step = 0; step < 4; step++) {
			memset(&g, 0, sizeof g);
			ck_assert_int_eq(feed(&g, XMLS_DEF_MAX_STANZA, in,
					      strlen(in), step, &cond),
					 0);
			ck_assert_int_eq(g.opened, 1);
			ck_assert_str_eq(g.id, "s1");
			ck_assert_int_eq(g.n, 1);
			ck_assert_str_eq(g.text[0], want);
			got_free(&g);
		}
		free(want);
		free(in);
	}
}
END_TEST

/* linear time: a body of line breaks is one text child, whatever the chunks */
START_TEST(text_is_one_child)
{
	size_t      n = 200000, hl = strlen(HDR);
	char       *s = malloc(hl + n + 64);
	struct got  g;
	const char *cond;

	memcpy(s, HDR, hl);
	memcpy(s + hl, "<message><body>", 15);
	memset(s + hl + 15, '\n', n);
	strcpy(s + hl + 15 + n, "</body></message>");
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(
	    feed(&g, XMLS_DEF_MAX_STANZA, s, strlen(s), 1000, &cond), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.children, 1);
	ck_assert_int_eq(g.textlen, (int)n);
	got_free(&g);
	free(s);
}
END_TEST

static char *
repeat(const char *pre, const char *unit, size_t n, const char *mid,
       const char *unit2, size_t n2, const char *post)
{
	size_t ul = strlen(unit), u2 = strlen(unit2), i;
	char  *s = malloc(strlen(pre) + ul * n + strlen(mid) + u2 * n2 +
			  strlen(post) + 1),
	     *p = s;

	p = stpcpy(p, pre);
	for (i = 0; i < n; i++)
		p = stpcpy(p, unit);
	p = stpcpy(p, mid);
	for (i = 0; i < n2; i++)
		p = stpcpy(p, unit2);
	strcpy(p, post);
	return s;
}

/* linear time, deep nesting, huge stanzas: over a structural limit only that
 * stanza goes, with what an error reply needs; the next one comes through */
START_TEST(structural_limits_drop_one_stanza)
{
	struct {
		char             *s;
		enum xmls_refusal why;
	} c[3];
	struct got  g;
	const char *cond;
	char       *in;
	int         i;

	c[0].s = repeat(HDR "<iq type='get' id='r1' from='a' to='b'>", "<a>",
			100000, "", "</a>", 100000, "</iq>");
	c[0].why = XMLS_R_DEPTH;
	c[1].s = repeat(HDR "<iq type='get' id='r1' from='a' to='b'><q>",
			"<a/>", 5000, "", "", 0, "</q></iq>");
	c[1].why = XMLS_R_CHILDREN;
	{
		char  *p = malloc(200 * 16 + 256), *q = p;
		size_t k;

		q = stpcpy(q, HDR "<iq type='get' id='r1' from='a' to='b'><q");
		for (k = 0; k < 200; k++)
			q += sprintf(q, " a%zu='1'", k);
		strcpy(q, "/></iq>");
		c[2].s = p;
	}
	c[2].why = XMLS_R_ATTRS;
	for (i = 0; i < 3; i++) {
		in = cat(c[i].s, "<iq type='get' id='ok'/>");
		memset(&g, 0, sizeof g);
		ck_assert_int_eq(feed(&g, 4 << 20, in, strlen(in), 4096, &cond),
				 0);
		ck_assert_int_eq(g.nref, 1);
		ck_assert_int_eq(g.why, c[i].why);
		ck_assert_str_eq(g.ref_id, "r1");
		ck_assert_int_eq(g.n, 1);
		ck_assert_ptr_nonnull(strstr(g.text[0], "id=\"ok\""));
		got_free(&g);
		free(in);
		free(c[i].s);
	}
}
END_TEST

/* huge stanzas: the size limit counts held bytes (a huge attribute never
 * reaches expat) and resets between stanzas */
START_TEST(size_limit)
{
	struct got  g;
	const char *cond;
	char       *in;

	in = repeat(HDR "<iq from='", "a", 700000, "", "", 0, "'/>");
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(
	    feed(&g, XMLS_DEF_MAX_STANZA, in, strlen(in), 1000, &cond), -1);
	ck_assert_str_eq(cond, "policy-violation");
	ck_assert_int_eq(g.n, 0);
	got_free(&g);
	free(in);
	in = repeat(HDR,
		    "<message><body>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx</body>"
		    "</message> ",
		    20000, "", "", 0, "");
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(feed(&g, 4096, in, strlen(in), 777, &cond), 0);
	ck_assert_int_eq(g.n, 20000);
	got_free(&g);
	free(in);
}
END_TEST

/* bad XML: bad and restricted XML kill the stream with the right
 * condition, billion laughs included */
START_TEST(bad_xml)
{
	static const struct {
		const char *s, *cond;
		size_t      len; /* 0: up to the NUL */
	} c[] = {
	    {HDR "<iq><a></b></iq>", "invalid-xml", 0},
	    {HDR "<message><body>\xe9t\xe9</body></message>", "invalid-xml", 0},
	    {HDR "<message><body>a\0b</body></message>", "invalid-xml",
	     sizeof(HDR "<message><body>a\0b</body></message>") - 1},
	    {HDR "<message><body>&xxe;</body></message>", "invalid-xml", 0},
	    {HDR "<!DOCTYPE x><message/>", "invalid-xml", 0},
	    {HDR "<message><!-- c --></message>", "restricted-xml", 0},
	    {HDR "<message><?pi x?></message>", "restricted-xml", 0},
	    {"<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>"
	     "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><stream:stream "
	     "xmlns:stream='http://etherx.jabber.org/streams' id='&b;'>",
	     "restricted-xml", 0},
	    {"<stream xmlns='jabber:client'>", "invalid-namespace", 0},
	};
	struct got  g;
	const char *cond;
	size_t      i, len;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		len = c[i].len ? c[i].len : strlen(c[i].s);
		memset(&g, 0, sizeof g);
		ck_assert_int_eq(
		    feed(&g, XMLS_DEF_MAX_STANZA, c[i].s, len, 0, &cond), -1);
		ck_assert_str_eq(cond, c[i].cond);
		ck_assert_int_eq(g.n, 0);
		got_free(&g);
	}
}
END_TEST

/* expat remembers every distinct name for the life of the stream: the
 * stream is closed before that memory passes its cap */
START_TEST(parser_memory_bounded)
{
	struct got   g;
	struct xmls *x;
	char         buf[2048], *p;
	int          r = 0, i, k;
	size_t       total = 0;

	memset(&g, 0, sizeof g);
	x = xmls_new(ctx, XMLS_DEF_MAX_STANZA, XMLS_DEF_MAX_DEPTH, &cbs, &g);
	ck_assert_int_eq(xmls_feed(x, HDR, strlen(HDR)), 0);
	for (i = 0; r == 0 && total < (64u << 20); i++) {
		p = buf + sprintf(buf, "<iq id='m'><q");
		for (k = 0; k < 60; k++)
			p += sprintf(p, " n%x_%x=''", i, k);
		p += sprintf(p, "/></iq>");
		r = xmls_feed(x, buf, (size_t)(p - buf));
		total += (size_t)(p - buf);
	}
	ck_assert_int_eq(r, -1);
	ck_assert_str_eq(xmls_error(x, NULL), "resource-constraint");
	xmls_free(x);
	got_free(&g);
}
END_TEST

START_TEST(stream_close)
{
	struct got  g;
	const char *cond;
	const char *in = HDR "<iq id='a'/> \n </stream:stream>";

	memset(&g, 0, sizeof g);
	ck_assert_int_eq(feed(&g, 4096, in, strlen(in), 3, &cond), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.closed, 1);
	got_free(&g);
}
END_TEST

/* invalid UTF-8 never leaves on the link */
START_TEST(repair)
{
	size_t n;
	char  *s;

	ck_assert_ptr_null(utf8_repair_n("ok \xc3\xa9\t\n", 7, &n));
	s = utf8_repair_n("a\xe9z\x01\x7f\xed\xa0\x80\xef\xbf\xbe\xc0\xaf", 13,
			  &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "a\xef\xbf\xbdz\xef\xbf\xbd\x7f"
			    /* a surrogate and an overlong: one per byte; the
			     * well-formed U+FFFE XML forbids: one */
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd"
			    "\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_uint_eq(n, strlen(s));
	free(s);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("xmlstream");
	TCase   *tc = tcase_create("xmlstream");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_xmlstream");
	ctx = xmpp_ctx_new(NULL, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, same_stanzas_as_libstrophe);
	tcase_add_test(tc, text_is_one_child);
	tcase_add_test(tc, structural_limits_drop_one_stanza);
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, bad_xml);
	tcase_add_test(tc, stream_close);
	tcase_add_test(tc, parser_memory_bounded);
	tcase_add_test(tc, repair);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	xmpp_ctx_free(ctx);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
