/* SPDX-License-Identifier: ISC */
/*
 * floodgate - a throwaway PostgreSQL cluster for the PostgreSQL store's
 * Check tests and bench_store (tests/pgcluster.sh does the work), plain
 * libpq on the side to look at or break what the store wrote, and the
 * event loop the store's connection needs, run until a condition holds.
 */
#ifndef FG_PGTEST_H
#define FG_PGTEST_H

#include <stdint.h>

struct event_base;
struct store;

/* Start a cluster under a new directory; 0, or 77 when PostgreSQL is not
 * installed, -1 on failure (its logs stay in the directory). */
int  pgt_start(void);
void pgt_stop(void);
/* Stop the server (fast shutdown) / start it again, same port. */
int pgt_down(void);
int pgt_up(void);
/* A new empty database NAME (dropped first); its connection string,
 * without the password (static storage). */
const char *pgt_fresh_db(const char *name);
/* The file holding the superuser's password. */
const char *pgt_password_file(void);
/* Run sql on database name; -1 on error. */
int pgt_exec(const char *name, const char *sql);
/* The first column of the first row of sql on name, as an integer; -1
 * when there is none. */
long long pgt_int(const char *name, const char *sql);
/* Run the loop until done(arg) holds or ms passed; 0 if it held. */
int pgt_loop_until(struct event_base *, int (*done)(void *), void *arg, int ms);

#endif
