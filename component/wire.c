/* SPDX-License-Identifier: ISC */
/*
 * floodgate - bridge protocol parsing: every attribute is checked before
 * the policy sees it (JIDs normalised, IPs parsed, numbers bounded).
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define WIRE_COUNT_MAX 1000000UL /* messages in one aggregated event */

static int
valid_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

static int
valid_hex(const char *s, size_t max)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return n > 0 && n <= max && s[n] == '\0';
}

/* ufp: a space-separated list of hex URL fingerprints. Entries that are
 * not 1..POL_UFP_HEX hex digits are skipped (a module may add longer ones
 * later); the first POL_UFP_MAX good ones are kept, lowercased. */
static int
parse_ufp(const char *s, char ufp[][POL_UFP_HEX + 1])
{
	static const char hex[] = "0123456789abcdefABCDEF";
	size_t            n, i;
	int               k = 0;

	while (k < POL_UFP_MAX && *s != '\0') {
		s += strspn(s, " \t\r\n");
		n = strcspn(s, " \t\r\n");
		if (n > 0 && n <= POL_UFP_HEX && strspn(s, hex) >= n) {
			for (i = 0; i < n; i++)
				ufp[k][i] = (char)(s[i] >= 'A' && s[i] <= 'F'
						       ? s[i] - 'A' + 'a'
						       : s[i]);
			ufp[k][n] = '\0';
			k++;
		}
		s += n;
	}
	return k;
}

/* hfp: host fingerprints, exactly POL_HFP_HEX hex digits each; others
 * skipped, duplicates dropped, the first POL_HFP_MAX kept, lowercased. */
static int
parse_hfp(const char *s, char hfp[][POL_HFP_HEX + 1])
{
	static const char hex[] = "0123456789abcdefABCDEF";
	size_t            n, i;
	int               k = 0, j;

	while (k < POL_HFP_MAX && *s != '\0') {
		s += strspn(s, " \t\r\n");
		n = strcspn(s, " \t\r\n");
		if (n == POL_HFP_HEX && strspn(s, hex) >= n) {
			for (i = 0; i < n; i++)
				hfp[k][i] = (char)(s[i] >= 'A' && s[i] <= 'F'
						       ? s[i] - 'A' + 'a'
						       : s[i]);
			hfp[k][n] = '\0';
			for (j = 0; j < k; j++)
				if (strcmp(hfp[j], hfp[k]) == 0)
					break;
			if (j == k)
				k++;
		}
		s += n;
	}
	return k;
}

int
wire_parse_gate(xmpp_stanza_t *g, struct pol_gate *req, char *from, char *to,
		const char **err)
{
	const char *kind = xmpp_stanza_get_attribute(g, "kind");
	const char *a;

	memset(req, 0, sizeof *req);
	if (kind == NULL || fg_kind_parse(kind, &req->kind) == -1 ||
	    !(req->kind == FG_KIND_SUBSCRIBE ||
	      req->kind == FG_KIND_STRANGER_MESSAGE ||
	      req->kind == FG_KIND_INBOUND_SUBSCRIBE ||
	      req->kind == FG_KIND_INBOUND_STRANGER_MESSAGE ||
	      req->kind == FG_KIND_REGISTER)) {
		*err = "gate: missing or unknown kind";
		return -1;
	}
	if ((a = xmpp_stanza_get_attribute(g, "from")) == NULL ||
	    jid_bare(a, from, JID_MAX + 1) == -1) {
		*err = "gate: missing or invalid from";
		return -1;
	}
	req->from = from;
	if ((a = xmpp_stanza_get_attribute(g, "to")) != NULL) {
		if (jid_bare(a, to, JID_MAX + 1) == -1) {
			*err = "gate: invalid to";
			return -1;
		}
		req->to = to;
	}
	if ((a = xmpp_stanza_get_attribute(g, "ip")) != NULL && *a != '\0') {
		if (!valid_ip(a)) {
			*err = "gate: invalid ip";
			return -1;
		}
		req->ip = a;
	}
	if ((a = xmpp_stanza_get_attribute(g, "fp")) != NULL &&
	    valid_hex(a, WIRE_FP_MAX))
		req->fp = a;
	if ((a = xmpp_stanza_get_attribute(g, "ufp")) != NULL)
		req->nufp = parse_ufp(a, req->ufp);
	if ((a = xmpp_stanza_get_attribute(g, "hfp")) != NULL)
		req->nhfp = parse_hfp(a, req->hfp);
	a = xmpp_stanza_get_attribute(g, "contact");
	req->contact =
	    a != NULL && (strcmp(a, "1") == 0 || strcmp(a, "true") == 0);
	return 0;
}

