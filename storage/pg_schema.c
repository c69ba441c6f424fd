/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the PostgreSQL store's schema and its migrations.
 *
 * The same tables and the same schema version numbers as the SQLite
 * store (schema.c), so one floodgate version means one layout on both.
 * The version lives in floodgate_meta, beside the change counter that
 * orders what instances tell each other. Creation, or the migrations, run
 * in one transaction under an advisory lock, so instances started
 * together do not migrate twice, and a crash leaves the old version.
 * A database that is not ours or is newer than this code is refused.
 *
 * PostgreSQL stores begin at version 2 (the first SQLite layout was
 * never written to PostgreSQL): a schema change adds its SQLite
 * migration to schema.c and its PostgreSQL one to pg_migrations[].
 *
 * Change numbers: every writing transaction first takes a number from
 * floodgate_meta.chg (floodgate_begin()); the UPDATE that takes it holds
 * that row's lock to the commit, so numbers become visible in the order
 * they were taken, and a reader that saw number N has seen every change
 * numbered below. A trigger stamps each subjects row whose verdict,
 * override or expiry changes with its transaction's number, and the
 * writer's last statement, floodgate_tell(), sends NOTIFY floodgate when
 * a row took it. A change made by hand without floodgate_tell() is
 * seen at the next NOTIFY or reconnect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "pg_int.h"
#include "schema.h"

#define PG_FIRST_VERSION 2       /* the version a new PostgreSQL store gets */
#define PG_LOCK_KEY 0x466c6f6f64 /* advisory lock key ("Flood") */

static const char create_v2[] =
    "CREATE TABLE floodgate_meta ("
    " version integer NOT NULL,"
    " chg bigint NOT NULL);"
    "INSERT INTO floodgate_meta VALUES (2, 0);"
    "CREATE TABLE subjects ("
    " type text NOT NULL"
    "  CHECK (type IN ('account', 'domain', 'ip', 'prefix')),"
    " key text NOT NULL,"
    " score double precision NOT NULL DEFAULT 0,"
    " score_at bigint NOT NULL DEFAULT 0,"
    " verdict text NOT NULL DEFAULT 'allow'"
    "  CHECK (verdict IN ('allow', 'throttle', 'quarantine', 'block')),"
    " expires bigint NOT NULL DEFAULT 0,"
    " override text NOT NULL DEFAULT 'none'"
    "  CHECK (override IN ('none', 'allow', 'quarantine', 'block')),"
    " actor text,"
    " reason text,"
    " updated bigint NOT NULL,"
    " chg bigint NOT NULL DEFAULT 0,"
    " writer bigint NOT NULL DEFAULT 0,"     /* instance that wrote it */
    " admin boolean NOT NULL DEFAULT false," /* written by an admin */
    " PRIMARY KEY (type, key));"
    "CREATE INDEX subjects_chg ON subjects (chg) WHERE chg > 0;"
    "CREATE TABLE audit ("
    " id bigserial PRIMARY KEY,"
    " at bigint NOT NULL,"
    " type text NOT NULL,"
    " key text NOT NULL,"
    " old text NOT NULL,"
    " new text NOT NULL,"
    " reason text,"
    " signals text,"
    " actor text NOT NULL DEFAULT 'auto');"
    "CREATE INDEX audit_subject ON audit (type, key, at);"
    "CREATE TABLE reports ("
    " reporter text NOT NULL,"
    " subject text NOT NULL,"
    " reason text,"
    " at bigint NOT NULL,"
    " UNIQUE (reporter, subject));"
    "CREATE INDEX reports_at ON reports (at);"
    "CREATE TABLE registrations ("
    " id bigserial PRIMARY KEY,"
    " account text NOT NULL,"
    " ip text,"
    " at bigint NOT NULL);"
    "CREATE INDEX registrations_at ON registrations (at);"
    "CREATE TABLE subscribers ("
    " node text NOT NULL,"
    " jid text NOT NULL,"
    " PRIMARY KEY (node, jid));"
    /* a writer's first statement: its change number, taken under the
     * counter row's lock (held to the commit) before any subjects row is
     * locked, so writers queue on one lock in one order */
    "CREATE FUNCTION floodgate_begin() RETURNS bigint LANGUAGE plpgsql AS $$"
    " DECLARE n bigint;"
    " BEGIN"
    "  UPDATE floodgate_meta SET chg = chg + 1 RETURNING chg INTO n;"
    "  PERFORM set_config('floodgate.chg', n::text, true);"
    "  RETURN n;"
    " END $$;"
    "CREATE FUNCTION floodgate_chg() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE n bigint;"
    " BEGIN"
    "  n := nullif(current_setting('floodgate.chg', true), '')::bigint;"
    "  IF n IS NULL THEN n := floodgate_begin(); END IF;"
    "  NEW.chg := n;"
    "  RETURN NEW;"
    " END $$;"
    /* a writer's last statement: NOTIFY if a row took this transaction's
     * number (the partial index finds them). Not a row trigger: that
     * cost a third more per row written, and a BEFORE INSERT trigger
     * also sees the rows ON CONFLICT turns into no-op updates */
    "CREATE FUNCTION floodgate_tell() RETURNS void LANGUAGE plpgsql AS $$"
    " DECLARE n bigint;"
    " BEGIN"
    "  n := nullif(current_setting('floodgate.chg', true), '')::bigint;"
    "  IF n IS NOT NULL AND EXISTS (SELECT 1 FROM subjects WHERE chg = n)"
    "  THEN PERFORM pg_notify('" PG_CHANNEL "', n::text); END IF;"
    " END $$;"
    /* WHEN, not a test inside the function: most rows of a batch only
     * move a score, and skip the function call altogether */
    "CREATE TRIGGER subjects_chg_ins BEFORE INSERT ON subjects"
    " FOR EACH ROW WHEN (NEW.verdict <> 'allow' OR NEW.override <> 'none')"
    " EXECUTE FUNCTION floodgate_chg();"
    "CREATE TRIGGER subjects_chg_upd BEFORE UPDATE ON subjects"
    " FOR EACH ROW WHEN (NEW.verdict <> OLD.verdict"
    "  OR NEW.override <> OLD.override OR NEW.expires <> OLD.expires)"
    " EXECUTE FUNCTION floodgate_chg();";

