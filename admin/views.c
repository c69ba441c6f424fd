/* SPDX-License-Identifier: ISC */
/*
 * floodgate - what admins see: inspect (state, signals, audit, pubsub
 * listing) and list (current quarantines and blocks), shared by ad-hoc
 * and floodgatectl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xmalloc.h"
#include "../storage/store.h"
#include "verbs.h"
#include "../policy/policy.h"

#define LIST_MAX 1000000 /* rows one list may collect */

static void on_audit(const struct store_audit *, void *);
static void on_listed(const struct pol_info *, void *);
static int  entry_cmp(const void *, const void *);

static void
copy(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src != NULL ? src : "");
}

static void
on_audit(const struct store_audit *a, void *arg)
{
	struct adm_view  *v = arg;
	struct adm_audit *e;

	if (v->naudit >= ADM_AUDIT_MAX)
		return;
	e = &v->audit[v->naudit++];
	e->at = a->at;
	e->old_v = a->old_verdict;
	e->new_v = a->new_verdict;
	copy(e->actor, sizeof e->actor, a->actor);
	copy(e->reason, sizeof e->reason, a->reason);
	copy(e->signals, sizeof e->signals, a->signals);
}

/* The node a subject of this type is published on, and whether it is
 * there now (the rule is core/types.c's, shared with the publisher). */
static void
pubsub_state(const struct fg_config *cfg, struct adm_view *v)
{
	v->pubsub_node = fg_rtbl_node_name(fg_rtbl_node_of(v->type));
	v->published = fg_rtbl_published(
	    v->effective, cfg != NULL && cfg->bl_publish_quarantine);
}

void
adm_inspect(const struct adm_env *env, const char *subject, struct adm_view *v,
	    struct adm_result *r)
{
	struct pol_info pi;
	char            err[ADM_MSG_MAX];
	enum fg_subj    type;

	memset(v, 0, sizeof *v);
	if (adm_parse_subject(subject, &type, v->key, sizeof v->key, err,
			      sizeof err) == -1 ||
	    pol_inspect(env->pol, type, v->key, &pi) == -1) {
		r->status = ADM_BAD;
		snprintf(r->msg, sizeof r->msg, "%s", err);
		return;
	}
	v->type = type;
	v->score = pi.score;
	v->verdict = pi.verdict;
	v->effective = pi.effective;
	v->expires = pi.expires;
	v->override = pi.override;
	copy(v->actor, sizeof v->actor, pi.actor);
	copy(v->reason, sizeof v->reason, pi.reason);
	copy(v->signals, sizeof v->signals, pi.signals);
	pubsub_state(env->cfg, v);
	if (env->store != NULL &&
	    store_audit_recent(env->store, type, v->key, ADM_AUDIT_MAX,
			       on_audit, v) == -1)
		v->naudit = 0;
	v->known = v->naudit > 0 || pi.score > 0 ||
		   pi.override != FG_OVR_NONE || pi.verdict != FG_V_ALLOW ||
		   v->signals[0] != '\0';
	r->status = v->known ? ADM_OK : ADM_NOTFOUND;
	snprintf(r->msg, sizeof r->msg, "%s %.200s: %s%s", fg_subj_name(type),
		 v->key, fg_verdict_name(v->effective),
		 v->known ? "" : " (nothing on record)");
}

struct list_ctx {
	struct adm_list *l;
	size_t           cap;
	enum fg_verdict  verdict;
	enum fg_subj     type;
};

