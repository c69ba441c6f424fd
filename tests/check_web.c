/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the moderation page: HTML escaping of
 * hostile text, the form and cookie parsers, one-time login tokens,
 * sessions and their expiry, CSRF checks, the ring of recent hits and
 * the chart counters, and whole requests through web_handle() against
 * a real policy (login, queue, forged and real actions, logout).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "admin/web.h"
#include "admin/websess.h"
#include "admin/webstats.h"
#include "admin/webutil.h"
#include "core/clock.h"
#include "core/config.h"
#include "policy/hits.h"
#include "policy/policy.h"

static struct fg_config cfg;
static char            *serves[] = {"example.org"};
static char            *admins[] = {"admin@example.org"};

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	config_defaults(&cfg);
	cfg.serves.v = serves;
	cfg.serves.n = 1;
	cfg.admins.v = admins;
	cfg.admins.n = 1;
	cfg.http_listen = "127.0.0.1:5380";
}

/* The buffer's text (NUL-terminated copy, caller frees). */
static char *
text(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char  *s = malloc(n + 1);

	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	return s;
}

static char *
esc(const char *in)
{
	struct evbuffer *b = evbuffer_new();
	char            *s;

	web_esc(b, in);
	s = text(b);
	evbuffer_free(b);
	return s;
}

