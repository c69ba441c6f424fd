/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: the XEP-0114 link state machine, driven by a scripted peer
 * on loopback inside the test's own event loop (no XMPP server needed):
 * back-off arithmetic, retries while nothing listens, the handshake, the
 * first stanza after it, a refused handshake, and the hostile-input
 * items: output repaired to valid UTF-8 (invalid UTF-8), a socket past
 * FD_SETSIZE and with every fd taken (file descriptors), a bounded output queue
 * with back-pressure when the server stops reading (bounded output).
 */
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "component/link.h"
#include "component/xmlstream.h"
#include "core/utf8.h"
#include "core/log.h"

START_TEST(backoff)
{
	ck_assert_uint_eq(comp_link_backoff_ms(0, 0.0), 500);
	ck_assert_uint_eq(comp_link_backoff_ms(0, 0.999), 999);
	ck_assert_uint_eq(comp_link_backoff_ms(1, 0.0), 1000);
	ck_assert_uint_eq(comp_link_backoff_ms(5, 0.0), 16000);
	ck_assert_uint_le(comp_link_backoff_ms(40, 0.999), 60000);
	ck_assert_uint_ge(comp_link_backoff_ms(40, 0.0), 30000);
}
END_TEST

struct peer {
	struct event_base *base;
	int                lfd, cfd;
	int                mode; /* 0 accept handshake, 1 refuse it, 2 then
				    stop reading */
	int           got_handshake;
	int           got_pong;
	struct event *ev_accept, *ev_read;
	char          buf[8192];
	size_t        len;
	int           ups, downs;
};

static int
listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t          sl = sizeof sa;
	int                fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
