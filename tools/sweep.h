/* SPDX-License-Identifier: ISC */
/*
 * floodgate - sweep: find the active bot accounts in server logs.
 *
 * Fed with logscan records, keeps one small entry per account (keyed by
 * the lowercased bare JID, as the server stores it) and one per open
 * session (keyed by the c2s session id), never per line. The daemon's
 * detectors (the default: the records replayed through its own policy,
 * memory only, fake clock at log time) or the case-login rule decide
 * which accounts are suspects. The output functions
 * print them as a report, CSV or deletion commands.
 */
#ifndef FG_SWEEP_H
#define FG_SWEEP_H

#include <stdint.h>
#include <stdio.h>

#include "logscan.h"

#include "../core/types.h"

#define SWEEP_SHORT_S 60      /* a session this long or less is short, s */
#define SWEEP_SHORT_MIN 3     /* short sessions for the seed rule */
#define SWEEP_WINDOW_S 3600   /* evidence: short ones within, s */
#define SWEEP_IPS_MAX 8       /* distinct IPs kept per account */
#define SWEEP_SIG_MAX 96      /* bytes of detector evidence kept */
#define SWEEP_HOSTS_MAX 16384 /* IPs / networks with a verdict kept */
#define SWEEP_TICK_S 21600    /* policy housekeeping, every s of log time */

enum sweep_mode {
	SWEEP_DETECTORS, /* the records replayed through the daemon's policy */
	SWEEP_CASE_LOGIN /* >= 3 sessions <= 60 s and a case-changed login */
};

struct fg_config;

struct sweep_opts {
	enum sweep_mode mode;
	double          min_score; /* detectors: suspect when the peak score
				    * reaches it; 0 = the quarantine
				    * threshold */
	const char *host; /* only accounts of this domain; NULL = all */
	/* detectors: the daemon's configuration (the sweep frees it);
	 * NULL = the defaults */
	struct fg_config *cfg;
};

#define SWEEP_WAVES_MAX 256 /* registration waves listed; more are counted */

/* A registration wave the replay found (detectors). */
struct sweep_wave {
	int64_t start;     /* unix s */
	char    where[48]; /* "global" or the network */
};

/* What sweep knows about one account; strings owned by the sweep. */
struct sweep_acct {
	const char *jid;      /* lowercased bare JID */
	const char *login_as; /* a case-changed login seen, or "" */
	uint32_t    sessions; /* opened (closed or not) */
	uint32_t    closed;   /* with a known duration */
	uint32_t    short_sessions;
	uint32_t    short_in_window; /* most short ones in SWEEP_WINDOW_S */
	uint32_t    max_concurrent;
	uint32_t    overlaps;    /* sessions opened while another was open */
	uint32_t    case_logins; /* logins whose name differs in case */
	uint32_t    auth_ok;
	uint32_t    auth_fail;
	uint64_t    dur_total; /* seconds over closed sessions */
	int64_t     dur_min, dur_max;
	uint32_t    nips; /* distinct IPs, saturates at SWEEP_IPS_MAX */
	const char *ips[SWEEP_IPS_MAX];
	int64_t     first, last; /* unix s */
	int64_t     registered;  /* unix s, 0 if not in the logs */
	/* detectors: the daemon's detectors on the replayed records */
	double          score;     /* peak score (0 in seed mode) */
	enum fg_verdict verdict;   /* what that score reaches */
	int64_t         peak_at;   /* unix s of the peak */
	int             probation; /* registered inside a wave */
	const char     *signals;   /* evidence at the peak, "name=w ..." */
	int             suspect;
};

/* An IP or network the detectors would act on (detectors). */
struct sweep_host {
	enum fg_subj    type; /* FG_SUBJ_IP or FG_SUBJ_PREFIX */
	const char     *key;
	enum fg_verdict verdict; /* highest reached */
	double          score;   /* when it was reached */
	int64_t         at;      /* unix s, first time at that verdict */
	const char     *signals;
};

struct sweep;

struct sweep *sweep_new(const struct sweep_opts *);
void          sweep_free(struct sweep *);
/* logscan callback; arg is the sweep. Records are replayed a few
 * records late (a prefetching pipeline, sweep_pipe.c): what they did
 * shows after sweep_finish. */
void sweep_rec(const struct logscan_rec *, void *);
/* Close the books after the last file: judge every account. */
void   sweep_finish(struct sweep *);
size_t sweep_accounts(const struct sweep *);
size_t sweep_suspects(const struct sweep *);
/* Accounts, suspects first by score then by name; all = include the
 * others. The callback may stop the walk by returning -1. */
int                      sweep_walk(struct sweep *, int all,
				    int (*)(const struct sweep_acct *, void *), void *);
const struct sweep_acct *sweep_get(const struct sweep *, const char *jid);
/* The rule in force, in words. */
void sweep_rule(const struct sweep *, char *, size_t);
/* Detectors (the default), not the case-login rule? */
int sweep_scored(const struct sweep *);
/* Were there Prosody records? (Prosody logs no login case.) */
int sweep_saw_prosody(const struct sweep *);
/* Detectors: IPs and networks that reached throttle or more, highest
 * verdict first; hosts beyond SWEEP_HOSTS_MAX are only counted. */
size_t sweep_hosts(const struct sweep *, size_t *dropped);
void   sweep_walk_hosts(struct sweep *,
			void (*)(const struct sweep_host *, void *), void *);
/* Detectors: accounts a registration wave put on probation. */
size_t sweep_probation(const struct sweep *);
/* Detectors: the registration waves, the first SWEEP_WAVES_MAX in *list;
 * returns how many there were, *global of them over all addresses. */
size_t sweep_waves(const struct sweep *, const struct sweep_wave **list,
		   size_t *listed, size_t *global);

/* One line of evidence, e.g. for an import reason (sweep_out.c). */
void sweep_evidence(const struct sweep_acct *, char *, size_t);
/* Output (sweep_out.c). server: "ejabberd" or "prosody". */
void sweep_print_report(FILE *, struct sweep *, int all,
			const struct logscan_stats *);
void sweep_print_csv(FILE *, struct sweep *, int all);
int  sweep_print_commands(FILE *, struct sweep *, const char *server);
/* Quote s for a POSIX shell: as is when plainly safe, else in '...'. */
void sweep_shell_quote(char *, size_t, const char *);
/* "2023-01-20 10:00:00" in UTC. */
void sweep_fmt_time(char *, size_t, int64_t);

#endif
