/* SPDX-License-Identifier: ISC */
/*
 * floodgate - what admins do, shared by the ad-hoc commands
 * (component/adhoc*.c) and floodgatectl's control socket
 * (admin/control.c), so that both validate and act identically.
 *
 * Subjects are typed as text: a bare JID is an account, a domain is a
 * domain, an address is an ip, an address/24 (IPv4) or /48 (IPv6) is a
 * prefix; "account:", "domain:", "ip:" or "prefix:" in front forces the
 * type. Every action goes through pol_admin(), which is durable in the
 * store before it returns and pushes the verdict to the servers through
 * the policy's verdict callback.
 */
#ifndef FG_ADMINOPS_H
#define FG_ADMINOPS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../core/types.h"

struct policy;
struct store;
struct web;

#define ADM_KEY_MAX 2048   /* bytes of a canonical subject key */
#define ADM_MSG_MAX 512    /* bytes of a result message */
#define ADM_TEXT_MAX 512   /* bytes of a reason / actor kept for show */
#define ADM_AUDIT_MAX 10   /* audit entries shown by inspect */
#define ADM_REASON_MAX 400 /* bytes of a reason an admin may give */

/* What an admin verb works on; borrowed, store may be NULL. */
struct adm_env {
	struct policy          *pol;
	struct store           *store;
	const struct fg_config *cfg;
	/* floodgatectl reload: 0, 1 when a trap or list file was not
	 * loaded (the rest was), -1 when the configuration was not; NULL
	 * where it makes no sense */
	int (*reload)(void *);
	void *reload_arg;
	struct web *web; /* the moderation page (web.h); NULL when off */
};

enum adm_verb {
	ADM_UNBLOCK,
	ADM_BLOCK,
	ADM_QUARANTINE,
	ADM_ALLOWLIST,
	ADM_BLOCK_DOMAIN,
	ADM_UNBLOCK_DOMAIN,
	ADM__MAX
};

/* Result codes, HTTP-like; floodgatectl maps them to its exit codes. */
#define ADM_OK 200
#define ADM_BAD 400      /* bad input: exit 2 */
#define ADM_REFUSED 403  /* not allowed on that subject: exit 1 */
#define ADM_NOTFOUND 404 /* nothing to act on: exit 1 */
#define ADM_FAILED 500   /* store or table failure: exit 1 */

struct adm_result {
	int  status;
	char msg[ADM_MSG_MAX];
};

/* One recent audit entry of a subject. */
struct adm_audit {
	int64_t         at; /* unix ms */
	enum fg_verdict old_v, new_v;
	char            actor[128];
	char            reason[256];
	char            signals[128];
};

/* Everything inspect shows about one subject. */
struct adm_view {
	enum fg_subj     type;
	char             key[ADM_KEY_MAX];
	int              known; /* any state or audit on record */
	double           score;
	enum fg_verdict  verdict;   /* automatic */
	enum fg_verdict  effective; /* after the override */
	int64_t          expires;   /* unix ms; 0 none */
	enum fg_override override;
	char             actor[ADM_TEXT_MAX];
	char             reason[ADM_TEXT_MAX];
	char             signals[256];
	const char      *pubsub_node; /* where this kind would be listed */
	int              published;   /* on that node now */
	struct adm_audit audit[ADM_AUDIT_MAX];
	size_t           naudit;
};

/* One row of list. */
struct adm_entry {
	enum fg_subj     type;
	char            *key;
	double           score;
	enum fg_verdict  effective;
	enum fg_verdict  enforced; /* below effective: only observed */
	int64_t          expires;
	enum fg_override override;
	char            *actor;
	char            *reason;
};

struct adm_list {
	struct adm_entry *v;
	size_t            n;
};

const char *adm_verb_name(enum adm_verb);
int         adm_verb_parse(const char *, enum adm_verb *);

/* A subject type as admins type it: account (or jid, local or remote),
 * domain, ip, prefix; 0 or -1. */
int adm_subj_parse(const char *, enum fg_subj *);
/* Subject text -> type and canonical key; -1 with a sentence in err. */
/* 1 when domain is one of the server domains we serve */
int adm_served(const struct fg_config *, const char *domain);
int adm_parse_subject(const char *, enum fg_subj *, char *key, size_t keysz,
		      char *err, size_t errsz);
/* "", "forever", "never", "0" -> 0 (no expiry); else 1h, 7d, ... */
int adm_parse_duration(const char *, int64_t *ms);
/* A time: "2024-05-01T12:00:00Z", "2024-05-01 12:00", "2024-05-01"
 * (UTC), unix seconds, or "90m" / "2h ago" before now. */
int adm_parse_time(const char *, int64_t now_ms, int64_t *at_ms);
/* "2024-05-01T12:00:00Z" into buf; "-" for 0. */
const char *adm_fmt_time(int64_t ms, char *buf, size_t bufsz);

/* A duration as an admin would type it: "7d", "36h", "90m", "45s". */
const char *adm_fmt_duration(int64_t ms, char *buf, size_t bufsz);

/* Is this (full or bare) JID one of the configured admins? */
int adm_is_admin(const struct fg_config *, const char *jid);

/* Validate and act. subject, reason and duration are admin text. */
void adm_act(const struct adm_env *, enum adm_verb, const char *actor,
	     const char *subject, const char *reason, const char *duration,
	     struct adm_result *);
/* Act on an already canonical key (bulk actions of registered-since). */
void adm_act_key(const struct adm_env *, enum adm_verb, const char *actor,
		 enum fg_subj, const char *key, const char *reason,
		 int64_t duration_ms, struct adm_result *);

/* ADM_OK (known) or ADM_NOTFOUND (nothing on record; v still filled),
 * ADM_BAD on a bad subject. */
void adm_inspect(const struct adm_env *, const char *subject, struct adm_view *,
		 struct adm_result *);

/* Listed subjects (effective verdict not allow), sorted by type and
 * key; verdict filter FG_V__MAX and type filter FG_SUBJ__MAX mean all,
 * and FG_V_ALLOW lists the allowlisted subjects instead. */
void adm_list_get(const struct adm_env *, enum fg_verdict, enum fg_subj,
		  struct adm_list *);
/* The verdict filter of list from admin text: all (or NULL), throttle,
 * quarantine, block, allowlist; 0 or -1. */
int adm_list_filter(const char *, enum fg_verdict *);
#define ADM_LIST_FILTERS "all, throttle, quarantine, block or allowlist"
void adm_list_free(struct adm_list *);

/* Named figures for stats: listed subjects by verdict, the policy's and
 * the store's counters. Returns how many were written. */
struct adm_stat {
	const char *name;
	uint64_t    value;
};
#define ADM_STATS_MAX 32
size_t adm_stats(const struct adm_env *, struct adm_stat *, size_t);

#endif
