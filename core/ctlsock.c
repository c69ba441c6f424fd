/* SPDX-License-Identifier: ISC */
/*
 * floodgate - control socket: a libevent listener on a UNIX socket.
 *
 * The file is mode 0660, owned by the daemon's user and by [control]
 * group when set, so that user, that group and root can connect; the
 * peer is checked again with SO_PEERCRED and named in the audit as
 * "ctl:USER". A stale socket left by a crash is replaced; a live one
 * (another daemon answers) is never unlinked, and is an error.
 *
 * Every connection is read without blocking and has CTL_DEADLINE_S from
 * its accept to send its line and read the answer. At CTL_CONNS_MAX a
 * new connection closes the oldest that has not sent a whole line: slow
 * or idle clients cannot keep floodgatectl out.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
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

#define CTL_LINE_MAX 4096        /* bytes of one request line */
#define CTL_DEADLINE_S 10        /* from accept to answer written, seconds */
#define CTL_CONNS_MAX 16         /* connections at once */
#define CTL_BACKLOG 64           /* listen() backlog, connections */
#define CTL_ACCEPT_PAUSE_MS 1000 /* after accept() fails (EMFILE), ms */
#define CTL_GROUPS_MAX 256       /* groups of a peer we look through */

struct ctl_conn {
	struct ctlsock     *cs;
	struct bufferevent *bev;
	struct event       *deadline;
	char                actor[64];
	int                 answered;
	TAILQ_ENTRY(ctl_conn) entry;
};

struct ctlsock {
	struct event_base     *base;
	struct evconnlistener *lev;
	struct event          *resume; /* accepting again after a failure */
	char                  *path;
	dev_t                  dev; /* of our socket file, to notice it gone */
	ino_t                  ino;
	gid_t                  gid; /* group allowed besides our user */
	ctlsock_cb             cb;
	void                  *arg;
	size_t                 nconns;
	TAILQ_HEAD(, ctl_conn) conns; /* oldest first */
};

static void             conn_free(struct ctl_conn *);
static void             on_read(struct bufferevent *, void *);
static void             on_write(struct bufferevent *, void *);
static void             on_event(struct bufferevent *, short, void *);
static void             on_accept(struct evconnlistener *, evutil_socket_t,
				  struct sockaddr *, int, void *);
static void             on_deadline(evutil_socket_t, short, void *);
static struct ctl_conn *pick_victim(struct ctlsock *);
static void             on_accept_error(struct evconnlistener *, void *);
static void             on_resume(evutil_socket_t, short, void *);
static int peer_allowed(const struct ctlsock *, const struct ucred *,
			const struct passwd *);

/* A listening socket at path, or -1 (logged). A socket another daemon
 * answers on is refused, never unlinked; a dead one is replaced. */
