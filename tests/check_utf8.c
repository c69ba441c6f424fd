/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: UTF-8 validation per RFC 3629, the XML subset, repair, and
 * the escaping of invalid bytes in log lines.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/utf8.h"

/* Well-formed, including the edges of every length class. */
static const char *good[] = {
    "",
    "plain ascii",
    "caf\xc3\xa9",                     /* U+00E9 */
    "\xc2\x80",                        /* U+0080, smallest 2-byte */
    "\xdf\xbf",                        /* U+07FF */
    "\xe0\xa0\x80",                    /* U+0800, smallest 3-byte */
    "\xed\x9f\xbf",                    /* U+D7FF, below the surrogates */
    "\xee\x80\x80",                    /* U+E000, above them */
    "\xf0\x90\x80\x80",                /* U+10000, smallest 4-byte */
    "\xf4\x8f\xbf\xbf",                /* U+10FFFF, the last */
    "\xe2\x82\xac 5 \xf0\x9f\x98\x80", /* euro sign, emoji */
};

/* Malformed: each must be refused, at the offset given. */
static const struct {
	const char *s;
	size_t      at;
} bad[] = {
    {"reason \xe9", 7},      /* Latin-1 byte: the reported bug */
    {"\x80", 0},             /* lone continuation */
    {"\xc0\xaf", 0},         /* overlong '/' */
    {"\xc1\xbf", 0},         /* overlong */
    {"\xe0\x80\xaf", 0},     /* overlong 3-byte */
    {"\xe0\x9f\xbf", 0},     /* overlong U+07FF */
    {"\xf0\x80\x80\xaf", 0}, /* overlong 4-byte */
    {"\xf0\x8f\xbf\xbf", 0}, /* overlong U+FFFF */
    {"\xed\xa0\x80", 0},     /* U+D800 surrogate */
    {"\xed\xbf\xbf", 0},     /* U+DFFF surrogate */
    {"\xf4\x90\x80\x80", 0}, /* U+110000 */
    {"\xf5\x80\x80\x80", 0}, /* past the range */
    {"\xff", 0},
    {"ab\xc3", 2},           /* truncated at the end */
    {"ab\xe2\x82", 2},       /* truncated 3-byte */
    {"\xe2\x28\xa1", 0},     /* bad second byte */
    {"\xf0\x90\x28\xbc", 0}, /* bad third byte */
};

START_TEST(valid)
{
	ck_assert_msg(utf8_check(good[_i], NULL) == 0, "refused #%d", _i);
	ck_assert_msg(utf8_xml_ok(good[_i], NULL) == 0, "xml refused #%d", _i);
}
END_TEST

START_TEST(invalid)
{
	size_t at = 999;

	ck_assert_msg(utf8_check(bad[_i].s, &at) == -1, "accepted #%d", _i);
	ck_assert_uint_eq(at, bad[_i].at);
	ck_assert_int_eq(utf8_xml_ok(bad[_i].s, NULL), -1);
}
END_TEST

START_TEST(xml_controls)
{
	size_t at;

	ck_assert_int_eq(utf8_xml_ok("tab\there\r\n", NULL), 0);
	ck_assert_int_eq(utf8_check("bell\x07", NULL), 0);
	ck_assert_int_eq(utf8_xml_ok("bell\x07", &at), -1);
	ck_assert_uint_eq(at, 4);
	ck_assert_int_eq(utf8_xml_ok("esc\x1b[0m", NULL), -1);
	ck_assert_int_eq(utf8_xml_ok("\xef\xbf\xbe", NULL), -1); /* U+FFFE */
	ck_assert_int_eq(utf8_xml_ok("\xef\xbf\xbf", NULL), -1); /* U+FFFF */
	ck_assert_int_eq(utf8_xml_ok("\xef\xbf\xbd", NULL), 0);  /* U+FFFD */
}
END_TEST

START_TEST(seq_codepoints)
{
	uint32_t cp;

	ck_assert_uint_eq(utf8_seq("\xc3\xa9", 2, &cp), 2);
	ck_assert_uint_eq(cp, 0xe9);
	ck_assert_uint_eq(utf8_seq("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x10ffff);
	/* the length limit is honoured even without a NUL */
	ck_assert_uint_eq(utf8_seq("\xe2\x82\xac", 2, &cp), 0);
	ck_assert_uint_eq(utf8_seq("", 0, &cp), 0);
}
END_TEST

START_TEST(repair)
{
	char *r;

	r = utf8_repair("spam \xe9t\xe9");
	ck_assert_str_eq(r, "spam \xef\xbf\xbdt\xef\xbf\xbd");
	ck_assert_int_eq(utf8_xml_ok(r, NULL), 0);
	free(r);
	r = utf8_repair("\xed\xa0\x80x\x01");
	ck_assert_int_eq(utf8_xml_ok(r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(r, "x"));
	free(r);
	r = utf8_repair("caf\xc3\xa9\tok");
	ck_assert_str_eq(r, "caf\xc3\xa9\tok");
	free(r);
}
END_TEST

START_TEST(repair_every_byte)
{
	char  s[3] = {0, 'a', 0};
	char *r;
	int   b;

	for (b = 1; b < 256; b++) {
		s[0] = (char)b;
		r = utf8_repair(s);
		ck_assert_msg(utf8_xml_ok(r, NULL) == 0, "byte %02x", b);
		free(r);
	}
}
END_TEST

/* log lines: valid UTF-8 passes, an invalid byte becomes \xNN, and the
 * "..." truncation never splits a character. */
START_TEST(log_esc_utf8)
{
	char b[64], small[12];
	char many[200];
	int  i;

	ck_assert_str_eq(log_esc(b, sizeof b, "caf\xc3\xa9"), "caf\xc3\xa9");
	ck_assert_str_eq(log_esc(b, sizeof b, "r\xe9son"), "r\\xe9son");
	ck_assert_str_eq(log_esc(b, sizeof b, "\xed\xa0\x80"),
			 "\\xed\\xa0\\x80");
	for (i = 0; i + 2 < (int)sizeof many; i += 2)
		memcpy(many + i, "\xc3\xa9", 2);
	many[i] = '\0';
	for (i = 4; i <= (int)sizeof small; i++) {
		log_esc(small, (size_t)i, many);
		ck_assert_msg(utf8_check(small, NULL) == 0, "size %d", i);
	}
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("utf8");
	TCase   *tc = tcase_create("utf8");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_utf8");
	tcase_add_loop_test(tc, valid, 0, sizeof good / sizeof good[0]);
	tcase_add_loop_test(tc, invalid, 0, sizeof bad / sizeof bad[0]);
	tcase_add_test(tc, xml_controls);
	tcase_add_test(tc, seq_codepoints);
	tcase_add_test(tc, repair);
	tcase_add_test(tc, repair_every_byte);
	tcase_add_test(tc, log_esc_utf8);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
