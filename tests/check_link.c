/*
 * Unit tests: the XEP-0114 link state machine, driven by a scripted peer
 * on loopback inside the test's own event loop (no XMPP server needed):
 * back-off arithmetic, retries while nothing listens, the handshake, the
 * first stanza after it (libstrophe 0.12.2 crashes there without our
 * sm_state workaround), and a refused handshake.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "component/link.h"
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
	int                mode; /* 0 accept handshake, 1 refuse it */
	int                got_handshake;
	int                got_pong;
	struct event      *ev_accept, *ev_read;
	char               buf[8192];
	size_t             len;
	int                ups, downs;
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
	ssize_t      n = read(fd, p->buf + p->len, sizeof p->buf - 1 - p->len);

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
		/* the first stanza after the handshake: 0.12.2 crashes here
		 * unless sm_state was primed */
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

int
main(void)
{
	Suite   *s = suite_create("link");
	TCase   *tc = tcase_create("link");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_link");
	log_libevent();
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, backoff);
	tcase_add_test(tc, retries_when_nothing_listens);
	tcase_add_test(tc, handshake_and_first_stanza);
	tcase_add_test(tc, refused_handshake);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
