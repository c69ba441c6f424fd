/*
 * floodgate - the XEP-0114 link over libstrophe, driven from libevent.
 *
 * libstrophe owns the socket and only makes progress inside
 * xmpp_run_once(): we learn the fd from the sockopt callback, run it when
 * the fd is readable (and writable while connecting or while the send
 * queue is not empty), and pump it from a timer so its connect and
 * handshake timeouts fire. Everything stays on the event thread.
 *
 * libstrophe 0.12.2 crashes in component mode: xmpp_connect_component()
 * never allocates conn->sm_state, and the first stanza after the handshake
 * dereferences it. We prime the conn with one xmpp_connect_client() call
 * that allocates sm_state and then fails on purpose (the sockopt callback
 * refuses the socket). Upstream fix: allocate sm_state in xmpp_conn_new()
 * or NULL-check it in _handle_stream_stanza(), _send_raw() and
 * conn_disconnect(); not yet reported upstream (no network here).
 */
#include <sys/select.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "link.h"

#define LINK_PUMP_MS 100          /* libstrophe timer pump period, ms */
#define LINK_BACKOFF_MIN_MS 1000  /* first retry after, ms */
#define LINK_BACKOFF_MAX_MS 60000 /* retries never wait longer, ms */
#define LINK_STABLE_MS 10000      /* up this long resets the back-off, ms */

struct comp_link {
	struct event_base *base;
	xmpp_ctx_t        *ctx;
	xmpp_conn_t       *conn;
	char              *jid;
	char              *server;
	int                port;
	int                fd;
	int                priming;
	int                stopping;
	int                started;
	unsigned           attempt; /* failed attempts since last stable up */
	uint64_t           up_since_ms;
	struct event      *ev_read;
	struct event      *ev_write;
	struct event      *ev_pump;
	struct event      *ev_retry;
	struct event      *ev_flush;
	comp_link_state_cb state_cb;
	void              *state_arg;
	struct link_stats  st;
};

static int  sockopt_cb(xmpp_conn_t *, void *);
static void conn_cb(xmpp_conn_t *, xmpp_conn_event_t, int,
		    xmpp_stream_error_t *, void *);
static int  count_in(xmpp_conn_t *, xmpp_stanza_t *, void *);
static void on_io(evutil_socket_t, short, void *);
static void on_pump(evutil_socket_t, short, void *);
static void on_retry(evutil_socket_t, short, void *);
static void on_flush(evutil_socket_t, short, void *);
static void drive(struct comp_link *);
static void watch_fd(struct comp_link *);
static void unwatch_fd(struct comp_link *);
static void schedule_retry(struct comp_link *);
static void strophe_log(void *, xmpp_log_level_t, const char *, const char *);
static uint64_t now_ms(void);

/* The sockopt callback gets no user data; one link per process. */
static struct comp_link *the_link;

static const xmpp_log_t strophe_logger = {strophe_log, NULL};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* libstrophe formats its messages before any filter, and at debug it
 * logs whole stanzas (bodies) and the handshake digest: keep it at warn
 * unless -vv, and escape what it says. */
static void
strophe_log(void *arg, xmpp_log_level_t level, const char *area,
	    const char *msg)
{
	char buf[LOG_ESC_MAX];

	if (level >= XMPP_LEVEL_WARN)
		log_warnx("libstrophe %s: %s", area,
			  log_esc(buf, sizeof buf, msg));
	else if (log_verbose >= 2)
		log_debug("libstrophe %s: %s", area,
			  log_esc(buf, sizeof buf, msg));
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
	l->jid = xstrdup(jid);
	l->server = xstrdup(server);
	l->port = port;
	l->ctx = xmpp_ctx_new(NULL, &strophe_logger);
	if (l->ctx == NULL)
		fatalx("xmpp_ctx_new failed");
	l->conn = xmpp_conn_new(l->ctx);
	if (l->conn == NULL)
		fatalx("xmpp_conn_new failed");
	xmpp_conn_set_jid(l->conn, jid);
	xmpp_conn_set_pass(l->conn, secret);
	xmpp_conn_set_sockopt_callback(l->conn, sockopt_cb);
	xmpp_handler_add(l->conn, count_in, NULL, NULL, NULL, l);
	the_link = l;
	l->ev_pump = event_new(base, -1, EV_PERSIST, on_pump, l);
	l->ev_retry = evtimer_new(base, on_retry, l);
	l->ev_flush = event_new(base, -1, 0, on_flush, l);

	/* The sm_state workaround, see the top of this file. */
	l->priming = 1;
	if (xmpp_connect_client(l->conn, "127.0.0.1", 1, NULL, NULL) ==
	    XMPP_EOK)
		fatalx("libstrophe priming connect unexpectedly succeeded");
	l->priming = 0;
	if (!xmpp_conn_is_disconnected(l->conn))
		fatalx("libstrophe priming left the connection open");
	return l;
}

