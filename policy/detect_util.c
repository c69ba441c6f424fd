/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the detectors' shared pieces: a bounded set-associative
 * record table keyed by SipHash values, and small helpers.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/siphash.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define DET_WAYS 8      /* records per set; the oldest of a full set goes */
#define DET_MIN_SETS 16 /* smallest table, sets */
#define DET_LINE 64     /* cache line, bytes */

/* One set: its keys and last-use times side by side (two cache lines),
 * so that a lookup reads one line and choosing the record to replace
 * reads the next, not one line per record of the set. */
struct det_set {
	uint64_t key[DET_WAYS];  /* 0 = empty */
	int64_t  used[DET_WAYS]; /* unix ms of the last touch */
};

struct det_cache {
	unsigned char  *recs;
	struct det_set *sets;
	size_t          recsz;
	size_t          nsets; /* power of two */
	size_t          count;
	uint64_t        evictions;
};

struct det_cache *
det_cache_new(size_t cap, size_t recsz)
{
	struct det_cache *c = xcalloc(1, sizeof *c);

	c->nsets = DET_MIN_SETS;
	while (c->nsets * DET_WAYS < cap)
		c->nsets <<= 1;
	c->recsz = recsz;
	/* huge pages when big: records are looked up at random */
	c->recs = xcalloc_table(c->nsets * DET_WAYS, recsz);
	c->sets = xcalloc_table(c->nsets, sizeof *c->sets);
	return c;
}

void
det_cache_free(struct det_cache *c)
{
	if (c == NULL)
		return;
	xfree_table(c->recs, c->nsets * DET_WAYS, c->recsz);
	xfree_table(c->sets, c->nsets, sizeof *c->sets);
	free(c);
}

static struct det_ent *
rec_at(const struct det_cache *c, size_t i)
{
	return (struct det_ent *)(c->recs + i * c->recsz);
}

void *
det_cache_get(struct det_cache *c, uint64_t key, int64_t now, int create)
{
	struct det_set *set;
	struct det_ent *e;
	size_t          i, victim = DET_WAYS;

	if (key == 0)
		key = 1; /* 0 marks an empty slot */
	set = &c->sets[key & (c->nsets - 1)];
	for (i = 0; i < DET_WAYS; i++)
		if (set->key[i] == key) {
			set->used[i] = now;
			return rec_at(c, (key & (c->nsets - 1)) * DET_WAYS + i);
		}
	if (!create)
		return NULL;
	/* an empty slot first, else the least recently used */
	for (i = 0; i < DET_WAYS; i++) {
		if (set->key[i] == 0) {
			victim = i;
			break;
		}
		if (victim == DET_WAYS || set->used[i] < set->used[victim])
			victim = i;
	}
	if (set->key[victim] != 0)
		c->evictions++;
	else
		c->count++;
	e = rec_at(c, (key & (c->nsets - 1)) * DET_WAYS + victim);
	memset(e, 0, c->recsz);
	e->key = set->key[victim] = key;
	set->used[victim] = now;
	return e;
}

void
det_cache_prefetch(const struct det_cache *c, uint64_t key, int deep)
{
	const struct det_set *set;
	size_t                i, off;

	if (key == 0)
		key = 1;
	set = &c->sets[key & (c->nsets - 1)];
	if (!deep) {
		__builtin_prefetch(set->key);
		__builtin_prefetch(set->used);
		return;
	}
	for (i = 0; i < DET_WAYS; i++)
		if (set->key[i] == key) {
			for (off = 0; off < c->recsz; off += DET_LINE)
				__builtin_prefetch(
				    c->recs +
				    ((key & (c->nsets - 1)) * DET_WAYS + i) *
					c->recsz +
				    off);
			return;
		}
}

void
det_cache_del(struct det_cache *c, void *rec)
{
	struct det_ent *e = rec;
	size_t          i;

	if (e == NULL || e->key == 0)
		return;
	i = (size_t)((unsigned char *)rec - c->recs) / c->recsz;
	c->sets[i / DET_WAYS].key[i % DET_WAYS] = 0;
	memset(e, 0, c->recsz);
	c->count--;
}

size_t
det_cache_count(const struct det_cache *c)
{
	return c->count;
}

uint64_t
det_cache_evictions(const struct det_cache *c)
{
	return c->evictions;
}

uint64_t
det_hash(uint64_t tweak, const char *s, size_t len)
{
	return sip_hash(tweak, s, len);
}

int
det_node(const char *s, char *out, size_t outsz, int fold)
{
	size_t n = strcspn(s, "@/"), i;

	if (n == 0 || n >= outsz)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = fold ? (char)tolower((unsigned char)s[i]) : s[i];
	out[n] = '\0';
	return (int)n;
}

uint32_t
det_window_add(int64_t *start, uint32_t *n, int64_t now, int64_t window_ms)
{
	if (now - *start >= window_ms || now < *start) {
		*start = now;
		*n = 0;
	}
	if (*n < UINT32_MAX)
		(*n)++;
	return *n;
}

void
det_hold(struct policy *p, struct det_held *h, const char *acct, size_t len,
	 const char *sig, double w, int64_t now)
{
	double  left = 0;
	int64_t at = (int64_t)h->at * 1000;

	if (h->at != 0 && now >= at)
		left = rep_decay(h->left, now - at, p->prm.half_life_ms);
	if (left >= w * 0.75)
		return;
	pol_signal_key(p, FG_SUBJ_ACCOUNT, acct, len, sig, w - left, HUGE_VAL);
	h->left = (float)w;
	h->at = (uint32_t)(now / 1000);
}
