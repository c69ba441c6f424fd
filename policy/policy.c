/* SPDX-License-Identifier: ISC */
/*
 * floodgate - policy: gate questions and meter events in, decisions out.
 *
 * A gate looks up the subjects the question is about (the sender account,
 * the sender's domain for inbound kinds, the address and its network),
 * applies their overrides and verdicts (doc/design.md, "Verdicts"), then takes
 * one GCRA token per subject with a configured limit for the kind. An overflow
 * refuses the event with resource-constraint and adds w_overflow[kind] to that
 * subject's score; scores map to verdicts in pol_eval(). All of it is in memory
 * and O(1); the store is only written behind, from pol_changed() and
 * pol_tick().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/ratelimit.h"
#include "../core/xmalloc.h"
#include "detect.h"
#include "policy_int.h"

#define POL_SUBJ_MIN 4096      /* subjects, smallest subject cap */
#define POL_SUBJ_DIV 4         /* subject cap = max_keys / this */
#define POL_THROTTLE_SLOW 4    /* throttled: T x this, burst / this */
#define POL_THROTTLE_COUNT 6   /* throttled, no limit set: 6 ... */
#define POL_THROTTLE_PER 60000 /* ... per minute (ms) ... */
#define POL_THROTTLE_BURST 3   /* ... burst 3 */
#define POL_RL_SWEEP 16384     /* bucket slots examined per tick */
#define POL_REP_SWEEP 4096     /* subject slots examined per tick */
#define POL_DIRTY_BUDGET 4096  /* scores queued to the store per tick */
#define POL_W_CONTACT (-0.05)  /* score per message to a contact */
#define POL_REPORT_DOMAIN 0.25 /* share of a report on a remote domain */

/* Detectors (registration waves, bot logins and connection habits,
 * content waves, auth clouds, upstream blocklists) add themselves here;
 * each sees gates, events and ticks. */
static const struct pol_detector *const detectors[] = {
    &det_reg,      &det_login, &det_content, &det_auth,
    &det_upstream, &det_trap,  &det_lists,   NULL,
};

/* The subjects one gate or event is about, most specific first. */
struct gsub {
	enum fg_subj     type;
	const char      *key;
	size_t           len;
	uint64_t         h;  /* rep_hash(type, key) */
	uint64_t         rk; /* bucket key for the kind at hand; 0 = later */
	struct rep_subj *s;
	enum fg_verdict  eff;
	enum fg_verdict  enf; /* what of eff is enforced */
};

static const char *const txt_rate[FG_SUBJ__MAX] = {
    "This account is sending too many requests; wait a while and try "
    "again",
    "Too many requests from this server; wait a while and try again",
    "Too many requests from this address; wait a while and try again",
    "Too many requests from this network; wait a while and try again",
};
static const char *const txt_quarantine[FG_SUBJ__MAX] = {
    "This account is quarantined by the server's anti-spam policy: it may "
    "not send subscription requests or messages to non-contacts until an "
    "administrator reviews it",
    "The sending server is quarantined by the recipient server's "
    "anti-spam policy: subscription requests and messages to non-contacts "
    "are refused",
    "This address is quarantined by the server's anti-spam policy: "
    "registrations from it are refused",
    "This network is quarantined by the server's anti-spam policy: "
    "registrations from it are refused",
};
static const char *const txt_block[FG_SUBJ__MAX] = {
    "This account is blocked by the server's anti-spam policy; contact "
    "the server administrator",
    "The sending server is blocked by the recipient server's anti-spam "
    "policy",
    "This address is blocked by the server's anti-spam policy",
    "This network is blocked by the server's anti-spam policy",
};
/* A remote account's refusal comes from the recipient's server: "contact
 * the server administrator" would send its user to the wrong admin. */
static const char txt_remote_quarantine[] =
    "This account is quarantined by the recipient server's anti-spam "
    "policy: subscription requests and messages to non-contacts are "
    "refused";
static const char txt_remote_block[] =
    "This account is blocked by the recipient server's anti-spam policy";
static const char txt_badjid[] = "The sender address is not a valid JID";

static int  kind_inbound(enum fg_kind);
static int  kind_stranger(enum fg_kind, int);
static void deny(struct pol_answer *, const char *, const char *);
static void load_cb(const struct store_subject *, void *);
static int  take_tokens(struct policy *, struct gsub *, int, enum fg_kind,
			uint64_t);
static int gate_subjects(const struct pol_gate *, struct gsub *, char *, char *,
			 char *, char *);
static void meter(struct policy *, struct gsub *, int, enum fg_kind, uint64_t);

