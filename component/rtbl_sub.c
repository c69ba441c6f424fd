/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the RTBL consumer: [upstream] rtbl = SERVICE NODE entries,
 * subscribed from the component JID.
 *
 * On every link up, and then every UP_REFETCH_S, each service gets a
 * subscribe and a full items request (paged with XEP-0059 when the
 * service pages); the full copy replaces what the service listed before.
 * Notifications in between add and retract items. A service that does
 * not answer, or answers with an error, is retried with exponential
 * back-off. What is listed goes to policy/detect_upstream.c, which turns it
 * into signals; only events and answers from exactly the configured service JID
 * are believed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/http.h"
#include "../core/jid.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../policy/upstream.h"
#include "comp_int.h"
#include "pubsub.h"

#define UP_TIMEOUT_S 30        /* wait for an answer, s */
#define UP_REFETCH_S 3600      /* full re-fetch period, s */
#define UP_RETRY_MIN_S 5       /* first retry after a failure, s */
#define UP_RETRY_MAX_S 600     /* back-off ceiling, s */
#define UP_PAGE 1000           /* items asked per page */
#define UP_PAGES_MAX 10000     /* pages in one fetch (10M items) */
#define UP_PROM_LABEL_MAX 2100 /* bytes of a source="..." metric label */

/* One subscribed node of one service. */
struct up_sess {
	struct upstream *up;
	char            *service; /* bare JID, as configured */
	char            *node;
	char            *source; /* "rtbl:service/node" for the policy */
	char             id_items[32];
	char             id_sub[32];
	char            *after; /* paging cursor, NULL on the first page */
	size_t           got;   /* items in this fetch so far */
	unsigned         pages;
	unsigned         fails; /* consecutive failures */
	int              ok_once;
	uint64_t         items_in; /* items and retractions from this node */
	uint64_t         failures; /* requests to it that failed */
	struct event    *ev;       /* timeout, retry or re-fetch */
};

struct upstream {
	struct comp     *c;
	struct up_sess **v;
	size_t           n;
	uint64_t         items_in; /* items and retractions received */
	uint64_t         failures;
};

static void fetch(struct up_sess *);

static void
arm(struct event *ev, unsigned s)
{
	struct timeval tv = {s, 0};

	event_add(ev, &tv);
}

static void
sess_fail(struct up_sess *s, const char *why)
{
	char     esc[LOG_ESC_MAX];
	unsigned d = UP_RETRY_MIN_S, i;

	s->id_items[0] = '\0';
	s->fails++;
	s->failures++;
	s->up->failures++;
	for (i = 1; i < s->fails && d < UP_RETRY_MAX_S; i++)
		d *= 2;
	if (d > UP_RETRY_MAX_S)
		d = UP_RETRY_MAX_S;
	d += (unsigned)(random() % (d / 4 + 1)); /* jitter: no herd */
	log_warnx("upstream %s %s: %s; retrying in %u s", s->service, s->node,
		  log_esc(esc, sizeof esc, why), d);
	arm(s->ev, d);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct up_sess *s = arg;

	if (s->id_items[0] != '\0')
		sess_fail(s, "no answer");
	else
		fetch(s);
}

static xmpp_stanza_t *
iq_to(struct up_sess *s, const char *type, char *id, size_t idlen,
      xmpp_stanza_t **pubsub)
{
	struct comp   *c = s->up->c;
	xmpp_stanza_t *iq;

	stz_next_id(c, id, idlen);
	iq = xmpp_iq_new(comp_link_ctx(c->link), type, id);
	xmpp_stanza_set_to(iq, s->service);
	xmpp_stanza_set_from(iq, comp_link_jid(c->link));
	*pubsub = stz_add(iq, stz_elem(c, "pubsub", NS_PUBSUB));
	return iq;
}

