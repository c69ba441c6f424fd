/* SPDX-License-Identifier: ISC */
/*
 * floodgate - configuration file parsing.
 *
 * libinih splits the file into (section, key, value); it does not report
 * line numbers to handlers in Debian's build, so we feed it through our own
 * line reader and keep the number of the line last read. Every section and
 * key is known here: anything else is an error, never silently ignored.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "autoconf.h"

#include "config.h"
#include "jid.h"
#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

#define DEF_COMP_PORT 5347        /* XEP-0114 default port */
#define DEF_GATE_TIMEOUT_MS 250   /* module waits this long, ms */
#define DEF_MAX_STANZA 524288     /* received stanza, bytes (512 KiB) */
#define MIN_MAX_STANZA 4096       /* bytes */
#define MAX_MAX_STANZA 67108864   /* bytes (64 MiB) */
#define DEF_MAX_DEPTH 64          /* element levels in a stanza */
#define MAX_MAX_DEPTH 1024        /* element levels */
#define DEF_STORE_FLUSH_MS 200    /* write-behind period, ms */
#define DEF_STORE_FLUSH_ROWS 4096 /* flush early past this, rows */
#define DEF_RETENTION_S 7776000   /* audit rows kept, s (90 d) */
#define DEF_MAX_KEYS 1048576      /* bucket table cap, entries */
#define DEF_HALF_LIFE_S 21600.0   /* reputation half-life, s (6 h) */
#define DEF_THROTTLE_AT 5.0       /* score units */
#define DEF_QUARANTINE_AT 10.0
#define DEF_BLOCK_AT 40.0
#define DEF_HYSTERESIS 0.3            /* step down at 70% of threshold */
#define DEF_VERDICT_TTL_S 86400       /* automatic verdicts last 1 day, s */
#define DEF_W_OVERFLOW 2.0            /* score per bucket overflow */
#define DEF_W_REPORT 4.0              /* a spam report at full standing */
#define DEF_W_SPAMTRAP 100.0          /* spamtrap hit: straight to block */
#define DEF_W_UPSTREAM 10.0           /* upstream listing: quarantine */
#define DEF_PROBATION_S 86400         /* wave accounts on probation, s */
#define DEF_PROBATION_CONTACTS 3      /* mutual contacts end probation */
#define DEF_WAVE_FACTOR 5.0           /* rate over baseline = wave */
#define DEF_WAVE_MIN 10               /* registrations/min before a wave */
#define DEF_CONTENT_ACCOUNTS 5        /* distinct senders = content wave */
#define DEF_CONTENT_WINDOW_S 600      /* content wave window, s */
#define DEF_SHORT_SESSION_S 60        /* "short" session, s */
#define DEF_SHORT_SESSIONS 3          /* short sessions for a hit */
#define DEF_AUTH_USER_FAILS 10        /* failures per user name per hour */
#define DEF_AUTH_GLOBAL_UNKNOWN 100   /* unknown-user failures per hour */
#define DEF_SHORT_WINDOW_S 600        /* window for short sessions, s */
#define DEF_OVERLAP 3                 /* concurrent sessions for a hit */
#define DEF_AUTH_IP_FAILS 20          /* failures per IP per hour */
#define DEF_AUTH_PREFIX_FAILS 60      /* failures per prefix per hour */
#define DEF_ALERTS_INTERVAL_S 60      /* one digest a minute, s */
#define DEF_ALERTS_LINK_DOWN_S 60     /* link down worth an alert, s */
#define DEF_SPREAD_NETS 10            /* /16s (/32s) in a day: spread */
#define DEF_CLOCK_HOURS 12            /* hours of a day with short ones */
#define DEF_SHARED_ACCOUNTS 5         /* accounts short on one address */
#define DEF_HABIT_WINDOW_MS 86400000  /* habits are counted over a day */
#define CONFIG_FILE_MAX (1024 * 1024) /* bytes of a config file */
#define CONFIG_ERRORS_MAX 20          /* errors printed before giving up */

/* replies from a JID a local user wrote to count as contacts this long */
#define DEF_REPLY_WINDOW_MS 2592000000ULL  /* ms (30 d) */
#define MAX_REPLY_WINDOW_MS 31536000000ULL /* ms (365 d) */

struct parse_state {
	struct fg_config *cfg;
	FILE             *fp;
	const char       *path;
	int               line;
	int               errors;
	size_t            bytes;     /* read so far, against CONFIG_FILE_MAX */
	int              *seen;      /* line each scalar key was set on */
	int               truncated; /* stopped at CONFIG_ERRORS_MAX */
};

enum ktype {
	K_STR,
	K_INT,
	K_PORT,
	K_BOOL,
	K_LIST,
	K_DOUBLE,
	K_MS,
	K_SECS,
	K_SIZE,
	K_ACTION, /* quarantine (0) or block (1), into an int */
	K_REFUSE, /* bounce (0) or drop (1) */
	K_MODE    /* enforce (0) or observe (1) */
};

struct keydef {
	const char *section;
	const char *key;
	enum ktype  type;
	size_t      off;
};

