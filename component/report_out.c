/* SPDX-License-Identifier: ISC */
/*
 * floodgate - XEP-0377 reports to other servers: when a remote account
 * is blocked by an admin, or reaches quarantine or block automatically
 * with reports from our users on record, a report goes to the abuse
 * addresses its server advertises and to the [reports] forward-to
 * collectors, once per subject and destination.
 *
 * The hook is the verdict-change path (comp_verdict_changed), so it sees
 * admin overrides and automatic verdicts alike, whoever set them. A
 * throttled subject never qualifies. The abuse addresses come from a
 * disco#info query to the account's domain (XEP-0157), cached
 * ROUT_TTL_S (ROUT_NEG_TTL_S when there are none or the server did not
 * answer). Each (subject, destination) is committed to the store before
 * the report leaves, so neither a repeat verdict nor a restart sends it
 * again; a report that finds its destination over ROUT_RATE_* waits in
 * memory (at most ROUT_PENDING_MAX) for the next tick.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../core/http.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../storage/store.h"
#include "comp_int.h"
#include "report_out.h"

#define ROUT_TICK_S 5           /* retry period for waiting reports, s */
#define ROUT_DISCO_TIMEOUT_S 30 /* wait for a disco#info answer, s */
#define ROUT_TTL_S 86400        /* abuse addresses cached, s */
#define ROUT_NEG_TTL_S 3600     /* "none" or no answer cached, s */
#define ROUT_PENDING_MAX 1024   /* reports waiting, all destinations */
#define ROUT_DOMAINS_MAX 1024   /* remote domains in the cache */
#define ROUT_MIN_REPORTS 1      /* user reports that confirm a verdict */
#define ROUT_ATTACH_MAX 600     /* bytes of an attachment we pass on */
#define ROUT_CATCHUP_BATCH 256  /* listed accounts checked per tick */

/* One report for one destination, not sent yet. */
struct rout_item {
	char *subject;
	char *dest;
	char *text;
	char *domain; /* set while it waits for the domain's addresses */
};

/* What one remote domain advertises. */
struct rout_dom {
	char   *domain;
	int     asking; /* a disco#info query is out */
	char    id[32]; /* its id */
	char   *addrs[ROUT_ADDRS_MAX];
	int     n;
	int64_t expires; /* unix ms: answer stale, or question timed out */
};

struct report_out {
	struct comp      *c;
	struct rout_rate *rate;
	struct rout_item *items;
	size_t            nitems;
	struct rout_dom  *doms;
	size_t            ndoms;
	struct event     *ev;
	uint64_t          sent;
	uint64_t          dropped;    /* pending table full, or store failed */
	uint64_t          lookups[3]; /* disco answers: with, without, failed */
	/* remote accounts listed at start, checked ROUT_CATCHUP_BATCH a
	 * tick for a report that a restart kept from leaving */
	struct rout_late *late;
	size_t            nlate, ilate;
	int               started; /* the list above was taken */
};

/* A remote account with a verdict in force at start. */
struct rout_late {
	char           *subject;
	enum fg_verdict v;
};

static void on_timer(evutil_socket_t, short, void *);
static void late_one(const struct pol_info *, void *);
static void flush(struct report_out *);

static int
can_send(struct comp *c)
{
	return c->sink != NULL || comp_link_up(c->link);
}

static void
item_free(struct rout_item *it)
{
	free(it->subject);
	free(it->dest);
	free(it->text);
	free(it->domain);
}

static void
dom_clear(struct rout_dom *d)
{
	int i;

	for (i = 0; i < d->n; i++)
		free(d->addrs[i]);
	d->n = 0;
}

struct report_out *
comp_rout_new(struct comp *c)
{
	struct report_out *ro = xcalloc(1, sizeof *ro);
	struct timeval     tv = {ROUT_TICK_S, 0};

	ro->c = c;
	ro->rate = rout_rate_new();
	ro->ev = event_new(c->base, -1, EV_PERSIST, on_timer, ro);
	event_add(ro->ev, &tv);
	c->rout = ro;
	return ro;
}