void
pol_params_set(struct pol_params *m, const struct fg_config *c)
{
	const struct fg_rate *r;
	uint32_t              burst;
	int                   s, k;
	size_t                i;

	memset(m, 0, sizeof *m);
	for (s = 0; s < FG_SUBJ__MAX; s++)
		for (k = 0; k < FG_KIND__MAX; k++) {
			r = &c->limits[s][k];
			rl_rate(r->count, r->per_ms, r->burst, &m->T[s][k],
				&m->tau[s][k]);
			if (r->count == 0) {
				rl_rate(POL_THROTTLE_COUNT, POL_THROTTLE_PER,
					POL_THROTTLE_BURST, &m->thT[s][k],
					&m->thtau[s][k]);
				continue;
			}
			burst = r->burst / POL_THROTTLE_SLOW;
			rl_rate(r->count, r->per_ms * POL_THROTTLE_SLOW,
				burst ? burst : 1, &m->thT[s][k],
				&m->thtau[s][k]);
		}
	m->thr[FG_V_ALLOW] = 0;
	m->thr[FG_V_THROTTLE] = c->throttle_at;
	m->thr[FG_V_QUARANTINE] = c->quarantine_at;
	m->thr[FG_V_BLOCK] = c->block_at;
	m->hysteresis = c->hysteresis;
	m->half_life_ms = c->half_life_s * 1000.0;
	m->ttl_ms = (int64_t)c->verdict_ttl_s * 1000;
	for (k = 0; k < FG_KIND__MAX; k++)
		m->w_overflow[k] = c->w_overflow[k];
	m->w_report = c->w_report;
	/* Rate overflows alone can quarantine but never block: halfway from
	 * quarantine to block they stop adding, so a quarantined flooder
	 * stays quarantined (and renewed) until something else speaks. */
	m->overflow_ceiling = (c->quarantine_at + c->block_at) / 2;
	m->max_keys = c->max_keys;
	m->observe = c->observe;
	memcpy(m->enforce, c->enforce, sizeof m->enforce);
	m->observe_any = m->observe;
	for (k = 0; k < FG_DET__MAX; k++)
		if (!m->enforce[k])
			m->observe_any = 1;
	memcpy(m->drop, c->drop, sizeof m->drop);
	m->nserves = c->serves.n;
	m->serves = xcalloc(m->nserves ? m->nserves : 1, sizeof *m->serves);
	for (i = 0; i < m->nserves; i++)
		m->serves[i] = xstrdup(c->serves.v[i]);
}

void
pol_params_clear(struct pol_params *m)
{
	size_t i;

	for (i = 0; i < m->nserves; i++)
		free(m->serves[i]);
	free(m->serves);
	m->serves = NULL;
	m->nserves = 0;
}

/* A persisted row's state into s: at start-up (load_cb), and when
 * another instance sharing the store changed it (shared.c). */
void
pol_restore(struct policy *p, struct rep_subj *s,
	    const struct store_subject *ss, int64_t now)
{
	s->score = isfinite(ss->score) && ss->score > 0 ? ss->score : 0;
	s->score_at = ss->score_at;
	s->verdict = (int)ss->verdict > 0 && ss->verdict < FG_V__MAX
			 ? (uint8_t)ss->verdict
			 : FG_V_ALLOW;
	s->override = (int)ss->override > 0 && ss->override < FG_OVR__MAX
			  ? (uint8_t)ss->override
			  : FG_OVR_NONE;
	s->updated = ss->updated;
	free(s->actor);
	free(s->reason);
	s->actor = s->reason = NULL;
	if (s->override != FG_OVR_NONE) {
		/* the row's expiry is the override's; the automatic one is
		 * re-derived from when the row was written */
		s->ovr_expires = ss->expires;
		s->expires = ss->updated + p->prm.ttl_ms;
		s->actor = ss->actor ? xstrdup(ss->actor) : NULL;
		s->reason = ss->reason ? xstrdup(ss->reason) : NULL;
		s->enf = s->verdict;
	} else {
		s->ovr_expires = 0;
		s->expires = ss->expires;
		/* pol_to_store: an observed verdict, and what of it is
		 * enforced */
		s->enf = s->verdict;
		if (ss->actor != NULL &&
		    strcmp(ss->actor, POL_ACTOR_OBSERVE) == 0) {
			enum fg_verdict e = FG_V_ALLOW;

			if (fg_verdict_parse(ss->reason, &e) == -1 ||
			    e > s->verdict)
				e = FG_V_ALLOW;
			s->enf = (uint8_t)e;
		}
	}
	s->cause =
	    s->verdict == FG_V_BLOCK ? FG_CAUSE_BLOCK : FG_CAUSE_QUARANTINE;
	if (s->verdict == FG_V_ALLOW)
		s->expires = 0;
	else if (s->expires == 0)
		s->expires = now + p->prm.ttl_ms;
}

/* Restore one persisted subject (pol_new); a restart changes no decision. */
static void
load_cb(const struct store_subject *ss, void *arg)
{
	struct policy   *p = arg;
	struct rep_subj *s;
	int64_t          now = clock_wall_ms();
	char             k[POL_KEY_MAX];
	int              n;

	if ((int)ss->type < 0 || ss->type >= FG_SUBJ__MAX || ss->key == NULL ||
	    (n = pol_norm_key(ss->type, ss->key, k, sizeof k)) == -1)
		return;
	s = rep_get(p->rep, ss->type, k, (size_t)n, 0, now,
		    p->prm.half_life_ms);
	if (s == NULL)
		return;
	pol_restore(p, s, ss, now);
	rep_relist(p->rep, s);
}

