/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's write-behind queue.
 *
 * Subjects sit in an array plus an open-addressing index on (type, key)
 * so that a subject updated many times between two flushes costs one row.
 * The index hash is seeded per queue from getrandom() so that keys chosen
 * by an attacker cannot be made to collide predictably (the queue only
 * lives for one flush interval, so a seeded FNV-1a with a 64-bit
 * finaliser is enough here).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "queue.h"

#define Q_MAX_ROWS 500000 /* rows; beyond this new rows are dropped */
#define Q_MIN_SLOTS 64    /* initial index size, a power of two */
#define Q_SHRINK 65536    /* rows; larger arrays are freed on clear */

struct store_q {
	struct store_subject      **subj;
	size_t                      nsubj, subjcap;
	uint32_t                   *slot; /* subj index + 1; 0 = empty */
	size_t                      nslot;
	uint64_t                    seed;
	struct store_audit        **aud;
	size_t                      naud, audcap;
	struct store_registration **reg;
	size_t                      nreg, regcap;
};

static uint64_t q_hash(const struct store_q *, enum fg_subj, const char *);
static size_t   q_find(const struct store_q *, enum fg_subj, const char *);
static void     q_grow_index(struct store_q *);
static char    *q_copystr(char **, const char *);
static size_t   q_strsize(const char *);
static void     q_reindex(struct store_q *);

/* Append e to one of the growing arrays of row pointers. */
#define Q_PUSH(v, n, cap, e)                                                   \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			(cap) = (cap) ? (cap)*2 : 64;                          \
			(v) = xreallocarray((v), (cap), sizeof *(v));          \
		}                                                              \
		(v)[(n)++] = (e);                                              \
	} while (0)

struct store_q *
store_q_new(void)
{
	struct store_q *q = xcalloc(1, sizeof *q);

	if (getrandom(&q->seed, sizeof q->seed, 0) != sizeof q->seed)
		q->seed = (uint64_t)(uintptr_t)q ^ 0x9e3779b97f4a7c15ull;
	q->nslot = Q_MIN_SLOTS;
	q->slot = xcalloc(q->nslot, sizeof *q->slot);
	return q;
}

void
store_q_free(struct store_q *q)
{
	if (q == NULL)
		return;
	store_q_clear(q);
	free(q->subj);
	free(q->aud);
	free(q->reg);
	free(q->slot);
	free(q);
}

size_t
store_q_len(const struct store_q *q)
{
	return q->nsubj + q->naud + q->nreg;
}

