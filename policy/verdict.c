/* SPDX-License-Identifier: ISC */
/*
 * floodgate - policy: the one owner of a subject's verdict.
 *
 * Every change of a subject's automatic verdict or override goes through
 * here: escalation as the score crosses a threshold, renewal and step-down
 * at expiry, direct automatic verdicts (probation), override expiry, and
 * the re-evaluation a detector asks for when its evidence is withdrawn.
 * pol_changed() writes the one audit row a change leaves and tells the
 * component; admin overrides (admin.c) build their row with
 * pol_audit_row() so every row has the same shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/xmalloc.h"
#include "policy_int.h"

static enum fg_verdict level(const struct pol_params *, enum fg_subj, double);

unsigned
pol_signame(struct policy *p, const char *name)
{
	uint32_t    h = 2166136261u;
	const char *c;
	size_t      i;

	/* FNV-1a: names are the detectors' own, short, and few */
	for (c = name; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (i = h & (POL_SIGNAMES_SLOTS - 1); p->sigidx[i] != 0;
	     i = (i + 1) & (POL_SIGNAMES_SLOTS - 1))
		if (strcmp(p->signames[p->sigidx[i] - 1], name) == 0)
			return p->sigidx[i] - 1u;
	if (p->nsignames == POL_SIGNAMES_MAX)
		return 0;
	p->signames[p->nsignames] = xstrdup(name);
	p->sigidx[i] = (uint8_t)++p->nsignames;
	return (unsigned)p->nsignames - 1;
}

const char *
pol_signame_str(const struct policy *p, unsigned i)
{
	return i < p->nsignames ? p->signames[i] : "other";
}

enum fg_verdict
pol_effective(const struct rep_subj *s)
{
	switch (s->override) {
	case FG_OVR_ALLOW:
		return FG_V_ALLOW;
	case FG_OVR_QUARANTINE:
		return FG_V_QUARANTINE;
	case FG_OVR_BLOCK:
		return FG_V_BLOCK;
	default:
		return s->verdict;
	}
}

enum fg_verdict
pol_enforced(const struct rep_subj *s)
{
	if (s->override != FG_OVR_NONE)
		return pol_effective(s);
	return s->enf < s->verdict ? s->enf : s->verdict;
}

enum fg_cause
pol_cause(const struct rep_subj *s)
{
	switch (s->override) {
	case FG_OVR_QUARANTINE:
		return FG_CAUSE_QUARANTINE;
	case FG_OVR_BLOCK:
		return FG_CAUSE_BLOCK;
	default:
		return s->cause;
	}
}

int
pol_observing(const struct policy *p)
{
	return p->prm.observe ||
	       (p->cur != NULL && !p->prm.enforce[p->cur->det]);
}

/* A verdict goes up to v in the current context. */
static void
raise_to(struct policy *p, struct rep_subj *s, enum fg_verdict v)
{
	s->verdict = (uint8_t)v;
	if (!pol_observing(p))
		s->enf = (uint8_t)v;
	if (p->cur != NULL && p->cur->cause >= 0)
		s->cause = (uint8_t)p->cur->cause;
	else
		s->cause =
		    v == FG_V_BLOCK ? FG_CAUSE_BLOCK : FG_CAUSE_QUARANTINE;
}

int64_t
pol_eff_expires(const struct rep_subj *s)
{
	return s->override != FG_OVR_NONE ? s->ovr_expires : s->expires;
}

void
pol_to_store(const struct policy *p, const struct rep_subj *s, int64_t now,
	     struct store_subject *ss)
{
	memset(ss, 0, sizeof *ss);
	ss->type = s->type;
	ss->key = s->key;
	ss->score = s->score;
	ss->score_at = s->score_at;
	ss->verdict = s->verdict;
	ss->expires = pol_eff_expires(s);
	ss->override = s->override;
	ss->actor = s->actor;
	ss->reason = s->reason;
	/* an observed verdict keeps its enforced part across a restart in
	 * the fields an automatic row leaves empty (load_cb reads it) */
	if (s->override == FG_OVR_NONE && s->enf < s->verdict) {
		ss->actor = POL_ACTOR_OBSERVE;
		ss->reason = fg_verdict_name(s->enf);
	}
	ss->updated = s->updated ? s->updated : now;
}

