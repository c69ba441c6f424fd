/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the admin layer shared by ad-hoc commands
 * and floodgatectl: subject, duration and time parsing with bad inputs,
 * the control protocol's request parser, and the verbs against a real
 * policy and store (refusals, audit with the actor, verdict callback).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "admin/control.h"
#include "admin/verbs.h"
#include "policy/policy.h"
#include "policy/policy_int.h"
#include "storage/store.h"
#include "tests/testutil.h"

static struct fg_config cfg;
static char            *serves[] = {"example.org"};
static char            *admins[] = {"admin@example.org"};
static int              ncb;
static enum fg_verdict  last_cb;

static void
verdict_cb(enum fg_subj t, const char *key, enum fg_verdict v, int64_t exp,
	   const char *reason, void *arg)
{
	(void)t;
	(void)key;
	(void)exp;
	(void)reason;
	(void)arg;
	ncb++;
	last_cb = v;
}

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	config_defaults(&cfg);
	cfg.serves.v = serves;
	cfg.serves.n = 1;
	cfg.admins.v = admins;
	cfg.admins.n = 1;
	ncb = 0;
}

static void
subj_ok(const char *in, enum fg_subj want, const char *key)
{
	char         k[ADM_KEY_MAX], err[256];
	enum fg_subj t;

	ck_assert_msg(adm_parse_subject(in, &t, k, sizeof k, err, sizeof err) ==
			  0,
		      "%s: %s", in, err);
	ck_assert_int_eq(t, want);
	ck_assert_str_eq(k, key);
}

static void
subj_bad(const char *in, const char *needle)
{
	char         k[ADM_KEY_MAX], err[256];
	enum fg_subj t;

	ck_assert_msg(adm_parse_subject(in, &t, k, sizeof k, err, sizeof err) ==
			  -1,
		      "%s accepted", in ? in : "NULL");
	ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' lacks '%s'",
		      in ? in : "NULL", err, needle);
}

START_TEST(test_subjects)
{
	subj_ok("Abupe@Example.ORG/phone", FG_SUBJ_ACCOUNT,
		"abupe@example.org");
	subj_ok(" spam.example ", FG_SUBJ_DOMAIN, "spam.example");
	subj_ok("192.0.2.7", FG_SUBJ_IP, "192.0.2.7");
	subj_ok("192.0.2.9/24", FG_SUBJ_PREFIX, "192.0.2.0/24");
	subj_ok("2001:db8::1", FG_SUBJ_IP, "2001:db8::1");
	subj_ok("2001:db8:1:2::/48", FG_SUBJ_PREFIX, "2001:db8:1::/48");
	subj_ok("domain:Example.NET", FG_SUBJ_DOMAIN, "example.net");
	subj_ok("prefix:198.51.100.3", FG_SUBJ_PREFIX, "198.51.100.0/24");
	subj_bad("", "no subject");
	subj_bad(NULL, "no subject");
	subj_bad("a@@example.org", "not a valid bare JID");
	subj_bad("@example.org", "not a valid bare JID");
	subj_bad("exa mple.org", "not a valid domain");
	subj_bad("example.org/res", "not a domain");
	subj_bad("192.0.2.0/16", "IPv4 /24");
	subj_bad("ip:not-an-address", "not a valid ip");
	subj_bad("account:example.org", "not a valid bare JID");
}
END_TEST

