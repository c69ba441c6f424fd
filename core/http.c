/* SPDX-License-Identifier: ISC */
/*
 * floodgate - HTTP listener on loopback: /healthz, /metrics and a few
 * read-only pages.
 *
 * Our own small server on a libevent listener, not evhttp: evhttp keeps
 * every idle connection for ever and cannot cap them, so 2,000 idle
 * clients would pin 2,000 fds. Here a connection carries one request,
 * must deliver it within HTTP_DEADLINE_S of its accept and be answered
 * within the same deadline, and at most HTTP_CONNS_MAX are open: a new
 * one closes the oldest that has sent nothing, so idle or slow clients
 * cannot starve a real one. We bind only loopback addresses and answer
 * GET and HEAD, and POST only on a handler's prefix (a form of at most
 * HTTP_BODY_MAX bytes, announced by Content-Length: no chunked bodies).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "http.h"
#include "log.h"
#include "xmalloc.h"

#define HTTP_DEADLINE_S 5         /* from accept to answer sent, seconds */
#define HTTP_REQUEST_MAX 8192     /* bytes of request line and headers */
#define HTTP_CONNS_MAX 64         /* connections open at once */
#define HTTP_BACKLOG 64           /* listen() backlog, connections */
#define HTTP_ACCEPT_PAUSE_MS 1000 /* after accept() fails (EMFILE), ms */
#define HTTP_MAX_COLLECTORS 16
#define HTTP_MAX_PAGES 8
#define HTTP_PATH_MAX 256 /* bytes of a page path we route */
#define HTTP_MAX_HANDLERS 4

struct http_page {
	char        *path;
	char        *content_type;
	http_page_fn fn;
	void        *arg;
};

struct http_handler {
	char           *prefix;
	http_handler_fn fn;
	void           *arg;
};

struct http_conn {
	struct http        *h;
	struct bufferevent *bev;
	struct event       *deadline;
	int                 answered;
	TAILQ_ENTRY(http_conn) entry;
};

struct http {
	struct event_base     *base;
	struct evconnlistener *lev;
	struct event          *resume; /* accepting again after a failure */
	http_health_fn         health;
	void                  *health_arg;
	http_collector_fn      coll[HTTP_MAX_COLLECTORS];
	void                  *coll_arg[HTTP_MAX_COLLECTORS];
	int                    ncoll;
	struct http_page       pages[HTTP_MAX_PAGES];
	int                    npages;
	struct http_handler    handlers[HTTP_MAX_HANDLERS];
	int                    nhandlers;
	size_t                 nconns;
	uint64_t               evicted; /* connections closed at the cap */
	TAILQ_HEAD(, http_conn) conns;  /* oldest first */
};

static void              conn_free(struct http_conn *);
static void              on_accept(struct evconnlistener *, evutil_socket_t,
				   struct sockaddr *, int, void *);
static void              on_read(struct bufferevent *, void *);
static void              on_write(struct bufferevent *, void *);
static void              on_event(struct bufferevent *, short, void *);
static void              on_deadline(evutil_socket_t, short, void *);
static struct http_conn *pick_victim(struct http *);
static void              on_accept_error(struct evconnlistener *, void *);
static void              on_resume(evutil_socket_t, short, void *);
static void respond(struct http_conn *, int, const char *, const char *,
		    struct evbuffer *, int);
static void route(struct http_conn *, const struct http_head *, const char *,
		  size_t);
static void respond_hdrs(struct http_conn *, int, const char *,
			 struct evbuffer *, struct evbuffer *, int);

/* host (no brackets) and port into a loopback address; -1 otherwise. */
static int
loopback_addr(const char *host, long port, struct sockaddr_storage *ss,
	      socklen_t *len)
{
	struct sockaddr_in  *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof *s4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof *s6;
		return 0;
	}
	return -1;
}

