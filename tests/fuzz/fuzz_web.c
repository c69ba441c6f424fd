/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: what a browser (or anyone on the listener) sends the
 * moderation page. The input is split at the first two NUL bytes into a
 * query string, a Cookie header and a form body; they go through the
 * form and cookie parsers, and as whole requests through web_handle()
 * against a real policy, with and without a live session. Escaped text
 * must come out without markup characters and as valid UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "admin/web.h"
#include "admin/websess.h"
#include "admin/webutil.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/utf8.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct fg_config cfg;
static struct web      *web;
static char             cookie[128];
static char            *serves[] = {"example.org"};
static char            *admins[] = {"admin@example.org"};

static void
init(void)
{
	struct adm_env    env;
	struct adm_result r;
	struct http_req   rq;
	struct http_resp  rs;
	char              url[512], form[128];
	const char       *t, *c;
	char             *h;
	size_t            n;

	if (freopen("/dev/null", "w", stderr) == NULL)
		abort();
	log_init(1, 0, "fuzz");
	config_defaults(&cfg);
	cfg.serves.v = serves;
	cfg.serves.n = 1;
	cfg.admins.v = admins;
	cfg.admins.n = 1;
	cfg.http_listen = "127.0.0.1:1";
	memset(&env, 0, sizeof env);
	env.pol = pol_new(&cfg, NULL);
	env.cfg = &cfg;
	web = web_new();
	web_set_env(web, &env);
	pol_admin(env.pol, FG_SUBJ_ACCOUNT, "bot@example.org",
		  FG_OVR_QUARANTINE, "auto", "spam", 0);
	/* one live session for the requests that carry its cookie */
	web_login_link(web, "admin@example.org", clock_wall_ms(), url,
		       sizeof url, &r);
	if ((t = strstr(url, "t=")) == NULL)
		abort();
	snprintf(form, sizeof form, "%s", t);
	memset(&rq, 0, sizeof rq);
	rq.method = "POST";
	rq.path = "/admin/login";
	rq.query = "";
	rq.body = form;
	rq.bodylen = strlen(form);
	rs.body = evbuffer_new();
	rs.headers = evbuffer_new();
	web_handle(&rq, &rs, web);
	n = evbuffer_get_length(rs.headers);
	h = calloc(1, n + 1);
	evbuffer_copyout(rs.headers, h, n);
	if ((c = strstr(h, "fg_session=")) == NULL)
		abort();
	snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(c, ";"), c);
	free(h);
	evbuffer_free(rs.body);
	evbuffer_free(rs.headers);
}

static void
check_escaped(const char *s)
{
	struct evbuffer *b = evbuffer_new();
	size_t           n;
	char            *out;

	web_esc(b, s);
	n = evbuffer_get_length(b);
	out = malloc(n + 1);
	evbuffer_copyout(b, out, n);
	out[n] = '\0';
	if (strpbrk(out, "<>\"'") != NULL || memchr(out, '\0', n) != NULL ||
	    utf8_check(out, NULL) != 0)
		abort();
	free(out);
	evbuffer_free(b);
}

static void
one(const char *method, const char *path, const char *query, const char *ck,
    const char *body, size_t blen)
{
	struct http_req  rq;
	struct http_resp rs;

	memset(&rq, 0, sizeof rq);
	rq.method = method;
	rq.path = path;
	rq.query = query;
	rq.cookie = ck;
	rq.body = body;
	rq.bodylen = blen;
	rq.ctype = "application/x-www-form-urlencoded";
	rs.status = 200;
	rs.body = evbuffer_new();
	rs.headers = evbuffer_new();
	web_handle(&rq, &rs, web);
	if (rs.status < 200 || rs.status > 599)
		abort();
	evbuffer_free(rs.body);
	evbuffer_free(rs.headers);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const paths[] = {
	    "/admin",       "/admin/",       "/admin/subject",
	    "/admin/hits",  "/admin/charts", "/admin/act",
	    "/admin/login", "/admin/why",    "/admin/nothing",
	};
	char  *buf = malloc(len + 3), *query, *ck, *body, out[WEB_FIELD_MAX];
	size_t blen, i;

	if (web == NULL)
		init();
	memcpy(buf, data, len);
	buf[len] = buf[len + 1] = buf[len + 2] = '\0';
	query = buf;
	ck = query + strlen(query) + 1;
	body = ck + strlen(ck) + 1;
	blen = body <= buf + len ? (size_t)(buf + len - body) : 0;
	if (body > buf + len)
		body = buf + len; /* the terminating NUL */
	check_escaped(query);
	(void)web_form_get(body, blen, "subject", out, sizeof out);
	(void)web_form_get(query, strlen(query), "s", out, sizeof out);
	if (web_cookie_get(ck, "fg_session", out, sizeof out) == 1 &&
	    strlen(out) >= sizeof out)
		abort();
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		one("GET", paths[i], query, ck, "", 0);
		one("GET", paths[i], query, cookie, "", 0);
	}
	/* a POST with the session but a fuzzed form: the CSRF check must
	 * refuse it (a 64-digit token cannot be guessed here) */
	one("POST", "/admin/act", "", cookie, body, blen);
	one("POST", "/admin/logout", "", ck, body, blen);
	free(buf);
	return 0;
}
