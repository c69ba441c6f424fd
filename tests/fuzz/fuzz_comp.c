/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: every stanza a remote JID (or a served server) can send to
 * the component. The input is one stanza as XML (the corpus has one per
 * surface: disco, version, ping, pubsub items/subscribe/publish/owner,
 * ad-hoc commands and forms, reports, gate/meter/verdicts, chat); each
 * parsed stanza goes through comp_dispatch() of one real component (real
 * config, policy and a temporary store) as sent, then from an admin, from
 * the served domain, from a remote subdomain and with no sender, so the
 * trusted and untrusted paths both run. A command's sessionid='LAST' is
 * replaced by the last session the component opened, to reach later
 * stages. An input that does not start with '<' is a recipe instead:
 * its first byte picks a template below, and the rest, cut at '|', fills
 * its %s slots (escaped, so the stanza stays well-formed and the hostile
 * values reach the handlers; "#N" picks a word from the dictionary).
 * Nothing may crash, leak or trip the sanitizers, and no reply may exceed
 * what Prosody accepts from a component.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "tests/comp_harness.h"

#define FUZZ_REPLY_MAX (512 * 1024) /* bytes: Prosody's component limit */
#define FUZZ_SID_MAX 64             /* bytes of a remembered session id */
#define FUZZ_SLOTS 3                /* %s slots in a template */
#define FUZZ_SLOT_MAX 4096          /* bytes of one slot, escaped */

#define TO " to='" HN_COMP_JID "'"
#define PS "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
#define CMD "<command xmlns='http://jabber.org/protocol/commands' "
#define XF "<x xmlns='jabber:x:data' type='submit'>"

static const char *const templates[] = {
    "<iq type='get' id='t' from='%s'" TO "><query "
    "xmlns='http://jabber.org/protocol/disco#info' node='%s'/>%s</iq>",
    "<iq type='get' id='t' from='%s'" TO "><query "
    "xmlns='http://jabber.org/protocol/disco#items' node='%s'/>%s</iq>",
    "<iq type='get' id='t' from='%s'" TO ">" PS "<items node='%s' "
    "max_items='%s'/></pubsub></iq>",
    "<iq type='get' id='t' from='alice@example.org/r'" TO ">" PS
    "<items node='%s'/><set xmlns='http://jabber.org/protocol/rsm'>"
    "<max>%s</max><after>%s</after></set></pubsub></iq>",
    "<iq type='get' id='t' from='alice@example.org/r'" TO ">" PS
    "<items node='spam_source_domains'/><set "
    "xmlns='http://jabber.org/protocol/rsm'><before>%s</before><index>%s"
    "</index><max>%s</max></set></pubsub></iq>",
    "<iq type='get' id='t' from='alice@example.org/r'" TO ">" PS
    "<items node='%s'><item id='%s'/><item id='%s'/></items></pubsub></iq>",
    "<iq type='set' id='t' from='%s'" TO ">" PS "<subscribe node='%s' "
    "jid='%s'/></pubsub></iq>",
    "<iq type='set' id='t' from='%s'" TO ">" PS "<unsubscribe node='%s' "
    "jid='%s'/></pubsub></iq>",
    "<iq type='set' id='t' from='%s'" TO ">" PS
    "<publish node='%s'><item id='%s'/></publish></pubsub></iq>",
    "<iq type='set' id='t' from='%s'" TO ">" PS
    "<retract node='%s'><item id='%s'/></retract></pubsub></iq>",
    "<iq type='set' id='t' from='%s'" TO ">" CMD "node='%s' action='%s'/>"
    "</iq>",
    "<iq type='set' id='t' from='admin@example.org/r'" TO ">" CMD
    "node='%s' sessionid='LAST' action='%s'>" XF "<field var='subject'>"
    "<value>%s</value></field><field var='reason'><value>r</value></field>"
    "<field var='confirm'><value>1</value></field></x></command></iq>",
    "<iq type='set' id='t' from='admin@example.org/r'" TO ">" CMD
    "node='registered-since' sessionid='LAST' action='complete'>" XF
    "<field var='since'><value>%s</value></field><field var='action'>"
    "<value>%s</value></field><field var='scope'><value>selected</value>"
    "</field><field var='accounts'><value>%s</value></field><field "
    "var='confirm'><value>1</value></field><field var='reason'><value>r"
    "</value></field></x></command></iq>",
    "<message from='%s'" TO "><report xmlns='urn:xmpp:reporting:1' "
    "reason='%s'><jid xmlns='urn:xmpp:jid:0'>%s</jid></report></message>",
    "<message from='example.org'" TO "><meter xmlns='urn:floodgate:0'>"
    "<event type='%s' from='%s' to='%s' ip='192.0.2.1'/></meter></message>",
    "<iq type='get' id='t' from='example.org'" TO "><gate "
    "xmlns='urn:floodgate:0' kind='%s' from='%s' to='%s'/></iq>",
    "<message type='%s' id='t' from='%s'" TO "><body>%s</body></message>",
    "<iq type='%s' id='t' from='%s'" TO "><query xmlns='%s'/></iq>",
};

