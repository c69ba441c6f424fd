/* SPDX-License-Identifier: ISC */
/*
 * floodgate - bot login detector: how an account's sessions look. A
 * login typed in another case than the account's name ("Abaca" for
 * abaca: one bot kit's habit, and phone keyboards'), several sessions
 * open at once, and bursts of short sessions. Each is one held signal
 * (det_hold) on the account: login-case, overlap, short-sessions. People
 * show each of them (a capitalising keyboard, three devices, a flapping
 * mobile link), so all three together stay under quarantine;
 * detect_conn.c adds the habits people do not show.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../core/xmalloc.h"
#include "detect.h"
#include "detect_conn.h"

enum {
	SIG_CASE,
	SIG_SHORT,
	SIG_OVERLAP,
	SIG_SPREAD,
	SIG_CLOCK,
	SIG_SHARED,
	SIG__N
};

static const char *const sig_name[] = {"login-case",      "short-sessions",
				       "overlap",         "spread",
				       "round-the-clock", "shared-address"};
static const double      sig_w[] = {DET_W_LOGIN_CASE, DET_W_SHORT_SESSIONS,
				    DET_W_OVERLAP,    DET_W_SPREAD,
				    DET_W_CLOCK,      DET_W_SHARED};

#define LOGIN_CAP_DIV 8    /* records = max_keys / this ... */
#define LOGIN_CAP_MIN 4096 /* ... but at least this many */
#define LOGIN_SHORTS 8     /* short-session end times kept per account */
#define LOGIN_OPEN 8       /* open sessions tracked per account */
#define LOGIN_TWEAK 0x6c6f67696e000001ULL /* hash domain: accounts */

struct login_open {
	uint32_t res;   /* hash of the full JID; 0 = free */
	uint32_t start; /* unix s */
};

/* One account; small (about 260 bytes) so that a day's active accounts
 * of a big server fit: an evicted record forgets what its held signals
 * gave, and could give it again. */
struct login_rec {
	struct det_ent    h;
	struct det_held   held[SIG__N];
	uint32_t          shorts[LOGIN_SHORTS]; /* ring of end times, s */
	uint8_t           shead;
	uint8_t           known; /* 0: just made (new, or evicted before) */
	struct login_open open[LOGIN_OPEN];
	struct conn_state conn;
};

struct login {
	struct det_cache *recs;
	struct conn      *conn;
	int64_t           short_ms; /* a session up to this long is short */
	uint32_t          shorts;   /* short sessions in the window = hit */
	uint32_t          window_s; /* window for short sessions */
	uint32_t          stale_s;  /* an open session older is gone: the
				     * habit window's hour */
	uint32_t overlap;           /* concurrent sessions = hit */
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
	d->conn = conn_new(cfg);
	login_reconfigure(d, cfg);
	return d;
}

static void
login_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct login *d = arg;

	d->short_ms = cfg->short_session_ms;
	d->shorts = cfg->short_sessions;
	d->window_s = (cfg->short_window_ms + 999) / 1000;
	d->stale_s = cfg->habit_window_ms / 24000;
	d->overlap = cfg->overlap;
	conn_reconfigure(d->conn, cfg);
}

static void
login_free(void *arg)
{
	struct login *d = arg;

	if (d == NULL)
		return;
	det_cache_free(d->recs);
	conn_free(d->conn);
	free(d);
}

static void
fire(struct policy *p, struct login_rec *r, int kind, const char *acct,
     size_t len, int64_t now)
{
	det_hold(p, &r->held[kind], acct, len, sig_name[kind], sig_w[kind],
		 now);
}

/* The login's node differs from the account's only by case. Accounts
 * are stored nodeprepped (lowercase), so any upper case letter in the
 * typed login that folds to the account name is the bot habit. */
static int
case_differs(const char *login, const char *jid)
{
	char        typed[POL_KEY_MAX], acct[POL_KEY_MAX];
	const char *c;

	/* without an upper case letter the login is its own folding: it
	 * can only equal the account exactly (every session comes here) */
	for (c = login; *c != '\0' && *c != '@' && *c != '/'; c++)
		if (*c >= 'A' && *c <= 'Z')
			break;
	if (*c < 'A' || *c > 'Z')
		return 0;
	if (det_node(login, typed, sizeof typed, 0) == -1 ||
	    det_node(jid, acct, sizeof acct, 1) == -1)
		return 0;
	return strcasecmp(typed, acct) == 0 && strcmp(typed, acct) != 0;
}