/* Seeded FNV-1a over the type and key, then the murmur3 finaliser. */
static uint64_t
q_hash(const struct store_q *q, enum fg_subj type, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ q->seed;

	h = (h ^ (uint8_t)type) * 0x100000001b3ull;
	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The index slot holding (type, key), or the empty slot where it goes. */
static size_t
q_find(const struct store_q *q, enum fg_subj type, const char *key)
{
	size_t                      mask = q->nslot - 1;
	size_t                      i = q_hash(q, type, key) & mask;
	const struct store_subject *e;

	while (q->slot[i] != 0) {
		e = q->subj[q->slot[i] - 1];
		if (e->type == type && strcmp(e->key, key) == 0)
			break;
		i = (i + 1) & mask;
	}
	return i;
}

/* Double the index and reinsert every queued subject. */
static void
q_grow_index(struct store_q *q)
{
	size_t i;

	free(q->slot);
	q->nslot *= 2;
	q->slot = xcalloc(q->nslot, sizeof *q->slot);
	for (i = 0; i < q->nsubj; i++)
		q->slot[q_find(q, q->subj[i]->type, q->subj[i]->key)] =
		    (uint32_t)(i + 1);
}

static size_t
q_strsize(const char *s)
{
	return s == NULL ? 0 : strlen(s) + 1;
}

/* Copy s to *p, advance *p; NULL stays NULL. */
static char *
q_copystr(char **p, const char *s)
{
	char  *r = *p;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(r, s, n);
	*p += n;
	return r;
}

int
store_q_subject(struct store_q *q, const struct store_subject *s)
{
	struct store_subject *e;
	size_t                i, sz;
	char                 *p;
	const char           *key = s->key != NULL ? s->key : "";

	i = q_find(q, s->type, key);
	if (q->slot[i] == 0 && store_q_len(q) >= Q_MAX_ROWS)
		return -1;
	sz = sizeof *e + q_strsize(key) + q_strsize(s->actor) +
	     q_strsize(s->reason);
	e = xmalloc(sz);
	*e = *s;
	p = (char *)(e + 1);
	e->key = q_copystr(&p, key);
	e->actor = q_copystr(&p, s->actor);
	e->reason = q_copystr(&p, s->reason);
	if (q->slot[i] != 0) {
		/* Collapse: the latest state replaces the queued one. */
		free(q->subj[q->slot[i] - 1]);
		q->subj[q->slot[i] - 1] = e;
		return 0;
	}
	Q_PUSH(q->subj, q->nsubj, q->subjcap, e);
	q->slot[i] = (uint32_t)q->nsubj;
	if (q->nsubj * 2 > q->nslot)
		q_grow_index(q);
	return 0;
}

int
store_q_audit(struct store_q *q, const struct store_audit *a)
{
	struct store_audit *e;
	char               *p;
	const char         *key = a->key != NULL ? a->key : "";

	if (store_q_len(q) >= Q_MAX_ROWS)
		return -1;
	e = xmalloc(sizeof *e + q_strsize(key) + q_strsize(a->reason) +
		    q_strsize(a->signals) + q_strsize(a->actor));
	*e = *a;
	p = (char *)(e + 1);
	e->key = q_copystr(&p, key);
	e->reason = q_copystr(&p, a->reason);
	e->signals = q_copystr(&p, a->signals);
	e->actor = q_copystr(&p, a->actor);
	Q_PUSH(q->aud, q->naud, q->audcap, e);
	return 0;
}

int
store_q_registration(struct store_q *q, const struct store_registration *r)
{
	struct store_registration *e;
	char                      *p;
	const char                *acct = r->account != NULL ? r->account : "";

	if (store_q_len(q) >= Q_MAX_ROWS)
		return -1;
	e = xmalloc(sizeof *e + q_strsize(acct) + q_strsize(r->ip));
	*e = *r;
	p = (char *)(e + 1);
	e->account = q_copystr(&p, acct);
	e->ip = q_copystr(&p, r->ip);
	Q_PUSH(q->reg, q->nreg, q->regcap, e);
	return 0;
}

void
store_q_clear(struct store_q *q)
{
	size_t i;

	for (i = 0; i < q->nsubj; i++)
		free(q->subj[i]);
	for (i = 0; i < q->naud; i++)
		free(q->aud[i]);
	for (i = 0; i < q->nreg; i++)
		free(q->reg[i]);
	/* Give back the memory of a burst rather than keep its peak. */
	if (q->subjcap > Q_SHRINK || q->nslot > 2 * Q_SHRINK) {
		free(q->subj);
		q->subj = NULL;
		q->subjcap = 0;
		free(q->slot);
		q->nslot = Q_MIN_SLOTS;
		q->slot = xcalloc(q->nslot, sizeof *q->slot);
	} else
		memset(q->slot, 0, q->nslot * sizeof *q->slot);
	if (q->audcap > Q_SHRINK) {
		free(q->aud);
		q->aud = NULL;
		q->audcap = 0;
	}
	if (q->regcap > Q_SHRINK) {
		free(q->reg);
		q->reg = NULL;
		q->regcap = 0;
	}
	q->nsubj = q->naud = q->nreg = 0;
}

/* Size the index for the subjects queued and fill it again. */
static void
q_reindex(struct store_q *q)
{
	size_t i;

	while (q->nsubj * 2 > q->nslot)
		q->nslot *= 2;
	free(q->slot);
	q->slot = xcalloc(q->nslot, sizeof *q->slot);
	for (i = 0; i < q->nsubj; i++)
		q->slot[q_find(q, q->subj[i]->type, q->subj[i]->key)] =
		    (uint32_t)(i + 1);
}

size_t
store_q_take(struct store_q *q, size_t max, struct store_q *out)
{
	size_t ns = q->nsubj < max ? q->nsubj : max, na, nr, i;

	max -= ns;
	na = q->naud < max ? q->naud : max;
	max -= na;
	nr = q->nreg < max ? q->nreg : max;
	/* pointers move, the rows themselves stay where they are */
	for (i = 0; i < ns; i++)
		Q_PUSH(out->subj, out->nsubj, out->subjcap, q->subj[i]);
	for (i = 0; i < na; i++)
		Q_PUSH(out->aud, out->naud, out->audcap, q->aud[i]);
	for (i = 0; i < nr; i++)
		Q_PUSH(out->reg, out->nreg, out->regcap, q->reg[i]);
	if (ns > 0)
		memmove(q->subj, q->subj + ns,
			(q->nsubj - ns) * sizeof *q->subj);
	if (na > 0)
		memmove(q->aud, q->aud + na, (q->naud - na) * sizeof *q->aud);
	if (nr > 0)
		memmove(q->reg, q->reg + nr, (q->nreg - nr) * sizeof *q->reg);
	q->nsubj -= ns;
	q->naud -= na;
	q->nreg -= nr;
	if (ns > 0) {
		q_reindex(q);
		q_reindex(out);
	}
	return ns + na + nr;
}

size_t
store_q_nsubjects(const struct store_q *q)
{
	return q->nsubj;
}

const struct store_subject *
store_q_subject_at(const struct store_q *q, size_t i)
{
	return q->subj[i];
}

size_t
store_q_naudit(const struct store_q *q)
{
	return q->naud;
}

const struct store_audit *
store_q_audit_at(const struct store_q *q, size_t i)
{
	return q->aud[i];
}

size_t
store_q_nregs(const struct store_q *q)
{
	return q->nreg;
}

const struct store_registration *
store_q_reg_at(const struct store_q *q, size_t i)
{
	return q->reg[i];
}
