/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the ad-hoc command "alerts": an admin says whether the
 * alert digests (alerts.c) come to them. The first stage shows the
 * current choice, the second stores the new one (kept across restarts).
 */
#include <stdio.h>
#include <string.h>

#include "adhoc_int.h"

void
ah_cmd_alerts(struct adhoc_req *r)
{
	xmpp_stanza_t *x, *f;
	char           v[16];
	int            on = comp_alerts_wanted(r->c, r->actor), want;

	if (r->form == NULL) {
		ah_status(r, "executing");
		ah_actions(r, "complete", 0, 0, 1);
		x = ah_form(r, "form", "Alerts",
			    "A chat message from floodgate at most once a "
			    "minute when something needs you: waves, "
			    "automatic blocks, reports, spamtraps, the link "
			    "to the server, our domains on blocklists.");
		f = ah_field(r, x, "boolean", "alerts", "Send me alerts",
			     on ? "1" : "0");
		ah_required(r, f);
		return;
	}
	if (ah_get(r, "alerts", v, sizeof v) != 1 ||
	    (strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "0") &&
	     strcmp(v, "false"))) {
		ah_status(r, "executing");
		ah_actions(r, "complete", 0, 0, 1);
		x = ah_form(r, "form", "Alerts", NULL);
		ah_required(r, ah_field(r, x, "boolean", "alerts",
					"Send me alerts", on ? "1" : "0"));
		ah_note(r, "error", "alerts is a boolean (1 or 0)");
		return;
	}
	want = !strcmp(v, "1") || !strcmp(v, "true");
	if (comp_alerts_optin(r->c, r->actor, want) == -1) {
		ah_status(r, "completed");
		ah_note(r, "error", "could not save the choice; see the log");
		return;
	}
	ah_status(r, "completed");
	ah_note(r, "info", "alerts %s for %s", want ? "on" : "off", r->actor);
}
