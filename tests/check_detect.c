/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the detectors (policy/detect_*.c): synthetic
 * event sequences on the fake clock with the signals each must (and must
 * not) produce. Positive cases: a bot's logins, a content wave, a URL
 * wave, a registration wave with probation, a password-guessing cloud,
 * spamtraps, reports. Negative cases: a human who logs in often, a conference
 * burst of registrations with long sessions, a popular link shared between
 * contacts (body and URL), a user who mistypes a password.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "policy/detect.h"
#include "policy/policy.h"
#include "policy/policy_int.h"
#include "storage/store.h"
#include "tests/testutil.h"

#define T0_MONO 1000000000000ull /* ns */
#define T0_WALL 1700000000000ll  /* unix ms */
#define MIN 60000                /* ms */
#define HOUR 3600000             /* ms */

static struct fg_config cfg;

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	config_defaults(&cfg);
	cfg.max_keys = 65536;
	clock_fake_set(T0_MONO, T0_WALL);
}

static void
teardown(void)
{
	free(cfg.comp_server);
	free(cfg.spamtrap_file);
	cfg.comp_server = cfg.spamtrap_file = NULL;
}

static void
ev(struct policy *p, enum pol_ev_type t, const char *jid, const char *to,
   const char *ip, const char *login, int64_t dur, int exists, const char *fp)
{
	struct pol_event e = {.type = t,
			      .jid = jid,
			      .to = to,
			      .ip = ip,
			      .login = login,
			      .duration_ms = dur,
			      .user_exists = exists,
			      .fp = fp};

	pol_event(p, &e);
}

static int
gate(struct policy *p, enum fg_kind kind, const char *from, const char *to,
     const char *ip, int contact, const char *fp)
{
	struct pol_gate   g = {.kind = kind,
			       .from = from,
			       .to = to,
			       .ip = ip,
			       .fp = fp,
			       .contact = contact};
	struct pol_answer a;

	pol_gate(p, &g, &a);
	return a.allow;
}

/* The subject's effective verdict; its signal text into sig if given. */
static enum fg_verdict
verdict(struct policy *p, enum fg_subj t, const char *key, char *sig,
	size_t sigsz)
{
	struct pol_info info;

	ck_assert_int_eq(pol_inspect(p, t, key, &info), 0);
	if (sig != NULL)
		snprintf(sig, sigsz, "%s", info.signals ? info.signals : "");
	return info.effective;
}

static double
score(struct policy *p, enum fg_subj t, const char *key)
{
	struct pol_info info;

	ck_assert_int_eq(pol_inspect(p, t, key, &info), 0);
	return info.score;
}

/* A bot: capitalised login, three overlapping sessions of a few seconds. */
static void
bot_logins(struct policy *p, const char *node, const char *ip)
{
	char full[3][160], login[64], bare[128];
	int  i;

	snprintf(bare, sizeof bare, "%s@example.org", node);
	snprintf(login, sizeof login, "%s", node);
	login[0] = (char)(login[0] - 'a' + 'A');
	for (i = 0; i < 3; i++) {
		snprintf(full[i], sizeof full[i], "%s/r%d", bare, i);
		ev(p, POL_EV_SESSION_START, full[i], NULL, ip, login, 0, -1,
		   NULL);
		clock_fake_advance_ms(500);
	}
	for (i = 0; i < 3; i++) {
		clock_fake_advance_ms(3000);
		ev(p, POL_EV_SESSION_END, full[i], NULL, ip, NULL, 4000, -1,
		   NULL);
	}
}

/* The classic kit's round: a capitalised login, three overlapping short
 * sessions. People show each of these habits, so together they only
 * throttle; repeating them within the hour adds nothing (held). */
START_TEST(test_login_bot)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           sig[POL_SIGTEXT_MAX];
	double         first;

	bot_logins(p, "abaca", "192.0.2.1");
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "abaca@example.org", sig, sizeof sig),
	    FG_V_THROTTLE);
	ck_assert_ptr_nonnull(strstr(sig, "login-case="));
	ck_assert_ptr_nonnull(strstr(sig, "short-sessions="));
	ck_assert_ptr_nonnull(strstr(sig, "overlap="));
	first = score(p, FG_SUBJ_ACCOUNT, "abaca@example.org");
	ck_assert(first < cfg.quarantine_at);
	bot_logins(p, "abaca", "192.0.2.1");
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "abaca@example.org") <= first);
	pol_free(p);
}
END_TEST

