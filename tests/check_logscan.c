/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: the log scanner (ejabberd and Prosody lines, gzip, several
 * files in order, bad/truncated/over-long lines) and its hash table.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <zlib.h>

#include "tools/logscan.h"
#include "tools/strtab.h"
#include "tools/sweep.h"
#include "tests/testutil.h"

#define MAXREC 64

struct got {
	size_t n;
	struct {
		int64_t           t;
		enum logscan_type type;
		char              user[64], host[64], ip[64], sid[64];
	} r[MAXREC];
};

static void
collect(const struct logscan_rec *rec, void *arg)
{
	struct got *g = arg;

	/* the lengths are the consumer's strlen, for every record */
	ck_assert_uint_eq(rec->user_len, strlen(rec->user));
	ck_assert_uint_eq(rec->host_len, strlen(rec->host));
	ck_assert_uint_eq(rec->ip_len, strlen(rec->ip));
	ck_assert_uint_eq(rec->sid_len, strlen(rec->sid));
	if (g->n >= MAXREC)
		return;
	g->r[g->n].t = rec->t;
	g->r[g->n].type = rec->type;
	snprintf(g->r[g->n].user, 64, "%s", rec->user);
	snprintf(g->r[g->n].host, 64, "%s", rec->host);
	snprintf(g->r[g->n].ip, 64, "%s", rec->ip);
	snprintf(g->r[g->n].sid, 64, "%s", rec->sid);
	g->n++;
}

static struct got *
scan(const char *text, const struct logscan_opts *o, struct logscan_stats *st)
{
	static struct got g;
	struct logscan   *ls;

	memset(&g, 0, sizeof g);
	ls = logscan_new(o, collect, &g);
	logscan_buf(ls, "test", text, strlen(text));
	if (st != NULL)
		*st = *logscan_stats(ls);
	logscan_free(ls);
	return &g;
}

