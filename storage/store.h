/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the reputation store (SQLite, or PostgreSQL: backend.c).
 *
 * One connection, owned by the event thread. Automatic scoring is queued
 * in memory with store_queue_*() and written in one transaction by
 * store_flush(), called from a timer; admin actions go through
 * store_commit_admin(), which is durable before it returns. Keep this
 * interface free of SQLite types so another backend can replace it.
 */
#ifndef FG_STORE_H
#define FG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/types.h"

struct store;

/* The persisted state of one subject. Strings are borrowed by the store
 * calls (copied when queued) and owned by the store in callbacks. */
struct store_subject {
	enum fg_subj     type;
	const char      *key;      /* bare JID, domain, IP or CIDR prefix */
	double           score;    /* score as of score_at */
	int64_t          score_at; /* unix ms */
	enum fg_verdict  verdict;  /* automatic verdict */
	int64_t          expires;  /* unix ms; 0 = none */
	enum fg_override override;
	const char      *actor;   /* who set the override; NULL if none */
	const char      *reason;  /* why; NULL if none */
	int64_t          updated; /* unix ms */
	/* read from a shared store: the row's last write was an admin
	 * action (which wins over a newer automatic state); ignored when
	 * written */
	int admin;
};

/* One audit entry: every verdict change, automatic or by hand. */
struct store_audit {
	int64_t         at; /* unix ms */
	enum fg_subj    type;
	const char     *key;
	enum fg_verdict old_verdict;
	enum fg_verdict new_verdict;
	const char     *reason;  /* human text */
	const char     *signals; /* compact "kind=weight,..." evidence */
	const char     *actor;   /* admin JID or "auto" */
};

struct store_registration {
	const char *account; /* bare JID */
	const char *ip;      /* may be NULL */
	int64_t     at;      /* unix ms */
};

typedef void (*store_subject_cb)(const struct store_subject *, void *);
typedef void (*store_audit_cb)(const struct store_audit *, void *);
typedef void (*store_reg_cb)(const struct store_registration *, void *);
typedef void (*store_sub_cb)(const char *node, const char *jid, void *);

/* Open (creating, migrating) the store; NULL with one log line naming
 * the file when it is unreadable, corrupt, from a newer version, held
 * by another process (PATH.lock), or missing where a store was in use
 * (PATH.lock exists but PATH does not). A new file is created 0600. */
struct store *store_open(const char *path);
/* Open the PostgreSQL store (when built with libpq; else NULL, logged):
 * dsn is libpq's connection string or URI, "" for its environment
 * (PGHOST, ...); password_file, if not NULL, holds the password on its
 * first line. Creates or migrates the schema; its connection's socket
 * joins base. NULL with a log line when the database cannot be reached
 * or is not a floodgate store of a version this code understands. */
struct event_base;
struct store *store_open_pg(struct event_base *base, const char *dsn,
			    const char *password_file);
/* Where the store is, for log lines (a path, or a postgresql:// URL
 * without the password). */
const char *store_name(const struct store *);
/* Subjects whose verdict, override or expiry another instance sharing
 * the store changed: cb is called from the event loop, never from inside
 * a store call. Only PostgreSQL stores are shared; a no-op on SQLite. */
void store_set_change_cb(struct store *, store_subject_cb, void *);
/* Flush what is queued, then close. */
void store_close(struct store *);

/* Readers flush the queue first so they see what was queued. Callbacks
 * must not call back into the store's readers or writers. */
int store_load_subjects(struct store *, store_subject_cb, void *);

/* Write-behind: copied into the queue, written by the next flush. While
 * flushes fail the queue grows up to a cap; past it new rows are dropped
 * and counted in store_stats.dropped (a subject already queued is still
 * updated in place). */
void   store_queue_subject(struct store *, const struct store_subject *);
void   store_queue_audit(struct store *, const struct store_audit *);
void   store_queue_registration(struct store *,
				const struct store_registration *);
size_t store_queued(const struct store *);
/* Write everything queued in one transaction; -1 keeps the queue. */
int store_flush(struct store *);

/* Durable now: flushes the queue, then writes s and a in one
 * transaction, synced to disk (synchronous=FULL for this commit). Used
 * for admin actions before they are acknowledged. Either of s and a may
 * be NULL. */
int store_commit_admin(struct store *, const struct store_subject *,
		       const struct store_audit *);

/* Newest first, at most limit entries for (type, key); limit 0 means
 * no limit (also for store_registered_since). */
int store_audit_recent(struct store *, enum fg_subj, const char *key,
		       size_t limit, store_audit_cb, void *);
/* Accounts registered at or after since (unix ms), oldest first. */
int store_registered_since(struct store *, int64_t since, size_t limit,
			   store_reg_cb, void *);

/* Spam reports: 1 if new, 0 if this reporter already reported subject,
 * -1 on error. Committed at once (rare, and must dedupe across
 * restarts). */
int store_report_add(struct store *, const char *reporter, const char *subject,
		     const char *reason, int64_t at);

/* Reports on subject: how many reporters, first and last (unix ms; 0
 * when none). 0, or -1 on error. */
int store_report_summary(struct store *, const char *subject, int64_t *count,
			 int64_t *first, int64_t *last);

/* What the reporter attached to its report on subject (its note, the
 * reported message): kept with the report, set once. 0 or -1. */
int store_report_attach(struct store *, const char *reporter,
			const char *subject, const char *text);
/* The oldest attachment to a report on subject into buf (cut to size):
 * 1, 0 when there is none, -1 on error. */
int store_report_attached(struct store *, const char *subject, char *buf,
			  size_t size);

/* A report floodgate sends about subject to dest (an abuse address or a
 * collector): 1 if it was not sent before (the row is committed at once,
 * before the report leaves), 0 if it was, -1 on error. */
int store_sent_add(struct store *, const char *subject, const char *dest,
		   int64_t at);

/* 1 when a report about subject was sent anywhere, 0 if not, -1 on
 * error. */
int store_sent_any(struct store *, const char *subject);

/* Pubsub subscribers, committed at once. */
int store_sub_add(struct store *, const char *node, const char *jid);
int store_sub_del(struct store *, const char *node, const char *jid);
int store_sub_list(struct store *, store_sub_cb, void *);

/* 0 while the database file is the one opened (and a running store
 * holds its lock file PATH.lock, so offline tools refuse it); -1 with a
 * sentence in *why once it was deleted or replaced: then flushes and
 * admin commits fail instead of writing into a file nobody will read. */
int store_health(struct store *, const char **why);

/* Delete up to batch rows each of audit, registrations and reports
 * older than before (unix ms); the count, or -1 (logged once). Called
 * from the daemon's tick, so one call stays short. */
long store_prune(struct store *, int64_t before, size_t batch);
/* Consistent copy of the live store to dest (a new file, 0600), in
 * steps; -1 with a sentence in err. */
int store_backup(struct store *, const char *dest, char *err, size_t errsz);

/* Figures for /metrics. */
struct store_stats {
	uint64_t flushes;
	uint64_t rows_written;
	uint64_t flush_errors;
	uint64_t last_flush_us; /* duration of the last flush */
	uint64_t queued;        /* rows waiting for the next flush */
	uint64_t dropped;       /* rows refused because the queue was full */
	uint64_t pruned;        /* old audit/registration/report rows gone */
};
void store_get_stats(const struct store *, struct store_stats *);

#endif
