/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for component/alerts.c, adhoc_alerts.c and
 * webhook.c through a real component (tests/comp_harness.h): a flood
 * gives one digest to the admin naming inspect and unblock; a report
 * with markup and control bytes in its reason arrives escaped; an admin
 * who opts out gets nothing, and stays out across a restart; observe
 * mode marks lines "would"; the webhook refuses anything but https.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component/comp_int.h"
#include "component/webhook.h"
#include "core/clock.h"
#include "core/log.h"
#include "policy/upstream.h"
#include "tests/comp_harness.h"

static char state[64];

/* A loopback port nothing listens on: bound, then closed. */
static int
closed_port(void)
{
	struct sockaddr_in a;
	socklen_t          len = sizeof a;
	int                fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
mkstate(void)
{
	int fd;

	snprintf(state, sizeof state, "/tmp/fg_alerts.XXXXXX");
	fd = mkstemp(state);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(state); /* no file yet: everybody opted in */
}

static void
start(struct harness *h, int observe)
{
	hn_config(h);
	h->cfg.alerts_interval_s = 1;
	h->cfg.alerts_state = state;
	h->cfg.observe = observe;
	hn_start(h, 0);
}

/* One digest period of the loop. */
static void
tick(struct harness *h)
{
	struct timeval tv = {1, 300000};

	event_base_loopexit(h->base, &tv);
	event_base_dispatch(h->base);
}

static void
flood(struct harness *h, const char *bot)
{
	char buf[512];
	int  i;

	for (i = 0; i < 40; i++) {
		snprintf(buf, sizeof buf,
			 "<iq type='get' id='g%d' from='example.org' "
			 "to='" HN_COMP_JID "'><gate xmlns='urn:floodgate:0' "
			 "kind='subscribe' from='%s' to='v@remote.example'/>"
			 "</iq>",
			 i, bot);
		ck_assert_int_eq(hn_send(h, buf), 0);
	}
}

START_TEST(test_digest)
{
	struct harness h;
	size_t         before;

	mkstate();
	start(&h, 0);
	flood(&h, "bot@example.org");
	before = h.replies;
	tick(&h);
	ck_assert_uint_eq(h.replies, before + 1); /* one digest */
	ck_assert_ptr_nonnull(strstr(h.last, "to=\"admin@example.org\""));
	ck_assert_ptr_nonnull(strstr(h.last, "type=\"chat\""));
	ck_assert_ptr_nonnull(
	    strstr(h.last, "floodgatectl inspect account:bot@example.org"));
	ck_assert_ptr_nonnull(
	    strstr(h.last, "floodgatectl unblock account:bot@example.org"));
	ck_assert_ptr_null(strstr(h.last, "[would]"));
	/* nothing new: no digest */
	before = h.replies;
	tick(&h);
	ck_assert_uint_eq(h.replies, before);
	hn_fini(&h);
}
END_TEST

START_TEST(test_escaped_report)
{
	struct harness h;

	mkstate();
	start(&h, 0);
	ck_assert_int_eq(
	    hn_send(&h, "<message from='example.org' to='" HN_COMP_JID "'>"
			"<meter xmlns='urn:floodgate:0'><event type='report' "
			"from='alice@example.org' to='spam@remote.example' "
			"reason='&lt;b&gt;x&amp;y&#9;z'/></meter></message>"),
	    0);
	tick(&h);
	ck_assert_ptr_nonnull(strstr(h.last, "spam report against "
					     "spam@remote.example"));
	/* markup escaped as XML, the tab as \t by log_esc */
	ck_assert_ptr_nonnull(strstr(h.last, "&lt;b&gt;x&amp;y\\tz"));
	hn_fini(&h);
}
END_TEST

START_TEST(test_opt_out)
{
	struct harness h;
	size_t         before;
	FILE          *fp;
	char           line[128];
	int            found = 0;

	mkstate();
	start(&h, 0);
	ck_assert_int_eq(
	    hn_send(&h, "<iq type='set' id='c1' from='admin@example.org/x' "
			"to='" HN_COMP_JID "'><command xmlns='http://jabber."
			"org/protocol/commands' node='alerts' "
			"action='complete'><x xmlns='jabber:x:data' "
			"type='submit'><field var='alerts'><value>0</value>"
			"</field></x></command></iq>"),
	    0);
	ck_assert_ptr_nonnull(strstr(h.last, "alerts off"));
	fp = fopen(state, "r");
	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL)
		found |= strcmp(line, "admin@example.org\n") == 0;
	fclose(fp);
	ck_assert(found);
	flood(&h, "bot@example.org");
	before = h.replies;
	tick(&h);
	ck_assert_uint_eq(h.replies, before);
	hn_fini(&h);

	/* still out after a restart; back in with the command */
	start(&h, 0);
	flood(&h, "bot2@example.org");
	before = h.replies;
	tick(&h);
	ck_assert_uint_eq(h.replies, before);
	ck_assert_int_eq(
	    hn_send(&h, "<iq type='set' id='c2' from='admin@example.org/x' "
			"to='" HN_COMP_JID "'><command xmlns='http://jabber."
			"org/protocol/commands' node='alerts' "
			"action='complete'><x xmlns='jabber:x:data' "
			"type='submit'><field var='alerts'><value>1</value>"
			"</field></x></command></iq>"),
	    0);
	ck_assert_ptr_nonnull(strstr(h.last, "alerts on"));
	flood(&h, "bot3@example.org");
	before = h.replies;
	tick(&h);
	ck_assert_uint_eq(h.replies, before + 1);
	ck_assert_ptr_nonnull(strstr(h.last, "bot3@example.org"));
	hn_fini(&h);
	unlink(state);
}
END_TEST

