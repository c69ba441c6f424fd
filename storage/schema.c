/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's schema, checks on open, and migrations.
 *
 * The schema version lives in PRAGMA user_version. Each migration takes
 * version N to N+1 inside one transaction that also bumps user_version,
 * so a crash mid-migration leaves the old version intact. A database
 * that is not ours, is damaged, or is newer than this code is refused
 * with one log line, never replaced: an empty store would silently
 * unblock every spammer.
 *
 * Version 1 (the prototype layout, kept here so its migration can be
 * read and tested) stored enums as integers and had no expiry, override,
 * registrations or subscribers:
 *
 *	subjects(type INTEGER, key TEXT, score REAL, verdict INTEGER,
 *	    updated INTEGER, PRIMARY KEY (type, key))
 *	audit(at INTEGER, type INTEGER, key TEXT, old INTEGER, new INTEGER,
 *	    reason TEXT)
 *	reports(reporter TEXT, subject TEXT, reason TEXT, at INTEGER,
 *	    UNIQUE (reporter, subject))
 *
 * Version 2 stores enums by their configuration names (readable with the
 * sqlite3 shell, and immune to enum reordering), keys subjects WITHOUT
 * ROWID, and adds the columns and tables below.
 *
 * Version 3 adds reports_sent: the XEP-0377 reports floodgate sent to
 * other servers' abuse addresses and to collectors, one row per subject
 * and destination, so a restart never sends one again; and
 * reports.attached, what a reporting user chose to attach (a note, a
 * reported message), the only message text floodgate ever passes on;
 * and an index of reports by subject, read on every verdict change of a
 * remote account.
 */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "schema.h"

#define SCHEMA_BUSY_MS 1000 /* ms to wait for a lock; see store.c */
/* Page cache per connection, KiB (SQLite's default is 2 MiB). A flush
 * touches pages all over the subjects table and the audit index; keeping
 * them cached avoids re-reading them from the OS on every flush. */
#define SCHEMA_CACHE_KIB 32768

/* Tables and indexes shared by a fresh version 2 and the v1->v2 path.
 * The CHECKs are OR chains, not IN lists: SQLite evaluates an IN list
 * through an ephemeral table built on every row written, an 87 KB
 * malloc/free that made glibc trim and regrow the heap each time (5x
 * slower flushes, measured with bench/bench_store). */
#define DDL_SUBJECTS                                                           \
	"CREATE TABLE subjects ("                                              \
	" type TEXT NOT NULL"                                                  \
	"  CHECK (type = 'account' OR type = 'domain' OR type = 'ip'"          \
	"   OR type = 'prefix'),"                                              \
	" key TEXT NOT NULL,"                                                  \
	" score REAL NOT NULL DEFAULT 0,"                                      \
	" score_at INTEGER NOT NULL DEFAULT 0,"                                \
	" verdict TEXT NOT NULL DEFAULT 'allow'"                               \
	"  CHECK (verdict = 'allow' OR verdict = 'throttle'"                   \
	"   OR verdict = 'quarantine' OR verdict = 'block'),"                  \
	" expires INTEGER NOT NULL DEFAULT 0,"                                 \
	" override TEXT NOT NULL DEFAULT 'none'"                               \
	"  CHECK (override = 'none' OR override = 'allow'"                     \
	"   OR override = 'quarantine' OR override = 'block'),"                \
	" actor TEXT,"                                                         \
	" reason TEXT,"                                                        \
	" updated INTEGER NOT NULL,"                                           \
	" PRIMARY KEY (type, key)) WITHOUT ROWID;"
#define DDL_AUDIT                                                              \
	"CREATE TABLE audit ("                                                 \
	" id INTEGER PRIMARY KEY,"                                             \
	" at INTEGER NOT NULL,"                                                \
	" type TEXT NOT NULL,"                                                 \
	" key TEXT NOT NULL,"                                                  \
	" old TEXT NOT NULL,"                                                  \
	" new TEXT NOT NULL,"                                                  \
	" reason TEXT,"                                                        \
	" signals TEXT,"                                                       \
	" actor TEXT NOT NULL DEFAULT 'auto');"                                \
	"CREATE INDEX audit_subject ON audit (type, key, at);"
