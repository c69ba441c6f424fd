/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for policy/: key normalisation, decay against
 * the closed form, thresholds with hysteresis, overrides, networks capped
 * at throttle, the 40-invitation scenario, a flooding remote domain,
 * contacts while quarantined, the bounded subject table, and a restart
 * through a real store file.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "policy/policy.h"
#include "policy/policy_int.h"
#include "storage/store.h"
#include "tests/testutil.h"

#define T0_MONO 1000000000000ull /* ns */
#define T0_WALL 1700000000000ll  /* unix ms */

static struct fg_config cfg;

/* Verdict callback log. */
static int             ncb;
static enum fg_verdict last_cb;
static char            last_key[256];

static void
verdict_cb(enum fg_subj t, const char *key, enum fg_verdict v, int64_t exp,
	   const char *reason, void *arg)
{
	(void)t;
	(void)exp;
	(void)arg;
	ck_assert_ptr_nonnull(reason);
	ncb++;
	last_cb = v;
	snprintf(last_key, sizeof last_key, "%s", key);
}

/* Defaults plus the figures the scenarios are written against. */
static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	config_defaults(&cfg);
	cfg.max_keys = 65536;
	cfg.half_life_s = 3600;
	cfg.throttle_at = 5;
	cfg.quarantine_at = 10;
	cfg.block_at = 40;
	cfg.hysteresis = 0.3;
	cfg.verdict_ttl_s = 600;
	for (int k = 0; k < FG_KIND__MAX; k++)
		cfg.w_overflow[k] = 2;
	ck_assert_int_eq(
	    config_parse_rate("10/min burst 10",
			      &cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE],
			      NULL),
	    0);
	clock_fake_set(T0_MONO, T0_WALL);
	ncb = 0;
	last_cb = FG_V_ALLOW;
	last_key[0] = '\0';
}

static int
gate(struct policy *p, enum fg_kind kind, const char *from, const char *to,
     const char *ip, int contact, struct pol_answer *a)
{
	struct pol_gate g = {
	    .kind = kind, .from = from, .to = to, .ip = ip, .contact = contact};

	pol_gate(p, &g, a);
	if (!a->allow) {
		ck_assert_ptr_nonnull(a->condition);
		ck_assert_ptr_nonnull(a->text);
	}
	return a->allow;
}

static enum fg_verdict
verdict_of(struct policy *p, enum fg_subj t, const char *key, double *score)
{
	struct pol_info info;

	ck_assert_int_eq(pol_inspect(p, t, key, &info), 0);
	if (score != NULL)
		*score = info.score;
	return info.effective;
}

START_TEST(test_normalise)
{
	char buf[POL_KEY_MAX];

	ck_assert_int_eq(
	    pol_norm_jid("Abupe@Example.ORG/Phone", buf, sizeof buf), 17);
	ck_assert_str_eq(buf, "abupe@example.org");
	ck_assert_int_ne(pol_norm_jid("abupe@example.org.", buf, sizeof buf),
			 -1);
	ck_assert_str_eq(buf, "abupe@example.org");
	ck_assert_int_eq(pol_norm_jid("@example.org", buf, sizeof buf), -1);
	ck_assert_int_eq(pol_norm_jid("a b@example.org", buf, sizeof buf), -1);
	ck_assert_int_eq(pol_norm_jid("a@", buf, sizeof buf), -1);
	ck_assert_int_eq(pol_norm_jid("", buf, sizeof buf), -1);
	ck_assert_int_eq(pol_norm_jid("a@b@c", buf, sizeof buf), -1);
	ck_assert_int_ne(pol_norm_domain("X@Spam.Example/r", buf, sizeof buf),
			 -1);
	ck_assert_str_eq(buf, "spam.example");
	ck_assert_int_ne(pol_norm_ip("::ffff:192.0.2.1", buf, sizeof buf), -1);
	ck_assert_str_eq(buf, "192.0.2.1");
	ck_assert_int_ne(pol_norm_ip("2001:DB8::0:1", buf, sizeof buf), -1);
	ck_assert_str_eq(buf, "2001:db8::1");
	ck_assert_int_eq(pol_norm_ip("192.0.2", buf, sizeof buf), -1);
	ck_assert_int_ne(pol_norm_prefix("192.0.2.77", buf, sizeof buf), -1);
	ck_assert_str_eq(buf, "192.0.2.0/24");
	ck_assert_int_ne(pol_norm_prefix("2001:db8:1:2::5", buf, sizeof buf),
			 -1);
	ck_assert_str_eq(buf, "2001:db8:1::/48");
	ck_assert_int_ne(pol_norm_prefix("192.0.2.0/24", buf, sizeof buf), -1);
	ck_assert_str_eq(buf, "192.0.2.0/24");
	ck_assert_int_eq(pol_norm_prefix("10.0.0.0/16", buf, sizeof buf), -1);
	ck_assert_int_eq(pol_norm_prefix("10.0.0.0/24x", buf, sizeof buf), -1);
}
END_TEST

