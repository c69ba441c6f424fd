/* SPDX-License-Identifier: ISC */
/*
 * floodgate - content wave detector. The bridge modules send fingerprints
 * (doc/PROTOCOL.md, "Fingerprints") of every message body (fp) and of up
 * to three URLs in it (ufp); bodies never reach the daemon. The same
 * fingerprint sent to strangers by content-accounts distinct accounts
 * within content-window marks it for a day: every one of those senders
 * gets content-wave (body) or url-wave (URL), and so does every later
 * sender of it to a stranger, whose message is also refused. Messages
 * between contacts are neither counted nor penalised, so a link shared
 * among friends never becomes a wave. Bodies and URLs are counted in
 * separate tables, so a flood of one kind cannot evict the other.
 *
 * A message to a trap recipient (detect_trap.c) marks its fingerprints at
 * once through det_content_mark(), URL hosts (hfp) included: hosts are
 * only ever marked that way, never counted, since many people share links
 * to the same big sites.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define CONTENT_CAP 4096      /* fingerprints tracked, per table */
#define CONTENT_SENDERS 16    /* distinct senders remembered per fp */
#define CONTENT_JID 96        /* bytes of a remembered sender JID */
#define CONTENT_MARK 86400000 /* a marked fingerprint stays so, ms */
#define CONTENT_TWEAK 0x636f6e74656e7401ULL      /* hash domain: fps */
#define CONTENT_ACCT_TWEAK 0x636f6e74656e7402ULL /* ... and senders */
#define CONTENT_URL_TWEAK 0x636f6e74656e7403ULL  /* ... and URL fps */
#define CONTENT_HOST_TWEAK 0x636f6e74656e7404ULL /* ... and host fps */
#define CONTENT_HOST_CAP 4096 /* host fingerprints marked, at most */

struct content_rec {
	struct det_ent h;
	int64_t        win_start;    /* unix ms */
	int64_t        marked_until; /* unix ms; 0 = not a wave */
	uint32_t       n;            /* distinct senders in the window */
	uint64_t       sender[CONTENT_SENDERS];
	char           jid[CONTENT_SENDERS][CONTENT_JID]; /* "" if too long */
};

struct content {
	struct det_cache *recs;     /* body fingerprints */
	struct det_cache *urls;     /* URL fingerprints */
	struct det_cache *hosts;    /* host fingerprints (trap marks only) */
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
    .det = FG_DET_CONTENT,
    .cause = FG_CAUSE_WAVE,
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
	d->urls = det_cache_new(CONTENT_CAP, sizeof(struct content_rec));
	d->hosts = det_cache_new(CONTENT_HOST_CAP, sizeof(struct content_rec));
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
	det_cache_free(d->urls);
	det_cache_free(d->hosts);
	free(d);
}

/* Penalise every remembered sender of r once it became a wave. */
static void
penalise_all(struct policy *p, struct content_rec *r, const char *evidence)
{
	uint32_t i;

	for (i = 0; i < r->n && i < CONTENT_SENDERS; i++)
		if (r->jid[i][0] != '\0')
			pol_signal_key(p, FG_SUBJ_ACCOUNT, r->jid[i],
				       strlen(r->jid[i]), evidence,
				       DET_W_CONTENT, HUGE_VAL);
}

/* Fingerprint id (in table c, hash domain tweak) sent by acct to a
 * stranger: 1 if it is a known wave (the caller penalises acct and
 * refuses); else counted, and marked when it becomes a wave, which
 * penalises all its senders, acct included. */
