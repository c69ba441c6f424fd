/* SPDX-License-Identifier: ISC */
/*
 * floodgate - chart figures for the moderation page (webstats.h).
 *
 * Slots are indexed by minute (or hour) number modulo the ring size and
 * remember which minute they hold, so a slot left from an earlier lap
 * reads as zero and nothing needs clearing on a timer.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "webstats.h"

#define MINUTE_MS 60000 /* ms */
#define HOUR_MS 3600000 /* ms */

struct ws_min {
	int64_t  minute; /* minute number since the epoch; slot's owner */
	uint64_t gates, events;
};

struct ws_keys {
	struct webstats_key e[WEBSTATS_KEYS];
	size_t              n;
	uint64_t            other; /* counted once the table was full */
};

struct ws_hour {
	int64_t        hour;
	uint64_t       why[POL_HIT__MAX];
	struct ws_keys dom; /* refusals by remote domain */
	struct ws_keys net; /* failed logins by network */
};

struct webstats {
	struct ws_min          min[WEBSTATS_MINUTES];
	struct ws_hour         hour[WEBSTATS_HOURS];
	struct webstats_recent recent[WEBSTATS_RECENT];
	uint64_t               nrecent; /* ever written */
	uint64_t               cursor;  /* in the policy's hit ring */
	uint64_t               lost;
	uint64_t               last_gates, last_events;
	int                    primed; /* last_* hold a first sample */
	int64_t                now;    /* of the tick being drained */
};

struct webstats *
webstats_new(void)
{
	return xcalloc(1, sizeof(struct webstats));
}

void
webstats_free(struct webstats *w)
{
	free(w);
}

static struct ws_min *
min_slot(struct webstats *w, int64_t now)
{
	int64_t        m = now / MINUTE_MS;
	struct ws_min *s = &w->min[m % WEBSTATS_MINUTES];

	if (s->minute != m) {
		memset(s, 0, sizeof *s);
		s->minute = m;
	}
	return s;
}

static struct ws_hour *
hour_slot(struct webstats *w, int64_t now)
{
	int64_t         h = now / HOUR_MS;
	struct ws_hour *s = &w->hour[h % WEBSTATS_HOURS];

	if (s->hour != h) {
		memset(s, 0, sizeof *s);
		s->hour = h;
	}
	return s;
}

static void
keys_add(struct ws_keys *k, const char *key)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->e[i].key, key) == 0) {
			k->e[i].count++;
			return;
		}
	if (k->n == WEBSTATS_KEYS) {
		k->other++;
		return;
	}
	memcpy(k->e[k->n].key, key, sizeof k->e[k->n].key);
	k->e[k->n++].count = 1;
}

/* The remote domain a refused inbound gate came from, or NULL. */
static const char *
remote_domain(const struct pol_hit *h)
{
	const char *at;

	if (h->kind != FG_KIND_INBOUND_SUBSCRIBE &&
	    h->kind != FG_KIND_INBOUND_STRANGER_MESSAGE)
		return NULL;
	if (h->type == FG_SUBJ_DOMAIN)
		return h->key;
	if (h->type == FG_SUBJ_ACCOUNT && (at = strchr(h->key, '@')) != NULL)
		return at + 1;
	return NULL;
}

static void
on_hit(const struct pol_hit *h, void *arg)
{
	struct webstats        *w = arg;
	struct ws_hour         *s = hour_slot(w, w->now);
	struct webstats_recent *r;
	const char             *dom;

	if (h->why < POL_HIT__MAX)
		s->why[h->why]++;
	if (h->why == POL_HIT_AUTH_FAIL)
		keys_add(&s->net, h->key);
	else if ((dom = remote_domain(h)) != NULL)
		keys_add(&s->dom, dom);
	r = &w->recent[w->nrecent++ % WEBSTATS_RECENT];
	r->at = w->now;
	r->h = *h;
}

