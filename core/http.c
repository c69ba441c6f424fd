/*
 * floodgate - HTTP listener on loopback via libevent's evhttp.
 *
 * evhttp is not built for hostile traffic, so we refuse to bind anything
 * but a loopback address, allow only GET, and keep headers and bodies
 * small.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http.h"
#include "log.h"
#include "xmalloc.h"

#define HTTP_TIMEOUT_S 5      /* per request, seconds */
#define HTTP_MAX_HEADERS 8192 /* bytes of request headers */
#define HTTP_MAX_COLLECTORS 16
#define HTTP_MAX_PAGES 8

struct http_page {
	struct http *h;
	char        *content_type;
	http_page_fn fn;
	void        *arg;
};

struct http {
	struct evhttp    *ev;
	http_health_fn    health;
	void             *health_arg;
	http_collector_fn coll[HTTP_MAX_COLLECTORS];
	void             *coll_arg[HTTP_MAX_COLLECTORS];
	int               ncoll;
	struct http_page  pages[HTTP_MAX_PAGES];
	int               npages;
};

static void on_metrics(struct evhttp_request *, void *);
static void on_healthz(struct evhttp_request *, void *);
static void on_page(struct evhttp_request *, void *);
static void on_other(struct evhttp_request *, void *);

static int
is_loopback(const char *host)
{
	struct in_addr  a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return strcmp(host, "localhost") == 0;
}

struct http *
http_new(struct event_base *base, const char *listen)
{
	struct http *h;
	char         host[256];
	const char  *colon;
	char        *end;
	long         port;

	colon = strrchr(listen, ':');
	if (colon == NULL || (size_t)(colon - listen) >= sizeof host) {
		log_warnx("http: listen '%s' is not host:port", listen);
		return NULL;
	}
	memcpy(host, listen, colon - listen);
	host[colon - listen] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535) {
		log_warnx("http: bad port in '%s'", listen);
		return NULL;
	}
	if (!is_loopback(host)) {
		log_warnx("http: refusing to listen on non-loopback '%s'",
			  host);
		return NULL;
	}
	h = xcalloc(1, sizeof *h);
	if ((h->ev = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_allowed_methods(h->ev, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(h->ev, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(h->ev, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->ev, 0);
	if (evhttp_bind_socket(h->ev, host, (unsigned short)port) != 0) {
		log_warn("http: cannot listen on %s", listen);
		evhttp_free(h->ev);
		free(h);
		return NULL;
	}
	evhttp_set_cb(h->ev, "/metrics", on_metrics, h);
	evhttp_set_cb(h->ev, "/healthz", on_healthz, h);
	evhttp_set_gencb(h->ev, on_other, h);
	log_info("http: listening on %s", listen);
	return h;
}

void
http_free(struct http *h)
{
	int i;

	if (h == NULL)
		return;
	evhttp_free(h->ev);
	for (i = 0; i < h->npages; i++)
		free(h->pages[i].content_type);
	free(h);
}

void
http_set_health(struct http *h, http_health_fn fn, void *arg)
{
	h->health = fn;
	h->health_arg = arg;
}

void
http_add_collector(struct http *h, http_collector_fn fn, void *arg)
{
	if (h->ncoll == HTTP_MAX_COLLECTORS)
		fatalx("http: too many collectors");
	h->coll[h->ncoll] = fn;
	h->coll_arg[h->ncoll++] = arg;
}

void
http_add_page(struct http *h, const char *path, const char *ctype,
	      http_page_fn fn, void *arg)
{
	struct http_page *p;

	if (h->npages == HTTP_MAX_PAGES)
		fatalx("http: too many pages");
	p = &h->pages[h->npages++];
	p->h = h;
	p->content_type = xstrdup(ctype);
	p->fn = fn;
	p->arg = arg;
	evhttp_set_cb(h->ev, path, on_page, p);
}

void
http_metric(struct evbuffer *b, const char *name, const char *type,
	    const char *help, const char *labels, double value)
{
	if (help != NULL) {
		evbuffer_add_printf(b, "# HELP %s %s\n", name, help);
		evbuffer_add_printf(b, "# TYPE %s %s\n", name, type);
	}
	evbuffer_add_printf(b, "%s%s%s%s %.17g\n", name, labels ? "{" : "",
			    labels ? labels : "", labels ? "}" : "", value);
}

static void
reply(struct evhttp_request *req, int code, const char *reason,
      const char *ctype, struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
	struct http     *h = arg;
	struct evbuffer *b = evbuffer_new();
	int              i;

	for (i = 0; i < h->ncoll; i++)
		h->coll[i](b, h->coll_arg[i]);
	reply(req, 200, "OK", "text/plain; version=0.0.4", b);
	evbuffer_free(b);
}

static void
on_healthz(struct evhttp_request *req, void *arg)
{
	struct http     *h = arg;
	struct evbuffer *b = evbuffer_new();
	int              ok = h->health ? h->health(h->health_arg) : 1;

	evbuffer_add_printf(b, "%s\n", ok ? "ok" : "component link down");
	reply(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable",
	      "text/plain", b);
	evbuffer_free(b);
}

static void
on_page(struct evhttp_request *req, void *arg)
{
	struct http_page *p = arg;
	struct evbuffer  *b = evbuffer_new();
	int               code = p->fn(b, p->arg);

	reply(req, code, code == 200 ? "OK" : "Error", p->content_type, b);
	evbuffer_free(b);
}

static void
on_other(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "not found\n");
	reply(req, 404, "Not Found", "text/plain", b);
	evbuffer_free(b);
}