START_TEST(test_observe_marked)
{
	struct harness h;

	mkstate();
	start(&h, 1);
	flood(&h, "bot@example.org");
	/* observe mode: every gate allowed */
	ck_assert_ptr_nonnull(strstr(h.last, "<allow"));
	tick(&h);
	ck_assert_ptr_nonnull(strstr(h.last, "[would] quarantine account "
					     "bot@example.org"));
	hn_fini(&h);
}
END_TEST

/* The link down for more than link-down: one line once it is back; a
 * short outage says nothing. */
START_TEST(test_link_down)
{
	struct harness h;
	size_t         before;

	mkstate();
	start(&h, 0);
	clock_fake_set(1000000000000ull, 1700000000000ll);
	comp_alerts_link(h.c, 1); /* the first handshake */
	comp_alerts_link(h.c, 0);
	clock_fake_advance_ms(20 * 1000);
	comp_alerts_link(h.c, 1);
	before = h.replies;
	tick(&h);
	ck_assert_uint_eq(h.replies, before);
	comp_alerts_link(h.c, 0);
	clock_fake_advance_ms(75 * 1000);
	comp_alerts_link(h.c, 1);
	tick(&h);
	ck_assert_uint_eq(h.replies, before + 1);
	ck_assert_msg(strstr(h.last, "link was down from "
				     "2023-11-14T22:13:40Z for 75s") != NULL,
		      "%s", h.last);
	hn_fini(&h);
}
END_TEST

/* One of our served domains on an upstream list is an alert. */
START_TEST(test_own_domain_listed)
{
	struct harness h;

	mkstate();
	start(&h, 0);
	pol_upstream_list(h.pol, "rtbl.example spam_source_domains",
			  "example.org");
	pol_upstream_list(h.pol, "rtbl.example spam_source_domains",
			  "other.example");
	tick(&h);
	ck_assert_ptr_nonnull(strstr(h.last, "our domain example.org is on an "
					     "upstream blocklist"));
	/* other.example is quarantined, as any listed domain, not ours */
	ck_assert_ptr_null(strstr(h.last, "our domain other.example"));
	hn_fini(&h);
}
END_TEST

START_TEST(test_webhook_urls)
{
	struct event_base *base = event_base_new();
	struct webhook    *w;

	ck_assert_ptr_null(comp_webhook_new(base, "http://h.example/", NULL));
	ck_assert_ptr_null(comp_webhook_new(base, "https:///x", NULL));
	ck_assert_ptr_null(comp_webhook_new(base, "not a url", NULL));
	ck_assert_ptr_null(
	    comp_webhook_new(base, "https://h.example/", "/nonexistent.pem"));
	w = comp_webhook_new(base, "https://127.0.0.1:9/hook?x=1", NULL);
	ck_assert_ptr_nonnull(w);
	comp_webhook_free(w);
	event_base_free(base);
}
END_TEST

/* Nobody listens: the POST fails, is retried (after 1 s, then 2 s ...)
 * and stays queued; freeing the webhook then leaks nothing (ASan). */
START_TEST(test_webhook_retries)
{
	struct event_base   *base = event_base_new();
	struct webhook      *w;
	struct webhook_stats ws;
	struct timeval       tv = {3, 500000};
	char                 url[64];

	snprintf(url, sizeof url, "https://127.0.0.1:%d/hook", closed_port());
	w = comp_webhook_new(base, url, NULL);
	ck_assert_ptr_nonnull(w);
	comp_webhook_post(w, "{}", 2);
	comp_webhook_post(w, "{\"a\":1}", 7);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	comp_webhook_stats(w, &ws);
	ck_assert_uint_eq(ws.sent, 0);
	ck_assert_uint_ge(ws.retries, 1);
	ck_assert_uint_eq(ws.failed, 0); /* 6 tries take 31 s */
	ck_assert_uint_eq(ws.queued, 2);
	comp_webhook_free(w);
	event_base_free(base);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("alerts");
	TCase   *tc = tcase_create("alerts");
	SRunner *sr;
	int      nf;

	log_init(1, 0, "check_alerts");
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_escaped_report);
	tcase_add_test(tc, test_opt_out);
	tcase_add_test(tc, test_observe_marked);
	tcase_add_test(tc, test_link_down);
	tcase_add_test(tc, test_own_domain_listed);
	tcase_add_test(tc, test_webhook_urls);
	tcase_add_test(tc, test_webhook_retries);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
