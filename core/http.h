/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the loopback HTTP listener: /healthz, /metrics (Prometheus
 * text format, each module contributes through a collector) and any
 * further read-only pages (/blocklist.txt).
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

/* listen is "host:port"; host must be a loopback address. NULL on
 * error (logged). */
struct http *http_new(struct event_base *, const char *listen);
void         http_free(struct http *);
void         http_set_health(struct http *, http_health_fn, void *);
void         http_add_collector(struct http *, http_collector_fn, void *);
void http_add_page(struct http *, const char *path, const char *content_type,
		   http_page_fn, void *);

/* Helpers for collectors. */
void http_metric(struct evbuffer *, const char *name, const char *type,
		 const char *help, const char *labels, double value);

#endif
