/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: the bridge protocol parser (doc/PROTOCOL.md), good and
 * hostile elements.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/wire.h"
#include "core/log.h"

static xmpp_ctx_t *ctx;

static xmpp_stanza_t *
parse(const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	ck_assert_ptr_nonnull(st);
	return st;
}

static void
setup(void)
{
	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
}

static void
teardown(void)
{
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
}

START_TEST(gate_ok)
{
	char            from[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_gate req;
	const char     *err = NULL;
	xmpp_stanza_t  *g =
	    parse("<gate xmlns='urn:floodgate:0' kind='subscribe'"
		  " from='Bot@Example.org' to='alice@remote.example/x'"
		  " ip='203.0.113.5' contact='1' fp='abcdef'/>");

	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), 0);
	ck_assert_int_eq(req.kind, FG_KIND_SUBSCRIBE);
	ck_assert_str_eq(req.from, "bot@example.org");
	ck_assert_str_eq(req.to, "alice@remote.example");
	ck_assert_str_eq(req.ip, "203.0.113.5");
	ck_assert_str_eq(req.fp, "abcdef");
	ck_assert_int_eq(req.contact, 1);
	xmpp_stanza_release(g);
}
END_TEST

/* ufp: up to POL_UFP_MAX hex ids, lowercased; bad entries skipped */
START_TEST(gate_ufp)
{
	char            from[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_gate req;
	const char     *err = NULL;
	xmpp_stanza_t  *g;

	g = parse("<gate xmlns='urn:floodgate:0' kind='stranger-message'"
		  " from='bot@example.org' to='alice@remote.example'"
		  " fp='00c0ffee00c0ffee' ufp='0BADC0DE0badc0de 1111'/>");
	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), 0);
	ck_assert_int_eq(req.nufp, 2);
	ck_assert_str_eq(req.ufp[0], "0badc0de0badc0de");
	ck_assert_str_eq(req.ufp[1], "1111");
	xmpp_stanza_release(g);

	/* non-hex, too long, empty entries and extra spaces are skipped;
	 * only the first three good ones are kept */
	g = parse(
	    "<gate kind='stranger-message' from='bot@example.org'"
	    " ufp='  xyz 12g4 aa  "
	    "00000000000000000000000000000000000000000000000000000000000000001"
	    " bb cc dd'/>");
	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), 0);
	ck_assert_int_eq(req.nufp, 3);
	ck_assert_str_eq(req.ufp[0], "aa");
	ck_assert_str_eq(req.ufp[1], "bb");
	ck_assert_str_eq(req.ufp[2], "cc");
	xmpp_stanza_release(g);

	/* nothing usable: no ufp, and the gate itself is still fine */
	g = parse("<gate kind='stranger-message' from='bot@example.org'"
		  " ufp='  not-hex '/>");
	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), 0);
	ck_assert_int_eq(req.nufp, 0);
	xmpp_stanza_release(g);
	g = parse("<gate kind='stranger-message' from='bot@example.org'/>");
	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), 0);
	ck_assert_int_eq(req.nufp, 0);
	xmpp_stanza_release(g);
}
END_TEST

/* hfp: exactly 16 hex digits each, lowercased, deduplicated, at most 12 */
START_TEST(gate_hfp)
{
	char             from[JID_MAX + 1], to[JID_MAX + 1];
	char             jid[JID_MAX + 1];
	struct pol_gate  req;
	struct pol_event ev;
	const char      *err = NULL;
	xmpp_stanza_t   *g;
	char             many[13 * 17 + 1];
	int              i;

	g = parse("<gate kind='stranger-message' from='bot@b.test'"
		  " hfp='21AEF2A21E501B6B 8bb6634ad532175e 21aef2a21e501b6b"
		  " abc 0123456789abcdef0 zzzzzzzzzzzzzzzz'/>");
	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), 0);
	ck_assert_int_eq(req.nhfp, 2);
	ck_assert_str_eq(req.hfp[0], "21aef2a21e501b6b");
	ck_assert_str_eq(req.hfp[1], "8bb6634ad532175e");
	xmpp_stanza_release(g);

	for (i = 0; i < 13; i++)
		snprintf(many + i * 17, sizeof many - (size_t)i * 17, "%016x ",
			 i);
	snprintf(from, sizeof from,
		 "<event type='message' from='a@example.org'"
		 " to='b@example.org' hfp='%s'/>",
		 many);
	g = parse(from);
	ck_assert_int_eq(wire_parse_event(g, &ev, jid, to), 0);
	ck_assert_int_eq(ev.nhfp, POL_HFP_MAX);
	ck_assert_str_eq(ev.hfp[11], "000000000000000b");
	xmpp_stanza_release(g);
}
END_TEST

