/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: log escaping of untrusted text and JID normalisation.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/jid.h"
#include "core/log.h"

START_TEST(esc_plain)
{
	char b[64];

	ck_assert_str_eq(log_esc(b, sizeof b, "alice@example.org"),
			 "alice@example.org");
	ck_assert_str_eq(log_esc(b, sizeof b, NULL), "(null)");
}
END_TEST

START_TEST(esc_control)
{
	char b[64];

	ck_assert_str_eq(log_esc(b, sizeof b, "a\nb\tc\x1b[31m\"\\"),
			 "a\\nb\\tc\\x1b[31m\\\"\\\\");
}
END_TEST

START_TEST(esc_truncates)
{
	char b[16];
	char big[1000];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_esc(b, sizeof b, big);
	ck_assert_uint_lt(strlen(b), sizeof b);
	ck_assert_ptr_nonnull(strstr(b, "..."));
	/* an escape never straddles the end */
	memset(big, '\n', 40);
	big[40] = '\0';
	log_esc(b, sizeof b, big);
	ck_assert_uint_lt(strlen(b), sizeof b);
}
END_TEST

START_TEST(esc_off_is_free)
{
	int evaluated = 0;

	log_setverbose(0);
	log_debug("%d", ++evaluated);
	ck_assert_int_eq(evaluated, 0);
}
END_TEST

START_TEST(jid_normalise)
{
	char b[JID_MAX + 1];

	ck_assert_int_eq(jid_bare("Abaca@Example.ORG/Res", b, sizeof b), 0);
	ck_assert_str_eq(b, "abaca@example.org");
	ck_assert_int_eq(jid_bare("example.org.", b, sizeof b), 0);
	ck_assert_str_eq(b, "example.org");
	ck_assert_int_eq(jid_domain("bob@Remote.Example/x", b, sizeof b), 0);
	ck_assert_str_eq(b, "remote.example");
	ck_assert(jid_is_domain("example.org"));
	ck_assert(!jid_is_domain("a@example.org"));
}
END_TEST

static const char *bad_jids[] = {
    "",     "@example.org", "a@",    "a@b@c", "a b@c", "a@b/",
    "a@.b", "a@b..c",       "a\n@b", "a<@b",  "/res",  "a@\x7f",
};

START_TEST(jid_invalid)
{
	char b[JID_MAX + 1];

	ck_assert_msg(jid_bare(bad_jids[_i], b, sizeof b) == -1,
		      "accepted '%s'", bad_jids[_i]);
}
END_TEST

START_TEST(jid_too_long)
{
	char  b[JID_MAX + 1];
	char *s = malloc(3000);

	memset(s, 'a', 2000);
	strcpy(s + 2000, "@x");
	ck_assert_int_eq(jid_bare(s, b, sizeof b), -1);
	ck_assert_int_eq(jid_bare("a@b", b, 3), -1);
	free(s);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("log");
	TCase   *tc = tcase_create("log");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_log");
	tcase_add_test(tc, esc_plain);
	tcase_add_test(tc, esc_control);
	tcase_add_test(tc, esc_truncates);
	tcase_add_test(tc, esc_off_is_free);
	tcase_add_test(tc, jid_normalise);
	tcase_add_loop_test(tc, jid_invalid, 0,
			    sizeof bad_jids / sizeof bad_jids[0]);
	tcase_add_test(tc, jid_too_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
