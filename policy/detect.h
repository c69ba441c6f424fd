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
 * default). The three bot-login signals together reach quarantine, none
 * alone reaches throttle. Each fires at most once a day and decays with
 * the half-life, so their sum (12) leaves room for a bot whose habits
 * show up a few hours apart (4.5 x 0.5^(5h/6h) + 7.5 is still 10). */
#define DET_W_LOGIN_CASE 4.5     /* login typed in another case */
#define DET_W_SHORT_SESSIONS 4.0 /* repeated short sessions */
#define DET_W_OVERLAP 3.5        /* several overlapping sessions */
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

/* Mark the body, URL and host fingerprints of g as a content wave at
 * once (a message to a trap recipient): later stranger messages that
 * carry any of them are refused and their senders penalised. */
void det_content_mark(struct policy *, const struct pol_gate *);

/* Every record of a det_cache starts with this header. */
struct det_ent {
	uint64_t key;  /* 0 = empty slot */
	int64_t  used; /* unix ms of the last touch; oldest is evicted */
};

/* A set-associative table of fixed-size records: bounded (never grows),
 * O(1), the least recently used record of a full set is replaced. */
struct det_cache;

struct det_cache *det_cache_new(size_t cap, size_t recsz);
void              det_cache_free(struct det_cache *);
/* The record for key, or NULL; with create, a zeroed fresh one (evicting
 * if needed) whose header is filled in. */
void    *det_cache_get(struct det_cache *, uint64_t key, int64_t now_ms,
		       int create);
void     det_cache_del(struct det_cache *, void *rec);
size_t   det_cache_count(const struct det_cache *);
uint64_t det_cache_evictions(const struct det_cache *);

/* Keyed (SipHash) hash of a string in the detector's own domain. */
uint64_t det_hash(uint64_t tweak, const char *, size_t);

/* The node (local part) of a login or JID, lowercased into out if fold;
 * length, or -1 if empty or too long. */
int det_node(const char *, char *, size_t, int fold);

/* Fixed windows: count events per window_ms; returns the count including
 * this one. *start and *n are the caller's stored window. */
uint32_t det_window_add(int64_t *start, uint32_t *n, int64_t now_ms,
			int64_t window_ms);

#endif
