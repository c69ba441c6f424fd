/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the SQLite reputation store (storage/).
 *
 * Every test gets its own directory under /tmp. Failure paths are driven
 * through a second, plain sqlite3 connection: a held write lock, a
 * trigger that aborts mid-flush, hand-built old and future schemas.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw(), mkdtemp() */
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/types.h"
#include "storage/store.h"
#define TU_TMPDIR "fg-check-store"
#include "testutil.h"

#define KILL_BATCH_ROWS 200 /* subjects (and audit rows) per batch */
#define KILL_AFTER 25       /* batches reported before each kill */
#define KILL_ROUNDS 3       /* kill, recover, write on, kill again */
#define KILL_MAX 100000     /* batches; the child stops by itself after */

static int
nlines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Open a plain sqlite3 connection on the test database. */
static sqlite3 *
raw_open(void)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		ck_abort_msg("%s: %s", sql, err);
}

/* One integer (or -1 for no row) from sql. */
static long long
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long     v = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static struct store_subject
subj(const char *key, double score, enum fg_verdict v)
{
	struct store_subject s = {
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .score = score,
	    .score_at = 1700000000000,
	    .verdict = v,
	    .expires = 1700000600000,
	    .override = FG_OVR_NONE,
	    .updated = 1700000000123,
	};
	return s;
}

static struct store_audit
aud(const char *key, enum fg_verdict o, enum fg_verdict n, const char *why)
{
	struct store_audit a = {
	    .at = 1700000000000,
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .old_verdict = o,
	    .new_verdict = n,
	    .reason = why,
	    .signals = "subscribe=3,register-wave=5",
	    .actor = "auto",
	};
	return a;
}

/* Collectors for the callback readers. */
#define NCOLLECT 16
struct collect {
	int                  n;
	char                 key[NCOLLECT][64];
	char                 extra[NCOLLECT][128];
	struct store_subject s[NCOLLECT];
	struct store_audit   a[NCOLLECT];
	int64_t              at[NCOLLECT];
};

static void
subj_cb(const struct store_subject *e, void *arg)
{
	struct collect *c = arg;

	ck_assert_int_lt(c->n, NCOLLECT);
	c->s[c->n] = *e;
	snprintf(c->key[c->n], sizeof c->key[0], "%s", e->key);
	snprintf(c->extra[c->n], sizeof c->extra[0], "%s|%s",
		 e->actor ? e->actor : "(null)",
		 e->reason ? e->reason : "(null)");
	c->s[c->n].key = c->key[c->n];
	c->s[c->n].actor = c->s[c->n].reason = NULL;
	c->n++;
}

static const struct store_subject *
find_subj(struct collect *c, const char *key)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->key[i], key) == 0)
			return &c->s[i];
	return NULL;
}

static void
audit_cb(const struct store_audit *a, void *arg)
{
	struct collect *c = arg;

	ck_assert_int_lt(c->n, NCOLLECT);
	c->a[c->n] = *a;
	snprintf(c->key[c->n], sizeof c->key[0], "%s", a->key);
	snprintf(c->extra[c->n], sizeof c->extra[0], "%s|%s|%s",
		 a->reason ? a->reason : "(null)",
		 a->signals ? a->signals : "(null)",
		 a->actor ? a->actor : "(null)");
	c->n++;
}

static void
reg_cb(const struct store_registration *r, void *arg)
{
	struct collect *c = arg;

	ck_assert_int_lt(c->n, NCOLLECT);
	snprintf(c->key[c->n], sizeof c->key[0], "%s", r->account);
	snprintf(c->extra[c->n], sizeof c->extra[0], "%s",
		 r->ip ? r->ip : "(null)");
	c->at[c->n] = r->at;
	c->n++;
}

static void
sub_cb(const char *node, const char *jid, void *arg)
{
	struct collect *c = arg;

	ck_assert_int_lt(c->n, NCOLLECT);
	snprintf(c->key[c->n], sizeof c->key[0], "%s", node);
	snprintf(c->extra[c->n], sizeof c->extra[0], "%s", jid);
	c->n++;
}