void
pol_changed(struct policy *p, struct rep_subj *s, enum fg_verdict old_v,
	    enum fg_verdict old_eff, enum fg_verdict old_enf, int64_t now,
	    const char *reason, const char *actor)
{
	struct store_subject ss;
	struct store_audit   au;
	struct pol_note      n;
	char                 sig[POL_SIGTEXT_MAX], wreason[224];
	enum fg_verdict      eff = pol_effective(s), enf = pol_enforced(s);

	if (enf < eff && reason != NULL) {
		/* the audit log says what was only observed */
		snprintf(wreason, sizeof wreason, "observe: %s", reason);
		reason = wreason;
	}

	p->st.verdict_changes++;
	s->updated = now;
	if (p->store != NULL) {
		pol_to_store(p, s, now, &ss);
		store_queue_subject(p->store, &ss);
		rep_clean(s);
		/* the effective verdict when it moved, else the automatic
		 * one (which may have moved under an override) */
		pol_audit_row(&au, now, s->type, s->key,
			      eff != old_eff ? old_eff : old_v,
			      eff != old_eff ? eff : s->verdict, reason,
			      pol_sigtext(p, s, sig, sizeof sig), actor);
		store_queue_audit(p->store, &au);
	}
	if (enf != old_enf && p->cb != NULL)
		p->cb(s->type, s->key, enf, pol_eff_expires(s), reason,
		      p->cb_arg);
	if (eff > old_eff && eff >= FG_V_QUARANTINE && p->note != NULL &&
	    strcmp(actor, "auto") == 0) {
		memset(&n, 0, sizeof n);
		n.what = POL_NOTE_VERDICT;
		n.type = s->type;
		n.key = s->key;
		n.verdict = eff;
		n.would = enf < eff;
		n.text = reason;
		p->note(&n, p->note_arg);
	}
}

/* The verdict a score reaches; networks stop at throttle (doc/design.md). */
static enum fg_verdict
level(const struct pol_params *m, enum fg_subj type, double sc)
{
	enum fg_verdict v = FG_V_ALLOW;

	if (sc >= m->thr[FG_V_BLOCK])
		v = FG_V_BLOCK;
	else if (sc >= m->thr[FG_V_QUARANTINE])
		v = FG_V_QUARANTINE;
	else if (sc >= m->thr[FG_V_THROTTLE])
		v = FG_V_THROTTLE;
	if (type == FG_SUBJ_PREFIX && v > FG_V_THROTTLE)
		v = FG_V_THROTTLE;
	return v;
}

