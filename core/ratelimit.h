/* SPDX-License-Identifier: ISC */
/*
 * floodgate - GCRA rate table: one theoretical arrival time (TAT) per key.
 *
 * Keys are 64-bit keyed SipHash values (rl_key()); the table stores only
 * the hash, never the string, so two distinct keys share a bucket with
 * probability ~n/2^64 per lookup (n tracked keys): about 5e-14 at 1M keys,
 * the price of 16 bytes per slot. A collision can only merge two buckets
 * (one key sees the other's debt); it cannot be provoked, since the hash
 * key is secret and per process.
 *
 * The slot array is allocated once, sized for max_keys at a load factor of
 * at most 1/2 (so 32 to 64 bytes per key at the cap), and never grows: a
 * flood of distinct keys evicts the least-indebted entry instead. Time is
 * a monotonic nanosecond count passed in by the caller; a value lower
 * than one seen before is treated as that one (time never runs backwards
 * here).
 */
#ifndef FG_RATELIMIT_H
#define FG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct rl_table;

struct rl_stats {
	size_t   keys;     /* tracked now */
	size_t   max_keys; /* the cap */
	size_t   slots;    /* allocated slots (power of two) */
	size_t   bytes;    /* allocated bytes, table included */
	uint64_t allowed;
	uint64_t denied;
	uint64_t inserts;
	uint64_t evictions; /* entries still in debt dropped for room */
	uint64_t reclaimed; /* entries with TAT <= now dropped */
};

struct rl_table *rl_new(size_t max_keys);
void             rl_free(struct rl_table *);

/* Hash of (kind, subject type, subject string) with the process key. */
uint64_t rl_key(enum fg_kind, enum fg_subj, const char *, size_t);
/* The bucket key of kind for a subject whose keyed (SipHash) hash is h:
 * a bijective mix of h and kind, so one SipHash serves every kind of a
 * subject and keys stay as unpredictable as h. */
uint64_t rl_key_derive(uint64_t h, enum fg_kind);
/* Start loading key's slot into the cache (overlaps the miss with other
 * work before rl_take). */
void rl_prefetch(const struct rl_table *, uint64_t key);

/* Emission interval T and tolerance tau (= T * (burst - 1)) of a rate of
 * count events per per_ms milliseconds, bursts of burst; 0 if count is
 * 0 (unlimited). */
void rl_rate(uint32_t count, uint64_t per_ms, uint32_t burst, uint64_t *T_ns,
	     uint64_t *tau_ns);

/* One event for key at now: 1 allowed (debt recorded), 0 over the limit
 * with *retry_ns (may be NULL) the wait until it would be allowed. T_ns 0
 * allows without tracking. */
int rl_take(struct rl_table *, uint64_t key, uint64_t now_ns, uint64_t T_ns,
	    uint64_t tau_ns, uint64_t *retry_ns);

/* Forget key (an admin reset); 1 if it was tracked. */
int rl_del(struct rl_table *, uint64_t key);
/* 1 and *tat if key is tracked. */
int rl_peek(const struct rl_table *, uint64_t key, uint64_t *tat);

/* Examine at most budget slots from where the last sweep stopped and drop
 * entries whose TAT <= now; returns how many were dropped. */
size_t rl_sweep(struct rl_table *, uint64_t now_ns, size_t budget);

void rl_get_stats(const struct rl_table *, struct rl_stats *);

#endif
