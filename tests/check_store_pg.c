/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the PostgreSQL store (storage/pg*.c),
 * against a throwaway cluster started for this run (tests/pgcluster.sh;
 * the whole file is skipped when PostgreSQL is not installed). Every test
 * gets a fresh database; a plain libpq connection on the side reads what
 * the store wrote or breaks things under it. Outages are real: the
 * server is stopped and started, or our backend is terminated.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/types.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "support/pgtest.h"

#define WAIT_MS 10000 /* longest wait for the event loop, ms */

static struct event_base *base;

static void
setup(void)
{
	log_init(1, 0, "check_store_pg");
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

static void
teardown(void)
{
	event_base_free(base);
}

static struct store *
open_db(const char *dsn)
{
	struct store *s = store_open_pg(base, dsn, pgt_password_file());

	ck_assert_ptr_nonnull(s);
	return s;
}

static struct store_subject
subj(const char *key, enum fg_verdict v, int64_t updated)
{
	struct store_subject s = {
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .score = 12.5,
	    .score_at = updated,
	    .verdict = v,
	    .expires = updated + 600000,
	    .override = FG_OVR_NONE,
	    .updated = updated,
	};
	return s;
}

static struct store_audit
aud(const char *key, enum fg_verdict o, enum fg_verdict n, int64_t at)
{
	struct store_audit a = {
	    .at = at,
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .old_verdict = o,
	    .new_verdict = n,
	    .reason = "rate",
	    .signals = "subscribe=3",
	    .actor = "auto",
	};
	return a;
}

static int
drained(void *arg)
{
	return store_queued(arg) == 0;
}

static int
healthy(void *arg)
{
	return store_health(arg, NULL) == 0;
}

static int
unhealthy(void *arg)
{
	return store_health(arg, NULL) == -1;
}

/* Flush and run the loop until the batch is committed. */
static void
flush_wait(struct store *s)
{
	ck_assert_int_eq(store_flush(s), 0);
	ck_assert_int_eq(pgt_loop_until(base, drained, s, WAIT_MS), 0);
}

/* What change callbacks saw. */
struct seen {
	int              n;
	char             key[8][64];
	enum fg_verdict  verdict[8];
	enum fg_override override[8];
	int              admin[8];
};

static void
seen_cb(const struct store_subject *e, void *arg)
{
	struct seen *w = arg;

	if (w->n >= 8)
		return;
	snprintf(w->key[w->n], sizeof w->key[0], "%s", e->key);
	w->verdict[w->n] = e->verdict;
	w->override[w->n] = e->override;
	w->admin[w->n] = e->admin;
	w->n++;
}

static int
seen_one(void *arg)
{
	return ((struct seen *)arg)->n > 0;
}

static void
count_cb(const struct store_subject *e, void *arg)
{
	(*(int *)arg)++;
}

START_TEST(test_schema)
{
	const char   *dsn = pgt_fresh_db("t_schema");
	struct store *s;

	s = open_db(dsn);
	ck_assert_ptr_nonnull(strstr(store_name(s), "postgresql://"));
	ck_assert_ptr_null(strstr(store_name(s), "password"));
	store_close(s);
	ck_assert_int_eq(
	    pgt_int("t_schema", "SELECT version FROM floodgate_meta"),
	    STORE_SCHEMA_VERSION);
	/* a store of version 2 (the first PostgreSQL one) is migrated */
	ck_assert_int_eq(pgt_exec("t_schema",
				  "DROP TABLE reports_sent;"
				  " DROP INDEX reports_subject;"
				  " ALTER TABLE reports DROP COLUMN attached;"
				  " UPDATE floodgate_meta SET version = 2"),
			 0);
	s = open_db(dsn);
	store_close(s);
	ck_assert_int_eq(
	    pgt_int("t_schema", "SELECT version FROM floodgate_meta"),
	    STORE_SCHEMA_VERSION);
	ck_assert_int_eq(
	    pgt_int("t_schema", "SELECT count(*) FROM reports_sent"), 0);
	/* a second open (another instance) finds it and changes nothing */
	s = open_db(dsn);
	store_close(s);
	ck_assert_int_eq(pgt_int("t_schema", "SELECT count(*) FROM "
					     "floodgate_meta"),
			 1);
	/* a newer layout is refused, not touched */
	ck_assert_int_eq(
	    pgt_exec("t_schema", "UPDATE floodgate_meta SET version = 99"), 0);
	ck_assert_ptr_null(store_open_pg(base, dsn, pgt_password_file()));
	ck_assert_int_eq(
	    pgt_int("t_schema", "SELECT version FROM floodgate_meta"), 99);
	/* someone else's subjects table is not ours */
	dsn = pgt_fresh_db("t_foreign");
	ck_assert_int_eq(
	    pgt_exec("t_foreign", "CREATE TABLE subjects (x integer)"), 0);
	ck_assert_ptr_null(store_open_pg(base, dsn, pgt_password_file()));
}
END_TEST

/* The text of file, at most n - 1 bytes. */
static void
slurp(const char *file, char *out, size_t n)
{
	FILE  *fp = fopen(file, "r");
	size_t got;

	ck_assert_ptr_nonnull(fp);
	got = fread(out, 1, n - 1, fp);
	out[got] = '\0';
	fclose(fp);
}

START_TEST(test_password_file)
{
	const char *dsn = pgt_fresh_db("t_pw");
	char        bad[] = "/tmp/fg-pgpw.XXXXXX";
	char        logf[] = "/tmp/fg-pglog.XXXXXX";
	char        pw[128], logtext[16384];
	int         fd = mkstemp(bad), lfd = mkstemp(logf), saved;

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "wrong\n", 6), 6);
	close(fd);
	/* TCP needs the password: without the file, or a wrong one, no */
	ck_assert_ptr_null(store_open_pg(base, dsn, NULL));
	ck_assert_ptr_null(store_open_pg(base, dsn, bad));
	ck_assert_ptr_null(store_open_pg(base, dsn, "/nonexistent/pw"));
	unlink(bad);
	/* what the store logs, through a good and a broken connection,
	 * never holds the password */
	ck_assert_int_ne(lfd, -1);
	fflush(stderr);
	saved = dup(2);
	dup2(lfd, 2);
	{
		struct store *s = open_db(dsn);

		(void)pgt_exec("t_pw", "SELECT pg_terminate_backend(pid) FROM"
				       " pg_stat_activity WHERE datname ="
				       " 't_pw' AND pid <> pg_backend_pid()");
		(void)pgt_loop_until(base, unhealthy, s, WAIT_MS);
		(void)pgt_loop_until(base, healthy, s, WAIT_MS);
		store_close(s);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	slurp(logf, logtext, sizeof logtext);
	slurp(pgt_password_file(), pw, sizeof pw);
	pw[strcspn(pw, "\n")] = '\0';
	ck_assert_ptr_nonnull(strstr(logtext, "connection lost"));
	ck_assert_ptr_null(strstr(logtext, pw));
	close(lfd);
	unlink(logf);
}
END_TEST