/* One short session of account node from ip, of dur ms. */
static void
short_session(struct policy *p, const char *node, const char *ip, int64_t dur)
{
	char full[160];

	snprintf(full, sizeof full, "%s@example.org/r", node);
	ev(p, POL_EV_SESSION_START, full, NULL, ip, node, 0, -1, NULL);
	clock_fake_advance_ms(dur);
	ev(p, POL_EV_SESSION_END, full, NULL, ip, NULL, dur, -1, NULL);
}

/* The next kit: exact name, one short session every half hour, each
 * through a proxy in another network. spread and round-the-clock. */
START_TEST(test_conn_proxies)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           sig[POL_SIGTEXT_MAX], ip[32];
	int            i;

	for (i = 0; i < 30; i++) {
		snprintf(ip, sizeof ip, "%d.%d.7.9", 11 + i, 40 + i);
		short_session(p, "zaxiro", ip, 9000);
		clock_fake_advance_ms(30 * MIN);
	}
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "zaxiro@example.org", sig, sizeof sig),
	    FG_V_QUARANTINE);
	ck_assert_ptr_nonnull(strstr(sig, "spread="));
	ck_assert_ptr_nonnull(strstr(sig, "round-the-clock="));
	ck_assert_ptr_null(strstr(sig, "login-case="));
	pol_free(p);
}
END_TEST

/* A farm: eight accounts on one hosting address, each a short session
 * every 40 minutes, all day. shared-address and round-the-clock. */
START_TEST(test_conn_farm)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           sig[POL_SIGTEXT_MAX], node[16], jid[64];
	int            i, b;

	for (i = 0; i < 20; i++)
		for (b = 0; b < 8; b++) {
			snprintf(node, sizeof node, "farm%d", b);
			short_session(p, node, "203.0.113.9", 8000);
			clock_fake_advance_ms(5 * MIN - 8000);
		}
	for (b = 0; b < 8; b++) {
		snprintf(jid, sizeof jid, "farm%d@example.org", b);
		ck_assert_int_eq(
		    verdict(p, FG_SUBJ_ACCOUNT, jid, sig, sizeof sig),
		    FG_V_QUARANTINE);
		ck_assert_ptr_nonnull(strstr(sig, "shared-address="));
	}
	pol_free(p);
}
END_TEST

/* People: an office of eight whose Wi-Fi drops one afternoon (everyone
 * reconnects three times from the office address), and one of them with
 * a capitalising phone on a flapping carrier link (two /16s of NAT pool)
 * plus laptop and desktop. Below quarantine, no connection habit. */
START_TEST(test_conn_people)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           sig[POL_SIGTEXT_MAX], node[16], jid[64], ip[32];
	int            i, b;

	for (i = 0; i < 3; i++)
		for (b = 0; b < 8; b++) {
			snprintf(node, sizeof node, "clerk%d", b);
			short_session(p, node, "198.51.100.20", 20000);
			clock_fake_advance_ms(MIN);
		}
	ev(p, POL_EV_SESSION_START, "clerk0@example.org/desk", NULL,
	   "198.51.100.20", "clerk0", 0, -1, NULL);
	ev(p, POL_EV_SESSION_START, "clerk0@example.org/laptop", NULL,
	   "192.0.2.80", "clerk0", 0, -1, NULL);
	for (i = 0; i < 40; i++) {
		snprintf(ip, sizeof ip, "100.%d.%d.%d", 64 + i % 2, i, 7 * i);
		ev(p, POL_EV_SESSION_START, "clerk0@example.org/phone", NULL,
		   ip, "Clerk0", 0, -1, NULL);
		clock_fake_advance_ms(15000);
		ev(p, POL_EV_SESSION_END, "clerk0@example.org/phone", NULL, ip,
		   NULL, 15000, -1, NULL);
		clock_fake_advance_ms(i % 8 == 7 ? HOUR : 30000);
	}
	for (b = 0; b < 8; b++) {
		snprintf(jid, sizeof jid, "clerk%d@example.org", b);
		ck_assert_int_lt(
		    verdict(p, FG_SUBJ_ACCOUNT, jid, sig, sizeof sig),
		    FG_V_QUARANTINE);
		ck_assert_ptr_null(strstr(sig, "shared-address="));
		ck_assert_ptr_null(strstr(sig, "spread="));
		ck_assert_ptr_null(strstr(sig, "round-the-clock="));
	}
	pol_free(p);
}
END_TEST

