/* SPDX-License-Identifier: ISC */
/*
 * floodgate - alerts: what an operator should hear of without asking.
 *
 * The policy's notes (automatic quarantines and blocks, registration
 * and content waves, spam reports, spamtrap hits, one of our domains on
 * an upstream list) and the link's own story (down for more than
 * [alerts] link-down, told once it is back) are queued here, bounded.
 * At most once per [alerts] interval the queue becomes one chat digest
 * (a quarter interval after its first event, so that a wave is one
 * digest) to every admin who has not opted out (ad-hoc command
 * "alerts", kept in the [alerts] state file) and, with [alerts]
 * webhook, one JSON document.
 * Each line names the floodgatectl command to run. A note costs a few
 * copies on the gate path; everything else runs from the timer.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../admin/control.h"
#include "../admin/verbs.h"
#include "../core/clock.h"
#include "../core/http.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "comp_int.h"
#include "webhook.h"

#define ALERTS_PENDING_MAX 100 /* events in one digest; more are counted */
#define ALERTS_HELD_MAX 32768  /* bytes of digests held while link down */
#define ALERTS_FIELD_MAX 200   /* bytes kept of one untrusted field */
#define ALERTS_OPTOUT_MAX 1024 /* opted-out admins remembered */
#define ALERTS_STATE_LINE 3072 /* bytes of one state file line */
#define ALERTS_GATHER_DIV                                                      \
	4 /* first event + interval / this: one wave, one digest */

enum alert_kind {
	AK_VERDICT = POL_NOTE_VERDICT,
	AK_REG_WAVE = POL_NOTE_REG_WAVE,
	AK_CONTENT_WAVE = POL_NOTE_CONTENT_WAVE,
	AK_REPORT = POL_NOTE_REPORT,
	AK_TRAP = POL_NOTE_TRAP,
	AK_OWN_LISTED = POL_NOTE_OWN_LISTED,
	AK_LINK_DOWN = POL_NOTE__MAX,
	AK__MAX
};

static const char *const kind_names[AK__MAX] = {
    "verdict",  "registration-wave", "content-wave", "report",
    "spamtrap", "own-domain-listed", "link-down",
};

/* One queued event; one allocation, strings after it. */
struct alert_ev {
	STAILQ_ENTRY(alert_ev) entry;
	int64_t         at;    /* unix ms */
	int64_t         since; /* waves: cut-off; link: down since */
	enum alert_kind kind;
	enum fg_subj    type;
	enum fg_verdict verdict;
	int             would;
	char           *key;  /* NULL: none */
	char           *text; /* NULL: none */
};

struct alerts {
	struct comp    *c;
	struct event   *timer;
	struct webhook *wh;
	char           *wh_url; /* what wh was made for */
	char           *wh_ca;
	char           *state; /* opted-out admins file */
	char          **out;   /* opted-out admins, bare JIDs */
	size_t          nout;
	STAILQ_HEAD(, alert_ev) q;
	size_t   n;
	uint64_t more;       /* events past ALERTS_PENDING_MAX */
	char    *held;       /* digest text not yet delivered */
	int64_t  down_since; /* unix ms; 0 while up */
	uint64_t events[AK__MAX];
	uint64_t digests; /* chat messages sent */
	int64_t  last;    /* unix ms of the last digest */
};

static void on_note(const struct pol_note *, void *);
static void on_timer(evutil_socket_t, short, void *);
static void schedule(struct alerts *);

