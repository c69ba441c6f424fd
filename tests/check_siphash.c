/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for core/siphash: the reference vectors of the
 * SipHash paper (key 00..0f, message 00..len-1) for 2-4 and the published
 * ones for 1-3, the tweak form, and the per-process key.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/siphash.h"

/* A few of the 64 vectors from the reference implementation. */
static const struct {
	size_t   len;
	uint64_t want;
} vectors[] = {
    {0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},
    {7, 0xab0200f58b01d137ull},  {8, 0x93f5f5799a932462ull},
    {15, 0xa129ca6149be45e5ull}, {16, 0x3f2acc7f57c29bdbull},
    {31, 0x32d892fad841c342ull}, {63, 0x958a324ceb064572ull},
};

static const struct sip_key paper_key = {0x0706050403020100ull,
					 0x0f0e0d0c0b0a0908ull};

START_TEST(test_vectors)
{
	unsigned char msg[64];
	size_t        i;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)i;
	for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
		ck_assert_uint_eq(sip_hash24(&paper_key, msg, vectors[i].len),
				  vectors[i].want);
}
END_TEST

/* The tweak is exactly a leading little-endian word of the message. */
START_TEST(test_tweak_is_prefix)
{
	unsigned char msg[64];
	uint64_t      tweak = 0x0706050403020100ull;
	size_t        i;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)i;
	/* 00..07 as the tweak, then 08..14 as the data: the 15-byte vector */
	ck_assert_uint_eq(sip_hash24_tw(&paper_key, tweak, msg + 8, 7),
			  0xa129ca6149be45e5ull);
	ck_assert_uint_eq(sip_hash24_tw(&paper_key, tweak, msg + 8, 55),
			  0x958a324ceb064572ull);
}
END_TEST

/* SipHash-1-3 (the tables' hash) against the published reference
 * outputs for the paper's key and messages 00..len-1; the tweak supplies
 * bytes 00..07, so data of n bytes gives the vector for n + 8. */
static const struct {
	size_t   len;
	uint64_t want;
} vectors13[] = {
    {0, 0x369095118d299a8eull},  {7, 0xd320d86d2a519956ull},
    {8, 0xcc4fdd1a7d908b66ull},  {23, 0x2370dd1f8c21d1bcull},
    {55, 0x9d199062b7bbb3a8ull},
};

START_TEST(test_vectors13)
{
	unsigned char msg[64];
	uint64_t      tweak = 0x0706050403020100ull;
	size_t        i;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)i;
	for (i = 0; i < sizeof vectors13 / sizeof vectors13[0]; i++)
		ck_assert_uint_eq(
		    sip_hash13_tw(&paper_key, tweak, msg + 8, vectors13[i].len),
		    vectors13[i].want);
}
END_TEST

START_TEST(test_process_key)
{
	const struct sip_key *k = sip_key();
	uint64_t              a, b;

	ck_assert_ptr_eq(k, sip_key()); /* drawn once */
	ck_assert(k->k0 != 0 || k->k1 != 0);
	a = sip_hash(1, "alice@example.org", 17);
	b = sip_hash(1, "alice@example.org", 17);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, sip_hash(2, "alice@example.org", 17));
	ck_assert_uint_ne(a, sip_hash24(&paper_key, "alice@example.org", 17));
	ck_assert_uint_eq(a, sip_hash13_tw(k, 1, "alice@example.org", 17));
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("siphash");
	TCase   *tc = tcase_create("core");
	SRunner *sr;
	int      nf;

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_vectors13);
	tcase_add_test(tc, test_tweak_is_prefix);
	tcase_add_test(tc, test_process_key);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