/* Each habit alone stays below throttle. */
START_TEST(test_login_one_habit)
{
	struct policy *p = pol_new(&cfg, NULL);

	ev(p, POL_EV_SESSION_START, "zaxi@example.org/a", NULL, "192.0.2.2",
	   "Zaxi", 0, -1, NULL);
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "zaxi@example.org", NULL, 0),
	    FG_V_ALLOW);
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "zaxi@example.org") > 0);
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "zaxi@example.org") <
		  cfg.throttle_at);
	pol_free(p);
}
END_TEST

/* A human who logs in often: right case, long sessions, phone + laptop. */
START_TEST(test_login_human)
{
	struct policy *p = pol_new(&cfg, NULL);
	int            i;

	for (i = 0; i < 24; i++) {
		ev(p, POL_EV_SESSION_START, "alice@example.org/phone", NULL,
		   "198.51.100.7", "alice", 0, -1, NULL);
		ev(p, POL_EV_SESSION_START, "alice@example.org/laptop", NULL,
		   "198.51.100.8", "alice@example.org", 0, -1, NULL);
		clock_fake_advance_ms(40 * MIN);
		ev(p, POL_EV_SESSION_END, "alice@example.org/phone", NULL,
		   "198.51.100.7", NULL, 40 * MIN, -1, NULL);
		ev(p, POL_EV_SESSION_END, "alice@example.org/laptop", NULL,
		   "198.51.100.8", NULL, 40 * MIN, -1, NULL);
		clock_fake_advance_ms(20 * MIN);
	}
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "alice@example.org") == 0);
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "alice@example.org", NULL, 0),
	    FG_V_ALLOW);
	pol_free(p);
}
END_TEST

START_TEST(test_content_wave)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           from[64], to[64], sig[POL_SIGTEXT_MAX];
	int            i;

	/* 5 accounts (content-accounts) send one link to strangers */
	for (i = 0; i < 5; i++) {
		snprintf(from, sizeof from, "bot%d@example.org", i);
		snprintf(to, sizeof to, "victim%d@remote.example", i);
		ck_assert(gate(p, FG_KIND_STRANGER_MESSAGE, from, to, NULL, 0,
			       "00c0ffee00c0ffee"));
		clock_fake_advance_ms(30000);
	}
	for (i = 0; i < 5; i++) {
		snprintf(from, sizeof from, "bot%d@example.org", i);
		ck_assert(score(p, FG_SUBJ_ACCOUNT, from) >=
			  DET_W_CONTENT * 0.9);
		verdict(p, FG_SUBJ_ACCOUNT, from, sig, sizeof sig);
		ck_assert_ptr_nonnull(strstr(sig, "content-wave="));
	}
	/* a later sender of it is penalised and refused */
	clock_fake_advance_ms(HOUR);
	ck_assert(!gate(p, FG_KIND_STRANGER_MESSAGE, "late@example.org",
			"x@remote.example", NULL, 0, "00c0ffee00c0ffee"));
	verdict(p, FG_SUBJ_ACCOUNT, "late@example.org", sig, sizeof sig);
	ck_assert_ptr_nonnull(strstr(sig, "content-wave="));
	/* other content still flows */
	ck_assert(gate(p, FG_KIND_STRANGER_MESSAGE, "late2@example.org",
		       "x@remote.example", NULL, 0, "1111111111111111"));
	pol_free(p);
}
END_TEST

/* A popular link shared between friends who are contacts. */
START_TEST(test_content_friends)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           from[64], to[64];
	int            i;

	for (i = 0; i < 30; i++) {
		snprintf(from, sizeof from, "friend%d@example.org", i);
		snprintf(to, sizeof to, "friend%d@example.org", (i + 1) % 30);
		ck_assert(gate(p, FG_KIND_STRANGER_MESSAGE, from, to, NULL, 1,
			       "abcdefabcdef0123"));
		ev(p, POL_EV_MESSAGE, from, to, NULL, NULL, 0, -1,
		   "abcdefabcdef0123");
		clock_fake_advance_ms(10000);
	}
	/* and four strangers are not a wave either */
	for (i = 0; i < 4; i++) {
		snprintf(from, sizeof from, "friend%d@example.org", i);
		ck_assert(gate(p, FG_KIND_STRANGER_MESSAGE, from,
			       "new@remote.example", NULL, 0,
			       "abcdefabcdef0123"));
	}
	for (i = 0; i < 30; i++) {
		snprintf(from, sizeof from, "friend%d@example.org", i);
		ck_assert(score(p, FG_SUBJ_ACCOUNT, from) == 0);
	}
	pol_free(p);
}
END_TEST

