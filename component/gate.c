/*
 * floodgate - the bridge protocol, daemon side (doc/PROTOCOL.md): gate
 * questions, batched meter events, and verdict pushes with full resync.
 *
 * Only the served server domains may speak it: the server stamps 'from'
 * on everything its users send, so a bare server domain in 'from' cannot
 * be forged by a local user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../core/jid.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../policy/upstream.h"
#include "comp_int.h"
#include "wire.h"

#define METER_MAX_EVENTS 1000 /* events used from one meter message */
#define VERDICT_CHUNK 500     /* verdicts per push stanza, ~100 KB */

static void
refuse_untrusted(struct comp *c, xmpp_stanza_t *st)
{
	char buf[LOG_ESC_MAX];

	c->c.refused_untrusted++;
	log_debug("refused floodgate stanza from untrusted %s",
		  log_esc(buf, sizeof buf, stz_attr(st, "from")));
	stz_reply_error(
	    c, st, "auth", "forbidden",
	    "floodgate accepts this only from the servers it serves");
}

static void
gate(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *g)
{
	char              from[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_gate   req;
	struct pol_answer ans;
	const char       *err;
	xmpp_stanza_t    *r, *e;

	if (wire_parse_gate(g, &req, from, to, &err) == -1) {
		c->c.gate_bad++;
		stz_reply_error(c, iq, "modify", "bad-request", err);
		return;
	}
	pol_gate(c->pol, &req, &ans);
	c->c.gate[ans.allow ? 1 : 0]++;
	r = stz_iq_result(c, iq);
	if (ans.allow)
		stz_add(r, stz_elem(c, "allow", NS_FLOODGATE));
	else {
		e = stz_add(r, stz_elem(c, "deny", NS_FLOODGATE));
		xmpp_stanza_set_attribute(e, "condition", ans.condition);
		xmpp_stanza_set_attribute(e, "verdict",
					  fg_verdict_name(ans.verdict));
		xmpp_stanza_set_attribute(e, "text", ans.text);
	}
	comp_link_send(c->link, r);
	xmpp_stanza_release(r);
}

/* Answer a gate and account for the time it took in the histogram. */
static void
gate_timed(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	static const double bounds[] = GATE_BUCKETS;
	uint64_t            t0 = clock_mono_ns();
	double              dt;
	size_t              i;

	gate(c, iq, q);
	dt = (double)(clock_mono_ns() - t0) / 1e9;
	c->c.gate_sum_s += dt;
	for (i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
		if (dt <= bounds[i])
			break;
	c->c.gate_hist[i]++; /* the last slot is +Inf */
}

/* Sequence numbers are per served domain: a full set sent to one server
 * must not look like a gap to the others. */
struct comp_seq {
	char    *domain;
	uint64_t seq;
};

/* The next sequence number for domain. */
static uint64_t
next_seq(struct comp *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->nseqs; i++)
		if (strcasecmp(c->seqs[i].domain, domain) == 0)
			return ++c->seqs[i].seq;
	c->seqs = xreallocarray(c->seqs, c->nseqs + 1, sizeof *c->seqs);
	c->seqs[c->nseqs].domain = xstrdup(domain);
	c->seqs[c->nseqs].seq = 1;
	return c->seqs[c->nseqs++].seq;
}

void
comp_gate_free(struct comp *c)
{
	size_t i;

	for (i = 0; i < c->nseqs; i++)
		free(c->seqs[i].domain);
	free(c->seqs);
	c->seqs = NULL;
	c->nseqs = 0;
}

static void
add_verdict(struct comp *c, xmpp_stanza_t *parent, enum fg_subj t,
	    const char *key, enum fg_verdict v, int64_t expires,
	    const char *reason)
{
	xmpp_stanza_t *e = stz_add(parent, stz_elem(c, "verdict", NULL));
	char           buf[32];

	xmpp_stanza_set_attribute(e, "subject", fg_subj_name(t));
	xmpp_stanza_set_attribute(e, "key", key);
	xmpp_stanza_set_attribute(e, "verdict", fg_verdict_name(v));
	if (expires > 0) {
		snprintf(buf, sizeof buf, "%lld", (long long)expires);
		xmpp_stanza_set_attribute(e, "expires", buf);
	}
	if (reason != NULL && *reason != '\0')
		xmpp_stanza_set_attribute(e, "reason", reason);
}

/* The whole current set, cut into <verdicts/> elements of at most
 * VERDICT_CHUNK entries: servers close a component stream that sends one
 * huge stanza (Prosody at 512 KiB). */
struct chunks {
	struct comp    *c;
	xmpp_stanza_t **v;
	size_t          n;
	size_t          in_last;
	size_t          total;
};

static void
chunk_add(struct chunks *k)
{
	k->v = xreallocarray(k->v, k->n + 1, sizeof *k->v);
	k->v[k->n++] = stz_elem(k->c, "verdicts", NS_FLOODGATE);
	k->in_last = 0;
}

static void
chunk_one(const struct pol_info *pi, void *arg)
{
	struct chunks *k = arg;

	if (k->in_last == VERDICT_CHUNK)
		chunk_add(k);
	add_verdict(k->c, k->v[k->n - 1], pi->type, pi->key, pi->effective,
		    pi->override != FG_OVR_NONE ? 0 : pi->expires, pi->reason);
	k->in_last++;
	k->total++;
}

static void
chunks_collect(struct comp *c, struct chunks *k)
{
	memset(k, 0, sizeof *k);
	k->c = c;
	chunk_add(k); /* an empty set is still one (empty) full set */
	pol_foreach_listed(c->pol, chunk_one, k);
}

static void
chunks_free(struct chunks *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		xmpp_stanza_release(k->v[i]);
	free(k->v);
}

/* Number chunk i for domain: the first is the full set (the module
 * replaces its cache with it), the rest follow as ordinary pushes with
 * consecutive numbers, so modules need nothing special for them. */
static void
chunk_number(struct comp *c, xmpp_stanza_t *v, size_t i, const char *domain)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%llu",
		 (unsigned long long)next_seq(c, domain));
	xmpp_stanza_set_attribute(v, "seq", buf);
	if (i == 0)
		xmpp_stanza_set_attribute(v, "full", "1");
	else
		xmpp_stanza_del_attribute(v, "full");
}

