/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the component: every protocol surface of floodgated on the
 * XEP-0114 link (disco/version/ping, gate/meter/verdicts, and later
 * ad-hoc commands and pubsub).
 */
#ifndef FG_COMP_H
#define FG_COMP_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <strophe.h>

struct comp;
struct fg_config;
struct policy;
struct store;

/* cfg, pol and store are borrowed and must outlive the component (or be
 * replaced through comp_reconfigure). */
struct comp *comp_new(struct event_base *, const struct fg_config *,
		      struct policy *, struct store *);
void         comp_free(struct comp *);
void         comp_start(struct comp *);
void         comp_stop(struct comp *);
/* Route one received stanza (borrowed) to its protocol surface; the link
 * calls it, and so does the stanza fuzz target. */
void comp_dispatch(struct comp *, xmpp_stanza_t *);
int  comp_up(const struct comp *);
/* Tests and the stanza fuzz target: everything the component would send
 * goes to sink (borrowed stanza) instead of the link; NULL undoes it. */
typedef void (*comp_sink_fn)(xmpp_stanza_t *, void *);
void comp_set_sink(struct comp *, comp_sink_fn, void *);
/* Take admins, serves and limits from a reloaded config; the link
 * settings must be unchanged (the caller restarts the component
 * otherwise). */
void comp_reconfigure(struct comp *, const struct fg_config *);
/* The moderation page, for the ad-hoc command web-login (borrowed;
 * NULL: the command says the page is off). */
struct web;
void comp_set_web(struct comp *, struct web *);
/* /metrics collector. */
void comp_metrics(struct evbuffer *, void *comp);
/* GET /blocklist.txt: the published domains, one a line. */
int comp_blocklist_txt(struct evbuffer *, void *comp);

#endif