#define F(field) offsetof(struct fg_config, field)
static const struct keydef keys[] = {
    {"component", "jid", K_STR, F(comp_jid)},
    {"component", "secret", K_STR, F(comp_secret)},
    {"component", "server", K_STR, F(comp_server)},
    {"component", "port", K_PORT, F(comp_port)},
    {"component", "serves", K_LIST, F(serves)},
    {"component", "gate-timeout", K_MS, F(gate_timeout_ms)},
    {"component", "max-stanza-size", K_SIZE, F(comp_max_stanza)},
    {"component", "max-depth", K_INT, F(comp_max_depth)},
    {"store", "path", K_STR, F(store_path)},
    {"store", "flush-interval", K_MS, F(store_flush_ms)},
    {"store", "flush-rows", K_INT, F(store_flush_rows)},
    {"store", "retention", K_SECS, F(store_retention_s)},
    {"store", "backend", K_STR, F(store_backend)},
    {"store", "dsn", K_STR, F(store_dsn)},
    {"store", "password-file", K_STR, F(store_password_file)},
    {"admins", "jids", K_LIST, F(admins)},
    {"policy", "half-life", K_SECS, F(half_life_s)},
    {"policy", "throttle-at", K_DOUBLE, F(throttle_at)},
    {"policy", "quarantine-at", K_DOUBLE, F(quarantine_at)},
    {"policy", "block-at", K_DOUBLE, F(block_at)},
    {"policy", "hysteresis", K_DOUBLE, F(hysteresis)},
    {"policy", "verdict-ttl", K_SECS, F(verdict_ttl_s)},
    {"policy", "weight.report", K_DOUBLE, F(w_report)},
    {"policy", "weight.spamtrap", K_DOUBLE, F(w_spamtrap)},
    {"policy", "weight.upstream", K_DOUBLE, F(w_upstream)},
    {"http", "listen", K_STR, F(http_listen)},
    {"http", "public-url", K_STR, F(http_public_url)},
    {"control", "socket", K_STR, F(ctl_socket)},
    {"control", "group", K_STR, F(ctl_group)},
    {"daemon", "user", K_STR, F(user)},
    {"daemon", "pidfile", K_STR, F(pidfile)},
    {"log", "ident", K_STR, F(log_ident)},
    {"log", "facility", K_STR, F(log_facility)},
    {"blocklist", "domains", K_LIST, F(bl_domains)},
    {"blocklist", "publish-quarantine", K_BOOL, F(bl_publish_quarantine)},
    {"upstream", "lists", K_LIST, F(upstream_files)},
    {"reports", "send", K_BOOL, F(report_send)},
    {"reports", "forward-to", K_LIST, F(report_forward_to)},
    {"detect", "spamtraps", K_STR, F(spamtrap_file)},
    {"detect", "probation", K_SECS, F(probation_s)},
    {"detect", "probation-contacts", K_INT, F(probation_contacts)},
    {"detect", "wave-factor", K_DOUBLE, F(wave_factor)},
    {"detect", "wave-min", K_INT, F(wave_min)},
    {"detect", "content-accounts", K_INT, F(content_accounts)},
    {"detect", "content-window", K_SECS, F(content_window_s)},
    {"detect", "short-session", K_MS, F(short_session_ms)},
    {"detect", "short-sessions", K_INT, F(short_sessions)},
    {"detect", "auth-user-fails", K_INT, F(auth_user_fails)},
    {"detect", "auth-global-unknown", K_INT, F(auth_global_unknown)},
    /* one section per detector (doc/detectors.md); [detect] above stays
     * as the flat spelling of the same fields */
    {"detect.registration", "wave-factor", K_DOUBLE, F(wave_factor)},
    {"detect.registration", "wave-min", K_INT, F(wave_min)},
    {"detect.registration", "probation", K_SECS, F(probation_s)},
    {"detect.registration", "probation-contacts", K_INT, F(probation_contacts)},
    {"detect.login", "short-session", K_MS, F(short_session_ms)},
    {"detect.login", "short-sessions", K_INT, F(short_sessions)},
    {"detect.login", "short-window", K_MS, F(short_window_ms)},
    {"detect.login", "overlap", K_INT, F(overlap)},
    {"detect.login", "spread", K_INT, F(spread_nets)},
    {"detect.login", "round-the-clock", K_INT, F(clock_hours)},
    {"detect.login", "shared-address", K_INT, F(shared_accounts)},
    {"detect.login", "habit-window", K_MS, F(habit_window_ms)},
    {"detect.content", "accounts", K_INT, F(content_accounts)},
    {"detect.content", "window", K_SECS, F(content_window_s)},
    {"detect.auth", "user-fails", K_INT, F(auth_user_fails)},
    {"detect.auth", "global-unknown", K_INT, F(auth_global_unknown)},
    {"detect.auth", "ip-fails", K_INT, F(auth_ip_fails)},
    {"detect.auth", "prefix-fails", K_INT, F(auth_prefix_fails)},
    {"detect.spamtraps", "file", K_STR, F(spamtrap_file)},
    /* remote accounts (doc/configuration.md) */
    {"detect.traps", "jids", K_LIST, F(trap_jids)},
    {"detect.traps", "file", K_STR, F(trap_file)},
    {"detect.traps", "action", K_ACTION, F(trap_block)},
    {"lists", "jids", K_STR, F(lists_jids)},
    {"lists", "domains", K_STR, F(lists_domains)},
    {"lists", "url-hosts", K_STR, F(lists_url_hosts)},
    {"lists", "action", K_ACTION, F(lists_block)},
    /* observe mode and per-reason actions */
    {"policy", "mode", K_MODE, F(observe)},
    {"detect.registration", "enforce", K_BOOL, F(enforce[FG_DET_REGISTRATION])},
    {"detect.login", "enforce", K_BOOL, F(enforce[FG_DET_LOGIN])},
    {"detect.content", "enforce", K_BOOL, F(enforce[FG_DET_CONTENT])},
    {"detect.auth", "enforce", K_BOOL, F(enforce[FG_DET_AUTH])},
    {"detect.spamtraps", "enforce", K_BOOL, F(enforce[FG_DET_SPAMTRAPS])},
    {"detect.upstream", "enforce", K_BOOL, F(enforce[FG_DET_UPSTREAM])},
    {"detect.traps", "enforce", K_BOOL, F(enforce[FG_DET_TRAPS])},
    {"lists", "enforce", K_BOOL, F(enforce[FG_DET_LISTS])},
    {"actions", "quarantine", K_REFUSE, F(drop[FG_CAUSE_QUARANTINE])},
    {"actions", "block", K_REFUSE, F(drop[FG_CAUSE_BLOCK])},
    {"actions", "list", K_REFUSE, F(drop[FG_CAUSE_LIST])},
    {"actions", "trap", K_REFUSE, F(drop[FG_CAUSE_TRAP])},
    {"actions", "wave", K_REFUSE, F(drop[FG_CAUSE_WAVE])},
    /* alerts to admins and a webhook */
    {"alerts", "webhook", K_STR, F(alerts_webhook)},
    {"alerts", "ca-file", K_STR, F(alerts_ca_file)},
    {"alerts", "state", K_STR, F(alerts_state)},
    {"alerts", "interval", K_SECS, F(alerts_interval_s)},
    {"alerts", "link-down", K_SECS, F(alerts_link_down_s)},
};
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