START_TEST(test_roundtrip)
{
	const char          *dsn = pgt_fresh_db("t_round");
	struct store        *s = open_db(dsn);
	struct store_subject e =
	    subj("bot@example.org", FG_V_QUARANTINE, 1700000000000);
	struct store_audit        a;
	struct store_registration r = {"new@example.org", "192.0.2.1",
				       1700000000000};
	int                       n = 0;

	e.reason = "it's \"quoted\"; DROP TABLE subjects; --";
	store_queue_subject(s, &e);
	a = aud("bot@example.org", FG_V_ALLOW, FG_V_THROTTLE, 1700000000000);
	store_queue_audit(s, &a);
	a = aud("bot@example.org", FG_V_THROTTLE, FG_V_QUARANTINE,
		1700000000500);
	store_queue_audit(s, &a);
	store_queue_registration(s, &r);
	ck_assert_uint_eq(store_queued(s), 4);
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_round", "SELECT count(*) FROM subjects"
					    " WHERE verdict = 'quarantine'"
					    " AND reason LIKE '%DROP TABLE%'"),
			 1);
	ck_assert_int_eq(pgt_int("t_round", "SELECT count(*) FROM audit"), 2);
	ck_assert_int_eq(
	    pgt_int("t_round", "SELECT count(*) FROM registrations"), 1);
	ck_assert_int_eq(store_load_subjects(s, count_cb, &n), 0);
	ck_assert_int_eq(n, 1);
	store_close(s);
}
END_TEST