START_TEST(test_durations_and_times)
{
	int64_t ms, at, now = 1714600000000LL;

	ck_assert_int_eq(adm_parse_duration("forever", &ms), 0);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(adm_parse_duration("", &ms), 0);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(adm_parse_duration("1h", &ms), 0);
	ck_assert_int_eq(ms, 3600000);
	ck_assert_int_eq(adm_parse_duration("7d", &ms), 0);
	ck_assert_int_eq(ms, 7LL * 86400000);
	ck_assert_int_eq(adm_parse_duration("soon", &ms), -1);
	ck_assert_int_eq(adm_parse_duration("-5m", &ms), -1);
	ck_assert_int_eq(adm_parse_duration("99999d", &ms), -1);

	ck_assert_int_eq(adm_parse_time("2024-05-01T12:00:00Z", now, &at), 0);
	ck_assert_int_eq(at, 1714564800000LL);
	ck_assert_int_eq(adm_parse_time("2024-05-01 12:00", now, &at), 0);
	ck_assert_int_eq(at, 1714564800000LL);
	ck_assert_int_eq(adm_parse_time("2024-05-01", now, &at), 0);
	ck_assert_int_eq(at, 1714521600000LL);
	ck_assert_int_eq(adm_parse_time("1714564800", now, &at), 0);
	ck_assert_int_eq(at, 1714564800000LL);
	ck_assert_int_eq(adm_parse_time("2h", now, &at), 0);
	ck_assert_int_eq(at, now - 7200000);
	ck_assert_int_eq(adm_parse_time("90m ago", now, &at), 0);
	ck_assert_int_eq(at, now - 5400000);
	ck_assert_int_eq(adm_parse_time("yesterday", now, &at), -1);
	ck_assert_int_eq(adm_parse_time("2024-13-01", now, &at), -1);
	ck_assert_int_eq(adm_parse_time("2024-05-01T25:00", now, &at), -1);
	ck_assert_int_eq(adm_parse_time("", now, &at), -1);
}
END_TEST