static void cfg_error(struct parse_state *, const char *, ...)
    __attribute__((__format__(printf, 2, 3)));
static int   set_key(struct parse_state *, const struct keydef *, const char *);
static int   set_limit(struct parse_state *, const char *, const char *);
static int   set_jids(struct parse_state *, const char *, struct fg_strlist *);
static int   set_upstream(struct parse_state *, const char *, const char *);
static int   handler(void *, const char *, const char *, const char *);
static char *reader(char *, int, void *);
static int   validate(struct parse_state *);
static int   section_known_n(const char *, size_t);
static void  check_header(struct parse_state *, const char *);
static FILE *open_config(const char *);
static void  strlist_free(struct fg_strlist *);
static int   strlist_parse(const char *, struct fg_strlist *);

void
config_defaults(struct fg_config *c)
{
	int k;

	memset(c, 0, sizeof *c);
	c->comp_server = xstrdup("127.0.0.1");
	c->comp_port = DEF_COMP_PORT;
	c->gate_timeout_ms = DEF_GATE_TIMEOUT_MS;
	c->comp_max_stanza = DEF_MAX_STANZA;
	c->comp_max_depth = DEF_MAX_DEPTH;
	c->store_flush_ms = DEF_STORE_FLUSH_MS;
	c->store_flush_rows = DEF_STORE_FLUSH_ROWS;
	c->store_retention_s = DEF_RETENTION_S;
	c->max_keys = DEF_MAX_KEYS;
	c->half_life_s = DEF_HALF_LIFE_S;
	c->throttle_at = DEF_THROTTLE_AT;
	c->quarantine_at = DEF_QUARANTINE_AT;
	c->block_at = DEF_BLOCK_AT;
	c->hysteresis = DEF_HYSTERESIS;
	c->verdict_ttl_s = DEF_VERDICT_TTL_S;
	for (k = 0; k < FG_KIND__MAX; k++)
		c->w_overflow[k] = DEF_W_OVERFLOW;
	c->w_report = DEF_W_REPORT;
	c->w_spamtrap = DEF_W_SPAMTRAP;
	c->w_upstream = DEF_W_UPSTREAM;
	/* the nodes carry client IPs and hashes of local JIDs: readable by
	 * the served domains and [blocklist] domains unless opened */
	c->bl_access_open = 0;
	c->report_send = 1;
	c->probation_s = DEF_PROBATION_S;
	c->probation_contacts = DEF_PROBATION_CONTACTS;
	c->wave_factor = DEF_WAVE_FACTOR;
	c->wave_min = DEF_WAVE_MIN;
	c->content_accounts = DEF_CONTENT_ACCOUNTS;
	c->content_window_s = DEF_CONTENT_WINDOW_S;
	c->short_session_ms = DEF_SHORT_SESSION_S * 1000;
	c->short_sessions = DEF_SHORT_SESSIONS;
	c->auth_user_fails = DEF_AUTH_USER_FAILS;
	c->auth_global_unknown = DEF_AUTH_GLOBAL_UNKNOWN;
	c->short_window_ms = DEF_SHORT_WINDOW_S * 1000;
	c->overlap = DEF_OVERLAP;
	c->auth_ip_fails = DEF_AUTH_IP_FAILS;
	c->auth_prefix_fails = DEF_AUTH_PREFIX_FAILS;
	for (k = 0; k < FG_DET__MAX; k++)
		c->enforce[k] = 1;
	c->alerts_interval_s = DEF_ALERTS_INTERVAL_S;
	c->alerts_link_down_s = DEF_ALERTS_LINK_DOWN_S;
	c->reply_window_ms = DEF_REPLY_WINDOW_MS;
	c->spread_nets = DEF_SPREAD_NETS;
	c->clock_hours = DEF_CLOCK_HOURS;
	c->shared_accounts = DEF_SHARED_ACCOUNTS;
	c->habit_window_ms = DEF_HABIT_WINDOW_MS;
	/* Sane limits out of the box; every one can be overridden. */
	config_parse_rate("10/min burst 20",
			  &c->limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE], NULL);
	config_parse_rate("30/min burst 30",
			  &c->limits[FG_SUBJ_ACCOUNT][FG_KIND_STRANGER_MESSAGE],
			  NULL);
	config_parse_rate("100/min burst 100",
			  &c->limits[FG_SUBJ_DOMAIN][FG_KIND_INBOUND_SUBSCRIBE],
			  NULL);
	config_parse_rate(
	    "300/min burst 300",
	    &c->limits[FG_SUBJ_DOMAIN][FG_KIND_INBOUND_STRANGER_MESSAGE], NULL);
	config_parse_rate("5/hour burst 3",
			  &c->limits[FG_SUBJ_IP][FG_KIND_REGISTER], NULL);
	config_parse_rate("30/hour burst 10",
			  &c->limits[FG_SUBJ_PREFIX][FG_KIND_REGISTER], NULL);
	config_parse_rate("30/min burst 30",
			  &c->limits[FG_SUBJ_DOMAIN][FG_KIND_QUERY], NULL);
}