START_TEST(test_roundtrip)
{
	struct store        *s;
	struct store_subject e =
	    subj("alice@example.org", 3.5, FG_V_QUARANTINE);
	struct store_audit          a = aud("alice@example.org", FG_V_ALLOW,
					    FG_V_QUARANTINE, "registration wave");
	struct store_registration   r;
	struct collect              c;
	const struct store_subject *got;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	e.reason = "wave at 03:00";
	store_queue_subject(s, &e);
	store_queue_audit(s, &a);
	r = (struct store_registration){"bot1@example.org", "192.0.2.1", 1000};
	store_queue_registration(s, &r);
	r = (struct store_registration){"bot2@example.org", NULL, 2000};
	store_queue_registration(s, &r);
	r = (struct store_registration){"bot3@example.org", "2001:db8::1",
					3000};
	store_queue_registration(s, &r);
	ck_assert_uint_eq(store_queued(s), 5);
	ck_assert_int_eq(store_flush(s), 0);
	ck_assert_uint_eq(store_queued(s), 0);
	ck_assert_int_eq(
	    store_sub_add(s, "spam_source_domains", "rtbl@peer.example"), 0);
	ck_assert_int_eq(
	    store_sub_add(s, "spam_source_domains", "rtbl@peer.example"), 0);
	ck_assert_int_eq(store_sub_add(s, "spam_source_ips", "a@b.example"), 0);
	ck_assert_int_eq(store_sub_add(s, "spam_source_ips", "c@d.example"), 0);
	ck_assert_int_eq(store_sub_del(s, "spam_source_ips", "a@b.example"), 0);
	store_close(s);

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_load_subjects(s, subj_cb, &c), 0);
	ck_assert_int_eq(c.n, 1);
	ck_assert_ptr_nonnull(got = find_subj(&c, "alice@example.org"));
	ck_assert_int_eq(got->type, FG_SUBJ_ACCOUNT);
	ck_assert(got->score == 3.5);
	ck_assert_int_eq(got->score_at, e.score_at);
	ck_assert_int_eq(got->verdict, FG_V_QUARANTINE);
	ck_assert_int_eq(got->expires, e.expires);
	ck_assert_int_eq(got->override, FG_OVR_NONE);
	ck_assert_int_eq(got->updated, e.updated);
	ck_assert_str_eq(c.extra[0], "(null)|wave at 03:00");

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT,
					    "alice@example.org", 10, audit_cb,
					    &c),
			 0);
	ck_assert_int_eq(c.n, 1);
	ck_assert_int_eq(c.a[0].at, a.at);
	ck_assert_int_eq(c.a[0].type, FG_SUBJ_ACCOUNT);
	ck_assert_int_eq(c.a[0].old_verdict, FG_V_ALLOW);
	ck_assert_int_eq(c.a[0].new_verdict, FG_V_QUARANTINE);
	ck_assert_str_eq(c.extra[0],
			 "registration wave|subscribe=3,register-wave=5|auto");
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_DOMAIN,
					    "alice@example.org", 10, audit_cb,
					    &c),
			 0);
	ck_assert_int_eq(c.n, 0);

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_registered_since(s, 2000, 0, reg_cb, &c), 0);
	ck_assert_int_eq(c.n, 2);
	ck_assert_str_eq(c.key[0], "bot2@example.org");
	ck_assert_str_eq(c.extra[0], "(null)");
	ck_assert_int_eq(c.at[0], 2000);
	ck_assert_str_eq(c.key[1], "bot3@example.org");
	ck_assert_str_eq(c.extra[1], "2001:db8::1");
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_registered_since(s, 0, 1, reg_cb, &c), 0);
	ck_assert_int_eq(c.n, 1);
	ck_assert_str_eq(c.key[0], "bot1@example.org");

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_sub_list(s, sub_cb, &c), 0);
	ck_assert_int_eq(c.n, 2);
	ck_assert_str_eq(c.key[0], "spam_source_domains");
	ck_assert_str_eq(c.extra[0], "rtbl@peer.example");
	ck_assert_str_eq(c.key[1], "spam_source_ips");
	ck_assert_str_eq(c.extra[1], "c@d.example");
	store_close(s);
}
END_TEST

