/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the component's insides, shared by the files of
 * component/ only.
 */
#ifndef FG_COMP_INT_H
#define FG_COMP_INT_H

#include <stdint.h>

#include <strophe.h>

#include "../core/config.h"
#include "../core/types.h"
#include "comp.h"
#include "link.h"

#define NS_FLOODGATE "urn:floodgate:0"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_VERSION "jabber:iq:version"
#define NS_PING "urn:xmpp:ping"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_DATA "jabber:x:data"

/* Counters exported on /metrics. */
struct comp_counters {
	uint64_t refused_untrusted; /* events/gates from outside serves */
	uint64_t gate[2];           /* [0] denied, [1] allowed */
	uint64_t gate_bad;          /* malformed gate requests */
	/* time from a gate's arrival to its answer being queued, as a
	 * Prometheus histogram: counts per GATE_BUCKETS upper bound */
	uint64_t gate_hist[8];
	double   gate_sum_s;
	uint64_t meter_ok;
	uint64_t meter_bad;
	uint64_t verdict_pushes;
	uint64_t iq_unsupported;
	uint64_t iq_errors_in; /* error replies received */
};

struct comp {
	struct event_base      *base;
	const struct fg_config *cfg;
	struct policy          *pol;
	struct store           *store;
	struct comp_link       *link;
	struct comp_seq        *seqs; /* verdict push sequence per domain */
	size_t                  nseqs;
	uint64_t                next_id;
	struct comp_counters    c;
	struct pubsub          *ps;     /* pubsub.c: the RTBL publisher */
	struct upstream        *up;     /* rtbl_sub.c: the RTBL consumer */
	struct adhoc           *adhoc;  /* adhoc.c: command sessions */
	struct alerts          *alerts; /* alerts.c: digests, webhook */
	struct report_out      *rout;   /* report_out.c: reports we send */
	struct web             *web;    /* the moderation page; borrowed */
	comp_sink_fn            sink;   /* comp_set_sink; NULL: the link */
	void                   *sink_arg;
};

/* Send st (the caller keeps its reference) on the link, or to the sink a
 * test has set. */
void comp_send(struct comp *, xmpp_stanza_t *st);

/* Upper bounds of the gate-time histogram buckets, seconds. */
#define GATE_BUCKETS                                                           \
	{                                                                      \
		0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.05           \
	}

/* stanza.c: small builders that never echo the request payload. */
xmpp_stanza_t *stz_iq_result(struct comp *, xmpp_stanza_t *req);
xmpp_stanza_t *stz_iq_error(struct comp *, xmpp_stanza_t *req, const char *type,
			    const char *cond, const char *text);
void stz_reply_error(struct comp *, xmpp_stanza_t *req, const char *type,
		     const char *cond, const char *text);
xmpp_stanza_t *stz_elem(struct comp *, const char *name, const char *ns);
xmpp_stanza_t *stz_add(xmpp_stanza_t *parent, xmpp_stanza_t *child);
void           stz_text(struct comp *, xmpp_stanza_t *parent, const char *text);
const char    *stz_attr(xmpp_stanza_t *, const char *);
void           stz_next_id(struct comp *, char *buf, size_t len);
/* 1 when from is exactly one of the served server domains. */
int stz_from_server(struct comp *, xmpp_stanza_t *);

/* disco.c */
int comp_disco_iq(struct comp *, xmpp_stanza_t *iq, xmpp_stanza_t *q);

/* gate.c: gate questions and meter events from the served servers. */
int comp_gate_iq(struct comp *, xmpp_stanza_t *iq, xmpp_stanza_t *q);
int comp_meter_message(struct comp *, xmpp_stanza_t *msg, xmpp_stanza_t *meter);

/* push.c: verdict changes to the modules and the blocklist. */
void comp_verdicts_push_full(struct comp *, const char *domain);
void comp_push_answer_full(struct comp *, xmpp_stanza_t *iq);
void comp_push_free(struct comp *);
void comp_verdict_changed(enum fg_subj, const char *key, enum fg_verdict,
			  int64_t expires, const char *reason, void *comp);

/* adhoc.c: XEP-0050 commands for admins. */
int  comp_adhoc_iq(struct comp *, xmpp_stanza_t *iq, xmpp_stanza_t *q);
int  comp_adhoc_disco_items(struct comp *, xmpp_stanza_t *iq, xmpp_stanza_t *q);
int  comp_adhoc_disco_info(struct comp *, xmpp_stanza_t *iq, const char *);
void comp_adhoc_free(struct comp *);

/* pubsub.c, pubsub_nodes.c: the RTBL publisher. */
struct pubsub *comp_pubsub_new(struct comp *);
void           comp_pubsub_free(struct pubsub *);
int  comp_pubsub_iq(struct comp *, xmpp_stanza_t *iq, xmpp_stanza_t *q);
void comp_pubsub_verdict(struct comp *, enum fg_subj, const char *key,
			 enum fg_verdict, const char *reason);
/* Re-read the published set from the policy (start, reload). */
void comp_pubsub_rebuild(struct comp *);
void comp_pubsub_link_up(struct comp *);
void comp_pubsub_disco_info(struct comp *, xmpp_stanza_t *query);
int  comp_pubsub_disco_node(struct comp *, xmpp_stanza_t *iq, const char *);
void comp_pubsub_disco_items(struct comp *, xmpp_stanza_t *query);
void comp_pubsub_metrics(struct evbuffer *, struct comp *);

/* rtbl_sub.c: the RTBL consumer. */
struct upstream *comp_upstream_new(struct comp *);
void             comp_upstream_free(struct upstream *);
void             comp_upstream_reconfigure(struct comp *);
void             comp_upstream_link(struct comp *, int up);
int              comp_upstream_reply(struct comp *, xmpp_stanza_t *iq);
int              comp_upstream_message(struct comp *, xmpp_stanza_t *msg);
void             comp_upstream_metrics(struct evbuffer *, struct comp *);

/* alerts.c: what admins hear of without asking (doc/alerts.md). */
void comp_alerts_new(struct comp *);
void comp_alerts_free(struct comp *);
void comp_alerts_reconfigure(struct comp *);
void comp_alerts_link(struct comp *, int up);
void comp_alerts_metrics(struct evbuffer *, struct comp *);
/* The digest now, whatever the interval (tests, the fuzz target). */
void comp_alerts_flush(struct comp *);
/* Does this admin (bare JID) get the digests; opt in or out, kept in
 * the state file (0, or -1 when it cannot be written). */
int comp_alerts_wanted(struct comp *, const char *jid);
int comp_alerts_optin(struct comp *, const char *jid, int on);
/* adhoc_alerts.c: the ad-hoc command */
struct adhoc_req;
void ah_cmd_alerts(struct adhoc_req *);

/* spam_report.c: XEP-0377 reports forwarded by the server. */
int comp_report_message(struct comp *, xmpp_stanza_t *msg);

/* report_out.c: XEP-0377 reports to other servers' abuse addresses and
 * to collectors, from the verdict-change path. */
struct report_out *comp_rout_new(struct comp *);
void               comp_rout_free(struct report_out *);
void comp_rout_verdict(struct comp *, enum fg_subj, const char *key,
		       enum fg_verdict, const char *reason);
int  comp_rout_reply(struct comp *, xmpp_stanza_t *iq);
void comp_rout_tick(struct comp *);
void comp_rout_link(struct comp *, int up);
void comp_rout_metrics(struct evbuffer *, struct comp *);

#endif
