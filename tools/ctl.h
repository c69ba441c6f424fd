/* SPDX-License-Identifier: ISC */
/*
 * floodgate - floodgatectl's online subcommands (inspect, list, block,
 * unblock, quarantine, allowlist, stats, reload): one request over the
 * daemon's control socket (admin/control.h). argv[0] is the
 * subcommand; returns a floodgatectl exit code.
 */
#ifndef FG_CTL_H
#define FG_CTL_H

int ctl_online(int, char **);
/* import LIST...: domain blocklists as admin blocks. */
int ctl_import(int, char **);

#endif