START_TEST(test_decay_closed_form)
{
	struct policy *p;
	double         sc, hl = cfg.half_life_s * 1000.0;
	int            i;

	ck_assert(fabs(rep_decay(10, (int64_t)hl, hl) - 5) < 1e-12);
	ck_assert(fabs(rep_decay(10, 2 * (int64_t)hl, hl) - 2.5) < 1e-12);
	ck_assert(rep_decay(10, -5000, hl) == 10); /* clock stepped back */
	p = pol_new(&cfg, NULL);
	pol_signal(p, FG_SUBJ_ACCOUNT, "d@example.org", "test", 4);
	for (i = 1; i <= 10; i++) {
		clock_fake_advance_ms(777 * 1000);
		verdict_of(p, FG_SUBJ_ACCOUNT, "d@example.org", &sc);
		ck_assert(fabs(sc - 4 * pow(2, -(777.0 * i) / 3600)) < 1e-9);
	}
	/* adding folds the decay in: 4*2^-t + 1 */
	pol_signal(p, FG_SUBJ_ACCOUNT, "D@Example.org", "test", 1);
	verdict_of(p, FG_SUBJ_ACCOUNT, "d@example.org", &sc);
	ck_assert(fabs(sc - (4 * pow(2, -7770.0 / 3600) + 1)) < 1e-9);
	pol_free(p);
}
END_TEST

/* Up at the threshold at once; down only after the verdict expired and
 * the score fell below threshold x (1 - hysteresis); renewed meanwhile. */
START_TEST(test_hysteresis)
{
	struct policy  *p = pol_new(&cfg, NULL);
	const char     *a = "h@example.org";
	int             changes = 0, i;
	enum fg_verdict prev = FG_V_THROTTLE, v;

	pol_set_verdict_cb(p, verdict_cb, NULL);
	pol_signal(p, FG_SUBJ_ACCOUNT, a, "test", 4.9);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, a, NULL), FG_V_ALLOW);
	pol_signal(p, FG_SUBJ_ACCOUNT, a, "test", 0.2);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, a, NULL),
			 FG_V_THROTTLE);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_cb, FG_V_THROTTLE);
	/* a score wobbling around 5 for hours: one verdict, no flapping */
	for (i = 0; i < 120; i++) {
		clock_fake_advance_ms(60 * 1000);
		if (i % 10 == 0)
			pol_signal(p, FG_SUBJ_ACCOUNT, a, "test", 0.5);
		pol_tick(p);
		v = verdict_of(p, FG_SUBJ_ACCOUNT, a, NULL);
		if (v != prev)
			changes++;
		prev = v;
	}
	ck_assert_int_eq(changes, 0);
	ck_assert_int_eq(prev, FG_V_THROTTLE);
	/* left alone it decays below 3.5 and steps down at an expiry */
	for (i = 0; i < 240; i++) {
		clock_fake_advance_ms(60 * 1000);
		pol_tick(p);
	}
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, a, NULL), FG_V_ALLOW);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	pol_free(p);
}
END_TEST

