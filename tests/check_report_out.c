/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: outgoing XEP-0377 reports. The disco#info parser on
 * friendly and hostile answers, the report message and its text, the
 * per-destination rate limit, and the whole path through a real
 * component and store: who is reported, to whom, exactly once (also
 * across a restart), and reports from other servers' floodgates.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component/comp_int.h"
#include "component/report_out.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/utf8.h"
#include "policy/policy.h"
#include "tests/comp_harness.h"

static xmpp_ctx_t *ctx;

static xmpp_stanza_t *
parse(const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	ck_assert_ptr_nonnull(st);
	return st;
}

#define FORM_HEAD                                                              \
	"<query xmlns='http://jabber.org/protocol/disco#info'>"                \
	"<identity category='server' type='im'/>"                              \
	"<x xmlns='jabber:x:data' type='result'>"                              \
	"<field var='FORM_TYPE' type='hidden'>"                                \
	"<value>http://jabber.org/network/serverinfo</value></field>"

static int
abuse(const char *xml, char (*out)[JID_MAX + 1], int max)
{
	xmpp_stanza_t *q = parse(xml);
	int            n = rout_parse_abuse(q, out, max);

	xmpp_stanza_release(q);
	return n;
}

START_TEST(parse_ejabberd_answer)
{
	char a[ROUT_ADDRS_MAX][JID_MAX + 1];

	ck_assert_int_eq(abuse(FORM_HEAD
			       "<field var='admin-addresses'>"
			       "<value>xmpp:admin@c.example</value></field>"
			       "<field var='abuse-addresses'>"
			       "<value>mailto:abuse@c.example</value>"
			       "<value>xmpp:Abuse@C.example</value>"
			       "<value>xmpp:abuse@c.example?message</value>"
			       "<value>xmpp://guest@c.example/desk%40c.example"
			       "?message;subject=spam</value>"
			       "<value>https://c.example/abuse</value>"
			       "</field></x></query>",
			       a, ROUT_ADDRS_MAX),
			 2);
	ck_assert_str_eq(a[0], "abuse@c.example");
	ck_assert_str_eq(a[1], "desk@c.example");
	/* a bare domain parses; the component decides whether to use it */
	ck_assert_int_eq(abuse(FORM_HEAD
			       "<field var='abuse-addresses'>"
			       "<value>xmpp:Floodgate.C.example</value>"
			       "</field></x></query>",
			       a, ROUT_ADDRS_MAX),
			 1);
	ck_assert_str_eq(a[0], "floodgate.c.example");
}
END_TEST

/* report-addresses, made for XEP-0377 reports, win over abuse-addresses
 * when the server names any. */
START_TEST(parse_report_addresses)
{
	char a[ROUT_ADDRS_MAX][JID_MAX + 1];

	ck_assert_int_eq(abuse(FORM_HEAD
			       "<field var='abuse-addresses'>"
			       "<value>xmpp:abuse@c.example</value></field>"
			       "<field var='report-addresses'>"
			       "<value>mailto:reports@c.example</value>"
			       "<value>xmpp:reports@c.example</value>"
			       "</field></x></query>",
			       a, ROUT_ADDRS_MAX),
			 1);
	ck_assert_str_eq(a[0], "reports@c.example");
	ck_assert_int_eq(abuse(FORM_HEAD
			       "<field var='report-addresses'>"
			       "<value>mailto:reports@c.example</value></field>"
			       "<field var='abuse-addresses'>"
			       "<value>xmpp:abuse@c.example</value>"
			       "</field></x></query>",
			       a, ROUT_ADDRS_MAX),
			 1);
	ck_assert_str_eq(a[0], "abuse@c.example");
}
END_TEST

/* What a hostile or broken server may answer: nothing usable, never a
 * crash, never more than asked for. */