/* Admin actions are committed (visible to another connection) when the
 * call returns, and flush what was queued before them. */
START_TEST(test_commit_admin)
{
	struct store        *s;
	struct store_subject e = subj("bob@example.org", 0, FG_V_ALLOW);
	struct store_audit   a =
	    aud("bob@example.org", FG_V_BLOCK, FG_V_ALLOW, "known user");
	struct store_stats st;
	sqlite3           *db;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	store_queue_subject(s, &e);
	e.override = FG_OVR_ALLOW;
	e.actor = "admin@example.org";
	e.reason = "known user";
	a.actor = "admin@example.org";
	store_queue_audit(s, &a); /* a queued row, then the admin one */
	ck_assert_int_eq(store_commit_admin(s, &e, &a), 0);
	ck_assert_uint_eq(store_queued(s), 0);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.flushes, 1);
	ck_assert_uint_eq(st.rows_written, 4);

	db = raw_open();
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM subjects WHERE "
				     "override = 'allow' AND actor = "
				     "'admin@example.org'"),
			 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM audit"), 2);
	ck_assert_int_eq(raw_int(db, "PRAGMA synchronous"), 2);
	sqlite3_close(db);
	ck_assert_int_eq(store_commit_admin(s, NULL, &a), 0);
	store_close(s);
}
END_TEST

START_TEST(test_queue_collapse)
{
	struct store        *s;
	struct store_subject e;
	struct store_audit   a =
	    aud("x@example.org", FG_V_ALLOW, FG_V_THROTTLE, "burst");
	struct store_stats st;
	struct collect     c;
	char               key[32];

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	/* Built in a scratch buffer to prove the store copies keys. */
	snprintf(key, sizeof key, "x@example.org");
	e = subj(key, 1, FG_V_ALLOW);
	store_queue_subject(s, &e);
	e = subj(key, 5, FG_V_THROTTLE);
	e.reason = "second";
	store_queue_subject(s, &e);
	snprintf(key, sizeof key, "y@example.org");
	e = subj(key, 2, FG_V_ALLOW);
	store_queue_subject(s, &e);
	e.type = FG_SUBJ_DOMAIN; /* same key, other type: its own row */
	store_queue_subject(s, &e);
	memset(key, 'Z', sizeof key - 1);
	store_queue_audit(s, &a);
	store_queue_audit(s, &a);
	ck_assert_uint_eq(store_queued(s), 5);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.queued, 5);
	ck_assert_int_eq(store_flush(s), 0);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.flushes, 1);
	ck_assert_uint_eq(st.rows_written, 5);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.flush_errors, 0);

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_load_subjects(s, subj_cb, &c), 0);
	ck_assert_int_eq(c.n, 3);
	ck_assert(find_subj(&c, "x@example.org")->score == 5);
	ck_assert_int_eq(find_subj(&c, "x@example.org")->verdict,
			 FG_V_THROTTLE);
	ck_assert_ptr_nonnull(find_subj(&c, "y@example.org"));
	/* An empty flush is a no-op, not a transaction. */
	ck_assert_int_eq(store_flush(s), 0);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.flushes, 1);
	store_close(s);
}
END_TEST

/* Another connection holds the write lock: the flush fails after the
 * busy timeout, keeps every row, and the next flush writes them. */