void
webstats_tick(struct webstats *w, const struct policy *p, int64_t now)
{
	struct pol_stats st;
	struct ws_min   *m = min_slot(w, now);

	pol_get_stats(p, &st);
	/* the first sample only sets the base; a smaller counter means a
	 * new policy, whose counts start from zero */
	if (w->primed && st.gates >= w->last_gates &&
	    st.events >= w->last_events) {
		m->gates += st.gates - w->last_gates;
		m->events += st.events - w->last_events;
	}
	w->last_gates = st.gates;
	w->last_events = st.events;
	w->primed = 1;
	w->now = now;
	w->lost += pol_hits_drain(p, &w->cursor, on_hit, w);
}

void
webstats_minutes(const struct webstats *w, int64_t now, size_t n,
		 uint64_t *gates, uint64_t *events)
{
	int64_t              m = now / MINUTE_MS, k;
	size_t               i;
	const struct ws_min *s;

	for (i = 0; i < n; i++) {
		k = m - (int64_t)(n - 1 - i);
		s = &w->min[((k % WEBSTATS_MINUTES) + WEBSTATS_MINUTES) %
			    WEBSTATS_MINUTES];
		gates[i] = s->minute == k ? s->gates : 0;
		events[i] = s->minute == k ? s->events : 0;
	}
}

static const struct ws_hour *
hour_at(const struct webstats *w, int64_t k)
{
	const struct ws_hour *s =
	    &w->hour[((k % WEBSTATS_HOURS) + WEBSTATS_HOURS) % WEBSTATS_HOURS];

	return s->hour == k ? s : NULL;
}

void
webstats_hours_why(const struct webstats *w, int64_t now, size_t n,
		   uint64_t (*why)[POL_HIT__MAX])
{
	int64_t               h = now / HOUR_MS;
	const struct ws_hour *s;
	size_t                i;

	for (i = 0; i < n; i++) {
		s = hour_at(w, h - (int64_t)(n - 1 - i));
		if (s != NULL)
			memcpy(why[i], s->why, sizeof why[i]);
		else
			memset(why[i], 0, sizeof why[i]);
	}
}

static int
key_cmp(const void *a, const void *b)
{
	const struct webstats_key *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

size_t
webstats_top(const struct webstats *w, int64_t now, size_t n, int nets,
	     struct webstats_key *out, size_t max)
{
	struct webstats_key  *all;
	const struct ws_hour *s;
	const struct ws_keys *k;
	size_t                na = 0, i, j, l;
	int64_t               h = now / HOUR_MS;

	all = xcalloc(n * WEBSTATS_KEYS + 1, sizeof *all);
	for (i = 0; i < n; i++) {
		if ((s = hour_at(w, h - (int64_t)i)) == NULL)
			continue;
		k = nets ? &s->net : &s->dom;
		for (j = 0; j < k->n; j++) {
			for (l = 0; l < na; l++)
				if (strcmp(all[l].key, k->e[j].key) == 0)
					break;
			if (l == na)
				all[na++] = k->e[j];
			else
				all[l].count += k->e[j].count;
		}
	}
	qsort(all, na, sizeof *all, key_cmp);
	if (na > max)
		na = max;
	memcpy(out, all, na * sizeof *all);
	free(all);
	return na;
}

void
webstats_key_hours(const struct webstats *w, int64_t now, size_t n, int nets,
		   const char *key, uint64_t *out)
{
	const struct ws_hour *s;
	const struct ws_keys *k;
	int64_t               h = now / HOUR_MS;
	size_t                i, j;

	for (i = 0; i < n; i++) {
		out[i] = 0;
		if ((s = hour_at(w, h - (int64_t)(n - 1 - i))) == NULL)
			continue;
		k = nets ? &s->net : &s->dom;
		for (j = 0; j < k->n; j++)
			if (strcmp(k->e[j].key, key) == 0)
				out[i] = k->e[j].count;
	}
}

size_t
webstats_recent(const struct webstats *w, size_t skip,
		struct webstats_recent *out, size_t max)
{
	uint64_t have =
	    w->nrecent < WEBSTATS_RECENT ? w->nrecent : WEBSTATS_RECENT;
	size_t i, n = 0;

	for (i = skip; i < have && n < max; i++)
		out[n++] = w->recent[(w->nrecent - 1 - i) % WEBSTATS_RECENT];
	return n;
}

uint64_t
webstats_lost(const struct webstats *w)
{
	return w->lost;
}