static const char *const hostile[] = {
    "<query xmlns='http://jabber.org/protocol/disco#info'/>",
    /* no FORM_TYPE */
    "<query xmlns='http://jabber.org/protocol/disco#info'>"
    "<x xmlns='jabber:x:data' type='result'><field var='abuse-addresses'>"
    "<value>xmpp:a@b.example</value></field></x></query>",
    /* another form */
    "<query xmlns='http://jabber.org/protocol/disco#info'>"
    "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'>"
    "<value>urn:xmpp:dataforms:softwareinfo</value></field>"
    "<field var='abuse-addresses'><value>xmpp:a@b.example</value>"
    "</field></x></query>",
    /* a form to fill in, not an answer */
    "<query xmlns='http://jabber.org/protocol/disco#info'>"
    "<x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE'>"
    "<value>http://jabber.org/network/serverinfo</value></field>"
    "<field var='abuse-addresses'><value>xmpp:a@b.example</value>"
    "</field></x></query>",
    /* the wrong namespace on x */
    "<query xmlns='http://jabber.org/protocol/disco#info'>"
    "<x xmlns='jabber:x:oob' type='result'><field var='FORM_TYPE'>"
    "<value>http://jabber.org/network/serverinfo</value></field>"
    "<field var='abuse-addresses'><value>xmpp:a@b.example</value>"
    "</field></x></query>",
    /* values that are no JIDs, or not accounts */
    FORM_HEAD "<field var='abuse-addresses'><value/><value>xmpp:</value>"
	      "<value>xmpp:a@@b</value><value>xmpp:a@b.example/res</value>"
	      "<value>xmpp:a%00@b.example</value><value>xmpp:a%4@b</value>"
	      "<value>xmpp:a b@c.example</value><value>xmpp://x</value>"

	      "<value><b>xmpp:a@b.example</b></value>"
	      "</field></x></query>",
};

START_TEST(parse_hostile)
{
	char a[ROUT_ADDRS_MAX][JID_MAX + 1];

	ck_assert_int_eq(abuse(hostile[_i], a, ROUT_ADDRS_MAX), 0);
}
END_TEST

START_TEST(parse_bounded)
{
	char   a[ROUT_ADDRS_MAX][JID_MAX + 1];
	char  *xml, *big;
	size_t i, o = 0, sz = 100 * 64 + 4096 + 2048;

	/* many addresses, duplicates first, an over-long value */
	xml = malloc(sz);
	big = malloc(4096);
	memset(big, 'a', 4095);
	big[4095] = '\0';
	o += (size_t)snprintf(xml + o, sz - o,
			      FORM_HEAD "<field var='abuse-addresses'>"
					"<value>xmpp:%s@x.example</value>",
			      big);
	for (i = 0; i < 100; i++)
		o += (size_t)snprintf(xml + o, sz - o,
				      "<value>xmpp:u%zu@x.example</value>",
				      i < 10 ? 0 : i);
	snprintf(xml + o, sz - o, "</field></x></query>");
	ck_assert_int_eq(abuse(xml, a, ROUT_ADDRS_MAX), ROUT_ADDRS_MAX);
	ck_assert_str_eq(a[0], "u0@x.example");
	ck_assert_str_eq(a[1], "u10@x.example");
	ck_assert_int_eq(abuse(xml, a, 1), 1);
	ck_assert_int_eq(abuse(xml, a, 0), 0);
	ck_assert_int_eq(rout_parse_abuse(NULL, a, 4), 0);
	free(xml);
	free(big);
}
END_TEST

