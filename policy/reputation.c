/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the subject table: one reputation per account, domain,
 * address and network.
 *
 * A score decays exponentially (score * 2^(-dt / half-life)); it is stored
 * as (score, score_at) and decayed on read, so idle subjects cost nothing.
 * The table is open addressing on a keyed hash with the key string kept in
 * the subject (lookups compare it: no false matches), sized once for its
 * cap. Only subjects with something to remember live here: a fresh account
 * that behaves never gets an entry.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/siphash.h"
#include "../core/xmalloc.h"
#include "policy_int.h"

#define REP_TWEAK 0x5245500000000000ull /* "REP": subject key domain */
#define REP_MIN_SLOTS 64                /* slots, smallest table */
#define REP_START_SLOTS 4096 /* slots at first; doubled up to the cap's */
#define REP_EVICT_SAMPLE 16  /* occupied slots looked at for a victim */
#define REP_EVICT_SCAN 256   /* slots scanned at most for a victim */
#define REP_FORGET 0.05      /* score units: below this a subject is gone */

struct rep_slot {
	uint64_t         hash; /* 0 = empty */
	struct rep_subj *s;
};

struct rep {
	struct rep_slot *slots;
	size_t           mask;
	size_t           max_slots; /* twice the cap, a power of two */
	size_t           cap;
	size_t           count;
	size_t           sweep_pos;
	struct rep_list  listed;
	struct rep_list  dirty;
	uint64_t         evictions;
	uint64_t         drops;
};

static size_t rep_slot_of(const struct rep *, enum fg_subj, const char *,
			  size_t, uint64_t);
static void   rep_remove_at(struct rep *, size_t);
static void   rep_grow(struct rep *);
static int    rep_evictable(const struct rep_subj *);
static int    rep_make_room(struct rep *, uint64_t, int64_t, double);
static struct rep_subj *rep_insert(struct rep *, enum fg_subj, const char *,
				   size_t, uint64_t, int64_t);

struct rep *
rep_new(size_t cap)
{
	struct rep *r;
	size_t      n = REP_MIN_SLOTS;

	if (cap == 0)
		cap = 1;
	while (n < cap * 2)
		n <<= 1;
	r = xcalloc(1, sizeof *r);
	r->max_slots = n;
	/* grown with the subjects (load <= 1/2), up to the cap's size */
	if (n > REP_START_SLOTS)
		n = REP_START_SLOTS;
	r->slots = xcalloc_table(n, sizeof *r->slots);
	r->mask = n - 1;
	r->cap = cap;
	LIST_INIT(&r->listed);
	LIST_INIT(&r->dirty);
	return r;
}

void
rep_free(struct rep *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i <= r->mask; i++)
		if (r->slots[i].s != NULL) {
			free(r->slots[i].s->actor);
			free(r->slots[i].s->reason);
			free(r->slots[i].s);
		}
	xfree_table(r->slots, r->mask + 1, sizeof *r->slots);
	free(r);
}

uint64_t
rep_hash(enum fg_subj type, const char *key, size_t len)
{
	uint64_t h = sip_hash(REP_TWEAK | (uint64_t)type, key, len);

	return h ? h : 1;
}

/* Slot holding (type, key), or the empty slot where it would go. */
static size_t
rep_slot_of(const struct rep *r, enum fg_subj type, const char *key, size_t len,
	    uint64_t h)
{
	size_t           i = h & r->mask;
	struct rep_subj *s;

	for (; r->slots[i].hash != 0; i = (i + 1) & r->mask) {
		if (r->slots[i].hash != h)
			continue;
		s = r->slots[i].s;
		if (s->type == type && s->keylen == len &&
		    memcmp(s->key, key, len) == 0)
			break;
	}
	return i;
}

void
rep_prefetch(const struct rep *r, uint64_t h)
{
	__builtin_prefetch(&r->slots[h & r->mask], 0);
}

void
rep_prefetch_subj(const struct rep *r, uint64_t h)
{
	const struct rep_slot *sl = &r->slots[h & r->mask];

	/* the home slot only: a probe past it is rare at half load */
	if (sl->hash == h) {
		__builtin_prefetch(sl->s);
		__builtin_prefetch((const char *)sl->s + 64);
	}
}

struct rep_subj *
rep_find(const struct rep *r, enum fg_subj type, const char *key, size_t len,
	 uint64_t h)
{
	return r->slots[rep_slot_of(r, type, key, len, h)].s;
}

