/* SPDX-License-Identifier: ISC */
/*
 * floodgate - policy internals shared by policy.c, verdict.c,
 * reputation.c, subject.c, admin.c and the detectors (policy/detect_*.c).
 *
 * A detector is a static struct pol_detector listed in the table at the
 * top of policy.c; it sees every gate (and may turn an allow into a deny),
 * every meter event and every tick, and acts through pol_signal() /
 * pol_signal_key() (score) or pol_auto_verdict() (a direct automatic
 * verdict, e.g. probation for accounts created inside a wave).
 */
#ifndef FG_POLICY_INT_H
#define FG_POLICY_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "../storage/store.h"
#include "hits.h"
#include "policy.h"

#define POL_KEY_MAX 2048       /* bytes: bare JID 1023 + '@' + 1023 + NUL */
#define POL_IP_MAX 64          /* bytes: canonical address or CIDR text */
#define POL_SIGNAMES_MAX 64    /* distinct signal names kept; then "other" */
#define POL_SIGNAMES_SLOTS 128 /* their index: a power of two, > MAX */
#define POL_ACTOR_OBSERVE "observe" /* store actor of an observed verdict */
#define REP_NSIG POL_EVIDENCE_N     /* recent signals kept per subject */

/* One subject (account, domain, IP, prefix) with a reputation. One
 * allocation, key included. */
struct rep_subj {
	uint64_t hash;        /* rep_hash(type, key) */
	double   score;       /* as of score_at */
	int64_t  score_at;    /* unix ms */
	int64_t  expires;     /* automatic verdict expiry, unix ms; 0 none */
	int64_t  ovr_expires; /* override expiry, unix ms; 0 none */
	int64_t  updated;     /* unix ms of the last change */
	char    *actor;       /* override's author; NULL if none */
	char    *reason;      /* override's reason; NULL if none */
	LIST_ENTRY(rep_subj) listed; /* verdict or override set */
	LIST_ENTRY(rep_subj) dirty;  /* score not yet queued to the store */
	float   sig_w[REP_NSIG];     /* ring of recent signals */
	uint8_t sig_name[REP_NSIG];  /* index into policy signal names */
	uint8_t sig_head;
	uint8_t sig_n;
	uint8_t type;     /* enum fg_subj */
	uint8_t verdict;  /* enum fg_verdict, automatic */
	uint8_t override; /* enum fg_override */
	uint8_t flags;    /* REP_F_* */
	/* the part of verdict that is enforced: a verdict reached while
	 * observing (observe mode, a detector with enforce = no) is
	 * computed and audited but not pushed or refused */
	uint8_t  enf;   /* enum fg_verdict, <= verdict */
	uint8_t  cause; /* enum fg_cause of the last raise ([actions]) */
	uint16_t keylen;
	char     key[];
};

#define REP_F_LISTED 0x01
#define REP_F_DIRTY 0x02

LIST_HEAD(rep_list, rep_subj);

/* The subject table: open addressing on the keyed hash, bounded. */
struct rep;

struct rep      *rep_new(size_t cap);
void             rep_free(struct rep *);
uint64_t         rep_hash(enum fg_subj, const char *, size_t);
struct rep_subj *rep_find(const struct rep *, enum fg_subj, const char *,
			  size_t, uint64_t);
/* Find or create. When full, evicts the allow-state, override-free subject
 * with the lowest score among a sample; NULL (counted) if none is
 * evictable. */
struct rep_subj *rep_get(struct rep *, enum fg_subj, const char *, size_t,
			 uint64_t, int64_t now_ms, double half_life_ms);
/* Find or create for an admin action: evicts automatic state when it
 * must, never an override; NULL only when the index itself is full. */
struct rep_subj *rep_get_admin(struct rep *, enum fg_subj, const char *, size_t,
			       int64_t now_ms, double half_life_ms);
void             rep_prefetch(const struct rep *, uint64_t);
/* Once the slot is in cache (rep_prefetch): the subject in it. */
void   rep_prefetch_subj(const struct rep *, uint64_t);
void   rep_del(struct rep *, struct rep_subj *);
size_t rep_count(const struct rep *);
size_t rep_bytes(const struct rep *); /* index only, subjects apart */
void   rep_counters(const struct rep *, uint64_t *evictions, uint64_t *drops);
struct rep_list *rep_listed(struct rep *);
struct rep_list *rep_dirty(struct rep *);
/* Keep s on the listed list iff it has a verdict or an override. */
void rep_relist(struct rep *, struct rep_subj *);
void rep_mark_dirty(struct rep *, struct rep_subj *);
void rep_clean(struct rep_subj *);
/* Drop up to budget slots' worth of forgotten subjects (allow, no
 * override, not dirty, score decayed below REP_FORGET); returns count. */