int
config_parse_bool(const char *s, int *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") ||
	    !strcasecmp(s, "on") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") ||
		 !strcasecmp(s, "off") || !strcmp(s, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* "250ms", "30s", "5m"/"5min", "6h", "7d"; a bare number is seconds. */
int
config_parse_duration_ms(const char *s, uint64_t *out)
{
	char  *end;
	double v, mul;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	if (*end == '\0' || !strcmp(end, "s") || !strcmp(end, "sec"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60000;
	else if (!strcmp(end, "h") || !strcmp(end, "hour"))
		mul = 3600000;
	else if (!strcmp(end, "d") || !strcmp(end, "day"))
		mul = 86400000;
	else
		return -1;
	if (v * mul > (double)UINT32_MAX * 1000.0)
		return -1;
	*out = (uint64_t)(v * mul);
	return 0;
}

/* "N/sec|min|hour|day burst M" (burst optional, defaults to N). */
int
config_parse_rate(const char *s, struct fg_rate *r, const char **err)
{
	char          unit[16], word[16];
	unsigned long n, b = 0;
	int           used = 0, k;
	const char   *e = NULL;

	k = sscanf(s, " %lu / %15[a-z] %n", &n, unit, &used);
	if (k < 2) {
		e = "expected N/sec|min|hour|day [burst M]";
		goto fail;
	}
	if (n == 0 || n > 1000000000ul) {
		e = "rate must be between 1 and 1000000000";
		goto fail;
	}
	if (!strcmp(unit, "sec") || !strcmp(unit, "s"))
		r->per_ms = 1000;
	else if (!strcmp(unit, "min") || !strcmp(unit, "m"))
		r->per_ms = 60000;
	else if (!strcmp(unit, "hour") || !strcmp(unit, "h"))
		r->per_ms = 3600000;
	else if (!strcmp(unit, "day") || !strcmp(unit, "d"))
		r->per_ms = 86400000;
	else {
		e = "unit must be sec, min, hour or day";
		goto fail;
	}
	s += used;
	if (*s != '\0') {
		int used2 = 0;

		if (sscanf(s, "%15s %lu %n", word, &b, &used2) != 2 ||
		    strcmp(word, "burst") != 0 || s[used2] != '\0') {
			e = "expected 'burst M' after the rate";
			goto fail;
		}
		if (b == 0 || b > 1000000000ul) {
			e = "burst must be between 1 and 1000000000";
			goto fail;
		}
	} else
		b = n;
	r->count = (uint32_t)n;
	r->burst = (uint32_t)b;
	return 0;
fail:
	if (err != NULL)
		*err = e;
	return -1;
}

static void
cfg_error(struct parse_state *ps, const char *fmt, ...)
{
	char    msg[512];
	va_list ap;

	/* a hostile file must not turn into a million log lines */
	if (++ps->errors > CONFIG_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", ps->path, ps->line, msg);
}

static void
strlist_free(struct fg_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Split on commas and whitespace; a repeated key appends, so long lists
 * can span lines (inih limits a line to 200 bytes). */
static int
strlist_parse(const char *s, struct fg_strlist *l)
{
	const char *p = s;

	while (*p != '\0') {
		size_t n;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if (l->n >= CONFIG_MAX_LIST)
			return -1;
		l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
		l->v[l->n++] = xstrndup(p, n);
		p += n;
	}
	return 0;
}

int
config_list_has(const struct fg_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
set_key(struct parse_state *ps, const struct keydef *kd, const char *v)
{
	void    *p = (char *)ps->cfg + kd->off;
	char    *end;
	long     l;
	double   d;
	uint64_t ms;
	size_t   bad;

	/* values end up in stanzas (jid, serves, admins) and in logs */
	if (utf8_xml_ok(v, &bad) == -1) {
		cfg_error(ps, "%s: not valid UTF-8 text (byte 0x%02x at %zu)",
			  kd->key, (unsigned char)v[bad], bad);
		return -1;
	}
	switch (kd->type) {
	case K_STR:
		if (*v == '\0') {
			cfg_error(ps, "%s: empty value", kd->key);
			return -1;
		}
		free(*(char **)p);
		*(char **)p = xstrdup(v);
		return 0;
	case K_INT:
	case K_PORT:
		errno = 0;
		l = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || l < 0 ||
		    l > INT_MAX ||
		    (kd->type == K_PORT && (l < 1 || l > 65535))) {
			cfg_error(ps, "%s: '%s' is not a valid %s", kd->key, v,
				  kd->type == K_PORT ? "port"
						     : "non-negative integer");
			return -1;
		}
		if (kd->off == offsetof(struct fg_config, comp_max_depth) &&
		    (l < 1 || l > MAX_MAX_DEPTH)) {
			cfg_error(ps, "%s: %ld is not in 1..%d", kd->key, l,
				  MAX_MAX_DEPTH);
			return -1;
		}
		if (kd->type == K_PORT)
			*(int *)p = (int)l;
		else
			*(uint32_t *)p = (uint32_t)l;
		return 0;
	case K_ACTION:
		if (strcmp(v, "quarantine") != 0 && strcmp(v, "block") != 0) {
			cfg_error(ps, "%s: '%s' must be quarantine or block",
				  kd->key, v);
			return -1;
		}
		*(int *)p = strcmp(v, "block") == 0;
		return 0;
	case K_BOOL:
		if (config_parse_bool(v, (int *)p) == -1) {
			cfg_error(ps, "%s: '%s' is not yes/no", kd->key, v);
			return -1;
		}
		return 0;
	case K_LIST:
		if (strlist_parse(v, p) == -1) {
			cfg_error(ps, "%s: more than %d entries", kd->key,
				  CONFIG_MAX_LIST);
			return -1;
		}
		if (kd->off == offsetof(struct fg_config, report_forward_to))
			return set_jids(ps, kd->key, p);
		return 0;
	case K_DOUBLE:
		errno = 0;
		d = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || errno != 0 || !isfinite(d) ||
		    d < 0) {
			cfg_error(ps, "%s: '%s' is not a non-negative number",
				  kd->key, v);
			return -1;
		}
		*(double *)p = d;
		return 0;
	case K_SIZE: /* bytes, or with a k/m suffix (KiB, MiB) */
		errno = 0;
		l = strtol(v, &end, 10);
		if (*end == 'k' || *end == 'K')
			l = l > LONG_MAX / 1024 ? LONG_MAX : l * 1024, end++;
		else if (*end == 'm' || *end == 'M')
			l = l > LONG_MAX / 1048576 ? LONG_MAX : l * 1048576,
			end++;
		if (*v == '\0' || *end != '\0' || errno != 0 ||
		    l < MIN_MAX_STANZA || l > MAX_MAX_STANZA) {
			cfg_error(ps, "%s: '%s' is not a size in 4k..64m",
				  kd->key, v);
			return -1;
		}
		*(uint32_t *)p = (uint32_t)l;
		return 0;
	case K_REFUSE:
		if (strcmp(v, "bounce") != 0 && strcmp(v, "drop") != 0) {
			cfg_error(ps, "%s: '%s' must be bounce or drop",
				  kd->key, v);
			return -1;
		}
		*(int *)p = strcmp(v, "drop") == 0;
		return 0;
	case K_MODE:
		if (strcmp(v, "enforce") != 0 && strcmp(v, "observe") != 0) {
			cfg_error(ps, "%s: '%s' must be enforce or observe",
				  kd->key, v);
			return -1;
		}
		*(int *)p = strcmp(v, "observe") == 0;
		return 0;
	case K_MS:
	case K_SECS:
		if (config_parse_duration_ms(v, &ms) == -1) {
			cfg_error(ps,
				  "%s: '%s' is not a duration (e.g. 250ms, "
				  "30s, 5min, 6h, 7d)",
				  kd->key, v);
			return -1;
		}
		if (kd->type == K_MS)
			*(uint32_t *)p = (uint32_t)ms;
		else if (kd->off == offsetof(struct fg_config, half_life_s))
			*(double *)p = (double)ms / 1000.0;

		else
			*(uint32_t *)p = (uint32_t)(ms / 1000);
		return 0;
	}
	return -1;
}

/* A list of bare JIDs (report collectors): each normalised in place;
 * a full JID or something that is no JID is an error. */
static int
set_jids(struct parse_state *ps, const char *key, struct fg_strlist *l)
{
	char   b[JID_MAX + 1];
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strchr(l->v[i], '/') != NULL ||
		    jid_bare(l->v[i], b, sizeof b) == -1) {
			cfg_error(ps, "%s: '%s' is not a bare JID", key,
				  l->v[i]);
			return -1;
		}
		free(l->v[i]);
		l->v[i] = xstrdup(b);
	}
	return 0;
}

/* [limits] SUBJECT.KIND = rate, or max-keys = N. */
static int
set_limit(struct parse_state *ps, const char *key, const char *v)
{
	char          subj[32];
	const char   *dot, *err = NULL;
	enum fg_subj  s;
	enum fg_kind  k;
	char         *end;
	unsigned long n;
	uint64_t      ms;

	if (strcmp(key, "reply-window") == 0) {
		if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0)
			ms = 0;
		else if (config_parse_duration_ms(v, &ms) == -1 ||
			 ms > MAX_REPLY_WINDOW_MS) {
			cfg_error(ps,
				  "reply-window: '%s' is not a duration up to "
				  "365d (or 0 for off)",
				  v);
			return -1;
		}
		ps->cfg->reply_window_ms = ms;
		return 0;
	}
	if (strcmp(key, "max-keys") == 0) {
		errno = 0;
		n = strtoul(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || n < 1024 ||
		    n > 1000000000ul) {
			cfg_error(ps, "max-keys: '%s' must be 1024..1000000000",
				  v);
			return -1;
		}
		ps->cfg->max_keys = n;
		return 0;
	}
	if ((dot = strchr(key, '.')) == NULL ||
	    (size_t)(dot - key) >= sizeof subj) {
		cfg_error(ps,
			  "unknown limit '%s' (expected SUBJECT.KIND, "
			  "e.g. account.subscribe)",
			  key);
		return -1;
	}
	memcpy(subj, key, dot - key);
	subj[dot - key] = '\0';
	if (fg_subj_parse(subj, &s) == -1) {
		cfg_error(ps,
			  "unknown subject '%s' in '%s' (account, domain, "
			  "ip, prefix)",
			  subj, key);
		return -1;
	}
	if (fg_kind_parse(dot + 1, &k) == -1) {
		cfg_error(ps, "unknown kind '%s' in '%s'", dot + 1, key);
		return -1;
	}
	if (strcmp(v, "off") == 0 || strcmp(v, "none") == 0) {
		memset(&ps->cfg->limits[s][k], 0, sizeof ps->cfg->limits[s][k]);
		return 0;
	}
	if (config_parse_rate(v, &ps->cfg->limits[s][k], &err) == -1) {
		cfg_error(ps, "%s: '%s': %s", key, v, err);
		return -1;
	}
	return 0;
}

/* [upstream] rtbl = SERVICE-JID NODE (repeatable). */
static int
set_upstream(struct parse_state *ps, const char *key, const char *v)
{
	struct fg_config *c = ps->cfg;
	char              svc[1024], node[256];

	if (strcmp(key, "rtbl") != 0) {
		cfg_error(ps, "unknown key '%s' in [upstream]", key);
		return -1;
	}
	if (sscanf(v, "%1023s %255s", svc, node) != 2) {
		cfg_error(ps, "rtbl: expected 'SERVICE-JID NODE'");
		return -1;
	}
	c->upstreams = xreallocarray(c->upstreams, c->nupstreams + 1,
				     sizeof *c->upstreams);
	c->upstreams[c->nupstreams].service = xstrdup(svc);
	c->upstreams[c->nupstreams].node = xstrdup(node);
	c->nupstreams++;
	return 0;
}

static int
handler(void *arg, const char *section, const char *key, const char *value)
{
	struct parse_state *ps = arg;
	size_t              i;
	int                 known_section = 0;

	if (key == NULL) /* a header; reader() checked the name */
		return 1;
	if (strcmp(section, "limits") == 0) {
		set_limit(ps, key, value);
		return 1;
	}
	if (strcmp(section, "upstream") == 0 && strcmp(key, "lists") != 0) {
		set_upstream(ps, key, value);
		return 1;
	}
	if (strcmp(section, "blocklist") == 0 && strcmp(key, "access") == 0) {
		if (strcmp(value, "open") == 0)
			ps->cfg->bl_access_open = 1;
		else if (strcmp(value, "domains") == 0)
			ps->cfg->bl_access_open = 0;
		else
			cfg_error(ps, "access: '%s' must be open or domains",
				  value);
		return 1;
	}
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(keys[i].key, key) == 0) {
			/* a second value would silently win */
			if (keys[i].type != K_LIST && ps->seen[i] != 0)
				cfg_error(ps, "%s: already set on line %d", key,
					  ps->seen[i]);
			else
				ps->seen[i] = ps->line;
			set_key(ps, &keys[i], value);
			return 1;
		}
	}
	/* an unknown section was reported at its header */
	if (known_section)
		cfg_error(ps, "unknown key '%s' in [%s]", key, section);
	return 1;
}

