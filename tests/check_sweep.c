/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: sweep (seed rule, scored mode, outputs, import into the
 * store) and report, on fixtures and on a generated log with known bots
 * and humans.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/types.h"
#include "storage/store.h"
#include "tools/logtools.h"
#include "tests/support/loggen.h"
#include "tools/logscan.h"
#include "tools/authlog.h"
#include "tools/sweep.h"
#include "tools/sweep_int.h"
#include "tests/testutil.h"

static struct sweep *
sweep_files(enum sweep_mode mode, const char **files, size_t n)
{
	struct sweep_opts   so = {mode, 0, NULL, NULL};
	struct logscan_opts lo = {LOGSCAN_FMT_AUTO, 2026};
	struct sweep       *sw = sweep_new(&so);
	struct logscan     *ls = logscan_new(&lo, sweep_rec, sw);
	size_t              i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(logscan_file(ls, files[i]), 0);
	logscan_free(ls);
	sweep_finish(sw);
	return sw;
}

START_TEST(fixture_seed)
{
	const char              *f[] = {tu_fixture("ejabberd-23.01.lines")};
	struct sweep            *sw = sweep_files(SWEEP_CASE_LOGIN, f, 1);
	const struct sweep_acct *a;

	ck_assert_uint_eq(sweep_accounts(sw), 2);
	ck_assert_uint_eq(sweep_suspects(sw), 1);
	a = sweep_get(sw, "abupe@example.org");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->suspect, 1);
	ck_assert_uint_eq(a->sessions, 3);
	ck_assert_uint_eq(a->short_sessions, 3);
	ck_assert_uint_eq(a->max_concurrent, 2);
	ck_assert_uint_eq(a->case_logins, 3);
	ck_assert_str_eq(a->login_as, "Abupe");
	ck_assert_uint_eq(a->nips, 2); /* ::ffff:203.0.113.8 is IPv4 */
	ck_assert_int_eq(a->dur_min, 4);
	ck_assert_int_eq(a->dur_max, 11);
	ck_assert_double_eq(a->score, 0); /* scored mode only */
	a = sweep_get(sw, "alice@example.org");
	ck_assert_int_eq(a->suspect, 0);
	ck_assert_int_eq(a->dur_max, 3600);
	sweep_free(sw);
}
END_TEST

START_TEST(fixture_prosody_scored)
{
	const char              *f[] = {tu_fixture("prosody-0.12.lines")};
	struct sweep            *sw = sweep_files(SWEEP_DETECTORS, f, 1);
	const struct sweep_acct *a = sweep_get(sw, "zaxirobo@localhost");

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->sessions, 2);
	ck_assert_uint_eq(a->short_sessions, 2);
	ck_assert_uint_eq(a->max_concurrent, 2);
	ck_assert_uint_eq(a->nips, 2);
	ck_assert_int_eq(a->suspect, 0);
	ck_assert(sweep_saw_prosody(sw));
	sweep_free(sw);
}
END_TEST

static char *
capture(void (*fn)(FILE *, struct sweep *, const char *), struct sweep *sw,
	const char *arg)
{
	char  *buf = NULL;
	size_t len = 0;
	FILE  *fp = open_memstream(&buf, &len);

	fn(fp, sw, arg);
	fclose(fp);
	return buf;
}

static void
commands(FILE *fp, struct sweep *sw, const char *server)
{
	ck_assert_int_eq(sweep_print_commands(fp, sw, server), 0);
}

static void
csv(FILE *fp, struct sweep *sw, const char *unused)
{
	sweep_print_csv(fp, sw, 1);
}

START_TEST(fixture_outputs)
{
	const char   *f[] = {tu_fixture("ejabberd-23.01.lines")};
	struct sweep *sw = sweep_files(SWEEP_CASE_LOGIN, f, 1);
	char         *out;

	out = capture(commands, sw, "ejabberd");
	ck_assert_str_eq(out, "ejabberdctl unregister abupe example.org\n");
	free(out);
	out = capture(commands, sw, "prosody");
	ck_assert_str_eq(out, "prosodyctl deluser abupe@example.org\n");
	free(out);
	out = capture(csv, sw, NULL);
	ck_assert_ptr_nonnull(strstr(out, "\nabupe@example.org,1,,3,"));
	ck_assert_ptr_nonnull(strstr(out, "\nalice@example.org,0,"));
	free(out);
	sweep_free(sw);
}
END_TEST

