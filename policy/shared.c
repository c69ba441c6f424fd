/* SPDX-License-Identifier: ISC */
/*
 * floodgate - policy: changes made by another instance sharing the store.
 *
 * With a PostgreSQL store several floodgated serve one XMPP cluster; the
 * store tells each of them (store_set_change_cb) when another changed a
 * subject's verdict, override or expiry. The change is adopted as if it
 * had been loaded at start-up, unless this instance holds a newer state
 * of the subject, and an effective change is pushed to our server like
 * one of our own. Scores and rate buckets stay per instance: only when a
 * subject is lifted (back to allow) are its buckets here emptied, as an
 * unblock does, so the lift takes effect on every node.
 */
#include "../core/clock.h"
#include "../core/ratelimit.h"
#include "policy_int.h"

void
pol_shared_change(const struct store_subject *ss, void *arg)
{
	struct policy   *p = arg;
	struct rep_subj *s;
	char             k[POL_KEY_MAX];
	int64_t          now = clock_wall_ms();
	enum fg_verdict  old_eff, new_eff, old_enf;
	uint8_t          old_ovr;
	int              n, kind;

	if ((unsigned)ss->type >= FG_SUBJ__MAX ||
	    (unsigned)ss->verdict >= FG_V__MAX ||
	    (unsigned)ss->override >= FG_OVR__MAX || ss->key == NULL ||
	    (n = pol_norm_key(ss->type, ss->key, k, sizeof k)) == -1)
		return;
	s = rep_find(p->rep, ss->type, k, (size_t)n,
		     rep_hash(ss->type, k, (size_t)n));
	/* ours is newer: it reaches the store, and the others, itself;
	 * but an admin action elsewhere wins over our automatic state, or
	 * an unblock would be undone by a bot that keeps sending */
	if (s != NULL && !ss->admin && s->updated > ss->updated)
		return;
	if (s == NULL) {
		/* an allow we never heard of changes nothing here */
		if (ss->verdict == FG_V_ALLOW && ss->override == FG_OVR_NONE)
			return;
		s = ss->override != FG_OVR_NONE
			? rep_get_admin(p->rep, ss->type, k, (size_t)n, now,
					p->prm.half_life_ms)
			: rep_get(p->rep, ss->type, k, (size_t)n,
				  rep_hash(ss->type, k, (size_t)n), now,
				  p->prm.half_life_ms);
		if (s == NULL)
			return;
	}
	old_eff = pol_effective(s);
	old_enf = pol_enforced(s);
	old_ovr = s->override;
	pol_restore(p, s, ss, now);
	rep_relist(p->rep, s);
	/* the store has this state already */
	rep_clean(s);
	new_eff = pol_effective(s);
	if (new_eff == FG_V_ALLOW && old_eff != FG_V_ALLOW) {
		s->sig_n = s->sig_head = 0;
		for (kind = 0; kind < FG_KIND__MAX; kind++)
			rl_del(p->rl, rl_key_derive(s->hash, kind));
	}
	if (new_eff != old_eff)
		p->st.verdict_changes++;
	/* pushed as pol_admin and pol_changed push: when what the modules
	 * enforce moves, and for an override (the modules cache allowlist
	 * entries and an override's expiry) */
	if (p->cb != NULL &&
	    (pol_enforced(s) != old_enf || s->override != old_ovr ||
	     s->override != FG_OVR_NONE))
		p->cb(s->type, s->key, pol_enforced(s), pol_eff_expires(s),
		      ss->reason != NULL ? ss->reason
					 : "changed by another instance",
		      p->cb_arg);
}