START_TEST(test_ctl_parse)
{
	struct adm_req  rq;
	enum fg_verdict vf;
	char            err[128];
	char            l1[] = "block\tsubject=a@example.org\treason=bot wave\t"
			       "for=1d\tformat=json\n";
	char            b1[] = "", b2[] = "block\tsubject", b3[] = "block\tx=1";
	char            b4[] = "block\tsubject=a\tsubject=b";
	char b5[] = "block\tsubject=a\x01", b6[] = "list\tformat=xml";

	ck_assert_int_eq(adm_ctl_parse(l1, &rq, err, sizeof err), 0);
	ck_assert_str_eq(rq.verb, "block");
	ck_assert_str_eq(rq.subject, "a@example.org");
	ck_assert_str_eq(rq.reason, "bot wave");
	ck_assert_str_eq(rq.duration, "1d");
	ck_assert_int_eq(rq.json, 1);
	ck_assert_int_eq(adm_ctl_parse(b1, &rq, err, sizeof err), -1);
	ck_assert_int_eq(adm_ctl_parse(b2, &rq, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "without '='"));
	ck_assert_int_eq(adm_ctl_parse(b3, &rq, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown field"));
	ck_assert_int_eq(adm_ctl_parse(b4, &rq, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	ck_assert_int_eq(adm_ctl_parse(b5, &rq, err, sizeof err), -1);
	ck_assert_int_eq(adm_ctl_parse(b6, &rq, err, sizeof err), -1);
	ck_assert_int_eq(adm_list_filter(NULL, &vf), 0);
	ck_assert_int_eq(vf, FG_V__MAX);
	ck_assert_int_eq(adm_list_filter("all", &vf), 0);
	ck_assert_int_eq(vf, FG_V__MAX);
	ck_assert_int_eq(adm_list_filter("quarantine", &vf), 0);
	ck_assert_int_eq(vf, FG_V_QUARANTINE);
	ck_assert_int_eq(adm_list_filter("allowlist", &vf), 0);
	ck_assert_int_eq(vf, FG_V_ALLOW);
	ck_assert_int_eq(adm_list_filter("allow", &vf), -1);
	ck_assert_int_eq(adm_list_filter("maybe", &vf), -1);
	ck_assert_int_eq(adm_ctl_exit(ADM_OK), 0);
	ck_assert_int_eq(adm_ctl_exit(ADM_BAD), 2);
	ck_assert_int_eq(adm_ctl_exit(ADM_NOTFOUND), 1);
	ck_assert_int_eq(adm_ctl_exit(ADM_REFUSED), 1);
}
END_TEST

START_TEST(test_admins_and_socket)
{
	char buf[256];

	ck_assert_int_eq(adm_is_admin(&cfg, "Admin@Example.ORG/laptop"), 1);
	ck_assert_int_eq(adm_is_admin(&cfg, "admin@example.org"), 1);
	ck_assert_int_eq(adm_is_admin(&cfg, "admin@example.org.evil"), 0);
	ck_assert_int_eq(adm_is_admin(&cfg, "bob@example.org"), 0);
	ck_assert_int_eq(adm_is_admin(&cfg, "example.org"), 0);
	ck_assert_int_eq(adm_is_admin(&cfg, NULL), 0);
	cfg.store_path = "/var/lib/floodgate/fg.db";
	ck_assert_str_eq(adm_ctl_socket(&cfg, buf, sizeof buf),
			 "/var/lib/floodgate/floodgated.sock");
	cfg.ctl_socket = "/run/fg.sock";
	ck_assert_str_eq(adm_ctl_socket(&cfg, buf, sizeof buf), "/run/fg.sock");
	cfg.ctl_socket = NULL;
	cfg.store_path = NULL;
}
END_TEST

static int
act(const struct adm_env *env, enum adm_verb v, const char *subj,
    const char *reason, const char *dur)
{
	struct adm_result r;

	adm_act(env, v, "admin@example.org", subj, reason, dur, &r);
	return r.status;
}

START_TEST(test_verbs)
{
	char              path[160];
	struct store     *st;
	struct adm_env    env;
	struct adm_view   v;
	struct adm_result r;
	struct adm_list   l;
	struct adm_buf    b = {NULL, 0, 0};
	char              line[128];

	tu_tmpdb(path, sizeof path, "check_admin");
	ck_assert_ptr_nonnull(st = store_open(path));
	memset(&env, 0, sizeof env);
	env.cfg = &cfg;
	env.store = st;
	env.pol = pol_new(&cfg, st);
	pol_set_verdict_cb(env.pol, verdict_cb, NULL);

	/* refusals first: nothing may change */
	ck_assert_int_eq(act(&env, ADM_BLOCK, "alice@example.org", "", NULL),
			 ADM_BAD);
	ck_assert_int_eq(act(&env, ADM_BLOCK, "alice@example.org", "x", "1y"),
			 ADM_BAD);
	ck_assert_int_eq(act(&env, ADM_BLOCK, "example.org", "x", NULL),
			 ADM_REFUSED);
	ck_assert_int_eq(act(&env, ADM_QUARANTINE, "192.0.2.0/24", "x", NULL),
			 ADM_REFUSED);
	ck_assert_int_eq(
	    act(&env, ADM_BLOCK_DOMAIN, "a@example.org", "x", NULL), ADM_BAD);
	ck_assert_int_eq(
	    act(&env, ADM_UNBLOCK, "carol@example.org", NULL, NULL),
	    ADM_NOTFOUND);
	ck_assert_int_eq(ncb, 0);

	/* block, see it, lift it */
	ck_assert_int_eq(
	    act(&env, ADM_BLOCK, "Alice@Example.org", "bot wave", "1d"),
	    ADM_OK);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_cb, FG_V_BLOCK);
	adm_inspect(&env, "alice@example.org", &v, &r);
	ck_assert_int_eq(r.status, ADM_OK);
	ck_assert_int_eq(v.effective, FG_V_BLOCK);
	ck_assert_int_eq(v.override, FG_OVR_BLOCK);
	ck_assert_str_eq(v.actor, "admin@example.org");
	ck_assert_str_eq(v.reason, "bot wave");
	ck_assert_int_gt(v.expires, 0);
	ck_assert_int_ge(v.naudit, 1);
	ck_assert_str_eq(v.audit[0].actor, "admin@example.org");
	ck_assert_int_eq(v.audit[0].new_v, FG_V_BLOCK);
	adm_list_get(&env, FG_V_BLOCK, FG_SUBJ__MAX, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].key, "alice@example.org");
	adm_list_free(&l);

	/* the allowlisted are not "listed", but list allowlist shows them */
	ck_assert_int_eq(
	    act(&env, ADM_ALLOWLIST, "erin@example.org", "trusted", NULL),
	    ADM_OK);
	adm_list_get(&env, FG_V__MAX, FG_SUBJ__MAX, &l);
	ck_assert_int_eq(l.n, 1);
	adm_list_free(&l);
	adm_list_get(&env, FG_V_ALLOW, FG_SUBJ__MAX, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].key, "erin@example.org");
	ck_assert_int_eq(l.v[0].override, FG_OVR_ALLOW);
	ck_assert_str_eq(l.v[0].reason, "trusted");
	adm_list_free(&l);

	ck_assert_int_eq(
	    act(&env, ADM_BLOCK_DOMAIN, "spam.example", "spam source", NULL),
	    ADM_OK);
	adm_inspect(&env, "spam.example", &v, &r);
	ck_assert_int_eq(v.published, 1);
	ck_assert_str_eq(v.pubsub_node, "spam_source_domains");

	ck_assert_int_eq(
	    act(&env, ADM_UNBLOCK, "alice@example.org", NULL, NULL), ADM_OK);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	adm_inspect(&env, "alice@example.org", &v, &r);
	ck_assert_int_eq(v.effective, FG_V_ALLOW);
	ck_assert_int_eq(v.override, FG_OVR_NONE);
	ck_assert_int_eq(v.audit[0].new_v, FG_V_ALLOW);

	/* the control protocol runs the same verbs */
	snprintf(line, sizeof line,
		 "inspect\tsubject=spam.example\t"
		 "format=json");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_OK);
	ck_assert_ptr_nonnull(strstr(b.p, "\"effective\":\"block\""));
	ck_assert_ptr_nonnull(strstr(b.p, "\"listed\":true"));
	adm_buf_free(&b);
	snprintf(line, sizeof line, "unblock-domain\tsubject=spam.example");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_OK);
	ck_assert_int_eq(strncmp(b.p, "200 ", 4), 0);
	adm_buf_free(&b);
	adm_inspect(&env, "spam.example", &v, &r);
	ck_assert_str_eq(v.audit[0].actor, "ctl:test");
	snprintf(line, sizeof line, "frobnicate\tsubject=x");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_BAD);
	adm_buf_free(&b);
	snprintf(line, sizeof line, "reload");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_FAILED);
	adm_buf_free(&b);

	pol_free(env.pol);
	store_close(st);
	tu_rmdb(path);
}
END_TEST

