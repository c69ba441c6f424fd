/* SPDX-License-Identifier: ISC */
/*
 * bench_sweep: throughput of `floodgatectl sweep` on a generated ejabberd
 * log, in one run against
 *   - the original operator's rule as a Perl script (bench/
 *     case_login_rule.pl: >= 3 sessions of <= 60 s and a case-changed
 *     login), the baseline the default must beat 3 times over;
 *   - sweep --rule case-login (the same rule in C);
 *   - the I/O ceiling (read() + memchr line count of the same file).
 * The default method replays the log through the daemon's detectors.
 *
 * usage: bench_sweep [-m MB] [-r RUNS] [-k] [-p PERL_SCRIPT] [PATH]
 *   -m   size of the generated log (default 512 MB)
 *   -r   runs of each measurement; the median is reported (default 3)
 *   -k   keep the generated file; an existing PATH is reused
 *   -p   the Perl rule (default: the source tree's)
 * Each run is a fork()ed child, so its CPU time and peak RSS are its own;
 * throughput is by CPU time (user + system), which the other processes
 * of a shared machine do not inflate, and by wall-clock time.
 * Exit status 1 when the default is not 3 times the Perl rule.
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

#define BENCH_MB 512 /* default log size, MiB */
#define BENCH_RUNS 3
#define BENCH_BOTS 800           /* a few hundred active bots ... */
#define BENCH_HUMANS 41200       /* ... among 42,000 accounts */
#define BENCH_READ (1024 * 1024) /* baseline read size, bytes */
#define BENCH_GOAL 3.0           /* default over the Perl rule, at least */
#ifndef BENCH_PERL
#define BENCH_PERL "bench/case_login_rule.pl"
#endif

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
	double   wall, cpu; /* s */
	long     maxrss_kb;
	uint64_t suspects;
	uint64_t accounts;
	uint64_t lines;
	uint64_t bad;
};

static double
tv_s(const struct timeval *tv)
{
	return tv->tv_sec + tv->tv_usec / 1e6;
}

/* Wait for a child; its wall time since t0, CPU time and peak RSS. */
static void
reap(pid_t pid, double t0, struct result *r)
{
	struct rusage ru;
	int           status;

	if (wait4(pid, &status, 0, &ru) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_sweep: child failed\n");
		exit(1);
	}
	r->wall = bench_now_s() - t0;
	r->cpu = tv_s(&ru.ru_utime) + tv_s(&ru.ru_stime);
	r->maxrss_kb = ru.ru_maxrss;
}

/* One sweep (mode) in a child, its report to /dev/null. */
static struct result
sweep_child(const char *path, enum sweep_mode mode)
{
	int           fds[2];
	pid_t         pid;
	struct result r, c;
	double        t0 = bench_now_s();

	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		struct sweep_opts so = {mode, 0, NULL, NULL};
		struct sweep     *sw = sweep_new(&so);
		struct logscan   *ls = logscan_new(NULL, sweep_rec, sw);
		FILE             *devnull = fopen("/dev/null", "w");

		if (logscan_file(ls, path) == -1)
			_exit(1);
		sweep_finish(sw);
		sweep_print_report(devnull, sw, 0, logscan_stats(ls));
		fclose(devnull);
		memset(&c, 0, sizeof(c));
		c.suspects = sweep_suspects(sw);
		c.accounts = sweep_accounts(sw);
		c.lines = logscan_stats(ls)->lines;
		c.bad = logscan_stats(ls)->bad;
		if (write(fds[1], &c, sizeof(c)) != sizeof(c))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &r, sizeof(r)) != sizeof(r)) {
		fprintf(stderr, "bench_sweep: sweep child failed\n");
		exit(1);
	}
	close(fds[0]);
	reap(pid, t0, &r);
	return r;
}

/* The Perl rule in a child, its output to /dev/null. */
static struct result
perl_child(const char *script, const char *path)
{
	pid_t         pid;
	struct result r;
	double        t0 = bench_now_s();
	int           fd;

	memset(&r, 0, sizeof(r));
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("perl", "perl", script, path, (char *)NULL);
		_exit(127);
	}
	reap(pid, t0, &r);
	return r;
}

