/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: bridge-protocol stanzas. The input is XML text parsed by
 * libstrophe (as a stanza from the server would be), then every child is
 * fed to the gate and event parsers. Nothing may crash or leak; when a
 * parse succeeds, what it produced must satisfy the parser's promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "component/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static xmpp_ctx_t *ctx;

static void
check_jid(const char *s)
{
	char b[JID_MAX + 1];

	/* a normalised JID is a fixed point of normalisation */
	if (s != NULL && strchr(s, '/') == NULL &&
	    (jid_bare(s, b, sizeof b) == -1 || strcmp(b, s) != 0))
		abort();
}

static void
visit(xmpp_stanza_t *st)
{
	char             a[JID_MAX + 1], b[JID_MAX + 1];
	struct pol_gate  g;
	struct pol_event e;
	const char      *err;
	xmpp_stanza_t   *c;

	if (wire_parse_gate(st, &g, a, b, &err) == 0) {
		check_jid(g.from);
		check_jid(g.to);
	} else if (err == NULL)
		abort();
	if (wire_parse_event(st, &e, a, b) == 0 && e.to != NULL)
		check_jid(e.to);
	for (c = xmpp_stanza_get_children(st); c != NULL;
	     c = xmpp_stanza_get_next(c))
		if (!xmpp_stanza_is_text(c))
			visit(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char          *text;
	xmpp_stanza_t *st;

	if (ctx == NULL)
		ctx = xmpp_ctx_new(NULL, NULL);
	text = malloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	st = xmpp_stanza_new_from_string(ctx, text);
	if (st != NULL) {
		visit(st);
		xmpp_stanza_release(st);
	}
	free(text);
	return 0;
}