#define DDL_REPORTS                                                            \
	"CREATE TABLE reports ("                                               \
	" reporter TEXT NOT NULL,"                                             \
	" subject TEXT NOT NULL,"                                              \
	" reason TEXT,"                                                        \
	" at INTEGER NOT NULL,"                                                \
	" UNIQUE (reporter, subject));"
#define DDL_V2_NEW                                                             \
	"CREATE TABLE registrations ("                                         \
	" id INTEGER PRIMARY KEY,"                                             \
	" account TEXT NOT NULL,"                                              \
	" ip TEXT,"                                                            \
	" at INTEGER NOT NULL);"                                               \
	"CREATE INDEX registrations_at ON registrations (at);"                 \
	"CREATE TABLE subscribers ("                                           \
	" node TEXT NOT NULL,"                                                 \
	" jid TEXT NOT NULL,"                                                  \
	" PRIMARY KEY (node, jid)) WITHOUT ROWID;"

#define DDL_V3_NEW                                                             \
	"CREATE TABLE reports_sent ("                                          \
	" subject TEXT NOT NULL,"                                              \
	" dest TEXT NOT NULL,"                                                 \
	" at INTEGER NOT NULL,"                                                \
	" PRIMARY KEY (subject, dest)) WITHOUT ROWID;"                         \
	"ALTER TABLE reports ADD COLUMN attached TEXT;"                        \
	"CREATE INDEX reports_subject ON reports (subject, at);"

#define V1_VERDICT(c)                                                          \
	"CASE " c " WHEN 0 THEN 'allow' WHEN 1 THEN 'throttle' "               \
	"WHEN 2 THEN 'quarantine' WHEN 3 THEN 'block' END"
#define V1_TYPE(c)                                                             \
	"CASE " c " WHEN 0 THEN 'account' WHEN 1 THEN 'domain' "               \
	"WHEN 2 THEN 'ip' WHEN 3 THEN 'prefix' END"

/* A new store: the newest schema at once. */
static const char                                 create_new[] =
    DDL_SUBJECTS DDL_AUDIT DDL_REPORTS DDL_V2_NEW DDL_V3_NEW;

/* v1 -> v2: rebuild subjects and audit with names for the integer enums
 * (an unknown integer becomes NULL and fails NOT NULL, aborting the
 * migration rather than losing the row); add the new tables. */
static const char migrate_1_2[] =
    "ALTER TABLE subjects RENAME TO subjects_v1;"
    "ALTER TABLE audit RENAME TO audit_v1;" DDL_SUBJECTS DDL_AUDIT
    "INSERT INTO subjects (type, key, score, score_at, verdict, expires,"
    " override, actor, reason, updated)"
    " SELECT " V1_TYPE("type") ", key, score, updated, " V1_VERDICT(
	"verdict") ", 0, 'none', NULL, NULL, updated FROM subjects_v1;"
		   "INSERT INTO audit (at, type, key, old, new, reason, "
		   "signals, actor)"
		   " SELECT at, " V1_TYPE("type") ", key, " V1_VERDICT(
		       "old") ", " V1_VERDICT("new") ", reason, NULL, 'auto' "
						     "FROM audit_v1 ORDER BY "
						     "rowid;"
						     "DROP TABLE subjects_v1;"
						     "DROP TABLE "
						     "audit_v1;" DDL_V2_NEW;

/* v2 -> v3: the table of reports sent to other servers. */
static const char migrate_2_3[] = DDL_V3_NEW;

/* migrations[i] takes version i+1 to i+2. */
static const char *const migrations[] = {
    migrate_1_2,
    migrate_2_3,
};
_Static_assert(sizeof migrations / sizeof migrations[0] ==
		   STORE_SCHEMA_VERSION - 1,
	       "one migration per schema version");

static int  schema_int(sqlite3 *, const char *, int *);
static int  schema_quick_check(sqlite3 *, const char *);
static int  schema_step(sqlite3 *, const char *, int, const char *,
			const char *);
static void schema_fail(sqlite3 *, const char *, const char *);

