/* SPDX-License-Identifier: ISC */
/*
 * floodgate - sweep's insides, shared by sweep.c (aggregation and the
 * detectors' replay) and sweep_pipe.c (the prefetching pipeline that
 * feeds it).
 */
#ifndef FG_SWEEP_INT_H
#define FG_SWEEP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../policy/policy.h"
#include "idtab.h"
#include "logscan.h"
#include "strtab.h"
#include "sweep.h"

#define SWEEP_LOGIN_MAX 64 /* bytes kept of a case-changed login */
/* Records in flight: each is looked at in stages, LAG records apart,
 * each stage starting the loads the next one needs (table slot, then
 * the account and the session, then the login detector's set, then
 * its record), so that by the time a record is replayed its memory is
 * in cache. 42,000 accounts' state does not fit a CPU cache: without
 * this, every session event waits on some six misses in a row. */
#define SWEEP_PIPE 16 /* ring size, records; power of two */
#define SWEEP_LAG 4   /* records between stages */
#define SWEEP_LINE 64 /* cache line, bytes */

/* What replaying a record touches comes first and is prefetched; the
 * texts that a few accounts get are allocated apart. */
struct acct {
	struct sweep_acct pub;
	uint64_t          lhash; /* pol_account_hash(jid) */
	uint64_t          phash; /* pol_subject_hash(pkey), read with lhash */
	uint64_t          keyh;  /* strtab_hash(jid): a cheap first test */
	uint32_t          iph[SWEEP_IPS_MAX]; /* FNV-1a of pub.ips[i] */
	uint32_t          open_now;
	uint32_t          jidlen;
	int               bare; /* jid is what jid_bare makes of it */
	/* the policy's key of the account: jid itself when bare, else its
	 * own copy; NULL when the policy would refuse it */
	const char         *pkey;
	size_t              pkeylen;
	struct pol_evidence ev;     /* the signals at the peak score ... */
	int                 has_ev; /* ... once there is one */
	int64_t             short_at[SWEEP_SHORT_MIN]; /* ring of end times */
	uint32_t            short_next;
	uint32_t            window_run; /* short ones in the current window */
	char *login;   /* SWEEP_LOGIN_MAX: a case-changed login, or NULL */
	char *signals; /* SWEEP_SIG_MAX: the evidence text, or NULL */
	char  jid[];   /* key copy */
};

struct host {
	struct sweep_host pub;
	char              signals[SWEEP_SIG_MAX];
	char              key[]; /* "ip:" or "prefix:" + key: table key */
};

struct sess {
	struct acct *a;     /* on the free list: the next free one */
	uint64_t     lhash; /* a's, for prefetching before a is loaded */
	uint64_t     phash; /* a's, likewise */
	uint64_t     sidh;  /* the session id's hash; 0 = no id */
	int64_t      start;
	int          pending; /* session-start not replayed yet (Prosody) */
	char         ip[48];  /* the client's, from the auth line */
};

/* A record waiting in the pipeline, its strings copied (the parser's
 * buffer moves on), with the hashes of its keys made once. */
struct qrec {
	struct logscan_rec r;
	uint64_t           sidh; /* sessions: idtab_hash(sid); 0 = none */
	uint64_t           keyh; /* strtab_hash(key) */
	/* the account as stage 2 found it (not looked for a failed login);
	 * NULL: not yet in the table then (accounts are never removed, so
	 * a found one stays valid) */
	struct acct *acct;
	size_t       sidlen, keylen;             /* keylen 0 = no account */
	char         key[2 * LOGSCAN_FIELD_MAX]; /* user@host */
	char         buf[4 * LOGSCAN_FIELD_MAX];
};

#define SWEEP_AUTH_RING 64 /* recent ejabberd auth lines kept for their IP */

/* An ejabberd auth line's IP, until its session's line comes (the next
 * line, or a few lines later on a busy server). */
struct authip {
	size_t sidlen; /* 0 = free */
	char   sid[LOGSCAN_FIELD_MAX];
	char   ip[48];
};

struct sweep {
	struct sweep_opts opts;
	struct strtab    *accts;
	struct idtab     *sessions; /* by the server's session id */
	struct strtab    *fails;    /* failed logins on names not yet seen */
	struct authip     auths[SWEEP_AUTH_RING];
	/* the Prosody session whose start waits for its IP on the next
	 * line (mod_log_auth); without that line it goes without one */
	struct sess  *pend;
	int64_t       pend_t;
	char          pend_sid[LOGSCAN_FIELD_MAX];
	char          pend_user[LOGSCAN_FIELD_MAX];
	size_t        auth_head;
	struct acct  *last;   /* the account acct_get found last */
	struct acct **sorted; /* after sweep_finish */
	size_t        nsorted;
	size_t        nsuspects;
	int           finished;
	int           saw_prosody;
	/* detectors */
	struct fg_config *cfg; /* config_free() frees it */
	struct policy    *pol;
	int64_t           t0, now, last_tick; /* unix s of the log */
	struct strtab    *hosts;
	size_t            hosts_dropped, nprobation;
	struct sweep_wave waves[SWEEP_WAVES_MAX];
	size_t            nwaves, nglobal;
	uint64_t          signals; /* pol_signals() at the last look */
	struct host     **hsorted;
	size_t            nhsorted;
	/* sessions ended, for the next ones: one malloc()/free() pair less
	 * per session (a big log has millions) */
	struct sess *sfree;
	/* the pipeline's last stage, replaying one record (sweep.c): handed
	 * to the pipeline so that it never calls back into sweep.c */
	void (*replay)(struct sweep *, const struct qrec *);
	/* the pipeline: records qout .. qin - 1, at qrec[n % SWEEP_PIPE] */
	uint64_t    qin, qout;
	struct qrec q[SWEEP_PIPE];
};

/* user@host (ulen and hlen bytes) lowercased (ASCII) as servers store
 * it, into key of at least 2 * LOGSCAN_FIELD_MAX bytes; returns its
 * length. */
size_t sweep_mk_key(char *key, const char *user, size_t ulen, const char *host,
		    size_t hlen);
/* Replay every record still in the pipeline, in order. */
void sweep_drain(struct sweep *);

#endif
