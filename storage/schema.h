/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's on-disk schema and its migrations (internal to
 * storage/).
 */
#ifndef FG_STORE_SCHEMA_H
#define FG_STORE_SCHEMA_H

#include <sqlite3.h>

#define STORE_SCHEMA_VERSION 3 /* PRAGMA user_version this code writes */

/* Check, configure and create or migrate the freshly opened db so that
 * it holds schema STORE_SCHEMA_VERSION. -1 after logging one line that
 * names path; the file is left as it was found. */
int store_schema_setup(sqlite3 *db, const char *path);

#endif
