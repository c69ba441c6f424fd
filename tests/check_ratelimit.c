/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for core/ratelimit: GCRA exactness (burst, steady
 * rate, refill after idle, time going backwards), the hard cap with
 * eviction of the least-indebted entry, a flood of distinct keys, and the
 * incremental sweep.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ratelimit.h"

#define SEC 1000000000ull /* ns */

/* 10/min burst 10: T = 6 s, tau = 54 s. */
static uint64_t T, tau;

static void
setup_rate(void)
{
	rl_rate(10, 60000, 10, &T, &tau);
}

START_TEST(test_rate_math)
{
	uint64_t t, u;

	setup_rate();
	ck_assert_uint_eq(T, 6 * SEC);
	ck_assert_uint_eq(tau, 54 * SEC);
	rl_rate(0, 60000, 10, &t, &u);
	ck_assert_uint_eq(t, 0);
	rl_rate(3, 1000, 0, &t, &u); /* burst 0 reads as 1 */
	ck_assert_uint_eq(t, 333333333ull);
	ck_assert_uint_eq(u, 0);
}
END_TEST

START_TEST(test_burst_then_steady)
{
	struct rl_table *t = rl_new(100);
	uint64_t k = rl_key(FG_KIND_SUBSCRIBE, FG_SUBJ_ACCOUNT, "a@x", 3);
	uint64_t now = 1000 * SEC, retry;
	int      i;

	setup_rate();
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(rl_take(t, k, now, T, tau, NULL), 1);
	ck_assert_int_eq(rl_take(t, k, now, T, tau, &retry), 0);
	ck_assert_uint_eq(retry, 6 * SEC); /* one emission interval */
	/* one ns too early is still refused, on time is allowed */
	ck_assert_int_eq(rl_take(t, k, now + 6 * SEC - 1, T, tau, &retry), 0);
	ck_assert_uint_eq(retry, 1);
	ck_assert_int_eq(rl_take(t, k, now + 6 * SEC, T, tau, NULL), 1);
	ck_assert_int_eq(rl_take(t, k, now + 6 * SEC, T, tau, NULL), 0);
	/* steady: exactly one every T */
	for (i = 2; i < 50; i++) {
		ck_assert_int_eq(rl_take(t, k, now + i * 6 * SEC, T, tau, NULL),
				 1);
		ck_assert_int_eq(rl_take(t, k, now + i * 6 * SEC, T, tau, NULL),
				 0);
	}
	rl_free(t);
}
END_TEST

START_TEST(test_refill_after_idle)
{
	struct rl_table *t = rl_new(100);
	uint64_t k = rl_key(FG_KIND_SUBSCRIBE, FG_SUBJ_ACCOUNT, "a@x", 3);
	uint64_t now = 1000 * SEC;
	int      i, n;

	setup_rate();
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(rl_take(t, k, now, T, tau, NULL), 1);
	/* 30 s idle refills 5 tokens */
	now += 30 * SEC;
	for (n = 0; rl_take(t, k, now, T, tau, NULL); n++)
		;
	ck_assert_int_eq(n, 5);
	/* a long idle refills the whole burst, and no more */
	now += 3600 * SEC;
	for (n = 0; rl_take(t, k, now, T, tau, NULL); n++)
		;
	ck_assert_int_eq(n, 10);
	rl_free(t);
}
END_TEST

START_TEST(test_time_backwards)
{
	struct rl_table *t = rl_new(100);
	uint64_t k = rl_key(FG_KIND_SUBSCRIBE, FG_SUBJ_ACCOUNT, "a@x", 3);
	uint64_t now = 1000 * SEC, tat1, tat2, retry;
	int      i;

	setup_rate();
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(rl_take(t, k, now, T, tau, NULL), 1);
	ck_assert(rl_peek(t, k, &tat1));
	/* an earlier time reads as the latest seen: 5 more, then refused */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(rl_take(t, k, now - 500 * SEC, T, tau, NULL),
				 1);
	ck_assert_int_eq(rl_take(t, k, 0, T, tau, &retry), 0);
	ck_assert_uint_eq(retry, 6 * SEC);
	ck_assert(rl_peek(t, k, &tat2));
	ck_assert_uint_eq(tat2, tat1 + 5 * T);
	/* the sweep does not reclaim with a past time either */
	ck_assert_uint_eq(rl_sweep(t, 0, 1000), 0);
	ck_assert(rl_peek(t, k, NULL));
	rl_free(t);
}
END_TEST

START_TEST(test_unlimited_untracked)
{
	struct rl_table *t = rl_new(10);
	struct rl_stats  st;
	int              i;

	for (i = 0; i < 100; i++)
		ck_assert_int_eq(rl_take(t, 42, SEC, 0, 0, NULL), 1);
	rl_get_stats(t, &st);
	ck_assert_uint_eq(st.keys, 0);
	rl_free(t);
}
END_TEST

/* Full table: a new key evicts the least-indebted entry, never a heavy
 * debtor, and the eviction is counted. */
