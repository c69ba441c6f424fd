/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the RTBL publisher's subscribers: who may hold one of the
 * PS_SUBS_MAX places of a node, kept in memory and in the store.
 *
 * Anyone who may read may subscribe, but the places are shared so that no
 * remote party can lock the served domains out: the users of one remote
 * registrable domain (a.evil.example and b.evil.example are one) hold at
 * most PS_SUBS_PER_DOMAIN places of a node, and remote domains together
 * leave PS_SUBS_RESERVED places free. The served domains and the
 * [blocklist] domains (the configured peers) are never refused while the
 * node has a place at all.
 *
 * The registrable domain comes from Debian's Public Suffix List through
 * libpsl, ICANN section only: names under a private-section suffix (free
 * subdomain services such as dynamic DNS) cost an attacker nothing, so
 * they count as their provider's domain.
 */
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/jid.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../storage/store.h"
#include "comp_int.h"
#include "pubsub_int.h"

static const psl_ctx_t *psl(void);
static const char      *last_labels(const char *, int);
static struct ps_sub   *sub_new(const char *jid);
static int              no_room(struct comp *, const struct ps_nodeset *,
				const struct ps_sub *);
static void             sub_load(const char *node, const char *jid, void *);

/* The newest list on the system (the publicsuffix package), else the one
 * built into libpsl. Loaded once and kept for the process's life. */
static const psl_ctx_t *
psl(void)
{
	static const psl_ctx_t *ctx;
	static int              tried;

	if (!tried) {
		tried = 1;
		if ((ctx = psl_latest(NULL)) == NULL)
			ctx = psl_builtin();
		if (ctx == NULL)
			log_warnx("pubsub: no Public Suffix List; a domain "
				  "counts by its last two labels");
	}
	return ctx;
}

/* The last n labels of d (all of d if it has fewer). */
static const char *
last_labels(const char *d, int n)
{
	const char *p = d + strlen(d);

	while (p > d) {
		p--;
		if (*p == '.' && --n == 0)
			return p + 1;
	}
	return d;
}

