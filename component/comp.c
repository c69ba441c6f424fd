/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the component: owns the link, routes stanzas to the
 * protocol surfaces, and exports their counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/http.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "comp_int.h"

static void on_stanza(struct comp_link *, xmpp_stanza_t *, void *);
static int  on_iq(struct comp *, xmpp_stanza_t *);
static int  on_message(struct comp *, xmpp_stanza_t *);
static void on_link(struct comp_link *, int, void *);

struct comp *
comp_new(struct event_base *base, const struct fg_config *cfg,
	 struct policy *pol, struct store *store)
{
	struct comp *c = xcalloc(1, sizeof *c);

	c->base = base;
	c->cfg = cfg;
	c->pol = pol;
	c->store = store;
	c->link = comp_link_new(base, cfg->comp_jid, cfg->comp_secret,
				cfg->comp_server, cfg->comp_port);
	comp_link_set_limits(c->link, cfg->comp_max_stanza,
			     cfg->comp_max_depth);
	comp_link_set_state_cb(c->link, on_link, c);
	comp_link_set_stanza_cb(c->link, on_stanza, c);
	pol_set_verdict_cb(pol, comp_verdict_changed, c);
	comp_pubsub_new(c);
	comp_upstream_new(c);
	comp_alerts_new(c);
	comp_rout_new(c);
	return c;
}

void
comp_free(struct comp *c)
{
	if (c == NULL)
		return;
	pol_set_verdict_cb(c->pol, NULL, NULL);
	/* the link must not call into modules freed below */
	comp_link_set_state_cb(c->link, NULL, NULL);
	comp_link_set_stanza_cb(c->link, NULL, NULL);
	comp_push_free(c);
	comp_alerts_free(c);
	comp_upstream_free(c->up);
	comp_rout_free(c->rout);
	comp_pubsub_free(c->ps);
	comp_adhoc_free(c);
	comp_link_free(c->link);
	free(c);
}

void
comp_start(struct comp *c)
{
	comp_link_start(c->link);
}

void
comp_stop(struct comp *c)
{
	comp_link_stop(c->link);
}

int
comp_up(const struct comp *c)
{
	return comp_link_up(c->link);
}

void
comp_reconfigure(struct comp *c, const struct fg_config *cfg)
{
	/* the reply window travels only with full pushes */
	int window = cfg->reply_window_ms != c->cfg->reply_window_ms;

	c->cfg = cfg;
	comp_link_set_limits(c->link, cfg->comp_max_stanza,
			     cfg->comp_max_depth);
	comp_pubsub_rebuild(c);
	comp_upstream_reconfigure(c);
	if (window)
		comp_verdicts_push_full(c, NULL);
	comp_alerts_reconfigure(c);
}

static void
on_link(struct comp_link *l, int up, void *arg)
{
	struct comp *c = arg;

	/* modules keep enforcing across our restarts from the full set */
	if (up)
		comp_verdicts_push_full(c, NULL);
	if (up)
		comp_pubsub_link_up(c);
	comp_upstream_link(c, up);
	comp_alerts_link(c, up);
	comp_rout_link(c, up);
}

static void
on_stanza(struct comp_link *l, xmpp_stanza_t *st, void *arg)
{
	comp_dispatch(arg, st);
}

void
comp_dispatch(struct comp *c, xmpp_stanza_t *st)
{
	const char *name = xmpp_stanza_get_name(st);

	if (name == NULL)
		return;
	if (strcmp(name, "iq") == 0)
		on_iq(c, st);
	else if (strcmp(name, "message") == 0)
		on_message(c, st);
	/* presence to the component carries nothing we act on */
}

static int
on_iq(struct comp *c, xmpp_stanza_t *iq)
{
	const char    *type = xmpp_stanza_get_type(iq);
	xmpp_stanza_t *q;
	const char    *ns;

	if (type == NULL) {
		stz_reply_error(c, iq, "modify", "bad-request", "iq type");
		return 1;
	}
	if (comp_upstream_reply(c, iq))
		return 1;
	if (comp_rout_reply(c, iq))
		return 1;
	if (!strcmp(type, "result"))
		return 1; /* acks of our verdict pushes */
	if (!strcmp(type, "error")) {
		c->c.iq_errors_in++;
		return 1;
	}
	if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) {
		stz_reply_error(c, iq, "modify", "bad-request", "iq type");
		return 1;
	}
	q = xmpp_stanza_get_children(iq);
	while (q != NULL && xmpp_stanza_is_text(q))
		q = xmpp_stanza_get_next(q);
	ns = q != NULL ? xmpp_stanza_get_ns(q) : NULL;
	if (ns == NULL) {
		stz_reply_error(c, iq, "modify", "bad-request", "empty iq");
		return 1;
	}
	if (strcmp(ns, NS_FLOODGATE) == 0 && comp_gate_iq(c, iq, q))
		return 1;
	if (strcmp(ns, NS_COMMANDS) == 0 && comp_adhoc_iq(c, iq, q))
		return 1;
	if (comp_disco_iq(c, iq, q))
		return 1;
	if (comp_pubsub_iq(c, iq, q))
		return 1;
	c->c.iq_unsupported++;
	stz_reply_error(c, iq, "cancel", "service-unavailable", NULL);
	return 1;
}