void
comp_rout_free(struct report_out *ro)
{
	size_t i;

	if (ro == NULL)
		return;
	event_free(ro->ev);
	for (i = 0; i < ro->nitems; i++)
		item_free(&ro->items[i]);
	free(ro->items);
	for (i = 0; i < ro->ndoms; i++) {
		dom_clear(&ro->doms[i]);
		free(ro->doms[i].domain);
	}
	free(ro->doms);
	for (i = 0; i < ro->nlate; i++)
		free(ro->late[i].subject);
	free(ro->late);
	rout_rate_free(ro->rate);
	free(ro);
}

/* Queue a report of subject for dest, or, with domain set and dest
 * NULL, for the addresses domain will name. */
static void
enqueue(struct report_out *ro, const char *subject, const char *dest,
	const char *domain, const char *text)
{
	struct rout_item *it;
	size_t            i;

	for (i = 0; i < ro->nitems; i++) {
		it = &ro->items[i];
		if (strcmp(it->subject, subject) == 0 &&
		    (dest != NULL
			 ? it->dest != NULL && strcmp(it->dest, dest) == 0
			 : it->domain != NULL &&
			       strcmp(it->domain, domain) == 0))
			return; /* already waiting */
	}
	if (ro->nitems >= ROUT_PENDING_MAX) {
		if (ro->dropped++ == 0)
			log_warnx("reports: %d reports waiting; dropping new "
				  "ones",
				  ROUT_PENDING_MAX);
		return;
	}
	ro->items = xreallocarray(ro->items, ro->nitems + 1, sizeof *ro->items);
	it = &ro->items[ro->nitems++];
	it->subject = xstrdup(subject);
	it->dest = dest != NULL ? xstrdup(dest) : NULL;
	it->domain = domain != NULL ? xstrdup(domain) : NULL;
	it->text = xstrdup(text);
}

/* An advertised address we may send to: an account, or a component of
 * the advertising server itself (floodgate.example.net for example.net:
 * another floodgate), never a bare domain elsewhere (a hostile server
 * could name anyone's), nor one of our own users or domains. */
static int
usable(struct report_out *ro, const char *addr, const char *server)
{
	char   dom[JID_MAX + 1];
	size_t al, sl;

	if (jid_domain(addr, dom, sizeof dom) == -1 ||
	    config_list_has(&ro->c->cfg->serves, dom))
		return 0;
	if (strchr(addr, '@') != NULL)
		return 1;
	al = strlen(addr);
	sl = strlen(server);
	return al > sl + 1 && addr[al - sl - 1] == '.' &&
	       strcasecmp(addr + al - sl, server) == 0;
}

/* Reports waiting for d become reports for its addresses (none: they
 * are dropped, the collectors have theirs already). */
static void
dom_release(struct report_out *ro, struct rout_dom *d)
{
	struct rout_item *it;
	size_t            i = 0;
	int               a;

	while (i < ro->nitems) {
		it = &ro->items[i];
		if (it->dest != NULL || strcmp(it->domain, d->domain) != 0) {
			i++;
			continue;
		}
		for (a = 0; a < d->n; a++)
			if (strcmp(d->addrs[a], it->subject) != 0)
				enqueue(ro, it->subject, d->addrs[a], NULL,
					it->text);
		/* enqueue may have moved the array */
		it = &ro->items[i];
		item_free(it);
		ro->items[i] = ro->items[--ro->nitems];
	}
}

static void
ask(struct report_out *ro, struct rout_dom *d, int64_t now)
{
	struct comp   *c = ro->c;
	xmpp_stanza_t *iq;

	stz_next_id(c, d->id, sizeof d->id);
	iq = xmpp_iq_new(comp_link_ctx(c->link), "get", d->id);
	xmpp_stanza_set_to(iq, d->domain);
	xmpp_stanza_set_from(iq, comp_link_jid(c->link));
	stz_add(iq, stz_elem(c, "query", NS_DISCO_INFO));
	comp_send(c, iq);
	xmpp_stanza_release(iq);
	d->asking = 1;
	d->expires = now + ROUT_DISCO_TIMEOUT_S * 1000LL;
}

