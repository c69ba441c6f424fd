/* SPDX-License-Identifier: ISC */
/*
 * floodgate - UTF-8 validation (RFC 3629) and repair.
 *
 * Every string that reaches a stanza, a log line, JSON or SQLite must be
 * valid UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF. XML 1.0 also forbids the C0 controls except TAB, LF and
 * CR, and U+FFFE/U+FFFF; utf8_xml_ok() checks that stricter form.
 */
#ifndef FG_UTF8_H
#define FG_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, 3 bytes */

/* Length (1..4) of the well-formed sequence at the start of s (n bytes
 * available) and its code point in *cp; 0 if it is not well-formed. */
size_t utf8_seq(const char *s, size_t n, uint32_t *cp);

/* 0 if the NUL-terminated s is valid UTF-8, else -1 with the offset of
 * the first bad byte in *bad (bad may be NULL). */
int utf8_check(const char *s, size_t *bad);
/* As utf8_check, and also every character is allowed in XML 1.0 text. */
int utf8_xml_ok(const char *s, size_t *bad);

/* A new copy of s (xmalloc) in which every byte that does not start a
 * well-formed sequence, and every character XML forbids, is replaced by
 * U+FFFD. */
char *utf8_repair(const char *s);
/* The same over n bytes (NUL included, and replaced): NULL when nothing
 * needs repair, else the new string (xmalloc) and its length. */
char *utf8_repair_n(const char *s, size_t n, size_t *outlen);

#endif