struct http *
http_new(struct event_base *base, const char *listen)
{
	struct http            *h;
	struct sockaddr_storage ss;
	socklen_t               sslen;
	char                    host[256];
	const char             *colon;
	char                   *end;
	long                    port;

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
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
		log_warnx("http: bad port in '%s'", listen);
		return NULL;
	}
	if (loopback_addr(host, port, &ss, &sslen) == -1) {
		log_warnx("http: refusing to listen on non-loopback '%s'",
			  host);
		return NULL;
	}
	h = xcalloc(1, sizeof *h);
	h->base = base;
	TAILQ_INIT(&h->conns);
	h->lev = evconnlistener_new_bind(
	    base, on_accept, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
	    HTTP_BACKLOG, (struct sockaddr *)&ss, (int)sslen);
	if (h->lev == NULL) {
		log_warn("http: cannot listen on %s", listen);
		free(h);
		return NULL;
	}
	if ((h->resume = evtimer_new(base, on_resume, h)) == NULL)
		fatalx("http: out of memory");
	evconnlistener_set_error_cb(h->lev, on_accept_error);
	log_info("http: listening on %s", listen);
	return h;
}

void
http_free(struct http *h)
{
	int i;

	if (h == NULL)
		return;
	while (!TAILQ_EMPTY(&h->conns))
		conn_free(TAILQ_FIRST(&h->conns));
	evconnlistener_free(h->lev);
	event_free(h->resume);
	for (i = 0; i < h->npages; i++) {
		free(h->pages[i].path);
		free(h->pages[i].content_type);
	}
	for (i = 0; i < h->nhandlers; i++)
		free(h->handlers[i].prefix);
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
	p->path = xstrdup(path);
	p->content_type = xstrdup(ctype);
	p->fn = fn;
	p->arg = arg;
}

