/* SPDX-License-Identifier: ISC */
/*
 * floodgate - string-keyed hash table for the offline log tools.
 *
 * Slots hold the hash, a pointer to a key copy and the value; probing
 * compares hashes first so most misses never touch the key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/siphash.h"
#include "../core/xmalloc.h"
#include "strtab.h"

#define STRTAB_MIN 64                    /* initial slots, power of two */
#define STRTAB_LOAD_PCT 70               /* grow when this full, percent */
#define STRTAB_TWEAK 0x73747274616200ULL /* "strtab": own hash domain */

struct slot {
	uint64_t hash;
	char    *key; /* NULL = empty */
	size_t   len;
	void    *val;
};

struct strtab {
	struct slot *slots;
	size_t       mask;
	size_t       count;
	uint64_t     seed; /* SipHash tweak */
};

static void grow(struct strtab *);

/* Keyed with the process's SipHash key: names in logs are chosen by
 * attackers, who must not be able to make them collide. */
static uint64_t
hash_bytes(uint64_t tweak, const char *p, size_t n)
{
	return sip_hash(tweak, p, n);
}

struct strtab *
strtab_new(void)
{
	struct strtab *t = xcalloc(1, sizeof(*t));

	t->seed = STRTAB_TWEAK;
	t->slots = xcalloc(STRTAB_MIN, sizeof(*t->slots));
	t->mask = STRTAB_MIN - 1;
	return t;
}

void
strtab_free(struct strtab *t, void (*freefn)(void *))
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i <= t->mask; i++) {
		if (t->slots[i].key == NULL)
			continue;
		if (freefn != NULL)
			freefn(t->slots[i].val);
		free(t->slots[i].key);
	}
	free(t->slots);
	free(t);
}

static void
grow(struct strtab *t)
{
	struct slot *old = t->slots;
	size_t       oldn = t->mask + 1, i, j;

	t->slots = xcalloc(oldn * 2, sizeof(*t->slots));
	t->mask = oldn * 2 - 1;
	for (i = 0; i < oldn; i++) {
		if (old[i].key == NULL)
			continue;
		j = old[i].hash & t->mask;
		while (t->slots[j].key != NULL)
			j = (j + 1) & t->mask;
		t->slots[j] = old[i];
	}
	free(old);
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t
find(const struct strtab *t, const char *key, size_t len, uint64_t h)
{
	size_t i = h & t->mask;

	for (;;) {
		const struct slot *s = &t->slots[i];

		if (s->key == NULL)
			return i;
		if (s->hash == h && s->len == len &&
		    memcmp(s->key, key, len) == 0)
			return i;
		i = (i + 1) & t->mask;
	}
}

uint64_t
strtab_hash(const struct strtab *t, const char *key, size_t len)
{
	return hash_bytes(t->seed, key, len);
}

void
strtab_prefetch(const struct strtab *t, uint64_t h)
{
	__builtin_prefetch(&t->slots[h & t->mask]);
}

void
strtab_prefetch_val(const struct strtab *t, uint64_t h)
{
	const struct slot *s = &t->slots[h & t->mask];

	/* the home slot only: a probe would wait for more misses */
	if (s->key != NULL && s->hash == h) {
		__builtin_prefetch(s->key);
		__builtin_prefetch(s->val);
	}
}

void *
strtab_get(const struct strtab *t, const char *key, size_t len)
{
	return strtab_get_h(t, key, len, hash_bytes(t->seed, key, len));
}

void *
strtab_get_h(const struct strtab *t, const char *key, size_t len, uint64_t h)
{
	size_t i = find(t, key, len, h);

	return t->slots[i].key != NULL ? t->slots[i].val : NULL;
}

void **
strtab_put(struct strtab *t, const char *key, size_t len, int *isnew)
{
	return strtab_put_h(t, key, len, hash_bytes(t->seed, key, len), isnew);
}

void **
strtab_put_h(struct strtab *t, const char *key, size_t len, uint64_t h,
	     int *isnew)
{
	size_t i = find(t, key, len, h);

	if (t->slots[i].key != NULL) {
		*isnew = 0;
		return &t->slots[i].val;
	}
	if ((t->count + 1) * 100 > (t->mask + 1) * STRTAB_LOAD_PCT) {
		grow(t);
		i = find(t, key, len, h);
	}
	t->slots[i].hash = h;
	t->slots[i].key = xstrndup(key, len);
	t->slots[i].len = len;
	t->slots[i].val = NULL;
	t->count++;
	*isnew = 1;
	return &t->slots[i].val;
}

void *
strtab_del(struct strtab *t, const char *key, size_t len)
{
	size_t i = find(t, key, len, hash_bytes(t->seed, key, len)), j, home;
	void  *val;

	if (t->slots[i].key == NULL)
		return NULL;
	val = t->slots[i].val;
	free(t->slots[i].key);
	t->slots[i].key = NULL;
	t->count--;
	/* Backward shift: move later members of the cluster into the hole
	 * when their home slot does not lie between the hole and them. */
	for (j = (i + 1) & t->mask; t->slots[j].key != NULL;
	     j = (j + 1) & t->mask) {
		home = t->slots[j].hash & t->mask;
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j].key = NULL;
			i = j;
		}
	}
	return val;
}

size_t
strtab_count(const struct strtab *t)
{
	return t->count;
}

int
strtab_next(const struct strtab *t, size_t *pos, const char **key, void **val)
{
	while (*pos <= t->mask) {
		const struct slot *s = &t->slots[(*pos)++];

		if (s->key != NULL) {
			*key = s->key;
			*val = s->val;
			return 1;
		}
	}
	return 0;
}
