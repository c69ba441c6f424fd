/* SPDX-License-Identifier: ISC */
/*
 * floodgate - configuration: the INI file parsed into one struct.
 *
 * Every tunable has a default in config_defaults(); unknown sections and
 * keys, and bad values, are errors reported as "file:line: message".
 */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#define CONFIG_MAX_LIST 256 /* entries in one list-valued key */

/* A rate "N/unit burst M": N events per per_ms, bursts of up to M. */
struct fg_rate {
	uint32_t count;  /* events per period; 0 = unlimited (not set) */
	uint64_t per_ms; /* period in milliseconds */
	uint32_t burst;  /* bucket depth in events, >= 1 */
};

struct fg_strlist {
	char **v;
	size_t n;
};

struct fg_upstream {
	char *service; /* pubsub service JID */
	char *node;    /* node name, e.g. spam_source_domains */
};

struct fg_config {
	char *path; /* file this was read from */

	/* [component] */
	char             *comp_jid;
	char             *comp_secret;
	char             *comp_server;
	int               comp_port;
	struct fg_strlist serves; /* server domains whose events are trusted */
	uint32_t          gate_timeout_ms; /* what modules are told to use */
	uint32_t          comp_max_stanza; /* bytes per received stanza */
	uint32_t          comp_max_depth;  /* element levels per stanza */

	/* [store] */
	char    *store_path;
	uint32_t store_flush_ms;   /* write-behind period */
	uint32_t store_flush_rows; /* flush early past this many rows */
	/* audit, registrations, reports are kept this long; 0 forever */
	uint32_t store_retention_s;
	/* backend = postgresql: several instances share one database */
	char *store_backend; /* "sqlite" (default) or "postgresql" */
	int   store_pg;      /* backend is postgresql */
	char *store_dsn;     /* libpq connection string; NULL: environment */
	char *store_password_file; /* password on its first line */

	/* [admins] */
	struct fg_strlist admins;

	/* [limits] */
	struct fg_rate limits[FG_SUBJ__MAX][FG_KIND__MAX];
	size_t         max_keys; /* bucket table cap, entries */

	/* [policy] */
	double   half_life_s; /* reputation decay half-life, seconds */
	double   throttle_at; /* score thresholds */
	double   quarantine_at;
	double   block_at;
	double   hysteresis;    /* fraction below threshold to step down */
	uint32_t verdict_ttl_s; /* automatic verdict lifetime, seconds */
	double   w_overflow[FG_KIND__MAX]; /* weight per bucket overflow */
	double   w_report;                 /* spam report (full standing) */
	double   w_spamtrap;
	double   w_upstream; /* listed by an upstream list */

	/* [http] */
	char *http_listen; /* host:port, loopback only; NULL = off */
	/* where admins reach /admin (a reverse proxy's https URL); login
	 * links start with it; NULL = http://listen */
	char *http_public_url;

	/* [control] */
	char *ctl_socket; /* floodgatectl UNIX socket path */
	char *ctl_group;  /* group that may use it (mode 0660); NULL = none */

	/* [daemon] */
	char *user;    /* switch to this user once everything is open */
	char *pidfile; /* written after start-up; NULL = none */

	/* [log] */
	char *log_ident;    /* syslog ident; NULL = "floodgated" */
	char *log_facility; /* syslog facility name; NULL = daemon */

	/* [blocklist] */
	int               bl_access_open; /* 1 = open, 0 = served + peers */
	struct fg_strlist bl_domains;     /* peers: may read, places kept */
	int               bl_publish_quarantine;

	/* [upstream] */
	struct fg_upstream *upstreams;
	size_t              nupstreams;
	struct fg_strlist   upstream_files; /* plain domain lists */

	/* [reports] (XEP-0377 reports sent to other servers) */
	int               report_send;       /* 0: never send any */
	struct fg_strlist report_forward_to; /* collector JIDs */

	/* [detect] and [detect.*] (doc/detectors.md) */
	char    *spamtrap_file;      /* user names, one a line */
	uint32_t probation_s;        /* wave accounts stay quarantined */
	uint32_t probation_contacts; /* contacts that end probation early */
	double   wave_factor;        /* rate over baseline that is a wave */
	uint32_t wave_min;           /* registrations/min before any wave */
	uint32_t content_accounts;   /* distinct senders that make a wave */
	uint32_t content_window_s;
	uint32_t short_session_ms;    /* a "short" session, ms */
	uint32_t short_sessions;      /* short sessions in window for a hit */
	uint32_t auth_user_fails;     /* failures on one user name per hour */
	uint32_t auth_global_unknown; /* unknown-user failures per hour */
	uint32_t short_window_ms;     /* window for short sessions, ms */
	uint32_t overlap;             /* concurrent sessions for a hit */
	uint32_t auth_ip_fails;       /* failures per IP per hour */
	uint32_t auth_prefix_fails;   /* failures per prefix per hour */

	/* [policy] mode, [detect.*] enforce, [actions] (doc/observe.md) */
	int observe;              /* 1: mode = observe, nothing refused */
	int enforce[FG_DET__MAX]; /* 0: that detector only observes */
	int drop[FG_CAUSE__MAX];  /* 1: refuse silently, 0: bounce */

	/* [alerts] (doc/alerts.md) */
	char    *alerts_webhook; /* https:// URL; NULL = none */
	char    *alerts_ca_file; /* PEM trusted for it; NULL = system */
	char    *alerts_state;   /* opted-out admins; NULL = store + .alerts */
	uint32_t alerts_interval_s;  /* digest at most this often per admin */
	uint32_t alerts_link_down_s; /* link down this long: an alert, s */

	/* remote accounts: [detect.traps], [lists], [limits] reply-window */
	struct fg_strlist trap_jids;  /* trap recipients (bare JIDs) */
	char             *trap_file;  /* more of them, one a line */
	int               trap_block; /* action: 1 block, 0 quarantine */
	char             *lists_jids; /* operator list files */
	char             *lists_domains;
	char             *lists_url_hosts;
	int               lists_block;     /* action: 1 block, 0 quarantine */
	uint64_t          reply_window_ms; /* pushed to modules; 0 = off */

	/* [detect.login] connection habits; 0 turns one off */
	uint32_t spread_nets;     /* networks (/16, /32) in a day for a hit */
	uint32_t clock_hours;     /* clock hours of a day with short ones */
	uint32_t shared_accounts; /* accounts short on one address in 1 h */
	uint32_t habit_window_ms; /* the "day" of the habits above, ms */
};

void config_defaults(struct fg_config *);
/* Parse path into a fresh config; NULL after printing every error. */
struct fg_config *config_load(const char *path);
void              config_free(struct fg_config *);

/* Shared parsers, also used by floodgatectl and ad-hoc forms. */
int config_parse_rate(const char *, struct fg_rate *, const char **err);
int config_parse_duration_ms(const char *, uint64_t *);
int config_parse_bool(const char *, int *);

/* Is jid (bare, case-insensitive on domain) in the list? */
int config_list_has(const struct fg_strlist *, const char *);

/* 1 when the link settings (jid, secret, server, port) differ. */
int config_link_changed(const struct fg_config *, const struct fg_config *);

#endif
