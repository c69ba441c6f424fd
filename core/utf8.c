/* SPDX-License-Identifier: ISC */
/*
 * floodgate - UTF-8 validation (RFC 3629) and repair.
 *
 * The decoder follows the table of well-formed byte sequences in RFC 3629
 * section 4: the second byte's range depends on the first so that
 * overlong forms, surrogates and code points past U+10FFFF are refused
 * without decoding them first.
 */
#include <string.h>

#include "utf8.h"
#include "xmalloc.h"

static int xml_char(uint32_t);
static int check(const char *, int, size_t *);

size_t
utf8_seq(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char        lo = 0x80, hi = 0xbf;
	size_t               len, i;
	uint32_t             c;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else
		return 0; /* continuation byte, C0/C1, F5..FF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	c = (c << 6) | (s[1] & 0x3f);
	for (i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return len;
}

/* XML 1.0 Char production, for an already valid code point. */
static int
xml_char(uint32_t c)
{
	if (c < 0x20)
		return c == '\t' || c == '\n' || c == '\r';
	return c != 0xfffe && c != 0xffff;
}

static int
check(const char *s, int xml, size_t *bad)
{
	size_t   i = 0, n = strlen(s), k;
	uint32_t c;

	while (i < n) {
		if ((k = utf8_seq(s + i, n - i, &c)) == 0 ||
		    (xml && !xml_char(c))) {
			if (bad != NULL)
				*bad = i;
			return -1;
		}
		i += k;
	}
	return 0;
}

int
utf8_check(const char *s, size_t *bad)
{
	return check(s, 0, bad);
}

int
utf8_xml_ok(const char *s, size_t *bad)
{
	return check(s, 1, bad);
}

char *
utf8_repair_n(const char *s, size_t n, size_t *outlen)
{
	size_t   i = 0, o, k;
	uint32_t c;
	char    *out;

	while (i < n && (k = utf8_seq(s + i, n - i, &c)) > 0 && xml_char(c))
		i += k;
	if (i == n)
		return NULL;
	/* each bad byte grows to 3 at most */
	out = xreallocarray(NULL, n + 1, 3);
	memcpy(out, s, i);
	o = i;
	while (i < n) {
		k = utf8_seq(s + i, n - i, &c);
		if (k == 0 || !xml_char(c)) {
			memcpy(out + o, UTF8_REPLACEMENT, 3);
			o += 3;
			i += k == 0 ? 1 : k;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return out;
}

char *
utf8_repair(const char *s)
{
	char *r = utf8_repair_n(s, strlen(s), NULL);

	return r != NULL ? r : xstrdup(s);
}
