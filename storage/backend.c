/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's backend seam: every call of store.h goes to the
 * backend the store was opened with, SQLite (store.c, query.c, lock.c,
 * maint.c) or PostgreSQL (pg*.c, built when configure found libpq).
 *
 * Two backends, so a plain switch rather than a table of function
 * pointers: each call stays one line that the compiler checks. A new
 * call of store.h adds one line here and one function per backend.
 */
#include <stdlib.h>

#include "autoconf.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "store_int.h"
#ifdef HAVE_LIBPQ
#include "pg.h"
#endif

struct store {
	struct sqlstore *sq; /* exactly one of the two is set */
	struct pgstore  *pg;
};

#ifdef HAVE_LIBPQ
#define ON(s, pgcall, sqcall) ((s)->pg != NULL ? (pgcall) : (sqcall))
#else
#define ON(s, pgcall, sqcall) (sqcall)
#endif

struct store *
store_open(const char *path)
{
	struct sqlstore *sq = sqlstore_open(path);
	struct store    *s;

	if (sq == NULL)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->sq = sq;
	return s;
}

struct store *
store_open_pg(struct event_base *base, const char *dsn,
	      const char *password_file)
{
#ifdef HAVE_LIBPQ
	struct pgstore *pg = pgstore_open(base, dsn, password_file);
	struct store   *s;

	if (pg == NULL)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->pg = pg;
	return s;
#else
	log_warnx("store: this floodgate was built without libpq: no "
		  "PostgreSQL store");
	return NULL;
#endif
}

const char *
store_name(const struct store *s)
{
	return ON(s, pgstore_name(s->pg), sqlstore_name(s->sq));
}

void
store_set_change_cb(struct store *s, store_subject_cb cb, void *arg)
{
#ifdef HAVE_LIBPQ
	if (s->pg != NULL)
		pgstore_set_change_cb(s->pg, cb, arg);
#endif
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	ON(s, pgstore_close(s->pg), sqlstore_close(s->sq));
	free(s);
}

int
store_load_subjects(struct store *s, store_subject_cb cb, void *arg)
{
	return ON(s, pgstore_load_subjects(s->pg, cb, arg),
		  sqlstore_load_subjects(s->sq, cb, arg));
}

void
store_queue_subject(struct store *s, const struct store_subject *e)
{
	ON(s, pgstore_queue_subject(s->pg, e),
	   sqlstore_queue_subject(s->sq, e));
}

void
store_queue_audit(struct store *s, const struct store_audit *a)
{
	ON(s, pgstore_queue_audit(s->pg, a), sqlstore_queue_audit(s->sq, a));
}

void
store_queue_registration(struct store *s, const struct store_registration *r)
{
	ON(s, pgstore_queue_registration(s->pg, r),
	   sqlstore_queue_registration(s->sq, r));
}

size_t
store_queued(const struct store *s)
{
	return ON(s, pgstore_queued(s->pg), sqlstore_queued(s->sq));
}

int
store_flush(struct store *s)
{
	return ON(s, pgstore_flush(s->pg), sqlstore_flush(s->sq));
}

int
store_commit_admin(struct store *s, const struct store_subject *e,
		   const struct store_audit *a)
{
	return ON(s, pgstore_commit_admin(s->pg, e, a),
		  sqlstore_commit_admin(s->sq, e, a));
}

int
store_audit_recent(struct store *s, enum fg_subj type, const char *key,
		   size_t limit, store_audit_cb cb, void *arg)
{
	return ON(s, pgstore_audit_recent(s->pg, type, key, limit, cb, arg),
		  sqlstore_audit_recent(s->sq, type, key, limit, cb, arg));
}

int
store_registered_since(struct store *s, int64_t since, size_t limit,
		       store_reg_cb cb, void *arg)
{
	return ON(s, pgstore_registered_since(s->pg, since, limit, cb, arg),
		  sqlstore_registered_since(s->sq, since, limit, cb, arg));
}

int
store_report_add(struct store *s, const char *reporter, const char *subject,
		 const char *reason, int64_t at)
{
	return ON(s, pgstore_report_add(s->pg, reporter, subject, reason, at),
		  sqlstore_report_add(s->sq, reporter, subject, reason, at));
}

int
store_report_summary(struct store *s, const char *subject, int64_t *count,
		     int64_t *first, int64_t *last)
{
	return ON(s, pgstore_report_summary(s->pg, subject, count, first, last),
		  sqlstore_report_summary(s->sq, subject, count, first, last));
}

int
store_report_attach(struct store *s, const char *reporter, const char *subject,
		    const char *text)
{
	return ON(s, pgstore_report_attach(s->pg, reporter, subject, text),
		  sqlstore_report_attach(s->sq, reporter, subject, text));
}

int
store_report_attached(struct store *s, const char *subject, char *buf,
		      size_t size)
{
	return ON(s, pgstore_report_attached(s->pg, subject, buf, size),
		  sqlstore_report_attached(s->sq, subject, buf, size));
}

int
store_sent_add(struct store *s, const char *subject, const char *dest,
	       int64_t at)
{
	return ON(s, pgstore_sent_add(s->pg, subject, dest, at),
		  sqlstore_sent_add(s->sq, subject, dest, at));
}

int
store_sent_any(struct store *s, const char *subject)
{
	return ON(s, pgstore_sent_any(s->pg, subject),
		  sqlstore_sent_any(s->sq, subject));
}

int
store_sub_add(struct store *s, const char *node, const char *jid)
{
	return ON(s, pgstore_sub_add(s->pg, node, jid),
		  sqlstore_sub_add(s->sq, node, jid));
}

int
store_sub_del(struct store *s, const char *node, const char *jid)
{
	return ON(s, pgstore_sub_del(s->pg, node, jid),
		  sqlstore_sub_del(s->sq, node, jid));
}

int
store_sub_list(struct store *s, store_sub_cb cb, void *arg)
{
	return ON(s, pgstore_sub_list(s->pg, cb, arg),
		  sqlstore_sub_list(s->sq, cb, arg));
}

int
store_health(struct store *s, const char **why)
{
	return ON(s, pgstore_health(s->pg, why), sqlstore_health(s->sq, why));
}

long
store_prune(struct store *s, int64_t before, size_t batch)
{
	return ON(s, pgstore_prune(s->pg, before, batch),
		  sqlstore_prune(s->sq, before, batch));
}

int
store_backup(struct store *s, const char *dest, char *err, size_t errsz)
{
	return ON(s, pgstore_backup(s->pg, dest, err, errsz),
		  sqlstore_backup(s->sq, dest, err, errsz));
}

void
store_get_stats(const struct store *s, struct store_stats *out)
{
	ON(s, pgstore_get_stats(s->pg, out), sqlstore_get_stats(s->sq, out));
}
