/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the generator's lines, as ejabberd 23.01 and Prosody 0.12
 * (mod_log_auth with log_auth_ips = "all") write them; see
 * doc/floodgatectl-sweep.md for the lines captured from real servers.
 * ejabberd logs the login as typed; Prosody logs the nodeprepped name,
 * so a capitalised login is lost there, as on a real server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "loggen_int.h"

#define PROSODY_SID 0x55d0c8a00000ULL /* Prosody session ids start here */

static const char *const res_name[] = {"desktop", "laptop", "phone",
				       "b0",      "b1",     "b2"};
static const char *const months = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* Civil date of day number d (days since 1970-01-01). */
static void
civil(int64_t d, int *y, unsigned *m, unsigned *dd)
{
	int64_t  z = d + 719468, era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*dd = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* One line at g->now: ejabberd's prefix, or Prosody's with source. */
static void
line(struct lg *g, const char *src, const char *level, const char *rest)
{
	int64_t  d = g->now / 86400, s = g->now % 86400;
	int      n, y;
	unsigned m, dd;

	if (d != g->dday) {
		civil(d, &y, &m, &dd);
		if (g->o->fmt == LOGGEN_PROSODY)
			snprintf(g->date, sizeof(g->date), "%.3s %02u",
				 months + 3 * (m - 1), dd);
		else
			snprintf(g->date, sizeof(g->date), "%04d-%02u-%02u", y,
				 m, dd);
		g->dday = d;
	}
	g->usec = (g->usec + 7919) % 1000000;
	if (g->o->fmt == LOGGEN_PROSODY)
		n = fprintf(g->fp, "%s %02d:%02d:%02d %s\t%s\t%s\n", g->date,
			    (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
			    src, level, rest);
	else
		n = fprintf(g->fp, "%s %02d:%02d:%02d.%06u+00:00 [%s] %s\n",
			    g->date, (int)(s / 3600), (int)(s / 60 % 60),
			    (int)(s % 60), g->usec, level, rest);
	if (n < 0)
		g->err = 1;
	else
		g->st.bytes += (uint64_t)n;
	g->st.lines++;
}

static void
fmt_ip(char *buf, size_t sz, uint32_t ip)
{
	snprintf(buf, sz, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255,
		 ip >> 8 & 255, ip & 255);
}

static void
name_as(uint32_t acct, int caps, char *buf, size_t sz)
{
	loggen_name(acct, buf, sz);
	if (caps)
		buf[0] -= 'a' - 'A';
}

static void
heap_push(struct lg *g, const struct lg_pend *p)
{
	size_t i, up;

	if (g->nheap == g->capheap) {
		g->capheap = g->capheap ? g->capheap * 2 : 4096;
		g->heap = xreallocarray(g->heap, g->capheap, sizeof(*g->heap));
	}
	i = g->nheap++;
	while (i > 0 && g->heap[up = (i - 1) / 2].t > p->t) {
		g->heap[i] = g->heap[up];
		i = up;
	}
	g->heap[i] = *p;
}

static struct lg_pend
heap_pop(struct lg *g)
{
	struct lg_pend top = g->heap[0], last = g->heap[--g->nheap];
	size_t         i = 0, c;

	while ((c = 2 * i + 1) < g->nheap) {
		if (c + 1 < g->nheap && g->heap[c + 1].t < g->heap[c].t)
			c++;
		if (g->heap[c].t >= last.t)
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	g->heap[i] = last;
	return top;
}

void
lg_server_start(struct lg *g)
{
	if (g->o->fmt == LOGGEN_PLAN)
		return;
	if (g->o->fmt == LOGGEN_PROSODY)
		line(g, "startup", "info",
		     "Hello and welcome to Prosody version 0.12.3");
	else
		line(g, "", "info",
		     "<0.110.0>@ejabberd_app:start/2:63 ejabberd 23.01-1 is "
		     "started in the node ejabberd@localhost in 2.01s");
}

/* Emit the session ends due by until, each at its own time. */
void
lg_drain(struct lg *g, int64_t until)
{
	char           name[32], buf[512], sid[32];
	struct lg_pend p;

	while (g->nheap > 0 && g->heap[0].t <= until) {
		p = heap_pop(g);
		if (p.t > g->now)
			g->now = p.t;
		if (g->o->fmt == LOGGEN_PROSODY) {
			snprintf(sid, sizeof(sid), "c2s%llx",
				 (unsigned long long)(PROSODY_SID + p.sid));
			line(g, sid, "info",
			     lg_rnd(g, 2) ? "Client disconnected: connection "
					    "closed"
					  : "Client disconnected: closed");
			continue;
		}
		name_as(p.acct, p.caps, name, sizeof(name));
		snprintf(buf, sizeof(buf),
			 "<0.%u.0>@ejabberd_c2s:process_terminated/2:295 "
			 "(tcp|<0.%u.0>) Closing c2s session for %s@%s/%s: %s",
			 p.sid, p.sid, name, g->host, res_name[p.res],
			 lg_rnd(g, 2) ? "Stream reset by peer"
				      : "Connection failed: connection closed");
		line(g, "", "info", buf);
	}
}

static void
registered(struct lg *g, const struct lg_sess *s)
{
	char name[32], ip[20], buf[256], sid[32];

	loggen_name(s->acct, name, sizeof(name));
	fmt_ip(ip, sizeof(ip), s->ip);
	if (g->o->fmt == LOGGEN_PROSODY) {
		snprintf(sid, sizeof(sid), "c2s%llx",
			 (unsigned long long)(PROSODY_SID + g->pid++));
		snprintf(buf, sizeof(buf), "User account created: %s@%s", name,
			 g->host);
		line(g, sid, "info", buf);
		return;
	}
	snprintf(buf, sizeof(buf),
		 "<0.%u.0>@mod_register:try_register/6:380 The account %s@%s "
		 "was registered from IP address %s",
		 g->pid++, name, g->host, ip);
	line(g, "", "info", buf);
}

static void
session(struct lg *g, const struct lg_sess *s)
{
	char           name[32], ip[20], buf[512], sid[32];
	struct lg_pend p;

	p.sid = g->pid++;
	p.acct = s->acct;
	p.caps = s->caps;
	p.res = s->res;
	p.t = s->t + s->dur;
	fmt_ip(ip, sizeof(ip), s->ip);
	if (g->o->fmt == LOGGEN_PLAN) {
		name_as(s->acct, 0, buf, sizeof(buf));
		name_as(s->acct, s->caps, name, sizeof(name));
		if (fprintf(g->fp, "%lld %u %s@%s %s %s %s\n", (long long)s->t,
			    s->dur, buf, g->host, name, ip,
			    res_name[s->res]) < 0)
			g->err = 1;
		g->st.sessions++;
		return;
	}
	if (g->o->fmt == LOGGEN_PROSODY) {
		/* Prosody logs the nodeprepped name: no case */
		loggen_name(s->acct, name, sizeof(name));
		snprintf(sid, sizeof(sid), "c2s%llx",
			 (unsigned long long)(PROSODY_SID + p.sid));
		line(g, sid, "info", "Client connected");
		snprintf(buf, sizeof(buf), "Authenticated as %s@%s", name,
			 g->host);
		line(g, sid, "info", buf);
		snprintf(buf, sizeof(buf),
			 "Successful authentication as %s@%s from IP: %s", name,
			 g->host, ip);
		line(g, sid, "info", buf);
	} else {
		/* a real node logs every TCP connection it accepts */
		snprintf(buf, sizeof(buf),
			 "<0.335.0>@ejabberd_listener:accept/7:273 (<0.%u.0>) "
			 "Accepted connection %s:%u -> 192.0.2.1:5222",
			 p.sid, ip, 1024 + lg_rnd(g, 64000));
		line(g, "", "info", buf);
		name_as(s->acct, s->caps, name, sizeof(name));
		snprintf(buf, sizeof(buf),
			 "<0.%u.0>@ejabberd_c2s:process_auth_result/3:272 "
			 "(tcp|<0.%u.0>) Accepted c2s %s authentication for "
			 "%s@%s by mnesia backend from %s",
			 p.sid, p.sid,
			 s->res >= LG_RES_BOT ? "PLAIN" : "SCRAM-SHA-1", name,
			 g->host, ip);
		line(g, "", "info", buf);
		snprintf(buf, sizeof(buf),
			 "<0.%u.0>@ejabberd_c2s:bind/2:450 (tcp|<0.%u.0>) "
			 "Opened c2s session for %s@%s/%s",
			 p.sid, p.sid, name, g->host, res_name[s->res]);
		line(g, "", "info", buf);
	}
	heap_push(g, &p);
	g->st.sessions++;
}

/* Lines that are none of sweep's business, and password guessers. */
static void
noise(struct lg *g)
{
	char     buf[512], src[32];
	uint32_t r = lg_rnd(g, 4), pid = g->pid++;
	int      pro = g->o->fmt == LOGGEN_PROSODY;

	snprintf(src, sizeof(src), "c2s%llx",
		 (unsigned long long)(PROSODY_SID + pid));
	if (r == 0 && pro)
		line(g, "s2sin55d0c8b1", "info",
		     "Incoming s2s stream remote.example->example.org "
		     "authenticated");
	else if (r == 0) {
		snprintf(buf, sizeof(buf),
			 "<0.334.0>@ejabberd_listener:accept/7:273 (<0.%u.0>) "
			 "Accepted connection 10.%u.%u.%u:%u -> 192.0.2.1:5222",
			 pid, lg_rnd(g, 256), lg_rnd(g, 256), lg_rnd(g, 256),
			 1024 + lg_rnd(g, 60000));
		line(g, "", "info", buf);
	} else if (r == 1 && pro)
		line(g, src, "info", "Client connected");
	else if (r == 1) {
		snprintf(buf, sizeof(buf),
			 "<0.%u.0>@mod_mam:select/7:1024 Fetching archive for "
			 "user%u@%s: %u messages",
			 pid, lg_rnd(g, 9999), g->host, lg_rnd(g, 300));
		line(g, "", "debug", buf);
	} else if (pro) {
		snprintf(buf, sizeof(buf),
			 "Failed authentication attempt (not-authorized) for "
			 "user %s%u@%s from IP: 203.0.%u.%u",
			 lg_rnd(g, 3) ? "admin" : "test", lg_rnd(g, 50),
			 g->host, lg_rnd(g, 256), lg_rnd(g, 256));
		line(g, src, "info", buf);
	} else {
		snprintf(
		    buf, sizeof(buf),
		    "<0.%u.0>@ejabberd_c2s:process_auth_result/3:280 "
		    "(tcp|<0.%u.0>) Failed c2s PLAIN authentication for "
		    "%s%u@%s from 203.0.%u.%u: Invalid username or password",
		    pid, pid, lg_rnd(g, 3) ? "admin" : "test", lg_rnd(g, 50),
		    g->host, lg_rnd(g, 256), lg_rnd(g, 256));
		line(g, "", "warning", buf);
	}
}

void
lg_emit_day(struct lg *g)
{
	size_t i;

	for (i = 0; i < g->nday && !g->err; i++) {
		const struct lg_sess *s = &g->day[i];

		lg_drain(g, s->t);
		if (s->t > g->now)
			g->now = s->t;
		if (s->reg && g->o->fmt != LOGGEN_PLAN)
			registered(g, s);
		else if (!s->reg)
			session(g, s);
		if (lg_rnd(g, 3) == 0 && g->o->fmt != LOGGEN_PLAN)
			noise(g);
		if (g->o->target_bytes != 0 &&
		    g->st.bytes >= g->o->target_bytes &&
		    g->st.days >= (g->o->days ? g->o->days : 1))
			break;
	}
}