START_TEST(test_flush_busy_keeps_queue)
{
	struct store        *s;
	struct store_subject e = subj("busy@example.org", 7, FG_V_BLOCK);
	struct store_audit   a =
	    aud("busy@example.org", FG_V_ALLOW, FG_V_BLOCK, "spamtrap");
	struct store_stats st;
	sqlite3           *db;
	const char        *log;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	store_queue_subject(s, &e);
	store_queue_audit(s, &a);
	db = raw_open();
	raw_exec(db, "BEGIN IMMEDIATE");
	cap_start();
	ck_assert_int_eq(store_flush(s), -1);
	ck_assert_int_eq(store_flush(s), -1);
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1); /* not one line per tick */
	ck_assert_ptr_nonnull(strstr(log, dbpath));
	ck_assert_uint_eq(store_queued(s), 2);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.flush_errors, 2);
	ck_assert_uint_eq(st.flushes, 0);
	raw_exec(db, "COMMIT");
	ck_assert_int_eq(store_flush(s), 0);
	ck_assert_uint_eq(store_queued(s), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM subjects"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM audit"), 1);
	sqlite3_close(db);
	store_close(s);
}
END_TEST

/* A failure half-way through a flush rolls back the rows already
 * written in it: nothing of the batch is on disk, all of it is queued. */
START_TEST(test_flush_rollback)
{
	struct store        *s;
	struct store_subject e = subj("half@example.org", 1, FG_V_THROTTLE);
	struct store_audit   a =
	    aud("half@example.org", FG_V_ALLOW, FG_V_THROTTLE, "boom");
	sqlite3 *db;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	db = raw_open();
	raw_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON audit"
		     " WHEN NEW.reason = 'boom'"
		     " BEGIN SELECT RAISE(ABORT, 'boom'); END");
	store_queue_subject(s, &e);
	store_queue_audit(s, &a);
	cap_start();
	ck_assert_int_eq(store_flush(s), -1);
	ck_assert_ptr_nonnull(strstr(cap_end(), "boom"));
	ck_assert_uint_eq(store_queued(s), 2);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM subjects"), 0);
	raw_exec(db, "DROP TRIGGER boom");
	ck_assert_int_eq(store_flush(s), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM subjects"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM audit"), 1);
	sqlite3_close(db);
	store_close(s);
}
END_TEST

/* Rows are written in index order, but audit entries with the same time
 * keep the order they were queued in (newest first when read back). */
START_TEST(test_audit_order)
{
	struct store      *s;
	struct store_audit a;
	struct collect     c;
	const char        *why[] = {"first", "second", "third"};
	int                i;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	for (i = 0; i < 3; i++) {
		a = aud("z@example.org", FG_V_ALLOW, FG_V_THROTTLE, why[i]);
		store_queue_audit(s, &a);
		a = aud("a@example.org", FG_V_ALLOW, FG_V_THROTTLE, why[i]);
		a.at += 10 - i; /* queued newest first */
		store_queue_audit(s, &a);
	}
	ck_assert_int_eq(store_flush(s), 0);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT, "z@example.org",
					    0, audit_cb, &c),
			 0);
	ck_assert_int_eq(c.n, 3);
	ck_assert(strncmp(c.extra[0], "third|", 6) == 0);
	ck_assert(strncmp(c.extra[1], "second|", 7) == 0);
	ck_assert(strncmp(c.extra[2], "first|", 6) == 0);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT, "a@example.org",
					    2, audit_cb, &c),
			 0);
	ck_assert_int_eq(c.n, 2);
	ck_assert(strncmp(c.extra[0], "first|", 6) == 0);
	ck_assert(strncmp(c.extra[1], "second|", 7) == 0);
	store_close(s);
}
END_TEST

START_TEST(test_close_flushes)
{
	struct store        *s;
	struct store_subject e = subj("late@example.org", 2, FG_V_ALLOW);
	struct collect       c;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	store_queue_subject(s, &e);
	store_close(s);
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_load_subjects(s, subj_cb, &c), 0);
	ck_assert_int_eq(c.n, 1);
	store_close(s);
}
END_TEST

