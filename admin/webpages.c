/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the moderation page's tables: the review queue, one
 * subject (the inspect view and its timeline from the audit log), and
 * the recent limit hits. Every string from outside goes through
 * web_esc() (or web_urlenc() inside a link).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../storage/store.h"
#include "web_int.h"

#define TIMELINE_MAX 200  /* audit entries on a subject's page */
#define QUEUE_MAX 1000000 /* subjects one queue page looks through */

/* One queued subject, copied out of the policy's table. */
struct qrow {
	enum fg_subj     type;
	enum fg_verdict  eff;
	enum fg_override ovr;
	double           score;
	int64_t          updated, expires;
	char            *key, *signals, *actor, *reason;
};

/* The newest audit entry of a row: why it is where it is. */
struct lastaudit {
	struct evbuffer *b;
	int              seen;
};

static void
on_last_audit(const struct store_audit *a, void *arg)
{
	struct lastaudit *la = arg;

	if (la->seen++ > 0)
		return;
	web_put(la->b, "<br>%s &rarr; %s: ", fg_verdict_name(a->old_verdict),
		fg_verdict_name(a->new_verdict));
	web_esc(la->b, a->reason);
}

/*
 * A page of the queue in two passes over the listed subjects, so that a
 * page copies its own rows and not all of them: the first pass takes
 * only the times of last change, whose sorted order gives the page's
 * time window [lo, hi]; the second copies the subjects inside that
 * window (the page, and others changed in the same milliseconds).
 */
struct qlist {
	int          want[FG_V__MAX]; /* verdicts shown */
	int64_t     *t;               /* pass 1: every wanted subject's time */
	size_t       nt, tcap;
	int64_t      lo, hi; /* pass 2: the page's window */
	struct qrow *v;      /* pass 2: the subjects inside it */
	size_t       n, cap;
};

static int
wanted(const struct qlist *q, const struct pol_info *pi)
{
	return (int)pi->effective >= 0 && pi->effective < FG_V__MAX &&
	       q->want[pi->effective];
}

static void
on_time(const struct pol_info *pi, void *arg)
{
	struct qlist *q = arg;

	if (!wanted(q, pi) || q->nt >= QUEUE_MAX)
		return;
	if (q->nt == q->tcap) {
		q->tcap = q->tcap ? q->tcap * 2 : 1024;
		q->t = xreallocarray(q->t, q->tcap, sizeof *q->t);
	}
	q->t[q->nt++] = pi->updated;
}

static int
time_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
on_listed(const struct pol_info *pi, void *arg)
{
	struct qlist *q = arg;
	struct qrow  *r;

	if (!wanted(q, pi) || pi->updated < q->lo || pi->updated > q->hi ||
	    q->n >= QUEUE_MAX)
		return;
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 256;
		q->v = xreallocarray(q->v, q->cap, sizeof *q->v);
	}
	r = &q->v[q->n++];
	r->type = pi->type;
	r->eff = pi->effective;
	r->ovr = pi->override;
	r->score = pi->score;
	r->updated = pi->updated;
	r->expires = pi->expires;
	r->key = xstrdup(pi->key);
	r->signals = xstrdup(pi->signals != NULL ? pi->signals : "");
	r->actor = pi->actor != NULL ? xstrdup(pi->actor) : NULL;
	r->reason = pi->reason != NULL ? xstrdup(pi->reason) : NULL;
}

/* Newest first; ties by key so pages stay put between reloads. */
static int
qrow_cmp(const void *a, const void *b)
{
	const struct qrow *x = a, *y = b;

	if (x->updated != y->updated)
		return x->updated < y->updated ? 1 : -1;
	if (x->type != y->type)
		return (int)x->type - (int)y->type;
	return strcmp(x->key, y->key);
}

static void
qlist_free(struct qlist *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->v[i].key);
		free(q->v[i].signals);
		free(q->v[i].actor);
		free(q->v[i].reason);
	}
	free(q->v);
	free(q->t);
}

static void
subject_link(struct evbuffer *b, enum fg_subj type, const char *key)
{
	web_put(b,
		"<a href=\"" WEB_PREFIX "/subject?s=%s:", fg_subj_name(type));
	web_urlenc(b, key);
	web_put(b, "\">");
	web_esc(b, key);
	web_put(b, "</a>");
}