START_TEST(civil)
{
	ck_assert_int_eq(logscan_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(logscan_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(logscan_days_from_civil(2026, 11, 22) * 86400,
			 1795305600LL);
}
END_TEST

START_TEST(ejabberd_auth_ok)
{
	struct got *g = scan(
	    "2026-11-22 11:00:00.120000+00:00 [info] "
	    "<0.775.0>@ejabberd_c2s:process_auth_result/3:272 (tcp|<0.775.0>) "
	    "Accepted c2s PLAIN authentication for Abc1@localhost by mnesia "
	    "backend from 127.0.0.1\n",
	    NULL, NULL);

	ck_assert_uint_eq(g->n, 1);
	ck_assert_int_eq(g->r[0].type, LOGSCAN_AUTH_OK);
	ck_assert_str_eq(g->r[0].user, "Abc1");
	ck_assert_str_eq(g->r[0].host, "localhost");
	ck_assert_str_eq(g->r[0].ip, "127.0.0.1");
	ck_assert_str_eq(g->r[0].sid, "<0.775.0>");
	ck_assert_int_eq(g->r[0].t, 1795305600LL + 11 * 3600);
}
END_TEST

START_TEST(ejabberd_offsets_and_ipv6)
{
	struct got *g = scan(
	    "2026-11-22T12:00:00.5+01:00 [warning] <0.776.0>@ejabberd_c2s:"
	    "process_auth_result/3:280 (tcp|<0.776.0>) Failed c2s PLAIN "
	    "authentication for bcd2@localhost from ::ffff:10.1.2.3: Invalid "
	    "username or password\n"
	    "2026-11-22 11:00:00Z [warning] <0.777.0>@ejabberd_c2s:"
	    "process_auth_result/3:280 (tcp|<0.777.0>) Failed c2s PLAIN "
	    "authentication from 2001:db8::1: Invalid username or password\n"
	    "2026-11-22 11:00:00.1-0130 [info] <0.633.0>@mod_register:"
	    "try_register/6:380 The account alice@localhost was registered "
	    "from IP address ::1\n",
	    NULL, NULL);

	ck_assert_uint_eq(g->n, 3);
	ck_assert_int_eq(g->r[0].type, LOGSCAN_AUTH_FAIL);
	ck_assert_str_eq(g->r[0].user, "bcd2");
	ck_assert_str_eq(g->r[0].ip, "10.1.2.3");
	ck_assert_int_eq(g->r[0].t, 1795305600LL + 11 * 3600);
	ck_assert_int_eq(g->r[1].type, LOGSCAN_AUTH_FAIL);
	ck_assert_str_eq(g->r[1].user, "");
	ck_assert_str_eq(g->r[1].ip, "2001:db8::1");
	ck_assert_int_eq(g->r[2].type, LOGSCAN_REGISTER);
	ck_assert_str_eq(g->r[2].user, "alice");
	ck_assert_str_eq(g->r[2].ip, "::1");
	ck_assert_str_eq(g->r[2].sid, "");
	ck_assert_int_eq(g->r[2].t, 1795305600LL + 12 * 3600 + 30 * 60);
}
END_TEST

START_TEST(ejabberd_sessions)
{
	struct got *g = scan(
	    "2026-11-22 11:00:00.130000+00:00 [info] <0.775.0>@ejabberd_c2s:"
	    "bind/2:450 (tcp|<0.775.0>) Opened c2s session for "
	    "Abc1@localhost/Bot\n"
	    "2026-11-22 11:00:04.000000+00:00 [info] <0.775.0>@ejabberd_c2s:"
	    "process_terminated/2:295 (tcp|<0.775.0>) Closing c2s session for "
	    "Abc1@localhost/Bot: Stream reset by peer\n"
	    "2026-11-22 11:00:05.000000+00:00 [info] <0.775.0>@ejabberd_c2s:"
	    "process_terminated/2:295 (tcp|<0.775.0>) Closing c2s session for "
	    "x@localhost/odd: resource: Stream closed by local host: a (b)\n"
	    "2026-11-22 11:00:05.000000+00:00 [info] <0.334.0>@ejabberd_"
	    "listener:accept/7:273 (<0.775.0>) Accepted connection "
	    "127.0.0.1:33648 -> 127.0.0.1:5222\n",
	    NULL, NULL);

	ck_assert_uint_eq(g->n, 3);
	ck_assert_int_eq(g->r[0].type, LOGSCAN_SESSION_OPEN);
	ck_assert_str_eq(g->r[0].user, "Abc1");
	ck_assert_str_eq(g->r[0].sid, "<0.775.0>");
	ck_assert_int_eq(g->r[1].type, LOGSCAN_SESSION_CLOSE);
	ck_assert_str_eq(g->r[1].sid, "<0.775.0>");
	ck_assert_int_eq(g->r[1].t - g->r[0].t, 4);
	ck_assert_str_eq(g->r[2].user, "x");
}
END_TEST

/* Whole log of a real ejabberd 23.01 node (tests/integration/
 * test_sweep_real.py's scenario, captured once): every line parses or is
 * ignored, and the records are the ones the node was put through. */
static struct got *
scan_fixture(const char *name, struct logscan_stats *st)
{
	static struct got g;
	struct logscan   *ls;

	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	ck_assert_int_eq(logscan_file(ls, tu_fixture(name)), 0);
	*st = *logscan_stats(ls);
	logscan_free(ls);
	return &g;
}

static size_t
count(const struct got *g, enum logscan_type type, const char *user,
      const char *ip)
{
	size_t i, n = 0;

	for (i = 0; i < g->n; i++)
		if (g->r[i].type == type &&
		    (user == NULL || strcmp(g->r[i].user, user) == 0) &&
		    (ip == NULL || strcmp(g->r[i].ip, ip) == 0))
			n++;
	return n;
}

START_TEST(ejabberd_real)
{
	struct logscan_stats st;
	struct got          *g = scan_fixture("ejabberd-23.01-real.lines", &st);

	ck_assert_uint_eq(st.lines, 53);
	ck_assert_uint_eq(st.bad, 0);
	ck_assert_uint_eq(st.records, 18); /* with start and stop */
	/* logins as typed: Abupe, ABUPE; the human through SCRAM-SHA-512 */
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_OK, "Abupe", "127.0.0.1"), 2);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_OK, "ABUPE", "127.0.0.1"), 1);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_OK, "alice", "127.0.0.1"), 1);
	ck_assert_uint_eq(count(g, LOGSCAN_SESSION_OPEN, NULL, NULL), 4);
	ck_assert_uint_eq(count(g, LOGSCAN_SESSION_CLOSE, NULL, NULL), 4);
	/* wrong password, unknown name, no name at all */
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_FAIL, "abupe", "127.0.0.1"), 1);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_FAIL, "ghost", "127.0.0.1"), 1);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_FAIL, "", "127.0.0.1"), 1);
	/* in-band registration keeps the name as sent */
	ck_assert_uint_eq(count(g, LOGSCAN_REGISTER, "Newbie", "127.0.0.1"), 1);
	/* "+00:00": 2026-11-23 11:27:04.188779 */
	ck_assert_int_eq(g->r[0].type, LOGSCAN_SERVER_START);
	ck_assert_int_eq(g->r[1].type, LOGSCAN_AUTH_OK);
	ck_assert_int_eq(g->r[1].t,
			 logscan_days_from_civil(2026, 11, 23) * 86400 +
			     11 * 3600 + 27 * 60 + 4);
	ck_assert_str_eq(g->r[1].sid, "<0.506.0>");
}
END_TEST

