/* SPDX-License-Identifier: ISC */
/*
 * floodgate - GCRA rate table (virtual scheduling form).
 *
 * An event at now for a key with theoretical arrival time tat is allowed
 * when max(tat, now) - now <= tau, and then moves tat to max(tat, now) + T.
 * A key whose tat <= now behaves exactly like an absent key, which is why
 * the sweep may drop it and why absent keys need no state.
 *
 * Open addressing with linear probing over {hash, tat} slots; hash 0 marks
 * an empty slot (a real hash of 0 is stored as 1). Deletion shifts the
 * following cluster back instead of leaving tombstones, so probe lengths
 * never degrade under churn.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "siphash.h"
#include "xmalloc.h"

#define RL_MIN_SLOTS 16     /* slots, smallest table */
#define RL_START_SLOTS 4096 /* slots at first; doubled up to the cap's */
#define RL_EVICT_SAMPLE 8   /* occupied slots looked at to pick a victim */
#define RL_TWEAK 0x524c000000000000ull /* "RL": bucket key domain */

struct rl_slot {
	uint64_t hash; /* 0 = empty */
	uint64_t tat;  /* theoretical arrival time, monotonic ns */
};

struct rl_table {
	struct rl_slot *slots;
	size_t          mask;      /* slots - 1 */
	size_t          max_slots; /* what max_keys needs at load 1/2 */
	size_t          max_keys;
	size_t          count;
	size_t          sweep_pos;
	uint64_t        last_now; /* highest time seen: time never goes back */
	struct rl_stats st;
};

static size_t rl_find(const struct rl_table *, uint64_t);
static void   rl_grow(struct rl_table *);
static void   rl_remove_at(struct rl_table *, size_t);
static void   rl_make_room(struct rl_table *, uint64_t, uint64_t);

struct rl_table *
rl_new(size_t max_keys)
{
	struct rl_table *t;
	size_t           n = RL_MIN_SLOTS;

	if (max_keys == 0)
		max_keys = 1;
	/* load factor <= 1/2 at the cap: 2..4 slots (32..64 bytes) a key */
	while (n < max_keys * 2)
		n <<= 1;
	t = xcalloc(1, sizeof *t);
	t->max_slots = n;
	/* the table grows with its keys: a small server, or a log replay,
	 * should not pay for (and zero) the cap's memory up front */
	if (n > RL_START_SLOTS)
		n = RL_START_SLOTS;
	t->slots = xcalloc_table(n, sizeof *t->slots);
	t->mask = n - 1;
	t->max_keys = max_keys;
	return t;
}

/* Double the slots, keeping load <= 1/2; never past max_slots. */
static void
rl_grow(struct rl_table *t)
{
	t->slots = xtable_double(t->slots, t->mask + 1, sizeof *t->slots);
	t->mask = t->mask * 2 + 1;
}

void
rl_free(struct rl_table *t)
{
	if (t == NULL)
		return;
	xfree_table(t->slots, t->mask + 1, sizeof *t->slots);
	free(t);
}

uint64_t
rl_key(enum fg_kind kind, enum fg_subj subj, const char *s, size_t len)
{
	return rl_key_derive(sip_hash(RL_TWEAK | (uint64_t)subj, s, len), kind);
}

