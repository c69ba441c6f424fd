/* SPDX-License-Identifier: ISC */
/*
 * floodgate - string-keyed hash table for the offline log tools.
 *
 * Open addressing with linear probing and backward-shift deletion. The
 * hash is keyed with a per-process random seed: log lines carry names
 * chosen by attackers, who must not be able to collide the table.
 * Values are caller-owned; keys are copied into the table's own storage.
 */
#ifndef FG_STRTAB_H
#define FG_STRTAB_H

#include <stddef.h>

struct strtab;

struct strtab *strtab_new(void);
/* Frees the table and its keys; calls freefn on each value if not NULL. */
void  strtab_free(struct strtab *, void (*freefn)(void *));
void *strtab_get(const struct strtab *, const char *key, size_t len);
/* Returns the slot for key, inserting a NULL value if absent; *isnew says
 * which. The pointer is valid until the next insertion or deletion. */
void **strtab_put(struct strtab *, const char *key, size_t len, int *isnew);
/* Removes key; returns its value or NULL. */
void  *strtab_del(struct strtab *, const char *key, size_t len);
size_t strtab_count(const struct strtab *);
/* Iterate: *pos starts at 0; returns 0 at the end. */
int strtab_next(const struct strtab *, size_t *pos, const char **key,
		void **val);

#endif
