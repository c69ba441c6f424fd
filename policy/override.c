/* SPDX-License-Identifier: ISC */
/*
 * floodgate - policy: what admins do and see. Overrides are committed to
 * the store (store_commit_admin) before memory changes, so an
 * acknowledged admin action survives kill -9; inspect and list read the
 * in-memory state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/ratelimit.h"
#include "../core/xmalloc.h"
#include "policy_int.h"

static void fill_info(struct policy *, const struct rep_subj *, int64_t,
		      struct pol_info *);

int
pol_admin(struct policy *p, enum fg_subj type, const char *key,
	  enum fg_override ovr, const char *actor, const char *reason,
	  int64_t duration_ms)
{
	struct store_subject ss;
	struct store_audit   au;
	struct rep_subj     *s;
	char                 k[POL_KEY_MAX], esc[LOG_ESC_MAX];
	char                 sig[POL_SIGTEXT_MAX];
	int64_t              now = clock_wall_ms();
	enum fg_verdict      old_eff, new_eff, old_enf;
	enum fg_override     old_ovr;
	int                  n, existed;

	if ((int)type < 0 || type >= FG_SUBJ__MAX || (int)ovr < 0 ||
	    ovr >= FG_OVR__MAX ||
	    (n = pol_norm_key(type, key, k, sizeof k)) == -1) {
		log_warnx("policy: admin action on bad %s key \"%s\"",
			  fg_subj_name(type), log_esc(esc, sizeof esc, key));
		return -1;
	}
	if (actor == NULL)
		actor = "admin";
	existed = rep_find(p->rep, type, k, (size_t)n,
			   rep_hash(type, k, (size_t)n)) != NULL;
	s = rep_get_admin(p->rep, type, k, (size_t)n, now, p->prm.half_life_ms);
	if (s == NULL) {
		log_warnx("policy: subject table full of overrides; admin "
			  "action on %s refused",
			  log_esc(esc, sizeof esc, k));
		return -1;
	}
	old_eff = pol_effective(s);
	old_enf = pol_enforced(s);
	old_ovr = (enum fg_override)s->override;

	/* the state after the change, made durable before it is applied */
	memset(&ss, 0, sizeof ss);
	ss.type = type;
	ss.key = s->key;
	ss.updated = now;
	ss.override = ovr;
	if (ovr == FG_OVR_NONE) {
		/* unblock: back to a clean automatic state */
		ss.score = 0;
		ss.score_at = now;
		ss.verdict = FG_V_ALLOW;
		ss.expires = 0;
		new_eff = FG_V_ALLOW;
		if (reason == NULL)
			reason = "override cleared";
	} else {
		ss.score = rep_score(s, now, p->prm.half_life_ms);
		ss.score_at = now;
		ss.verdict = s->verdict;
		ss.expires = duration_ms > 0 ? now + duration_ms : 0;
		ss.actor = actor;
		ss.reason = reason;
		new_eff = ovr == FG_OVR_ALLOW        ? FG_V_ALLOW
			  : ovr == FG_OVR_QUARANTINE ? FG_V_QUARANTINE
						     : FG_V_BLOCK;
		if (reason == NULL)
			reason = "set by admin";
	}
	pol_audit_row(&au, now, type, s->key, old_eff, new_eff, reason,
		      pol_sigtext(p, s, sig, sizeof sig), actor);
	if (p->store != NULL && store_commit_admin(p->store, &ss, &au) == -1) {
		log_warnx("policy: admin action on %s not committed",
			  log_esc(esc, sizeof esc, k));
		if (!existed)
			rep_del(p->rep, s);
		return -1;
	}

	free(s->actor);
	free(s->reason);
	s->actor = s->reason = NULL;
	s->override = (uint8_t)ovr;
	s->score = ss.score;
	s->score_at = now;
	s->updated = now;
	if (ovr == FG_OVR_NONE) {
		int kind;

		s->verdict = FG_V_ALLOW;
		s->enf = FG_V_ALLOW;
		s->expires = 0;
		s->ovr_expires = 0;
		s->sig_n = s->sig_head = 0;
		/* and a fresh allowance: old debt was what got it blocked */
		for (kind = 0; kind < FG_KIND__MAX; kind++)
			rl_del(p->rl, rl_key_derive(s->hash, kind));
	} else {
		s->ovr_expires = ss.expires;
		s->actor = xstrdup(actor);
		s->reason = xstrdup(reason);
	}
	rep_relist(p->rep, s);
	rep_clean(s);
	if (new_eff != old_eff)
		p->st.verdict_changes++;
	/* pushed when what the modules enforce moves (an observed block
	 * confirmed by an admin moves it without changing the effective
	 * verdict), and for every override: the modules cache allowlist
	 * entries, and a renewed block carries its new expiry */
	if (p->cb != NULL && (pol_enforced(s) != old_enf || ovr != old_ovr ||
			      ovr != FG_OVR_NONE))
		p->cb(s->type, s->key, pol_enforced(s), pol_eff_expires(s),
		      reason, p->cb_arg);
	return 0;
}

