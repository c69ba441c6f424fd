/* SPDX-License-Identifier: ISC */
/*
 * floodgate - a real component for tests and the stanza fuzz target: a
 * config serving example.org (admin admin@example.org, component
 * floodgate.example.org), a real policy, an optional temporary store, and
 * a send sink that serialises every reply (the link stays down); one
 * upstream RTBL, rtbl.example's spam_source_domains.
 *
 *	struct harness h;
 *	hn_init(&h, 1);              // 1: with a store in /tmp
 *	hn_send(&h, "<iq .../>");    // through comp_dispatch()
 *	strstr(h.last, "<error")     // the last reply, serialised
 *	hn_fini(&h);
 */
#ifndef FG_COMP_HARNESS_H
#define FG_COMP_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <strophe.h>

#include "component/comp.h"
#include "core/config.h"
#include "policy/policy.h"
#include "storage/store.h"

#define HN_COMP_JID "floodgate.example.org"

struct harness {
	struct event_base *base;
	struct fg_config   cfg;
	struct policy     *pol;
	struct store      *st;
	struct comp       *c;
	xmpp_ctx_t        *ctx;
	char               db[128];
	char              *last;    /* the last reply, serialised */
	size_t             replies; /* replies since hn_init */
	size_t             reply_bytes;
	size_t             reply_max; /* bytes of the largest reply */
};

static char              *hn_serves[] = {"example.org"};
static char              *hn_admins[] = {"admin@example.org"};
static char              *hn_peers[] = {"peer.example"};
static struct fg_upstream hn_upstreams[] = {
    {"rtbl.example", "spam_source_domains"},
};

static inline void
hn_sink(xmpp_stanza_t *st, void *arg)
{
	struct harness *h = arg;
	char           *buf;
	size_t          len;

	if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK)
		abort();
	free(h->last);
	h->last = strdup(buf);
	xmpp_free(h->ctx, buf);
	h->replies++;
	h->reply_bytes += len;
	if (len > h->reply_max)
		h->reply_max = len;
}

/* The config before hn_start: defaults plus the names above. */
static inline void
hn_config(struct harness *h)
{
	memset(h, 0, sizeof *h);
	config_defaults(&h->cfg);
	h->cfg.comp_jid = HN_COMP_JID;
	h->cfg.comp_secret = "s3cret";
	h->cfg.comp_port = 1; /* never connected */
	h->cfg.serves.v = hn_serves;
	h->cfg.serves.n = 1;
	h->cfg.admins.v = hn_admins;
	h->cfg.admins.n = 1;
	h->cfg.bl_domains.v = hn_peers;
	h->cfg.bl_domains.n = 1;
	h->cfg.upstreams = hn_upstreams;
	h->cfg.nupstreams = 1;
}

static inline void
hn_start(struct harness *h, int with_store)
{
	int fd;

	if (with_store) {
		/* tmpfs where there is one: the store syncs its commits */
		snprintf(h->db, sizeof h->db, "%s/fg_comp.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if ((fd = mkstemp(h->db)) == -1)
			abort();
		close(fd);
		if ((h->st = store_open(h->db)) == NULL)
			abort();
	}
	h->base = event_base_new();
	h->pol = pol_new(&h->cfg, h->st);
	h->c = comp_new(h->base, &h->cfg, h->pol, h->st);
	comp_set_sink(h->c, hn_sink, h);
	h->ctx = xmpp_ctx_new(NULL, NULL);
}

static inline void
hn_init(struct harness *h, int with_store)
{
	hn_config(h);
	hn_start(h, with_store);
}

/* Dispatch one stanza given as XML; 0, or -1 when it does not parse. */
static inline int
hn_send(struct harness *h, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(h->ctx, xml);

	if (st == NULL)
		return -1;
	comp_dispatch(h->c, st);
	xmpp_stanza_release(st);
	return 0;
}

static inline void
hn_fini(struct harness *h)
{
	char side[160];

	comp_free(h->c);
	pol_free(h->pol);
	if (h->st != NULL) {
		store_close(h->st);
		unlink(h->db);
		snprintf(side, sizeof side, "%s-wal", h->db);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", h->db);
		unlink(side);
	}
	event_base_free(h->base);
	xmpp_ctx_free(h->ctx);
	free(h->last);
	free(h->cfg.comp_server);
}

#endif
