/* SPDX-License-Identifier: ISC */
/*
 * floodgate - benchmark: the moderation page's review queue with many
 * quarantined subjects, rendered through web_handle() as a logged-in
 * admin would get it (session and cookie checks, collecting the listed
 * subjects from the policy, sorting newest first, HTML with escaping,
 * one page of WEB_PAGE_ROWS rows with its action forms).
 *
 * The subjects are automatic quarantines (a signal past quarantine-at)
 * in a real store on /tmp, so each row's newest audit entry is read as
 * the page does; -o makes them admin overrides instead (no audit read).
 *
 * Measured: the first, a middle and the last page. Baseline, in the same
 * run: the control protocol's "list" of the same subjects as text
 * (adm_ctl_exec, what floodgatectl list gets), which renders every
 * subject instead of one page. Goal: a queue page in under 100 ms with
 * 10,000 quarantined subjects.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu() */
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "admin/control.h"
#include "admin/web.h"
#include "bench_util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "policy/policy.h"
#include "storage/store.h"

#define DEF_RUNS 21    /* renders of each page */
#define DEF_SUBJ 10000 /* quarantined subjects */
#define MAX_RUNS 999
#define GOAL_MS 100.0 /* what a queue page may take, ms */
#define PAGE_ROWS 50  /* as WEB_PAGE_ROWS */

static char *admins[] = {"admin@example.org"};
static char *serves[] = {"example.org"};

struct page {
	size_t bytes;
	int    status;
};

static double
render(struct web *w, const char *path, const char *query, const char *cookie,
       struct page *pg)
{
	struct http_req  rq;
	struct http_resp rs;
	double           t0;

	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.path = path;
	rq.query = query;
	rq.cookie = cookie;
	rq.body = "";
	rs.status = 200;
	rs.body = evbuffer_new();
	rs.headers = evbuffer_new();
	t0 = bench_now_s();
	web_handle(&rq, &rs, w);
	t0 = bench_now_s() - t0;
	pg->bytes = evbuffer_get_length(rs.body);
	/* BENCH_WEB_DUMP=file: the page as rendered, to look at */
	if (getenv("BENCH_WEB_DUMP") != NULL) {
		FILE *fp = fopen(getenv("BENCH_WEB_DUMP"), "w");

		if (fp != NULL) {
			evbuffer_write(rs.body, fileno(fp));
			fclose(fp);
		}
	}
	pg->status = rs.status;
	evbuffer_free(rs.body);
	evbuffer_free(rs.headers);
	return t0 * 1000.0;
}

static double
list_all(const struct adm_env *env, size_t *bytes)
{
	struct adm_buf b = {NULL, 0, 0};
	char           line[] = "list\tfilter=quarantine";
	double         t0 = bench_now_s();

	adm_ctl_exec(env, "bench", line, &b);
	t0 = bench_now_s() - t0;
	*bytes = b.len;
	adm_buf_free(&b);
	return t0 * 1000.0;
}