static void
fill_info(struct policy *p, const struct rep_subj *s, int64_t now,
	  struct pol_info *info)
{
	info->type = s->type;
	info->key = s->key;
	info->score = rep_score(s, now, p->prm.half_life_ms);
	info->verdict = s->verdict;
	info->effective = pol_effective(s);
	info->enforced = pol_enforced(s);
	info->drop =
	    info->enforced >= FG_V_QUARANTINE && p->prm.drop[pol_cause(s)];
	info->expires = pol_eff_expires(s);
	info->updated = s->updated;
	info->override = s->override;
	info->actor = s->actor;
	info->reason = s->reason;
	info->signals = pol_sigtext(p, s, p->isig, sizeof p->isig);
}

int
pol_inspect(struct policy *p, enum fg_subj type, const char *key,
	    struct pol_info *info)
{
	struct rep_subj *s;
	int              n;

	memset(info, 0, sizeof *info);
	if ((int)type < 0 || type >= FG_SUBJ__MAX ||
	    (n = pol_norm_key(type, key, p->ikey, sizeof p->ikey)) == -1)
		return -1;
	s = rep_find(p->rep, type, p->ikey, (size_t)n,
		     rep_hash(type, p->ikey, (size_t)n));
	if (s == NULL) {
		info->type = type;
		info->key = p->ikey;
		info->verdict = info->effective = info->enforced = FG_V_ALLOW;
		info->override = FG_OVR_NONE;
		info->signals = "";
		return 0;
	}
	fill_info(p, s, clock_wall_ms(), info);
	return 0;
}

double
pol_score(struct policy *p, enum fg_subj type, const char *key)
{
	struct rep_subj *s;
	int              n;

	if ((int)type < 0 || type >= FG_SUBJ__MAX ||
	    (n = pol_norm_key(type, key, p->ikey, sizeof p->ikey)) == -1)
		return 0;
	s = rep_find(p->rep, type, p->ikey, (size_t)n,
		     rep_hash(type, p->ikey, (size_t)n));
	return s != NULL ? rep_score(s, clock_wall_ms(), p->prm.half_life_ms)
			 : 0;
}

double
pol_score_norm(struct policy *p, enum fg_subj type, const char *key, size_t len,
	       uint64_t h, struct pol_evidence *ev)
{
	struct rep_subj *s = NULL;

	if ((int)type >= 0 && type < FG_SUBJ__MAX && len > 0)
		s = rep_find(p->rep, type, key, len,
			     h != 0 ? h : rep_hash(type, key, len));
	if (ev != NULL) {
		if (s != NULL)
			pol_evidence_of(s, ev);
		else
			memset(ev, 0, sizeof *ev);
	}
	return s != NULL ? rep_score(s, clock_wall_ms(), p->prm.half_life_ms)
			 : 0;
}

uint64_t
pol_subject_hash(enum fg_subj type, const char *key, size_t len)
{
	return rep_hash(type, key, len);
}

void
pol_prefetch_subject(const struct policy *p, uint64_t h, int deep)
{
	if (deep)
		rep_prefetch_subj(p->rep, h);
	else
		rep_prefetch(p->rep, h);
}

/* The listed subjects (a verdict or an override) that are allowlisted,
 * or that are not allow. */
static void
foreach_listed(struct policy *p, int allowlisted, pol_info_cb cb, void *arg)
{
	struct rep_subj *s, *next;
	struct pol_info  info;
	int64_t          now = clock_wall_ms();

	for (s = LIST_FIRST(rep_listed(p->rep)); s != NULL; s = next) {
		next = LIST_NEXT(s, listed);
		if (allowlisted ? s->override != FG_OVR_ALLOW
				: pol_effective(s) == FG_V_ALLOW)
			continue;
		fill_info(p, s, now, &info);
		cb(&info, arg);
	}
}

void
pol_foreach_listed(struct policy *p, pol_info_cb cb, void *arg)
{
	foreach_listed(p, 0, cb, arg);
}

void
pol_foreach_allowlisted(struct policy *p, pol_info_cb cb, void *arg)
{
	foreach_listed(p, 1, cb, arg);
}