static void
audit_cb(const struct store_audit *a, void *arg)
{
	struct seen *w = arg;

	if (w->n < 8)
		w->verdict[w->n++] = a->new_verdict;
}

static void
reg_cb(const struct store_registration *r, void *arg)
{
	(*(int *)arg)++;
}

START_TEST(test_readers)
{
	const char               *dsn = pgt_fresh_db("t_read");
	struct store             *s = open_db(dsn);
	struct store_audit        a;
	struct store_registration r = {"new@example.org", NULL, 1000};
	struct seen               w = {0};
	int                       n = 0;

	a = aud("x@example.org", FG_V_ALLOW, FG_V_THROTTLE, 100);
	store_queue_audit(s, &a);
	a = aud("x@example.org", FG_V_THROTTLE, FG_V_BLOCK, 200);
	store_queue_audit(s, &a);
	store_queue_registration(s, &r);
	r.at = 2000;
	store_queue_registration(s, &r);
	/* readers see what is queued: no explicit flush */
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT, "x@example.org",
					    1, audit_cb, &w),
			 0);
	ck_assert_int_eq(w.n, 1);
	ck_assert_int_eq(w.verdict[0], FG_V_BLOCK);
	w.n = 0;
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT, "x@example.org",
					    0, audit_cb, &w),
			 0);
	ck_assert_int_eq(w.n, 2);
	ck_assert_int_eq(store_registered_since(s, 1500, 0, reg_cb, &n), 0);
	ck_assert_int_eq(n, 1);
	/* reports dedupe per reporter and subject */
	ck_assert_int_eq(store_report_add(s, "a@x", "spam@y", "spam", 1), 1);
	ck_assert_int_eq(store_report_add(s, "a@x", "spam@y", "again", 2), 0);
	ck_assert_int_eq(store_report_add(s, "b@x", "spam@y", NULL, 3), 1);
	ck_assert_int_eq(store_sub_add(s, "node", "a@x"), 0);
	ck_assert_int_eq(store_sub_add(s, "node", "a@x"), 0);
	ck_assert_int_eq(store_sub_add(s, "node", "b@x"), 0);
	ck_assert_int_eq(store_sub_del(s, "node", "a@x"), 0);
	ck_assert_int_eq(pgt_int("t_read", "SELECT count(*) FROM subscribers"),
			 1);
	{
		int64_t count, first, last;
		char    buf[7]; /* "buy n" and half a character */

		ck_assert_int_eq(
		    store_report_summary(s, "spam@y", &count, &first, &last),
		    0);
		ck_assert_int_eq(count, 2);
		ck_assert_int_eq(first, 1);
		ck_assert_int_eq(last, 3);
		ck_assert_int_eq(
		    store_report_summary(s, "none@y", &count, &first, &last),
		    0);
		ck_assert_int_eq(count, 0);
		ck_assert_int_eq(
		    store_report_attached(s, "spam@y", buf, sizeof buf), 0);
		ck_assert_int_eq(store_report_attach(s, "a@x", "spam@y",
						     "buy n\xc3\xa9w pills"),
				 0);
		/* set once */
		ck_assert_int_eq(
		    store_report_attach(s, "a@x", "spam@y", "other"), 0);
		ck_assert_int_eq(
		    store_report_attached(s, "spam@y", buf, sizeof buf), 1);
		/* cut before the character that does not fit */
		ck_assert_str_eq(buf, "buy n");
		ck_assert_int_eq(store_sent_any(s, "spam@y"), 0);
		ck_assert_int_eq(store_sent_add(s, "spam@y", "abuse@y", 5), 1);
		ck_assert_int_eq(store_sent_add(s, "spam@y", "abuse@y", 6), 0);
		ck_assert_int_eq(store_sent_any(s, "spam@y"), 1);
	}
	store_close(s);
}
END_TEST

/* A batch that waited (an outage, a slow flush) does not undo a newer
 * state another instance wrote; an admin action always lands. */
