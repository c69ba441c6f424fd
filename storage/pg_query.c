/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the PostgreSQL store's readers, admin commits and the rows
 * written at once (spam reports, pubsub subscribers), each one bounded
 * wait (pg_job.c); and the prune, sent from the event loop like a batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "pg_int.h"

struct rows {
	struct pgstore *s;
	union {
		store_subject_cb subj;
		store_audit_cb   audit;
		store_reg_cb     reg;
		store_sub_cb     sub;
	} cb;
	void *arg;
};

static void        prologue(struct pgstore *);
static void        load_row(PGresult *, void *);
static void        audit_row(PGresult *, void *);
static void        reg_row(PGresult *, void *);
static void        sub_row(PGresult *, void *);
static int         exec_cmd(struct pgstore *, const char *, const char *, int,
			    const char *const *, int *);
static const char *col(PGresult *, int);
static void        qfail(struct pgstore *, const char *);

/* A statement that failed: said once here when the database answered
 * with an error; a lost connection was said once already, and while it
 * is away every call would say it again. */
static void
qfail(struct pgstore *s, const char *what)
{
	if (s->state == PG_READY)
		log_warnx("store: %s: %s: %s", s->name, what, s->err);
	else
		log_debug("store: %s: %s: %s", s->name, what, s->err);
}

/* Readers see queued rows: they are sent first, and the read waits for
 * them. A flush that cannot be sent keeps its rows; read anyway. */
static void
prologue(struct pgstore *s)
{
	if (store_q_len(s->q) > 0)
		(void)pgstore_flush(s);
}

