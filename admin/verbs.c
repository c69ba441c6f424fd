/* SPDX-License-Identifier: ISC */
/*
 * floodgate - admin verbs: validate the text an admin typed, refuse what
 * would hurt more than help (blocking our own server domain, a whole
 * network aggregate), then act through pol_admin(), which commits to the
 * store, writes the audit entry with the actor and pushes the verdict.
 * An account may be local or remote: one throwaway account of a large
 * public server is blocked without punishing the server's other users.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/clock.h"
#include "../core/jid.h"
#include "../core/utf8.h"
#include "../core/xmalloc.h"
#include "../storage/store.h"
#include "verbs.h"
#include "../policy/policy_int.h"

#define DURATION_MAX_MS (3650LL * 86400 * 1000) /* ms: ten years */

static const char *verb_names[ADM__MAX] = {
    "unblock",   "block",        "quarantine",
    "allowlist", "block-domain", "unblock-domain",
};

static int  is_addr(const char *, size_t);
static void set(struct adm_result *, int, const char *, ...)
    __attribute__((__format__(printf, 3, 4)));

const char *
adm_verb_name(enum adm_verb v)
{
	return ((int)v >= 0 && v < ADM__MAX) ? verb_names[v] : "?";
}

int
adm_verb_parse(const char *s, enum adm_verb *v)
{
	int i;

	for (i = 0; s != NULL && i < ADM__MAX; i++)
		if (strcmp(s, verb_names[i]) == 0) {
			*v = (enum adm_verb)i;
			return 0;
		}
	return -1;
}

static void
set(struct adm_result *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
}

/* Is the first n bytes of s an IPv4 or IPv6 address? */
static int
is_addr(const char *s, size_t n)
{
	char          buf[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];

	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 ||
	       inet_pton(AF_INET6, buf, a) == 1;
}

int
adm_served(const struct fg_config *cfg, const char *domain)
{
	size_t i;

	for (i = 0; cfg != NULL && i < cfg->serves.n; i++)
		if (strcasecmp(cfg->serves.v[i], domain) == 0)
			return 1;
	return 0;
}

int
adm_subj_parse(const char *s, enum fg_subj *type)
{
	if (s != NULL && strcmp(s, "jid") == 0) {
		*type = FG_SUBJ_ACCOUNT;
		return 0;
	}
	return fg_subj_parse(s, type);
}