START_TEST(test_newer_wins)
{
	const char          *dsn = pgt_fresh_db("t_newer");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("x@example.org", FG_V_BLOCK, 2000);

	store_queue_subject(s, &e);
	flush_wait(s);
	e = subj("x@example.org", FG_V_THROTTLE, 1000);
	store_queue_subject(s, &e);
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_newer", "SELECT count(*) FROM subjects"
					    " WHERE verdict = 'block'"),
			 1);
	e = subj("x@example.org", FG_V_ALLOW, 500);
	e.override = FG_OVR_ALLOW;
	e.actor = "admin@example.org";
	ck_assert_int_eq(store_commit_admin(s, &e, NULL), 0);
	ck_assert_int_eq(pgt_int("t_newer", "SELECT count(*) FROM subjects"
					    " WHERE override = 'allow'"),
			 1);
	store_close(s);
}
END_TEST

/* An automatic row computed just after an admin action (by an instance
 * that had not heard of it yet) does not undo it; a later one does. */
START_TEST(test_admin_grace)
{
	const char          *dsn = pgt_fresh_db("t_grace");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("x@example.org", FG_V_ALLOW, 10000);

	ck_assert_int_eq(store_commit_admin(s, &e, NULL), 0);
	e = subj("x@example.org", FG_V_QUARANTINE, 10500);
	store_queue_subject(s, &e);
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_grace",
				 "SELECT count(*) FROM subjects"
				 " WHERE verdict = 'allow' AND admin"),
			 1);
	e = subj("x@example.org", FG_V_QUARANTINE, 13000);
	store_queue_subject(s, &e);
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_grace", "SELECT count(*) FROM subjects"
					    " WHERE verdict = 'quarantine' AND"
					    " NOT admin"),
			 1);
	store_close(s);
}
END_TEST

/* Committed before it returns: another connection sees it at once. */
START_TEST(test_admin_committed)
{
	const char          *dsn = pgt_fresh_db("t_admin");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("x@example.org", FG_V_ALLOW, 1000);
	struct store_audit   a =
	    aud("x@example.org", FG_V_ALLOW, FG_V_BLOCK, 1000);

	e.override = FG_OVR_BLOCK;
	a.actor = "admin@example.org";
	ck_assert_int_eq(store_commit_admin(s, &e, &a), 0);
	ck_assert_int_eq(pgt_int("t_admin", "SELECT count(*) FROM subjects"
					    " WHERE override = 'block'"),
			 1);
	ck_assert_int_eq(pgt_int("t_admin", "SELECT count(*) FROM audit WHERE"
					    " actor = 'admin@example.org'"),
			 1);
	store_close(s);
}
END_TEST

START_TEST(test_change_reaches_other)
{
	const char          *dsn = pgt_fresh_db("t_notify");
	struct store        *a = open_db(dsn), *b = open_db(dsn);
	struct store_subject e = subj("bot@example.org", FG_V_ALLOW, 1000);
	struct seen          wa = {0}, wb = {0};

	store_set_change_cb(a, seen_cb, &wa);
	store_set_change_cb(b, seen_cb, &wb);
	/* a score that moves without its verdict is not announced */
	store_queue_subject(a, &e);
	flush_wait(a);
	e.score = 3;
	e.updated = 1500;
	store_queue_subject(a, &e);
	flush_wait(a);
	(void)pgt_loop_until(base, seen_one, &wb, 300);
	ck_assert_int_eq(wb.n, 0);
	/* an automatic verdict through the write-behind queue */
	e = subj("bot@example.org", FG_V_QUARANTINE, 2000);
	store_queue_subject(a, &e);
	flush_wait(a);
	ck_assert_int_eq(pgt_loop_until(base, seen_one, &wb, WAIT_MS), 0);
	ck_assert_int_eq(wb.n, 1);
	ck_assert_str_eq(wb.key[0], "bot@example.org");
	ck_assert_int_eq(wb.verdict[0], FG_V_QUARANTINE);
	ck_assert_int_eq(wb.admin[0], 0);
	/* an admin action on the other instance comes back the other way */
	wb.n = 0;
	e = subj("bot@example.org", FG_V_ALLOW, 3000);
	ck_assert_int_eq(store_commit_admin(b, &e, NULL), 0);
	ck_assert_int_eq(pgt_loop_until(base, seen_one, &wa, WAIT_MS), 0);
	ck_assert_int_eq(wa.verdict[wa.n - 1], FG_V_ALLOW);
	ck_assert_int_eq(wa.admin[wa.n - 1], 1);
	/* nobody is told of its own changes */
	(void)pgt_loop_until(base, seen_one, &wb, 300);
	ck_assert_int_eq(wb.n, 0);
	store_close(a);
	store_close(b);
}
END_TEST