/* The same node with hide_sensitive_log_data: true and TZ=Asia/Kolkata:
 * ejabberd writes "hidden_by_ejabberd" for every IP (these lines were
 * unparseable before), local time with "+05:30", a failed slixmpp login
 * as one line per SASL mechanism tried, a "system-shutdown" close, and
 * an auth without a session (the client left before binding). */
START_TEST(ejabberd_real_hidden_ip)
{
	struct logscan_stats st;
	struct got *g = scan_fixture("ejabberd-23.01-real-hidden.lines", &st);

	ck_assert_uint_eq(st.bad, 0);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_OK, "Abupe", ""), 4);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_OK, "alice", ""), 1);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_FAIL, "alice", ""), 4);
	ck_assert_uint_eq(count(g, LOGSCAN_AUTH_FAIL, "nobody", ""), 4);
	ck_assert_uint_eq(count(g, LOGSCAN_SESSION_OPEN, NULL, NULL), 4);
	/* Abupe/left was open at "ejabberdctl stop" and its close was never
	 * logged (in another run of the same scenario it was). */
	ck_assert_uint_eq(count(g, LOGSCAN_SESSION_CLOSE, NULL, NULL), 3);
	/* 16:58:33.802068+05:30 is 11:28:33 UTC */
	ck_assert_int_eq(g->r[0].type, LOGSCAN_SERVER_START);
	ck_assert_int_eq(g->r[1].type, LOGSCAN_AUTH_OK);
	ck_assert_int_eq(g->r[1].t,
			 logscan_days_from_civil(2026, 11, 23) * 86400 +
			     11 * 3600 + 28 * 60 + 33);
}
END_TEST

/* Real ejabberd 23.01 lines around "ejabberdctl stop" and a new start:
 * alice's session open at the stop was never closed in the log, and the
 * new node gave her next session the same pid <0.510.0>. Without the
 * server-start record she would have two sessions open at once. */
static const char restart_log[] =
    "2026-11-23 16:58:30.418168+05:30 [warning] <0.509.0>@ejabberd_c2s:"
    "process_auth_result/3:280 (tcp|<0.509.0>) Failed c2s PLAIN "
    "authentication for Alice@fg.test from 127.0.0.1: Invalid username or "
    "password\n"
    "2026-11-23 16:58:34.413148+05:30 [info] <0.510.0>@ejabberd_c2s:bind/"
    "2:450 (tcp|<0.510.0>) Opened c2s session for alice@fg.test/left\n"
    "2026-11-23 16:58:37.271023+05:30 [info] <0.124.0>@ejabberd_app:stop/"
    "1:111 ejabberd 23.01-1 is stopped in the node 'fgcc418bf9@127.0.0.1'\n"
    "2026-11-23 17:10:00.020038+05:30 [info] <0.124.0>@ejabberd_app:start/"
    "2:63 ejabberd 23.01-1 is started in the node 'fgcc418bf9@127.0.0.1' "
    "in 1.79s\n"
    "2026-11-23 17:10:04.198794+05:30 [info] <0.510.0>@ejabberd_c2s:bind/"
    "2:450 (tcp|<0.510.0>) Opened c2s session for alice@fg.test/phone\n"
    "2026-11-23 19:10:04.202159+05:30 [info] <0.510.0>@ejabberd_c2s:"
    "process_terminated/2:295 (tcp|<0.510.0>) Closing c2s session for "
    "alice@fg.test/phone: Stream reset by peer\n";