static void
send_items(struct up_sess *s)
{
	struct comp   *c = s->up->c;
	xmpp_stanza_t *iq, *ps, *e, *set;
	char           buf[16];

	iq = iq_to(s, "get", s->id_items, sizeof s->id_items, &ps);
	e = stz_add(ps, stz_elem(c, "items", NULL));
	xmpp_stanza_set_attribute(e, "node", s->node);
	set = stz_add(ps, stz_elem(c, "set", NS_RSM));
	snprintf(buf, sizeof buf, "%d", UP_PAGE);
	stz_text(c, stz_add(set, stz_elem(c, "max", NULL)), buf);
	if (s->after != NULL)
		stz_text(c, stz_add(set, stz_elem(c, "after", NULL)), s->after);
	comp_link_send(c->link, iq);
	xmpp_stanza_release(iq);
	arm(s->ev, UP_TIMEOUT_S);
}

/* Subscribe (again: cheap, and heals a service that lost us) and start a
 * full copy. */
static void
fetch(struct up_sess *s)
{
	struct comp   *c = s->up->c;
	xmpp_stanza_t *iq, *ps, *e;

	if (!comp_link_up(c->link))
		return;
	iq = iq_to(s, "set", s->id_sub, sizeof s->id_sub, &ps);
	e = stz_add(ps, stz_elem(c, "subscribe", NULL));
	xmpp_stanza_set_attribute(e, "node", s->node);
	xmpp_stanza_set_attribute(e, "jid", comp_link_jid(c->link));
	comp_link_send(c->link, iq);
	xmpp_stanza_release(iq);
	free(s->after);
	s->after = NULL;
	s->got = 0;
	s->pages = 0;
	pol_upstream_begin(c->pol, s->source);
	send_items(s);
}

static int
from_service(const struct up_sess *s, xmpp_stanza_t *st)
{
	const char *from = stz_attr(st, "from");

	return from != NULL && strcasecmp(from, s->service) == 0;
}

static void
sess_items(struct up_sess *s, xmpp_stanza_t *iq)
{
	struct comp   *c = s->up->c;
	xmpp_stanza_t *ps = xmpp_stanza_get_child_by_ns(iq, NS_PUBSUB);
	xmpp_stanza_t *items, *e, *set, *last, *count;
	const char    *id;
	char          *lt = NULL, *ct = NULL;
	size_t         n = 0, total = 0;

	items = ps ? xmpp_stanza_get_child_by_name(ps, "items") : NULL;
	if (items == NULL) {
		sess_fail(s, "items answer without <items/>");
		return;
	}
	for (e = xmpp_stanza_get_children(items); e != NULL;
	     e = xmpp_stanza_get_next(e)) {
		if (xmpp_stanza_is_text(e) ||
		    strcmp(xmpp_stanza_get_name(e), "item") != 0 ||
		    (id = stz_attr(e, "id")) == NULL)
			continue;
		pol_upstream_list(c->pol, s->source, id);
		n++;
	}
	s->got += n;
	s->items_in += n;
	s->up->items_in += n;
	set = xmpp_stanza_get_child_by_ns(ps, NS_RSM);
	last = set ? xmpp_stanza_get_child_by_name(set, "last") : NULL;
	count = set ? xmpp_stanza_get_child_by_name(set, "count") : NULL;
	if (last != NULL)
		lt = xmpp_stanza_get_text(last);
	if (count != NULL && (ct = xmpp_stanza_get_text(count)) != NULL)
		total = strtoul(ct, NULL, 10);
	free(ct);
	if (n > 0 && lt != NULL && *lt != '\0' &&
	    (count == NULL || s->got < total) && ++s->pages < UP_PAGES_MAX) {
		free(s->after);
		s->after = lt;
		send_items(s);
		return;
	}
	free(lt);
	s->id_items[0] = '\0';
	pol_upstream_end(c->pol, s->source);
	if (!s->ok_once || s->fails > 0)
		log_info("upstream %s %s: %zu items", s->service, s->node,
			 s->got);
	s->ok_once = 1;
	s->fails = 0;
	arm(s->ev, UP_REFETCH_S);
}

static void
sess_error(struct up_sess *s, xmpp_stanza_t *iq, const char *what)
{
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(iq, "error");
	xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;
	char           why[128];

	while (cond != NULL && xmpp_stanza_is_text(cond))
		cond = xmpp_stanza_get_next(cond);
	snprintf(why, sizeof why, "%s refused: %s", what,
		 cond ? xmpp_stanza_get_name(cond) : "error");
	if (strcmp(what, "items") == 0)
		sess_fail(s, why);
	else
		log_warnx("upstream %s %s: %s", s->service, s->node, why);
}

