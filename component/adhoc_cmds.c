/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the ad-hoc commands that act on one subject (unblock,
 * block, quarantine, allowlist, block-domain, unblock-domain), inspect
 * and stats. Validation and the action itself are admin/verbs.c's,
 * the same as floodgatectl's; a bad input shows the form again with the
 * reason in an error note and the admin's values kept.
 */
#include <stdio.h>
#include <string.h>

#include "../admin/web.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "adhoc_int.h"

struct act_spec {
	enum adm_verb verb;
	const char   *title;
	const char   *instructions;
	int           domain;     /* jid-single "domain" instead of subject */
	int           reason_req; /* a reason is required */
	const char   *dur;        /* default duration; NULL: no such field */
	int           confirm;    /* a boolean confirmation is required */
};

static const struct act_spec specs[] = {
    {ADM_UNBLOCK, "Unblock",
     "Lift a block, quarantine or allowlist entry from an account, domain "
     "or IP address and reset its score. Takes effect at once.",
     0, 0, NULL, 0},
    {ADM_BLOCK, "Block",
     "Block an account, local or remote (all its stanzas refused, "
     "sessions ended), a remote domain (asks for confirmation) or an IP "
     "address.",
     0, 1, "forever", 0},
    {ADM_QUARANTINE, "Quarantine",
     "Quarantine: no invitations or messages to non-contacts; contacts "
     "keep talking.",
     0, 1, "7d", 0},
    {ADM_ALLOWLIST, "Allowlist", "Exempt from every automatic verdict.", 0, 0,
     "forever", 0},
    {ADM_BLOCK_DOMAIN, "Block a remote domain",
     "Refuse everything from a remote server domain and publish it on "
     "the blocklist node.",
     1, 1, "forever", 1},
    {ADM_UNBLOCK_DOMAIN, "Unblock a remote domain",
     "Lift a domain's block or quarantine.", 1, 0, NULL, 0},
};

static const char *dur_opts[][2] = {
    {"1 hour", "1h"},
    {"1 day", "1d"},
    {"7 days", "7d"},
    {"30 days", "30d"},
    {"until unblocked", "forever"},
};

static void
dur_field(struct adhoc_req *r, xmpp_stanza_t *x, const char *value)
{
	xmpp_stanza_t *f;
	size_t         i;

	f = ah_field(r, x, "list-single", "duration", "For how long", value);
	for (i = 0; i < sizeof dur_opts / sizeof dur_opts[0]; i++)
		ah_option(r, f, dur_opts[i][0], dur_opts[i][1]);
}

static void
act_form(struct adhoc_req *r, const struct act_spec *sp, const char *subj,
	 const char *reason, const char *dur, int confirm)
{
	xmpp_stanza_t *x, *f;

	ah_status(r, "executing");
	ah_actions(r, "complete", 0, 0, 1);
	x = ah_form(r, "form", sp->title, sp->instructions);
	if (sp->domain)
		f = ah_field(r, x, "jid-single", "domain", "Remote domain",
			     subj);
	else
		f = ah_field(r, x, "text-single", "subject",
			     "Account JID (local or remote), domain or IP "
			     "address",
			     subj);
	ah_required(r, f);
	f = ah_field(r, x, "text-single", "reason",
		     sp->reason_req ? "Reason (kept in the audit log)"
				    : "Reason (optional)",
		     reason);
	if (sp->reason_req)
		ah_required(r, f);
	if (sp->dur != NULL)
		dur_field(r, x, dur != NULL && *dur ? dur : sp->dur);
	if (sp->confirm || confirm) {
		f = ah_field(r, x, "boolean", "confirm",
			     "Yes, refuse everything from this domain", "0");
		ah_required(r, f);
	}
}

