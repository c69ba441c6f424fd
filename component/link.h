/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the XEP-0114 link: our own socket on libevent and our own
 * bounded parser (xmlstream.c), reconnecting with exponential back-off
 * and jitter.
 */
#ifndef FG_LINK_H
#define FG_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <strophe.h>

#include "xmlstream.h"

/* The output queue: above HIGH we stop reading until it drains below
 * LOW (the server is not reading our answers); above MAX we close. HIGH
 * sits above what bursts of real traffic queue: at 1 MiB, test_pubsub's
 * full resync of 10,000 verdicts plus pubsub pushes paused us and its
 * page requests timed out behind Prosody's pace. MAX must stay above a
 * full resync, or every reconnect would overflow again. */
#define LINK_OUT_HIGH (8 * 1024 * 1024)  /* bytes */
#define LINK_OUT_LOW (2 * 1024 * 1024)   /* bytes */
#define LINK_OUT_MAX (128 * 1024 * 1024) /* bytes */

struct comp_link;

/* Called when the link goes up (handshake done) or down. */
typedef void (*comp_link_state_cb)(struct comp_link *, int up, void *);
/* Called with each stanza received while up (borrowed). */
typedef void (*comp_link_stanza_cb)(struct comp_link *, xmpp_stanza_t *,
				    void *);

struct link_stats {
	int      up;
	uint64_t connects;        /* handshakes completed */
	uint64_t reconnects;      /* attempts after the first */
	uint64_t handshake_fails; /* refused by the server */
	uint64_t stanzas_in;
	uint64_t stanzas_out;
	uint64_t stream_errors; /* streams we closed on bad input */
	uint64_t refused[4];    /* stanzas dropped, by enum xmls_refusal */
	uint64_t out_overflows; /* links closed on a full output queue */
	size_t   out_queued;    /* bytes waiting to be written */
	int      paused;        /* 1 while reading waits for the peer */
};

struct comp_link *comp_link_new(struct event_base *, const char *jid,
				const char *secret, const char *server,
				int port);
void              comp_link_free(struct comp_link *);
void comp_link_set_state_cb(struct comp_link *, comp_link_state_cb, void *);
void comp_link_set_stanza_cb(struct comp_link *, comp_link_stanza_cb, void *);
/* Bytes per stanza, element levels per stanza; the next stream uses
 * them. */
void comp_link_set_limits(struct comp_link *, size_t max_stanza,
			  unsigned max_depth);
/* Start connecting; failures are retried with back-off. */
void comp_link_start(struct comp_link *);
/* Close the stream (flushing what is queued, never waiting for the
 * peer); no reconnect. The state callback sees the link go down. */
void comp_link_stop(struct comp_link *);
int  comp_link_up(const struct comp_link *);
/* Queue a stanza (the caller keeps its reference) and flush soon. */
void        comp_link_send(struct comp_link *, xmpp_stanza_t *);
xmpp_ctx_t *comp_link_ctx(struct comp_link *);
const char *comp_link_jid(const struct comp_link *);
void        comp_link_get_stats(const struct comp_link *, struct link_stats *);

/* Pure back-off arithmetic, exposed for tests: delay in ms before attempt
 * number n (0-based), given a random value r in [0, 1). */
uint32_t comp_link_backoff_ms(unsigned n, double r);

#endif
