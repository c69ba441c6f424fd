/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's internals shared by store.c and query.c.
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

struct store {
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
int  store_lock(struct store *, const char *path);
void store_unlock(struct store *);
int  store_prepare_file(const char *path);
int  store_pin(struct store *, const char *path);
int  store_identity(struct store *);

/* Step a statement that returns no rows, then reset it; -1 keeps the
 * sqlite message in s->err. */
int store_st_done(struct store *, enum st_id);
/* Record the message of a failed step in s->err, reset; returns -1. */
int store_st_fail(struct store *, sqlite3_stmt *);
/* Bind borrowed text (it must outlive the step); NULL binds NULL. */
void store_st_text(sqlite3_stmt *, int, const char *);

#endif
