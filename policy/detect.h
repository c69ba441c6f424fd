/* SPDX-License-Identifier: ISC */
/*
 * floodgate - detectors (policy/detect_*.c): what operators found in
 * their logs, turned into signals on subjects. Each detector is one
 * struct pol_detector listed in policy.c's table; its state lives in
 * bounded, keyed tables (det_cache) so no event stream can grow it.
 * doc/detectors.md says what each one looks at and which evidence names
 * it writes.
 */
#ifndef FG_DETECT_H
#define FG_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "policy_int.h"

/* Evidence weights (score units; quarantine-at 10, block-at 40 by
 * default). The login signals are held (det_hold): one never gives an
 * account more than its weight, however long its condition lasts, so a
 * sum of weights bounds a score. What humans do (a capitalising
 * keyboard, a flapping link, three devices) adds up to 8.5 at most;
 * bots reach quarantine through the connection habits no human shows,
 * any two of spread, round-the-clock and shared-address (doc/detectors.md
 * has the measurements behind these numbers). */
#define DET_W_LOGIN_CASE 1.5     /* login typed in another case */
#define DET_W_SHORT_SESSIONS 4.0 /* repeated short sessions */
#define DET_W_OVERLAP 3.0        /* several overlapping sessions */
#define DET_W_SPREAD 6.0         /* one account from many networks */
#define DET_W_CLOCK 6.0          /* short sessions around the clock */
#define DET_W_SHARED 5.0         /* one address, many short accounts */
#define DET_W_CONTENT 6.0        /* sender of a content-wave fingerprint */
#define DET_W_AUTH 15.0          /* an IP guessing on an attacked name */
#define DET_W_AUTH_IP 15.0       /* an IP over its own failure count */
#define DET_W_AUTH_PREFIX 6.0    /* a network over its count (throttles) */
#define DET_W_URL_LIST 6.0       /* a stranger message with a listed host */

extern const struct pol_detector det_reg;
extern const struct pol_detector det_login;
extern const struct pol_detector det_content;
extern const struct pol_detector det_auth;
extern const struct pol_detector det_upstream;
extern const struct pol_detector det_trap;
extern const struct pol_detector det_lists;

/* The login detector's key for an account (pol_norm_jid form), and a
 * prefetch of its record (det_cache_prefetch) for pol_prefetch_account. */
uint64_t det_login_hash(const char *acct, size_t len);
void     det_login_prefetch(void *state, uint64_t h, int deep);

/* Mark the body, URL and host fingerprints of g as a content wave at
 * once (a message to a trap recipient): later stranger messages that
 * carry any of them are refused and their senders penalised. */
void det_content_mark(struct policy *, const struct pol_gate *);

/* Every record of a det_cache starts with this header. */
struct det_ent {
	uint64_t key; /* 0 = empty slot */
};

/* A set-associative table of fixed-size records: bounded (never grows),
 * O(1), the least recently used record of a full set is replaced. */
struct det_cache;

struct det_cache *det_cache_new(size_t cap, size_t recsz);
void              det_cache_free(struct det_cache *);
/* The record for key, or NULL; with create, a zeroed fresh one (evicting
 * if needed) whose header is filled in. */
void *det_cache_get(struct det_cache *, uint64_t key, int64_t now_ms,
		    int create);
void  det_cache_del(struct det_cache *, void *rec);
/* A hint: start loading key's set of keys, or (deep, once that set is
 * in cache) its record. */
void     det_cache_prefetch(const struct det_cache *, uint64_t key, int deep);
size_t   det_cache_count(const struct det_cache *);
uint64_t det_cache_evictions(const struct det_cache *);

/* Keyed (SipHash) hash of a string in the detector's own domain. */
uint64_t det_hash(uint64_t tweak, const char *, size_t);

/* The node (local part) of a login or JID, lowercased into out if fold;
 * length, or -1 if empty or too long. */
int det_node(const char *, char *, size_t, int fold);

/* What a held signal gave an account, and when. */
struct det_held {
	float    left; /* score units given at `at` */
	uint32_t at;   /* unix s; 0 = never */
};

/* Signal sig (weight w) on the account unless what it gave before,
 * decayed, is still 3/4 of w; then add what brings it back to w. A
 * condition that lasts all day keeps the signal near w, never above. */
void det_hold(struct policy *, struct det_held *, const char *acct, size_t len,
	      const char *sig, double w, int64_t now_ms);

/* Fixed windows: count events per window_ms; returns the count including
 * this one. *start and *n are the caller's stored window. */
uint32_t det_window_add(int64_t *start, uint32_t *n, int64_t now_ms,
			int64_t window_ms);

#endif
