/* SPDX-License-Identifier: ISC */
/*
 * floodgate - registration wave detector.
 *
 * The registration rate, globally and per network (/24, /48), is a
 * sliding one-minute count compared with its own baseline: an
 * exponentially weighted average of past minutes, frozen while a wave
 * lasts so a long wave never becomes normal. A wave starts when the
 * count reaches wave-min and wave-factor times the baseline, and lasts
 * until WAVE_HOLD after the rate last met that bar. A rate without an
 * hour of history has no baseline to speak of: until then its baseline
 * counts as at least half of wave-min a minute. A wave's start is the
 * first registration of the minute that tripped it (the operator's
 * "cut-off"): it is logged and written to the audit log (subject domain
 * "registration-wave"), so registered-since can act on it.
 *
 * Every account registered inside a wave, including the ones just before
 * it was noticed, starts in probation: an automatic quarantine (reg-wave)
 * for probation seconds. It ends early once the account has messaged
 * probation-contacts distinct contacts that are not themselves in
 * probation (bots created together befriend each other; they do not
 * befriend people who were here before); the verdict then steps down to
 * what the account's score supports. An admin unblock ends it too.
 * Per-IP registration buckets are the [limits] ip.register rate.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define REG_MINUTE 60000   /* rate window, ms */
#define REG_ALPHA 0.1      /* baseline weight of the newest minute */
#define REG_HOLD 300000    /* a wave outlasts its last high minute, ms */
#define REG_WARMUP 3600000 /* a rate younger than this has no baseline, ms */
#define REG_RECENT 512     /* recent registrations kept for the cut-off */
#define REG_PFX_CAP 8192   /* networks tracked */
#define REG_PROB_CAP 65536 /* accounts in probation tracked */
#define REG_CONTACTS 8     /* contacts remembered per probation */
#define REG_PFX_TWEAK 0x7265670000000001ULL
#define REG_ACCT_TWEAK 0x7265670000000002ULL

/* One rate: sliding minute over a baseline. */
struct reg_rate {
	struct det_ent h;
	int64_t        first;      /* unix ms of its first registration */
	int64_t        cur_start;  /* unix ms, start of the current minute */
	uint32_t       cur, prev;  /* counts of this and the last minute */
	double         base;       /* registrations per minute, EWMA */
	int64_t        wave_start; /* 0 = no wave */
	int64_t        wave_until;
};

struct reg_recent {
	int64_t  at;
	uint64_t pfx; /* det_hash of the network */
	char    *jid;
};

struct reg_prob {
	struct det_ent h;
	int64_t        until;
	uint32_t       n;
	uint64_t       contact[REG_CONTACTS];
};

struct reg {
	struct reg_rate   global;
	struct det_cache *pfx;
	struct det_cache *prob;
	struct reg_recent recent[REG_RECENT];
	size_t            rhead;
	double            factor;
	uint32_t          min;
	int64_t           probation_ms;
	uint32_t          contacts;
	uint64_t          waves;
};

static void *reg_init(struct policy *, const struct fg_config *);
static void  reg_reconfigure(void *, const struct fg_config *);
static void  reg_free(void *);
static void  reg_event(void *, struct policy *, const struct pol_event *);

const struct pol_detector det_reg = {
    .name = "registration",
    .det = FG_DET_REGISTRATION,
    .cause = FG_CAUSE_WAVE,
    .init = reg_init,
    .reconfigure = reg_reconfigure,
    .free = reg_free,
    .event = reg_event,
};

static void *
reg_init(struct policy *p, const struct fg_config *cfg)
{
	struct reg *d = xcalloc(1, sizeof *d);

	(void)p;
	d->pfx = det_cache_new(REG_PFX_CAP, sizeof(struct reg_rate));
	d->prob = det_cache_new(REG_PROB_CAP, sizeof(struct reg_prob));
	reg_reconfigure(d, cfg);
	return d;
}

static void
reg_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct reg *d = arg;

	d->factor = cfg->wave_factor;
	d->min = cfg->wave_min;
	d->probation_ms = (int64_t)cfg->probation_s * 1000;
	d->contacts = cfg->probation_contacts;
	if (d->contacts > REG_CONTACTS)
		d->contacts = REG_CONTACTS;
}

static void
reg_free(void *arg)
{
	struct reg *d = arg;
	size_t      i;

	if (d == NULL)
		return;
	for (i = 0; i < REG_RECENT; i++)
		free(d->recent[i].jid);
	det_cache_free(d->pfx);
	det_cache_free(d->prob);
	free(d);
}