/* Invalid UTF-8 or control characters in what an admin types are refused
 * before anything changes: the reason is pushed in stanzas. */
/* A remote account is a subject like a local one: blocked, listed,
 * inspected, lifted; an allowlist entry is pushed although the effective
 * verdict stays allow. */
START_TEST(test_remote_account)
{
	struct adm_env    env;
	struct adm_view   v;
	struct adm_result r;
	struct adm_list   l;

	memset(&env, 0, sizeof env);
	env.cfg = &cfg;
	env.pol = pol_new(&cfg, NULL);
	pol_set_verdict_cb(env.pol, verdict_cb, NULL);

	ck_assert_int_eq(act(&env, ADM_BLOCK, "Dave@B.test", "spam", NULL),
			 ADM_OK);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_cb, FG_V_BLOCK);
	adm_inspect(&env, "dave@b.test", &v, &r);
	ck_assert_int_eq(r.status, ADM_OK);
	ck_assert_int_eq(v.type, FG_SUBJ_ACCOUNT);
	ck_assert_int_eq(v.effective, FG_V_BLOCK);
	ck_assert_str_eq(v.pubsub_node, "spam_source_jids_sha256");
	adm_list_get(&env, FG_V_BLOCK, FG_SUBJ_ACCOUNT, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].key, "dave@b.test");
	adm_list_free(&l);
	ck_assert_int_eq(act(&env, ADM_QUARANTINE, "eve@b..test", "spam", NULL),
			 ADM_BAD);
	ck_assert_int_eq(act(&env, ADM_QUARANTINE, "@b.test", "spam", NULL),
			 ADM_BAD);
	ck_assert_int_eq(
	    act(&env, ADM_QUARANTINE, "jid:Eve@b.test", "spam", NULL), ADM_OK);
	ck_assert_int_eq(last_cb, FG_V_QUARANTINE);

	/* allowlist: effective stays allow, the modules still hear it */
	ncb = 0;
	ck_assert_int_eq(act(&env, ADM_ALLOWLIST, "carol@b.test", NULL, NULL),
			 ADM_OK);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	ck_assert_int_eq(act(&env, ADM_UNBLOCK, "carol@b.test", NULL, NULL),
			 ADM_OK);
	ck_assert_int_eq(ncb, 2);

	ck_assert_int_eq(act(&env, ADM_UNBLOCK, "dave@b.test", NULL, NULL),
			 ADM_OK);
	ck_assert_int_eq(last_cb, FG_V_ALLOW);
	adm_inspect(&env, "dave@b.test", &v, &r);
	ck_assert_int_eq(v.effective, FG_V_ALLOW);
	/* a whole remote domain is still a domain, our own still refused */
	ck_assert_int_eq(act(&env, ADM_BLOCK, "b.test", "spam", NULL), ADM_OK);
	ck_assert_int_eq(act(&env, ADM_BLOCK, "example.org", "x", NULL),
			 ADM_REFUSED);
	pol_free(env.pol);
}
END_TEST

