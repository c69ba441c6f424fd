/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for observe mode, per-detector enforce and the
 * per-reason actions (policy/verdict.c, policy/policy.c): a flood in
 * observe mode is let through but its verdict computed, counted and kept
 * from the modules; a detector with enforce = no only observes while the
 * rate limits still act; an observed verdict stays observed across a
 * restart; [actions] drop marks gate answers and inspect; the note
 * callback hears of automatic verdicts (marked would) and trap hits.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "policy/policy.h"
#include "policy/policy_int.h"
#include "storage/store.h"
#include "tests/testutil.h"

#define T0_MONO 1000000000000ull /* ns */
#define T0_WALL 1700000000000ll  /* unix ms */

static struct fg_config cfg;
static int              ncb;   /* verdict pushes */
static int              nnote; /* notes */
static struct pol_note  last_note;

static void
verdict_cb(enum fg_subj t, const char *key, enum fg_verdict v, int64_t exp,
	   const char *reason, void *arg)
{
	(void)t, (void)key, (void)v, (void)exp, (void)reason, (void)arg;
	ncb++;
}

static void
note_cb(const struct pol_note *n, void *arg)
{
	(void)arg;
	nnote++;
	last_note = *n;
	last_note.key = NULL; /* borrowed */
	last_note.text = NULL;
}

static void
setup(void)
{
	config_defaults(&cfg);
	cfg.max_keys = 65536;
	cfg.half_life_s = 3600;
	cfg.verdict_ttl_s = 600;
	config_parse_rate("10/min burst 10",
			  &cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE],
			  NULL);
	clock_fake_set(T0_MONO, T0_WALL);
	ncb = nnote = 0;
	memset(&last_note, 0, sizeof last_note);
}

static void
teardown(void)
{
	free(cfg.comp_server);
	cfg.comp_server = NULL;
}

static struct policy *
mkpol(struct store *st)
{
	struct policy *p = pol_new(&cfg, st);

	ck_assert_ptr_nonnull(p);
	pol_set_verdict_cb(p, verdict_cb, NULL);
	pol_set_note_cb(p, note_cb, NULL);
	return p;
}

static int
invite(struct policy *p, const char *from, struct pol_answer *a)
{
	struct pol_gate g = {
	    .kind = FG_KIND_SUBSCRIBE, .from = from, .to = "v@remote.example"};

	pol_gate(p, &g, a);
	return a->allow;
}

/* Forty invitations a minute: enforce mode throttles, quarantines and refuses;
 * observe mode computes the same verdict, refuses nothing, pushes
 * nothing, and counts what it would have refused. */
START_TEST(test_observe_flood)
{
	struct policy    *p;
	struct pol_answer a;
	struct pol_info   info;
	struct pol_stats  st;
	int               i, allowed = 0;

	cfg.observe = 1;
	p = mkpol(NULL);
	for (i = 0; i < 40; i++)
		allowed += invite(p, "bot@example.org", &a);
	ck_assert_int_eq(allowed, 40);
	ck_assert_int_eq(
	    pol_inspect(p, FG_SUBJ_ACCOUNT, "bot@example.org", &info), 0);
	ck_assert_int_eq(info.effective, FG_V_QUARANTINE);
	ck_assert_int_eq(info.enforced, FG_V_ALLOW);
	ck_assert_int_eq(ncb, 0);
	ck_assert_int_eq(nnote, 1);
	ck_assert_int_eq(last_note.what, POL_NOTE_VERDICT);
	ck_assert_int_eq(last_note.verdict, FG_V_QUARANTINE);
	ck_assert_int_eq(last_note.would, 1);
	pol_get_stats(p, &st);
	ck_assert_int_eq(st.denied, 0);
	ck_assert_uint_eq(st.would[FG_V_THROTTLE] + st.would[FG_V_QUARANTINE],
			  30);
	ck_assert_uint_gt(st.would[FG_V_QUARANTINE], 0);
	pol_free(p);

	/* the same in enforce mode refuses 30 and pushes the quarantine */
	cfg.observe = 0;
	ncb = nnote = 0;
	p = mkpol(NULL);
	for (allowed = i = 0; i < 40; i++)
		allowed += invite(p, "bot@example.org", &a);
	ck_assert_int_eq(allowed, 10);
	ck_assert_int_eq(ncb, 2); /* throttle, then quarantine */
	ck_assert_int_eq(last_note.would, 0);
	pol_get_stats(p, &st);
	ck_assert_uint_eq(st.would[FG_V_QUARANTINE], 0);
	pol_free(p);
}
END_TEST

/* A content wave with [detect.content] enforce = no: senders are scored
 * and quarantined on paper, their messages delivered; an admin's block
 * still acts. */