/* The one log line for a refused database. */
static void
schema_fail(sqlite3 *db, const char *path, const char *what)
{
	int sys = sqlite3_system_errno(db);

	if (sys != 0)
		log_warnx("store: %s: %s: %s (%s)", path, what,
			  sqlite3_errmsg(db), strerror(sys));
	else
		log_warnx("store: %s: %s: %s", path, what, sqlite3_errmsg(db));
}

/* Run a statement returning one integer. */
static int
schema_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int           rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* PRAGMA quick_check: -1 after logging the first problem it reports. */
static int
schema_quick_check(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st;
	const char   *msg;
	char          buf[LOG_ESC_MAX];
	int           rc, bad = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) !=
	    SQLITE_OK) {
		schema_fail(db, path, "cannot check database");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		msg = (const char *)sqlite3_column_text(st, 0);
		if (msg != NULL && strcmp(msg, "ok") != 0 && !bad) {
			log_warnx("store: %s: database is corrupt, refusing "
				  "it (quick_check: %s)",
				  path, log_esc(buf, sizeof buf, msg));
			bad = 1;
		}
	}
	if (rc != SQLITE_DONE && !bad) {
		schema_fail(db, path, "database is corrupt, refusing it");
		bad = 1;
	}
	sqlite3_finalize(st);
	return bad ? -1 : 0;
}

/* Run sql and set user_version to version, in one transaction. */
static int
schema_step(sqlite3 *db, const char *sql, int version, const char *path,
	    const char *what)
{
	char pragma[64];

	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		schema_fail(db, path, what);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
fail:
	schema_fail(db, path, "cannot lock database");
	return -1;
}

int
store_schema_setup(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st;
	const char   *mode;
	char          cache[64];
	int           version, ntables, ok;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, SCHEMA_BUSY_MS);
	/* The first read: a file that is not SQLite fails here. */
	if (schema_int(db, "PRAGMA user_version", &version) == -1) {
		schema_fail(db, path, "not a usable database, refusing it");
		return -1;
	}
	if (sqlite3_db_readonly(db, "main") == 1) {
		log_warnx("store: %s: database is read-only", path);
		return -1;
	}
	if (schema_quick_check(db, path) == -1)
		return -1;
	if (version > STORE_SCHEMA_VERSION) {
		log_warnx("store: %s: schema version %d is newer than this "
			  "floodgate understands (%d); refusing to touch it",
			  path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (schema_int(db, "SELECT count(*) FROM sqlite_schema", &ntables) ==
	    -1) {
		schema_fail(db, path, "cannot read schema");
		return -1;
	}
	if (version == 0 && ntables != 0) {
		log_warnx("store: %s: not a floodgate database (tables but no "
			  "schema version), refusing it",
			  path);
		return -1;
	}
	if (version > 0 && ntables == 0) {
		log_warnx("store: %s: schema version %d but no tables, "
			  "refusing it",
			  path, version);
		return -1;
	}

	/* WAL survives application crashes with synchronous=NORMAL and
	 * lets readers (sqlite3 shell, backups) run beside the daemon. */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) != SQLITE_OK) {
		schema_fail(db, path, "cannot set WAL mode");
		return -1;
	}
	ok = sqlite3_step(st) == SQLITE_ROW &&
	     (mode = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	     strcmp(mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		schema_fail(db, path, "cannot set WAL mode");
		return -1;
	}
	snprintf(cache, sizeof cache, "PRAGMA cache_size = -%d",
		 SCHEMA_CACHE_KIB);
	if (sqlite3_exec(db, cache, NULL, NULL, NULL) != SQLITE_OK) {
		schema_fail(db, path, "cannot set the cache size");
		return -1;
	}
	if (sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		schema_fail(db, path, "cannot set synchronous mode");
		return -1;
	}

	if (version == 0) {
		if (schema_step(db, create_new, STORE_SCHEMA_VERSION, path,
				"cannot create schema") == -1)
			return -1;
		log_info("store: %s: created (schema version %d)", path,
			 STORE_SCHEMA_VERSION);
		return 0;
	}
	for (; version < STORE_SCHEMA_VERSION; version++) {
		if (schema_step(db, migrations[version - 1], version + 1, path,
				"cannot migrate schema") == -1)
			return -1;
		log_info("store: %s: migrated schema version %d to %d", path,
			 version, version + 1);
	}
	return 0;
}
