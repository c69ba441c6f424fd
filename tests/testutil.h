/* SPDX-License-Identifier: ISC */
/*
 * floodgate - small helpers the Check tests share: a fresh database path
 * and its removal (with SQLite's -wal/-shm side files), the path of a
 * fixture under the source tree, and running a suite.
 */
#ifndef FG_TESTUTIL_H
#define FG_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
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

/* Run every test of s (output as CK_VERBOSITY says) and free it; the
 * exit status of the test binary. */
static inline int
tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int      nf;

	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
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

#ifdef TU_TMPDIR
/* One fresh directory per test (TU_TMPDIR names it), the store's path in
 * it, and stderr captured to a file in it: the Check fixtures of the
 * store tests. Define TU_TMPDIR before including this header. */
#include <fcntl.h>
#include <ftw.h>

static char dir[64];
static char dbpath[128];
static char capture[128];
static int  saved_stderr = -1;

static inline int
tu_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/%s-XXXXXX", TU_TMPDIR);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/floodgate.db", dir);
	snprintf(capture, sizeof capture, "%s/stderr.txt", dir);
}

static inline void
teardown(void)
{
	nftw(dir, tu_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* Send log output (stderr in foreground mode) to a file. */
static inline void
cap_start(void)
{
	int fd;

	fflush(stderr);
	saved_stderr = dup(2);
	fd = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
}

/* Restore stderr; return what was logged (static buffer). */
static inline const char *
cap_end(void)
{
	static char buf[8192];
	ssize_t     n;
	int         fd;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(capture, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}
#endif

#endif
