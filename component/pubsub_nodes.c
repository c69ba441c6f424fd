/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the RTBL publisher's nodes: an in-memory index of what is
 * published (one sorted array of items per node, rebuilt from the policy
 * at start and kept current from the verdict callback), notifications to
 * subscribers, the full push on (re)connect, and /blocklist.txt.
 *
 * Published: subjects whose effective verdict is block, or quarantine
 * with [blocklist] publish-quarantine; an allowlisted subject's effective
 * verdict is allow, so the allowlist always wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../policy/upstream.h"
#include "comp_int.h"
#include "pubsub_int.h"

#define PS_PUSH_CHUNK 200     /* items per pushed <message>, full push */
#define PS_RETRACT_KEEP 65536 /* retractions kept while the link is down */
#define PS_REASON_MAX 200     /* bytes of a verdict reason in a payload */

const char *
ps_node_name(enum ps_node n)
{
	return fg_rtbl_node_name((enum fg_rtbl_node)n);
}

int
ps_node_parse(const char *name)
{
	enum fg_rtbl_node n;

	return fg_rtbl_node_parse(name, &n) == 0 ? (int)n : -1;
}

int
ps_item_ids(enum fg_subj t, const char *key, struct ps_id out[2])
{
	char hex[65];

	switch (t) {
	case FG_SUBJ_ACCOUNT:
		up_sha256_hex(key, hex);
		out[0].node = PS_JIDS;
		out[1].node = PS_MUC;
		snprintf(out[0].id, sizeof out[0].id, "%s", hex);
		snprintf(out[1].id, sizeof out[1].id, "%s", hex);
		return 2;
	case FG_SUBJ_DOMAIN:
		if (strlen(key) >= PS_ID_MAX)
			return 0;
		up_sha256_hex(key, hex);
		out[0].node = PS_DOMAINS;
		snprintf(out[0].id, sizeof out[0].id, "%s", key);
		out[1].node = PS_MUC;
		snprintf(out[1].id, sizeof out[1].id, "%s", hex);
		return 2;
	case FG_SUBJ_IP:
		/* always with the prefix: Prosody's parse_cidr needs it */
		out[0].node = PS_IPS;
		snprintf(out[0].id, sizeof out[0].id, "%s/%d", key,
			 strchr(key, ':') != NULL ? 128 : 32);
		return 1;
	case FG_SUBJ_PREFIX:
		if (strchr(key, '/') == NULL || strlen(key) >= PS_ID_MAX)
			return 0;
		out[0].node = PS_IPS;
		snprintf(out[0].id, sizeof out[0].id, "%s", key);
		return 1;
	default:
		return 0;
	}
}

void
ps_page(size_t n, const struct ps_rsm *r, size_t *start, size_t *end)
{
	size_t max = r->max == 0 || r->max > PS_PAGE_MAX ? PS_PAGE_MAX : r->max;

	if (r->before_set) {
		*end = r->before_pos > n ? n : r->before_pos;
		*start = *end > max ? *end - max : 0;
		return;
	}
	if (r->after_set)
		*start = r->after_pos > n ? n : r->after_pos;
	else if (r->index_set)
		*start = r->index > n ? n : r->index;
	else
		*start = 0;
	*end = n - *start > max ? *start + max : n;
}

