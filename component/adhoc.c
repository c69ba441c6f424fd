/* SPDX-License-Identifier: ISC */
/*
 * floodgate - XEP-0050 ad-hoc commands on the component JID: sessions,
 * routing, disco of the command list, and XEP-0004 form helpers.
 *
 * Only the configured admins (bare 'from', case-insensitive) see or run
 * anything: others get an empty command list and 'forbidden'. Sessions
 * belong to the full JID that opened them, are capped in number and
 * expire when idle, so a chatty client cannot grow our memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "adhoc_int.h"

#define ADHOC_SESS_MAX 64                  /* open sessions, all admins */
#define ADHOC_SESS_TTL_MS (10 * 60 * 1000) /* idle session lifetime, ms */

struct adhoc {
	LIST_HEAD(, adhoc_sess) sessions;
	size_t   n;
	uint64_t next;
};

static void sess_free(struct adhoc *, struct adhoc_sess *);
static void expire(struct adhoc *, int64_t);

void
comp_adhoc_free(struct comp *c)
{
	if (c->adhoc == NULL)
		return;
	while (!LIST_EMPTY(&c->adhoc->sessions))
		sess_free(c->adhoc, LIST_FIRST(&c->adhoc->sessions));
	free(c->adhoc);
	c->adhoc = NULL;
}

void
ah_sess_clear(struct adhoc_sess *s)
{
	size_t i;

	for (i = 0; i < s->naccts; i++) {
		free(s->accts[i]);
		free(s->info[i]);
	}
	free(s->accts);
	free(s->info);
	s->accts = s->info = NULL;
	s->naccts = 0;
}

static void
sess_free(struct adhoc *a, struct adhoc_sess *s)
{
	LIST_REMOVE(s, entry);
	a->n--;
	ah_sess_clear(s);
	free(s);
}

