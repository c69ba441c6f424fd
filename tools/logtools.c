/* SPDX-License-Identifier: ISC */
/*
 * floodgate - floodgatectl sweep and report: option parsing, reading
 * the files in the order given, and the output or import.
 *
 * Every file is checked for readability before any is scanned, so a
 * mistyped name fails fast instead of producing a partial report.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/log.h"
#include "../core/types.h"
#include "../core/utf8.h"
#include "../policy/policy.h"
#include "../storage/store.h"
#include "logtools.h"
#include "logscan.h"
#include "authlog.h"
#include "strtab.h"
#include "sweep.h"

#define CTL_SWEEP_ACTOR "floodgatectl sweep"
#define CTL_REASON_MAX 512 /* bytes of evidence per imported account */
/* How long an imported quarantine lasts unless --for says otherwise:
 * like any quarantine it expires, and a week covers a wave's clean-up. */
#define CTL_IMPORT_TTL_MS (7LL * 86400 * 1000) /* ms */

static int  scan_files(struct logscan *, int, char **);
static int  parse_common(int, const char *, struct logscan_opts *);
static int  import_suspects(struct sweep *, const char *, int64_t);
static void sweep_usage(FILE *);
static void report_usage(FILE *);

enum { OPT_FORMAT = 256, OPT_YEAR };

static void
sweep_usage(FILE *fp)
{
	fprintf(
	    fp,
	    "usage: floodgatectl sweep [options] LOGFILE...\n"
	    "  Reads ejabberd or Prosody logs (plain or .gz, in the order "
	    "given,\n  oldest first; - is standard input) and lists bot "
	    "accounts.\n"
	    "  --format auto|ejabberd|prosody   log format (default: per "
	    "file)\n"
	    "  --year YYYY         year of the first Prosody line "
	    "(default: file mtime)\n"
	    "  --rule detectors|case-login      how suspects are found:\n"
	    "      detectors (default): the log replayed through the "
	    "daemon's detectors;\n"
	    "      suspect = the account's score reached quarantine; also "
	    "lists the\n"
	    "      addresses they would block and the registration waves\n"
	    "      case-login: >= %d sessions of <= %d s and a login with a "
	    "case-changed\n"
	    "      name (the original operator's rule)\n"
	    "  --config FILE       detectors: the daemon's configuration "
	    "(floodgate.ini)\n"
	    "  --min-score X       detectors: suspect from score X instead\n"
	    "  --host DOMAIN       only accounts of this domain\n"
	    "  --all               list every account, not only suspects\n"
	    "  --csv               CSV instead of the report\n"
	    "  --commands ejabberd|prosody   print deletion commands for "
	    "suspects\n"
	    "  --import STORE.db   quarantine suspects in the floodgate "
	    "store (only\n"
	    "                      while floodgated is stopped)\n"
	    "  --for DURATION      how long imported quarantines last "
	    "(default 7d)\n",
	    SWEEP_SHORT_MIN, SWEEP_SHORT_S);
}

static void
report_usage(FILE *fp)
{
	fprintf(fp,
		"usage: floodgatectl report [options] LOGFILE...\n"
		"  Failed logins by host and by user name, from ejabberd or "
		"Prosody logs\n  (Prosody needs mod_log_auth).\n"
		"  --format auto|ejabberd|prosody\n"
		"  --year YYYY         year of the first Prosody line\n"
		"  --spamtraps FILE    mark these user names (one a line)\n"
		"  --limit N           at most N rows per table\n"
		"  --csv               CSV instead of tables\n");
}

/* --format and --year, shared by both commands. */
static int
parse_common(int opt, const char *arg, struct logscan_opts *lo)
{
	const char *err = NULL;
	long long   y;
	char       *end;

	if (opt == OPT_FORMAT) {
		if (logscan_fmt_parse(arg, &lo->fmt) == -1)
			err = "--format: auto, ejabberd or prosody";
	} else {
		y = strtoll(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || y < 1970 || y > 9999)
			err = "--year: a year like 2023";
		else
			lo->year = (int)y;
	}
	if (err != NULL) {
		fprintf(stderr, "floodgatectl: %s\n", err);
		return -1;
	}
	return 0;
}

static int
scan_files(struct logscan *ls, int n, char **files)
{
	int i, rc = 0;

	for (i = 0; i < n; i++)
		if (strcmp(files[i], "-") != 0 &&
		    access(files[i], R_OK) == -1) {
			log_warn("%s", files[i]);
			return -1;
		}
	for (i = 0; i < n; i++)
		if (logscan_file(ls, files[i]) == -1)
			rc = -1;
	return rc;
}