int
adm_parse_subject(const char *s, enum fg_subj *type, char *key, size_t keysz,
		  char *err, size_t errsz)
{
	char        bare[JID_MAX + 1], tname[16];
	const char *colon, *slash;
	int         forced = 0;
	size_t      n;

	while (s != NULL && isspace((unsigned char)*s))
		s++;
	if (s == NULL || *s == '\0') {
		snprintf(err, errsz,
			 "no subject given (a JID, domain or IP "
			 "address)");
		return -1;
	}
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	/* "account:alice@example.org": the type given by hand */
	if ((colon = memchr(s, ':', n)) != NULL &&
	    (size_t)(colon - s) < sizeof tname && !is_addr(s, n)) {
		memcpy(tname, s, (size_t)(colon - s));
		tname[colon - s] = '\0';
		if (adm_subj_parse(tname, type) == 0) {
			forced = 1;
			n -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
	}
	if (n > JID_MAX) {
		snprintf(err, errsz, "subject too long (%zu bytes)", n);
		return -1;
	}
	memcpy(bare, s, n);
	bare[n] = '\0';
	if (!forced) {
		slash = strchr(bare, '/');
		if (is_addr(bare, n))
			*type = FG_SUBJ_IP;
		else if (slash != NULL && is_addr(bare, (size_t)(slash - bare)))
			*type = FG_SUBJ_PREFIX;
		else if (strchr(bare, '@') != NULL)
			*type = FG_SUBJ_ACCOUNT;
		else
			*type = FG_SUBJ_DOMAIN;
	}
	if (*type == FG_SUBJ_DOMAIN && strchr(bare, '/') != NULL) {
		snprintf(err, errsz,
			 "'%.200s' is not a domain (no /resource "
			 "or /prefix allowed)",
			 bare);
		return -1;
	}
	if ((*type == FG_SUBJ_ACCOUNT || *type == FG_SUBJ_DOMAIN) &&
	    (jid_bare(bare, key, keysz) == -1 ||
	     (*type == FG_SUBJ_ACCOUNT) != (strchr(key, '@') != NULL))) {
		snprintf(err, errsz, "'%.200s' is not a valid %s", bare,
			 *type == FG_SUBJ_ACCOUNT ? "bare JID (user@domain)"
						  : "domain");
		return -1;
	}
	if (pol_norm_key(*type, bare, key, keysz) == -1) {
		if (*type == FG_SUBJ_PREFIX)
			snprintf(err, errsz,
				 "'%.200s' is not a network "
				 "prefix (IPv4 /24 or IPv6 /48)",
				 bare);
		else
			snprintf(err, errsz, "'%.200s' is not a valid %s", bare,
				 fg_subj_name(*type));
		return -1;
	}
	return 0;
}

int
adm_parse_duration(const char *s, int64_t *ms)
{
	uint64_t v;

	if (s == NULL || *s == '\0' || !strcasecmp(s, "forever") ||
	    !strcasecmp(s, "never") || !strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	if (config_parse_duration_ms(s, &v) == -1 || v == 0 ||
	    v > (uint64_t)DURATION_MAX_MS)
		return -1;
	*ms = (int64_t)v;
	return 0;
}

int
adm_parse_time(const char *s, int64_t now, int64_t *at)
{
	static const char *fmts[] = {
	    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%MZ",    "%Y-%m-%dT%H:%M",    "%Y-%m-%d %H:%M",
	    "%Y-%m-%d",
	};
	char      buf[64];
	struct tm tm;
	char     *end;
	size_t    i, n;
	long long secs;
	uint64_t  d;
	time_t    t;

	if (s == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		memset(&tm, 0, sizeof tm);
		end = strptime(buf, fmts[i], &tm);
		if (end == NULL || *end != '\0')
			continue;
		if ((t = timegm(&tm)) == (time_t)-1)
			return -1;
		*at = (int64_t)t * 1000;
		return 0;
	}
	/* unix seconds: at least 9 digits, so "90" stays a duration */
	if (n >= 9 && strspn(buf, "0123456789") == n) {
		secs = strtoll(buf, NULL, 10);
		*at = (int64_t)secs * 1000;
		return 0;
	}
	/* "90m", "2h ago": that long before now */
	if (n > 4 && strcasecmp(buf + n - 4, " ago") == 0)
		buf[n - 4] = '\0';
	if (config_parse_duration_ms(buf, &d) == -1 ||
	    d > (uint64_t)DURATION_MAX_MS)
		return -1;
	*at = now - (int64_t)d;
	return 0;
}

const char *
adm_fmt_time(int64_t ms, char *buf, size_t bufsz)
{
	struct tm tm;
	time_t    t = (time_t)(ms / 1000);

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, bufsz, "-");
	else
		strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

const char *
adm_fmt_duration(int64_t ms, char *buf, size_t bufsz)
{
	static const struct {
		int64_t ms;
		char    unit;
	} units[] = {
	    {86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};
	size_t i;

	/* the largest unit that says it exactly: 7d, 36h, 90m, 45s */
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (ms >= units[i].ms && ms % units[i].ms == 0)
			break;
	if (i == sizeof units / sizeof units[0])
		snprintf(buf, bufsz, "%lldms", (long long)ms);
	else
		snprintf(buf, bufsz, "%lld%c", (long long)(ms / units[i].ms),
			 units[i].unit);
	return buf;
}

int
adm_is_admin(const struct fg_config *cfg, const char *jid)
{
	char   bare[JID_MAX + 1], adm[JID_MAX + 1];
	size_t i;

	if (cfg == NULL || jid == NULL || jid_bare(jid, bare, sizeof bare))
		return 0;
	for (i = 0; i < cfg->admins.n; i++)
		if (jid_bare(cfg->admins.v[i], adm, sizeof adm) == 0 &&
		    strcasecmp(adm, bare) == 0)
			return 1;
	return 0;
}

void
adm_act_key(const struct adm_env *env, enum adm_verb verb, const char *actor,
	    enum fg_subj type, const char *key, const char *reason, int64_t dur,
	    struct adm_result *r)
{
	struct pol_info  pi;
	enum fg_override ovr;
	const char      *what, *was;
	char             ds[32], *fixed = NULL;
	const char      *lost;
	size_t           bad;

	/* the reason travels in verdict pushes: one bad byte there and the
	 * server drops the stream */
	if (reason != NULL && utf8_xml_ok(reason, &bad) == -1) {
		set(r, ADM_BAD,
		    "the reason is not valid UTF-8 text (byte 0x%02x at "
		    "offset %zu); control characters are not allowed either",
		    (unsigned char)reason[bad], bad);
		return;
	}
	if (pol_inspect(env->pol, type, key, &pi) == -1) {
		set(r, ADM_BAD, "'%.200s' is not a valid %s", key,
		    fg_subj_name(type));
		return;
	}
	was = fg_verdict_name(pi.effective);
	switch (verb) {
	case ADM_UNBLOCK:
	case ADM_UNBLOCK_DOMAIN:
		if (pi.override == FG_OVR_NONE && pi.effective == FG_V_ALLOW &&
		    pi.verdict == FG_V_ALLOW && pi.score <= 0) {
			set(r, ADM_NOTFOUND,
			    "%s %.200s is not blocked, quarantined or "
			    "allowlisted: nothing to lift",
			    fg_subj_name(type), key);
			return;
		}
		ovr = FG_OVR_NONE;
		what = pi.override == FG_OVR_ALLOW
			   ? "removed from the allowlist"
			   : "unblocked";
		dur = 0;
		break;
	case ADM_ALLOWLIST:
		ovr = FG_OVR_ALLOW;
		what = "allowlisted";
		break;
	case ADM_QUARANTINE:
		ovr = FG_OVR_QUARANTINE;
		what = "quarantined";
		break;
	default:
		ovr = FG_OVR_BLOCK;
		what = "blocked";
		break;
	}
	if (ovr != FG_OVR_NONE && (reason == NULL || *reason == '\0') &&
	    verb != ADM_ALLOWLIST) {
		set(r, ADM_BAD, "a reason is required to %s",
		    adm_verb_name(verb));
		return;
	}
	if (reason != NULL && *reason == '\0')
		reason = NULL;
	/* the actor comes from a stanza or the system's user database:
	 * repaired rather than refused, it is only shown */
	if (actor != NULL && utf8_xml_ok(actor, NULL) == -1)
		actor = fixed = utf8_repair(actor);
	if (pol_admin(env->pol, type, key, ovr, actor, reason, dur) == -1) {
		if (env->store != NULL && store_health(env->store, &lost) == -1)
			set(r, ADM_FAILED,
			    "%s %.200s: not committed to the store (%s); "
			    "nothing changed",
			    fg_subj_name(type), key, lost);
		else
			set(r, ADM_FAILED,
			    "%s %.200s: not committed to the store; nothing "
			    "changed",
			    fg_subj_name(type), key);
		free(fixed);
		return;
	}
	free(fixed);
	if (dur > 0) {
		ds[0] = ' ';
		memcpy(ds + 1, "for ", 4);
		adm_fmt_duration(dur, ds + 5, sizeof ds - 5);
	} else
		ds[0] = '\0';
	set(r, ADM_OK, "%s %.200s %s%s (was %s)", fg_subj_name(type), key, what,
	    ovr == FG_OVR_NONE ? "" : ds, was);
}

void
adm_act(const struct adm_env *env, enum adm_verb verb, const char *actor,
	const char *subject, const char *reason, const char *duration,
	struct adm_result *r)
{
	char         key[ADM_KEY_MAX], err[ADM_MSG_MAX];
	const char  *dom;
	enum fg_subj type;
	int64_t      dur = 0;
	size_t       bad;

	if ((int)verb < 0 || verb >= ADM__MAX) {
		set(r, ADM_BAD, "unknown action");
		return;
	}
	if (subject != NULL && utf8_xml_ok(subject, &bad) == -1) {
		set(r, ADM_BAD,
		    "the subject is not valid UTF-8 text (byte 0x%02x at "
		    "offset %zu)",
		    (unsigned char)subject[bad], bad);
		return;
	}
	if (adm_parse_subject(subject, &type, key, sizeof key, err,
			      sizeof err) == -1) {
		set(r, ADM_BAD, "%s", err);
		return;
	}
	if (duration != NULL && adm_parse_duration(duration, &dur) == -1) {
		set(r, ADM_BAD,
		    "'%.100s' is not a duration (e.g. 1h, 7d, "
		    "forever)",
		    duration);
		return;
	}
	if (reason != NULL && strlen(reason) > ADM_REASON_MAX) {
		set(r, ADM_BAD, "reason too long (at most %d bytes)",
		    ADM_REASON_MAX);
		return;
	}
	if ((verb == ADM_BLOCK_DOMAIN || verb == ADM_UNBLOCK_DOMAIN) &&
	    type != FG_SUBJ_DOMAIN) {
		set(r, ADM_BAD, "%s takes a domain, not the %s %.200s",
		    adm_verb_name(verb), fg_subj_name(type), key);
		return;
	}
	if (type == FG_SUBJ_PREFIX &&
	    (verb == ADM_BLOCK || verb == ADM_QUARANTINE)) {
		set(r, ADM_REFUSED,
		    "network prefixes may only be throttled, "
		    "never blocked or quarantined whole: act "
		    "on single addresses instead");
		return;
	}
	if (verb != ADM_UNBLOCK && verb != ADM_UNBLOCK_DOMAIN &&
	    verb != ADM_ALLOWLIST) {
		dom = strchr(key, '@');
		dom = dom != NULL ? dom + 1 : key;
		if (type == FG_SUBJ_DOMAIN && adm_served(env->cfg, dom)) {
			set(r, ADM_REFUSED,
			    "%.200s is a domain this daemon "
			    "serves: act on its accounts "
			    "instead",
			    key);
			return;
		}
	}
	adm_act_key(env, verb, actor, type, key, reason, dur, r);
}
