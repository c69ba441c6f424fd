/* SPDX-License-Identifier: ISC */
/*
 * floodgate - names of kinds, subjects, verdicts and blocklist nodes,
 * and which node publishes what.
 */
#include <string.h>

#include "types.h"

static const char *kind_names[FG_KIND__MAX] = {
    "subscribe",
    "stranger-message",
    "message",
    "register",
    "auth-fail",
    "inbound-subscribe",
    "inbound-stranger-message",
    "query",
};
static const char *subj_names[FG_SUBJ__MAX] = {
    "account",
    "domain",
    "ip",
    "prefix",
};
static const char *verdict_names[FG_V__MAX] = {
    "allow",
    "throttle",
    "quarantine",
    "block",
};
static const char *override_names[FG_OVR__MAX] = {
    "none",
    "allow",
    "quarantine",
    "block",
};
static const char *rtbl_node_names[FG_RTBL__NODES] = {
    "spam_source_domains",
    "spam_source_jids_sha256",
    "spam_source_ips",
    "muc_bans_sha256",
};

static const char *cause_names[FG_CAUSE__MAX] = {
    "quarantine", "block", "list", "trap", "wave",
};

static int
lookup(const char *const *names, int n, const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

#define NAMEFN(fn, parsefn, type, names, max)                                  \
	const char *fn(type v)                                                 \
	{                                                                      \
		return ((int)v >= 0 && v < max) ? names[v] : "?";              \
	}                                                                      \
	int parsefn(const char *s, type *out)                                  \
	{                                                                      \
		int i = lookup(names, max, s);                                 \
		if (i < 0)                                                     \
			return -1;                                             \
		*out = (type)i;                                                \
		return 0;                                                      \
	}

NAMEFN(fg_cause_name, fg_cause_parse, enum fg_cause, cause_names, FG_CAUSE__MAX)
NAMEFN(fg_kind_name, fg_kind_parse, enum fg_kind, kind_names, FG_KIND__MAX)
NAMEFN(fg_subj_name, fg_subj_parse, enum fg_subj, subj_names, FG_SUBJ__MAX)
NAMEFN(fg_verdict_name, fg_verdict_parse, enum fg_verdict, verdict_names,
       FG_V__MAX)
NAMEFN(fg_override_name, fg_override_parse, enum fg_override, override_names,
       FG_OVR__MAX)
NAMEFN(fg_rtbl_node_name, fg_rtbl_node_parse, enum fg_rtbl_node,
       rtbl_node_names, FG_RTBL__NODES)

enum fg_rtbl_node
fg_rtbl_node_of(enum fg_subj t)
{
	switch (t) {
	case FG_SUBJ_DOMAIN:
		return FG_RTBL_DOMAINS;
	case FG_SUBJ_ACCOUNT:
		return FG_RTBL_JIDS;
	default:
		return FG_RTBL_IPS;
	}
}

int
fg_rtbl_published(enum fg_verdict v, int publish_quarantine)
{
	return v == FG_V_BLOCK || (v == FG_V_QUARANTINE && publish_quarantine);
}