START_TEST(ejabberd_restart)
{
	struct logscan_stats     st;
	struct got              *g = scan(restart_log, NULL, &st);
	struct sweep            *sw;
	struct logscan          *ls;
	const struct sweep_acct *a;

	ck_assert_uint_eq(st.bad, 0);
	ck_assert_uint_eq(g->n, 6);
	ck_assert_int_eq(g->r[2].type, LOGSCAN_SERVER_START);
	ck_assert_int_eq(g->r[3].type, LOGSCAN_SERVER_START);
	sw = sweep_new(NULL);
	ls = logscan_new(NULL, sweep_rec, sw);
	logscan_buf(ls, "restart", restart_log, strlen(restart_log));
	logscan_free(ls);
	sweep_finish(sw);
	a = sweep_get(sw, "alice@fg.test");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->sessions, 2);
	ck_assert_uint_eq(a->closed, 1);
	ck_assert_uint_eq(a->max_concurrent, 1);
	ck_assert_uint_eq(a->overlaps, 0);
	ck_assert_int_eq(a->dur_max, 7200);
	/* her wrong password came before her first session */
	ck_assert_uint_eq(a->auth_fail, 1);
	sweep_free(sw);
}
END_TEST

START_TEST(prosody_lines)
{
	struct logscan_opts  o = {LOGSCAN_FMT_AUTO, 2026};
	struct logscan_stats st;
	struct got          *g;
	struct got           copy;
	FILE                *fp;
	char                 text[8192];
	size_t               n;

	fp = fopen(tu_fixture("prosody-0.12.lines"), "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(text, 1, sizeof text - 1, fp);
	text[n] = '\0';
	fclose(fp);
	g = scan(text, &o, &st);
	copy = *g;
	ck_assert_uint_eq(st.bad, 0);
	ck_assert_int_eq(copy.r[0].type, LOGSCAN_REGISTER);
	ck_assert_str_eq(copy.r[0].user, "zaxirobo");
	ck_assert_int_eq(copy.r[0].t, 1795305600LL + 11 * 3600);
	ck_assert_int_eq(copy.r[1].type, LOGSCAN_SESSION_CLOSE);
	ck_assert_int_eq(copy.r[2].type, LOGSCAN_CONNECT);
	ck_assert_str_eq(copy.r[2].sid, "c2s55d0c8a0e001");
	ck_assert_int_eq(copy.r[3].type, LOGSCAN_SESSION_OPEN);
	ck_assert_str_eq(copy.r[3].user, "zaxirobo");
	ck_assert_str_eq(copy.r[3].sid, "c2s55d0c8a0e001");
	ck_assert_int_eq(copy.r[4].type, LOGSCAN_AUTH_OK);
	ck_assert_str_eq(copy.r[4].ip, "127.0.0.1");
	/* failed logins (mod_log_auth), with and without a user name */
	ck_assert_int_eq(copy.r[copy.n - 3].type, LOGSCAN_AUTH_FAIL);
	ck_assert_str_eq(copy.r[copy.n - 3].user, "ghost");
	ck_assert_int_eq(copy.r[copy.n - 1].type, LOGSCAN_AUTH_FAIL);
	ck_assert_str_eq(copy.r[copy.n - 1].user, "");
	ck_assert_str_eq(copy.r[copy.n - 1].ip, "192.0.2.55");
}
END_TEST

START_TEST(prosody_year_rollover)
{
	struct logscan_opts o = {LOGSCAN_FMT_PROSODY, 2025};
	struct got *g = scan("Dec 31 23:59:59 c2s1\tinfo\tClient connected\n"
			     "Jan  1 00:00:01 c2s1\tinfo\tClient "
			     "disconnected: closed\n",
			     &o, NULL);

	ck_assert_uint_eq(g->n, 2);
	ck_assert_int_eq(g->r[1].t - g->r[0].t, 2);
}
END_TEST

START_TEST(prosody_year_from_mtime)
{
	char            path[] = "/tmp/check_logscan.XXXXXX";
	int             fd = mkstemp(path);
	const char     *l = "Dec 31 23:59:59 c2s1\tinfo\tClient connected\n"
			    "Jan  2 00:00:00 c2s1\tinfo\tClient connected\n";
	struct utimbuf  ut;
	struct got      g;
	struct logscan *ls;

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, l, strlen(l)), (ssize_t)strlen(l));
	close(fd);
	/* mtime 2026-01-10: the December line is from 2025 */
	ut.actime = ut.modtime = (logscan_days_from_civil(2026, 1, 10)) * 86400;
	ck_assert_int_eq(utime(path, &ut), 0);
	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	ck_assert_int_eq(logscan_file(ls, path), 0);
	logscan_free(ls);
	unlink(path);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_int_eq(g.r[0].t,
			 logscan_days_from_civil(2025, 12, 31) * 86400 + 86399);
	ck_assert_int_eq(g.r[1].t, logscan_days_from_civil(2026, 1, 2) * 86400);
}
END_TEST

