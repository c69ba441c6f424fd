/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the multi-stage ad-hoc commands: list (pages with
 * prev/next) and registered-since (the cut-off method operators use in
 * bot waves: list every account created after a time with its signals,
 * then quarantine, block or unblock all of them or a selection).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "../storage/store.h"
#include "adhoc_int.h"

#define LIST_PAGE 25     /* rows per page of list */
#define REGSINCE_MAX 500 /* accounts one registered-since shows */

/* -- list ---------------------------------------------------------------- */

static void
list_form(struct adhoc_req *r)
{
	xmpp_stanza_t     *x, *f;
	static const char *vs[] = {"all", "throttle", "quarantine", "block",
				   "allowlist"};
	static const char *ts[] = {"all", "account", "domain", "ip", "prefix"};
	size_t             i;

	r->s->stage = 0;
	ah_status(r, "executing");
	ah_actions(r, "next", 0, 1, 0);
	x = ah_form(r, "form", "List quarantines and blocks",
		    "Subjects whose verdict is not allow (or the allowlisted "
		    "ones), by type and name.");
	f = ah_field(r, x, "list-single", "verdict", "Verdict", "all");
	for (i = 0; i < sizeof vs / sizeof vs[0]; i++)
		ah_option(r, f, vs[i], vs[i]);
	f = ah_field(r, x, "list-single", "type", "Subject type", "all");
	for (i = 0; i < sizeof ts / sizeof ts[0]; i++)
		ah_option(r, f, ts[i], ts[i]);
}

static void
list_page(struct adhoc_req *r)
{
	struct adhoc_sess *s = r->s;
	struct adm_list    l;
	struct adm_entry  *e;
	xmpp_stanza_t     *x, *rep, *it;
	char               title[128], t[32], by[ADM_TEXT_MAX], vb[32];
	size_t             i, pages;

	adm_list_get(&r->env, s->vfilter, s->tfilter, &l);
	pages = l.n == 0 ? 1 : (l.n + LIST_PAGE - 1) / LIST_PAGE;
	if (s->page >= pages)
		s->page = pages - 1;
	if (pages == 1) {
		ah_status(r, "completed");
	} else {
		ah_status(r, "executing");
		ah_actions(r, s->page + 1 < pages ? "next" : "complete",
			   s->page > 0, s->page + 1 < pages, 1);
	}
	snprintf(title, sizeof title, "%zu listed; page %zu of %zu", l.n,
		 s->page + 1, pages);
	ah_note(r, "info", "%s", title);
	x = ah_form(r, "result", title, NULL);
	rep = stz_add(x, stz_elem(r->c, "reported", NULL));
	ah_field(r, rep, NULL, "subject", "Subject", NULL);
	ah_field(r, rep, NULL, "type", "Type", NULL);
	ah_field(r, rep, NULL, "verdict", "Verdict", NULL);
	ah_field(r, rep, NULL, "expires", "Expires", NULL);
	ah_field(r, rep, NULL, "by", "By: reason", NULL);
	for (i = s->page * LIST_PAGE; i < l.n && i < (s->page + 1) * LIST_PAGE;
	     i++) {
		e = &l.v[i];
		it = stz_add(x, stz_elem(r->c, "item", NULL));
		ah_field(r, it, NULL, "subject", NULL, e->key);
		ah_field(r, it, NULL, "type", NULL, fg_subj_name(e->type));
		/* observed only (observe mode, enforce = no) */
		snprintf(vb, sizeof vb, "%s%s",
			 e->enforced < e->effective ? "would-" : "",
			 fg_verdict_name(e->effective));
		ah_field(r, it, NULL, "verdict", NULL, vb);
		ah_field(r, it, NULL, "expires", NULL,
			 adm_fmt_time(e->expires, t, sizeof t));
		if (e->reason != NULL && *e->reason != '\0')
			snprintf(by, sizeof by, "%s: %s",
				 e->actor ? e->actor : "auto", e->reason);
		else
			snprintf(by, sizeof by, "%s",
				 e->actor ? e->actor : "auto");
		ah_field(r, it, NULL, "by", NULL, by);
	}
	adm_list_free(&l);
}

void
ah_cmd_list(struct adhoc_req *r)
{
	struct adhoc_sess *s = r->s;
	char               v[32], t[32];

	if (s->stage == 0 && r->form == NULL) {
		list_form(r);
		return;
	}
	if (s->stage == 0) {
		if (adm_list_filter(
			ah_get(r, "verdict", v, sizeof v) == 1 ? v : NULL,
			&s->vfilter) == -1) {
			list_form(r);
			ah_note(r, "error", "verdict is " ADM_LIST_FILTERS);
			return;
		}
		if (ah_get(r, "type", t, sizeof t) != 1 ||
		    strcmp(t, "all") == 0)
			s->tfilter = FG_SUBJ__MAX;
		else if (adm_subj_parse(t, &s->tfilter) == -1) {
			list_form(r);
			ah_note(r, "error",
				"type is all, account, domain, ip "
				"or prefix");
			return;
		}
		s->stage = 1;
		s->page = 0;
	} else if (strcmp(r->action, "next") == 0)
		s->page++;
	else if (strcmp(r->action, "prev") == 0) {
		if (s->page > 0)
			s->page--;
	} else {
		ah_status(r, "completed");
		return;
	}
	list_page(r);
}