size_t rep_sweep(struct rep *, int64_t now_ms, double half_life_ms,
		 size_t budget);

/* Score math: exponential decay with the given half-life. */
double rep_decay(double score, int64_t dt_ms, double half_life_ms);
double rep_score(const struct rep_subj *, int64_t now_ms, double half_life_ms);
/* Fold the decay into the stored score, add w, clamp to [0, ceiling]. */
void rep_add(struct rep_subj *, double w, int64_t now_ms, double half_life_ms,
	     double ceiling);
void rep_note(struct rep_subj *, unsigned name, double w);

/* Key normalisation (subject.c): each returns the length written to out
 * (NUL-terminated) or -1 when the input is not a valid key. */
int pol_norm_jid(const char *, char *, size_t);    /* bare, case folded */
int pol_norm_domain(const char *, char *, size_t); /* domain of a JID */
int pol_norm_ip(const char *, char *, size_t);     /* canonical address */
/* The /24 (IPv4) or /48 (IPv6) containing an address or given as CIDR. */
int pol_norm_prefix(const char *, char *, size_t);
int pol_norm_key(enum fg_subj, const char *, char *, size_t);

/* Limits and thresholds derived from a configuration. */
struct pol_params {
	uint64_t T[FG_SUBJ__MAX][FG_KIND__MAX];   /* ns; 0 = no limit */
	uint64_t tau[FG_SUBJ__MAX][FG_KIND__MAX]; /* ns */
	uint64_t thT[FG_SUBJ__MAX][FG_KIND__MAX]; /* while throttled */
	uint64_t thtau[FG_SUBJ__MAX][FG_KIND__MAX];
	double   thr[FG_V__MAX]; /* score that reaches each verdict */
	double   hysteresis;     /* fraction below thr to step down */
	double   half_life_ms;
	int64_t  ttl_ms; /* automatic verdict lifetime */
	double   w_overflow[FG_KIND__MAX];
	double   w_report;
	double   overflow_ceiling; /* rate overflows alone stop here */
	size_t   max_keys;
	int      observe;              /* [policy] mode = observe */
	int      enforce[FG_DET__MAX]; /* [detect.*] enforce */
	int      observe_any;          /* observe, or some enforce = no */
	int      drop[FG_CAUSE__MAX];  /* [actions]: 1 drop, 0 bounce */
	char   **serves;               /* our own server domains */
	size_t   nserves;
};

struct pol_detector {
	const char *name;
	enum fg_det det;   /* its [detect.*] enforce switch */
	int         cause; /* enum fg_cause of what it refuses and raises;
			      -1: by the verdict's level */
	void *(*init)(struct policy *, const struct fg_config *);
	void (*reconfigure)(void *, const struct fg_config *);
	void (*free)(void *);
	/* sees every gate before the core decision (may add signals) */
	void (*pregate)(void *, struct policy *, const struct pol_gate *);
	/* sees every gate after the core decision; may deny, and then sets
	 * the answer's cause (enum fg_cause) when it is not .cause */
	void (*gate)(void *, struct policy *, const struct pol_gate *,
		     struct pol_answer *);
	void (*event)(void *, struct policy *, const struct pol_event *);
	void (*tick)(void *, struct policy *);
};

#define POL_DETECTORS_MAX 16

/* A detector tells the core it has nothing to look at (idle) or has
 * again; called when its configuration or files change. */
void pol_det_idle(struct policy *, const struct pol_detector *, int idle);

struct policy {
	struct pol_params prm;
	struct store     *store; /* NULL: memory only (tests, bench) */
	struct rl_table  *rl;
	struct rep       *rep;
	pol_verdict_cb    cb;
	void             *cb_arg;
	int               cb_terse; /* cb ignores score-change reasons */
	pol_wave_cb       wave_cb;  /* NULL: detect_reg logs each wave */
	void             *wave_arg;
	pol_note_cb       note;
	void             *note_arg;
	/* the detector whose hook runs now (NULL: the core): one store
	 * around each hook; whether it observes and the cause of what it
	 * raises are read from it only when a verdict is raised */
	const struct pol_detector *cur;
	struct pol_stats           st;
	char                      *signames[POL_SIGNAMES_MAX];
	size_t                     nsignames;
	/* signames by a hash of the name: index + 1, 0 = free (every
	 * signal looks its name up; a log replay gives millions) */
	uint8_t sigidx[POL_SIGNAMES_SLOTS];
	void   *det[POL_DETECTORS_MAX];
	/* the detectors with a pregate hook, gathered once: a gate should
	 * not walk the whole table to find the one or two that have one */
	/* detectors (bit = index in detectors[]) with nothing to look at,
	 * e.g. no list loaded: their gate hooks are not called */
	uint32_t idle;
	uint8_t  pre[POL_DETECTORS_MAX];
	uint8_t  npre;
	void    *login; /* the login detector's state, for its prefetches */
	/* hits.c: recent refusals and failed logins, for the web page */
	struct pol_hit *hits;
	uint64_t        hits_seq;
	uint64_t        hit_gate; /* st.gates of the core's last refusal */
	int             hit_i;    /* its deciding subject, 0..3 */
	uint8_t         hit_why;  /* enum pol_hit_why */
	/* what pol_inspect/pol_foreach_listed hand out */
	char ikey[POL_KEY_MAX];
	char isig[POL_SIGTEXT_MAX];
};