START_TEST(test_detector_enforce_no)
{
	struct policy    *p;
	struct pol_answer a;
	struct pol_info   info;
	struct pol_stats  st;
	char              from[64];
	int               i, r, allowed = 0;

	cfg.enforce[FG_DET_CONTENT] = 0;
	p = mkpol(NULL);
	for (r = 0; r < 3; r++)
		for (i = 0; i < 6; i++) {
			struct pol_gate g = {.kind = FG_KIND_STRANGER_MESSAGE,
					     .from = from,
					     .to = "alice@remote.example",
					     .fp = "0123456789abcdef"};

			snprintf(from, sizeof from, "bot%d@example.org", i);
			pol_gate(p, &g, &a);
			allowed += a.allow;
		}
	ck_assert_int_eq(allowed, 18);
	ck_assert_int_eq(
	    pol_inspect(p, FG_SUBJ_ACCOUNT, "bot0@example.org", &info), 0);
	ck_assert_int_ge(info.effective, FG_V_QUARANTINE);
	ck_assert_int_eq(info.enforced, FG_V_ALLOW);
	pol_get_stats(p, &st);
	ck_assert_uint_gt(st.would[FG_V_QUARANTINE], 0);
	ck_assert_int_eq(ncb, 0);
	/* an admin confirming the block makes it enforced */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "bot0@example.org",
				   FG_OVR_BLOCK, "admin@example.org", "seen",
				   0),
			 0);
	ck_assert_int_eq(ncb, 1);
	ck_assert(!invite(p, "bot0@example.org", &a));
	pol_free(p);
}
END_TEST

/* [actions]: an admin block with block = drop is refused silently, a
 * quarantine with quarantine = bounce with an error; a rate refusal is
 * always an error (the sender should retry). */
START_TEST(test_actions)
{
	struct policy    *p;
	struct pol_answer a;
	struct pol_info   info;
	int               i;

	cfg.drop[FG_CAUSE_BLOCK] = 1;
	p = mkpol(NULL);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "b@example.org",
				   FG_OVR_BLOCK, "admin@example.org", "spam",
				   0),
			 0);
	ck_assert(!invite(p, "b@example.org", &a));
	ck_assert_int_eq(a.drop, 1);
	ck_assert_int_eq(a.cause, FG_CAUSE_BLOCK);
	ck_assert_int_eq(
	    pol_inspect(p, FG_SUBJ_ACCOUNT, "b@example.org", &info), 0);
	ck_assert_int_eq(info.drop, 1);
	for (i = 0; i < 40; i++)
		invite(p, "q@example.org", &a);
	ck_assert(!a.allow);
	ck_assert_int_eq(a.verdict, FG_V_QUARANTINE);
	ck_assert_int_eq(a.drop, 0);
	ck_assert_int_eq(a.cause, FG_CAUSE_QUARANTINE);
	for (i = 0; i < 11; i++)
		invite(p, "r@example.org", &a);
	ck_assert_str_eq(a.condition, "resource-constraint");
	ck_assert_int_eq(a.drop, 0);
	pol_free(p);
}
END_TEST

/* An observed verdict stays observed after a restart through the store,
 * and enforce mode then makes nothing of it until a new raise. */
START_TEST(test_observe_restart)
{
	char              db[160];
	struct store     *st;
	struct policy    *p;
	struct pol_answer a;
	struct pol_info   info;
	int               i;

	tu_tmpdb(db, sizeof db, "check_observe");
	cfg.observe = 1;
	st = store_open(db);
	ck_assert_ptr_nonnull(st);
	p = mkpol(st);
	for (i = 0; i < 40; i++)
		invite(p, "bot@example.org", &a);
	pol_tick(p);
	pol_free(p);
	store_close(st);

	cfg.observe = 0;
	st = store_open(db);
	ck_assert_ptr_nonnull(st);
	p = mkpol(st);
	ck_assert_int_eq(
	    pol_inspect(p, FG_SUBJ_ACCOUNT, "bot@example.org", &info), 0);
	ck_assert_int_eq(info.effective, FG_V_QUARANTINE);
	ck_assert_int_eq(info.enforced, FG_V_ALLOW);
	ck_assert(invite(p, "bot@example.org", &a));
	pol_free(p);
	store_close(st);
	tu_rmdb(db);
}
END_TEST

START_TEST(test_trap_note)
{
	struct policy *p = mkpol(NULL);

	pol_trap_hit(p, FG_SUBJ_IP, "192.0.2.7", "admin");
	ck_assert_int_eq(nnote, 1);
	ck_assert_int_eq(last_note.what, POL_NOTE_TRAP);
	ck_assert_int_eq(last_note.type, FG_SUBJ_IP);
	ck_assert_int_eq(last_note.would, 0);
	pol_free(p);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("observe");
	TCase   *tc = tcase_create("core");
	SRunner *sr;
	int      nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_observe_flood);
	tcase_add_test(tc, test_detector_enforce_no);
	tcase_add_test(tc, test_actions);
	tcase_add_test(tc, test_observe_restart);
	tcase_add_test(tc, test_trap_note);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
