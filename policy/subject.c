/* SPDX-License-Identifier: ISC */
/*
 * floodgate - subject keys: one canonical spelling per account, domain,
 * address and network, so that "Abupe@Example.ORG/phone" and
 * "abupe@example.org" share one reputation and one bucket.
 *
 * Not full RFC 7622 PRECIS: ASCII case is folded in the localpart and
 * domainpart (what the servers' nodeprep does for the names bots use),
 * other bytes are kept; what can never be a JID (empty or over-long parts,
 * control characters, spaces) is refused.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "../core/jid.h"
#include "policy_int.h"

#define PREFIX4_BITS 24 /* IPv4 network aggregate */
#define PREFIX6_BITS 48 /* IPv6 network aggregate */

static int parse_addr(const char *, size_t, unsigned char *, int *);

/* JIDs are checked and folded by core/jid.c, the one place that knows
 * what a JID may hold; here we only need the lengths. */
int
pol_norm_jid(const char *s, char *out, size_t outsz)
{
	if (jid_bare(s, out, outsz) == -1)
		return -1;
	return (int)strlen(out);
}

int
pol_norm_domain(const char *s, char *out, size_t outsz)
{
	if (jid_domain(s, out, outsz) == -1)
		return -1;
	return (int)strlen(out);
}

/* inet_pton of the first n bytes of s into a (16 bytes); IPv4-mapped IPv6
 * reads as IPv4, since that is the host behind it. */
static int
parse_addr(const char *s, size_t n, unsigned char *a, int *af)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1) {
		*af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	*af = AF_INET6;
	if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(a, a + 12, 4);
		*af = AF_INET;
	}
	return 0;
}

/* Dotted quad of a, as inet_ntop writes it, without its sprintf: every
 * event with an address comes through here (a log replay: millions). */
static int
fmt4(const unsigned char *a, char *out, size_t outsz)
{
	char   buf[16];
	size_t n = 0;
	int    i;

	for (i = 0; i < 4; i++) {
		if (i > 0)
			buf[n++] = '.';
		if (a[i] >= 100)
			buf[n++] = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			buf[n++] = (char)('0' + a[i] / 10 % 10);
		buf[n++] = (char)('0' + a[i] % 10);
	}
	if (n >= outsz)
		return -1;
	memcpy(out, buf, n);
	out[n] = '\0';
	return (int)n;
}

int
pol_norm_ip(const char *s, char *out, size_t outsz)
{
	unsigned char a[16];
	int           af;

	if (s == NULL || parse_addr(s, strlen(s), a, &af) == -1)
		return -1;
	if (af == AF_INET)
		return fmt4(a, out, outsz);
	if (inet_ntop(af, a, out, (socklen_t)outsz) == NULL)
		return -1;
	return (int)strlen(out);
}

int
pol_norm_prefix(const char *s, char *out, size_t outsz)
{
	unsigned char a[16];
	char          addr[INET6_ADDRSTRLEN];
	const char   *slash;
	size_t        n;
	int           af, bits, want, r;

	if (s == NULL)
		return -1;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (parse_addr(s, n, a, &af) == -1)
		return -1;
	want = af == AF_INET ? PREFIX4_BITS : PREFIX6_BITS;
	if (slash != NULL) {
		/* only the aggregates we keep: /24 and /48 */
		if (sscanf(slash + 1, "%d", &bits) != 1 || bits != want ||
		    strspn(slash + 1, "0123456789") != strlen(slash + 1))
			return -1;
	}
	memset(a + want / 8, 0, (af == AF_INET ? 4 : 16) - want / 8);
	if (af == AF_INET) {
		if ((r = fmt4(a, out, outsz)) == -1 || (size_t)r + 3 >= outsz)
			return -1;
		memcpy(out + r, "/24", 4);
		return r + 3;
	}
	if (inet_ntop(af, a, addr, sizeof addr) == NULL)
		return -1;
	r = snprintf(out, outsz, "%s/%d", addr, want);
	if (r < 0 || (size_t)r >= outsz)
		return -1;
	return r;
}

int
pol_norm_key(enum fg_subj type, const char *s, char *out, size_t outsz)
{
	switch (type) {
	case FG_SUBJ_ACCOUNT:
		return pol_norm_jid(s, out, outsz);
	case FG_SUBJ_DOMAIN:
		return pol_norm_domain(s, out, outsz);
	case FG_SUBJ_IP:
		return pol_norm_ip(s, out, outsz);
	case FG_SUBJ_PREFIX:
		return pol_norm_prefix(s, out, outsz);
	default:
		return -1;
	}
}
