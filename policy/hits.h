/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the recent refusals and failed logins, kept in a ring in
 * memory for the moderation page's "recent limit hits" and charts.
 *
 * Writing a hit is a slot copy on the refusal path only (the allow path
 * pays nothing); a reader drains the ring from its own cursor, usually
 * once a second from a timer, and learns how many hits it missed when
 * more than POL_HITS_RING arrived in between.
 */
#ifndef FG_POL_HITS_H
#define FG_POL_HITS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/types.h"

struct policy;

#define POL_HITS_RING 8192 /* hits kept, a power of two */
#define POL_HIT_KEY 96     /* bytes of a subject key kept, NUL included */

/* Why a gate was refused (or, for POL_HIT_AUTH_FAIL, a failed login). */
enum pol_hit_why {
	POL_HIT_RATE,       /* a rate limit overflowed */
	POL_HIT_QUARANTINE, /* a quarantine refused it */
	POL_HIT_BLOCK,      /* a block refused it */
	POL_HIT_CONTENT,    /* a content wave or a listed URL host */
	POL_HIT_TRAP,       /* a spam trap: a trap name or a trap recipient */
	POL_HIT_OTHER,      /* another detector */
	POL_HIT_AUTH_FAIL,  /* a failed login (not a gate); keep it last */
	POL_HIT__MAX
};

struct pol_hit {
	uint8_t why;  /* enum pol_hit_why */
	uint8_t kind; /* enum fg_kind of the gate; FG_KIND_AUTH_FAIL */
	uint8_t type; /* enum fg_subj of the subject that decided */
	char    key[POL_HIT_KEY]; /* that subject, cut to fit */
};

const char *pol_hit_why_name(enum pol_hit_why);

/* Hand each hit written since *cursor to cb (oldest first) and move the
 * cursor; returns how many were lost because the ring wrapped. */
typedef void (*pol_hit_cb)(const struct pol_hit *, void *);
uint64_t pol_hits_drain(const struct policy *, uint64_t *cursor, pol_hit_cb,
			void *);

#endif