say(struct peer *p, const char *s)
{
	ck_assert_int_eq(write(p->cfd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
on_peer_read(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	ssize_t      n;

	if (p->len + 1 >= sizeof p->buf) /* keep the tail only */
		p->len = 0;
	n = read(fd, p->buf + p->len, sizeof p->buf - 1 - p->len);

	if (n <= 0) {
		event_del(p->ev_read);
		return;
	}
	p->len += (size_t)n;
	p->buf[p->len] = '\0';
	if (!p->got_handshake && strstr(p->buf, "</handshake>")) {
		p->got_handshake = 1;
		if (p->mode == 1) {
			say(p, "<stream:error><not-authorized xmlns='urn:ietf:"
			       "params:xml:ns:xmpp-streams'/></stream:error>"
			       "</stream:stream>");
			return;
		}
		say(p, "<handshake/>");
		if (p->mode == 2) {
			event_del(p->ev_read);
			return;
		}
		/* the first stanza after the handshake reaches the link */
		say(p,
		    "<iq type='get' id='p1' from='example.org' "
		    "to='fg.example.org'><ping xmlns='urn:xmpp:ping'/></iq>");
	}
	if (strstr(p->buf, "id=\"p1\"") || strstr(p->buf, "id='p1'"))
		p->got_pong = 1;
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	p->cfd = accept(fd, NULL, NULL);
	ck_assert_int_ge(p->cfd, 0);
	say(p, "<?xml version='1.0'?><stream:stream xmlns:stream='http://"
	       "etherx.jabber.org/streams' xmlns='jabber:component:accept' "
	       "from='fg.example.org' id='abc123'>");
	p->ev_read =
	    event_new(p->base, p->cfd, EV_READ | EV_PERSIST, on_peer_read, p);
	event_add(p->ev_read, NULL);
}

static void
on_state(struct comp_link *l, int up, void *arg)
{
	struct peer *p = arg;

	if (up)
		p->ups++;
	else
		p->downs++;
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

START_TEST(retries_when_nothing_listens)
{
	struct event_base *base = event_base_new();
	struct comp_link  *l;
	struct link_stats  st;
	int                port, fd = listen_any(&port);

	close(fd); /* now nothing listens on port */
	l = comp_link_new(base, "fg.example.org", "secret", "127.0.0.1", port);
	comp_link_start(l);
	run_for(base, 1700);
	comp_link_get_stats(l, &st);
	ck_assert_int_eq(st.up, 0);
	ck_assert_uint_ge(st.reconnects, 1);
	comp_link_stop(l);
	comp_link_free(l);
	event_base_free(base);
}
END_TEST

START_TEST(handshake_and_first_stanza)
{
	struct peer       p;
	struct comp_link *l;
	struct link_stats st;
	int               port;

	memset(&p, 0, sizeof p);
	p.base = event_base_new();
	p.lfd = listen_any(&port);
	p.ev_accept = event_new(p.base, p.lfd, EV_READ, on_accept, &p);
	event_add(p.ev_accept, NULL);
	l = comp_link_new(p.base, "fg.example.org", "secret", "127.0.0.1",
			  port);
	comp_link_set_state_cb(l, on_state, &p);
	comp_link_start(l);
	run_for(p.base, 800);
	comp_link_get_stats(l, &st);
	ck_assert_int_eq(p.got_handshake, 1);
	ck_assert_int_eq(p.ups, 1);
	ck_assert_int_eq(st.up, 1);
	ck_assert_uint_ge(st.stanzas_in, 1);
	/* the secret never travels in clear: only its SHA-1 digest */
	ck_assert_ptr_null(strstr(p.buf, "secret"));
	comp_link_stop(l);
	comp_link_free(l);
	event_free(p.ev_accept);
	event_free(p.ev_read);
	close(p.cfd);
	close(p.lfd);
	event_base_free(p.base);
}
END_TEST

START_TEST(refused_handshake)
{
	struct peer       p;
	struct comp_link *l;
	struct link_stats st;
	int               port;

	memset(&p, 0, sizeof p);
	p.mode = 1;
	p.base = event_base_new();
	p.lfd = listen_any(&port);
	p.ev_accept = event_new(p.base, p.lfd, EV_READ, on_accept, &p);
	event_add(p.ev_accept, NULL);
	l = comp_link_new(p.base, "fg.example.org", "wrong", "127.0.0.1", port);
	comp_link_set_state_cb(l, on_state, &p);
	comp_link_start(l);
	run_for(p.base, 800);
	comp_link_get_stats(l, &st);
	ck_assert_int_eq(st.up, 0);
	ck_assert_int_eq(p.ups, 0);
	ck_assert_uint_eq(st.handshake_fails, 1);
	comp_link_stop(l);
	comp_link_free(l);
	event_free(p.ev_accept);
	event_free(p.ev_read);
	close(p.cfd);
	close(p.lfd);
	event_base_free(p.base);
}
END_TEST

static void
peer_start(struct peer *p, int mode, int *port)
{
	memset(p, 0, sizeof *p);
	p->mode = mode;
	p->base = event_base_new();
	p->lfd = listen_any(port);
	p->ev_accept = event_new(p->base, p->lfd, EV_READ, on_accept, p);
	event_add(p->ev_accept, NULL);
}

static void
peer_end(struct peer *p)
{
	event_free(p->ev_accept);
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	close(p->cfd);
	close(p->lfd);
	event_base_free(p->base);
}

/* invalid UTF-8: whatever a handler put in a stanza, the server gets
 * well-formed UTF-8 (0xE9 from an admin's Latin-1 reason made Prosody drop the
 * stream; libstrophe sent it as it was). */
START_TEST(output_is_valid_utf8)
{
	struct peer       p;
	struct comp_link *l;
	xmpp_stanza_t    *m, *b, *t;
	int               port;
	size_t            n;
	char             *fixed;

	peer_start(&p, 0, &port);
	l = comp_link_new(p.base, "fg.example.org", "secret", "127.0.0.1",
			  port);
	comp_link_start(l);
	run_for(p.base, 500);
	ck_assert_int_eq(comp_link_up(l), 1);
	m = xmpp_message_new(comp_link_ctx(l), NULL, "example.org", "v1");
	xmpp_stanza_set_attribute(m, "reason", "caf\xe9-attr");
	b = xmpp_stanza_new(comp_link_ctx(l));
	xmpp_stanza_set_name(b, "body");
	t = xmpp_stanza_new(comp_link_ctx(l));
	xmpp_stanza_set_text(t, "caf\xe9 \x01 \xed\xa0\x80 ok \xc3\xa9");
	xmpp_stanza_add_child_ex(b, t, 0);
	xmpp_stanza_add_child_ex(m, b, 0);
	comp_link_send(l, m);
	xmpp_stanza_release(m);
	p.len = 0;
	p.buf[0] = '\0';
	run_for(p.base, 300);
	ck_assert_ptr_nonnull(strstr(p.buf, "caf\xef\xbf\xbd-attr"));
	ck_assert_ptr_nonnull(strstr(p.buf,
				     "caf\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd"
				     "\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9"));
	fixed = utf8_repair_n(p.buf, p.len, &n);
	ck_assert_ptr_null(fixed); /* nothing left to repair */
	comp_link_stop(l);
	comp_link_free(l);
	peer_end(&p);
}
END_TEST

/* A blocking XEP-0114 peer in a child process: it needs no fd of ours. */
static void
child_peer(int lfd)
{
	char        buf[4096];
	size_t      len = 0;
	ssize_t     n;
	int         fd = accept(lfd, NULL, NULL);
	const char *hdr =
	    "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
	    "xmlns='jabber:component:accept' id='c1'>";

	if (fd == -1)
		_exit(1);
	if (write(fd, hdr, strlen(hdr)) < 0)
		_exit(1);
	while (len < sizeof buf - 1 &&
	       (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "</handshake>") != NULL)
			break;
	}
	if (write(fd, "<handshake/>", 12) < 0)
		_exit(1);
	while (read(fd, buf, sizeof buf) > 0)
		;
	_exit(0);
}

/* file descriptors: the link gets a socket when its fd number is past
 * FD_SETSIZE (libstrophe's select() refused it) and when every fd is taken (the
 * link holds one in reserve). */
START_TEST(socket_under_fd_pressure)
{
	struct event_base *base;
	struct comp_link  *l;
	struct rlimit      rl, old;
	int                port, lfd, fd, top = -1, status, up;
	pid_t              pid;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max < FD_SETSIZE + 64)
		return; /* cannot test here: the hard limit is too low */
	rl.rlim_cur = FD_SETSIZE + 64;
	rl.rlim_max = old.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	lfd = listen_any(&port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_peer(lfd);
	close(lfd);
	/* every fd below FD_SETSIZE taken, then the link, then the rest */
	while ((fd = open("/dev/null", O_RDONLY)) >= 0 && fd < FD_SETSIZE)
		top = fd;
	base = event_base_new();
	l = comp_link_new(base, "fg.example.org", "secret", "127.0.0.1", port);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		top = fd;
	ck_assert_int_ge(top, FD_SETSIZE);
	comp_link_start(l);
	run_for(base, 2000);
	up = comp_link_up(l);
	comp_link_stop(l); /* the peer sees EOF and exits */
	comp_link_free(l);
	event_base_free(base);
	for (fd = 3; fd <= top; fd++)
		close(fd);
	if (!up)
		kill(pid, SIGKILL); /* still waiting in accept() */
	waitpid(pid, &status, 0);
	setrlimit(RLIMIT_NOFILE, &old);
	ck_assert_int_eq(up, 1);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* bounded output: a server that stops reading makes us stop reading above the
 * high-water mark, and the queue never grows past its cap: the link is
 * closed there (main grew by 113 MB for 200,000 queued answers). */
START_TEST(output_queue_bounded)
{
	struct peer       p;
	struct comp_link *l;
	struct link_stats st;
	xmpp_stanza_t    *m, *b, *t;
	char              text[1024];
	size_t            maxq = 0;
	int               port, i, paused = 0;

	peer_start(&p, 2, &port);
	l = comp_link_new(p.base, "fg.example.org", "secret", "127.0.0.1",
			  port);
	comp_link_start(l);
	run_for(p.base, 500);
	ck_assert_int_eq(comp_link_up(l), 1);
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	m = xmpp_message_new(comp_link_ctx(l), NULL, "example.org", "q");
	b = xmpp_stanza_new(comp_link_ctx(l));
	xmpp_stanza_set_name(b, "body");
	t = xmpp_stanza_new(comp_link_ctx(l));
	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child_ex(b, t, 0);
	xmpp_stanza_add_child_ex(m, b, 0);
	for (i = 0; i < 400 && comp_link_up(l); i++) {
		int k;

		for (k = 0; k < 1000 && comp_link_up(l); k++) {
			comp_link_send(l, m);
			comp_link_get_stats(l, &st);
			if (st.out_queued > maxq)
				maxq = st.out_queued;
			paused |= st.paused;
		}
		run_for(p.base, 5);
	}
	xmpp_stanza_release(m);
	comp_link_get_stats(l, &st);
	ck_assert_int_eq(paused, 1);
	ck_assert_int_eq(st.up, 0);
	ck_assert_uint_eq(st.out_overflows, 1);
	ck_assert_uint_le(maxq, LINK_OUT_MAX + 2048);
	ck_assert_uint_eq(st.out_queued, 0);
	comp_link_stop(l);
	comp_link_free(l);
	peer_end(&p);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("link");
	TCase   *tc = tcase_create("link");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_link");
	log_libevent();
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, backoff);
	tcase_add_test(tc, retries_when_nothing_listens);
	tcase_add_test(tc, handshake_and_first_stanza);
	tcase_add_test(tc, refused_handshake);
	tcase_add_test(tc, output_is_valid_utf8);
	tcase_add_test(tc, socket_under_fd_pressure);
	tcase_add_test(tc, output_queue_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