/* A stranger (or contact) message carrying URL fingerprints u1, u2. */
static int
ugate(struct policy *p, const char *from, const char *to, int contact,
      const char *fp, const char *u1, const char *u2)
{
	struct pol_gate   g = {.kind = FG_KIND_STRANGER_MESSAGE,
			       .from = from,
			       .to = to,
			       .fp = fp,
			       .contact = contact};
	struct pol_answer a;

	if (u1 != NULL)
		snprintf(g.ufp[g.nufp++], sizeof g.ufp[0], "%s", u1);
	if (u2 != NULL)
		snprintf(g.ufp[g.nufp++], sizeof g.ufp[0], "%s", u2);
	pol_gate(p, &g, &a);
	return a.allow;
}

/* One link wrapped in a different text by each bot: no body wave, but a
 * URL wave, which also catches later senders of the link. */
START_TEST(test_url_wave)
{
	struct policy *p = pol_new(&cfg, NULL);
	char from[64], to[64], fp[17], other[17], sig[POL_SIGTEXT_MAX];
	int  i;

	for (i = 0; i < 5; i++) {
		snprintf(from, sizeof from, "bot%d@example.org", i);
		snprintf(to, sizeof to, "victim%d@remote.example", i);
		snprintf(fp, sizeof fp, "%016x", 0x1000 + i);
		snprintf(other, sizeof other, "%016x", 0x2000 + i);
		ck_assert(ugate(p, from, to, 0, fp, other, "0badc0de0badc0de"));
		clock_fake_advance_ms(30000);
	}
	for (i = 0; i < 5; i++) {
		snprintf(from, sizeof from, "bot%d@example.org", i);
		ck_assert(score(p, FG_SUBJ_ACCOUNT, from) >=
			  DET_W_CONTENT * 0.9);
		ck_assert(score(p, FG_SUBJ_ACCOUNT, from) <
			  DET_W_CONTENT * 1.1);
		verdict(p, FG_SUBJ_ACCOUNT, from, sig, sizeof sig);
		ck_assert_ptr_nonnull(strstr(sig, "url-wave="));
		ck_assert_ptr_null(strstr(sig, "content-wave="));
	}
	/* a later sender, in yet another text, is penalised once and
	 * refused, even with the link second */
	clock_fake_advance_ms(HOUR);
	ck_assert(!ugate(p, "late@example.org", "x@remote.example", 0,
			 "7777777777777777", "3333333333333333",
			 "0badc0de0badc0de"));
	verdict(p, FG_SUBJ_ACCOUNT, "late@example.org", sig, sizeof sig);
	ck_assert_ptr_nonnull(strstr(sig, "url-wave="));
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "late@example.org") <
		  DET_W_CONTENT * 1.1);
	/* a message without a body fingerprint is still checked */
	ck_assert(!ugate(p, "late2@example.org", "y@remote.example", 0, NULL,
			 "0badc0de0badc0de", NULL));
	/* other links still flow */
	ck_assert(ugate(p, "late3@example.org", "x@remote.example", 0,
			"7777777777777777", "4444444444444444", NULL));
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "late3@example.org") == 0);
	pol_free(p);
}
END_TEST

/* A popular link between contacts; one account sending a link to many
 * strangers; four strangers sharing one: none is a URL wave. */
START_TEST(test_url_not_wave)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           from[64], to[64];
	int            i;

	for (i = 0; i < 30; i++) {
		snprintf(from, sizeof from, "friend%d@example.org", i);
		snprintf(to, sizeof to, "friend%d@example.org", (i + 1) % 30);
		ck_assert(
		    ugate(p, from, to, 1, NULL, "5555555555555555", NULL));
		clock_fake_advance_ms(10000);
	}
	for (i = 0; i < 20; i++) {
		snprintf(to, sizeof to, "someone%d@remote.example", i);
		ck_assert(ugate(p, "chatty@example.org", to, 0, NULL,
				"6666666666666666", NULL));
	}
	for (i = 0; i < 4; i++) {
		snprintf(from, sizeof from, "friend%d@example.org", i);
		ck_assert(ugate(p, from, "new@remote.example", 0, NULL,
				"5555555555555555", NULL));
	}
	for (i = 0; i < 30; i++) {
		snprintf(from, sizeof from, "friend%d@example.org", i);
		ck_assert(score(p, FG_SUBJ_ACCOUNT, from) == 0);
	}
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "chatty@example.org") == 0);
	/* four strangers, then a fifth after the window: still not a wave */
	clock_fake_advance_ms(HOUR);
	ck_assert(ugate(p, "friend29@example.org", "new@remote.example", 0,
			NULL, "5555555555555555", NULL));
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "friend29@example.org") == 0);
	pol_free(p);
}
END_TEST