/* Networks reach throttle at most; addresses may reach block. */
START_TEST(test_prefix_capped)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;

	pol_signal(p, FG_SUBJ_PREFIX, "198.51.100.7", "test", 1000);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_PREFIX, "198.51.100.0/24", NULL),
			 FG_V_THROTTLE);
	pol_signal(p, FG_SUBJ_PREFIX, "2001:db8:7::1", "test", 1000);
	ck_assert_int_eq(
	    verdict_of(p, FG_SUBJ_PREFIX, "2001:db8:7:ffff::9", NULL),
	    FG_V_THROTTLE);
	ck_assert_int_eq(pol_auto_verdict(p, FG_SUBJ_PREFIX, "198.51.100.0/24",
					  FG_V_BLOCK, 60000, "test"),
			 0);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_PREFIX, "198.51.100.0/24", NULL),
			 FG_V_THROTTLE);
	pol_signal(p, FG_SUBJ_IP, "198.51.100.7", "test", 1000);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_IP, "198.51.100.7", NULL),
			 FG_V_BLOCK);
	/* a throttled network slows registrations, it does not refuse the
	 * first one from another address */
	ck_assert(gate(p, FG_KIND_REGISTER, "new@example.org", NULL,
		       "198.51.100.8", 0, &a));
	ck_assert(!gate(p, FG_KIND_REGISTER, "new2@example.org", NULL,
			"198.51.100.7", 0, &a));
	ck_assert_str_eq(a.condition, "not-allowed");
	pol_free(p);
}
END_TEST

/* account.subscribe 10/min burst 10: a fresh account sending 40
 * invitations in a few seconds gets exactly 10 through, ends
 * quarantined, not blocked; a human sending 3 is untouched. */
START_TEST(test_forty_invitations)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;
	struct pol_stats  st;
	char              to[64];
	int               i, allowed = 0, rc = 0, pv = 0;

	pol_set_verdict_cb(p, verdict_cb, NULL);
	for (i = 0; i < 40; i++) {
		snprintf(to, sizeof to, "victim%d@remote.example", i);
		if (gate(p, FG_KIND_SUBSCRIBE, "Spammer@Example.org/bot", to,
			 "203.0.113.5", 0, &a))
			allowed++;
		else if (strcmp(a.condition, "resource-constraint") == 0)
			rc++;
		else if (strcmp(a.condition, "policy-violation") == 0)
			pv++;
		clock_fake_advance_ms(100);
	}
	ck_assert_int_eq(allowed, 10);
	ck_assert_int_eq(rc + pv, 30);
	ck_assert_int_gt(pv, 0); /* later ones refused by the quarantine */
	ck_assert_int_eq(
	    verdict_of(p, FG_SUBJ_ACCOUNT, "spammer@example.org", NULL),
	    FG_V_QUARANTINE);
	ck_assert_int_eq(last_cb, FG_V_QUARANTINE);
	ck_assert_str_eq(last_key, "spammer@example.org");
	/* the address it came from was not blamed for one account */
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_IP, "203.0.113.5", NULL),
			 FG_V_ALLOW);

	for (i = 0; i < 3; i++) {
		ck_assert(gate(p, FG_KIND_SUBSCRIBE, "human@example.org",
			       "friend@remote.example", "203.0.113.9", 0, &a));
		clock_fake_advance_ms(20 * 1000);
	}
	ck_assert_int_eq(
	    verdict_of(p, FG_SUBJ_ACCOUNT, "human@example.org", NULL),
	    FG_V_ALLOW);
	pol_get_stats(p, &st);
	ck_assert_uint_eq(st.gates, 43);
	ck_assert_uint_eq(st.denied, 30);
	ck_assert_uint_eq(st.subjects, 1); /* the human left no trace */
	pol_free(p);
}
END_TEST

