/* SPDX-License-Identifier: ISC */
/*
 * floodgate - bot login detector. Bots log in with a capitalised form of
 * their lowercase account name ("Abaca" for abaca), open several
 * overlapping connections, and drop them after a few seconds. Each habit
 * is one signal on the account (login-case, overlap, short-sessions);
 * all three together reach quarantine, none alone reaches throttle, and
 * each fires at most once a day per account so a human with three
 * devices or a flaky phone never adds up to a verdict.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define LOGIN_CAP_DIV 32      /* records = max_keys / this ... */
#define LOGIN_CAP_MIN 4096    /* ... but at least this many */
#define LOGIN_SHORTS 8        /* short-session end times kept per account */
#define LOGIN_OPEN 8          /* open sessions tracked per account */
#define LOGIN_STALE 3600000   /* an open session unseen for 1 h is gone, ms */
#define LOGIN_REFIRE 86400000 /* one signal of a kind per day, ms */
#define LOGIN_TWEAK 0x6c6f67696e000001ULL     /* hash domain: accounts */
#define LOGIN_RES_TWEAK 0x6c6f67696e000002ULL /* hash domain: full JIDs */

struct login_open {
	uint64_t res;   /* det_hash of the full JID; 0 = free */
	int64_t  start; /* unix ms */
};

struct login_rec {
	struct det_ent    h;
	int64_t           fired[3]; /* unix ms of the last signal, by SIG_* */
	int64_t           shorts[LOGIN_SHORTS]; /* ring of end times */
	uint8_t           shead;
	struct login_open open[LOGIN_OPEN];
};

enum { SIG_CASE, SIG_SHORT, SIG_OVERLAP };

static const char *const sig_name[] = {"login-case", "short-sessions",
				       "overlap"};
static const double      sig_w[] = {DET_W_LOGIN_CASE, DET_W_SHORT_SESSIONS,
				    DET_W_OVERLAP};

struct login {
	struct det_cache *recs;
	int64_t           short_ms;  /* a session up to this long is short */
	uint32_t          shorts;    /* short sessions in the window = hit */
	int64_t           window_ms; /* window for short sessions */
	uint32_t          overlap;   /* concurrent sessions = hit */
};

static void *login_init(struct policy *, const struct fg_config *);
static void  login_reconfigure(void *, const struct fg_config *);
static void  login_free(void *);
static void  login_event(void *, struct policy *, const struct pol_event *);

const struct pol_detector det_login = {
    .name = "login",
    .det = FG_DET_LOGIN,
    .cause = -1,
    .init = login_init,
    .reconfigure = login_reconfigure,
    .free = login_free,
    .event = login_event,
};

static void *
login_init(struct policy *p, const struct fg_config *cfg)
{
	struct login *d = xcalloc(1, sizeof *d);
	size_t        cap = cfg->max_keys / LOGIN_CAP_DIV;

	(void)p;
	d->recs = det_cache_new(cap > LOGIN_CAP_MIN ? cap : LOGIN_CAP_MIN,
				sizeof(struct login_rec));
	login_reconfigure(d, cfg);
	return d;
}

static void
login_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct login *d = arg;

	d->short_ms = (int64_t)cfg->short_session_s * 1000;
	d->shorts = cfg->short_sessions;
	d->window_ms = (int64_t)cfg->short_window_s * 1000;
	d->overlap = cfg->overlap;
}

static void
login_free(void *arg)
{
	struct login *d = arg;

	if (d == NULL)
		return;
	det_cache_free(d->recs);
	free(d);
}

/* Signal kind on the account unless it fired within the last day. */
static void
fire(struct policy *p, struct login_rec *r, int kind, const char *acct,
     size_t len, int64_t now)
{
	if (r->fired[kind] != 0 && now - r->fired[kind] < LOGIN_REFIRE)
		return;
	r->fired[kind] = now;
	pol_signal_key(p, FG_SUBJ_ACCOUNT, acct, len, sig_name[kind],
		       sig_w[kind], HUGE_VAL);
}

/* The login's node differs from the account's only by case. Accounts
 * are stored nodeprepped (lowercase), so any upper case letter in the
 * typed login that folds to the account name is the bot habit. */
static int
case_differs(const char *login, const char *jid)
{
	char typed[POL_KEY_MAX], acct[POL_KEY_MAX];

	if (det_node(login, typed, sizeof typed, 0) == -1 ||
	    det_node(jid, acct, sizeof acct, 1) == -1)
		return 0;
	return strcasecmp(typed, acct) == 0 && strcmp(typed, acct) != 0;
}

static void
login_event(void *arg, struct policy *p, const struct pol_event *e)
{
	struct login     *d = arg;
	struct login_rec *r;
	char              acct[POL_KEY_MAX];
	int64_t           now = clock_wall_ms();
	uint64_t          res;
	int               len, i, n, free_i = -1;

	if ((e->type != POL_EV_SESSION_START &&
	     e->type != POL_EV_SESSION_END) ||
	    e->jid == NULL ||
	    (len = pol_norm_jid(e->jid, acct, sizeof acct)) == -1 ||
	    strchr(acct, '@') == NULL)
		return;
	r = det_cache_get(d->recs, det_hash(LOGIN_TWEAK, acct, (size_t)len),
			  now, 1);
	res = det_hash(LOGIN_RES_TWEAK, e->jid, strlen(e->jid));
	if (res == 0)
		res = 1;
	if (e->type == POL_EV_SESSION_START) {
		if (e->login != NULL && case_differs(e->login, e->jid))
			fire(p, r, SIG_CASE, acct, (size_t)len, now);
		/* count what is open now; drop what we never saw end */
		for (i = n = 0; i < LOGIN_OPEN; i++) {
			if (r->open[i].res != 0 &&
			    (now - r->open[i].start > LOGIN_STALE ||
			     r->open[i].res == res))
				r->open[i].res = 0;
			if (r->open[i].res == 0) {
				if (free_i == -1)
					free_i = i;
			} else
				n++;
		}
		if (free_i != -1) {
			r->open[free_i].res = res;
			r->open[free_i].start = now;
			n++;
		}
		if (d->overlap > 1 && (uint32_t)n >= d->overlap)
			fire(p, r, SIG_OVERLAP, acct, (size_t)len, now);
		return;
	}
	for (i = 0; i < LOGIN_OPEN; i++)
		if (r->open[i].res == res)
			r->open[i].res = 0;
	if (e->duration_ms > d->short_ms || d->shorts == 0)
		return;
	r->shorts[r->shead] = now;
	r->shead = (uint8_t)((r->shead + 1) % LOGIN_SHORTS);
	for (i = n = 0; i < LOGIN_SHORTS; i++)
		if (r->shorts[i] != 0 && now - r->shorts[i] <= d->window_ms)
			n++;
	if ((uint32_t)n >= d->shorts ||
	    (d->shorts > LOGIN_SHORTS && n == LOGIN_SHORTS))
		fire(p, r, SIG_SHORT, acct, (size_t)len, now);
}