/* 1 when iq answers one of our requests. */
int
comp_upstream_reply(struct comp *c, xmpp_stanza_t *iq)
{
	struct upstream *up = c->up;
	const char      *id = xmpp_stanza_get_id(iq);
	const char      *type = xmpp_stanza_get_type(iq);
	struct up_sess  *s;
	size_t           i;

	if (up == NULL || id == NULL)
		return 0;
	for (i = 0; i < up->n; i++) {
		s = up->v[i];
		if (!from_service(s, iq))
			continue;
		if (s->id_items[0] != '\0' && strcmp(id, s->id_items) == 0) {
			if (strcmp(type, "result") == 0)
				sess_items(s, iq);
			else
				sess_error(s, iq, "items");
			return 1;
		}
		if (s->id_sub[0] != '\0' && strcmp(id, s->id_sub) == 0) {
			s->id_sub[0] = '\0';
			if (strcmp(type, "error") == 0)
				sess_error(s, iq, "subscribe");
			return 1;
		}
	}
	return 0;
}

/* 1 when msg is a pubsub event from a configured service. */
int
comp_upstream_message(struct comp *c, xmpp_stanza_t *msg)
{
	struct upstream *up = c->up;
	xmpp_stanza_t   *ev, *e, *it;
	const char      *node, *name, *id;
	struct up_sess  *s;
	size_t           i;
	int              seen = 0;

	if (up == NULL ||
	    (ev = xmpp_stanza_get_child_by_ns(msg, NS_PUBSUB_EVENT)) == NULL)
		return 0;
	for (e = xmpp_stanza_get_children(ev); e != NULL;
	     e = xmpp_stanza_get_next(e)) {
		if (xmpp_stanza_is_text(e) ||
		    (node = stz_attr(e, "node")) == NULL)
			continue;
		for (i = 0; i < up->n; i++) {
			s = up->v[i];
			if (!from_service(s, msg) || strcmp(node, s->node) != 0)
				continue;
			seen = 1;
			if (strcmp(xmpp_stanza_get_name(e), "purge") == 0) {
				pol_upstream_begin(c->pol, s->source);
				pol_upstream_end(c->pol, s->source);
				continue;
			}
			if (strcmp(xmpp_stanza_get_name(e), "items") != 0)
				continue;
			for (it = xmpp_stanza_get_children(e); it != NULL;
			     it = xmpp_stanza_get_next(it)) {
				if (xmpp_stanza_is_text(it) ||
				    (id = stz_attr(it, "id")) == NULL)
					continue;
				name = xmpp_stanza_get_name(it);
				if (strcmp(name, "item") == 0)
					pol_upstream_list(c->pol, s->source,
							  id);
				else if (strcmp(name, "retract") == 0)
					pol_upstream_unlist(c->pol, s->source,
							    id);
				else
					continue;
				s->items_in++;
				up->items_in++;
			}
		}
	}
	return seen;
}

static struct up_sess *
sess_new(struct upstream *up, const char *service, const char *node)
{
	struct up_sess *s = xcalloc(1, sizeof *s);

	s->up = up;
	s->service = xstrdup(service);
	s->node = xstrdup(node);
	xasprintf(&s->source, "rtbl:%s/%s", service, node);
	s->ev = evtimer_new(up->c->base, on_timer, s);
	return s;
}

static void
sess_free(struct up_sess *s)
{
	event_free(s->ev);
	free(s->service);
	free(s->node);
	free(s->source);
	free(s->after);
	free(s);
}

struct upstream *
comp_upstream_new(struct comp *c)
{
	struct upstream *up = xcalloc(1, sizeof *up);

	up->c = c;
	c->up = up;
	comp_upstream_reconfigure(c);
	return up;
}

void
comp_upstream_free(struct upstream *up)
{
	size_t i;

	if (up == NULL)
		return;
	for (i = 0; i < up->n; i++)
		sess_free(up->v[i]);
	free(up->v);
	free(up);
}

