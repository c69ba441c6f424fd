/* SPDX-License-Identifier: ISC */
/*
 * floodgate - generator of realistic ejabberd logs (tests and bench).
 *
 * Time moves forward one line at a time; session ends are kept in a
 * small min-heap so every line is written in time order, as a real
 * server writes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "tools/logscan.h"
#include "loggen.h"

#define LOGGEN_HEAP_MAX 4096 /* sessions open at once */

struct pend {
	int64_t  t;
	uint32_t acct;
	uint32_t pid;
	char     res[8];
	int      caps;
};

struct gen {
	FILE               *fp;
	const char         *host;
	uint64_t            rng;
	int64_t             now;  /* unix s */
	uint32_t            usec; /* fake sub-second part */
	uint32_t            pid;  /* next c2s process number */
	struct pend         heap[LOGGEN_HEAP_MAX];
	size_t              nheap;
	int64_t             day; /* cached date for the prefix */
	char                date[48];
	struct loggen_stats st;
	int                 err;
};

static const char *syll[] = {"ba", "be", "bo", "da", "di", "ku", "la",
			     "le", "lo", "ma", "mi", "na", "ne", "pu",
			     "ra", "ri", "se", "ta", "xi", "zo"};
#define NSYLL (sizeof(syll) / sizeof(syll[0]))

static uint32_t
rnd(struct gen *g, uint32_t n)
{
	/* xorshift64*: fast and good enough for a workload. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)((g->rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

void
loggen_name(uint32_t i, char *buf, size_t sz)
{
	size_t n = 0;

	/* Three or more syllables, bijective in i: names never collide. */
	do {
		if (n + 3 > sz)
			break;
		memcpy(buf + n, syll[i % NSYLL], 2);
		n += 2;
		i /= NSYLL;
	} while (i > 0 || n < 6);
	buf[n] = '\0';
}

