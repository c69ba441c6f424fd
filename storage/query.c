/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's readers, and the rows written at once (spam
 * reports, pubsub subscribers) rather than through the queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/utf8.h"
#include "store_int.h"

static void q_prologue(struct sqlstore *);
static int  q_rows_end(struct sqlstore *, sqlite3_stmt *, int, const char *);
static const char *q_col(sqlite3_stmt *, int);
static const char *q_text(struct sqlstore *, sqlite3_stmt *, int, char **);
static void        q_fix_free(char **, size_t);

/* Readers see queued rows: flush first. A failed flush is already
 * logged and the rows stay queued; read what is on disk anyway. */
static void
q_prologue(struct sqlstore *s)
{
	if (sqlstore_queued(s) > 0)
		(void)sqlstore_flush(s);
}

/* Finish a row loop: rc is the last sqlite3_step() result. */
static int
q_rows_end(struct sqlstore *s, sqlite3_stmt *st, int rc, const char *what)
{
	if (rc != SQLITE_DONE) {
		store_st_fail(s, st);
		log_warnx("store: %s: %s: %s", s->path, what, s->err);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

static const char *
q_col(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

/*
 * A text column repaired to valid XML-safe UTF-8. Rows written by older
 * versions may hold any bytes, and what is read here is pushed in
 * stanzas: one bad byte would break the link. A repaired copy is kept in
 * fix[i] (freed by q_fix_free) and counted.
 */
static const char *
q_text(struct sqlstore *s, sqlite3_stmt *st, int col, char **fix)
{
	const char *v = q_col(st, col);

	if (v == NULL || utf8_xml_ok(v, NULL) == 0)
		return v;
	if (s->repaired++ == 0)
		log_warnx("store: %s: repairing text that is not valid UTF-8 "
			  "(written by an older version?)",
			  s->path);
	*fix = utf8_repair(v);
	return *fix;
}

static void
q_fix_free(char **fix, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(fix[i]);
		fix[i] = NULL;
	}
}

int
sqlstore_load_subjects(struct sqlstore *s, store_subject_cb cb, void *arg)
{
	sqlite3_stmt        *st = s->st[ST_LOAD_SUBJECTS];
	struct store_subject e;
	char                *fix[2] = {NULL, NULL};
	int                  rc;

	q_prologue(s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof e);
		/* CHECK constraints keep the names valid; a row that still
		 * does not parse is skipped rather than misread. */
		if (fg_subj_parse(q_col(st, 0), &e.type) == -1 ||
		    fg_verdict_parse(q_col(st, 4), &e.verdict) == -1 ||
		    fg_override_parse(q_col(st, 6), &e.override) == -1)
			continue;
		/* a key that is not valid text cannot be repaired without
		 * naming another subject: skip it, loudly */
		e.key = q_col(st, 1);
		if (e.key == NULL || utf8_xml_ok(e.key, NULL) == -1) {
			if (s->repaired++ == 0)
				log_warnx("store: %s: skipping a subject whose "
					  "key is not valid UTF-8",
					  s->path);
			continue;
		}
		e.score = sqlite3_column_double(st, 2);
		e.score_at = sqlite3_column_int64(st, 3);
		e.expires = sqlite3_column_int64(st, 5);
		e.actor = q_text(s, st, 7, &fix[0]);
		e.reason = q_text(s, st, 8, &fix[1]);
		e.updated = sqlite3_column_int64(st, 9);
		cb(&e, arg);
		q_fix_free(fix, 2);
	}
	return q_rows_end(s, st, rc, "loading subjects");
}

int
sqlstore_audit_recent(struct sqlstore *s, enum fg_subj type, const char *key,
		      size_t limit, store_audit_cb cb, void *arg)
{
	sqlite3_stmt      *st = s->st[ST_AUDIT_RECENT];
	struct store_audit a;
	char              *fix[4] = {NULL, NULL, NULL, NULL};
	int                rc;

	q_prologue(s);
	store_st_text(st, 1, fg_subj_name(type));
	store_st_text(st, 2, key);
	sqlite3_bind_int64(st, 3, limit == 0 ? -1 : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&a, 0, sizeof a);
		if (fg_subj_parse(q_col(st, 1), &a.type) == -1 ||
		    fg_verdict_parse(q_col(st, 3), &a.old_verdict) == -1 ||
		    fg_verdict_parse(q_col(st, 4), &a.new_verdict) == -1)
			continue;
		a.at = sqlite3_column_int64(st, 0);
		a.key = q_text(s, st, 2, &fix[0]);
		a.reason = q_text(s, st, 5, &fix[1]);
		a.signals = q_text(s, st, 6, &fix[2]);
		a.actor = q_text(s, st, 7, &fix[3]);
		cb(&a, arg);
		q_fix_free(fix, 4);
	}
	return q_rows_end(s, st, rc, "reading audit");
}