/* hits.c: the ring of recent hits; a note is one slot copy. */
void pol_hits_init(struct policy *);
void pol_hits_free(struct policy *);
void pol_hit_note(struct policy *, enum pol_hit_why, enum fg_kind, enum fg_subj,
		  const char *key, size_t len);
/* Which kind of detector refused the answer a (the core allowed it). */
enum pol_hit_why pol_hit_detector(const struct pol_answer *a);

/* The state a detector's init returned for this policy (NULL if the
 * detector is not in the table). */
void *pol_det_state(struct policy *, const struct pol_detector *);
/* Intern a signal name; returns its index (0 = "other" when full). */
/* 1 when domain is one of the server domains we serve ([component]
 * serves), in any case. */
int         pol_serves(const struct policy *, const char *domain);
unsigned    pol_signame(struct policy *, const char *);
const char *pol_signame_str(const struct policy *, unsigned);
/* The recent signals of s, copied. */
void pol_evidence_of(const struct rep_subj *, struct pol_evidence *);
/* "name=weight ..." of the recent signals of s, newest first. */
const char *pol_sigtext(const struct policy *, const struct rep_subj *, char *,
			size_t);
enum fg_verdict pol_effective(const struct rep_subj *);
/* What is enforced of it: the override, else the automatic verdict's
 * enforced part (differs from pol_effective only while observing). */
enum fg_verdict pol_enforced(const struct rep_subj *);
/* The reason a refusal by s's verdict is filed under ([actions]). */
enum fg_cause pol_cause(const struct rep_subj *);
/* Run code as detector d (its enforce switch, its cause): around each
 * hook, and where a detector acts outside one (a list loaded at
 * reconfigure). Give what enter returned back to leave. */
static inline const struct pol_detector *
pol_ctx_enter(struct policy *p, const struct pol_detector *d)
{
	const struct pol_detector *old = p->cur;

	p->cur = d;
	return old;
}
static inline void
pol_ctx_leave(struct policy *p, const struct pol_detector *old)
{
	p->cur = old;
}
/* 1 when what is decided now is only observed. */
int     pol_observing(const struct policy *);
int64_t pol_eff_expires(const struct rep_subj *);
/* A persisted row's state into s (start-up, and other instances'
 * changes to a shared store). */
void pol_restore(struct policy *, struct rep_subj *,
		 const struct store_subject *, int64_t now);

/* Add weight to an already normalised key (hash may be 0 = compute). */
struct rep_subj *pol_signal_key(struct policy *, enum fg_subj, const char *,
				size_t, const char *signal, double weight,
				double ceiling);
/* Re-evaluate the automatic verdict of s now (escalate, expire, renew). */
void pol_eval(struct policy *, struct rep_subj *, int64_t now_ms,
	      const char *why);
/* Re-evaluate s now as if its automatic verdict had expired (a detector
 * withdrew its evidence): it steps down as far as the score allows. No-op
 * under an override or without a verdict. */
void pol_reeval(struct policy *, struct rep_subj *, int64_t now_ms,
		const char *why);
/* Expire s's override and automatic verdict when their time has come. */
void pol_expire(struct policy *, struct rep_subj *, int64_t now_ms);
/* Set an automatic verdict directly (e.g. probation) for ttl_ms. */
int pol_auto_verdict(struct policy *, enum fg_subj, const char *key,
		     enum fg_verdict, int64_t ttl_ms, const char *why);
/* Report a change of s from old (automatic, effective) to its state now:
 * verdict callback, store_subject and store_audit. */
void pol_changed(struct policy *, struct rep_subj *, enum fg_verdict old_v,
		 enum fg_verdict old_eff, enum fg_verdict old_enf,
		 int64_t now_ms, const char *reason, const char *actor);
void pol_params_set(struct pol_params *, const struct fg_config *);
void pol_params_clear(struct pol_params *);
void pol_to_store(const struct policy *, const struct rep_subj *,
		  int64_t now_ms, struct store_subject *);

#endif