/* The cache entry of domain, made (and asked) when missing or stale. */
static void
lookup(struct report_out *ro, const char *domain, int64_t now)
{
	struct rout_dom *d = NULL;
	size_t           i, old = 0;

	for (i = 0; i < ro->ndoms; i++) {
		if (strcmp(ro->doms[i].domain, domain) == 0) {
			d = &ro->doms[i];
			break;
		}
		if (ro->doms[i].expires < ro->doms[old].expires)
			old = i;
	}
	if (d == NULL && ro->ndoms < ROUT_DOMAINS_MAX) {
		ro->doms =
		    xreallocarray(ro->doms, ro->ndoms + 1, sizeof *ro->doms);
		d = &ro->doms[ro->ndoms++];
		memset(d, 0, sizeof *d);
		d->domain = xstrdup(domain);
	} else if (d == NULL) {
		/* full: the entry closest to expiry makes room */
		d = &ro->doms[old];
		dom_clear(d);
		d->asking = 0;
		dom_release(ro, d);
		free(d->domain);
		memset(d, 0, sizeof *d);
		d->domain = xstrdup(domain);
	}
	if (d->asking)
		return;
	if (d->expires > now && d->id[0] != '\0') {
		dom_release(ro, d);
		return;
	}
	dom_clear(d);
	if (can_send(ro->c))
		ask(ro, d, now);
}

/* The evidence text for subject, or 0 when it does not qualify: blocked
 * by an admin, or quarantined or blocked automatically with reports from
 * our users on record. */
static int
evidence(struct report_out *ro, const char *subject, enum fg_verdict v,
	 const char *reason, char *text, size_t size)
{
	struct comp         *c = ro->c;
	struct pol_info      pi;
	struct rout_evidence e;
	int64_t              n, first, last;
	char                 att[ROUT_ATTACH_MAX];

	if (pol_inspect(c->pol, FG_SUBJ_ACCOUNT, subject, &pi) == -1)
		return 0;
	memset(&e, 0, sizeof e);
	e.by_admin = pi.override == FG_OVR_BLOCK;
	if (!e.by_admin &&
	    (pi.override != FG_OVR_NONE || pi.verdict < FG_V_QUARANTINE))
		return 0;
	e.score = pi.score;
	e.signals = pi.signals;
	e.reason = e.by_admin && pi.reason != NULL ? pi.reason : reason;
	/* pi's strings live until the next policy call; none comes */
	if (store_report_summary(c->store, subject, &n, &first, &last) == -1)
		return 0;
	if (!e.by_admin && n < ROUT_MIN_REPORTS)
		return 0;
	if (n > 0 &&
	    store_report_attached(c->store, subject, att, sizeof att) == 1)
		e.attached = att;
	e.subject = subject;
	e.server = c->cfg->serves.n > 0 ? c->cfg->serves.v[0] : NULL;
	e.verdict = fg_verdict_name(v);
	e.at = clock_wall_ms();
	e.reports = n;
	e.first = first;
	e.last = last;
	rout_text(&e, text, size);
	return 1;
}

void
comp_rout_verdict(struct comp *c, enum fg_subj t, const char *key,
		  enum fg_verdict v, const char *reason)
{
	struct report_out *ro = c->rout;
	char               subj[JID_MAX + 1], dom[JID_MAX + 1];
	char               text[ROUT_TEXT_MAX];
	size_t             i;

	/* no store, no promise of "once": then nothing is sent */
	if (ro == NULL || c->store == NULL || !c->cfg->report_send ||
	    t != FG_SUBJ_ACCOUNT || v < FG_V_QUARANTINE)
		return;
	if (jid_bare(key, subj, sizeof subj) == -1 ||
	    strchr(subj, '@') == NULL ||
	    jid_domain(subj, dom, sizeof dom) == -1 ||
	    config_list_has(&c->cfg->serves, dom))
		return;
	if (!evidence(ro, subj, v, reason, text, sizeof text))
		return;
	for (i = 0; i < c->cfg->report_forward_to.n; i++)
		enqueue(ro, subj, c->cfg->report_forward_to.v[i], NULL, text);
	enqueue(ro, subj, NULL, dom, text);
	lookup(ro, dom, clock_wall_ms());
	flush(ro);
}

