/* SPDX-License-Identifier: ISC */
/*
 * floodgate - service discovery (XEP-0030), software version (XEP-0092)
 * and ping (XEP-0199) on the component JID.
 */
#include <string.h>
#include <sys/utsname.h>

#include "autoconf.h"
#include "comp_int.h"

/* Features we really implement, kept in one place. */
static const char *features[] = {
    NS_DISCO_INFO, NS_DISCO_ITEMS, NS_VERSION, NS_PING,
    NS_FLOODGATE,  NS_COMMANDS,    NS_DATA,
};

static void
disco_info(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	xmpp_stanza_t *r, *qr, *id, *f;
	const char    *node = stz_attr(q, "node");
	size_t         i;

	if (node != NULL && comp_adhoc_disco_info(c, iq, node))
		return; /* a command node */
	if (node != NULL) {
		if (!comp_pubsub_disco_node(c, iq, node))
			stz_reply_error(c, iq, "cancel", "item-not-found",
					NULL);
		return;
	}
	r = stz_iq_result(c, iq);
	qr = stz_add(r, stz_elem(c, "query", NS_DISCO_INFO));
	id = stz_add(qr, stz_elem(c, "identity", NULL));
	xmpp_stanza_set_attribute(id, "category", "component");
	xmpp_stanza_set_attribute(id, "type", "generic");
	xmpp_stanza_set_attribute(id, "name", "floodgate anti-spam");
	for (i = 0; i < sizeof features / sizeof features[0]; i++) {
		f = stz_add(qr, stz_elem(c, "feature", NULL));
		xmpp_stanza_set_attribute(f, "var", features[i]);
	}
	comp_pubsub_disco_info(c, qr);
	comp_send(c, r);
	xmpp_stanza_release(r);
}

static void
disco_items(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	xmpp_stanza_t *r, *qr;
	const char    *node = stz_attr(q, "node");

	if (node != NULL && strcmp(node, NS_COMMANDS) == 0) {
		comp_adhoc_disco_items(c, iq, q);
		return;
	}
	r = stz_iq_result(c, iq);
	qr = stz_add(r, stz_elem(c, "query", NS_DISCO_ITEMS));
	if (node != NULL)
		xmpp_stanza_set_attribute(qr, "node", node);
	else
		comp_pubsub_disco_items(c, qr);
	comp_send(c, r);
	xmpp_stanza_release(r);
}

static void
version(struct comp *c, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *r, *qr;

	r = stz_iq_result(c, iq);
	qr = stz_add(r, stz_elem(c, "query", NS_VERSION));
	stz_text(c, stz_add(qr, stz_elem(c, "name", NULL)), "floodgate");
	stz_text(c, stz_add(qr, stz_elem(c, "version", NULL)), PACKAGE_VERSION);
	comp_send(c, r);
	xmpp_stanza_release(r);
}

/* 1 when handled. */
int
comp_disco_iq(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	const char    *ns = xmpp_stanza_get_ns(q);
	const char    *type = xmpp_stanza_get_type(iq);
	xmpp_stanza_t *r;

	if (ns == NULL || type == NULL || strcmp(type, "get") != 0)
		return 0;
	if (strcmp(ns, NS_DISCO_INFO) == 0)
		disco_info(c, iq, q);
	else if (strcmp(ns, NS_DISCO_ITEMS) == 0)
		disco_items(c, iq, q);
	else if (strcmp(ns, NS_VERSION) == 0)
		version(c, iq);
	else if (strcmp(ns, NS_PING) == 0) {
		r = stz_iq_result(c, iq);
		comp_send(c, r);
		xmpp_stanza_release(r);
	} else
		return 0;
	return 1;
}
