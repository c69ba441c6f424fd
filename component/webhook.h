/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the alerts webhook: JSON bodies POSTed to one https:// URL
 * with libevent's HTTP client over OpenSSL, one at a time from a bounded
 * queue, retried with back-off. Nothing here waits: the caller queues
 * and returns (doc/alerts.md).
 */
#ifndef FG_WEBHOOK_H
#define FG_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct webhook;

struct webhook_stats {
	uint64_t sent;    /* answered 2xx */
	uint64_t retries; /* attempts after a failure */
	uint64_t failed;  /* given up after the last retry */
	uint64_t dropped; /* queue full: the oldest body was dropped */
	uint64_t queued;  /* waiting now, the one in flight included */
};

/* NULL (logged) if url is not https://host[:port]/path or ca_file (NULL:
 * the system's trust store) cannot be loaded. */
struct webhook *comp_webhook_new(struct event_base *, const char *url,
				 const char *ca_file);
void            comp_webhook_free(struct webhook *);
/* Queue a copy of body (JSON) for POSTing. */
void comp_webhook_post(struct webhook *, const char *body, size_t len);
void comp_webhook_stats(const struct webhook *, struct webhook_stats *);

#endif
