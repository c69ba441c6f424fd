/* SPDX-License-Identifier: ISC */
/*
 * floodgate - allocation wrappers that abort on failure.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

void *
xmalloc(size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: %zu bytes", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		fatal("xcalloc: %zu * %zu bytes", n, size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	return xreallocarray(ptr, 1, size);
}

void *
xreallocarray(void *ptr, size_t n, size_t size)
{
	void *p;

	if (n == 0 || size == 0)
		n = size = 1;
	if (size != 0 && n > SIZE_MAX / size)
		fatalx("xreallocarray: %zu * %zu overflows", n, size);
	if ((p = realloc(ptr, n * size)) == NULL)
		fatal("xreallocarray: %zu * %zu bytes", n, size);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		fatal("xstrndup");
	return p;
}

#define TABLE_HUGE (2u << 20) /* bytes: tables this big get huge pages */

void *
xcalloc_table(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		fatalx("xcalloc_table: %zu * %zu overflows", n, size);
	if (n * size < TABLE_HUGE)
		return xcalloc(n, size);
	p = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("xcalloc_table: mmap %zu bytes", n * size);
#ifdef MADV_HUGEPAGE
	madvise(p, n * size, MADV_HUGEPAGE); /* a hint; THP may be off */
#endif
	return p; /* zero-filled by mmap */
}

void
xfree_table(void *p, size_t n, size_t size)
{
	if (p == NULL)
		return;
	if (n * size < TABLE_HUGE)
		free(p);
	else
		munmap(p, n * size);
}

static uint64_t
slot_hash(const unsigned char *slot)
{
	uint64_t h;

	memcpy(&h, slot, sizeof h); /* the slot's first member */
	return h;
}

void *
xtable_double(void *old, size_t n, size_t size)
{
	unsigned char *o = old, *t = xcalloc_table(n * 2, size);
	size_t         mask = n * 2 - 1, i, j;
	uint64_t       h;

	for (i = 0; i < n; i++) {
		if ((h = slot_hash(o + i * size)) == 0)
			continue;
		for (j = h & mask; slot_hash(t + j * size) != 0;
		     j = (j + 1) & mask)
			;
		memcpy(t + j * size, o + i * size, size);
	}
	xfree_table(old, n, size);
	return t;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("xasprintf");
	return n;
}
