/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the moderation page on the [http] listener, under /admin:
 * the review queue, a subject's page, recent limit hits and charts,
 * server-rendered HTML with inline SVG, no script (doc/web.md).
 *
 * Admins log in with a one-time link from the ad-hoc command web-login
 * or floodgatectl web-login; every action is an admin verb (verbs.h)
 * with the admin's bare JID as the actor, as for ad-hoc commands.
 */
#ifndef FG_WEB_H
#define FG_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "../core/http.h"
#include "verbs.h"

struct web;

#define WEB_PREFIX "/admin" /* where the pages live on the listener */

struct web *web_new(void);
void        web_free(struct web *);
/* What the pages act on: pol, store and cfg are borrowed; set again
 * after a reload. */
void web_set_env(struct web *, const struct adm_env *);
/* Once a second: the chart counters take the policy's new counts. */
void web_tick(struct web *, int64_t now_ms);
/* The http handler for WEB_PREFIX (http_add_handler's fn, arg web). */
void web_handle(const struct http_req *, struct http_resp *, void *web);

/* A one-time login link for admin (a bare or full JID that must be one
 * of [admins] jids) into url; r says why not. */
void web_login_link(struct web *, const char *admin, int64_t now_ms, char *url,
		    size_t urlsz, struct adm_result *r);

#endif
