/* SPDX-License-Identifier: ISC */
/*
 * floodgate - sweep: per-account aggregation of logged sessions and
 * logins, and the rules that pick the bots.
 *
 * A session starts at "Opened c2s session" (ejabberd) or "Authenticated
 * as" (Prosody) and ends at the close line with the same session id.
 * Sessions still open after the last file, or when the server restarts,
 * count as sessions of unknown length: never short, but they do overlap.
 *
 * The default replays the records, in the order read, through a
 * memory-only policy (config defaults, or the daemon's with --config)
 * with the fake clock at each record's time, as the bridge modules would
 * have sent them as meter events, sessions with the client's IP from
 * their auth line. Its tables are capped, so memory stays what the
 * case-login rule needs plus the policy's fixed tables.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../core/config.h"
#include "../core/jid.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "../policy/policy.h"
#include "idtab.h"
#include "strtab.h"
#include "sweep.h"
#include "sweep_int.h"

static void         replay(struct sweep *, const struct qrec *);
static struct acct *acct_get(struct sweep *, const struct qrec *);
static void         acct_seen(struct acct *, int64_t);
static void         note_login(struct acct *, const char *);
static void         add_ip(struct acct *, const char *);
static void         sess_end(struct sweep *, struct sess *, int64_t, int);
static void         end_open(struct sweep *);
static void         acct_free(void *);
static int          cmp_acct(const void *, const void *);
static void on_verdict(enum fg_subj, const char *, enum fg_verdict, int64_t,
		       const char *, void *);
static void on_wave(const char *, int64_t, void *);

struct sweep *
sweep_new(const struct sweep_opts *opts)
{
	struct sweep *s = xcalloc(1, sizeof(*s));

	s->replay = replay;

	if (opts != NULL)
		s->opts = *opts;
	s->accts = strtab_new();
	s->sessions = idtab_new();
	s->fails = strtab_new();
	if (s->opts.mode != SWEEP_DETECTORS) {
		config_free(s->opts.cfg);
		return s;
	}
	if ((s->cfg = s->opts.cfg) == NULL) {
		s->cfg = xcalloc(1, sizeof(*s->cfg));
		config_defaults(s->cfg);
	}
	s->opts.cfg = NULL;
	if (s->opts.min_score <= 0)
		s->opts.min_score = s->cfg->quarantine_at;
	s->pol = pol_new(s->cfg, NULL);
	pol_set_verdict_cb(s->pol, on_verdict, s);
	/* on_verdict reads no score text */
	pol_set_verdict_cb_terse(s->pol, 1);
	pol_set_wave_cb(s->pol, on_wave, s);
	s->hosts = strtab_new();
	return s;
}

static struct sess *
sess_new(struct sweep *s)
{
	struct sess *ss = s->sfree;

	if (ss == NULL)
		return xcalloc(1, sizeof(*ss));
	s->sfree = (struct sess *)ss->a;
	memset(ss, 0, sizeof(*ss));
	return ss;
}

static void
sess_put(struct sweep *s, struct sess *ss)
{
	ss->a = (struct acct *)s->sfree;
	s->sfree = ss;
}

static void
acct_free(void *v)
{
	struct acct *a = v;
	uint32_t     i;

	for (i = 0; i < a->pub.nips; i++)
		free((char *)a->pub.ips[i]);
	if (a->pkey != a->jid)
		free((char *)a->pkey);
	free(a->login);
	free(a->signals);
	free(a);
}

void
sweep_free(struct sweep *s)
{
	struct sess *ss;

	if (s == NULL)
		return;
	idtab_free(s->sessions, free);
	while ((ss = s->sfree) != NULL) {
		s->sfree = (struct sess *)ss->a;
		free(ss);
	}
	strtab_free(s->fails, NULL);
	strtab_free(s->accts, acct_free);
	free(s->sorted);
	if (s->pol != NULL) {
		pol_free(s->pol);
		config_free(s->cfg);
		strtab_free(s->hosts, free);
		free(s->hsorted);
		clock_fake_off();
	}
	free(s);
}

/* The account for the record's user@host; NULL when filtered out by
 * host or when there is no user. */
