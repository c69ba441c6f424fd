/* SPDX-License-Identifier: ISC */
/*
 * floodgate - statement text for the PostgreSQL store: a batch of queued
 * rows as multi-row INSERTs, sent as one string so that PostgreSQL runs
 * it as one implicit transaction in one round trip.
 *
 * Literals rather than parameters: one statement carries thousands of
 * rows, and text parameters would be escaped all the same. Every string
 * goes through PQescapeStringConn() (the connection's encoding and
 * standard_conforming_strings), and text that is not valid UTF-8 is
 * repaired first: PostgreSQL rejects it, and one such row would fail
 * every later batch.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utf8.h"
#include "../core/xmalloc.h"
#include "pg_int.h"

/* Rows per INSERT statement: bounds one statement's parse tree, while
 * a batch of any size still goes in one round trip. */
#define PG_ROWS_PER_INSERT 5000 /* rows */

#define UPSERT_HEAD                                                            \
	"INSERT INTO subjects (type, key, score, score_at, verdict,"           \
	" expires, override, actor, reason, updated, writer, admin) VALUES "
#define UPSERT_SET                                                             \
	" ON CONFLICT (type, key) DO UPDATE SET score = excluded.score,"       \
	" score_at = excluded.score_at, verdict = excluded.verdict,"           \
	" expires = excluded.expires, override = excluded.override,"           \
	" actor = excluded.actor, reason = excluded.reason,"                   \
	" updated = excluded.updated, writer = excluded.writer,"               \
	" admin = excluded.admin"
/* Several instances write the same subjects: a row computed earlier
 * than the one stored (a batch that waited out an outage, another
 * instance's newer decision) does not replace it. Nor does one computed
 * within PG_ADMIN_GRACE_MS after an admin action: the instance that
 * computed it may not have heard of the action yet, and would undo an
 * unblock while the account keeps sending. */
#define PG_ADMIN_GRACE_MS 2000 /* ms */
#define STR_(x) #x
#define STR(x) STR_(x)
#define UPSERT_GUARD                                                           \
	" WHERE subjects.updated <= excluded.updated AND (NOT subjects.admin"  \
	" OR excluded.updated > subjects.updated + " STR(                      \
	    PG_ADMIN_GRACE_MS) ")"
#define AUDIT_HEAD                                                             \
	"INSERT INTO audit (at, type, key, old, new, reason, signals, actor)"  \
	" VALUES "
/* The change number first (pg_schema.c): one lock order for writers;
 * and last, NOTIFY the other instances if a verdict moved. */
#define BEGIN_SQL "SELECT floodgate_begin();"
#define TELL_SQL "SELECT floodgate_tell();"
#define REG_HEAD "INSERT INTO registrations (account, ip, at) VALUES "

static void sb_grow(struct pgstore *, size_t);
static void sb_str(struct pgstore *, const char *);
static void sb_fmt(struct pgstore *, const char *, ...)
    __attribute__((__format__(printf, 2, 3)));
static void sb_lit(struct pgstore *, const char *);
static void sql_subject(struct pgstore *, const struct store_subject *, int);
static void sql_audit(struct pgstore *, const struct store_audit *);

void
pgstore_sb_reset(struct pgstore *s)
{
	s->sblen = 0;
	if (s->sb != NULL)
		s->sb[0] = '\0';
}

static void
sb_grow(struct pgstore *s, size_t more)
{
	if (s->sblen + more + 1 <= s->sbcap)
		return;
	while (s->sblen + more + 1 > s->sbcap)
		s->sbcap = s->sbcap ? s->sbcap * 2 : 4096;
	s->sb = xrealloc(s->sb, s->sbcap);
}

static void
sb_str(struct pgstore *s, const char *t)
{
	size_t n = strlen(t);

	sb_grow(s, n);
	memcpy(s->sb + s->sblen, t, n + 1);
	s->sblen += n;
}