/* Empty slot i, shifting back the rest of its cluster (no tombstones). */
static void
rep_remove_at(struct rep *r, size_t i)
{
	size_t j = i, home;

	for (;;) {
		j = (j + 1) & r->mask;
		if (r->slots[j].hash == 0)
			break;
		home = r->slots[j].hash & r->mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		r->slots[i] = r->slots[j];
		i = j;
	}
	r->slots[i].hash = 0;
	r->slots[i].s = NULL;
	r->count--;
}

void
rep_del(struct rep *r, struct rep_subj *s)
{
	size_t i = rep_slot_of(r, s->type, s->key, s->keylen, s->hash);

	if (r->slots[i].s != s)
		return;
	if (s->flags & REP_F_LISTED)
		LIST_REMOVE(s, listed);
	if (s->flags & REP_F_DIRTY)
		LIST_REMOVE(s, dirty);
	rep_remove_at(r, i);
	free(s->actor);
	free(s->reason);
	free(s);
}

/* Only plain subjects may be dropped: a verdict or an override is a
 * decision, and decisions are never lost to a flood. */
static int
rep_evictable(const struct rep_subj *s)
{
	return s->verdict == FG_V_ALLOW && s->override == FG_OVR_NONE;
}

/* Full: drop the lowest-scored plain subject near h's home slot. */
static int
rep_make_room(struct rep *r, uint64_t h, int64_t now, double hl)
{
	size_t           i = h & r->mask, seen = 0, scanned;
	struct rep_subj *s, *best = NULL;
	double           sc, best_sc = 0;

	for (scanned = 0; scanned < REP_EVICT_SCAN && seen < REP_EVICT_SAMPLE;
	     scanned++, i = (i + 1) & r->mask) {
		if ((s = r->slots[i].s) == NULL || !rep_evictable(s))
			continue;
		seen++;
		sc = rep_score(s, now, hl);
		if (best == NULL || sc < best_sc) {
			best = s;
			best_sc = sc;
		}
	}
	if (best == NULL)
		return -1;
	rep_del(r, best);
	r->evictions++;
	return 0;
}

struct rep_subj *
rep_get(struct rep *r, enum fg_subj type, const char *key, size_t len,
	uint64_t h, int64_t now, double hl)
{
	size_t i;

	if (h == 0)
		h = rep_hash(type, key, len);
	i = rep_slot_of(r, type, key, len, h);
	if (r->slots[i].s != NULL)
		return r->slots[i].s;
	if (len > UINT16_MAX)
		return NULL;
	if (r->count >= r->cap) {
		if (rep_make_room(r, h, now, hl) == -1) {
			r->drops++;
			return NULL;
		}
	}
	return rep_insert(r, type, key, len, h, now);
}

/* Double the slots; never past max_slots. */
static void
rep_grow(struct rep *r)
{
	r->slots = xtable_double(r->slots, r->mask + 1, sizeof *r->slots);
	r->mask = r->mask * 2 + 1;
}

/* Create (type, key) in its empty slot, whatever the cap says. */
static struct rep_subj *
rep_insert(struct rep *r, enum fg_subj type, const char *key, size_t len,
	   uint64_t h, int64_t now)
{
	struct rep_subj *s;
	size_t           i;

	if (r->mask + 1 < r->max_slots && (r->count + 1) * 2 > r->mask + 1)
		rep_grow(r);
	i = rep_slot_of(r, type, key, len, h);

	s = xcalloc(1, sizeof *s + len + 1);
	s->hash = h;
	s->type = (uint8_t)type;
	s->keylen = (uint16_t)len;
	memcpy(s->key, key, len);
	s->score_at = now;
	s->updated = now;
	r->slots[i].hash = h;
	r->slots[i].s = s;
	r->count++;
	return s;
}

/*
 * Admin actions must always find room: first a plain subject near h, then
 * the automatic verdict (never an override) with the lowest score in the
 * whole table. A full scan is fine for something an admin types. Only a
 * table holding nothing but overrides grows past its cap, into the spare
 * slots (the index is sized twice the cap) up to three quarters of them.
 */
