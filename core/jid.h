/* SPDX-License-Identifier: ISC */
/*
 * floodgate - JID checks at the protocol boundary.
 *
 * Not full RFC 7622 PRECIS: we reject what can never be a JID (empty
 * parts, over-long parts, control characters, spaces, stray '@' or '/')
 * and fold ASCII case in the node and domain, which is what the servers'
 * own nodeprep does for the names bots use.
 */
#ifndef FG_JID_H
#define FG_JID_H

#include <stddef.h>

#define JID_PART_MAX 1023 /* bytes per localpart/domainpart/resource */
#define JID_MAX 3071      /* bytes of a full JID */

/* Write the normalised bare JID (node@domain or domain) of s to out.
 * 0 on success, -1 if s is not a valid JID. */
int jid_bare(const char *s, char *out, size_t outsz);
/* Write the normalised domain of s to out; 0 or -1. */
int jid_domain(const char *s, char *out, size_t outsz);
/* 1 when s is a bare domain (no '@', no '/'), valid. */
int jid_is_domain(const char *s);

#endif
