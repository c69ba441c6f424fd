/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the SQLite backend's internals (store.c, query.c, lock.c,
 * maint.c).
 */
#ifndef FG_STORE_INT_H
#define FG_STORE_INT_H

#include <sys/types.h>

#include <sqlite3.h>

#include "queue.h"
#include "store.h"

/* Statements prepared once at open, kept for the life of the store. */
enum st_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SYNC_FULL,
	ST_SYNC_NORMAL,
	ST_UPSERT_SUBJECT,
	ST_INSERT_AUDIT,
	ST_INSERT_REG,
	ST_LOAD_SUBJECTS,
	ST_AUDIT_RECENT,
	ST_REG_SINCE,
	ST_REPORT_ADD,
	ST_SUB_ADD,
	ST_SUB_DEL,
	ST_SUB_LIST,
	ST_SENT_ADD,
	ST_REPORT_SUM,
	ST_REPORT_ATTACH,
	ST_REPORT_ATTACHED,
	ST_SENT_ANY,
	ST__MAX
};

struct sqlstore {
	sqlite3           *db;
	char              *path;
	sqlite3_stmt      *st[ST__MAX];
	struct store_q    *q;
	struct store_stats stats;
	uint64_t           failing;  /* consecutive failed flushes */
	int                dropping; /* logged that the queue is full */
	uint64_t           repaired; /* rows read with text not UTF-8 */
	int                lockfd;   /* PATH.lock, flock()ed while open */
	dev_t              dev;      /* identity of the file we opened */
	ino_t              ino;
	const char        *lost; /* why the file is not ours; NULL ok */
	uint64_t           prune_failing; /* consecutive failed prunes */
	char               err[256]; /* sqlite message of the last failure */
};

/* Lock file handling and the checks on the file's identity (lock.c). */
int  store_lock(struct sqlstore *, const char *path);
void store_unlock(struct sqlstore *);
int  store_prepare_file(const char *path);
int  store_pin(struct sqlstore *, const char *path);
int  store_identity(struct sqlstore *);

/* Step a statement that returns no rows, then reset it; -1 keeps the
 * sqlite message in s->err. */
int store_st_done(struct sqlstore *, enum st_id);
/* Record the message of a failed step in s->err, reset; returns -1. */
int store_st_fail(struct sqlstore *, sqlite3_stmt *);
/* Bind borrowed text (it must outlive the step); NULL binds NULL. */
void store_st_text(sqlite3_stmt *, int, const char *);

/* The SQLite backend behind store.h's dispatch (backend.c): the same
 * calls, documented there, on the SQLite handle. */
struct sqlstore *sqlstore_open(const char *path);
void             sqlstore_close(struct sqlstore *);
const char      *sqlstore_name(const struct sqlstore *);
int    sqlstore_load_subjects(struct sqlstore *, store_subject_cb, void *);
void   sqlstore_queue_subject(struct sqlstore *, const struct store_subject *);
void   sqlstore_queue_audit(struct sqlstore *, const struct store_audit *);
void   sqlstore_queue_registration(struct sqlstore *,
				   const struct store_registration *);
size_t sqlstore_queued(const struct sqlstore *);
int    sqlstore_flush(struct sqlstore *);
int    sqlstore_commit_admin(struct sqlstore *, const struct store_subject *,
			     const struct store_audit *);
int sqlstore_audit_recent(struct sqlstore *, enum fg_subj, const char *, size_t,
			  store_audit_cb, void *);
int sqlstore_registered_since(struct sqlstore *, int64_t, size_t, store_reg_cb,
			      void *);
int sqlstore_report_add(struct sqlstore *, const char *, const char *,
			const char *, int64_t);
int sqlstore_report_summary(struct sqlstore *, const char *, int64_t *,
			    int64_t *, int64_t *);
int sqlstore_report_attach(struct sqlstore *, const char *, const char *,
			   const char *);
int sqlstore_report_attached(struct sqlstore *, const char *, char *, size_t);
int sqlstore_sent_add(struct sqlstore *, const char *, const char *, int64_t);
int sqlstore_sent_any(struct sqlstore *, const char *);
int sqlstore_sub_add(struct sqlstore *, const char *, const char *);
int sqlstore_sub_del(struct sqlstore *, const char *, const char *);
int sqlstore_sub_list(struct sqlstore *, store_sub_cb, void *);
int sqlstore_health(struct sqlstore *, const char **);
long sqlstore_prune(struct sqlstore *, int64_t, size_t);
int  sqlstore_backup(struct sqlstore *, const char *, char *, size_t);
void sqlstore_get_stats(const struct sqlstore *, struct store_stats *);

#endif
