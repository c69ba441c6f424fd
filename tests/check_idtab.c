/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for tools/idtab.c: put, get, delete with the
 * backward shift (every other id still found), growth, iteration.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/idtab.h"

#define N 5000 /* ids: several growths from 64 slots */

static void
id(char *buf, size_t sz, int i)
{
	snprintf(buf, sz, "<0.%d.0>", i);
}

START_TEST(put_get_del)
{
	struct idtab *t = idtab_new();
	char          k[32];
	void        **slot, *v;
	size_t        pos = 0, seen = 0;
	int           i, isnew;

	for (i = 0; i < N; i++) {
		id(k, sizeof k, i);
		slot = idtab_put(t, k, strlen(k), &isnew);
		ck_assert_int_eq(isnew, 1);
		*slot = (void *)(uintptr_t)(i + 1);
	}
	id(k, sizeof k, 7);
	slot = idtab_put(t, k, strlen(k), &isnew);
	ck_assert_int_eq(isnew, 0);
	ck_assert_ptr_eq(*slot, (void *)(uintptr_t)8);
	ck_assert_uint_eq(idtab_count(t), N);
	for (i = 0; i < N; i += 2) { /* holes all over the clusters */
		id(k, sizeof k, i);
		ck_assert_ptr_eq(idtab_del(t, k, strlen(k)),
				 (void *)(uintptr_t)(i + 1));
	}
	ck_assert_ptr_null(idtab_del(t, "<0.0.0>", 7));
	for (i = 0; i < N; i++) {
		id(k, sizeof k, i);
		v = idtab_get(t, k, strlen(k));
		if (i % 2 == 0)
			ck_assert_ptr_null(v);
		else
			ck_assert_ptr_eq(v, (void *)(uintptr_t)(i + 1));
	}
	while (idtab_next(t, &pos, &v))
		seen++;
	ck_assert_uint_eq(seen, N / 2);
	idtab_free(t, NULL);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("idtab");
	TCase   *tc = tcase_create("idtab");
	SRunner *sr;
	int      nf;

	tcase_add_test(tc, put_get_del);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
