/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for policy/shared.c: what an instance does with
 * a subject another instance sharing the store changed. Adopted and
 * pushed when newer, ignored when ours is newer, an unknown allow costs
 * nothing, a lift empties the subject's rate buckets here too.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "policy/policy.h"
#include "storage/store.h"

#define T0_MONO 1000000000000ull /* ns */
#define T0_WALL 1700000000000ll  /* unix ms */

static struct fg_config cfg;
static int              ncb;
static enum fg_verdict  last_cb;

static void
verdict_cb(enum fg_subj t, const char *key, enum fg_verdict v, int64_t exp,
	   const char *reason, void *arg)
{
	ck_assert_ptr_nonnull(reason);
	ncb++;
	last_cb = v;
}

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	config_defaults(&cfg);
	cfg.max_keys = 65536;
	ck_assert_int_eq(
	    config_parse_rate("3/min burst 3",
			      &cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE],
			      NULL),
	    0);
	clock_fake_set(T0_MONO, T0_WALL);
	ncb = 0;
	last_cb = FG_V_ALLOW;
}

static struct store_subject
row(const char *key, enum fg_verdict v, enum fg_override o, int64_t updated)
{
	struct store_subject s = {
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .score = 12,
	    .score_at = updated,
	    .verdict = v,
	    .expires = updated + 600000,
	    .override = o,
	    .actor = o != FG_OVR_NONE ? "admin@example.org" : NULL,
	    .reason = "from the other instance",
	    .updated = updated,
	};
	return s;
}

static enum fg_verdict
effective(struct policy *p, const char *key)
{
	struct pol_info info;

	ck_assert_int_eq(pol_inspect(p, FG_SUBJ_ACCOUNT, key, &info), 0);
	return info.effective;
}

START_TEST(test_adopt_and_push)
{
	struct policy       *p = pol_new(&cfg, NULL);
	struct store_subject r =
	    row("bot@example.org", FG_V_QUARANTINE, FG_OVR_NONE, T0_WALL);

	pol_set_verdict_cb(p, verdict_cb, NULL);
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_cb, FG_V_QUARANTINE);
	ck_assert_int_eq(effective(p, "bot@example.org"), FG_V_QUARANTINE);
	/* the same state again pushes nothing */
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 1);
	/* an override wins over the automatic verdict */
	r = row("bot@example.org", FG_V_QUARANTINE, FG_OVR_BLOCK, T0_WALL + 10);
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 2);
	ck_assert_int_eq(effective(p, "bot@example.org"), FG_V_BLOCK);
	/* keys are normalised as ours are */
	r = row("BOT@Example.ORG", FG_V_ALLOW, FG_OVR_NONE, T0_WALL + 20);
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 3);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	pol_free(p);
}
END_TEST

START_TEST(test_ours_newer)
{
	struct policy       *p = pol_new(&cfg, NULL);
	struct store_subject r;

	pol_set_verdict_cb(p, verdict_cb, NULL);
	clock_fake_set(T0_MONO, T0_WALL + 5000);
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "x@example.org",
				   FG_OVR_BLOCK, "me", "mine", 0),
			 0);
	ncb = 0;
	/* a row written before our admin action does not undo it */
	r = row("x@example.org", FG_V_ALLOW, FG_OVR_NONE, T0_WALL);
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 0);
	ck_assert_int_eq(effective(p, "x@example.org"), FG_V_BLOCK);
	/* but an admin action elsewhere wins, however old its time */
	r.admin = 1;
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(effective(p, "x@example.org"), FG_V_ALLOW);
	pol_free(p);
}
END_TEST

START_TEST(test_unknown_allow_and_bad_rows)
{
	struct policy       *p = pol_new(&cfg, NULL);
	struct store_subject r =
	    row("new@example.org", FG_V_ALLOW, FG_OVR_NONE, T0_WALL);
	struct pol_stats st;

	pol_set_verdict_cb(p, verdict_cb, NULL);
	pol_shared_change(&r, p);
	pol_get_stats(p, &st);
	ck_assert_uint_eq(st.subjects, 0);
	r.verdict = (enum fg_verdict)99;
	pol_shared_change(&r, p);
	r = row("not a jid", FG_V_BLOCK, FG_OVR_NONE, T0_WALL);
	pol_shared_change(&r, p);
	r.key = NULL;
	pol_shared_change(&r, p);
	ck_assert_int_eq(ncb, 0);
	pol_free(p);
}
END_TEST

/* A lift decided elsewhere gives the account a fresh allowance here, as
 * an unblock on this instance would. */
START_TEST(test_lift_empties_buckets)
{
	struct policy       *p = pol_new(&cfg, NULL);
	struct pol_gate      g = {.kind = FG_KIND_SUBSCRIBE,
				  .from = "bot@example.org",
				  .to = "x@example.org"};
	struct pol_answer    a;
	struct store_subject r;
	int                  i, passed = 0;

	for (i = 0; i < 3; i++) {
		pol_gate(p, &g, &a);
		passed += a.allow;
	}
	pol_gate(p, &g, &a);
	ck_assert_int_eq(a.allow, 0);
	r = row("bot@example.org", FG_V_QUARANTINE, FG_OVR_NONE, T0_WALL + 1);
	pol_shared_change(&r, p);
	r = row("bot@example.org", FG_V_ALLOW, FG_OVR_NONE, T0_WALL + 2);
	r.score = 0;
	pol_shared_change(&r, p);
	pol_gate(p, &g, &a);
	ck_assert_int_eq(a.allow, 1);
	ck_assert_int_eq(passed, 3);
	pol_free(p);
}
END_TEST

static Suite *
shared_suite(void)
{
	Suite *s = suite_create("pol_shared");
	TCase *tc = tcase_create("shared");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_adopt_and_push);
	tcase_add_test(tc, test_ours_newer);
	tcase_add_test(tc, test_unknown_allow_and_bad_rows);
	tcase_add_test(tc, test_lift_empties_buckets);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(shared_suite());
	int      failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