static const char *
col(PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

/* A statement without rows; *changed gets its row count. -1 logged. */
static int
exec_cmd(struct pgstore *s, const char *what, const char *sql, int n,
	 const char *const *params, int *changed)
{
	PGresult *r = pgstore_exec(s, sql, n, params, NULL, NULL);

	if (r == NULL) {
		qfail(s, what);
		return -1;
	}
	if (changed != NULL)
		*changed = atoi(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

static void
load_row(PGresult *r, void *arg)
{
	struct rows         *x = arg;
	struct store_subject e;
	int64_t              chg;

	if (pgstore_row_subject(r, 0, &e, &chg) == -1)
		return;
	if (chg > x->s->chg_seen)
		x->s->chg_seen = chg;
	x->cb.subj(&e, x->arg);
}

int
pgstore_load_subjects(struct pgstore *s, store_subject_cb cb, void *arg)
{
	struct rows x = {s, {.subj = cb}, arg};
	PGresult   *r;

	prologue(s);
	r = pgstore_exec(s, "SELECT " PGSTORE_SUBJECT_COLS " FROM subjects", 0,
			 (const char *const[]){NULL}, load_row, &x);
	if (r == NULL) {
		qfail(s, "loading subjects");
		return -1;
	}
	PQclear(r);
	return 0;
}

static void
audit_row(PGresult *r, void *arg)
{
	struct rows       *x = arg;
	struct store_audit a;

	memset(&a, 0, sizeof a);
	if (fg_subj_parse(col(r, 1), &a.type) == -1 ||
	    fg_verdict_parse(col(r, 3), &a.old_verdict) == -1 ||
	    fg_verdict_parse(col(r, 4), &a.new_verdict) == -1)
		return;
	a.at = strtoll(col(r, 0), NULL, 10);
	a.key = col(r, 2);
	a.reason = col(r, 5);
	a.signals = col(r, 6);
	a.actor = col(r, 7);
	x->cb.audit(&a, x->arg);
}

int
pgstore_audit_recent(struct pgstore *s, enum fg_subj type, const char *key,
		     size_t limit, store_audit_cb cb, void *arg)
{
	struct rows x = {s, {.audit = cb}, arg};
	char        lim[32];
	const char *p[3] = {fg_subj_name(type), key, limit ? lim : NULL};
	PGresult   *r;

	snprintf(lim, sizeof lim, "%zu", limit);
	prologue(s);
	r = pgstore_exec(s,
			 "SELECT at, type, key, old, new, reason, signals,"
			 " actor FROM audit WHERE type = $1 AND key = $2"
			 " ORDER BY at DESC, id DESC LIMIT $3::bigint",
			 3, p, audit_row, &x);
	if (r == NULL) {
		qfail(s, "reading audit");
		return -1;
	}
	PQclear(r);
	return 0;
}

static void
reg_row(PGresult *r, void *arg)
{
	struct rows              *x = arg;
	struct store_registration g;

	g.account = col(r, 0);
	g.ip = col(r, 1);
	g.at = strtoll(col(r, 2), NULL, 10);
	x->cb.reg(&g, x->arg);
}

int
pgstore_registered_since(struct pgstore *s, int64_t since, size_t limit,
			 store_reg_cb cb, void *arg)
{
	struct rows x = {s, {.reg = cb}, arg};
	char        sn[32], lim[32];
	const char *p[2] = {sn, limit ? lim : NULL};
	PGresult   *r;

	snprintf(sn, sizeof sn, "%lld", (long long)since);
	snprintf(lim, sizeof lim, "%zu", limit);
	prologue(s);
	r = pgstore_exec(s,
			 "SELECT account, ip, at FROM registrations"
			 " WHERE at >= $1::bigint ORDER BY at, id"
			 " LIMIT $2::bigint",
			 2, p, reg_row, &x);
	if (r == NULL) {
		qfail(s, "reading registrations");
		return -1;
	}
	PQclear(r);
	return 0;
}

int
pgstore_report_add(struct pgstore *s, const char *reporter, const char *subject,
		   const char *reason, int64_t at)
{
	char        when[32];
	const char *p[4] = {reporter, subject, reason, when};
	int         n = 0;

	snprintf(when, sizeof when, "%lld", (long long)at);
	/* A report is counted when it is new, so the answer is waited
	 * for; the disk is not (synchronous_commit off for this one
	 * statement): reports come from users, as fast as they send them,
	 * and one lost in a database crash is what write-behind loses. */
	if (exec_cmd(s, "adding report",
		     "INSERT INTO reports (reporter, subject, reason, at)"
		     " SELECT $1, $2, $3, $4::bigint FROM (SELECT"
		     " set_config('synchronous_commit', 'off', true)) AS wb"
		     " ON CONFLICT (reporter, subject) DO NOTHING",
		     4, p, &n) == -1)
		return -1;
	return n == 1;
}

int
pgstore_report_summary(struct pgstore *s, const char *subject, int64_t *count,
		       int64_t *first, int64_t *last)
{
	const char *p[1] = {subject};
	PGresult   *r;

	*count = *first = *last = 0;
	r = pgstore_exec(
	    s,
	    "SELECT count(*), coalesce(min(at), 0),"
	    " coalesce(max(at), 0) FROM reports WHERE subject = $1",
	    1, p, NULL, NULL);
	if (r == NULL || PQntuples(r) != 1) {
		qfail(s, "summing reports");
		PQclear(r);
		return -1;
	}
	*count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*first = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	*last = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	return 0;
}

int
pgstore_report_attach(struct pgstore *s, const char *reporter,
		      const char *subject, const char *text)
{
	const char *p[3] = {reporter, subject, text};

	return exec_cmd(s, "attaching to a report",
			"UPDATE reports SET attached = $3 WHERE reporter = $1"
			" AND subject = $2 AND attached IS NULL",
			3, p, NULL);
}

int
pgstore_report_attached(struct pgstore *s, const char *subject, char *buf,
			size_t size)
{
	const char *p[1] = {subject};
	const char *v;
	PGresult   *r;
	size_t      n;
	int         found = 0;

	r = pgstore_exec(s,
			 "SELECT attached FROM reports WHERE subject = $1"
			 " AND attached IS NOT NULL ORDER BY at LIMIT 1",
			 1, p, NULL, NULL);
	if (r == NULL) {
		qfail(s, "reading a report's attachment");
		return -1;
	}
	if (PQntuples(r) == 1 && size > 0) {
		v = PQgetvalue(r, 0, 0);
		snprintf(buf, size, "%s", v);
		/* cut before a character the buffer could not hold whole */
		if ((n = strlen(v)) >= size) {
			n = size - 1;
			while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
				n--;
			buf[n] = '\0';
		}
		found = 1;
	}
	PQclear(r);
	return found;
}

int
pgstore_sent_add(struct pgstore *s, const char *subject, const char *dest,
		 int64_t at)
{
	char        when[32];
	const char *p[3] = {subject, dest, when};
	int         n = 0;

	snprintf(when, sizeof when, "%lld", (long long)at);
	/* committed (to disk) before the report leaves: a restart, here or
	 * on another instance, never sends it again */
	if (exec_cmd(s, "recording a sent report",
		     "INSERT INTO reports_sent (subject, dest, at)"
		     " VALUES ($1, $2, $3::bigint)"
		     " ON CONFLICT (subject, dest) DO NOTHING",
		     3, p, &n) == -1)
		return -1;
	return n == 1;
}

int
pgstore_sent_any(struct pgstore *s, const char *subject)
{
	const char *p[1] = {subject};
	PGresult   *r;
	int         any;

	r = pgstore_exec(s,
			 "SELECT 1 FROM reports_sent WHERE subject = $1"
			 " LIMIT 1",
			 1, p, NULL, NULL);
	if (r == NULL) {
		qfail(s, "reading sent reports");
		return -1;
	}
	any = PQntuples(r) > 0;
	PQclear(r);
	return any;
}

int
pgstore_sub_add(struct pgstore *s, const char *node, const char *jid)
{
	const char *p[2] = {node, jid};

	return exec_cmd(s, "adding subscriber",
			"INSERT INTO subscribers (node, jid) VALUES ($1, $2)"
			" ON CONFLICT (node, jid) DO NOTHING",
			2, p, NULL);
}

int
pgstore_sub_del(struct pgstore *s, const char *node, const char *jid)
{
	const char *p[2] = {node, jid};

	return exec_cmd(s, "removing subscriber",
			"DELETE FROM subscribers WHERE node = $1 AND jid = $2",
			2, p, NULL);
}

static void
sub_row(PGresult *r, void *arg)
{
	struct rows *x = arg;

	x->cb.sub(col(r, 0), col(r, 1), x->arg);
}

int
pgstore_sub_list(struct pgstore *s, store_sub_cb cb, void *arg)
{
	struct rows x = {s, {.sub = cb}, arg};
	PGresult   *r;

	r = pgstore_exec(s,
			 "SELECT node, jid FROM subscribers ORDER BY node,"
			 " jid",
			 0, (const char *const[]){NULL}, sub_row, &x);
	if (r == NULL) {
		qfail(s, "listing subscribers");
		return -1;
	}
	PQclear(r);
	return 0;
}

int
pgstore_commit_admin(struct pgstore *s, const struct store_subject *e,
		     const struct store_audit *a)
{
	PGresult *r;

	if ((e != NULL && ((unsigned)e->type >= FG_SUBJ__MAX ||
			   (unsigned)e->verdict >= FG_V__MAX ||
			   (unsigned)e->override >= FG_OVR__MAX)) ||
	    (a != NULL && ((unsigned)a->type >= FG_SUBJ__MAX ||
			   (unsigned)a->old_verdict >= FG_V__MAX ||
			   (unsigned)a->new_verdict >= FG_V__MAX))) {
		log_warnx("store: %s: bad admin row refused", s->name);
		return -1;
	}
	/* never acknowledge what the database did not commit */
	if (s->state != PG_READY) {
		log_warnx("store: %s: admin commit refused, PostgreSQL is "
			  "unreachable: %s",
			  s->name, s->err);
		return -1;
	}
	if (pgstore_wait_idle(s) == -1)
		goto fail;
	pgstore_sql_admin(s, e, a);
	/* one string, so one implicit transaction; synchronous_commit is
	 * the server's (on by default): committed means on disk */
	if ((r = pgstore_exec(s, s->sb, 0, NULL, NULL, NULL)) == NULL)
		goto fail;
	PQclear(r);
	s->stats.rows_written += (e != NULL) + (a != NULL);
	return 0;
fail:
	log_warnx("store: %s: admin commit failed: %s", s->name, s->err);
	return -1;
}

/*
 * As in the SQLite store: audit and reports are pruned from their
 * oldest rows by id or time, a batch at a time, so one call stays short.
 * Sent like a batch and read from the event loop; the count is added to
 * the stats when it arrives, so the call returns 0.
 */
long
pgstore_prune(struct pgstore *s, int64_t before, size_t batch)
{
	char *sql;
	int   rc;

	if (s->state != PG_READY || s->job != PJ_NONE || batch == 0)
		return 0;
	xasprintf(&sql,
		  "DELETE FROM audit WHERE id IN (SELECT id FROM audit"
		  " ORDER BY id LIMIT %zu) AND at < %lld;"
		  "DELETE FROM registrations WHERE id IN (SELECT id FROM"
		  " registrations WHERE at < %lld ORDER BY at LIMIT %zu);"
		  "DELETE FROM reports WHERE ctid IN (SELECT ctid FROM"
		  " reports WHERE at < %lld ORDER BY at LIMIT %zu);",
		  batch, (long long)before, (long long)before, batch,
		  (long long)before, batch);
	rc = pgstore_send(s, PJ_PRUNE, sql, 0, NULL);
	free(sql);
	return rc == -1 ? -1 : 0;
}

int
pgstore_backup(struct pgstore *s, const char *dest, char *err, size_t errsz)
{
	snprintf(err, errsz,
		 "the PostgreSQL store is backed up with pg_dump, not by "
		 "floodgated");
	return -1;
}