struct policy *
pol_new(const struct fg_config *cfg, struct store *st)
{
	struct policy *p;
	size_t         cap, i;
	char          *name;
	int            k;

	p = xcalloc(1, sizeof *p);
	pol_params_set(&p->prm, cfg);
	p->store = st;
	p->rl = rl_new(cfg->max_keys);
	cap = cfg->max_keys / POL_SUBJ_DIV;
	p->rep = rep_new(cap > POL_SUBJ_MIN ? cap : POL_SUBJ_MIN);
	pol_hits_init(p);
	pol_signame(p, "other"); /* index 0 */
	for (k = 0; k < FG_KIND__MAX; k++) {
		xasprintf(&name, "overflow-%s", fg_kind_name(k));
		pol_signame(p, name); /* index 1 + kind */
		free(name);
	}
	if (st != NULL && store_load_subjects(st, load_cb, p) == -1) {
		log_warnx("policy: cannot load subjects from the store");
		pol_free(p);
		return NULL;
	}
	for (i = 0; detectors[i] != NULL && i < POL_DETECTORS_MAX; i++)
		if (detectors[i]->init != NULL)
			p->det[i] = detectors[i]->init(p, cfg);
	for (i = 0; detectors[i] != NULL && i < POL_DETECTORS_MAX; i++)
		if (detectors[i]->pregate != NULL)
			p->pre[p->npre++] = (uint8_t)i;
	p->login = pol_det_state(p, &det_login);
	return p;
}

void
pol_det_idle(struct policy *p, const struct pol_detector *det, int idle)
{
	size_t i;

	for (i = 0; detectors[i] != NULL && i < POL_DETECTORS_MAX; i++)
		if (detectors[i] == det) {
			if (idle)
				p->idle |= 1u << i;
			else
				p->idle &= ~(1u << i);
			return;
		}
}

void
pol_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; detectors[i] != NULL && i < POL_DETECTORS_MAX; i++)
		if (detectors[i]->free != NULL)
			detectors[i]->free(p->det[i]);
	/* what scoring changed since the last tick still reaches the store */
	if (p->store != NULL) {
		struct store_subject ss;
		struct rep_subj     *s;
		int64_t              now = clock_wall_ms();

		while ((s = LIST_FIRST(rep_dirty(p->rep))) != NULL) {
			pol_to_store(p, s, now, &ss);
			store_queue_subject(p->store, &ss);
			rep_clean(s);
		}
	}
	rl_free(p->rl);
	rep_free(p->rep);
	pol_hits_free(p);
	for (i = 0; i < p->nsignames; i++)
		free(p->signames[i]);
	pol_params_clear(&p->prm);
	free(p);
}

void
pol_reconfigure(struct policy *p, const struct fg_config *cfg)
{
	size_t i, old = p->prm.max_keys;

	pol_params_clear(&p->prm);
	pol_params_set(&p->prm, cfg);
	if (cfg->max_keys != old)
		log_info("policy: max-keys %zu takes effect at the next "
			 "restart (table allocated for %zu)",
			 cfg->max_keys, old);
	p->prm.max_keys = old;
	for (i = 0; detectors[i] != NULL && i < POL_DETECTORS_MAX; i++)
		if (detectors[i]->reconfigure != NULL)
			detectors[i]->reconfigure(p->det[i], cfg);
}

void *
pol_det_state(struct policy *p, const struct pol_detector *det)
{
	size_t i;

	for (i = 0; detectors[i] != NULL && i < POL_DETECTORS_MAX; i++)
		if (detectors[i] == det)
			return p->det[i];
	return NULL;
}

void
pol_set_verdict_cb(struct policy *p, pol_verdict_cb cb, void *arg)
{
	p->cb = cb;
	p->cb_arg = arg;
}

void
pol_set_verdict_cb_terse(struct policy *p, int terse)
{
	p->cb_terse = terse;
}

void
pol_set_note_cb(struct policy *p, pol_note_cb cb, void *arg)
{
	p->note = cb;
	p->note_arg = arg;
}

void
pol_note(struct policy *p, struct pol_note *n)
{
	if (p->note == NULL)
		return;
	if (pol_observing(p))
		n->would = 1;
	p->note(n, p->note_arg);
}

void
pol_trap_hit(struct policy *p, enum fg_subj type, const char *key,
	     const char *trap)
{
	pol_note(p, &(struct pol_note){.what = POL_NOTE_TRAP,
				       .type = type,
				       .key = key,
				       .verdict = FG_V_BLOCK,
				       .text = trap});
}

void
pol_set_wave_cb(struct policy *p, pol_wave_cb cb, void *arg)
{
	p->wave_cb = cb;
	p->wave_arg = arg;
}

struct rep_subj *
pol_signal_key(struct policy *p, enum fg_subj type, const char *key, size_t len,
	       const char *signal, double w, double ceiling)
{
	struct rep_subj *s;
	int64_t          now = clock_wall_ms();

	s = rep_get(p->rep, type, key, len, 0, now, p->prm.half_life_ms);
	if (s == NULL)
		return NULL;
	p->st.signals++;
	rep_add(s, w, now, p->prm.half_life_ms, ceiling);
	rep_note(s, pol_signame(p, signal), w);
	rep_mark_dirty(p->rep, s);
	pol_eval(p, s, now, signal);
	return s;
}

void
pol_signal(struct policy *p, enum fg_subj type, const char *key,
	   const char *signal, double weight)
{
	char k[POL_KEY_MAX];
	int  n;

	if ((int)type < 0 || type >= FG_SUBJ__MAX ||
	    (n = pol_norm_key(type, key, k, sizeof k)) == -1)
		return;
	pol_signal_key(p, type, k, (size_t)n, signal, weight, HUGE_VAL);
}

