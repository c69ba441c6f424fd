/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the RTBL publisher's insides, shared by pubsub.c,
 * pubsub_subs.c and pubsub_nodes.c only. Calls go one way: pubsub.c to
 * the other two, pubsub_subs.c to pubsub_nodes.c.
 */
#ifndef FG_PUBSUB_INT_H
#define FG_PUBSUB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pubsub.h"

/* One published item. One allocation, subject key included. */
struct ps_item {
	char    *id;     /* item id, as published */
	char    *reason; /* verdict reason for the payload; may be NULL */
	uint64_t seq;    /* publication order, for max_items */
	uint8_t  subj;   /* enum fg_subj of key */
	uint8_t  seen;   /* rebuild mark */
	char     key[];  /* the subject it stands for */
};

/* One subscriber: the JID events go to, and the registrable domain it
 * counts against (ps_reg_domain). One allocation. */
struct ps_sub {
	char *jid;
	char *dom;
	char  reg[];
};

/* One node: items sorted by id (strcmp), subscribers, and retractions
 * made while the link was down. */
struct ps_nodeset {
	struct ps_item **v;
	size_t           n, cap;
	struct ps_sub  **subs;
	size_t           nsubs;
	char           **retr;
	size_t           nretr;
};

struct ps_counters {
	uint64_t queries;
	uint64_t refused_access;
	uint64_t refused_rate;
	uint64_t notifications; /* event messages sent */
	uint64_t items_served;
	uint64_t subscribes;
	uint64_t unsubscribes;
	uint64_t refused_subs; /* subscriptions over a cap */
};

struct pubsub {
	struct ps_nodeset  node[PS__NODES];
	uint64_t           seq;
	struct rl_table   *rl; /* query rate per requesting domain */
	struct ps_counters c;
};

/* pubsub_nodes.c */
size_t          ps_lower(const struct ps_nodeset *, const char *id, int strict);
struct ps_item *ps_find(const struct ps_nodeset *, const char *id);
void ps_payload(struct comp *, xmpp_stanza_t *item, const struct ps_item *);
void ps_nodes_free(struct pubsub *);
void ps_error(struct comp *, xmpp_stanza_t *iq, const char *type,
	      const char *cond, const char *ps_cond, const char *text);
xmpp_stanza_t *ps_result(struct comp *, xmpp_stanza_t *iq);
/* 1 when dom is one of the list's domains or under one. */
int ps_in_list(const char *dom, const struct fg_strlist *);

/* pubsub_subs.c */
/* 1 for the served domains and the [blocklist] domains (and theirs). */
int  ps_privileged(struct comp *, const char *dom);
void ps_subs_load(struct comp *);
void ps_subscribe(struct comp *, xmpp_stanza_t *iq, xmpp_stanza_t *req,
		  enum ps_node, const char *from_bare, int on);
void ps_sub_free(struct ps_sub *);
void ps_subs_free(struct pubsub *);

#endif