static void
run_act(struct adhoc_req *r, const struct act_spec *sp)
{
	char              subj[AH_FIELD_MAX], reason[AH_FIELD_MAX];
	char              dur[64], conf[16], esc[LOG_ESC_MAX];
	char              key[ADM_KEY_MAX], err[ADM_MSG_MAX];
	struct adm_result res;
	enum fg_subj      type;
	int               yes = 0, need;

	if (r->form == NULL) {
		act_form(r, sp, NULL, NULL, NULL, 0);
		return;
	}
	if (ah_get(r, sp->domain ? "domain" : "subject", subj, sizeof subj) ==
		-1 ||
	    ah_get(r, "reason", reason, sizeof reason) == -1 ||
	    ah_get(r, "duration", dur, sizeof dur) == -1 ||
	    ah_get(r, "confirm", conf, sizeof conf) == -1) {
		act_form(r, sp, NULL, NULL, NULL, 0);
		ah_note(r, "error", "a field is too long");
		return;
	}
	/* a whole domain through block or quarantine: the same
	 * confirmation as block-domain, one account must not be mistyped
	 * into a whole server (our own domains are refused outright) */
	need = sp->confirm ||
	       ((sp->verb == ADM_BLOCK || sp->verb == ADM_QUARANTINE) &&
		adm_parse_subject(subj, &type, key, sizeof key, err,
				  sizeof err) == 0 &&
		type == FG_SUBJ_DOMAIN && !adm_served(r->env.cfg, key));
	if (need && (config_parse_bool(conf, &yes) == -1 || !yes)) {
		act_form(r, sp, subj, reason, dur, need);
		ah_note(r, "error",
			"not confirmed: tick the confirmation to "
			"%s",
			adm_verb_name(sp->verb));
		return;
	}
	adm_act(&r->env, sp->verb, r->actor, subj, reason,
		sp->dur != NULL ? dur : NULL, &res);
	if (res.status == ADM_OK) {
		log_info("ad-hoc %s by %s: %s", adm_verb_name(sp->verb),
			 log_esc(esc, sizeof esc, r->actor), res.msg);
		ah_status(r, "completed");
		ah_note(r, "info", "%s", res.msg);
	} else if (res.status == ADM_FAILED) {
		ah_status(r, "completed");
		ah_note(r, "error", "%s", res.msg);
	} else {
		act_form(r, sp, subj, reason, dur, need);
		ah_note(r, "error", "%s", res.msg);
	}
}

static void
cmd_unblock(struct adhoc_req *r)
{
	run_act(r, &specs[0]);
}
static void
cmd_block(struct adhoc_req *r)
{
	run_act(r, &specs[1]);
}
static void
cmd_quarantine(struct adhoc_req *r)
{
	run_act(r, &specs[2]);
}
static void
cmd_allowlist(struct adhoc_req *r)
{
	run_act(r, &specs[3]);
}
static void
cmd_block_domain(struct adhoc_req *r)
{
	run_act(r, &specs[4]);
}
static void
cmd_unblock_domain(struct adhoc_req *r)
{
	run_act(r, &specs[5]);
}

static void
inspect_form(struct adhoc_req *r, const char *subj)
{
	xmpp_stanza_t *x;

	ah_status(r, "executing");
	ah_actions(r, "complete", 0, 0, 1);
	x = ah_form(r, "form", "Inspect",
		    "Score, verdict, signals and recent audit entries of an "
		    "account, domain or IP address.");
	ah_required(r, ah_field(r, x, "text-single", "subject",
				"Account JID (local or remote), domain or IP "
				"address",
				subj));
}

