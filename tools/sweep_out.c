/* SPDX-License-Identifier: ISC */
/*
 * floodgate - sweep output: the readable report, CSV and the servers'
 * own deletion commands. Account names come from logs, so every one is
 * escaped for the medium it is printed in: log_esc for the report, CSV
 * quoting, and POSIX shell quoting for commands.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "sweep.h"

static int  report_row(const struct sweep_acct *, void *);
static int  csv_row(const struct sweep_acct *, void *);
static void csv_field(FILE *, const char *);
static void ips_join(char *, size_t, const struct sweep_acct *, uint32_t,
		     const char *);

/* Up to max of the account's IPs joined by sep, "..." if there are more. */
static void
ips_join(char *buf, size_t sz, const struct sweep_acct *a, uint32_t max,
	 const char *sep)
{
	size_t   n = 0;
	uint32_t i;
	int      w;

	buf[0] = '\0';
	for (i = 0; i < a->nips && i < max && n < sz; i++) {
		w = snprintf(buf + n, sz - n, "%s%s", i > 0 ? sep : "",
			     a->ips[i]);
		if (w < 0)
			break;
		n += w;
	}
	if (a->nips > max && n < sz)
		snprintf(buf + n, sz - n, "%s...", sep);
}

void
sweep_fmt_time(char *buf, size_t sz, int64_t t)
{
	struct tm tm;
	time_t    tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, sz, "-");
		return;
	}
	strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
}

void
sweep_shell_quote(char *dst, size_t sz, const char *s)
{
	const char *p;
	size_t      n = 0;

	for (p = s; *p != '\0'; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789._-@+=%,",
			   *p) == NULL)
			break;
	if (*p == '\0' && *s != '\0' && *s != '-') {
		snprintf(dst, sz, "%s", s);
		return;
	}
	/* '...' with each ' written as '\'' */
	if (sz < 3) {
		if (sz > 0)
			*dst = '\0';
		return;
	}
	dst[n++] = '\'';
	for (p = s; *p != '\0' && n + 6 < sz; p++) {
		if (*p == '\'') {
			memcpy(dst + n, "'\\''", 4);
			n += 4;
		} else
			dst[n++] = *p;
	}
	dst[n++] = '\'';
	dst[n] = '\0';
}

#define SWEEP_HOSTS_SHOW 20 /* address rows in the report without --all */

struct report_ctx {
	FILE  *fp;
	int    header;
	int    scored;
	size_t rows, max; /* host rows printed, at most (0 = all) */
};

static int
report_row(const struct sweep_acct *a, void *arg)
{
	struct report_ctx *c = arg;
	char               jid[LOG_ESC_MAX], login[LOG_ESC_MAX];
	char               first[32], last[32], reg[32], ips[128];
	char               score[16], sig[LOG_ESC_MAX], peak[32];

	if (!c->header) {
		fprintf(c->fp,
			"%-32s %5s %4s %6s %5s %4s %5s %4s %-19s %-19s "
			"%s\n",
			"account", "score", "sess", "short", "win", "conc",
			"case", "ips", "first seen (UTC)", "last seen (UTC)",
			"logged in as / IPs");
		c->header = 1;
	}
	log_esc(jid, sizeof(jid), a->jid);
	log_esc(login, sizeof(login), a->login_as);
	sweep_fmt_time(first, sizeof(first), a->first);
	sweep_fmt_time(last, sizeof(last), a->last);
	sweep_fmt_time(reg, sizeof(reg), a->registered);
	ips_join(ips, sizeof(ips), a, 3, ",");
	if (c->scored)
		snprintf(score, sizeof(score), "%5.1f", a->score);
	else
		snprintf(score, sizeof(score), "%5s", "-");
	fprintf(c->fp,
		"%-32s %s %4u %6u %5u %4u %5u %3u%s %-19s %-19s "
		"%s %s\n",
		jid, score, a->sessions, a->short_sessions, a->short_in_window,
		a->max_concurrent, a->case_logins, a->nips,
		a->nips >= SWEEP_IPS_MAX ? "+" : " ", first, last,
		login[0] != '\0' ? login : "-", ips[0] != '\0' ? ips : "-");
	if (a->closed > 0)
		fprintf(c->fp,
			"%-32s       sessions %u..%u s, mean %llu s; "
			"registered %s\n",
			"", (unsigned)a->dur_min, (unsigned)a->dur_max,
			(unsigned long long)(a->dur_total / a->closed), reg);
	if (c->scored && (a->score > 0 || a->probation)) {
		log_esc(sig, sizeof(sig), a->signals);
		sweep_fmt_time(peak, sizeof(peak), a->peak_at);
		fprintf(c->fp, "%-32s       evidence: %s%s%s%s%s\n", "",
			a->score > 0 ? sig : "", a->score > 0 ? " -> " : "",
			a->score > 0 ? fg_verdict_name(a->verdict) : "",
			a->score > 0 ? " at " : "", a->score > 0 ? peak : "");
		if (a->probation)
			fprintf(c->fp,
				"%-32s       registered inside a registration "
				"wave (probation)\n",
				"");
	}
	return 0;
}

