/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the XEP-0114 link: a non-blocking socket on libevent (epoll,
 * so any fd number works), the component handshake, and the bounded
 * parser of xmlstream.c. Anything wrong on the wire (bad XML, a stanza
 * over the size limit, a peer that stops reading for too long) closes the
 * socket at once, reports the link down, and reconnects with back-off;
 * the modules resync from the full verdict set on the next up.
 */
#include <sys/socket.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "../core/log.h"
#include "../core/utf8.h"
#include "../core/xmalloc.h"
#include "link.h"

#define LINK_BACKOFF_MIN_MS 1000   /* first retry after, ms */
#define LINK_BACKOFF_MAX_MS 60000  /* retries never wait longer, ms */
#define LINK_STABLE_MS 10000       /* up this long resets the back-off, ms */
#define LINK_OPEN_TIMEOUT_MS 10000 /* connect + handshake, ms */
#define LINK_READ_CHUNK 65536      /* bytes read per readable event */

enum lstate { L_IDLE, L_CONNECTING, L_OPENING, L_UP };

struct comp_link {
	struct event_base  *base;
	xmpp_ctx_t         *ctx;
	char               *jid;
	char               *secret;
	char               *server;
	int                 port;
	int                 fd;
	int                 spare_fd; /* held so the link always gets one */
	enum lstate         state;
	int                 stopping;
	int                 started;
	int                 in_feed;
	int                 down_pending;
	unsigned            attempt; /* failed attempts since last stable up */
	uint64_t            up_since_ms;
	size_t              max_stanza;
	unsigned            max_depth;
	struct xmls        *xs;
	struct evbuffer    *out;
	struct event       *ev_read;
	struct event       *ev_write;
	struct event       *ev_retry;
	struct event       *ev_timeout;
	comp_link_state_cb  state_cb;
	void               *state_arg;
	comp_link_stanza_cb stanza_cb;
	void               *stanza_arg;
	struct link_stats   st;
	char                rbuf[LINK_READ_CHUNK];
};

static void on_read(evutil_socket_t, short, void *);
static void on_write(evutil_socket_t, short, void *);
static void on_connected(evutil_socket_t, short, void *);
static void on_retry(evutil_socket_t, short, void *);
static void on_timeout(evutil_socket_t, short, void *);
static void x_open(void *, const char *);
static void x_stanza(void *, xmpp_stanza_t *);
static void x_refused(void *, xmpp_stanza_t *, enum xmls_refusal);
static void x_close(void *);
static void lost(struct comp_link *, const char *, const char *);
static void go_down(struct comp_link *);
static void send_raw(struct comp_link *, const char *, size_t);
static void schedule_retry(struct comp_link *);

static const struct xmls_cbs link_xcbs = {x_open, x_stanza, x_refused, x_close};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t
comp_link_backoff_ms(unsigned n, double r)
{
	uint64_t d = LINK_BACKOFF_MIN_MS;

	while (n-- > 0 && d < LINK_BACKOFF_MAX_MS)
		d *= 2;
	if (d > LINK_BACKOFF_MAX_MS)
		d = LINK_BACKOFF_MAX_MS;
	/* "equal jitter": never below half, spreads reconnect storms */
	return (uint32_t)(d / 2 + (uint64_t)(r * (double)(d / 2)));
}

struct comp_link *
comp_link_new(struct event_base *base, const char *jid, const char *secret,
	      const char *server, int port)
{
	struct comp_link *l = xcalloc(1, sizeof *l);

	l->base = base;
	l->fd = -1;
	l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	l->jid = xstrdup(jid);
	l->secret = xstrdup(secret);
	l->server = xstrdup(server);
	l->port = port;
	l->max_stanza = XMLS_DEF_MAX_STANZA;
	l->max_depth = XMLS_DEF_MAX_DEPTH;
	/* stanzas only: no connection, no parser, no logger of libstrophe */
	if ((l->ctx = xmpp_ctx_new(NULL, NULL)) == NULL)
		fatalx("xmpp_ctx_new failed");
	l->out = evbuffer_new();
	l->ev_retry = evtimer_new(base, on_retry, l);
	l->ev_timeout = evtimer_new(base, on_timeout, l);
	return l;
}

