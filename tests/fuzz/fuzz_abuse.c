/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: a remote server's disco#info answer, as the abuse-address
 * parser of outgoing reports sees it (XEP-0157). The input is XML text
 * parsed by libstrophe; whatever it holds, the parser may return at most
 * the number asked for, each a normalised bare JID, no two the same; and the
 * report built for each must serialise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "component/report_out.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static xmpp_ctx_t *ctx;

static void
check(xmpp_stanza_t *q)
{
	char           a[ROUT_ADDRS_MAX][JID_MAX + 1], b[JID_MAX + 1];
	xmpp_stanza_t *m;
	char          *txt;
	size_t         len;
	int            n, i, j;

	n = rout_parse_abuse(q, a, ROUT_ADDRS_MAX);
	if (n < 0 || n > ROUT_ADDRS_MAX)
		abort();
	for (i = 0; i < n; i++) {
		if (strchr(a[i], '/') != NULL ||
		    jid_bare(a[i], b, sizeof b) == -1 || strcmp(a[i], b) != 0)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(a[i], a[j]) == 0)
				abort();
		m = rout_build(ctx, "floodgate.example.org", a[i], "f1",
			       "dave@remote.example", ROUT_REASON_SPAM, "t");
		if (xmpp_stanza_to_text(m, &txt, &len) != XMPP_EOK)
			abort();
		xmpp_free(ctx, txt);
		xmpp_stanza_release(m);
	}
	if (rout_parse_abuse(q, a, 1) > 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char          *text;
	xmpp_stanza_t *st, *q;

	if (ctx == NULL)
		ctx = xmpp_ctx_new(NULL, NULL);
	text = malloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	st = xmpp_stanza_new_from_string(ctx, text);
	if (st != NULL) {
		/* the whole answer, and its query as the component passes it */
		check(st);
		q = xmpp_stanza_get_child_by_ns(
		    st, "http://jabber.org/protocol/disco#info");
		if (q != NULL)
			check(q);
		xmpp_stanza_release(st);
	}
	free(text);
	return 0;
}
