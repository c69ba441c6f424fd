/* SPDX-License-Identifier: ISC */
/*
 * floodgate - log generator internals shared by loggen.c (who does what,
 * when) and loggen_fmt.c (the lines of each server, in time order).
 */
#ifndef FG_TEST_LOGGEN_INT_H
#define FG_TEST_LOGGEN_INT_H

#include "loggen.h"

enum { LG_RES_DESKTOP, LG_RES_LAPTOP, LG_RES_PHONE, LG_RES_BOT };

/* One planned session (or, with reg, a registration). */
struct lg_sess {
	int64_t  t;   /* unix s */
	uint32_t dur; /* s */
	uint32_t acct;
	uint32_t ip; /* IPv4, host order */
	uint8_t  caps, res, reg;
};

/* An open session waiting for its end line. */
struct lg_pend {
	int64_t  t;
	uint32_t acct;
	uint32_t sid;
	uint8_t  caps, res;
};

struct lg {
	FILE                     *fp;
	const struct loggen_opts *o;
	const char               *host;
	uint64_t                  rng;
	int64_t                   start;  /* unix s, midnight UTC */
	int64_t                   now;    /* unix s of the last line */
	uint32_t                  usec;   /* fake sub-second part */
	uint32_t                  pid;    /* next c2s process / session */
	int64_t                  *reg_at; /* per account; 0 = before */
	struct lg_sess           *day;    /* this day's plan */
	size_t                    nday, capday;
	struct lg_pend           *heap; /* open sessions by end time */
	size_t                    nheap, capheap;
	int64_t                   dday; /* cached date for the prefix */
	char                      date[32];
	struct loggen_stats       st;
	int                       err;
};

uint64_t lg_mix(uint64_t, uint64_t, uint64_t);
uint32_t lg_rnd(struct lg *, uint32_t n); /* 0..n-1 */
/* loggen_fmt.c */
void lg_server_start(struct lg *);
void lg_emit_day(struct lg *);
void lg_drain(struct lg *, int64_t until);

#endif