static void
close_fd(struct comp_link *l)
{
	if (l->ev_read != NULL)
		event_free(l->ev_read);
	if (l->ev_write != NULL)
		event_free(l->ev_write);
	l->ev_read = l->ev_write = NULL;
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (l->spare_fd == -1)
		l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	xmls_free(l->xs);
	l->xs = NULL;
	evbuffer_drain(l->out, evbuffer_get_length(l->out));
	evtimer_del(l->ev_timeout);
	l->st.paused = 0;
	l->state = L_IDLE;
}

void
comp_link_free(struct comp_link *l)
{
	if (l == NULL)
		return;
	/* no callbacks from here: their owner is being torn down */
	l->state_cb = NULL;
	l->stanza_cb = NULL;
	close_fd(l);
	if (l->spare_fd != -1)
		close(l->spare_fd);
	event_free(l->ev_retry);
	event_free(l->ev_timeout);
	evbuffer_free(l->out);
	xmpp_ctx_free(l->ctx);
	explicit_bzero(l->secret, strlen(l->secret));
	free(l->secret);
	free(l->jid);
	free(l->server);
	free(l);
}

void
comp_link_set_state_cb(struct comp_link *l, comp_link_state_cb cb, void *arg)
{
	l->state_cb = cb;
	l->state_arg = arg;
}

void
comp_link_set_stanza_cb(struct comp_link *l, comp_link_stanza_cb cb, void *arg)
{
	l->stanza_cb = cb;
	l->stanza_arg = arg;
}

void
comp_link_set_limits(struct comp_link *l, size_t max_stanza, unsigned depth)
{
	l->max_stanza = max_stanza;
	l->max_depth = depth;
}

static int
open_socket(struct comp_link *l, int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	/* out of fds: the link matters more than one more HTTP client */
	if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
	    l->spare_fd != -1) {
		close(l->spare_fd);
		l->spare_fd = -1;
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
	}
	return fd;
}

static int
start_connect(struct comp_link *l)
{
	struct addrinfo hints, *ai = NULL;
	struct timeval  tv = {LINK_OPEN_TIMEOUT_MS / 1000,
			      (LINK_OPEN_TIMEOUT_MS % 1000) * 1000};
	char            port[16];
	int             one = 1, r;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", l->port);
	if ((r = getaddrinfo(l->server, port, &hints, &ai)) != 0) {
		log_warnx("link: cannot resolve %s: %s", l->server,
			  gai_strerror(r));
		return -1;
	}
	if ((l->fd = open_socket(l, ai->ai_family)) == -1) {
		log_warn("link: socket");
		freeaddrinfo(ai);
		return -1;
	}
	/* Gates are small request/answer stanzas: without TCP_NODELAY an
	 * answer can wait for the ACK of the previous one (Nagle), which
	 * is tens of ms of tail latency on a link that should take < 1 ms.
	 * Keepalive notices a server that vanished without a FIN. */
	if (setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ==
		-1 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == -1)
		log_warn("link: setsockopt");
	r = connect(l->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r == -1 && errno != EINPROGRESS) {
		log_warnx("link: cannot connect to %s:%d: %s", l->server,
			  l->port, strerror(errno));
		close_fd(l);
		return -1;
	}
	l->state = L_CONNECTING;
	l->ev_write = event_new(l->base, l->fd, EV_WRITE, on_connected, l);
	event_add(l->ev_write, NULL);
	evtimer_add(l->ev_timeout, &tv);
	return 0;
}

/* The attribute value of a configured JID, escaped for the header. */
static void
send_header(struct comp_link *l)
{
	const char *p;

	evbuffer_add_printf(l->out,
			    "<?xml version='1.0'?><stream:stream "
			    "xmlns='jabber:component:accept' "
			    "xmlns:stream='%s' to='",
			    XMLS_NS_STREAMS);
	for (p = l->jid; *p != '\0'; p++) {
		if (*p == '&')
			evbuffer_add(l->out, "&amp;", 5);
		else if (*p == '<')
			evbuffer_add(l->out, "&lt;", 4);
		else if (*p == '\'')
			evbuffer_add(l->out, "&apos;", 6);
		else
			evbuffer_add(l->out, p, 1);
	}
	evbuffer_add(l->out, "'>", 2);
}