/* -- registered-since ------------------------------------------------------ */

static void
since_form(struct adhoc_req *r, const char *value)
{
	xmpp_stanza_t *x;

	r->s->stage = 0;
	ah_status(r, "executing");
	ah_actions(r, "next", 0, 1, 0);
	x = ah_form(r, "form", "Accounts registered since",
		    "Lists the accounts created at or after a time (UTC), "
		    "with their verdicts and signals, then acts on all of "
		    "them or a selection.");
	ah_required(r, ah_field(r, x, "text-single", "since",
				"Since (2024-05-01T12:00:00Z, or 2h for two "
				"hours ago)",
				value));
}

static void
on_reg(const struct store_registration *reg, void *arg)
{
	struct adhoc_sess *s = arg;
	char               t[32];

	if (s->naccts >= REGSINCE_MAX || reg->account == NULL)
		return;
	s->accts = xreallocarray(s->accts, s->naccts + 1, sizeof *s->accts);
	s->info = xreallocarray(s->info, s->naccts + 1, sizeof *s->info);
	s->accts[s->naccts] = xstrdup(reg->account);
	xasprintf(&s->info[s->naccts], "registered %s%s%s",
		  adm_fmt_time(reg->at, t, sizeof t), reg->ip ? " from " : "",
		  reg->ip ? reg->ip : "");
	s->naccts++;
}

static void
act_form(struct adhoc_req *r)
{
	struct adhoc_sess *s = r->s;
	struct pol_info    pi;
	xmpp_stanza_t     *x, *f;
	char               label[1024], t[32];
	size_t             i;

	s->stage = 1;
	ah_status(r, "executing");
	ah_actions(r, "complete", 1, 0, 1);
	x = ah_form(r, "form", "Accounts registered since", NULL);
	snprintf(label, sizeof label, "%zu account%s registered since %s%s",
		 s->naccts, s->naccts == 1 ? "" : "s",
		 adm_fmt_time(s->since, t, sizeof t),
		 s->naccts >= REGSINCE_MAX ? " (the first ones only: act, "
					     "then run again)"
					   : "");
	ah_field(r, x, "fixed", NULL, NULL, label);
	f = ah_field(r, x, "list-multi", "accounts",
		     "Accounts (for 'selected')", NULL);
	for (i = 0; i < s->naccts; i++) {
		if (pol_inspect(r->c->pol, FG_SUBJ_ACCOUNT, s->accts[i], &pi) ==
		    0)
			snprintf(label, sizeof label, "%s: %s; %s%s%s",
				 s->accts[i], s->info[i],
				 fg_verdict_name(pi.effective),
				 pi.signals && *pi.signals ? "; " : "",
				 pi.signals ? pi.signals : "");
		else
			snprintf(label, sizeof label, "%s: %s", s->accts[i],
				 s->info[i]);
		ah_option(r, f, label, s->accts[i]);
	}
	f = ah_field(r, x, "list-single", "action", "Action", "quarantine");
	ah_option(r, f, "quarantine", "quarantine");
	ah_option(r, f, "block", "block");
	ah_option(r, f, "unblock", "unblock");
	ah_required(r, f);
	f = ah_field(r, x, "list-single", "scope", "On", "all");
	ah_option(r, f, "all accounts listed", "all");
	ah_option(r, f, "the selected accounts", "selected");
	ah_field(r, x, "text-single", "reason", "Reason", "registration wave");
	f = ah_field(r, x, "list-single", "duration", "For how long", "7d");
	ah_option(r, f, "1 day", "1d");
	ah_option(r, f, "7 days", "7d");
	ah_option(r, f, "30 days", "30d");
	ah_option(r, f, "until unblocked", "forever");
	ah_required(r, ah_field(r, x, "boolean", "confirm",
				"Yes, act on these accounts", "0"));
}

struct bulk {
	struct adhoc_req *r;
	enum adm_verb     verb;
	const char       *reason;
	int64_t           dur;
	size_t            done, skipped, failed, admins, unknown;
	char              lastmsg[ADM_MSG_MAX];
};

static void
bulk_one(const char *jid, void *arg)
{
	struct bulk       *b = arg;
	struct adhoc_sess *s = b->r->s;
	struct adm_result  res;
	size_t             i;

	for (i = 0; i < s->naccts; i++)
		if (strcmp(s->accts[i], jid) == 0)
			break;
	if (i == s->naccts) {
		b->unknown++; /* only what we listed can be acted on */
		return;
	}
	if (adm_is_admin(b->r->c->cfg, jid)) {
		b->admins++;
		return;
	}
	adm_act_key(&b->r->env, b->verb, b->r->actor, FG_SUBJ_ACCOUNT, jid,
		    b->reason, b->dur, &res);
	if (res.status == ADM_OK)
		b->done++;
	else if (res.status == ADM_NOTFOUND)
		b->skipped++;
	else {
		b->failed++;
		snprintf(b->lastmsg, sizeof b->lastmsg, "%s", res.msg);
	}
}

