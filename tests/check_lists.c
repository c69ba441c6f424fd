/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for operator lists and trap recipients: the list
 * line parser (plain, SHA-256 and host-fingerprint entries, comments, bad
 * lines), list files with file:line errors, the trap detector (a stranger
 * message to a trap quarantines or blocks its sender and marks its
 * fingerprints, so the same text to a real user is refused on its first
 * try, while other text still flows), and the [lists] detector (plain
 * entries act at load, hashed ones at the gate, URL hosts through hfp,
 * SIGHUP reload lifting removed entries and keeping the old lists when
 * the new file is bad).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "policy/listfile.h"
#include "policy/policy.h"
#include "policy/upstream.h"
#include "tests/testutil.h"

#define T0_MONO 1000000000000ull /* ns */
#define T0_WALL 1700000000000ll  /* unix ms */

static struct fg_config cfg;
static char            *serves[] = {"example.org"};
static char            *traps[] = {"trap@example.org"};
static char             dir[64];

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	config_defaults(&cfg);
	cfg.max_keys = 65536;
	cfg.serves.v = serves;
	cfg.serves.n = 1;
	clock_fake_set(T0_MONO, T0_WALL);
	snprintf(dir, sizeof dir, "/tmp/check_lists.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	free(cfg.comp_server);
	cfg.comp_server = NULL;
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *
write_file(const char *name, const char *text)
{
	static char path[16][128];
	static int  k;
	FILE       *fp;
	char       *p = path[k++ % 16];

	snprintf(p, 128, "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
	return p;
}

static struct pol_answer
gate_h(struct policy *p, enum fg_kind kind, const char *from, const char *to,
       const char *fp, const char *hfp)
{
	struct pol_gate   g = {.kind = kind, .from = from, .to = to, .fp = fp};
	struct pol_answer a;

	if (hfp != NULL) {
		snprintf(g.hfp[0], sizeof g.hfp[0], "%s", hfp);
		g.nhfp = 1;
	}
	pol_gate(p, &g, &a);
	return a;
}

static enum fg_verdict
eff(struct policy *p, enum fg_subj t, const char *key)
{
	struct pol_info pi;

	ck_assert_int_eq(pol_inspect(p, t, key, &pi), 0);
	return pi.effective;
}

/* the 16-hex host fingerprint of a host name */
static void
hfp_of(const char *host, char out[17])
{
	char hex[65];

	up_sha256_hex(host, hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

START_TEST(parse_lines)
{
	char        text[LF_TEXT_MAX], hex[65];
	uint64_t    h, h2;
	const char *err = NULL;

	ck_assert_int_eq(lf_parse_line(LF_JIDS, "  Dave@B.Test  # a spammer",
				       &h, text, sizeof text, &err),
			 1);
	ck_assert_str_eq(text, "dave@b.test");
	ck_assert(h == lf_hash("dave@b.test"));
	up_sha256_hex("dave@b.test", hex);
	ck_assert_int_eq(
	    lf_parse_line(LF_JIDS, hex, &h2, text, sizeof text, &err), 1);
	ck_assert_str_eq(text, "");
	ck_assert(h2 == h);
	ck_assert_int_eq(
	    lf_parse_line(LF_JIDS, "# only a comment", &h, text, 64, &err), 0);
	ck_assert_int_eq(lf_parse_line(LF_JIDS, " \t", &h, text, 64, &err), 0);
	ck_assert_int_eq(
	    lf_parse_line(LF_JIDS, "b.test", &h, text, sizeof text, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "bare JID"));
	ck_assert_int_eq(lf_parse_line(LF_JIDS, "a@b.test c@d.test", &h, text,
				       sizeof text, &err),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "more than one"));
	ck_assert_int_eq(
	    lf_parse_line(LF_DOMAINS, "a@b.test", &h, text, sizeof text, &err),
	    -1);
	ck_assert_int_eq(lf_parse_line(LF_DOMAINS, "Spam.Example", &h, text,
				       sizeof text, &err),
			 1);
	ck_assert_str_eq(text, "spam.example");
	/* hosts: a trailing dot, the 16-hex fingerprint form */
	ck_assert_int_eq(lf_parse_line(LF_HOSTS, "X.Spam.Example.", &h, text,
				       sizeof text, &err),
			 1);
	ck_assert_str_eq(text, "x.spam.example");
	ck_assert_int_eq(lf_parse_line(LF_HOSTS, "21aef2a21e501b6b", &h2, text,
				       sizeof text, &err),
			 1);
	ck_assert(h2 == h); /* the PROTOCOL.md vector */
	ck_assert_int_eq(lf_parse_line(LF_JIDS, "21aef2a21e501b6b", &h2, text,
				       sizeof text, &err),
			 -1);
	ck_assert_int_eq(
	    lf_parse_line(LF_HOSTS, "localhost", &h, text, sizeof text, &err),
	    -1);
	/* URLs (ejabberd's mod_antispam files) and www. forms give the host
	 * the modules fingerprint */
	ck_assert_int_eq(lf_parse_line(LF_HOSTS,
				       "HTTPS://www.Spam.example:8443/buy?x=1",
				       &h, text, sizeof text, &err),
			 1);
	ck_assert_str_eq(text, "spam.example");
	ck_assert_int_eq(lf_parse_line(LF_HOSTS, "http://x.spam.example#top",
				       &h, text, sizeof text, &err),
			 1);
	ck_assert_str_eq(text, "x.spam.example");
	ck_assert_int_eq(
	    lf_parse_line(LF_HOSTS, "www.shop.example", &h, text, 64, &err), 1);
	ck_assert_str_eq(text, "shop.example");
	ck_assert_int_eq(
	    lf_parse_line(LF_HOSTS, "https://", &h, text, 64, &err), -1);
	ck_assert_int_eq(
	    lf_parse_line(LF_HOSTS, "spam.example/x", &h, text, 64, &err), -1);
	ck_assert_int_eq(
	    lf_parse_line(LF_HOSTS, "a..b", &h, text, sizeof text, &err), -1);
}
END_TEST

START_TEST(read_files)
{
	struct lf_set *s = lf_new();
	const char    *p;

	p = write_file("jids", "# spammers\n"
			       "dave@b.test\n"
			       "\n"
			       "not a jid\n"
			       "eve@b.test # second\r\n"
			       "x\n");
	ck_assert_int_eq(lf_read(s, LF_JIDS, p), 2);
	lf_done(s);
	ck_assert_uint_eq(lf_count(s), 2);
	ck_assert_uint_eq(lf_nplain(s), 2);
	ck_assert(lf_has(s, lf_hash("eve@b.test")));
	ck_assert(!lf_has(s, lf_hash("carol@b.test")));
	ck_assert(lf_has_plain(s, "dave@b.test"));
	lf_free(s);
	/* a wholly wrong file: every bad line counted (a few logged) */
	s = lf_new();
	{
		char   many[30 * 8 + 1];
		size_t i;

		for (i = 0; i < 30; i++)
			memcpy(many + i * 8, "no jid \n", 8);
		many[30 * 8] = '\0';
		p = write_file("wrong", many);
	}
	ck_assert_int_eq(lf_read(s, LF_JIDS, p), 30);
	lf_free(s);
	s = lf_new();
	ck_assert_int_eq(lf_read(s, LF_JIDS, "/nonexistent/list"), -1);
	ck_assert_int_eq(lf_read(s, LF_JIDS, "/dev/null"), -1);
	lf_free(s);
}
END_TEST

/* A trap hit from a remote account: quarantined, the same text from
 * another account of that server refused on its first try, other text
 * and the same text between contacts not. */
START_TEST(trap_hit)
{
	struct policy    *p;
	struct pol_answer a;
	char              h[17];

	cfg.trap_jids.v = traps;
	cfg.trap_jids.n = 1;
	hfp_of("spam.example", h);
	ck_assert_ptr_nonnull(p = pol_new(&cfg, NULL));

	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "spammer@c.test",
		   "bob@example.org", "00000000000000aa", NULL);
	ck_assert_int_eq(a.allow, 1);
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "spammer@c.test",
		   "Trap@Example.org", "1111111111111111", h);
	ck_assert_int_eq(a.allow, 0);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "spammer@c.test"),
			 FG_V_QUARANTINE);
	ck_assert_int_eq(eff(p, FG_SUBJ_DOMAIN, "c.test"), FG_V_ALLOW);

	/* the same body from someone else to a real user */
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "second@c.test",
		   "alice@example.org", "1111111111111111", NULL);
	ck_assert_int_eq(a.allow, 0);
	/* the same host in a different body */
	a = gate_h(p, FG_KIND_STRANGER_MESSAGE, "local@example.org",
		   "alice@example.org", "2222222222222222", h);
	ck_assert_int_eq(a.allow, 0);
	/* other text flows, and contacts are never gated by content */
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "carol@c.test",
		   "alice@example.org", "3333333333333333", NULL);
	ck_assert_int_eq(a.allow, 1);

	/* an allowlisted sender is not trapped, its text not marked */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "partner@c.test",
				   FG_OVR_ALLOW, "admin", NULL, 0),
			 0);
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "partner@c.test",
		   "trap@example.org", "4444444444444444", NULL);
	ck_assert_int_eq(a.allow, 1);
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "carol@c.test",
		   "alice@example.org", "4444444444444444", NULL);
	ck_assert_int_eq(a.allow, 1);
	pol_free(p);

	/* action = block */
	cfg.trap_block = 1;
	ck_assert_ptr_nonnull(p = pol_new(&cfg, NULL));
	a = gate_h(p, FG_KIND_INBOUND_SUBSCRIBE, "bot@d.test",
		   "trap@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 0);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "bot@d.test"), FG_V_BLOCK);
	pol_free(p);
	cfg.trap_jids.n = 0;
	cfg.trap_block = 0;
}
END_TEST

