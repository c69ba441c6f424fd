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
 * modules as meter events instead (doc/PROTOCOL.md, type report). Only
 * the served domains are believed; a remote server's forwarded report is
 * refused like any other untrusted floodgate stanza.
 */
#include <string.h>

#include "../core/jid.h"
#include "../core/log.h"
#include "../policy/policy.h"
#include "comp_int.h"

#define NS_REPORTING "urn:xmpp:reporting:1"
#define NS_REPORTING0 "urn:xmpp:reporting:0"
#define NS_JID "urn:xmpp:jid:0"
#define REPORT_REASON_MAX 256 /* bytes of a reason we pass on */

/* 1 when msg is a forwarded report (handled, used or not), else 0. */
int
comp_report_message(struct comp *c, xmpp_stanza_t *msg)
{
	xmpp_stanza_t   *rep, *j;
	struct pol_event pe;
	char             reporter[JID_MAX + 1], to[JID_MAX + 1];
	char             esc[LOG_ESC_MAX];
	const char      *reason, *from;
	char            *text;

	if ((rep = xmpp_stanza_get_child_by_ns(msg, NS_REPORTING)) == NULL &&
	    (rep = xmpp_stanza_get_child_by_ns(msg, NS_REPORTING0)) == NULL)
		return 0;
	if (xmpp_stanza_get_name(rep) == NULL ||
	    strcmp(xmpp_stanza_get_name(rep), "report") != 0)
		return 0;
	from = stz_attr(msg, "from");
	if (!stz_from_server(c, msg) ||
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
	reason = xmpp_stanza_get_attribute(rep, "reason");
	if (reason != NULL && strlen(reason) > REPORT_REASON_MAX)
		reason = NULL;
	memset(&pe, 0, sizeof pe);
	pe.type = POL_EV_REPORT;
	pe.jid = reporter;
	pe.to = to;
	pe.reason = reason != NULL ? reason : "urn:xmpp:reporting:spam";
	pe.user_exists = -1;
	pol_event(c->pol, &pe);
	c->c.meter_ok++;
	log_info("report on %s forwarded by %s", log_esc(esc, sizeof esc, to),
		 reporter);
	return 1;
}