/* Sessions follow c->cfg->upstreams: kept, added, or dropped with what
 * they listed. */
void
comp_upstream_reconfigure(struct comp *c)
{
	struct upstream        *up = c->up;
	const struct fg_config *cfg = c->cfg;
	struct up_sess        **nv;
	size_t                  i, j, nn = 0;

	nv = xcalloc(cfg->nupstreams + 1, sizeof *nv);
	for (j = 0; j < cfg->nupstreams; j++) {
		for (i = 0; i < up->n; i++)
			if (up->v[i] != NULL &&
			    strcasecmp(up->v[i]->service,
				       cfg->upstreams[j].service) == 0 &&
			    strcmp(up->v[i]->node, cfg->upstreams[j].node) == 0)
				break;
		if (i < up->n) {
			nv[nn++] = up->v[i];
			up->v[i] = NULL;
			continue;
		}
		nv[nn] = sess_new(up, cfg->upstreams[j].service,
				  cfg->upstreams[j].node);
		if (comp_link_up(c->link))
			fetch(nv[nn]);
		nn++;
	}
	for (i = 0; i < up->n; i++) {
		if (up->v[i] == NULL)
			continue;
		log_info("upstream: dropping %s", up->v[i]->source);
		pol_upstream_drop(c->pol, up->v[i]->source);
		sess_free(up->v[i]);
	}
	free(up->v);
	up->v = nv;
	up->n = nn;
}

void
comp_upstream_link(struct comp *c, int up_now)
{
	struct upstream *up = c->up;
	size_t           i;

	for (i = 0; i < up->n; i++) {
		evtimer_del(up->v[i]->ev);
		up->v[i]->id_items[0] = up->v[i]->id_sub[0] = '\0';
		if (up_now)
			fetch(up->v[i]);
	}
}

/* A Prometheus label {source="..."}: the value escaped as the text
 * format wants (backslash, double quote, line feed). */
static void
source_label(char *buf, size_t sz, const char *src)
{
	size_t o;

	o = (size_t)snprintf(buf, sz, "source=\"");
	for (; *src != '\0' && o + 3 < sz; src++) {
		if (*src == '\\' || *src == '"')
			buf[o++] = '\\';
		if (*src == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
			continue;
		}
		buf[o++] = *src;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

struct src_metrics {
	struct evbuffer *b;
	int              first;
};

static void
source_items(const char *src, size_t n, void *arg)
{
	struct src_metrics *m = arg;
	char                l[UP_PROM_LABEL_MAX];

	source_label(l, sizeof l, src);
	http_metric(m->b, "floodgate_upstream_source_items",
		    m->first ? "gauge" : NULL,
		    m->first ? "Items one upstream source lists now" : NULL, l,
		    (double)n);
	m->first = 0;
}

void
comp_upstream_metrics(struct evbuffer *b, struct comp *c)
{
	struct src_metrics m = {b, 1};
	struct up_sess    *s;
	char               l[UP_PROM_LABEL_MAX];
	size_t             i;

	http_metric(b, "floodgate_upstream_items", "gauge",
		    "Items listed by upstream blocklists", NULL,
		    (double)pol_upstream_count(c->pol));
	http_metric(b, "floodgate_upstream_updates_total", "counter",
		    "Items and retractions received from RTBL services", NULL,
		    (double)c->up->items_in);
	http_metric(b, "floodgate_upstream_failures_total", "counter",
		    "RTBL requests that failed or timed out", NULL,
		    (double)c->up->failures);
	pol_upstream_sources(c->pol, source_items, &m);
	for (i = 0; i < c->up->n; i++) {
		s = c->up->v[i];
		source_label(l, sizeof l, s->source);
		http_metric(b, "floodgate_upstream_source_updates_total",
			    i == 0 ? "counter" : NULL,
			    i == 0 ? "Items and retractions received, per RTBL "
				     "node"
				   : NULL,
			    l, (double)s->items_in);
		http_metric(b, "floodgate_upstream_source_failures_total",
			    i == 0 ? "counter" : NULL,
			    i == 0
				? "Failed or timed-out requests, per RTBL node"
				: NULL,
			    l, (double)s->failures);
	}
}