START_TEST(test_utf8_refused)
{
	char              path[160];
	struct store     *st;
	struct adm_env    env;
	struct adm_view   v;
	struct adm_result r;
	struct adm_buf    b = {NULL, 0, 0};
	char              line[320], copy[160];

	tu_tmpdb(path, sizeof path, "check_admin");
	ck_assert_ptr_nonnull(st = store_open(path));
	memset(&env, 0, sizeof env);
	env.cfg = &cfg;
	env.store = st;
	env.pol = pol_new(&cfg, st);
	pol_set_verdict_cb(env.pol, verdict_cb, NULL);

	adm_act(&env, ADM_BLOCK, "admin@example.org", "x@example.org",
		"spam \xe9t\xe9", NULL, &r);
	ck_assert_int_eq(r.status, ADM_BAD);
	ck_assert_ptr_nonnull(strstr(r.msg, "UTF-8"));
	ck_assert_int_eq(
	    act(&env, ADM_BLOCK, "x@example.org", "bell\x07", NULL), ADM_BAD);
	ck_assert_int_eq(
	    act(&env, ADM_BLOCK, "x@example.org", "\xed\xa0\x80", NULL),
	    ADM_BAD);
	ck_assert_int_eq(act(&env, ADM_BLOCK, "\xe9@example.org", "x", NULL),
			 ADM_BAD);
	ck_assert_int_eq(ncb, 0);
	adm_inspect(&env, "x@example.org", &v, &r);
	ck_assert_int_eq(v.effective, FG_V_ALLOW);
	ck_assert_int_eq(v.naudit, 0);

	/* the control socket refuses the request line as a whole */
	snprintf(line, sizeof line,
		 "block\tsubject=x@example.org\treason=r\xe9");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_BAD);
	ck_assert_ptr_nonnull(strstr(b.p, "not valid UTF-8"));
	adm_buf_free(&b);
	ck_assert_int_eq(ncb, 0);

	/* valid UTF-8 is fine, and durations read as typed */
	adm_act(&env, ADM_BLOCK, "admin@example.org", "x@example.org",
		"caf\xc3\xa9 spam", "7d", &r);
	ck_assert_int_eq(r.status, ADM_OK);
	ck_assert_msg(strstr(r.msg, " for 7d ") != NULL, "%s", r.msg);
	adm_act(&env, ADM_QUARANTINE, "admin@example.org", "y@example.org",
		"slow", "90m", &r);
	ck_assert_msg(strstr(r.msg, " for 90m ") != NULL, "%s", r.msg);

	/* a missing reason says so */
	adm_act(&env, ADM_BLOCK, "admin@example.org", "z@example.org", NULL,
		NULL, &r);
	ck_assert_int_eq(r.status, ADM_BAD);
	ck_assert_ptr_nonnull(strstr(r.msg, "a reason is required"));

	/* list: no dangling "actor: " when there is no reason */
	ck_assert_int_eq(act(&env, ADM_ALLOWLIST, "w@example.org", NULL, NULL),
			 ADM_OK);
	snprintf(line, sizeof line, "list\tfilter=allowlist");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_OK);
	ck_assert_ptr_nonnull(strstr(b.p, "w@example.org"));
	ck_assert_ptr_null(strstr(b.p, ": \n"));
	adm_buf_free(&b);

	/* backup through the daemon: absolute names only, never over a file */
	snprintf(line, sizeof line, "backup\tfile=relative.db");
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_BAD);
	adm_buf_free(&b);
	tu_tmpdb(copy, sizeof copy, "check_admin_copy");
	snprintf(line, sizeof line, "backup\tfile=%s", copy);
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_OK);
	adm_buf_free(&b);
	snprintf(line, sizeof line, "backup\tfile=%s", copy);
	ck_assert_int_eq(adm_ctl_exec(&env, "ctl:test", line, &b), ADM_FAILED);
	adm_buf_free(&b);
	unlink(copy);

	pol_free(env.pol);
	store_close(st);
	tu_rmdb(path);
}
END_TEST