/* A copy of s, at most ALERTS_FIELD_MAX bytes, cut on a UTF-8 boundary. */
static char *
field_dup(const char *s)
{
	size_t n;

	if (s == NULL)
		return NULL;
	n = strnlen(s, ALERTS_FIELD_MAX);
	while (n > 0 && n < strlen(s) && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return xstrndup(s, n);
}

static void
queue(struct alerts *a, enum alert_kind kind, enum fg_subj type,
      const char *key, enum fg_verdict v, int would, int64_t since,
      const char *text)
{
	struct alert_ev *e;

	a->events[kind]++;
	if (a->n >= ALERTS_PENDING_MAX) {
		a->more++;
		return;
	}
	e = xcalloc(1, sizeof *e);
	e->at = clock_wall_ms();
	e->kind = kind;
	e->type = type;
	e->key = field_dup(key);
	e->verdict = v;
	e->would = would;
	e->since = since;
	e->text = field_dup(text);
	STAILQ_INSERT_TAIL(&a->q, e, entry);
	a->n++;
	schedule(a);
}

/* The digest goes out a little after the first event (the rest of a
 * wave joins it), and never sooner than interval after the last. */
static void
schedule(struct alerts *a)
{
	int64_t        iv = (int64_t)a->c->cfg->alerts_interval_s * 1000;
	int64_t        now = clock_wall_ms(), at;
	struct timeval tv;

	if (evtimer_pending(a->timer, NULL))
		return;
	at = now + iv / ALERTS_GATHER_DIV;
	if (a->last != 0 && a->last + iv > at)
		at = a->last + iv;
	tv.tv_sec = (time_t)((at - now) / 1000);
	tv.tv_usec = (suseconds_t)((at - now) % 1000) * 1000;
	evtimer_add(a->timer, &tv);
}

static void
on_note(const struct pol_note *n, void *arg)
{
	struct comp *c = arg;

	if ((int)n->what < 0 || n->what >= POL_NOTE__MAX)
		return;
	queue(c->alerts, (enum alert_kind)n->what, n->type, n->key, n->verdict,
	      n->would, n->since, n->text);
}

/* ---- opt-out state, one bare JID a line ---- */

static int
opted_out(const struct alerts *a, const char *jid)
{
	size_t i;

	for (i = 0; i < a->nout; i++)
		if (strcasecmp(a->out[i], jid) == 0)
			return 1;
	return 0;
}

static void
state_load(struct alerts *a)
{
	FILE  *fp;
	char   line[ALERTS_STATE_LINE];
	size_t n;

	if (a->state == NULL)
		return;
	if ((fp = fopen(a->state, "r")) == NULL) {
		if (errno != ENOENT)
			log_warn("alerts: %s", a->state);
		return;
	}
	while (fgets(line, sizeof line, fp) != NULL &&
	       a->nout < ALERTS_OPTOUT_MAX) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0 || line[0] == '#' || strchr(line, '@') == NULL ||
		    opted_out(a, line))
			continue;
		a->out = xreallocarray(a->out, a->nout + 1, sizeof *a->out);
		a->out[a->nout++] = xstrdup(line);
	}
	fclose(fp);
}

/* Written to a temporary file and renamed: a crash leaves the old one. */
static int
state_save(const struct alerts *a)
{
	char  *tmp;
	FILE  *fp;
	size_t i;
	int    r = -1;

	if (a->state == NULL) /* no store either: a test, memory only */
		return 0;
	xasprintf(&tmp, "%s.tmp", a->state);
	if ((fp = fopen(tmp, "w")) == NULL)
		goto fail;
	fprintf(fp, "# admins who opted out of floodgate alerts\n");
	for (i = 0; i < a->nout; i++)
		fprintf(fp, "%s\n", a->out[i]);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		fclose(fp);
		goto fail;
	}
	if (fclose(fp) != 0 || rename(tmp, a->state) != 0)
		goto fail;
	r = 0;
fail:
	if (r == -1) {
		log_warn("alerts: cannot write %s", a->state);
		unlink(tmp);
	}
	free(tmp);
	return r;
}

int
comp_alerts_wanted(struct comp *c, const char *jid)
{
	return !opted_out(c->alerts, jid);
}

int
comp_alerts_optin(struct comp *c, const char *jid, int on)
{
	struct alerts *a = c->alerts;
	size_t         i;

	if (on == !opted_out(a, jid))
		return 0;
	if (on) {
		for (i = 0; i < a->nout; i++)
			if (strcasecmp(a->out[i], jid) == 0)
				break;
		free(a->out[i]);
		a->out[i] = a->out[--a->nout];
	} else {
		if (a->nout >= ALERTS_OPTOUT_MAX)
			return -1;
		a->out = xreallocarray(a->out, a->nout + 1, sizeof *a->out);
		a->out[a->nout++] = xstrdup(jid);
	}
	return state_save(a);
}

/* ---- the digest ---- */

/* s quoted for a shell when it has anything beyond the usual JID and
 * address characters (JIDs may hold $ ; ( and the like). */
