/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the store's write-behind queue
 * (storage/queue.c): collapsing subjects, order, the cap, and taking the
 * oldest rows off in pieces as the PostgreSQL store does with a long
 * queue.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/types.h"
#include "storage/queue.h"

static struct store_subject
subj(const char *key, double score)
{
	struct store_subject s = {.type = FG_SUBJ_ACCOUNT,
				  .key = key,
				  .score = score,
				  .verdict = FG_V_THROTTLE,
				  .override = FG_OVR_NONE,
				  .updated = 1};
	return s;
}

START_TEST(test_collapse_and_order)
{
	struct store_q           *q = store_q_new();
	struct store_subject      e = subj("a@x", 1);
	struct store_audit        a = {.type = FG_SUBJ_ACCOUNT, .key = "a@x"};
	struct store_registration r = {"n@x", NULL, 5};

	ck_assert_int_eq(store_q_subject(q, &e), 0);
	e.score = 2;
	ck_assert_int_eq(store_q_subject(q, &e), 0);
	ck_assert_int_eq(store_q_audit(q, &a), 0);
	ck_assert_int_eq(store_q_registration(q, &r), 0);
	ck_assert_uint_eq(store_q_len(q), 3);
	ck_assert_double_eq(store_q_subject_at(q, 0)->score, 2);
	store_q_free(q);
}
END_TEST

START_TEST(test_take_in_pieces)
{
	struct store_q           *q = store_q_new(), *out;
	struct store_subject      e;
	struct store_audit        a = {.type = FG_SUBJ_ACCOUNT};
	struct store_registration r = {"n@x", NULL, 0};
	char                      key[32];
	size_t                    total = 0, i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "u%zu@x", i);
		e = subj(key, (double)i);
		ck_assert_int_eq(store_q_subject(q, &e), 0);
		a.key = key;
		a.at = (int64_t)i;
		ck_assert_int_eq(store_q_audit(q, &a), 0);
		r.at = (int64_t)i;
		ck_assert_int_eq(store_q_registration(q, &r), 0);
	}
	/* the oldest first: subjects, then audit rows, then registrations */
	out = store_q_new();
	ck_assert_uint_eq(store_q_take(q, 700, out), 700);
	ck_assert_uint_eq(store_q_nsubjects(out), 700);
	ck_assert_str_eq(store_q_subject_at(out, 699)->key, "u699@x");
	ck_assert_str_eq(store_q_subject_at(q, 0)->key, "u700@x");
	/* what stayed is still indexed: a newer state collapses into it */
	e = subj("u900@x", 9999);
	ck_assert_int_eq(store_q_subject(q, &e), 0);
	ck_assert_uint_eq(store_q_nsubjects(q), 300);
	ck_assert_double_eq(store_q_subject_at(q, 200)->score, 9999);
	/* and so is what moved */
	e = subj("u10@x", -1);
	ck_assert_int_eq(store_q_subject(out, &e), 0);
	ck_assert_uint_eq(store_q_nsubjects(out), 700);
	total += store_q_len(out);
	store_q_free(out);
	out = store_q_new();
	ck_assert_uint_eq(store_q_take(q, 1000, out), 1000);
	ck_assert_uint_eq(store_q_nsubjects(out), 300);
	ck_assert_uint_eq(store_q_naudit(out), 700);
	ck_assert_int_eq(store_q_audit_at(out, 0)->at, 0);
	total += store_q_len(out);
	store_q_free(out);
	out = store_q_new();
	ck_assert_uint_eq(store_q_take(q, 5000, out), 1300);
	ck_assert_int_eq(store_q_audit_at(out, 0)->at, 700);
	ck_assert_int_eq(store_q_reg_at(out, 999)->at, 999);
	total += store_q_len(out);
	ck_assert_uint_eq(total, 3000);
	ck_assert_uint_eq(store_q_len(q), 0);
	ck_assert_uint_eq(store_q_take(q, 10, out), 0);
	store_q_free(out);
	store_q_free(q);
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("store_queue");
	TCase *tc = tcase_create("queue");

	tcase_add_test(tc, test_collapse_and_order);
	tcase_add_test(tc, test_take_in_pieces);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	int      failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
