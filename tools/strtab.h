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
#include <stdint.h>

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
/* The same with the key's hash computed once by the caller (one hash
 * for several tables and for prefetching), for hot loops. */
uint64_t strtab_hash(const struct strtab *, const char *key, size_t len);
void    *strtab_get_h(const struct strtab *, const char *key, size_t len,
		      uint64_t h);
void   **strtab_put_h(struct strtab *, const char *key, size_t len, uint64_t h,
		      int *isnew);
/* Hints only: start loading key h's slot; once that is in cache, its
 * key copy and value. */
void strtab_prefetch(const struct strtab *, uint64_t h);
void strtab_prefetch_val(const struct strtab *, uint64_t h);
/* Iterate: *pos starts at 0; returns 0 at the end. */
int strtab_next(const struct strtab *, size_t *pos, const char **key,
		void **val);

#endif