static void
put_subject(struct adm_buf *b, enum fg_subj t, const char *key)
{
	char        esc[LOG_ESC_MAX];
	const char *k = log_esc(esc, sizeof esc, key);

	if (strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789@.-_:/[]") == strlen(k))
		adm_buf_printf(b, "%s:%s", fg_subj_name(t), k);
	else /* ' itself is not allowed in a JID or address */
		adm_buf_printf(b, "'%s:%s'", fg_subj_name(t), k);
}

/* The commands that act on e, into b; "" when none. */
static void
put_commands(struct adm_buf *b, const struct alert_ev *e, int unblock)
{
	char t[32];

	switch (e->kind) {
	case AK_REG_WAVE:
		adm_buf_printf(b,
			       "ad-hoc command registered-since %s; "
			       "floodgatectl list quarantine",
			       adm_fmt_time(e->since, t, sizeof t));
		return;
	case AK_LINK_DOWN:
		adm_buf_printf(b, "floodgatectl stats");
		return;
	case AK_OWN_LISTED:
		adm_buf_printf(b, "floodgatectl inspect ");
		put_subject(b, e->type, e->key);
		return;
	default:
		break;
	}
	if (e->key == NULL)
		return;
	adm_buf_printf(b, "floodgatectl inspect ");
	put_subject(b, e->type, e->key);
	if (unblock) {
		adm_buf_printf(b, "; floodgatectl unblock ");
		put_subject(b, e->type, e->key);
	}
}

/* One digest line: what happened, then the commands. */
static void
put_line(struct adm_buf *b, const struct alert_ev *e)
{
	char esc[LOG_ESC_MAX], esk[LOG_ESC_MAX], t[32];

	log_esc(esc, sizeof esc, e->text);
	log_esc(esk, sizeof esk, e->key);
	adm_buf_printf(b, "- %s", e->would ? "[would] " : "");
	switch (e->kind) {
	case AK_VERDICT:
		adm_buf_printf(b,
			       "%s %s %s (%s): ", fg_verdict_name(e->verdict),
			       fg_subj_name(e->type), esk, esc);
		break;
	case AK_REG_WAVE:
		adm_buf_printf(b, "registration wave (%s) since %s: ", esc,
			       adm_fmt_time(e->since, t, sizeof t));
		break;
	case AK_CONTENT_WAVE:
		adm_buf_printf(b,
			       "%s: the same message from many accounts, "
			       "the last %s: ",
			       esc, esk);
		break;
	case AK_REPORT:
		adm_buf_printf(b, "spam report against %s (%s): ", esk, esc);
		break;
	case AK_TRAP:
		adm_buf_printf(b, "spamtrap \"%s\" touched by %s %s: ", esc,
			       fg_subj_name(e->type), esk);
		break;
	case AK_OWN_LISTED:
		adm_buf_printf(b, "our domain %s is %s: ", esk, esc);
		break;
	case AK_LINK_DOWN:
		adm_buf_printf(b,
			       "the component link was down from %s for %s, "
			       "now back: ",
			       adm_fmt_time(e->since, t, sizeof t), esc);
		break;
	default:
		break;
	}
	put_commands(b, e, e->kind == AK_VERDICT || e->kind == AK_TRAP);
	adm_buf_printf(b, "\n");
}

static void
put_json(struct adm_buf *b, const struct alerts *a, int64_t now)
{
	const struct alert_ev *e;
	struct adm_buf         cmd = {NULL, 0, 0};
	int                    first = 1;

	adm_buf_printf(b, "{\"source\":\"floodgate\",\"component\":");
	adm_buf_json(b, a->c->cfg->comp_jid);
	adm_buf_printf(b, ",\"at\":%lld,\"more\":%llu,\"events\":[",
		       (long long)now, (unsigned long long)a->more);
	STAILQ_FOREACH(e, &a->q, entry)
	{
		adm_buf_printf(b, "%s{\"kind\":\"%s\",\"at\":%lld",
			       first ? "" : ",", kind_names[e->kind],
			       (long long)e->at);
		first = 0;
		if (e->key != NULL) {
			adm_buf_printf(b, ",\"type\":\"%s\",\"subject\":",
				       fg_subj_name(e->type));
			adm_buf_json(b, e->key);
		}
		adm_buf_printf(b, ",\"verdict\":\"%s\",\"would\":%s",
			       fg_verdict_name(e->verdict),
			       e->would ? "true" : "false");
		if (e->since != 0)
			adm_buf_printf(b, ",\"since\":%lld",
				       (long long)e->since);
		adm_buf_printf(b, ",\"text\":");
		adm_buf_json(b, e->text);
		cmd.len = 0;
		adm_buf_printf(&cmd, "%s", "");
		put_commands(&cmd, e,
			     e->kind == AK_VERDICT || e->kind == AK_TRAP);
		adm_buf_printf(b, ",\"commands\":");
		adm_buf_json(b, cmd.p);
		adm_buf_printf(b, "}");
	}
	adm_buf_printf(b, "]}");
	adm_buf_free(&cmd);
}

static void
send_chat(struct alerts *a, const char *to, const char *body)
{
	struct comp   *c = a->c;
	xmpp_stanza_t *m;
	char           id[32];

	stz_next_id(c, id, sizeof id);
	m = xmpp_message_new(comp_link_ctx(c->link), "chat", to, id);
	xmpp_stanza_set_from(m, comp_link_jid(c->link));
	xmpp_message_set_body(m, body); /* escaped by libstrophe */
	comp_send(c, m);
	xmpp_stanza_release(m);
	a->digests++;
}

/* The queue becomes one digest per admin and one webhook document. */
static void
flush(struct alerts *a)
{
	struct comp     *c = a->c;
	struct alert_ev *e;
	struct adm_buf   b = {NULL, 0, 0}, j = {NULL, 0, 0};
	int64_t          now = clock_wall_ms();
	char             t[32];
	size_t           i;

	if (a->n == 0 && a->held == NULL)
		return;
	a->last = now;
	if (a->n > 0) {
		adm_buf_printf(&b, "floodgate: %zu alert%s at %s\n",
			       a->n + (size_t)a->more,
			       a->n + a->more > 1 ? "s" : "",
			       adm_fmt_time(now, t, sizeof t));
		STAILQ_FOREACH(e, &a->q, entry)
		put_line(&b, e);
		if (a->more > 0)
			adm_buf_printf(&b,
				       "... and %llu more: floodgatectl list\n",
				       (unsigned long long)a->more);
		if (a->wh != NULL) {
			put_json(&j, a, now);
			comp_webhook_post(a->wh, j.p, j.len);
		}
	}
	while ((e = STAILQ_FIRST(&a->q)) != NULL) {
		STAILQ_REMOVE_HEAD(&a->q, entry);
		free(e->key);
		free(e->text);
		free(e);
	}
	a->n = 0;
	a->more = 0;
	if (!comp_link_up(c->link) && c->sink == NULL) {
		/* kept for when the link is back, within a bound */
		size_t held = a->held ? strlen(a->held) : 0;

		if (b.p != NULL && held + b.len < ALERTS_HELD_MAX) {
			a->held = xreallocarray(a->held, held + b.len + 1, 1);
			memcpy(a->held + held, b.p, b.len + 1);
		}
		goto done;
	}
	if (a->held != NULL) {
		struct adm_buf all = {NULL, 0, 0};

		adm_buf_printf(&all, "%s%s", a->held, b.p ? b.p : "");
		adm_buf_free(&b);
		b = all;
		free(a->held);
		a->held = NULL;
	}
	for (i = 0; i < c->cfg->admins.n; i++)
		if (!opted_out(a, c->cfg->admins.v[i]))
			send_chat(a, c->cfg->admins.v[i], b.p);
done:
	adm_buf_free(&b);
	adm_buf_free(&j);
}

void
comp_alerts_flush(struct comp *c)
{
	evtimer_del(c->alerts->timer);
	flush(c->alerts);
}

static void
on_timer(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev;
	flush(arg);
}

void
comp_alerts_link(struct comp *c, int up)
{
	struct alerts *a = c->alerts;
	int64_t        now = clock_wall_ms(), d;
	char           buf[32];

	if (!up) {
		if (a->down_since == 0)
			a->down_since = now;
		return;
	}
	if (a->held != NULL)
		schedule(a);
	if (a->down_since == 0)
		return;
	d = now - a->down_since;
	if (d >= (int64_t)c->cfg->alerts_link_down_s * 1000) {
		adm_fmt_duration(d, buf, sizeof buf);
		queue(a, AK_LINK_DOWN, FG_SUBJ_DOMAIN, NULL, FG_V_ALLOW, 0,
		      a->down_since, buf);
	}
	a->down_since = 0;
}

/* (Re)make the webhook and the timer from the configuration. */
static void
configure(struct alerts *a)
{
	const struct fg_config *cfg = a->c->cfg;

	if (a->wh != NULL &&
	    (cfg->alerts_webhook == NULL ||
	     strcmp(cfg->alerts_webhook, a->wh_url) != 0 ||
	     (cfg->alerts_ca_file == NULL) != (a->wh_ca == NULL) ||
	     (a->wh_ca != NULL && strcmp(cfg->alerts_ca_file, a->wh_ca)))) {
		comp_webhook_free(a->wh);
		a->wh = NULL;
	}
	if (a->wh == NULL && cfg->alerts_webhook != NULL) {
		a->wh = comp_webhook_new(a->c->base, cfg->alerts_webhook,
					 cfg->alerts_ca_file);
		free(a->wh_url);
		free(a->wh_ca);
		a->wh_url = xstrdup(cfg->alerts_webhook);
		a->wh_ca =
		    cfg->alerts_ca_file ? xstrdup(cfg->alerts_ca_file) : NULL;
	}
}

void
comp_alerts_new(struct comp *c)
{
	struct alerts *a = xcalloc(1, sizeof *a);

	a->c = c;
	c->alerts = a;
	STAILQ_INIT(&a->q);
	if (c->cfg->alerts_state != NULL)
		a->state = xstrdup(c->cfg->alerts_state);
	else if (c->cfg->store_path != NULL)
		xasprintf(&a->state, "%s.alerts", c->cfg->store_path);
	state_load(a);
	/* the link is down until the first handshake */
	a->down_since = clock_wall_ms();
	a->timer = evtimer_new(c->base, on_timer, a);
	configure(a);
	pol_set_note_cb(c->pol, on_note, c);
}

void
comp_alerts_reconfigure(struct comp *c)
{
	configure(c->alerts);
}

void
comp_alerts_free(struct comp *c)
{
	struct alerts   *a = c->alerts;
	struct alert_ev *e;
	size_t           i;

	if (a == NULL)
		return;
	pol_set_note_cb(c->pol, NULL, NULL);
	while ((e = STAILQ_FIRST(&a->q)) != NULL) {
		STAILQ_REMOVE_HEAD(&a->q, entry);
		free(e->key);
		free(e->text);
		free(e);
	}
	event_free(a->timer);
	comp_webhook_free(a->wh);
	for (i = 0; i < a->nout; i++)
		free(a->out[i]);
	free(a->out);
	free(a->wh_url);
	free(a->wh_ca);
	free(a->state);
	free(a->held);
	free(a);
	c->alerts = NULL;
}

void
comp_alerts_metrics(struct evbuffer *b, struct comp *c)
{
	struct alerts       *a = c->alerts;
	struct webhook_stats ws;
	char                 lbl[48];
	int                  k;

	for (k = 0; k < AK__MAX; k++) {
		snprintf(lbl, sizeof lbl, "kind=\"%s\"", kind_names[k]);
		http_metric(b, "floodgate_alerts_total", k ? NULL : "counter",
			    k ? NULL : "Events queued for the alert digests",
			    lbl, (double)a->events[k]);
	}
	http_metric(b, "floodgate_alert_digests_total", "counter",
		    "Alert digests sent to admins", NULL, (double)a->digests);
	if (a->wh == NULL)
		return;
	comp_webhook_stats(a->wh, &ws);
	http_metric(b, "floodgate_webhook_posts_total", "counter",
		    "Alert webhook POSTs by outcome", "result=\"sent\"",
		    (double)ws.sent);
	http_metric(b, "floodgate_webhook_posts_total", NULL, NULL,
		    "result=\"retry\"", (double)ws.retries);
	http_metric(b, "floodgate_webhook_posts_total", NULL, NULL,
		    "result=\"failed\"", (double)ws.failed);
	http_metric(b, "floodgate_webhook_posts_total", NULL, NULL,
		    "result=\"dropped\"", (double)ws.dropped);
	http_metric(b, "floodgate_webhook_queued", "gauge",
		    "Alert webhook bodies waiting", NULL, (double)ws.queued);
}