static void
reg(struct policy *p, const char *fmt, int i, const char *ip)
{
	char jid[64];

	snprintf(jid, sizeof jid, fmt, i);
	ev(p, POL_EV_REGISTERED, jid, NULL, ip, NULL, 0, -1, NULL);
}

static void
count_wave(const char *where, int64_t start, void *arg)
{
	(void)where;
	(void)start;
	(*(int *)arg)++;
}

/* No baseline yet (a fresh daemon, the first minute of a replayed log):
 * a dozen registrations from one network in a minute are no wave; sixty
 * are, and go to the callback instead of the log. */
START_TEST(test_reg_empty_baseline)
{
	struct policy *p;
	char           ip[32];
	int            i, waves = 0;

	cfg.limits[FG_SUBJ_IP][FG_KIND_REGISTER].count = 0;
	p = pol_new(&cfg, NULL);
	pol_set_wave_cb(p, count_wave, &waves);
	for (i = 0; i < 12; i++) {
		snprintf(ip, sizeof ip, "198.51.100.%d", i + 1);
		reg(p, "early%d@example.org", i, ip);
		clock_fake_advance_ms(4000);
	}
	ck_assert_int_eq(waves, 0);
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "early3@example.org", NULL, 0),
	    FG_V_ALLOW);
	clock_fake_advance_ms(10 * MIN);
	for (i = 0; i < 60; i++) {
		snprintf(ip, sizeof ip, "203.0.113.%d", i + 1);
		reg(p, "wave%d@example.org", i, ip);
		clock_fake_advance_ms(1000);
	}
	ck_assert_int_ge(waves, 1);
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "wave59@example.org", NULL, 0),
	    FG_V_QUARANTINE);
	pol_free(p);
}
END_TEST

/* An operator creating accounts with an admin tool (no address) is not a
 * wave, however many and however fast. */
START_TEST(test_reg_admin_not_wave)
{
	struct policy *p;
	char           jid[64];
	int            i;

	p = pol_new(&cfg, NULL);
	for (i = 0; i < 200; i++) {
		reg(p, "class%d@example.org", i, NULL);
		clock_fake_advance_ms(100);
	}
	for (i = 0; i < 200; i++) {
		snprintf(jid, sizeof jid, "class%d@example.org", i);
		ck_assert_int_eq(verdict(p, FG_SUBJ_ACCOUNT, jid, NULL, 0),
				 FG_V_ALLOW);
	}
	pol_free(p);
}
END_TEST

