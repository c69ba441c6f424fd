/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the charts page: small inline SVG drawn on the server
 * from the webstats rings and, for registrations and waves, from the
 * store. No script, no fonts, nothing fetched: it works offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xmalloc.h"
#include "../storage/store.h"
#include "web_int.h"

#define CH_W 720           /* chart width, px */
#define CH_H 160           /* chart height, px */
#define CH_LEFT 44         /* room for the scale, px */
#define CH_BOTTOM 18       /* room for the time labels, px */
#define CH_HOURS 24        /* hours on the hourly charts */
#define CH_MINUTES 120     /* minutes on the per-minute chart */
#define CH_SERIES 6        /* stacked series at most */
#define CH_TOP 10          /* domains on the top chart */
#define CH_NETS 5          /* networks on the failed-login chart */
#define CH_REGS_MAX 200000 /* registrations read for the chart */
#define HOUR_MS 3600000    /* ms */

static const char *const colors[CH_SERIES] = {
    "#e6a000", "#c0392b", "#7d3c98", "#2471a3", "#17a589", "#777",
};

/* A bar chart: v[i * ns + s] is series s in column i, stacked (parts
 * of one whole) or side by side (stack 0: different things). Columns
 * whose mark[i] is set are shaded red (mark NULL: none). */
static void
bars(struct evbuffer *b, const char *id, size_t n, size_t ns, int stack,
     const uint64_t *v, const char *const *names, const int *mark,
     const char *unit, size_t label_every, int64_t first_ms, int64_t step_ms)
{
	uint64_t max = 1, sum;
	double   bw = (double)(CH_W - CH_LEFT) / (double)n, y, h, x, sw;
	size_t   i, s;
	char     t[32];

	for (i = 0; i < n; i++) {
		for (sum = 0, s = 0; s < ns; s++)
			if (stack)
				sum += v[i * ns + s];
			else if (v[i * ns + s] > sum)
				sum = v[i * ns + s];
		if (sum > max)
			max = sum;
	}
	sw = stack ? bw : bw / (double)ns;
	web_put(
	    b,
	    "<svg id=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
	    "<text x=\"2\" y=\"10\">%llu</text><text x=\"2\" y=\"%d\">0"
	    "</text><text x=\"2\" y=\"24\">%s</text>",
	    id, CH_W, CH_H, CH_W, CH_H, (unsigned long long)max,
	    CH_H - CH_BOTTOM, unit);
	for (i = 0; i < n; i++) {
		y = CH_H - CH_BOTTOM;
		if (mark != NULL && mark[i])
			web_put(b,
				"<rect class=\"wave\" x=\"%.1f\" y=\"0\" "
				"width=\"%.1f\" height=\"%d\" fill=\"#fdd\">"
				"<title>wave</title></rect>",
				CH_LEFT + bw * (double)i, bw, CH_H - CH_BOTTOM);
		for (s = 0; s < ns; s++) {
			if (v[i * ns + s] == 0)
				continue;
			h = (double)v[i * ns + s] * (CH_H - CH_BOTTOM - 4) /
			    (double)max;
			if (stack) {
				y -= h;
				x = CH_LEFT + bw * (double)i;
			} else {
				y = CH_H - CH_BOTTOM - h;
				x = CH_LEFT + bw * (double)i + sw * (double)s;
			}
			web_put(b,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"%s\"><title>",
				x + 0.25, y, sw > 2 ? sw - 0.5 : sw, h,
				colors[s % CH_SERIES]);
			if (names != NULL) {
				web_esc(b, names[s]);
				web_put(b, ": ");
			}
			web_put(b, "%llu</title></rect>",
				(unsigned long long)v[i * ns + s]);
		}
		if (label_every > 0 && i % label_every == 0)
			web_put(b, "<text x=\"%.1f\" y=\"%d\">%.5s</text>",
				CH_LEFT + bw * (double)i, CH_H - 4,
				adm_fmt_time(first_ms + (int64_t)i * step_ms, t,
					     sizeof t) +
				    11);
	}
	web_put(b,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		"stroke=\"#999\"/></svg>",
		CH_LEFT, CH_H - CH_BOTTOM, CH_W, CH_H - CH_BOTTOM);
	if (names != NULL) {
		web_put(b, "<p>");
		for (s = 0; s < ns; s++) {
			web_put(b, "<span style=\"color:%s\">&#9632;</span> ",
				colors[s % CH_SERIES]);
			web_esc(b, names[s]);
			web_put(b, " &nbsp; ");
		}
		web_put(b, "</p>");
	}
}

