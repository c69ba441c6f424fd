/* SPDX-License-Identifier: ISC */
/*
 * floodgate - connection habits (detect_conn.c), kept in the login
 * detector's per-account record so one lookup per session event serves
 * both: networks an account comes from, the clock hours of its short
 * sessions, and addresses that many accounts use for short sessions.
 */
#ifndef FG_DETECT_CONN_H
#define FG_DETECT_CONN_H

#include <stdint.h>

#include "../core/config.h"

#define CONN_NETS 12 /* networks remembered per account (spread <= this) */

/* Per account, inside the login record. Times in unix seconds. */
struct conn_state {
	uint32_t net[CONN_NETS];    /* IPv4 /16 or IPv6 /32 */
	uint32_t net_at[CONN_NETS]; /* last seen; 0 = free */
	uint32_t hour_last;         /* hour number of the latest short end */
	uint32_t hour_mask;         /* bit i: a short end in hour_last - i */
};

struct conn;

struct conn *conn_new(const struct fg_config *);
void         conn_reconfigure(struct conn *, const struct fg_config *);
void         conn_free(struct conn *);
/* A session from ip started: 1 when the account has now come from
 * `spread` networks within a day. */
int conn_spread(struct conn *, struct conn_state *, const char *ip,
		int64_t now_ms);
/* A short session ended: 1 when the account's short sessions fell in
 * `round-the-clock` clock hours of the last day. */
int conn_clock(struct conn *, struct conn_state *, int64_t now_ms);
/* A short session of the account (acct: its hash) ended from ip: 1 when
 * `shared-address` accounts ended short ones from it within the hour, in
 * 3 hours of the last day (a farm, not a household's Wi-Fi dropping). */
int conn_shared(struct conn *, uint64_t acct, const char *ip, int64_t now_ms);

#endif