int
ctl_sweep(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"year", required_argument, NULL, OPT_YEAR},
	    {"scored", no_argument, NULL, 's'},
	    {"rule", required_argument, NULL, 'R'},
	    {"config", required_argument, NULL, 'F'},
	    {"min-score", required_argument, NULL, 'm'},
	    {"host", required_argument, NULL, 'H'},
	    {"all", no_argument, NULL, 'a'},
	    {"csv", no_argument, NULL, 'c'},
	    {"commands", required_argument, NULL, 'C'},
	    {"import", required_argument, NULL, 'i'},
	    {"for", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct logscan_opts lo = {LOGSCAN_FMT_AUTO, 0};
	struct sweep_opts   so = {SWEEP_DETECTORS, 0, NULL, NULL};
	struct logscan     *ls = NULL;
	struct sweep       *sw = NULL;
	const char         *commands = NULL, *import = NULL, *cfgpath = NULL;
	int                 ch, all = 0, csv = 0, rc = CTL_EXIT_OK, outs;
	char               *end;
	uint64_t            ttl = CTL_IMPORT_TTL_MS;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_FORMAT:
		case OPT_YEAR:
			if (parse_common(ch, optarg, &lo) == -1)
				return CTL_EXIT_USAGE;
			break;
		case 's': /* the old spelling of the default */
			so.mode = SWEEP_DETECTORS;
			break;
		case 'R':
			if (strcmp(optarg, "detectors") == 0)
				so.mode = SWEEP_DETECTORS;
			else if (strcmp(optarg, "case-login") == 0)
				so.mode = SWEEP_CASE_LOGIN;
			else {
				fprintf(stderr, "floodgatectl: --rule: "
						"detectors or case-login\n");
				return CTL_EXIT_USAGE;
			}
			break;
		case 'F':
			cfgpath = optarg;
			break;
		case 'm':
			so.mode = SWEEP_DETECTORS;
			so.min_score = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' ||
			    !(so.min_score > 0)) {
				fprintf(stderr, "floodgatectl: --min-score: "
						"a positive number\n");
				return CTL_EXIT_USAGE;
			}
			break;
		case 'H':
			so.host = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'c':
			csv = 1;
			break;
		case 'C':
			if (strcmp(optarg, "ejabberd") != 0 &&
			    strcmp(optarg, "prosody") != 0) {
				fprintf(stderr, "floodgatectl: --commands: "
						"ejabberd or prosody\n");
				return CTL_EXIT_USAGE;
			}
			commands = optarg;
			break;
		case 'i':
			import = optarg;
			break;
		case 'f':
			if (config_parse_duration_ms(optarg, &ttl) == -1 ||
			    ttl == 0) {
				fprintf(stderr, "floodgatectl: --for: a "
						"duration like 7d or 12h\n");
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			sweep_usage(stdout);
			return CTL_EXIT_OK;
		default:
			sweep_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	outs = csv + (commands != NULL) + (import != NULL);
	if (optind >= argc || outs > 1) {
		if (outs > 1)
			fprintf(stderr, "floodgatectl: --csv, --commands and "
					"--import exclude each other\n");
		sweep_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (cfgpath != NULL && so.mode == SWEEP_DETECTORS &&
	    (so.cfg = config_load(cfgpath)) == NULL)
		return CTL_EXIT_USAGE; /* config_load said why */
	sw = sweep_new(&so);
	ls = logscan_new(&lo, sweep_rec, sw);
	if (scan_files(ls, argc - optind, argv + optind) == -1) {
		rc = CTL_EXIT_REFUSED;
		if (logscan_stats(ls)->files == 0)
			goto done;
	}
	sweep_finish(sw);
	if (csv)
		sweep_print_csv(stdout, sw, all);
	else if (commands != NULL)
		sweep_print_commands(stdout, sw, commands);
	else if (import != NULL) {
		if (import_suspects(sw, import, (int64_t)ttl) == -1)
			rc = CTL_EXIT_REFUSED;
	} else
		sweep_print_report(stdout, sw, all, logscan_stats(ls));
	if (logscan_stats(ls)->bad > 0 && (csv || commands != NULL))
		fprintf(stderr,
			"floodgatectl: %llu unparseable lines "
			"(the report lists samples)\n",
			(unsigned long long)logscan_stats(ls)->bad);
done:
	logscan_free(ls);
	sweep_free(sw);
	if (fflush(stdout) == EOF)
		rc = CTL_EXIT_REFUSED;
	return rc;
}

struct import_ctx {
	struct store  *st;
	struct strtab *keep; /* accounts with an allow/block override */
	int64_t        now;
	int64_t        ttl; /* ms each quarantine lasts */
	size_t         done, skipped, notext;
	int            failed;
};

static void
import_load(const struct store_subject *s, void *arg)
{
	struct import_ctx *c = arg;
	int                isnew;

	if (s->type == FG_SUBJ_ACCOUNT &&
	    (s->override == FG_OVR_ALLOW || s->override == FG_OVR_BLOCK))
		*strtab_put(c->keep, s->key, strlen(s->key), &isnew) = c;
}

static int
import_one(const struct sweep_acct *a, void *arg)
{
	struct import_ctx   *c = arg;
	char                 reason[CTL_REASON_MAX], *fixed;
	const char          *sigs;
	struct store_subject s;
	struct store_audit   au;
	size_t               bad;

	/* An admin's allowlist or block beats a log sweep. */
	if (strtab_get(c->keep, a->jid, strlen(a->jid)) != NULL) {
		c->skipped++;
		return 0;
	}
	/* a name that is not UTF-8 cannot be pushed to the server */
	if (utf8_xml_ok(a->jid, NULL) == -1) {
		c->notext++;
		return 0;
	}
	sweep_evidence(a, reason, sizeof(reason));
	if (utf8_xml_ok(reason, NULL) == -1) {
		fixed = utf8_repair(reason);
		snprintf(reason, sizeof reason, "%s", fixed);
		free(fixed);
		/* the cut may have split a character */
		if (utf8_xml_ok(reason, &bad) == -1)
			reason[bad] = '\0';
	}
	/* the daemon's detectors' evidence when the replay scored it */
	sigs = a->signals[0] != '\0' ? a->signals
	       : a->case_logins > 0  ? "bot-login=sweep,case=1"
				     : "bot-login=sweep";
	pol_override_rows(&s, &au, FG_SUBJ_ACCOUNT, a->jid, FG_OVR_QUARANTINE,
			  c->now, c->now + c->ttl, reason, sigs,
			  CTL_SWEEP_ACTOR);
	if (store_commit_admin(c->st, &s, &au) == -1) {
		c->failed = 1;
		return -1;
	}
	c->done++;
	return 0;
}

static int
import_suspects(struct sweep *sw, const char *path, int64_t ttl)
{
	struct import_ctx c;
	struct timespec   ts;

	memset(&c, 0, sizeof(c));
	c.ttl = ttl;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if ((c.st = store_open(path)) == NULL)
		return -1;
	c.keep = strtab_new();
	if (store_load_subjects(c.st, import_load, &c) == -1)
		c.failed = 1;
	else
		sweep_walk(sw, 0, import_one, &c);
	store_close(c.st);
	strtab_free(c.keep, NULL);
	printf("floodgatectl sweep: %zu accounts quarantined in %s, %zu "
	       "skipped (allowlisted or blocked by an admin), %zu names "
	       "not valid UTF-8 skipped%s\n",
	       c.done, path, c.skipped, c.notext,
	       c.failed ? "; stopped on an error" : "");
	return c.failed ? -1 : 0;
}

int
ctl_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"year", required_argument, NULL, OPT_YEAR},
	    {"spamtraps", required_argument, NULL, 't'},
	    {"limit", required_argument, NULL, 'l'},
	    {"csv", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct logscan_opts lo = {LOGSCAN_FMT_AUTO, 0};
	struct logscan     *ls = NULL;
	struct report      *r = NULL;
	const char         *traps = NULL;
	unsigned long long  limit = 0;
	int                 ch, csv = 0, rc = CTL_EXIT_OK;
	char               *end;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_FORMAT:
		case OPT_YEAR:
			if (parse_common(ch, optarg, &lo) == -1)
				return CTL_EXIT_USAGE;
			break;
		case 't':
			traps = optarg;
			break;
		case 'l':
			limit = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr,
					"floodgatectl: --limit: a number\n");
				return CTL_EXIT_USAGE;
			}
			break;
		case 'c':
			csv = 1;
			break;
		case 'h':
			report_usage(stdout);
			return CTL_EXIT_OK;
		default:
			report_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		report_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	r = report_new();
	if (traps != NULL && report_load_spamtraps(r, traps) == -1) {
		rc = CTL_EXIT_REFUSED;
		goto done;
	}
	ls = logscan_new(&lo, report_rec, r);
	if (scan_files(ls, argc - optind, argv + optind) == -1) {
		rc = CTL_EXIT_REFUSED;
		if (logscan_stats(ls)->files == 0)
			goto done;
	}
	if (csv)
		report_print_csv(stdout, r);
	else
		report_print(stdout, r, (size_t)limit, logscan_stats(ls));
done:
	logscan_free(ls);
	report_free(r);
	if (fflush(stdout) == EOF)
		rc = CTL_EXIT_REFUSED;
	return rc;
}
