/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the moderation page: routing under /admin, login with a
 * one-time link, sessions and CSRF checks, and the actions (web.h).
 *
 * Without a live session every page but the explanation and the login
 * page answers 303 to the explanation. A POST must carry the session's
 * CSRF token in the form, whatever the cookie says: SameSite=Strict
 * already keeps other sites' forms from sending the cookie, the token
 * also covers browsers that ignore SameSite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "web_int.h"

#define COOKIE "fg_session" /* the session cookie's name */

struct web *
web_new(void)
{
	struct web *w = xcalloc(1, sizeof *w);

	w->sess = websess_new();
	w->stats = webstats_new();
	return w;
}

void
web_free(struct web *w)
{
	if (w == NULL)
		return;
	websess_free(w->sess);
	webstats_free(w->stats);
	free(w);
}

void
web_set_env(struct web *w, const struct adm_env *env)
{
	w->env = *env;
	w->env.reload = NULL; /* not a page's business */
	w->env.web = w;
}

void
web_tick(struct web *w, int64_t now)
{
	if (w->env.pol != NULL)
		webstats_tick(w->stats, w->env.pol, now);
}

/* The base URL of the pages, without a trailing slash. */
static void
base_url(const struct fg_config *cfg, char *buf, size_t bufsz)
{
	size_t n;

	if (cfg != NULL && cfg->http_public_url != NULL)
		snprintf(buf, bufsz, "%s", cfg->http_public_url);
	else
		snprintf(buf, bufsz, "http://%s",
			 cfg != NULL && cfg->http_listen ? cfg->http_listen
							 : "127.0.0.1");
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
}

void
web_login_link(struct web *w, const char *admin, int64_t now, char *url,
	       size_t urlsz, struct adm_result *r)
{
	char tok[WEBSESS_HEX + 1], base[512], bare[WEBSESS_ADMIN_MAX];
	char esc[LOG_ESC_MAX];
	const struct fg_config *cfg = w != NULL ? w->env.cfg : NULL;

	url[0] = '\0';
	if (w == NULL || cfg == NULL || cfg->http_listen == NULL) {
		r->status = ADM_REFUSED;
		snprintf(r->msg, sizeof r->msg,
			 "the moderation page is off: set [http] listen");
		return;
	}
	if (admin == NULL || !adm_is_admin(cfg, admin)) {
		r->status = ADM_REFUSED;
		snprintf(r->msg, sizeof r->msg,
			 "not one of [admins] jids: %.200s",
			 admin != NULL ? admin : "");
		return;
	}
	snprintf(bare, sizeof bare, "%.*s", (int)strcspn(admin, "/"), admin);
	websess_token_new(w->sess, bare, now, tok);
	base_url(cfg, base, sizeof base);
	snprintf(url, urlsz, "%s" WEB_PREFIX "/login?t=%s", base, tok);
	r->status = ADM_OK;
	snprintf(r->msg, sizeof r->msg,
		 "one-time login link for %.200s, valid %d minutes", bare,
		 WEBSESS_TOKEN_TTL_MS / 60000);
	log_info("web: login link issued for %s",
		 log_esc(esc, sizeof esc, bare));
}

static void
redirect(struct http_resp *rs, const char *where)
{
	rs->status = 303;
	web_put(rs->headers, "Location: %s\r\n", where);
	web_put(rs->body, "<a href=\"%s\">continue</a>\n", where);
}

/* Why there is nothing to see here without logging in. */
static void
page_why(struct http_resp *rs)
{
	web_page_begin(rs->body, "Log in first", NULL, NULL);
	web_put(rs->body,
		"<p>The moderation page needs a login. Ask floodgate for a "
		"one-time link: run the ad-hoc command <b>web-login</b> on "
		"the floodgate component from your admin account, or "
		"<code>floodgatectl web-login you@example.org</code> on the "
		"server, and open the link it gives within %d minutes.</p>"
		"<p>A link works once. A session lasts %d hours, or until an "
		"hour without use, or until you log out.</p>",
		WEBSESS_TOKEN_TTL_MS / 60000, WEBSESS_TTL_MS / 3600000);
	web_page_end(rs->body);
}

static const char *
secure_flag(const struct web *w)
{
	const char *u = w->env.cfg != NULL ? w->env.cfg->http_public_url : NULL;

	return u != NULL && strncmp(u, "https://", 8) == 0 ? "; Secure" : "";
}

