/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the vocabulary shared by every module: event kinds, subject
 * types and verdicts, with their wire/config names.
 */
#ifndef FG_TYPES_H
#define FG_TYPES_H

#include <stdint.h>

/* What is being metered. Names are the configuration names. */
enum fg_kind {
	FG_KIND_SUBSCRIBE,                /* "subscribe": outbound invitation */
	FG_KIND_STRANGER_MESSAGE,         /* "stranger-message" */
	FG_KIND_MESSAGE,                  /* "message": to a contact */
	FG_KIND_REGISTER,                 /* "register" */
	FG_KIND_AUTH_FAIL,                /* "auth-fail" */
	FG_KIND_INBOUND_SUBSCRIBE,        /* "inbound-subscribe" */
	FG_KIND_INBOUND_STRANGER_MESSAGE, /* "inbound-stranger-message" */
	FG_KIND_QUERY,                    /* "query": pubsub reads by peers */
	FG_KIND__MAX
};

/* Who a verdict or bucket applies to. */
enum fg_subj {
	FG_SUBJ_ACCOUNT, /* "account": local bare JID */
	FG_SUBJ_DOMAIN,  /* "domain": remote server domain */
	FG_SUBJ_IP,      /* "ip": one address */
	FG_SUBJ_PREFIX,  /* "prefix": IPv4 /24 or IPv6 /48 */
	FG_SUBJ__MAX
};

/* Ordered by severity: comparisons like v >= FG_V_QUARANTINE are valid. */
enum fg_verdict {
	FG_V_ALLOW,
	FG_V_THROTTLE,
	FG_V_QUARANTINE,
	FG_V_BLOCK,
	FG_V__MAX
};

/* Admin override on a subject; beats every automatic decision. */
enum fg_override {
	FG_OVR_NONE,
	FG_OVR_ALLOW, /* allowlisted */
	FG_OVR_QUARANTINE,
	FG_OVR_BLOCK,
	FG_OVR__MAX
};

/* The blocklist nodes we publish (doc/blocklist.md), in that order. */
enum fg_rtbl_node {
	FG_RTBL_DOMAINS, /* "spam_source_domains": id = domain */
	FG_RTBL_JIDS,    /* "spam_source_jids_sha256": sha256(bare JID) */
	FG_RTBL_IPS,     /* "spam_source_ips": CIDR with its prefix */
	FG_RTBL_MUC,     /* "muc_bans_sha256": sha256(bare JID or domain) */
	FG_RTBL__NODES
};

/* Why a stanza is refused, for [actions]: each reason is bounced (a
 * stanza error) or dropped (silently). */
enum fg_cause {
	FG_CAUSE_QUARANTINE, /* a quarantine from the score */
	FG_CAUSE_BLOCK,      /* a block from the score, or an admin's */
	FG_CAUSE_LIST,       /* an upstream blocklist lists it */
	FG_CAUSE_TRAP,       /* it touched a spamtrap */
	FG_CAUSE_WAVE,       /* a registration or content wave */
	FG_CAUSE__MAX
};

/* The detectors an operator can set to observe only ([detect.*] enforce). */
enum fg_det {
	FG_DET_REGISTRATION,
	FG_DET_LOGIN,
	FG_DET_CONTENT,
	FG_DET_AUTH,
	FG_DET_SPAMTRAPS,
	FG_DET_UPSTREAM,
	FG_DET_TRAPS, /* trap recipients */
	FG_DET_LISTS, /* the operator's lists */
	FG_DET__MAX
};

const char *fg_cause_name(enum fg_cause);
int         fg_cause_parse(const char *, enum fg_cause *);
const char *fg_kind_name(enum fg_kind);
int         fg_kind_parse(const char *, enum fg_kind *);
const char *fg_subj_name(enum fg_subj);
int         fg_subj_parse(const char *, enum fg_subj *);
const char *fg_verdict_name(enum fg_verdict);
int         fg_verdict_parse(const char *, enum fg_verdict *);
const char *fg_override_name(enum fg_override);
int         fg_override_parse(const char *, enum fg_override *);
const char *fg_rtbl_node_name(enum fg_rtbl_node);
int         fg_rtbl_node_parse(const char *, enum fg_rtbl_node *);
/* The node that lists a subject of this type by name (domains on
 * spam_source_domains, accounts on spam_source_jids_sha256, addresses
 * and networks on spam_source_ips). */
enum fg_rtbl_node fg_rtbl_node_of(enum fg_subj);
/* Is a subject with this effective verdict published? Blocks always,
 * quarantines when [blocklist] publish-quarantine is set. */
int fg_rtbl_published(enum fg_verdict, int publish_quarantine);

#endif
