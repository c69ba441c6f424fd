/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the moderation page's insides, shared by admin/web*.c
 * only: web.c routes and checks sessions, webpages.c renders the queue,
 * subject and hits pages, webcharts.c the charts.
 */
#ifndef FG_WEB_INT_H
#define FG_WEB_INT_H

#include "web.h"
#include "websess.h"
#include "webstats.h"
#include "webutil.h"

#define WEB_PAGE_ROWS 50 /* rows of one queue or hits page */

struct web {
	struct adm_env   env;
	struct websess  *sess;
	struct webstats *stats;
};

/* One request with a live session. */
struct web_ctx {
	struct web            *w;
	const struct http_req *rq;
	struct http_resp      *rs;
	struct websess_info    si;
	int64_t                now; /* unix ms */
};

/* webpages.c */
void web_page_queue(struct web_ctx *);
void web_page_subject(struct web_ctx *);
void web_page_hits(struct web_ctx *);
/* webcharts.c */
void web_page_charts(struct web_ctx *);

#endif
