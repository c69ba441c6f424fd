/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the alerts webhook (webhook.h).
 *
 * One body is in flight at a time, over a fresh connection (webhooks
 * are rare: a digest a minute at most), through libevent's evhttp client
 * on an OpenSSL bufferevent and an evdns resolver, so no step blocks
 * the loop the gates are answered on. The peer's certificate is checked
 * against the URL's host name (or IP address) and [alerts] ca-file or
 * the system's trust store. A failed POST is retried with doubling
 * back-off, then given up; a full queue drops its oldest body. Every
 * outcome is counted for /metrics.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "autoconf.h"
#include "webhook.h"

#define WH_QUEUE_MAX 64         /* bodies waiting; then the oldest goes */
#define WH_BODY_MAX 262144      /* bytes of one body */
#define WH_TRIES 6              /* attempts per body */
#define WH_BACKOFF_MS 1000      /* first retry after this, ms, doubled */
#define WH_BACKOFF_MAX_MS 60000 /* ms between retries, at most */
#define WH_TIMEOUT_S 10         /* connect, TLS, send and answer, s */
#define WH_HTTPS_PORT 443

struct wh_body {
	STAILQ_ENTRY(wh_body) entry;
	size_t len;
	char   data[];
};

struct webhook {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX           *ctx;
	char              *host;
	char              *hosthdr; /* host[:port] for Host: */
	char              *path;    /* path and query */
	int                port;
	int                is_ip;
	STAILQ_HEAD(, wh_body) q;
	size_t                    n;
	struct evhttp_connection *conn; /* the attempt in flight */
	/* the last attempt's connection, freed from the loop: libevent's
	 * free-on-completion misses failed connects, and a connection may
	 * not be freed from its own request's callback */
	struct evhttp_connection *dead;
	struct event             *reap;
	struct event             *retry;
	int                       tries; /* failed attempts of the head */
	int                       err;   /* enum evhttp_request_error + 1 */
	struct webhook_stats      st;
};

static void send_head(struct webhook *);
static void kick(struct webhook *);

static void
pop(struct webhook *w)
{
	struct wh_body *b = STAILQ_FIRST(&w->q);

	if (b == NULL)
		return;
	STAILQ_REMOVE_HEAD(&w->q, entry);
	free(b);
	w->n--;
	w->tries = 0;
}

static void
on_error(enum evhttp_request_error e, void *arg)
{
	struct webhook *w = arg;

	w->err = (int)e + 1;
}

static const char *
err_text(int err)
{
	switch (err - 1) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "bad answer";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection or TLS failed";
	default:
		return "no answer";
	}
}

/* The answer to the head's POST, or its failure (req NULL). */
static void
on_done(struct evhttp_request *req, void *arg)
{
	struct webhook *w = arg;
	int             code = req ? evhttp_request_get_response_code(req) : 0;
	long            delay;
	struct timeval  tv;

	if (w->dead != NULL) /* an older one, long done */
		evhttp_connection_free(w->dead);
	w->dead = w->conn;
	w->conn = NULL;
	if (w->dead != NULL)
		event_active(w->reap, EV_TIMEOUT, 0);
	if (code >= 200 && code < 300) {
		w->st.sent++;
		pop(w);
		kick(w);
		return;
	}
	if (code != 0)
		log_warnx("alerts: webhook %s answered %d", w->host, code);
	else
		log_warnx("alerts: webhook %s: %s", w->host, err_text(w->err));
	if (++w->tries >= WH_TRIES) {
		log_warnx("alerts: webhook: giving up on one body after %d "
			  "attempts",
			  WH_TRIES);
		w->st.failed++;
		pop(w);
		kick(w);
		return;
	}
	w->st.retries++;
	delay = (long)WH_BACKOFF_MS << (w->tries - 1);
	if (delay > WH_BACKOFF_MAX_MS)
		delay = WH_BACKOFF_MAX_MS;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(w->retry, &tv);
}

static void
on_reap(evutil_socket_t fd, short ev, void *arg)
{
	struct webhook *w = arg;

	(void)fd, (void)ev;
	if (w->dead != NULL)
		evhttp_connection_free(w->dead);
	w->dead = NULL;
}

static void
on_retry(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev;
	send_head(arg);
}

/* Start the next POST unless one is in flight or waiting to retry. */
static void
kick(struct webhook *w)
{
	if (w->conn == NULL && !evtimer_pending(w->retry, NULL) &&
	    !STAILQ_EMPTY(&w->q))
		send_head(w);
}