static int
section_known_n(const char *name, size_t n)
{
	static const char *const extra[] = {"limits", "upstream"};
	size_t                   i;

	for (i = 0; i < sizeof extra / sizeof extra[0]; i++)
		if (strlen(extra[i]) == n && strncmp(extra[i], name, n) == 0)
			return 1;
	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].section) == n &&
		    strncmp(keys[i].section, name, n) == 0)
			return 1;
	return 0;
}

/* inih calls the handler for keys only: an empty unknown section would
 * pass unseen, so headers are checked as they are read. */
static void
check_header(struct parse_state *ps, const char *line)
{
	const char *p = line, *end;

	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[' || (end = strchr(p, ']')) == NULL)
		return; /* not a header, or inih's syntax error */
	if (!section_known_n(p + 1, (size_t)(end - p - 1)))
		cfg_error(ps, "unknown section [%.*s]", (int)(end - p - 1),
			  p + 1);
}

/* One line for inih, byte by byte so that a NUL, an over-long line or
 * a file that never ends (it was checked to be regular, but it may
 * grow) is an error rather than a silent truncation or a hang. */
static char *
reader(char *buf, int size, void *arg)
{
	struct parse_state *ps = arg;
	int                 ch, n = 0, nul = 0, longl = 0;

	if (ps->errors > CONFIG_ERRORS_MAX) {
		ps->truncated = 1;
		return NULL;
	}
	while ((ch = getc(ps->fp)) != EOF) {
		if (++ps->bytes > CONFIG_FILE_MAX) {
			cfg_error(ps, "file larger than %d bytes",
				  CONFIG_FILE_MAX);
			return NULL;
		}
		if (ch == '\0')
			nul = 1;
		else if (n < size - 2)
			buf[n++] = (char)ch;
		else if (ch != '\n')
			longl = 1;
		if (ch == '\n')
			break;
	}
	if (n == 0 && ch == EOF && !nul && !longl)
		return NULL;
	buf[n] = '\0';
	ps->line++;
	if (nul || longl) {
		/* inih would parse a truncated line as something else */
		if (nul)
			cfg_error(ps, "NUL byte in the line");
		else
			cfg_error(ps, "line longer than %d bytes", size - 2);
		buf[0] = '\0';
	}
	check_header(ps, buf);
	return buf;
}