/* Our connection killed under us while another instance changes a
 * verdict: the NOTIFY is lost, the re-read on reconnect is not. */
START_TEST(test_missed_while_away)
{
	const char          *dsn = pgt_fresh_db("t_away");
	struct store        *a = open_db(dsn), *b = open_db(dsn);
	struct store_subject e = subj("bot@example.org", FG_V_BLOCK, 1000);
	struct seen          wb = {0};

	store_set_change_cb(b, seen_cb, &wb);
	/* every connection but the side one: a and b both go */
	ck_assert_int_eq(pgt_exec("t_away",
				  "SELECT pg_terminate_backend(pid) FROM"
				  " pg_stat_activity WHERE datname = 't_away'"
				  " AND pid <> pg_backend_pid()"),
			 0);
	ck_assert_int_eq(pgt_loop_until(base, unhealthy, a, WAIT_MS), 0);
	/* the change is made (by hand, as a's) while b is away */
	ck_assert_int_eq(
	    pgt_exec("t_away",
		     "INSERT INTO subjects (type, key, verdict, updated)"
		     " VALUES ('account', 'bot@example.org', 'block', 1000)"),
	    0);
	ck_assert_int_eq(pgt_loop_until(base, healthy, b, WAIT_MS), 0);
	ck_assert_int_eq(pgt_loop_until(base, seen_one, &wb, WAIT_MS), 0);
	ck_assert_str_eq(wb.key[0], "bot@example.org");
	ck_assert_int_eq(wb.verdict[0], FG_V_BLOCK);
	ck_assert_int_eq(pgt_loop_until(base, healthy, a, WAIT_MS), 0);
	(void)e;
	store_close(a);
	store_close(b);
}
END_TEST

/* The server stops: rows queue, admin actions fail at once with a
 * reason, health says so; when it is back the queue is written. */
START_TEST(test_outage)
{
	const char          *dsn = pgt_fresh_db("t_outage");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("a@example.org", FG_V_THROTTLE, 1000);
	struct store_audit   au =
	    aud("a@example.org", FG_V_ALLOW, FG_V_BLOCK, 1000);
	const char *why = NULL;
	char        key[32];
	int         i;

	ck_assert_int_eq(pgt_down(), 0);
	ck_assert_int_eq(pgt_loop_until(base, unhealthy, s, WAIT_MS), 0);
	ck_assert_int_eq(store_health(s, &why), -1);
	ck_assert_ptr_nonnull(why);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "u%d@example.org", i);
		e.key = key;
		store_queue_subject(s, &e);
	}
	ck_assert_int_eq(store_flush(s), -1);
	ck_assert_uint_eq(store_queued(s), 100);
	e.key = "admin-target@example.org";
	e.override = FG_OVR_BLOCK;
	ck_assert_int_eq(store_commit_admin(s, &e, &au), -1);
	ck_assert_int_eq(pgt_up(), 0);
	ck_assert_int_eq(pgt_loop_until(base, healthy, s, WAIT_MS), 0);
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_outage", "SELECT count(*) FROM subjects"),
			 100);
	/* the refused admin action was not written behind anyone's back */
	ck_assert_int_eq(pgt_int("t_outage", "SELECT count(*) FROM audit"), 0);
	ck_assert_int_eq(store_commit_admin(s, &e, &au), 0);
	store_close(s);
}
END_TEST

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(*(int *)arg)++;
}

static int
ticked(void *arg)
{
	return *(int *)arg > 0;
}

/* A database that stops answering (its backend stopped with SIGSTOP)
 * does not stop the event loop: the batch is sent and waits, timers
 * still fire, and it is written once the backend runs again. */
START_TEST(test_hung_database)
{
	const char          *dsn = pgt_fresh_db("t_hung");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("x@example.org", FG_V_THROTTLE, 1000);
	struct timeval       tv = {0, 50000};
	struct event        *t;
	long long            pid;
	int                  ticks = 0;

	pid = pgt_int("t_hung", "SELECT pid FROM pg_stat_activity WHERE"
				" datname = 't_hung' AND application_name ="
				" 'floodgated'");
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
	store_queue_subject(s, &e);
	ck_assert_int_eq(store_flush(s), 0);
	t = evtimer_new(base, tick_cb, &ticks);
	evtimer_add(t, &tv);
	ck_assert_int_eq(pgt_loop_until(base, ticked, &ticks, WAIT_MS), 0);
	ck_assert_uint_eq(store_queued(s), 1);
	ck_assert_int_eq(kill((pid_t)pid, SIGCONT), 0);
	ck_assert_int_eq(pgt_loop_until(base, drained, s, WAIT_MS), 0);
	ck_assert_int_eq(pgt_int("t_hung", "SELECT count(*) FROM subjects"), 1);
	event_free(t);
	store_close(s);
}
END_TEST

