/* SPDX-License-Identifier: ISC */
/*
 * floodgate - generator of realistic server logs (tests and bench).
 *
 * Each day, every actor's sessions are planned (start, length, address,
 * login as typed), sorted by start, and written; session ends wait in a
 * min-heap so every line comes out in time order, as a server writes
 * them. Who is what is a pure function of (seed, account number), so a
 * test can ask loggen_kind() afterwards. loggen_fmt.c writes the lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "loggen_int.h"

#define DAY 86400
#define LOGGEN_DAYS 14      /* default length of the log, days */
#define FARM_SIZE 10        /* bots behind one hosting address */
#define HOUSE_SIZE 4        /* humans per household block */
#define OFFICE_SIZE 16      /* humans per office block */
#define WAVE_MIN 20         /* bots registered in one wave, at least */
#define WAVE_SPREAD 60      /* ... plus up to this many more */
#define ROUND_MIN_S 600     /* a bot's pause between rounds, s */
#define ROUND_SPREAD_S 1800 /* ... plus up to this */

static const char *syll[] = {"ba", "be", "bo", "da", "di", "ku", "la",
			     "le", "lo", "ma", "mi", "na", "ne", "pu",
			     "ra", "ri", "se", "ta", "xi", "zo"};
#define NSYLL (sizeof(syll) / sizeof(syll[0]))

void
loggen_name(uint32_t i, char *buf, size_t sz)
{
	size_t n = 0;

	/* Three or more syllables, bijective in i: names never collide. */
	do {
		if (n + 3 > sz)
			break;
		memcpy(buf + n, syll[i % NSYLL], 2);
		n += 2;
		i /= NSYLL;
	} while (i > 0 || n < 6);
	buf[n] = '\0';
}

/* splitmix64: a stateless hash for everything decided per account, per
 * household or per day, so it does not depend on the order of drawing. */