static int
validate(struct parse_state *ps)
{
	struct fg_config *c = ps->cfg;
	size_t            i;

	ps->line = 0; /* whole-file errors carry line 0 */
	if (c->comp_jid == NULL)
		cfg_error(ps, "[component] jid is required");
	else if (strchr(c->comp_jid, '@') || strchr(c->comp_jid, '/'))
		cfg_error(ps, "[component] jid must be a bare domain");
	if (c->comp_secret == NULL)
		cfg_error(ps, "[component] secret is required");
	if (c->serves.n == 0)
		cfg_error(ps, "[component] serves: at least one server domain");
	if (c->store_backend == NULL || !strcmp(c->store_backend, "sqlite")) {
		if (c->store_path == NULL)
			cfg_error(ps, "[store] path is required");
		if (c->store_dsn != NULL || c->store_password_file != NULL)
			cfg_error(ps, "[store] dsn and password-file need "
				      "backend = postgresql");
	} else if (!strcmp(c->store_backend, "postgresql")) {
		c->store_pg = 1;
#ifndef HAVE_LIBPQ
		cfg_error(ps, "[store] backend = postgresql: this floodgate "
			      "was built without libpq");
#endif
		if (c->store_path == NULL && c->ctl_socket == NULL)
			cfg_error(ps, "[store] backend = postgresql: set "
				      "[control] socket (there is no store "
				      "path to put it beside)");
	} else
		cfg_error(ps,
			  "[store] backend '%s' is not sqlite or "
			  "postgresql",
			  c->store_backend);
	for (i = 0; i < c->admins.n; i++)
		if (strchr(c->admins.v[i], '@') == NULL)
			cfg_error(ps, "[admins] '%s' is not a bare JID",
				  c->admins.v[i]);
	for (i = 0; i < c->trap_jids.n; i++)
		if (strchr(c->trap_jids.v[i], '@') == NULL ||
		    strchr(c->trap_jids.v[i], '/') != NULL)
			cfg_error(ps,
				  "[detect.traps] jids: '%s' is not a bare JID",
				  c->trap_jids.v[i]);
	if (!(c->throttle_at < c->quarantine_at &&
	      c->quarantine_at < c->block_at))
		cfg_error(ps, "[policy] need throttle-at < quarantine-at < "
			      "block-at");
	if (c->hysteresis >= 1.0)
		cfg_error(ps, "[policy] hysteresis must be below 1");
	if (c->half_life_s <= 0)
		cfg_error(ps, "[policy] half-life must be positive");
	/* it is written into login links and the cookie's Secure flag */
	if (c->http_public_url != NULL &&
	    ((strncmp(c->http_public_url, "https://", 8) != 0 &&
	      strncmp(c->http_public_url, "http://", 7) != 0) ||
	     c->http_public_url[strcspn(c->http_public_url, " \t\"'<>\\")] !=
		 '\0'))
		cfg_error(ps,
			  "[http] public-url must be an http:// or https:// "
			  "URL without blanks or quotes");
	if (c->alerts_webhook != NULL &&
	    strncmp(c->alerts_webhook, "https://", 8) != 0)
		cfg_error(ps, "[alerts] webhook must be an https:// URL");
	if (c->alerts_interval_s == 0)
		cfg_error(ps, "[alerts] interval must be at least 1s");
	if (c->habit_window_ms < 24000)
		cfg_error(ps, "[detect.login] habit-window: at least 24s (it "
			      "is counted in 24 parts)");
	if (c->log_facility != NULL && log_facility_parse(c->log_facility) < 0)
		cfg_error(ps,
			  "[log] facility '%s' is not daemon, user or "
			  "local0..local7",
			  c->log_facility);
	return ps->errors ? -1 : 0;
}

