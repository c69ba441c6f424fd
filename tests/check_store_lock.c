/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the store's guards (storage/lock.c and the
 * checks around it): one writer per store, a store deleted or replaced
 * under the daemon, no silent re-creation, owner-only permissions, and
 * text written by older versions repaired on read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw(), mkdtemp() */
#endif
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/types.h"
#include "core/utf8.h"
#include "storage/store.h"
#define TU_TMPDIR "fg-check-lock"
#include "testutil.h"

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static struct store_subject
blocked(const char *key, const char *reason)
{
	struct store_subject s = {
	    .type = FG_SUBJ_ACCOUNT,
	    .key = key,
	    .score_at = 1700000000000,
	    .verdict = FG_V_ALLOW,
	    .override = FG_OVR_BLOCK,
	    .actor = "admin@example.org",
	    .reason = reason,
	    .updated = 1700000000000,
	};
	return s;
}

/* A second opener (floodgatectl sweep --import beside the daemon) is
 * refused with who holds the store; after close it may open. */
START_TEST(test_one_writer)
{
	struct store *a, *b;
	const char   *log;
	char          want[64];

	ck_assert_ptr_nonnull(a = store_open(dbpath));
	cap_start();
	b = store_open(dbpath);
	log = cap_end();
	ck_assert_ptr_null(b);
	snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
	ck_assert_msg(strstr(log, want) != NULL, "%s", log);
	ck_assert_ptr_nonnull(strstr(log, "through the daemon"));
	store_close(a);
	ck_assert_ptr_nonnull(b = store_open(dbpath));
	store_close(b);
}
END_TEST

/* Audit rows hold addresses and JIDs: a new store is owner-only, and
 * one an older version left world-readable is tightened. */
START_TEST(test_private)
{
	struct store *s;
	struct stat   sb;
	mode_t        old = umask(022);

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 077, 0);
	store_close(s);
	ck_assert_int_eq(chmod(dbpath, 0644), 0);
	cap_start();
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_ptr_nonnull(strstr(cap_end(), "readable by every"));
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 007, 0);
	store_close(s);
	umask(old);
}
END_TEST

/* Deleted under the open handle: flushes and admin commits fail instead
 * of writing into a file nobody will read, logged once. */
START_TEST(test_deleted_under_us)
{
	struct store        *s;
	struct store_subject e = blocked("a@example.org", "spam");
	const char          *why = NULL, *log;
	char                 side[160];

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_int_eq(store_health(s, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(store_commit_admin(s, &e, NULL), 0);
	unlink(dbpath);
	snprintf(side, sizeof side, "%s-wal", dbpath);
	unlink(side);
	cap_start();
	ck_assert_int_eq(store_health(s, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "deleted"));
	e.key = "b@example.org";
	ck_assert_int_eq(store_commit_admin(s, &e, NULL), -1);
	store_queue_subject(s, &e);
	ck_assert_int_eq(store_flush(s), -1);
	ck_assert_int_eq(store_flush(s), -1);
	ck_assert_uint_eq(store_queued(s), 1);
	log = cap_end();
	ck_assert_int_eq(count(log, "deleted while in use"), 1);
	cap_start();
	store_close(s);
	cap_end();
}
END_TEST

/* Replaced by another file of the same name: the same. */
START_TEST(test_replaced_under_us)
{
	struct store        *s;
	struct store_subject e = blocked("a@example.org", "spam");
	const char          *why = NULL;
	char                 other[160];
	int                  fd;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	snprintf(other, sizeof other, "%s/other", dir);
	fd = open(other, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(rename(other, dbpath), 0);
	cap_start();
	ck_assert_int_eq(store_commit_admin(s, &e, NULL), -1);
	ck_assert_int_eq(store_health(s, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "replaced"));
	store_close(s);
	cap_end();
}
END_TEST

/* A restart where the database vanished but its lock file shows a store
 * was in use refuses to start empty; a fresh directory is created. */
START_TEST(test_no_silent_recreate)
{
	struct store        *s;
	struct store_subject e = blocked("a@example.org", "spam");
	const char          *log;
	char                 side[160];

	cap_start();
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	ck_assert_ptr_nonnull(strstr(cap_end(), "new, empty store"));
	ck_assert_int_eq(store_commit_admin(s, &e, NULL), 0);
	store_close(s);
	unlink(dbpath);
	snprintf(side, sizeof side, "%s-wal", dbpath);
	unlink(side);
	cap_start();
	s = store_open(dbpath);
	log = cap_end();
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(log, "refusing to start with an empty"));
	ck_assert_int_eq(access(dbpath, F_OK), -1);
}
END_TEST

static int nloaded;
static int loaded_ok;

static void
on_subject(const struct store_subject *e, void *arg)
{
	(void)arg;
	nloaded++;
	if (utf8_xml_ok(e->reason, NULL) == 0 &&
	    utf8_xml_ok(e->actor, NULL) == 0 && strstr(e->reason, "spam"))
		loaded_ok++;
}

static void
on_audit(const struct store_audit *a, void *arg)
{
	(void)arg;
	nloaded++;
	if (utf8_xml_ok(a->reason, NULL) == 0)
		loaded_ok++;
}

/* Rows an older version wrote with any bytes come back as valid text:
 * they are pushed in stanzas. A key that is not text is skipped. */
START_TEST(test_repair_on_load)
{
	struct store *s;
	sqlite3      *db;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	store_close(s);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(
		db,
		"INSERT INTO subjects (type, key, override, actor, reason,"
		" updated) VALUES ('account', 'x@example.org', 'block',"
		" 'adm\xe9', CAST(X'7370616d20e92007' AS TEXT), 1);"
		"INSERT INTO subjects (type, key, updated) VALUES"
		" ('account', CAST(X'e940782e6f7267' AS TEXT), 1);"
		"INSERT INTO audit (at, type, key, old, new, reason)"
		" VALUES (1, 'account', 'x@example.org', 'allow', 'block',"
		" CAST(X'ff' AS TEXT));",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_ptr_nonnull(s = store_open(dbpath));
	nloaded = loaded_ok = 0;
	cap_start();
	ck_assert_int_eq(store_load_subjects(s, on_subject, NULL), 0);
	ck_assert_ptr_nonnull(strstr(cap_end(), "not valid UTF-8"));
	ck_assert_int_eq(nloaded, 1);
	ck_assert_int_eq(loaded_ok, 1);
	nloaded = loaded_ok = 0;
	ck_assert_int_eq(store_audit_recent(s, FG_SUBJ_ACCOUNT, "x@example.org",
					    0, on_audit, NULL),
			 0);
	ck_assert_int_eq(nloaded, 1);
	ck_assert_int_eq(loaded_ok, 1);
	store_close(s);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("store_lock");
	TCase *tc = tcase_create("store_lock");

	log_init(1, 0, "check_store_lock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_one_writer);
	tcase_add_test(tc, test_private);
	tcase_add_test(tc, test_deleted_under_us);
	tcase_add_test(tc, test_replaced_under_us);
	tcase_add_test(tc, test_no_silent_recreate);
	tcase_add_test(tc, test_repair_on_load);
	suite_add_tcase(su, tc);
	return tu_run(su);
}