START_TEST(shell_quoting)
{
	char b[128];

	sweep_shell_quote(b, sizeof b, "abupe");
	ck_assert_str_eq(b, "abupe");
	sweep_shell_quote(b, sizeof b, "a;rm -rf ~");
	ck_assert_str_eq(b, "'a;rm -rf ~'");
	sweep_shell_quote(b, sizeof b, "it's$(x)");
	ck_assert_str_eq(b, "'it'\\''s$(x)'");
	sweep_shell_quote(b, sizeof b, "-n");
	ck_assert_str_eq(b, "'-n'");
}
END_TEST

/* Prosody without mod_log_auth: no line gives the sessions' address, so
 * each start is replayed as soon as the next line is not its auth line;
 * the detectors still see the three sessions open at once (overlap) and
 * the burst of short ones. With the auth lines, the address comes along
 * (one network: no spread). */
static struct sweep *
prosody_buf(const char *log)
{
	struct sweep_opts   so = {SWEEP_DETECTORS, 0, NULL, NULL};
	struct logscan_opts lo = {LOGSCAN_FMT_PROSODY, 2026};
	struct sweep       *sw = sweep_new(&so);
	struct logscan     *ls = logscan_new(&lo, sweep_rec, sw);

	logscan_buf(ls, "mem", log, strlen(log));
	logscan_free(ls);
	sweep_finish(sw);
	return sw;
}

START_TEST(prosody_without_log_auth)
{
	const char *plain =
	    "Nov 22 11:00:00 c2s1\tinfo\tClient connected\n"
	    "Nov 22 11:00:00 c2s1\tinfo\tAuthenticated as zaxi@localhost\n"
	    "Nov 22 11:00:01 c2s2\tinfo\tClient connected\n"
	    "Nov 22 11:00:01 c2s2\tinfo\tAuthenticated as zaxi@localhost\n"
	    "Nov 22 11:00:02 c2s3\tinfo\tClient connected\n"
	    "Nov 22 11:00:02 c2s3\tinfo\tAuthenticated as zaxi@localhost\n"
	    "Nov 22 11:00:05 c2s1\tinfo\tClient disconnected: closed\n"
	    "Nov 22 11:00:06 c2s2\tinfo\tClient disconnected: closed\n"
	    "Nov 22 11:00:07 c2s3\tinfo\tClient disconnected: closed\n";
	const char *with_ip =
	    "Nov 22 11:00:00 c2s1\tinfo\tAuthenticated as zaxi@localhost\n"
	    "Nov 22 11:00:00 c2s1\tinfo\tSuccessful authentication as "
	    "zaxi@localhost from IP: 198.51.100.7\n"
	    "Nov 22 11:00:03 c2s1\tinfo\tClient disconnected: closed\n";
	struct sweep            *sw = prosody_buf(plain);
	const struct sweep_acct *a = sweep_get(sw, "zaxi@localhost");

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->max_concurrent, 3);
	ck_assert_ptr_nonnull(strstr(a->signals, "overlap="));
	ck_assert_ptr_nonnull(strstr(a->signals, "short-sessions="));
	ck_assert_uint_eq(a->nips, 0);
	sweep_free(sw);
	sw = prosody_buf(with_ip);
	a = sweep_get(sw, "zaxi@localhost");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->nips, 1);
	ck_assert_str_eq(a->ips[0], "198.51.100.7");
	sweep_free(sw);
}
END_TEST

