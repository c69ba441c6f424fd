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

struct det_cache {
	unsigned char *recs;
	/* each set's keys side by side, so a lookup reads one cache line,
	 * not one per record of the set; a miss that creates a record reads
	 * the records' last-use times to pick the one to replace */
	uint64_t *keys;
	size_t    recsz;
	size_t    nsets; /* power of two */
	size_t    count;
	uint64_t  evictions;
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
	c->keys = xcalloc_table(c->nsets * DET_WAYS, sizeof *c->keys);
	return c;
}

void
det_cache_free(struct det_cache *c)
{
	if (c == NULL)
		return;
	xfree_table(c->recs, c->nsets * DET_WAYS, c->recsz);
	xfree_table(c->keys, c->nsets * DET_WAYS, sizeof *c->keys);
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
	size_t          base, i, victim = SIZE_MAX;
	struct det_ent *e;

	if (key == 0)
		key = 1; /* 0 marks an empty slot */
	base = (key & (c->nsets - 1)) * DET_WAYS;
	for (i = base; i < base + DET_WAYS; i++)
		if (c->keys[i] == key) {
			e = rec_at(c, i);
			e->used = now;
			return e;
		}
	if (!create)
		return NULL;
	/* an empty slot first, else the least recently used */
	for (i = base; i < base + DET_WAYS; i++) {
		if (c->keys[i] == 0) {
			victim = i;
			break;
		}
		if (victim == SIZE_MAX ||
		    rec_at(c, i)->used < rec_at(c, victim)->used)
			victim = i;
	}
	if (c->keys[victim] != 0)
		c->evictions++;
	else
		c->count++;
	e = rec_at(c, victim);
	memset(e, 0, c->recsz);
	e->key = c->keys[victim] = key;
	e->used = now;
	return e;
}

void
det_cache_prefetch(const struct det_cache *c, uint64_t key, int deep)
{
	size_t base, i, off;

	if (key == 0)
		key = 1;
	base = (key & (c->nsets - 1)) * DET_WAYS;
	if (!deep) {
		__builtin_prefetch(&c->keys[base]);
		return;
	}
	for (i = base; i < base + DET_WAYS; i++)
		if (c->keys[i] == key) {
			for (off = 0; off < c->recsz; off += DET_LINE)
				__builtin_prefetch(c->recs + i * c->recsz +
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
	c->keys[i] = 0;
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