START_TEST(build_message)
{
	xmpp_stanza_t *m, *r, *j, *t;
	char          *txt, *s;
	size_t         len;

	m = rout_build(ctx, "floodgate.a.example", "abuse@b.example", "r1",
		       "dave@b.example", ROUT_REASON_SPAM, "score <40> & more");
	ck_assert_int_eq(xmpp_stanza_to_text(m, &txt, &len), XMPP_EOK);
	ck_assert_ptr_nonnull(strstr(txt, "to=\"abuse@b.example\""));
	ck_assert_ptr_nonnull(strstr(txt, "from=\"floodgate.a.example\""));
	ck_assert_ptr_nonnull(strstr(txt, "score &lt;40&gt; &amp; more"));
	xmpp_free(ctx, txt);
	r = xmpp_stanza_get_child_by_ns(m, NS_REPORTING1);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(xmpp_stanza_get_attribute(r, "reason"),
			 "urn:xmpp:reporting:spam");
	j = xmpp_stanza_get_child_by_ns(r, "urn:xmpp:jid:0");
	ck_assert_ptr_nonnull(j);
	s = xmpp_stanza_get_text(j);
	ck_assert_str_eq(s, "dave@b.example");
	xmpp_free(ctx, s);
	t = xmpp_stanza_get_child_by_name(r, "text");
	s = xmpp_stanza_get_text(t);
	ck_assert_str_eq(s, "score <40> & more");
	xmpp_free(ctx, s);
	s = xmpp_message_get_body(m);
	ck_assert_str_eq(s, "score <40> & more");
	xmpp_free(ctx, s);
	xmpp_stanza_release(m);
}
END_TEST

START_TEST(text_evidence)
{
	struct rout_evidence e;
	char                 buf[ROUT_TEXT_MAX], small[64];
	char                 reason[300];
	size_t               i;

	memset(&e, 0, sizeof e);
	e.subject = "dave@b.example";
	e.server = "a.example";
	e.verdict = "block";
	e.by_admin = 1;
	e.reason = "spam run";
	e.at = 1700000000000LL;
	e.reports = 3;
	e.first = 1699990000000LL;
	e.last = 1699999000000LL;
	e.score = 12.5;
	e.signals = "report=4 report=4";
	rout_text(&e, buf, sizeof buf);
	ck_assert_ptr_nonnull(strstr(buf, "about dave@b.example"));
	ck_assert_ptr_nonnull(strstr(buf, "set by an administrator on "
					  "2023-11-14 22:13:20 UTC"));
	ck_assert_ptr_nonnull(strstr(buf, "Reason: spam run"));
	ck_assert_ptr_nonnull(strstr(buf, "Spam reports from our users: 3"));
	ck_assert_ptr_nonnull(strstr(buf, "No message content"));
	/* cut at a character boundary: 2-byte characters across the end */
	for (i = 0; i + 2 < sizeof reason; i += 2)
		memcpy(reason + i, "\xc3\xa9", 2);
	reason[i] = '\0';
	e.reason = reason;
	for (i = 40; i < sizeof small; i++) {
		rout_text(&e, small, i);
		ck_assert_uint_lt(strlen(small), i);
		ck_assert_int_eq(utf8_check(small, NULL), 0);
	}
}
END_TEST

START_TEST(rate_per_destination)
{
	struct rout_rate *rt = rout_rate_new();
	int64_t           t = 1000000;
	int               i;
	char              d[32];

	for (i = 0; i < ROUT_RATE_BURST; i++) {
		ck_assert(rout_rate_ready(rt, "abuse@b.example", t));
		rout_rate_take(rt, "abuse@b.example", t);
	}
	ck_assert(!rout_rate_ready(rt, "abuse@b.example", t));
	/* another destination has its own bucket */
	ck_assert(rout_rate_ready(rt, "abuse@c.example", t));
	/* one token comes back after PER_S / COUNT seconds */
	t += (int64_t)ROUT_RATE_PER_S * 1000 / ROUT_RATE_COUNT - 1000;
	ck_assert(!rout_rate_ready(rt, "abuse@b.example", t));
	t += 1000;
	ck_assert(rout_rate_ready(rt, "abuse@b.example", t));
	rout_rate_take(rt, "abuse@b.example", t);
	ck_assert(!rout_rate_ready(rt, "abuse@b.example", t));
	/* a flood of destinations stays within the table */
	for (i = 0; i < ROUT_RATE_DESTS * 2; i++) {
		snprintf(d, sizeof d, "a%d@x.example", i);
		rout_rate_take(rt, d, t + i);
	}
	rout_rate_free(rt);
}
END_TEST

/* Every stanza the component sends, serialised. */
struct sent {
	char  *v[64];
	size_t n;
};