START_TEST(test_escape)
{
	char *s;

	s = esc("<script>alert('x')</script>&\"");
	ck_assert_str_eq(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
			    "&amp;&quot;");
	free(s);
	/* a bad byte, a lone continuation, a C1 and a C0 control */
	s = esc("a\xff"
		"b\x80"
		"c\xc2\x85"
		"d\x01"
		"e\x7f");
	ck_assert_str_eq(s, "a\xef\xbf\xbd"
			    "b\xef\xbf\xbd"
			    "c\xef\xbf\xbd"
			    "d\xef\xbf\xbd"
			    "e\xef\xbf\xbd");
	free(s);
	s = esc("caf\xc3\xa9 \xe2\x82\xac\t\n");
	ck_assert_str_eq(s, "caf\xc3\xa9 \xe2\x82\xac\t\n");
	free(s);
	s = esc(NULL);
	ck_assert_str_eq(s, "");
	free(s);
	/* a truncated sequence at the end does not read past it */
	s = esc("x\xe2\x82");
	ck_assert_str_eq(s, "x\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
}
END_TEST

START_TEST(test_form)
{
	char        out[16];
	const char *f = "a=1&b=x+y%21&c=&d&e=%zz&f=%00&g=%0a&h=1&h=2&i=%C3";

	ck_assert_int_eq(web_form_get(f, strlen(f), "a", out, sizeof out), 1);
	ck_assert_str_eq(out, "1");
	ck_assert_int_eq(web_form_get(f, strlen(f), "b", out, sizeof out), 1);
	ck_assert_str_eq(out, "x y!");
	ck_assert_int_eq(web_form_get(f, strlen(f), "c", out, sizeof out), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(web_form_get(f, strlen(f), "d", out, sizeof out), 1);
	ck_assert_int_eq(web_form_get(f, strlen(f), "e", out, sizeof out), -1);
	ck_assert_int_eq(web_form_get(f, strlen(f), "f", out, sizeof out), -1);
	ck_assert_int_eq(web_form_get(f, strlen(f), "g", out, sizeof out), -1);
	ck_assert_int_eq(web_form_get(f, strlen(f), "h", out, sizeof out), -1);
	ck_assert_int_eq(web_form_get(f, strlen(f), "i", out, sizeof out), -1);
	ck_assert_int_eq(web_form_get(f, strlen(f), "z", out, sizeof out), 0);
	/* a name that is a prefix of another is not it */
	ck_assert_int_eq(web_form_get("ab=1", 4, "a", out, sizeof out), 0);
	/* %-escape cut by the end of the body */
	ck_assert_int_eq(web_form_get("a=%4", 4, "a", out, sizeof out), -1);
	ck_assert_int_eq(web_form_get("a=%41", 5, "a", out, sizeof out), 1);
	ck_assert_str_eq(out, "A");
	/* only len bytes count */
	ck_assert_int_eq(web_form_get("a=12345", 4, "a", out, sizeof out), 1);
	ck_assert_str_eq(out, "12");
	ck_assert_int_eq(
	    web_form_get("a=0123456789abcdef", 18, "a", out, sizeof out), -1);
}
END_TEST

START_TEST(test_cookie)
{
	char out[8];

	ck_assert_int_eq(
	    web_cookie_get("x=1; fg=abc ; y=2", "fg", out, sizeof out), 1);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(web_cookie_get("xfg=1", "fg", out, sizeof out), 0);
	ck_assert_int_eq(web_cookie_get("fg=1;fg=2", "fg", out, sizeof out),
			 -1);
	ck_assert_int_eq(web_cookie_get("fg=123456789", "fg", out, sizeof out),
			 -1);
	ck_assert_int_eq(web_cookie_get(NULL, "fg", out, sizeof out), 0);
	ck_assert_int_eq(web_cookie_get("", "fg", out, sizeof out), 0);
}
END_TEST

START_TEST(test_sessions)
{
	struct websess     *w = websess_new();
	struct websess_info si;
	char                tok[WEBSESS_HEX + 1], tok2[WEBSESS_HEX + 1];
	char                sid[WEBSESS_HEX + 1], bad[WEBSESS_HEX + 1];
	int64_t             t = 1000000;
	size_t              nt, ns, i;

	websess_token_new(w, "admin@example.org", t, tok);
	ck_assert_uint_eq(strlen(tok), WEBSESS_HEX);
	ck_assert_int_eq(websess_token_valid(w, tok, t), 1);
	ck_assert_int_eq(websess_login(w, tok, t + 1, sid), 0);
	/* once only */
	ck_assert_int_eq(websess_token_valid(w, tok, t + 2), 0);
	ck_assert_int_eq(websess_login(w, tok, t + 2, bad), -1);
	ck_assert_int_eq(websess_find(w, sid, t + 3, &si), 0);
	ck_assert_str_eq(si.admin, "admin@example.org");
	ck_assert_uint_eq(strlen(si.csrf), WEBSESS_HEX);
	ck_assert_str_ne(si.csrf, sid);
	ck_assert_int_eq(websess_csrf_ok(w, sid, si.csrf, t + 4), 1);
	ck_assert_int_eq(websess_csrf_ok(w, sid, sid, t + 4), 0);
	ck_assert_int_eq(websess_csrf_ok(w, sid, "", t + 4), 0);
	ck_assert_int_eq(websess_csrf_ok(w, sid, NULL, t + 4), 0);
	/* a CSRF token is good for its own session only */
	websess_token_new(w, "admin@example.org", t, tok2);
	ck_assert_int_eq(websess_login(w, tok2, t + 5, bad), 0);
	ck_assert_int_eq(websess_csrf_ok(w, bad, si.csrf, t + 6), 0);
	/* malformed ids never match */
	memcpy(bad, sid, sizeof bad);
	bad[0] = bad[0] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(websess_find(w, bad, t, &si), -1);
	ck_assert_int_eq(websess_find(w, "", t, &si), -1);
	ck_assert_int_eq(websess_find(w, NULL, t, &si), -1);
	/* an expired token is refused and spent */
	websess_token_new(w, "admin@example.org", t, tok2);
	ck_assert_int_eq(websess_login(w, tok2, t + WEBSESS_TOKEN_TTL_MS, bad),
			 -1);
	/* idle and absolute expiry */
	ck_assert_int_eq(websess_find(w, sid, t + WEBSESS_IDLE_MS - 10, &si),
			 0);
	ck_assert_int_eq(
	    websess_find(w, sid, t + 2 * WEBSESS_IDLE_MS + 10, &si), -1);
	websess_token_new(w, "admin@example.org", t, tok);
	ck_assert_int_eq(websess_login(w, tok, t, sid), 0);
	for (i = 1; i <= 8; i++)
		ck_assert_int_eq(
		    websess_find(w, sid, t + (int64_t)i * WEBSESS_TTL_MS / 9,
				 &si),
		    0);
	ck_assert_int_eq(websess_find(w, sid, t + WEBSESS_TTL_MS, &si), -1);
	/* logout */
	websess_token_new(w, "admin@example.org", t, tok);
	ck_assert_int_eq(websess_login(w, tok, t, sid), 0);
	websess_end(w, sid);
	ck_assert_int_eq(websess_find(w, sid, t, &si), -1);
	/* bounded: more tokens than room keeps the newest */
	for (i = 0; i < 3 * WEBSESS_TOKENS_MAX; i++)
		websess_token_new(w, "admin@example.org", t + (int64_t)i, tok);
	websess_count(w, t + 1000, &nt, &ns);
	ck_assert_uint_eq(nt, WEBSESS_TOKENS_MAX);
	ck_assert_int_eq(websess_token_valid(w, tok, t + 1000), 1);
	websess_free(w);
}
END_TEST

START_TEST(test_hits_and_stats)
{
	struct policy         *p;
	struct webstats       *ws = webstats_new();
	struct pol_gate        g;
	struct pol_answer      a;
	struct webstats_recent r[4];
	struct webstats_key    top[4];
	uint64_t               why[1][POL_HIT__MAX], gates[2], events[2];
	int64_t                now = clock_wall_ms();
	int                    i;
	static char           *traps[] = {"trap@example.org"};
	char                   from[64];

	cfg.trap_jids.v = traps;
	cfg.trap_jids.n = 1;
	p = pol_new(&cfg, NULL);
	ck_assert_ptr_nonnull(p);
	webstats_tick(ws, p, now); /* the base */
	ck_assert_int_eq(pol_admin(p, FG_SUBJ_DOMAIN, "spam.example",
				   FG_OVR_BLOCK, "test", "spam", 0),
			 0);
	memset(&g, 0, sizeof g);
	g.kind = FG_KIND_INBOUND_SUBSCRIBE;
	g.from = "bot@spam.example";
	g.to = "alice@example.org";
	for (i = 0; i < 3; i++) {
		pol_gate(p, &g, &a);
		ck_assert_int_eq(a.allow, 0);
	}
	g.from = "friend@good.example";
	pol_gate(p, &g, &a);
	ck_assert_int_eq(a.allow, 1);
	webstats_tick(ws, p, now);
	webstats_hours_why(ws, now, 1, why);
	ck_assert_uint_eq(why[0][POL_HIT_BLOCK], 3);
	ck_assert_uint_eq(why[0][POL_HIT_RATE], 0);
	webstats_minutes(ws, now, 2, gates, events);
	ck_assert_uint_eq(gates[1], 4);
	ck_assert_uint_eq(webstats_top(ws, now, 24, 0, top, 4), 1);
	ck_assert_str_eq(top[0].key, "spam.example");
	ck_assert_uint_eq(top[0].count, 3);
	ck_assert_uint_eq(webstats_recent(ws, 0, r, 4), 3);
	ck_assert_str_eq(r[0].h.key, "spam.example");
	ck_assert_uint_eq(r[0].h.why, POL_HIT_BLOCK);
	/* a detector's refusal is named after it: a trap recipient */
	g.kind = FG_KIND_STRANGER_MESSAGE;
	g.from = "stranger@example.org";
	g.to = "trap@example.org";
	pol_gate(p, &g, &a);
	ck_assert_int_eq(a.allow, 0);
	g.to = "alice@example.org"; /* now quarantined by the trap */
	pol_gate(p, &g, &a);
	ck_assert_int_eq(a.allow, 0);
	webstats_tick(ws, p, now);
	ck_assert_uint_eq(webstats_recent(ws, 0, r, 4), 4);
	ck_assert_uint_eq(r[1].h.why, POL_HIT_TRAP);
	ck_assert_str_eq(r[1].h.key, "stranger@example.org");
	ck_assert_uint_eq(r[0].h.why, POL_HIT_QUARANTINE);
	ck_assert_str_eq(pol_hit_why_name(POL_HIT_TRAP), "trap");
	/* and a content wave: the same body from many accounts */
	g.fp = "0123456789abcdef0123456789abcdef";
	for (i = 0; i < 8; i++) {
		snprintf(from, sizeof from, "sender%d@example.org", i);
		g.from = from;
		g.to = "bob@example.org";
		pol_gate(p, &g, &a);
	}
	ck_assert_int_eq(a.allow, 0);
	webstats_tick(ws, p, now);
	ck_assert_uint_ge(webstats_recent(ws, 0, r, 4), 1);
	ck_assert_uint_eq(r[0].h.why, POL_HIT_CONTENT);
	ck_assert_str_eq(r[0].h.key, "sender7@example.org");
	g.fp = NULL;
	g.kind = FG_KIND_INBOUND_SUBSCRIBE;
	g.to = "alice@example.org";

	/* a wrapped ring: counted as lost, never read twice */
	g.from = "bot@spam.example";
	for (i = 0; i < POL_HITS_RING + 10; i++)
		pol_gate(p, &g, &a);
	webstats_tick(ws, p, now);
	ck_assert_uint_eq(webstats_lost(ws), 10);
	webstats_hours_why(ws, now, 1, why);
	ck_assert_uint_eq(why[0][POL_HIT_BLOCK], 3 + POL_HITS_RING);
	ck_assert_str_eq(pol_hit_why_name(POL_HIT_CONTENT), "content");
	pol_free(p);
	webstats_free(ws);
}
END_TEST

/* One request through the handler; returns the status, body and
 * headers in *body and *hdrs (caller frees). */
static int
req(struct web *w, const char *method, const char *path, const char *query,
    const char *cookie, const char *form, char **body, char **hdrs)
{
	struct http_req  rq;
	struct http_resp rs;

	memset(&rq, 0, sizeof rq);
	rq.method = method;
	rq.path = path;
	rq.query = query;
	rq.cookie = cookie;
	rq.body = form != NULL ? form : "";
	rq.bodylen = strlen(rq.body);
	rq.ctype = form != NULL ? "application/x-www-form-urlencoded" : NULL;
	rs.status = 200;
	rs.ctype = "text/html";
	rs.body = evbuffer_new();
	rs.headers = evbuffer_new();
	web_handle(&rq, &rs, w);
	*body = text(rs.body);
	*hdrs = text(rs.headers);
	evbuffer_free(rs.body);
	evbuffer_free(rs.headers);
	return rs.status;
}

/* "name=" value up to a delimiter, from s, into out. */
static void
grab(const char *s, const char *name, const char *delims, char *out,
     size_t outsz)
{
	const char *p = strstr(s, name);

	ck_assert_ptr_nonnull(p);
	p += strlen(name);
	snprintf(out, outsz, "%.*s", (int)strcspn(p, delims), p);
}

START_TEST(test_pages)
{
	struct adm_env    env;
	struct web       *w = web_new();
	struct adm_result r;
	struct pol_info   pi;
	char              url[1024], *b, *h, tok[80], sid[80], csrf[80];
	char              cookie[128], form[512], keep;

	memset(&env, 0, sizeof env);
	env.pol = pol_new(&cfg, NULL);
	env.cfg = &cfg;
	web_set_env(w, &env);
	ck_assert_int_eq(pol_admin(env.pol, FG_SUBJ_ACCOUNT, "bot@example.org",
				   FG_OVR_QUARANTINE, "auto",
				   "<b>spam</b> & more", 0),
			 0);

	/* no session: every page redirects to the explanation */
	ck_assert_int_eq(req(w, "GET", "/admin/", "", NULL, NULL, &b, &h), 303);
	ck_assert_ptr_nonnull(strstr(h, "Location: /admin/why\r\n"));
	ck_assert_ptr_nonnull(strstr(h, "Content-Security-Policy: "
					"default-src 'none'"));
	free(b), free(h);
	ck_assert_int_eq(
	    req(w, "GET", "/admin/charts", "", "fg_session=00", NULL, &b, &h),
	    303);
	free(b), free(h);
	ck_assert_int_eq(req(w, "GET", "/admin/why", "", NULL, NULL, &b, &h),
			 200);
	ck_assert_ptr_nonnull(strstr(b, "web-login"));
	free(b), free(h);

	/* no listener, or no page at all: no link */
	cfg.http_listen = NULL;
	web_login_link(w, "admin@example.org", clock_wall_ms(), url, sizeof url,
		       &r);
	ck_assert_int_eq(r.status, ADM_REFUSED);
	ck_assert_ptr_nonnull(strstr(r.msg, "[http] listen"));
	cfg.http_listen = "127.0.0.1:5380";
	web_login_link(NULL, "admin@example.org", clock_wall_ms(), url,
		       sizeof url, &r);
	ck_assert_int_eq(r.status, ADM_REFUSED);
	/* public-url: links start with it, the cookie is Secure */
	cfg.http_public_url = "https://fg.example.org/";
	web_login_link(w, "admin@example.org", clock_wall_ms(), url, sizeof url,
		       &r);
	ck_assert_int_eq(r.status, ADM_OK);
	ck_assert_ptr_nonnull(
	    strstr(url, "https://fg.example.org/admin/login?t="));
	snprintf(form, sizeof form, "%s", strstr(url, "t="));
	ck_assert_int_eq(req(w, "POST", "/admin/login", "", NULL, form, &b, &h),
			 200);
	ck_assert_ptr_nonnull(strstr(h, "; Secure"));
	free(b), free(h);
	cfg.http_public_url = NULL;

	/* links only for admins */
	web_login_link(w, "mallory@example.org", clock_wall_ms(), url,
		       sizeof url, &r);
	ck_assert_int_eq(r.status, ADM_REFUSED);
	web_login_link(w, "admin@example.org/phone", clock_wall_ms(), url,
		       sizeof url, &r);
	ck_assert_int_eq(r.status, ADM_OK);
	ck_assert_ptr_nonnull(
	    strstr(url, "http://127.0.0.1:5380/admin/login?t="));
	grab(url, "t=", "&", tok, sizeof tok);

	/* GET shows a button and spends nothing; POST logs in */
	snprintf(form, sizeof form, "t=%s", tok);
	ck_assert_int_eq(
	    req(w, "GET", "/admin/login", form, NULL, NULL, &b, &h), 200);
	ck_assert_ptr_nonnull(strstr(b, "<button id=\"login\""));
	free(b), free(h);
	ck_assert_int_eq(req(w, "POST", "/admin/login", "", NULL, form, &b, &h),
			 200);
	ck_assert_ptr_nonnull(strstr(h, "HttpOnly; SameSite=Strict"));
	ck_assert_ptr_nonnull(strstr(h, "Max-Age="));
	grab(h, "fg_session=", ";", sid, sizeof sid);
	free(b), free(h);
	/* the second use fails */
	ck_assert_int_eq(req(w, "POST", "/admin/login", "", NULL, form, &b, &h),
			 403);
	ck_assert_ptr_null(strstr(h, "Set-Cookie"));
	free(b), free(h);
	ck_assert_int_eq(
	    req(w, "GET", "/admin/login", form, NULL, NULL, &b, &h), 403);
	free(b), free(h);

	/* the queue shows the subject, its reason escaped */
	snprintf(cookie, sizeof cookie, "other=1; fg_session=%s", sid);
	ck_assert_int_eq(req(w, "GET", "/admin/", "", cookie, NULL, &b, &h),
			 200);
	ck_assert_ptr_nonnull(strstr(b, "bot@example.org"));
	ck_assert_ptr_nonnull(strstr(b, "&lt;b&gt;spam&lt;/b&gt; &amp; more"));
	ck_assert_ptr_null(strstr(b, "<b>spam"));
	ck_assert_ptr_nonnull(strstr(b, "admin@example.org"));
	grab(b, "name=\"csrf\" value=\"", "\"", csrf, sizeof csrf);
	free(b), free(h);

	/* forged: no token, a wrong one, or a token in the query only */
	ck_assert_int_eq(req(w, "POST", "/admin/act", "", cookie,
			     "verb=unblock&subject=bot%40example.org", &b, &h),
			 403);
	free(b), free(h);
	keep = csrf[63];
	csrf[63] = keep == '0' ? '1' : '0'; /* one digit off */
	snprintf(form, sizeof form,
		 "csrf=%s&verb=unblock&subject=bot%%40example.org", csrf);
	ck_assert_int_eq(req(w, "POST", "/admin/act", "", cookie, form, &b, &h),
			 403);
	free(b), free(h);
	csrf[63] = keep;
	snprintf(form, sizeof form, "csrf=%s", csrf);
	ck_assert_int_eq(req(w, "POST", "/admin/act", form, cookie,
			     "verb=unblock&subject=bot%40example.org", &b, &h),
			 403);
	free(b), free(h);
	ck_assert_int_eq(
	    pol_inspect(env.pol, FG_SUBJ_ACCOUNT, "bot@example.org", &pi), 0);
	ck_assert_int_eq(pi.effective, FG_V_QUARANTINE);
	/* a real one */
	snprintf(form, sizeof form,
		 "csrf=%s&verb=unblock&subject=account%%3Abot%%40example.org&"
		 "reason=looked+fine",
		 csrf);
	ck_assert_int_eq(req(w, "POST", "/admin/act", "", cookie, form, &b, &h),
			 200);
	ck_assert_ptr_nonnull(strstr(b, "id=\"result\""));
	free(b), free(h);
	ck_assert_int_eq(
	    pol_inspect(env.pol, FG_SUBJ_ACCOUNT, "bot@example.org", &pi), 0);
	ck_assert_int_eq(pi.effective, FG_V_ALLOW);

	/* the other pages answer */
	ck_assert_int_eq(
	    req(w, "GET", "/admin/charts", "", cookie, NULL, &b, &h), 200);
	ck_assert_ptr_nonnull(strstr(b, "<svg id=\"refusals\""));
	ck_assert_ptr_null(strstr(b, "<script"));
	free(b), free(h);
	ck_assert_int_eq(req(w, "GET", "/admin/subject",
			     "s=%3Cx%3E%40example.org", cookie, NULL, &b, &h),
			 400);
	ck_assert_ptr_null(strstr(b, "<x>"));
	free(b), free(h);
	ck_assert_int_eq(req(w, "GET", "/admin/hits", "", cookie, NULL, &b, &h),
			 200);
	free(b), free(h);

	/* an admin dropped from the configuration is out at once */
	cfg.admins.n = 0;
	ck_assert_int_eq(req(w, "GET", "/admin/", "", cookie, NULL, &b, &h),
			 303);
	free(b), free(h);
	cfg.admins.n = 1;
	ck_assert_int_eq(req(w, "GET", "/admin/", "", cookie, NULL, &b, &h),
			 303); /* and stays out */
	free(b), free(h);
	web_login_link(w, "admin@example.org", clock_wall_ms(), url, sizeof url,
		       &r);
	snprintf(form, sizeof form, "%s", strstr(url, "t="));
	ck_assert_int_eq(req(w, "POST", "/admin/login", "", NULL, form, &b, &h),
			 200);
	grab(h, "fg_session=", ";", sid, sizeof sid);
	free(b), free(h);
	snprintf(cookie, sizeof cookie, "fg_session=%s", sid);
	ck_assert_int_eq(req(w, "GET", "/admin/", "", cookie, NULL, &b, &h),
			 200);
	grab(b, "name=\"csrf\" value=\"", "\"", csrf, sizeof csrf);
	free(b), free(h);

	/* logout ends the session */
	snprintf(form, sizeof form, "csrf=%s", csrf);
	ck_assert_int_eq(
	    req(w, "POST", "/admin/logout", "", cookie, form, &b, &h), 303);
	free(b), free(h);
	ck_assert_int_eq(req(w, "GET", "/admin/", "", cookie, NULL, &b, &h),
			 303);
	free(b), free(h);
	pol_free(env.pol);
	web_free(w);
}
END_TEST

/* Keys of the queue's rows, in order, appended to out. */
static size_t
queue_keys(const char *page, char keys[][32], size_t n, size_t max)
{
	const char *p = page, *needle = "/admin/subject?s=account:";

	while ((p = strstr(p, needle)) != NULL && n < max) {
		p += strlen(needle);
		/* the link has the key percent-encoded: u001%40example.org */
		snprintf(keys[n], 32, "%.*s@%.*s", (int)strcspn(p, "%"), p,
			 (int)strcspn(p + strcspn(p, "%") + 3, "\""),
			 p + strcspn(p, "%") + 3);
		n++;
	}
	return n;
}

/* Paging newest first with many subjects changed in the same
 * millisecond across page boundaries: every subject once, in order. */
START_TEST(test_queue_paging)
{
	enum { N = 130, TIE = 7 };
	struct adm_env    env;
	struct web       *w = web_new();
	struct adm_result r;
	char              url[1024], *b, *h, form[128], sid[80], cookie[128];
	char              key[64], query[16], got[N + 10][32];
	size_t            n = 0, i, page;
	int64_t           t0 = 1700000000000;

	clock_fake_set(1, t0);
	memset(&env, 0, sizeof env);
	env.pol = pol_new(&cfg, NULL);
	env.cfg = &cfg;
	web_set_env(w, &env);
	for (i = 0; i < N; i++) {
		/* groups of TIE subjects share a millisecond */
		clock_fake_set(1, t0 + (int64_t)(i / TIE));
		snprintf(key, sizeof key, "u%03zu@example.org", (i * 37) % N);
		ck_assert_int_eq(pol_admin(env.pol, FG_SUBJ_ACCOUNT, key,
					   FG_OVR_QUARANTINE, "t", "r", 0),
				 0);
	}
	web_login_link(w, "admin@example.org", clock_wall_ms(), url, sizeof url,
		       &r);
	snprintf(form, sizeof form, "%s", strstr(url, "t="));
	ck_assert_int_eq(req(w, "POST", "/admin/login", "", NULL, form, &b, &h),
			 200);
	grab(h, "fg_session=", ";", sid, sizeof sid);
	free(b), free(h);
	snprintf(cookie, sizeof cookie, "fg_session=%s", sid);
	for (page = 0; page < 4; page++) {
		snprintf(query, sizeof query, "p=%zu", page);
		ck_assert_int_eq(
		    req(w, "GET", "/admin/", query, cookie, NULL, &b, &h), 200);
		if (page < 3)
			n = queue_keys(b, got, n, N + 10);
		else /* past the end: the last page again */
			ck_assert_ptr_nonnull(strstr(b, "page 3 of 3"));
		free(b), free(h);
	}
	ck_assert_uint_eq(n, N);
	/* newest group first; inside a group by key */
	for (i = 1; i < N; i++) {
		size_t gi = 0, gj = 0, k;

		for (k = 0; k < N; k++) {
			snprintf(key, sizeof key, "u%03zu@example.org",
				 (k * 37) % N);
			if (strcmp(key, got[i - 1]) == 0)
				gi = k / TIE;
			if (strcmp(key, got[i]) == 0)
				gj = k / TIE;
		}
		ck_assert_msg(gi > gj ||
				  (gi == gj && strcmp(got[i - 1], got[i]) < 0),
			      "row %zu (%s) after %s", i, got[i], got[i - 1]);
	}
	clock_fake_off();
	pol_free(env.pol);
	web_free(w);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("web");
	TCase   *tc = tcase_create("web");
	SRunner *sr;
	int      nf;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_form);
	tcase_add_test(tc, test_cookie);
	tcase_add_test(tc, test_sessions);
	tcase_add_test(tc, test_hits_and_stats);
	tcase_add_test(tc, test_pages);
	tcase_add_test(tc, test_queue_paging);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