/* Quarantined: no invitations, no strangers; contacts keep talking. */
START_TEST(test_quarantine_contacts)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;
	const char       *q = "q@example.org";

	pol_signal(p, FG_SUBJ_ACCOUNT, q, "test", 12);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, q, NULL),
			 FG_V_QUARANTINE);
	ck_assert(
	    !gate(p, FG_KIND_SUBSCRIBE, q, "x@remote.example", NULL, 0, &a));
	ck_assert_str_eq(a.condition, "policy-violation");
	ck_assert_int_eq(a.verdict, FG_V_QUARANTINE);
	ck_assert(!gate(p, FG_KIND_STRANGER_MESSAGE, q, "x@remote.example",
			NULL, 0, &a));
	ck_assert_str_eq(a.condition, "policy-violation");
	ck_assert(
	    gate(p, FG_KIND_MESSAGE, q, "friend@remote.example", NULL, 1, &a));
	ck_assert(gate(p, FG_KIND_STRANGER_MESSAGE, q, "friend@remote.example",
		       NULL, 1, &a));
	/* blocked: everything refused, contacts too */
	pol_signal(p, FG_SUBJ_ACCOUNT, q, "test", 40);
	ck_assert(
	    !gate(p, FG_KIND_MESSAGE, q, "friend@remote.example", NULL, 1, &a));
	ck_assert_int_eq(a.verdict, FG_V_BLOCK);
	pol_free(p);
}
END_TEST

/* A remote account's verdicts: its stranger messages and invitations to
 * our users refused, contacts flow under quarantine, and the refusal
 * names the recipient's server, not "contact the administrator". */
START_TEST(test_remote_account)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;
	const char       *d = "dave@big.example";

	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, d, FG_OVR_QUARANTINE,
				   "admin", "spam", 0),
			 0);
	ck_assert(!gate(p, FG_KIND_INBOUND_STRANGER_MESSAGE, d,
			"alice@example.org", NULL, 0, &a));
	ck_assert_str_eq(a.condition, "policy-violation");
	ck_assert_ptr_nonnull(strstr(a.text, "recipient server"));
	ck_assert(!gate(p, FG_KIND_INBOUND_SUBSCRIBE, d, "alice@example.org",
			NULL, 0, &a));
	ck_assert(gate(p, FG_KIND_INBOUND_STRANGER_MESSAGE, d,
		       "bob@example.org", NULL, 1, &a));
	/* its server's other users are not touched */
	ck_assert(gate(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "carol@big.example",
		       "alice@example.org", NULL, 0, &a));
	ck_assert_int_eq(
	    pol_admin(p, FG_SUBJ_ACCOUNT, d, FG_OVR_BLOCK, "admin", "spam", 0),
	    0);
	ck_assert(!gate(p, FG_KIND_INBOUND_STRANGER_MESSAGE, d,
			"bob@example.org", NULL, 1, &a));
	ck_assert_str_eq(a.text, "This account is blocked by the recipient "
				 "server's anti-spam policy");

	/* an allowlist entry the modules cache must leave them when it
	 * expires, though the effective verdict stays allow */
	pol_set_verdict_cb(p, verdict_cb, NULL);
	ncb = 0;
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "erin@big.example",
				   FG_OVR_ALLOW, "admin", NULL, 3600 * 1000),
			 0);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	clock_fake_advance_ms(3601 * 1000);
	pol_tick(p);
	ck_assert_int_eq(ncb, 2);
	ck_assert_str_eq(last_key, "erin@big.example");
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	pol_free(p);
}
END_TEST

/* Recent signals read newest first, a repeated one said once. */
START_TEST(test_signal_text)
{
	struct policy  *p = pol_new(&cfg, NULL);
	struct pol_info info;
	const char     *u = "s@example.org";

	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "beta", 2);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert_str_eq(info.signals, "alpha=1 beta=2 alpha=1 (2 times)");
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert_str_eq(info.signals, "alpha=1 (4 times)");
	pol_free(p);
}
END_TEST

/* What a replay uses instead of pol_inspect: the score and the signal
 * ring of a normalised key, written as text later, read the same; a
 * key not in normal form, or unknown, reads as nothing. Signal names
 * past the policy's room all read "other". */
