/* SPDX-License-Identifier: ISC */
/*
 * floodgate - connection habits: what gives bots away whatever name they
 * log in with. People reconnect from one or two networks (home, the
 * carrier, the office) and follow a day; bots connect around the clock,
 * a new proxy for each round, or a whole farm from one hosting address.
 *
 *   spread           the account's sessions started from `spread`
 *                    distinct networks (IPv4 /16, IPv6 /32) within a day
 *   round-the-clock  its short sessions ended in `round-the-clock`
 *                    distinct clock hours within a day
 *   shared-address   the address it ended a short session from saw
 *                    `shared-address` accounts end short sessions within
 *                    an hour, in 3 different hours of the day (a
 *                    household or office whose Wi-Fi drops does that
 *                    once, a farm every hour)
 *
 * detect_login.c turns each into a held signal (det_hold) on the
 * account. doc/detectors.md has the measurements behind the thresholds
 * and which human habit each one must not catch.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "../core/xmalloc.h"
#include "detect.h"
#include "detect_conn.h"

#define CONN_ADDR_CAP 16384 /* addresses with short sessions tracked */
#define CONN_CROWD 16       /* accounts remembered per address */
#define CONN_CROWD_HOURS 3  /* crowded hours in a day for shared-address */
#define CONN_ADDR_TWEAK 0x636f6e6e00000002ULL /* hash domain: addresses */

struct conn_addr {
	struct det_ent h;
	uint32_t       acct[CONN_CROWD]; /* hash of the account */
	uint32_t       at[CONN_CROWD];   /* its last short end, unix s */
	uint32_t       hour_last;        /* hour number of the last crowd */
	uint32_t       hour_mask;        /* bit i: crowded in hour_last - i */
};

struct conn {
	struct det_cache *addrs;
	uint32_t          spread, hours, shared;
	uint32_t          day_s, hour_s; /* habit-window and its 24th */
};

struct conn *
conn_new(const struct fg_config *cfg)
{
	struct conn *d = xcalloc(1, sizeof *d);

	d->addrs = det_cache_new(CONN_ADDR_CAP, sizeof(struct conn_addr));
	conn_reconfigure(d, cfg);
	return d;
}

void
conn_reconfigure(struct conn *d, const struct fg_config *cfg)
{
	d->spread = cfg->spread_nets > CONN_NETS ? CONN_NETS : cfg->spread_nets;
	d->hours = cfg->clock_hours > 24 ? 24 : cfg->clock_hours;
	d->shared = cfg->shared_accounts > CONN_CROWD ? CONN_CROWD
						      : cfg->shared_accounts;
	d->hour_s = cfg->habit_window_ms / 24000;
	if (d->hour_s == 0)
		d->hour_s = 1;
	d->day_s = d->hour_s * 24;
}

void
conn_free(struct conn *d)
{
	if (d == NULL)
		return;
	det_cache_free(d->addrs);
	free(d);
}

/* The address in binary, IPv4-mapped IPv6 as IPv4; its length (4 or 16)
 * or -1. */
static int
addr_bin(const char *ip, unsigned char a[16])
{
	const char *p = ip;
	unsigned    v;
	int         i, d;

	if (ip == NULL)
		return -1;
	/* dotted quad by hand (every session comes here), else inet_pton */
	for (i = 0; i < 4; i++, p++) {
		for (v = 0, d = 0; *p >= '0' && *p <= '9' && d < 3; p++, d++)
			v = v * 10 + (unsigned)(*p - '0');
		if (d == 0 || v > 255 || *p != (i < 3 ? '.' : '\0'))
			break;
		a[i] = (unsigned char)v;
	}
	if (i == 4)
		return 4;
	if (inet_pton(AF_INET, ip, a) == 1)
		return 4;
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(a, a + 12, 4);
		return 4;
	}
	return 16;
}

/* Mark hour in a 24-hour mask ending at *last; the marked hours of the
 * last day (the mark included). */
static uint32_t
mark_hour(uint32_t *last, uint32_t *mask, uint32_t hour)
{
	uint32_t d;

	if (hour > *last) {
		d = hour - *last;
		*mask = d >= 32 ? 0 : *mask << d;
		*last = hour;
	}
	if (*last - hour < 24)
		*mask |= 1u << (*last - hour);
	*mask &= 0xffffff;
	return (uint32_t)__builtin_popcount(*mask);
}

int
conn_spread(struct conn *d, struct conn_state *r, const char *ip,
	    int64_t now_ms)
{
	unsigned char a[16];
	uint32_t      net, now = (uint32_t)(now_ms / 1000);
	int           n, i, slot = 0, seen = 0;

	if (d->spread == 0 || (n = addr_bin(ip, a)) == -1)
		return 0;
	/* an IPv4 /16 is below 2^16, a global IPv6 /32 above 2^29 */
	net = n == 4 ? (uint32_t)a[0] << 8 | a[1]
		     : (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
			   (uint32_t)a[2] << 8 | a[3];
	for (i = 0; i < CONN_NETS; i++) {
		if (r->net_at[i] != 0 && r->net[i] == net) {
			slot = i;
			break;
		}
		if (r->net_at[i] < r->net_at[slot])
			slot = i; /* free, or the one unseen longest */
	}
	r->net[slot] = net;
	r->net_at[slot] = now;
	for (i = 0; i < CONN_NETS; i++)
		if (r->net_at[i] != 0 && now - r->net_at[i] < d->day_s)
			seen++;
	return (uint32_t)seen >= d->spread;
}

int
conn_clock(struct conn *d, struct conn_state *r, int64_t now_ms)
{
	uint32_t n = mark_hour(&r->hour_last, &r->hour_mask,
			       (uint32_t)(now_ms / 1000 / d->hour_s));

	return d->hours > 0 && n >= d->hours;
}

int
conn_shared(struct conn *d, uint64_t acct, const char *ip, int64_t now_ms)
{
	unsigned char     a[16];
	struct conn_addr *r;
	uint32_t          now = (uint32_t)(now_ms / 1000), ah = (uint32_t)acct;
	uint32_t          hour = now / d->hour_s, crowded;
	int               n, i, slot = 0, seen = 0;

	if (d->shared == 0 || (n = addr_bin(ip, a)) == -1)
		return 0;
	/* IPv6: one host's /64 */
	r = det_cache_get(d->addrs,
			  det_hash(CONN_ADDR_TWEAK, (char *)a, n == 4 ? 4 : 8),
			  now_ms, 1);
	for (i = 0; i < CONN_CROWD; i++) {
		if (r->at[i] != 0 && r->acct[i] == ah) {
			slot = i;
			break;
		}
		if (r->at[i] < r->at[slot])
			slot = i;
	}
	r->acct[slot] = ah;
	r->at[slot] = now;
	for (i = 0; i < CONN_CROWD; i++)
		if (r->at[i] != 0 && now - r->at[i] < d->hour_s)
			seen++;
	if ((uint32_t)seen < d->shared)
		return 0;
	crowded = mark_hour(&r->hour_last, &r->hour_mask, hour);
	return crowded >= CONN_CROWD_HOURS;
}