uint64_t
lg_mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t z = a * 0x9E3779B97F4A7C15ULL ^ b * 0xBF58476D1CE4E5B9ULL ^
		     (c + 0x94D049BB133111EBULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

uint32_t
lg_rnd(struct lg *g, uint32_t n)
{
	/* xorshift64*: fast and good enough for a workload */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return n == 0 ? 0
		      : (uint32_t)((g->rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

/* A public IPv4 address in a network picked by h (never 10/8, 127/8,
 * 0/8 or multicast). */
static uint32_t
public_ip(uint64_t h)
{
	uint32_t a = 1 + (uint32_t)(h % 223);

	if (a == 10 || a == 127 || a == 100 || a == 169 || a == 172)
		a++;
	return a << 24 | (uint32_t)(h >> 16 & 0xffffff);
}

enum loggen_kind
loggen_kind(const struct loggen_opts *o, uint32_t i, unsigned *flags)
{
	uint64_t h;
	unsigned f = 0;

	if (flags != NULL)
		*flags = 0;
	if (i < o->bots) { /* families in blocks: one operator, one kit */
		uint64_t q = (uint64_t)i * 20 / o->bots;

		return q < 7    ? LOGGEN_BOT_CLASSIC
		       : q < 12 ? LOGGEN_BOT_EXACT
		       : q < 16 ? LOGGEN_BOT_SINGLE
				: LOGGEN_BOT_FARM;
	}
	h = lg_mix(o->seed, i, 1);
	if (h % 100 < 20)
		f |= LOGGEN_H_CAPS;
	if (h / 100 % 100 < 25)
		f |= LOGGEN_H_FLAP;
	if (h / 10000 % 100 < 20)
		f |= LOGGEN_H_MULTI;
	if (h / 1000000 % 100 < 8)
		f |= LOGGEN_H_TRAVEL;
	if (h / 100000000 % 100 < 35)
		f |= LOGGEN_H_OFFICE;
	if (h / 10000000000ULL % 100 < 40)
		f |= LOGGEN_H_SHARED;
	if (flags != NULL)
		*flags = f;
	return LOGGEN_HUMAN;
}

static void
plan(struct lg *g, int64_t t, uint32_t dur, uint32_t acct, uint32_t ip,
     int caps, int res, int reg)
{
	struct lg_sess *s;

	if (g->nday == g->capday) {
		g->capday = g->capday ? g->capday * 2 : 4096;
		g->day = xreallocarray(g->day, g->capday, sizeof(*g->day));
	}
	s = &g->day[g->nday++];
	s->t = t;
	s->dur = dur;
	s->acct = acct;
	s->ip = ip;
	s->caps = (uint8_t)caps;
	s->res = (uint8_t)res;
	s->reg = (uint8_t)reg;
}

/* A mobile carrier's NAT pool: two /16s per carrier, four carriers. */
static uint32_t
carrier_ip(struct lg *g, uint32_t acct)
{
	uint64_t c = lg_mix(g->o->seed, acct, 7) % 4;

	return (public_ip(lg_mix(g->o->seed, c * 2 + lg_rnd(g, 2), 8)) &
		0xffff0000) |
	       lg_rnd(g, 65536);
}

static uint32_t
home_ip(const struct lg *g, uint32_t acct, unsigned f)
{
	uint32_t b =
	    f & LOGGEN_H_SHARED ? acct / HOUSE_SIZE : acct + (1u << 30);

	return public_ip(lg_mix(g->o->seed, b, 9));
}

static uint32_t
office_ip(const struct lg *g, uint32_t acct)
{
	return public_ip(lg_mix(g->o->seed, acct / OFFICE_SIZE, 10));
}

/* A burst of short sessions of a link that keeps dropping; the server
 * sometimes notices a dead one only after the next has opened. */
static void
flap(struct lg *g, int64_t t, uint32_t acct, int caps, int n, int res,
     uint32_t fixed_ip)
{
	uint32_t d;

	while (n-- > 0) {
		d = 4 + lg_rnd(g, 57);
		if (lg_rnd(g, 3) == 0)
			d += 30 + lg_rnd(g, 90); /* noticed late */
		plan(g, t, d, acct, fixed_ip ? fixed_ip : carrier_ip(g, acct),
		     caps, res, 0);
		t += 5 + lg_rnd(g, 90) + (d < 60 ? d : 0);
	}
}

static void
human_day(struct lg *g, uint32_t a, int64_t day, uint32_t dn)
{
	unsigned f;
	uint32_t wake, awake, k, n, home;
	int64_t  t0, t;
	int      caps, weekday = dn % 7 < 5;
	uint64_t hh, ho;

	loggen_kind(g->o, a, &f);
	caps = (f & LOGGEN_H_CAPS) != 0;
	wake = 5 + (uint32_t)(lg_mix(g->o->seed, a, 3) % 4); /* 5-8 h */
	awake = 14 + lg_rnd(g, 3);                           /* <= 16 h */
	t0 = day + (int64_t)wake * 3600;
	home = home_ip(g, a, f);
	if (f & LOGGEN_H_TRAVEL && lg_rnd(g, 10) < 3) {
		/* a travel day: airport, hotel, café, the carrier */
		for (k = 0, n = 3 + lg_rnd(g, 3); k < n; k++)
			plan(g, t0 + lg_rnd(g, awake * 3600),
			     600 + lg_rnd(g, 7200), a,
			     k == 0 ? carrier_ip(g, a)
				    : public_ip(lg_mix(g->o->seed, a,
						       100 + dn * 8 + k)),
			     caps, LG_RES_LAPTOP, 0);
		return;
	}
	if (f & LOGGEN_H_OFFICE && weekday)
		plan(g, day + 8 * 3600 + lg_rnd(g, 3600),
		     7 * 3600 + lg_rnd(g, 7200), a, office_ip(g, a), 0,
		     LG_RES_DESKTOP, 0);
	else
		for (k = 0, n = 1 + lg_rnd(g, 3); k < n; k++)
			plan(g, t0 + lg_rnd(g, awake * 3600),
			     1800 + lg_rnd(g, 5 * 3600), a, home, 0,
			     LG_RES_DESKTOP, 0);
	if (f & LOGGEN_H_MULTI)
		plan(g, t0 + (10 + lg_rnd(g, 3)) * 3600,
		     3600 + lg_rnd(g, 3 * 3600), a, home, 0, LG_RES_LAPTOP, 0);
	if (f & (LOGGEN_H_CAPS | LOGGEN_H_FLAP | LOGGEN_H_MULTI))
		for (k = 0, n = 2 + lg_rnd(g, 5); k < n; k++)
			plan(g, t0 + lg_rnd(g, awake * 3600),
			     600 + lg_rnd(g, 3 * 3600), a,
			     lg_rnd(g, 2) ? home : carrier_ip(g, a), caps,
			     LG_RES_PHONE, 0);
	if (f & LOGGEN_H_FLAP)
		for (k = 0, n = 1 + lg_rnd(g, 3); k < n; k++)
			flap(g, t0 + lg_rnd(g, awake * 3600), a, caps,
			     3 + (int)lg_rnd(g, 6), LG_RES_PHONE, 0);
	else if (caps && lg_rnd(g, 5) == 0)
		flap(g, t0 + lg_rnd(g, awake * 3600), a, caps,
		     2 + (int)lg_rnd(g, 3), LG_RES_PHONE, 0);
	/* the household's Wi-Fi drops for everyone at once */
	hh = lg_mix(g->o->seed, (uint64_t)a / HOUSE_SIZE, 1000 + dn);
	if (f & LOGGEN_H_SHARED && hh % 10 == 0) {
		t = day + (int64_t)(8 + hh / 10 % 12) * 3600 +
		    (int64_t)(hh >> 40) % 3600;
		flap(g, t + lg_rnd(g, 120), a, caps, 2 + (int)lg_rnd(g, 4),
		     LG_RES_PHONE, home);
	}
	/* ... and so does the office's */
	ho = lg_mix(g->o->seed, (uint64_t)a / OFFICE_SIZE, 2000 + dn);
	if (f & LOGGEN_H_OFFICE && weekday && ho % 10 == 0) {
		t = day + (int64_t)(10 + ho / 10 % 6) * 3600 +
		    (int64_t)(ho >> 40) % 1800;
		flap(g, t + lg_rnd(g, 300), a, 0, 2 + (int)lg_rnd(g, 3),
		     LG_RES_DESKTOP, office_ip(g, a));
	}
}

static void
bot_day(struct lg *g, uint32_t a, int64_t day)
{
	enum loggen_kind k = loggen_kind(g->o, a, NULL);
	int64_t          t = g->reg_at[a] + 30 + lg_rnd(g, 600);
	uint32_t         n, i, ip;
	int              caps = k == LOGGEN_BOT_CLASSIC;
	uint32_t farm = public_ip(lg_mix(g->o->seed, a / FARM_SIZE, 11));

	if (t < day)
		t = day + lg_rnd(g, ROUND_MIN_S);
	for (; t < day + DAY; t += ROUND_MIN_S + lg_rnd(g, ROUND_SPREAD_S)) {
		ip = k == LOGGEN_BOT_FARM
			 ? farm
			 : public_ip(lg_mix(g->o->seed, a, (uint64_t)t));
		n = k == LOGGEN_BOT_SINGLE ? 1
		    : k == LOGGEN_BOT_FARM ? 1 + lg_rnd(g, 2)
					   : 2 + lg_rnd(g, 2);
		for (i = 0; i < n; i++)
			plan(g, t + i * lg_rnd(g, 2), 2 + lg_rnd(g, 45), a, ip,
			     caps, LG_RES_BOT + (int)i, 0);
	}
}

/* When each account is registered: bots in waves (one /24 or proxies),
 * a few humans on their own during the log, the rest before it. */
static void
registrations(struct lg *g, uint32_t ndays)
{
	uint32_t i = 0, n, j, span = ndays > 3 ? ndays - 3 : 1;
	int64_t  t;
	uint64_t h;

	while (i < g->o->bots) {
		h = lg_mix(g->o->seed, i, 20);
		n = WAVE_MIN + (uint32_t)(h % WAVE_SPREAD);
		t = g->start + (int64_t)(h / 64 % span) * DAY +
		    (int64_t)(h / 4096 % DAY);
		for (j = 0; j < n && i < g->o->bots; j++, i++) {
			g->reg_at[i] = t;
			t += 1 + (int64_t)(lg_mix(g->o->seed, i, 21) % 8);
		}
	}
	for (; i < g->o->bots + g->o->humans; i++) {
		h = lg_mix(g->o->seed, i, 22);
		g->reg_at[i] =
		    h % 100 < 3 ? g->start + (int64_t)(h / 100 %
						       ((uint64_t)ndays * DAY))
				: 0;
	}
}

/* Bots register from one /24 per wave day, humans from home. */
static uint32_t
reg_ip(struct lg *g, uint32_t a)
{
	unsigned f;

	if (a >= g->o->bots) {
		loggen_kind(g->o, a, &f);
		return home_ip(g, a, f);
	}
	return (public_ip(
		    lg_mix(g->o->seed, (uint64_t)g->reg_at[a] / DAY, 30)) &
		0xffffff00) |
	       lg_rnd(g, 256);
}

static int
cmp_sess(const void *x, const void *y)
{
	const struct lg_sess *a = x, *b = y;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->acct < b->acct ? -1 : a->acct > b->acct;
}

int
loggen_write(FILE *fp, const struct loggen_opts *o, struct loggen_stats *st)
{
	struct lg *g = xcalloc(1, sizeof(*g));
	uint32_t   n = o->bots + o->humans, a, d, ndays;
	int64_t    day;
	int        rc;

	ndays = o->days != 0 ? o->days : LOGGEN_DAYS;
	g->fp = fp;
	g->o = o;
	g->host = o->host != NULL ? o->host : "example.org";
	g->rng = o->seed * 2654435761ULL + 88172645463325252ULL;
	g->start = (o->start != 0 ? o->start : 1795000000) / DAY * DAY;
	g->now = g->start;
	g->pid = 1000;
	g->reg_at = xreallocarray(NULL, n + 1, sizeof(*g->reg_at));
	registrations(g, ndays);
	lg_server_start(g);
	for (d = 0; !g->err && (d < ndays || (o->target_bytes != 0 &&
					      g->st.bytes < o->target_bytes));
	     d++) {
		day = g->start + (int64_t)d * DAY;
		g->nday = 0;
		for (a = 0; a < n; a++) {
			if (g->reg_at[a] >= day && g->reg_at[a] < day + DAY)
				plan(g, g->reg_at[a], 0, a, reg_ip(g, a), 0, 0,
				     1);
			if (g->reg_at[a] >= day + DAY)
				continue;
			if (a < o->bots)
				bot_day(g, a, day);
			else
				human_day(g, a, day, d);
		}
		qsort(g->day, g->nday, sizeof(*g->day), cmp_sess);
		lg_emit_day(g);
		g->st.days++;
	}
	lg_drain(g, INT64_MAX);
	if (fflush(fp) == EOF)
		g->err = 1;
	if (st != NULL)
		*st = g->st;
	rc = g->err ? -1 : 0;
	free(g->day);
	free(g->heap);
	free(g->reg_at);
	free(g);
	return rc;
}