#define ACT_UNBLOCK 0x1
#define ACT_BLOCK 0x2
#define ACT_ALLOW 0x4
#define ACT_ALL (ACT_UNBLOCK | ACT_BLOCK | ACT_ALLOW)

/* One-click actions with a reason field each; unblock_label names the
 * unblock button ("Reset" where it is about a limit hit). */
static void
action_forms(struct web_ctx *x, enum fg_subj type, const char *key,
	     enum fg_verdict eff, int which, const char *unblock_label)
{
	static const struct {
		int         bit;
		const char *verb, *label, *dur;
	} acts[] = {
	    {ACT_UNBLOCK, "unblock", "Unblock", NULL},
	    {ACT_BLOCK, "block", "Confirm block", "forever"},
	    {ACT_ALLOW, "allowlist", "Allowlist", "forever"},
	};
	struct evbuffer *b = x->rs->body;
	size_t           i;

	/* a network is only ever throttled (doc/design.md): no block */
	if (eff == FG_V_BLOCK || type == FG_SUBJ_PREFIX)
		which &= ~ACT_BLOCK;
	for (i = 0; i < sizeof acts / sizeof acts[0]; i++) {
		if (!(which & acts[i].bit))
			continue;
		web_put(
		    b,
		    "<form class=\"act\" method=\"post\" action=\"" WEB_PREFIX
		    "/act\"><input type=\"hidden\" name=\"csrf\" "
		    "value=\"");
		web_esc(b, x->si.csrf);
		web_put(b,
			"\"><input type=\"hidden\" name=\"verb\" "
			"value=\"%s\"><input type=\"hidden\" "
			"name=\"subject\" value=\"%s:",
			acts[i].verb, fg_subj_name(type));
		web_esc(b, key);
		web_put(b, "\">");
		if (acts[i].dur != NULL)
			web_put(b,
				"<input type=\"hidden\" name=\"for\" "
				"value=\"%s\">",
				acts[i].dur);
		web_put(b,
			"<input type=\"text\" name=\"reason\" "
			"placeholder=\"reason\"%s><button name=\"do\" "
			"value=\"%s\">%s</button></form>",
			acts[i].bit == ACT_BLOCK ? " required" : "",
			acts[i].verb,
			acts[i].bit == ACT_UNBLOCK && unblock_label != NULL
			    ? unblock_label
			    : acts[i].label);
	}
}

static const char *
vclass(enum fg_verdict v)
{
	return v == FG_V_BLOCK ? "b" : v == FG_V_QUARANTINE ? "q" : "t";
}