static int
wave_see(struct content *d, struct policy *p, struct det_cache *c,
	 uint64_t tweak, const char *id, const char *acct, size_t len,
	 const char *evidence, int64_t now)
{
	struct content_rec *r;
	uint64_t            sh;
	uint32_t            i;

	r = det_cache_get(c, det_hash(tweak, id, strlen(id)), now, 1);
	if (r->marked_until > now)
		return 1;
	if (now - r->win_start >= d->window_ms) {
		r->win_start = now;
		r->n = 0;
	}
	sh = det_hash(CONTENT_ACCT_TWEAK, acct, len);
	for (i = 0; i < r->n; i++)
		if (r->sender[i] == sh)
			return 0;
	if (r->n >= CONTENT_SENDERS)
		return 0;
	r->sender[r->n] = sh;
	if (len < CONTENT_JID)
		memcpy(r->jid[r->n], acct, len + 1);
	else
		r->jid[r->n][0] = '\0';
	r->n++;
	if (r->n >= d->accounts) {
		r->marked_until = now + CONTENT_MARK;
		pol_note(p, &(struct pol_note){.what = POL_NOTE_CONTENT_WAVE,
					       .type = FG_SUBJ_ACCOUNT,
					       .key = acct,
					       .verdict = FG_V_QUARANTINE,
					       .since = r->win_start,
					       .text = evidence});
		penalise_all(p, r, evidence);
	}
	return 0;
}

/* A stranger message: its body and each of its URLs is counted; a message
 * that carries a known wave gives its sender content-wave and/or url-wave
 * (once, however many of its URLs are waves) and is refused. */
static void
content_gate(void *arg, struct policy *p, const struct pol_gate *g,
	     struct pol_answer *a)
{
	struct content *d = arg;
	char            acct[POL_KEY_MAX];
	int64_t         now = clock_wall_ms();
	int             i, len, known = 0, url_known = 0;

	if ((g->kind != FG_KIND_STRANGER_MESSAGE &&
	     g->kind != FG_KIND_INBOUND_STRANGER_MESSAGE) ||
	    g->contact || (g->fp == NULL && g->nufp <= 0 && g->nhfp <= 0) ||
	    d->accounts == 0 || g->from == NULL ||
	    (len = pol_norm_jid(g->from, acct, sizeof acct)) == -1)
		return;
	if (g->fp != NULL && wave_see(d, p, d->recs, CONTENT_TWEAK, g->fp, acct,
				      (size_t)len, "content-wave", now)) {
		pol_signal_key(p, FG_SUBJ_ACCOUNT, acct, (size_t)len,
			       "content-wave", DET_W_CONTENT, HUGE_VAL);
		known = 1;
	}
	for (i = 0; i < g->nufp && i < POL_UFP_MAX; i++)
		if (g->ufp[i][0] != '\0' &&
		    wave_see(d, p, d->urls, CONTENT_URL_TWEAK, g->ufp[i], acct,
			     (size_t)len, "url-wave", now))
			url_known = 1;
	for (i = 0; i < g->nhfp && i < POL_HFP_MAX && !url_known; i++) {
		struct content_rec *r;

		r = det_cache_get(
		    d->hosts,
		    det_hash(CONTENT_HOST_TWEAK, g->hfp[i], strlen(g->hfp[i])),
		    now, 0);
		if (r != NULL && r->marked_until > now)
			url_known = 1;
	}
	if (url_known) {
		pol_signal_key(p, FG_SUBJ_ACCOUNT, acct, (size_t)len,
			       "url-wave", DET_W_CONTENT, HUGE_VAL);
		known = 1;
	}
	if (known && a->allow) {
		a->allow = 0;
		a->cause = FG_CAUSE_WAVE;
		a->condition = "policy-violation";
		a->text = txt_wave;
	}
}

/* Mark one fingerprint of table c as a wave from now on. */
static void
mark(struct det_cache *c, uint64_t tweak, const char *id, int64_t now)
{
	struct content_rec *r;

	r = det_cache_get(c, det_hash(tweak, id, strlen(id)), now, 1);
	r->marked_until = now + CONTENT_MARK;
}

void
det_content_mark(struct policy *p, const struct pol_gate *g)
{
	struct content *d = pol_det_state(p, &det_content);
	int64_t         now = clock_wall_ms();
	int             i;

	if (d == NULL)
		return;
	if (g->fp != NULL)
		mark(d->recs, CONTENT_TWEAK, g->fp, now);
	for (i = 0; i < g->nufp && i < POL_UFP_MAX; i++)
		if (g->ufp[i][0] != '\0')
			mark(d->urls, CONTENT_URL_TWEAK, g->ufp[i], now);
	for (i = 0; i < g->nhfp && i < POL_HFP_MAX; i++)
		if (g->hfp[i][0] != '\0')
			mark(d->hosts, CONTENT_HOST_TWEAK, g->hfp[i], now);
}