static int
kind_inbound(enum fg_kind k)
{
	return k == FG_KIND_INBOUND_SUBSCRIBE ||
	       k == FG_KIND_INBOUND_STRANGER_MESSAGE || k == FG_KIND_QUERY;
}

/* What a quarantine refuses: invitations, messages to non-contacts and
 * registrations; contacts keep talking. */
static int
kind_stranger(enum fg_kind k, int contact)
{
	switch (k) {
	case FG_KIND_SUBSCRIBE:
	case FG_KIND_INBOUND_SUBSCRIBE:
	case FG_KIND_REGISTER:
		return 1;
	case FG_KIND_STRANGER_MESSAGE:
	case FG_KIND_INBOUND_STRANGER_MESSAGE:
		return !contact;
	default:
		return 0;
	}
}

static void
deny(struct pol_answer *a, const char *cond, const char *text)
{
	a->allow = 0;
	a->condition = cond;
	a->text = text;
}

/* Fill gs[] with the subjects of g, into the caller's buffers; returns
 * how many, or -1 if the sender is not a valid JID. */
static int
gate_subjects(const struct pol_gate *g, struct gsub *gs, char *acct, char *dom,
	      char *ip, char *pfx)
{
	int n = 0, len;

	if (g->from != NULL) {
		if ((len = pol_norm_jid(g->from, acct, POL_KEY_MAX)) == -1)
			return -1;
		/* a bare domain sender (a remote server) is only a domain */
		if (strchr(acct, '@') != NULL || !kind_inbound(g->kind)) {
			gs[n].type = FG_SUBJ_ACCOUNT;
			gs[n].key = acct;
			gs[n++].len = (size_t)len;
		}
		if (kind_inbound(g->kind)) {
			len = pol_norm_domain(acct, dom, POL_KEY_MAX);
			gs[n].type = FG_SUBJ_DOMAIN;
			gs[n].key = dom;
			gs[n++].len = (size_t)len;
		}
	} else if (g->kind != FG_KIND_REGISTER)
		return -1;
	if (g->ip != NULL && (len = pol_norm_ip(g->ip, ip, POL_IP_MAX)) != -1) {
		gs[n].type = FG_SUBJ_IP;
		gs[n].key = ip;
		gs[n++].len = (size_t)len;
		len = pol_norm_prefix(ip, pfx, POL_IP_MAX);
		gs[n].type = FG_SUBJ_PREFIX;
		gs[n].key = pfx;
		gs[n++].len = (size_t)len;
	}
	return n;
}

/* One token per subject with a limit for kind (a tighter one while
 * throttled); the first overflow scores that subject and stops, so one
 * abusive account does not use up its network's allowance. Returns the
 * index of the subject that overflowed, or -1. */
static int
take_tokens(struct policy *p, struct gsub *gs, int n, enum fg_kind kind,
	    uint64_t now_ns)
{
	const struct pol_params *m = &p->prm;
	uint64_t                 T, tau;
	int                      i;

	for (i = 0; i < n; i++) {
		if (gs[i].eff == FG_V_THROTTLE) {
			T = m->thT[gs[i].type][kind];
			tau = m->thtau[gs[i].type][kind];
		} else {
			T = m->T[gs[i].type][kind];
			tau = m->tau[gs[i].type][kind];
		}
		if (T == 0)
			continue;
		if (gs[i].rk == 0)
			gs[i].rk = rl_key_derive(gs[i].h, kind);
		if (!rl_take(p->rl, gs[i].rk, now_ns, T, tau, NULL)) {
			gs[i].s = pol_signal_key(
			    p, gs[i].type, gs[i].key, gs[i].len,
			    pol_signame_str(p, 1 + kind), m->w_overflow[kind],
			    m->overflow_ceiling);
			return i;
		}
	}
	return -1;
}

/* The core refused the gate being answered: remember why for
 * note_refusal(), in the policy rather than in locals, so that nothing
 * stays live across the detectors' calls on the path of an allowed gate. */
static void
core_refused(struct policy *p, enum pol_hit_why why, int i)
{
	p->hit_gate = p->st.gates;
	p->hit_why = (uint8_t)why;
	p->hit_i = i;
}

/* A refused gate into the ring of recent hits (hits.c), named after
 * what refused it; only ever called on the refusal path. */
static void __attribute__((__noinline__, __cold__))
note_refusal(struct policy *p, const struct pol_gate *g,
	     const struct pol_answer *a, const struct gsub *gs)
{
	enum pol_hit_why why;
	int              i = 0; /* a detector: the sender account */

	if (p->hit_gate == p->st.gates) {
		why = (enum pol_hit_why)p->hit_why;
		i = p->hit_i;
	} else
		why = pol_hit_detector(a);
	pol_hit_note(p, why, g->kind, gs[i].type, gs[i].key, gs[i].len);
}

/* The text of a refusal by a verdict: a remote account's refusal comes
 * from the recipient's server, not from the sender's administrator. */
static const char *
verdict_text(const struct pol_gate *g, enum fg_subj type, enum fg_verdict v)
{
	if (kind_inbound(g->kind) && type == FG_SUBJ_ACCOUNT)
		return v == FG_V_BLOCK ? txt_remote_block
				       : txt_remote_quarantine;
	return v == FG_V_BLOCK ? txt_block[type] : txt_quarantine[type];
}

