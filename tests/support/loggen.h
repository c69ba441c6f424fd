/* SPDX-License-Identifier: ISC */
/*
 * floodgate - a seeded generator of realistic ejabberd 23.01 and Prosody
 * 0.12 logs with known bots and humans, for the sweep and detector tests
 * and bench/bench_sweep.
 *
 * Bots come in four families. All of them connect around the clock in
 * rounds of short sessions: "classic" bots log in with their name
 * capitalised and open 2-3 overlapping sessions per round through a
 * different proxy each time; "exact" bots do the same with the exact
 * name; "single" bots open one session per round through proxies; "farm"
 * bots share one hosting address with the other bots of their farm.
 * Humans follow a day (they sleep) and come with the habits that must not
 * be taken for bots: phone keyboards that capitalise the login, mobile
 * links that flap (bursts of short sessions from a carrier's NAT pool),
 * households and offices behind one NAT address (whose Wi-Fi sometimes
 * flaps for everyone at once), phone + laptop + desktop online together,
 * and travel (hotels, cafés). Bots register in waves; a few humans
 * register one at a time. Between them: failed logins from guessers and
 * unrelated lines.
 */
#ifndef FG_TEST_LOGGEN_H
#define FG_TEST_LOGGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* LOGGEN_PLAN: no server's log but the sessions themselves, one a line
 * ("unix-start length-s account login-as-typed ip"), for a test that
 * replays them through a real server. */
enum loggen_fmt { LOGGEN_EJABBERD, LOGGEN_PROSODY, LOGGEN_PLAN };

struct loggen_opts {
	uint64_t        seed;
	uint32_t        bots;
	uint32_t        humans;
	uint32_t        days;         /* of log; 0 = 14 */
	uint64_t        target_bytes; /* keep adding days until; 0 = off */
	const char     *host;         /* "example.org" if NULL */
	int64_t         start;        /* unix s of the first day, UTC */
	enum loggen_fmt fmt;
};

struct loggen_stats {
	uint64_t bytes;
	uint64_t lines;
	uint32_t days;
	uint64_t sessions;
};

/* Bot families and human habits (flags), for reports by kind. */
enum loggen_kind {
	LOGGEN_BOT_CLASSIC, /* capitalised login, 2-3 overlapping */
	LOGGEN_BOT_EXACT,   /* exact login, 2-3 overlapping */
	LOGGEN_BOT_SINGLE,  /* exact login, one session a round */
	LOGGEN_BOT_FARM,    /* exact login, one shared address */
	LOGGEN_HUMAN
};
#define LOGGEN_H_CAPS 0x01   /* phone keyboard capitalises the login */
#define LOGGEN_H_FLAP 0x02   /* mobile link that flaps */
#define LOGGEN_H_MULTI 0x04  /* phone + laptop + desktop */
#define LOGGEN_H_TRAVEL 0x08 /* some days in hotels and cafés */
#define LOGGEN_H_OFFICE 0x10 /* works behind an office NAT */
#define LOGGEN_H_SHARED 0x20 /* household of 2-4 behind one address */

/* Write the log to fp; -1 on a write error. */
int loggen_write(FILE *, const struct loggen_opts *, struct loggen_stats *);
/* Account i's lowercase name: bots are 0..bots-1, humans follow. */
void loggen_name(uint32_t i, char *, size_t);
/* Account i's family (and, for humans, LOGGEN_H_* habits in *flags). */
enum loggen_kind loggen_kind(const struct loggen_opts *, uint32_t i,
			     unsigned *flags);

#endif