START_TEST(test_reg_wave)
{
	struct policy *p;
	char           ip[32], sig[POL_SIGTEXT_MAX];
	int            i;

	cfg.limits[FG_SUBJ_IP][FG_KIND_REGISTER].count = 0;
	p = pol_new(&cfg, NULL);
	/* a normal hour: 2 a minute from all over */
	for (i = 0; i < 120; i++) {
		snprintf(ip, sizeof ip, "198.51.%d.%d", i % 200, i % 250 + 1);
		reg(p, "old%d@example.org", i, ip);
		clock_fake_advance_ms(30000);
	}
	/* then 40 in a minute from one network */
	for (i = 0; i < 40; i++) {
		snprintf(ip, sizeof ip, "203.0.113.%d", i + 1);
		reg(p, "wave%d@example.org", i, ip);
		clock_fake_advance_ms(1500);
	}
	for (i = 0; i < 120; i++) {
		char jid[64];

		snprintf(jid, sizeof jid, "old%d@example.org", i);
		ck_assert_int_eq(verdict(p, FG_SUBJ_ACCOUNT, jid, NULL, 0),
				 FG_V_ALLOW);
	}
	for (i = 0; i < 40; i++) {
		char jid[64];

		snprintf(jid, sizeof jid, "wave%d@example.org", i);
		ck_assert_int_eq(
		    verdict(p, FG_SUBJ_ACCOUNT, jid, sig, sizeof sig),
		    FG_V_QUARANTINE);
		ck_assert_ptr_nonnull(strstr(sig, "reg-wave"));
	}
	/* probation: messaging fellow wave accounts does not end it ... */
	for (i = 1; i < 6; i++) {
		char to[64];

		snprintf(to, sizeof to, "wave%d@example.org", i);
		ev(p, POL_EV_MESSAGE, "wave0@example.org", to, NULL, NULL, 0,
		   -1, NULL);
	}
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "wave0@example.org", NULL, 0),
	    FG_V_QUARANTINE);
	/* ... three people who were here before do */
	for (i = 0; i < 3; i++) {
		char to[64];

		snprintf(to, sizeof to, "old%d@example.org", i);
		ev(p, POL_EV_MESSAGE, "wave0@example.org", to, NULL, NULL, 0,
		   -1, NULL);
	}
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "wave0@example.org", NULL, 0),
	    FG_V_ALLOW);
	/* the others stay until probation is over */
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "wave1@example.org", NULL, 0),
	    FG_V_QUARANTINE);
	clock_fake_advance_ms((int64_t)cfg.probation_s * 1000 + MIN);
	pol_tick(p);
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "wave1@example.org", NULL, 0),
	    FG_V_ALLOW);
	pol_free(p);
}
END_TEST

/* A conference: a burst of distinct names under wave-min a minute, long
 * sessions, right-case logins: nobody is scored. */
START_TEST(test_reg_conference)
{
	struct policy *p;
	char           jid[64], full[80], ip[32];
	int            i;

	cfg.limits[FG_SUBJ_IP][FG_KIND_REGISTER].count = 0;
	cfg.limits[FG_SUBJ_PREFIX][FG_KIND_REGISTER].count = 0;
	p = pol_new(&cfg, NULL);
	for (i = 0; i < 60; i++) {
		snprintf(jid, sizeof jid, "attendee%d@example.org", i);
		snprintf(full, sizeof full, "%s/conf", jid);
		snprintf(ip, sizeof ip, "192.0.2.%d", i % 4 + 1);
		ev(p, POL_EV_REGISTERED, jid, NULL, ip, NULL, 0, -1, NULL);
		ev(p, POL_EV_SESSION_START, full, NULL, ip, jid, 0, -1, NULL);
		clock_fake_advance_ms(8000); /* 7.5 a minute */
	}
	clock_fake_advance_ms(3 * HOUR);
	for (i = 0; i < 60; i++) {
		snprintf(jid, sizeof jid, "attendee%d@example.org", i);
		snprintf(full, sizeof full, "%s/conf", jid);
		ev(p, POL_EV_SESSION_END, full, NULL, "192.0.2.1", NULL,
		   3 * HOUR, -1, NULL);
		ck_assert_int_eq(verdict(p, FG_SUBJ_ACCOUNT, jid, NULL, 0),
				 FG_V_ALLOW);
		ck_assert(score(p, FG_SUBJ_ACCOUNT, jid) == 0);
	}
	pol_free(p);
}
END_TEST

/* Hail Mary cloud: 60 hosts, one attempt each per hourly burst on
 * "admin", three hours. No host reaches the per-IP count; the user-name
 * count catches them and they end up blocked. */
START_TEST(test_auth_cloud)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           ip[32], sig[POL_SIGTEXT_MAX];
	int            h, i, blocked = 0;

	for (h = 0; h < 3; h++) {
		for (i = 0; i < 60; i++) {
			snprintf(ip, sizeof ip, "203.0.%d.%d", i, 10 + h);
			snprintf(ip, sizeof ip, "203.0.%d.9", i);
			ev(p, POL_EV_AUTH_FAIL, NULL, NULL, ip, "admin", 0, 1,
			   NULL);
			clock_fake_advance_ms(3000);
		}
		clock_fake_advance_ms(HOUR - 180000);
	}
	for (i = 0; i < 60; i++) {
		snprintf(ip, sizeof ip, "203.0.%d.9", i);
		if (verdict(p, FG_SUBJ_IP, ip, sig, sizeof sig) == FG_V_BLOCK)
			blocked++;
		ck_assert_ptr_nonnull(strstr(sig, "auth-user="));
		ck_assert_ptr_null(strstr(sig, "auth-ip="));
	}
	ck_assert_int_eq(blocked, 60);
	/* the attacked account itself is never scored */
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "admin@example.org") == 0);
	pol_free(p);
}
END_TEST