/* The answer the subjects gs[] give, from their computed verdicts or,
 * with enforced, from what of them is enforced; else from the rate
 * overflow of subject over (-1 none). Returns the index of the subject
 * that refused, or -1. */
static int
decide(const struct pol_gate *g, const struct gsub *gs, int n, int over,
       int enforced, struct pol_answer *a)
{
	enum fg_verdict worst = FG_V_ALLOW, v;
	int             i, worst_i = -1;

	a->allow = 1;
	a->cause = -1;
	for (i = 0; i < n; i++) {
		v = enforced ? gs[i].enf : gs[i].eff;
		if (v > worst) {
			worst = v;
			worst_i = i;
		}
	}
	a->verdict = worst;
	if (worst == FG_V_BLOCK ||
	    (worst == FG_V_QUARANTINE && kind_stranger(g->kind, g->contact))) {
		a->cause = (int)pol_cause(gs[worst_i].s);
		deny(a,
		     g->kind == FG_KIND_REGISTER ? "not-allowed"
						 : "policy-violation",
		     verdict_text(g, gs[worst_i].type, worst));
		return worst_i;
	}
	if (over >= 0) {
		if (gs[over].s != NULL)
			a->verdict = enforced ? pol_enforced(gs[over].s)
					      : pol_effective(gs[over].s);
		deny(a, "resource-constraint", txt_rate[gs[over].type]);
		return over;
	}
	return -1;
}

/* Why the core refused, for the ring of recent hits. */
static enum pol_hit_why
hit_why(const struct pol_answer *a)
{
	if (strcmp(a->condition, "resource-constraint") == 0)
		return POL_HIT_RATE;
	return a->verdict == FG_V_BLOCK ? POL_HIT_BLOCK : POL_HIT_QUARANTINE;
}

/* What a refusal would have been, for the would counters. */
static enum fg_verdict
would_level(const struct pol_answer *a)
{
	if (strcmp(a->condition, "resource-constraint") == 0)
		return FG_V_THROTTLE;
	return a->verdict > FG_V_THROTTLE ? a->verdict : FG_V_QUARANTINE;
}

/* The detectors' gate hooks, each in its own context; a refusal by one
 * that only observes is counted and undone. Returns the would level. */
static enum fg_verdict
gate_detectors(struct policy *p, const struct pol_gate *g, struct pol_answer *a)
{
	const struct pol_detector *det;
	const struct pol_detector *ctx;
	enum fg_verdict            would = FG_V_ALLOW;
	size_t                     d;
	int                        was = a->allow, observed;

	/* the usual case, every gate: nothing observes, so nothing to undo;
	 * a detector that refuses names its cause */
	if (!p->prm.observe_any) {
		for (d = 0; detectors[d] != NULL && d < POL_DETECTORS_MAX; d++)
			if ((det = detectors[d])->gate != NULL &&
			    !(p->idle & (1u << d))) {
				ctx = pol_ctx_enter(p, det);
				det->gate(p->det[d], p, g, a);
				pol_ctx_leave(p, ctx);
			}
		if (was && !a->allow && a->cause < 0)
			a->cause = a->verdict == FG_V_BLOCK
				       ? FG_CAUSE_BLOCK
				       : FG_CAUSE_QUARANTINE;
		return FG_V_ALLOW;
	}
	for (d = 0; detectors[d] != NULL && d < POL_DETECTORS_MAX; d++) {
		if ((det = detectors[d])->gate == NULL || (p->idle & (1u << d)))
			continue;
		was = a->allow;
		ctx = pol_ctx_enter(p, det);
		det->gate(p->det[d], p, g, a);
		pol_ctx_leave(p, ctx);
		if (!was || a->allow)
			continue;
		if (a->cause < 0)
			a->cause = det->cause >= 0 ? det->cause
				   : a->verdict == FG_V_BLOCK
				       ? FG_CAUSE_BLOCK
				       : FG_CAUSE_QUARANTINE;
		/* the auth detector's refusal is a spamtrap's */
		observed = p->prm.observe || !p->prm.enforce[det->det] ||
			   (det == &det_auth && a->cause == FG_CAUSE_TRAP &&
			    !p->prm.enforce[FG_DET_SPAMTRAPS]);
		if (observed) {
			if (would_level(a) > would)
				would = would_level(a);
			a->allow = 1;
			a->cause = -1;
			a->condition = a->text = NULL;
		}
	}
	return would;
}