/* The kept date: a change of date, a date that is kept but whose line is
 * bad, going back to an earlier date, and Prosody's year across a
 * kept month. */
START_TEST(date_kept)
{
	struct logscan_opts  o = {LOGSCAN_FMT_PROSODY, 2025};
	struct logscan_stats st;
	struct got          *g;
	const int64_t d22 = logscan_days_from_civil(2026, 11, 22) * 86400;
	const int64_t d23 = d22 + 86400;

	g = scan("2026-11-22 23:59:59 [info] <0.1.0>@m:f/1:1 (tcp|<0.1.0>) "
		 "Opened c2s session for a@h/r\n"
		 "2026-11-23 00:00:00 [info] <0.2.0>@m:f/1:1 (tcp|<0.2.0>) "
		 "Opened c2s session for b@h/r\n"
		 "2026-11-23 24:00:00 [info] bad hour, date kept\n"
		 "2026-11-23T00:00:01Z [info] <0.2.0>@m:f/1:1 (tcp|<0.2.0>) "
		 "Closing c2s session for b@h/r: bye\n"
		 "2026-11-22 12:00:00+01:00 [info] <0.1.0>@m:f/1:1 "
		 "(tcp|<0.1.0>) Closing c2s session for a@h/r: late\n"
		 "2026-11-3 00:00:00 [info] short day\n"
		 "2026-13-23 00:00:00 [info] month 13\n"
		 "2026-11-2\n",
		 NULL, &st);
	ck_assert_uint_eq(g->n, 4);
	ck_assert_uint_eq(st.bad, 4);
	ck_assert_int_eq(g->r[0].t, d22 + 86399);
	ck_assert_int_eq(g->r[1].t, d23);
	ck_assert_int_eq(g->r[2].t, d23 + 1);
	ck_assert_int_eq(g->r[3].t, d22 + 11 * 3600);
	ck_assert_str_eq(g->r[3].user, "a");

	g = scan("Dec 31 23:59:59 c2s1\tinfo\tClient connected\n"
		 "Dec 31 24:00:00 c2s1\tinfo\tbad hour\n"
		 "Jan  1 00:00:01 c2s1\tinfo\tClient connected\n"
		 "Jan  1 00:00:02 c2s1\tinfo\tClient connected\n"
		 "Dec 31 23:59:58 c2s1\tinfo\tClient connected\n"
		 "Jan  1 00:00:03 c2s1\tinfo\tClient connected\n",
		 &o, &st);
	ck_assert_uint_eq(g->n, 5);
	ck_assert_uint_eq(st.bad, 1);
	ck_assert_int_eq(g->r[0].t,
			 logscan_days_from_civil(2025, 12, 31) * 86400 + 86399);
	ck_assert_int_eq(g->r[1].t - g->r[0].t, 2);
	ck_assert_int_eq(g->r[2].t - g->r[0].t, 3);
	/* back to December stays in 2026; January after it is 2027 again,
	 * as without a kept date */
	ck_assert_int_eq(g->r[3].t,
			 logscan_days_from_civil(2026, 12, 31) * 86400 + 86398);
	ck_assert_int_eq(g->r[4].t,
			 logscan_days_from_civil(2027, 1, 1) * 86400 + 3);
}
END_TEST

/* The session id is only copied for records, but it is checked on every
 * line: a line of no interest with a broken one is still bad. */
