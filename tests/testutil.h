/*
 * floodgate - small helpers the Check tests share: a fresh database path
 * and its removal (with SQLite's -wal/-shm side files), and the path of a
 * fixture under the source tree.
 */
#ifndef FG_TESTUTIL_H
#define FG_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A path under /tmp that does not exist yet, ending in ".db". */
static inline void
tu_tmpdb(char *out, size_t outsz, const char *prefix)
{
	char path[128];
	int  fd;

	snprintf(path, sizeof path, "/tmp/%s.XXXXXX", prefix);
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	close(fd);
	unlink(path);
	snprintf(out, outsz, "%s.db", path);
}

/* Remove a database file, the side files WAL mode leaves and the
 * store's lock file. */
static inline void
tu_rmdb(const char *db)
{
	char side[256];

	unlink(db);
	snprintf(side, sizeof side, "%s-wal", db);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", db);
	unlink(side);
	snprintf(side, sizeof side, "%s.lock", db);
	unlink(side);
}

#ifdef TOP_SRCDIR
/* tests/fixtures/logs/NAME under $top_srcdir (as make check sets it) or
 * the source tree configure saw. */
static inline const char *
tu_fixture(const char *name)
{
	static char buf[4096];
	const char *top = getenv("top_srcdir");

	snprintf(buf, sizeof buf, "%s/tests/fixtures/logs/%s",
		 top != NULL ? top : TOP_SRCDIR, name);
	return buf;
}
#endif

#endif