void
pol_gate(struct policy *p, const struct pol_gate *g, struct pol_answer *a)
{
	struct gsub       gs[4];
	struct pol_answer e;
	char              acct[POL_KEY_MAX], dom[POL_KEY_MAX];
	char              ip[POL_IP_MAX], pfx[POL_IP_MAX];
	int               n, i, over, ri, obs = 0;
	enum fg_verdict   would = FG_V_ALLOW, w, worst = FG_V_ALLOW;
	size_t            d;

	p->st.gates++;
	memset(a, 0, sizeof *a);
	a->allow = 1;
	a->verdict = FG_V_ALLOW;
	a->cause = -1;
	for (d = 0; d < p->npre; d++) {
		const struct pol_detector *det = detectors[p->pre[d]];
		const struct pol_detector *ctx;

		if (p->idle & (1u << p->pre[d]))
			continue;
		ctx = pol_ctx_enter(p, det);

		det->pregate(p->det[p->pre[d]], p, g);
		pol_ctx_leave(p, ctx);
	}
	if ((int)g->kind < 0 || g->kind >= FG_KIND__MAX ||
	    (n = gate_subjects(g, gs, acct, dom, ip, pfx)) == -1) {
		deny(a, "jid-malformed", txt_badjid);
		p->st.denied++;
		return;
	}
	/* Hash everything and start both table loads before using either:
	 * at 1M keys each lookup is a cache miss, and so they overlap. */
	for (i = 0; i < n; i++) {
		gs[i].h = rep_hash(gs[i].type, gs[i].key, gs[i].len);
		rep_prefetch(p->rep, gs[i].h);
		gs[i].rk = 0;
		if (p->prm.T[gs[i].type][g->kind] != 0) {
			gs[i].rk = rl_key_derive(gs[i].h, g->kind);
			rl_prefetch(p->rl, gs[i].rk);
		}
	}
	for (i = 0; i < n; i++) {
		gs[i].s =
		    rep_find(p->rep, gs[i].type, gs[i].key, gs[i].len, gs[i].h);
		if (gs[i].s == NULL) {
			gs[i].eff = gs[i].enf = FG_V_ALLOW;
			continue;
		}
		gs[i].eff = pol_effective(gs[i].s);
		gs[i].enf = pol_enforced(gs[i].s);
		obs |= gs[i].enf != gs[i].eff;
	}
	/* An allowlist on the most specific overridden subject wins: an
	 * allowlisted account behind a blocked network still gets through,
	 * an allowlisted network does not shield a blocked account. */
	for (i = 0; i < n; i++) {
		if (gs[i].s == NULL || gs[i].s->override == FG_OVR_NONE)
			continue;
		if (gs[i].s->override == FG_OVR_ALLOW)
			goto done;
		break;
	}
	for (i = 0; i < n; i++) {
		if (gs[i].s != NULL && gs[i].s->override == FG_OVR_ALLOW)
			gs[i].eff = gs[i].enf = FG_V_ALLOW;
		if (gs[i].eff > worst)
			worst = gs[i].eff;
	}
	/* Buckets run even when the verdict already refuses: an abuser who
	 * keeps hammering keeps its score up, and its verdict renewed. */
	over = take_tokens(p, gs, n, g->kind, clock_mono_ns());
	if (worst > FG_V_ALLOW || over >= 0) {
		ri = decide(g, gs, n, over, 0, a);
		if (!a->allow)
			core_refused(p, hit_why(a), ri);
		/* Observing: the computed answer is counted, what is enforced
		 * of it is answered (in observe mode, nothing). */
		if (!a->allow && (p->prm.observe || obs)) {
			memset(&e, 0, sizeof e);
			e.allow = 1;
			e.verdict = FG_V_ALLOW;
			e.cause = -1;
			if (!p->prm.observe)
				decide(g, gs, n, over, 1, &e);
			if (e.allow)
				would = would_level(a);
			*a = e;
		}
	}
done:
	w = gate_detectors(p, g, a);
	if (w > would)
		would = w;
	if (would != FG_V_ALLOW)
		p->st.would[would]++;
	if (!a->allow) {
		p->st.denied++;
		if (n > 0)
			note_refusal(p, g, a, gs);
		if (a->cause >= 0 && p->prm.drop[a->cause]) {
			a->drop = 1;
			p->st.dropped++;
		}
	}
}

/* Meter an asynchronous event on the subjects that have a limit for
 * kind; overflows score like gate overflows. */
static void
meter(struct policy *p, struct gsub *gs, int n, enum fg_kind kind,
      uint64_t now_ns)
{
	int i;

	for (i = 0; i < n; i++) {
		gs[i].h = rep_hash(gs[i].type, gs[i].key, gs[i].len);
		gs[i].rk = 0;
		gs[i].s =
		    rep_find(p->rep, gs[i].type, gs[i].key, gs[i].len, gs[i].h);
		gs[i].eff = gs[i].s ? pol_effective(gs[i].s) : FG_V_ALLOW;
	}
	take_tokens(p, gs, n, kind, now_ns);
}

/* count events of kind at one instant on the single subject g, in O(1):
 * what count calls of meter() in a row do. The first ones that fit the
 * bucket are taken, each of the rest overflows and scores (one signal
 * carrying their summed weight, under the same ceiling). */
static void
meter_n(struct policy *p, struct gsub *g, enum fg_kind kind, uint64_t now_ns,
	uint32_t count)
{
	const struct pol_params *m = &p->prm;
	uint64_t                 T, tau, tat, debt, ok, take;

	g->h = rep_hash(g->type, g->key, g->len);
	g->s = rep_find(p->rep, g->type, g->key, g->len, g->h);
	g->eff = g->s ? pol_effective(g->s) : FG_V_ALLOW;
	if (g->eff == FG_V_THROTTLE) {
		T = m->thT[g->type][kind];
		tau = m->thtau[g->type][kind];
	} else {
		T = m->T[g->type][kind];
		tau = m->tau[g->type][kind];
	}
	if (T == 0)
		return;
	g->rk = rl_key_derive(g->h, kind);
	debt = rl_peek(p->rl, g->rk, &tat) && tat > now_ns ? tat - now_ns : 0;
	ok = debt > tau ? 0 : (tau - debt) / T + 1;
	if (ok > count)
		ok = count;
	if (ok > 0) {
		take = T > UINT64_MAX / ok ? UINT64_MAX : T * ok;
		rl_take(p->rl, g->rk, now_ns, take, tau, NULL);
	}
	if (ok < count)
		g->s = pol_signal_key(
		    p, g->type, g->key, g->len, pol_signame_str(p, 1 + kind),
		    m->w_overflow[kind] * (double)(count - ok),
		    m->overflow_ceiling);
}

