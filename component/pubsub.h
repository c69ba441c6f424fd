/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the RTBL publisher (XEP-0060 subset on the component JID):
 * node names, item ids and paging arithmetic, shared by pubsub.c and
 * pubsub_nodes.c and reachable from the unit tests.
 */
#ifndef FG_PUBSUB_H
#define FG_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "../core/types.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_REPORTING "urn:xmpp:reporting:1"
#define REPORTING_SPAM "urn:xmpp:reporting:spam"

#define PS_ID_MAX 1100   /* bytes of an item id: a domain and a prefix */
#define PS_SUBS_MAX 4096 /* subscribers per node */
#define PS_SUBS_RESERVED                                                       \
	256 /* places per node that remote domains leave to the served         \
	       domains and the [blocklist] domains */
#define PS_SUBS_PER_DOMAIN                                                     \
	16 /* places per node for one remote registrable domain */
#define PS_ITEMS_ASKED_MAX                                                     \
	PS_PAGE_MAX      /* <item id/> looked up per items request */
#define PS_PAGE_MAX 1000 /* items in one page, whatever is asked */
#define PS_REPLY_BYTES                                                         \
	400000 /* an unpaged reply stops near this, bytes                      \
		  (Prosody drops component stanzas over                        \
		  512 KiB) */

/* The nodes (core/types.h holds their names). */
enum ps_node {
	PS_DOMAINS = FG_RTBL_DOMAINS,
	PS_JIDS = FG_RTBL_JIDS,
	PS_IPS = FG_RTBL_IPS,
	PS_MUC = FG_RTBL_MUC,
	PS__NODES = FG_RTBL__NODES
};

const char *ps_node_name(enum ps_node);
/* The node called name, or -1. */
int ps_node_parse(const char *name);

/* One place a subject is published. */
struct ps_id {
	enum ps_node node;
	char         id[PS_ID_MAX];
};

/* The (node, id) pairs under which subject (t, key) is published (keys
 * as the policy normalises them); returns how many, 0 to 2. */
int ps_item_ids(enum fg_subj t, const char *key, struct ps_id out[2]);

/* A XEP-0059 request, positions already looked up in the sorted ids. */
struct ps_rsm {
	size_t max;       /* 0: not given */
	int    after_set; /* <after/>: after_pos = first id > after */
	size_t after_pos;
	int    before_set; /* <before/>: before_pos = first id >= before,
			      or n for an empty <before/> (last page) */
	size_t before_pos;
	int    index_set;
	size_t index;
};

/* The page [*start, *end) of n sorted items a request asks for. */
void ps_page(size_t n, const struct ps_rsm *, size_t *start, size_t *end);

/* The registrable domain of dom (lowercase, no trailing dot): the label
 * before its longest public suffix (Public Suffix List, ICANN section),
 * an address literal as it is. 0, or -1 when dom is empty or too long. */
int ps_reg_domain(const char *dom, char *out, size_t outsz);

#endif