static void
expire(struct adhoc *a, int64_t now)
{
	struct adhoc_sess *s, *next;

	for (s = LIST_FIRST(&a->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (now - s->touched > ADHOC_SESS_TTL_MS)
			sess_free(a, s);
	}
}

static const struct adhoc_cmd *
find_cmd(const char *node)
{
	size_t i;

	for (i = 0; node != NULL && i < adhoc_ncmds; i++)
		if (strcmp(adhoc_cmds[i].node, node) == 0)
			return &adhoc_cmds[i];
	return NULL;
}

static int
is_admin(struct comp *c, xmpp_stanza_t *st)
{
	return adm_is_admin(c->cfg, stz_attr(st, "from"));
}

/* disco#items on the commands node: the list, for admins only. */
int
comp_adhoc_disco_items(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	xmpp_stanza_t *r, *qr, *it;
	size_t         i;

	r = stz_iq_result(c, iq);
	qr = stz_add(r, stz_elem(c, "query", NS_DISCO_ITEMS));
	xmpp_stanza_set_attribute(qr, "node", NS_COMMANDS);
	for (i = 0; is_admin(c, iq) && i < adhoc_ncmds; i++) {
		it = stz_add(qr, stz_elem(c, "item", NULL));
		xmpp_stanza_set_attribute(it, "jid", comp_link_jid(c->link));
		xmpp_stanza_set_attribute(it, "node", adhoc_cmds[i].node);
		xmpp_stanza_set_attribute(it, "name", adhoc_cmds[i].name);
	}
	comp_send(c, r);
	xmpp_stanza_release(r);
	return 1;
}

/* disco#info on a command node (XEP-0050 §3.2); 0 if not ours. */
int
comp_adhoc_disco_info(struct comp *c, xmpp_stanza_t *iq, const char *node)
{
	const struct adhoc_cmd *cmd = find_cmd(node);
	xmpp_stanza_t          *r, *qr, *e;

	if (cmd == NULL && strcmp(node, NS_COMMANDS) != 0)
		return 0;
	if (!is_admin(c, iq)) {
		stz_reply_error(c, iq, "auth", "forbidden", NULL);
		return 1;
	}
	r = stz_iq_result(c, iq);
	qr = stz_add(r, stz_elem(c, "query", NS_DISCO_INFO));
	xmpp_stanza_set_attribute(qr, "node", node);
	e = stz_add(qr, stz_elem(c, "identity", NULL));
	xmpp_stanza_set_attribute(e, "category", "automation");
	xmpp_stanza_set_attribute(e, "type",
				  cmd ? "command-node" : "command-list");
	xmpp_stanza_set_attribute(e, "name", cmd ? cmd->name : "Commands");
	e = stz_add(qr, stz_elem(c, "feature", NULL));
	xmpp_stanza_set_attribute(e, "var", NS_COMMANDS);
	e = stz_add(qr, stz_elem(c, "feature", NULL));
	xmpp_stanza_set_attribute(e, "var", NS_DATA);
	comp_send(c, r);
	xmpp_stanza_release(r);
	return 1;
}

static void
bad_session(struct comp *c, xmpp_stanza_t *iq, const char *why)
{
	xmpp_stanza_t *r = stz_iq_error(c, iq, "modify", "bad-request", why);
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(r, "error");

	stz_add(err, stz_elem(c, "bad-sessionid", NS_COMMANDS));
	comp_send(c, r);
	xmpp_stanza_release(r);
}

static struct adhoc_sess *
sess_new(struct adhoc *a, const struct adhoc_cmd *cmd, const char *owner,
	 int64_t now)
{
	struct adhoc_sess *s;

	if (a->n >= ADHOC_SESS_MAX)
		return NULL;
	s = xcalloc(1, sizeof *s);
	snprintf(s->id, sizeof s->id, "%llx-%lx", (unsigned long long)++a->next,
		 (unsigned long)(random() & 0xffffff));
	snprintf(s->owner, sizeof s->owner, "%s", owner);
	s->cmd = cmd;
	s->touched = now;
	s->vfilter = FG_V__MAX;
	s->tfilter = FG_SUBJ__MAX;
	LIST_INSERT_HEAD(&a->sessions, s, entry);
	a->n++;
	return s;
}

/* <command xmlns='http://jabber.org/protocol/commands'/>: 1 if handled. */
int
comp_adhoc_iq(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	struct adhoc_req        req;
	const struct adhoc_cmd *cmd;
	struct adhoc_sess      *s;
	const char             *from = stz_attr(iq, "from");
	const char             *sid = stz_attr(q, "sessionid");
	const char             *action = stz_attr(q, "action");
	const char             *type = xmpp_stanza_get_type(iq);
	int64_t                 now = clock_wall_ms();
	xmpp_stanza_t          *x;
	char                    esc[LOG_ESC_MAX];

	if (strcmp(xmpp_stanza_get_name(q), "command") != 0)
		return 0;
	if (strcmp(type, "set") != 0) {
		stz_reply_error(c, iq, "modify", "bad-request",
				"commands are run with iq type='set'");
		return 1;
	}
	if (!is_admin(c, iq)) {
		log_info("ad-hoc: refused %s from non-admin %s",
			 stz_attr(q, "node") ? "command" : "request",
			 log_esc(esc, sizeof esc, from));
		stz_reply_error(c, iq, "auth", "forbidden",
				"floodgate commands are for its admins");
		return 1;
	}
	if ((cmd = find_cmd(stz_attr(q, "node"))) == NULL) {
		stz_reply_error(c, iq, "cancel", "item-not-found",
				"no such command");
		return 1;
	}
	if (action == NULL)
		action = "execute";
	if (strcmp(action, "execute") && strcmp(action, "next") &&
	    strcmp(action, "prev") && strcmp(action, "complete") &&
	    strcmp(action, "cancel")) {
		stz_reply_error(c, iq, "modify", "bad-request",
				"unknown action");
		return 1;
	}
	if (c->adhoc == NULL) {
		c->adhoc = xcalloc(1, sizeof *c->adhoc);
		LIST_INIT(&c->adhoc->sessions);
	}
	expire(c->adhoc, now);
	if (sid != NULL) {
		LIST_FOREACH(s, &c->adhoc->sessions, entry)
		if (strcmp(s->id, sid) == 0)
			break;
		if (s == NULL || s->cmd != cmd || strcmp(s->owner, from) != 0) {
			bad_session(c, iq, "unknown or expired session");
			return 1;
		}
	} else if (strcmp(action, "cancel") == 0) {
		bad_session(c, iq, "cancel needs a session");
		return 1;
	} else if ((s = sess_new(c->adhoc, cmd, from, now)) == NULL) {
		stz_reply_error(c, iq, "wait", "resource-constraint",
				"too many open command sessions; finish or "
				"cancel some");
		return 1;
	}
	s->touched = now;

	memset(&req, 0, sizeof req);
	req.c = c;
	req.iq = iq;
	req.action = action;
	req.s = s;
	req.env.pol = c->pol;
	req.env.store = c->store;
	req.env.cfg = c->cfg;
	req.env.web = c->web;
	if (jid_bare(from, req.actor, sizeof req.actor) == -1)
		snprintf(req.actor, sizeof req.actor, "admin");
	for (x = xmpp_stanza_get_children(q); x != NULL;
	     x = xmpp_stanza_get_next(x)) {
		const char *ns = xmpp_stanza_get_ns(x);
		const char *t = stz_attr(x, "type");

		if (!xmpp_stanza_is_text(x) && ns != NULL &&
		    strcmp(ns, NS_DATA) == 0 && t != NULL &&
		    strcmp(t, "submit") == 0) {
			req.form = x;
			break;
		}
	}
	req.reply = stz_iq_result(c, iq);
	req.rcmd = stz_add(req.reply, stz_elem(c, "command", NS_COMMANDS));
	xmpp_stanza_set_attribute(req.rcmd, "node", cmd->node);
	xmpp_stanza_set_attribute(req.rcmd, "sessionid", s->id);
	if (strcmp(action, "cancel") == 0) {
		xmpp_stanza_set_attribute(req.rcmd, "status", "canceled");
		req.done = 1;
	} else
		cmd->run(&req);
	comp_send(c, req.reply);
	xmpp_stanza_release(req.reply);
	if (req.done)
		sess_free(c->adhoc, s);
	return 1;
}

/* -- reply and form helpers --------------------------------------------- */

void
ah_status(struct adhoc_req *r, const char *status)
{
	xmpp_stanza_set_attribute(r->rcmd, "status", status);
	r->done = strcmp(status, "completed") == 0;
}

void
ah_note(struct adhoc_req *r, const char *type, const char *fmt, ...)
{
	xmpp_stanza_t *n;
	va_list        ap;
	char           buf[ADM_MSG_MAX * 2];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	n = stz_add(r->rcmd, stz_elem(r->c, "note", NULL));
	xmpp_stanza_set_attribute(n, "type", type);
	stz_text(r->c, n, buf);
}

void
ah_actions(struct adhoc_req *r, const char *execute, int prev, int next,
	   int complete)
{
	xmpp_stanza_t *a = stz_add(r->rcmd, stz_elem(r->c, "actions", NULL));

	xmpp_stanza_set_attribute(a, "execute", execute);
	if (prev)
		stz_add(a, stz_elem(r->c, "prev", NULL));
	if (next)
		stz_add(a, stz_elem(r->c, "next", NULL));
	if (complete)
		stz_add(a, stz_elem(r->c, "complete", NULL));
}

xmpp_stanza_t *
ah_form(struct adhoc_req *r, const char *type, const char *title,
	const char *instructions)
{
	xmpp_stanza_t *x = stz_add(r->rcmd, stz_elem(r->c, "x", NS_DATA));

	xmpp_stanza_set_attribute(x, "type", type);
	if (title != NULL)
		stz_text(r->c, stz_add(x, stz_elem(r->c, "title", NULL)),
			 title);
	if (instructions != NULL)
		stz_text(r->c, stz_add(x, stz_elem(r->c, "instructions", NULL)),
			 instructions);
	return x;
}

xmpp_stanza_t *
ah_field(struct adhoc_req *r, xmpp_stanza_t *x, const char *type,
	 const char *var, const char *label, const char *value)
{
	xmpp_stanza_t *f = stz_add(x, stz_elem(r->c, "field", NULL));

	if (type != NULL)
		xmpp_stanza_set_attribute(f, "type", type);
	if (var != NULL)
		xmpp_stanza_set_attribute(f, "var", var);
	if (label != NULL)
		xmpp_stanza_set_attribute(f, "label", label);
	if (value != NULL)
		ah_value_add(r, f, value);
	return f;
}

void
ah_value_add(struct adhoc_req *r, xmpp_stanza_t *f, const char *value)
{
	stz_text(r->c, stz_add(f, stz_elem(r->c, "value", NULL)), value);
}

void
ah_option(struct adhoc_req *r, xmpp_stanza_t *f, const char *label,
	  const char *value)
{
	xmpp_stanza_t *o = stz_add(f, stz_elem(r->c, "option", NULL));

	xmpp_stanza_set_attribute(o, "label", label);
	ah_value_add(r, o, value);
}

void
ah_required(struct adhoc_req *r, xmpp_stanza_t *f)
{
	stz_add(f, stz_elem(r->c, "required", NULL));
}

static xmpp_stanza_t *
find_field(struct adhoc_req *r, const char *var)
{
	xmpp_stanza_t *f;
	const char    *v;

	if (r->form == NULL)
		return NULL;
	for (f = xmpp_stanza_get_children(r->form); f != NULL;
	     f = xmpp_stanza_get_next(f)) {
		if (xmpp_stanza_is_text(f) ||
		    strcmp(xmpp_stanza_get_name(f), "field") != 0)
			continue;
		if ((v = stz_attr(f, "var")) != NULL && strcmp(v, var) == 0)
			return f;
	}
	return NULL;
}

/* Text of a <value/>, copied into buf; -1 when it does not fit. */
static int
value_text(struct adhoc_req *r, xmpp_stanza_t *v, char *buf, size_t bufsz)
{
	char *t = xmpp_stanza_get_text(v);
	int   rc = 0;

	if (t == NULL)
		buf[0] = '\0';
	else if (strlen(t) >= bufsz)
		rc = -1;
	else
		memcpy(buf, t, strlen(t) + 1);
	if (t != NULL)
		xmpp_free(comp_link_ctx(r->c->link), t);
	return rc;
}

int
ah_get(struct adhoc_req *r, const char *var, char *buf, size_t bufsz)
{
	xmpp_stanza_t *f = find_field(r, var), *v;

	buf[0] = '\0';
	if (f == NULL ||
	    (v = xmpp_stanza_get_child_by_name(f, "value")) == NULL)
		return 0;
	return value_text(r, v, buf, bufsz) == -1 ? -1 : 1;
}

void
ah_get_all(struct adhoc_req *r, const char        *var,
	   void (*cb)(const char *, void *), void *arg)
{
	xmpp_stanza_t *f = find_field(r, var), *v;
	char           buf[AH_FIELD_MAX];
	size_t         n = 0;

	/* each value costs a scan of the session's list: bound the work a
	 * form with thousands of values can ask for */
	for (v = f ? xmpp_stanza_get_children(f) : NULL;
	     v != NULL && n < AH_VALUES_MAX; v = xmpp_stanza_get_next(v)) {
		if (xmpp_stanza_is_text(v) ||
		    strcmp(xmpp_stanza_get_name(v), "value") != 0)
			continue;
		n++;
		if (value_text(r, v, buf, sizeof buf) == 0)
			cb(buf, arg);
	}
}