int
ps_reg_domain(const char *dom, char *out, size_t outsz)
{
	char        buf[JID_PART_MAX + 1];
	const char *p, *prev = NULL, *r;
	size_t      i, n;

	if (dom == NULL || (n = strlen(dom)) == 0 || n >= sizeof buf)
		return -1;
	for (i = 0; i < n; i++)
		buf[i] =
		    (dom[i] >= 'A' && dom[i] <= 'Z') ? dom[i] + 32 : dom[i];
	while (n > 0 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return -1;
	/* an address literal is its own registrant */
	if (buf[0] == '[' || strchr(buf, ':') != NULL ||
	    strspn(last_labels(buf, 1), "0123456789") ==
		strlen(last_labels(buf, 1))) {
		r = buf;
	} else if (psl() == NULL) {
		r = last_labels(buf, 2);
	} else {
		/* the first suffix from the left that is public is the
		 * longest; the registrable domain is one label more */
		for (p = buf; p != NULL; p = (p = strchr(p, '.')) ? p + 1 : p) {
			if (psl_is_public_suffix2(psl(), p, PSL_TYPE_ICANN))
				break;
			prev = p;
		}
		r = p == NULL ? last_labels(buf, 2) : prev != NULL ? prev : p;
	}
	if (strlen(r) >= outsz)
		return -1;
	memcpy(out, r, strlen(r) + 1);
	return 0;
}

void
ps_sub_free(struct ps_sub *s)
{
	free(s);
}

void
ps_subs_free(struct pubsub *ps)
{
	size_t i;
	int    n;

	for (n = 0; n < PS__NODES; n++) {
		for (i = 0; i < ps->node[n].nsubs; i++)
			ps_sub_free(ps->node[n].subs[i]);
		free(ps->node[n].subs);
		ps->node[n].subs = NULL;
		ps->node[n].nsubs = 0;
	}
}

/* NULL when jid has no valid domain. */
static struct ps_sub *
sub_new(const char *jid)
{
	char           dom[JID_MAX + 1], reg[JID_MAX + 1];
	struct ps_sub *s;
	size_t         rl, jl, dl;

	if (jid_domain(jid, dom, sizeof dom) == -1 ||
	    ps_reg_domain(dom, reg, sizeof reg) == -1)
		return NULL;
	rl = strlen(reg), jl = strlen(jid), dl = strlen(dom);
	s = xcalloc(1, sizeof *s + rl + jl + dl + 3);
	memcpy(s->reg, reg, rl + 1);
	s->jid = s->reg + rl + 1;
	memcpy(s->jid, jid, jl + 1);
	s->dom = s->jid + jl + 1;
	memcpy(s->dom, dom, dl + 1);
	return s;
}

int
ps_privileged(struct comp *c, const char *dom)
{
	return ps_in_list(dom, &c->cfg->serves) ||
	       ps_in_list(dom, &c->cfg->bl_domains);
}

enum { ROOM_OK, ROOM_FULL, ROOM_DOMAIN };

/* Whether s may join ns: ROOM_OK, or why not. */
static int
no_room(struct comp *c, const struct ps_nodeset *ns, const struct ps_sub *s)
{
	size_t i, remote = 0, same = 0;

	if (ns->nsubs >= PS_SUBS_MAX)
		return ROOM_FULL;
	if (ps_privileged(c, s->dom))
		return ROOM_OK;
	for (i = 0; i < ns->nsubs; i++) {
		if (strcmp(ns->subs[i]->reg, s->reg) == 0)
			same++;
		if (!ps_privileged(c, ns->subs[i]->dom))
			remote++;
	}
	if (same >= PS_SUBS_PER_DOMAIN)
		return ROOM_DOMAIN;
	if (remote >= PS_SUBS_MAX - PS_SUBS_RESERVED)
		return ROOM_FULL;
	return ROOM_OK;
}

static void
sub_load(const char *node, const char *jid, void *arg)
{
	struct comp       *c = arg;
	int                n = ps_node_parse(node);
	struct ps_nodeset *ns;
	struct ps_sub     *s;

	if (n < 0 || (s = sub_new(jid)) == NULL)
		return;
	ns = &c->ps->node[n];
	if (no_room(c, ns, s) != ROOM_OK) {
		c->ps->c.refused_subs++;
		ps_sub_free(s);
		return;
	}
	ns->subs = xreallocarray(ns->subs, ns->nsubs + 1, sizeof *ns->subs);
	ns->subs[ns->nsubs++] = s;
}

void
ps_subs_load(struct comp *c)
{
	uint64_t before = c->ps->c.refused_subs;

	if (c->store == NULL)
		return;
	if (store_sub_list(c->store, sub_load, c) == -1)
		log_warnx("pubsub: could not load the subscribers");
	if (c->ps->c.refused_subs > before)
		log_warnx("pubsub: %llu stored subscriptions over the caps "
			  "not loaded",
			  (unsigned long long)(c->ps->c.refused_subs - before));
}

static void
sub_reply(struct comp *c, xmpp_stanza_t *iq, enum ps_node node, const char *jid,
	  int on)
{
	xmpp_stanza_t *r = ps_result(c, iq), *ps, *s;

	if (on) {
		ps = stz_add(r, stz_elem(c, "pubsub", NS_PUBSUB));
		s = stz_add(ps, stz_elem(c, "subscription", NULL));
		xmpp_stanza_set_attribute(s, "node", ps_node_name(node));
		xmpp_stanza_set_attribute(s, "jid", jid);
		xmpp_stanza_set_attribute(s, "subscription", "subscribed");
	}
	comp_send(c, r);
	xmpp_stanza_release(r);
}

void
ps_subscribe(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *req,
	     enum ps_node node, const char *from_bare, int on)
{
	struct ps_nodeset *ns = &c->ps->node[node];
	const char        *jid = stz_attr(req, "jid");
	char               bare[JID_MAX + 1], esc[LOG_ESC_MAX];
	struct ps_sub     *s;
	size_t             i;
	int                room;

	if (jid == NULL || strlen(jid) > JID_MAX ||
	    jid_bare(jid, bare, sizeof bare) == -1) {
		ps_error(c, iq, "modify", "bad-request", "jid-required", NULL);
		return;
	}
	if (strcmp(bare, from_bare) != 0) {
		ps_error(c, iq, "modify", "bad-request", "invalid-jid",
			 "jid must be the sender's");
		return;
	}
	for (i = 0; i < ns->nsubs; i++)
		if (strcasecmp(ns->subs[i]->jid, jid) == 0)
			break;
	if (on && i == ns->nsubs) {
		if ((s = sub_new(jid)) == NULL) {
			ps_error(c, iq, "modify", "bad-request", "invalid-jid",
				 NULL);
			return;
		}
		if ((room = no_room(c, ns, s)) != ROOM_OK) {
			c->ps->c.refused_subs++;
			log_debug("pubsub: refused subscription of %s to %s",
				  log_esc(esc, sizeof esc, jid),
				  ps_node_name(node));
			ps_sub_free(s);
			if (room == ROOM_FULL)
				ps_error(c, iq, "wait", "resource-constraint",
					 NULL, "too many subscribers");
			else
				ps_error(c, iq, "cancel", "not-allowed",
					 "too-many-subscriptions",
					 "too many subscriptions from this "
					 "domain");
			return;
		}
		ns->subs =
		    xreallocarray(ns->subs, ns->nsubs + 1, sizeof *ns->subs);
		ns->subs[ns->nsubs++] = s;
		if (c->store != NULL &&
		    store_sub_add(c->store, ps_node_name(node), jid) == -1)
			log_warnx("pubsub: subscriber %s not persisted",
				  log_esc(esc, sizeof esc, jid));
		log_info("pubsub: %s subscribed to %s",
			 log_esc(esc, sizeof esc, jid), ps_node_name(node));
		c->ps->c.subscribes++;
	} else if (!on && i < ns->nsubs) {
		if (c->store != NULL)
			store_sub_del(c->store, ps_node_name(node),
				      ns->subs[i]->jid);
		ps_sub_free(ns->subs[i]);
		ns->subs[i] = ns->subs[--ns->nsubs];
		log_info("pubsub: %s unsubscribed from %s",
			 log_esc(esc, sizeof esc, jid), ps_node_name(node));
		c->ps->c.unsubscribes++;
	} else if (!on) {
		ps_error(c, iq, "cancel", "unexpected-request",
			 "not-subscribed", NULL);
		return;
	}
	sub_reply(c, iq, node, jid, on);
}