/* A subject table full of automatic verdicts (a throttled wave) must not
 * refuse an admin: automatic state is evicted, never an override. */
START_TEST(test_full_table)
{
	char              path[160], key[64];
	struct store     *st;
	struct adm_env    env;
	struct adm_view   v;
	struct adm_result r;
	struct pol_stats  ps;
	int               i, refused = 0;

	cfg.max_keys = 4096 * 4; /* subject cap 4096 */
	tu_tmpdb(path, sizeof path, "check_admin");
	ck_assert_ptr_nonnull(st = store_open(path));
	memset(&env, 0, sizeof env);
	env.cfg = &cfg;
	env.store = st;
	env.pol = pol_new(&cfg, st);

	for (i = 0; i < 4296; i++) {
		snprintf(key, sizeof key, "bot%d@example.org", i);
		if (pol_auto_verdict(env.pol, FG_SUBJ_ACCOUNT, key,
				     FG_V_THROTTLE, 3600000, "wave") == -1)
			refused++;
	}
	ck_assert_int_gt(refused, 0); /* the table is full of verdicts */

	ck_assert_int_eq(
	    act(&env, ADM_BLOCK, "newspammer@example.org", "spam", NULL),
	    ADM_OK);
	ck_assert_int_eq(act(&env, ADM_BLOCK, "evil-new.example", "spam", NULL),
			 ADM_OK);
	adm_inspect(&env, "newspammer@example.org", &v, &r);
	ck_assert_int_eq(v.effective, FG_V_BLOCK);

	pol_get_stats(env.pol, &ps);
	ck_assert_uint_gt(ps.subject_evictions, 0);

	pol_free(env.pol);
	store_close(st);
	tu_rmdb(path);
}
END_TEST

/* A table holding nothing but overrides still takes admin actions, into
 * the index's spare slots, and never evicts an override. */
START_TEST(test_full_of_overrides)
{
	struct rep      *r = rep_new(8);
	struct rep_subj *s;
	char             key[32];
	int              i;

	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof key, "o%d.example", i);
		s = rep_get(r, FG_SUBJ_DOMAIN, key, strlen(key), 0, 0, 1e6);
		ck_assert_ptr_nonnull(s);
		s->override = FG_OVR_BLOCK;
	}
	ck_assert_ptr_null(
	    rep_get(r, FG_SUBJ_DOMAIN, "auto.example", 12, 0, 0, 1e6));
	for (i = 8; i < 16; i++) {
		snprintf(key, sizeof key, "o%d.example", i);
		s = rep_get_admin(r, FG_SUBJ_DOMAIN, key, strlen(key), 0, 1e6);
		ck_assert_ptr_nonnull(s);
		s->override = FG_OVR_BLOCK;
	}
	ck_assert_uint_eq(rep_count(r), 16);
	for (i = 0; i < 16; i++) {
		snprintf(key, sizeof key, "o%d.example", i);
		ck_assert_ptr_nonnull(
		    rep_find(r, FG_SUBJ_DOMAIN, key, strlen(key),
			     rep_hash(FG_SUBJ_DOMAIN, key, strlen(key))));
	}
	rep_free(r);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("admin");
	TCase   *tc = tcase_create("admin");
	SRunner *sr;
	int      nf;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_subjects);
	tcase_add_test(tc, test_durations_and_times);
	tcase_add_test(tc, test_ctl_parse);
	tcase_add_test(tc, test_admins_and_socket);
	tcase_add_test(tc, test_verbs);
	tcase_add_test(tc, test_remote_account);
	tcase_add_test(tc, test_utf8_refused);
	tcase_add_test(tc, test_full_table);
	tcase_add_test(tc, test_full_of_overrides);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