uint64_t
rl_key_derive(uint64_t h, enum fg_kind kind)
{
	/* splitmix64's finaliser is a bijection: (h1, k1) and (h2, k2) meet
	 * only if h1 ^ h2 equals a fixed constant, for secret-keyed h a
	 * 2^-64 event like any other collision */
	uint64_t z = h ^ ((uint64_t)kind + 1) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

void
rl_prefetch(const struct rl_table *t, uint64_t key)
{
	__builtin_prefetch(&t->slots[(key ? key : 1) & t->mask], 1);
}

void
rl_rate(uint32_t count, uint64_t per_ms, uint32_t burst, uint64_t *T_ns,
	uint64_t *tau_ns)
{
	if (count == 0) {
		*T_ns = *tau_ns = 0;
		return;
	}
	if (burst == 0)
		burst = 1;
	*T_ns = per_ms * 1000000ull / count;
	if (*T_ns == 0)
		*T_ns = 1;
	*tau_ns = *T_ns * (uint64_t)(burst - 1);
}

/* Slot holding h, or the empty slot where it would go. */
static size_t
rl_find(const struct rl_table *t, uint64_t h)
{
	size_t i = h & t->mask;

	while (t->slots[i].hash != 0 && t->slots[i].hash != h)
		i = (i + 1) & t->mask;
	return i;
}

/* Empty slot i and shift back the entries of its cluster that may move
 * closer to their home slot (no tombstones). */
static void
rl_remove_at(struct rl_table *t, size_t i)
{
	size_t j = i, home;

	for (;;) {
		j = (j + 1) & t->mask;
		if (t->slots[j].hash == 0)
			break;
		home = t->slots[j].hash & t->mask;
		/* stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i].hash = 0;
	t->slots[i].tat = 0;
	t->count--;
}

/* The table is full: drop the least-indebted entry (smallest TAT) among the
 * first RL_EVICT_SAMPLE occupied slots from h's home. The hash key is
 * secret, so an attacker cannot aim the sample at chosen victims, and
 * heavy debtors (the abusive keys) are the last to go. */
static void
rl_make_room(struct rl_table *t, uint64_t h, uint64_t now)
{
	size_t i = h & t->mask, best = 0, seen = 0, scanned = 0;
	int    found = 0;

	while (seen < RL_EVICT_SAMPLE && scanned <= t->mask) {
		if (t->slots[i].hash != 0) {
			if (!found || t->slots[i].tat < t->slots[best].tat) {
				best = i;
				found = 1;
			}
			seen++;
		}
		i = (i + 1) & t->mask;
		scanned++;
	}
	if (!found)
		return;
	if (t->slots[best].tat <= now)
		t->st.reclaimed++;
	else
		t->st.evictions++;
	rl_remove_at(t, best);
}

int
rl_take(struct rl_table *t, uint64_t key, uint64_t now, uint64_t T,
	uint64_t tau, uint64_t *retry_ns)
{
	struct rl_slot *s;
	uint64_t        tat, next;
	size_t          i;

	if (now < t->last_now)
		now = t->last_now;
	else
		t->last_now = now;
	if (retry_ns != NULL)
		*retry_ns = 0;
	if (T == 0) {
		t->st.allowed++;
		return 1;
	}
	if (key == 0)
		key = 1;
	i = rl_find(t, key);
	s = &t->slots[i];
	if (s->hash == 0) {
		/* fresh key: tat = now, always within tolerance */
		if (t->count >= t->max_keys) {
			rl_make_room(t, key, now);
			s = &t->slots[rl_find(t, key)];
		} else if (t->mask + 1 < t->max_slots &&
			   (t->count + 1) * 2 > t->mask + 1) {
			rl_grow(t);
			s = &t->slots[rl_find(t, key)];
		}
		s->hash = key;
		s->tat = now + T < now ? UINT64_MAX : now + T;
		t->count++;
		t->st.inserts++;
		t->st.allowed++;
		return 1;
	}
	tat = s->tat > now ? s->tat : now;
	if (tat - now > tau) {
		if (retry_ns != NULL)
			*retry_ns = tat - tau - now;
		t->st.denied++;
		return 0;
	}
	next = tat + T;
	s->tat = next < tat ? UINT64_MAX : next;
	t->st.allowed++;
	return 1;
}

int
rl_del(struct rl_table *t, uint64_t key)
{
	size_t i;

	if (key == 0)
		key = 1;
	i = rl_find(t, key);
	if (t->slots[i].hash == 0)
		return 0;
	rl_remove_at(t, i);
	return 1;
}

int
rl_peek(const struct rl_table *t, uint64_t key, uint64_t *tat)
{
	size_t i;

	if (key == 0)
		key = 1;
	i = rl_find(t, key);
	if (t->slots[i].hash == 0)
		return 0;
	if (tat != NULL)
		*tat = t->slots[i].tat;
	return 1;
}

size_t
rl_sweep(struct rl_table *t, uint64_t now, size_t budget)
{
	size_t n = 0, i;

	if (now < t->last_now)
		now = t->last_now;
	else
		t->last_now = now;
	while (budget-- > 0 && t->count > 0) {
		i = t->sweep_pos;
		if (t->slots[i].hash != 0 && t->slots[i].tat <= now) {
			/* a later entry may shift into i: look at i again */
			rl_remove_at(t, i);
			t->st.reclaimed++;
			n++;
			continue;
		}
		t->sweep_pos = (i + 1) & t->mask;
	}
	return n;
}

void
rl_get_stats(const struct rl_table *t, struct rl_stats *st)
{
	*st = t->st;
	st->keys = t->count;
	st->max_keys = t->max_keys;
	st->slots = t->mask + 1;
	st->bytes = sizeof *t + (t->mask + 1) * sizeof *t->slots;
}
