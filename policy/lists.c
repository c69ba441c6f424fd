/* SPDX-License-Identifier: ISC */
/*
 * floodgate - operator lists ([lists]): files of JIDs, domains and URL
 * hosts (policy/listfile.h) the operator keeps, as mod_anti_spam and
 * mod_antispam users do. Listed senders get an automatic quarantine (or
 * block, action = block): plain entries at load time, so the modules
 * enforce them from their cache without asking; hashed entries when the
 * sender first shows up at the gate. A stranger message whose host
 * fingerprints (hfp) match a listed URL host is refused and scores its
 * sender, so bodies never leave the server. Lists are re-read with the
 * configuration (SIGHUP); a list that does not read cleanly keeps the
 * previous one and says which lines are wrong.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "detect.h"
#include "listfile.h"

#define LISTS_TTL_MS (86400LL * 1000)  /* a list verdict lasts, ms ... */
#define LISTS_RENEW_MS (3600LL * 1000) /* ... renewed this often, ms */

enum { L_JIDS, L_DOMAINS, L_HOSTS, L__N };

struct lists {
	struct policy *p;
	struct lf_set *set[L__N];
	char          *path[L__N];
	int            block;
	int64_t        renewed; /* unix ms of the last renewal */
};

static const enum lf_kind kinds[L__N] = {LF_JIDS, LF_DOMAINS, LF_HOSTS};
static const enum fg_subj subjs[L__N] = {FG_SUBJ_ACCOUNT, FG_SUBJ_DOMAIN,
					 FG_SUBJ__MAX};

static const char txt_url[] =
    "This message links to a site this server does not accept in messages "
    "to strangers; it was not delivered";

static void *lists_init(struct policy *, const struct fg_config *);
static void  lists_reconfigure(void *, const struct fg_config *);
static void  lists_free(void *);
static void  lists_pregate(void *, struct policy *, const struct pol_gate *);
static void  lists_gate(void *, struct policy *, const struct pol_gate *,
			struct pol_answer *);
static void  lists_tick(void *, struct policy *);

const struct pol_detector det_lists = {
    .name = "lists",
    .det = FG_DET_LISTS,
    .cause = FG_CAUSE_LIST,
    .init = lists_init,
    .reconfigure = lists_reconfigure,
    .free = lists_free,
    .pregate = lists_pregate,
    .gate = lists_gate,
    .tick = lists_tick,
};

static enum fg_verdict
action(const struct lists *d)
{
	return d->block ? FG_V_BLOCK : FG_V_QUARANTINE;
}

/* The verdict of a plain entry of list l, set or renewed. */
static void
apply(struct lists *d, int l, const char *key)
{
	const struct pol_detector *ctx;

	/* never our own server domain: act on its accounts */
	if (subjs[l] == FG_SUBJ__MAX ||
	    (l == L_DOMAINS && pol_serves(d->p, key)))
		return;
	/* also run from init and reconfigure, outside the hooks */
	ctx = pol_ctx_enter(d->p, &det_lists);
	pol_auto_verdict(d->p, subjs[l], key, action(d), LISTS_TTL_MS,
			 l == L_JIDS ? "jid-list" : "domain-list");
	pol_ctx_leave(d->p, ctx);
}

static void
apply_all(struct lists *d)
{
	size_t i;
	int    l;

	for (l = 0; l < L__N; l++)
		for (i = 0; i < lf_nplain(d->set[l]); i++)
			apply(d, l, lf_plain(d->set[l], i));
	d->renewed = clock_wall_ms();
}

/* Entries of old that new no longer has: their verdict steps down as
 * far as their own score allows. */
static void
lift_removed(struct lists *d, int l, const struct lf_set *old,
	     const struct lf_set *new)
{
	struct rep_subj *s;
	const char      *k;
	size_t           i, n;
	int64_t          now = clock_wall_ms();

	if (subjs[l] == FG_SUBJ__MAX)
		return;
	for (i = 0; i < lf_nplain(old); i++) {
		k = lf_plain(old, i);
		if (lf_has_plain(new, k))
			continue;
		n = strlen(k);
		s = rep_find(d->p->rep, subjs[l], k, n,
			     rep_hash(subjs[l], k, n));
		if (s != NULL)
			pol_reeval(d->p, s, now, "list entry removed");
	}
}

