/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the PostgreSQL store's statements: the one in flight
 * (batches, catch-up reads, prunes, LISTEN) read from the event loop,
 * and the bounded waits of readers and admin commits.
 *
 * A bounded wait polls the socket itself rather than running the event
 * loop: nothing else runs meanwhile, so a caller in the middle of
 * changing the policy's state never sees a change callback. Catch-up
 * rows that arrive during such a wait are not applied; the read is
 * repeated from the event loop afterwards.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "pg_int.h"

#define NS_PER_MS 1000000ull
/* Rows per batch: a statement in flight stays short (about a quarter of
 * a second at the measured rate), so a reader or an admin commit never
 * waits long behind one, even when a long queue drains. */
#define PG_BATCH_MAX 20000 /* rows */

static const char catchup_sql[] =
    "SELECT " PGSTORE_SUBJECT_COLS " FROM subjects WHERE chg > $1"
    " AND writer <> $2 ORDER BY chg";

static void job_result(struct pgstore *, PGresult *);
static void job_end(struct pgstore *);
static void notices(struct pgstore *);
static int  wait_io(struct pgstore *, uint64_t deadline);

void
pgstore_set_err(struct pgstore *s, const char *what, const char *msg)
{
	char   raw[sizeof s->err];
	size_t n;

	snprintf(raw, sizeof raw, "%s%s%s", what ? what : "",
		 what && msg ? ": " : "", msg ? msg : "");
	/* libpq messages end in a newline, some span lines */
	for (n = 0; raw[n] != '\0'; n++)
		if (raw[n] == '\n' || raw[n] == '\t')
			raw[n] = raw[n + 1] != '\0' ? ' ' : '\0';
	/* the server may quote a row's values (keys are JIDs): escaped
	 * here once, as every log line and answer that shows it needs */
	log_esc(s->err, sizeof s->err, raw);
}

void
pgstore_disarm(struct pgstore *s)
{
	if (s->ev_rd != NULL)
		event_free(s->ev_rd);
	if (s->ev_wr != NULL)
		event_free(s->ev_wr);
	s->ev_rd = s->ev_wr = NULL;
}

void
pgstore_want_write(struct pgstore *s)
{
	int rc = PQflush(s->conn);

	if (rc == -1)
		pgstore_lost(s, PQerrorMessage(s->conn));
	else if (rc == 1 && s->ev_wr != NULL)
		event_add(s->ev_wr, NULL);
}

void
pgstore_lost(struct pgstore *s, const char *why)
{
	int  was_up = s->state == PG_READY || s->state == PG_LISTENING;
	char copy[sizeof s->err];

	/* why may be s->err itself, or libpq's text that PQfinish frees */
	snprintf(copy, sizeof copy, "%s", why != NULL ? why : "");
	pgstore_set_err(s, "connection lost", copy);
	if (was_up)
		log_warnx("store: %s: %s; gating continues from memory, "
			  "%zu rows queued, admin actions fail until it is "
			  "back",
			  s->name, s->err,
			  store_q_len(s->q) + store_q_len(s->inflight));
	pgstore_requeue(s);
	s->job = PJ_NONE;
	pgstore_disarm(s);
	PQfinish(s->conn);
	s->conn = NULL;
	s->state = PG_DOWN;
	s->state_at = clock_mono_ns();
	s->down_logged = 0;
}

int
pgstore_send_batch(struct pgstore *s)
{
	struct store_q *t;
	size_t          n = store_q_len(s->q);

	/* one statement in flight: these rows go when it is done */
	if (s->job != PJ_NONE) {
		s->flush_due = 1;
		return 0;
	}
	s->flush_due = 0;
	if (n == 0)
		return 0;
	if (n > PG_BATCH_MAX) {
		/* a long queue (the database was away) goes in pieces, the
		 * next as soon as this one is in */
		n = store_q_take(s->q, PG_BATCH_MAX, s->inflight);
		s->flush_due = 1;
	} else {
		/* the queue becomes the batch in flight; new rows queue
		 * anew */
		t = s->inflight;
		s->inflight = s->q;
		s->q = t;
	}
	pgstore_sql_batch(s, s->inflight);
	s->inflight_rows = n;
	return pgstore_send(s, PJ_BATCH, s->sb, 0, NULL);
}

int
pgstore_send(struct pgstore *s, enum pg_job job, const char *sql, int nparams,
	     const char *const *params)
{
	int ok;

	if (params == NULL)
		ok = PQsendQuery(s->conn, sql);
	else
		ok = PQsendQueryParams(s->conn, sql, nparams, NULL, params,
				       NULL, NULL, 0);
	if (!ok) {
		pgstore_lost(s, PQerrorMessage(s->conn));
		return -1;
	}
	s->job = job;
	s->job_at = clock_mono_ns();
	s->job_failed = 0;
	s->pruned = 0;
	pgstore_want_write(s);
	return s->state == PG_DOWN ? -1 : 0;
}

/* NOTIFY from another instance: read what changed. Our own are skipped
 * (our memory has them already). */