/* GET shows a button, POST spends the token: chat clients fetch links
 * for previews, and a preview must not use up the admin's login. */
static void
login(struct web *w, const struct http_req *rq, struct http_resp *rs,
      int64_t now)
{
	char                tok[WEBSESS_HEX + 8], sid[WEBSESS_HEX + 1];
	char                esc[LOG_ESC_MAX];
	struct websess_info si;
	int                 post = strcmp(rq->method, "POST") == 0;
	int                 got;

	got = post ? web_form_get(rq->body, rq->bodylen, "t", tok, sizeof tok)
		   : web_form_get(rq->query, strlen(rq->query), "t", tok,
				  sizeof tok);
	if (got == 1 && post && websess_login(w->sess, tok, now, sid) == 0) {
		web_put(rs->headers,
			"Set-Cookie: " COOKIE "=%s; Path=" WEB_PREFIX
			"; HttpOnly; SameSite=Strict; Max-Age=%d%s\r\n",
			sid, WEBSESS_TTL_MS / 1000, secure_flag(w));
		/* a page, not a redirect: after a cross-site navigation a
		 * redirect would not carry the Strict cookie */
		web_page_begin(rs->body, "Logged in", NULL, NULL);
		web_put(rs->body, "<p><a href=\"" WEB_PREFIX
				  "/\">Open the review queue</a></p>");
		web_page_end(rs->body);
		if (websess_find(w->sess, sid, now, &si) == 0)
			log_info("web: %s logged in",
				 log_esc(esc, sizeof esc, si.admin));
		return;
	}
	if (got == 1 && !post && websess_token_valid(w->sess, tok, now)) {
		web_page_begin(rs->body, "Log in", NULL, NULL);
		web_put(rs->body, "<form method=\"post\" action=\"" WEB_PREFIX
				  "/login\"><input type=\"hidden\" "
				  "name=\"t\" value=\"");
		web_esc(rs->body, tok);
		web_put(rs->body, "\"><button id=\"login\">Log in to the "
				  "moderation page</button></form>");
		web_page_end(rs->body);
		return;
	}
	rs->status = 403;
	web_page_begin(rs->body, "This login link is not valid", NULL, NULL);
	web_put(rs->body,
		"<p class=\"err\">The link was used already, has expired, "
		"or is not one floodgate gave. Ask for a new one with the "
		"ad-hoc command <b>web-login</b> or <code>floodgatectl "
		"web-login</code>.</p>");
	web_page_end(rs->body);
}

/* POST /admin/act: unblock, block or allowlist one subject. */
static void
act(struct web_ctx *x)
{
	static const struct {
		const char   *name;
		enum adm_verb verb;
	} verbs[] = {
	    {"unblock", ADM_UNBLOCK},
	    {"block", ADM_BLOCK},
	    {"allowlist", ADM_ALLOWLIST},
	    {"quarantine", ADM_QUARANTINE},
	};
	const struct http_req *rq = x->rq;
	char                   verb[32], subj[WEB_FIELD_MAX];
	char                   reason[WEB_FIELD_MAX], dur[32], esc[LOG_ESC_MAX];
	struct adm_result      r;
	size_t                 i;
	struct evbuffer       *b = x->rs->body;

	subj[0] = '\0';
	if (web_form_get(rq->body, rq->bodylen, "verb", verb, sizeof verb) !=
		1 ||
	    web_form_get(rq->body, rq->bodylen, "subject", subj, sizeof subj) !=
		1 ||
	    web_form_get(rq->body, rq->bodylen, "reason", reason,
			 sizeof reason) == -1 ||
	    web_form_get(rq->body, rq->bodylen, "for", dur, sizeof dur) == -1) {
		r.status = ADM_BAD;
		snprintf(r.msg, sizeof r.msg, "the form is incomplete");
		goto show;
	}
	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(verb, verbs[i].name) == 0)
			break;
	if (i == sizeof verbs / sizeof verbs[0]) {
		r.status = ADM_BAD;
		snprintf(r.msg, sizeof r.msg, "unknown action");
		goto show;
	}
	adm_act(&x->w->env, verbs[i].verb, x->si.admin, subj, reason,
		dur[0] != '\0' ? dur : NULL, &r);
	if (r.status == ADM_OK)
		log_info("web %s by %s: %s", verbs[i].name,
			 log_esc(esc, sizeof esc, x->si.admin), r.msg);