START_TEST(event_ufp)
{
	char             jid[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_event ev;
	xmpp_stanza_t   *e;

	e = parse("<event type='message' from='a@example.org' "
		  "to='b@example.org' fp='abcd' ufp='ab12 zz CD34'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_str_eq(ev.fp, "abcd");
	ck_assert_int_eq(ev.nufp, 2);
	ck_assert_str_eq(ev.ufp[0], "ab12");
	ck_assert_str_eq(ev.ufp[1], "cd34");
	xmpp_stanza_release(e);
}
END_TEST

static const char *bad_gates[] = {
    "<gate from='a@b'/>",
    "<gate kind='message' from='a@b'/>", /* not a gated kind */
    "<gate kind='nonsense' from='a@b'/>",
    "<gate kind='subscribe'/>",
    "<gate kind='subscribe' from='a@@b'/>",
    "<gate kind='subscribe' from='a@b' to='@'/>",
    "<gate kind='subscribe' from='a@b' ip='1.2.3.999'/>",
    "<gate kind='subscribe' from='a@b' ip='not an ip'/>",
};

START_TEST(gate_bad)
{
	char            from[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_gate req;
	const char     *err = NULL;
	xmpp_stanza_t  *g = parse(bad_gates[_i]);

	ck_assert_int_eq(wire_parse_gate(g, &req, from, to, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "gate:"));
	xmpp_stanza_release(g);
}
END_TEST

START_TEST(events_ok)
{
	char             jid[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_event ev;
	xmpp_stanza_t   *e;

	e = parse("<event type='session-end' from='abaca@example.org/Bot'"
		  " ip='2001:db8::1' duration='3200'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_int_eq(ev.type, POL_EV_SESSION_END);
	ck_assert_str_eq(ev.jid, "abaca@example.org/Bot");
	ck_assert_int_eq(ev.duration_ms, 3200);
	xmpp_stanza_release(e);

	e = parse("<event type='auth-fail' login='Root' ip='192.0.2.9' "
		  "exists='0'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_str_eq(ev.login, "Root");
	ck_assert_int_eq(ev.user_exists, 0);
	xmpp_stanza_release(e);

	e = parse(
	    "<event type='report' from='alice@example.org' "
	    "to='spammer@remote.example' reason='urn:xmpp:reporting:spam'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_str_eq(ev.to, "spammer@remote.example");
	xmpp_stanza_release(e);
}
END_TEST

static const char *bad_events[] = {
    "<event/>",
    "<event type='teleport' from='a@b'/>",
    "<event type='message' from='a@b'/>", /* no to */
    "<event type='session-start'/>",
    "<event type='session-end' from='a@b/r' duration='-5'/>",
    "<event type='session-end' from='a@b/r' duration='12abc'/>",
    "<event type='auth-ok' ip='1.2.3.4'/>",
    "<event type='auth-ok' login='' ip='1.2.3.4'/>",
    "<event type='registered' from='a@b' ip='300.1.1.1'/>",
};

START_TEST(events_bad)
{
	char             jid[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_event ev;
	xmpp_stanza_t   *e = parse(bad_events[_i]);

	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), -1);
	xmpp_stanza_release(e);
}
END_TEST

/* count on an aggregated message event: absent = 0 (means 1), 1..1e6,
 * anything else makes the event malformed */
START_TEST(event_count)
{
	static const char *bad[] = {
	    "0", "-1",  "+5",   " 5",      "5 ",
	    "",  "1e3", "0x10", "1000001", "99999999999999999999"};
	char             jid[JID_MAX + 1], to[JID_MAX + 1], xml[200];
	struct pol_event ev;
	xmpp_stanza_t   *e;
	size_t           i;

	e = parse("<event type='message' from='a@example.org' "
		  "to='b@example.org'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_uint_eq(ev.count, 0);
	xmpp_stanza_release(e);
	e = parse("<event type='message' from='a@example.org' "
		  "to='b@example.org' count='37'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_uint_eq(ev.count, 37);
	xmpp_stanza_release(e);
	e = parse("<event type='message' from='a@example.org' "
		  "to='b@example.org' count='1000000'/>");
	ck_assert_int_eq(wire_parse_event(e, &ev, jid, to), 0);
	ck_assert_uint_eq(ev.count, 1000000);
	xmpp_stanza_release(e);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(xml, sizeof xml,
			 "<event type='message' from='a@example.org' "
			 "to='b@example.org' count='%s'/>",
			 bad[i]);
		e = parse(xml);
		ck_assert_msg(wire_parse_event(e, &ev, jid, to) == -1,
			      "count='%s' accepted", bad[i]);
		xmpp_stanza_release(e);
	}
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("wire");
	TCase   *tc = tcase_create("wire");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_wire");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gate_ok);
	tcase_add_loop_test(tc, gate_bad, 0,
			    sizeof bad_gates / sizeof bad_gates[0]);
	tcase_add_test(tc, gate_ufp);
	tcase_add_test(tc, gate_hfp);
	tcase_add_test(tc, events_ok);
	tcase_add_test(tc, event_ufp);
	tcase_add_loop_test(tc, events_bad, 0,
			    sizeof bad_events / sizeof bad_events[0]);
	tcase_add_test(tc, event_count);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