/* Text PostgreSQL would refuse is repaired, not left to fail every
 * later batch. */
START_TEST(test_bad_utf8)
{
	const char          *dsn = pgt_fresh_db("t_utf8");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("x@example.org", FG_V_BLOCK, 1000);

	e.reason = "bad \xff\xfe bytes";
	store_queue_subject(s, &e);
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_utf8", "SELECT count(*) FROM subjects"), 1);
	store_close(s);
}
END_TEST

START_TEST(test_big_batch_and_close)
{
	const char          *dsn = pgt_fresh_db("t_big");
	struct store        *s = open_db(dsn);
	struct store_subject e = subj("", FG_V_THROTTLE, 1000);
	struct store_audit   a = aud("", FG_V_ALLOW, FG_V_THROTTLE, 1000);
	char                 key[32];
	int                  i;

	for (i = 0; i < 12000; i++) {
		snprintf(key, sizeof key, "u%d@example.org", i);
		e.key = a.key = key;
		store_queue_subject(s, &e);
		store_queue_audit(s, &a);
	}
	flush_wait(s);
	ck_assert_int_eq(pgt_int("t_big", "SELECT count(*) FROM subjects"),
			 12000);
	ck_assert_int_eq(pgt_int("t_big", "SELECT count(*) FROM audit"), 12000);
	/* close writes what is still queued, without the loop, in as
	 * many batches as it takes */
	for (i = 0; i < 25000; i++) {
		snprintf(key, sizeof key, "v%d@example.org", i);
		e.key = key;
		store_queue_subject(s, &e);
	}
	store_close(s);
	ck_assert_int_eq(pgt_int("t_big", "SELECT count(*) FROM subjects"),
			 37000);
}
END_TEST

START_TEST(test_prune)
{
	const char        *dsn = pgt_fresh_db("t_prune");
	struct store      *s = open_db(dsn);
	struct store_audit a =
	    aud("x@example.org", FG_V_ALLOW, FG_V_BLOCK, 100);
	struct store_stats st;

	store_queue_audit(s, &a);
	a.at = 5000;
	store_queue_audit(s, &a);
	flush_wait(s);
	ck_assert_int_eq(store_report_add(s, "a@x", "b@y", NULL, 100), 1);
	ck_assert_int_ne(store_prune(s, 1000, 100), -1);
	ck_assert_int_eq(pgt_loop_until(base, drained, s, WAIT_MS), 0);
	store_close(s);
	ck_assert_int_eq(pgt_int("t_prune", "SELECT count(*) FROM audit"), 1);
	ck_assert_int_eq(pgt_int("t_prune", "SELECT count(*) FROM reports"), 0);
	(void)st;
}
END_TEST

static Suite *
pg_suite(void)
{
	Suite *s = suite_create("store_pg");
	TCase *tc = tcase_create("pg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_schema);
	tcase_add_test(tc, test_password_file);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_readers);
	tcase_add_test(tc, test_newer_wins);
	tcase_add_test(tc, test_admin_committed);
	tcase_add_test(tc, test_admin_grace);
	tcase_add_test(tc, test_change_reaches_other);
	tcase_add_test(tc, test_missed_while_away);
	tcase_add_test(tc, test_outage);
	tcase_add_test(tc, test_hung_database);
	tcase_add_test(tc, test_bad_utf8);
	tcase_add_test(tc, test_big_batch_and_close);
	tcase_add_test(tc, test_prune);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int      failed, rc;

	if ((rc = pgt_start()) == 77) {
		/* TAP's way to say the whole file was skipped */
		printf("1..0 # SKIP PostgreSQL is not installed\n");
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "check_store_pg: cannot start PostgreSQL\n");
		pgt_stop();
		return 1;
	}
	sr = srunner_create(pg_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgt_stop();
	return failed ? 1 : 0;
}