static void
host_row(const struct sweep_host *h, void *arg)
{
	struct report_ctx *c = arg;
	char               at[32], sig[LOG_ESC_MAX];

	if (c->max > 0 && c->rows++ >= c->max)
		return;
	if (!c->header) {
		fprintf(c->fp, "%-6s %-40s %-10s %5s %-19s %s\n", "kind",
			"address", "verdict", "score", "reached (UTC)",
			"evidence");
		c->header = 1;
	}
	sweep_fmt_time(at, sizeof(at), h->at);
	log_esc(sig, sizeof(sig), h->signals);
	fprintf(c->fp, "%-6s %-40s %-10s %5.1f %-19s %s\n",
		h->type == FG_SUBJ_PREFIX ? "net" : "ip", h->key,
		fg_verdict_name(h->verdict), h->score, at, sig);
}

/* What the auth detector would have done to the guessers' addresses. */
static void
print_hosts(FILE *fp, struct sweep *s, int all)
{
	struct report_ctx c = {fp, 0, 1, 0, all ? 0 : SWEEP_HOSTS_SHOW};
	size_t            dropped, n = sweep_hosts(s, &dropped);

	fprintf(fp,
		"\naddresses the daemon would throttle or block (password "
		"guessing): %zu%s\n",
		n + dropped, dropped > 0 ? " (only the first ones kept)" : "");
	sweep_walk_hosts(s, host_row, &c);
	if (n == 0)
		fprintf(fp, "(none)\n");
	else if (c.max > 0 && n > c.max)
		fprintf(fp, "... %zu more (--all lists them)\n", n - c.max);
}

#define SWEEP_WAVES_SHOW 10 /* wave rows in the report without --all */

/* The registration waves, summed up: one line each would be hundreds on
 * a big log (one per network). */
static void
print_waves(FILE *fp, struct sweep *s, int all)
{
	const struct sweep_wave *w;
	size_t                   n, listed, global, i;
	char                     at[32], where[LOG_ESC_MAX];

	n = sweep_waves(s, &w, &listed, &global);
	if (n == 0)
		return;
	fprintf(fp,
		"registration waves: %zu (%zu over all addresses, %zu in one "
		"network); %zu accounts\nregistered inside them (the daemon "
		"would put them on probation; not suspects\nby that alone)\n",
		n, global, n - global, sweep_probation(s));
	for (i = 0; i < listed && (all || i < SWEEP_WAVES_SHOW); i++) {
		sweep_fmt_time(at, sizeof(at), w[i].start);
		log_esc(where, sizeof(where), w[i].where);
		fprintf(fp, "  since %s  %s\n", at, where);
	}
	if (i < n)
		fprintf(fp, "  ... %zu more%s\n", n - i,
			i < listed ? " (--all lists them)" : "");
	fputc('\n', fp);
}

void
sweep_print_report(FILE *fp, struct sweep *s, int all,
		   const struct logscan_stats *st)
{
	struct report_ctx c = {fp, 0, 0, 0, 0};
	size_t            i;
	char              rule[320];

	sweep_finish(s);
	c.scored = sweep_scored(s);
	sweep_rule(s, rule, sizeof(rule));
	fprintf(fp,
		"floodgatectl sweep: %llu files, %llu lines, %llu records, "
		"%llu unparseable\n"
		"%zu accounts seen, %zu suspects\n"
		"suspect: %s\n\n",
		(unsigned long long)st->files, (unsigned long long)st->lines,
		(unsigned long long)st->records, (unsigned long long)st->bad,
		sweep_accounts(s), sweep_suspects(s), rule);
	if (sweep_saw_prosody(s) && !c.scored)
		fprintf(fp, "note: Prosody logs the stored (nodeprepped) "
			    "name, so case-changed logins\ncannot be seen in "
			    "its logs; the default (the daemon's detectors) "
			    "does not\nneed them.\n\n");
	if (c.scored)
		print_waves(fp, s, all);
	sweep_walk(s, all, report_row, &c);
	if (!c.header)
		fprintf(fp, "(no %s)\n", all ? "accounts" : "suspects");
	if (c.scored)
		print_hosts(fp, s, all);
	if (st->bad > 0) {
		fprintf(fp, "\nunparseable lines: %llu; first ones:\n",
			(unsigned long long)st->bad);
		for (i = 0; i < st->nsamples; i++)
			fprintf(fp, "  %s\n", st->samples[i]);
	}
}

/* RFC 4180: quote when needed, double the quotes. */
static void
csv_field(FILE *fp, const char *s)
{
	const char *p;

	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', fp);
		fputc(*p, fp);
	}
	fputc('"', fp);
}

struct csv_ctx {
	FILE *fp;
	int   scored;
};

