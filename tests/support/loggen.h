/* SPDX-License-Identifier: ISC */
/*
 * floodgate - a generator of realistic ejabberd 23.01 logs with known
 * bots and humans, for the sweep tests and bench/bench_sweep.
 *
 * Bots log in with a capitalised form of their name and open two or
 * three overlapping sessions of a few seconds per round; humans include
 * the hard cases (a phone that capitalises the login, a flaky mobile
 * link with short sessions, two devices at once) that must not be
 * taken for bots. Between them: failed logins from guessers,
 * registrations and unrelated noise lines.
 */
#ifndef FG_TEST_LOGGEN_H
#define FG_TEST_LOGGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct loggen_opts {
	uint64_t    seed;
	uint32_t    bots;
	uint32_t    humans;
	uint32_t    rounds;       /* each actor acts once per round */
	uint64_t    target_bytes; /* keep adding rounds until; 0 = off */
	const char *host;         /* "example.org" if NULL */
	int64_t     start;        /* unix s of the first line */
};

struct loggen_stats {
	uint64_t bytes;
	uint64_t lines;
	uint32_t rounds;
};

/* Write the log to fp; -1 on a write error. */
int loggen_write(FILE *, const struct loggen_opts *, struct loggen_stats *);
/* Account i's lowercase name: bots are 0..bots-1, humans follow. */
void loggen_name(uint32_t i, char *, size_t);

#endif
