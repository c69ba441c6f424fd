/* SPDX-License-Identifier: ISC */
/*
 * floodgate - benchmark: verdict + audit rows written through the store's
 * write-behind queue (store_queue_* then store_flush every batch events)
 * against a naive baseline measured in the same run: one autocommit
 * statement per row, prepared and finalized each time, the way a first
 * version would call SQLite from the hot path. Same schema, same WAL and
 * synchronous=NORMAL settings, same random keys, a fresh database file
 * on disk for every measurement. With -P the same events go through the
 * PostgreSQL store on a throwaway cluster, against one autocommit libpq
 * statement per row (bench_store_pg.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw(), mkdtemp() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sqlite3.h>

#include "autoconf.h"
#include "bench_util.h"
#ifdef HAVE_LIBPQ
#include "bench_store_pg.h"
#endif
#include "core/clock.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "storage/store.h"

#define DEF_RUNS 5         /* measurements of each kind */
#define DEF_EVENTS 100000  /* events per batched measurement */
#define DEF_BATCH 5000     /* events per flush (~200 ms at 25k events/s) */
#define DEF_KEYS 100000    /* distinct subjects */
#define DEF_BASELINE 10000 /* events per baseline measurement */
#define MAX_RUNS 99
#define TMPFS_MAGIC 0x01021994

struct params {
	int         runs;
	size_t      events, batch, keys, baseline;
	const char *dir;
	int         pg; /* -P: the PostgreSQL store */
};

static char   **keys;
static size_t   nkeys;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static char     dbdir[4096], dbfile[4200];

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* CPU seconds (user + system) used by this process so far. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* A fresh directory and database path for one measurement. */
static void
fresh_db(const struct params *p)
{
	snprintf(dbdir, sizeof dbdir, "%s/fg-bench-store-XXXXXX", p->dir);
	if (mkdtemp(dbdir) == NULL)
		fatal("mkdtemp %s", dbdir);
	snprintf(dbfile, sizeof dbfile, "%s/bench.db", dbdir);
}