static void
chart_refusals(struct web_ctx *x, int64_t h0)
{
	uint64_t(*why)[POL_HIT__MAX] = xcalloc(CH_HOURS, sizeof *why);
	const char *names[POL_HIT__MAX - 1];
	uint64_t   *v = xcalloc(CH_HOURS * (POL_HIT__MAX - 1), sizeof *v);
	size_t      i, s;

	webstats_hours_why(x->w->stats, x->now, CH_HOURS, why);
	for (s = 0; s + 1 < POL_HIT__MAX; s++)
		names[s] = pol_hit_why_name((enum pol_hit_why)s);
	for (i = 0; i < CH_HOURS; i++)
		for (s = 0; s + 1 < POL_HIT__MAX; s++)
			v[i * (POL_HIT__MAX - 1) + s] = why[i][s];
	web_put(x->rs->body, "<h2>Refusals per hour by reason</h2>");
	bars(x->rs->body, "refusals", CH_HOURS, POL_HIT__MAX - 1, 1, v, names,
	     NULL, "per hour", 3, h0, HOUR_MS);
	free(v);
	free(why);
}

static void
chart_flow(struct web_ctx *x)
{
	uint64_t   *g = xcalloc(CH_MINUTES, sizeof *g);
	uint64_t   *e = xcalloc(CH_MINUTES, sizeof *e);
	uint64_t   *v = xcalloc(CH_MINUTES * 2, sizeof *v);
	const char *names[2] = {"gates", "events"};
	int64_t     m0 = (x->now / 60000 - (CH_MINUTES - 1)) * 60000;
	size_t      i;

	webstats_minutes(x->w->stats, x->now, CH_MINUTES, g, e);
	for (i = 0; i < CH_MINUTES; i++) {
		v[2 * i] = g[i];
		v[2 * i + 1] = e[i];
	}
	web_put(x->rs->body, "<h2>Gates and events per minute</h2>");
	bars(x->rs->body, "flow", CH_MINUTES, 2, 0, v, names, NULL,
	     "per minute", 15, m0, 60000);
	free(g);
	free(e);
	free(v);
}

struct regs {
	int64_t   h0;
	uint64_t *per_hour;
	int      *wave;
};

static void
on_reg(const struct store_registration *r, void *arg)
{
	struct regs *rg = arg;
	int64_t      i = (r->at - rg->h0) / HOUR_MS;

	if (i >= 0 && i < CH_HOURS)
		rg->per_hour[i]++;
}

static void
on_wave(const struct store_audit *a, void *arg)
{
	struct regs *rg = arg;
	int64_t      i = (a->at - rg->h0) / HOUR_MS;

	if (i >= 0 && i < CH_HOURS)
		rg->wave[i] = 1;
}

static void
chart_registrations(struct web_ctx *x, int64_t h0)
{
	struct regs rg;
	const char *names[1] = {"registrations"};
	size_t      i, nw = 0;

	rg.h0 = h0;
	rg.per_hour = xcalloc(CH_HOURS, sizeof *rg.per_hour);
	rg.wave = xcalloc(CH_HOURS, sizeof *rg.wave);
	if (x->w->env.store != NULL) {
		(void)store_registered_since(x->w->env.store, h0, CH_REGS_MAX,
					     on_reg, &rg);
		(void)store_audit_recent(x->w->env.store, FG_SUBJ_DOMAIN,
					 "registration-wave", 1000, on_wave,
					 &rg);
	}
	for (i = 0; i < CH_HOURS; i++)
		nw += rg.wave[i] != 0;
	web_put(x->rs->body,
		"<h2>Registrations per hour</h2><p>Hours in which a "
		"registration wave started are shaded red (%zu in the last "
		"%d hours).</p>",
		nw, CH_HOURS);
	bars(x->rs->body, "registrations", CH_HOURS, 1, 1, rg.per_hour, names,
	     rg.wave, "per hour", 3, h0, HOUR_MS);
	free(rg.per_hour);
	free(rg.wave);
}

