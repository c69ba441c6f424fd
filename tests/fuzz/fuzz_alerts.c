/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: alerts (component/alerts.c) made of arbitrary subject
 * keys and texts, as remote servers and users can choose them (a report's
 * reason, a trap name, a JID), through the policy's note callback into a
 * real component's digest. The digest must come out as one chat message
 * that parses back as XML and whose body holds no control byte but the
 * line feeds between its lines. Input: a selector byte, then the key and
 * the text separated by a NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/comp_int.h"
#include "core/log.h"
#include "tests/comp_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct harness h;
static int            ready;

static void
cleanup(void)
{
	hn_fini(&h);
}

/* The last digest: one message that parses, a body without controls. */
static void
check_digest(size_t before)
{
	xmpp_stanza_t *st, *b;
	char          *body;
	const char    *p;

	if (h.replies == before)
		return;
	if ((st = xmpp_stanza_new_from_string(h.ctx, h.last)) == NULL)
		abort();
	if ((b = xmpp_stanza_get_child_by_name(st, "body")) == NULL ||
	    (body = xmpp_stanza_get_text(b)) == NULL)
		abort();
	for (p = body; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7f)
			abort();
	xmpp_free(h.ctx, body);
	xmpp_stanza_release(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pol_note n;
	char           *buf, *key, *text;
	size_t          before;

	if (!ready) {
		log_init(1, 0, "fuzz_alerts");
		hn_init(&h, 0);
		atexit(cleanup);
		ready = 1;
	}
	if (len < 2)
		return 0;
	buf = malloc(len);
	memcpy(buf, data + 1, len - 1);
	buf[len - 1] = '\0';
	key = buf;
	/* the text follows the key's NUL, if anything does */
	text = strlen(key) + 1 < len - 1 ? key + strlen(key) + 1 : NULL;
	memset(&n, 0, sizeof n);
	n.what = (enum pol_note_what)(data[0] % POL_NOTE__MAX);
	n.type = (enum fg_subj)((data[0] >> 4) % FG_SUBJ__MAX);
	n.verdict = (enum fg_verdict)((data[0] >> 6) % FG_V__MAX);
	n.would = data[0] & 0x08;
	n.since = (int64_t)data[0] * 1000000;
	n.key = (data[0] & 0x04) ? NULL : key;
	n.text = text;
	pol_note(h.pol, &n);
	pol_trap_hit(h.pol, FG_SUBJ_IP, key, text ? text : key);
	before = h.replies;
	comp_alerts_flush(h.c);
	check_digest(before);
	free(buf);
	return 0;
}