/* Write one line with the ejabberd prefix for the current time. */
static void
line(struct gen *g, const char *level, const char *rest)
{
	int64_t d = g->now / 86400, s = g->now % 86400;
	int     n;

	if (d != g->day) {
		/* civil_from_days, inverse of logscan_days_from_civil */
		int64_t  z = d + 719468, era = z / 146097;
		unsigned doe = (unsigned)(z - era * 146097);
		unsigned yoe =
		    (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		unsigned mp = (5 * doy + 2) / 153,
			 dd = doy - (153 * mp + 2) / 5 + 1;
		unsigned m = mp < 10 ? mp + 3 : mp - 9;
		int64_t  y = (int64_t)yoe + era * 400 + (m <= 2);

		snprintf(g->date, sizeof(g->date), "%04d-%02u-%02u", (int)y, m,
			 dd);
		g->day = d;
	}
	g->usec = (g->usec + 7919) % 1000000;
	n = fprintf(g->fp, "%s %02d:%02d:%02d.%06u+00:00 [%s] %s\n", g->date,
		    (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60), g->usec,
		    level, rest);
	if (n < 0)
		g->err = 1;
	else
		g->st.bytes += n;
	g->st.lines++;
}

static void
heap_push(struct gen *g, const struct pend *p)
{
	size_t i = g->nheap++, up;

	while (i > 0 && g->heap[up = (i - 1) / 2].t > p->t) {
		g->heap[i] = g->heap[up];
		i = up;
	}
	g->heap[i] = *p;
}

static struct pend
heap_pop(struct gen *g)
{
	struct pend top = g->heap[0], last = g->heap[--g->nheap];
	size_t      i = 0, c;

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

static void
name_as(uint32_t acct, int caps, char *buf, size_t sz)
{
	loggen_name(acct, buf, sz);
	if (caps)
		buf[0] -= 'a' - 'A';
}

/* Emit the session ends due by until, each at its own time. */
static void
drain(struct gen *g, int64_t until)
{
	char        name[32], buf[512];
	struct pend p;

	while (g->nheap > 0 && g->heap[0].t <= until) {
		p = heap_pop(g);
		if (p.t > g->now)
			g->now = p.t;
		name_as(p.acct, p.caps, name, sizeof(name));
		snprintf(buf, sizeof(buf),
			 "<0.%u.0>@ejabberd_c2s:process_terminated/2:295 "
			 "(tcp|<0.%u.0>) Closing c2s session for %s@%s/%s: %s",
			 p.pid, p.pid, name, g->host, p.res,
			 rnd(g, 2) ? "Stream reset by peer"
				   : "Connection failed: connection closed");
		line(g, "info", buf);
	}
}

static void
tick(struct gen *g, uint32_t max_s)
{
	int64_t until = g->now + rnd(g, max_s + 1);

	drain(g, until);
	g->now = until;
}

/* Log in and open a session that ends after dur seconds. */
static void
session(struct gen *g, uint32_t acct, int caps, const char *ip, uint32_t dur,
	const char *res)
{
	char        name[32], buf[512];
	struct pend p;

	if (g->nheap >= LOGGEN_HEAP_MAX)
		drain(g, g->heap[0].t); /* never more than the heap holds */
	name_as(acct, caps, name, sizeof(name));
	p.pid = g->pid++;
	snprintf(
	    buf, sizeof(buf),
	    "<0.%u.0>@ejabberd_c2s:process_auth_result/3:272 (tcp|<0.%u.0>) "
	    "Accepted c2s PLAIN authentication for %s@%s by mnesia backend "
	    "from %s",
	    p.pid, p.pid, name, g->host, ip);
	line(g, "info", buf);
	snprintf(buf, sizeof(buf),
		 "<0.%u.0>@ejabberd_c2s:bind/2:450 (tcp|<0.%u.0>) Opened c2s "
		 "session for %s@%s/%s",
		 p.pid, p.pid, name, g->host, res);
	line(g, "info", buf);
	p.t = g->now + dur;
	p.acct = acct;
	p.caps = caps;
	snprintf(p.res, sizeof(p.res), "%s", res);
	heap_push(g, &p);
}

static void
noise(struct gen *g)
{
	char buf[512];

	switch (rnd(g, 4)) {
	case 0:
		snprintf(buf, sizeof(buf),
			 "<0.334.0>@ejabberd_listener:accept/7:273 (<0.%u.0>) "
			 "Accepted connection 10.%u.%u.%u:%u -> 192.0.2.1:5222",
			 g->pid, rnd(g, 256), rnd(g, 256), rnd(g, 256),
			 1024 + rnd(g, 60000));
		line(g, "info", buf);
		break;
	case 1:
		snprintf(
		    buf, sizeof(buf),
		    "<0.%u.0>@ejabberd_s2s_in:handle_auth_success/4:224 "
		    "(<0.%u.0>) Accepted inbound s2s EXTERNAL authentication "
		    "remote%u.example -> %s (::ffff:198.51.100.%u)",
		    g->pid, g->pid, rnd(g, 500), g->host, rnd(g, 256));
		line(g, "info", buf);
		break;
	case 2:
		snprintf(buf, sizeof(buf),
			 "<0.%u.0>@mod_mam:select/7:1024 Fetching archive for "
			 "user%u@%s: %u messages",
			 g->pid, rnd(g, 9999), g->host, rnd(g, 300));
		line(g, "debug", buf);
		break;
	default:
		snprintf(
		    buf, sizeof(buf),
		    "<0.%u.0>@ejabberd_c2s:process_auth_result/3:280 "
		    "(tcp|<0.%u.0>) Failed c2s PLAIN authentication for "
		    "%s%u@%s from 203.0.%u.%u: Invalid username or password",
		    g->pid, g->pid, rnd(g, 3) ? "admin" : "test", rnd(g, 50),
		    g->host, rnd(g, 256), rnd(g, 256));
		line(g, "warning", buf);
		break;
	}
}

/* One round of actor a: a bot burst or a human session. */
static void
act(struct gen *g, const struct loggen_opts *o, uint32_t a, uint32_t round)
{
	char     ip[48], buf[512], name[32];
	uint32_t k, n, kind = (a - o->bots) % 10;

	if (round == 0) {
		loggen_name(a, name, sizeof(name));
		snprintf(
		    buf, sizeof(buf),
		    "<0.633.0>@mod_register:try_register/6:380 The account "
		    "%s@%s was registered from IP address 198.18.%u.%u",
		    name, g->host, rnd(g, 256), rnd(g, 256));
		line(g, "info", buf);
	}
	if (a < o->bots) { /* bot: 2-3 overlapping sessions of 2-40 s */
		snprintf(ip, sizeof(ip), "198.18.%u.%u", a % 256, rnd(g, 4));
		n = 2 + rnd(g, 2);
		for (k = 0; k < n; k++) {
			snprintf(buf, sizeof(buf), "b%u", k);
			session(g, a, 1, ip, 2 + rnd(g, 39), buf);
			tick(g, 1);
		}
		return;
	}
	snprintf(ip, sizeof(ip), "192.0.2.%u", a % 256);
	if (kind == 0) /* phone capitalises: long sessions, rarely short */
		session(g, a, 1, ip, round < 2 ? 20 : 300 + rnd(g, 10000),
			"phone");
	else if (kind == 1) { /* flaky mobile: short, sometimes overlapping */
		session(g, a, 0, ip, 5 + rnd(g, 50), "mob");
		if (rnd(g, 2))
			session(g, a, 0, ip, 5 + rnd(g, 50), "mob2");
	} else if (kind == 2) { /* two devices at once, one capitalised */
		session(g, a, round == 0, ip, 600 + rnd(g, 7200), "desk");
		session(g, a, 0, ip, round < 2 ? 30 : 900, "phone");
	} else
		session(g, a, 0, ip, 120 + rnd(g, 20000), "home");
}

int
loggen_write(FILE *fp, const struct loggen_opts *o, struct loggen_stats *st)
{
	struct gen *g = xcalloc(1, sizeof(*g));
	uint32_t    n = o->bots + o->humans, *order, i, j, tmp, r, k;
	int         rc;

	g->fp = fp;
	g->host = o->host != NULL ? o->host : "example.org";
	g->rng = o->seed * 2654435761ULL + 88172645463325252ULL;
	g->now = o->start != 0 ? o->start : 1795000000; /* late 2026 */
	g->day = -1;
	g->pid = 1000;
	order = xreallocarray(NULL, n + 1, sizeof(*order));
	for (i = 0; i < n; i++)
		order[i] = i;
	for (r = 0; !g->err &&
		    (r < o->rounds ||
		     (o->target_bytes != 0 && g->st.bytes < o->target_bytes));
	     r++) {
		for (i = n; i > 1; i--) { /* shuffle each round */
			j = rnd(g, i);
			tmp = order[i - 1];
			order[i - 1] = order[j];
			order[j] = tmp;
		}
		for (i = 0; i < n && !g->err; i++) {
			act(g, o, order[i], r);
			for (k = rnd(g, 6); k > 0; k--)
				noise(g);
			tick(g, 2);
			if (o->target_bytes != 0 &&
			    g->st.bytes >= o->target_bytes && r >= o->rounds)
				break;
		}
		g->st.rounds++;
		g->now += 600; /* a pause between rounds */
	}
	drain(g, INT64_MAX);
	if (fflush(fp) == EOF)
		g->err = 1;
	if (st != NULL)
		*st = g->st;
	rc = g->err ? -1 : 0;
	free(order);
	free(g);
	return rc;
}
