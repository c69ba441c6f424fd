/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the ring of recent refusals and failed logins (hits.h).
 *
 * The writer never waits and never allocates: it overwrites the oldest
 * slot. The sequence number only grows, so a reader that fell more than
 * a ring behind knows exactly how many hits it lost.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/xmalloc.h"
#include "hits.h"
#include "policy_int.h"

static const char *const why_names[POL_HIT__MAX] = {
    [POL_HIT_RATE] = "rate",           [POL_HIT_QUARANTINE] = "quarantine",
    [POL_HIT_BLOCK] = "block",         [POL_HIT_CONTENT] = "content",
    [POL_HIT_TRAP] = "trap",           [POL_HIT_OTHER] = "other",
    [POL_HIT_AUTH_FAIL] = "auth-fail",
};

const char *
pol_hit_why_name(enum pol_hit_why w)
{
	return (int)w >= 0 && w < POL_HIT__MAX ? why_names[w] : "other";
}

/*
 * The detectors that refuse say so in the answer: a spam trap answers
 * not-allowed (a trap name at registration) or quarantines or blocks the
 * sender and says so in the verdict (a trap recipient: only strangers
 * are trapped, and a quarantine of the sender's own would have refused
 * those before the detectors ran); a content wave and a listed URL host
 * answer policy-violation and leave the verdict as the core found it.
 */
enum pol_hit_why
pol_hit_detector(const struct pol_answer *a)
{
	if (strcmp(a->condition, "not-allowed") == 0 ||
	    a->verdict >= FG_V_QUARANTINE)
		return POL_HIT_TRAP;
	if (strcmp(a->condition, "policy-violation") == 0)
		return POL_HIT_CONTENT;
	return POL_HIT_OTHER;
}

void
pol_hits_init(struct policy *p)
{
	p->hits = xcalloc(POL_HITS_RING, sizeof *p->hits);
	p->hits_seq = 0;
}

void
pol_hits_free(struct policy *p)
{
	free(p->hits);
	p->hits = NULL;
}

void
pol_hit_note(struct policy *p, enum pol_hit_why why, enum fg_kind kind,
	     enum fg_subj type, const char *key, size_t len)
{
	struct pol_hit *h = &p->hits[p->hits_seq++ & (POL_HITS_RING - 1)];

	h->why = (uint8_t)why;
	h->kind = (uint8_t)kind;
	h->type = (uint8_t)type;
	if (len >= sizeof h->key)
		len = sizeof h->key - 1;
	memcpy(h->key, key, len);
	h->key[len] = '\0';
}

uint64_t
pol_hits_drain(const struct policy *p, uint64_t *cursor, pol_hit_cb cb,
	       void *arg)
{
	uint64_t lost = 0;

	if (*cursor > p->hits_seq) /* a new policy: start over */
		*cursor = p->hits_seq;
	if (p->hits_seq - *cursor > POL_HITS_RING) {
		lost = p->hits_seq - *cursor - POL_HITS_RING;
		*cursor = p->hits_seq - POL_HITS_RING;
	}
	for (; *cursor < p->hits_seq; (*cursor)++)
		cb(&p->hits[*cursor & (POL_HITS_RING - 1)], arg);
	return lost;
}
