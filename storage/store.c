/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the SQLite reputation store.
 *
 * One connection, owned by the event thread, with every statement
 * prepared once for the life of the process. Automatic decisions are
 * queued in memory (queue.c) and written by sqlstore_flush() in one
 * BEGIN IMMEDIATE..COMMIT; a failed flush rolls back and keeps the queue
 * for the next try. Admin actions, spam reports and pubsub subscribers
 * are written at once. Schema checks and migrations are in schema.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "schema.h"
#include "store_int.h"

/*
 * How long a statement waits for another connection's lock (an operator's
 * sqlite3 shell, a backup) before failing. Short, because the store runs
 * on the event thread and a wait stalls every gate decision; a failed
 * flush loses nothing and is retried on the next tick.
 */
#define STORE_BUSY_MS 1000 /* ms */
/* While flushes keep failing, one summary line per this many failures
 * (with the default 1 s flush period, about every ten minutes). */
#define STORE_FAIL_SUMMARY 600 /* failed flushes */

static const char *const st_sql[ST__MAX] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [ST_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [ST_UPSERT_SUBJECT] =
	"INSERT INTO subjects (type, key, score, score_at, verdict,"
	" expires, override, actor, reason, updated)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
	" ON CONFLICT (type, key) DO UPDATE SET score = excluded.score,"
	" score_at = excluded.score_at, verdict = excluded.verdict,"
	" expires = excluded.expires, override = excluded.override,"
	" actor = excluded.actor, reason = excluded.reason,"
	" updated = excluded.updated",
    [ST_INSERT_AUDIT] =
	"INSERT INTO audit (at, type, key, old, new, reason, signals,"
	" actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, 'auto'))",
    [ST_INSERT_REG] =
	"INSERT INTO registrations (account, ip, at) VALUES (?1, ?2, ?3)",
    [ST_LOAD_SUBJECTS] =
	"SELECT type, key, score, score_at, verdict, expires, override,"
	" actor, reason, updated FROM subjects",
    [ST_AUDIT_RECENT] =
	"SELECT at, type, key, old, new, reason, signals, actor FROM audit"
	" WHERE type = ?1 AND key = ?2 ORDER BY at DESC, id DESC"
	" LIMIT ?3",
    [ST_REG_SINCE] = "SELECT account, ip, at FROM registrations"
		     " WHERE at >= ?1 ORDER BY at, id LIMIT ?2",
    [ST_REPORT_ADD] = "INSERT INTO reports (reporter, subject, reason, at)"
		      " VALUES (?1, ?2, ?3, ?4)"
		      " ON CONFLICT (reporter, subject) DO NOTHING",
    [ST_SUB_ADD] = "INSERT INTO subscribers (node, jid) VALUES (?1, ?2)"
		   " ON CONFLICT (node, jid) DO NOTHING",
    [ST_SUB_DEL] = "DELETE FROM subscribers WHERE node = ?1 AND jid = ?2",
    [ST_SUB_LIST] = "SELECT node, jid FROM subscribers ORDER BY node, jid",
    [ST_SENT_ADD] =
	"INSERT INTO reports_sent (subject, dest, at)"
	" VALUES (?1, ?2, ?3) ON CONFLICT (subject, dest) DO NOTHING",
    [ST_REPORT_SUM] = "SELECT count(*), min(at), max(at) FROM reports"
		      " WHERE subject = ?1",
    [ST_REPORT_ATTACH] = "UPDATE reports SET attached = ?3"
			 " WHERE reporter = ?1 AND subject = ?2"
			 " AND attached IS NULL",
    [ST_SENT_ANY] = "SELECT 1 FROM reports_sent WHERE subject = ?1 LIMIT 1",
    [ST_REPORT_ATTACHED] = "SELECT attached FROM reports WHERE subject = ?1"
			   " AND attached IS NOT NULL ORDER BY at LIMIT 1",
};

static int w_subject(struct sqlstore *, const struct store_subject *);
static int w_audit(struct sqlstore *, const struct store_audit *);
static int w_registration(struct sqlstore *, const struct store_registration *);
static int w_queue(struct sqlstore *);
static int cmp_subject(const void *, const void *);
static int cmp_audit(const void *, const void *);
static int txn_end(struct sqlstore *, int);
static void q_dropped(struct sqlstore *, const char *);