static struct acct *
acct_get(struct sweep *s, const struct qrec *q)
{
	const char  *key = q->key;
	size_t       n = q->keylen;
	int          isnew;
	void       **slot;
	struct acct *a;
	char         bare[JID_MAX + 1];

	if (n == 0)
		return NULL;
	if (s->opts.host != NULL && strcasecmp(s->opts.host, q->r.host) != 0)
		return NULL;
	if (q->acct != NULL) /* the pipeline found it */
		return s->last = q->acct;
	/* a session's line names the account its auth line just did */
	if (s->last != NULL && s->last->keyh == q->keyh &&
	    s->last->jidlen == n && memcmp(s->last->jid, key, n) == 0)
		return s->last;
	slot = strtab_put_h(s->accts, key, n, q->keyh, &isnew);
	if (!isnew)
		return s->last = *slot;
	a = xcalloc(1, sizeof(*a) + n + 1);
	memcpy(a->jid, key, n + 1);
	a->pub.jid = a->jid;
	a->pub.login_as = "";
	a->pub.signals = "";
	a->pub.dur_min = -1;
	a->jidlen = (uint32_t)n;
	a->keyh = q->keyh;
	if (s->pol != NULL) {
		a->lhash = pol_account_hash(a->jid);
		if (jid_bare(a->jid, bare, sizeof bare) == 0) {
			a->bare = strcmp(bare, a->jid) == 0;
			a->pkey = a->bare ? a->jid : xstrdup(bare);
			a->pkeylen = strlen(a->pkey);
			a->phash = pol_subject_hash(FG_SUBJ_ACCOUNT, a->pkey,
						    a->pkeylen);
		}
	}
	*slot = a;
	return s->last = a;
}

static void
acct_seen(struct acct *a, int64_t t)
{
	if (a->pub.first == 0 || t < a->pub.first)
		a->pub.first = t;
	if (t > a->pub.last)
		a->pub.last = t;
}

/* Remember a login whose name is not what the server stores. */
static void
note_login(struct acct *a, const char *typed)
{
	const char *p;

	for (p = typed; *p != '\0'; p++)
		if (isupper((unsigned char)*p))
			break;
	if (*p == '\0')
		return;
	a->pub.case_logins++;
	if (a->login == NULL) {
		a->login = xmalloc(SWEEP_LOGIN_MAX);
		snprintf(a->login, SWEEP_LOGIN_MAX, "%s", typed);
		a->pub.login_as = a->login;
	}
}

/* The IPs' hashes are compared first: the strings are elsewhere in
 * memory, and most accounts see the same one or two again and again. */