static void
on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct comp_link *l = arg;
	int               err = 0;
	socklen_t         sl = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
		err = errno;
	if (err != 0) {
		log_warnx("link: cannot connect to %s:%d: %s", l->server,
			  l->port, strerror(err));
		close_fd(l);
		schedule_retry(l);
		return;
	}
	event_free(l->ev_write);
	l->ev_write = event_new(l->base, fd, EV_WRITE, on_write, l);
	l->ev_read = event_new(l->base, fd, EV_READ | EV_PERSIST, on_read, l);
	event_add(l->ev_read, NULL);
	l->xs = xmls_new(l->ctx, l->max_stanza, l->max_depth, &link_xcbs, l);
	l->state = L_OPENING;
	send_header(l);
	event_add(l->ev_write, NULL);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	lost(arg, "no handshake within the timeout", NULL);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct comp_link *l = arg;

	if (l->stopping)
		return;
	if (l->started)
		l->st.reconnects++;
	l->started = 1;
	log_debug("link: connecting to %s:%d as %s", l->server, l->port,
		  l->jid);
	if (start_connect(l) == -1)
		schedule_retry(l);
}

static void
schedule_retry(struct comp_link *l)
{
	struct timeval tv;
	uint32_t       ms;

	if (l->stopping)
		return;
	ms = comp_link_backoff_ms(l->attempt, (double)random() / 2147483648.0);
	if (l->attempt < 16)
		l->attempt++;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	log_debug("link: next attempt in %u ms", ms);
	evtimer_add(l->ev_retry, &tv);
}

/* Close now (or right after the parser returns), report down, retry. */
static void
go_down(struct comp_link *l)
{
	int was_up = l->state == L_UP;

	if (l->in_feed) {
		l->down_pending = 1;
		xmls_stop(l->xs);
		return;
	}
	l->down_pending = 0;
	if (was_up && now_ms() - l->up_since_ms >= LINK_STABLE_MS)
		l->attempt = 0;
	close_fd(l);
	l->st.up = 0;
	if (was_up && l->state_cb != NULL)
		l->state_cb(l, 0, l->state_arg);
	schedule_retry(l);
}

static void
lost(struct comp_link *l, const char *what, const char *detail)
{
	char buf[LOG_ESC_MAX];

	if (l->down_pending)
		return;
	log_warnx("link: %s:%d: %s%s%s", l->server, l->port, what,
		  detail != NULL ? ": " : "",
		  detail != NULL ? log_esc(buf, sizeof buf, detail) : "");
	go_down(l);
}

/* We close the stream on bad input: say why, then hang up. */
static void
stream_error(struct comp_link *l, const char *cond, const char *why)
{
	l->st.stream_errors++;
	evbuffer_add_printf(l->out,
			    "<stream:error><%s xmlns='%s'/></stream:error>"
			    "</stream:stream>",
			    cond, XMLS_NS_STREAM_ERR);
	evbuffer_write(l->out, l->fd); /* best effort, never waits */
	log_warnx("link: %s:%d: closing the stream with %s: %s", l->server,
		  l->port, cond, why);
	go_down(l);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct comp_link *l = arg;
	const char       *cond, *why;
	ssize_t           n;
	int               r;

	n = read(fd, l->rbuf, sizeof l->rbuf);
	if (n == 0) {
		lost(l, "connection closed", NULL);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			lost(l, "connection lost", strerror(errno));
		return;
	}
	l->in_feed = 1;
	r = xmls_feed(l->xs, l->rbuf, (size_t)n);
	l->in_feed = 0;
	if (l->down_pending)
		go_down(l);
	else if (r == -1 && (cond = xmls_error(l->xs, &why)) != NULL)
		stream_error(l, cond, why);
}