START_TEST(sid_checked_on_every_line)
{
	static const char ej[] =
	    "2026-11-22 11:00:00 [info] <0.1.0>@ejabberd_listener:accept/7:1 "
	    "(<0.5.0>) Accepted connection 10.0.0.1:1 -> 10.0.0.2:5222\n"
	    "2026-11-22 11:00:00 [info] <0.1.0>@ejabberd_listener:accept/7:1 "
	    "(<0.5\0.0>) Accepted connection 10.0.0.1:1 -> 10.0.0.2:5222\n"
	    "2026-11-22 11:00:00 [info] <0.1.0>@m:f/1:1 (tcp|) Accepted x\n"
	    "2026-11-22 11:00:00 [info] <0.1\0.0>@m:f/1:1 Accepted x\n"
	    "2026-11-22 11:00:00 [info] <0.1\0.0>@m:f/1:1 (tcp|<0.2.0>) "
	    "Opened c2s session for a@h/r\n"
	    "2026-11-22 11:00:00 [info] <0.1.0>@m:f/1:1 Opened c2s session "
	    "for b@h\n"
	    "2026-11-22 11:00:00 [info] (a|b|c) Closing c2s session for c@h\n"
	    "2026-11-22 11:00:00 [info] <0.3.0>@mod_register:r/1:1 The "
	    "account d@h was registered\n";
	static const char pr[] =
	    "Nov 22 11:00:00 c2s\0x\tinfo\tHello\n"
	    "Nov 22 11:00:00 c2s1\tinfo\tHello\n"
	    "Nov 22 11:00:00 c2s2\tinfo\tClient connected\n"
	    "Nov 22 11:00:00 \tinfo\tClient connected\n";
	struct logscan_stats st;
	struct got           g;
	struct logscan      *ls;

	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	logscan_buf(ls, "ej", ej, sizeof ej - 1);
	logscan_buf(ls, "pr", pr, sizeof pr - 1);
	st = *logscan_stats(ls);
	logscan_free(ls);
	ck_assert_uint_eq(st.lines, 12);
	ck_assert_uint_eq(st.bad, 5);
	ck_assert_uint_eq(st.ignored, 2);
	ck_assert_uint_eq(g.n, 5);
	ck_assert_str_eq(g.r[0].sid, "<0.2.0>");
	ck_assert_str_eq(g.r[1].sid, "<0.1.0>");
	ck_assert_str_eq(g.r[2].sid, "b|c");
	ck_assert_str_eq(g.r[2].user, "c");
	ck_assert_int_eq(g.r[3].type, LOGSCAN_REGISTER);
	ck_assert_str_eq(g.r[3].sid, "");
	ck_assert_str_eq(g.r[4].sid, "c2s2");
}
END_TEST

START_TEST(bad_lines_counted)
{
	struct got                  g;
	struct logscan             *ls;
	const struct logscan_stats *st;

	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	ck_assert_int_eq(logscan_file(ls, tu_fixture("bad.lines")), 0);
	st = logscan_stats(ls);
	ck_assert_uint_eq(st->lines, 7);
	ck_assert_uint_eq(st->bad, 6);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.r[0].user, "carol");
	ck_assert_uint_eq(st->nsamples, LOGSCAN_SAMPLES);
	ck_assert_ptr_nonnull(strstr(st->samples[0], "bad.lines:1:"));
	ck_assert_ptr_nonnull(strstr(st->samples[2], "\\t"));
	logscan_free(ls);
}
END_TEST

START_TEST(long_nul_crlf)
{
	size_t big = 3 * 1024 * 1024, n;
	char  *text = malloc(big + 512), path[] = "/tmp/check_logscan.XXXXXX";
	const char     *ok = "2026-11-22 11:00:00 [info] <0.1.0>@m:f/1:1 "
			     "(tcp|<0.1.0>) Opened c2s session for a@b/c\r\n";
	struct got      g;
	struct logscan *ls;
	const struct logscan_stats *st;
	int                         fd;

	ck_assert_ptr_nonnull(text);
	memset(text, 'x', big);
	text[big] = '\n';
	n = big + 1;
	memcpy(text + n, ok, strlen(ok));
	n += strlen(ok);
	memcpy(text + n, "2026-11-22 11:00:00 [info] a\0b\n", 31);
	n += 31;
	memcpy(text + n, ok, strlen(ok));
	n += strlen(ok);
	/* in memory */
	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	logscan_buf(ls, "mem", text, n);
	ck_assert_uint_eq(g.n, 2);
	logscan_free(ls);
	/* from a file, where the line crosses buffer refills */
	fd = mkstemp(path);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	ck_assert_int_eq(logscan_file(ls, path), 0);
	st = logscan_stats(ls);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.r[0].user, "a");
	ck_assert_uint_eq(st->lines, 4);
	ck_assert_uint_eq(st->records, 2);
	logscan_free(ls);
	unlink(path);
	free(text);
}
END_TEST

