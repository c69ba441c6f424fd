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
 * Each is a held signal (det_hold). doc/detectors.md has the
 * measurements behind the thresholds and which human habit each one
 * must not catch.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define CONN_CAP_DIV 32     /* account records = max_keys / this ... */
#define CONN_CAP_MIN 4096   /* ... but at least this many */
#define CONN_ADDR_CAP 16384 /* addresses with short sessions tracked */
#define CONN_NETS 16        /* networks remembered per account */
#define CONN_CROWD 16       /* accounts remembered per address */
#define CONN_DAY 86400000   /* the window of spread and hours, ms */
#define CONN_HOUR 3600000   /* ms */
#define CONN_CROWD_HOURS 3  /* crowded hours in a day for shared-address */
#define CONN_TWEAK 0x636f6e6e00000001ULL      /* hash domain: accounts */
#define CONN_ADDR_TWEAK 0x636f6e6e00000002ULL /* hash domain: addresses */

enum { SIG_SPREAD, SIG_CLOCK, SIG_SHARED, SIG__N };

static const char *const sig_name[] = {"spread", "round-the-clock",
				       "shared-address"};
static const double      sig_w[] = {DET_W_SPREAD, DET_W_CLOCK, DET_W_SHARED};

struct conn_acct {
	struct det_ent  h;
	uint32_t        net[CONN_NETS];
	int64_t         net_at[CONN_NETS]; /* unix ms last seen; 0 free */
	uint32_t        hour[24]; /* hour number + 1 of the last short end */
	struct det_held held[SIG__N];
};

struct conn_addr {
	struct det_ent h;
	uint32_t       acct[CONN_CROWD]; /* hash of the account */
	int64_t        at[CONN_CROWD];   /* its last short end, unix ms */
	uint32_t       crowded[24];      /* hour number + 1 of a crowded hour */
};

struct conn {
	struct det_cache *accts;
	struct det_cache *addrs;
	int64_t           short_ms;
	uint32_t          spread, hours, shared;
};

static void *conn_init(struct policy *, const struct fg_config *);
static void  conn_reconfigure(void *, const struct fg_config *);
static void  conn_free(void *);
static void  conn_event(void *, struct policy *, const struct pol_event *);

const struct pol_detector det_conn = {
    .name = "conn",
    .init = conn_init,
    .reconfigure = conn_reconfigure,
    .free = conn_free,
    .event = conn_event,
};

static void *
conn_init(struct policy *p, const struct fg_config *cfg)
{
	struct conn *d = xcalloc(1, sizeof *d);
	size_t       cap = cfg->max_keys / CONN_CAP_DIV;

	(void)p;
	d->accts = det_cache_new(cap > CONN_CAP_MIN ? cap : CONN_CAP_MIN,
				 sizeof(struct conn_acct));
	d->addrs = det_cache_new(CONN_ADDR_CAP, sizeof(struct conn_addr));
	conn_reconfigure(d, cfg);
	return d;
}

static void
conn_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct conn *d = arg;

	d->short_ms = (int64_t)cfg->short_session_s * 1000;
	d->spread = cfg->spread_nets > CONN_NETS ? CONN_NETS : cfg->spread_nets;
	d->hours = cfg->clock_hours > 24 ? 24 : cfg->clock_hours;
	d->shared = cfg->shared_accounts > CONN_CROWD ? CONN_CROWD
						      : cfg->shared_accounts;
}

static void
conn_free(void *arg)
{
	struct conn *d = arg;

	if (d == NULL)
		return;
	det_cache_free(d->accts);
	det_cache_free(d->addrs);
	free(d);
}

/* The address in binary, IPv4-mapped IPv6 as IPv4; its length (4 or 16)
 * or -1. */
static int
addr_bin(const char *ip, unsigned char a[16])
{
	if (ip == NULL)
		return -1;
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

/* A session from ip: remember its network; spread when the account has
 * come from d->spread networks within a day. */
static void
spread(struct conn *d, struct policy *p, struct conn_acct *r, const char *k,
       size_t len, const char *ip, int64_t now)
{
	unsigned char a[16];
	uint32_t      net;
	int           n, i, slot = 0, seen = 0;

	if (d->spread == 0 || (n = addr_bin(ip, a)) == -1)
		return;
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
		if (r->net_at[i] != 0 && now - r->net_at[i] < CONN_DAY)
			seen++;
	if ((uint32_t)seen >= d->spread)
		det_hold(p, &r->held[SIG_SPREAD], k, len, sig_name[SIG_SPREAD],
			 sig_w[SIG_SPREAD], now);
}

/* Distinct hours of the last day marked in h[24] (hour number + 1). */
static uint32_t
hours_in_day(const uint32_t h[24], uint32_t hour)
{
	uint32_t i, n = 0;

	for (i = 0; i < 24; i++)
		if (h[i] != 0 && h[i] + 24 > hour + 1)
			n++;
	return n;
}

/* A short session ended from ip: count the accounts that ended one from
 * it within the hour; 1 when the address is a farm by now. */
static int
crowded(struct conn *d, uint64_t acct, const char *ip, int64_t now)
{
	unsigned char     a[16];
	struct conn_addr *r;
	uint32_t hour = (uint32_t)(now / CONN_HOUR), ah = (uint32_t)acct;
	int      n, i, slot = 0, seen = 0;

	if (d->shared == 0 || (n = addr_bin(ip, a)) == -1)
		return 0;
	/* IPv6: one host's /64 */
	r = det_cache_get(d->addrs,
			  det_hash(CONN_ADDR_TWEAK, (char *)a, n == 4 ? 4 : 8),
			  now, 1);
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
		if (r->at[i] != 0 && now - r->at[i] < CONN_HOUR)
			seen++;
	if ((uint32_t)seen >= d->shared)
		r->crowded[hour % 24] = hour + 1;
	return hours_in_day(r->crowded, hour) >= CONN_CROWD_HOURS &&
	       r->crowded[hour % 24] == hour + 1;
}

static void
conn_event(void *arg, struct policy *p, const struct pol_event *e)
{
	struct conn      *d = arg;
	struct conn_acct *r;
	char              k[POL_KEY_MAX];
	int64_t           now = clock_wall_ms();
	uint64_t          kh;
	uint32_t          hour = (uint32_t)(now / CONN_HOUR);
	int               len;

	if ((e->type != POL_EV_SESSION_START &&
	     e->type != POL_EV_SESSION_END) ||
	    e->jid == NULL || (len = pol_norm_jid(e->jid, k, sizeof k)) == -1 ||
	    strchr(k, '@') == NULL)
		return;
	kh = det_hash(CONN_TWEAK, k, (size_t)len);
	r = det_cache_get(d->accts, kh, now, 1);
	if (e->type == POL_EV_SESSION_START) {
		spread(d, p, r, k, (size_t)len, e->ip, now);
		return;
	}
	if (e->duration_ms > d->short_ms)
		return;
	r->hour[hour % 24] = hour + 1;
	if (d->hours > 0 && hours_in_day(r->hour, hour) >= d->hours)
		det_hold(p, &r->held[SIG_CLOCK], k, (size_t)len,
			 sig_name[SIG_CLOCK], sig_w[SIG_CLOCK], now);
	if (crowded(d, kh, e->ip, now))
		det_hold(p, &r->held[SIG_SHARED], k, (size_t)len,
			 sig_name[SIG_SHARED], sig_w[SIG_SHARED], now);
}