START_TEST(test_report_dedupe)
{
	struct store *s;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(store_report_add(s, "u1@example.org",
					  "spammer@bad.example", "spam", 1000),
			 1);
	ck_assert_int_eq(store_report_add(s, "u1@example.org",
					  "spammer@bad.example", "again", 2000),
			 0);
	ck_assert_int_eq(store_report_add(s, "u2@example.org",
					  "spammer@bad.example", NULL, 3000),
			 1);
	store_close(s);
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(store_report_add(s, "u1@example.org",
					  "spammer@bad.example",
					  "after restart", 4000),
			 0);
	ck_assert_int_eq(store_report_add(s, "u1@example.org",
					  "other@bad.example", NULL, 4000),
			 1);
	store_close(s);
}
END_TEST

/* Reports sent out: once per subject and destination, across restarts;
 * the summary of reports received counts reporters and their times. */
START_TEST(test_reports_sent)
{
	struct store *s;
	int64_t       n, first, last;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(
	    store_report_summary(s, "spammer@bad.example", &n, &first, &last),
	    0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(first, 0);
	store_report_add(s, "u1@example.org", "spammer@bad.example", NULL,
			 3000);
	store_report_add(s, "u2@example.org", "spammer@bad.example", NULL,
			 1000);
	store_report_add(s, "u2@example.org", "other@bad.example", NULL, 9);
	ck_assert_int_eq(
	    store_report_summary(s, "spammer@bad.example", &n, &first, &last),
	    0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(first, 1000);
	ck_assert_int_eq(last, 3000);
	ck_assert_int_eq(
	    store_sent_add(s, "spammer@bad.example", "abuse@bad.example", 5000),
	    1);
	ck_assert_int_eq(
	    store_sent_add(s, "spammer@bad.example", "abuse@bad.example", 6000),
	    0);
	ck_assert_int_eq(store_sent_add(s, "spammer@bad.example",
					"mod@collector.example", 6000),
			 1);
	store_close(s);
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(
	    store_sent_add(s, "spammer@bad.example", "abuse@bad.example", 7000),
	    0);
	ck_assert_int_eq(
	    store_sent_add(s, "other@bad.example", "abuse@bad.example", 7000),
	    1);
	store_close(s);
}
END_TEST

/* What a reporter attached: set once per report, read back whole or cut
 * before a character that does not fit. */
START_TEST(test_report_attached)
{
	struct store *s;
	char          buf[64];

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(
	    store_report_attached(s, "spammer@bad.example", buf, sizeof buf),
	    0);
	store_report_add(s, "example.org", "spammer@bad.example", NULL, 1000);
	ck_assert_int_eq(store_report_attach(s, "example.org",
					     "spammer@bad.example",
					     "reported message: caf\xc3\xa9"),
			 0);
	ck_assert_int_eq(store_report_attach(s, "example.org",
					     "spammer@bad.example", "second"),
			 0);
	ck_assert_int_eq(
	    store_report_attached(s, "spammer@bad.example", buf, sizeof buf),
	    1);
	ck_assert_str_eq(buf, "reported message: caf\xc3\xa9");
	/* 23 bytes hold "reported message: caf" and half of the e-acute */
	ck_assert_int_eq(
	    store_report_attached(s, "spammer@bad.example", buf, 23), 1);
	ck_assert_str_eq(buf, "reported message: caf");
	store_close(s);
}
END_TEST

/* The version 1 layout, as the prototype wrote it. */
static void
make_v1(const char *extra)
{
	sqlite3 *db = raw_open();

	raw_exec(
	    db,
	    "CREATE TABLE subjects (type INTEGER NOT NULL, key TEXT NOT NULL,"
	    " score REAL NOT NULL, verdict INTEGER NOT NULL,"
	    " updated INTEGER NOT NULL, PRIMARY KEY (type, key));"
	    "CREATE TABLE audit (at INTEGER NOT NULL, type INTEGER NOT NULL,"
	    " key TEXT NOT NULL, old INTEGER NOT NULL, new INTEGER NOT NULL,"
	    " reason TEXT);"
	    "CREATE TABLE reports (reporter TEXT NOT NULL,"
	    " subject TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL,"
	    " UNIQUE (reporter, subject));"
	    "INSERT INTO subjects VALUES (0, 'bot@example.org', 12.5, 3, 1000);"
	    "INSERT INTO subjects VALUES (1, 'spam.example', 40, 2, 2000);"
	    "INSERT INTO subjects VALUES (3, '198.51.100.0/24', 1, 1, 2500);"
	    "INSERT INTO audit VALUES (900, 0, 'bot@example.org', 0, 1, 'x');"
	    "INSERT INTO audit VALUES (1000, 0, 'bot@example.org', 1, 3,"
	    " 'spamtrap');"
	    "INSERT INTO reports VALUES ('u@example.org', 'bot@example.org',"
	    " 'spam', 1000);"
	    "PRAGMA user_version = 1;");
	if (extra != NULL)
		raw_exec(db, extra);
	sqlite3_close(db);
}

START_TEST(test_migrate_v1)
{
	struct store               *s;
	struct collect              c;
	struct store_registration   r = {"new@example.org", "192.0.2.9", 5};
	const struct store_subject *got;
	sqlite3                    *db;
	const char                 *log;

	make_v1(NULL);
	cap_start();
	s = store_open(dbpath);
	log = cap_end();
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(log, "migrated schema version 1 to 2"));
	ck_assert_ptr_nonnull(strstr(log, "migrated schema version 2 to 3"));

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_load_subjects(s, subj_cb, &c), 0);
	ck_assert_int_eq(c.n, 3);
	ck_assert_ptr_nonnull(got = find_subj(&c, "bot@example.org"));
	ck_assert_int_eq(got->type, FG_SUBJ_ACCOUNT);
	ck_assert(got->score == 12.5);
	ck_assert_int_eq(got->score_at, 1000);
	ck_assert_int_eq(got->verdict, FG_V_BLOCK);
	ck_assert_int_eq(got->override, FG_OVR_NONE);
	ck_assert_int_eq(got->expires, 0);
	ck_assert_ptr_nonnull(got = find_subj(&c, "spam.example"));
	ck_assert_int_eq(got->type, FG_SUBJ_DOMAIN);
	ck_assert_int_eq(got->verdict, FG_V_QUARANTINE);
	ck_assert_ptr_nonnull(got = find_subj(&c, "198.51.100.0/24"));
	ck_assert_int_eq(got->type, FG_SUBJ_PREFIX);

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT,
					    "bot@example.org", 10, audit_cb,
					    &c),
			 0);
	ck_assert_int_eq(c.n, 2);
	ck_assert_int_eq(c.a[0].at, 1000); /* newest first */
	ck_assert_int_eq(c.a[0].old_verdict, FG_V_THROTTLE);
	ck_assert_int_eq(c.a[0].new_verdict, FG_V_BLOCK);
	ck_assert_str_eq(c.extra[0], "spamtrap|(null)|auto");

	/* Old reports still dedupe; the new tables work. */
	ck_assert_int_eq(
	    store_report_add(s, "u@example.org", "bot@example.org", NULL, 2),
	    0);
	store_queue_registration(s, &r);
	ck_assert_int_eq(store_sub_add(s, "spam_source_domains", "p@q"), 0);
	ck_assert_int_eq(store_sent_add(s, "bot@example.org", "a@b", 3), 1);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(store_registered_since(s, 0, 0, reg_cb, &c), 0);
	ck_assert_int_eq(c.n, 1);
	store_close(s);

	db = raw_open();
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 3);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema"
				     " WHERE name LIKE '%_v1'"),
			 0);
	sqlite3_close(db);
	/* Opening again is a no-op for the schema. */
	cap_start();
	s = store_open(dbpath);
	log = cap_end();
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(strstr(log, "migrated"));
	store_close(s);
}
END_TEST