static void
send_head(struct webhook *w)
{
	struct wh_body           *b = STAILQ_FIRST(&w->q);
	struct evhttp_connection *conn = NULL;
	struct evhttp_request    *req;
	struct evkeyvalq         *h;
	struct bufferevent       *bev;
	SSL                      *ssl;
	char                      len[32];

	if (b == NULL || w->conn != NULL)
		return;
	w->err = 0;
	if ((ssl = SSL_new(w->ctx)) == NULL)
		goto fail;
	/* the name (or address) the certificate must be for */
	if (w->is_ip)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), w->host);
	else {
		SSL_set_tlsext_host_name(ssl, w->host);
		SSL_set1_host(ssl, w->host);
	}
	bev = bufferevent_openssl_socket_new(
	    w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn = evhttp_connection_base_bufferevent_new(
	    w->base, w->dns, bev, w->host, (unsigned short)w->port);
	if (conn == NULL) {
		bufferevent_free(bev);
		goto fail;
	}
	evhttp_connection_set_timeout(conn, WH_TIMEOUT_S);
	evhttp_connection_set_retries(conn, 0);
	req = evhttp_request_new(on_done, w);
	evhttp_request_set_error_cb(req, on_error);
	h = evhttp_request_get_output_headers(req);
	snprintf(len, sizeof len, "%zu", b->len);
	evhttp_add_header(h, "Host", w->hosthdr);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Content-Length", len);
	evhttp_add_header(h, "User-Agent", "floodgate/" PACKAGE_VERSION);
	evhttp_add_header(h, "Connection", "close");
	evbuffer_add(evhttp_request_get_output_buffer(req), b->data, b->len);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, w->path) == -1)
		goto fail; /* req was freed by evhttp_make_request */
	w->conn = conn;
	return;
fail:
	if (conn != NULL)
		evhttp_connection_free(conn);
	log_warnx("alerts: webhook: cannot start a request");
	on_done(NULL, w);
}

struct webhook *
comp_webhook_new(struct event_base *base, const char *url, const char *ca)
{
	struct webhook    *w = xcalloc(1, sizeof *w);
	struct evhttp_uri *u;
	const char        *scheme, *host, *path, *query;
	struct in6_addr    a6;
	unsigned char      a4[4];

	STAILQ_INIT(&w->q);
	w->base = base;
	if ((u = evhttp_uri_parse(url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(u)) == NULL ||
	    strcasecmp(scheme, "https") != 0 ||
	    (host = evhttp_uri_get_host(u)) == NULL || *host == '\0') {
		log_warnx("alerts: webhook is not an https://host/ URL");
		goto fail;
	}
	w->host = xstrdup(host);
	w->port =
	    evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : WH_HTTPS_PORT;
	if (w->port == WH_HTTPS_PORT)
		w->hosthdr = xstrdup(host);
	else
		xasprintf(&w->hosthdr, "%s:%d", host, w->port);
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	xasprintf(&w->path, "%s%s%s", path && *path ? path : "/",
		  query ? "?" : "", query ? query : "");
	w->is_ip = inet_pton(AF_INET, host, a4) == 1 ||
		   inet_pton(AF_INET6, host, &a6) == 1;
	if ((w->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(w->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, NULL);
	if (ca != NULL ? SSL_CTX_load_verify_locations(w->ctx, ca, NULL) != 1
		       : SSL_CTX_set_default_verify_paths(w->ctx) != 1) {
		log_warnx("alerts: webhook: cannot load trusted "
			  "certificates%s%s",
			  ca ? " from " : "", ca ? ca : "");
		goto fail;
	}
	w->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (w->dns == NULL) /* no resolv.conf: an IP address still works */
		w->dns = evdns_base_new(base, 0);
	w->retry = evtimer_new(base, on_retry, w);
	w->reap = event_new(base, -1, 0, on_reap, w);
	evhttp_uri_free(u);
	return w;
fail:
	if (u != NULL)
		evhttp_uri_free(u);
	comp_webhook_free(w);
	return NULL;
}

void
comp_webhook_free(struct webhook *w)
{
	if (w == NULL)
		return;
	if (w->conn != NULL)
		evhttp_connection_free(w->conn);
	if (w->dead != NULL)
		evhttp_connection_free(w->dead);
	while (!STAILQ_EMPTY(&w->q))
		pop(w);
	if (w->retry != NULL)
		event_free(w->retry);
	if (w->reap != NULL)
		event_free(w->reap);
	if (w->dns != NULL)
		evdns_base_free(w->dns, 0);
	if (w->ctx != NULL)
		SSL_CTX_free(w->ctx);
	free(w->host);
	free(w->hosthdr);
	free(w->path);
	free(w);
}

void
comp_webhook_post(struct webhook *w, const char *body, size_t len)
{
	struct wh_body *b;

	if (len > WH_BODY_MAX) {
		w->st.dropped++;
		return;
	}
	/* the oldest waiting goes, not the one in flight */
	if (w->n >= WH_QUEUE_MAX) {
		struct wh_body *old = STAILQ_FIRST(&w->q);

		if (w->conn != NULL || evtimer_pending(w->retry, NULL))
			old = STAILQ_NEXT(old, entry);
		if (old != NULL) {
			STAILQ_REMOVE(&w->q, old, wh_body, entry);
			free(old);
			w->n--;
			w->st.dropped++;
		}
	}
	b = xmalloc(sizeof *b + len + 1);
	b->len = len;
	memcpy(b->data, body, len);
	b->data[len] = '\0';
	STAILQ_INSERT_TAIL(&w->q, b, entry);
	w->n++;
	kick(w);
}

void
comp_webhook_stats(const struct webhook *w, struct webhook_stats *st)
{
	*st = w->st;
	st->queued = w->n;
}
