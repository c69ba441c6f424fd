/* SPDX-License-Identifier: ISC */
/*
 * floodgate - report: password guessing seen in server logs.
 *
 * Counts failed logins per host (IP) and per user name (lowercased bare
 * JID): attempts, first and last seen, and a per-hour-of-day histogram
 * that shows the "first minutes of each hour" bursts. User names from a
 * spamtrap list are marked, and so are the hosts that tried them.
 */
#ifndef FG_AUTHLOG_H
#define FG_AUTHLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "logscan.h"

/* One row: a host or a user name. */
struct report_row {
	const char *key;
	uint64_t    attempts;
	uint32_t    trap_hits; /* host: attempts on spamtrap names */
	int         spamtrap;  /* user: the name is a spamtrap */
	int64_t     first, last;
	uint32_t    hours[24]; /* attempts by hour of day (log time) */
};

struct report;

struct report *report_new(void);
void           report_free(struct report *);
/* Load spamtrap names (user or user@host, one a line, # comments);
 * -1 (logged) if the file cannot be read. */
int report_load_spamtraps(struct report *, const char *path);
/* logscan callback; arg is the report. */
void report_rec(const struct logscan_rec *, void *);
/* Rows by attempts, most first; hosts = 1 for hosts, 0 for users. */
int report_walk(struct report *, int hosts,
		int (*)(const struct report_row *, void *), void *);
/* Distinct hosts (1) or user names (0). */
size_t report_count(const struct report *, int hosts);
/* Failed logins in all, and those without a user name. */
void report_totals(const struct report *, uint64_t *, uint64_t *);
/* Failed logins by hour of day, 24 counters. */
const uint32_t          *report_hours(const struct report *);
const struct report_row *report_get(const struct report *, int hosts,
				    const char *key);
void                     report_print(FILE *, struct report *, size_t limit,
				      const struct logscan_stats *);
void                     report_print_csv(FILE *, struct report *);

#endif
