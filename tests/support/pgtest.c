/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the throwaway PostgreSQL cluster of the tests (pgtest.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp() */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "pgtest.h"

static char dir[64];
static char dsn0[256]; /* the cluster's dsn without a database */
static char pwfile[128];

static int
script(const char *cmd)
{
	const char *top = getenv("top_srcdir");
	char        line[1024];
	int         rc;

	snprintf(line, sizeof line, "sh %s/tests/pgcluster.sh %s %s",
		 top != NULL ? top : TOP_SRCDIR, cmd, dir);
	rc = system(line);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc) == 0 ? 0 : WEXITSTATUS(rc) == 77 ? 77 : -1;
}

int
pgt_start(void)
{
	char  path[128], *p;
	FILE *fp;
	int   rc;

	snprintf(dir, sizeof dir, "/tmp/fg-pg.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if ((rc = script("start")) != 0)
		return rc;
	snprintf(path, sizeof path, "%s/dsn", dir);
	snprintf(pwfile, sizeof pwfile, "%s/password", dir);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(dsn0, sizeof dsn0, fp) == NULL)
		dsn0[0] = '\0';
	fclose(fp);
	dsn0[strcspn(dsn0, "\n")] = '\0';
	/* drop "dbname=...": pgt_fresh_db adds its own */
	if ((p = strstr(dsn0, " dbname=")) != NULL)
		*p = '\0';
	return dsn0[0] != '\0' ? 0 : -1;
}

void
pgt_stop(void)
{
	if (dir[0] != '\0')
		(void)script("stop");
}

int
pgt_down(void)
{
	return script("down");
}

int
pgt_up(void)
{
	return script("up");
}

const char *
pgt_password_file(void)
{
	return pwfile;
}

static PGconn *
connect_db(const char *name)
{
	static char dsn[512];
	const char *kw[] = {"dbname", "passfile", NULL};
	const char *val[] = {dsn, "/dev/null", NULL};
	char        pw[128] = "";
	FILE       *fp;
	PGconn     *c;

	if ((fp = fopen(pwfile, "r")) != NULL) {
		if (fgets(pw, sizeof pw, fp) == NULL)
			pw[0] = '\0';
		fclose(fp);
	}
	pw[strcspn(pw, "\n")] = '\0';
	snprintf(dsn, sizeof dsn, "%s dbname=%s password=%s", dsn0, name, pw);
	c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

int
pgt_exec(const char *name, const char *sql)
{
	PGconn   *c = connect_db(name);
	PGresult *r;
	int       ok;

	if (c == NULL)
		return -1;
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	     PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

long long
pgt_int(const char *name, const char *sql)
{
	PGconn   *c = connect_db(name);
	PGresult *r;
	long long v = -1;

	if (c == NULL)
		return -1;
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
	    !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return v;
}

const char *
pgt_fresh_db(const char *name)
{
	static char dsn[512];
	char        sql[256];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		 name);
	(void)pgt_exec("postgres", sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	if (pgt_exec("postgres", sql) == -1)
		return NULL;
	snprintf(dsn, sizeof dsn, "%s dbname=%s", dsn0, name);
	return dsn;
}

int
pgt_loop_until(struct event_base *base, int (*done)(void *), void *arg, int ms)
{
	struct timeval t0, t;
	struct timeval slice = {0, 10000};

	gettimeofday(&t0, NULL);
	for (;;) {
		if (done(arg))
			return 0;
		gettimeofday(&t, NULL);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
			(t.tv_usec - t0.tv_usec) / 1000 >=
		    ms)
			return -1;
		event_base_loopexit(base, &slice);
		event_base_dispatch(base);
	}
}
