/* SPDX-License-Identifier: ISC */
/*
 * floodgate - policy: turns gate questions and meter events into
 * decisions, keeps reputation per subject, and maps score to verdict.
 *
 * Everything here runs in memory on the event thread; the store is only
 * written behind (store_queue_*) except for admin actions, which commit
 * before pol_admin() returns.
 */
#ifndef FG_POLICY_H
#define FG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../core/types.h"

struct policy;
struct store;
struct store_audit;
struct store_subject;

#define POL_UFP_MAX 3  /* URL fingerprints per message (doc/PROTOCOL.md) */
#define POL_UFP_HEX 64 /* hex characters of one URL fingerprint, at most */
#define POL_HFP_MAX 12 /* URL host fingerprints per message (PROTOCOL.md) */
#define POL_HFP_HEX 16 /* hex characters of one host fingerprint, exactly */

/* A synchronous gate question from a bridge module. Strings borrowed. */
struct pol_gate {
	enum fg_kind kind;   /* subscribe, stranger-message, register,
				inbound-subscribe, inbound-stranger-message */
	const char *from;    /* bare JID of the sender / registering JID */
	const char *to;      /* bare JID of the recipient; may be NULL */
	const char *ip;      /* sender IP if known; may be NULL */
	const char *fp;      /* body fingerprint (hex); may be NULL */
	int         contact; /* recipient has a subscription with sender */
	/* URL fingerprints (lowercase hex), ufp[0 .. nufp - 1]; own copies,
	 * so the struct stays valid when copied */
	char ufp[POL_UFP_MAX][POL_UFP_HEX + 1];
	int  nufp;
	/* URL host fingerprints (16 lowercase hex digits each), own copies */
	char hfp[POL_HFP_MAX][POL_HFP_HEX + 1];
	int  nhfp;
};

/* The answer. condition/text are static strings, never NULL on deny. */
struct pol_answer {
	int             allow;
	const char     *condition; /* XMPP stanza error condition */
	const char     *text;      /* for the user/admin */
	enum fg_verdict verdict; /* effective verdict of the deciding subject */
	int             drop;    /* deny: refuse silently ([actions]) */
	int             cause;   /* deny: enum fg_cause; -1 none (a rate) */
};

/* Asynchronous meter events. */
enum pol_ev_type {
	POL_EV_MESSAGE,       /* jid -> to, a message to a contact */
	POL_EV_SESSION_START, /* jid (full), ip, login */
	POL_EV_SESSION_END,   /* jid (full), ip, duration_ms */
	POL_EV_AUTH_OK,       /* login as typed, ip */
	POL_EV_AUTH_FAIL,     /* login as typed, ip, user_exists */
	POL_EV_REGISTERED,    /* jid, ip */
	POL_EV_REPORT,        /* jid = reporter, to = reported, reason */
	POL_EV_PEER_REPORT,   /* jid = reporting server's domain, to =
				 reported local account, reason */
	POL_EV__MAX
};

struct pol_event {
	enum pol_ev_type type;
	const char      *jid;
	const char      *to;
	const char      *ip;
	const char      *login; /* login name as the client typed it */
	const char      *reason;
	const char      *fp; /* body fingerprint; may be NULL */
	int64_t          duration_ms;
	int              user_exists; /* -1 unknown, 0 no, 1 yes */
	int              nufp;        /* entries of ufp ... */
	int              nhfp;        /* ... and of hfp below */
	uint32_t         count; /* POL_EV_MESSAGE: messages this event stands
				   for (aggregated per pair by the module);
				   0 means 1 */
	uint64_t acct_hash;     /* sessions: pol_account_hash(jid) when the
				   caller keeps it (a replay); 0 = made here */
	const char *acct;       /* sessions: jid's bare JID, already as
				   jid_bare makes it, when the caller vouches
				   (a replay); NULL = made here */
	size_t   acct_len;
	uint32_t sess_hash; /* sessions: tells the session from the account's
			       others (a replay's hash of its session id);
			       0 = made here from jid */
	/* last, and read only up to nufp/nhfp: a caller sending millions
	 * of events zeroes the fields before them (POL_EVENT_HEAD) */
	char ufp[POL_UFP_MAX][POL_UFP_HEX + 1]; /* as in pol_gate */
	char hfp[POL_HFP_MAX][POL_HFP_HEX + 1]; /* as in pol_gate */
};
#define POL_EVENT_HEAD offsetof(struct pol_event, ufp)