static void
load(struct lists *d, const struct fg_config *cfg)
{
	const char    *paths[L__N] = {cfg->lists_jids, cfg->lists_domains,
				      cfg->lists_url_hosts};
	struct lf_set *s;
	int            l, eased = d->block && !cfg->lists_block;

	d->block = cfg->lists_block;
	for (l = 0; l < L__N; l++) {
		free(d->path[l]);
		d->path[l] = paths[l] != NULL ? xstrdup(paths[l]) : NULL;
		if (paths[l] == NULL) {
			s = NULL;
		} else {
			s = lf_new();
			if (lf_read(s, kinds[l], paths[l]) != 0) {
				log_warnx("lists: %s not loaded; keeping the "
					  "%zu entries loaded before",
					  paths[l], lf_count(d->set[l]));
				d->p->st.list_rejects++;
				lf_free(s);
				continue;
			}
			lf_done(s);
			log_info("lists: %zu entries from %s", lf_count(s),
				 paths[l]);
		}
		/* action block -> quarantine: every old entry steps down,
		 * apply_all() sets the quarantine again */
		if (d->set[l] != NULL)
			lift_removed(d, l, d->set[l], eased ? NULL : s);
		lf_free(d->set[l]);
		d->set[l] = s;
	}
	pol_det_idle(d->p, &det_lists,
		     lf_count(d->set[L_JIDS]) + lf_count(d->set[L_DOMAINS]) +
			     lf_count(d->set[L_HOSTS]) ==
			 0);
	apply_all(d);
}

static void *
lists_init(struct policy *p, const struct fg_config *cfg)
{
	struct lists *d = xcalloc(1, sizeof *d);

	d->p = p;
	load(d, cfg);
	return d;
}

static void
lists_reconfigure(void *arg, const struct fg_config *cfg)
{
	load(arg, cfg);
}

static void
lists_free(void *arg)
{
	struct lists *d = arg;
	int           l;

	if (d == NULL)
		return;
	for (l = 0; l < L__N; l++) {
		lf_free(d->set[l]);
		free(d->path[l]);
	}
	free(d);
}

/* A sender listed by hash (or by a parent domain) gets its verdict
 * before the core decision, which then refuses what it must. */
static void
lists_pregate(void *arg, struct policy *p, const struct pol_gate *g)
{
	struct lists *d = arg;
	char          jid[POL_KEY_MAX];
	const char   *dom, *q;

	(void)p;
	if ((lf_count(d->set[L_JIDS]) == 0 &&
	     lf_count(d->set[L_DOMAINS]) == 0) ||
	    g->kind == FG_KIND_REGISTER ||
	    pol_norm_jid(g->from, jid, sizeof jid) == -1)
		return;
	if (strchr(jid, '@') != NULL && lf_match(d->set[L_JIDS], jid))
		apply(d, L_JIDS, jid);
	dom = strchr(jid, '@');
	dom = dom != NULL ? dom + 1 : jid;
	if (pol_serves(d->p, dom) || lf_count(d->set[L_DOMAINS]) == 0)
		return;
	/* the domain and its parents: a listed server lists its
	 * components (muc.spam.example) too */
	for (q = dom; q != NULL && strchr(q, '.') != NULL;
	     q = strchr(q, '.') + 1)
		if (lf_match(d->set[L_DOMAINS], q)) {
			apply(d, L_DOMAINS, dom);
			break;
		}
}

/* A stranger message carrying a listed URL host is refused, and its
 * sender scored. */
static void
lists_gate(void *arg, struct policy *p, const struct pol_gate *g,
	   struct pol_answer *a)
{
	struct lists *d = arg;
	char          jid[POL_KEY_MAX];
	int           i, len;

	if (lf_count(d->set[L_HOSTS]) == 0 || g->nhfp <= 0 || g->contact ||
	    !(g->kind == FG_KIND_STRANGER_MESSAGE ||
	      g->kind == FG_KIND_INBOUND_STRANGER_MESSAGE))
		return;
	for (i = 0; i < g->nhfp && i < POL_HFP_MAX; i++)
		if (lf_has(d->set[L_HOSTS], lf_hex_hash(g->hfp[i])))
			break;
	if (i == g->nhfp || i == POL_HFP_MAX)
		return;
	if ((len = pol_norm_jid(g->from, jid, sizeof jid)) != -1)
		pol_signal_key(p, FG_SUBJ_ACCOUNT, jid, (size_t)len, "url-list",
			       DET_W_URL_LIST, HUGE_VAL);
	if (a->allow) {
		a->allow = 0;
		a->cause = FG_CAUSE_LIST;
		a->condition = "policy-violation";
		a->text = txt_url;
	}
}

/* Keep the plain entries' verdicts alive while they stay listed. */
static void
lists_tick(void *arg, struct policy *p)
{
	struct lists *d = arg;

	(void)p;
	if (clock_wall_ms() - d->renewed >= LISTS_RENEW_MS)
		apply_all(d);
}