/* session-start: the login's case, what is open at once, the network */
static void
session_start(struct login *d, struct policy *p, struct login_rec *r,
	      const struct pol_event *e, const char *acct, size_t len,
	      uint32_t res, int64_t now)
{
	uint32_t t = (uint32_t)(now / 1000);
	int      i, n, free_i = -1;

	if (e->login != NULL && case_differs(e->login, e->jid))
		fire(p, r, SIG_CASE, acct, len, now);
	/* count what is open now; drop what we never saw end */
	for (i = n = 0; i < LOGIN_OPEN; i++) {
		if (r->open[i].res != 0 && (t - r->open[i].start > d->stale_s ||
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
		r->open[free_i].start = t;
		n++;
	}
	if (d->overlap > 1 && (uint32_t)n >= d->overlap)
		fire(p, r, SIG_OVERLAP, acct, len, now);
	if (conn_spread(d->conn, &r->conn, e->ip, now))
		fire(p, r, SIG_SPREAD, acct, len, now);
}

/* session-end: short ones in a burst, around the clock, on a farm */
static void
session_end(struct login *d, struct policy *p, struct login_rec *r,
	    const struct pol_event *e, const char *acct, size_t len,
	    uint32_t res, int64_t now)
{
	uint32_t t = (uint32_t)(now / 1000);
	int      i, n;

	for (i = 0; i < LOGIN_OPEN; i++)
		if (r->open[i].res == res)
			r->open[i].res = 0;
	if (e->duration_ms > d->short_ms)
		return;
	if (d->shorts > 0) {
		r->shorts[r->shead] = t;
		r->shead = (uint8_t)((r->shead + 1) % LOGIN_SHORTS);
		for (i = n = 0; i < LOGIN_SHORTS; i++)
			if (r->shorts[i] != 0 &&
			    t - r->shorts[i] <= d->window_s)
				n++;
		if ((uint32_t)n >= d->shorts ||
		    (d->shorts > LOGIN_SHORTS && n == LOGIN_SHORTS))
			fire(p, r, SIG_SHORT, acct, len, now);
	}
	if (conn_clock(d->conn, &r->conn, now))
		fire(p, r, SIG_CLOCK, acct, len, now);
	if (conn_shared(d->conn, r->h.key, e->ip, now))
		fire(p, r, SIG_SHARED, acct, len, now);
}

/* A record just made: a new account, or one whose record was evicted
 * and which may still carry what its signals gave. Held signals must
 * not give that again: each counts as holding what the score still
 * has (at most its weight). A new account has no score: nothing held. */
static void
first_seen(struct policy *p, struct login_rec *r, const char *acct, int64_t now)
{
	double sc = pol_score(p, FG_SUBJ_ACCOUNT, acct);
	int    k;

	if (sc <= 0)
		return;
	for (k = 0; k < SIG__N; k++) {
		r->held[k].left = (float)(sc < sig_w[k] ? sc : sig_w[k]);
		r->held[k].at = (uint32_t)(now / 1000);
	}
}

/* The session's own key among the account's open ones: FNV-1a of the
 * full JID. Not keyed: a collision only merges two sessions of one
 * account, which its owner could do anyway by not overlapping. */
static uint32_t
res_hash(const char *jid)
{
	uint32_t h = 2166136261u;

	for (; *jid != '\0'; jid++)
		h = (h ^ (unsigned char)*jid) * 16777619u;
	return h != 0 ? h : 1;
}

uint64_t
det_login_hash(const char *acct, size_t len)
{
	return det_hash(LOGIN_TWEAK, acct, len);
}

void
det_login_prefetch(void *arg, uint64_t h, int deep)
{
	struct login *d = arg;

	if (d != NULL)
		det_cache_prefetch(d->recs, h, deep);
}

static void
login_event(void *arg, struct policy *p, const struct pol_event *e)
{
	struct login     *d = arg;
	struct login_rec *r;
	char              buf[POL_KEY_MAX];
	const char       *acct = e->acct;
	int64_t           now = clock_wall_ms();
	uint32_t          res;
	int               len = (int)e->acct_len;

	if ((e->type != POL_EV_SESSION_START &&
	     e->type != POL_EV_SESSION_END) ||
	    e->jid == NULL)
		return;
	if (acct == NULL) {
		if ((len = pol_norm_jid(e->jid, buf, sizeof buf)) == -1)
			return;
		acct = buf;
	}
	if (memchr(acct, '@', (size_t)len) == NULL)
		return;
	r = det_cache_get(d->recs,
			  e->acct_hash != 0 ? e->acct_hash
					    : det_login_hash(acct, (size_t)len),
			  now, 1);
	/* only a table that ever evicted can hand out a record again */
	if (!r->known && det_cache_evictions(d->recs) > 0)
		first_seen(p, r, acct, now);
	r->known = 1;
	res = e->sess_hash != 0 ? e->sess_hash : res_hash(e->jid);
	if (e->type == POL_EV_SESSION_START)
		session_start(d, p, r, e, acct, (size_t)len, res, now);
	else
		session_end(d, p, r, e, acct, (size_t)len, res, now);
}