int
pol_serves(const struct policy *p, const char *domain)
{
	size_t i;

	for (i = 0; i < p->prm.nserves; i++)
		if (strcasecmp(p->prm.serves[i], domain) == 0)
			return 1;
	return 0;
}

/* A reporter's standing, 1 (clean) down to 0 (any verdict, or a score
 * at the throttle threshold): what its reports weigh. */
static double
standing_of(struct policy *p, enum fg_subj type, const char *key, size_t len,
	    int64_t now)
{
	struct rep_subj *s;
	double           standing;

	s = rep_find(p->rep, type, key, len, rep_hash(type, key, len));
	if (s == NULL)
		return 1.0;
	if (pol_effective(s) > FG_V_ALLOW)
		return 0;
	standing = 1.0 - rep_score(s, now, p->prm.half_life_ms) /
			     p->prm.thr[FG_V_THROTTLE];
	return standing < 0 ? 0 : standing;
}

/* A report from another server's floodgate about one of our accounts:
 * once per reporting domain and account, weighted like a local user's
 * report by the reporter's standing, here its domain's. A component
 * (floodgate.example.net) also answers for its parent domain: the lower
 * standing of the two counts, so a server cannot launder a bad name
 * through a fresh subdomain. */
static void
peer_report(struct policy *p, const struct pol_event *e, int64_t now)
{
	char        rep[POL_KEY_MAX], to[POL_KEY_MAX];
	const char *dot;
	double      standing, parent, w;
	int         rl, tl;

	if (e->jid == NULL || e->to == NULL ||
	    (rl = pol_norm_domain(e->jid, rep, sizeof rep)) == -1 ||
	    (tl = pol_norm_jid(e->to, to, sizeof to)) == -1)
		return;
	if (p->store != NULL &&
	    store_report_add(p->store, rep, to, e->reason, now) != 1)
		return; /* a repeat from this server, or an error */
	standing = standing_of(p, FG_SUBJ_DOMAIN, rep, (size_t)rl, now);
	if ((dot = strchr(rep, '.')) != NULL && strchr(dot + 1, '.') != NULL) {
		parent = standing_of(p, FG_SUBJ_DOMAIN, dot + 1,
				     strlen(dot + 1), now);
		if (parent < standing)
			standing = parent;
	}
	w = p->prm.w_report * standing;
	if (w > 0)
		pol_signal_key(p, FG_SUBJ_ACCOUNT, to, (size_t)tl,
			       "peer-report", w, HUGE_VAL);
}