START_TEST(test_evidence_replay)
{
	struct policy      *p = pol_new(&cfg, NULL);
	struct pol_info     info;
	struct pol_evidence ev;
	const char         *u = "e@example.org";
	char                buf[POL_SIGTEXT_MAX], name[16];
	uint64_t            h = pol_subject_hash(FG_SUBJ_ACCOUNT, u, strlen(u));
	double              sc;
	int                 i;

	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 1);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "beta", 2.5);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "beta", 2.5);
	sc = pol_score_norm(p, FG_SUBJ_ACCOUNT, u, strlen(u), h, &ev);
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert(sc == info.score);
	ck_assert(sc ==
		  pol_score_norm(p, FG_SUBJ_ACCOUNT, u, strlen(u), 0, NULL));
	ck_assert_str_eq(pol_evidence_text(p, &ev, buf, sizeof buf),
			 info.signals);
	ck_assert_str_eq(buf, "beta=2.5 (2 times) alpha=1");
	/* cut as the whole text would be */
	ck_assert_str_eq(pol_evidence_text(p, &ev, buf, 8), "beta=2.");
	/* the normal form is the caller's to give */
	ck_assert(pol_score_norm(p, FG_SUBJ_ACCOUNT, "E@example.org", 13, 0,
				 &ev) == 0);
	ck_assert_uint_eq(ev.n, 0);
	ck_assert_str_eq(pol_evidence_text(p, &ev, buf, sizeof buf), "");
	for (i = 0; i < 80; i++) {
		snprintf(name, sizeof name, "sig%d", i);
		pol_signal(p, FG_SUBJ_ACCOUNT, u, name, 0.25);
	}
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert_str_eq(info.signals, "other=0.25 (4 times)");
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "alpha", 0.5);
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert_str_eq(info.signals, "alpha=0.5 other=0.25 (3 times)");
	pol_free(p);
}
END_TEST

/* Overrides beat every automatic decision, most specific first. */
START_TEST(test_override_precedence)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;
	struct pol_info   info;
	const char       *u = "o@example.org";
	int               i;

	pol_set_verdict_cb(p, verdict_cb, NULL);
	pol_signal(p, FG_SUBJ_ACCOUNT, u, "test", 100);
	ck_assert(!gate(p, FG_KIND_MESSAGE, u, "f@example.org", NULL, 1, &a));
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "O@Example.org",
				   FG_OVR_ALLOW, "admin@example.org",
				   "known user", 0),
			 0);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	/* allowlisted: not even the bucket applies */
	for (i = 0; i < 30; i++)
		ck_assert(gate(p, FG_KIND_SUBSCRIBE, u, "f@remote.example",
			       NULL, 0, &a));
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert_int_eq(info.verdict, FG_V_BLOCK); /* automatic, beaten */
	ck_assert_int_eq(info.effective, FG_V_ALLOW);
	ck_assert_int_eq(info.override, FG_OVR_ALLOW);
	ck_assert_str_eq(info.actor, "admin@example.org");
	ck_assert_str_eq(info.reason, "known user");
	ck_assert_ptr_nonnull(strstr(info.signals, "test=100"));

	/* an allowlisted account behind a blocked address gets through; a
	 * blocked account behind an allowlisted address does not */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_IP, "192.0.2.66", FG_OVR_BLOCK,
				   "admin@example.org", "abuse", 0),
			 0);
	ck_assert(gate(p, FG_KIND_SUBSCRIBE, u, "f@remote.example",
		       "192.0.2.66", 0, &a));
	ck_assert(!gate(p, FG_KIND_SUBSCRIBE, "other@example.org",
			"f@remote.example", "192.0.2.66", 0, &a));
	ck_assert_int_eq(a.verdict, FG_V_BLOCK);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "bad@example.org",
				   FG_OVR_BLOCK, "admin@example.org", "spam",
				   0),
			 0);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_IP, "192.0.2.67", FG_OVR_ALLOW,
				   "admin@example.org", "office", 0),
			 0);
	ck_assert(!gate(p, FG_KIND_MESSAGE, "bad@example.org", "f@example.org",
			"192.0.2.67", 1, &a));
	/* a manual quarantine beats an automatic block */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, u, FG_OVR_QUARANTINE,
				   "admin@example.org", "review", 0),
			 0);
	ck_assert(gate(p, FG_KIND_MESSAGE, u, "f@example.org", NULL, 1, &a));
	ck_assert(
	    !gate(p, FG_KIND_SUBSCRIBE, u, "f@remote.example", NULL, 0, &a));
	/* unblock: back to a clean automatic state, fresh allowance */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, u, FG_OVR_NONE,
				   "admin@example.org", NULL, 0),
			 0);
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, u, &info), 0);
	ck_assert_int_eq(info.effective, FG_V_ALLOW);
	ck_assert(info.score == 0);
	for (i = 0; i < 10; i++)
		ck_assert(gate(p, FG_KIND_SUBSCRIBE, u, "f@remote.example",
			       NULL, 0, &a));
	/* a timed override lapses at a tick */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "t@example.org",
				   FG_OVR_BLOCK, "admin@example.org",
				   "cool down", 60000),
			 0);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, "t@example.org", NULL),
			 FG_V_BLOCK);
	clock_fake_advance_ms(61000);
	pol_tick(p);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, "t@example.org", NULL),
			 FG_V_ALLOW);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "not a jid",
				   FG_OVR_BLOCK, "admin@example.org", "x", 0),
			 -1);
	pol_free(p);
}
END_TEST