static void
sink(xmpp_stanza_t *st, void *arg)
{
	struct sent *s = arg;
	char        *buf;
	size_t       len;

	ck_assert_int_eq(xmpp_stanza_to_text(st, &buf, &len), XMPP_EOK);
	ck_assert_uint_lt(s->n, 64);
	s->v[s->n++] = strdup(buf);
	xmpp_free(ctx, buf);
}

static void
sent_clear(struct sent *s)
{
	while (s->n > 0)
		free(s->v[--s->n]);
}

/* How many sent stanzas contain both a and b (b may be NULL). */
static int
count(const struct sent *s, const char *a, const char *b)
{
	size_t i;
	int    n = 0;

	for (i = 0; i < s->n; i++)
		if (strstr(s->v[i], a) != NULL &&
		    (b == NULL || strstr(s->v[i], b) != NULL))
			n++;
	return n;
}

static char *collectors[] = {"mod@collector.example"};

static struct harness h;
static struct sent    out;

static void
setup(void)
{
	clock_fake_set(1, 1700000000000LL);
	hn_config(&h);
	h.cfg.report_forward_to.v = collectors;
	h.cfg.report_forward_to.n = 1;
	hn_start(&h, 1);
	memset(&out, 0, sizeof out);
	comp_set_sink(h.c, sink, &out);
}

static void
teardown(void)
{
	sent_clear(&out);
	hn_fini(&h);
	clock_fake_off();
}

/* The id of the disco#info question to domain, from what was sent. */
static void
disco_id(const char *domain, char *id, size_t sz)
{
	char   to[128];
	size_t i;
	char  *p;

	snprintf(to, sizeof to, "to=\"%s\"", domain);
	for (i = out.n; i-- > 0;) /* the newest question */
		if (strstr(out.v[i], "disco#info") != NULL &&
		    strstr(out.v[i], to) != NULL &&
		    (p = strstr(out.v[i], "id=\"")) != NULL) {
			snprintf(id, sz, "%.*s", (int)strcspn(p + 4, "\""),
				 p + 4);
			return;
		}
	ck_abort_msg("no disco#info to %s", domain);
}

static void
answer(const char *domain, const char *addr)
{
	char id[64], xml[1024];

	disco_id(domain, id, sizeof id);
	snprintf(xml, sizeof xml,
		 "<iq type='result' id='%s' from='%s' "
		 "to='floodgate.example.org'>" FORM_HEAD
		 "<field var='abuse-addresses'><value>xmpp:%s</value>"
		 "</field></x></query></iq>",
		 id, domain, addr);
	ck_assert_int_eq(hn_send(&h, xml), 0);
}

START_TEST(admin_block_reported_once)
{
	const char *dave = "dave@remote.example";

	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_BLOCK,
				   "admin@example.org", "spam run", 0),
			 0);
	/* the collector at once; the domain is asked for its addresses */
	ck_assert_int_eq(
	    count(&out, "to=\"mod@collector.example\"", "urn:xmpp:reporting:1"),
	    1);
	ck_assert_int_eq(count(&out, "disco#info", "to=\"remote.example\""), 1);
	ck_assert_int_eq(count(&out, "dave@remote.example", "Reason: spam run"),
			 1);
	/* an answer from someone else is not believed */
	ck_assert_int_eq(
	    hn_send(&h, "<iq type='result' id='x' from='evil.example' "
			"to='floodgate.example.org'>" FORM_HEAD
			"<field var='abuse-addresses'><value>xmpp:e@evil."
			"example</value></field></x></query></iq>"),
	    0);
	answer("remote.example", "alice@example.org");
	ck_assert_int_eq(count(&out, "to=\"alice@example.org\"", NULL), 0);
	/* asked again: the answer naming one of our users counted as none */
	clock_fake_advance_ms(3600 * 1000 + 1);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_NONE,
		  "admin@example.org", NULL, 0);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_BLOCK,
		  "admin@example.org", "spam run", 0);
	answer("remote.example", "abuse@remote.example");
	ck_assert_int_eq(count(&out, "to=\"abuse@remote.example\"",
			       "<jid xmlns=\"urn:xmpp:jid:0\">dave@remote."
			       "example</jid>"),
			 1);
	ck_assert_int_eq(count(&out, "e@evil.example", NULL), 0);
	/* unblock and block again: nothing more */
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_NONE,
		  "admin@example.org", NULL, 0);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_BLOCK,
		  "admin@example.org", "again", 0);
	clock_fake_advance_ms(10000);
	comp_rout_tick(h.c);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 2);
	/* a restart: a new policy and component on the same store */
	comp_free(h.c);
	pol_free(h.pol);
	store_close(h.st);
	ck_assert_ptr_nonnull(h.st = store_open(h.db));
	h.pol = pol_new(&h.cfg, h.st);
	h.c = comp_new(h.base, &h.cfg, h.pol, h.st);
	comp_set_sink(h.c, sink, &out);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_NONE,
		  "admin@example.org", NULL, 0);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, dave, FG_OVR_BLOCK,
		  "admin@example.org", "after restart", 0);
	answer("remote.example", "abuse@remote.example");
	comp_rout_tick(h.c);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 2);
}
END_TEST

