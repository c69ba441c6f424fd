/* SPDX-License-Identifier: ISC */
/*
 * floodgate - allocation wrappers.
 *
 * Allocation failure is fatal: callers never see NULL from these, so
 * ENOMEM is not threaded back up through every caller.
 */
#ifndef FG_XMALLOC_H
#define FG_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
/* Big zeroed tables looked up at random (hash tables at their cap): from
 * 2 MiB up they come from mmap() with a huge-page hint, since nearly
 * every lookup would otherwise also miss the TLB. Free with xfree_table
 * and the same size. */
void *xcalloc_table(size_t, size_t);
void  xfree_table(void *, size_t, size_t);
/* Such a table of n slots of size bytes, each starting with a uint64_t
 * hash (0 = empty), probed linearly from hash & (slots - 1): a new one
 * with 2n slots holding the same entries, the old one freed. */
void *xtable_double(void *, size_t n, size_t size);
int   xasprintf(char **, const char *, ...)
    __attribute__((__format__(printf, 2, 3)));

#endif