static void
drop_db(void)
{
	nftw(dbdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

void bench_event(size_t, struct store_subject *, struct store_audit *);

void
bench_event(size_t i, struct store_subject *e, struct store_audit *a)
{
	const char *key = keys[xorshift() % nkeys];
	int64_t     t = 1700000000000 + (int64_t)i;

	*e = (struct store_subject){
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .score = (double)(i % 100),
	    .score_at = t,
	    .verdict = FG_V_THROTTLE,
	    .expires = t + 3600000,
	    .override = FG_OVR_NONE,
	    .updated = t,
	};
	*a = (struct store_audit){
	    .at = t,
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .old_verdict = FG_V_ALLOW,
	    .new_verdict = FG_V_THROTTLE,
	    .reason = "subscribe rate over limit",
	    .signals = "subscribe=3",
	    .actor = "auto",
	};
}

/* Rows per second through store_queue_* and store_flush. */
static double
run_batched(const struct params *p, double *flush_ms, double *cpu_rate)
{
	struct store        *s;
	struct store_subject e;
	struct store_audit   a;
	struct store_stats   st;
	size_t               i;
	double               t0, t1, c0, c1;

	fresh_db(p);
	if ((s = store_open(dbfile)) == NULL)
		fatalx("cannot open %s", dbfile);
	c0 = cpu_s();
	t0 = bench_now_s();
	for (i = 0; i < p->events; i++) {
		bench_event(i, &e, &a);
		store_queue_subject(s, &e);
		store_queue_audit(s, &a);
		if ((i + 1) % p->batch == 0 && store_flush(s) == -1)
			fatalx("flush failed");
	}
	if (store_flush(s) == -1)
		fatalx("flush failed");
	t1 = bench_now_s();
	c1 = cpu_s();
	store_get_stats(s, &st);
	store_close(s);
	drop_db();
	*flush_ms = (t1 - t0) * 1e3 / (double)st.flushes;
	*cpu_rate = (double)st.rows_written / (c1 - c0);
	return (double)st.rows_written / (t1 - t0);
}

/* One statement per row, prepared, stepped and finalized, autocommit. */
static void
naive_exec(sqlite3 *db, const char *sql, const struct store_subject *e,
	   const struct store_audit *a)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fatalx("prepare: %s", sqlite3_errmsg(db));
	if (e != NULL) {
		sqlite3_bind_text(st, 1, "account", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e->key, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, e->score);
		sqlite3_bind_int64(st, 4, e->score_at);
		sqlite3_bind_text(st, 5, "throttle", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, e->expires);
		sqlite3_bind_int64(st, 7, e->updated);
	} else {
		sqlite3_bind_int64(st, 1, a->at);
		sqlite3_bind_text(st, 2, "account", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, a->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, a->reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, a->signals, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		fatalx("step: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

static double
run_baseline(const struct params *p, double *cpu_rate)
{
	struct store        *s;
	struct store_subject e;
	struct store_audit   a;
	sqlite3             *db;
	size_t               i;
	double               t0, t1, c0, c1;

	fresh_db(p);
	/* The store creates the schema; then plain SQLite does the work. */
	if ((s = store_open(dbfile)) == NULL)
		fatalx("cannot open %s", dbfile);
	store_close(s);
	if (sqlite3_open(dbfile, &db) != SQLITE_OK ||
	    sqlite3_exec(
		db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
		NULL, NULL, NULL) != SQLITE_OK)
		fatalx("baseline open: %s", sqlite3_errmsg(db));
	c0 = cpu_s();
	t0 = bench_now_s();
	for (i = 0; i < p->baseline; i++) {
		bench_event(i, &e, &a);
		naive_exec(
		    db,
		    "INSERT INTO subjects (type, key, score, score_at, verdict,"
		    " expires, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		    " ON CONFLICT (type, key) DO UPDATE SET"
		    " score = excluded.score, score_at = excluded.score_at,"
		    " verdict = excluded.verdict, expires = excluded.expires,"
		    " updated = excluded.updated",
		    &e, NULL);
		naive_exec(
		    db,
		    "INSERT INTO audit (at, type, key, old, new, reason,"
		    " signals, actor) VALUES (?1, ?2, ?3, 'allow', 'throttle',"
		    " ?4, ?5, 'auto')",
		    NULL, &a);
	}
	t1 = bench_now_s();
	c1 = cpu_s();
	*cpu_rate = (double)(2 * p->baseline) / (c1 - c0);
	sqlite3_close(db);
	drop_db();
	return (double)(2 * p->baseline) / (t1 - t0);
}

static void
print_machine(const struct params *p)
{
	struct statfs sf;

	bench_print_machine();
	printf("sqlite: %s; database dir: %s (%s)\n", sqlite3_libversion(),
	       p->dir,
	       statfs(p->dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC
		   ? "tmpfs: NOT on disk"
		   : "on disk");
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_store [-P] [-r runs] [-n events] "
			"[-b batch] [-B baseline-events] [-d dir]\n"
			"  -P  PostgreSQL (a throwaway cluster) instead of "
			"SQLite\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct params p = {DEF_RUNS,     DEF_EVENTS, DEF_BATCH, DEF_KEYS,
			   DEF_BASELINE, NULL,       0};
	double        fast[MAX_RUNS], slow[MAX_RUNS], fms[MAX_RUNS];
	double        fcpu[MAX_RUNS], scpu[MAX_RUNS], mf, ms, mfc, msc;
	int           ch, i;

	while ((ch = getopt(argc, argv, "Pr:n:b:B:d:")) != -1) {
		switch (ch) {
		case 'P':
#ifndef HAVE_LIBPQ
			fprintf(stderr, "bench_store: built without libpq\n");
			return 77;
#endif
			p.pg = 1;
			break;
		case 'r':
			p.runs = atoi(optarg);
			break;
		case 'n':
			p.events = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			p.batch = strtoul(optarg, NULL, 10);
			break;
		case 'B':
			p.baseline = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			p.dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (p.runs < 1 || p.runs > MAX_RUNS || p.events == 0 || p.batch == 0 ||
	    p.baseline == 0)
		usage();
	if (p.dir == NULL && (p.dir = getenv("TMPDIR")) == NULL)
		p.dir = "/var/tmp";
	log_init(1, 0, "bench_store");
	log_setverbose(0);

	bench_print_command(argc, argv);
	print_machine(&p);
	printf("workload: %zu distinct account keys; an event = 1 subject "
	       "upsert + 1 audit insert\n",
	       p.keys);
	printf("batched: %zu events, store_flush every %zu events; baseline: "
	       "%zu events, one autocommit statement per row\n",
	       p.events, p.batch, p.baseline);

	nkeys = p.keys;
	keys = xcalloc(p.keys, sizeof *keys);
	for (i = 0; i < (int)p.keys; i++)
		xasprintf(&keys[i], "user%08x@example.org",
			  (unsigned)(xorshift() & 0xffffffff));
	bench_print_load("before");
	printf("rows/s are wall clock; \"cpu\" divides by this process's "
	       "user+system time\n");
#ifdef HAVE_LIBPQ
	if (p.pg) {
		bench_pg_start();
		printf("PostgreSQL: a throwaway cluster on 127.0.0.1, default "
		       "settings (fsync on, synchronous_commit on)\n");
	}
#endif
	for (i = 0; i < p.runs; i++) {
#ifdef HAVE_LIBPQ
		if (p.pg) {
			fast[i] = bench_pg_batched(p.events, p.batch, &fms[i],
						   &fcpu[i]);
			slow[i] = bench_pg_baseline(p.baseline, &scpu[i]);
		} else
#endif
		{
			fast[i] = run_batched(&p, &fms[i], &fcpu[i]);
			slow[i] = run_baseline(&p, &scpu[i]);
		}
		printf("run %d: batched %7.0f rows/s (cpu %7.0f, %.1f ms per "
		       "flush)   baseline %6.0f rows/s (cpu %6.0f)\n",
		       i + 1, fast[i], fcpu[i], fms[i], slow[i], scpu[i]);
		fflush(stdout);
	}
	bench_print_load("after");
#ifdef HAVE_LIBPQ
	if (p.pg)
		bench_pg_stop();
#endif
	mf = bench_median(fast, p.runs);
	ms = bench_median(slow, p.runs);
	mfc = bench_median(fcpu, p.runs);
	msc = bench_median(scpu, p.runs);
	printf("median of %d: batched %.0f rows/s, baseline %.0f rows/s, "
	       "ratio %.1fx (median flush %.1f ms)\n",
	       p.runs, mf, ms, mf / ms, bench_median(fms, p.runs));
	printf("median of %d, cpu: batched %.0f rows/s, baseline %.0f "
	       "rows/s, ratio %.1fx\n",
	       p.runs, mfc, msc, mfc / msc);
	for (i = 0; i < (int)p.keys; i++)
		free(keys[i]);
	free(keys);
	return 0;
}