static void
sb_fmt(struct pgstore *s, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_grow(s, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(s->sb + s->sblen, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->sblen += (size_t)n;
}

/* 'text' escaped for the connection, or NULL. */
static void
sb_lit(struct pgstore *s, const char *t)
{
	char  *fix = NULL;
	size_t n;
	int    err = 0;

	if (t == NULL) {
		sb_str(s, "NULL");
		return;
	}
	if (utf8_xml_ok(t, NULL) == -1)
		t = fix = utf8_repair(t);
	n = strlen(t);
	sb_grow(s, 2 * n + 2);
	s->sb[s->sblen++] = '\'';
	s->sblen += PQescapeStringConn(s->conn, s->sb + s->sblen, t, n, &err);
	s->sb[s->sblen++] = '\'';
	s->sb[s->sblen] = '\0';
	free(fix);
}

/* admin: the row is an admin action's; our writer id marks it ours. */
static void
sql_subject(struct pgstore *s, const struct store_subject *e, int admin)
{
	sb_str(s, "(");
	sb_lit(s, fg_subj_name(e->type));
	sb_str(s, ",");
	sb_lit(s, e->key);
	sb_fmt(s, ",%.17g,%lld,", isfinite(e->score) ? e->score : 0.0,
	       (long long)e->score_at);
	sb_lit(s, fg_verdict_name(e->verdict));
	sb_fmt(s, ",%lld,", (long long)e->expires);
	sb_lit(s, fg_override_name(e->override));
	sb_str(s, ",");
	sb_lit(s, e->actor);
	sb_str(s, ",");
	sb_lit(s, e->reason);
	sb_fmt(s, ",%lld,%lld,%s)", (long long)e->updated, (long long)s->writer,
	       admin ? "true" : "false");
}

static void
sql_audit(struct pgstore *s, const struct store_audit *a)
{
	sb_fmt(s, "(%lld,", (long long)a->at);
	sb_lit(s, fg_subj_name(a->type));
	sb_str(s, ",");
	sb_lit(s, a->key);
	sb_str(s, ",");
	sb_lit(s, fg_verdict_name(a->old_verdict));
	sb_str(s, ",");
	sb_lit(s, fg_verdict_name(a->new_verdict));
	sb_str(s, ",");
	sb_lit(s, a->reason);
	sb_str(s, ",");
	sb_lit(s, a->signals);
	sb_str(s, ",");
	sb_lit(s, a->actor != NULL ? a->actor : "auto");
	sb_str(s, ")");
}

void
pgstore_sql_batch(struct pgstore *s, struct store_q *q)
{
	const struct store_registration *r;
	size_t                           i, n;

	pgstore_sb_reset(s);
	n = store_q_nsubjects(q);
	if (n > 0)
		sb_str(s, BEGIN_SQL);
	for (i = 0; i < n; i++) {
		sb_str(s, i % PG_ROWS_PER_INSERT == 0 ? UPSERT_HEAD : ",");
		sql_subject(s, store_q_subject_at(q, i), 0);
		if ((i + 1) % PG_ROWS_PER_INSERT == 0 || i + 1 == n)
			sb_str(s, UPSERT_SET UPSERT_GUARD ";");
	}
	if (n > 0)
		sb_str(s, TELL_SQL);
	n = store_q_naudit(q);
	for (i = 0; i < n; i++) {
		sb_str(s, i % PG_ROWS_PER_INSERT == 0 ? AUDIT_HEAD : ",");
		sql_audit(s, store_q_audit_at(q, i));
		if ((i + 1) % PG_ROWS_PER_INSERT == 0 || i + 1 == n)
			sb_str(s, ";");
	}
	n = store_q_nregs(q);
	for (i = 0; i < n; i++) {
		r = store_q_reg_at(q, i);
		sb_str(s, i % PG_ROWS_PER_INSERT == 0 ? REG_HEAD : ",");
		sb_str(s, "(");
		sb_lit(s, r->account);
		sb_str(s, ",");
		sb_lit(s, r->ip);
		sb_fmt(s, ",%lld)", (long long)r->at);
		if ((i + 1) % PG_ROWS_PER_INSERT == 0 || i + 1 == n)
			sb_str(s, ";");
	}
}

/* An admin action always replaces the row, whatever its time says: the
 * operator's word wins over any automatic state, even one stamped
 * later by an instance whose clock runs ahead. */
void
pgstore_sql_admin(struct pgstore *s, const struct store_subject *e,
		  const struct store_audit *a)
{
	pgstore_sb_reset(s);
	if (e != NULL) {
		sb_str(s, BEGIN_SQL UPSERT_HEAD);
		sql_subject(s, e, 1);
		sb_str(s, UPSERT_SET ";" TELL_SQL);
	}
	if (a != NULL) {
		sb_str(s, AUDIT_HEAD);
		sql_audit(s, a);
		sb_str(s, ";");
	}
}
