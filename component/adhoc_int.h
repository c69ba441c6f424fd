/* SPDX-License-Identifier: ISC */
/*
 * floodgate - XEP-0050 ad-hoc commands, shared by adhoc.c (sessions,
 * routing, forms) and adhoc_cmds.c / adhoc_bulk.c (the commands).
 */
#ifndef FG_ADHOC_INT_H
#define FG_ADHOC_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "../core/jid.h"
#include "../admin/verbs.h"
#include "comp_int.h"

#define AH_FIELD_MAX 1024  /* bytes of one submitted field value */
#define AH_VALUES_MAX 1000 /* values of one list-multi field that are read */

/* One open command session (multi-stage commands keep state here). */
struct adhoc_sess {
	char                    id[24];
	char                    owner[JID_MAX + 1]; /* full JID of the admin */
	const struct adhoc_cmd *cmd;
	int                     stage;
	int64_t                 touched; /* unix ms of the last exchange */
	/* list */
	size_t          page;
	enum fg_verdict vfilter;
	enum fg_subj    tfilter;
	/* registered-since */
	int64_t since;
	char  **accts; /* bare JIDs found */
	char  **info;  /* "registered T from IP" each */
	size_t  naccts;
	LIST_ENTRY(adhoc_sess) entry;
};

/* One exchange: the request and the reply being built. */
struct adhoc_req {
	struct comp       *c;
	xmpp_stanza_t     *iq;
	const char        *action; /* execute, next, prev, complete */
	xmpp_stanza_t     *form;   /* submitted form; NULL if none */
	char               actor[JID_MAX + 1]; /* bare JID */
	struct adhoc_sess *s;
	xmpp_stanza_t     *reply; /* iq result */
	xmpp_stanza_t     *rcmd;  /* its <command/> */
	struct adm_env     env;
	int                done; /* completed: the session ends */
};

struct adhoc_cmd {
	const char *node;
	const char *name;
	void (*run)(struct adhoc_req *);
};

/* adhoc.c: reply helpers. status "executing" or "completed". */
void ah_status(struct adhoc_req *, const char *status);
void ah_note(struct adhoc_req *, const char *type, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));
/* Actions offered while executing; execute is the default one. */
void ah_actions(struct adhoc_req *, const char *execute, int prev, int next,
		int complete);
xmpp_stanza_t *ah_form(struct adhoc_req *, const char *type, const char *title,
		       const char *instructions);
xmpp_stanza_t *ah_field(struct adhoc_req *, xmpp_stanza_t *x, const char *type,
			const char *var, const char *label, const char *value);
void ah_value_add(struct adhoc_req *, xmpp_stanza_t *field, const char *value);
void ah_option(struct adhoc_req *, xmpp_stanza_t *field, const char *label,
	       const char *value);
void ah_required(struct adhoc_req *, xmpp_stanza_t *field);
/* First value of var in the submitted form into buf: 1 found, 0 absent,
 * -1 too long. */
int ah_get(struct adhoc_req *, const char *var, char *buf, size_t bufsz);
/* Every value of var (list-multi), each through cb; the first
 * AH_VALUES_MAX only. */
void ah_get_all(struct adhoc_req *, const char *var,
		void (*cb)(const char *, void *), void *);

/* adhoc_cmds.c */
extern const struct adhoc_cmd adhoc_cmds[];
extern const size_t           adhoc_ncmds;

/* adhoc_bulk.c: list and registered-since */
void ah_cmd_list(struct adhoc_req *);
void ah_cmd_regsince(struct adhoc_req *);
/* adhoc.c: drop what registered-since kept in a session */
void ah_sess_clear(struct adhoc_sess *);

#endif