/* A v1 row the migration cannot map aborts it: refused, file intact. */
START_TEST(test_migrate_v1_bad_row)
{
	sqlite3    *db;
	const char *log;

	make_v1("INSERT INTO subjects VALUES (0, 'odd@example.org', 0, 9, 1)");
	cap_start();
	ck_assert_ptr_null(store_open(dbpath));
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1);
	ck_assert_ptr_nonnull(strstr(log, dbpath));
	ck_assert_ptr_nonnull(strstr(log, "migrate"));
	db = raw_open();
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM subjects"), 4);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema"
				     " WHERE name = 'registrations'"),
			 0);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_newer_version_refused)
{
	struct store        *s;
	struct store_subject e = subj("keep@example.org", 9, FG_V_BLOCK);
	sqlite3             *db;
	const char          *log;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	store_queue_subject(s, &e);
	store_close(s);
	db = raw_open();
	raw_exec(db, "PRAGMA user_version = 4");
	sqlite3_close(db);

	cap_start();
	ck_assert_ptr_null(store_open(dbpath));
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1);
	ck_assert_ptr_nonnull(strstr(log, dbpath));
	ck_assert_ptr_nonnull(strstr(log, "newer"));
	db = raw_open();
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 4);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM subjects"), 1);
	sqlite3_close(db);
}
END_TEST

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Something that is not SQLite (short and long) is refused, never
 * overwritten, with one line naming the file. */