struct rep_subj *
rep_get_admin(struct rep *r, enum fg_subj type, const char *key, size_t len,
	      int64_t now, double hl)
{
	struct rep_subj *s, *best = NULL;
	uint64_t         h = rep_hash(type, key, len);
	double           sc, best_sc = 0;
	size_t           i;

	if ((s = rep_find(r, type, key, len, h)) != NULL)
		return s;
	if (r->count >= r->cap && rep_make_room(r, h, now, hl) == -1) {
		for (i = 0; i <= r->mask; i++) {
			if ((s = r->slots[i].s) == NULL ||
			    s->override != FG_OVR_NONE)
				continue;
			sc = rep_score(s, now, hl);
			if (best == NULL || sc < best_sc) {
				best = s;
				best_sc = sc;
			}
		}
		if (best != NULL) {
			rep_del(r, best);
			r->evictions++;
		} else if (r->count >= (r->mask + 1) / 4 * 3 ||
			   len > UINT16_MAX)
			return NULL;
		else
			return rep_insert(r, type, key, len, h, now);
	}
	return rep_get(r, type, key, len, h, now, hl);
}

size_t
rep_count(const struct rep *r)
{
	return r->count;
}

size_t
rep_bytes(const struct rep *r)
{
	return sizeof *r + (r->mask + 1) * sizeof *r->slots;
}

void
rep_counters(const struct rep *r, uint64_t *evictions, uint64_t *drops)
{
	*evictions = r->evictions;
	*drops = r->drops;
}

struct rep_list *
rep_listed(struct rep *r)
{
	return &r->listed;
}

struct rep_list *
rep_dirty(struct rep *r)
{
	return &r->dirty;
}

void
rep_relist(struct rep *r, struct rep_subj *s)
{
	int want = s->verdict != FG_V_ALLOW || s->override != FG_OVR_NONE;

	if (want && !(s->flags & REP_F_LISTED)) {
		LIST_INSERT_HEAD(&r->listed, s, listed);
		s->flags |= REP_F_LISTED;
	} else if (!want && (s->flags & REP_F_LISTED)) {
		LIST_REMOVE(s, listed);
		s->flags &= ~REP_F_LISTED;
	}
}

void
rep_mark_dirty(struct rep *r, struct rep_subj *s)
{
	if (s->flags & REP_F_DIRTY)
		return;
	LIST_INSERT_HEAD(&r->dirty, s, dirty);
	s->flags |= REP_F_DIRTY;
}

void
rep_clean(struct rep_subj *s)
{
	if (!(s->flags & REP_F_DIRTY))
		return;
	LIST_REMOVE(s, dirty);
	s->flags &= ~REP_F_DIRTY;
}

size_t
rep_sweep(struct rep *r, int64_t now, double hl, size_t budget)
{
	struct rep_subj *s;
	size_t           n = 0, i;

	while (budget-- > 0 && r->count > 0) {
		i = r->sweep_pos;
		s = r->slots[i].s;
		if (s != NULL && rep_evictable(s) &&
		    !(s->flags & REP_F_DIRTY) &&
		    rep_score(s, now, hl) < REP_FORGET) {
			rep_del(r, s); /* the next entry may shift into i */
			n++;
			continue;
		}
		r->sweep_pos = (i + 1) & r->mask;
	}
	return n;
}

double
rep_decay(double score, int64_t dt_ms, double hl)
{
	/* a wall clock stepping back never inflates a score */
	if (dt_ms <= 0 || hl <= 0)
		return score;
	return score * exp2(-(double)dt_ms / hl);
}

double
rep_score(const struct rep_subj *s, int64_t now, double hl)
{
	return rep_decay(s->score, now - s->score_at, hl);
}

void
rep_add(struct rep_subj *s, double w, int64_t now, double hl, double ceil_)
{
	double sc = rep_score(s, now, hl);

	/* a capped signal never lowers a score that other signals raised */
	if (w > 0 && sc >= ceil_)
		w = 0;
	else if (w > 0 && sc + w > ceil_)
		w = ceil_ - sc;
	sc += w;
	if (sc < 0)
		sc = 0;
	s->score = sc;
	if (now > s->score_at)
		s->score_at = now;
	s->updated = now;
}

void
rep_note(struct rep_subj *s, unsigned name, double w)
{
	s->sig_name[s->sig_head] = (uint8_t)name;
	s->sig_w[s->sig_head] = (float)w;
	s->sig_head = (uint8_t)((s->sig_head + 1) % REP_NSIG);
	if (s->sig_n < REP_NSIG)
		s->sig_n++;
}
