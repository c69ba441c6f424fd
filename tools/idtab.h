/* SPDX-License-Identifier: ISC */
/*
 * floodgate - a table of pointers keyed by server-assigned ids (c2s
 * process ids, Prosody session ids): open addressing on the id's keyed
 * 64-bit hash, no key copy and no string compare, so a lookup costs one
 * cache line. Only for ids the server makes up: names chosen by clients
 * go in a strtab, which compares the strings.
 */
#ifndef FG_IDTAB_H
#define FG_IDTAB_H

#include <stddef.h>
#include <stdint.h>

struct idtab;

struct idtab *idtab_new(void);
/* freefn (may be NULL) is called on every value left. */
void  idtab_free(struct idtab *, void (*freefn)(void *));
void *idtab_get(const struct idtab *, const char *id, size_t len);
/* The slot for id, created holding NULL if new (*isnew). */
void **idtab_put(struct idtab *, const char *id, size_t len, int *isnew);
/* Remove id; its value or NULL. */
void  *idtab_del(struct idtab *, const char *id, size_t len);
size_t idtab_count(const struct idtab *);
/* The same by the id's hash (idtab_hash), computed once by the caller;
 * idtab_prefetch starts loading its slot (a hint only). */
uint64_t idtab_hash(const char *id, size_t len);
void    *idtab_get_h(const struct idtab *, uint64_t h);
void   **idtab_put_h(struct idtab *, uint64_t h, int *isnew);
void    *idtab_del_h(struct idtab *, uint64_t h);
void     idtab_prefetch(const struct idtab *, uint64_t h);
/* Iterate: *pos starts at 0; 0 at the end. */
int idtab_next(const struct idtab *, size_t *pos, void **val);

#endif