static void
on_listed(const struct pol_info *pi, void *arg)
{
	struct list_ctx  *lc = arg;
	struct adm_entry *e;

	if ((lc->verdict != FG_V__MAX && pi->effective != lc->verdict) ||
	    (lc->type != FG_SUBJ__MAX && pi->type != lc->type) ||
	    lc->l->n >= LIST_MAX)
		return;
	if (lc->l->n == lc->cap) {
		lc->cap = lc->cap ? lc->cap * 2 : 64;
		lc->l->v = xreallocarray(lc->l->v, lc->cap, sizeof *lc->l->v);
	}
	e = &lc->l->v[lc->l->n++];
	e->type = pi->type;
	e->key = xstrdup(pi->key);
	e->score = pi->score;
	e->effective = pi->effective;
	e->enforced = pi->enforced;
	e->expires = pi->expires;
	e->override = pi->override;
	e->actor = pi->actor ? xstrdup(pi->actor) : NULL;
	e->reason = pi->reason ? xstrdup(pi->reason) : NULL;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct adm_entry *x = a, *y = b;

	if (x->type != y->type)
		return (int)x->type - (int)y->type;
	return strcmp(x->key, y->key);
}

void
adm_list_get(const struct adm_env *env, enum fg_verdict verdict,
	     enum fg_subj type, struct adm_list *l)
{
	struct list_ctx lc;

	memset(l, 0, sizeof *l);
	lc.l = l;
	lc.cap = 0;
	lc.verdict = verdict;
	lc.type = type;
	if (verdict == FG_V_ALLOW)
		pol_foreach_allowlisted(env->pol, on_listed, &lc);
	else
		pol_foreach_listed(env->pol, on_listed, &lc);
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, entry_cmp);
}

int
adm_list_filter(const char *s, enum fg_verdict *vf)
{
	if (s == NULL || strcmp(s, "all") == 0) {
		*vf = FG_V__MAX;
		return 0;
	}
	if (strcmp(s, "allowlist") == 0) {
		*vf = FG_V_ALLOW;
		return 0;
	}
	/* "allow" alone would read as "everything allowed", which list
	 * cannot show */
	if (fg_verdict_parse(s, vf) == -1 || *vf == FG_V_ALLOW)
		return -1;
	return 0;
}

void
adm_list_free(struct adm_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].actor);
		free(l->v[i].reason);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

static void
on_count(const struct pol_info *pi, void *arg)
{
	uint64_t *n = arg;

	if ((int)pi->effective > 0 && pi->effective < FG_V__MAX)
		n[pi->effective]++;
}

size_t
adm_stats(const struct adm_env *env, struct adm_stat *st, size_t max)
{
	struct pol_stats   ps;
	struct store_stats ss;
	uint64_t           n[FG_V__MAX] = {0};
	size_t             i = 0;

#define ADD(nm, v)                                                             \
	do {                                                                   \
		if (i < max) {                                                 \
			st[i].name = (nm);                                     \
			st[i].value = (uint64_t)(v);                           \
			i++;                                                   \
		}                                                              \
	} while (0)
	pol_foreach_listed(env->pol, on_count, n);
	pol_get_stats(env->pol, &ps);
	ADD("listed_throttle", n[FG_V_THROTTLE]);
	ADD("listed_quarantine", n[FG_V_QUARANTINE]);
	ADD("listed_block", n[FG_V_BLOCK]);
	ADD("gates", ps.gates);
	ADD("gates_denied", ps.denied);
	ADD("would_throttle", ps.would[FG_V_THROTTLE]);
	ADD("would_quarantine", ps.would[FG_V_QUARANTINE]);
	ADD("would_block", ps.would[FG_V_BLOCK]);
	ADD("gates_dropped", ps.dropped);
	ADD("events", ps.events);
	ADD("subjects", ps.subjects);
	ADD("buckets", ps.buckets);
	ADD("bucket_evictions", ps.bucket_evictions);
	ADD("verdict_changes", ps.verdict_changes);
	ADD("list_rejects", ps.list_rejects);
	if (env->store != NULL) {
		store_get_stats(env->store, &ss);
		ADD("store_flushes", ss.flushes);
		ADD("store_rows_written", ss.rows_written);
		ADD("store_flush_errors", ss.flush_errors);
		ADD("store_queued", ss.queued);
		ADD("store_dropped", ss.dropped);
	}
#undef ADD
	return i;
}