static int
on_message(struct comp *c, xmpp_stanza_t *msg)
{
	const char    *type = xmpp_stanza_get_type(msg);
	xmpp_stanza_t *meter;

	if (type != NULL && strcmp(type, "error") == 0)
		return 1;
	if (comp_report_message(c, msg))
		return 1;
	if (comp_upstream_message(c, msg))
		return 1;
	meter = xmpp_stanza_get_child_by_ns(msg, NS_FLOODGATE);
	if (meter != NULL && xmpp_stanza_get_name(meter) != NULL &&
	    strcmp(xmpp_stanza_get_name(meter), "meter") == 0) {
		comp_meter_message(c, msg, meter);
		return 1;
	}
	/* plain chat to the component: nothing to do, say so once */
	if (xmpp_stanza_get_child_by_name(msg, "body") != NULL)
		stz_reply_error(c, msg, "cancel", "service-unavailable",
				"floodgate does not take chat messages");
	return 1;
}

/* Prometheus histogram of the daemon's own time per gate. */
static void
gate_histogram(struct evbuffer *b, const struct comp_counters *cc)
{
	static const double bounds[] = GATE_BUCKETS;
	const size_t        nb = sizeof bounds / sizeof bounds[0];
	uint64_t            cum = 0;
	char                le[48];
	size_t              i;

	evbuffer_add_printf(b, "# HELP floodgate_gate_seconds Time from a "
			       "gate's arrival to its answer, in the daemon\n"
			       "# TYPE floodgate_gate_seconds histogram\n");
	for (i = 0; i <= nb; i++) {
		cum += cc->gate_hist[i];
		if (i < nb)
			snprintf(le, sizeof le, "le=\"%g\"", bounds[i]);
		else
			snprintf(le, sizeof le, "le=\"+Inf\"");
		http_metric(b, "floodgate_gate_seconds_bucket", NULL, NULL, le,
			    (double)cum);
	}
	http_metric(b, "floodgate_gate_seconds_sum", NULL, NULL, NULL,
		    cc->gate_sum_s);
	http_metric(b, "floodgate_gate_seconds_count", NULL, NULL, NULL,
		    (double)cum);
}

void
comp_metrics(struct evbuffer *b, void *arg)
{
	struct comp      *c = arg;
	struct link_stats ls;
	char              lbl[48];
	size_t            i;

	comp_link_get_stats(c->link, &ls);
	http_metric(b, "floodgate_link_up", "gauge",
		    "1 when the XEP-0114 link is established", NULL, ls.up);
	http_metric(b, "floodgate_link_connects_total", "counter",
		    "Handshakes completed", NULL, (double)ls.connects);
	http_metric(b, "floodgate_link_reconnects_total", "counter",
		    "Connection attempts after the first", NULL,
		    (double)ls.reconnects);
	http_metric(b, "floodgate_link_handshake_failures_total", "counter",
		    "Streams closed by the server during the handshake", NULL,
		    (double)ls.handshake_fails);
	http_metric(b, "floodgate_stanzas_total", "counter",
		    "Stanzas over the component link", "dir=\"in\"",
		    (double)ls.stanzas_in);
	http_metric(b, "floodgate_stanzas_total", "counter", NULL,
		    "dir=\"out\"", (double)ls.stanzas_out);
	http_metric(b, "floodgate_gates_total", "counter",
		    "Gate questions answered", "result=\"allow\"",
		    (double)c->c.gate[1]);
	http_metric(b, "floodgate_gates_total", "counter", NULL,
		    "result=\"deny\"", (double)c->c.gate[0]);
	http_metric(b, "floodgate_gates_total", "counter", NULL,
		    "result=\"bad\"", (double)c->c.gate_bad);
	gate_histogram(b, &c->c);
	http_metric(b, "floodgate_meter_events_total", "counter",
		    "Meter events received", "result=\"ok\"",
		    (double)c->c.meter_ok);
	http_metric(b, "floodgate_meter_events_total", "counter", NULL,
		    "result=\"bad\"", (double)c->c.meter_bad);
	http_metric(b, "floodgate_refused_total", "counter", "Stanzas refused",
		    "reason=\"untrusted\"", (double)c->c.refused_untrusted);
	http_metric(b, "floodgate_refused_total", "counter", NULL,
		    "reason=\"unsupported\"", (double)c->c.iq_unsupported);
	for (i = 0; i < sizeof ls.refused / sizeof ls.refused[0]; i++) {
		snprintf(lbl, sizeof lbl, "reason=\"%s\"",
			 xmls_refusal_name((enum xmls_refusal)i));
		http_metric(b, "floodgate_refused_total", NULL, NULL, lbl,
			    (double)ls.refused[i]);
	}
	http_metric(b, "floodgate_link_stream_errors_total", "counter",
		    "Streams closed on bad XML or an oversized stanza", NULL,
		    (double)ls.stream_errors);
	http_metric(b, "floodgate_link_out_queue_bytes", "gauge",
		    "Bytes waiting to be written to the server", NULL,
		    (double)ls.out_queued);
	http_metric(b, "floodgate_link_out_overflows_total", "counter",
		    "Links closed because the server stopped reading", NULL,
		    (double)ls.out_overflows);
	http_metric(b, "floodgate_link_paused", "gauge",
		    "1 while reading waits for the server to drain our output",
		    NULL, ls.paused);
	http_metric(b, "floodgate_verdict_pushes_total", "counter",
		    "Verdict pushes sent to servers", NULL,
		    (double)c->c.verdict_pushes);
	http_metric(b, "floodgate_errors_total", "counter",
		    "Error replies received", "kind=\"iq\"",
		    (double)c->c.iq_errors_in);
	comp_pubsub_metrics(b, c);
	comp_upstream_metrics(b, c);
	comp_alerts_metrics(b, c);
	comp_rout_metrics(b, c);
}