START_TEST(not_reported)
{
	struct pol_event e;

	/* throttled only */
	pol_signal(h.pol, FG_SUBJ_ACCOUNT, "slow@remote.example", "x", 6);
	/* quarantined without any report from our users */
	pol_signal(h.pol, FG_SUBJ_ACCOUNT, "noisy@remote.example", "x", 12);
	/* an admin quarantine is not a block */
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "q@remote.example", FG_OVR_QUARANTINE,
		  "admin@example.org", NULL, 0);
	/* a local account */
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "bot@example.org", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	/* a domain */
	pol_admin(h.pol, FG_SUBJ_DOMAIN, "spam.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 0);
	ck_assert_int_eq(count(&out, "disco#info", NULL), 0);
	/* sending switched off */
	h.cfg.report_send = 0;
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "dave@remote.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 0);
	/* a report alone, below quarantine, does not send either */
	h.cfg.report_send = 1;
	memset(&e, 0, sizeof e);
	e.type = POL_EV_REPORT;
	e.jid = "alice@example.org";
	e.to = "eve@remote.example";
	e.reason = ROUT_REASON_SPAM;
	e.user_exists = -1;
	pol_event(h.pol, &e);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 0);
}
END_TEST

/* Quarantined automatically with reports from our users among the
 * evidence: reported, with the count. */
START_TEST(auto_verdict_with_reports)
{
	struct pol_event e;
	char             who[64];
	int              i;

	memset(&e, 0, sizeof e);
	e.type = POL_EV_REPORT;
	e.to = "eve@remote.example";
	e.reason = ROUT_REASON_SPAM;
	e.user_exists = -1;
	for (i = 0; i < 3; i++) {
		snprintf(who, sizeof who, "user%d@example.org", i);
		e.jid = who;
		pol_event(h.pol, &e);
	}
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"",
			       "Spam reports from our users: 3"),
			 1);
	ck_assert_int_eq(count(&out, "reached automatically", NULL), 1);
}
END_TEST

/* What a reporting user attached (mod_report_forward's note and
 * forwarded message) goes with the report; nothing else of a body. */