static int
csv_row(const struct sweep_acct *a, void *arg)
{
	struct csv_ctx *c = arg;
	FILE           *fp = c->fp;
	char            first[32], last[32], reg[32], ips[SWEEP_IPS_MAX * 48];

	sweep_fmt_time(first, sizeof(first), a->first);
	sweep_fmt_time(last, sizeof(last), a->last);
	sweep_fmt_time(reg, sizeof(reg), a->registered);
	ips_join(ips, sizeof(ips), a, SWEEP_IPS_MAX, " ");
	csv_field(fp, a->jid);
	fprintf(fp, ",%d,", a->suspect);
	if (c->scored)
		fprintf(fp, "%.1f", a->score);
	fprintf(fp, ",%u,%u,%u,%u,%u,%u,%u,%u,%llu,", a->sessions, a->closed,
		a->short_sessions, a->short_in_window, a->max_concurrent,
		a->overlaps, a->case_logins, a->auth_ok,
		(unsigned long long)a->dur_total);
	/* No closed session: no minimum or maximum (not -1 and 0). */
	if (a->closed > 0)
		fprintf(fp, "%lld,%lld,", (long long)a->dur_min,
			(long long)a->dur_max);
	else
		fputs(",,", fp);
	csv_field(fp, a->login_as);
	fprintf(fp, ",%u,", a->nips);
	csv_field(fp, ips);
	fprintf(fp, ",%s,%s,%s,%u,", first, last, reg, a->auth_fail);
	/* scored mode only: the daemon's verdict and evidence */
	if (c->scored) {
		fprintf(fp, "%s,", fg_verdict_name(a->verdict));
		csv_field(fp, a->signals);
		fprintf(fp, ",%d", a->probation);
	} else
		fputs(",,", fp);
	fputc('\n', fp);
	return 0;
}

void
sweep_print_csv(FILE *fp, struct sweep *s, int all)
{
	struct csv_ctx c = {fp, sweep_scored(s)};

	fputs("account,suspect,score,sessions,closed,short_sessions,"
	      "short_in_window,max_concurrent,overlaps,case_logins,auth_ok,"
	      "duration_total_s,duration_min_s,duration_max_s,login_as,"
	      "distinct_ips,ips,first_seen,last_seen,registered,auth_fail,"
	      "verdict,signals,probation\n",
	      fp);
	sweep_walk(s, all, csv_row, &c);
}

struct cmd_ctx {
	FILE *fp;
	int   ejabberd;
};

static int
cmd_row(const struct sweep_acct *a, void *arg)
{
	struct cmd_ctx *c = arg;
	char        user[LOGSCAN_FIELD_MAX * 5], host[LOGSCAN_FIELD_MAX * 5];
	char        jid[LOGSCAN_FIELD_MAX * 10];
	const char *at = strrchr(a->jid, '@');
	char        u[LOGSCAN_FIELD_MAX];

	if (at == NULL) /* no domain in the log line: cannot name it */
		return 0;
	snprintf(u, sizeof(u), "%.*s", (int)(at - a->jid), a->jid);
	if (c->ejabberd) {
		sweep_shell_quote(user, sizeof(user), u);
		sweep_shell_quote(host, sizeof(host), at + 1);
		fprintf(c->fp, "ejabberdctl unregister %s %s\n", user, host);
	} else {
		sweep_shell_quote(jid, sizeof(jid), a->jid);
		fprintf(c->fp, "prosodyctl deluser %s\n", jid);
	}
	return 0;
}

int
sweep_print_commands(FILE *fp, struct sweep *s, const char *server)
{
	struct cmd_ctx c = {fp, 0};

	if (strcmp(server, "ejabberd") == 0)
		c.ejabberd = 1;
	else if (strcmp(server, "prosody") != 0)
		return -1;
	sweep_walk(s, 0, cmd_row, &c);
	return 0;
}

void
sweep_evidence(const struct sweep_acct *a, char *buf, size_t sz)
{
	char first[32], last[32], login[LOG_ESC_MAX], sig[SWEEP_SIG_MAX];
	int  n;

	sweep_fmt_time(first, sizeof(first), a->first);
	sweep_fmt_time(last, sizeof(last), a->last);
	log_esc(login, sizeof(login), a->login_as);
	n = snprintf(buf, sz,
		     "sweep: %u sessions, %u <= %ds (%u within %ds), up to %u "
		     "at once, %u logins with case-changed name%s%s%s, %u%s "
		     "IPs, seen %s .. %s UTC",
		     a->sessions, a->short_sessions, SWEEP_SHORT_S,
		     a->short_in_window, SWEEP_WINDOW_S, a->max_concurrent,
		     a->case_logins, a->login_as[0] != '\0' ? " (as \"" : "",
		     login, a->login_as[0] != '\0' ? "\")" : "", a->nips,
		     a->nips >= SWEEP_IPS_MAX ? "+" : "", first, last);
	if (n < 0 || (size_t)n >= sz || a->score <= 0)
		return;
	log_esc(sig, sizeof(sig), a->signals);
	snprintf(buf + n, sz - (size_t)n,
		 "; daemon's detectors: score %.1f (%s)%s", a->score, sig,
		 a->probation ? ", registered in a wave" : "");
}
