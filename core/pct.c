/* SPDX-License-Identifier: ISC */
/*
 * floodgate - percent-escapes: one decoder for the moderation page's
 * form values and the xmpp: URIs of abuse addresses.
 */
#include "pct.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pct_byte(const char *p, size_t n)
{
	int hi, lo;

	if (n < 3 || p[0] != '%' || (hi = hexval(p[1])) < 0 ||
	    (lo = hexval(p[2])) < 0)
		return -1;
	return hi * 16 + lo;
}