int
sqlstore_registered_since(struct sqlstore *s, int64_t since, size_t limit,
			  store_reg_cb cb, void *arg)
{
	sqlite3_stmt             *st = s->st[ST_REG_SINCE];
	struct store_registration r;
	char                     *fix[2] = {NULL, NULL};
	int                       rc;

	q_prologue(s);
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, limit == 0 ? -1 : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.account = q_text(s, st, 0, &fix[0]);
		r.ip = q_text(s, st, 1, &fix[1]);
		r.at = sqlite3_column_int64(st, 2);
		cb(&r, arg);
		q_fix_free(fix, 2);
	}
	return q_rows_end(s, st, rc, "reading registrations");
}

int
sqlstore_report_add(struct sqlstore *s, const char *reporter,
		    const char *subject, const char *reason, int64_t at)
{
	sqlite3_stmt *st = s->st[ST_REPORT_ADD];

	store_st_text(st, 1, reporter);
	store_st_text(st, 2, subject);
	store_st_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, at);
	if (store_st_done(s, ST_REPORT_ADD) == -1) {
		log_warnx("store: %s: adding report: %s", s->path, s->err);
		return -1;
	}
	/* ON CONFLICT DO NOTHING changes no row for a repeat report. */
	return sqlite3_changes(s->db) == 1;
}

int
sqlstore_report_summary(struct sqlstore *s, const char *subject, int64_t *count,
			int64_t *first, int64_t *last)
{
	sqlite3_stmt *st = s->st[ST_REPORT_SUM];
	int           rc;

	*count = *first = *last = 0;
	store_st_text(st, 1, subject);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		store_st_fail(s, st);
		log_warnx("store: %s: summing reports: %s", s->path, s->err);
		return -1;
	}
	*count = sqlite3_column_int64(st, 0);
	*first = sqlite3_column_int64(st, 1);
	*last = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return 0;
}

int
sqlstore_report_attach(struct sqlstore *s, const char *reporter,
		       const char *subject, const char *text)
{
	sqlite3_stmt *st = s->st[ST_REPORT_ATTACH];

	store_st_text(st, 1, reporter);
	store_st_text(st, 2, subject);
	store_st_text(st, 3, text);
	if (store_st_done(s, ST_REPORT_ATTACH) == -1) {
		log_warnx("store: %s: attaching to a report: %s", s->path,
			  s->err);
		return -1;
	}
	return 0;
}

int
sqlstore_report_attached(struct sqlstore *s, const char *subject, char *buf,
			 size_t size)
{
	sqlite3_stmt *st = s->st[ST_REPORT_ATTACHED];
	char         *fix = NULL;
	const char   *v;
	size_t        n;
	int           rc, found = 0;

	store_st_text(st, 1, subject);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    (v = q_text(s, st, 0, &fix)) != NULL && size > 0) {
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
	free(fix);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_st_fail(s, st);
		log_warnx("store: %s: reading a report's attachment: %s",
			  s->path, s->err);
		return -1;
	}
	sqlite3_reset(st);
	return found;
}

int
sqlstore_sent_add(struct sqlstore *s, const char *subject, const char *dest,
		  int64_t at)
{
	sqlite3_stmt *st = s->st[ST_SENT_ADD];

	store_st_text(st, 1, subject);
	store_st_text(st, 2, dest);
	sqlite3_bind_int64(st, 3, at);
	if (store_st_done(s, ST_SENT_ADD) == -1) {
		log_warnx("store: %s: recording a sent report: %s", s->path,
			  s->err);
		return -1;
	}
	return sqlite3_changes(s->db) == 1;
}

int
sqlstore_sent_any(struct sqlstore *s, const char *subject)
{
	sqlite3_stmt *st = s->st[ST_SENT_ANY];
	int           rc;

	store_st_text(st, 1, subject);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_st_fail(s, st);
		log_warnx("store: %s: reading sent reports: %s", s->path,
			  s->err);
		return -1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

int
sqlstore_sub_add(struct sqlstore *s, const char *node, const char *jid)
{
	sqlite3_stmt *st = s->st[ST_SUB_ADD];

	store_st_text(st, 1, node);
	store_st_text(st, 2, jid);
	if (store_st_done(s, ST_SUB_ADD) == -1) {
		log_warnx("store: %s: adding subscriber: %s", s->path, s->err);
		return -1;
	}
	return 0;
}

int
sqlstore_sub_del(struct sqlstore *s, const char *node, const char *jid)
{
	sqlite3_stmt *st = s->st[ST_SUB_DEL];

	store_st_text(st, 1, node);
	store_st_text(st, 2, jid);
	if (store_st_done(s, ST_SUB_DEL) == -1) {
		log_warnx("store: %s: removing subscriber: %s", s->path,
			  s->err);
		return -1;
	}
	return 0;
}

int
sqlstore_sub_list(struct sqlstore *s, store_sub_cb cb, void *arg)
{
	sqlite3_stmt *st = s->st[ST_SUB_LIST];
	int           rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(q_col(st, 0), q_col(st, 1), arg);
	return q_rows_end(s, st, rc, "listing subscribers");
}

void
sqlstore_get_stats(const struct sqlstore *s, struct store_stats *out)
{
	*out = s->stats;
	out->queued = store_q_len(s->q);
}