void
http_add_handler(struct http *h, const char *prefix, http_handler_fn fn,
		 void *arg)
{
	struct http_handler *p;

	if (h->nhandlers == HTTP_MAX_HANDLERS)
		fatalx("http: too many handlers");
	p = &h->handlers[h->nhandlers++];
	p->prefix = xstrdup(prefix);
	p->fn = fn;
	p->arg = arg;
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
conn_free(struct http_conn *c)
{
	TAILQ_REMOVE(&c->h->conns, c, entry);
	c->h->nconns--;
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* The oldest connection that has sent nothing, not even bytes the loop
 * has yet to read (a burst of accepts comes before their reads): a flood
 * of idle clients then closes its own, not a client that spoke. */
static struct http_conn *
pick_victim(struct http *h)
{
	struct http_conn *c;
	char              b;

	TAILQ_FOREACH(c, &h->conns, entry)
	{
		if (c->answered ||
		    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			continue;
		if (recv(bufferevent_getfd(c->bev), &b, 1,
			 MSG_PEEK | MSG_DONTWAIT) <= 0)
			return c;
	}
	return TAILQ_FIRST(&h->conns);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	struct http      *h = arg;
	struct http_conn *c;
	struct timeval    tv = {HTTP_DEADLINE_S, 0};

	if (h->nconns >= HTTP_CONNS_MAX) {
		h->evicted++;
		log_debug("http: %d connections open, closing an idle one",
			  HTTP_CONNS_MAX);
		conn_free(pick_victim(h));
	}
	c = xcalloc(1, sizeof *c);
	c->h = h;
	c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(h->base, on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL)
		fatalx("http: out of memory for a connection");
	TAILQ_INSERT_TAIL(&h->conns, c, entry);
	h->nconns++;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ);
	evtimer_add(c->deadline, &tv);
}

/* Out of fds (or memory): libevent would retry the ready listener in a
 * tight loop, so pause it. */
static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http   *h = arg;
	struct timeval tv = {HTTP_ACCEPT_PAUSE_MS / 1000,
			     (HTTP_ACCEPT_PAUSE_MS % 1000) * 1000};

	log_warn("http: accept (pausing %d ms)", HTTP_ACCEPT_PAUSE_MS);
	evconnlistener_disable(lev);
	evtimer_add(h->resume, &tv);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	evconnlistener_enable(h->lev);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	log_debug("http: no %s within %d s, closing",
		  c->answered ? "reader for the answer" : "request",
		  HTTP_DEADLINE_S);
	conn_free(c);
}

/*
 * The head (request line and header lines, NUL-terminated, CRLF or LF)
 * into hd, in place; -1 when malformed. Only the headers routing needs
 * are kept; a repeated one of them is malformed, so a proxy and we
 * cannot read different values.
 */
int
http_head_parse(char *head, struct http_head *hd)
{
	char  *line, *next, *sp, *v, *end;
	size_t n;

	hd->cookie = hd->ctype = NULL;
	hd->clen = -1;
	if ((next = strchr(head, '\n')) != NULL)
		*next++ = '\0';
	line = head;
	line[strcspn(line, "\r")] = '\0';
	hd->method = line;
	if ((sp = strchr(line, ' ')) == NULL)
		return -1;
	*sp = '\0';
	hd->target = sp + 1;
	if ((sp = strchr(hd->target, ' ')) == NULL ||
	    strncmp(sp + 1, "HTTP/1.", 7) != 0 || hd->target[0] != '/')
		return -1;
	*sp = '\0';
	while ((line = next) != NULL && *line != '\0' && *line != '\r') {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if ((v = strchr(line, ':')) == NULL)
			return -1;
		*v++ = '\0';
		v += strspn(v, " \t");
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			v[--n] = '\0';
		if (strcasecmp(line, "Cookie") == 0) {
			if (hd->cookie != NULL)
				return -1;
			hd->cookie = v;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			if (hd->ctype != NULL)
				return -1;
			hd->ctype = v;
		} else if (strcasecmp(line, "Content-Length") == 0) {
			if (hd->clen != -1 || *v < '0' || *v > '9')
				return -1;
			hd->clen = strtol(v, &end, 10);
			if (*end != '\0')
				return -1;
			if (hd->clen < 0 || hd->clen > HTTP_BODY_MAX)
				hd->clen = HTTP_BODY_MAX + 1; /* too large */
		} else if (strcasecmp(line, "Transfer-Encoding") == 0)
			return -1; /* chunked bodies are not taken */
	}
	return 0;
}

/* Wait for the head, then for the body it announces; answer once both
 * are in. The head is parsed again on each read until then: it is small
 * and bounded, and nothing is kept across reads. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct http_conn   *c = arg;
	struct evbuffer    *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	struct http_head    hd;
	char               *head = NULL, *body = NULL;
	size_t              hlen, blen = 0, avail;

	if (c->answered)
		return;
	avail = evbuffer_get_length(in);
	/* the first blank line ends the head, CRLF or bare LF: a body may
	 * hold the other form */
	hlen = 0;
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos >= 0)
		hlen = (size_t)end.pos + 4;
	end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos >= 0 && (hlen == 0 || (size_t)end.pos + 2 < hlen))
		hlen = (size_t)end.pos + 2;
	if (hlen > HTTP_REQUEST_MAX ||
	    (hlen == 0 && avail > HTTP_REQUEST_MAX)) {
		respond(c, 431, "Request Header Fields Too Large", "text/plain",
			NULL, 0);
		return;
	}
	if (hlen == 0)
		return;
	head = xmalloc(hlen + 1);
	evbuffer_copyout(in, head, hlen);
	head[hlen] = '\0';
	if (memchr(head, '\0', hlen) != NULL ||
	    http_head_parse(head, &hd) == -1) {
		respond(c, 400, "Bad Request", "text/plain", NULL, 0);
		goto done;
	}
	if (strcmp(hd.method, "POST") == 0) {
		if (hd.clen < 0) {
			respond(c, 411, "Length Required", "text/plain", NULL,
				0);
			goto done;
		}
		if (hd.clen > HTTP_BODY_MAX) {
			respond(c, 413, "Content Too Large", "text/plain", NULL,
				0);
			goto done;
		}
		blen = (size_t)hd.clen;
		if (avail < hlen + blen)
			goto done; /* the rest of the body is on its way */
	}
	body = xmalloc(blen + 1);
	evbuffer_drain(in, hlen);
	evbuffer_remove(in, body, blen);
	body[blen] = '\0';
	route(c, &hd, body, blen);
done:
	free(head);
	free(body);
}

/* The handler owning path, or NULL. */
static struct http_handler *
find_handler(struct http *h, const char *path, size_t plen)
{
	size_t n;
	int    i;

	for (i = 0; i < h->nhandlers; i++) {
		n = strlen(h->handlers[i].prefix);
		if (plen >= n && strncmp(path, h->handlers[i].prefix, n) == 0 &&
		    (plen == n || path[n] == '/'))
			return &h->handlers[i];
	}
	return NULL;
}