void
pol_eval(struct policy *p, struct rep_subj *s, int64_t now, const char *why)
{
	const struct pol_params *m = &p->prm;
	enum fg_verdict          old_v = s->verdict, old_eff = pol_effective(s);
	enum fg_verdict          old_enf = pol_enforced(s), target, keep;
	double                   sc = rep_score(s, now, m->half_life_ms);
	char                     reason[192];
	/* formatted only for a reader: store, notes, a callback that asks */
	int text = p->store != NULL || p->note != NULL || !p->cb_terse;

	target = level(m, s->type, sc);
	if (target > s->verdict) {
		/* up at once, whatever the hold time */
		raise_to(p, s, target);
		s->expires = now + m->ttl_ms;
		if (text)
			snprintf(reason, sizeof reason,
				 "score %.1f reached the %s threshold %.1f "
				 "(%s)",
				 sc, fg_verdict_name(target), m->thr[target],
				 why);
	} else if (s->verdict > FG_V_ALLOW && now >= s->expires) {
		/* down only once the verdict has expired, and only as far as
		 * the score has fallen below threshold x (1 - hysteresis) */
		keep = s->verdict;
		while (keep > FG_V_ALLOW &&
		       sc < m->thr[keep] * (1.0 - m->hysteresis))
			keep--;
		if (s->type == FG_SUBJ_PREFIX && keep > FG_V_THROTTLE)
			keep = FG_V_THROTTLE;
		s->expires = keep > FG_V_ALLOW ? now + m->ttl_ms : 0;
		s->updated = now;
		if (keep == s->verdict) {
			/* renewed: the score stays high */
			rep_mark_dirty(p->rep, s);
			if (s->override == FG_OVR_NONE && p->cb != NULL &&
			    pol_enforced(s) > FG_V_ALLOW)
				p->cb(s->type, s->key, pol_enforced(s),
				      s->expires, "renewed: score still high",
				      p->cb_arg);
			return;
		}
		s->verdict = keep;
		if (s->enf > keep)
			s->enf = keep;
		if (text)
			snprintf(reason, sizeof reason,
				 "verdict expired; score decayed to %.1f", sc);
	} else
		return;
	rep_relist(p->rep, s);
	pol_changed(p, s, old_v, old_eff, old_enf, now, text ? reason : NULL,
		    "auto");
}

int
pol_auto_verdict(struct policy *p, enum fg_subj type, const char *key,
		 enum fg_verdict v, int64_t ttl_ms, const char *why)
{
	struct rep_subj *s;
	enum fg_verdict  old_v, old_eff, old_enf;
	int64_t          now = clock_wall_ms();
	char             k[POL_KEY_MAX];
	int              n;

	if ((int)type < 0 || type >= FG_SUBJ__MAX ||
	    (n = pol_norm_key(type, key, k, sizeof k)) == -1)
		return -1;
	if (type == FG_SUBJ_PREFIX && v > FG_V_THROTTLE)
		v = FG_V_THROTTLE;
	s = rep_get(p->rep, type, k, (size_t)n, 0, now, p->prm.half_life_ms);
	if (s == NULL)
		return -1;
	if (v < s->verdict)
		return 0;
	if (v == s->verdict) {
		/* renewed only once less than half its lifetime is left, and
		 * then pushed: the modules drop an entry at the expiry they
		 * were told, so a silent extension would not reach them */
		if (s->expires >= now + ttl_ms / 2)
			return 0;
		s->expires = now + ttl_ms;
		rep_mark_dirty(p->rep, s);
		if (s->override == FG_OVR_NONE && p->cb != NULL)
			p->cb(s->type, s->key, s->verdict, s->expires, why,
			      p->cb_arg);
		return 0;
	}
	if (s->expires < now + ttl_ms)
		s->expires = now + ttl_ms;
	old_v = s->verdict;
	old_eff = pol_effective(s);
	old_enf = pol_enforced(s);
	raise_to(p, s, v);
	rep_note(s, pol_signame(p, why), 0);
	rep_relist(p->rep, s);
	pol_changed(p, s, old_v, old_eff, old_enf, now, why, "auto");
	return 0;
}

const char *
pol_evidence_text(const struct policy *p, const struct pol_evidence *ev,
		  char *buf, size_t bufsz)
{
	size_t i, run, off = 0;
	int    idx, next, r;

	buf[0] = '\0';
	for (i = 0; i < ev->n; i += run) {
		idx = (ev->head + REP_NSIG - 1 - (int)i) % REP_NSIG;
		/* a flood repeats one signal; "x=2 x=2 x=2 x=2" reads worse
		 * than "x=2 (4 times)" */
		for (run = 1; i + run < ev->n; run++) {
			next = (ev->head + REP_NSIG - 1 - (int)(i + run)) %
			       REP_NSIG;
			if (ev->name[next] != ev->name[idx] ||
			    ev->w[next] != ev->w[idx])
				break;
		}
		r = snprintf(buf + off, bufsz - off, "%s%s=%.3g",
			     off ? " " : "", pol_signame_str(p, ev->name[idx]),
			     (double)ev->w[idx]);
		if (r >= 0 && (size_t)r < bufsz - off && run > 1)
			r += snprintf(buf + off + r, bufsz - off - (size_t)r,
				      " (%zu times)", run);
		if (r < 0 || (size_t)r >= bufsz - off)
			break;
		off += (size_t)r;
	}
	return buf;
}

