/* SPDX-License-Identifier: ISC */
/*
 * floodgate - what every moderation page needs (admin/web*.c): HTML
 * escaping, the urlencoded form and cookie parsers, the security
 * headers, and the page frame.
 *
 * Everything shown on a page that came from outside (JIDs, domains,
 * reasons, signals, form values) goes through web_esc(); nothing else
 * writes untrusted text into HTML.
 */
#ifndef FG_WEBUTIL_H
#define FG_WEBUTIL_H

#include <stddef.h>

#include <event2/buffer.h>

#define WEB_FIELD_MAX 1024 /* bytes of one decoded form or cookie value */

/* s as HTML text or attribute value: & < > " ' escaped, bytes that are
 * not well-formed UTF-8 and control characters (but TAB, LF) become
 * U+FFFD. NULL writes nothing. */
void web_esc(struct evbuffer *, const char *s);
/* printf, then nothing escaped: for our own constant markup only. */
void web_put(struct evbuffer *, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));
/* s percent-encoded for a query value (unreserved characters kept). */
void web_urlenc(struct evbuffer *, const char *s);

/* The value of name in an application/x-www-form-urlencoded string of
 * len bytes, decoded into out: 1 found, 0 absent, -1 bad (too long, a
 * bad %-escape, a NUL or control character, not UTF-8, or given twice). */
int web_form_get(const char *form, size_t len, const char *name, char *out,
		 size_t outsz);
/* The value of cookie name in a Cookie header: 1, 0 or -1 (too long or
 * given twice) as above; values are taken as they are, not decoded. */
int web_cookie_get(const char *header, const char *name, char *out,
		   size_t outsz);

/* The headers of every page: a strict CSP (no scripts at all, styles
 * only from the page itself), no framing, no sniffing, no referrer. */
void web_security_headers(struct evbuffer *hdrs);

/* The page frame; admin NULL when nobody is logged in (no menu). */
void web_page_begin(struct evbuffer *, const char *title, const char *admin,
		    const char *csrf);
void web_page_end(struct evbuffer *);

/* 1 when a and b (NUL-terminated) are equal, in time that depends only
 * on their lengths. */
int web_streq_ct(const char *a, const char *b);

#endif
