/* SPDX-License-Identifier: ISC */
/*
 * floodgate - password guessing and spamtraps.
 *
 * Failures are counted per IP, per network, per user name and, for user
 * names that do not exist, globally, each in fixed one-hour windows. The
 * slow distributed guesser ("Hail Mary cloud": hundreds of hosts, a few
 * attempts each, in hourly bursts) never trips a per-IP count; it trips
 * the per-user-name or the global unknown-name count, and from then on
 * (for the rest of that hour and the next) every address that fails on
 * that name, or on any unknown name, is signalled (auth-user,
 * auth-unknown) hard enough that a few attempts block it; blocked IPs are
 * published on spam_source_ips by the pubsub side. The addresses that
 * failed before the count tripped are remembered per name and signalled
 * too. A network over its count only gets auth-prefix, which the policy
 * caps at throttle. The account named is the victim and is never scored.
 *
 * Spamtraps: user names (a file, one a line) that never exist; any login
 * or registration attempt with one blocks the source IP at once.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "detect.h"

#define AUTH_CAP 16384       /* IPs / networks tracked, each */
#define AUTH_NAMES_CAP 4096  /* user names tracked */
#define AUTH_WINDOW 3600000  /* counting window, ms (1 h) */
#define AUTH_ALERT 7200000   /* an attacked name stays so, ms (2 h) */
#define AUTH_IPS 16          /* early failing IPs remembered per name */
#define AUTH_TRAPS_MAX 65536 /* spamtrap names loaded at most */
#define AUTH_NAME_TWEAK 0x6175746800000001ULL
#define AUTH_IP_TWEAK 0x6175746800000002ULL
#define AUTH_PFX_TWEAK 0x6175746800000003ULL

struct auth_name {
	struct det_ent h;
	int64_t        win_start;
	uint32_t       n;
	uint8_t        nips;
	int64_t        alert_until; /* unix ms; failures on it now score */
	char           ip[AUTH_IPS][POL_IP_MAX];
};

struct auth_cnt {
	struct det_ent h;
	int64_t        win_start;
	uint32_t       n;
	int64_t        fired; /* window start of the last signal */
};

struct auth {
	struct det_cache *names;
	struct det_cache *ips;
	struct det_cache *pfxs;
	int64_t           g_start; /* global unknown-name window */
	uint32_t          g_n;
	int64_t           g_alert_until;
	uint32_t          user_fails, global_unknown, ip_fails, pfx_fails;
	double            w_trap;
	char            **traps; /* sorted, lowercase */
	size_t            ntraps;
};

static const char txt_trap[] =
    "This address is blocked by the server's anti-spam policy";

static void *auth_init(struct policy *, const struct fg_config *);
static void  auth_reconfigure(void *, const struct fg_config *);
static void  auth_free(void *);
static void  auth_gate(void *, struct policy *, const struct pol_gate *,
		       struct pol_answer *);
static void  auth_event(void *, struct policy *, const struct pol_event *);

/* Not in the detector table: the context spamtrap hits run in, with
 * their own enforce switch ([detect.spamtraps]) and reason (trap). */
static const struct pol_detector det_spamtraps = {
    .name = "spamtraps",
    .det = FG_DET_SPAMTRAPS,
    .cause = FG_CAUSE_TRAP,
};

const struct pol_detector det_auth = {
    .name = "auth",
    .det = FG_DET_AUTH,
    .cause = -1,
    .init = auth_init,
    .reconfigure = auth_reconfigure,
    .free = auth_free,
    .gate = auth_gate,
    .event = auth_event,
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
traps_clear(struct auth *d)
{
	size_t i;

	for (i = 0; i < d->ntraps; i++)
		free(d->traps[i]);
	free(d->traps);
	d->traps = NULL;
	d->ntraps = 0;
}

/* Load the spamtrap names: one a line, '#' comments, node part only,
 * case folded. A missing file keeps none and says so. */
static void
traps_load(struct auth *d, const char *path)
{
	FILE  *fp;
	char   line[1100], node[POL_KEY_MAX];
	size_t n;
	char  *s;

	traps_clear(d);
	if (path == NULL)
		return;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("spamtraps: %s", path);
		return;
	}
	while (fgets(line, sizeof line, fp) != NULL &&
	       d->ntraps < AUTH_TRAPS_MAX) {
		line[strcspn(line, "#\r\n")] = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			;
		n = strcspn(s, " \t");
		s[n] = '\0';
		if (n == 0 || det_node(s, node, sizeof node, 1) == -1)
			continue;
		d->traps =
		    xreallocarray(d->traps, d->ntraps + 1, sizeof *d->traps);
		d->traps[d->ntraps++] = xstrdup(node);
	}
	fclose(fp);
	qsort(d->traps, d->ntraps, sizeof *d->traps, cmp_str);
	log_info("spamtraps: %zu names from %s", d->ntraps, path);
}

