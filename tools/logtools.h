/* SPDX-License-Identifier: ISC */
/*
 * floodgate - floodgatectl's offline subcommands: sweep and report.
 * Each takes (argc, argv) with argv[0] the subcommand name and returns
 * a floodgatectl exit code.
 */
#ifndef FG_LOGTOOLS_H
#define FG_LOGTOOLS_H

#define CTL_EXIT_OK 0          /* done */
#define CTL_EXIT_REFUSED 1     /* refused, not found, unreadable */
#define CTL_EXIT_USAGE 2       /* bad command line */
#define CTL_EXIT_UNREACHABLE 3 /* daemon unreachable (online commands) */

#define CTL_SWEEP_ARGS "[options] LOGFILE..."
#define CTL_REPORT_ARGS "[options] LOGFILE..."

int ctl_sweep(int, char **);
int ctl_report(int, char **);

#endif
