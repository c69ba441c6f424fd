/* SPDX-License-Identifier: ISC */
/*
 * floodgate - id-keyed pointer table (linear probing, backward-shift
 * deletion). Two ids with the same 64-bit SipHash would share a slot;
 * the key is this process's own and the ids are the server's, so no
 * client can arrange that.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/siphash.h"
#include "../core/xmalloc.h"
#include "idtab.h"

#define IDTAB_MIN 64                      /* initial slots, power of two */
#define IDTAB_LOAD_PCT 70                 /* grow when this full, percent */
#define IDTAB_TWEAK 0x6964746162000001ULL /* own hash domain */

struct idslot {
	uint64_t h; /* 0 = empty */
	void    *val;
};

struct idtab {
	struct idslot *slots;
	size_t         mask;
	size_t         count;
};

static uint64_t
id_hash(const char *id, size_t len)
{
	uint64_t h = sip_hash(IDTAB_TWEAK, id, len);

	return h != 0 ? h : 1;
}

struct idtab *
idtab_new(void)
{
	struct idtab *t = xcalloc(1, sizeof(*t));

	t->slots = xcalloc(IDTAB_MIN, sizeof(*t->slots));
	t->mask = IDTAB_MIN - 1;
	return t;
}

void
idtab_free(struct idtab *t, void (*freefn)(void *))
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; freefn != NULL && i <= t->mask; i++)
		if (t->slots[i].h != 0)
			freefn(t->slots[i].val);
	free(t->slots);
	free(t);
}

static size_t
find(const struct idtab *t, uint64_t h)
{
	size_t i = h & t->mask;

	while (t->slots[i].h != 0 && t->slots[i].h != h)
		i = (i + 1) & t->mask;
	return i;
}

static void
grow(struct idtab *t)
{
	struct idslot *old = t->slots;
	size_t         n = t->mask + 1, i, j;

	t->slots = xcalloc(n * 2, sizeof(*t->slots));
	t->mask = n * 2 - 1;
	for (i = 0; i < n; i++) {
		if (old[i].h == 0)
			continue;
		j = old[i].h & t->mask;
		while (t->slots[j].h != 0)
			j = (j + 1) & t->mask;
		t->slots[j] = old[i];
	}
	free(old);
}

uint64_t
idtab_hash(const char *id, size_t len)
{
	return id_hash(id, len);
}

void
idtab_prefetch(const struct idtab *t, uint64_t h)
{
	__builtin_prefetch(&t->slots[h & t->mask]);
}

void *
idtab_get(const struct idtab *t, const char *id, size_t len)
{
	return idtab_get_h(t, id_hash(id, len));
}

void *
idtab_get_h(const struct idtab *t, uint64_t h)
{
	size_t i = find(t, h);

	return t->slots[i].h != 0 ? t->slots[i].val : NULL;
}

void **
idtab_put(struct idtab *t, const char *id, size_t len, int *isnew)
{
	return idtab_put_h(t, id_hash(id, len), isnew);
}

void **
idtab_put_h(struct idtab *t, uint64_t h, int *isnew)
{
	size_t i = find(t, h);

	if (t->slots[i].h != 0) {
		*isnew = 0;
		return &t->slots[i].val;
	}
	if ((t->count + 1) * 100 > (t->mask + 1) * IDTAB_LOAD_PCT) {
		grow(t);
		i = find(t, h);
	}
	t->slots[i].h = h;
	t->slots[i].val = NULL;
	t->count++;
	*isnew = 1;
	return &t->slots[i].val;
}

void *
idtab_del(struct idtab *t, const char *id, size_t len)
{
	return idtab_del_h(t, id_hash(id, len));
}

void *
idtab_del_h(struct idtab *t, uint64_t h)
{
	size_t i = find(t, h), j, home;
	void  *val;

	if (t->slots[i].h == 0)
		return NULL;
	val = t->slots[i].val;
	t->slots[i].h = 0;
	t->count--;
	/* backward shift: pull later members of the cluster into the hole
	 * when their home slot does not lie between the hole and them */
	for (j = (i + 1) & t->mask; t->slots[j].h != 0; j = (j + 1) & t->mask) {
		home = t->slots[j].h & t->mask;
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j].h = 0;
			i = j;
		}
	}
	return val;
}

size_t
idtab_count(const struct idtab *t)
{
	return t->count;
}

int
idtab_next(const struct idtab *t, size_t *pos, void **val)
{
	while (*pos <= t->mask) {
		const struct idslot *s = &t->slots[(*pos)++];

		if (s->h != 0) {
			*val = s->val;
			return 1;
		}
	}
	return 0;
}
