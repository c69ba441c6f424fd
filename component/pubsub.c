/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the RTBL publisher: XEP-0060 requests on the component JID
 * (items with max_items and XEP-0059 paging, subscribe, unsubscribe, and
 * publish/retract by admins), who may ask, and how often.
 *
 * Every answer and event leaves from exactly the component JID: RTBL
 * consumers ignore anything else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../core/http.h"
#include "../core/jid.h"
#include "../core/log.h"
#include "../core/ratelimit.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../storage/store.h"
#include "comp_int.h"
#include "pubsub_int.h"

#define PS_RL_KEYS 65536   /* requesting domains tracked for the rate */
#define PS_ITEM_BYTES 48   /* <item id=''/> overhead, bytes */
#define PS_REPORT_BYTES 96 /* <report/> payload overhead, bytes */

static const char *const features[] = {
    NS_PUBSUB,
    NS_PUBSUB "#subscribe",
    NS_PUBSUB "#retrieve-items",
    NS_PUBSUB "#retract-items",
    NS_PUBSUB "#publish",
    NS_PUBSUB "#persistent-items",
    NS_RSM,
};

struct pubsub *
comp_pubsub_new(struct comp *c)
{
	struct pubsub *ps = xcalloc(1, sizeof *ps);

	c->ps = ps;
	ps->rl = rl_new(PS_RL_KEYS);
	ps_subs_load(c);
	comp_pubsub_rebuild(c);
	return ps;
}

void
comp_pubsub_free(struct pubsub *ps)
{
	if (ps == NULL)
		return;
	ps_subs_free(ps);
	ps_nodes_free(ps);
	rl_free(ps->rl);
	free(ps);
}

static void
send_release(struct comp *c, xmpp_stanza_t *r)
{
	comp_send(c, r);
	xmpp_stanza_release(r);
}

/* 1 when the requester may read; the served domains (and their
 * components) always may. */
static int
allowed(struct comp *c, const char *dom)
{
	return c->cfg->bl_access_open || ps_privileged(c, dom);
}

/* One query token for the requester: per registrable domain (so that
 * subdomains share one budget), except that a served domain's own users
 * each have their own bucket, so that one of them cannot starve the
 * server's RTBL consumers. */
static int
take(struct comp *c, const char *bare, const char *dom)
{
	const struct fg_rate *r =
	    &c->cfg->limits[FG_SUBJ_DOMAIN][FG_KIND_QUERY];
	const char *k = dom;
	char        reg[JID_MAX + 1];
	uint64_t    T, tau;

	if (r->count == 0)
		return 1;
	if (ps_in_list(dom, &c->cfg->serves))
		k = bare;
	else if (ps_reg_domain(dom, reg, sizeof reg) == 0)
		k = reg;
	rl_rate(r->count, r->per_ms, r->burst, &T, &tau);
	return rl_take(c->ps->rl,
		       rl_key(FG_KIND_QUERY, FG_SUBJ_DOMAIN, k, strlen(k)),
		       clock_mono_ns(), T, tau, NULL);
}

static int
is_admin(struct comp *c, const char *bare)
{
	return config_list_has(&c->cfg->admins, bare);
}

static void
add_item(struct comp *c, xmpp_stanza_t *items, const struct ps_item *it)
{
	xmpp_stanza_t *e = stz_add(items, stz_elem(c, "item", NULL));

	xmpp_stanza_set_id(e, it->id);
	ps_payload(c, e, it);
	c->ps->c.items_served++;
}

static size_t
item_bytes(const struct ps_item *it)
{
	return strlen(it->id) + PS_ITEM_BYTES + PS_REPORT_BYTES +
	       (it->reason ? strlen(it->reason) * 6 / 5 : 0);
}

