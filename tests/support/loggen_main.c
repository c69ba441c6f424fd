/* SPDX-License-Identifier: ISC */
/*
 * loggen: write a generated server log to standard output, and what each
 * account is to a truth file, for the integration tests and the Perl
 * baseline of bench/bench_sweep.
 *
 * usage: loggen [-s SEED] [-b BOTS] [-u HUMANS] [-d DAYS]
 *               [-f ejabberd|prosody|plan] [-t TRUTH]
 * plan writes the sessions instead of a log ("start length account
 * login-as-typed ip resource"). TRUTH gets "account kind flags" a line: kind is
 * classic, exact, single, farm or human; flags are the human's habits
 * (caps,flap,multi,travel, office,shared) or "-".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loggen.h"

static const char *const kind_name[] = {"classic", "exact", "single", "farm",
					"human"};
static const char *const flag_name[] = {"caps",   "flap",   "multi",
					"travel", "office", "shared"};

static int
truth(const char *path, const struct loggen_opts *o)
{
	FILE    *fp = fopen(path, "w");
	char     name[64];
	uint32_t i;
	unsigned f, b, n;

	if (fp == NULL) {
		perror(path);
		return -1;
	}
	for (i = 0; i < o->bots + o->humans; i++) {
		enum loggen_kind k = loggen_kind(o, i, &f);

		loggen_name(i, name, sizeof(name));
		fprintf(fp, "%s@%s %s ", name, o->host, kind_name[k]);
		for (b = n = 0; b < 6; b++)
			if (f & 1u << b)
				fprintf(fp, "%s%s", n++ ? "," : "",
					flag_name[b]);
		fprintf(fp, "%s\n", n ? "" : "-");
	}
	if (fclose(fp) == EOF) {
		perror(path);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct loggen_opts  o = {1, 100,           900, 14,
				 0, "example.org", 0,   LOGGEN_EJABBERD};
	struct loggen_stats st;
	const char         *tpath = NULL;
	int                 ch;

	while ((ch = getopt(argc, argv, "s:b:u:d:f:t:h:")) != -1) {
		switch (ch) {
		case 's':
			o.seed = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			o.bots = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			o.humans = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o.days = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			o.host = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "prosody") == 0)
				o.fmt = LOGGEN_PROSODY;
			else if (strcmp(optarg, "plan") == 0)
				o.fmt = LOGGEN_PLAN;
			else if (strcmp(optarg, "ejabberd") != 0) {
				fprintf(stderr,
					"loggen: -f ejabberd|prosody|plan\n");
				return 2;
			}
			break;
		case 't':
			tpath = optarg;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: loggen [-s SEED] [-b BOTS] [-u HUMANS] "
			    "[-d DAYS] [-f ejabberd|prosody|plan] [-h HOST] "
			    "[-t TRUTH]\n");
			return 2;
		}
	}
	if (tpath != NULL && truth(tpath, &o) == -1)
		return 1;
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	if (loggen_write(stdout, &o, &st) == -1) {
		perror("loggen");
		return 1;
	}
	fprintf(stderr,
		"loggen: %llu lines, %llu bytes, %llu sessions, %u days\n",
		(unsigned long long)st.lines, (unsigned long long)st.bytes,
		(unsigned long long)st.sessions, st.days);
	return 0;
}