/* Only a regular file of bounded size: /dev/zero or a FIFO would keep
 * the parser (and floodgated -n) busy for ever. */
static FILE *
open_config(const char *path)
{
	struct stat st;
	FILE       *fp;
	int         fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		log_warnx("%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto fail;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		log_warn("%s", path);
		goto fail;
	}
	return fp;
fail:
	close(fd);
	return NULL;
}

struct fg_config *
config_load(const char *path)
{
	struct parse_state ps;
	struct fg_config  *c;
	int                r;

	c = xmalloc(sizeof *c);
	config_defaults(c);
	c->path = xstrdup(path);
	memset(&ps, 0, sizeof ps);
	ps.cfg = c;
	ps.path = path;
	ps.seen = xcalloc(NKEYS, sizeof *ps.seen);
	if ((ps.fp = open_config(path)) == NULL)
		goto fail;
	r = ini_parse_stream(reader, &ps, handler, &ps);
	fclose(ps.fp);
	if (r > 0 && ps.errors == 0) {
		/* inih's own syntax error: it reports the first bad line */
		ps.line = r;
		cfg_error(&ps, "syntax error (expected [section] or "
			       "key = value)");
	} else if (r < 0) {
		cfg_error(&ps, "cannot parse (%d)", r);
	}
	if (ps.errors > CONFIG_ERRORS_MAX)
		log_warnx("%s: %d errors, %s", path, ps.errors,
			  ps.truncated ? "gave up reading"
				       : "only the first were shown");
	if (ps.errors)
		goto fail;
	if (validate(&ps) == -1)
		goto fail;
	free(ps.seen);
	return c;
fail:
	free(ps.seen);
	config_free(c);
	return NULL;
}

