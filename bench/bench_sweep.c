/* SPDX-License-Identifier: ISC */
/*
 * bench_sweep: throughput of `floodgatectl sweep` on a generated 1 GB
 * ejabberd log, against the I/O ceiling (read() + memchr line count of
 * the same file) measured in the same run.
 *
 * usage: bench_sweep [-m MB] [-r RUNS] [-k] [PATH]
 *   -m   size of the generated log (default 1024 MB)
 *   -r   runs of each measurement; the median is reported (default 3)
 *   -k   keep the generated file; an existing PATH is reused
 * Each sweep run is a fork()ed child so its peak RSS is its own.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "tests/support/loggen.h"
#include "tools/logscan.h"
#include "tools/sweep.h"

#define BENCH_MB 1024 /* default log size, MiB */
#define BENCH_RUNS 3
#define BENCH_BOTS 800           /* the "few hundred active bots" */
#define BENCH_HUMANS 41200       /* ... among 42,000 accounts */
#define BENCH_READ (1024 * 1024) /* baseline read size, bytes */

/* The I/O ceiling: read() and count lines with memchr. */
static double
baseline(const char *path, uint64_t *lines)
{
	char   *buf = malloc(BENCH_READ), *p, *end;
	int     fd = open(path, O_RDONLY);
	ssize_t n;
	double  t0 = bench_now_s();

	if (fd == -1 || buf == NULL) {
		perror(path);
		exit(1);
	}
	*lines = 0;
	while ((n = read(fd, buf, BENCH_READ)) > 0)
		for (p = buf, end = buf + n;
		     (p = memchr(p, '\n', end - p)) != NULL; p++)
			(*lines)++;
	close(fd);
	free(buf);
	return bench_now_s() - t0;
}

struct result {
	double   secs;
	uint64_t suspects;
	uint64_t accounts;
	uint64_t lines;
	uint64_t bad;
};

/* One sweep in a child; returns its time and peak RSS (KiB). */
static struct result
sweep_child(const char *path, long *maxrss_kb)
{
	int           fds[2], status;
	pid_t         pid;
	struct rusage ru;
	struct result r;

	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		struct sweep   *sw = sweep_new(NULL);
		struct logscan *ls = logscan_new(NULL, sweep_rec, sw);
		FILE           *devnull = fopen("/dev/null", "w");
		double          t0 = bench_now_s();

		if (logscan_file(ls, path) == -1)
			_exit(1);
		sweep_finish(sw);
		sweep_print_report(devnull, sw, 0, logscan_stats(ls));
		fclose(devnull);
		r.secs = bench_now_s() - t0;
		r.suspects = sweep_suspects(sw);
		r.accounts = sweep_accounts(sw);
		r.lines = logscan_stats(ls)->lines;
		r.bad = logscan_stats(ls)->bad;
		if (write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &r, sizeof(r)) != sizeof(r) ||
	    wait4(pid, &status, 0, &ru) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_sweep: sweep child failed\n");
		exit(1);
	}
	close(fds[0]);
	*maxrss_kb = ru.ru_maxrss;
	return r;
}

int
main(int argc, char *argv[])
{
	struct loggen_opts  o = {1, BENCH_BOTS, BENCH_HUMANS, 1, 0, NULL, 0, LOGGEN_EJABBERD};
	struct loggen_stats gs;
	struct stat         sb;
	struct result       r = {0};
	char                tmpl[] = "/tmp/bench_sweep.XXXXXX";
	const char         *path = NULL;
	double              tb[16], ts[16], mb, t0;
	long                mbytes = BENCH_MB, rss, maxrss = 0;
	int                 runs = BENCH_RUNS, keep = 0, ch, i, fd, made = 0;
	uint64_t            lines = 0;
	FILE               *fp;

	while ((ch = getopt(argc, argv, "m:r:k")) != -1) {
		switch (ch) {
		case 'm':
			mbytes = strtol(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'k':
			keep = 1;
			break;
		default:
			fprintf(stderr, "usage: bench_sweep [-m MB] [-r RUNS] "
					"[-k] [PATH]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 16 || mbytes < 1) {
		fprintf(stderr, "bench_sweep: -r 1..16, -m >= 1\n");
		return 2;
	}
	bench_print_command(argc, argv);
	bench_print_machine();
	printf("sweep uses one cpu\n");
	if (optind < argc) {
		path = argv[optind];
		keep = 1;
	}
	if (path == NULL || stat(path, &sb) == -1) {
		if (path == NULL) {
			if ((fd = mkstemp(tmpl)) == -1) {
				perror(tmpl);
				return 1;
			}
			close(fd);
			path = tmpl;
		}
		if ((fp = fopen(path, "w")) == NULL) {
			perror(path);
			return 1;
		}
		setvbuf(fp, NULL, _IOFBF, 1 << 20);
		o.target_bytes = (uint64_t)mbytes << 20;
		t0 = bench_now_s();
		if (loggen_write(fp, &o, &gs) == -1 || fclose(fp) == EOF) {
			perror(path);
			unlink(path);
			return 1;
		}
		made = 1;
		printf("generated %s: %.0f MB, %llu lines, %u accounts "
		       "(%u bots), %u days, in %.1f s\n",
		       path, gs.bytes / 1e6, (unsigned long long)gs.lines,
		       o.bots + o.humans, o.bots, gs.days,
		       bench_now_s() - t0);
	} else
		printf("reusing %s\n", path);
	if (stat(path, &sb) == -1) {
		perror(path);
		return 1;
	}
	mb = sb.st_size / 1e6;

	/* Warm the page cache once so both sides read from memory. */
	baseline(path, &lines);
	for (i = 0; i < runs; i++)
		tb[i] = baseline(path, &lines);
	for (i = 0; i < runs; i++) {
		r = sweep_child(path, &rss);
		ts[i] = r.secs;
		if (rss > maxrss)
			maxrss = rss;
	}
	printf("log: %.0f MB, %llu lines; sweep saw %llu lines, %llu "
	       "unparseable, %llu accounts, %llu suspects\n",
	       mb, (unsigned long long)lines, (unsigned long long)r.lines,
	       (unsigned long long)r.bad, (unsigned long long)r.accounts,
	       (unsigned long long)r.suspects);
	printf("baseline read()+memchr: %.0f MB/s (median of %d)\n",
	       mb / bench_median(tb, runs), runs);
	printf("sweep:                  %.0f MB/s (median of %d), %.2f s\n",
	       mb / bench_median(ts, runs), runs, bench_median(ts, runs));
	printf("ratio sweep/baseline:   %.2f\n",
	       bench_median(tb, runs) / bench_median(ts, runs));
	printf("peak RSS of sweep:      %.1f MB (ru_maxrss)\n",
	       maxrss / 1024.0);
	if (made && !keep)
		unlink(path);
	return 0;
}