static void
push(struct comp *c, const char *domain, xmpp_stanza_t *verdicts)
{
	xmpp_stanza_t *iq;
	char           id[32];

	stz_next_id(c, id, sizeof id);
	iq = xmpp_iq_new(comp_link_ctx(c->link), "set", id);
	xmpp_stanza_set_to(iq, domain);
	xmpp_stanza_set_from(iq, comp_link_jid(c->link));
	xmpp_stanza_add_child(iq, verdicts);
	/* serialised now: the caller may renumber verdicts for the next
	 * domain */
	comp_link_send(c->link, iq);
	xmpp_stanza_release(iq);
	c->c.verdict_pushes++;
}

/* Push the full set to domain, or to every served domain if NULL. */
void
comp_verdicts_push_full(struct comp *c, const char *domain)
{
	struct chunks k;
	size_t        i, j;

	if (!comp_link_up(c->link))
		return;
	chunks_collect(c, &k);
	for (i = 0; i < c->cfg->serves.n; i++) {
		if (domain != NULL &&
		    strcasecmp(domain, c->cfg->serves.v[i]) != 0)
			continue;
		for (j = 0; j < k.n; j++) {
			chunk_number(c, k.v[j], j, c->cfg->serves.v[i]);
			push(c, c->cfg->serves.v[i], k.v[j]);
		}
	}
	log_info("pushed %zu verdicts in %zu stanza(s) to %s", k.total, k.n,
		 domain ? domain : "all");
	chunks_free(&k);
}

void
comp_verdict_changed(enum fg_subj t, const char *key, enum fg_verdict v,
		     int64_t expires, const char *reason, void *arg)
{
	struct comp   *c = arg;
	xmpp_stanza_t *vs;
	char           buf[32];
	size_t         i;

	comp_pubsub_verdict(c, t, key, v, reason);
	if (!comp_link_up(c->link))
		return; /* the full push on reconnect carries it */
	vs = stz_elem(c, "verdicts", NS_FLOODGATE);
	add_verdict(c, vs, t, key, v, expires, reason);
	for (i = 0; i < c->cfg->serves.n; i++) {
		snprintf(buf, sizeof buf, "%llu",
			 (unsigned long long)next_seq(c, c->cfg->serves.v[i]));
		xmpp_stanza_set_attribute(vs, "seq", buf);
		push(c, c->cfg->serves.v[i], vs);
	}
	xmpp_stanza_release(vs);
}

/* A module asks for the full set: the first chunk answers the IQ, the
 * rest follow as pushes (same stream, so they arrive after it). */
static void
verdicts_get(struct comp *c, xmpp_stanza_t *iq)
{
	struct chunks  k;
	const char    *from = stz_attr(iq, "from");
	xmpp_stanza_t *r;
	size_t         j;

	chunks_collect(c, &k);
	r = stz_iq_result(c, iq);
	chunk_number(c, k.v[0], 0, from);
	xmpp_stanza_add_child(r, k.v[0]);
	comp_link_send(c->link, r);
	xmpp_stanza_release(r);
	for (j = 1; j < k.n; j++) {
		chunk_number(c, k.v[j], j, from);
		push(c, from, k.v[j]);
	}
	chunks_free(&k);
}

/* 1 when handled. */
int
comp_gate_iq(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	const char *type = xmpp_stanza_get_type(iq);
	const char *name = xmpp_stanza_get_name(q);

	if (!stz_from_server(c, iq)) {
		refuse_untrusted(c, iq);
		return 1;
	}
	if (strcmp(type, "get") == 0 && strcmp(name, "gate") == 0) {
		gate_timed(c, iq, q);
		return 1;
	}
	if (strcmp(type, "get") == 0 && strcmp(name, "verdicts") == 0) {
		verdicts_get(c, iq);
		return 1;
	}
	stz_reply_error(c, iq, "cancel", "feature-not-implemented",
			"unknown floodgate request");
	return 1;
}

/* One <event/>: 0 if used, -1 if malformed. */
static int
meter_event(struct comp *c, xmpp_stanza_t *ev)
{
	char             jid[JID_MAX + 1], to[JID_MAX + 1];
	struct pol_event pe;

	if (wire_parse_event(ev, &pe, jid, to) == -1)
		return -1;
	pol_event(c->pol, &pe);
	return 0;
}

/* 1 when handled. */
int
comp_meter_message(struct comp *c, xmpp_stanza_t *msg, xmpp_stanza_t *meter)
{
	xmpp_stanza_t *ev;
	int            n = 0;

	if (!stz_from_server(c, msg)) {
		refuse_untrusted(c, msg);
		return 1;
	}
	for (ev = xmpp_stanza_get_children(meter); ev != NULL;
	     ev = xmpp_stanza_get_next(ev)) {
		const char *name = xmpp_stanza_get_name(ev);

		if (name == NULL || strcmp(name, "event") != 0)
			continue; /* text nodes, future elements */
		if (++n > METER_MAX_EVENTS || meter_event(c, ev) == -1)
			c->c.meter_bad++;
		else
			c->c.meter_ok++;
	}
	return 1;
}
