/* SPDX-License-Identifier: ISC */
/*
 * floodgate - one-time login tokens and sessions of the moderation page
 * (websess.h). A handful of each, so plain arrays searched in full with
 * constant-time comparisons: which entry matched, or how much of an id
 * did, must not show in the time an answer takes.
 */
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "websess.h"
#include "webutil.h"

struct ws_token {
	char    tok[WEBSESS_HEX + 1]; /* "" when free */
	char    admin[WEBSESS_ADMIN_MAX];
	int64_t expires;
};

struct ws_sess {
	char    sid[WEBSESS_HEX + 1]; /* "" when free */
	char    csrf[WEBSESS_HEX + 1];
	char    admin[WEBSESS_ADMIN_MAX];
	int64_t expires; /* absolute */
	int64_t seen;    /* last request */
};

struct websess {
	struct ws_token tok[WEBSESS_TOKENS_MAX];
	struct ws_sess  s[WEBSESS_MAX];
};

static void
random_hex(char *out)
{
	unsigned char raw[WEBSESS_HEX / 2];
	size_t        got = 0, i;
	ssize_t       n;

	while (got < sizeof raw) {
		if ((n = getrandom(raw + got, sizeof raw - got, 0)) <= 0)
			fatal("getrandom");
		got += (size_t)n;
	}
	for (i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Tokens and ids are exactly WEBSESS_HEX lowercase hex digits; anything
 * else is refused before any comparison. */
static int
well_formed(const char *s)
{
	size_t i;

	for (i = 0; i < WEBSESS_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[WEBSESS_HEX] == '\0';
}

struct websess *
websess_new(void)
{
	return xcalloc(1, sizeof(struct websess));
}

void
websess_free(struct websess *w)
{
	if (w != NULL)
		explicit_bzero(w, sizeof *w);
	free(w);
}

static int
sess_live(const struct ws_sess *s, int64_t now)
{
	return s->sid[0] != '\0' && now < s->expires &&
	       now - s->seen < WEBSESS_IDLE_MS;
}

void
websess_token_new(struct websess *w, const char *admin, int64_t now, char *tok)
{
	struct ws_token *t, *slot = &w->tok[0];
	size_t           i;

	for (i = 0; i < WEBSESS_TOKENS_MAX; i++) {
		t = &w->tok[i];
		if (t->tok[0] == '\0' || now >= t->expires) {
			slot = t;
			break;
		}
		if (t->expires < slot->expires)
			slot = t;
	}
	random_hex(slot->tok);
	snprintf(slot->admin, sizeof slot->admin, "%s", admin);
	slot->expires = now + WEBSESS_TOKEN_TTL_MS;
	memcpy(tok, slot->tok, WEBSESS_HEX + 1);
}

static struct ws_token *
token_find(struct websess *w, const char *token)
{
	struct ws_token *t, *hit = NULL;
	size_t           i;

	if (!well_formed(token))
		return NULL;
	for (i = 0; i < WEBSESS_TOKENS_MAX; i++) {
		t = &w->tok[i];
		if (t->tok[0] != '\0' && web_streq_ct(t->tok, token))
			hit = t;
	}
	return hit;
}

int
websess_token_valid(struct websess *w, const char *token, int64_t now)
{
	struct ws_token *t = token_find(w, token);

	return t != NULL && now < t->expires;
}

int
websess_login(struct websess *w, const char *token, int64_t now, char *sid)
{
	struct ws_token *hit = token_find(w, token);
	struct ws_sess  *s, *slot = NULL;
	size_t           i;

	if (hit == NULL)
		return -1;
	/* used or not, a presented token is spent */
	hit->tok[0] = '\0';
	if (now >= hit->expires)
		return -1;
	for (i = 0; i < WEBSESS_MAX; i++) {
		s = &w->s[i];
		if (!sess_live(s, now)) {
			slot = s;
			break;
		}
		if (slot == NULL || s->seen < slot->seen)
			slot = s; /* full: the least recently used goes */
	}
	random_hex(slot->sid);
	random_hex(slot->csrf);
	snprintf(slot->admin, sizeof slot->admin, "%s", hit->admin);
	slot->expires = now + WEBSESS_TTL_MS;
	slot->seen = now;
	memcpy(sid, slot->sid, WEBSESS_HEX + 1);
	return 0;
}

static struct ws_sess *
find(struct websess *w, const char *sid, int64_t now)
{
	struct ws_sess *s, *hit = NULL;
	size_t          i;

	if (sid == NULL || !well_formed(sid))
		return NULL;
	for (i = 0; i < WEBSESS_MAX; i++) {
		s = &w->s[i];
		if (s->sid[0] != '\0' && web_streq_ct(s->sid, sid))
			hit = s;
	}
	if (hit != NULL && !sess_live(hit, now)) {
		hit->sid[0] = '\0';
		hit = NULL;
	}
	return hit;
}

int
websess_find(struct websess *w, const char *sid, int64_t now,
	     struct websess_info *info)
{
	struct ws_sess *s;

	if ((s = find(w, sid, now)) == NULL)
		return -1;
	s->seen = now;
	info->admin = s->admin;
	info->csrf = s->csrf;
	info->expires = s->expires;
	return 0;
}

int
websess_csrf_ok(struct websess *w, const char *sid, const char *token,
		int64_t now)
{
	struct ws_sess *s;

	if (token == NULL || (s = find(w, sid, now)) == NULL ||
	    !well_formed(token))
		return 0;
	return web_streq_ct(s->csrf, token);
}

void
websess_end(struct websess *w, const char *sid)
{
	size_t i;

	if (sid == NULL || !well_formed(sid))
		return;
	for (i = 0; i < WEBSESS_MAX; i++)
		if (w->s[i].sid[0] != '\0' && web_streq_ct(w->s[i].sid, sid))
			explicit_bzero(&w->s[i], sizeof w->s[i]);
}

void
websess_count(struct websess *w, int64_t now, size_t *tokens, size_t *sessions)
{
	size_t i;

	*tokens = *sessions = 0;
	for (i = 0; i < WEBSESS_TOKENS_MAX; i++)
		if (w->tok[i].tok[0] != '\0' && now < w->tok[i].expires)
			(*tokens)++;
	for (i = 0; i < WEBSESS_MAX; i++)
		if (sess_live(&w->s[i], now))
			(*sessions)++;
}