static int
open_socket(const char *path, gid_t gid)
{
	struct sockaddr_un sun;
	struct stat        st;
	mode_t             old;
	int                fd, probe, live;

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
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1) {
			log_warn("control socket: socket");
			return -1;
		}
		live =
		    connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0 ||
		    (errno != ECONNREFUSED && errno != ENOENT);
		close(probe);
		if (live) {
			log_warnx("control socket %s is in use by another "
				  "floodgated",
				  path);
			return -1;
		}
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
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) == -1) ||
	    chmod(path, 0660) == -1 || listen(fd, CTL_BACKLOG) == -1) {
		log_warn("control socket %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* Our socket file still there (not removed or replaced under us)? */
static int
still_ours(const struct ctlsock *cs)
{
	struct stat st;

	return cs->lev != NULL && lstat(cs->path, &st) == 0 &&
	       st.st_dev == cs->dev && st.st_ino == cs->ino;
}

static int
start(struct ctlsock *cs, const char *path)
{
	struct evconnlistener *lev;
	struct stat            st;
	int                    fd;

	if ((fd = open_socket(path, cs->gid)) == -1)
		return -1;
	lev = evconnlistener_new(cs->base, on_accept, cs,
				 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				 -1, fd);
	if (lev == NULL || lstat(path, &st) == -1) {
		log_warnx("control socket %s: listener failed", path);
		if (lev != NULL)
			evconnlistener_free(lev);
		else
			close(fd);
		unlink(path);
		return -1;
	}
	evconnlistener_set_error_cb(lev, on_accept_error);
	if (cs->lev != NULL) {
		evconnlistener_free(cs->lev);
		if (still_ours(cs) && strcmp(cs->path, path) != 0)
			unlink(cs->path);
	}
	free(cs->path);
	cs->lev = lev;
	cs->path = xstrdup(path);
	cs->dev = st.st_dev;
	cs->ino = st.st_ino;
	log_info("control socket listening on %s", path);
	return 0;
}

/* (gid_t)-1 for none; -1 (logged) for an unknown group. */
static int
lookup_group(const char *group, gid_t *gid)
{
	struct group *gr;

	*gid = (gid_t)-1;
	if (group == NULL)
		return 0;
	if ((gr = getgrnam(group)) == NULL) {
		log_warnx("control socket: unknown group '%s'", group);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

struct ctlsock *
ctlsock_new(struct event_base *base, const char *path, const char *group,
	    ctlsock_cb cb, void *arg)
{
	struct ctlsock *cs = xcalloc(1, sizeof *cs);

	cs->base = base;
	cs->cb = cb;
	cs->arg = arg;
	TAILQ_INIT(&cs->conns);
	if ((cs->resume = evtimer_new(base, on_resume, cs)) == NULL)
		fatalx("control socket: out of memory");
	if (lookup_group(group, &cs->gid) == -1 || start(cs, path) == -1) {
		event_free(cs->resume);
		free(cs);
		return NULL;
	}
	return cs;
}

int
ctlsock_rebind(struct ctlsock *cs, const char *path, const char *group)
{
	gid_t gid;

	if (lookup_group(group, &gid) == -1)
		return -1;
	if (strcmp(cs->path, path) == 0 && gid == cs->gid && still_ours(cs))
		return 0;
	if (strcmp(cs->path, path) == 0 && still_ours(cs)) {
		/* same socket, new group: no need to rebind */
		if (chown(path, (uid_t)-1, gid) == -1) {
			log_warn("control socket %s: chown", path);
			return -1;
		}
		cs->gid = gid;
		return 0;
	}
	cs->gid = gid;
	if (strcmp(cs->path, path) == 0 && cs->lev != NULL) {
		/* the file went away under us: listen anew */
		evconnlistener_free(cs->lev);
		cs->lev = NULL;
	}
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
	while (!TAILQ_EMPTY(&cs->conns))
		conn_free(TAILQ_FIRST(&cs->conns));
	if (still_ours(cs))
		unlink(cs->path);
	if (cs->lev != NULL)
		evconnlistener_free(cs->lev);
	event_free(cs->resume);
	free(cs->path);
	free(cs);
}

static void
conn_free(struct ctl_conn *cc)
{
	TAILQ_REMOVE(&cc->cs->conns, cc, entry);
	cc->cs->nconns--;
	event_free(cc->deadline);
	bufferevent_free(cc->bev);
	free(cc);
}

/* Root, our own user, or a member of the socket's group. The file mode
 * already says so; this keeps it true if the file is chmod'ed. */
static int
peer_allowed(const struct ctlsock *cs, const struct ucred *cr,
	     const struct passwd *pw)
{
	gid_t groups[CTL_GROUPS_MAX];
	int   n = CTL_GROUPS_MAX, i;

	if (cr->uid == 0 || cr->uid == geteuid())
		return 1;
	if (cs->gid == (gid_t)-1)
		return cr->gid == getegid();
	if (cr->gid == cs->gid)
		return 1;
	if (pw == NULL || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == cs->gid)
			return 1;
	return 0;
}

/* The oldest connection with no complete line yet, not even in bytes the
 * loop has still to read: idle and slow clients close each other, not a
 * floodgatectl that has spoken. */
static struct ctl_conn *
pick_victim(struct ctlsock *cs)
{
	struct ctl_conn *cc;
	char             b[CTL_LINE_MAX];
	ssize_t          n;

	TAILQ_FOREACH(cc, &cs->conns, entry)
	{
		if (cc->answered)
			continue;
		n = recv(bufferevent_getfd(cc->bev), b, sizeof b,
			 MSG_PEEK | MSG_DONTWAIT);
		if (n <= 0 || memchr(b, '\n', (size_t)n) == NULL)
			return cc;
	}
	return TAILQ_FIRST(&cs->conns);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	struct ctlsock  *cs = arg;
	struct ctl_conn *cc;
	struct ucred     cr;
	socklen_t        crlen = sizeof cr;
	struct passwd   *pw = NULL;
	struct timeval   tv = {CTL_DEADLINE_S, 0};

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == -1 ||
	    !peer_allowed(cs, &cr, pw = getpwuid(cr.uid))) {
		log_warnx("control socket: refused a connection (uid %ld)",
			  crlen == sizeof cr ? (long)cr.uid : -1L);
		evutil_closesocket(fd);
		return;
	}
	if (cs->nconns >= CTL_CONNS_MAX) {
		log_warnx("control socket: %d connections open, closing an "
			  "idle one",
			  CTL_CONNS_MAX);
		conn_free(pick_victim(cs));
	}
	cc = xcalloc(1, sizeof *cc);
	cc->cs = cs;
	if (pw != NULL)
		snprintf(cc->actor, sizeof cc->actor, "ctl:%s", pw->pw_name);
	else
		snprintf(cc->actor, sizeof cc->actor, "ctl:uid%ld",
			 (long)cr.uid);
	cc->bev = bufferevent_socket_new(cs->base, fd, BEV_OPT_CLOSE_ON_FREE);
	cc->deadline = evtimer_new(cs->base, on_deadline, cc);
	if (cc->bev == NULL || cc->deadline == NULL)
		fatalx("control socket: out of memory for a connection");
	TAILQ_INSERT_TAIL(&cs->conns, cc, entry);
	cs->nconns++;
	bufferevent_setcb(cc->bev, on_read, NULL, on_event, cc);
	bufferevent_enable(cc->bev, EV_READ);
	evtimer_add(cc->deadline, &tv);
}

/* Out of fds (or memory): libevent would retry the ready listener in a
 * tight loop, so pause it. */
static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct ctlsock *cs = arg;
	struct timeval  tv = {CTL_ACCEPT_PAUSE_MS / 1000,
			      (CTL_ACCEPT_PAUSE_MS % 1000) * 1000};

	log_warn("control socket: accept (pausing %d ms)", CTL_ACCEPT_PAUSE_MS);
	evconnlistener_disable(lev);
	evtimer_add(cs->resume, &tv);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct ctlsock *cs = arg;

	if (cs->lev != NULL)
		evconnlistener_enable(cs->lev);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *cc = arg;

	log_debug("control socket: client %s within %d s, closing",
		  cc->answered ? "did not read the answer" : "sent no request",
		  CTL_DEADLINE_S);
	conn_free(cc);
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
	conn_free(arg); /* EOF or error */
}