void
web_page_queue(struct web_ctx *x)
{
	struct qlist     q;
	struct evbuffer *b = x->rs->body;
	char             show[32], num[16], t1[32], t2[32];
	size_t           page = 0, i, start, end, pages, above;
	struct qrow     *r;

	memset(&q, 0, sizeof q);
	if (web_form_get(x->rq->query, strlen(x->rq->query), "show", show,
			 sizeof show) != 1)
		snprintf(show, sizeof show, "review");
	if (web_form_get(x->rq->query, strlen(x->rq->query), "p", num,
			 sizeof num) == 1)
		page = strtoul(num, NULL, 10);
	if (strcmp(show, "block") == 0)
		q.want[FG_V_BLOCK] = 1;
	else if (strcmp(show, "all") == 0)
		q.want[FG_V_THROTTLE] = q.want[FG_V_QUARANTINE] =
		    q.want[FG_V_BLOCK] = 1;
	else {
		snprintf(show, sizeof show, "review");
		q.want[FG_V_THROTTLE] = q.want[FG_V_QUARANTINE] = 1;
	}
	pol_foreach_listed(x->w->env.pol, on_time, &q);
	if (q.nt > 1)
		qsort(q.t, q.nt, sizeof *q.t, time_desc);
	pages = (q.nt + WEB_PAGE_ROWS - 1) / WEB_PAGE_ROWS;
	if (page >= pages)
		page = pages ? pages - 1 : 0;
	start = page * WEB_PAGE_ROWS;
	end = start + WEB_PAGE_ROWS < q.nt ? start + WEB_PAGE_ROWS : q.nt;
	above = 0;
	if (start < end) {
		q.hi = q.t[start];
		q.lo = q.t[end - 1];
		/* rows newer than the window come before it */
		while (above < q.nt && q.t[above] > q.hi)
			above++;
		pol_foreach_listed(x->w->env.pol, on_listed, &q);
		if (q.n > 1)
			qsort(q.v, q.n, sizeof *q.v, qrow_cmp);
	}
	web_page_begin(b, "Review queue", x->si.admin, x->si.csrf);
	web_put(b,
		"<p>%zu subject%s %s, newest first. Show: "
		"<a href=\"?show=review\">quarantined and throttled</a> "
		"&middot; <a href=\"?show=block\">blocked</a> &middot; "
		"<a href=\"?show=all\">all</a></p>",
		q.nt, q.nt == 1 ? "" : "s",
		strcmp(show, "review") == 0  ? "quarantined or throttled"
		: strcmp(show, "block") == 0 ? "blocked"
					     : "under a verdict");
	web_put(b, "<table id=\"queue\"><tr><th>Subject</th><th>Verdict</th>"
		   "<th>Score</th><th>Last change</th><th>Expires</th>"
		   "<th>Evidence</th><th>Action</th></tr>\n");
	/* the window's copies start at global position above */
	for (i = start - above; i < end - above && i < q.n; i++) {
		r = &q.v[i];
		web_put(b, "<tr><td>%s ", fg_subj_name(r->type));
		subject_link(b, r->type, r->key);
		web_put(b,
			"</td><td class=\"%s\">%s%s</td><td>%.2f</td>"
			"<td>%s</td><td>%s</td><td class=\"ev\">",
			vclass(r->eff), fg_verdict_name(r->eff),
			r->ovr != FG_OVR_NONE ? " (admin)" : "", r->score,
			adm_fmt_time(r->updated, t1, sizeof t1),
			r->expires ? adm_fmt_time(r->expires, t2, sizeof t2)
				   : "never");
		web_esc(b, r->signals[0] ? r->signals : "no recent signals");
		/* an automatic verdict: its audit entry says why */
		if (x->w->env.store != NULL && r->ovr == FG_OVR_NONE) {
			struct lastaudit la = {b, 0};

			(void)store_audit_recent(x->w->env.store, r->type,
						 r->key, 1, on_last_audit, &la);
		}
		if (r->reason != NULL && r->reason[0] != '\0') {
			web_put(b, "<br>");
			web_esc(b, r->actor != NULL ? r->actor : "auto");
			web_put(b, ": ");
			web_esc(b, r->reason);
		}
		web_put(b, "</td><td>");
		action_forms(x, r->type, r->key, r->eff, ACT_ALL, NULL);
		web_put(b, "</td></tr>\n");
	}
	web_put(b, "</table><p class=\"pager\">");
	if (page > 0)
		web_put(b, "<a href=\"?show=%s&amp;p=%zu\">newer</a>", show,
			page - 1);
	web_put(b, "page %zu of %zu ", pages ? page + 1 : 0, pages);
	if (page + 1 < pages)
		web_put(b, "<a href=\"?show=%s&amp;p=%zu\">older</a>", show,
			page + 1);
	web_put(b, "</p>");
	web_page_end(b);
	qlist_free(&q);
}

struct timeline {
	struct evbuffer *b;
	size_t           n;
};

static void
on_audit(const struct store_audit *a, void *arg)
{
	struct timeline *tl = arg;
	char             t[32];

	tl->n++;
	web_put(tl->b, "<tr><td>%s</td><td>%s &rarr; %s</td><td>",
		adm_fmt_time(a->at, t, sizeof t),
		fg_verdict_name(a->old_verdict),
		fg_verdict_name(a->new_verdict));
	web_esc(tl->b, a->actor);
	web_put(tl->b, "</td><td>");
	web_esc(tl->b, a->reason);
	web_put(tl->b, "</td><td class=\"ev\">");
	web_esc(tl->b, a->signals);
	web_put(tl->b, "</td></tr>\n");
}