struct sqlstore *
sqlstore_open(const char *path)
{
	struct sqlstore *s = xcalloc(1, sizeof *s);
	int              rc, i, sys;

	s->lockfd = -1;
	if (store_prepare_file(path) == -1 || store_lock(s, path) == -1)
		goto fail;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		sys = s->db != NULL ? sqlite3_system_errno(s->db) : 0;
		log_warnx(
		    "store: %s: cannot open: %s%s%s%s", path,
		    s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
		    sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
		goto fail;
	}
	if (store_schema_setup(s->db, path) == -1)
		goto fail;
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	for (i = 0; i < ST__MAX; i++) {
		if (sqlite3_prepare_v3(s->db, st_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK) {
			log_warnx("store: %s: cannot prepare \"%s\": %s", path,
				  st_sql[i], sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	/* what store_identity() compares the path with from now on */
	if (store_pin(s, path) == -1)
		goto fail;
	s->path = xstrdup(path);
	s->q = store_q_new();
	return s;
fail:
	for (i = 0; i < ST__MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	store_unlock(s);
	free(s);
	return NULL;
}

const char *
sqlstore_name(const struct sqlstore *s)
{
	return s->path;
}

void
sqlstore_close(struct sqlstore *s)
{
	size_t n;
	int    i;

	if (s == NULL)
		return;
	if (sqlstore_flush(s) == -1 && (n = store_q_len(s->q)) > 0)
		log_warnx("store: %s: closing with %zu rows not written: %s",
			  s->path, n, s->err);
	for (i = 0; i < ST__MAX; i++)
		sqlite3_finalize(s->st[i]);
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store: %s: close: %s", s->path,
			  sqlite3_errmsg(s->db));
	store_unlock(s);
	store_q_free(s->q);
	free(s->path);
	free(s);
}

int
store_st_fail(struct sqlstore *s, sqlite3_stmt *st)
{
	snprintf(s->err, sizeof s->err, "%s", sqlite3_errmsg(s->db));
	sqlite3_reset(st);
	return -1;
}

int
store_st_done(struct sqlstore *s, enum st_id id)
{
	sqlite3_stmt *st = s->st[id];

	if (sqlite3_step(st) != SQLITE_DONE)
		return store_st_fail(s, st);
	sqlite3_reset(st);
	return 0;
}

void
store_st_text(sqlite3_stmt *st, int col, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_text(st, col, v, -1, SQLITE_STATIC);
}

static int
w_subject(struct sqlstore *s, const struct store_subject *e)
{
	sqlite3_stmt *st = s->st[ST_UPSERT_SUBJECT];

	store_st_text(st, 1, fg_subj_name(e->type));
	store_st_text(st, 2, e->key);
	sqlite3_bind_double(st, 3, e->score);
	sqlite3_bind_int64(st, 4, e->score_at);
	store_st_text(st, 5, fg_verdict_name(e->verdict));
	sqlite3_bind_int64(st, 6, e->expires);
	store_st_text(st, 7, fg_override_name(e->override));
	store_st_text(st, 8, e->actor);
	store_st_text(st, 9, e->reason);
	sqlite3_bind_int64(st, 10, e->updated);
	return store_st_done(s, ST_UPSERT_SUBJECT);
}

static int
w_audit(struct sqlstore *s, const struct store_audit *a)
{
	sqlite3_stmt *st = s->st[ST_INSERT_AUDIT];

	sqlite3_bind_int64(st, 1, a->at);
	store_st_text(st, 2, fg_subj_name(a->type));
	store_st_text(st, 3, a->key);
	store_st_text(st, 4, fg_verdict_name(a->old_verdict));
	store_st_text(st, 5, fg_verdict_name(a->new_verdict));
	store_st_text(st, 6, a->reason);
	store_st_text(st, 7, a->signals);
	store_st_text(st, 8, a->actor);
	return store_st_done(s, ST_INSERT_AUDIT);
}

static int
w_registration(struct sqlstore *s, const struct store_registration *r)
{
	sqlite3_stmt *st = s->st[ST_INSERT_REG];

	store_st_text(st, 1, r->account);
	store_st_text(st, 2, r->ip);
	sqlite3_bind_int64(st, 3, r->at);
	return store_st_done(s, ST_INSERT_REG);
}

/* Order of the subjects table's key: type name, then key (BINARY). */
static int
cmp_subject(const void *x, const void *y)
{
	const struct store_subject *a = *(const struct store_subject *const *)x;
	const struct store_subject *b = *(const struct store_subject *const *)y;
	int                         c;

	if (a->type != b->type &&
	    (c = strcmp(fg_subj_name(a->type), fg_subj_name(b->type))) != 0)
		return c;
	return strcmp(a->key, b->key);
}

/* An audit row and its place in the queue, for a stable sort. */
struct audit_ref {
	const struct store_audit *a;
	size_t                    seq;
};

/* Order of the audit_subject index: type name, key, time; rows with
 * equal time keep queue order so their ids do too. */
static int
cmp_audit(const void *x, const void *y)
{
	const struct audit_ref   *ra = x, *rb = y;
	const struct store_audit *a = ra->a, *b = rb->a;
	int                       c;

	if (a->type != b->type &&
	    (c = strcmp(fg_subj_name(a->type), fg_subj_name(b->type))) != 0)
		return c;
	if ((c = strcmp(a->key, b->key)) != 0)
		return c;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return (ra->seq > rb->seq) - (ra->seq < rb->seq);
}

/*
 * Write every queued row inside the caller's transaction. Rows go in
 * the order of the B-tree they land in, so each page is visited once
 * per flush instead of once per row: with random keys and a database
 * larger than the page cache this is the difference between ~50k and
 * ~200k rows/s (bench/bench_store).
 */
static int
w_queue(struct sqlstore *s)
{
	const struct store_subject **sv;
	struct audit_ref            *av;
	size_t                       i, ns, na;
	int                          rc = -1;

	ns = store_q_nsubjects(s->q);
	na = store_q_naudit(s->q);
	sv = xreallocarray(NULL, ns + 1, sizeof *sv);
	av = xreallocarray(NULL, na + 1, sizeof *av);
	for (i = 0; i < ns; i++)
		sv[i] = store_q_subject_at(s->q, i);
	for (i = 0; i < na; i++)
		av[i] = (struct audit_ref){store_q_audit_at(s->q, i), i};
	qsort(sv, ns, sizeof *sv, cmp_subject);
	qsort(av, na, sizeof *av, cmp_audit);
	for (i = 0; i < ns; i++)
		if (w_subject(s, sv[i]) == -1)
			goto out;
	for (i = 0; i < na; i++)
		if (w_audit(s, av[i].a) == -1)
			goto out;
	for (i = 0; i < store_q_nregs(s->q); i++)
		if (w_registration(s, store_q_reg_at(s->q, i)) == -1)
			goto out;
	rc = 0;
out:
	free(sv);
	free(av);
	return rc;
}

/* Commit if ok, else roll back; 0 only if committed. */
static int
txn_end(struct sqlstore *s, int ok)
{
	if (ok && store_st_done(s, ST_COMMIT) == 0)
		return 0;
	/* A failed COMMIT leaves the transaction open: roll it back too.
	 * SQLite may already have rolled back by itself (disk full). */
	if (!sqlite3_get_autocommit(s->db))
		(void)sqlite3_step(s->st[ST_ROLLBACK]);
	sqlite3_reset(s->st[ST_ROLLBACK]);
	return -1;
}

int
sqlstore_flush(struct sqlstore *s)
{
	size_t   n = store_q_len(s->q);
	uint64_t t0;

	if (n == 0)
		return 0;
	t0 = clock_mono_ns();
	/* rows written into a deleted file would be acknowledged and lost */
	if (store_identity(s) == -1)
		snprintf(s->err, sizeof s->err, "%s", s->lost);
	if (s->lost != NULL || store_st_done(s, ST_BEGIN) == -1 ||
	    txn_end(s, w_queue(s) == 0) == -1) {
		s->stats.flush_errors++;
		/* Log when flushes start failing, then a summary now and
		 * then, not a line on every tick. */
		if (s->failing++ == 0)
			log_warnx("store: %s: flush failed, keeping %zu "
				  "queued rows: %s",
				  s->path, n, s->err);
		else if (s->failing % STORE_FAIL_SUMMARY == 0)
			log_warnx("store: %s: flushes still failing (%llu in a "
				  "row, %zu rows queued, %llu dropped): %s",
				  s->path, (unsigned long long)s->failing, n,
				  (unsigned long long)s->stats.dropped, s->err);
		return -1;
	}
	if (s->failing > 0)
		log_info("store: %s: flush works again after %llu failures",
			 s->path, (unsigned long long)s->failing);
	s->failing = 0;
	s->dropping = 0;
	store_q_clear(s->q);
	s->stats.flushes++;
	s->stats.rows_written += n;
	s->stats.last_flush_us = (clock_mono_ns() - t0) / 1000;
	return 0;
}

/* Count a row the queue refused; log the first of a run. */
static void
q_dropped(struct sqlstore *s, const char *what)
{
	s->stats.dropped++;
	if (!s->dropping) {
		s->dropping = 1;
		log_warnx("store: %s: write queue full, dropping %s rows "
			  "until a flush succeeds",
			  s->path, what);
	}
}

void
sqlstore_queue_subject(struct sqlstore *s, const struct store_subject *e)
{
	/* A bad enum would fail its CHECK and wedge every later flush. */
	if ((unsigned)e->type >= FG_SUBJ__MAX ||
	    (unsigned)e->verdict >= FG_V__MAX ||
	    (unsigned)e->override >= FG_OVR__MAX) {
		log_warnx("store: bad subject row dropped");
		s->stats.dropped++;
		return;
	}
	if (store_q_subject(s->q, e) == -1)
		q_dropped(s, "subject");
}

void
sqlstore_queue_audit(struct sqlstore *s, const struct store_audit *a)
{
	if ((unsigned)a->type >= FG_SUBJ__MAX ||
	    (unsigned)a->old_verdict >= FG_V__MAX ||
	    (unsigned)a->new_verdict >= FG_V__MAX) {
		log_warnx("store: bad audit row dropped");
		s->stats.dropped++;
		return;
	}
	if (store_q_audit(s->q, a) == -1)
		q_dropped(s, "audit");
}

void
sqlstore_queue_registration(struct sqlstore                 *s,
			    const struct store_registration *r)
{
	if (store_q_registration(s->q, r) == -1)
		q_dropped(s, "registration");
}

int
sqlstore_health(struct sqlstore *s, const char **why)
{
	int rc = store_identity(s);

	if (why != NULL)
		*why = s->lost;
	return rc;
}

size_t
sqlstore_queued(const struct sqlstore *s)
{
	return store_q_len(s->q);
}

int
sqlstore_commit_admin(struct sqlstore *s, const struct store_subject *e,
		      const struct store_audit *a)
{
	uint64_t rows = (e != NULL) + (a != NULL);
	int      ok;

	if ((e != NULL && ((unsigned)e->type >= FG_SUBJ__MAX ||
			   (unsigned)e->verdict >= FG_V__MAX ||
			   (unsigned)e->override >= FG_OVR__MAX)) ||
	    (a != NULL && ((unsigned)a->type >= FG_SUBJ__MAX ||
			   (unsigned)a->old_verdict >= FG_V__MAX ||
			   (unsigned)a->new_verdict >= FG_V__MAX))) {
		log_warnx("store: %s: bad admin row refused", s->path);
		return -1;
	}
	if (store_identity(s) == -1) {
		snprintf(s->err, sizeof s->err, "%s", s->lost);
		goto fail;
	}
	if (sqlstore_flush(s) == -1)
		return -1;
	/* An acknowledged admin action must survive power loss too, so
	 * this one commit syncs the WAL. */
	if (store_st_done(s, ST_SYNC_FULL) == -1)
		goto fail;
	if (store_st_done(s, ST_BEGIN) == -1) {
		(void)store_st_done(s, ST_SYNC_NORMAL);
		goto fail;
	}
	ok = (e == NULL || w_subject(s, e) == 0) &&
	     (a == NULL || w_audit(s, a) == 0);
	ok = txn_end(s, ok) == 0;
	if (store_st_done(s, ST_SYNC_NORMAL) == -1 && ok)
		log_warnx("store: %s: cannot restore synchronous=NORMAL: %s",
			  s->path, s->err);
	if (!ok)
		goto fail;
	s->stats.rows_written += rows;
	return 0;
fail:
	log_warnx("store: %s: admin commit failed: %s", s->path, s->err);
	return -1;
}