/* First position whose id is >= id (or > id when strict). */
size_t
ps_lower(const struct ps_nodeset *ns, const char *id, int strict)
{
	size_t lo = 0, hi = ns->n, mid;
	int    c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(ns->v[mid]->id, id);
		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ps_item *
ps_find(const struct ps_nodeset *ns, const char *id)
{
	size_t i = ps_lower(ns, id, 0);

	return i < ns->n && strcmp(ns->v[i]->id, id) == 0 ? ns->v[i] : NULL;
}

static int
publishable(const struct comp *c, enum fg_verdict v)
{
	return fg_rtbl_published(v, c->cfg->bl_publish_quarantine);
}

/* Insert or refresh; 1 when the item is new. */
static int
item_put(struct pubsub *ps, enum ps_node node, const char *id, enum fg_subj t,
	 const char *key, const char *reason)
{
	struct ps_nodeset *ns = &ps->node[node];
	struct ps_item    *it;
	size_t             i = ps_lower(ns, id, 0), klen = strlen(key);

	if (i < ns->n && strcmp(ns->v[i]->id, id) == 0) {
		it = ns->v[i];
		it->seen = 1;
		if (reason != NULL && *reason != '\0' &&
		    (it->reason == NULL || strcmp(it->reason, reason) != 0)) {
			free(it->reason);
			it->reason = xstrndup(reason, PS_REASON_MAX);
		}
		return 0;
	}
	it = xcalloc(1, sizeof *it + klen + 1);
	memcpy(it->key, key, klen + 1);
	it->id = xstrdup(id);
	it->subj = (uint8_t)t;
	it->seq = ++ps->seq;
	it->seen = 1;
	if (reason != NULL && *reason != '\0')
		it->reason = xstrndup(reason, PS_REASON_MAX);
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		ns->v = xreallocarray(ns->v, ns->cap, sizeof *ns->v);
	}
	memmove(ns->v + i + 1, ns->v + i, (ns->n - i) * sizeof *ns->v);
	ns->v[i] = it;
	ns->n++;
	return 1;
}

static void
item_free(struct ps_item *it)
{
	free(it->id);
	free(it->reason);
	free(it);
}

/* Remember a retraction the subscribers could not hear yet. */
static void
note_retract(struct pubsub *ps, enum ps_node node, const char *id)
{
	struct ps_nodeset *ns = &ps->node[node];

	if (ns->nretr >= PS_RETRACT_KEEP)
		return;
	ns->retr = xreallocarray(ns->retr, ns->nretr + 1, sizeof *ns->retr);
	ns->retr[ns->nretr++] = xstrdup(id);
}

static int
item_del(struct pubsub *ps, enum ps_node node, const char *id)
{
	struct ps_nodeset *ns = &ps->node[node];
	size_t             i = ps_lower(ns, id, 0);

	if (i >= ns->n || strcmp(ns->v[i]->id, id) != 0)
		return 0;
	item_free(ns->v[i]);
	memmove(ns->v + i, ns->v + i + 1, (ns->n - i - 1) * sizeof *ns->v);
	ns->n--;
	return 1;
}

/* <report/> payload of an item. */
void
ps_payload(struct comp *c, xmpp_stanza_t *item, const struct ps_item *it)
{
	xmpp_stanza_t *r = stz_add(item, stz_elem(c, "report", NS_REPORTING));

	xmpp_stanza_set_attribute(r, "reason", REPORTING_SPAM);
	if (it->reason != NULL)
		stz_text(c, stz_add(r, stz_elem(c, "text", NULL)), it->reason);
}

/* A new <event><items node/></event>; *items gets the inner element. */
static xmpp_stanza_t *
ev_items_new(struct comp *c, enum ps_node node, xmpp_stanza_t **items)
{
	xmpp_stanza_t *ev = stz_elem(c, "event", NS_PUBSUB_EVENT);

	*items = stz_add(ev, stz_elem(c, "items", NULL));
	xmpp_stanza_set_attribute(*items, "node", ps_node_name(node));
	return ev;
}

static void
send_event(struct comp *c, const char *to, xmpp_stanza_t *ev)
{
	xmpp_stanza_t *m = stz_elem(c, "message", NULL);
	char           id[32];

	stz_next_id(c, id, sizeof id);
	xmpp_stanza_set_id(m, id);
	xmpp_stanza_set_to(m, to);
	xmpp_stanza_set_from(m, comp_link_jid(c->link));
	xmpp_stanza_add_child(m, ev);
	comp_send(c, m);
	xmpp_stanza_release(m);
	c->ps->c.notifications++;
}

static void
send_all(struct comp *c, enum ps_node node, xmpp_stanza_t *ev)
{
	struct ps_nodeset *ns = &c->ps->node[node];
	size_t             i;

	for (i = 0; i < ns->nsubs; i++)
		send_event(c, ns->subs[i]->jid, ev);
}