static void
cmd_inspect(struct adhoc_req *r)
{
	struct adm_view   v;
	struct adm_result res;
	struct adm_audit *a;
	char              subj[AH_FIELD_MAX], buf[2 * ADM_TEXT_MAX + 64], t[32];
	xmpp_stanza_t    *x, *f;
	size_t            i;

	if (r->form == NULL) {
		inspect_form(r, NULL);
		return;
	}
	if (ah_get(r, "subject", subj, sizeof subj) == -1)
		subj[0] = '\0';
	adm_inspect(&r->env, subj, &v, &res);
	if (res.status == ADM_BAD) {
		inspect_form(r, subj);
		ah_note(r, "error", "%s", res.msg);
		return;
	}
	ah_status(r, "completed");
	if (res.status == ADM_NOTFOUND)
		ah_note(r, "warn", "nothing on record for %s %s",
			fg_subj_name(v.type), v.key);
	x = ah_form(r, "result", "Inspect", NULL);
	ah_field(r, x, "jid-single", "subject", "Subject", v.key);
	ah_field(r, x, "text-single", "type", "Type", fg_subj_name(v.type));
	ah_field(r, x, "text-single", "verdict", "Verdict (effective)",
		 fg_verdict_name(v.effective));
	snprintf(buf, sizeof buf, "%s, score %.2f", fg_verdict_name(v.verdict),
		 v.score);
	ah_field(r, x, "text-single", "automatic", "Automatic verdict", buf);
	ah_field(r, x, "text-single", "expires", "Expires",
		 v.expires ? adm_fmt_time(v.expires, t, sizeof t) : "never");
	if (v.override != FG_OVR_NONE)
		snprintf(buf, sizeof buf, "%s by %s: %s",
			 fg_override_name(v.override), v.actor, v.reason);
	else
		snprintf(buf, sizeof buf, "none");
	ah_field(r, x, "text-single", "override", "Admin override", buf);
	ah_field(r, x, "text-single", "signals", "Recent signals",
		 v.signals[0] ? v.signals : "none");
	snprintf(buf, sizeof buf, "%s %s",
		 v.published ? "listed on" : "not listed on", v.pubsub_node);
	ah_field(r, x, "text-single", "pubsub", "Blocklist (pubsub)", buf);
	f = ah_field(r, x, "text-multi", "audit", "Audit (newest first)",
		     v.naudit ? NULL : "none");
	for (i = 0; i < v.naudit; i++) {
		a = &v.audit[i];
		snprintf(buf, sizeof buf, "%s %s -> %s by %s: %s%s%s%s",
			 adm_fmt_time(a->at, t, sizeof t),
			 fg_verdict_name(a->old_v), fg_verdict_name(a->new_v),
			 a->actor, a->reason, a->signals[0] ? " [" : "",
			 a->signals, a->signals[0] ? "]" : "");
		ah_value_add(r, f, buf);
	}
}

static void
cmd_stats(struct adhoc_req *r)
{
	struct adm_stat st[ADM_STATS_MAX];
	size_t          i, n = adm_stats(&r->env, st, ADM_STATS_MAX);
	xmpp_stanza_t  *x;
	char            buf[32];

	ah_status(r, "completed");
	x = ah_form(r, "result", "floodgate statistics", NULL);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "%llu",
			 (unsigned long long)st[i].value);
		ah_field(r, x, "text-single", st[i].name, st[i].name, buf);
	}
	snprintf(buf, sizeof buf, "%llu",
		 (unsigned long long)r->c->c.refused_untrusted);
	ah_field(r, x, "text-single", "refused_untrusted", "refused_untrusted",
		 buf);
}

void
comp_set_web(struct comp *c, struct web *w)
{
	c->web = w;
}

/* A one-time link to the moderation page, for the admin who asks. */
static void
cmd_web_login(struct adhoc_req *r)
{
	struct adm_result res;
	char              url[1024];
	xmpp_stanza_t    *x;

	web_login_link(r->env.web, r->actor, clock_wall_ms(), url, sizeof url,
		       &res);
	ah_status(r, "completed");
	if (res.status != ADM_OK) {
		ah_note(r, "error", "%s", res.msg);
		return;
	}
	ah_note(r, "info", "%s: %s", res.msg, url);
	x = ah_form(r, "result", "Moderation page", NULL);
	ah_field(r, x, "text-single", "url", "One-time login link", url);
}

const struct adhoc_cmd adhoc_cmds[] = {
    {"unblock", "Unblock an account, domain or IP", cmd_unblock},
    {"block", "Block an account, domain or IP", cmd_block},
    {"quarantine", "Quarantine an account, domain or IP", cmd_quarantine},
    {"inspect", "Inspect an account, domain or IP", cmd_inspect},
    {"list", "List quarantines and blocks", ah_cmd_list},
    {"block-domain", "Block a remote domain", cmd_block_domain},
    {"unblock-domain", "Unblock a remote domain", cmd_unblock_domain},
    {"allowlist", "Allowlist an account, domain or IP", cmd_allowlist},
    {"registered-since", "Accounts registered since a time", ah_cmd_regsince},
    {"stats", "Statistics", cmd_stats},
    {"web-login", "Log in to the moderation page", cmd_web_login},
    {"alerts", "Alerts: receive the digests or not", ah_cmd_alerts},
};
const size_t adhoc_ncmds = sizeof adhoc_cmds / sizeof adhoc_cmds[0];
