/* SPDX-License-Identifier: ISC */
/*
 * floodgate - bench_store -P: the PostgreSQL store against one statement
 * per row, both on a fresh database of the same throwaway cluster
 * (tests/pgcluster.sh, default server settings, fsync on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "bench_store_pg.h"
#include "bench_util.h"
#include "core/log.h"
#include "support/pgtest.h"

static double
cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void
bench_pg_start(void)
{
	int rc = pgt_start();

	if (rc == 77) {
		printf("bench_store -P: PostgreSQL is not installed\n");
		exit(77);
	}
	if (rc != 0)
		fatalx("cannot start a PostgreSQL cluster");
}

void
bench_pg_stop(void)
{
	pgt_stop();
}

static int
drained(void *arg)
{
	return store_queued(arg) == 0;
}

double
bench_pg_batched(size_t events, size_t batch, double *flush_ms,
		 double *cpu_rate)
{
	struct event_base   *base = event_base_new();
	const char          *dsn = pgt_fresh_db("bench");
	struct store        *s;
	struct store_subject e;
	struct store_audit   a;
	struct store_stats   st;
	size_t               i;
	double               t0, t1, c0, c1;

	if (dsn == NULL || base == NULL ||
	    (s = store_open_pg(base, dsn, pgt_password_file())) == NULL)
		fatalx("cannot open the PostgreSQL store");
	c0 = cpu_now();
	t0 = bench_now_s();
	for (i = 0; i < events; i++) {
		bench_event(i, &e, &a);
		store_queue_subject(s, &e);
		store_queue_audit(s, &a);
		if ((i + 1) % batch == 0) {
			if (store_flush(s) == -1)
				fatalx("flush failed");
			/* the daemon's loop reads answers between events */
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
	}
	if (store_flush(s) == -1 ||
	    pgt_loop_until(base, drained, s, 600000) == -1)
		fatalx("flush failed");
	t1 = bench_now_s();
	c1 = cpu_now();
	store_get_stats(s, &st);
	store_close(s);
	event_base_free(base);
	*flush_ms = (t1 - t0) * 1e3 / (double)(st.flushes ? st.flushes : 1);
	*cpu_rate = (double)st.rows_written / (c1 - c0);
	return (double)st.rows_written / (t1 - t0);
}

double
bench_pg_baseline(size_t events, double *cpu_rate)
{
	struct event_base   *base = event_base_new();
	const char          *dsn = pgt_fresh_db("bench");
	struct store        *s;
	struct store_subject e;
	struct store_audit   a;
	PGconn              *c;
	PGresult            *r;
	char                 num[4][32];
	const char          *p[7];
	size_t               i;
	double               t0, t1, c0, c1;
	const char          *kw[] = {"dbname", "passfile", NULL};
	const char          *val[] = {dsn, pgt_password_file(), NULL};
	FILE                *fp;
	char                 pw[128] = "", conninfo[512];

	/* the store creates the schema; then plain libpq does the work */
	if ((s = store_open_pg(base, dsn, pgt_password_file())) == NULL)
		fatalx("cannot open the PostgreSQL store");
	store_close(s);
	event_base_free(base);
	if ((fp = fopen(pgt_password_file(), "r")) != NULL) {
		if (fgets(pw, sizeof pw, fp) == NULL)
			pw[0] = '\0';
		fclose(fp);
	}
	pw[strcspn(pw, "\n")] = '\0';
	snprintf(conninfo, sizeof conninfo, "%s password=%s", dsn, pw);
	val[0] = conninfo;
	val[1] = "/dev/null";
	c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(c) != CONNECTION_OK)
		fatalx("baseline connect: %s", PQerrorMessage(c));
	c0 = cpu_now();
	t0 = bench_now_s();
	for (i = 0; i < events; i++) {
		bench_event(i, &e, &a);
		snprintf(num[0], sizeof num[0], "%.17g", e.score);
		snprintf(num[1], sizeof num[1], "%lld", (long long)e.score_at);
		snprintf(num[2], sizeof num[2], "%lld", (long long)e.expires);
		snprintf(num[3], sizeof num[3], "%lld", (long long)e.updated);
		p[0] = "account";
		p[1] = e.key;
		p[2] = num[0];
		p[3] = num[1];
		p[4] = "throttle";
		p[5] = num[2];
		p[6] = num[3];
		r = PQexecParams(
		    c,
		    "INSERT INTO subjects (type, key, score, score_at, verdict,"
		    " expires, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)"
		    " ON CONFLICT (type, key) DO UPDATE SET"
		    " score = excluded.score, score_at = excluded.score_at,"
		    " verdict = excluded.verdict, expires = excluded.expires,"
		    " updated = excluded.updated",
		    7, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fatalx("baseline: %s", PQerrorMessage(c));
		PQclear(r);
		p[0] = num[1];
		p[1] = "account";
		p[2] = a.key;
		p[3] = a.reason;
		p[4] = a.signals;
		r = PQexecParams(c,
				 "INSERT INTO audit (at, type, key, old, new,"
				 " reason, signals, actor) VALUES ($1, $2, $3,"
				 " 'allow', 'throttle', $4, $5, 'auto')",
				 5, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fatalx("baseline: %s", PQerrorMessage(c));
		PQclear(r);
	}
	t1 = bench_now_s();
	c1 = cpu_now();
	PQfinish(c);
	*cpu_rate = (double)(2 * events) / (c1 - c0);
	return (double)(2 * events) / (t1 - t0);
}
