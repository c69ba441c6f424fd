/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the PostgreSQL backend's internals. Layered so that no two
 * files call each other: pg_sql.c and pg_schema.c (statement text), then
 * pg_job.c (the connection's state, the statement in flight, bounded
 * waits), then pg.c (open, reconnect, queue, flush) and pg_query.c.
 *
 * One libpq connection in non-blocking mode, its socket on the daemon's
 * event loop. At most one statement is in flight (a "job"): a batch of
 * queued rows, the catch-up read of rows other instances changed, a
 * prune, or the LISTEN after a (re)connect. Readers and admin commits
 * wait, bounded, for the job in flight and then for their own answer.
 */
#ifndef FG_STORE_PG_INT_H
#define FG_STORE_PG_INT_H

#include <libpq-fe.h>

#include "pg.h"
#include "queue.h"

/* How long a reader or an admin commit waits for the database before
 * failing; the event loop stalls for at most this long, and only for
 * admin actions, spam reports and pubsub subscriptions, never for a gate
 * decision. */
#define PG_WAIT_MS 3000 /* ms */
/* The NOTIFY channel every instance listens on; the payload is the
 * change number of the transaction. */
#define PG_CHANNEL "floodgate"

enum pg_state {
	PG_DOWN,       /* no connection; retried by the timer */
	PG_CONNECTING, /* PQconnectStartParams .. PQconnectPoll */
	PG_LISTENING,  /* connected, LISTEN in flight */
	PG_READY
};

enum pg_job { PJ_NONE, PJ_LISTEN, PJ_BATCH, PJ_CATCHUP, PJ_PRUNE };

struct pgstore {
	struct event_base *base;
	const char        *kw[10]; /* libpq connection keywords, NULL-ended */
	const char        *val[10];
	char              *dsn;
	char              *password; /* from password-file; never logged */
	char              *name;     /* "postgresql://user@host:port/db" */
	PGconn            *conn;
	enum pg_state      state;
	int                backend_pid; /* ours, to skip our own NOTIFYs */
	int64_t            writer; /* random id of this instance in its rows */
	struct event      *ev_rd;  /* socket readable (persistent) */
	struct event      *ev_wr;  /* socket writable, output pending */
	struct event      *ev_timer; /* reconnects and deadlines, 1 s */
	uint64_t           state_at; /* clock_mono_ns of the last change */
	uint64_t           retry_ms; /* wait before the next connect */

	enum pg_job job;
	uint64_t    job_at;     /* clock_mono_ns when it was sent */
	int         job_failed; /* a result of the job was an error */
	int         syncing;    /* in a bounded wait: defer change callbacks */
	uint64_t    results;    /* results read: progress, for bounded waits */

	struct store_q *q;        /* queued rows */
	struct store_q *inflight; /* the batch in flight */
	size_t          inflight_rows;
	long            pruned; /* rows deleted by the prune in flight */

	int64_t          chg_seen;  /* newest change number applied */
	int              catchup;   /* a change was announced: read it */
	int              flush_due; /* a flush waited for the job in flight */
	store_subject_cb change_cb;
	void            *change_arg;

	struct store_stats stats;
	uint64_t           failing;  /* consecutive failed flushes */
	int                dropping; /* logged that the queue is full */
	int                down_logged;
	char               err[256]; /* the last failure, for health/logs */

	char  *sb; /* SQL text being built */
	size_t sblen, sbcap;
};

/* pg_job.c: the connection's state and the statement in flight. */
void pgstore_lost(struct pgstore *, const char *why);
void pgstore_disarm(struct pgstore *);
void pgstore_want_write(struct pgstore *);
void pgstore_set_err(struct pgstore *, const char *what, const char *msg);
/* Send the queue as one batch, or mark it due when a job is in flight. */
int  pgstore_send_batch(struct pgstore *);
int  pgstore_send(struct pgstore *, enum pg_job, const char *sql, int nparams,
		  const char *const *params);
void pgstore_input(struct pgstore *);
void pgstore_kick(struct pgstore *);
void pgstore_requeue(struct pgstore *);
/* Wait until no job is in flight, at most PG_WAIT_MS without a result
 * arriving; -1 when the database is unreachable or silent for that long
 * (then it is marked lost). */
int pgstore_wait_idle(struct pgstore *);
/* Run one statement and wait (bounded) for it; each row is handed to
 * row (single-row mode) when it is not NULL. The result of the last
 * statement is returned for the caller to PQclear, NULL on error (in
 * s->err). */
typedef void (*pgstore_row_cb)(PGresult *, void *);
PGresult *pgstore_exec(struct pgstore *, const char *sql, int nparams,
		       const char *const *params, pgstore_row_cb, void *);
/* A subjects row (columns as PGSTORE_SUBJECT_COLS) into e; -1 if it
 * does not parse. Strings point into r. */
#define PGSTORE_SUBJECT_COLS                                                   \
	"type, key, score, score_at, verdict, expires, override, actor,"       \
	" reason, updated, chg, admin"
int pgstore_row_subject(PGresult *, int row, struct store_subject *,
			int64_t *chg);

/* pg_sql.c: statement text. */
void pgstore_sb_reset(struct pgstore *);
/* The rows of q as one multi-statement string in s->sb (one implicit
 * transaction); guard: only newer rows replace a subject. */
void pgstore_sql_batch(struct pgstore *, struct store_q *);
void pgstore_sql_admin(struct pgstore *, const struct store_subject *,
		       const struct store_audit *);

/* pg_schema.c */
int pgstore_schema_setup(PGconn *, const char *name);

#endif