static const char *const words[] = {
    "spam_source_domains",
    "spam_source_jids_sha256",
    "spam_source_ips",
    "muc_bans_sha256",
    "http://jabber.org/protocol/commands",
    "admin@example.org/r",
    "example.org",
    "eve@a.evil.example/r",
    "list",
    "registered-since",
    "block",
    "next",
    "prev",
    "complete",
    "publish",
    "retract",
    "spam.example",
    "192.0.2.0/24",
    "-1",
    "18446744073709551617",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct harness h;
static int            ready;
static char           last_sid[FUZZ_SID_MAX];

static const char *const senders[] = {
    NULL, /* as sent */
    "admin@example.org/fuzz",
    "example.org",
    "eve@a.evil.example/fuzz",
    "", /* no sender */
};

/* Append the XML-escaped s[0..n) to out at o (at most FUZZ_SLOT_MAX
 * bytes); "#N" is the dictionary's word N. Returns the new o. */
static size_t
put_slot(char *out, size_t o, const char *s, size_t n)
{
	size_t cap = o + FUZZ_SLOT_MAX, i;

	if (n >= 2 && s[0] == '#' && s[1] >= '0' && s[1] <= '9') {
		s = words[(size_t)atoi(s + 1) %
			  (sizeof words / sizeof words[0])];
		n = strlen(s);
	}
	for (i = 0; i < n && o + 7 < cap; i++) {
		switch (s[i]) {
		case '<':
			o += (size_t)snprintf(out + o, cap - o, "&lt;");
			break;
		case '>':
			o += (size_t)snprintf(out + o, cap - o, "&gt;");
			break;
		case '&':
			o += (size_t)snprintf(out + o, cap - o, "&amp;");
			break;
		case '\'':
			o += (size_t)snprintf(out + o, cap - o, "&apos;");
			break;
		case '"':
			o += (size_t)snprintf(out + o, cap - o, "&quot;");
			break;
		default:
			if ((unsigned char)s[i] >= 0x20 || s[i] == '\t' ||
			    s[i] == '\n')
				out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* The stanza a recipe describes, as XML (caller frees). */
static char *
from_recipe(const uint8_t *data, size_t len)
{
	const char *t =
	    templates[data[0] % (sizeof templates / sizeof templates[0])];
	const char *p = (const char *)data + 1, *end = (const char *)data + len;
	const char *bar;
	size_t      cap = strlen(t) + FUZZ_SLOTS * FUZZ_SLOT_MAX + 1;
	char       *out = calloc(1, cap);
	size_t      o = 0;

	for (; *t != '\0'; t++) {
		if (t[0] == '%' && t[1] == 's') {
			bar =
			    p < end ? memchr(p, '|', (size_t)(end - p)) : NULL;
			if (bar == NULL)
				bar = end;
			if (p < end)
				o = put_slot(out, o, p, (size_t)(bar - p));
			p = bar < end ? bar + 1 : end;
			t++;
			continue;
		}
		out[o++] = *t;
	}
	out[o] = '\0';
	return out;
}

static void
cleanup(void)
{
	fprintf(stderr, "fuzz_comp: %zu replies, %zu bytes\n", h.replies,
		h.reply_bytes);
	hn_fini(&h);
}

/* Remember the session the last reply opened, if any. */
static void
note_sid(void)
{
	const char *p, *q;

	if (h.last == NULL || (p = strstr(h.last, "sessionid=\"")) == NULL)
		return;
	p += strlen("sessionid=\"");
	if ((q = strchr(p, '"')) == NULL || (size_t)(q - p) >= sizeof last_sid)
		return;
	memcpy(last_sid, p, (size_t)(q - p));
	last_sid[q - p] = '\0';
}

static void
fix_sid(xmpp_stanza_t *st)
{
	xmpp_stanza_t *cmd = xmpp_stanza_get_child_by_name(st, "command");
	const char    *sid =
            cmd ? xmpp_stanza_get_attribute(cmd, "sessionid") : NULL;

	if (sid != NULL && strcmp(sid, "LAST") == 0 && last_sid[0] != '\0')
		xmpp_stanza_set_attribute(cmd, "sessionid", last_sid);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	xmpp_stanza_t *st;
	char          *text;
	size_t         i;

	if (!ready) {
		log_init(1, 0, "fuzz_comp");
		hn_init(&h, 1);
		atexit(cleanup);
		ready = 1;
	}
	if (len == 0)
		return 0;
	if (data[0] == '<') {
		text = malloc(len + 1);
		memcpy(text, data, len);
		text[len] = '\0';
	} else
		text = from_recipe(data, len);
	st = xmpp_stanza_new_from_string(h.ctx, text);
	free(text);
	if (st == NULL)
		return 0;
	for (i = 0; i < sizeof senders / sizeof senders[0]; i++) {
		if (senders[i] != NULL && senders[i][0] != '\0')
			xmpp_stanza_set_attribute(st, "from", senders[i]);
		else if (senders[i] != NULL)
			xmpp_stanza_del_attribute(st, "from");
		fix_sid(st);
		h.reply_max = 0;
		comp_dispatch(h.c, st);
		if (h.reply_max > FUZZ_REPLY_MAX)
			abort();
		note_sid();
	}
	xmpp_stanza_release(st);
	return 0;
}