/* What inspect/list show about one subject. Strings valid until the next
 * call into the policy. */
struct pol_info {
	enum fg_subj    type;
	const char     *key;
	double          score;     /* decayed to now */
	enum fg_verdict verdict;   /* automatic */
	enum fg_verdict effective; /* after overrides */
	enum fg_verdict enforced;  /* what is pushed and refused: below
				      effective while only observed */
	int              drop;     /* its refusals are silent ([actions]) */
	int64_t          expires;  /* unix ms, 0 none */
	int64_t          updated;  /* unix ms of its last change; 0 never */
	enum fg_override override;
	const char      *actor;
	const char      *reason;
	const char      *signals; /* recent signals, "name=weight ..." */
};

/* Called for every change of an effective verdict (push to servers,
 * publish on pubsub). key borrowed. */
typedef void (*pol_verdict_cb)(enum fg_subj, const char *key,
			       enum fg_verdict effective, int64_t expires,
			       const char *reason, void *);
typedef void (*pol_info_cb)(const struct pol_info *, void *);

/* Things an operator wants to hear about (alerts). Strings borrowed. */
enum pol_note_what {
	POL_NOTE_VERDICT,      /* automatic quarantine or block */
	POL_NOTE_REG_WAVE,     /* a registration wave started */
	POL_NOTE_CONTENT_WAVE, /* a content or URL wave started */
	POL_NOTE_REPORT,       /* a spam report arrived */
	POL_NOTE_TRAP,         /* a spamtrap was touched */
	POL_NOTE_OWN_LISTED,   /* one of our domains is on an upstream list */
	POL_NOTE__MAX
};
struct pol_note {
	enum pol_note_what what;
	enum fg_subj       type; /* the subject to inspect */
	const char        *key;  /* NULL: none (a global wave) */
	enum fg_verdict    verdict;
	int                would; /* computed, not enforced (observe) */
	int64_t            since; /* waves: unix ms of the cut-off */
	const char        *text;  /* untrusted parts possible: escape */
};
typedef void (*pol_note_cb)(const struct pol_note *, void *);

struct policy *pol_new(const struct fg_config *, struct store *);
void           pol_free(struct policy *);
/* New limits/thresholds/admins from a reloaded config; state kept. */
void pol_reconfigure(struct policy *, const struct fg_config *);
void pol_set_verdict_cb(struct policy *, pol_verdict_cb, void *);
void pol_set_note_cb(struct policy *, pol_note_cb, void *);
/* The verdict callback does not read the reason of a score change (it
 * gets NULL): with no store and no note callback either, the text is
 * then never formatted, which a replay of a whole log feels. */
void pol_set_verdict_cb_terse(struct policy *, int terse);
/* Tell the note callback (if any); what detectors call when they see
 * something an operator should hear of. would is filled in from the
 * current context when the caller leaves it 0. */
void pol_note(struct policy *, struct pol_note *);
/* A spamtrap was touched by key (an IP or a JID): the trap alert. Any
 * detector that keeps traps calls this. */
void pol_trap_hit(struct policy *, enum fg_subj, const char *key,
		  const char *trap);
/* A registration wave started at start_ms, globally (where "global") or
 * in one network. Without this callback the daemon logs each one; an
 * offline replay (floodgatectl sweep) sums them up in its report. */
typedef void (*pol_wave_cb)(const char *where, int64_t start_ms, void *);
void pol_set_wave_cb(struct policy *, pol_wave_cb, void *);

void pol_gate(struct policy *, const struct pol_gate *, struct pol_answer *);
void pol_event(struct policy *, const struct pol_event *);
/* Add weight (negative for good behaviour) to a subject's score. */
void pol_signal(struct policy *, enum fg_subj, const char *key,
		const char *signal, double weight);

/* Admin override; FG_OVR_NONE clears it (unblock) and resets the
 * automatic state. Durable before return; -1 if the store failed. */
int pol_admin(struct policy *, enum fg_subj, const char *key, enum fg_override,
	      const char *actor, const char *reason, int64_t duration_ms);

/* 0 and fills info (a subject never seen reads as allow, score 0). */
int pol_inspect(struct policy *, enum fg_subj, const char *key,
		struct pol_info *);