START_TEST(test_garbage_refused)
{
	static const char *const junk[] = {
	    "this is not a database\n",
	    "[store]\npath = /var/lib/floodgate/floodgate.db\n",
	};
	char        big[8192], back[8192];
	const char *log;
	size_t      i;
	FILE       *f;

	for (i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		write_file(dbpath, junk[i], strlen(junk[i]));
		cap_start();
		ck_assert_ptr_null(store_open(dbpath));
		log = cap_end();
		ck_assert_int_eq(nlines(log), 1);
		ck_assert_ptr_nonnull(strstr(log, dbpath));
	}
	for (i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 131 + 7);
	write_file(dbpath, big, sizeof big);
	cap_start();
	ck_assert_ptr_null(store_open(dbpath));
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1);
	ck_assert_ptr_nonnull(strstr(log, dbpath));
	ck_assert_ptr_nonnull(strstr(log, "not a"));
	ck_assert_ptr_nonnull(f = fopen(dbpath, "r"));
	ck_assert_uint_eq(fread(back, 1, sizeof back, f), sizeof back);
	fclose(f);
	ck_assert(memcmp(big, back, sizeof big) == 0);
}
END_TEST

/* A real store with a damaged page is refused by quick_check. */
START_TEST(test_corrupt_refused)
{
	struct store        *s;
	struct store_subject e;
	char                 key[64], junk[4096];
	const char          *log;
	int                  i, fd;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "user%d@example.org", i);
		e = subj(key, i, FG_V_ALLOW);
		store_queue_subject(s, &e);
	}
	store_close(s);
	/* Page size is 4096; smash pages 3 and 4 (tables and indexes). */
	memset(junk, 0x5a, sizeof junk);
	ck_assert_int_ge(fd = open(dbpath, O_WRONLY), 0);
	ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 2 * 4096), 4096);
	ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 3 * 4096), 4096);
	close(fd);
	cap_start();
	ck_assert_ptr_null(store_open(dbpath));
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1);
	ck_assert_ptr_nonnull(strstr(log, dbpath));
	ck_assert_ptr_nonnull(strstr(log, "corrupt"));
}
END_TEST

/* A directory, or a file in a missing directory: refused, one line. */
START_TEST(test_unopenable_refused)
{
	char        path[192];
	const char *log;

	cap_start();
	ck_assert_ptr_null(store_open(dir));
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1);
	ck_assert_ptr_nonnull(strstr(log, dir));
	snprintf(path, sizeof path, "%s/missing/floodgate.db", dir);
	cap_start();
	ck_assert_ptr_null(store_open(path));
	log = cap_end();
	ck_assert_int_eq(nlines(log), 1);
	ck_assert_ptr_nonnull(strstr(log, path));
}
END_TEST