void
config_free(struct fg_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->comp_jid);
	free(c->comp_secret);
	free(c->comp_server);
	strlist_free(&c->serves);
	free(c->store_path);
	free(c->store_backend);
	free(c->store_dsn);
	free(c->store_password_file);
	strlist_free(&c->admins);
	free(c->http_listen);
	free(c->http_public_url);
	free(c->ctl_socket);
	free(c->ctl_group);
	free(c->user);
	free(c->pidfile);
	free(c->log_ident);
	free(c->log_facility);
	strlist_free(&c->bl_domains);
	for (i = 0; i < c->nupstreams; i++) {
		free(c->upstreams[i].service);
		free(c->upstreams[i].node);
	}
	free(c->upstreams);
	strlist_free(&c->upstream_files);
	strlist_free(&c->report_forward_to);
	free(c->spamtrap_file);
	free(c->alerts_webhook);
	free(c->alerts_ca_file);
	free(c->alerts_state);
	strlist_free(&c->trap_jids);
	free(c->trap_file);
	free(c->lists_jids);
	free(c->lists_domains);
	free(c->lists_url_hosts);
	free(c);
}

int
config_link_changed(const struct fg_config *a, const struct fg_config *b)
{
	return strcmp(a->comp_jid, b->comp_jid) != 0 ||
	       strcmp(a->comp_secret, b->comp_secret) != 0 ||
	       strcmp(a->comp_server, b->comp_server) != 0 ||
	       a->comp_port != b->comp_port;
}
