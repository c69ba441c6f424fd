/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the daemon's process chores: start in the background only
 * once everything is open (the parent's exit status says whether start-up
 * worked), pidfile, user switch, systemd notifications, and the checks
 * behind floodgated -n.
 */
#ifndef FG_PROC_H
#define FG_PROC_H

struct fg_config;

/* Fork; the parent waits for proc_detach_done() in the child and exits 0,
 * or exits 1 when the child dies first. Returns in the child, which still
 * writes to the caller's stderr. */
void proc_detach_begin(void);
/* Child: stdio to /dev/null, cwd /, tell the parent all is well. */
void proc_detach_done(void);

/* Write our pid; -1 (logged) on error. remove only if it holds our pid. */
int  proc_pidfile_write(const char *path);
void proc_pidfile_remove(const char *path);

/* Become user (and its groups), giving it the file own (may be NULL)
 * first; 0 when user is NULL, -1 (logged). */
int proc_switch_user(const char *user, const char *own);

/* sd_notify() state when built with libsystemd and run by systemd. */
void proc_notify(const char *state);

/* floodgated -n beyond the syntax: paths, permissions, the secret.
 * Errors make it return -1; warnings are only printed. */
int proc_check(const struct fg_config *, const char *sock, const char *user);

#endif