static int
is_trap(const struct auth *d, const char *login)
{
	char  node[POL_KEY_MAX];
	char *k = node;

	if (d->ntraps == 0 || login == NULL ||
	    det_node(login, node, sizeof node, 1) == -1)
		return 0;
	return bsearch(&k, d->traps, d->ntraps, sizeof *d->traps, cmp_str) !=
	       NULL;
}

static void *
auth_init(struct policy *p, const struct fg_config *cfg)
{
	struct auth *d = xcalloc(1, sizeof *d);

	(void)p;
	d->names = det_cache_new(AUTH_NAMES_CAP, sizeof(struct auth_name));
	d->ips = det_cache_new(AUTH_CAP, sizeof(struct auth_cnt));
	d->pfxs = det_cache_new(AUTH_CAP, sizeof(struct auth_cnt));
	auth_reconfigure(d, cfg);
	return d;
}

static void
auth_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct auth *d = arg;

	d->user_fails = cfg->auth_user_fails;
	d->global_unknown = cfg->auth_global_unknown;
	d->ip_fails = cfg->auth_ip_fails;
	d->pfx_fails = cfg->auth_prefix_fails;
	d->w_trap = cfg->w_spamtrap;
	traps_load(d, cfg->spamtrap_file);
}

static void
auth_free(void *arg)
{
	struct auth *d = arg;

	if (d == NULL)
		return;
	det_cache_free(d->names);
	det_cache_free(d->ips);
	det_cache_free(d->pfxs);
	traps_clear(d);
	free(d);
}

static void
signal_ip(struct policy *p, const char *ip, const char *sig, double w)
{
	pol_signal_key(p, FG_SUBJ_IP, ip, strlen(ip), sig, w, HUGE_VAL);
}

/* Count one failure of key in cache; signal once per window past max. */
static void
count(struct det_cache *c, uint64_t tweak, enum fg_subj type, const char *key,
      uint32_t max, const char *sig, double w, struct policy *p, int64_t now)
{
	struct auth_cnt *r;

	if (max == 0)
		return;
	r = det_cache_get(c, det_hash(tweak, key, strlen(key)), now, 1);
	if (det_window_add(&r->win_start, &r->n, now, AUTH_WINDOW) >= max &&
	    r->fired != r->win_start) {
		r->fired = r->win_start;
		pol_signal_key(p, type, key, strlen(key), sig, w, HUGE_VAL);
	}
}