/* Log in as the admin; the cookie header into out. */
static void
login(struct web *w, char *out, size_t outsz)
{
	struct adm_result r;
	struct http_req   rq;
	struct http_resp  rs;
	char              url[512], form[128], *h;
	const char       *t, *c;
	size_t            n;

	web_login_link(w, "admin@example.org", clock_wall_ms(), url, sizeof url,
		       &r);
	if (r.status != ADM_OK || (t = strstr(url, "t=")) == NULL)
		fatalx("no login link: %s", r.msg);
	snprintf(form, sizeof form, "%s", t);
	memset(&rq, 0, sizeof rq);
	rq.method = "POST";
	rq.path = "/admin/login";
	rq.query = "";
	rq.body = form;
	rq.bodylen = strlen(form);
	rs.status = 200;
	rs.body = evbuffer_new();
	rs.headers = evbuffer_new();
	web_handle(&rq, &rs, w);
	n = evbuffer_get_length(rs.headers);
	h = calloc(1, n + 1);
	evbuffer_copyout(rs.headers, h, n);
	if ((c = strstr(h, "fg_session=")) == NULL)
		fatalx("login failed");
	snprintf(out, outsz, "%.*s", (int)strcspn(c, ";"), c);
	free(h);
	evbuffer_free(rs.body);
	evbuffer_free(rs.headers);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_web [-o] [-r runs] [-n subjects]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct fg_config cfg;
	struct adm_env   env;
	struct web      *w;
	struct page      pg[3];
	double           t[3][MAX_RUNS], tl[MAX_RUNS], m[3], ml;
	size_t           runs = DEF_RUNS, nsubj = DEF_SUBJ, i, k, lbytes = 0;
	size_t           pages;
	char             key[64], reason[96], cookie[128], query[3][32];
	char             db[64];
	int              ch, ovr = 0, fd;
	double           t0;

	while ((ch = getopt(argc, argv, "or:n:")) != -1) {
		switch (ch) {
		case 'o':
			ovr = 1;
			break;
		case 'r':
			runs = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			nsubj = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (runs < 1 || runs > MAX_RUNS || nsubj < 1 || nsubj > 10000000)
		usage();
	log_init(1, 0, "bench_web");
	bench_print_load("before");
	bench_print_command(argc, argv);
	bench_print_machine();
	printf("on cpu %d\n", sched_getcpu());

	config_defaults(&cfg);
	cfg.serves.v = serves;
	cfg.serves.n = 1;
	cfg.admins.v = admins;
	cfg.admins.n = 1;
	cfg.http_listen = "127.0.0.1:5380";
	cfg.max_keys = nsubj * 8 > 1000000 ? nsubj * 8 : 1000000;
	memset(&env, 0, sizeof env);
	env.cfg = &cfg;
	snprintf(db, sizeof db, "/tmp/bench_web.XXXXXX");
	if ((fd = mkstemp(db)) == -1)
		fatal("mkstemp");
	close(fd);
	unlink(db);
	if ((env.store = store_open(db)) == NULL)
		fatalx("store_open %s", db);
	env.pol = pol_new(&cfg, env.store);
	t0 = bench_now_s();
	for (i = 0; i < nsubj; i++) {
		snprintf(key, sizeof key, "bot%07zu@example.org", i);
		/* reasons with markup, so escaping is part of the cost */
		snprintf(reason, sizeof reason,
			 "wave <%zu> & \"friends\" from 192.0.2.%zu", i % 97,
			 i % 256);
		if (ovr) {
			if (pol_admin(env.pol, FG_SUBJ_ACCOUNT, key,
				      FG_OVR_QUARANTINE, "auto", reason,
				      0) == -1)
				fatalx("pol_admin");
		} else
			pol_signal(env.pol, FG_SUBJ_ACCOUNT, key, "bench-wave",
				   cfg.quarantine_at + 1);
		if (!ovr && store_queued(env.store) >= 5000)
			store_flush(env.store);
	}
	store_flush(env.store);
	printf("fill: %zu subjects in %.1f s\n", nsubj, bench_now_s() - t0);
	w = web_new();
	web_set_env(w, &env);
	env.web = w;
	login(w, cookie, sizeof cookie);
	pages = (nsubj + PAGE_ROWS - 1) / PAGE_ROWS;
	snprintf(query[0], sizeof query[0], "p=0");
	snprintf(query[1], sizeof query[1], "p=%zu", pages / 2);
	snprintf(query[2], sizeof query[2], "p=%zu", pages - 1);
	printf("workload: %zu quarantined accounts (%s), GET /admin/?%s, ?%s "
	       "and ?%s as a logged-in admin, %zu renders each; baseline: "
	       "control protocol 'list quarantine' as text (all %zu rows)\n",
	       nsubj,
	       ovr ? "admin overrides with a reason to escape"
		   : "automatic, each row's audit entry read from the store",
	       query[0], query[1], query[2], runs, nsubj);
	fflush(stdout);

	for (i = 0; i < runs; i++) {
		for (k = 0; k < 3; k++)
			t[k][i] =
			    render(w, "/admin/", query[k], cookie, &pg[k]);
		tl[i] = list_all(&env, &lbytes);
	}
	for (k = 0; k < 3; k++) {
		if (pg[k].status != 200)
			fatalx("page %s answered %d", query[k], pg[k].status);
		m[k] = bench_median(t[k], (int)runs);
	}
	ml = bench_median(tl, (int)runs);
	for (k = 0; k < 3; k++)
		printf("queue page ?%-8s median %7.2f ms (%zu bytes of HTML)\n",
		       query[k], m[k], pg[k].bytes);
	printf("baseline list (text) median %7.2f ms (%zu bytes)\n", ml,
	       lbytes);
	printf("ratio queue page / baseline: %.2f\n", m[0] / ml);
	printf("goal: a queue page under %.0f ms: %s (worst median %.2f "
	       "ms)\n",
	       GOAL_MS,
	       m[0] < GOAL_MS && m[1] < GOAL_MS && m[2] < GOAL_MS ? "met"
								  : "NOT met",
	       m[0] > m[1] ? (m[0] > m[2] ? m[0] : m[2])
			   : (m[1] > m[2] ? m[1] : m[2]));
	bench_print_load("after");
	web_free(w);
	pol_free(env.pol);
	store_close(env.store);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "%s%s", db,
			 (const char *[]){"", "-wal", "-shm", ".lock"}[i]);
		unlink(key);
	}
	free(cfg.comp_server); /* the one string config_defaults made */
	return 0;
}
