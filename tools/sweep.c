/*
 * floodgate - sweep: per-account aggregation of logged sessions and
 * logins, and the rules that pick the bots.
 *
 * A session starts at "Opened c2s session" (ejabberd) or "Authenticated
 * as" (Prosody) and ends at the close line with the same session id.
 * Sessions still open after the last file, or when the server restarts,
 * count as sessions of unknown length: never short, but they do overlap.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "strtab.h"
#include "sweep.h"

#define SWEEP_LOGIN_MAX 64 /* bytes kept of a case-changed login */

struct acct {
	struct sweep_acct pub;
	uint32_t          open_now;
	int64_t           short_at[SWEEP_SHORT_MIN]; /* ring of end times */
	uint32_t          short_next;
	uint32_t          window_run; /* short ones in the current window */
	char              login[SWEEP_LOGIN_MAX];
	char              jid[]; /* key copy */
};

struct sess {
	struct acct *a;
	int64_t      start;
};

struct sweep {
	struct sweep_opts opts;
	struct strtab    *accts;
	struct strtab    *sessions;
	struct strtab    *fails;  /* failed logins on names not yet seen */
	struct acct     **sorted; /* after sweep_finish */
	size_t            nsorted;
	size_t            nsuspects;
	int               finished;
	int               saw_prosody;
};

static size_t       mk_key(char *, const char *, const char *);
static struct acct *acct_get(struct sweep *, const char *, const char *);
static void         acct_seen(struct acct *, int64_t);
static void         note_login(struct acct *, const char *);
static void         add_ip(struct acct *, const char *);
static void         sess_end(struct sweep *, struct sess *, int64_t, int);
static void         end_open(struct sweep *);
static void         acct_free(void *);
static int          cmp_acct(const void *, const void *);

struct sweep *
sweep_new(const struct sweep_opts *opts)
{
	struct sweep *s = xcalloc(1, sizeof(*s));

	if (opts != NULL)
		s->opts = *opts;
	if (s->opts.min_score <= 0)
		s->opts.min_score = SWEEP_SCORE_QUARANTINE;
	s->accts = strtab_new();
	s->sessions = strtab_new();
	s->fails = strtab_new();
	return s;
}

static void
acct_free(void *v)
{
	struct acct *a = v;
	uint32_t     i;

	for (i = 0; i < a->pub.nips; i++)
		free((char *)a->pub.ips[i]);
	free(a);
}

void
sweep_free(struct sweep *s)
{
	if (s == NULL)
		return;
	strtab_free(s->sessions, free);
	strtab_free(s->fails, NULL);
	strtab_free(s->accts, acct_free);
	free(s->sorted);
	free(s);
}

/* user@host lowercased (ASCII) as servers store it, into key of at
 * least 2 * LOGSCAN_FIELD_MAX bytes; returns its length. */
static size_t
mk_key(char *key, const char *user, const char *host)
{
	size_t n = 0, i;

	for (i = 0; user[i] != '\0'; i++)
		key[n++] = tolower((unsigned char)user[i]);
	if (*host != '\0') {
		key[n++] = '@';
		for (i = 0; host[i] != '\0'; i++)
			key[n++] = tolower((unsigned char)host[i]);
	}
	key[n] = '\0';
	return n;
}

/* The account for user@host; NULL when filtered out by host or when
 * there is no user. */
static struct acct *
acct_get(struct sweep *s, const char *user, const char *host)
{
	char         key[2 * LOGSCAN_FIELD_MAX];
	size_t       n;
	int          isnew;
	void       **slot;
	struct acct *a;

	if (*user == '\0')
		return NULL;
	if (s->opts.host != NULL && strcasecmp(s->opts.host, host) != 0)
		return NULL;
	n = mk_key(key, user, host);
	slot = strtab_put(s->accts, key, n, &isnew);
	if (!isnew)
		return *slot;
	a = xcalloc(1, sizeof(*a) + n + 1);
	memcpy(a->jid, key, n + 1);
	a->pub.jid = a->jid;
	a->pub.login_as = a->login;
	a->pub.dur_min = -1;
	*slot = a;
	return a;
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
	if (a->login[0] == '\0')
		snprintf(a->login, sizeof(a->login), "%s", typed);
}

static void
add_ip(struct acct *a, const char *ip)
{
	uint32_t i;

	if (*ip == '\0')
		return;
	for (i = 0; i < a->pub.nips; i++)
		if (strcmp(a->pub.ips[i], ip) == 0)
			return;
	if (a->pub.nips < SWEEP_IPS_MAX)
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
	size_t      pos = 0;
	const char *key;
	void       *v;

	if (strtab_count(s->sessions) == 0)
		return;
	while (strtab_next(s->sessions, &pos, &key, &v)) {
		sess_end(s, v, 0, 0);
		free(v);
	}
	strtab_free(s->sessions, NULL);
	s->sessions = strtab_new();
}