show:
	x->rs->status = r.status == ADM_OK ? 200 : 400;
	web_page_begin(b, r.status == ADM_OK ? "Done" : "Not done", x->si.admin,
		       x->si.csrf);
	web_put(b, "<p class=\"%s\" id=\"result\">",
		r.status == ADM_OK ? "note" : "err");
	web_esc(b, r.msg);
	web_put(b, "</p><p><a href=\"" WEB_PREFIX "/\">Back to the queue</a>");
	if (subj[0] != '\0' && r.status != ADM_BAD) {
		web_put(b, " &middot; <a href=\"" WEB_PREFIX "/subject?s=");
		web_urlenc(b, subj);
		web_put(b, "\">");
		web_esc(b, subj);
		web_put(b, "</a>");
	}
	web_put(b, "</p>");
	web_page_end(b);
}

void
web_handle(const struct http_req *rq, struct http_resp *rs, void *arg)
{
	struct web    *w = arg;
	struct web_ctx x;
	const char    *p = rq->path + strlen(WEB_PREFIX);
	char           sid[WEBSESS_HEX + 8], csrf[WEBSESS_HEX + 8];
	int            post = strcmp(rq->method, "POST") == 0;

	memset(&x, 0, sizeof x);
	x.w = w;
	x.rq = rq;
	x.rs = rs;
	x.now = clock_wall_ms();
	web_security_headers(rs->headers);
	if (strcmp(p, "/why") == 0 && !post) {
		page_why(rs);
		return;
	}
	if (strcmp(p, "/login") == 0) {
		login(w, rq, rs, x.now);
		return;
	}
	/* an admin dropped from [admins] jids (and reloaded) is out at
	 * once, whatever sessions are open */
	if (web_cookie_get(rq->cookie, COOKIE, sid, sizeof sid) == 1 &&
	    websess_find(w->sess, sid, x.now, &x.si) == 0 &&
	    (w->env.cfg == NULL || !adm_is_admin(w->env.cfg, x.si.admin)))
		websess_end(w->sess, sid);
	if (web_cookie_get(rq->cookie, COOKIE, sid, sizeof sid) != 1 ||
	    websess_find(w->sess, sid, x.now, &x.si) == -1) {
		if (post) {
			rs->status = 403;
			web_page_begin(rs->body, "Not logged in", NULL, NULL);
			web_put(rs->body, "<p class=\"err\">No session: "
					  "nothing was done.</p>");
			web_page_end(rs->body);
		} else
			redirect(rs, WEB_PREFIX "/why");
		return;
	}
	if (post) {
		if (rq->ctype == NULL ||
		    strncmp(rq->ctype, "application/x-www-form-urlencoded",
			    33) != 0 ||
		    web_form_get(rq->body, rq->bodylen, "csrf", csrf,
				 sizeof csrf) != 1 ||
		    !websess_csrf_ok(w->sess, sid, csrf, x.now)) {
			rs->status = 403;
			web_page_begin(rs->body, "Refused", x.si.admin,
				       x.si.csrf);
			web_put(rs->body,
				"<p class=\"err\" id=\"result\">The form did "
				"not carry this session's token: nothing was "
				"done. Reload the page and try again.</p>");
			web_page_end(rs->body);
			return;
		}
		if (strcmp(p, "/act") == 0)
			act(&x);
		else if (strcmp(p, "/logout") == 0) {
			websess_end(w->sess, sid);
			web_put(rs->headers,
				"Set-Cookie: " COOKIE "=; Path=" WEB_PREFIX
				"; HttpOnly; SameSite=Strict; Max-Age=0%s\r\n",
				secure_flag(w));
			redirect(rs, WEB_PREFIX "/why");
		} else
			rs->status = 404;
		return;
	}
	if (strcmp(p, "") == 0 || strcmp(p, "/") == 0)
		web_page_queue(&x);
	else if (strcmp(p, "/subject") == 0)
		web_page_subject(&x);
	else if (strcmp(p, "/hits") == 0)
		web_page_hits(&x);
	else if (strcmp(p, "/charts") == 0)
		web_page_charts(&x);
	else {
		rs->status = 404;
		web_page_begin(rs->body, "Not found", x.si.admin, x.si.csrf);
		web_page_end(rs->body);
	}
}
