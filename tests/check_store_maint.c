/* SPDX-License-Identifier: ISC */
/*
 * floodgate - unit tests for the store's upkeep (storage/maint.c):
 * pruning audit rows, registrations and reports past the retention in
 * bounded batches, and online backups.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw(), mkdtemp() */
#endif
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/types.h"
#include "storage/store.h"
#define TU_TMPDIR "fg-check-maint"
#include "testutil.h"

#define DAY_MS (86400LL * 1000)
#define NOW_MS (1800000000LL * 1000)

static long long
rows(const char *path, const char *table)
{
	sqlite3      *db;
	sqlite3_stmt *st;
	char          sql[64];
	long long     n = -1;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* 5 rows of each kind 100 days old, 3 from yesterday. */
static void
fill(struct store *s)
{
	struct store_audit        a;
	struct store_registration r;
	char                      k[64];
	int                       i;

	for (i = 0; i < 8; i++) {
		int64_t at = i < 5 ? NOW_MS - 100 * DAY_MS : NOW_MS - DAY_MS;

		snprintf(k, sizeof k, "u%d@example.org", i);
		memset(&a, 0, sizeof a);
		a.at = at;
		a.type = FG_SUBJ_ACCOUNT;
		a.key = k;
		a.old_verdict = FG_V_ALLOW;
		a.new_verdict = FG_V_THROTTLE;
		a.reason = "test";
		store_queue_audit(s, &a);
		r.account = k;
		r.ip = "192.0.2.1";
		r.at = at;
		store_queue_registration(s, &r);
		ck_assert_int_eq(
		    store_report_add(s, "reporter@example.org", k, "spam", at),
		    1);
	}
	ck_assert_int_eq(store_flush(s), 0);
}

START_TEST(test_prune_batches)
{
	struct store      *s;
	struct store_stats st;
	int64_t            cut = NOW_MS - 90 * DAY_MS;

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	fill(s);
	/* a batch bounds each table's work per call */
	ck_assert_int_eq(store_prune(s, cut, 2), 6);
	ck_assert_int_eq(store_prune(s, cut, 2), 6);
	ck_assert_int_eq(store_prune(s, cut, 2), 3);
	ck_assert_int_eq(store_prune(s, cut, 2), 0);
	ck_assert_int_eq(rows(dbpath, "audit"), 3);
	ck_assert_int_eq(rows(dbpath, "registrations"), 3);
	ck_assert_int_eq(rows(dbpath, "reports"), 3);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.pruned, 15);
	store_close(s);
}
END_TEST

START_TEST(test_backup)
{
	struct store        *s;
	struct store_subject e;
	struct stat          sb;
	char                 dest[160], err[256];

	ck_assert_ptr_nonnull(s = store_open(dbpath));
	fill(s);
	memset(&e, 0, sizeof e);
	e.type = FG_SUBJ_DOMAIN;
	e.key = "spam.example";
	e.override = FG_OVR_BLOCK;
	e.actor = "admin@example.org";
	e.reason = "spam";
	e.updated = NOW_MS;
	ck_assert_int_eq(store_commit_admin(s, &e, NULL), 0);
	snprintf(dest, sizeof dest, "%s/copy.db", dir);
	ck_assert_int_eq(store_backup(s, dest, err, sizeof err), 0);
	ck_assert_int_eq(stat(dest, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 077, 0);
	ck_assert_int_eq(rows(dest, "subjects"), 1);
	ck_assert_int_eq(rows(dest, "audit"), 8);
	/* never over an existing file */
	ck_assert_int_eq(store_backup(s, dest, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "exists"));
	ck_assert_int_eq(rows(dest, "subjects"), 1);
	snprintf(dest, sizeof dest, "%s/no/such/dir.db", dir);
	ck_assert_int_eq(store_backup(s, dest, err, sizeof err), -1);
	store_close(s);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("store_maint");
	TCase *tc = tcase_create("store_maint");

	log_init(1, 0, "check_store_maint");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_prune_batches);
	tcase_add_test(tc, test_backup);
	suite_add_tcase(su, tc);
	return tu_run(su);
}
