/* SPDX-License-Identifier: ISC */
/*
 * floodgate - XEP-0377 spam reports forwarded by the server.
 *
 * Prosody's mod_report_forward (listing the component in
 * report_forward_to) sends, for each report a local user files with a
 * XEP-0191 block:
 *
 *   <message from='example.org' to='floodgate.example.org'>
 *     <body>SPAM/ABUSE REPORT ...</body>
 *     <report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'>
 *       <jid xmlns='urn:xmpp:jid:0'>spammer@remote.example</jid>
 *       <text>...</text>
 *     </report>
 *     [<forwarded xmlns='urn:xmpp:forward:0'>the archived message</forwarded>]
 *   </message>
 *
 * The reporter's JID is not in the machine-readable part (only, with a
 * custom template, in the body text, which we do not parse), so the
 * reporter is the server itself: the report counts once per reported JID
 * (store_report_add dedupes per reporter and subject) at the server's
 * standing. Reports with the reporter known come through the bridge
 * modules as meter events instead (doc/PROTOCOL.md, type report).
 *
 * Another server's floodgate sends the same message (report_out.c) from
 * its component's domain to the abuse address we advertise, which may
 * be our component. Such a report counts only when it names one of our
 * own accounts, once per reporting domain, weighted by that server's
 * standing (POL_EV_PEER_REPORT). Reports from remote users' accounts are
 * refused like any other untrusted floodgate stanza.
 */
#include <string.h>
#include <strings.h>

#include "../core/jid.h"
#include "../core/log.h"
#include "../policy/policy.h"
#include "../storage/store.h"
#include "comp_int.h"

#define NS_REPORTING "urn:xmpp:reporting:1"
#define NS_REPORTING0 "urn:xmpp:reporting:0"
#define NS_JID "urn:xmpp:jid:0"
#define NS_FORWARD "urn:xmpp:forward:0"
#define REPORT_REASON_MAX 256 /* bytes of a reason we pass on */
#define REPORT_ATTACH_MAX 512 /* bytes kept of what a reporter attached */

/* The text of el's child called name (in el's namespace, or any), or
 * NULL; free with xmpp_free. */
static char *
child_text(xmpp_stanza_t *el, const char *name)
{
	xmpp_stanza_t *c;

	if (el == NULL || (c = xmpp_stanza_get_child_by_name(el, name)) == NULL)
		return NULL;
	return xmpp_stanza_get_text(c);
}

/*
 * What the reporting user chose to attach: the note in <text/> and the
 * first reported message mod_report_forward adds as <forwarded/>, as
 * one text cut to REPORT_ATTACH_MAX at a character boundary. 1 when
 * there is any. Only this ever leaves in a report we send
 * (report_out.c); floodgate reads no other message body.
 */
static int
attachment(xmpp_stanza_t *msg, xmpp_stanza_t *rep, char *buf, size_t size)
{
	xmpp_ctx_t    *ctx = xmpp_stanza_get_context(msg);
	xmpp_stanza_t *fw;
	char          *note, *body;
	size_t         n;

	note = child_text(rep, "text");
	fw = xmpp_stanza_get_child_by_ns(msg, NS_FORWARD);
	body = child_text(
	    fw != NULL ? xmpp_stanza_get_child_by_name(fw, "message") : NULL,
	    "body");
	buf[0] = '\0';
	if (note != NULL && *note != '\0')
		snprintf(buf, size, "note: %s%s", note,
			 body != NULL && *body != '\0' ? "; " : "");
	n = strlen(buf);
	if (body != NULL && *body != '\0' && n + 1 < size)
		snprintf(buf + n, size - n, "reported message: %s", body);
	if (note != NULL)
		xmpp_free(ctx, note);
	if (body != NULL)
		xmpp_free(ctx, body);
	n = strlen(buf);
	if (n == size - 1) /* maybe cut inside a character */
		while (n > 0 && ((unsigned char)buf[n - 1] & 0x80) != 0) {
			n--;
			if (((unsigned char)buf[n] & 0xc0) == 0xc0)
				break; /* dropped a whole lead byte too */
		}
	buf[n] = '\0';
	return n > 0;
}

/* 1 when msg is a forwarded report (handled, used or not), else 0. */
int
comp_report_message(struct comp *c, xmpp_stanza_t *msg)
{
	xmpp_stanza_t   *rep, *j;
	struct pol_event pe;
	char             reporter[JID_MAX + 1], to[JID_MAX + 1];
	char             dom[JID_MAX + 1], att[REPORT_ATTACH_MAX + 1];
	char             esc[LOG_ESC_MAX], esc2[LOG_ESC_MAX];
	const char      *reason, *from;
	char            *text;
	int              peer;

	if ((rep = xmpp_stanza_get_child_by_ns(msg, NS_REPORTING)) == NULL &&
	    (rep = xmpp_stanza_get_child_by_ns(msg, NS_REPORTING0)) == NULL)
		return 0;
	if (xmpp_stanza_get_name(rep) == NULL ||
	    strcmp(xmpp_stanza_get_name(rep), "report") != 0)
		return 0;
	from = stz_attr(msg, "from");
	peer = !stz_from_server(c, msg) && from != NULL &&
	       jid_is_domain(from) && strcasecmp(from, c->cfg->comp_jid) != 0;
	if ((!peer && !stz_from_server(c, msg)) ||
	    jid_bare(from, reporter, sizeof reporter) == -1) {
		c->c.refused_untrusted++;
		log_debug("report from untrusted %s ignored",
			  log_esc(esc, sizeof esc, from));
		return 1;
	}
	if ((j = xmpp_stanza_get_child_by_ns(rep, NS_JID)) == NULL ||
	    (text = xmpp_stanza_get_text(j)) == NULL) {
		c->c.meter_bad++;
		return 1;
	}
	if (jid_bare(text, to, sizeof to) == -1) {
		log_debug("report on invalid JID %s ignored",
			  log_esc(esc, sizeof esc, text));
		xmpp_free(xmpp_stanza_get_context(msg), text);
		c->c.meter_bad++;
		return 1;
	}
	xmpp_free(xmpp_stanza_get_context(msg), text);
	if (peer &&
	    (jid_domain(to, dom, sizeof dom) == -1 || strchr(to, '@') == NULL ||
	     !config_list_has(&c->cfg->serves, dom))) {
		/* a peer may tell us about our users, not about anyone */
		c->c.refused_untrusted++;
		log_debug("report from %s on a foreign JID ignored",
			  log_esc(esc, sizeof esc, from));
		return 1;
	}
	reason = xmpp_stanza_get_attribute(rep, "reason");
	if (reason != NULL && strlen(reason) > REPORT_REASON_MAX)
		reason = NULL;
	memset(&pe, 0, sizeof pe);
	pe.type = peer ? POL_EV_PEER_REPORT : POL_EV_REPORT;
	pe.jid = reporter;
	pe.to = to;
	pe.reason = reason != NULL ? reason : "urn:xmpp:reporting:spam";
	pe.user_exists = -1;
	pol_event(c->pol, &pe);
	if (!peer && c->store != NULL && attachment(msg, rep, att, sizeof att))
		store_report_attach(c->store, reporter, to, att);
	c->c.meter_ok++;
	log_info("report on %s %s %s", log_esc(esc, sizeof esc, to),
		 peer ? "from the server" : "forwarded by",
		 log_esc(esc2, sizeof esc2, reporter));
	return 1;
}
