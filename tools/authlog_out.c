/* SPDX-License-Identifier: ISC */
/*
 * floodgate - report output: readable tables and CSV.
 *
 * In the tables, each row's per-hour counts are one character per hour
 * of the day (00..23): '.' none, 1-9, '+' ten or more, so bursts at the
 * same hours across many hosts line up in a column.
 */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "authlog.h"
#include "sweep.h"

struct print_ctx {
	FILE  *fp;
	size_t limit, n;
	int    hosts;
};

static int  print_row(const struct report_row *, void *);
static int  csv_row(const struct report_row *, void *);
static void hour_strip(char *, const uint32_t *);

static void
hour_strip(char *buf, const uint32_t *hours)
{
	int i;

	for (i = 0; i < 24; i++)
		buf[i] = hours[i] == 0   ? '.'
			 : hours[i] < 10 ? (char)('0' + hours[i])
					 : '+';
	buf[24] = '\0';
}

static int
print_row(const struct report_row *row, void *arg)
{
	struct print_ctx *c = arg;
	char              key[LOG_ESC_MAX], first[32], last[32], strip[25];

	if (c->limit != 0 && c->n++ >= c->limit)
		return -1;
	log_esc(key, sizeof(key), row->key);
	sweep_fmt_time(first, sizeof(first), row->first);
	sweep_fmt_time(last, sizeof(last), row->last);
	hour_strip(strip, row->hours);
	fprintf(c->fp, "%-40s %8llu %5s %-19s %-19s %s\n", key,
		(unsigned long long)row->attempts,
		c->hosts ? (row->trap_hits > 0 ? "TRAP" : "")
			 : (row->spamtrap ? "TRAP" : ""),
		first, last, strip);
	return 0;
}

void
report_print(FILE *fp, struct report *r, size_t limit,
	     const struct logscan_stats *st)
{
	struct print_ctx c = {fp, limit, 0, 1};
	const uint32_t  *hours = report_hours(r);
	uint64_t         total, no_user;
	uint32_t         max = 1;
	int              i, w;

	report_totals(r, &total, &no_user);

	fprintf(
	    fp,
	    "floodgatectl report: %llu files, %llu lines, %llu unparseable\n"
	    "%llu failed logins (%llu without a user name) from %zu hosts "
	    "on %zu user names\n\n",
	    (unsigned long long)st->files, (unsigned long long)st->lines,
	    (unsigned long long)st->bad, (unsigned long long)total,
	    (unsigned long long)no_user, report_count(r, 1),
	    report_count(r, 0));
	fprintf(fp, "failed logins by hour of day (log time):\n");
	for (i = 0; i < 24; i++)
		if (hours[i] > max)
			max = hours[i];
	for (i = 0; i < 24; i++) {
		w = (int)((uint64_t)hours[i] * 50 / max);
		fprintf(fp, "  %02d %10u %.*s\n", i, hours[i], w,
			"##################################################");
	}
	fprintf(fp, "\n%-40s %8s %5s %-19s %-19s %s\n", "host", "attempts",
		"trap", "first seen", "last seen", "hours 00..23");
	report_walk(r, 1, print_row, &c);
	c.n = 0;
	c.hosts = 0;
	fprintf(fp, "\n%-40s %8s %5s %-19s %-19s %s\n", "user name", "attempts",
		"trap", "first seen", "last seen", "hours 00..23");
	report_walk(r, 0, print_row, &c);
	if (st->bad > 0) {
		fprintf(fp, "\nunparseable lines: %llu; first ones:\n",
			(unsigned long long)st->bad);
		for (i = 0; i < (int)st->nsamples; i++)
			fprintf(fp, "  %s\n", st->samples[i]);
	}
}

static int
csv_row(const struct report_row *row, void *arg)
{
	struct print_ctx *c = arg;
	char              first[32], last[32];
	const char       *p;
	int               i;

	sweep_fmt_time(first, sizeof(first), row->first);
	sweep_fmt_time(last, sizeof(last), row->last);
	fprintf(c->fp, "%s,", c->hosts ? "host" : "user");
	if (strpbrk(row->key, ",\"\r\n") != NULL) {
		fputc('"', c->fp);
		for (p = row->key; *p != '\0'; p++) {
			if (*p == '"')
				fputc('"', c->fp);
			fputc(*p, c->fp);
		}
		fputc('"', c->fp);
	} else
		fputs(row->key, c->fp);
	fprintf(c->fp, ",%llu,%d,%u,%s,%s", (unsigned long long)row->attempts,
		row->spamtrap, row->trap_hits, first, last);
	for (i = 0; i < 24; i++)
		fprintf(c->fp, ",%u", row->hours[i]);
	fputc('\n', c->fp);
	return 0;
}

void
report_print_csv(FILE *fp, struct report *r)
{
	struct print_ctx c = {fp, 0, 0, 1};
	int              i;

	fputs("kind,key,attempts,spamtrap,spamtrap_attempts,first_seen,"
	      "last_seen",
	      fp);
	for (i = 0; i < 24; i++)
		fprintf(fp, ",h%02d", i);
	fputc('\n', fp);
	report_walk(r, 1, csv_row, &c);
	c.hosts = 0;
	report_walk(r, 0, csv_row, &c);
}
