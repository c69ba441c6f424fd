/* SPDX-License-Identifier: ISC */
/*
 * floodgate - operator list files: JIDs, domains or URL hosts, one a
 * line, '#' comments, each entry plain or as the 64 hex digits of its
 * SHA-256 (URL hosts also as the 16-hex host fingerprint the modules send,
 * doc/PROTOCOL.md "Host fingerprints"). Every entry becomes the first 64
 * bits of the SHA-256 of its normal form, so plain and hashed entries
 * match alike; plain ones are also kept as text, so verdicts can be set
 * before their subject is ever seen. Used by [lists] (policy/lists.c) and
 * the trap recipients (policy/detect_trap.c).
 */
#ifndef FG_LISTFILE_H
#define FG_LISTFILE_H

#include <stddef.h>
#include <stdint.h>

#define LF_ENTRIES_MAX 1000000 /* entries in one set */
#define LF_LINE_MAX 4096       /* bytes of one line */
#define LF_TEXT_MAX 1100       /* bytes of one normalised plain entry */

enum lf_kind {
	LF_JIDS,    /* bare JIDs (user@domain) */
	LF_DOMAINS, /* server domains */
	LF_HOSTS,   /* URL host names */
};

struct lf_set;

/* The first 64 bits of SHA-256(s), as the 16 hex digits of hfp read. */
uint64_t lf_hash(const char *s);
/* The number lf_hash() gives, from the first 16 hex digits of s (either
 * case): a hashed list entry or a host fingerprint from the wire. */
uint64_t lf_hex_hash(const char *s);

/* One line: 1 with the entry's hash in *h and its normal form in text
 * ("" for a hashed entry); 0 for a blank or comment line; -1 for a bad
 * line, *err saying why. */
int lf_parse_line(enum lf_kind, const char *line, uint64_t *h, char *text,
		  size_t textsz, const char **err);

struct lf_set *lf_new(void);
void           lf_free(struct lf_set *);
/* Add one entry given as text (a line); 0, or -1 with *err. */
int lf_add(struct lf_set *, enum lf_kind, const char *entry, const char **err);
/* Read a file into s: every bad line is logged as "file:line: message";
 * returns the number of bad lines, or -1 when it cannot be read or is
 * too large. */
int lf_read(struct lf_set *, enum lf_kind, const char *path);
/* Sort for lookups; call after the last lf_add/lf_read. */
void lf_done(struct lf_set *);

int         lf_has(const struct lf_set *, uint64_t h);
size_t      lf_count(const struct lf_set *);
size_t      lf_nplain(const struct lf_set *);
const char *lf_plain(const struct lf_set *, size_t i);
/* Is text among the plain entries (binary search; after lf_done)? */
int lf_has_plain(const struct lf_set *, const char *text);
/* Does the normal form text match an entry, plain or hashed? Hashes
 * only when the set holds hashed entries. */
int lf_match(const struct lf_set *, const char *text);

#endif