static void
notices(struct pgstore *s)
{
	PGnotify *n;

	while ((n = PQnotifies(s->conn)) != NULL) {
		if (n->be_pid != s->backend_pid)
			s->catchup = 1;
		PQfreemem(n);
	}
}

int
pgstore_row_subject(PGresult *r, int i, struct store_subject *e, int64_t *chg)
{
	memset(e, 0, sizeof *e);
	if (PQnfields(r) != 12 ||
	    fg_subj_parse(PQgetvalue(r, i, 0), &e->type) == -1 ||
	    fg_verdict_parse(PQgetvalue(r, i, 4), &e->verdict) == -1 ||
	    fg_override_parse(PQgetvalue(r, i, 6), &e->override) == -1)
		return -1;
	e->key = PQgetvalue(r, i, 1);
	e->score = strtod(PQgetvalue(r, i, 2), NULL);
	e->score_at = strtoll(PQgetvalue(r, i, 3), NULL, 10);
	e->expires = strtoll(PQgetvalue(r, i, 5), NULL, 10);
	e->actor = PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7);
	e->reason = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8);
	e->updated = strtoll(PQgetvalue(r, i, 9), NULL, 10);
	*chg = strtoll(PQgetvalue(r, i, 10), NULL, 10);
	e->admin = PQgetvalue(r, i, 11)[0] == 't';
	return 0;
}

/* One result of the statement in flight. */
static void
job_result(struct pgstore *s, PGresult *r)
{
	ExecStatusType       st = PQresultStatus(r);
	struct store_subject e;
	int64_t              chg;
	int                  i, n;

	s->results++;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		if (!s->job_failed)
			pgstore_set_err(s, NULL, PQresultErrorMessage(r));
		s->job_failed = 1;
		return;
	}
	if (s->job == PJ_PRUNE)
		s->pruned += strtol(PQcmdTuples(r), NULL, 10);
	if (s->job != PJ_CATCHUP)
		return;
	/* inside a bounded wait: not now, the read is repeated */
	if (s->syncing) {
		s->job_failed = 1;
		return;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		if (pgstore_row_subject(r, i, &e, &chg) == -1)
			continue;
		if (s->change_cb != NULL)
			s->change_cb(&e, s->change_arg);
		if (chg > s->chg_seen)
			s->chg_seen = chg;
	}
}

/* The statement in flight is done: all its results were read. */
static void
job_end(struct pgstore *s)
{
	enum pg_job job = s->job;
	uint64_t    took_us = (clock_mono_ns() - s->job_at) / 1000;

	s->job = PJ_NONE;
	switch (job) {
	case PJ_LISTEN:
		if (s->job_failed) {
			pgstore_lost(s, s->err);
			return;
		}
		log_info("store: %s: connection back; re-reading changed "
			 "subjects, %zu rows queued",
			 s->name, store_q_len(s->q) + store_q_len(s->inflight));
		s->state = PG_READY;
		s->state_at = clock_mono_ns();
		s->catchup = 1;
		s->flush_due = store_q_len(s->q) > 0;
		break;
	case PJ_BATCH:
		if (s->job_failed) {
			s->stats.flush_errors++;
			if (s->failing++ == 0)
				log_warnx("store: %s: flush failed, keeping "
					  "%zu queued rows: %s",
					  s->name, s->inflight_rows, s->err);
			pgstore_requeue(s);
			break;
		}
		if (s->failing > 0)
			log_info("store: %s: flush works again after %llu "
				 "failures",
				 s->name, (unsigned long long)s->failing);
		s->failing = 0;
		s->dropping = 0;
		s->stats.flushes++;
		s->stats.rows_written += s->inflight_rows;
		s->stats.last_flush_us = took_us;
		store_q_clear(s->inflight);
		s->inflight_rows = 0;
		break;
	case PJ_CATCHUP:
		if (s->job_failed)
			s->catchup = 1;
		break;
	case PJ_PRUNE:
		if (!s->job_failed)
			s->stats.pruned += (uint64_t)s->pruned;
		break;
	case PJ_NONE:
		break;
	}
}

void
pgstore_input(struct pgstore *s)
{
	PGresult *r;

	if (s->conn == NULL || s->state == PG_DOWN || s->state == PG_CONNECTING)
		return;
	if (!PQconsumeInput(s->conn)) {
		pgstore_lost(s, PQerrorMessage(s->conn));
		return;
	}
	notices(s);
	while (s->job != PJ_NONE && !PQisBusy(s->conn)) {
		if ((r = PQgetResult(s->conn)) == NULL) {
			job_end(s);
			continue;
		}
		job_result(s, r);
		PQclear(r);
	}
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_BAD)
		pgstore_lost(s, PQerrorMessage(s->conn));
}

/* Start what waits, when nothing is in flight: the catch-up read. */
void
pgstore_kick(struct pgstore *s)
{
	char        num[32], wr[32];
	const char *p[2] = {num, wr};

	if (s->state != PG_READY || s->job != PJ_NONE || s->syncing)
		return;
	if (!s->catchup) {
		/* rows that waited for a job, or for the database to return */
		if (s->flush_due)
			(void)pgstore_send_batch(s);
		return;
	}
	s->catchup = 0;
	snprintf(num, sizeof num, "%lld", (long long)s->chg_seen);
	snprintf(wr, sizeof wr, "%lld", (long long)s->writer);
	(void)pgstore_send(s, PJ_CATCHUP, catchup_sql, 2, p);
}