START_TEST(test_evict_least_indebted)
{
	struct rl_table *t = rl_new(16);
	struct rl_stats  st;
	uint64_t         now = 1000 * SEC, heavy = 777;
	int              i;

	setup_rate();
	/* one heavy debtor with its whole burst used */
	for (i = 0; i < 10; i++)
		rl_take(t, heavy, now, T, tau, NULL);
	for (i = 0; i < 15; i++)
		ck_assert_int_eq(rl_take(t, 1000 + i, now, T, tau, NULL), 1);
	rl_get_stats(t, &st);
	ck_assert_uint_eq(st.keys, 16);
	ck_assert_uint_eq(st.evictions, 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(rl_take(t, 5000 + i, now, T, tau, NULL), 1);
	rl_get_stats(t, &st);
	ck_assert_uint_eq(st.keys, 16);
	ck_assert_uint_eq(st.evictions, 100);
	ck_assert(rl_peek(t, heavy, NULL));
	ck_assert_int_eq(rl_take(t, heavy, now, T, tau, NULL), 0);
	rl_free(t);
}
END_TEST

/* 10x the cap of distinct keys: count and memory stay at the cap. The
 * table starts small and grows with its keys up to the cap's size. */
START_TEST(test_flood_bounded)
{
	size_t           cap = 10000, i;
	struct rl_table *t = rl_new(cap);
	struct rl_stats  st0, st;
	char             buf[64];
	uint64_t         now = SEC;
	int              n;

	setup_rate();
	rl_get_stats(t, &st);
	ck_assert_uint_lt(st.slots, cap * 2);
	for (i = 0; i < cap * 10; i++) {
		if (i == cap) { /* at the cap: the most it will ever take */
			rl_get_stats(t, &st0);
			ck_assert_uint_ge(st0.slots, cap * 2);
			ck_assert_uint_le(st0.bytes, cap * 64 + 128);
		}
		n = snprintf(buf, sizeof buf, "bot%zu@spam.example", i);
		ck_assert_int_eq(
		    rl_take(t,
			    rl_key(FG_KIND_SUBSCRIBE, FG_SUBJ_ACCOUNT, buf,
				   (size_t)n),
			    now + i, T, tau, NULL),
		    1);
		if (i % 1000 == 0) {
			rl_get_stats(t, &st);
			ck_assert_uint_le(st.keys, cap);
		}
	}
	rl_get_stats(t, &st);
	ck_assert_uint_eq(st.keys, cap);
	ck_assert_uint_eq(st.bytes, st0.bytes);
	ck_assert_uint_eq(st.evictions + st.reclaimed, cap * 9);
	ck_assert_uint_eq(st.inserts, cap * 10);
	rl_free(t);
}
END_TEST

/* Growing keeps every entry and its state: keys inserted across several
 * doublings are all found afterwards with the TAT they had. */
START_TEST(test_grow_keeps_entries)
{
	size_t           n = 20000, i;
	struct rl_table *t = rl_new(100000);
	struct rl_stats  st;
	uint64_t         now = 1000 * SEC, tat;

	setup_rate();
	rl_get_stats(t, &st);
	ck_assert_uint_lt(st.slots, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(rl_take(t, 7 + i * 1000003, now, T, tau, NULL),
				 1);
		if (i % 3 == 0) /* a third of them in debt */
			ck_assert_int_eq(
			    rl_take(t, 7 + i * 1000003, now, T, tau, NULL), 1);
	}
	rl_get_stats(t, &st);
	ck_assert_uint_ge(st.slots, n * 2);
	ck_assert_uint_eq(st.keys, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(rl_peek(t, 7 + i * 1000003, &tat), 1);
		ck_assert_uint_eq(tat, now + (i % 3 == 0 ? 2 : 1) * T);
	}
	ck_assert_int_eq(rl_peek(t, 5, NULL), 0);
	rl_free(t);
}
END_TEST

/* The sweep reclaims exactly the entries whose TAT has passed, within its
 * budget per call, and the survivors are still found afterwards (the
 * backward shift keeps probe chains intact). */
START_TEST(test_sweep)
{
	size_t           cap = 1000, i, total = 0, n;
	struct rl_table *t = rl_new(cap);
	struct rl_stats  st;
	uint64_t         now = 1000 * SEC;
	int              calls = 0;

	setup_rate();
	for (i = 0; i < cap; i++) {
		rl_take(t, 100 + i, now, T, tau, NULL);
		if (i % 2 == 0) /* even keys: 10 deep in debt */
			while (rl_take(t, 100 + i, now, T, tau, NULL))
				;
	}
	/* 10 s later the odd keys (tat = now + 6 s) are reclaimable */
	now += 10 * SEC;
	n = rl_sweep(t, now, 16);
	ck_assert_uint_le(n, 16);
	total += n;
	/* 2048 slots, 64 a call: one full pass in 32 calls, bounded work each
	 */
	for (calls = 0; calls < 40; calls++) {
		n = rl_sweep(t, now, 64);
		ck_assert_uint_le(n, 64);
		total += n;
	}
	ck_assert_uint_eq(total, cap / 2);
	rl_get_stats(t, &st);
	ck_assert_uint_eq(st.keys, cap / 2);
	for (i = 0; i < cap; i++)
		ck_assert_int_eq(rl_peek(t, 100 + i, NULL), i % 2 == 0);
	/* a deleted key behaves like a fresh one */
	ck_assert_int_eq(rl_del(t, 100), 1);
	ck_assert_int_eq(rl_del(t, 100), 0);
	ck_assert_int_eq(rl_take(t, 100, now, T, tau, NULL), 1);
	rl_free(t);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("ratelimit");
	TCase   *tc = tcase_create("gcra");
	TCase   *tb = tcase_create("bounds");
	SRunner *sr;
	int      nf;

	tcase_add_test(tc, test_rate_math);
	tcase_add_test(tc, test_burst_then_steady);
	tcase_add_test(tc, test_refill_after_idle);
	tcase_add_test(tc, test_time_backwards);
	tcase_add_test(tc, test_unlimited_untracked);
	tcase_add_test(tb, test_evict_least_indebted);
	tcase_add_test(tb, test_flood_bounded);
	tcase_add_test(tb, test_grow_keeps_entries);
	tcase_add_test(tb, test_sweep);
	tcase_set_timeout(tb, 30);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tb);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
