/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for core/pct: every escape of a byte, in both
 * cases, and the ones that are not escapes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/pct.h"

START_TEST(every_byte)
{
	char buf[4];
	int  b;

	for (b = 0; b < 256; b++) {
		snprintf(buf, sizeof buf, "%%%02X", (unsigned)b);
		ck_assert_int_eq(pct_byte(buf, 3), b);
		snprintf(buf, sizeof buf, "%%%02x", (unsigned)b);
		ck_assert_int_eq(pct_byte(buf, 3), b);
	}
}
END_TEST

START_TEST(not_escapes)
{
	ck_assert_int_eq(pct_byte("%4", 2), -1);   /* cut short */
	ck_assert_int_eq(pct_byte("%41", 2), -1);  /* n says so */
	ck_assert_int_eq(pct_byte("%4\0", 3), -1); /* NUL is no digit */
	ck_assert_int_eq(pct_byte("%G1", 3), -1);  /* not hex */
	ck_assert_int_eq(pct_byte("%1g", 3), -1);
	ck_assert_int_eq(pct_byte("%+1", 3), -1);
	ck_assert_int_eq(pct_byte("A41", 3), -1);   /* no '%' */
	ck_assert_int_eq(pct_byte("%2541", 5), 37); /* one escape only */
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("pct");
	TCase   *tc = tcase_create("pct");
	SRunner *sr;
	int      failed;

	tcase_add_test(tc, every_byte);
	tcase_add_test(tc, not_escapes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
