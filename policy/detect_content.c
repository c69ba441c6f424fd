/*
 * floodgate - content wave detector. The bridge modules send a
 * fingerprint (fp, doc/PROTOCOL.md) of every message body; bodies never
 * reach the daemon. The same fingerprint sent to strangers by
 * content-accounts distinct accounts within content-window marks it for
 * a day: every one of those senders gets content-wave, and so does every
 * later sender of it to a stranger, whose message is also refused.
 * Messages between contacts are neither counted nor penalised, so a link
 * shared among friends never becomes a wave.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define CONTENT_CAP 4096      /* fingerprints tracked */
#define CONTENT_SENDERS 16    /* distinct senders remembered per fp */
#define CONTENT_JID 96        /* bytes of a remembered sender JID */
#define CONTENT_MARK 86400000 /* a marked fingerprint stays so, ms */
#define CONTENT_TWEAK 0x636f6e74656e7401ULL      /* hash domain: fps */
#define CONTENT_ACCT_TWEAK 0x636f6e74656e7402ULL /* ... and senders */

struct content_rec {
	struct det_ent h;
	int64_t        win_start;    /* unix ms */
	int64_t        marked_until; /* unix ms; 0 = not a wave */
	uint32_t       n;            /* distinct senders in the window */
	uint64_t       sender[CONTENT_SENDERS];
	char           jid[CONTENT_SENDERS][CONTENT_JID]; /* "" if too long */
};

struct content {
	struct det_cache *recs;
	uint32_t          accounts; /* distinct senders that make a wave */
	int64_t           window_ms;
};

static const char txt_wave[] =
    "This message matches a spam wave seen from many accounts; it was not "
    "delivered";

static void *content_init(struct policy *, const struct fg_config *);
static void  content_reconfigure(void *, const struct fg_config *);
static void  content_free(void *);
static void  content_gate(void *, struct policy *, const struct pol_gate *,
			  struct pol_answer *);

const struct pol_detector det_content = {
    .name = "content",
    .init = content_init,
    .reconfigure = content_reconfigure,
    .free = content_free,
    .gate = content_gate,
};

static void *
content_init(struct policy *p, const struct fg_config *cfg)
{
	struct content *d = xcalloc(1, sizeof *d);

	(void)p;
	d->recs = det_cache_new(CONTENT_CAP, sizeof(struct content_rec));
	content_reconfigure(d, cfg);
	return d;
}

static void
content_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct content *d = arg;

	d->accounts = cfg->content_accounts;
	if (d->accounts > CONTENT_SENDERS)
		d->accounts = CONTENT_SENDERS;
	d->window_ms = (int64_t)cfg->content_window_s * 1000;
}

static void
content_free(void *arg)
{
	struct content *d = arg;

	if (d == NULL)
		return;
	det_cache_free(d->recs);
	free(d);
}

/* Penalise every remembered sender of r once it became a wave. */
static void
penalise_all(struct policy *p, struct content_rec *r)
{
	uint32_t i;

	for (i = 0; i < r->n && i < CONTENT_SENDERS; i++)
		if (r->jid[i][0] != '\0')
			pol_signal_key(p, FG_SUBJ_ACCOUNT, r->jid[i],
				       strlen(r->jid[i]), "content-wave",
				       DET_W_CONTENT, HUGE_VAL);
}

static void
content_gate(void *arg, struct policy *p, const struct pol_gate *g,
	     struct pol_answer *a)
{
	struct content     *d = arg;
	struct content_rec *r;
	char                acct[POL_KEY_MAX];
	int64_t             now = clock_wall_ms();
	uint64_t            sh;
	uint32_t            i;
	int                 len;

	if ((g->kind != FG_KIND_STRANGER_MESSAGE &&
	     g->kind != FG_KIND_INBOUND_STRANGER_MESSAGE) ||
	    g->contact || g->fp == NULL || d->accounts == 0 ||
	    g->from == NULL ||
	    (len = pol_norm_jid(g->from, acct, sizeof acct)) == -1)
		return;
	r = det_cache_get(
	    d->recs, det_hash(CONTENT_TWEAK, g->fp, strlen(g->fp)), now, 1);
	if (r->marked_until > now) {
		/* a known wave: every new sender of it is one of them */
		pol_signal_key(p, FG_SUBJ_ACCOUNT, acct, (size_t)len,
			       "content-wave", DET_W_CONTENT, HUGE_VAL);
		if (a->allow) {
			a->allow = 0;
			a->condition = "policy-violation";
			a->text = txt_wave;
		}
		return;
	}
	if (now - r->win_start >= d->window_ms) {
		r->win_start = now;
		r->n = 0;
	}
	sh = det_hash(CONTENT_ACCT_TWEAK, acct, (size_t)len);
	for (i = 0; i < r->n; i++)
		if (r->sender[i] == sh)
			return;
	if (r->n >= CONTENT_SENDERS)
		return;
	r->sender[r->n] = sh;
	if ((size_t)len < CONTENT_JID)
		memcpy(r->jid[r->n], acct, (size_t)len + 1);
	else
		r->jid[r->n][0] = '\0';
	r->n++;
	if (r->n >= d->accounts) {
		r->marked_until = now + CONTENT_MARK;
		penalise_all(p, r);
	}
}
