/* SPDX-License-Identifier: ISC */
/*
 * floodgate - percent-escapes (RFC 3986 section 2.1): "%" and two hex
 * digits, either case, as in URIs and HTML form values.
 */
#ifndef FG_PCT_H
#define FG_PCT_H

#include <stddef.h>

/* The byte (0..255) that the escape at p stands for, p[0] being '%'
 * and n the bytes readable from p; -1 when fewer than 3 or not two hex
 * digits. */
int pct_byte(const char *p, size_t n);

#endif