static void
run_handler(struct http_conn *c, struct http_handler *hh,
	    const struct http_head *hd, const char *body, size_t blen,
	    struct evbuffer *b)
{
	struct http_req  rq;
	struct http_resp rs;
	char            *path;
	size_t           plen = strcspn(hd->target, "?#");

	path = xmalloc(plen + 1);
	memcpy(path, hd->target, plen);
	path[plen] = '\0';
	memset(&rq, 0, sizeof rq);
	rq.method = hd->method;
	rq.path = path;
	rq.query = hd->target[plen] == '?' ? hd->target + plen + 1 : "";
	rq.cookie = hd->cookie;
	rq.ctype = hd->ctype;
	rq.body = body;
	rq.bodylen = blen;
	rs.status = 200;
	rs.ctype = "text/html; charset=utf-8";
	rs.body = b;
	if ((rs.headers = evbuffer_new()) == NULL)
		fatalx("http: out of memory");
	hh->fn(&rq, &rs, hh->arg);
	respond_hdrs(c, rs.status, rs.ctype, rs.headers, b,
		     strcmp(hd->method, "HEAD") == 0);
	evbuffer_free(rs.headers);
	free(path);
}

static void
route(struct http_conn *c, const struct http_head *hd, const char *body,
      size_t blen)
{
	struct http         *h = c->h;
	struct evbuffer     *b = evbuffer_new();
	struct http_handler *hh;
	const char          *method = hd->method, *target = hd->target;
	int                  head = strcmp(method, "HEAD") == 0, i, ok;
	size_t               plen = strcspn(target, "?#");

	if (b == NULL)
		fatalx("http: out of memory");
	if ((hh = find_handler(h, target, plen)) != NULL &&
	    (head || !strcmp(method, "GET") || !strcmp(method, "POST"))) {
		run_handler(c, hh, hd, body, blen, b);
		goto done;
	}
	if (!head && strcmp(method, "GET") != 0) {
		respond(c, 405, "Method Not Allowed", "text/plain", NULL, 0);
		goto done;
	}
	if (plen == 8 && strncmp(target, "/metrics", 8) == 0) {
		for (i = 0; i < h->ncoll; i++)
			h->coll[i](b, h->coll_arg[i]);
		respond(c, 200, "OK", "text/plain; version=0.0.4", b, head);
		goto done;
	}
	if (plen == 8 && strncmp(target, "/healthz", 8) == 0) {
		ok = h->health ? h->health(h->health_arg) : 1;
		evbuffer_add_printf(b, "%s\n",
				    ok ? "ok" : "component link down");
		respond(c, ok ? 200 : 503, ok ? "OK" : "Service Unavailable",
			"text/plain", b, head);
		goto done;
	}
	for (i = 0; i < h->npages; i++) {
		struct http_page *p = &h->pages[i];

		if (strlen(p->path) != plen ||
		    strncmp(p->path, target, plen) != 0)
			continue;
		ok = p->fn(b, p->arg);
		respond(c, ok, ok == 200 ? "OK" : "Error", p->content_type, b,
			head);
		goto done;
	}
	evbuffer_add_printf(b, "not found\n");
	respond(c, 404, "Not Found", "text/plain", b, head);
done:
	evbuffer_free(b);
}

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 303:
		return "See Other";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	default:
		return code < 400 ? "OK" : "Error";
	}
}

/* One answer, then the connection closes once it is written. */
static void
respond(struct http_conn *c, int code, const char *reason, const char *ctype,
	struct evbuffer *body, int head)
{
	(void)reason; /* the phrase follows the code */
	respond_hdrs(c, code, ctype, NULL, body, head);
}

/* The same, with a handler's header lines (may be NULL). */
static void
respond_hdrs(struct http_conn *c, int code, const char *ctype,
	     struct evbuffer *hdrs, struct evbuffer *body, int head)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t           len = body != NULL ? evbuffer_get_length(body) : 0;

	c->answered = 1;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			    "Connection: close\r\n",
			    code, reason_phrase(code), ctype, len);
	if (hdrs != NULL)
		evbuffer_add_buffer(out, hdrs);
	evbuffer_add(out, "\r\n", 2);
	if (body != NULL && !head)
		evbuffer_add_buffer(out, body);
	bufferevent_setcb(c->bev, NULL, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	conn_free(arg); /* everything written */
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg); /* EOF or error: nothing more to say */
}