START_TEST(rotated_gzip_in_order)
{
	struct got      whole, parts;
	struct logscan *ls;
	size_t          i;

	memset(&whole, 0, sizeof whole);
	ls = logscan_new(NULL, collect, &whole);
	ck_assert_int_eq(logscan_file(ls, tu_fixture("ejabberd-23.01.lines")),
			 0);
	logscan_free(ls);
	memset(&parts, 0, sizeof parts);
	ls = logscan_new(NULL, collect, &parts);
	ck_assert_int_eq(
	    logscan_file(ls, tu_fixture("ejabberd-rotated.lines.1.gz")), 0);
	ck_assert_int_eq(logscan_file(ls, tu_fixture("ejabberd-rotated.lines")),
			 0);
	ck_assert_uint_eq(logscan_stats(ls)->files, 2);
	ck_assert_uint_eq(logscan_stats(ls)->bad, 0);
	logscan_free(ls);
	ck_assert_uint_gt(whole.n, 10);
	ck_assert_uint_eq(whole.n, parts.n);
	for (i = 0; i < whole.n; i++) {
		ck_assert_int_eq(whole.r[i].t, parts.r[i].t);
		ck_assert_int_eq(whole.r[i].type, parts.r[i].type);
		ck_assert_str_eq(whole.r[i].user, parts.r[i].user);
	}
}
END_TEST

START_TEST(truncated_gzip)
{
	char            path[] = "/tmp/check_logscan.XXXXXX";
	FILE           *in;
	char            buf[4096];
	size_t          n;
	int             fd;
	struct got      g;
	struct logscan *ls;

	in = fopen(tu_fixture("ejabberd-rotated.lines.1.gz"), "rb");
	ck_assert_ptr_nonnull(in);
	n = fread(buf, 1, sizeof buf, in);
	fclose(in);
	fd = mkstemp(path);
	ck_assert_int_eq(write(fd, buf, n / 2), (ssize_t)(n / 2));
	close(fd);
	memset(&g, 0, sizeof g);
	ls = logscan_new(NULL, collect, &g);
	/* reported, not fatal; what could be read is kept */
	ck_assert_int_eq(logscan_file(ls, path), -1);
	ck_assert_int_eq(logscan_file(ls, "/nonexistent/x.log"), -1);
	logscan_free(ls);
	unlink(path);
}
END_TEST

START_TEST(strtab_churn)
{
	struct strtab *t = strtab_new();
	char           k[32];
	int            i, isnew;
	void         **v;

	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "k%d", i);
		v = strtab_put(t, k, strlen(k), &isnew);
		ck_assert_int_eq(isnew, 1);
		*v = (void *)(intptr_t)(i + 1);
	}
	for (i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof k, "k%d", i);
		ck_assert_ptr_eq(strtab_del(t, k, strlen(k)),
				 (void *)(intptr_t)(i + 1));
	}
	ck_assert_uint_eq(strtab_count(t), 2500);
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "k%d", i);
		if (i % 2)
			ck_assert_ptr_eq(strtab_get(t, k, strlen(k)),
					 (void *)(intptr_t)(i + 1));
		else
			ck_assert_ptr_null(strtab_get(t, k, strlen(k)));
	}
	strtab_free(t, NULL);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("logscan");
	TCase   *tc = tcase_create("logscan");
	SRunner *sr;
	int      failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, civil);
	tcase_add_test(tc, ejabberd_auth_ok);
	tcase_add_test(tc, ejabberd_offsets_and_ipv6);
	tcase_add_test(tc, ejabberd_sessions);
	tcase_add_test(tc, ejabberd_real);
	tcase_add_test(tc, ejabberd_real_hidden_ip);
	tcase_add_test(tc, ejabberd_restart);
	tcase_add_test(tc, prosody_lines);
	tcase_add_test(tc, prosody_year_rollover);
	tcase_add_test(tc, prosody_year_from_mtime);
	tcase_add_test(tc, date_kept);
	tcase_add_test(tc, sid_checked_on_every_line);
	tcase_add_test(tc, bad_lines_counted);
	tcase_add_test(tc, long_nul_crlf);
	tcase_add_test(tc, rotated_gzip_in_order);
	tcase_add_test(tc, truncated_gzip);
	tcase_add_test(tc, strtab_churn);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
