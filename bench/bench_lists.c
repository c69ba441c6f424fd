/* SPDX-License-Identifier: ISC */
/*
 * floodgate - benchmark: what operator lists, trap recipients and blocked
 * remote accounts cost a gate. Measured: pol_gate() of inbound stranger
 * messages from 100,000 distinct remote senders, each carrying a body
 * fingerprint and three host fingerprints, with nothing loaded (the
 * baseline, same run) and with N list entries of each kind (JIDs,
 * domains, URL hosts), N trap recipients and N admin-blocked remote
 * accounts loaded. Also the time to load the lists (parse, hash, sort,
 * set the plain entries' verdicts). Prints medians and the ratio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu() */
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "policy/policy.h"

#define DEF_RUNS 5        /* measurements of each kind */
#define DEF_ENTRIES 10000 /* entries per list, traps, blocked JIDs */
#define DEF_GATES 400000  /* gates per measurement */
#define SENDERS 100000    /* distinct remote senders */
#define MAX_RUNS 99

static char dir[64];

static char *
write_list(const char *name, const char *fmt, size_t n)
{
	char   path[128];
	FILE  *fp;
	size_t i;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(fp, "# %zu entries\n", n);
	for (i = 0; i < n; i++) {
		fprintf(fp, fmt, i);
		fputc('\n', fp);
	}
	fclose(fp);
	return strdup(path);
}

static double
run_gates(struct policy *p, size_t n, size_t *allowed)
{
	struct pol_gate   g = {.kind = FG_KIND_INBOUND_STRANGER_MESSAGE,
			       .to = "alice@example.org",
			       .fp = "00c0ffee00c0ffee",
			       .nhfp = 3};
	struct pol_answer a;
	char              from[64];
	size_t            i;
	double            t0;

	strcpy(g.hfp[0], "21aef2a21e501b6b");
	strcpy(g.hfp[1], "8bb6634ad532175e");
	strcpy(g.hfp[2], "0f59463c606c5b0e");
	*allowed = 0;
	t0 = bench_now_s();
	for (i = 0; i < n; i++) {
		snprintf(from, sizeof from, "s%zu@peer%zu.example", i % SENDERS,
			 i % 97);
		g.from = from;
		pol_gate(p, &g, &a);
		*allowed += (size_t)a.allow;
	}
	return (double)n / (bench_now_s() - t0);
}

static void
config(struct fg_config *c, size_t entries, int loaded)
{
	static char *serves[] = {"example.org"};

	config_defaults(c);
	c->serves.v = serves;
	c->serves.n = 1;
	c->max_keys = 4 * 1048576;
	/* no rate limits: the lists' cost, not the buckets' */
	memset(c->limits, 0, sizeof c->limits);
	c->content_accounts = 0;
	if (!loaded)
		return;
	c->lists_jids = write_list("jids", "listed%zu@spam.example", entries);
	c->lists_domains = write_list("domains", "spam%zu.example", entries);
	c->lists_url_hosts = write_list("hosts", "links%zu.example", entries);
	c->trap_file = write_list("traps", "trap%zu@example.org", entries);
}

int
main(int argc, char **argv)
{
	struct fg_config cfg[2];
	struct policy   *p[2];
	double           rate[2][MAX_RUNS], load_s, t0;
	size_t           entries = DEF_ENTRIES, gates = DEF_GATES, ok[2], i;
	int              runs = DEF_RUNS, ch, r, k;
	char             jid[64];

	while ((ch = getopt(argc, argv, "r:e:n:")) != -1) {
		switch (ch) {
		case 'r':
			runs = atoi(optarg);
			break;
		case 'e':
			entries = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			gates = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_lists [-r runs] "
					"[-e entries] [-n gates]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS)
		runs = DEF_RUNS;
	log_init(1, 0, "bench_lists");
	snprintf(dir, sizeof dir, "/tmp/bench_lists.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	bench_print_command(argc, argv);
	bench_print_machine();
	printf("pinned to cpu %d\n", sched_getcpu());
	config(&cfg[0], entries, 0);
	config(&cfg[1], entries, 1);
	p[0] = pol_new(&cfg[0], NULL);
	t0 = bench_now_s();
	p[1] = pol_new(&cfg[1], NULL);
	load_s = bench_now_s() - t0;
	for (i = 0; i < entries; i++) {
		snprintf(jid, sizeof jid, "blocked%zu@big.example", i);
		pol_admin(p[1], FG_SUBJ_ACCOUNT, jid, FG_OVR_BLOCK, "bench",
			  "bench", 0);
	}
	bench_print_load("before");
	for (r = 0; r < runs; r++)
		for (k = 0; k < 2; k++)
			rate[k][r] = run_gates(p[k], gates, &ok[k]);
	bench_print_load("after");
	printf("lists loaded: %zu JIDs, %zu domains, %zu URL hosts, %zu "
	       "traps in %.3f s; %zu remote accounts blocked\n",
	       entries, entries, entries, entries, load_s, entries);
	printf("gates allowed per run: %zu without, %zu with\n", ok[0], ok[1]);
	printf("inbound stranger-message gates/s, median of %d: without "
	       "lists %.0f, with %.0f; ratio %.3f\n",
	       runs, bench_median(rate[0], runs), bench_median(rate[1], runs),
	       bench_median(rate[1], runs) / bench_median(rate[0], runs));
	pol_free(p[0]);
	pol_free(p[1]);
	unlink(cfg[1].lists_jids);
	unlink(cfg[1].lists_domains);
	unlink(cfg[1].lists_url_hosts);
	unlink(cfg[1].trap_file);
	rmdir(dir);
	for (k = 0; k < 2; k++) {
		free(cfg[k].lists_jids);
		free(cfg[k].lists_domains);
		free(cfg[k].lists_url_hosts);
		free(cfg[k].trap_file);
		free(cfg[k].comp_server);
	}
	return 0;
}