static void
pause_read(struct comp_link *l, int pause)
{
	if (l->st.paused == pause || l->ev_read == NULL)
		return;
	l->st.paused = pause;
	if (pause)
		event_del(l->ev_read);
	else
		event_add(l->ev_read, NULL);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct comp_link *l = arg;

	if (evbuffer_write(l->out, fd) == -1 && errno != EAGAIN &&
	    errno != EINTR) {
		lost(l, "connection lost", strerror(errno));
		return;
	}
	if (evbuffer_get_length(l->out) > 0)
		event_add(l->ev_write, NULL);
	if (evbuffer_get_length(l->out) < LINK_OUT_LOW)
		pause_read(l, 0);
}

static void
send_raw(struct comp_link *l, const char *s, size_t len)
{
	char  *fixed;
	size_t flen;

	/* the last line of defence: one bad byte would make the server
	 * drop the whole stream */
	if ((fixed = utf8_repair_n(s, len, &flen)) != NULL) {
		evbuffer_add(l->out, fixed, flen);
		free(fixed);
	} else
		evbuffer_add(l->out, s, len);
	if (evbuffer_get_length(l->out) > LINK_OUT_MAX) {
		l->st.out_overflows++;
		lost(l, "the server stopped reading, output queue full", NULL);
		return;
	}
	if (evbuffer_get_length(l->out) > LINK_OUT_HIGH)
		pause_read(l, 1);
	event_add(l->ev_write, NULL);
}