/* Child: write batches forever, reporting each after its flush. */
static void __attribute__((__noreturn__)) kill_child(int wfd, uint32_t first)
{
	struct store        *s;
	struct store_subject e;
	struct store_audit   a;
	char                 key[64], reason[32];
	uint32_t             b, j;

	if ((s = store_open(dbpath)) == NULL)
		_exit(2);
	for (b = first; b < first + KILL_MAX; b++) {
		snprintf(reason, sizeof reason, "batch %u", b);
		for (j = 0; j < KILL_BATCH_ROWS; j++) {
			snprintf(key, sizeof key, "u%u-%u@example.org", b, j);
			e = subj(key, b, FG_V_THROTTLE);
			a = aud(key, FG_V_ALLOW, FG_V_THROTTLE, reason);
			store_queue_subject(s, &e);
			store_queue_audit(s, &a);
		}
		if (store_flush(s) == -1)
			_exit(3);
		if (write(wfd, &b, sizeof b) != sizeof b)
			_exit(4);
	}
	_exit(0);
}

/* One round: a child writes batches from first on and is killed; the
 * store must then hold every reported batch, whole. Returns the number
 * of batches on disk. */
static long long
kill_round(long long first)
{
	int           pfd[2], status;
	pid_t         pid;
	uint32_t      b, n = 0;
	long long     last = first - 1, k;
	sqlite3      *db;
	sqlite3_stmt *st;

	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(pfd[0]);
		kill_child(pfd[1], (uint32_t)first);
	}
	close(pfd[1]);
	while (n < KILL_AFTER && read(pfd[0], &b, sizeof b) == sizeof b) {
		ck_assert_int_eq(b, last + 1);
		last = b;
		n++;
	}
	ck_assert_int_eq(n, KILL_AFTER);
	/* Land the kill at varying points of the next flush. */
	usleep((useconds_t)((getpid() + first * 977) % 4000));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	while (read(pfd[0], &b, sizeof b) == sizeof b)
		last = b;
	close(pfd[0]);

	db = raw_open();
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	/* Every reported batch is whole; the one in flight is all or
	 * nothing. */
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db,
			       "SELECT CAST(score AS INTEGER), count(*) FROM "
			       "subjects GROUP BY 1 ORDER BY 1",
			       -1, &st, NULL),
	    SQLITE_OK);
	k = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		ck_assert_int_eq(sqlite3_column_int64(st, 0), k);
		ck_assert_int_eq(sqlite3_column_int64(st, 1), KILL_BATCH_ROWS);
		k++;
	}
	sqlite3_finalize(st);
	ck_assert_msg(k == last + 1 || k == last + 2,
		      "%lld batches on disk, %lld reported", k, last + 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM audit"),
			 k * KILL_BATCH_ROWS);
	sqlite3_close(db);
	return k;
}

START_TEST(test_kill9)
{
	struct store *s;
	long long     k = 0;
	int           round;

	for (round = 0; round < KILL_ROUNDS; round++)
		k = kill_round(k);
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	store_close(s);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_commit_admin);
	tcase_add_test(tc, test_queue_collapse);
	tcase_add_test(tc, test_flush_busy_keeps_queue);
	tcase_add_test(tc, test_flush_rollback);
	tcase_add_test(tc, test_audit_order);
	tcase_add_test(tc, test_close_flushes);
	tcase_add_test(tc, test_report_dedupe);
	tcase_add_test(tc, test_reports_sent);
	tcase_add_test(tc, test_report_attached);
	tcase_add_test(tc, test_migrate_v1);
	tcase_add_test(tc, test_migrate_v1_bad_row);
	tcase_add_test(tc, test_newer_version_refused);
	tcase_add_test(tc, test_garbage_refused);
	tcase_add_test(tc, test_corrupt_refused);
	tcase_add_test(tc, test_unopenable_refused);
	tcase_add_test(tc, test_kill9);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_store");
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
