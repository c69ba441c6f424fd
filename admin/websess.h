/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the moderation page's logins, in memory only: one-time
 * login tokens an admin receives through the ad-hoc command web-login
 * (or floodgatectl web-login), and the sessions they open.
 *
 * A token is good once and for WEBSESS_TOKEN_TTL_MS; using it opens a
 * session with its own random id (the cookie) and its own CSRF token
 * (every state-changing form). A session ends at its expiry, after
 * WEBSESS_IDLE_MS without a request, at logout, or when the daemon
 * restarts. Ids and tokens are 256 random bits in hex.
 */
#ifndef FG_WEBSESS_H
#define FG_WEBSESS_H

#include <stddef.h>
#include <stdint.h>

#define WEBSESS_TOKEN_TTL_MS (5 * 60 * 1000) /* login link, ms */
#define WEBSESS_TTL_MS (8 * 60 * 60 * 1000)  /* session, ms */
#define WEBSESS_IDLE_MS (60 * 60 * 1000)     /* idle session, ms */
#define WEBSESS_TOKENS_MAX 32                /* open login links */
#define WEBSESS_MAX 64                       /* open sessions */
#define WEBSESS_HEX 64                       /* hex digits of an id */
#define WEBSESS_ADMIN_MAX 1024               /* bytes of a bare JID */

struct websess;

/* What a request learns from its session cookie; borrowed until the
 * next call into the store. */
struct websess_info {
	const char *admin;   /* bare JID that logged in */
	const char *csrf;    /* the session's CSRF token */
	int64_t     expires; /* unix ms */
};

struct websess *websess_new(void);
void            websess_free(struct websess *);

/* A new one-time token for admin (the caller checked it is one) into
 * tok (WEBSESS_HEX + 1 bytes). The oldest token goes when there are
 * WEBSESS_TOKENS_MAX. */
void websess_token_new(struct websess *, const char *admin, int64_t now_ms,
		       char *tok);
/* 1 when the token would log in now (it is not spent). */
int websess_token_valid(struct websess *, const char *token, int64_t now_ms);
/* Use a token: 0 and the new session's id in sid (WEBSESS_HEX + 1
 * bytes), or -1 when the token is unknown, used or expired. */
int websess_login(struct websess *, const char *token, int64_t now_ms,
		  char *sid);
/* The live session with that id (touching it), or -1. */
int websess_find(struct websess *, const char *sid, int64_t now_ms,
		 struct websess_info *);
/* 1 when token is the CSRF token of session sid. */
int  websess_csrf_ok(struct websess *, const char *sid, const char *token,
		     int64_t now_ms);
void websess_end(struct websess *, const char *sid);
/* Live tokens and sessions (for tests and stats). */
void websess_count(struct websess *, int64_t now_ms, size_t *tokens,
		   size_t *sessions);

#endif