static void
x_open(void *arg, const char *id)
{
	struct comp_link *l = arg;
	unsigned char     md[EVP_MAX_MD_SIZE];
	unsigned int      mdlen = 0, i;
	EVP_MD_CTX       *mc;
	char              hex[2 * EVP_MAX_MD_SIZE + 1];

	if (l->state != L_OPENING || id == NULL) {
		lost(l, "stream header without an id", NULL);
		return;
	}
	mc = EVP_MD_CTX_new();
	if (mc == NULL || !EVP_DigestInit_ex(mc, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(mc, id, strlen(id)) ||
	    !EVP_DigestUpdate(mc, l->secret, strlen(l->secret)) ||
	    !EVP_DigestFinal_ex(mc, md, &mdlen))
		fatalx("link: SHA-1 failed");
	EVP_MD_CTX_free(mc);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	evbuffer_add_printf(l->out, "<handshake>%s</handshake>", hex);
	event_add(l->ev_write, NULL);
}

static const char *
stream_error_name(const char *cond)
{
	if (strcmp(cond, "not-authorized") == 0)
		return "not-authorized (wrong secret?)";
	if (strcmp(cond, "host-unknown") == 0)
		return "host-unknown (no Component entry for this JID?)";
	if (strcmp(cond, "conflict") == 0)
		return "conflict (another component has this JID)";
	return cond;
}

static void
peer_stream_error(struct comp_link *l, xmpp_stanza_t *err)
{
	xmpp_stanza_t *c = xmpp_stanza_get_children(err);
	const char    *cond = "stream error";
	char          *text = NULL;
	char           what[160];

	for (; c != NULL; c = xmpp_stanza_get_next(c)) {
		if (xmpp_stanza_is_text(c))
			continue;
		if (strcmp(xmpp_stanza_get_name(c), "text") == 0)
			text = xmpp_stanza_get_text(c);
		else if (strcmp(cond, "stream error") == 0)
			cond = xmpp_stanza_get_name(c);
	}
	if (l->state != L_UP)
		l->st.handshake_fails++;
	snprintf(what, sizeof what, "closed the stream%s: %s",
		 l->state == L_UP ? "" : " during handshake",
		 stream_error_name(cond));
	lost(l, what, text);
	if (text != NULL)
		xmpp_free(l->ctx, text);
}

static void
x_stanza(void *arg, xmpp_stanza_t *st)
{
	struct comp_link *l = arg;
	const char       *name = xmpp_stanza_get_name(st);
	const char       *ns = xmpp_stanza_get_ns(st);

	if (l->down_pending)
		return;
	if (strcmp(name, "error") == 0 && ns != NULL &&
	    strcmp(ns, XMLS_NS_STREAMS) == 0) {
		peer_stream_error(l, st);
		return;
	}
	if (l->state == L_OPENING) {
		if (strcmp(name, "handshake") != 0)
			return;
		evtimer_del(l->ev_timeout);
		l->state = L_UP;
		l->st.up = 1;
		l->st.connects++;
		l->up_since_ms = now_ms();
		log_info("link: connected to %s:%d as %s", l->server, l->port,
			 l->jid);
		if (l->state_cb != NULL)
			l->state_cb(l, 1, l->state_arg);
		return;
	}
	l->st.stanzas_in++;
	if (l->stanza_cb != NULL)
		l->stanza_cb(l, st, l->stanza_arg);
}

/* A stanza over a structural limit: count it, and answer a request so
 * its sender does not wait (no payload echoed). */
static void
x_refused(void *arg, xmpp_stanza_t *shell, enum xmls_refusal why)
{
	struct comp_link *l = arg;
	const char       *name = xmpp_stanza_get_name(shell);
	const char       *type = xmpp_stanza_get_type(shell);
	const char       *id = xmpp_stanza_get_id(shell);
	const char       *from = xmpp_stanza_get_from(shell);
	const char       *to = xmpp_stanza_get_to(shell);
	xmpp_stanza_t    *r, *e, *c;

	l->st.refused[why]++;
	log_debug("link: dropped a <%s/> over the %s limit", name,
		  xmls_refusal_name(why));
	if (l->state != L_UP || id == NULL || from == NULL || to == NULL)
		return;
	if (!(strcmp(name, "iq") == 0 && type != NULL &&
	      (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) &&
	    !(strcmp(name, "message") == 0 &&
	      (type == NULL || strcmp(type, "error") != 0)))
		return;
	r = xmpp_stanza_new(l->ctx);
	xmpp_stanza_set_name(r, name);
	xmpp_stanza_set_type(r, "error");
	xmpp_stanza_set_id(r, id);
	xmpp_stanza_set_from(r, to);
	xmpp_stanza_set_to(r, from);
	e = xmpp_stanza_new(l->ctx);
	xmpp_stanza_set_name(e, "error");
	xmpp_stanza_set_type(e, "modify");
	c = xmpp_stanza_new(l->ctx);
	xmpp_stanza_set_name(c, "policy-violation");
	xmpp_stanza_set_ns(c, "urn:ietf:params:xml:ns:xmpp-stanzas");
	xmpp_stanza_add_child_ex(e, c, 0);
	xmpp_stanza_add_child_ex(r, e, 0);
	comp_link_send(l, r);
	xmpp_stanza_release(r);
}

static void
x_close(void *arg)
{
	lost(arg, "the server closed the stream", NULL);
}

void
comp_link_start(struct comp_link *l)
{
	l->stopping = 0;
	on_retry(-1, 0, l);
}

void
comp_link_stop(struct comp_link *l)
{
	int was_up = l->state == L_UP;

	l->stopping = 1;
	evtimer_del(l->ev_retry);
	if (l->fd != -1 && l->state >= L_OPENING) {
		/* flush what the socket takes now; never wait for the peer */
		evbuffer_add_printf(l->out, "</stream:stream>");
		evbuffer_write(l->out, l->fd);
	}
	close_fd(l);
	l->st.up = 0;
	if (was_up) {
		log_info("link: closed");
		if (l->state_cb != NULL)
			l->state_cb(l, 0, l->state_arg);
	}
}

int
comp_link_up(const struct comp_link *l)
{
	return l->st.up;
}

void
comp_link_send(struct comp_link *l, xmpp_stanza_t *st)
{
	char  *buf;
	size_t len;

	if (l->state != L_UP || l->down_pending)
		return;
	if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK) {
		log_warnx("link: cannot serialise a stanza");
		return;
	}
	l->st.stanzas_out++;
	send_raw(l, buf, len);
	xmpp_free(l->ctx, buf);
}

xmpp_ctx_t *
comp_link_ctx(struct comp_link *l)
{
	return l->ctx;
}

const char *
comp_link_jid(const struct comp_link *l)
{
	return l->jid;
}

void
comp_link_get_stats(const struct comp_link *l, struct link_stats *st)
{
	*st = l->st;
	st->out_queued = evbuffer_get_length(l->out);
}
