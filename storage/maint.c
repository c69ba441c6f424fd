/* SPDX-License-Identifier: ISC */
/*
 * floodgate - store upkeep the daemon runs for the operator: pruning old
 * audit rows, registrations and reports (they hold addresses and JIDs and
 * would grow forever), and online backups through SQLite's backup API, so
 * a copy is consistent while the daemon keeps writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../core/log.h"
#include "store_int.h"

/* Pages copied per backup step; the event loop stalls for one step at a
 * time, not for the whole copy of a large store. */
#define BACKUP_STEP_PAGES 1024 /* pages (4 KiB each by default) */

/*
 * audit and reports have no index on their time: a "WHERE at < ?" would
 * scan the whole table every tick once nothing is old. Rows are written
 * in time order, so only the oldest batch by rowid is looked at, and
 * pruning stops where the young rows begin.
 */
static const char *const prune_sql[] = {
    "DELETE FROM audit WHERE id IN"
    " (SELECT id FROM audit ORDER BY id LIMIT ?2) AND at < ?1",
    "DELETE FROM registrations WHERE id IN"
    " (SELECT id FROM registrations WHERE at < ?1 ORDER BY at LIMIT ?2)",
    "DELETE FROM reports WHERE rowid IN"
    " (SELECT rowid FROM reports ORDER BY rowid LIMIT ?2) AND at < ?1",
};

static int prune_one(struct sqlstore *, const char *, int64_t, size_t);

/* Up to batch rows of one table; the count, or -1. */
static int
prune_one(struct sqlstore *s, const char *sql, int64_t before, size_t batch)
{
	sqlite3_stmt *st;
	int           rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(s->err, sizeof s->err, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)batch);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		snprintf(s->err, sizeof s->err, "%s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
}

long
sqlstore_prune(struct sqlstore *s, int64_t before, size_t batch)
{
	size_t i;
	long   total = 0;
	int    n;

	if (s->lost != NULL || batch == 0)
		return 0;
	for (i = 0; i < sizeof prune_sql / sizeof prune_sql[0]; i++) {
		if ((n = prune_one(s, prune_sql[i], before, batch)) == -1) {
			if (!s->prune_failing++)
				log_warnx("store: %s: pruning old rows failed: "
					  "%s",
					  s->path, s->err);
			return -1;
		}
		total += n;
	}
	s->prune_failing = 0;
	s->stats.pruned += (uint64_t)total;
	return total;
}

int
sqlstore_backup(struct sqlstore *s, const char *dest, char *err, size_t errsz)
{
	sqlite3        *out = NULL;
	sqlite3_backup *b;
	int             fd, rc;

	if (sqlstore_health(s, NULL) == -1) {
		snprintf(err, errsz, "%s", s->lost);
		return -1;
	}
	/* never over an existing file, and owner-only like the store */
	if ((fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		snprintf(err, errsz, "%s: %s", dest, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(dest, &out, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", dest, sqlite3_errmsg(out));
		goto fail;
	}
	if ((b = sqlite3_backup_init(out, "main", s->db, "main")) == NULL) {
		snprintf(err, errsz, "%s: %s", dest, sqlite3_errmsg(out));
		goto fail;
	}
	do
		rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
	while (rc == SQLITE_OK);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errsz, "%s: %s", dest, sqlite3_errstr(rc));
		goto fail;
	}
	if (sqlite3_close(out) != SQLITE_OK) {
		out = NULL;
		snprintf(err, errsz, "%s: close failed", dest);
		goto fail_unlink;
	}
	log_info("store: %s: backed up to %s", s->path, dest);
	return 0;
fail:
	sqlite3_close(out);
fail_unlink:
	unlink(dest);
	return -1;
}
