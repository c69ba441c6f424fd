/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the loopback HTTP listener: /healthz, /metrics (Prometheus
 * text format, each module contributes through a collector) and any
 * further read-only pages (/blocklist.txt), and handlers that own a
 * path prefix and may take a POSTed form (the moderation pages).
 */
#ifndef FG_HTTP_H
#define FG_HTTP_H

#include <event2/buffer.h>
#include <event2/event.h>

struct http;

/* Append metrics in Prometheus text format to the buffer. */
typedef void (*http_collector_fn)(struct evbuffer *, void *);
/* Return 1 when healthy. */
typedef int (*http_health_fn)(void *);
/* Fill the body and return the HTTP status. */
typedef int (*http_page_fn)(struct evbuffer *, void *);

/* A request as a handler sees it; all borrowed for the call. */
struct http_req {
	const char *method; /* GET, HEAD or POST */
	const char *path;   /* the target up to '?' (raw, not decoded) */
	const char *query;  /* after '?', "" if none */
	const char *cookie; /* the Cookie header, NULL if none */
	const char *ctype;  /* the Content-Type header, NULL if none */
	const char *body;   /* POST body, NUL-terminated; "" for GET */
	size_t      bodylen;
};

/* The answer a handler fills: status (200 unless set), content type, the
 * body, and further header lines ("Name: value\r\n" each). */
struct http_resp {
	int              status;
	const char      *ctype;
	struct evbuffer *body;
	struct evbuffer *headers;
};
typedef void (*http_handler_fn)(const struct http_req *, struct http_resp *,
				void *);

/* listen is "host:port"; host must be a loopback address. NULL on
 * error (logged). */
struct http *http_new(struct event_base *, const char *listen);
void         http_free(struct http *);
void         http_set_health(struct http *, http_health_fn, void *);
void         http_add_collector(struct http *, http_collector_fn, void *);
void http_add_page(struct http *, const char *path, const char *content_type,
		   http_page_fn, void *);

/* Every request whose path is prefix or starts with prefix + "/" goes to
 * fn, POST included (bodies up to HTTP_BODY_MAX bytes). */
void http_add_handler(struct http *, const char *prefix, http_handler_fn,
		      void *);
#define HTTP_BODY_MAX 16384 /* bytes of a POST body */

/* A request's head as the listener reads it. */
struct http_head {
	char *method, *target;
	char *cookie, *ctype; /* header values, NULL when absent */
	long  clen;           /* Content-Length; -1 absent; over
				 HTTP_BODY_MAX reads HTTP_BODY_MAX + 1 */
};
/* Parse head (the request line and header lines up to the blank line,
 * NUL-terminated, CRLF or LF) in place; -1 when malformed: a bad request
 * line, a header line without ':', a repeated Cookie, Content-Type or
 * Content-Length, a non-numeric length, or any Transfer-Encoding. The
 * listener's own parser, public for its fuzz target. */
int http_head_parse(char *head, struct http_head *);

/* Helpers for collectors. */
void http_metric(struct evbuffer *, const char *name, const char *type,
		 const char *help, const char *labels, double value);

#endif