void
sweep_rec(const struct logscan_rec *r, void *arg)
{
	struct sweep *s = arg;
	struct acct  *a;
	struct sess  *ss;
	void        **slot;
	int           isnew;
	size_t        sidlen = strlen(r->sid);
	char          key[2 * LOGSCAN_FIELD_MAX];
	size_t        n;

	if (r->fmt == LOGSCAN_FMT_PROSODY)
		s->saw_prosody = 1;
	switch (r->type) {
	case LOGSCAN_AUTH_OK:
		if ((a = acct_get(s, r->user, r->host)) == NULL)
			return;
		acct_seen(a, r->t);
		a->pub.auth_ok++;
		note_login(a, r->user);
		add_ip(a, r->ip);
		break;
	case LOGSCAN_AUTH_FAIL:
		/* Only for names that turn out to be accounts (report does
		 * the rest). A wrong password often comes before the first
		 * login in the logs, so unknown names are counted aside. */
		if (*r->user == '\0')
			return;
		n = mk_key(key, r->user, r->host);
		if ((a = strtab_get(s->accts, key, n)) != NULL)
			a->pub.auth_fail++;
		else {
			slot = strtab_put(s->fails, key, n, &isnew);
			*slot = (void *)((uintptr_t)*slot + 1);
		}
		break;
	case LOGSCAN_REGISTER:
		if ((a = acct_get(s, r->user, r->host)) == NULL)
			return;
		acct_seen(a, r->t);
		if (a->pub.registered == 0)
			a->pub.registered = r->t;
		add_ip(a, r->ip);
		break;
	case LOGSCAN_SESSION_OPEN:
		if ((a = acct_get(s, r->user, r->host)) == NULL)
			return;
		acct_seen(a, r->t);
		if (r->fmt == LOGSCAN_FMT_EJABBERD && a->pub.auth_ok == 0)
			note_login(a, r->user); /* no auth line kept */
		a->pub.sessions++;
		if (a->open_now > 0)
			a->pub.overlaps++;
		if (++a->open_now > a->pub.max_concurrent)
			a->pub.max_concurrent = a->open_now;
		if (sidlen == 0)
			return;
		slot = strtab_put(s->sessions, r->sid, sidlen, &isnew);
		if (!isnew) { /* id reused without a close: length unknown */
			sess_end(s, *slot, r->t, 0);
			free(*slot);
		}
		ss = xmalloc(sizeof(*ss));
		ss->a = a;
		ss->start = r->t;
		*slot = ss;
		break;
	case LOGSCAN_SESSION_CLOSE:
		if ((ss = strtab_del(s->sessions, r->sid, sidlen)) == NULL)
			return; /* opened before the first file */
		acct_seen(ss->a, r->t);
		sess_end(s, ss, r->t, 1);
		free(ss);
		break;
	case LOGSCAN_SERVER_START:
		end_open(s);
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
		a->pub.score = 0;
		if (a->pub.case_logins > 0)
			a->pub.score += SWEEP_W_CASE;
		if (a->pub.short_in_window >= SWEEP_SHORT_MIN)
			a->pub.score += SWEEP_W_SHORT;
		if (a->pub.max_concurrent >= 2)
			a->pub.score += SWEEP_W_OVERLAP;
		if (s->opts.mode == SWEEP_SEED)
			a->pub.suspect =
			    a->pub.case_logins > 0 &&
			    a->pub.short_sessions >= SWEEP_SHORT_MIN;
		else
			a->pub.suspect = a->pub.score >= s->opts.min_score;
		s->nsuspects += a->pub.suspect;
		s->sorted[i++] = a;
	}
	s->nsorted = i;
	qsort(s->sorted, s->nsorted, sizeof(*s->sorted), cmp_acct);
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
sweep_evidence(const struct sweep_acct *a, char *buf, size_t sz)
{
	char first[32], last[32], login[LOG_ESC_MAX];

	sweep_fmt_time(first, sizeof(first), a->first);
	sweep_fmt_time(last, sizeof(last), a->last);
	log_esc(login, sizeof(login), a->login_as);
	snprintf(buf, sz,
		 "sweep: %u sessions, %u <= %ds (%u within %ds), up to %u at "
		 "once, %u logins with case-changed name%s%s%s, %u%s IPs, "
		 "seen %s .. %s UTC, score %.1f",
		 a->sessions, a->short_sessions, SWEEP_SHORT_S,
		 a->short_in_window, SWEEP_WINDOW_S, a->max_concurrent,
		 a->case_logins, a->login_as[0] != '\0' ? " (as \"" : "", login,
		 a->login_as[0] != '\0' ? "\")" : "", a->nips,
		 a->nips >= SWEEP_IPS_MAX ? "+" : "", first, last, a->score);
}

void
sweep_rule(const struct sweep *s, char *buf, size_t sz)
{
	if (s->opts.mode == SWEEP_SEED)
		snprintf(buf, sz,
			 "seed rule: >= %d sessions of <= %d s and a "
			 "login with a case-changed name",
			 SWEEP_SHORT_MIN, SWEEP_SHORT_S);
	else
		snprintf(buf, sz,
			 "scored: score >= %.1f (case-changed login "
			 "%.1f, >= %d sessions <= %d s within %d s %.1f, "
			 "overlapping sessions %.1f)",
			 s->opts.min_score, SWEEP_W_CASE, SWEEP_SHORT_MIN,
			 SWEEP_SHORT_S, SWEEP_WINDOW_S, SWEEP_W_SHORT,
			 SWEEP_W_OVERLAP);
}

int
sweep_saw_prosody(const struct sweep *s)
{
	return s->saw_prosody;
}
