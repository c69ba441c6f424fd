/* SPDX-License-Identifier: ISC */
/*
 * floodgate - trap recipients ([detect.traps]): local JIDs no human uses,
 * published nowhere, so whoever writes to one harvested it. A stranger
 * message, MUC invitation (gated as a stranger message) or subscription
 * request to a trap, from a local or a remote account, quarantines the
 * sender at once (or blocks it, action = block), and the message's body,
 * URL and host fingerprints are marked as a content wave at once
 * (det_content_mark), so the same spam sent to real users is refused from
 * then on, on its first try. The list is reloaded with the configuration
 * (SIGHUP); a file that does not read keeps the previous list.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "detect.h"
#include "listfile.h"

#define TRAP_VERDICT_MS (7LL * 86400 * 1000) /* a trap verdict lasts, ms */

struct trap {
	struct policy *p;
	struct lf_set *set; /* NULL: no traps */
	int            block;
};

static const char txt_trap[] =
    "Your account may not write to people who are not your contacts";

static void *trap_init(struct policy *, const struct fg_config *);
static void  trap_reconfigure(void *, const struct fg_config *);
static void  trap_free(void *);
static void  trap_gate(void *, struct policy *, const struct pol_gate *,
		       struct pol_answer *);

const struct pol_detector det_trap = {
    .name = "trap",
    .det = FG_DET_TRAPS,
    .cause = FG_CAUSE_TRAP,
    .init = trap_init,
    .reconfigure = trap_reconfigure,
    .free = trap_free,
    .gate = trap_gate,
};

static void *
trap_init(struct policy *p, const struct fg_config *cfg)
{
	struct trap *d = xcalloc(1, sizeof *d);

	d->p = p;
	trap_reconfigure(d, cfg);
	return d;
}

/* The configured traps: jids, then the file. NULL when a file was given
 * but did not read cleanly (the caller keeps what it had). */
static struct lf_set *
trap_load(const struct fg_config *cfg, int *bad)
{
	struct lf_set *s = lf_new();
	const char    *err;
	size_t         i;

	*bad = 0;
	for (i = 0; i < cfg->trap_jids.n; i++)
		if (lf_add(s, LF_JIDS, cfg->trap_jids.v[i], &err) == -1) {
			log_warnx("[detect.traps] jids: '%s': %s",
				  cfg->trap_jids.v[i], err);
			(*bad)++;
		}
	if (cfg->trap_file != NULL &&
	    lf_read(s, LF_JIDS, cfg->trap_file) != 0) {
		lf_free(s);
		*bad = -1;
		return NULL;
	}
	lf_done(s);
	return s;
}

static void
trap_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct trap   *d = arg;
	struct lf_set *s;
	int            bad;

	d->block = cfg->trap_block;
	if ((s = trap_load(cfg, &bad)) == NULL) {
		log_warnx("traps: %s not loaded; keeping the %zu traps "
			  "loaded before",
			  cfg->trap_file, lf_count(d->set));
		d->p->st.list_rejects++;
		return;
	}
	lf_free(d->set);
	d->set = s;
	pol_det_idle(d->p, &det_trap, lf_count(s) == 0);
	if (lf_count(s) > 0)
		log_info("traps: %zu trap recipients", lf_count(s));
}

static void
trap_free(void *arg)
{
	struct trap *d = arg;

	if (d == NULL)
		return;
	lf_free(d->set);
	free(d);
}

static void
trap_gate(void *arg, struct policy *p, const struct pol_gate *g,
	  struct pol_answer *a)
{
	struct trap    *d = arg;
	char            from[POL_KEY_MAX], to[POL_KEY_MAX];
	char            e1[LOG_ESC_MAX], e2[LOG_ESC_MAX];
	enum fg_verdict v = d->block ? FG_V_BLOCK : FG_V_QUARANTINE;
	struct pol_info pi;

	if (lf_count(d->set) == 0 || g->contact || g->to == NULL ||
	    !(g->kind == FG_KIND_STRANGER_MESSAGE ||
	      g->kind == FG_KIND_INBOUND_STRANGER_MESSAGE ||
	      g->kind == FG_KIND_SUBSCRIBE ||
	      g->kind == FG_KIND_INBOUND_SUBSCRIBE) ||
	    pol_norm_jid(g->to, to, sizeof to) == -1 || !lf_match(d->set, to) ||
	    pol_norm_jid(g->from, from, sizeof from) == -1 ||
	    strchr(from, '@') == NULL)
		return;
	/* an admin vouched for this sender: its text is not spam */
	if (pol_inspect(p, FG_SUBJ_ACCOUNT, from, &pi) == 0 &&
	    pi.override == FG_OVR_ALLOW)
		return;
	log_info("trap: %s wrote to %s: %s", log_esc(e1, sizeof e1, from),
		 log_esc(e2, sizeof e2, to), fg_verdict_name(v));
	pol_trap_hit(p, FG_SUBJ_ACCOUNT, from, to);
	pol_auto_verdict(p, FG_SUBJ_ACCOUNT, from, v, TRAP_VERDICT_MS,
			 "trap-hit");
	if (g->kind == FG_KIND_STRANGER_MESSAGE ||
	    g->kind == FG_KIND_INBOUND_STRANGER_MESSAGE)
		det_content_mark(p, g);
	if (a->allow) {
		a->allow = 0;
		a->cause = FG_CAUSE_TRAP;
		a->condition = "policy-violation";
		a->text = txt_trap;
		a->verdict = v;
	}
}