/* Bots in the log whose login name needs quoting come out quoted. */
START_TEST(hostile_names)
{
	const char *log =
	    "2026-11-22 11:00:00 [info] <0.1.0>@m:f/1:1 (tcp|<0.1.0>) Opened "
	    "c2s session for X;reboot@e.org/a\n"
	    "2026-11-22 11:00:01 [info] <0.1.0>@m:f/1:1 (tcp|<0.1.0>) "
	    "Closing c2s session for X;reboot@e.org/a: x\n"
	    "2026-11-22 11:00:02 [info] <0.2.0>@m:f/1:1 (tcp|<0.2.0>) Opened "
	    "c2s session for X;reboot@e.org/a\n"
	    "2026-11-22 11:00:03 [info] <0.2.0>@m:f/1:1 (tcp|<0.2.0>) "
	    "Closing c2s session for X;reboot@e.org/a: x\n"
	    "2026-11-22 11:00:04 [info] <0.3.0>@m:f/1:1 (tcp|<0.3.0>) Opened "
	    "c2s session for X;reboot@e.org/a\n"
	    "2026-11-22 11:00:05 [info] <0.3.0>@m:f/1:1 (tcp|<0.3.0>) "
	    "Closing c2s session for X;reboot@e.org/a: x\n";
	struct sweep_opts so = {SWEEP_CASE_LOGIN, 0, NULL, NULL};
	struct sweep     *sw = sweep_new(&so);
	struct logscan   *ls = logscan_new(NULL, sweep_rec, sw);
	char             *out;

	logscan_buf(ls, "mem", log, strlen(log));
	logscan_free(ls);
	out = capture(commands, sw, "ejabberd");
	ck_assert_str_eq(out, "ejabberdctl unregister 'x;reboot' e.org\n");
	free(out);
	sweep_free(sw);
}
END_TEST

/* The generated log, gzip-compressed, swept with opts. */
static struct sweep *
generated_sweep(const struct sweep_opts *so, uint32_t days)
{
	struct loggen_opts o = {
	    42, 40, 400, days, 0, "example.org", 0, LOGGEN_EJABBERD};
	struct logscan_opts lo = {LOGSCAN_FMT_AUTO, 0};
	char                path[] = "/tmp/check_sweep.XXXXXX";
	char               *buf = NULL;
	size_t              len = 0;
	FILE               *fp = open_memstream(&buf, &len);
	gzFile              gz;
	int                 fd;
	struct sweep       *sw = sweep_new(so);
	struct logscan     *ls = logscan_new(&lo, sweep_rec, sw);

	ck_assert_int_eq(loggen_write(fp, &o, NULL), 0);
	fclose(fp);
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	gz = gzdopen(fd, "wb");
	ck_assert_int_eq(gzwrite(gz, buf, len), (int)len);
	gzclose(gz);
	free(buf);
	ck_assert_int_eq(logscan_file(ls, path), 0);
	unlink(path);
	logscan_free(ls);
	sweep_finish(sw);
	ck_assert_uint_eq(sweep_accounts(sw), o.bots + o.humans);
	return sw;
}

static const struct sweep_acct *
generated_acct(struct sweep *sw, uint32_t i)
{
	char                     name[64], jid[128];
	const struct sweep_acct *a;

	loggen_name(i, name, sizeof name);
	snprintf(jid, sizeof jid, "%s@example.org", name);
	a = sweep_get(sw, jid);
	ck_assert_msg(a != NULL, "%s not seen", jid);
	return a;
}

#define GEN_BOTS 40
#define GEN_ACCTS 440
#define GEN_DAYS 4

/* The original rule on the generated log: it finds the classic kit (its
 * capitalised login) and nothing else of the bots, and it takes people
 * whose phone keyboard capitalises the login for bots as soon as their
 * link drops three times. */
START_TEST(generated_case_login)
{
	struct sweep_opts  so = {SWEEP_CASE_LOGIN, 0, NULL, NULL};
	struct sweep      *sw = generated_sweep(&so, GEN_DAYS);
	struct loggen_opts o = {42,   GEN_BOTS, GEN_ACCTS - GEN_BOTS, 0, 0,
				NULL, 0,        LOGGEN_EJABBERD};
	const struct sweep_acct *a;
	uint32_t                 i, humans = 0;
	unsigned                 f;

	for (i = 0; i < GEN_ACCTS; i++) {
		enum loggen_kind k = loggen_kind(&o, i, &f);

		a = generated_acct(sw, i);
		if (k == LOGGEN_HUMAN) {
			humans += a->suspect;
			ck_assert(!a->suspect || (f & LOGGEN_H_CAPS));
		} else
			ck_assert_msg(a->suspect == (k == LOGGEN_BOT_CLASSIC),
				      "%s: suspect %d, kind %d", a->jid,
				      a->suspect, k);
	}
	ck_assert_uint_gt(humans, 0);
	sweep_free(sw);
}
END_TEST

/* The default, the daemon's detectors: every bot of every family, no
 * human. */
