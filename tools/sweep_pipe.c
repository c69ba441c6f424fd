/* SPDX-License-Identifier: ISC */
/*
 * floodgate - sweep's record pipeline. Records are copied into a ring
 * of SWEEP_PIPE and looked at in stages SWEEP_LAG records apart, each
 * stage starting the memory loads the next one needs (the table slot,
 * then the account and the session, then the login detector's set and
 * its record), so that when the replay gets a record its state is
 * in cache. The order of records is kept: the output is the same as
 * replaying each one as it comes.
 */
#include <stdint.h>
#include <string.h>

#include "../policy/policy.h"
#include "idtab.h"
#include "strtab.h"
#include "sweep.h"
#include "sweep_int.h"

/* n bytes of s into d with ASCII upper case folded, as tolower() in
 * the C locale the tools run in: eight bytes a turn, since every
 * account key of a log comes through here. */
static size_t
fold(char *d, const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t       w, low, up;
	size_t         i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		low = w & ~high;
		/* bit 7 of a byte: at least 'A', and not above 'Z' */
		up = (low + ones * (0x80 - 'A')) &
		     ~(low + ones * (0x7f - 'Z')) & ~w & high;
		w ^= up >> 2; /* 0x80 >> 2 is the case bit, 0x20 */
		memcpy(d + i, &w, 8);
	}
	for (; i < n; i++)
		d[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + ('a' - 'A'))
						  : s[i];
	return n;
}

size_t
sweep_mk_key(char *key, const char *user, size_t ulen, const char *host,
	     size_t hlen)
{
	size_t n = fold(key, user, ulen);

	if (hlen > 0) {
		key[n++] = '@';
		n += fold(key + n, host, hlen);
	}
	key[n] = '\0';
	return n;
}

static const char *
copy_field(char **p, const char *f, size_t n)
{
	char *d = *p;

	memcpy(d, f, n + 1); /* n: the parser's length, no strlen */
	*p += n + 1;
	return d;
}

/* Stage 0: copy the record, hash its keys, start loading their table
 * slots. */
static void
stage_in(struct sweep *s, struct qrec *q, const struct logscan_rec *r)
{
	char *p = q->buf;

	q->r = *r;
	q->r.user = copy_field(&p, r->user, r->user_len);
	q->r.host = copy_field(&p, r->host, r->host_len);
	q->r.ip = copy_field(&p, r->ip, r->ip_len);
	q->r.sid = copy_field(&p, r->sid, r->sid_len);
	q->sidlen = r->sid_len;
	/* only sessions are looked up by their id */
	q->sidh = q->sidlen > 0 && (r->type == LOGSCAN_SESSION_OPEN ||
				    r->type == LOGSCAN_SESSION_CLOSE)
		      ? idtab_hash(q->r.sid, q->sidlen)
		      : 0;
	q->keylen = 0;
	q->acct = NULL;
	switch (r->type) {
	case LOGSCAN_AUTH_OK:
	case LOGSCAN_AUTH_FAIL:
	case LOGSCAN_REGISTER:
	case LOGSCAN_SESSION_OPEN:
		if (*r->user == '\0')
			break;
		q->keylen = sweep_mk_key(q->key, r->user, r->user_len, r->host,
					 r->host_len);
		q->keyh = strtab_hash(s->accts, q->key, q->keylen);
		strtab_prefetch(s->accts, q->keyh);
		if (r->type == LOGSCAN_SESSION_OPEN && q->sidh != 0)
			idtab_prefetch(s->sessions, q->sidh);
		break;
	case LOGSCAN_SESSION_CLOSE:
		if (q->sidh != 0)
			idtab_prefetch(s->sessions, q->sidh);
		break;
	default:
		break;
	}
}

/* All of an account (it spans several cache lines) and the start of
 * its JID. */
static void
prefetch_acct(const struct acct *a)
{
	const char *p = (const char *)a;
	size_t      off;

	for (off = 0; off <= sizeof(*a); off += SWEEP_LINE)
		__builtin_prefetch(p + off);
}

/* Stages 1 to 3: the table slot's key and value, or the session; then
 * the account, the login detector's set of the account and the
 * account's slot in the policy's subjects; then the record and the
 * subject. Hints only: tables are looked up again, as the replay may
 * have changed them. */
static void
stage(struct sweep *s, struct qrec *q, int n)
{
	const struct acct *a = NULL;
	const struct sess *ss = NULL;

	if (q->r.type == LOGSCAN_SESSION_CLOSE) {
		if (q->sidh == 0 ||
		    (ss = idtab_get_h(s->sessions, q->sidh)) == NULL)
			return;
		if (n == 1) {
			__builtin_prefetch(ss);
			return;
		}
		if (n == 2)
			prefetch_acct(ss->a);
		if (s->pol != NULL) {
			pol_prefetch_account(s->pol, ss->lhash, n == 3);
			pol_prefetch_subject(s->pol, ss->phash, n == 3);
		}
		return;
	}
	/* only a session-start has a login record to load (stage 3) */
	if (q->keylen == 0 || q->r.type == LOGSCAN_AUTH_FAIL ||
	    (n == 3 && q->r.type != LOGSCAN_SESSION_OPEN))
		return;
	if (n == 1) {
		strtab_prefetch_val(s->accts, q->keyh);
		return;
	}
	if (n == 2)
		q->acct = strtab_get_h(s->accts, q->key, q->keylen, q->keyh);
	if ((a = q->acct) == NULL)
		return;
	if (n == 2)
		prefetch_acct(a);
	if (s->pol != NULL && q->r.type == LOGSCAN_SESSION_OPEN) {
		pol_prefetch_account(s->pol, a->lhash, n == 3);
		pol_prefetch_subject(s->pol, a->phash, n == 3);
	}
}

void
sweep_drain(struct sweep *s)
{
	while (s->qout < s->qin)
		s->replay(s, &s->q[s->qout++ % SWEEP_PIPE]);
}

void
sweep_rec(const struct logscan_rec *r, void *arg)
{
	struct sweep *s = arg;
	uint64_t      n;
	int           k;

	if (s->qin - s->qout == SWEEP_PIPE)
		s->replay(s, &s->q[s->qout++ % SWEEP_PIPE]);
	stage_in(s, &s->q[s->qin % SWEEP_PIPE], r);
	n = s->qin++;
	for (k = 1; k <= 3; k++)
		if (n >= s->qout + (uint64_t)k * SWEEP_LAG)
			stage(s,
			      &s->q[(n - (uint64_t)k * SWEEP_LAG) % SWEEP_PIPE],
			      k);
}
