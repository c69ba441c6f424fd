/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the bridge protocol, daemon side (doc/PROTOCOL.md): gate
 * questions and batched meter events. Verdict pushes are push.c's.
 *
 * Only the served server domains may speak it: the server stamps 'from'
 * on everything its users send, so a bare server domain in 'from' cannot
 * be forged by a local user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../policy/policy.h"
#include "comp_int.h"
#include "wire.h"

#define METER_MAX_EVENTS 1000 /* events used from one meter message */

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
		/* [actions]: the module refuses without an error */
		if (ans.drop)
			xmpp_stanza_set_attribute(e, "action", "drop");
	}
	comp_send(c, r);
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
		comp_push_answer_full(c, iq);
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
