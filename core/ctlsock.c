/*
 * floodgate - control socket: a libevent listener on a UNIX socket.
 *
 * The file is created mode 0600 under a umask of 077, so only the
 * daemon's user (and root) can connect; the peer's uid is checked again
 * with SO_PEERCRED and named in the audit as "ctl:USER". A stale socket
 * left by a crash is replaced; a live one (another daemon answers) is
 * not.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "ctlsock.h"
#include "log.h"
#include "xmalloc.h"

#define CTL_LINE_MAX 4096 /* bytes of one request line */
#define CTL_TIMEOUT_S 5   /* to send the request line, seconds */
#define CTL_CONNS_MAX 16  /* connections at once */

struct ctl_conn {
	struct ctlsock     *cs;
	struct bufferevent *bev;
	char                actor[64];
	int                 answered;
	LIST_ENTRY(ctl_conn) entry;
};

struct ctlsock {
	struct event_base     *base;
	struct evconnlistener *lev;
	char                  *path;
	ctlsock_cb             cb;
	void                  *arg;
	size_t                 nconns;
	LIST_HEAD(, ctl_conn) conns;
};

static void conn_free(struct ctl_conn *);
static void on_read(struct bufferevent *, void *);
static void on_write(struct bufferevent *, void *);
static void on_event(struct bufferevent *, short, void *);
static void on_accept(struct evconnlistener *, evutil_socket_t,
		      struct sockaddr *, int, void *);

/* A listening socket at path, or -1 (logged). */
static int
open_socket(const char *path)
{
	struct sockaddr_un sun;
	struct stat        st;
	mode_t             old;
	int                fd, probe;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("control socket %s: path too long", path);
		return -1;
	}
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("control socket %s: exists and is not a "
				  "socket; not touching it",
				  path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
			close(probe);
			log_warnx("control socket %s: another daemon is "
				  "listening there",
				  path);
			return -1;
		}
		if (probe != -1)
			close(probe);
		unlink(path); /* stale, from a crash */
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0)) == -1) {
		log_warn("control socket: socket");
		return -1;
	}
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(old);
		log_warn("control socket %s: bind", path);
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0600) == -1 || listen(fd, CTL_CONNS_MAX) == -1) {
		log_warn("control socket %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static int
start(struct ctlsock *cs, const char *path)
{
	struct evconnlistener *lev;
	int                    fd;

	if ((fd = open_socket(path)) == -1)
		return -1;
	lev = evconnlistener_new(cs->base, on_accept, cs,
				 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				 -1, fd);
	if (lev == NULL) {
		log_warnx("control socket %s: listener failed", path);
		close(fd);
		unlink(path);
		return -1;
	}
	if (cs->lev != NULL) {
		evconnlistener_free(cs->lev);
		unlink(cs->path);
	}
	free(cs->path);
	cs->lev = lev;
	cs->path = xstrdup(path);
	log_info("control socket listening on %s", path);
	return 0;
}

struct ctlsock *
ctlsock_new(struct event_base *base, const char *path, ctlsock_cb cb, void *arg)
{
	struct ctlsock *cs = xcalloc(1, sizeof *cs);

	cs->base = base;
	cs->cb = cb;
	cs->arg = arg;
	LIST_INIT(&cs->conns);
	if (start(cs, path) == -1) {
		free(cs);
		return NULL;
	}
	return cs;
}

int
ctlsock_rebind(struct ctlsock *cs, const char *path)
{
	if (strcmp(cs->path, path) == 0)
		return 0;
	return start(cs, path);
}

const char *
ctlsock_path(const struct ctlsock *cs)
{
	return cs->path;
}

void
ctlsock_free(struct ctlsock *cs)
{
	if (cs == NULL)
		return;
	while (!LIST_EMPTY(&cs->conns))
		conn_free(LIST_FIRST(&cs->conns));
	evconnlistener_free(cs->lev);
	unlink(cs->path);
	free(cs->path);
	free(cs);
}

static void
conn_free(struct ctl_conn *cc)
{
	LIST_REMOVE(cc, entry);
	cc->cs->nconns--;
	bufferevent_free(cc->bev);
	free(cc);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	struct ctlsock  *cs = arg;
	struct ctl_conn *cc;
	struct ucred     cr;
	socklen_t        crlen = sizeof cr;
	struct passwd   *pw;
	struct timeval   tv = {CTL_TIMEOUT_S, 0};

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == -1 ||
	    (cr.uid != 0 && cr.uid != geteuid()) ||
	    cs->nconns >= CTL_CONNS_MAX) {
		log_warnx("control socket: refused a connection (uid %ld)",
			  crlen == sizeof cr ? (long)cr.uid : -1L);
		evutil_closesocket(fd);
		return;
	}
	cc = xcalloc(1, sizeof *cc);
	cc->cs = cs;
	if ((pw = getpwuid(cr.uid)) != NULL)
		snprintf(cc->actor, sizeof cc->actor, "ctl:%s", pw->pw_name);
	else
		snprintf(cc->actor, sizeof cc->actor, "ctl:uid%ld",
			 (long)cr.uid);
	cc->bev = bufferevent_socket_new(cs->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		evutil_closesocket(fd);
		free(cc);
		return;
	}
	LIST_INSERT_HEAD(&cs->conns, cc, entry);
	cs->nconns++;
	bufferevent_setcb(cc->bev, on_read, NULL, on_event, cc);
	bufferevent_set_timeouts(cc->bev, &tv, NULL);
	bufferevent_enable(cc->bev, EV_READ);
}

/* Answer line, or refuse an over-long one (NULL) in the protocol's
 * words (admin/control.h), then close once written. */
static void
answer(struct ctl_conn *cc, char *line)
{
	struct evbuffer *out = bufferevent_get_output(cc->bev);

	cc->answered = 1;
	bufferevent_disable(cc->bev, EV_READ);
	if (line == NULL)
		evbuffer_add_printf(out,
				    "400 request line too long (over %d "
				    "bytes)\n",
				    CTL_LINE_MAX);
	else
		cc->cs->cb(cc->actor, line, out, cc->cs->arg);
	bufferevent_setcb(cc->bev, NULL, on_write, on_event, cc);
	if (evbuffer_get_length(out) == 0)
		conn_free(cc);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char            *line;
	size_t           n;

	if (cc->answered)
		return;
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			answer(cc, NULL);
		return;
	}
	if (n > CTL_LINE_MAX || memchr(line, '\0', n) != NULL)
		answer(cc, NULL);
	else
		answer(cc, line);
	free(line);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	/* everything written: one request per connection */
	conn_free(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *cc = arg;

	if ((what & BEV_EVENT_TIMEOUT) && !cc->answered)
		log_debug("control socket: client sent no request in %d s",
			  CTL_TIMEOUT_S);
	conn_free(cc);
}