/* Trap file: loaded, reloaded, and a bad reload keeps the old traps. */
START_TEST(trap_file_reload)
{
	struct policy    *p;
	struct pol_answer a;
	struct fg_config  c2;

	cfg.trap_file = (char *)write_file("traps", "t1@example.org\n");
	ck_assert_ptr_nonnull(p = pol_new(&cfg, NULL));
	a = gate_h(p, FG_KIND_STRANGER_MESSAGE, "x@example.org",
		   "t1@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 0);
	write_file("traps", "t2@example.org\n");
	c2 = cfg;
	pol_reconfigure(p, &c2);
	a = gate_h(p, FG_KIND_STRANGER_MESSAGE, "y@example.org",
		   "t1@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 1);
	a = gate_h(p, FG_KIND_STRANGER_MESSAGE, "y@example.org",
		   "t2@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 0);
	write_file("traps", "t3@example.org\nnot a jid\n");
	pol_reconfigure(p, &c2);
	a = gate_h(p, FG_KIND_STRANGER_MESSAGE, "z@example.org",
		   "t2@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 0); /* still the old list */
	a = gate_h(p, FG_KIND_STRANGER_MESSAGE, "w@example.org",
		   "t3@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 1);
	pol_free(p);
	cfg.trap_file = NULL;
}
END_TEST

static int     renewals;
static int64_t renewed_to;

static void
count_cb(enum fg_subj t, const char *key, enum fg_verdict v, int64_t exp,
	 const char *reason, void *arg)
{
	(void)t;
	(void)reason;
	(void)arg;
	if (strcmp(key, "dave@b.test") == 0 && v == FG_V_QUARANTINE) {
		renewals++;
		renewed_to = exp;
	}
}

/* A listed entry's verdict outlives the day it was first given, and the
 * modules hear the new expiry (they drop an entry at the one they were
 * told), once per half lifetime, not at every renewal. */
START_TEST(list_renewal)
{
	struct policy *p;
	int            h;

	cfg.lists_jids = (char *)write_file("jids", "dave@b.test\n");
	ck_assert_ptr_nonnull(p = pol_new(&cfg, NULL));
	pol_set_verdict_cb(p, count_cb, NULL);
	for (h = 1; h <= 36; h++) {
		clock_fake_set(T0_MONO + (uint64_t)h * 3600000000000ull,
			       T0_WALL + (int64_t)h * 3600000);
		pol_tick(p);
		ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "dave@b.test"),
				 FG_V_QUARANTINE);
	}
	ck_assert_int_ge(renewals, 2);
	ck_assert_int_le(renewals, 4);
	ck_assert_int_gt(renewed_to, T0_WALL + 36LL * 3600000);
	pol_free(p);
	cfg.lists_jids = NULL;
}
END_TEST

START_TEST(operator_lists)
{
	struct policy    *p;
	struct pol_answer a;
	char              hex[65], line[128], h[17];

	up_sha256_hex("hidden@b.test", hex);
	snprintf(line, sizeof line, "dave@b.test\n%s # hashed\n", hex);
	cfg.lists_jids = (char *)write_file("jids", line);
	cfg.lists_domains =
	    (char *)write_file("domains", "spam.example\nexample.org\n");
	cfg.lists_url_hosts =
	    (char *)write_file("hosts", "# hosts\npills.example\n");
	ck_assert_ptr_nonnull(p = pol_new(&cfg, NULL));

	/* plain entries act at once, our own domain never */
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "dave@b.test"),
			 FG_V_QUARANTINE);
	ck_assert_int_eq(eff(p, FG_SUBJ_DOMAIN, "spam.example"),
			 FG_V_QUARANTINE);
	ck_assert_int_eq(eff(p, FG_SUBJ_DOMAIN, "example.org"), FG_V_ALLOW);
	/* a hashed entry when the sender shows up */
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "hidden@b.test"), FG_V_ALLOW);
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "hidden@b.test",
		   "alice@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 0);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "hidden@b.test"),
			 FG_V_QUARANTINE);
	/* a subdomain of a listed domain */
	a = gate_h(p, FG_KIND_INBOUND_SUBSCRIBE, "x@muc.spam.example",
		   "alice@example.org", NULL, NULL);
	ck_assert_int_eq(a.allow, 0);
	ck_assert_int_eq(eff(p, FG_SUBJ_DOMAIN, "muc.spam.example"),
			 FG_V_QUARANTINE);
	/* a listed URL host in a stranger message: refused, sender scored */
	hfp_of("pills.example", h);
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "carol@b.test",
		   "alice@example.org", NULL, h);
	ck_assert_int_eq(a.allow, 0);
	hfp_of("other.example", h);
	a = gate_h(p, FG_KIND_INBOUND_STRANGER_MESSAGE, "carol@b.test",
		   "alice@example.org", NULL, h);
	ck_assert_int_eq(a.allow, 1);

	/* reload: dave removed, lifted; a bad domains file keeps the old */
	write_file("jids", "eve@b.test\n");
	write_file("domains", "spam.example\nbad@entry\n");
	pol_reconfigure(p, &cfg);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "dave@b.test"), FG_V_ALLOW);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "eve@b.test"),
			 FG_V_QUARANTINE);
	ck_assert_int_eq(eff(p, FG_SUBJ_DOMAIN, "spam.example"),
			 FG_V_QUARANTINE);
	/* admin allowlist beats the list */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_ACCOUNT, "eve@b.test",
				   FG_OVR_ALLOW, "admin", NULL, 0),
			 0);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "eve@b.test"), FG_V_ALLOW);
	pol_free(p);

	/* action = block, then back to quarantine on a reload */
	cfg.lists_block = 1;
	ck_assert_ptr_nonnull(p = pol_new(&cfg, NULL));
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "eve@b.test"), FG_V_BLOCK);
	cfg.lists_block = 0;
	pol_reconfigure(p, &cfg);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "eve@b.test"),
			 FG_V_QUARANTINE);
	cfg.lists_block = 1;
	pol_reconfigure(p, &cfg);
	ck_assert_int_eq(eff(p, FG_SUBJ_ACCOUNT, "eve@b.test"), FG_V_BLOCK);
	pol_free(p);
	cfg.lists_jids = cfg.lists_domains = cfg.lists_url_hosts = NULL;
	cfg.lists_block = 0;
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("lists");
	TCase   *tc = tcase_create("lists");
	SRunner *sr;
	int      failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_lines);
	tcase_add_test(tc, read_files);
	tcase_add_test(tc, trap_hit);
	tcase_add_test(tc, trap_file_reload);
	tcase_add_test(tc, operator_lists);
	tcase_add_test(tc, list_renewal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
