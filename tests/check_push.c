/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: verdict pushes and the published blocklist for remote
 * accounts, through a real component (tests/comp_harness.h): the full set
 * carries remote-account entries, allowlist entries and the reply window;
 * a blocked remote account is listed on spam_source_jids_sha256 and
 * muc_bans_sha256 by SHA-256 of its bare JID, and unblock takes it off.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/pubsub.h"
#include "core/config.h"
#include "policy/policy.h"
#include "policy/upstream.h"
#include "tests/comp_harness.h"

/* sha256("dave@b.test"), from sha256sum */
#define SHA_DAVE                                                               \
	"b5506985be8ad3f6e57308e825232aca7c9bf04cd7c46d69e7e4a99107bd096f"

#define FULL_GET                                                               \
	"<iq type='get' id='r1' from='example.org' "                           \
	"to='" HN_COMP_JID "'><verdicts xmlns='urn:floodgate:0'/></iq>"

#define ITEMS(node)                                                            \
	"<iq type='get' from='example.org' to='" HN_COMP_JID "' id='i1'>"      \
	"<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='" node \
	"'/></pubsub></iq>"

/* Does the serialised reply hold an element with all these attributes? */
static int
has_verdict(const char *xml, const char *key, const char *verdict)
{
	char        want[256];
	const char *p;

	snprintf(want, sizeof want, "key=\"%s\"", key);
	for (p = xml; (p = strstr(p, want)) != NULL; p++) {
		const char *end = strchr(p, '>');
		char        v[64];

		snprintf(v, sizeof v, "verdict=\"%s\"", verdict);
		while (end != NULL && p > xml && *p != '<')
			p--;
		if (end != NULL && (size_t)(end - p) < 1024) {
			char el[1024];

			memcpy(el, p, (size_t)(end - p));
			el[end - p] = '\0';
			if (strstr(el, v) != NULL)
				return 1;
		}
		p = end != NULL ? end : p + 1;
	}
	return 0;
}

START_TEST(full_set_remote_and_allowlist)
{
	struct harness h;

	hn_init(&h, 0);
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, "dave@b.test",
				   FG_OVR_BLOCK, "admin", "spam", 0),
			 0);
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, "carol@b.test",
				   FG_OVR_ALLOW, "admin", NULL, 0),
			 0);
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_DOMAIN, "b.test",
				   FG_OVR_QUARANTINE, "admin", "wave", 0),
			 0);
	ck_assert_int_eq(hn_send(&h, FULL_GET), 0);
	ck_assert_ptr_nonnull(h.last);
	ck_assert_msg(strstr(h.last, "full=\"1\"") != NULL, "%s", h.last);
	ck_assert_msg(strstr(h.last, "reply-window=\"2592000000\"") != NULL,
		      "%s", h.last);
	ck_assert_msg(has_verdict(h.last, "dave@b.test", "block"), "%s",
		      h.last);
	ck_assert_msg(has_verdict(h.last, "carol@b.test", "allowlist"), "%s",
		      h.last);
	ck_assert_msg(has_verdict(h.last, "b.test", "quarantine"), "%s",
		      h.last);

	/* lifted allowlist: gone from the full set */
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, "carol@b.test",
				   FG_OVR_NONE, "admin", NULL, 0),
			 0);
	h.cfg.reply_window_ms = 0;
	ck_assert_int_eq(hn_send(&h, FULL_GET), 0);
	ck_assert_ptr_null(strstr(h.last, "carol@b.test"));
	ck_assert_msg(strstr(h.last, "reply-window=\"0\"") != NULL, "%s",
		      h.last);
	hn_fini(&h);
}
END_TEST

START_TEST(remote_block_published)
{
	struct harness     h;
	char               hex[65];
	static const char *nodes[] = {ITEMS("spam_source_jids_sha256"),
				      ITEMS("muc_bans_sha256")};
	size_t             i;

	hn_init(&h, 0);
	up_sha256_hex("dave@b.test", hex);
	ck_assert_str_eq(hex, SHA_DAVE);
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, "Dave@B.test",
				   FG_OVR_BLOCK, "admin", "spam", 0),
			 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(hn_send(&h, nodes[i]), 0);
		ck_assert_msg(strstr(h.last, hex) != NULL, "%s", h.last);
	}
	/* quarantine is not published by default */
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, "eve@b.test",
				   FG_OVR_QUARANTINE, "admin", "spam", 0),
			 0);
	up_sha256_hex("eve@b.test", hex);
	ck_assert_int_eq(hn_send(&h, nodes[0]), 0);
	ck_assert_ptr_null(strstr(h.last, hex));
	/* unblock retracts from both nodes */
	up_sha256_hex("dave@b.test", hex);
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_ACCOUNT, "dave@b.test",
				   FG_OVR_NONE, "admin", NULL, 0),
			 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(hn_send(&h, nodes[i]), 0);
		ck_assert_msg(strstr(h.last, "type=\"result\"") != NULL, "%s",
			      h.last);
		ck_assert_ptr_null(strstr(h.last, hex));
	}
	hn_fini(&h);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("push");
	TCase   *tc = tcase_create("remote");
	SRunner *sr;
	int      failed;

	tcase_add_test(tc, full_set_remote_and_allowlist);
	tcase_add_test(tc, remote_block_published);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