/* The subject's score now (0 if unknown): pol_inspect without the text,
 * for a caller that only wants the number often (an offline replay). */
double pol_score(struct policy *, enum fg_subj, const char *key);

#define POL_EVIDENCE_N 4    /* recent signals a subject keeps */
#define POL_SIGTEXT_MAX 256 /* bytes of "name=weight ..." text */

/* A subject's recent signals, copied out to be written as text later:
 * a replay that looks after every signal but prints once keeps these
 * instead of making the text each time. */
struct pol_evidence {
	float   w[POL_EVIDENCE_N];
	uint8_t name[POL_EVIDENCE_N]; /* the policy's signal name index */
	uint8_t head, n;
};

/* pol_score for a key already in the form pol_norm_key gives (len
 * bytes; anything else reads as unknown), with its evidence into *ev
 * when ev is not NULL (none for an unknown subject). For a replay that
 * looks at the same subjects millions of times. */
double pol_score_norm(struct policy *, enum fg_subj, const char *key,
		      size_t len, uint64_t h, struct pol_evidence *ev);
/* The policy's hash of such a key (h above; 0 there = made there), and
 * a hint to start loading its subject: its table slot, or (deep, once
 * the slot is in cache) the subject. */
uint64_t pol_subject_hash(enum fg_subj, const char *key, size_t len);
void     pol_prefetch_subject(const struct policy *, uint64_t h, int deep);
/* The "name=weight ..." text of evidence (as pol_info.signals), into
 * buf; returns buf. */
const char *pol_evidence_text(const struct policy *,
			      const struct pol_evidence *, char *buf,
			      size_t bufsz);
/* Every subject whose effective verdict is not allow. */
void pol_foreach_listed(struct policy *, pol_info_cb, void *);
/* Every subject an admin allowlisted (which pol_foreach_listed skips). */
void pol_foreach_allowlisted(struct policy *, pol_info_cb, void *);

/* A subject another instance sharing the store changed: the store's
 * change callback (store_set_change_cb) with the policy as its argument.
 * Adopted unless our state of the subject is newer; an effective change
 * is pushed like our own. */
void pol_shared_change(const struct store_subject *, void *policy);

/* Periodic work (decay expiry, bucket sweep); call from a timer. */
void pol_tick(struct policy *);

struct pol_stats {
	uint64_t gates;
	uint64_t denied;
	uint64_t events;
	uint64_t subjects;
	uint64_t buckets;
	uint64_t bucket_evictions;
	uint64_t verdict_changes;
	uint64_t subject_evictions; /* plain subjects dropped for room */
	uint64_t subject_drops;     /* signals lost: table full of verdicts */
	uint64_t list_rejects;      /* list/trap files not loaded: bad lines */
	/* gates that would have been refused by this verdict (throttle: a
	 * rate) had it been enforced: observe mode, enforce = no */
	uint64_t would[FG_V__MAX];
	uint64_t dropped; /* refusals answered with action drop */
	uint64_t signals; /* evidence added by the detectors */
};
void pol_get_stats(const struct policy *, struct pol_stats *);
/* How many signals so far (cheap): a score only rises with one, so a
 * replay that keeps peaks looks only when this has moved. */
uint64_t pol_signals(const struct policy *);
/* For a replay that knows its next events (floodgatectl sweep): the
 * account of jid hashed once (0 when jid is not valid), and a hint to
 * start loading what its session events will touch: deep = 0 the table
 * set, deep = 1 (a few events later) the record. */
uint64_t pol_account_hash(const char *jid);
void     pol_prefetch_account(const struct policy *, uint64_t h, int deep);

/* The audit row of one verdict change; every row is built here so all
 * have the same shape. The strings are borrowed. */
void pol_audit_row(struct store_audit *, int64_t at_ms, enum fg_subj,
		   const char *key, enum fg_verdict old_v,
		   enum fg_verdict new_v, const char *reason,
		   const char *signals, const char *actor);
/* The store rows of an override set without a running daemon (an offline
 * import): the subject as pol_admin() would leave it, and its audit row.
 * expires_ms 0 means never. */
void pol_override_rows(struct store_subject *, struct store_audit *,
		       enum fg_subj, const char *key, enum fg_override,
		       int64_t now_ms, int64_t expires_ms, const char *reason,
		       const char *signals, const char *actor);

#endif