/* Count one registration; 1 when r is (now) in a wave. */
static int
rate_add(struct reg *d, struct reg_rate *r, int64_t now)
{
	int64_t k;
	double  rate, bar, base;

	if (r->cur_start == 0)
		r->cur_start = r->first = now;
	if (now - r->cur_start >= REG_MINUTE) {
		k = (now - r->cur_start) / REG_MINUTE;
		if (r->wave_start == 0) {
			/* fold the finished minute, then the empty ones */
			r->base =
			    (1 - REG_ALPHA) * r->base + REG_ALPHA * r->cur;
			if (k > 1)
				r->base *= pow(1 - REG_ALPHA, (double)(k - 1));
		}
		r->prev = k == 1 ? r->cur : 0;
		r->cur = 0;
		r->cur_start += k * REG_MINUTE;
	}
	r->cur++;
	/* sliding minute: this one plus the unexpired share of the last */
	rate = r->cur +
	       r->prev * (1.0 - (double)(now - r->cur_start) / REG_MINUTE);
	/* No baseline yet (a fresh daemon, the first lines of a log, a
	 * network never seen): the first hour's baseline counts as at least
	 * half of wave-min a minute, so a handful of registrations at start
	 * is no wave while a real one (wave-factor x that) still is. */
	base = r->base;
	if (now - r->first < REG_WARMUP && base < d->min / 2.0)
		base = d->min / 2.0;
	bar = d->factor * base;
	if (d->min > 0 && rate >= d->min && rate >= bar) {
		if (r->wave_start == 0 || now > r->wave_until)
			r->wave_start = now;
		r->wave_until = now + REG_HOLD;
		return 1;
	}
	if (r->wave_start != 0 && now > r->wave_until)
		r->wave_start = 0;
	return r->wave_start != 0;
}

static void
probation(struct reg *d, struct policy *p, const char *jid, int64_t now)
{
	struct reg_prob *r;
	char             k[POL_KEY_MAX];
	int              len;

	if (d->probation_ms == 0 ||
	    (len = pol_norm_jid(jid, k, sizeof k)) == -1)
		return;
	if (pol_auto_verdict(p, FG_SUBJ_ACCOUNT, k, FG_V_QUARANTINE,
			     d->probation_ms, "reg-wave") == -1)
		return;
	r = det_cache_get(d->prob, det_hash(REG_ACCT_TWEAK, k, (size_t)len),
			  now, 1);
	r->until = now + d->probation_ms;
	r->n = 0;
}

/* A wave just started at start: log it, write it to the audit log, and
 * put the accounts registered since the cut-off on probation. */
static void
wave_started(struct reg *d, struct policy *p, const char *where, uint64_t pfx,
	     int64_t start, int64_t now)
{
	struct store_audit au;
	char               reason[160], sig[32];
	size_t             i;

	for (i = 0; i < REG_RECENT; i++) {
		struct reg_recent *r = &d->recent[i];

		if (r->jid != NULL && r->at >= start &&
		    (pfx == 0 || r->pfx == pfx))
			probation(d, p, r->jid, now);
	}
	d->waves++;
	snprintf(reason, sizeof reason,
		 "registration wave (%s) since %lld; registered-since %lld "
		 "lists its accounts",
		 where, (long long)start, (long long)start);
	if (p->wave_cb != NULL)
		p->wave_cb(where, start, p->wave_arg);
	else
		log_info("%s", reason);
	pol_note(p, &(struct pol_note){.what = POL_NOTE_REG_WAVE,
				       .type = FG_SUBJ_DOMAIN,
				       .verdict = FG_V_QUARANTINE,
				       .since = start,
				       .text = where});
	if (p->store == NULL)
		return;
	snprintf(sig, sizeof sig, "reg-wave=%llu",
		 (unsigned long long)d->waves);
	memset(&au, 0, sizeof au);
	au.at = now;
	au.type = FG_SUBJ_DOMAIN;
	au.key = "registration-wave";
	au.old_verdict = FG_V_ALLOW;
	au.new_verdict = FG_V_QUARANTINE;
	au.reason = reason;
	au.signals = sig;
	au.actor = "auto";
	store_queue_audit(p->store, &au);
}