/* Send what the rate limits let through; claim each (subject, dest) in
 * the store first, so a report never leaves twice. */
static void
flush(struct report_out *ro)
{
	struct comp      *c = ro->c;
	struct rout_item *it;
	xmpp_stanza_t    *m;
	int64_t           now = clock_wall_ms();
	char              id[32], e1[LOG_ESC_MAX], e2[LOG_ESC_MAX];
	size_t            i = 0;
	int               r;

	while (i < ro->nitems && can_send(c)) {
		it = &ro->items[i];
		if (it->dest == NULL ||
		    !rout_rate_ready(ro->rate, it->dest, now)) {
			i++;
			continue;
		}
		r = store_sent_add(c->store, it->subject, it->dest, now);
		if (r == 1) {
			rout_rate_take(ro->rate, it->dest, now);
			stz_next_id(c, id, sizeof id);
			m = rout_build(comp_link_ctx(c->link),
				       comp_link_jid(c->link), it->dest, id,
				       it->subject, ROUT_REASON_SPAM, it->text);
			comp_send(c, m);
			xmpp_stanza_release(m);
			ro->sent++;
			log_info("reports: reported %s to %s",
				 log_esc(e1, sizeof e1, it->subject),
				 log_esc(e2, sizeof e2, it->dest));
		} else if (r == -1)
			ro->dropped++; /* logged by the store */
		item_free(it);
		ro->items[i] = ro->items[--ro->nitems];
	}
}

/* 1 when iq answers one of our disco#info questions. */
int
comp_rout_reply(struct comp *c, xmpp_stanza_t *iq)
{
	struct report_out *ro = c->rout;
	const char        *id = xmpp_stanza_get_id(iq);
	const char        *type = xmpp_stanza_get_type(iq);
	const char        *from = stz_attr(iq, "from");
	char               addrs[ROUT_ADDRS_MAX][JID_MAX + 1];
	char               esc[LOG_ESC_MAX];
	struct rout_dom   *d;
	size_t             i;
	int                a, n;

	if (ro == NULL || id == NULL || from == NULL || type == NULL)
		return 0;
	for (i = 0; i < ro->ndoms; i++) {
		d = &ro->doms[i];
		if (!d->asking || strcmp(id, d->id) != 0 ||
		    strcasecmp(from, d->domain) != 0)
			continue;
		d->asking = 0;
		n = 0;
		if (strcmp(type, "result") == 0)
			n = rout_parse_abuse(
			    xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO),
			    addrs, ROUT_ADDRS_MAX);
		for (d->n = 0, a = 0; a < n; a++)
			if (usable(ro, addrs[a], d->domain))
				d->addrs[d->n++] = xstrdup(addrs[a]);
		n = d->n;
		ro->lookups[strcmp(type, "result") != 0 ? 2 : n > 0 ? 0 : 1]++;
		d->expires = clock_wall_ms() +
			     (n > 0 ? ROUT_TTL_S : ROUT_NEG_TTL_S) * 1000LL;
		log_info("reports: %s advertises %d abuse address(es)",
			 log_esc(esc, sizeof esc, d->domain), n);
		dom_release(ro, d);
		flush(ro);
		return 1;
	}
	return 0;
}

/* Remote accounts listed at start: reports that were waiting when the
 * daemon stopped (rate limit, address lookup) were only in memory. */
