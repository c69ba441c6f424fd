/* SPDX-License-Identifier: ISC */
/*
 * floodgate - JID parsing and normalisation.
 */
#include <string.h>

#include "jid.h"

/* What a node may not hold; a switch, not strchr per byte: every JID of
 * every event comes through here (a log replay: millions). */
static int
bad_node_char(char c)
{
	switch (c) {
	case '"':
	case '&':
	case '\'':
	case '/':
	case ':':
	case '<':
	case '>':
	case '@':
		return 1;
	default:
		return 0;
	}
}

/* Split s into node/domain/resource spans; -1 if malformed. */
static int
jid_split(const char *s, const char **node, size_t *nlen, const char **dom,
	  size_t *dlen)
{
	const char *at, *slash, *p;
	size_t      len;

	if (s == NULL || (len = strlen(s)) == 0 || len > JID_MAX)
		return -1;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -1;
	slash = strchr(s, '/');
	at = memchr(s, '@', slash ? (size_t)(slash - s) : len);
	if (at != NULL) {
		*node = s;
		*nlen = (size_t)(at - s);
		*dom = at + 1;
	} else {
		*node = NULL;
		*nlen = 0;
		*dom = s;
	}
	*dlen = slash ? (size_t)(slash - *dom) : strlen(*dom);
	if (at != NULL && (*nlen == 0 || *nlen > JID_PART_MAX))
		return -1;
	if (*dlen == 0 || *dlen > JID_PART_MAX)
		return -1;
	if (memchr(*dom, '@', *dlen) != NULL)
		return -1;
	if (slash != NULL &&
	    (slash[1] == '\0' || strlen(slash + 1) > JID_PART_MAX))
		return -1;
	/* a trailing dot names the same domain; leading or double dots
	 * name none */
	if ((*dom)[0] == '.' || memmem(*dom, *dlen, "..", 2) != NULL)
		return -1;
	for (p = *node; p != NULL && p < *node + *nlen; p++)
		if (bad_node_char(*p))
			return -1;
	return 0;
}

static void
lower_copy(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = src[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
}

int
jid_bare(const char *s, char *out, size_t outsz)
{
	const char *node, *dom;
	size_t      nlen, dlen, o = 0;

	if (jid_split(s, &node, &nlen, &dom, &dlen) == -1)
		return -1;
	if (dlen > 1 && dom[dlen - 1] == '.')
		dlen--;
	if (nlen + dlen + 2 > outsz)
		return -1;
	if (node != NULL) {
		lower_copy(out, node, nlen);
		out[nlen] = '@';
		o = nlen + 1;
	}
	lower_copy(out + o, dom, dlen);
	out[o + dlen] = '\0';
	return 0;
}

int
jid_domain(const char *s, char *out, size_t outsz)
{
	const char *node, *dom;
	size_t      nlen, dlen;

	if (jid_split(s, &node, &nlen, &dom, &dlen) == -1)
		return -1;
	if (dlen > 1 && dom[dlen - 1] == '.')
		dlen--;
	if (dlen + 1 > outsz)
		return -1;
	lower_copy(out, dom, dlen);
	out[dlen] = '\0';
	return 0;
}

int
jid_is_domain(const char *s)
{
	const char *node, *dom;
	size_t      nlen, dlen;

	if (jid_split(s, &node, &nlen, &dom, &dlen) == -1)
		return 0;
	return node == NULL && strchr(s, '/') == NULL;
}