static void
chart_logins(struct web_ctx *x, int64_t h0)
{
	struct webstats_key top[CH_NETS];
	const char         *names[CH_NETS];
	uint64_t           *v, *one = xcalloc(CH_HOURS, sizeof *one);
	size_t              n, i, s;

	n = webstats_top(x->w->stats, x->now, CH_HOURS, 1, top, CH_NETS);
	web_put(x->rs->body, "<h2>Failed logins per hour by network</h2>");
	if (n == 0) {
		web_put(x->rs->body,
			"<p id=\"logins\">No failed logins in the last %d "
			"hours.</p>",
			CH_HOURS);
		free(one);
		return;
	}
	v = xcalloc(CH_HOURS * n, sizeof *v);
	for (s = 0; s < n; s++) {
		names[s] = top[s].key;
		webstats_key_hours(x->w->stats, x->now, CH_HOURS, 1, top[s].key,
				   one);
		for (i = 0; i < CH_HOURS; i++)
			v[i * n + s] = one[i];
	}
	bars(x->rs->body, "logins", CH_HOURS, n, 1, v, names, NULL, "per hour",
	     3, h0, HOUR_MS);
	free(v);
	free(one);
}

static void
chart_domains(struct web_ctx *x)
{
	struct webstats_key top[CH_TOP];
	struct evbuffer    *b = x->rs->body;
	size_t              n, i;
	double              w;

	n = webstats_top(x->w->stats, x->now, CH_HOURS, 0, top, CH_TOP);
	web_put(b, "<h2>Top remote domains by refusals (%d hours)</h2>",
		CH_HOURS);
	if (n == 0) {
		web_put(b,
			"<p id=\"domains\">No refusals of remote senders in "
			"the last %d hours.</p>",
			CH_HOURS);
		return;
	}
	web_put(b,
		"<svg id=\"domains\" width=\"%d\" height=\"%zu\" "
		"xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">",
		CH_W, n * 18 + 4);
	for (i = 0; i < n; i++) {
		w = (double)top[i].count * (CH_W - 260) / (double)top[0].count;
		web_put(b, "<text x=\"2\" y=\"%zu\">", i * 18 + 14);
		web_esc(b, top[i].key);
		web_put(b,
			"</text><rect x=\"220\" y=\"%zu\" width=\"%.1f\" "
			"height=\"14\" fill=\"%s\"/><text x=\"%.1f\" "
			"y=\"%zu\">%llu</text>",
			i * 18 + 3, w, colors[1], 224 + w, i * 18 + 14,
			(unsigned long long)top[i].count);
	}
	web_put(b, "</svg>");
}

void
web_page_charts(struct web_ctx *x)
{
	int64_t h0 = (x->now / HOUR_MS - (CH_HOURS - 1)) * HOUR_MS;

	web_page_begin(x->rs->body, "Charts", x->si.admin, x->si.csrf);
	if (webstats_lost(x->w->stats) > 0)
		web_put(x->rs->body,
			"<p class=\"note\">%llu hits came faster than the "
			"page could count them and are missing from the "
			"reasons, domains and networks below.</p>",
			(unsigned long long)webstats_lost(x->w->stats));
	chart_refusals(x, h0);
	chart_flow(x);
	chart_registrations(x, h0);
	chart_logins(x, h0);
	chart_domains(x);
	web_page_end(x->rs->body);
}