/* Unknown user names from many hosts: the global count. */
START_TEST(test_auth_unknown)
{
	struct policy *p = pol_new(&cfg, NULL);
	char           ip[32], login[32], sig[POL_SIGTEXT_MAX];
	int            i;

	for (i = 0; i < 150; i++) {
		snprintf(ip, sizeof ip, "100.64.%d.%d", i / 200, i % 200 + 1);
		snprintf(login, sizeof login, "user%d", i);
		ev(p, POL_EV_AUTH_FAIL, NULL, NULL, ip, login, 0, 0, NULL);
		clock_fake_advance_ms(10000);
	}
	verdict(p, FG_SUBJ_IP, "100.64.0.150", sig, sizeof sig);
	ck_assert_ptr_nonnull(strstr(sig, "auth-unknown="));
	ck_assert(score(p, FG_SUBJ_IP, "100.64.0.5") == 0);
	pol_free(p);
}
END_TEST

/* Per IP, per network; a user who mistypes is left alone. */
START_TEST(test_auth_ip_prefix)
{
	struct policy *p;
	char           ip[32], sig[POL_SIGTEXT_MAX];
	int            i;

	/* the detector alone, without the [limits] auth-fail buckets */
	for (i = 0; i < FG_SUBJ__MAX; i++)
		cfg.limits[i][FG_KIND_AUTH_FAIL].count = 0;
	p = pol_new(&cfg, NULL);

	for (i = 0; i < 3; i++)
		ev(p, POL_EV_AUTH_FAIL, NULL, NULL, "198.51.100.7", "alice", 0,
		   1, NULL);
	ck_assert(score(p, FG_SUBJ_IP, "198.51.100.7") == 0);
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "alice@example.org") == 0);
	for (i = 0; i < 20; i++) {
		snprintf(ip, sizeof ip, "u%d", i);
		ev(p, POL_EV_AUTH_FAIL, NULL, NULL, "192.0.2.66", ip, 0, -1,
		   NULL);
	}
	verdict(p, FG_SUBJ_IP, "192.0.2.66", sig, sizeof sig);
	ck_assert_ptr_nonnull(strstr(sig, "auth-ip="));
	/* a network: 200 failures spread over its hosts only throttles */
	for (i = 0; i < 200; i++) {
		snprintf(ip, sizeof ip, "10.9.8.%d", i % 250 + 1);
		ev(p, POL_EV_AUTH_FAIL, NULL, NULL, ip, "bob", 0, 1, NULL);
		if (i == 59) {
			verdict(p, FG_SUBJ_PREFIX, "10.9.8.0/24", sig,
				sizeof sig);
			ck_assert_msg(strstr(sig, "auth-prefix=") != NULL, "%s",
				      sig);
		}
		if (i % 60 == 59)
			clock_fake_advance_ms(HOUR);
	}
	/* (a throttled network's further failures overflow its slow
	 * bucket; still never more than throttle) */
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_PREFIX, "10.9.8.0/24", sig, sizeof sig),
	    FG_V_THROTTLE);
	pol_free(p);
}
END_TEST

START_TEST(test_spamtraps)
{
	char           path[] = "/tmp/check_detect.XXXXXX";
	struct policy *p;
	FILE          *fp;
	int            fd;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fputs("# traps\nroot\n  Webmaster  \n\nsales@example.org\n", fp);
	fclose(fp);
	cfg.spamtrap_file = strdup(path);
	p = pol_new(&cfg, NULL);
	ev(p, POL_EV_AUTH_FAIL, NULL, NULL, "192.0.2.10", "Root", 0, 0, NULL);
	ck_assert_int_eq(verdict(p, FG_SUBJ_IP, "192.0.2.10", NULL, 0),
			 FG_V_BLOCK);
	ck_assert(!gate(p, FG_KIND_REGISTER, "webmaster@example.org", NULL,
			"192.0.2.11", 0, NULL));
	ck_assert_int_eq(verdict(p, FG_SUBJ_IP, "192.0.2.11", NULL, 0),
			 FG_V_BLOCK);
	ev(p, POL_EV_AUTH_OK, NULL, NULL, "192.0.2.12", "sales@example.org", 0,
	   -1, NULL);
	ck_assert_int_eq(verdict(p, FG_SUBJ_IP, "192.0.2.12", NULL, 0),
			 FG_V_BLOCK);
	/* a name not on the list is not a trap */
	ev(p, POL_EV_AUTH_FAIL, NULL, NULL, "192.0.2.13", "roots", 0, 0, NULL);
	ck_assert_int_eq(verdict(p, FG_SUBJ_IP, "192.0.2.13", NULL, 0),
			 FG_V_ALLOW);
	/* reload: a new list replaces the old */
	fp = fopen(path, "w");
	fputs("roots\n", fp);
	fclose(fp);
	pol_reconfigure(p, &cfg);
	ev(p, POL_EV_AUTH_FAIL, NULL, NULL, "192.0.2.14", "roots", 0, 0, NULL);
	ck_assert_int_eq(verdict(p, FG_SUBJ_IP, "192.0.2.14", NULL, 0),
			 FG_V_BLOCK);
	ev(p, POL_EV_AUTH_FAIL, NULL, NULL, "192.0.2.15", "root", 0, 0, NULL);
	ck_assert_int_eq(verdict(p, FG_SUBJ_IP, "192.0.2.15", NULL, 0),
			 FG_V_ALLOW);
	pol_free(p);
	unlink(path);
}
END_TEST

