/* SPDX-License-Identifier: ISC */
/*
 * floodgate - XEP-0377 reports sent to other servers: the parts that
 * need no link, so they can be unit-tested and fuzzed (report_out_wire.c),
 * and the per-destination rate limit.
 *
 * A remote account blocked by an admin, or quarantined or blocked
 * automatically with reports from our users among the evidence, is
 * reported once to the abuse addresses its server advertises (XEP-0157,
 * found with a disco#info query to its domain) and to the collectors in
 * [reports] forward-to. The report carries text evidence (verdict,
 * reason, report counts, times), never message bodies but the one a
 * reporting user chose to attach to a report.
 */
#ifndef FG_REPORT_OUT_H
#define FG_REPORT_OUT_H

#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#include "../core/jid.h"

#define ROUT_ADDRS_MAX 4     /* abuse addresses used per remote domain */
#define ROUT_TEXT_MAX 2048   /* bytes of a report's evidence text */
#define ROUT_RATE_COUNT 20   /* reports to one destination ... */
#define ROUT_RATE_PER_S 3600 /* ... per this many seconds ... */
#define ROUT_RATE_BURST 5    /* ... in bursts of at most this many */
#define ROUT_RATE_DESTS 1024 /* destinations the rate table tracks */

#define NS_REPORTING1 "urn:xmpp:reporting:1"
#define ROUT_REASON_SPAM "urn:xmpp:reporting:spam"

/*
 * The abuse addresses of a disco#info answer: the xmpp: URIs among the
 * values of the report-addresses field (XEP-0157 names it for XEP-0377
 * reports) or, when it has none, the abuse-addresses field of the
 * serverinfo form (FORM_TYPE http://jabber.org/network/serverinfo), as
 * normalised bare JIDs (accounts or domains) without duplicates, at most max of
 * them, in the order given. An URI's query part (?message) is dropped; anything
 * that is not a bare JID after it is skipped. q is the <query/> element
 * (borrowed); returns how many were written to out, 0 when none.
 */
int rout_parse_abuse(xmpp_stanza_t *q, char (*out)[JID_MAX + 1], int max);

/*
 * The report message from our component to dest about subject:
 * <message><body/><report reason=...><jid/><text/></report></message>,
 * body and text both the evidence (a person reads the body; a program
 * the report). The caller owns the result.
 */
xmpp_stanza_t *rout_build(xmpp_ctx_t *, const char *from, const char *dest,
			  const char *id, const char *subject,
			  const char *reason, const char *text);

/* What the evidence text says. Strings borrowed; any may be NULL. */
struct rout_evidence {
	const char *subject;     /* the reported bare JID */
	const char *server;      /* our served domain(s), for the reader */
	const char *verdict;     /* "block", "quarantine" */
	int         by_admin;    /* 1: an admin's block */
	const char *reason;      /* the admin's reason or the automatic one */
	int64_t     at;          /* when, unix ms */
	int64_t     reports;     /* reports from our users */
	int64_t     first, last; /* their times, unix ms (0: none) */
	double      score;
	const char *signals;  /* "name=weight ..." */
	const char *attached; /* what a reporting user attached, or NULL */
};

/* The evidence as text into buf (NUL-terminated, cut at a character
 * boundary when it does not fit); returns buf. */
char *rout_text(const struct rout_evidence *, char *buf, size_t size);

/* Per-destination token buckets, fixed size (ROUT_RATE_DESTS; a full
 * table forgets the destination that has waited longest). */
struct rout_rate;

struct rout_rate *rout_rate_new(void);
void              rout_rate_free(struct rout_rate *);
/* 1 when dest may get a report at now (unix ms), without taking it. */
int rout_rate_ready(struct rout_rate *, const char *dest, int64_t now_ms);
/* Take one token for dest (after rout_rate_ready said 1). */
void rout_rate_take(struct rout_rate *, const char *dest, int64_t now_ms);

#endif