static int
by_seq_desc(const void *a, const void *b)
{
	const struct ps_item *x = *(struct ps_item *const *)a;
	const struct ps_item *y = *(struct ps_item *const *)b;

	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

static void
rsm_set(struct comp *c, xmpp_stanza_t *parent, const struct ps_nodeset *ns,
	size_t start, size_t end)
{
	xmpp_stanza_t *set = stz_add(parent, stz_elem(c, "set", NS_RSM));
	xmpp_stanza_t *e;
	char           buf[32];

	if (end > start) {
		e = stz_add(set, stz_elem(c, "first", NULL));
		snprintf(buf, sizeof buf, "%zu", start);
		xmpp_stanza_set_attribute(e, "index", buf);
		stz_text(c, e, ns->v[start]->id);
		e = stz_add(set, stz_elem(c, "last", NULL));
		stz_text(c, e, ns->v[end - 1]->id);
	}
	snprintf(buf, sizeof buf, "%zu", ns->n);
	stz_text(c, stz_add(set, stz_elem(c, "count", NULL)), buf);
}

/* Text of child name of el, or NULL. */
static const char *
child_text(xmpp_stanza_t *el, const char *name, char **own)
{
	xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(el, name);

	*own = e != NULL ? xmpp_stanza_get_text(e) : NULL;
	return e != NULL ? (*own != NULL ? *own : "") : NULL;
}

static void
items(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *pubsub,
      xmpp_stanza_t *req, enum ps_node node)
{
	struct ps_nodeset *ns = &c->ps->node[node];
	struct ps_rsm      rsm;
	xmpp_stanza_t     *set = xmpp_stanza_get_child_by_ns(pubsub, NS_RSM);
	xmpp_stanza_t     *r, *ps, *out, *e;
	struct ps_item   **v, *it;
	const char        *a;
	char              *own;
	size_t             start = 0, end = ns->n, i, bytes = 0;
	long               max_items = -1;

	r = ps_result(c, iq);
	ps = stz_add(r, stz_elem(c, "pubsub", NS_PUBSUB));
	out = stz_add(ps, stz_elem(c, "items", NULL));
	xmpp_stanza_set_attribute(out, "node", ps_node_name(node));
	/* particular items asked for by id */
	if ((e = xmpp_stanza_get_child_by_name(req, "item")) != NULL) {
		/* bounded like a page: repeating one id must not make the
		 * reply larger than the request could ever be */
		for (i = 0; e != NULL && i < PS_ITEMS_ASKED_MAX;
		     e = xmpp_stanza_get_next(e)) {
			if (xmpp_stanza_get_name(e) == NULL ||
			    strcmp(xmpp_stanza_get_name(e), "item") != 0 ||
			    (a = stz_attr(e, "id")) == NULL)
				continue;
			i++;
			if ((it = ps_find(ns, a)) != NULL &&
			    (bytes += item_bytes(it)) <= PS_REPLY_BYTES)
				add_item(c, out, it);
		}
		send_release(c, r);
		return;
	}
	if ((a = stz_attr(req, "max_items")) != NULL) {
		max_items = strtol(a, NULL, 10);
		if (max_items <= 0 || max_items > PS_PAGE_MAX)
			max_items = PS_PAGE_MAX;
	}
	if (set != NULL) {
		memset(&rsm, 0, sizeof rsm);
		if ((a = child_text(set, "max", &own)) != NULL)
			rsm.max = strtoul(a, NULL, 10);
		free(own);
		if ((a = child_text(set, "after", &own)) != NULL) {
			rsm.after_set = 1;
			rsm.after_pos = ps_lower(ns, a, 1);
		}
		free(own);
		if ((a = child_text(set, "before", &own)) != NULL) {
			rsm.before_set = 1;
			rsm.before_pos = *a ? ps_lower(ns, a, 0) : ns->n;
		}
		free(own);
		if ((a = child_text(set, "index", &own)) != NULL) {
			rsm.index_set = 1;
			rsm.index = strtoul(a, NULL, 10);
		}
		free(own);
		ps_page(ns->n, &rsm, &start, &end);
		for (i = start; i < end; i++)
			add_item(c, out, ns->v[i]);
		rsm_set(c, ps, ns, start, end);
	} else if (max_items > 0) {
		/* the most recently published first */
		v = xreallocarray(NULL, ns->n ? ns->n : 1, sizeof *v);
		if (ns->n > 0) /* an empty node has no array to copy */
			memcpy(v, ns->v, ns->n * sizeof *v);
		qsort(v, ns->n, sizeof *v, by_seq_desc);
		for (i = 0; i < ns->n && i < (size_t)max_items; i++) {
			if ((bytes += item_bytes(v[i])) > PS_REPLY_BYTES)
				break;
			add_item(c, out, v[i]);
		}
		free(v);
	} else {
		/* everything, unless too big for one stanza: then the
		 * first part and an RSM set saying there is more */
		for (i = 0; i < ns->n; i++) {
			if ((bytes += item_bytes(ns->v[i])) > PS_REPLY_BYTES)
				break;
			add_item(c, out, ns->v[i]);
		}
		if (i < ns->n)
			rsm_set(c, ps, ns, 0, i);
	}
	send_release(c, r);
}

/* Admins list and delist by hand: publish blocks the subject of a domain
 * or address item; retract lifts the override of any item. */
static void
publish(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *req,
	enum ps_node node, const char *actor, int on)
{
	xmpp_stanza_t  *item = xmpp_stanza_get_child_by_name(req, "item");
	const char     *id = item ? stz_attr(item, "id") : NULL;
	struct ps_item *it;
	enum fg_subj    t;
	const char     *key;
	char            k[PS_ID_MAX], *slash;
	int             rc;

	if (id == NULL) {
		ps_error(c, iq, "modify", "bad-request", "item-required", NULL);
		return;
	}
	if (!on) {
		if ((it = ps_find(&c->ps->node[node], id)) == NULL) {
			ps_error(c, iq, "cancel", "item-not-found", NULL, NULL);
			return;
		}
		t = (enum fg_subj)it->subj;
		snprintf(k, sizeof k, "%s", it->key);
		key = k;
	} else if (node == PS_DOMAINS) {
		t = FG_SUBJ_DOMAIN;
		key = id;
	} else if (node == PS_IPS) {
		snprintf(k, sizeof k, "%s", id);
		t = FG_SUBJ_PREFIX;
		if ((slash = strchr(k, '/')) != NULL &&
		    (!strcmp(slash, "/32") || !strcmp(slash, "/128"))) {
			*slash = '\0';
			t = FG_SUBJ_IP;
		} else if (slash == NULL)
			t = FG_SUBJ_IP;
		key = k;
	} else {
		ps_error(c, iq, "cancel", "feature-not-implemented",
			 "publish-options-unsupported",
			 "hashed nodes: block the JID with an ad-hoc command");
		return;
	}
	rc = pol_admin(c->pol, t, key, on ? FG_OVR_BLOCK : FG_OVR_NONE, actor,
		       on ? "published on pubsub" : "retracted on pubsub", 0);
	if (rc == -1) {
		ps_error(c, iq, "modify", "bad-request", NULL,
			 "not a valid item or the store failed");
		return;
	}
	send_release(c, ps_result(c, iq));
}

/* 1 when handled: everything in the pubsub namespace is. */
int
comp_pubsub_iq(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	const char    *type = xmpp_stanza_get_type(iq);
	const char    *from = stz_attr(iq, "from"), *name, *nodename;
	char           bare[JID_MAX + 1], dom[JID_MAX + 1], esc[LOG_ESC_MAX];
	xmpp_stanza_t *req;
	int            node, get = strcmp(type, "get") == 0, admin;

	if (strcmp(xmpp_stanza_get_ns(q), NS_PUBSUB_OWNER) == 0) {
		ps_error(c, iq, "cancel", "feature-not-implemented", NULL,
			 "nodes are fixed");
		return 1;
	}
	if (strcmp(xmpp_stanza_get_ns(q), NS_PUBSUB) != 0)
		return 0;
	c->ps->c.queries++;
	if (from == NULL || jid_bare(from, bare, sizeof bare) == -1 ||
	    jid_domain(bare, dom, sizeof dom) == -1) {
		ps_error(c, iq, "modify", "bad-request", NULL, "no sender");
		return 1;
	}
	for (req = xmpp_stanza_get_children(q); req != NULL;
	     req = xmpp_stanza_get_next(req))
		if (!xmpp_stanza_is_text(req) &&
		    strcmp(xmpp_stanza_get_name(req), "set") != 0)
			break;
	if (req == NULL) {
		ps_error(c, iq, "modify", "bad-request", NULL, "empty pubsub");
		return 1;
	}
	name = xmpp_stanza_get_name(req);
	admin = is_admin(c, bare);
	/* unsubscribing is always allowed: a refused reader can leave */
	if (!admin && strcmp(name, "unsubscribe") != 0 && !allowed(c, dom)) {
		c->ps->c.refused_access++;
		log_debug("pubsub: refused %s from %s", name,
			  log_esc(esc, sizeof esc, bare));
		ps_error(c, iq, "auth", "forbidden", NULL,
			 "this blocklist is readable by listed domains only");
		return 1;
	}
	if (!admin && !take(c, bare, dom)) {
		c->ps->c.refused_rate++;
		ps_error(c, iq, "wait", "resource-constraint", NULL,
			 "too many blocklist queries; retry later");
		return 1;
	}
	nodename = stz_attr(req, "node");
	if ((node = ps_node_parse(nodename)) == -1) {
		if (nodename == NULL)
			ps_error(c, iq, "modify", "bad-request",
				 "nodeid-required", NULL);
		else
			ps_error(c, iq, "cancel", "item-not-found", NULL, NULL);
		return 1;
	}
	if (get && strcmp(name, "items") == 0)
		items(c, iq, q, req, node);
	else if (!get && strcmp(name, "subscribe") == 0)
		ps_subscribe(c, iq, req, node, bare, 1);
	else if (!get && strcmp(name, "unsubscribe") == 0)
		ps_subscribe(c, iq, req, node, bare, 0);
	else if (!get &&
		 (!strcmp(name, "publish") || !strcmp(name, "retract"))) {
		if (!admin)
			ps_error(c, iq, "auth", "forbidden", NULL,
				 "only floodgate admins publish");
		else
			publish(c, iq, req, node, bare,
				strcmp(name, "publish") == 0);
	} else
		ps_error(c, iq, "cancel", "feature-not-implemented",
			 "unsupported", NULL);
	return 1;
}

/* disco#info of the service: identity and features. */
void
comp_pubsub_disco_info(struct comp *c, xmpp_stanza_t *query)
{
	xmpp_stanza_t *e;
	size_t         i;

	e = stz_add(query, stz_elem(c, "identity", NULL));
	xmpp_stanza_set_attribute(e, "category", "pubsub");
	xmpp_stanza_set_attribute(e, "type", "service");
	xmpp_stanza_set_attribute(e, "name", "floodgate blocklist");
	for (i = 0; i < sizeof features / sizeof features[0]; i++) {
		e = stz_add(query, stz_elem(c, "feature", NULL));
		xmpp_stanza_set_attribute(e, "var", features[i]);
	}
}

/* disco#info of one node; 0 if node is not ours. */
int
comp_pubsub_disco_node(struct comp *c, xmpp_stanza_t *iq, const char *node)
{
	xmpp_stanza_t *r, *q, *e;

	if (ps_node_parse(node) == -1)
		return 0;
	r = ps_result(c, iq);
	q = stz_add(r, stz_elem(c, "query", NS_DISCO_INFO));
	xmpp_stanza_set_attribute(q, "node", node);
	e = stz_add(q, stz_elem(c, "identity", NULL));
	xmpp_stanza_set_attribute(e, "category", "pubsub");
	xmpp_stanza_set_attribute(e, "type", "leaf");
	e = stz_add(q, stz_elem(c, "feature", NULL));
	xmpp_stanza_set_attribute(e, "var", NS_PUBSUB);
	send_release(c, r);
	return 1;
}

/* disco#items of the service: the nodes. */
void
comp_pubsub_disco_items(struct comp *c, xmpp_stanza_t *query)
{
	xmpp_stanza_t *e;
	int            n;

	for (n = 0; n < PS__NODES; n++) {
		e = stz_add(query, stz_elem(c, "item", NULL));
		xmpp_stanza_set_attribute(e, "jid", comp_link_jid(c->link));
		xmpp_stanza_set_attribute(e, "node", ps_node_name(n));
	}
}

void
comp_pubsub_metrics(struct evbuffer *b, struct comp *c)
{
	struct pubsub *ps = c->ps;
	char           lab[64];
	size_t         subs = 0;
	int            n;

	for (n = 0; n < PS__NODES; n++) {
		snprintf(lab, sizeof lab, "node=\"%s\"", ps_node_name(n));
		http_metric(b, "floodgate_pubsub_items", "gauge",
			    n == 0 ? "Items published per node" : NULL, lab,
			    (double)ps->node[n].n);
		subs += ps->node[n].nsubs;
	}
	http_metric(b, "floodgate_pubsub_subscribers", "gauge",
		    "Subscriptions to the blocklist nodes", NULL, (double)subs);
	http_metric(b, "floodgate_pubsub_queries_total", "counter",
		    "Pubsub requests received", NULL, (double)ps->c.queries);
	http_metric(b, "floodgate_pubsub_refused_total", "counter",
		    "Pubsub requests refused", "reason=\"access\"",
		    (double)ps->c.refused_access);
	http_metric(b, "floodgate_pubsub_refused_total", "counter", NULL,
		    "reason=\"rate\"", (double)ps->c.refused_rate);
	http_metric(b, "floodgate_pubsub_refused_total", "counter", NULL,
		    "reason=\"subscribers\"", (double)ps->c.refused_subs);
	http_metric(b, "floodgate_pubsub_notifications_total", "counter",
		    "Pubsub event messages sent", NULL,
		    (double)ps->c.notifications);
	http_metric(b, "floodgate_pubsub_items_served_total", "counter",
		    "Items returned to items requests", NULL,
		    (double)ps->c.items_served);
}