/* Many spam accounts of one remote domain: the domain bucket overflows,
 * the domain goes throttle, then quarantine, and then its invitations are
 * refused outright while its users' messages to contacts flow. */
START_TEST(test_domain_flood)
{
	struct policy    *p;
	struct pol_answer a;
	char              from[64];
	int               i, seen_throttle = 0;

	ck_assert_int_eq(
	    config_parse_rate(
		"20/min burst 20",
		&cfg.limits[FG_SUBJ_DOMAIN][FG_KIND_INBOUND_SUBSCRIBE], NULL),
	    0);
	p = pol_new(&cfg, NULL);
	for (i = 0; i < 200; i++) {
		snprintf(from, sizeof from, "bot%d@Spam.Example", i);
		gate(p, FG_KIND_INBOUND_SUBSCRIBE, from, "alice@example.org",
		     NULL, 0, &a);
		if (verdict_of(p, FG_SUBJ_DOMAIN, "spam.example", NULL) ==
		    FG_V_THROTTLE)
			seen_throttle = 1;
		clock_fake_advance_ms(200);
	}
	ck_assert(seen_throttle);
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_DOMAIN, "spam.example", NULL),
			 FG_V_QUARANTINE);
	ck_assert(!gate(p, FG_KIND_INBOUND_SUBSCRIBE, "new@spam.example",
			"bob@example.org", NULL, 0, &a));
	ck_assert_str_eq(a.condition, "policy-violation");
	ck_assert(!gate(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "new@spam.example",
			"bob@example.org", NULL, 0, &a));
	ck_assert(gate(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "old@spam.example",
		       "bob@example.org", NULL, 1, &a));
	/* other domains are untouched */
	ck_assert(gate(p, FG_KIND_INBOUND_SUBSCRIBE, "carol@good.example",
		       "bob@example.org", NULL, 0, &a));
	pol_free(p);
}
END_TEST

/* Registrations: a quarantined address is refused with not-allowed; a
 * throttled one gets the tighter allowance. */