static void
registered(struct reg *d, struct policy *p, const struct pol_event *e,
	   int64_t now)
{
	struct reg_recent *rr;
	struct reg_rate   *pr = NULL;
	char               ip[POL_IP_MAX], pfx[POL_IP_MAX];
	uint64_t           ph = 0;
	int64_t            g_was, p_was = 0;
	int                gw, pw = 0;

	if (e->ip != NULL && pol_norm_ip(e->ip, ip, sizeof ip) != -1 &&
	    pol_norm_prefix(ip, pfx, sizeof pfx) != -1) {
		ph = det_hash(REG_PFX_TWEAK, pfx, strlen(pfx));
		pr = det_cache_get(d->pfx, ph, now, 1);
	}
	rr = &d->recent[d->rhead];
	d->rhead = (d->rhead + 1) % REG_RECENT;
	free(rr->jid);
	rr->jid = xstrdup(e->jid);
	rr->at = now;
	rr->pfx = ph;
	g_was = d->global.wave_start;
	gw = rate_add(d, &d->global, now);
	if (pr != NULL) {
		p_was = pr->wave_start;
		pw = rate_add(d, pr, now);
	}
	/* a new wave reaches back to the start of its minute */
	if (gw && g_was == 0)
		wave_started(d, p, "global", 0,
			     d->global.cur_start < now - REG_MINUTE
				 ? now - REG_MINUTE
				 : d->global.cur_start,
			     now);
	else if (pw && p_was == 0)
		wave_started(d, p, pfx, ph,
			     pr->cur_start < now - REG_MINUTE ? now - REG_MINUTE
							      : pr->cur_start,
			     now);
	if (gw || pw)
		probation(d, p, e->jid, now);
}

/* A message to a contact from an account in probation: count the contact
 * if it is not in probation itself; enough of them end the probation. */
static void
contact_msg(struct reg *d, struct policy *p, const struct pol_event *e,
	    int64_t now)
{
	struct reg_prob *r;
	struct rep_subj *s, *t;
	char             k[POL_KEY_MAX], to[POL_KEY_MAX];
	uint64_t         th;
	uint32_t         i;
	int              len, tlen;

	if (d->contacts == 0 || e->to == NULL ||
	    (len = pol_norm_jid(e->jid, k, sizeof k)) == -1 ||
	    (tlen = pol_norm_jid(e->to, to, sizeof to)) == -1)
		return;
	r = det_cache_get(d->prob, det_hash(REG_ACCT_TWEAK, k, (size_t)len),
			  now, 0);
	if (r == NULL)
		return;
	if (r->until <= now) {
		det_cache_del(d->prob, r);
		return;
	}
	t = rep_find(p->rep, FG_SUBJ_ACCOUNT, to, (size_t)tlen,
		     rep_hash(FG_SUBJ_ACCOUNT, to, (size_t)tlen));
	if (t != NULL && pol_effective(t) >= FG_V_QUARANTINE)
		return;
	if (det_cache_get(d->prob, det_hash(REG_ACCT_TWEAK, to, (size_t)tlen),
			  now, 0) != NULL)
		return; /* in probation too: bots befriend bots */
	th = det_hash(REG_ACCT_TWEAK ^ 1, to, (size_t)tlen);
	for (i = 0; i < r->n; i++)
		if (r->contact[i] == th)
			return;
	r->contact[r->n++] = th;
	if (r->n < d->contacts)
		return;
	det_cache_del(d->prob, r);
	s = rep_find(p->rep, FG_SUBJ_ACCOUNT, k, (size_t)len,
		     rep_hash(FG_SUBJ_ACCOUNT, k, (size_t)len));
	if (s == NULL || s->verdict != FG_V_QUARANTINE ||
	    s->override != FG_OVR_NONE)
		return;
	/* let the score speak */
	pol_reeval(p, s, now, "probation ended: contacts");
}

static void
reg_event(void *arg, struct policy *p, const struct pol_event *e)
{
	struct reg *d = arg;
	int64_t     now = clock_wall_ms();

	/* Accounts made by an admin tool (ejabberdctl, prosodyctl, web
	 * admin) arrive without an address: an operator creating fifty
	 * accounts for a class is not a bot wave. */
	if (e->type == POL_EV_REGISTERED && e->jid != NULL && e->ip != NULL)
		registered(d, p, e, now);
	else if (e->type == POL_EV_MESSAGE && e->jid != NULL)
		contact_msg(d, p, e, now);
}
