/* SPDX-License-Identifier: ISC */
/*
 * floodgate - report: failed logins by host and by user name.
 *
 * Memory is one row per distinct host and per distinct user name, and
 * the spamtrap set; nothing per line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "authlog.h"
#include "strtab.h"
#include "sweep.h"

struct report {
	struct strtab      *hosts;
	struct strtab      *users;
	struct strtab      *traps;
	uint64_t            total;
	uint64_t            no_user; /* failures without a user name */
	uint32_t            hours[24];
	struct report_row **sorted[2]; /* [1] hosts, [0] users */
	size_t              nsorted[2];
};

static struct report_row *row_get(struct strtab *, const char *, size_t);
static void               row_hit(struct report_row *, int64_t, int);
static int                cmp_row(const void *, const void *);
static void               sort_rows(struct report *, int);
static size_t             lower_key(char *, const char *, const char *);

struct report *
report_new(void)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->hosts = strtab_new();
	r->users = strtab_new();
	r->traps = strtab_new();
	return r;
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	strtab_free(r->hosts, free);
	strtab_free(r->users, free);
	strtab_free(r->traps, NULL);
	free(r->sorted[0]);
	free(r->sorted[1]);
	free(r);
}

/* user[@host] lowercased into key (2 * LOGSCAN_FIELD_MAX bytes). */
static size_t
lower_key(char *key, const char *user, const char *host)
{
	size_t n = 0;

	for (; *user != '\0'; user++)
		key[n++] = tolower((unsigned char)*user);
	if (host != NULL && *host != '\0') {
		key[n++] = '@';
		for (; *host != '\0'; host++)
			key[n++] = tolower((unsigned char)*host);
	}
	key[n] = '\0';
	return n;
}

int
report_load_spamtraps(struct report *r, const char *path)
{
	FILE  *fp;
	char   line[2 * LOGSCAN_FIELD_MAX], key[2 * LOGSCAN_FIELD_MAX];
	char  *p, *e;
	int    isnew;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]);
		     e--)
			;
		*e = '\0';
		if (*p == '\0' || e - p >= LOGSCAN_FIELD_MAX)
			continue;
		n = lower_key(key, p, NULL);
		*strtab_put(r->traps, key, n, &isnew) =
		    r; /* non-NULL: present */
	}
	fclose(fp);
	return 0;
}

static struct report_row *
row_get(struct strtab *t, const char *key, size_t len)
{
	void             **slot;
	int                isnew;
	struct report_row *row;

	slot = strtab_put(t, key, len, &isnew);
	if (!isnew)
		return *slot;
	row = xcalloc(1, sizeof(*row) + len + 1);
	memcpy(row + 1, key, len + 1);
	row->key = (const char *)(row + 1);
	*slot = row;
	return row;
}

static void
row_hit(struct report_row *row, int64_t t, int hour)
{
	row->attempts++;
	row->hours[hour]++;
	if (row->first == 0 || t < row->first)
		row->first = t;
	if (t > row->last)
		row->last = t;
}

void
report_rec(const struct logscan_rec *rec, void *arg)
{
	struct report     *r = arg;
	struct report_row *h = NULL, *u;
	char               key[2 * LOGSCAN_FIELD_MAX];
	size_t             n;
	int                hour, trap = 0;

	if (rec->type != LOGSCAN_AUTH_FAIL)
		return;
	hour = (int)(((rec->t % 86400) + 86400) % 86400 / 3600);
	r->total++;
	r->hours[hour]++;
	if (rec->ip[0] != '\0') {
		h = row_get(r->hosts, rec->ip, strlen(rec->ip));
		row_hit(h, rec->t, hour);
	}
	if (rec->user[0] == '\0') {
		r->no_user++;
		return;
	}
	/* A trap listed as "name" matches on every domain. */
	n = lower_key(key, rec->user, NULL);
	if (strtab_get(r->traps, key, n) != NULL)
		trap = 1;
	n = lower_key(key, rec->user, rec->host);
	if (strtab_get(r->traps, key, n) != NULL)
		trap = 1;
	u = row_get(r->users, key, n);
	row_hit(u, rec->t, hour);
	u->spamtrap = trap;
	if (trap && h != NULL)
		h->trap_hits++;
}

static int
cmp_row(const void *x, const void *y)
{
	const struct report_row *a = *(struct report_row *const *)x;
	const struct report_row *b = *(struct report_row *const *)y;

	if (a->attempts != b->attempts)
		return a->attempts < b->attempts ? 1 : -1;
	return strcmp(a->key, b->key);
}

static void
sort_rows(struct report *r, int hosts)
{
	struct strtab *t = hosts ? r->hosts : r->users;
	size_t         pos = 0, i = 0;
	const char    *key;
	void          *v;

	free(r->sorted[hosts]);
	r->sorted[hosts] =
	    xreallocarray(NULL, strtab_count(t) + 1, sizeof(**r->sorted));
	while (strtab_next(t, &pos, &key, &v))
		r->sorted[hosts][i++] = v;
	r->nsorted[hosts] = i;
	qsort(r->sorted[hosts], i, sizeof(**r->sorted), cmp_row);
}

int
report_walk(struct report *r, int                               hosts,
	    int (*cb)(const struct report_row *, void *), void *arg)
{
	size_t i;

	hosts = hosts != 0;
	sort_rows(r, hosts);
	for (i = 0; i < r->nsorted[hosts]; i++)
		if (cb(r->sorted[hosts][i], arg) == -1)
			return -1;
	return 0;
}

const struct report_row *
report_get(const struct report *r, int hosts, const char *key)
{
	return strtab_get(hosts ? r->hosts : r->users, key, strlen(key));
}

size_t
report_count(const struct report *r, int hosts)
{
	return strtab_count(hosts ? r->hosts : r->users);
}

void
report_totals(const struct report *r, uint64_t *total, uint64_t *no_user)
{
	*total = r->total;
	*no_user = r->no_user;
}

const uint32_t *
report_hours(const struct report *r)
{
	return r->hours;
}