static void
late_one(const struct pol_info *pi, void *arg)
{
	struct report_out *ro = arg;
	char               dom[JID_MAX + 1];

	if (pi->type != FG_SUBJ_ACCOUNT || pi->effective < FG_V_QUARANTINE ||
	    strchr(pi->key, '@') == NULL ||
	    jid_domain(pi->key, dom, sizeof dom) == -1 ||
	    config_list_has(&ro->c->cfg->serves, dom))
		return;
	ro->late = xreallocarray(ro->late, ro->nlate + 1, sizeof *ro->late);
	ro->late[ro->nlate].subject = xstrdup(pi->key);
	ro->late[ro->nlate++].v = pi->effective;
}

/* A batch of them: one never reported anywhere goes through the hook as
 * if its verdict had just changed; one reported anywhere is done. */
static void
late_batch(struct report_out *ro)
{
	size_t n;

	for (n = 0; ro->ilate < ro->nlate && n < ROUT_CATCHUP_BATCH; n++) {
		struct rout_late *l = &ro->late[ro->ilate++];

		if (store_sent_any(ro->c->store, l->subject) == 0)
			comp_rout_verdict(ro->c, FG_SUBJ_ACCOUNT, l->subject,
					  l->v, NULL);
		free(l->subject);
		l->subject = NULL;
	}
	if (ro->ilate == ro->nlate && ro->late != NULL) {
		free(ro->late);
		ro->late = NULL;
		ro->nlate = ro->ilate = 0;
	}
}

/* Time out questions, ask again for domains whose reports still wait,
 * and send what the rate limits now allow. */
void
comp_rout_tick(struct comp *c)
{
	struct report_out *ro = c->rout;
	struct rout_dom   *d;
	int64_t            now = clock_wall_ms();
	size_t             i;
	char               esc[LOG_ESC_MAX];

	if (ro == NULL)
		return;
	for (i = 0; i < ro->ndoms; i++) {
		d = &ro->doms[i];
		if (!d->asking || d->expires > now)
			continue;
		d->asking = 0;
		d->expires = now + ROUT_NEG_TTL_S * 1000LL;
		ro->lookups[2]++;
		log_info("reports: %s did not answer disco#info",
			 log_esc(esc, sizeof esc, d->domain));
		dom_release(ro, d);
	}
	for (i = 0; i < ro->nitems; i++)
		if (ro->items[i].dest == NULL)
			lookup(ro, ro->items[i].domain, now);
	flush(ro);
	if (ro->c->store != NULL && ro->c->cfg->report_send && can_send(c))
		late_batch(ro);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct report_out *ro = arg;

	comp_rout_tick(ro->c);
}

void
comp_rout_link(struct comp *c, int up)
{
	struct report_out *ro = c->rout;
	size_t             i;

	if (ro == NULL)
		return;
	/* answers to questions asked on a dead link never come */
	for (i = 0; i < ro->ndoms; i++)
		if (ro->doms[i].asking)
			ro->doms[i].asking = 0, ro->doms[i].expires = 0;
	if (up && !ro->started) {
		ro->started = 1;
		pol_foreach_listed(c->pol, late_one, ro);
	}
	if (up)
		comp_rout_tick(c);
}

void
comp_rout_metrics(struct evbuffer *b, struct comp *c)
{
	struct report_out *ro = c->rout;

	http_metric(b, "floodgate_reports_sent_total", "counter",
		    "XEP-0377 reports sent to abuse addresses and collectors",
		    NULL, (double)ro->sent);
	http_metric(b, "floodgate_reports_pending", "gauge",
		    "Reports waiting for an address or a rate limit", NULL,
		    (double)ro->nitems);
	http_metric(b, "floodgate_reports_dropped_total", "counter",
		    "Reports given up (too many waiting, store failed)", NULL,
		    (double)ro->dropped);
	http_metric(b, "floodgate_abuse_lookups_total", "counter",
		    "disco#info answers about abuse addresses",
		    "result=\"found\"", (double)ro->lookups[0]);
	http_metric(b, "floodgate_abuse_lookups_total", NULL, NULL,
		    "result=\"none\"", (double)ro->lookups[1]);
	http_metric(b, "floodgate_abuse_lookups_total", NULL, NULL,
		    "result=\"failed\"", (double)ro->lookups[2]);
}