static void
auth_fail(struct auth *d, struct policy *p, const struct pol_event *e,
	  const char *ip, const char *pfx, int64_t now)
{
	struct auth_name *r;
	char              node[POL_KEY_MAX];
	int               len, unknown = e->user_exists == 0, i;

	if (ip != NULL) {
		count(d->ips, AUTH_IP_TWEAK, FG_SUBJ_IP, ip, d->ip_fails,
		      "auth-ip", DET_W_AUTH_IP, p, now);
		count(d->pfxs, AUTH_PFX_TWEAK, FG_SUBJ_PREFIX, pfx,
		      d->pfx_fails, "auth-prefix", DET_W_AUTH_PREFIX, p, now);
	}
	if (unknown && d->global_unknown > 0 &&
	    det_window_add(&d->g_start, &d->g_n, now, AUTH_WINDOW) >=
		d->global_unknown &&
	    d->g_alert_until <= now) {
		d->g_alert_until = now + AUTH_ALERT;
		log_info("auth: %u failures for unknown user names this hour; "
			 "every address failing on one is now scored",
			 d->g_n);
	}
	if ((len = det_node(e->login, node, sizeof node, 1)) == -1 ||
	    d->user_fails == 0)
		goto cloud;
	r = det_cache_get(d->names,
			  det_hash(AUTH_NAME_TWEAK, node, (size_t)len), now, 1);
	if (r->alert_until > now) {
		/* the attack goes on as long as failures keep coming */
		r->alert_until = now + AUTH_ALERT;
		if (ip != NULL)
			signal_ip(p, ip, "auth-user", DET_W_AUTH);
		return;
	}
	if (det_window_add(&r->win_start, &r->n, now, AUTH_WINDOW) == 1)
		r->nips = 0;
	if (ip != NULL && r->nips < AUTH_IPS)
		snprintf(r->ip[r->nips++], POL_IP_MAX, "%s", ip);
	if (r->n >= d->user_fails) {
		/* the name is under attack: score everyone who tried it */
		r->alert_until = now + AUTH_ALERT;
		for (i = 0; i < r->nips; i++)
			signal_ip(p, r->ip[i], "auth-user", DET_W_AUTH);
		r->nips = 0;
		return;
	}
cloud:
	if (unknown && ip != NULL && d->g_alert_until > now)
		signal_ip(p, ip, "auth-unknown", DET_W_AUTH);
}

static void
trap_hit(struct auth *d, struct policy *p, const char *ip, const char *who)
{
	const struct pol_detector *ctx;
	char                       esc[128];

	if (ip == NULL)
		return;
	log_info("spamtrap: %s tried by %s", log_esc(esc, sizeof esc, who), ip);
	/* traps have their own enforce switch ([detect.spamtraps]) */
	ctx = pol_ctx_enter(p, &det_spamtraps);
	pol_trap_hit(p, FG_SUBJ_IP, ip, who);
	signal_ip(p, ip, "spamtrap", d->w_trap);
	pol_auto_verdict(p, FG_SUBJ_IP, ip, FG_V_BLOCK, p->prm.ttl_ms,
			 "spamtrap");
	pol_ctx_leave(p, ctx);
}

static void
auth_event(void *arg, struct policy *p, const struct pol_event *e)
{
	struct auth *d = arg;
	char         ip[POL_IP_MAX], pfx[POL_IP_MAX];
	const char  *ipp = NULL, *who;
	int64_t      now = clock_wall_ms();
	int          trap;

	switch (e->type) {
	case POL_EV_AUTH_FAIL:
	case POL_EV_AUTH_OK:
	case POL_EV_SESSION_START:
	case POL_EV_REGISTERED:
		who = e->type == POL_EV_REGISTERED ? e->jid : e->login;
		trap = who != NULL && is_trap(d, who);
		/* the address only when it is needed: most events are good
		 * logins and sessions */
		if (!trap && e->type != POL_EV_AUTH_FAIL)
			return;
		if (e->ip != NULL && pol_norm_ip(e->ip, ip, sizeof ip) != -1 &&
		    pol_norm_prefix(ip, pfx, sizeof pfx) != -1)
			ipp = ip;
		if (trap) {
			trap_hit(d, p, ipp, who);
			return;
		}
		if (e->type == POL_EV_AUTH_FAIL && e->login != NULL)
			auth_fail(d, p, e, ipp, pfx, now);
		break;
	default:
		break;
	}
}

/* A registration attempt with a spamtrap name: refuse it and block. */
static void
auth_gate(void *arg, struct policy *p, const struct pol_gate *g,
	  struct pol_answer *a)
{
	struct auth *d = arg;
	char         ip[POL_IP_MAX];

	if (g->kind != FG_KIND_REGISTER || g->from == NULL ||
	    !is_trap(d, g->from))
		return;
	trap_hit(d, p,
		 g->ip != NULL && pol_norm_ip(g->ip, ip, sizeof ip) != -1
		     ? ip
		     : NULL,
		 g->from);
	a->allow = 0;
	a->condition = "not-allowed";
	a->text = txt_trap;
	a->verdict = FG_V_BLOCK;
	a->cause = FG_CAUSE_TRAP;
}
