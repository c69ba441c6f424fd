/* SPDX-License-Identifier: ISC */
/*
 * floodgate - escaping, form and cookie parsing, headers and the page
 * frame shared by the moderation pages (webutil.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pct.h"
#include "../core/utf8.h"
#include "../core/xmalloc.h"
#include "webutil.h"

/* No script may run and nothing may load from elsewhere: the pages are
 * plain HTML with one inline style sheet and inline SVG. */
#define WEB_CSP                                                                \
	"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' "       \
	"data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

static const char web_css[] =
    "body{font:14px/1.4 sans-serif;margin:0;color:#222;background:#fafafa}"
    "header{background:#24425c;color:#fff;padding:.5em 1em}"
    "header a{color:#fff;margin-right:1.2em;text-decoration:none}"
    "header .who{float:right}main{padding:1em}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;"
    "vertical-align:top}th{background:#eee}"
    "td.ev{font-family:monospace;font-size:12px;word-break:break-all}"
    "form.act{display:inline-block;margin:.1em}"
    "form.act input[type=text]{width:9em}"
    "button{cursor:pointer}.q{color:#a60}.b{color:#b00}.t{color:#06a}"
    ".note{background:#ffd;border:1px solid #cc9;padding:.5em}"
    ".err{background:#fdd;border:1px solid #c99;padding:.5em}"
    "svg{background:#fff;border:1px solid #ddd;margin:.3em 0}"
    "svg text{font:10px sans-serif}.pager a{margin-right:1em}";

void
web_put(struct evbuffer *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
}

void
web_esc(struct evbuffer *b, const char *s)
{
	const unsigned char *p;
	uint32_t             cp;
	size_t               k;

	for (p = (const unsigned char *)s; p != NULL && *p != '\0'; p++) {
		switch (*p) {
		case '&':
			evbuffer_add(b, "&amp;", 5);
			continue;
		case '<':
			evbuffer_add(b, "&lt;", 4);
			continue;
		case '>':
			evbuffer_add(b, "&gt;", 4);
			continue;
		case '"':
			evbuffer_add(b, "&quot;", 6);
			continue;
		case '\'':
			evbuffer_add(b, "&#39;", 5);
			continue;
		}
		if (*p >= 0x80) {
			k = utf8_seq((const char *)p,
				     strnlen((const char *)p, 4), &cp);
			if (k == 0 || (cp >= 0x80 && cp < 0xa0))
				evbuffer_add(b, UTF8_REPLACEMENT, 3);
			else
				evbuffer_add(b, p, k);
			if (k > 1)
				p += k - 1;
		} else if ((*p < 0x20 && *p != '\t' && *p != '\n') ||
			   *p == 0x7f)
			evbuffer_add(b, UTF8_REPLACEMENT, 3);
		else
			evbuffer_add(b, p, 1);
	}
}

void
web_urlenc(struct evbuffer *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			evbuffer_add(b, p, 1);
		else
			evbuffer_add_printf(b, "%%%02X", *p);
}

/* Decode one form value (n bytes) into out; -1 when bad. */
static int
form_decode(const char *v, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	int    c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)v[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if ((c = pct_byte(v + i, n - i)) < 0)
				return -1;
			i += 2;
		}
		/* a form value is one line of text: CR/LF too are refused */
		if (c < 0x20 || c == 0x7f || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return utf8_check(out, NULL) == 0 ? 0 : -1;
}

int
web_form_get(const char *form, size_t len, const char *name, char *out,
	     size_t outsz)
{
	const char *p = form, *end = form + len, *amp, *eq;
	size_t      nlen = strlen(name);
	int         found = 0;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if ((eq != NULL ? (size_t)(eq - p) : (size_t)(amp - p)) ==
			nlen &&
		    memcmp(p, name, nlen) == 0) {
			if (found++)
				return -1; /* twice: which one counts? */
			if (eq == NULL)
				out[0] = '\0';
			else if (form_decode(eq + 1, (size_t)(amp - eq - 1),
					     out, outsz) == -1)
				return -1;
		}
		p = amp + 1;
	}
	return found ? 1 : 0;
}

int
web_cookie_get(const char *h, const char *name, char *out, size_t outsz)
{
	size_t      nlen = strlen(name), vlen;
	const char *p = h, *v;
	int         found = 0;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t;");
		vlen = strcspn(p, ";");
		if (vlen > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			v = p + nlen + 1;
			vlen -= nlen + 1;
			while (vlen > 0 &&
			       (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (found++ || vlen + 1 > outsz)
				return -1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
		}
		p += strcspn(p, ";");
	}
	return found ? 1 : 0;
}

void
web_security_headers(struct evbuffer *h)
{
	web_put(h,
		"Content-Security-Policy: %s\r\n"
		"X-Content-Type-Options: nosniff\r\n"
		"X-Frame-Options: DENY\r\n"
		"Referrer-Policy: no-referrer\r\n"
		"Cross-Origin-Opener-Policy: same-origin\r\n",
		WEB_CSP);
}

void
web_page_begin(struct evbuffer *b, const char *title, const char *admin,
	       const char *csrf)
{
	web_put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		   "<meta charset=\"utf-8\"><title>");
	web_esc(b, title);
	web_put(b,
		" - floodgate</title><meta name=\"viewport\" "
		"content=\"width=device-width\"><style>%s</style></head>"
		"<body><header>",
		web_css);
	if (admin != NULL) {
		web_put(b, "<a href=\"/admin/\">Queue</a>"
			   "<a href=\"/admin/hits\">Recent limit hits</a>"
			   "<a href=\"/admin/charts\">Charts</a>"
			   "<form class=\"act\" method=\"get\" "
			   "action=\"/admin/subject\"><input type=\"text\" "
			   "name=\"s\" placeholder=\"JID, domain or IP\">"
			   "<button>Inspect</button></form>"
			   "<span class=\"who\">");
		web_esc(b, admin);
		web_put(b, " <form class=\"act\" method=\"post\" "
			   "action=\"/admin/logout\"><input type=\"hidden\" "
			   "name=\"csrf\" value=\"");
		web_esc(b, csrf);
		web_put(
		    b,
		    "\"><button id=\"logout\">Log out</button></form></span>");
	} else
		web_put(b, "floodgate");
	web_put(b, "</header><main><h1>");
	web_esc(b, title);
	web_put(b, "</h1>\n");
}

void
web_page_end(struct evbuffer *b)
{
	web_put(b, "</main></body></html>\n");
}

int
web_streq_ct(const char *a, const char *b)
{
	size_t        la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}
