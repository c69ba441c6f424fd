/* SPDX-License-Identifier: ISC */
/*
 * floodgate - upstream blocklists: what other services list (RTBL nodes
 * consumed by component/rtbl_sub.c, plain domain lists from files).
 *
 * Every listed item is remembered with the set of sources listing it. A
 * domain, address or network becomes a pol_signal() of weight.upstream
 * when its first source lists it (kept topped up while listed, taken
 * back when the last source drops it). SHA-256 items (JID nodes) cannot
 * be turned back into JIDs: they are matched at gate time (the
 * detector's pregate hook in policy/detect_upstream.c), and signalled
 * then.
 */
#ifndef FG_POL_UPSTREAM_H
#define FG_POL_UPSTREAM_H

#include <stddef.h>

#include "../core/config.h"

struct policy;

#define UP_SOURCES_MAX 64 /* distinct sources (files + RTBL nodes) */

/* What kind of item an id is: decided by its text. */
enum up_kind {
	UP_BAD,    /* none of the below */
	UP_DOMAIN, /* a domain name */
	UP_IP,     /* one address, given bare or as /32, /128 */
	UP_PREFIX, /* a /24 (IPv4) or /48 (IPv6) network */
	UP_HASH,   /* 64 hex digits: SHA-256 of a bare JID or domain */
};

/* Classify an item id and write its normal form (lowercase; addresses
 * without a host prefix; networks as CIDR) to out. */
enum up_kind up_classify(const char *id, char *out, size_t outsz);

/* Lowercase hex SHA-256 of s (the RTBL item id of a JID or domain). */
void up_sha256_hex(const char *s, char out[65]);

/* One line of a domain list file: 1 and the lowercased domain in out, 0
 * for blank and comment lines, -1 for a bad line (*err says why). */
int up_parse_line(const char *line, char *out, size_t outsz, const char **err);

/* Called for each domain of a list file. */
typedef void (*up_domain_cb)(const char *domain, void *);
/* Read a list file: bad lines are logged as "file:line: ..." and
 * skipped. Returns the number of bad lines, -1 if the file cannot be
 * read. */
int up_read_file(const char *path, up_domain_cb, void *);

/* Source-keyed updates. A source is a short name such as
 * "rtbl:xmppbl.org/spam_source_domains" or "file:/etc/x.txt". */
void pol_upstream_list(struct policy *, const char *source, const char *id);
void pol_upstream_unlist(struct policy *, const char *source, const char *id);
/* A full copy of a source replaces what it listed before: begin, list
 * every item, end (items not listed again are dropped). */
void pol_upstream_begin(struct policy *, const char *source);
void pol_upstream_end(struct policy *, const char *source);
/* Forget everything a source listed. */
void pol_upstream_drop(struct policy *, const char *source);

/* (Re)read cfg->upstream_files; files no longer configured are dropped.
 * Returns the number of bad lines (all files), -1 if a file failed. */
int pol_upstream_load_files(struct policy *, const struct fg_config *);
/* Items listed now, all sources. */
size_t pol_upstream_count(struct policy *);
/* Each source with the number of items it lists now (for /metrics). */
void pol_upstream_sources(struct policy *,
			  void (*)(const char *source, size_t items, void *),
			  void *);

#endif
