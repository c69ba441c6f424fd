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

struct det_cache {
	unsigned char *recs;
	size_t         recsz;
	size_t         nsets; /* power of two */
	size_t         count;
	uint64_t       evictions;
};

struct det_cache *
det_cache_new(size_t cap, size_t recsz)
{
	struct det_cache *c = xcalloc(1, sizeof *c);

	c->nsets = DET_MIN_SETS;
	while (c->nsets * DET_WAYS < cap)
		c->nsets <<= 1;
	c->recsz = recsz;
	c->recs = xcalloc(c->nsets * DET_WAYS, recsz);
	return c;
}

void
det_cache_free(struct det_cache *c)
{
	if (c == NULL)
		return;
	free(c->recs);
	free(c);
}

void *
det_cache_get(struct det_cache *c, uint64_t key, int64_t now, int create)
{
	unsigned char  *set;
	struct det_ent *e, *victim = NULL;
	size_t          i;

	if (key == 0)
		key = 1; /* 0 marks an empty slot */
	set = c->recs + (key & (c->nsets - 1)) * DET_WAYS * c->recsz;
	for (i = 0; i < DET_WAYS; i++) {
		e = (struct det_ent *)(set + i * c->recsz);
		if (e->key == key) {
			e->used = now;
			return e;
		}
		/* an empty slot first, else the least recently used */
		if (victim == NULL || (victim->key != 0 &&
				       (e->key == 0 || e->used < victim->used)))
			victim = e;
	}
	if (!create)
		return NULL;
	if (victim->key != 0)
		c->evictions++;
	else
		c->count++;
	memset(victim, 0, c->recsz);
	victim->key = key;
	victim->used = now;
	return victim;
}

void
det_cache_del(struct det_cache *c, void *rec)
{
	struct det_ent *e = rec;

	if (e == NULL || e->key == 0)
		return;
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
	double left = 0;

	if (h->at != 0 && now >= h->at)
		left = rep_decay(h->left, now - h->at, p->prm.half_life_ms);
	if (left >= w * 0.75)
		return;
	pol_signal_key(p, FG_SUBJ_ACCOUNT, acct, len, sig, w - left, HUGE_VAL);
	h->left = (float)w;
	h->at = now;
}
