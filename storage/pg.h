/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the PostgreSQL backend of the store (internal to storage/;
 * reached through store.h and backend.c).
 *
 * The same calls as the SQLite backend, documented in store.h; where
 * they differ: store_flush() sends the queued rows and returns at once
 * (the result is read from the event loop), the readers and admin
 * commits wait for their answer for at most PG_WAIT_MS, and while the
 * database is unreachable flushes keep the queue, admin commits fail at
 * once and store_health() says why.
 */
#ifndef FG_STORE_PG_H
#define FG_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct event_base;
struct pgstore;

struct pgstore *pgstore_open(struct event_base *, const char *dsn,
			     const char *password_file);
void            pgstore_close(struct pgstore *);
void        pgstore_set_change_cb(struct pgstore *, store_subject_cb, void *);
const char *pgstore_name(const struct pgstore *);

int    pgstore_load_subjects(struct pgstore *, store_subject_cb, void *);
void   pgstore_queue_subject(struct pgstore *, const struct store_subject *);
void   pgstore_queue_audit(struct pgstore *, const struct store_audit *);
void   pgstore_queue_registration(struct pgstore *,
				  const struct store_registration *);
size_t pgstore_queued(const struct pgstore *);
int    pgstore_flush(struct pgstore *);
int    pgstore_commit_admin(struct pgstore *, const struct store_subject *,
			    const struct store_audit *);
int pgstore_audit_recent(struct pgstore *, enum fg_subj, const char *, size_t,
			 store_audit_cb, void *);
int pgstore_registered_since(struct pgstore *, int64_t, size_t, store_reg_cb,
			     void *);
int pgstore_report_add(struct pgstore *, const char *, const char *,
		       const char *, int64_t);
int pgstore_report_summary(struct pgstore *, const char *, int64_t *, int64_t *,
			   int64_t *);
int pgstore_report_attach(struct pgstore *, const char *, const char *,
			  const char *);
int pgstore_report_attached(struct pgstore *, const char *, char *, size_t);
int pgstore_sent_add(struct pgstore *, const char *, const char *, int64_t);
int pgstore_sent_any(struct pgstore *, const char *);
int pgstore_sub_add(struct pgstore *, const char *, const char *);
int pgstore_sub_del(struct pgstore *, const char *, const char *);
int pgstore_sub_list(struct pgstore *, store_sub_cb, void *);
int pgstore_health(struct pgstore *, const char **);
long pgstore_prune(struct pgstore *, int64_t, size_t);
int  pgstore_backup(struct pgstore *, const char *, char *, size_t);
void pgstore_get_stats(const struct pgstore *, struct store_stats *);

#endif