/* Tell node's subscribers that id was listed (it != NULL) or not. */
static void
notify(struct comp *c, enum ps_node node, const char *id,
       const struct ps_item *it)
{
	xmpp_stanza_t *ev, *items, *e;

	if (!comp_link_up(c->link)) {
		if (it == NULL)
			note_retract(c->ps, node, id);
		return; /* the full push on link up carries the items */
	}
	if (c->ps->node[node].nsubs == 0)
		return;
	ev = ev_items_new(c, node, &items);
	e = stz_add(items, stz_elem(c, it != NULL ? "item" : "retract", NULL));
	xmpp_stanza_set_id(e, id);
	if (it != NULL)
		ps_payload(c, e, it);
	send_all(c, node, ev);
	xmpp_stanza_release(ev);
}

static void
apply(struct comp *c, enum fg_subj t, const char *key, enum fg_verdict v,
      const char *reason, int quiet)
{
	struct ps_id ids[2];
	int          n, i;

	n = ps_item_ids(t, key, ids);
	for (i = 0; i < n; i++) {
		if (publishable(c, v)) {
			if (item_put(c->ps, ids[i].node, ids[i].id, t, key,
				     reason) &&
			    !quiet)
				notify(c, ids[i].node, ids[i].id,
				       ps_find(&c->ps->node[ids[i].node],
					       ids[i].id));
		} else if (item_del(c->ps, ids[i].node, ids[i].id) && !quiet)
			notify(c, ids[i].node, ids[i].id, NULL);
	}
}

void
comp_pubsub_verdict(struct comp *c, enum fg_subj t, const char *key,
		    enum fg_verdict v, const char *reason)
{
	if (c->ps != NULL)
		apply(c, t, key, v, reason, 0);
}

static void
rebuild_one(const struct pol_info *pi, void *arg)
{
	struct comp *c = arg;

	/* what is enforced: an observed verdict is not published */
	if (publishable(c, pi->enforced))
		apply(c, pi->type, pi->key, pi->enforced, pi->reason, 0);
}

void
comp_pubsub_rebuild(struct comp *c)
{
	struct ps_nodeset *ns;
	size_t             i, j;
	int                n;

	for (n = 0; n < PS__NODES; n++)
		for (i = 0; i < c->ps->node[n].n; i++)
			c->ps->node[n].v[i]->seen = 0;
	pol_foreach_listed(c->pol, rebuild_one, c);
	for (n = 0; n < PS__NODES; n++) {
		ns = &c->ps->node[n];
		for (i = j = 0; i < ns->n; i++) {
			if (ns->v[i]->seen) {
				ns->v[j++] = ns->v[i];
				continue;
			}
			notify(c, n, ns->v[i]->id, NULL);
			item_free(ns->v[i]);
		}
		ns->n = j;
	}
}

/* Full state of node to one JID, in chunks, then pending retractions. */
static void
push_node(struct comp *c, enum ps_node node, const char *to)
{
	struct ps_nodeset *ns = &c->ps->node[node];
	xmpp_stanza_t     *ev = NULL, *items = NULL, *e;
	size_t             i, k = 0;

	for (i = 0; i < ns->nretr; i++) {
		if (ps_find(ns, ns->retr[i]) != NULL)
			continue; /* listed again since */
		if (ev == NULL)
			ev = ev_items_new(c, node, &items);
		e = stz_add(items, stz_elem(c, "retract", NULL));
		xmpp_stanza_set_id(e, ns->retr[i]);
		if (++k == PS_PUSH_CHUNK) {
			send_event(c, to, ev);
			xmpp_stanza_release(ev);
			ev = NULL, k = 0;
		}
	}
	for (i = 0; i < ns->n; i++) {
		if (ev == NULL)
			ev = ev_items_new(c, node, &items);
		e = stz_add(items, stz_elem(c, "item", NULL));
		xmpp_stanza_set_id(e, ns->v[i]->id);
		ps_payload(c, e, ns->v[i]);
		if (++k == PS_PUSH_CHUNK) {
			send_event(c, to, ev);
			xmpp_stanza_release(ev);
			ev = NULL, k = 0;
		}
	}
	if (ev != NULL) {
		send_event(c, to, ev);
		xmpp_stanza_release(ev);
	}
}

