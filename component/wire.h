/* SPDX-License-Identifier: ISC */
/*
 * floodgate - parsing of the bridge protocol's elements (doc/PROTOCOL.md)
 * into policy requests. Pure functions over borrowed stanzas, so they can
 * be unit-tested and fuzzed without a link.
 */
#ifndef FG_WIRE_H
#define FG_WIRE_H

#include <strophe.h>

#include "../core/jid.h"
#include "../policy/policy.h"

#define WIRE_FP_MAX 128     /* hex characters of a body fingerprint */
#define WIRE_LOGIN_MAX 1023 /* bytes of a login name as typed */
#define WIRE_REASON_MAX 256 /* bytes of a report reason */

/* <gate/> into req; from/to are caller buffers of JID_MAX + 1 bytes that
 * req points into. -1 with *err set (a static string) if malformed. */
int wire_parse_gate(xmpp_stanza_t *, struct pol_gate *req, char *from, char *to,
		    const char **err);
/* <event/> into ev, same buffer rules; -1 if malformed or unknown. */
int wire_parse_event(xmpp_stanza_t *, struct pol_event *ev, char *jid,
		     char *to);

#endif