START_TEST(attachment_passed_on)
{
	struct pol_event e;

	ck_assert_int_eq(
	    hn_send(&h, "<message from='example.org' "
			"to='floodgate.example.org'>"
			"<body>SPAM/ABUSE REPORT from the server</body>"
			"<report xmlns='urn:xmpp:reporting:1' "
			"reason='urn:xmpp:reporting:spam'>"
			"<jid xmlns='urn:xmpp:jid:0'>eve@remote.example</jid>"
			"<text>she keeps writing</text></report>"
			"<forwarded xmlns='urn:xmpp:forward:0'>"
			"<message xmlns='jabber:client' "
			"from='eve@remote.example/x' to='alice@example.org'>"
			"<body>cheap pills at pills.example</body></message>"
			"</forwarded></message>"),
	    0);
	memset(&e, 0, sizeof e);
	e.type = POL_EV_REPORT;
	e.to = "eve@remote.example";
	e.reason = ROUT_REASON_SPAM;
	e.user_exists = -1;
	e.jid = "bob@example.org";
	pol_event(h.pol, &e);
	e.jid = "carol@example.org";
	pol_event(h.pol, &e);
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"",
			       "Attached by a reporting user: note: she keeps "
			       "writing; reported message: cheap pills at "
			       "pills.example"),
			 1);
	ck_assert_int_eq(count(&out, "No other message content", NULL), 1);
	ck_assert_int_eq(count(&out, "SPAM/ABUSE REPORT", NULL), 0);
}
END_TEST

/* A bare domain is used only when it is a component of the advertising
 * server (another floodgate); anyone else's domain is not. */
START_TEST(component_address)
{
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "dave@remote.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	answer("remote.example", "floodgate.remote.example");
	ck_assert_int_eq(count(&out, "to=\"floodgate.remote.example\"",
			       "urn:xmpp:reporting:1"),
			 1);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "erin@other.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	answer("other.example", "victim.example");
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "finn@third.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	answer("third.example", "third.example");
	ck_assert_int_eq(count(&out, "to=\"victim.example\"", NULL), 0);
	ck_assert_int_eq(
	    count(&out, "to=\"third.example\"", "urn:xmpp:reporting:1"), 0);
}
END_TEST

/* No answer to disco#info: the collector has its report, the domain is
 * asked again only after the negative time to live. */
START_TEST(disco_timeout)
{
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "dave@silent.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 1);
	clock_fake_advance_ms(31000);
	comp_rout_tick(h.c);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "erin@silent.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	ck_assert_int_eq(count(&out, "disco#info", NULL), 1);
	ck_assert_int_eq(count(&out, "urn:xmpp:reporting:1", NULL), 2);
	clock_fake_advance_ms(3600 * 1000);
	pol_admin(h.pol, FG_SUBJ_ACCOUNT, "finn@silent.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	ck_assert_int_eq(count(&out, "disco#info", NULL), 2);
}
END_TEST

/* Past the burst, reports to one destination wait for the next tick. */
START_TEST(rate_limited_then_sent)
{
	char who[64];
	int  i;

	for (i = 0; i < ROUT_RATE_BURST + 2; i++) {
		snprintf(who, sizeof who, "s%d@remote.example", i);
		pol_admin(h.pol, FG_SUBJ_ACCOUNT, who, FG_OVR_BLOCK,
			  "admin@example.org", NULL, 0);
	}
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"", NULL),
			 ROUT_RATE_BURST);
	clock_fake_advance_ms((int64_t)ROUT_RATE_PER_S * 1000 /
			      ROUT_RATE_COUNT * 2);
	comp_rout_tick(h.c);
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"", NULL),
			 ROUT_RATE_BURST + 2);
}
END_TEST

/* Reports still waiting when the daemon stops leave after the restart,
 * and those sent do not leave again. */
START_TEST(restart_sends_what_waited)
{
	char who[64];
	int  i;

	for (i = 0; i < ROUT_RATE_BURST + 2; i++) {
		snprintf(who, sizeof who, "s%d@remote.example", i);
		pol_admin(h.pol, FG_SUBJ_ACCOUNT, who, FG_OVR_BLOCK,
			  "admin@example.org", "wave", 0);
	}
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"", NULL),
			 ROUT_RATE_BURST);
	comp_free(h.c);
	pol_free(h.pol);
	store_close(h.st);
	ck_assert_ptr_nonnull(h.st = store_open(h.db));
	h.pol = pol_new(&h.cfg, h.st);
	h.c = comp_new(h.base, &h.cfg, h.pol, h.st);
	comp_set_sink(h.c, sink, &out);
	comp_rout_link(h.c, 1);
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"", NULL),
			 ROUT_RATE_BURST + 2);
	for (i = 0; i < ROUT_RATE_BURST + 2; i++) {
		snprintf(who, sizeof who, ">s%d@remote.example<", i);
		ck_assert_int_eq(
		    count(&out, "to=\"mod@collector.example\"", who), 1);
	}
	/* once: a second link-up does not look again */
	comp_rout_link(h.c, 0);
	comp_rout_link(h.c, 1);
	ck_assert_int_eq(count(&out, "to=\"mod@collector.example\"", NULL),
			 ROUT_RATE_BURST + 2);
}
END_TEST

