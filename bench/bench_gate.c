/* SPDX-License-Identifier: ISC */
/*
 * floodgate - benchmark: gate decisions per second on one core with 1M
 * distinct accounts, and memory per tracked key at the cap.
 *
 * Measured: the whole pol_gate() (kind subscribe, from one of 1M distinct
 * accounts, no IP): JID normalisation, keyed hashing, subject lookup, the
 * GCRA token, verdict logic. Also the bare rl_take() path for reference.
 * Baseline, measured in the same run: the naive design that keeps the
 * bucket in SQLite, one GCRA upsert per event (autocommit, prepared once)
 * on an in-memory database holding the same 1M keys; :memory: is the
 * kindest baseline possible, a file would be slower.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu() */
#endif
#include <sys/utsname.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/xmalloc.h"
#include "policy/policy.h"
#include "policy/policy_int.h"

#define DEF_RUNS 5          /* measurements of each kind */
#define DEF_KEYS 1000000    /* distinct accounts */
#define DEF_GATES 4000000   /* gates per measurement */
#define DEF_BASELINE 300000 /* upserts per baseline measurement */
#define MAX_RUNS 99

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* "user%07zu@example.org" into buf without printf: the input of a gate
 * arrives hot in a parsed stanza, so the bench must not pay a cache miss
 * fetching it from a 1M-string array. Returns the length. */
static size_t
jid_of(size_t k, char *buf)
{
	int i;

	memcpy(buf, "user0000000@example.org", 24);
	for (i = 10; i >= 4; i--, k /= 10)
		buf[i] = (char)('0' + k % 10);
	return 23;
}

static void
print_machine(void)
{
	bench_print_machine();
	printf("pinned to cpu %d; sqlite %s\n", sched_getcpu(),
	       sqlite3_libversion());
}