static void
add_ip(struct acct *a, const char *ip)
{
	uint32_t    i, h = 0x811c9dc5u;
	const char *c;

	if (*ip == '\0' || a->pub.nips >= SWEEP_IPS_MAX)
		return; /* full: nothing to add, nothing to compare */
	for (c = ip; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 0x01000193u;
	for (i = 0; i < a->pub.nips; i++)
		if (a->iph[i] == h && strcmp(a->pub.ips[i], ip) == 0)
			return;
	a->iph[a->pub.nips] = h;
	a->pub.ips[a->pub.nips++] = xstrdup(ip);
}

/* End a session at t; known = 0 when its close was never logged. */
static void
sess_end(struct sweep *s, struct sess *ss, int64_t t, int known)
{
	struct acct *a = ss->a;
	int64_t      d = t - ss->start;
	uint32_t     i, inwin;

	if (a->open_now > 0)
		a->open_now--;
	if (!known || d < 0)
		return;
	a->pub.closed++;
	a->pub.dur_total += d;
	if (a->pub.dur_min < 0 || d < a->pub.dur_min)
		a->pub.dur_min = d;
	if (d > a->pub.dur_max)
		a->pub.dur_max = d;
	if (d > SWEEP_SHORT_S)
		return;
	a->pub.short_sessions++;
	a->short_at[a->short_next++ % SWEEP_SHORT_MIN] = t;
	/* Short ones among the last SWEEP_SHORT_MIN inside the window. */
	for (i = 0, inwin = 0; i < SWEEP_SHORT_MIN && i < a->pub.short_sessions;
	     i++)
		if (t - a->short_at[i] <= SWEEP_WINDOW_S)
			inwin++;
	if (inwin > a->pub.short_in_window)
		a->pub.short_in_window = inwin;
}

/* Every open session ends with an unknown length: at the end of the
 * logs, or when the server (re)started without logging their close
 * (seen on a real ejabberd 23.01 at "ejabberdctl stop"). Its new c2s
 * processes get the same pids again, so the old ones must go. */
static void
end_open(struct sweep *s)
{
	size_t pos = 0;
	void  *v;

	if (idtab_count(s->sessions) == 0)
		return;
	while (idtab_next(s->sessions, &pos, &v)) {
		sess_end(s, v, 0, 0);
		sess_put(s, v);
	}
	idtab_free(s->sessions, NULL);
	s->sessions = idtab_new();
}

/* The fake clock at log time t (unix s). The policy's clocks must never
 * go back, so a record older than the last one (files given out of
 * order, a clock step) counts at the last one's time. */
static void
set_clock(struct sweep *s, int64_t t)
{
	if (s->t0 == 0)
		s->t0 = s->last_tick = t;
	if (t < s->now)
		t = s->now;
	s->now = t;
	clock_fake_set((uint64_t)(t - s->t0 + 1) * 1000000000ULL, t * 1000);
	/* the daemon ticks every second; a tick walks every listed subject
	 * (80% of the time at one a minute on a 42,000-account log). Here
	 * it only steps expired verdicts down and frees forgotten subjects
	 * (the tables evict when full anyway): sweep keeps each account's
	 * peak, so every six hours of log time is enough (hourly cost 8%
	 * of a replay of the 42,000-account bench log) */
	if (t - s->last_tick >= SWEEP_TICK_S) {
		pol_tick(s->pol);
		s->last_tick = t;
	}
}

static enum fg_verdict
level(const struct sweep *s, double sc)
{
	if (sc >= s->cfg->block_at)
		return FG_V_BLOCK;
	if (sc >= s->cfg->quarantine_at)
		return FG_V_QUARANTINE;
	if (sc >= s->cfg->throttle_at)
		return FG_V_THROTTLE;
	return FG_V_ALLOW;
}

/* After a session event: keep the account's highest score and the
 * evidence that made it. Account signals only come from session events
 * (the login detector), so this sees every peak. */
static void
note_score(struct sweep *s, struct acct *a)
{
	struct pol_evidence ev;
	uint64_t            n = pol_signals(s->pol);
	double              sc;

	/* a score only rises with a signal: look only when there was one;
	 * the text of the evidence is made at the end, for the last peak */
	if (n == s->signals)
		return;
	s->signals = n;
	if (a->pkey == NULL ||
	    (sc = pol_score_norm(s->pol, FG_SUBJ_ACCOUNT, a->pkey, a->pkeylen,
				 a->phash, &ev)) <= a->pub.score)
		return;
	a->pub.score = sc;
	a->pub.verdict = level(s, sc);
	a->pub.peak_at = s->now;
	a->ev = ev;
	a->has_ev = 1;
}

/* Verdict changes: a probation (registration wave) on an account, or an
 * IP or network the auth detector would throttle or block. */
static void
on_verdict(enum fg_subj type, const char *key, enum fg_verdict eff,
	   int64_t expires, const char *reason, void *arg)
{
	struct sweep   *s = arg;
	struct acct    *a;
	struct host    *h;
	struct pol_info pi;
	char            k[2 * LOGSCAN_FIELD_MAX + 16];
	void          **slot;
	int             n, isnew;
	size_t          tl, kl;

	(void)expires;
	if (type == FG_SUBJ_ACCOUNT) {
		if (reason != NULL && strcmp(reason, "reg-wave") == 0 &&
		    (a = strtab_get(s->accts, key, strlen(key))) != NULL &&
		    !a->pub.probation) {
			a->pub.probation = 1;
			s->nprobation++;
		}
		return;
	}
	if ((type != FG_SUBJ_IP && type != FG_SUBJ_PREFIX) ||
	    eff < FG_V_THROTTLE)
		return;
	/* "type:key" without snprintf: an attack changes verdicts often */
	tl = strlen(fg_subj_name(type));
	kl = strlen(key);
	if (tl + 1 + kl >= sizeof(k))
		return;
	memcpy(k, fg_subj_name(type), tl);
	k[tl] = ':';
	memcpy(k + tl + 1, key, kl + 1);
	n = (int)(tl + 1 + kl);
	if ((h = strtab_get(s->hosts, k, (size_t)n)) == NULL) {
		if (strtab_count(s->hosts) >= SWEEP_HOSTS_MAX) {
			s->hosts_dropped++;
			return;
		}
		slot = strtab_put(s->hosts, k, (size_t)n, &isnew);
		h = xcalloc(1, sizeof(*h) + (size_t)n + 1);
		memcpy(h->key, k, (size_t)n + 1);
		h->pub.type = type;
		h->pub.key = h->key + strlen(fg_subj_name(type)) + 1;
		h->pub.signals = h->signals;
		*slot = h;
	} else if (eff <= h->pub.verdict)
		return;
	h->pub.verdict = eff;
	h->pub.at = s->now;
	if (pol_inspect(s->pol, type, h->pub.key, &pi) == 0) {
		h->pub.score = pi.score;
		snprintf(h->signals, sizeof(h->signals), "%s", pi.signals);
	}
}

/* A registration wave: kept for the report, not logged (a replay of a
 * big log finds hundreds of networks). */
static void
on_wave(const char *where, int64_t start_ms, void *arg)
{
	struct sweep      *s = arg;
	struct sweep_wave *w;

	if (strcmp(where, "global") == 0)
		s->nglobal++;
	if (s->nwaves++ >= SWEEP_WAVES_MAX)
		return;
	w = &s->waves[s->nwaves - 1];
	w->start = start_ms / 1000;
	snprintf(w->where, sizeof(w->where), "%s", where);
}

size_t
sweep_waves(const struct sweep *s, const struct sweep_wave **list,
	    size_t *listed, size_t *global)
{
	*list = s->waves;
	*listed = s->nwaves < SWEEP_WAVES_MAX ? s->nwaves : SWEEP_WAVES_MAX;
	*global = s->nglobal;
	return s->nwaves;
}

/* A record as the bridge module would have sent it: auth and
 * registration events for every domain (the auth and wave detectors
 * count across accounts); sessions go through pol_session. */
static void
pol_record(struct sweep *s, const struct logscan_rec *r)
{
	struct pol_event e;
	char             jid[2 * LOGSCAN_FIELD_MAX];

	memset(&e, 0, POL_EVENT_HEAD); /* 108 of 512 bytes */
	e.user_exists = -1;            /* no log line says */
	e.ip = *r->ip != '\0' ? r->ip : NULL;
	switch (r->type) {
	case LOGSCAN_AUTH_OK:
		/* a good login only matters to the spamtrap check (the
		 * sessions carry the rest): a third of the records saved */
		if (s->cfg->spamtrap_file == NULL)
			return;
		/* FALLTHROUGH */
	case LOGSCAN_AUTH_FAIL:
		e.type = r->type == LOGSCAN_AUTH_OK ? POL_EV_AUTH_OK
						    : POL_EV_AUTH_FAIL;
		e.login = *r->user != '\0' ? r->user : NULL;
		break;
	case LOGSCAN_REGISTER:
		if (*r->user == '\0')
			return;
		sweep_mk_key(jid, r->user, r->user_len, r->host, r->host_len);
		e.type = POL_EV_REGISTERED;
		e.jid = jid;
		break;
	default:
		return;
	}
	set_clock(s, r->t);
	pol_event(s->pol, &e);
}

/* session-start (login as typed) or session-end (duration) for the
 * full JID account/session-id, with the client's IP when a log line
 * gave it, at log time t. */
static void
pol_session(struct sweep *s, struct acct *a, const char *sid, uint64_t sidh,
	    const char *login, const char *ip, int64_t t, int64_t dur)
{
	struct pol_event e;
	char             full[2 * LOGSCAN_FIELD_MAX + LOGSCAN_FIELD_MAX + 1];
	size_t           n = a->jidlen, m;
	const char      *c;
	int              plain = a->bare;

	/* "%s/%s" without printf: this runs for every session line */
	if (*sid == '\0')
		sid = "sweep";
	for (c = sid; *c != '\0'; c++) /* what jid_split would refuse */
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			plain = 0;
	m = (size_t)(c - sid);
	memcpy(full, a->jid, n);
	full[n] = '/';
	memcpy(full + n + 1, sid, m + 1);
	memset(&e, 0, POL_EVENT_HEAD); /* 108 of 512 bytes */
	e.user_exists = -1;
	e.jid = full;
	e.acct_hash = a->lhash;
	e.sess_hash = (uint32_t)sidh; /* no second hash of the full JID */
	/* the detectors need not fold the JID again when it is the bare
	 * part of a valid full JID */
	if (plain && m <= JID_PART_MAX && n + 1 + m <= JID_MAX) {
		e.acct = a->jid;
		e.acct_len = n;
	}
	e.ip = ip != NULL && *ip != '\0' ? ip : NULL;
	if (dur < 0) {
		e.type = POL_EV_SESSION_START;
		e.login = login != NULL && *login != '\0' ? login : NULL;
	} else {
		e.type = POL_EV_SESSION_END;
		e.duration_ms = dur * 1000;
	}
	set_clock(s, t);
	pol_event(s->pol, &e);
	note_score(s, a);
}

/* The waiting Prosody session-start, replayed without an IP: the line
 * after "Authenticated as" was not its mod_log_auth line. */
static void
pend_flush(struct sweep *s)
{
	struct sess *ss = s->pend;

	if (ss == NULL)
		return;
	s->pend = NULL;
	ss->pending = 0;
	pol_session(s, ss->a, s->pend_sid, ss->sidh, s->pend_user, NULL,
		    s->pend_t, -1);
}

/* An auth line's IP for the session it opens. ejabberd logs the auth
 * before the session: kept in a small ring until the session's line.
 * Prosody logs "Authenticated as" first, so its session-start waits for
 * the IP (mod_log_auth) on the next line. */
static void
auth_ip(struct sweep *s, const struct logscan_rec *r, const struct qrec *q)
{
	struct sess   *ss;
	struct authip *ai;
	size_t         n;

	if (q->sidlen == 0 || *r->ip == '\0')
		return;
	if (r->fmt == LOGSCAN_FMT_PROSODY) {
		if ((ss = s->pend) != NULL &&
		    strcmp(s->pend_sid, r->sid) == 0) {
			snprintf(ss->ip, sizeof(ss->ip), "%s", r->ip);
			ss->pending = 0;
			s->pend = NULL;
			pol_session(s, ss->a, r->sid, ss->sidh, r->user, ss->ip,
				    s->pend_t, -1);
		}
		return;
	}
	ai = &s->auths[s->auth_head];
	s->auth_head = (s->auth_head + 1) % SWEEP_AUTH_RING;
	/* the id itself, not a hash: most auth lines need none */
	ai->sidlen = q->sidlen;
	memcpy(ai->sid, r->sid, q->sidlen);
	n = r->ip_len; /* no snprintf: one per login */
	if (n >= sizeof(ai->ip))
		n = sizeof(ai->ip) - 1;
	memcpy(ai->ip, r->ip, n);
	ai->ip[n] = '\0';
}

/* A session opened: replay its start now when its IP is known or no
 * auth line will follow. */
static void
sess_open(struct sweep *s, struct sess *ss, const struct logscan_rec *r,
	  const struct qrec *q)
{
	struct authip *ai;
	size_t         i;

	if (r->fmt == LOGSCAN_FMT_PROSODY && q->sidlen > 0) {
		pend_flush(s);
		ss->pending = 1;
		s->pend = ss;
		s->pend_t = r->t;
		snprintf(s->pend_sid, sizeof(s->pend_sid), "%s", r->sid);
		snprintf(s->pend_user, sizeof(s->pend_user), "%s", r->user);
		return;
	}
	for (i = 0; q->sidlen > 0 && i < SWEEP_AUTH_RING; i++) {
		ai = &s->auths[(s->auth_head + SWEEP_AUTH_RING - 1 - i) %
			       SWEEP_AUTH_RING]; /* newest first */
		if (ai->sidlen == q->sidlen &&
		    memcmp(ai->sid, r->sid, q->sidlen) == 0) {
			memcpy(ss->ip, ai->ip, sizeof(ss->ip));
			ai->sidlen = 0;
			break;
		}
	}
	pol_session(s, ss->a, r->sid, ss->sidh, r->user, ss->ip, r->t, -1);
}

/* Replay one record (the last stage of the pipeline). */
static void
replay(struct sweep *s, const struct qrec *q)
{
	const struct logscan_rec *r = &q->r;
	struct acct              *a;
	struct sess              *ss;
	void                    **slot;
	int                       isnew;
	size_t                    sidlen = q->sidlen;

	if (r->fmt == LOGSCAN_FMT_PROSODY)
		s->saw_prosody = 1;
	if (s->pend != NULL &&
	    (r->type != LOGSCAN_AUTH_OK || strcmp(r->sid, s->pend_sid) != 0))
		pend_flush(s);
	if (s->pol != NULL)
		pol_record(s, r);
	switch (r->type) {
	case LOGSCAN_AUTH_OK:
		if ((a = acct_get(s, q)) == NULL)
			return;
		acct_seen(a, r->t);
		a->pub.auth_ok++;
		note_login(a, r->user);
		add_ip(a, r->ip);
		if (s->pol != NULL)
			auth_ip(s, r, q);
		break;
	case LOGSCAN_AUTH_FAIL:
		/* Only for names that turn out to be accounts (report does
		 * the rest). A wrong password often comes before the first
		 * login in the logs, so unknown names are counted aside. */
		if (q->keylen == 0)
			return;
		if ((a = strtab_get_h(s->accts, q->key, q->keylen, q->keyh)) !=
		    NULL)
			a->pub.auth_fail++;
		else {
			slot = strtab_put_h(s->fails, q->key, q->keylen,
					    q->keyh, &isnew);
			*slot = (void *)((uintptr_t)*slot + 1);
		}
		break;
	case LOGSCAN_REGISTER:
		if ((a = acct_get(s, q)) == NULL)
			return;
		acct_seen(a, r->t);
		if (a->pub.registered == 0)
			a->pub.registered = r->t;
		add_ip(a, r->ip);
		break;
	case LOGSCAN_SESSION_OPEN:
		if ((a = acct_get(s, q)) == NULL)
			return;
		acct_seen(a, r->t);
		if (r->fmt == LOGSCAN_FMT_EJABBERD && a->pub.auth_ok == 0)
			note_login(a, r->user); /* no auth line kept */
		a->pub.sessions++;
		if (a->open_now > 0)
			a->pub.overlaps++;
		if (++a->open_now > a->pub.max_concurrent)
			a->pub.max_concurrent = a->open_now;
		ss = sess_new(s);
		ss->a = a;
		ss->lhash = a->lhash;
		ss->phash = a->phash;
		ss->sidh = q->sidh;
		ss->start = r->t;
		if (s->pol != NULL)
			sess_open(s, ss, r, q);
		if (sidlen == 0) {
			sess_put(s, ss);
			return;
		}
		slot = idtab_put_h(s->sessions, q->sidh, &isnew);
		if (!isnew) { /* id reused without a close: length unknown */
			sess_end(s, *slot, r->t, 0);
			sess_put(s, *slot);
		}
		*slot = ss;
		break;
	case LOGSCAN_SESSION_CLOSE:
		if (sidlen == 0 ||
		    (ss = idtab_del_h(s->sessions, q->sidh)) == NULL)
			return; /* opened before the first file */
		acct_seen(ss->a, r->t);
		sess_end(s, ss, r->t, 1);
		if (s->pol != NULL && ss->pending)
			pol_session(s, ss->a, r->sid, ss->sidh, NULL, NULL,
				    ss->start, -1);
		if (s->pol != NULL && r->t >= ss->start)
			pol_session(s, ss->a, r->sid, ss->sidh, NULL, ss->ip,
				    r->t, r->t - ss->start);
		sess_put(s, ss);
		break;
	case LOGSCAN_SERVER_START:
		end_open(s);
		memset(s->auths, 0, sizeof(s->auths));
		break;
	case LOGSCAN_CONNECT:
		break;
	}
}

/* Suspects first, by score, then by name. */
static int
cmp_acct(const void *x, const void *y)
{
	const struct acct *a = *(struct acct *const *)x;
	const struct acct *b = *(struct acct *const *)y;

	if (a->pub.suspect != b->pub.suspect)
		return b->pub.suspect - a->pub.suspect;
	if (a->pub.score != b->pub.score)
		return a->pub.score < b->pub.score ? 1 : -1;
	return strcmp(a->jid, b->jid);
}

/* Highest verdict first, then score, then IPs before networks. */
static int
cmp_host(const void *x, const void *y)
{
	const struct host *a = *(struct host *const *)x;
	const struct host *b = *(struct host *const *)y;

	if (a->pub.verdict != b->pub.verdict)
		return (int)b->pub.verdict - (int)a->pub.verdict;
	if (a->pub.score != b->pub.score)
		return a->pub.score < b->pub.score ? 1 : -1;
	return strcmp(a->key, b->key);
}

void
sweep_finish(struct sweep *s)
{
	size_t       pos = 0, i = 0;
	const char  *key;
	void        *v;
	struct acct *a;

	if (s->finished)
		return;
	s->finished = 1;
	sweep_drain(s);
	pend_flush(s);
	end_open(s);
	pos = 0;
	while (strtab_next(s->fails, &pos, &key, &v))
		if ((a = strtab_get(s->accts, key, strlen(key))) != NULL)
			a->pub.auth_fail += (uint32_t)(uintptr_t)v;
	s->sorted =
	    xreallocarray(NULL, strtab_count(s->accts) + 1, sizeof(*s->sorted));
	pos = 0;
	while (strtab_next(s->accts, &pos, &key, &v)) {
		a = v;
		if (a->has_ev) { /* cut as the whole text would be */
			a->signals = xmalloc(SWEEP_SIG_MAX);
			a->pub.signals = pol_evidence_text(
			    s->pol, &a->ev, a->signals, SWEEP_SIG_MAX);
		}
		if (s->opts.mode == SWEEP_CASE_LOGIN)
			a->pub.suspect =
			    a->pub.case_logins > 0 &&
			    a->pub.short_sessions >= SWEEP_SHORT_MIN;
		else /* a probation alone is no evidence: see sweep_rule */
			a->pub.suspect = a->pub.score >= s->opts.min_score;
		s->nsuspects += a->pub.suspect;
		s->sorted[i++] = a;
	}
	s->nsorted = i;
	qsort(s->sorted, s->nsorted, sizeof(*s->sorted), cmp_acct);
	if (s->pol == NULL)
		return;
	s->hsorted = xreallocarray(NULL, strtab_count(s->hosts) + 1,
				   sizeof(*s->hsorted));
	pos = i = 0;
	while (strtab_next(s->hosts, &pos, &key, &v))
		s->hsorted[i++] = v;
	s->nhsorted = i;
	qsort(s->hsorted, s->nhsorted, sizeof(*s->hsorted), cmp_host);
}

size_t
sweep_hosts(const struct sweep *s, size_t *dropped)
{
	if (dropped != NULL)
		*dropped = s->hosts_dropped;
	return s->nhsorted;
}

void
sweep_walk_hosts(struct sweep *s, void (*cb)(const struct sweep_host *, void *),
		 void         *arg)
{
	size_t i;

	sweep_finish(s);
	for (i = 0; i < s->nhsorted; i++)
		cb(&s->hsorted[i]->pub, arg);
}

size_t
sweep_probation(const struct sweep *s)
{
	return s->nprobation;
}

size_t
sweep_accounts(const struct sweep *s)
{
	return strtab_count(s->accts);
}

size_t
sweep_suspects(const struct sweep *s)
{
	return s->nsuspects;
}

int
sweep_walk(struct sweep *s, int                                all,
	   int (*cb)(const struct sweep_acct *, void *), void *arg)
{
	size_t i;

	sweep_finish(s);
	for (i = 0; i < s->nsorted; i++) {
		if (!all && !s->sorted[i]->pub.suspect)
			break;
		if (cb(&s->sorted[i]->pub, arg) == -1)
			return -1;
	}
	return 0;
}

const struct sweep_acct *
sweep_get(const struct sweep *s, const char *jid)
{
	struct acct *a = strtab_get(s->accts, jid, strlen(jid));

	return a != NULL ? &a->pub : NULL;
}

void
sweep_rule(const struct sweep *s, char *buf, size_t sz)
{
	if (s->opts.mode == SWEEP_CASE_LOGIN)
		snprintf(buf, sz,
			 "rule case-login: >= %d sessions of <= %d s and a "
			 "login with a case-changed name",
			 SWEEP_SHORT_MIN, SWEEP_SHORT_S);
	else
		snprintf(buf, sz,
			 "the daemon's detectors on the replayed log; "
			 "suspect when the account's score reached %.1f "
			 "(quarantine at %.1f: any two of spread, "
			 "round-the-clock, shared-address, or one with "
			 "short-sessions + overlap)",
			 s->opts.min_score, s->cfg->quarantine_at);
}

int
sweep_scored(const struct sweep *s)
{
	return s->pol != NULL;
}

int
sweep_saw_prosody(const struct sweep *s)
{
	return s->saw_prosody;
}
