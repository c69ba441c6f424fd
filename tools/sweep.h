/*
 * floodgate - sweep: find the active bot accounts in server logs.
 *
 * Fed with logscan records, keeps one small entry per account (keyed by
 * the lowercased bare JID, as the server stores it) and one per open
 * session (keyed by the c2s session id), never per line. The seed rule
 * and the scored mode decide which accounts are suspects; the output
 * functions print them as a report, CSV or deletion commands.
 */
#ifndef FG_SWEEP_H
#define FG_SWEEP_H

#include <stdint.h>
#include <stdio.h>

#include "logscan.h"

#define SWEEP_SHORT_S 60           /* a session this long or less is short, s */
#define SWEEP_SHORT_MIN 3          /* short sessions for the signal */
#define SWEEP_WINDOW_S 3600        /* scored mode: short ones within, s */
#define SWEEP_IPS_MAX 8            /* distinct IPs kept per account */
#define SWEEP_W_CASE 1.0           /* score: login with case-changed name */
#define SWEEP_W_SHORT 1.0          /* score: >= SWEEP_SHORT_MIN short ones */
#define SWEEP_W_OVERLAP 1.0        /* score: two or more at once */
#define SWEEP_SCORE_QUARANTINE 3.0 /* all three signals together */

enum sweep_mode {
	SWEEP_SEED,  /* >= 3 sessions <= 60 s and a case-changed login */
	SWEEP_SCORED /* the daemon's bot-login signals, weighted */
};

struct sweep_opts {
	enum sweep_mode mode;
	double      min_score; /* scored: suspect at or above; 0 = default */
	const char *host;      /* only accounts of this domain; NULL = all */
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
	double      score;       /* scored mode signals, also in seed mode */
	int         suspect;
};

struct sweep;

struct sweep *sweep_new(const struct sweep_opts *);
void          sweep_free(struct sweep *);
/* logscan callback; arg is the sweep. */
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
/* Were there Prosody records? (Prosody logs no login case.) */
int sweep_saw_prosody(const struct sweep *);
/* One line of evidence, e.g. for an import reason. */
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