void
web_page_subject(struct web_ctx *x)
{
	struct adm_view  *v = xcalloc(1, sizeof *v);
	struct adm_result r;
	struct evbuffer  *b = x->rs->body;
	struct timeline   tl = {b, 0};
	char              s[WEB_FIELD_MAX], t[32];

	if (web_form_get(x->rq->query, strlen(x->rq->query), "s", s,
			 sizeof s) != 1)
		s[0] = '\0';
	adm_inspect(&x->w->env, s, v, &r);
	if (r.status == ADM_BAD) {
		x->rs->status = 400;
		web_page_begin(b, "Inspect", x->si.admin, x->si.csrf);
		web_put(b, "<p class=\"err\">");
		web_esc(b, r.msg);
		web_put(b, "</p>");
		goto done;
	}
	web_page_begin(b, v->key, x->si.admin, x->si.csrf);
	web_put(b,
		"<table id=\"inspect\"><tr><th>Type</th><td>%s</td></tr>"
		"<tr><th>Verdict</th><td class=\"%s\">%s</td></tr>"
		"<tr><th>Automatic</th><td>%s, score %.2f%s</td></tr>"
		"<tr><th>Expires</th><td>%s</td></tr>"
		"<tr><th>Admin override</th><td>%s",
		fg_subj_name(v->type), vclass(v->effective),
		fg_verdict_name(v->effective), fg_verdict_name(v->verdict),
		v->score, v->known ? "" : " (nothing on record)",
		v->expires ? adm_fmt_time(v->expires, t, sizeof t) : "never",
		fg_override_name(v->override));
	if (v->override != FG_OVR_NONE) {
		web_put(b, " by ");
		web_esc(b, v->actor);
		web_put(b, ": ");
		web_esc(b, v->reason);
	}
	web_put(b, "</td></tr><tr><th>Signals</th><td class=\"ev\">");
	web_esc(b, v->signals[0] ? v->signals : "none");
	web_put(b,
		"</td></tr><tr><th>Blocklist</th><td>%s %s</td></tr>"
		"<tr><th>Act</th><td>",
		v->published ? "listed on" : "not listed on", v->pubsub_node);
	action_forms(x, v->type, v->key, v->effective, ACT_ALL, NULL);
	web_put(b, "</td></tr></table><h2>Timeline</h2>"
		   "<table id=\"timeline\"><tr><th>When</th><th>Change</th>"
		   "<th>By</th><th>Reason</th><th>Evidence</th></tr>\n");
	if (x->w->env.store != NULL)
		(void)store_audit_recent(x->w->env.store, v->type, v->key,
					 TIMELINE_MAX, on_audit, &tl);
	web_put(b, "</table>");
	if (tl.n == 0)
		web_put(b, "<p>Nothing in the audit log.</p>");
done:
	web_page_end(b);
	free(v);
}

void
web_page_hits(struct web_ctx *x)
{
	struct webstats_recent *r;
	struct evbuffer        *b = x->rs->body;
	char                    num[16], t[32];
	size_t                  page = 0, n, i;

	if (web_form_get(x->rq->query, strlen(x->rq->query), "p", num,
			 sizeof num) == 1)
		page = strtoul(num, NULL, 10) % (WEBSTATS_RECENT + 1);
	r = xcalloc(WEB_PAGE_ROWS, sizeof *r);
	n = webstats_recent(x->w->stats, page * WEB_PAGE_ROWS, r,
			    WEB_PAGE_ROWS);
	web_page_begin(b, "Recent limit hits", x->si.admin, x->si.csrf);
	web_put(b,
		"<p>Refused gates and failed logins, newest first (the "
		"last %d are kept). <b>Reset</b> lifts the subject's verdict "
		"and gives it a fresh score and rate allowance, as unblock "
		"does.</p><table id=\"hits\"><tr><th>When</th><th>Why</th>"
		"<th>What</th><th>Subject</th><th>Action</th></tr>\n",
		WEBSTATS_RECENT);
	for (i = 0; i < n; i++) {
		web_put(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s ",
			adm_fmt_time(r[i].at, t, sizeof t),
			pol_hit_why_name(r[i].h.why), fg_kind_name(r[i].h.kind),
			fg_subj_name(r[i].h.type));
		subject_link(b, r[i].h.type, r[i].h.key);
		web_put(b, "</td><td>");
		/* a key cut to fit the ring is not the subject: no action */
		if (strlen(r[i].h.key) + 1 < sizeof r[i].h.key)
			action_forms(x, r[i].h.type, r[i].h.key, FG_V_ALLOW,
				     ACT_UNBLOCK, "Reset");
		web_put(b, "</td></tr>\n");
	}
	web_put(b, "</table><p class=\"pager\">");
	if (page > 0)
		web_put(b, "<a href=\"?p=%zu\">newer</a>", page - 1);
	if (n == WEB_PAGE_ROWS)
		web_put(b, "<a href=\"?p=%zu\">older</a>", page + 1);
	web_put(b, "</p>");
	web_page_end(b);
	free(r);
}