static const struct {
	const char      *name;
	enum pol_ev_type type;
} event_types[] = {
    {"message", POL_EV_MESSAGE},
    {"session-start", POL_EV_SESSION_START},
    {"session-end", POL_EV_SESSION_END},
    {"auth-ok", POL_EV_AUTH_OK},
    {"auth-fail", POL_EV_AUTH_FAIL},
    {"registered", POL_EV_REGISTERED},
    {"report", POL_EV_REPORT},
};

int
wire_parse_event(xmpp_stanza_t *ev, struct pol_event *pe, char *jid, char *to)
{
	const char *type = xmpp_stanza_get_attribute(ev, "type");
	const char *a;
	char       *end;
	size_t      i;

	memset(pe, 0, sizeof *pe);
	pe->user_exists = -1;
	if (type == NULL)
		return -1;
	for (i = 0; i < sizeof event_types / sizeof event_types[0]; i++)
		if (strcmp(type, event_types[i].name) == 0)
			break;
	if (i == sizeof event_types / sizeof event_types[0])
		return -1;
	pe->type = event_types[i].type;
	if ((a = xmpp_stanza_get_attribute(ev, "from")) != NULL) {
		if (jid_bare(a, jid, JID_MAX + 1) == -1)
			return -1;
		/* sessions keep the full JID: the resource tells overlapping
		 * connections apart */
		if (pe->type == POL_EV_SESSION_START ||
		    pe->type == POL_EV_SESSION_END) {
			if (strlen(a) > JID_MAX)
				return -1;
			snprintf(jid, JID_MAX + 1, "%s", a);
		}
		pe->jid = jid;
	}
	if ((a = xmpp_stanza_get_attribute(ev, "to")) != NULL) {
		if (jid_bare(a, to, JID_MAX + 1) == -1)
			return -1;
		pe->to = to;
	}
	if ((a = xmpp_stanza_get_attribute(ev, "ip")) != NULL && *a != '\0') {
		if (!valid_ip(a))
			return -1;
		pe->ip = a;
	}
	if ((a = xmpp_stanza_get_attribute(ev, "login")) != NULL) {
		if (*a == '\0' || strlen(a) > WIRE_LOGIN_MAX)
			return -1;
		pe->login = a;
	}
	if ((a = xmpp_stanza_get_attribute(ev, "reason")) != NULL &&
	    strlen(a) <= WIRE_REASON_MAX)
		pe->reason = a;
	if ((a = xmpp_stanza_get_attribute(ev, "fp")) != NULL &&
	    valid_hex(a, WIRE_FP_MAX))
		pe->fp = a;
	if ((a = xmpp_stanza_get_attribute(ev, "ufp")) != NULL)
		pe->nufp = parse_ufp(a, pe->ufp);
	if ((a = xmpp_stanza_get_attribute(ev, "hfp")) != NULL)
		pe->nhfp = parse_hfp(a, pe->hfp);
	if ((a = xmpp_stanza_get_attribute(ev, "duration")) != NULL) {
		pe->duration_ms = strtoll(a, &end, 10);
		if (*a == '\0' || *end != '\0' || pe->duration_ms < 0)
			return -1;
	}
	if ((a = xmpp_stanza_get_attribute(ev, "exists")) != NULL)
		pe->user_exists = strcmp(a, "1") == 0 ? 1 : 0;
	/* count: messages one aggregated message event stands for, plain
	 * decimal 1..WIRE_COUNT_MAX (no sign, no spaces); absent means 1 */
	if ((a = xmpp_stanza_get_attribute(ev, "count")) != NULL) {
		unsigned long c;

		if (*a < '0' || *a > '9' || strlen(a) > 7)
			return -1;
		c = strtoul(a, &end, 10);
		if (*end != '\0' || c < 1 || c > WIRE_COUNT_MAX)
			return -1;
		pe->count = (uint32_t)c;
	}
	/* what each type cannot do without */
	switch (pe->type) {
	case POL_EV_MESSAGE:
	case POL_EV_REPORT:
		return pe->jid != NULL && pe->to != NULL ? 0 : -1;
	case POL_EV_SESSION_START:
	case POL_EV_SESSION_END:
	case POL_EV_REGISTERED:
		return pe->jid != NULL ? 0 : -1;
	case POL_EV_AUTH_OK:
	case POL_EV_AUTH_FAIL:
		return pe->login != NULL ? 0 : -1;
	default:
		return 0;
	}
}