static int
subscribed(const struct ps_nodeset *ns, const char *jid)
{
	size_t i;

	for (i = 0; i < ns->nsubs; i++)
		if (strcasecmp(ns->subs[i]->jid, jid) == 0)
			return 1;
	return 0;
}

/*
 * The startup-order workaround: consumers subscribe once, at their
 * start, maybe before we were connected. On every link up, push each
 * node's full state to its persisted subscribers, and to the served
 * domains themselves (Prosody's mod_pubsub_subscription accepts events
 * for a subscription whose IQ failed).
 */
void
comp_pubsub_link_up(struct comp *c)
{
	struct ps_nodeset *ns;
	size_t             i, j, before = c->ps->c.notifications;
	int                n;

	for (n = 0; n < PS__NODES; n++) {
		ns = &c->ps->node[n];
		if (ns->n == 0 && ns->nretr == 0)
			continue;
		for (i = 0; i < ns->nsubs; i++)
			push_node(c, n, ns->subs[i]->jid);
		for (i = 0; i < c->cfg->serves.n; i++)
			if (!subscribed(ns, c->cfg->serves.v[i]))
				push_node(c, n, c->cfg->serves.v[i]);
		for (j = 0; j < ns->nretr; j++)
			free(ns->retr[j]);
		free(ns->retr);
		ns->retr = NULL;
		ns->nretr = 0;
	}
	log_info("pubsub: pushed the published set to subscribers (%zu "
		 "messages)",
		 (size_t)(c->ps->c.notifications - before));
}

/* The error reply with a pubsub-specific condition next to cond. */
void
ps_error(struct comp *c, xmpp_stanza_t *iq, const char *type, const char *cond,
	 const char *ps_cond, const char *text)
{
	xmpp_stanza_t *r = stz_iq_error(c, iq, type, cond, text);
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(r, "error");

	xmpp_stanza_set_from(r, comp_link_jid(c->link));
	if (ps_cond != NULL && err != NULL)
		stz_add(err, stz_elem(c, ps_cond, NS_PUBSUB_ERRORS));
	comp_send(c, r);
	xmpp_stanza_release(r);
}

xmpp_stanza_t *
ps_result(struct comp *c, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *r = stz_iq_result(c, iq);

	xmpp_stanza_set_from(r, comp_link_jid(c->link));
	return r;
}

/* d is domain or one of its subdomains. */
static int
domain_under(const char *dom, const char *d)
{
	size_t n = strlen(dom), m = strlen(d);

	if (n == m)
		return strcasecmp(dom, d) == 0;
	return n > m && dom[n - m - 1] == '.' &&
	       strcasecmp(dom + n - m, d) == 0;
}

int
ps_in_list(const char *dom, const struct fg_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (domain_under(dom, l->v[i]))
			return 1;
	return 0;
}

int
comp_blocklist_txt(struct evbuffer *b, void *arg)
{
	struct comp       *c = arg;
	struct ps_nodeset *ns = &c->ps->node[PS_DOMAINS];
	size_t             i;

	for (i = 0; i < ns->n; i++)
		evbuffer_add_printf(b, "%s\n", ns->v[i]->id);
	return 200;
}

void
ps_nodes_free(struct pubsub *ps)
{
	size_t i;
	int    n;

	for (n = 0; n < PS__NODES; n++) {
		for (i = 0; i < ps->node[n].n; i++)
			item_free(ps->node[n].v[i]);
		for (i = 0; i < ps->node[n].nretr; i++)
			free(ps->node[n].retr[i]);
		free(ps->node[n].v);
		free(ps->node[n].retr);
	}
}