void
pol_event(struct policy *p, const struct pol_event *e)
{
	struct gsub      gs[3];
	struct rep_subj *s;
	char             acct[POL_KEY_MAX], dom[POL_KEY_MAX];
	char             ip[POL_IP_MAX], pfx[POL_IP_MAX];
	int64_t          now = clock_wall_ms();
	uint64_t         now_ns = clock_mono_ns();
	int              n = 0, len, r;
	double           standing, w;
	size_t           d;
	const char      *who;

	p->st.events++;
	/* sessions and good logins are the detectors' alone: the subjects
	 * below are not needed (a log replay sends millions of these) */
	if (e->type == POL_EV_SESSION_START || e->type == POL_EV_SESSION_END ||
	    e->type == POL_EV_AUTH_OK)
		goto detectors;
	who = e->type == POL_EV_AUTH_FAIL ? e->login : e->jid;
	if (who != NULL && (len = pol_norm_jid(who, acct, sizeof acct)) != -1) {
		gs[n].type = FG_SUBJ_ACCOUNT;
		gs[n].key = acct;
		gs[n++].len = (size_t)len;
	}
	if (e->ip != NULL && (len = pol_norm_ip(e->ip, ip, sizeof ip)) != -1) {
		gs[n].type = FG_SUBJ_IP;
		gs[n].key = ip;
		gs[n++].len = (size_t)len;
		len = pol_norm_prefix(ip, pfx, sizeof pfx);
		gs[n].type = FG_SUBJ_PREFIX;
		gs[n].key = pfx;
		gs[n++].len = (size_t)len;
	}
	switch (e->type) {
	case POL_EV_MESSAGE:
		if (n == 0 || gs[0].type != FG_SUBJ_ACCOUNT)
			break;
		/* count > 1: messages the module aggregated for this pair;
		 * their effect at once, not a loop (count is up to 1e6) */
		if (e->count > 1)
			meter_n(p, gs, FG_KIND_MESSAGE, now_ns, e->count);
		else
			meter(p, gs, 1, FG_KIND_MESSAGE, now_ns);
		/* talking to contacts slowly clears a few old overflows;
		 * it never lifts a verdict (bots befriend each other) */
		s = gs[0].s;
		if (s != NULL && s->verdict == FG_V_ALLOW && s->score > 0)
			rep_add(s,
				POL_W_CONTACT *
				    (double)(e->count > 1 ? e->count : 1),
				now, p->prm.half_life_ms, HUGE_VAL);
		break;
	case POL_EV_AUTH_FAIL:
		meter(p, gs, n, FG_KIND_AUTH_FAIL, now_ns);
		if (n > 0 && gs[n - 1].type == FG_SUBJ_PREFIX)
			pol_hit_note(p, POL_HIT_AUTH_FAIL, FG_KIND_AUTH_FAIL,
				     FG_SUBJ_PREFIX, gs[n - 1].key,
				     gs[n - 1].len);
		break;
	case POL_EV_REGISTERED:
		if (p->store != NULL && n > 0 &&
		    gs[0].type == FG_SUBJ_ACCOUNT) {
			struct store_registration reg;

			reg.account = acct;
			reg.ip = n > 1 ? ip : NULL;
			reg.at = now;
			store_queue_registration(p->store, &reg);
		}
		break;
	case POL_EV_REPORT:
		if (e->to == NULL ||
		    (len = pol_norm_jid(e->to, dom, sizeof dom)) == -1)
			break;
		r = 1;
		if (p->store != NULL && n > 0 && gs[0].type == FG_SUBJ_ACCOUNT)
			r = store_report_add(p->store, acct, dom, e->reason,
					     now);
		if (r != 1)
			break; /* duplicate from this reporter, or error */
		/* weighted by the reporter's own standing */
		standing = 1.0;
		if (n > 0 && gs[0].type == FG_SUBJ_ACCOUNT)
			standing = standing_of(p, FG_SUBJ_ACCOUNT, acct,
					       gs[0].len, now);
		pol_note(p, &(struct pol_note){.what = POL_NOTE_REPORT,
					       .type = FG_SUBJ_ACCOUNT,
					       .key = dom,
					       .text = e->reason});
		w = p->prm.w_report * standing;
		if (w <= 0)
			break;
		pol_signal_key(p, FG_SUBJ_ACCOUNT, dom, (size_t)len, "report",
			       w, HUGE_VAL);
		/* reports against a remote server's users add up on it */
		if (pol_norm_domain(dom, acct, sizeof acct) != -1 &&
		    !pol_serves(p, acct))
			pol_signal_key(p, FG_SUBJ_DOMAIN, acct, strlen(acct),
				       "report", w * POL_REPORT_DOMAIN,
				       HUGE_VAL);
		break;
	case POL_EV_PEER_REPORT:
		peer_report(p, e, now);
		break;
	default:
		break;
	}
detectors:
	for (d = 0; detectors[d] != NULL && d < POL_DETECTORS_MAX; d++) {
		const struct pol_detector *ctx;

		if (detectors[d]->event == NULL)
			continue;
		ctx = pol_ctx_enter(p, detectors[d]);
		detectors[d]->event(p->det[d], p, e);
		pol_ctx_leave(p, ctx);
	}
}

void
pol_tick(struct policy *p)
{
	struct rep_subj     *s, *next;
	struct store_subject ss;
	int64_t              now = clock_wall_ms();
	size_t               budget = POL_DIRTY_BUDGET, d;

	rl_sweep(p->rl, clock_mono_ns(), POL_RL_SWEEP);
	for (s = LIST_FIRST(rep_listed(p->rep)); s != NULL; s = next) {
		next = LIST_NEXT(s, listed);
		pol_expire(p, s, now);
	}
	while (budget-- > 0 && (s = LIST_FIRST(rep_dirty(p->rep))) != NULL) {
		if (p->store != NULL) {
			pol_to_store(p, s, now, &ss);
			store_queue_subject(p->store, &ss);
		}
		rep_clean(s);
	}
	rep_sweep(p->rep, now, p->prm.half_life_ms, POL_REP_SWEEP);
	for (d = 0; detectors[d] != NULL && d < POL_DETECTORS_MAX; d++) {
		const struct pol_detector *ctx;

		if (detectors[d]->tick == NULL)
			continue;
		ctx = pol_ctx_enter(p, detectors[d]);
		detectors[d]->tick(p->det[d], p);
		pol_ctx_leave(p, ctx);
	}
}

uint64_t
pol_signals(const struct policy *p)
{
	return p->st.signals;
}

uint64_t
pol_account_hash(const char *jid)
{
	char acct[POL_KEY_MAX];
	int  len = pol_norm_jid(jid, acct, sizeof acct);

	return len == -1 ? 0 : det_login_hash(acct, (size_t)len);
}

void
pol_prefetch_account(const struct policy *p, uint64_t h, int deep)
{
	det_login_prefetch(p->login, h, deep); /* NULL: none */
}

void
pol_get_stats(const struct policy *p, struct pol_stats *st)
{
	struct rl_stats rs;

	*st = p->st;
	rl_get_stats(p->rl, &rs);
	st->subjects = rep_count(p->rep);
	st->buckets = rs.keys;
	st->bucket_evictions = rs.evictions;
	rep_counters(p->rep, &st->subject_evictions, &st->subject_drops);
}
