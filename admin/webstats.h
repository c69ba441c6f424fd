/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the moderation page's chart figures: ring buffers of per
 * minute and per hour counts, filled once a second from the policy's
 * cumulative counters and its ring of recent hits (policy/hits.h), so
 * that the gate path pays no more than the increments it already makes.
 */
#ifndef FG_WEBSTATS_H
#define FG_WEBSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "../policy/hits.h"

struct policy;
struct webstats;

#define WEBSTATS_MINUTES 120 /* per-minute slots kept (2 hours) */
#define WEBSTATS_HOURS 48    /* per-hour slots kept (2 days) */
#define WEBSTATS_KEYS 32     /* domains / networks counted per hour */
#define WEBSTATS_RECENT 500  /* recent hits kept for the hits page */

struct webstats_key {
	char     key[POL_HIT_KEY];
	uint64_t count;
};

struct webstats_recent {
	int64_t        at; /* unix ms, to the second it was drained */
	struct pol_hit h;
};

struct webstats *webstats_new(void);
void             webstats_free(struct webstats *);
/* Take what the policy counted since the last call; now in unix ms. */
void webstats_tick(struct webstats *, const struct policy *, int64_t now);

/* The last n minutes (or hours), oldest first, the current one last. */
void webstats_minutes(const struct webstats *, int64_t now, size_t n,
		      uint64_t *gates, uint64_t *events);
void webstats_hours_why(const struct webstats *, int64_t now, size_t n,
			uint64_t (*why)[POL_HIT__MAX]);
/* The most counted remote domains (nets 0) or networks with failed
 * logins (nets 1) over the last n hours, most first; returns how many
 * (at most max). */
size_t webstats_top(const struct webstats *, int64_t now, size_t n, int nets,
		    struct webstats_key *out, size_t max);
/* Per hour, the count of one network's failed logins (or of a domain's
 * refusals), oldest first. */
void webstats_key_hours(const struct webstats *, int64_t now, size_t n,
			int nets, const char *key, uint64_t *out);
/* Recent hits, newest first, from skip on; returns how many were put. */
size_t webstats_recent(const struct webstats *, size_t skip,
		       struct webstats_recent *out, size_t max);
/* Hits lost because the policy's ring wrapped between two ticks. */
uint64_t webstats_lost(const struct webstats *);

#endif