void
comp_link_free(struct comp_link *l)
{
	if (l == NULL)
		return;
	unwatch_fd(l);
	event_free(l->ev_pump);
	event_free(l->ev_retry);
	event_free(l->ev_flush);
	xmpp_conn_release(l->conn);
	xmpp_ctx_free(l->ctx);
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

static int
sockopt_cb(xmpp_conn_t *conn, void *sock)
{
	struct comp_link *l = the_link;
	int               fd = *(int *)sock, one = 1;

	if (l == NULL || l->conn != conn)
		return -1;
	if (l->priming)
		return -1;
	/* run_once uses select(): an fd past FD_SETSIZE would corrupt it */
	if (fd >= FD_SETSIZE) {
		log_warnx("link: socket fd %d >= FD_SETSIZE, refusing", fd);
		return -1;
	}
	/* Gates are small request/answer stanzas: without TCP_NODELAY an
	 * answer can wait for the ACK of the previous one (Nagle), which
	 * is tens of ms of tail latency on a link that should take < 1 ms.
	 * Keepalive notices a server that vanished without a FIN. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == -1)
		log_warn("link: setsockopt");
	/* called once per address tried: the last one is the live one */
	unwatch_fd(l);
	l->fd = fd;
	watch_fd(l);
	return 0;
}

static void
watch_fd(struct comp_link *l)
{
	l->ev_read = event_new(l->base, l->fd, EV_READ | EV_PERSIST, on_io, l);
	l->ev_write = event_new(l->base, l->fd, EV_WRITE, on_io, l);
	event_add(l->ev_read, NULL);
	event_add(l->ev_write, NULL); /* connect completion */
}

static void
unwatch_fd(struct comp_link *l)
{
	if (l->ev_read != NULL) {
		event_free(l->ev_read);
		l->ev_read = NULL;
	}
	if (l->ev_write != NULL) {
		event_free(l->ev_write);
		l->ev_write = NULL;
	}
	l->fd = -1;
}

static int
count_in(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct comp_link *l = arg;

	l->st.stanzas_in++;
	return 1;
}

static void
drive(struct comp_link *l)
{
	xmpp_run_once(l->ctx, 0);
	/* replies queued by handlers leave on the following call */
	if (xmpp_conn_is_connected(l->conn) &&
	    xmpp_conn_send_queue_len(l->conn) > 0)
		xmpp_run_once(l->ctx, 0);
	if (l->ev_write != NULL && (xmpp_conn_is_connecting(l->conn) ||
				    (xmpp_conn_is_connected(l->conn) &&
				     xmpp_conn_send_queue_len(l->conn) > 0)))
		event_add(l->ev_write, NULL);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	drive(arg);
}

static void
on_pump(evutil_socket_t fd, short what, void *arg)
{
	drive(arg);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	drive(arg);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct comp_link *l = arg;
	int               r;

	if (l->stopping)
		return;
	if (l->started)
		l->st.reconnects++;
	l->started = 1;
	log_debug("link: connecting to %s:%d as %s", l->server, l->port,
		  l->jid);
	r = xmpp_connect_component(l->conn, l->server, (unsigned short)l->port,
				   conn_cb, l);
	if (r != XMPP_EOK) {
		log_warnx("link: cannot start connecting to %s:%d (%d)",
			  l->server, l->port, r);
		unwatch_fd(l);
		schedule_retry(l);
		return;
	}
	drive(l);
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

static const char *
stream_error_name(xmpp_error_type_t t)
{
	switch (t) {
	case XMPP_SE_NOT_AUTHORIZED:
		return "not-authorized (wrong secret?)";
	case XMPP_SE_HOST_UNKNOWN:
		return "host-unknown (no Component entry for this JID?)";
	case XMPP_SE_CONFLICT:
		return "conflict (another component has this JID)";
	case XMPP_SE_SYSTEM_SHUTDOWN:
		return "system-shutdown";
	case XMPP_SE_INVALID_FROM:
		return "invalid-from";
	default:
		return "stream error";
	}
}

static void
conn_cb(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
	xmpp_stream_error_t *se, void *arg)
{
	struct comp_link *l = arg;
	char              buf[LOG_ESC_MAX];
	int               was_up = l->st.up;

	if (ev == XMPP_CONN_CONNECT) {
		l->st.up = 1;
		l->st.connects++;
		l->up_since_ms = now_ms();
		log_info("link: connected to %s:%d as %s", l->server, l->port,
			 l->jid);
		if (l->state_cb != NULL)
			l->state_cb(l, 1, l->state_arg);
		return;
	}
	/* DISCONNECT or FAIL: libstrophe has closed the socket already */
	l->st.up = 0;
	unwatch_fd(l);
	if (was_up && now_ms() - l->up_since_ms >= LINK_STABLE_MS)
		l->attempt = 0;
	if (l->stopping) {
		log_info("link: closed");
		if (was_up && l->state_cb != NULL)
			l->state_cb(l, 0, l->state_arg);
		return;
	}
	if (se != NULL) {
		if (!was_up)
			l->st.handshake_fails++;
		log_warnx("link: %s:%d closed the stream%s: %s%s%s", l->server,
			  l->port, was_up ? "" : " during handshake",
			  stream_error_name(se->type), se->text ? ": " : "",
			  se->text ? log_esc(buf, sizeof buf, se->text) : "");
	} else if (was_up)
		log_warnx("link: connection to %s:%d lost%s%s", l->server,
			  l->port, error ? ": " : "",
			  error ? strerror(error) : "");
	else
		log_warnx("link: cannot connect to %s:%d%s%s", l->server,
			  l->port, error ? ": " : "",
			  error ? strerror(error) : "");
	if (was_up && l->state_cb != NULL)
		l->state_cb(l, 0, l->state_arg);
	schedule_retry(l);
}

void
comp_link_start(struct comp_link *l)
{
	struct timeval tv = {0, LINK_PUMP_MS * 1000};

	the_link = l;
	l->stopping = 0;
	event_add(l->ev_pump, &tv);
	on_retry(-1, 0, l);
}

void
comp_link_stop(struct comp_link *l)
{
	int i;

	l->stopping = 1;
	evtimer_del(l->ev_retry);
	if (xmpp_conn_is_connected(l->conn)) {
		/* flush what is queued, then close the stream */
		for (i = 0; i < 10 && xmpp_conn_send_queue_len(l->conn) > 0;
		     i++)
			xmpp_run_once(l->ctx, 10);
		xmpp_disconnect(l->conn);
		for (i = 0; i < 10 && !xmpp_conn_is_disconnected(l->conn); i++)
			xmpp_run_once(l->ctx, 10);
	}
	event_del(l->ev_pump);
	unwatch_fd(l);
}

int
comp_link_up(const struct comp_link *l)
{
	return l->st.up;
}

void
comp_link_send(struct comp_link *l, xmpp_stanza_t *st)
{
	if (!l->st.up)
		return;
	xmpp_send(l->conn, st);
	l->st.stanzas_out++;
	event_active(l->ev_flush, 0, 0);
}

xmpp_ctx_t *
comp_link_ctx(struct comp_link *l)
{
	return l->ctx;
}

xmpp_conn_t *
comp_link_conn(struct comp_link *l)
{
	return l->conn;
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
}