/* A report from another server's floodgate about one of our users adds
 * to its score, once per server, by that server's standing. */
static void
peer(const char *from, const char *jid)
{
	char xml[512];

	snprintf(xml, sizeof xml,
		 "<message from='%s' to='floodgate.example.org'>"
		 "<report xmlns='urn:xmpp:reporting:1' "
		 "reason='urn:xmpp:reporting:spam'>"
		 "<jid xmlns='urn:xmpp:jid:0'>%s</jid><text>t</text></report>"
		 "</message>",
		 from, jid);
	ck_assert_int_eq(hn_send(&h, xml), 0);
}

static double
score(const char *jid)
{
	struct pol_info pi;

	ck_assert_int_eq(pol_inspect(h.pol, FG_SUBJ_ACCOUNT, jid, &pi), 0);
	return pi.score;
}

START_TEST(peer_report_weighted)
{
	struct pol_info pi;

	peer("floodgate.peer.example", "bot@example.org");
	ck_assert(score("bot@example.org") > 3.9);
	ck_assert(score("bot@example.org") < 4.1);
	pol_inspect(h.pol, FG_SUBJ_ACCOUNT, "bot@example.org", &pi);
	ck_assert_ptr_nonnull(strstr(pi.signals, "peer-report"));
	/* a repeat from the same server counts nothing */
	peer("floodgate.peer.example", "bot@example.org");
	ck_assert(score("bot@example.org") < 4.1);
	/* another server counts again */
	peer("other.example", "bot@example.org");
	ck_assert(score("bot@example.org") > 7.9);
	/* about someone else's user: refused */
	peer("floodgate.peer.example", "x@third.example");
	ck_assert(score("x@third.example") == 0);
	/* a server of ill standing (its parent domain blocked) weighs 0 */
	pol_admin(h.pol, FG_SUBJ_DOMAIN, "bad.example", FG_OVR_BLOCK,
		  "admin@example.org", NULL, 0);
	peer("floodgate.bad.example", "alice@example.org");
	peer("bad.example", "alice@example.org");
	ck_assert(score("alice@example.org") == 0);
	/* a remote user is not a server */
	peer("user@peer.example", "alice@example.org");
	ck_assert(score("alice@example.org") == 0);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("report_out");
	TCase   *tc = tcase_create("wire");
	TCase   *tp = tcase_create("path");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_report_out");
	ctx = xmpp_ctx_new(NULL, NULL);
	tcase_add_test(tc, parse_ejabberd_answer);
	tcase_add_loop_test(tc, parse_hostile, 0,
			    sizeof hostile / sizeof hostile[0]);
	tcase_add_test(tc, parse_bounded);
	tcase_add_test(tc, parse_report_addresses);
	tcase_add_test(tc, build_message);
	tcase_add_test(tc, text_evidence);
	tcase_add_test(tc, rate_per_destination);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, admin_block_reported_once);
	tcase_add_test(tp, not_reported);
	tcase_add_test(tp, auto_verdict_with_reports);
	tcase_add_test(tp, disco_timeout);
	tcase_add_test(tp, attachment_passed_on);
	tcase_add_test(tp, component_address);
	tcase_add_test(tp, rate_limited_then_sent);
	tcase_add_test(tp, restart_sends_what_waited);
	tcase_add_test(tp, peer_report_weighted);
	suite_add_tcase(s, tp);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	xmpp_ctx_free(ctx);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
