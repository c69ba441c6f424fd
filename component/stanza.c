/* SPDX-License-Identifier: ISC */
/*
 * floodgate - stanza builders for the component.
 *
 * Error replies carry only the error element: echoing a hostile payload
 * back would turn us into an amplifier.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "comp_int.h"

/* Here, not in comp.c: every surface sends, and comp.c calls them all. */
void
comp_set_sink(struct comp *c, comp_sink_fn fn, void *arg)
{
	c->sink = fn;
	c->sink_arg = arg;
}

void
comp_send(struct comp *c, xmpp_stanza_t *st)
{
	if (c->sink != NULL)
		c->sink(st, c->sink_arg);
	else
		comp_link_send(c->link, st);
}

const char *
stz_attr(xmpp_stanza_t *st, const char *name)
{
	return xmpp_stanza_get_attribute(st, name);
}

xmpp_stanza_t *
stz_elem(struct comp *c, const char *name, const char *ns)
{
	xmpp_stanza_t *e = xmpp_stanza_new(comp_link_ctx(c->link));

	xmpp_stanza_set_name(e, name);
	if (ns != NULL)
		xmpp_stanza_set_ns(e, ns);
	return e;
}

/* Adds child to parent and drops our reference; returns child. */
xmpp_stanza_t *
stz_add(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
	xmpp_stanza_add_child(parent, child);
	xmpp_stanza_release(child);
	return child;
}

void
stz_text(struct comp *c, xmpp_stanza_t *parent, const char *text)
{
	xmpp_stanza_t *t = xmpp_stanza_new(comp_link_ctx(c->link));

	xmpp_stanza_set_text(t, text);
	stz_add(parent, t);
}

static xmpp_stanza_t *
iq_answer(struct comp *c, xmpp_stanza_t *req, const char *type)
{
	xmpp_stanza_t *iq =
	    xmpp_iq_new(comp_link_ctx(c->link), type,
			stz_attr(req, "id") ? stz_attr(req, "id") : "");
	const char *from = stz_attr(req, "from");
	const char *to = stz_attr(req, "to");

	if (from != NULL)
		xmpp_stanza_set_to(iq, from);
	xmpp_stanza_set_from(iq, to != NULL ? to : comp_link_jid(c->link));
	return iq;
}

xmpp_stanza_t *
stz_iq_result(struct comp *c, xmpp_stanza_t *req)
{
	return iq_answer(c, req, "result");
}

xmpp_stanza_t *
stz_iq_error(struct comp *c, xmpp_stanza_t *req, const char *type,
	     const char *cond, const char *text)
{
	xmpp_stanza_t *iq = iq_answer(c, req, "error");
	xmpp_stanza_t *err = stz_add(iq, stz_elem(c, "error", NULL));
	xmpp_stanza_t *t;

	xmpp_stanza_set_type(err, type);
	stz_add(err, stz_elem(c, cond, NS_STANZAS));
	if (text != NULL) {
		t = stz_add(err, stz_elem(c, "text", NS_STANZAS));
		stz_text(c, t, text);
	}
	return iq;
}

/* Answer an IQ get/set with an error, or a message with an error
 * message; never answer errors or results (no loops). */
void
stz_reply_error(struct comp *c, xmpp_stanza_t *req, const char *type,
		const char *cond, const char *text)
{
	const char    *name = xmpp_stanza_get_name(req);
	const char    *t = xmpp_stanza_get_type(req);
	xmpp_stanza_t *r;

	if (t != NULL && (!strcmp(t, "error") || !strcmp(t, "result")))
		return;
	if (strcmp(name, "iq") == 0)
		r = stz_iq_error(c, req, type, cond, text);
	else {
		xmpp_stanza_t *err, *tx;

		r = stz_elem(c, name, NULL);
		xmpp_stanza_set_type(r, "error");
		if (stz_attr(req, "id"))
			xmpp_stanza_set_id(r, stz_attr(req, "id"));
		if (stz_attr(req, "from"))
			xmpp_stanza_set_to(r, stz_attr(req, "from"));
		xmpp_stanza_set_from(r, comp_link_jid(c->link));
		err = stz_add(r, stz_elem(c, "error", NULL));
		xmpp_stanza_set_type(err, type);
		stz_add(err, stz_elem(c, cond, NS_STANZAS));
		if (text != NULL) {
			tx = stz_add(err, stz_elem(c, "text", NS_STANZAS));
			stz_text(c, tx, text);
		}
	}
	comp_send(c, r);
	xmpp_stanza_release(r);
}

void
stz_next_id(struct comp *c, char *buf, size_t len)
{
	snprintf(buf, len, "fg%llu", (unsigned long long)++c->next_id);
}

int
stz_from_server(struct comp *c, xmpp_stanza_t *st)
{
	const char *from = stz_attr(st, "from");
	size_t      i;

	if (from == NULL)
		return 0;
	for (i = 0; i < c->cfg->serves.n; i++)
		if (strcasecmp(c->cfg->serves.v[i], from) == 0)
			return 1;
	return 0;
}