START_TEST(generated_detectors)
{
	struct sweep_opts        so = {SWEEP_DETECTORS, 0, NULL, NULL};
	struct sweep            *sw = generated_sweep(&so, GEN_DAYS);
	const struct sweep_acct *a;
	const struct sweep_wave *w;
	size_t                   listed, global;
	uint32_t                 i;

	for (i = 0; i < GEN_ACCTS; i++) {
		a = generated_acct(sw, i);
		ck_assert_msg(a->suspect == (i < GEN_BOTS),
			      "%s: suspect %d, bot %d (score %.1f %s)", a->jid,
			      a->suspect, i < GEN_BOTS, a->score, a->signals);
		if (i >= GEN_BOTS)
			ck_assert_msg(a->score < 9.5, "human %s: %.1f (%s)",
				      a->jid, a->score, a->signals);
		else
			ck_assert(a->verdict >= FG_V_QUARANTINE);
	}
	ck_assert_uint_eq(sweep_suspects(sw), GEN_BOTS);
	/* the bots registered in one wave: found, summed up, not logged */
	ck_assert_uint_ge(sweep_waves(sw, &w, &listed, &global), 1);
	ck_assert_uint_gt(sweep_probation(sw), 0);
	sweep_free(sw);
}
END_TEST

static void
count_subject(const struct store_subject *s, void *arg)
{
	int *n = arg;

	if (s->type == FG_SUBJ_ACCOUNT &&
	    strcmp(s->key, "abupe@example.org") == 0 &&
	    s->override == FG_OVR_QUARANTINE &&
	    /* like any quarantine it expires (7 days by default) */
	    s->expires > s->updated &&
	    s->expires <= s->updated + 7LL * 86400 * 1000 &&
	    strcmp(s->actor, "floodgatectl sweep") == 0 &&
	    strstr(s->reason, "Abupe") != NULL)
		(*n)++;
	if (strcmp(s->key, "alice@example.org") == 0)
		*n += 100;
}

static void
count_allow(const struct store_subject *s, void *arg)
{
	if (strcmp(s->key, "abupe@example.org") == 0 &&
	    s->override == FG_OVR_ALLOW)
		(*(int *)arg)++;
}

START_TEST(import_quarantines)
{
	char dir[] = "/tmp/check_sweep.XXXXXX", db[256];
	/* the fixture's three short sessions: a case-login bot */
	char *argv[] = {
	    "sweep",    "--rule", "case-login",
	    "--import", db,       (char *)tu_fixture("ejabberd-23.01.lines"),
	    NULL};
	struct store        *st;
	struct store_subject subj;
	int                  n = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/fg.db", dir);
	ck_assert_int_eq(ctl_sweep(6, argv), CTL_EXIT_OK);
	st = store_open(db);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_load_subjects(st, count_subject, &n), 0);
	ck_assert_int_eq(n, 1);
	/* While a store is open (the daemon), the import refuses it. */
	ck_assert_int_eq(ctl_sweep(6, argv), CTL_EXIT_REFUSED);
	/* An admin allowlists the account: a second sweep leaves it be. */
	memset(&subj, 0, sizeof subj);
	subj.type = FG_SUBJ_ACCOUNT;
	subj.key = "abupe@example.org";
	subj.override = FG_OVR_ALLOW;
	subj.actor = "admin@example.org";
	subj.reason = "known user";
	ck_assert_int_eq(store_commit_admin(st, &subj, NULL), 0);
	store_close(st);
	ck_assert_int_eq(ctl_sweep(6, argv), CTL_EXIT_OK);
	st = store_open(db);
	n = 0;
	ck_assert_int_eq(store_load_subjects(st, count_allow, &n), 0);
	ck_assert_int_eq(n, 1);
	store_close(st);
	unlink(db);
	snprintf(db, sizeof db, "%s/fg.db-wal", dir);
	unlink(db);
	snprintf(db, sizeof db, "%s/fg.db-shm", dir);
	unlink(db);
	snprintf(db, sizeof db, "%s/fg.db.lock", dir);
	unlink(db);
	rmdir(dir);
}
END_TEST

