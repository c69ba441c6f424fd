/* SPDX-License-Identifier: ISC */
/*
 * floodgate - verdict fan-out: every verdict change goes to the served
 * servers' modules (a push with a per-domain sequence number) and to the
 * published blocklist; a module that (re)connects gets the full set in
 * chunks (doc/PROTOCOL.md, "Verdicts").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "comp_int.h"

#define VERDICT_CHUNK 500 /* verdicts per push stanza, ~100 KB */

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
comp_push_free(struct comp *c)
{
	size_t i;

	for (i = 0; i < c->nseqs; i++)
		free(c->seqs[i].domain);
	free(c->seqs);
	c->seqs = NULL;
	c->nseqs = 0;
}

/* One entry; allowlisted subjects travel as verdict='allowlist' so the
 * modules let them through their domain's or address's entry. */
static void
add_verdict(struct comp *c, xmpp_stanza_t *parent, enum fg_subj t,
	    const char *key, enum fg_verdict v, int allowlisted,
	    int64_t expires, const char *reason, int drop)
{
	xmpp_stanza_t *e = stz_add(parent, stz_elem(c, "verdict", NULL));
	char           buf[32];

	xmpp_stanza_set_attribute(e, "subject", fg_subj_name(t));
	xmpp_stanza_set_attribute(e, "key", key);
	xmpp_stanza_set_attribute(
	    e, "verdict", allowlisted ? "allowlist" : fg_verdict_name(v));
	if (expires > 0) {
		snprintf(buf, sizeof buf, "%lld", (long long)expires);
		xmpp_stanza_set_attribute(e, "expires", buf);
	}
	if (reason != NULL && *reason != '\0')
		xmpp_stanza_set_attribute(e, "reason", reason);
	if (drop && v >= FG_V_QUARANTINE)
		xmpp_stanza_set_attribute(e, "action", "drop");
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

	/* an observed verdict is not the modules' business; an allowlist
	 * entry is */
	if (pi->enforced == FG_V_ALLOW && pi->override != FG_OVR_ALLOW)
		return;
	if (k->in_last == VERDICT_CHUNK)
		chunk_add(k);
	add_verdict(k->c, k->v[k->n - 1], pi->type, pi->key, pi->enforced,
		    pi->override == FG_OVR_ALLOW,
		    pi->override != FG_OVR_NONE ? 0 : pi->expires, pi->reason,
		    pi->drop);
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
	pol_foreach_allowlisted(c->pol, chunk_one, k);
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
	if (i == 0) {
		xmpp_stanza_set_attribute(v, "full", "1");
		/* how long a local user's own message makes the remote JID's
		 * replies contact messages, in the modules */
		snprintf(buf, sizeof buf, "%llu",
			 (unsigned long long)c->cfg->reply_window_ms);
		xmpp_stanza_set_attribute(v, "reply-window", buf);
	} else {
		xmpp_stanza_del_attribute(v, "full");
		xmpp_stanza_del_attribute(v, "reply-window");
	}
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
	comp_send(c, iq);
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
	struct comp    *c = arg;
	struct pol_info pi;
	xmpp_stanza_t  *vs;
	char            buf[32];
	size_t          i;
	int             allowlisted;

	comp_pubsub_verdict(c, t, key, v, reason);
	comp_rout_verdict(c, t, key, v, reason);
	if (!comp_link_up(c->link))
		return; /* the full push on reconnect carries it */
	/* the action is the subject's ([actions] by the verdict's cause) */
	if (pol_inspect(c->pol, t, key, &pi) == -1) {
		pi.drop = 0;
		pi.override = FG_OVR_NONE;
	}
	allowlisted = v == FG_V_ALLOW && pi.override == FG_OVR_ALLOW;
	vs = stz_elem(c, "verdicts", NS_FLOODGATE);
	add_verdict(c, vs, t, key, v, allowlisted, expires, reason, pi.drop);
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
void
comp_push_answer_full(struct comp *c, xmpp_stanza_t *iq)
{
	struct chunks  k;
	const char    *from = stz_attr(iq, "from");
	xmpp_stanza_t *r;
	size_t         j;

	chunks_collect(c, &k);
	r = stz_iq_result(c, iq);
	chunk_number(c, k.v[0], 0, from);
	xmpp_stanza_add_child(r, k.v[0]);
	comp_send(c, r);
	xmpp_stanza_release(r);
	for (j = 1; j < k.n; j++) {
		chunk_number(c, k.v[j], j, from);
		push(c, from, k.v[j]);
	}
	chunks_free(&k);
}