static void
bulk_act(struct adhoc_req *r)
{
	struct bulk b;
	char        act[32], scope[32], reason[AH_FIELD_MAX], dur[64], conf[16];
	char        esc[LOG_ESC_MAX];
	int         yes = 0;
	size_t      i;

	memset(&b, 0, sizeof b);
	b.r = r;
	if (ah_get(r, "action", act, sizeof act) != 1 ||
	    (strcmp(act, "quarantine") && strcmp(act, "block") &&
	     strcmp(act, "unblock"))) {
		act_form(r);
		ah_note(r, "error", "action is quarantine, block or unblock");
		return;
	}
	adm_verb_parse(act, &b.verb);
	if (ah_get(r, "reason", reason, sizeof reason) == -1 ||
	    ah_get(r, "scope", scope, sizeof scope) == -1 ||
	    ah_get(r, "duration", dur, sizeof dur) == -1 ||
	    ah_get(r, "confirm", conf, sizeof conf) == -1 ||
	    (strcmp(scope, "all") && strcmp(scope, "selected"))) {
		act_form(r);
		ah_note(r, "error", "scope is all or selected");
		return;
	}
	if (adm_parse_duration(dur, &b.dur) == -1) {
		act_form(r);
		ah_note(r, "error",
			"'%.60s' is not a duration (e.g. 1d, 7d, "
			"forever)",
			dur);
		return;
	}
	if (config_parse_bool(conf, &yes) == -1 || !yes) {
		act_form(r);
		ah_note(r, "error",
			"not confirmed: tick the confirmation to "
			"act on these accounts");
		return;
	}
	if (b.verb != ADM_UNBLOCK && reason[0] == '\0') {
		act_form(r);
		ah_note(r, "error", "a reason is required to %s", act);
		return;
	}
	b.reason = reason;
	if (strcmp(scope, "all") == 0)
		for (i = 0; i < r->s->naccts; i++)
			bulk_one(r->s->accts[i], &b);
	else
		ah_get_all(r, "accounts", bulk_one, &b);
	log_info("ad-hoc registered-since %s by %s: %zu done, %zu skipped, "
		 "%zu failed",
		 act, log_esc(esc, sizeof esc, r->actor), b.done, b.skipped,
		 b.failed);
	ah_status(r, "completed");
	ah_note(r, b.failed ? "warn" : "info",
		"%s: %zu account%s done, %zu with nothing to do, %zu failed, "
		"%zu admin%s left alone%s%s%s",
		act, b.done, b.done == 1 ? "" : "s", b.skipped, b.failed,
		b.admins, b.admins == 1 ? "" : "s",
		b.unknown ? "; ignored accounts not in the list" : "",
		b.failed ? "; last failure: " : "", b.lastmsg);
}

void
ah_cmd_regsince(struct adhoc_req *r)
{
	struct adhoc_sess *s = r->s;
	char               since[AH_FIELD_MAX], t[32];
	int                rc;

	if (s->stage == 1 && strcmp(r->action, "prev") == 0) {
		since_form(r, adm_fmt_time(s->since, t, sizeof t));
		return;
	}
	if (s->stage == 1) {
		if (r->form == NULL) {
			act_form(r);
			ah_note(r, "error", "submit the form to act");
			return;
		}
		bulk_act(r);
		return;
	}
	if (r->form == NULL) {
		since_form(r, NULL);
		return;
	}
	if ((rc = ah_get(r, "since", since, sizeof since)) != 1 ||
	    adm_parse_time(since, clock_wall_ms(), &s->since) == -1) {
		since_form(r, rc == 1 ? since : NULL);
		ah_note(r, "error",
			"'%.80s' is not a time: give "
			"2024-05-01T12:00:00Z (UTC), 2024-05-01 "
			"12:00, or a duration ago such as 2h",
			rc == 1 ? since : "");
		return;
	}
	if (r->env.store == NULL) {
		ah_status(r, "completed");
		ah_note(r, "error", "no store: registrations are not kept");
		return;
	}
	ah_sess_clear(s);
	if (store_registered_since(r->env.store, s->since, REGSINCE_MAX, on_reg,
				   s) == -1) {
		ah_status(r, "completed");
		ah_note(r, "error",
			"the store could not be read; see the "
			"daemon's log");
		return;
	}
	if (s->naccts == 0) {
		ah_status(r, "completed");
		ah_note(r, "info", "no accounts registered since %s",
			adm_fmt_time(s->since, t, sizeof t));
		return;
	}
	act_form(r);
}