START_TEST(ctl_exit_codes)
{
	char *a1[] = {"sweep", NULL};
	char *a2[] = {"sweep", "--commands", "exchange", "x", NULL};
	char *a3[] = {"sweep", "--csv", "/nonexistent/ejabberd.log", NULL};
	char *a4[] = {"report", "--year", "soon", "x", NULL};
	char *a5[] = {"sweep", "--csv", "--commands", "prosody", "x", NULL};

	ck_assert_int_eq(ctl_sweep(1, a1), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_sweep(4, a2), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_sweep(3, a3), CTL_EXIT_REFUSED);
	ck_assert_int_eq(ctl_report(4, a4), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_sweep(5, a5), CTL_EXIT_USAGE);
}
END_TEST

/* Account keys fold ASCII upper case eight bytes at a time: every byte
 * value, at every position and length, as tolower() in the C locale. */
START_TEST(key_folding)
{
	char   user[40], host[24], key[2 * LOGSCAN_FIELD_MAX];
	size_t ul, hl, i, b;

	for (b = 0; b < 256; b++)
		for (ul = 1; ul < sizeof user; ul++) {
			hl = (b + ul) % sizeof host;
			for (i = 0; i < ul; i++)
				user[i] = (char)((b + i * 37) & 0xff);
			user[ul - 1] = (char)b;
			for (i = 0; i < hl; i++)
				host[i] = (char)((b * 7 + i) & 0xff);
			ck_assert_uint_eq(sweep_mk_key(key, user, ul, host, hl),
					  ul + (hl > 0 ? 1 + hl : 0));
			for (i = 0; i < ul; i++)
				ck_assert_int_eq(
				    (unsigned char)key[i],
				    tolower((unsigned char)user[i]));
			if (hl > 0)
				ck_assert_int_eq(key[ul], '@');
			for (i = 0; i < hl; i++)
				ck_assert_int_eq(
				    (unsigned char)key[ul + 1 + i],
				    tolower((unsigned char)host[i]));
		}
}
END_TEST

START_TEST(report_counts)
{
	char                path[] = "/tmp/check_sweep.XXXXXX";
	int                 fd = mkstemp(path);
	const char         *traps = "# spamtraps\nbcd2\n  ghost@localhost  \n";
	struct report      *r = report_new();
	struct logscan_opts lo = {LOGSCAN_FMT_AUTO, 2026};
	struct logscan     *ls;
	const struct report_row *row;
	uint64_t                 total, nouser;

	ck_assert_int_eq(write(fd, traps, strlen(traps)),
			 (ssize_t)strlen(traps));
	close(fd);
	ck_assert_int_eq(report_load_spamtraps(r, path), 0);
	unlink(path);
	ls = logscan_new(&lo, report_rec, r);
	ck_assert_int_eq(logscan_file(ls, tu_fixture("ejabberd-23.01.lines")),
			 0);
	ck_assert_int_eq(logscan_file(ls, tu_fixture("prosody-0.12.lines")), 0);
	logscan_free(ls);
	report_totals(r, &total, &nouser);
	ck_assert_uint_eq(total, 4);
	ck_assert_uint_eq(nouser, 2);
	row = report_get(r, 0, "bcd2@example.org");
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(row->spamtrap, 1);
	ck_assert_uint_eq(row->hours[11], 1);
	row = report_get(r, 0, "ghost@localhost");
	ck_assert_int_eq(row->spamtrap, 1);
	row = report_get(r, 1, "198.51.100.9");
	ck_assert_uint_eq(row->attempts, 1);
	ck_assert_uint_eq(row->trap_hits, 1);
	row = report_get(r, 1, "2001:db8::5");
	ck_assert_uint_eq(row->trap_hits, 0);
	ck_assert_uint_eq(report_count(r, 1), 4);
	report_free(r);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("sweep");
	TCase   *tc = tcase_create("sweep");
	SRunner *sr;
	int      failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fixture_seed);
	tcase_add_test(tc, fixture_prosody_scored);
	tcase_add_test(tc, fixture_outputs);
	tcase_add_test(tc, shell_quoting);
	tcase_add_test(tc, hostile_names);
	tcase_add_test(tc, prosody_without_log_auth);
	tcase_add_test(tc, generated_case_login);
	tcase_add_test(tc, generated_detectors);
	tcase_add_test(tc, import_quarantines);
	tcase_add_test(tc, ctl_exit_codes);
	tcase_add_test(tc, report_counts);
	tcase_add_test(tc, key_folding);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