/* Median wall and CPU time of runs of one method; the last result. */
static struct result
measure(const char *name, int runs, double mb,
	struct result (*run)(const char *, const char *, int), const char *a,
	const char *b, int mode, double *cpu_med)
{
	double        w[16], c[16];
	struct result r = {0};
	long          rss = 0;
	int           i;

	for (i = 0; i < runs; i++) {
		r = run(a, b, mode);
		w[i] = r.wall;
		c[i] = r.cpu;
		if (r.maxrss_kb > rss)
			rss = r.maxrss_kb;
	}
	*cpu_med = bench_median(c, runs);
	printf("%-22s %6.0f MB/s by CPU (%.2f s), %6.0f MB/s wall "
	       "(%.2f s), peak RSS %.1f MB\n",
	       name, mb / *cpu_med, *cpu_med, mb / bench_median(w, runs),
	       bench_median(w, runs), rss / 1024.0);
	return r;
}

static struct result
run_perl(const char *script, const char *path, int mode)
{
	(void)mode;
	return perl_child(script, path);
}

static struct result
run_sweep(const char *path, const char *unused, int mode)
{
	(void)unused;
	return sweep_child(path, (enum sweep_mode)mode);
}

int
main(int argc, char *argv[])
{
	struct loggen_opts  o = {1,    BENCH_BOTS, BENCH_HUMANS,   1, 0,
				 NULL, 0,          LOGGEN_EJABBERD};
	struct loggen_stats gs;
	struct stat         sb;
	struct result       rd, rc;
	char                tmpl[] = "/tmp/bench_sweep.XXXXXX";
	const char         *path = NULL, *perl = BENCH_PERL;
	double              tb[16], mb, t0, c_perl, c_det, c_rule;
	long                mbytes = BENCH_MB;
	int                 runs = BENCH_RUNS, keep = 0, ch, i, fd, made = 0;
	uint64_t            lines = 0;
	FILE               *fp;

	while ((ch = getopt(argc, argv, "m:r:kp:")) != -1) {
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
		case 'p':
			perl = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_sweep [-m MB] [-r RUNS] "
					"[-k] [-p PERL_SCRIPT] [PATH]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 16 || mbytes < 1) {
		fprintf(stderr, "bench_sweep: -r 1..16, -m >= 1\n");
		return 2;
	}
	if (access(perl, R_OK) == -1) {
		perror(perl);
		return 2;
	}
	bench_print_command(argc, argv);
	bench_print_machine();
	printf("each method uses one cpu\n");
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
		       o.bots + o.humans, o.bots, gs.days, bench_now_s() - t0);
	} else
		printf("reusing %s\n", path);
	if (stat(path, &sb) == -1) {
		perror(path);
		return 1;
	}
	mb = sb.st_size / 1e6;

	/* Warm the page cache once so every method reads from memory. */
	baseline(path, &lines);
	for (i = 0; i < runs; i++)
		tb[i] = baseline(path, &lines);
	printf("log: %.0f MB, %llu lines; medians of %d runs\n", mb,
	       (unsigned long long)lines, runs);
	printf("%-22s %6.0f MB/s wall\n", "read()+memchr",
	       mb / bench_median(tb, runs));
	measure("perl case-login rule", runs, mb, run_perl, perl, path, 0,
		&c_perl);
	rc = measure("sweep --rule case-login", runs, mb, run_sweep, path, NULL,
		     SWEEP_CASE_LOGIN, &c_rule);
	rd = measure("sweep (default)", runs, mb, run_sweep, path, NULL,
		     SWEEP_DETECTORS, &c_det);
	printf("sweep saw %llu lines, %llu unparseable, %llu accounts; "
	       "suspects: %llu (default), %llu (case-login)\n",
	       (unsigned long long)rd.lines, (unsigned long long)rd.bad,
	       (unsigned long long)rd.accounts, (unsigned long long)rd.suspects,
	       (unsigned long long)rc.suspects);
	printf("default / perl rule:    %.2fx by CPU (goal >= %.0fx)\n",
	       c_perl / c_det, BENCH_GOAL);
	printf("case-login / perl rule: %.2fx by CPU\n", c_perl / c_rule);
	if (made && !keep)
		unlink(path);
	return c_perl / c_det >= BENCH_GOAL ? 0 : 1;
}