/* The batch in flight failed or its fate is unknown: its rows go back
 * in front of the newer ones (a subject queued since keeps its newer
 * state). Rows that did reach the database are written again: subjects
 * are idempotent, audit rows may then appear twice. */
void
pgstore_requeue(struct pgstore *s)
{
	struct store_q *older = s->inflight, *t;
	size_t          i;

	if (store_q_len(older) == 0)
		return;
	for (i = 0; i < store_q_nsubjects(s->q); i++)
		(void)store_q_subject(older, store_q_subject_at(s->q, i));
	for (i = 0; i < store_q_naudit(s->q); i++)
		(void)store_q_audit(older, store_q_audit_at(s->q, i));
	for (i = 0; i < store_q_nregs(s->q); i++)
		(void)store_q_registration(older, store_q_reg_at(s->q, i));
	store_q_clear(s->q);
	t = s->q;
	s->q = older;
	s->inflight = t;
	s->inflight_rows = 0;
}

/* Wait for the socket until deadline (clock_mono_ns); -1 on timeout
 * (the connection is then given up) or when it broke. */
static int
wait_io(struct pgstore *s, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t      now = clock_mono_ns();
	int           flushing;

	if (now >= deadline) {
		pgstore_lost(s, "no answer in time");
		return -1;
	}
	if ((flushing = PQflush(s->conn)) == -1) {
		pgstore_lost(s, PQerrorMessage(s->conn));
		return -1;
	}
	pfd.fd = PQsocket(s->conn);
	pfd.events = POLLIN | (flushing ? POLLOUT : 0);
	pfd.revents = 0;
	(void)poll(&pfd, 1, (int)((deadline - now) / NS_PER_MS) + 1);
	return 0;
}

int
pgstore_wait_idle(struct pgstore *s)
{
	uint64_t deadline = clock_mono_ns() + PG_WAIT_MS * NS_PER_MS;
	uint64_t seen = s->results;

	s->syncing++;
	while (s->state != PG_DOWN && s->job != PJ_NONE) {
		if (wait_io(s, deadline) == -1)
			break;
		pgstore_input(s);
		/* a long batch answers statement by statement: silence is
		 * what counts, not the whole */
		if (s->results != seen) {
			seen = s->results;
			deadline = clock_mono_ns() + PG_WAIT_MS * NS_PER_MS;
		}
	}
	s->syncing--;
	return s->state == PG_READY && s->job == PJ_NONE ? 0 : -1;
}

PGresult *
pgstore_exec(struct pgstore *s, const char *sql, int nparams,
	     const char *const *params, pgstore_row_cb row, void *arg)
{
	uint64_t       deadline;
	PGresult      *r, *last = NULL;
	ExecStatusType st;
	int            failed = 0, ok;

	if (s->state != PG_READY) {
		if (s->state != PG_DOWN)
			pgstore_set_err(s, NULL, "reconnecting to PostgreSQL");
		return NULL;
	}
	if (pgstore_wait_idle(s) == -1)
		return NULL;
	ok = params == NULL ? PQsendQuery(s->conn, sql)
			    : PQsendQueryParams(s->conn, sql, nparams, NULL,
						params, NULL, NULL, 0);
	if (!ok) {
		pgstore_lost(s, PQerrorMessage(s->conn));
		return NULL;
	}
	if (row != NULL)
		(void)PQsetSingleRowMode(s->conn);
	deadline = clock_mono_ns() + PG_WAIT_MS * NS_PER_MS;
	s->syncing++;
	for (;;) {
		while (!PQisBusy(s->conn)) {
			if ((r = PQgetResult(s->conn)) == NULL)
				goto done;
			/* rows streaming in (a large load) are progress */
			deadline = clock_mono_ns() + PG_WAIT_MS * NS_PER_MS;
			st = PQresultStatus(r);
			if (st == PGRES_SINGLE_TUPLE) {
				if (!failed)
					row(r, arg);
				PQclear(r);
			} else if (st == PGRES_COMMAND_OK ||
				   st == PGRES_TUPLES_OK) {
				PQclear(last);
				last = r;
			} else {
				if (!failed)
					pgstore_set_err(
					    s, NULL, PQresultErrorMessage(r));
				failed = 1;
				PQclear(r);
			}
		}
		if (wait_io(s, deadline) == -1 || !PQconsumeInput(s->conn)) {
			if (s->state != PG_DOWN)
				pgstore_lost(s, PQerrorMessage(s->conn));
			failed = 1;
			goto done;
		}
		notices(s);
	}
done:
	s->syncing--;
	/* a NOTIFY read while we waited: its catch-up read goes now, its
	 * rows are applied from the event loop, after our caller is done */
	pgstore_kick(s);
	if (failed) {
		PQclear(last);
		return NULL;
	}
	return last;
}
