/* SPDX-License-Identifier: ISC */
/*
 * floodgate - floodgatectl: the operator's command line.
 *
 * A table of subcommands. The offline ones (sweep, report) read server
 * logs and need no daemon; the online ones talk to floodgated over its
 * UNIX socket and live in tools/ctl.c.
 *
 * Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 daemon
 * unreachable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "ctl.h"
#include "logtools.h"

struct ctl_cmd {
	const char *name;
	int (*fn)(int, char **); /* NULL: not implemented yet */
	const char *args;
	const char *help;
};

static const struct ctl_cmd cmds[] = {
    /* offline: server logs (tools/logtools.c) */
    {"sweep", ctl_sweep, CTL_SWEEP_ARGS,
     "find bot accounts in ejabberd/Prosody logs"},
    {"report", ctl_report, CTL_REPORT_ARGS,
     "failed logins by host and user name"},
    /* online: the daemon's control socket (tools/ctl.c) */
    {"inspect", ctl_online, "JID|DOMAIN|IP", "score, verdict and audit"},
    {"list", ctl_online, "[quarantine|block]", "current verdicts"},
    {"block", ctl_online, "SUBJECT REASON", "block by hand"},
    {"unblock", ctl_online, "SUBJECT", "lift a block or quarantine"},
    {"quarantine", ctl_online, "SUBJECT REASON", "quarantine by hand"},
    {"allowlist", ctl_online, "SUBJECT", "exempt from automatic verdicts"},
    {"stats", ctl_online, "", "the daemon's counters"},
    {"reload", ctl_online, "", "reload the configuration (as SIGHUP)"},
    {"backup", ctl_online, "FILE", "online copy of the store (new file)"},
    {"web-login", ctl_online, "ADMIN",
     "one-time link to the moderation page"},
    {"import", ctl_import, "LIST...", "block the domains of blocklists"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: floodgatectl COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-10s %-28s %s%s\n", cmds[i].name, cmds[i].args,
			cmds[i].help, cmds[i].fn == NULL ? " (not yet)" : "");
	fprintf(fp, "\n'floodgatectl COMMAND --help' for the options of a "
		    "command.\nexit: 0 ok, 1 refused or not found, 2 usage, "
		    "3 daemon unreachable\n");
}

int
main(int argc, char *argv[])
{
	size_t i;

	log_init(1, 0, "floodgatectl");
	if (argc < 2) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (cmds[i].fn == NULL) {
			fprintf(stderr,
				"floodgatectl: %s: not implemented yet\n",
				cmds[i].name);
			return CTL_EXIT_USAGE;
		}
		return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "floodgatectl: unknown command: %s\n", argv[1]);
	usage(stderr);
	return CTL_EXIT_USAGE;
}
