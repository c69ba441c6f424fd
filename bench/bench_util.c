/* SPDX-License-Identifier: ISC */
/*
 * floodgate - shared benchmark reporting.
 */
#include <sys/utsname.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

void
bench_print_command(int argc, char **argv)
{
	int i;

	printf("command:");
	for (i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
}

void
bench_print_machine(void)
{
	struct utsname u;
	char           line[512], *model = NULL;
	FILE          *f;

	if (uname(&u) == 0)
		printf("machine: %s %s %s %s\n", u.sysname, u.release,
		       u.version, u.machine);
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (model == NULL && fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, "model name", 10) == 0 &&
			    (model = strchr(line, ':')) != NULL) {
				model += 2;
				model[strcspn(model, "\n")] = '\0';
			}
		fclose(f);
	}
	printf("cpu: %s, %ld online\n", model ? model : "unknown",
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("compiler: %s\n", __VERSION__);
#if defined(__SANITIZE_ADDRESS__)
	printf("build: with AddressSanitizer (figures are pessimistic)\n");
#endif
#if !defined(__OPTIMIZE__)
	printf("build: without optimisation (figures are pessimistic)\n");
#endif
}

void
bench_print_load(const char *when)
{
	char  buf[128];
	FILE *f;

	if ((f = fopen("/proc/loadavg", "r")) == NULL)
		return;
	if (fgets(buf, sizeof buf, f) != NULL)
		printf("load average %s: %s", when, buf);
	fclose(f);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