/* v2 -> v3, as in schema.c: reports sent to other servers, what a
 * reporting user attached, reports by subject. */
static const char pg_migrate_2_3[] =
    "CREATE TABLE reports_sent ("
    " subject text NOT NULL,"
    " dest text NOT NULL,"
    " at bigint NOT NULL,"
    " PRIMARY KEY (subject, dest));"
    "ALTER TABLE reports ADD COLUMN attached text;"
    "CREATE INDEX reports_subject ON reports (subject, at);";

/* pg_migrations[i] takes version PG_FIRST_VERSION + i to the next; a
 * new store is created at PG_FIRST_VERSION and migrated in the same
 * transaction. NULL ends the list (C has no empty arrays). */
static const char *const pg_migrations[] = {pg_migrate_2_3, NULL};
#define PG_NMIGRATIONS (sizeof pg_migrations / sizeof pg_migrations[0] - 1)
_Static_assert(PG_FIRST_VERSION + PG_NMIGRATIONS == STORE_SCHEMA_VERSION,
	       "a schema version for SQLite (schema.c) needs its PostgreSQL "
	       "migration in pg_migrations[] too");

static int schema_cmd(PGconn *, const char *, const char *, const char *);
static int schema_int(PGconn *, const char *, long long *);

/* Run sql; -1 after logging what failed. */
static int
schema_cmd(PGconn *c, const char *sql, const char *name, const char *what)
{
	PGresult *r = PQexec(c, sql);
	int       ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		log_warnx("store: %s: %s: %s", name, what,
			  PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

/* One integer (NULL reads as -1); -1 on error. */
static int
schema_int(PGconn *c, const char *sql, long long *out)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		 PQnfields(r) == 1;

	if (ok)
		*out = PQgetisnull(r, 0, 0)
			   ? -1
			   : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return ok ? 0 : -1;
}

int
pgstore_schema_setup(PGconn *c, const char *name)
{
	long long has_meta, has_subjects, version;
	char      sql[128];
	int       created = 0;

	if (schema_cmd(c, "BEGIN", name, "cannot begin") == -1)
		return -1;
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)",
		 (long long)PG_LOCK_KEY);
	if (schema_cmd(c, sql, name, "cannot lock the schema") == -1)
		goto fail;
	if (schema_int(c,
		       "SELECT count(*) FROM pg_tables WHERE tablename ="
		       " 'floodgate_meta' AND schemaname = current_schema()",
		       &has_meta) == -1 ||
	    schema_int(c,
		       "SELECT count(*) FROM pg_tables WHERE tablename ="
		       " 'subjects' AND schemaname = current_schema()",
		       &has_subjects) == -1) {
		log_warnx("store: %s: cannot read the catalog: %s", name,
			  PQerrorMessage(c));
		goto fail;
	}
	if (has_meta == 0 && has_subjects != 0) {
		log_warnx("store: %s: a subjects table but no floodgate_meta: "
			  "not a floodgate database, refusing it",
			  name);
		goto fail;
	}
	if (has_meta == 0) {
		if (schema_cmd(c, create_v2, name, "cannot create schema") ==
		    -1)
			goto fail;
		created = 1;
	}
	if (schema_int(c, "SELECT max(version) FROM floodgate_meta",
		       &version) == -1 ||
	    version < PG_FIRST_VERSION) {
		log_warnx("store: %s: floodgate_meta holds no usable version, "
			  "refusing it",
			  name);
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		log_warnx("store: %s: schema version %lld is newer than this "
			  "floodgate understands (%d); refusing to touch it",
			  name, version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (; version < STORE_SCHEMA_VERSION; version++) {
		snprintf(sql, sizeof sql,
			 "UPDATE floodgate_meta SET version = %lld",
			 version + 1);
		if (schema_cmd(c, pg_migrations[version - PG_FIRST_VERSION],
			       name, "cannot migrate schema") == -1 ||
		    schema_cmd(c, sql, name, "cannot migrate schema") == -1)
			goto fail;
		if (!created)
			log_info("store: %s: migrated schema version %lld to "
				 "%lld",
				 name, version, version + 1);
	}
	if (schema_cmd(c, "COMMIT", name, "cannot commit") == -1)
		goto fail;
	if (created)
		log_info("store: %s: created (schema version %d)", name,
			 STORE_SCHEMA_VERSION);
	return 0;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}
