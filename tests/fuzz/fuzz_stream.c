/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the component link's stream parser (component/xmlstream.c)
 * fed arbitrary bytes in an arbitrary chunking (drawn from the input's
 * first bytes), with small limits so that they trip. Nothing may crash or
 * leak; every stanza handed out must serialise to valid UTF-8 with only
 * XML characters; and when the whole input parses cleanly both in one
 * piece and in chunks, both give the same stanzas.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "component/xmlstream.h"
#include "core/utf8.h"

#define FZ_MAX_STANZA 65536 /* bytes: small so the limit trips */
#define FZ_MAX_DEPTH 16     /* element levels */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static xmpp_ctx_t *ctx;

struct tally {
	uint64_t hash; /* FNV-1a over the serialised stanzas */
	unsigned n, refused;
};

static void
t_stanza(void *arg, xmpp_stanza_t *st)
{
	struct tally *t = arg;
	char         *buf, *fixed;
	size_t        len, i, flen;

	if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK)
		abort();
	if ((fixed = utf8_repair_n(buf, len, &flen)) != NULL)
		abort(); /* expat let through what XML forbids */
	for (i = 0; i < len; i++)
		t->hash = (t->hash ^ (uint8_t)buf[i]) * 0x100000001b3ULL;
	xmpp_free(ctx, buf);
	t->n++;
}

static void
t_refused(void *arg, xmpp_stanza_t *shell, enum xmls_refusal why)
{
	struct tally *t = arg;

	if (xmpp_stanza_get_children(shell) != NULL ||
	    xmls_refusal_name(why) == NULL)
		abort();
	t->refused++;
}

static void
t_open(void *arg, const char *id)
{
	((struct tally *)arg)->hash ^= 0x9e3779b97f4a7c15ULL;
}

static const struct xmls_cbs cbs = {t_open, t_stanza, t_refused, NULL};

static int
run(const uint8_t *data, size_t len, uint32_t seed, struct tally *t)
{
	struct xmls *x = xmls_new(ctx, FZ_MAX_STANZA, FZ_MAX_DEPTH, &cbs, t);
	size_t       i = 0, n;
	int          r = 0;

	memset(t, 0, sizeof *t);
	while (r == 0 && i < len) {
		if (seed == 0)
			n = len - i;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 97;
			if (n > len - i)
				n = len - i;
		}
		r = xmls_feed(x, (const char *)data + i, n);
		i += n;
	}
	if (r == -1 && xmls_error(x, NULL) == NULL)
		abort(); /* nobody called xmls_stop */
	xmls_free(x);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tally whole, parts;
	uint32_t     seed;
	int          r1, r2;

	if (ctx == NULL)
		ctx = xmpp_ctx_new(NULL, NULL);
	if (len < 2)
		return 0;
	seed = (uint32_t)data[0] << 8 | data[1] | 1;
	r1 = run(data + 2, len - 2, 0, &whole);
	r2 = run(data + 2, len - 2, seed, &parts);
	if (r1 == 0 && r2 == 0 &&
	    (whole.hash != parts.hash || whole.n != parts.n ||
	     whole.refused != parts.refused))
		abort();
	return 0;
}