static void
pin_one_core(void)
{
	cpu_set_t set;
	int       cpu = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

static double
run_gates(struct policy *p, size_t nkeys, size_t n, size_t *allowed)
{
	struct pol_gate   g = {.kind = FG_KIND_SUBSCRIBE,
			       .to = "friend@remote.example"};
	struct pol_answer a;
	char              from[32];
	double            t0;
	size_t            i, k;

	*allowed = 0;
	t0 = bench_now_s();
	for (i = 0; i < n; i++) {
		k = xorshift() % nkeys;
		jid_of(k, from);
		g.from = from;
		pol_gate(p, &g, &a);
		*allowed += (size_t)a.allow;
	}
	return (double)n / (bench_now_s() - t0);
}

static double
run_rl(struct rl_table *t, size_t nkeys, size_t n, uint64_t T, uint64_t tau)
{
	double   t0;
	size_t   i, k, ok = 0, len;
	uint64_t h;
	char     from[32];

	t0 = bench_now_s();
	for (i = 0; i < n; i++) {
		k = xorshift() % nkeys;
		len = jid_of(k, from);
		h = rl_key(FG_KIND_SUBSCRIBE, FG_SUBJ_ACCOUNT, from, len);
		ok += (size_t)rl_take(t, h, clock_mono_ns(), T, tau, NULL);
	}
	if (ok == 0)
		printf("(no event allowed?)\n");
	return (double)n / (bench_now_s() - t0);
}

#define UPSERT                                                                 \
	"INSERT INTO bucket(k, tat) VALUES (?1, ?2 + ?3) ON CONFLICT(k) DO "   \
	"UPDATE SET tat = max(tat, ?2) + ?3 WHERE max(tat, ?2) - ?2 <= ?4"

static sqlite3 *
baseline_open(sqlite3_stmt **st, size_t nkeys, uint64_t T)
{
	sqlite3 *db;
	size_t   i, len;
	char     from[32];

	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "CREATE TABLE bucket(k TEXT PRIMARY KEY, tat INTEGER) "
			 "WITHOUT ROWID",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, UPSERT, -1, SQLITE_PREPARE_PERSISTENT, st,
			       NULL) != SQLITE_OK)
		fatalx("baseline: %s", sqlite3_errmsg(db));
	/* the same 1M keys already tracked, as in the policy table */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < nkeys; i++) {
		len = jid_of(i, from);
		sqlite3_bind_text(*st, 1, from, (int)len, SQLITE_TRANSIENT);
		sqlite3_bind_int64(*st, 2, (sqlite3_int64)clock_mono_ns());
		sqlite3_bind_int64(*st, 3, (sqlite3_int64)T);
		sqlite3_bind_int64(*st, 4, (sqlite3_int64)(T * 19));
		if (sqlite3_step(*st) != SQLITE_DONE)
			fatalx("baseline: %s", sqlite3_errmsg(db));
		sqlite3_reset(*st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return db;
}

/* One autocommit GCRA upsert per event: what keeping buckets in the
 * database would cost, before any disk is involved. */
static double
run_baseline(sqlite3 *db, sqlite3_stmt *st, size_t nkeys, size_t n, uint64_t T,
	     uint64_t tau)
{
	double t0;
	size_t i, k, ok = 0, len;
	char   from[32];

	t0 = bench_now_s();
	for (i = 0; i < n; i++) {
		k = xorshift() % nkeys;
		len = jid_of(k, from);
		sqlite3_bind_text(st, 1, from, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)clock_mono_ns());
		sqlite3_bind_int64(st, 3, (sqlite3_int64)T);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)tau);
		if (sqlite3_step(st) != SQLITE_DONE)
			fatalx("baseline: %s", sqlite3_errmsg(db));
		ok += (size_t)sqlite3_changes(db);
		sqlite3_reset(st);
	}
	if (ok == 0)
		printf("(no event allowed?)\n");
	return (double)n / (bench_now_s() - t0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_gate [-r runs] [-k keys] [-n gates] "
			"[-b baseline-events]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct fg_config cfg;
	struct policy   *p;
	struct rl_table *t;
	struct rl_stats  rs;
	struct pol_stats ps;
	sqlite3         *db;
	sqlite3_stmt    *st;
	double           g[MAX_RUNS], r[MAX_RUNS], b[MAX_RUNS], fill;
	double           mg, mr, mb;
	uint64_t         T, tau;
	size_t           runs = DEF_RUNS, nkeys = DEF_KEYS, n = DEF_GATES;
	size_t           nb = DEF_BASELINE, i, allowed;
	int              ch;
	char             from[32];

	while ((ch = getopt(argc, argv, "r:k:n:b:")) != -1) {
		switch (ch) {
		case 'r':
			runs = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			nkeys = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			nb = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (runs < 1 || runs > MAX_RUNS || nkeys < 1 || n < 1 || nb < 1)
		usage();
	log_init(1, 0, "bench_gate");
	pin_one_core();
	bench_print_load("before");
	bench_print_command(argc, argv);
	print_machine();

	if (nkeys > 10000000)
		usage(); /* 7 digits in the generated names */
	config_defaults(&cfg);
	cfg.max_keys = nkeys; /* the cap is exactly the key count */
	/* a limit no account reaches in the whole run (~20 gates each), so
	 * every run measures the same steady path: lookup, token, allow */
	if (config_parse_rate("100/min burst 100",
			      &cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE],
			      NULL) == -1)
		fatalx("rate");
	rl_rate(cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].count,
		cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].per_ms,
		cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].burst, &T, &tau);
	printf(
	    "workload: pol_gate(kind=subscribe, from=one of %zu distinct "
	    "accounts at random, no ip), account.subscribe = %u/%llus "
	    "burst %u, max_keys = %zu; %zu gates x %zu runs\n",
	    nkeys, cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].count,
	    (unsigned long long)cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE]
		    .per_ms /
		1000,
	    cfg.limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].burst, nkeys, n,
	    runs);
	fflush(stdout);

	/* fill: every account tracked once, so the table is at its cap */
	p = pol_new(&cfg, NULL);
	{
		struct pol_gate   g0 = {.kind = FG_KIND_SUBSCRIBE,
					.to = "friend@remote.example"};
		struct pol_answer a0;
		double            t0 = bench_now_s();

		for (i = 0; i < nkeys; i++) {
			jid_of(i, from);
			g0.from = from;
			pol_gate(p, &g0, &a0);
		}
		fill = (double)nkeys / (bench_now_s() - t0);
	}
	rl_get_stats(p->rl, &rs);
	printf("fill: %zu first gates at %.0f/s; buckets tracked %zu of cap "
	       "%zu\n",
	       nkeys, fill, rs.keys, rs.max_keys);
	printf("memory per tracked key at the cap: %.1f bytes (bucket table "
	       "%zu bytes / %zu keys, grown with the keys up to the cap's "
	       "size); subject index %zu bytes more (no subject was created "
	       "by this workload, so it kept its first size)\n",
	       (double)rs.bytes / (double)rs.keys, rs.bytes, rs.keys,
	       rep_bytes(p->rep));
	fflush(stdout);

	for (i = 0; i < runs; i++) {
		g[i] = run_gates(p, nkeys, n, &allowed);
		printf("run %zu: pol_gate %.0f/s (%zu of %zu allowed)\n", i + 1,
		       g[i], allowed, n);
		fflush(stdout);
	}
	pol_get_stats(p, &ps);
	printf("after: buckets %llu, evictions %llu, subjects %llu\n",
	       (unsigned long long)ps.buckets,
	       (unsigned long long)ps.bucket_evictions,
	       (unsigned long long)ps.subjects);
	pol_free(p);

	t = rl_new(nkeys);
	for (i = 0; i < nkeys; i++)
		rl_take(t,
			rl_key(FG_KIND_SUBSCRIBE, FG_SUBJ_ACCOUNT, from,
			       jid_of(i, from)),
			clock_mono_ns(), T, tau, NULL);
	for (i = 0; i < runs; i++) {
		r[i] = run_rl(t, nkeys, n, T, tau);
		printf("run %zu: rl_key+rl_take only %.0f/s\n", i + 1, r[i]);
		fflush(stdout);
	}
	rl_free(t);

	db = baseline_open(&st, nkeys, T);
	for (i = 0; i < runs; i++) {
		b[i] = run_baseline(db, st, nkeys, nb, T, tau);
		printf("run %zu: baseline sqlite upsert %.0f/s (%zu events)\n",
		       i + 1, b[i], nb);
		fflush(stdout);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);

	bench_print_load("after");
	mg = bench_median(g, (int)runs);
	mr = bench_median(r, (int)runs);
	mb = bench_median(b, (int)runs);
	printf("median: pol_gate %.0f decisions/s (%.0f ns each), rl_take "
	       "path %.0f/s, baseline sqlite %.0f/s; ratio pol_gate/baseline "
	       "%.1fx\n",
	       mg, 1e9 / mg, mr, mb, mg / mb);
	return 0;
}