START_TEST(test_register)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;
	int               i, n;

	ck_assert_int_eq(pol_admin(p, FG_SUBJ_IP, "192.0.2.10",
				   FG_OVR_QUARANTINE, "admin@example.org",
				   "bot farm", 0),
			 0);
	ck_assert(!gate(p, FG_KIND_REGISTER, "x@example.org", NULL,
			"192.0.2.10", 0, &a));
	ck_assert_str_eq(a.condition, "not-allowed");
	/* ip.register default: 5/hour burst 3; an address that keeps
	 * trying ends quarantined itself */
	for (n = 0, i = 0; i < 10; i++) {
		n += gate(p, FG_KIND_REGISTER, "y@example.org", NULL,
			  "192.0.2.20", 0, &a);
		if (i == 3)
			ck_assert_str_eq(a.condition, "resource-constraint");
	}
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(a.condition, "not-allowed");
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_IP, "192.0.2.20", NULL),
			 FG_V_QUARANTINE);
	pol_signal(p, FG_SUBJ_IP, "192.0.2.30", "test", 6);
	for (n = 0, i = 0; i < 10; i++)
		n += gate(p, FG_KIND_REGISTER, "z@example.org", NULL,
			  "192.0.2.30", 0, &a);
	ck_assert_int_eq(n, 1); /* burst 3 / 4 -> 1 while throttled */
	ck_assert(!gate(p, FG_KIND_SUBSCRIBE, "not a jid", "x@example.org",
			NULL, 0, &a));
	ck_assert_str_eq(a.condition, "jid-malformed");
	pol_free(p);
}
END_TEST

/* A quarantine expires once the score has decayed, and is renewed while
 * the account keeps flooding. */
START_TEST(test_expiry_and_renewal)
{
	struct policy    *p = pol_new(&cfg, NULL);
	struct pol_answer a;
	struct pol_info   info;
	int               i, j;

	for (i = 0; i < 40; i++)
		gate(p, FG_KIND_SUBSCRIBE, "r@example.org", "v@remote.example",
		     NULL, 0, &a);
	ck_assert_int_eq(
	    pol_inspect(p, FG_SUBJ_ACCOUNT, "r@example.org", &info), 0);
	ck_assert_int_eq(info.effective, FG_V_QUARANTINE);
	ck_assert_int_eq(info.expires, T0_WALL + 600 * 1000);
	ck_assert(info.score <= 25.0 + 1e-9); /* overflow ceiling */
	/* keeps hammering for 3 h: still quarantined, never blocked */
	for (i = 0; i < 180; i++) {
		clock_fake_advance_ms(60 * 1000);
		for (j = 0; j < 20; j++)
			gate(p, FG_KIND_SUBSCRIBE, "r@example.org",
			     "v@remote.example", NULL, 0, &a);
		pol_tick(p);
		ck_assert_int_eq(
		    verdict_of(p, FG_SUBJ_ACCOUNT, "r@example.org", NULL),
		    FG_V_QUARANTINE);
	}
	/* then stops: after enough half-lives it is free again */
	for (i = 0; i < 24 * 6; i++) {
		clock_fake_advance_ms(600 * 1000);
		pol_tick(p);
	}
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, "r@example.org", NULL),
			 FG_V_ALLOW);
	pol_free(p);
}
END_TEST

/* The subject table stays within its cap under a flood of distinct
 * scored keys, and never drops a subject that carries a verdict. */
START_TEST(test_subjects_bounded)
{
	struct policy   *p;
	struct pol_stats st;
	char             key[64];
	int              i;

	cfg.max_keys = 4096 * 4; /* subject cap 4096 */
	p = pol_new(&cfg, NULL);
	pol_signal(p, FG_SUBJ_ACCOUNT, "keep@example.org", "test", 12);
	for (i = 0; i < 40000; i++) {
		snprintf(key, sizeof key, "bot%d@example.org", i);
		pol_signal(p, FG_SUBJ_ACCOUNT, key, "test",
			   0.5 + (i % 7) * 0.1);
	}
	pol_get_stats(p, &st);
	ck_assert_uint_le(st.subjects, 4096);
	ck_assert_uint_ge(st.subject_evictions, 40000 - 4096);
	ck_assert_int_eq(
	    verdict_of(p, FG_SUBJ_ACCOUNT, "keep@example.org", NULL),
	    FG_V_QUARANTINE);
	pol_free(p);
}
END_TEST

/* Restart: pol_free, then pol_new on the same store file decides the
 * same; the verdict change was audited. */
static int naudit;
static void
audit_cb(const struct store_audit *au, void *arg)
{
	(void)arg;
	if (au->new_verdict == FG_V_QUARANTINE &&
	    strcmp(au->actor, "auto") == 0 && au->signals != NULL &&
	    strstr(au->signals, "overflow-subscribe") != NULL)
		naudit++;
}