void
pol_evidence_of(const struct rep_subj *s, struct pol_evidence *ev)
{
	memcpy(ev->w, s->sig_w, sizeof ev->w);
	memcpy(ev->name, s->sig_name, sizeof ev->name);
	ev->head = s->sig_head;
	ev->n = s->sig_n;
}

const char *
pol_sigtext(const struct policy *p, const struct rep_subj *s, char *buf,
	    size_t bufsz)
{
	struct pol_evidence ev;

	pol_evidence_of(s, &ev);
	return pol_evidence_text(p, &ev, buf, bufsz);
}

void
pol_reeval(struct policy *p, struct rep_subj *s, int64_t now, const char *why)
{
	if (s->verdict == FG_V_ALLOW || s->override != FG_OVR_NONE)
		return;
	/* as if the verdict had expired: pol_eval steps down as far as the
	 * score allows, and keeps it (renewed) when the score is still high */
	s->expires = now;
	pol_eval(p, s, now, why);
}

void
pol_expire(struct policy *p, struct rep_subj *s, int64_t now)
{
	enum fg_verdict old_eff, old_enf;
	int             was_allow;

	if (s->override != FG_OVR_NONE && s->ovr_expires != 0 &&
	    now >= s->ovr_expires) {
		old_eff = pol_effective(s);
		old_enf = pol_enforced(s);
		was_allow = s->override == FG_OVR_ALLOW;
		s->override = FG_OVR_NONE;
		s->ovr_expires = 0;
		free(s->actor);
		free(s->reason);
		s->actor = s->reason = NULL;
		rep_relist(p->rep, s);
		pol_changed(p, s, s->verdict, old_eff, old_enf, now,
			    "override expired", "auto");
		/* the modules cache allowlist entries: an expired one must
		 * leave their caches even though nothing else changed */
		if (was_allow && pol_enforced(s) == old_enf && p->cb != NULL)
			p->cb(s->type, s->key, old_enf, pol_eff_expires(s),
			      "override expired", p->cb_arg);
	}
	if (s->verdict > FG_V_ALLOW && now >= s->expires)
		pol_eval(p, s, now, "expiry");
}

void
pol_audit_row(struct store_audit *au, int64_t at, enum fg_subj type,
	      const char *key, enum fg_verdict old_v, enum fg_verdict new_v,
	      const char *reason, const char *signals, const char *actor)
{
	memset(au, 0, sizeof *au);
	au->at = at;
	au->type = type;
	au->key = key;
	au->old_verdict = old_v;
	au->new_verdict = new_v;
	au->reason = reason;
	au->signals = signals;
	au->actor = actor;
}

void
pol_override_rows(struct store_subject *ss, struct store_audit *au,
		  enum fg_subj type, const char *key, enum fg_override ovr,
		  int64_t now, int64_t expires, const char *reason,
		  const char *signals, const char *actor)
{
	enum fg_verdict v = ovr == FG_OVR_BLOCK        ? FG_V_BLOCK
			    : ovr == FG_OVR_QUARANTINE ? FG_V_QUARANTINE
						       : FG_V_ALLOW;

	memset(ss, 0, sizeof *ss);
	ss->type = type;
	ss->key = key;
	ss->score_at = now;
	ss->verdict = v;
	ss->expires = expires;
	ss->override = ovr;
	ss->actor = actor;
	ss->reason = reason;
	ss->updated = now;
	pol_audit_row(au, now, type, key, FG_V_ALLOW, v, reason, signals,
		      actor);
}