/* Reports: one per reporter and subject; a single fresh account can
 * never block anyone alone. */
START_TEST(test_reports)
{
	char           db[160], rep[64], sig[POL_SIGTEXT_MAX];
	struct store  *st;
	struct policy *p;
	int            i;

	tu_tmpdb(db, sizeof db, "check_detect");
	st = store_open(db);
	ck_assert_ptr_nonnull(st);
	p = pol_new(&cfg, st);
	for (i = 0; i < 50; i++)
		ev(p, POL_EV_REPORT, "fresh@example.org", "spam@remote.example",
		   NULL, NULL, 0, -1, NULL);
	ck_assert(score(p, FG_SUBJ_ACCOUNT, "spam@remote.example") <=
		  cfg.w_report + 0.01);
	ck_assert(verdict(p, FG_SUBJ_ACCOUNT, "spam@remote.example", sig,
			  sizeof sig) < FG_V_BLOCK);
	ck_assert_ptr_nonnull(strstr(sig, "report="));
	/* many distinct reporters do add up */
	for (i = 0; i < 12; i++) {
		snprintf(rep, sizeof rep, "user%d@example.org", i);
		ev(p, POL_EV_REPORT, rep, "spam@remote.example", NULL, NULL, 0,
		   -1, NULL);
	}
	ck_assert_int_eq(
	    verdict(p, FG_SUBJ_ACCOUNT, "spam@remote.example", NULL, 0),
	    FG_V_BLOCK);
	pol_free(p);
	store_close(st);
	tu_rmdb(db);
}
END_TEST

/* The tables stay bounded under a flood of distinct keys. */
START_TEST(test_bounded)
{
	struct det_cache *c = det_cache_new(1000, sizeof(struct det_ent));
	int               i;

	for (i = 1; i <= 100000; i++)
		ck_assert_ptr_nonnull(det_cache_get(
		    c, (uint64_t)i * 0x9e3779b97f4a7c15ULL, i, 1));
	ck_assert(det_cache_count(c) <= 1024);
	ck_assert(det_cache_evictions(c) > 0);
	det_cache_free(c);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("detect");
	TCase   *tc = tcase_create("detect");
	SRunner *sr;
	int      nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_login_bot);
	tcase_add_test(tc, test_conn_proxies);
	tcase_add_test(tc, test_conn_farm);
	tcase_add_test(tc, test_conn_people);
	tcase_add_test(tc, test_login_one_habit);
	tcase_add_test(tc, test_login_human);
	tcase_add_test(tc, test_content_wave);
	tcase_add_test(tc, test_content_friends);
	tcase_add_test(tc, test_url_wave);
	tcase_add_test(tc, test_url_not_wave);
	tcase_add_test(tc, test_reg_wave);
	tcase_add_test(tc, test_reg_admin_not_wave);
	tcase_add_test(tc, test_reg_empty_baseline);
	tcase_add_test(tc, test_reg_conference);
	tcase_add_test(tc, test_auth_cloud);
	tcase_add_test(tc, test_auth_unknown);
	tcase_add_test(tc, test_auth_ip_prefix);
	tcase_add_test(tc, test_spamtraps);
	tcase_add_test(tc, test_reports);
	tcase_add_test(tc, test_bounded);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