static int nlisted;
static void
listed_cb(const struct pol_info *info, void *arg)
{
	(void)arg;
	nlisted++;
	ck_assert_int_ne(info->effective, FG_V_ALLOW);
}

START_TEST(test_restart_through_store)
{
	char              db[160];
	struct store     *st;
	struct policy    *p;
	struct pol_answer a;
	struct pol_info   info;
	int               i;

	tu_tmpdb(db, sizeof db, "check_policy");
	st = store_open(db);
	ck_assert_ptr_nonnull(st);
	p = pol_new(&cfg, st);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 40; i++)
		gate(p, FG_KIND_SUBSCRIBE, "s@example.org", "v@remote.example",
		     NULL, 0, &a);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_DOMAIN, "Spam.Example",
				   FG_OVR_BLOCK, "admin@example.org",
				   "known spam host", 0),
			 0);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "vip@example.org",
				   FG_OVR_ALLOW, "admin@example.org", "vip", 0),
			 0);
	pol_signal(p, FG_SUBJ_ACCOUNT, "w@example.org", "test", 2);
	pol_tick(p);
	pol_free(p);
	store_close(st);

	clock_fake_advance_ms(1000);
	st = store_open(db);
	ck_assert_ptr_nonnull(st);
	p = pol_new(&cfg, st);
	ck_assert_ptr_nonnull(p);
	ck_assert(!gate(p, FG_KIND_SUBSCRIBE, "s@example.org",
			"v@remote.example", NULL, 0, &a));
	ck_assert_str_eq(a.condition, "policy-violation");
	ck_assert_int_eq(verdict_of(p, FG_SUBJ_ACCOUNT, "s@example.org", NULL),
			 FG_V_QUARANTINE);
	ck_assert(!gate(p, FG_KIND_INBOUND_SUBSCRIBE, "x@spam.example",
			"bob@example.org", NULL, 0, &a));
	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_DOMAIN, "spam.example", &info),
			 0);
	ck_assert_int_eq(info.effective, FG_V_BLOCK);
	ck_assert_str_eq(info.actor, "admin@example.org");
	ck_assert_str_eq(info.reason, "known spam host");
	ck_assert_int_eq(
	    pol_inspect(p, FG_SUBJ_ACCOUNT, "w@example.org", &info), 0);
	ck_assert(fabs(info.score - 2 * pow(2, -1.0 / 3600)) < 1e-6);
	nlisted = 0;
	pol_foreach_listed(p, listed_cb, NULL);
	ck_assert_int_eq(nlisted, 2); /* s@ quarantined, spam.example */
	naudit = 0;
	ck_assert_int_eq(store_audit_recent(st, FG_SUBJ_ACCOUNT,
					    "s@example.org", 10, audit_cb,
					    NULL),
			 0);
	ck_assert_int_eq(naudit, 1);
	pol_free(p);
	store_close(st);
	tu_rmdb(db);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("policy");
	TCase   *tc = tcase_create("core");
	TCase   *ts = tcase_create("store");
	SRunner *sr;
	int      nf;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_checked_fixture(ts, setup, NULL);
	tcase_add_test(tc, test_normalise);
	tcase_add_test(tc, test_signal_text);
	tcase_add_test(tc, test_evidence_replay);
	tcase_add_test(tc, test_decay_closed_form);
	tcase_add_test(tc, test_hysteresis);
	tcase_add_test(tc, test_prefix_capped);
	tcase_add_test(tc, test_forty_invitations);
	tcase_add_test(tc, test_quarantine_contacts);
	tcase_add_test(tc, test_remote_account);
	tcase_add_test(tc, test_override_precedence);
	tcase_add_test(tc, test_domain_flood);
	tcase_add_test(tc, test_register);
	tcase_add_test(tc, test_expiry_and_renewal);
	tcase_add_test(tc, test_subjects_bounded);
	tcase_add_test(ts, test_restart_through_store);
	tcase_set_timeout(tc, 30);
	tcase_set_timeout(ts, 30);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, ts);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
