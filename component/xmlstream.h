/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the XEP-0114 stream parser: bytes in, bounded
 * xmpp_stanza_t trees out. Pure (no I/O), so tests and the fuzz target
 * feed it arbitrary bytes in arbitrary chunks.
 */
#ifndef FG_XMLSTREAM_H
#define FG_XMLSTREAM_H

#include <stddef.h>

#include <strophe.h>

#define XMLS_NS_STREAMS "http://etherx.jabber.org/streams"
#define XMLS_NS_STREAM_ERR "urn:ietf:params:xml:ns:xmpp-streams"
#define XMLS_DEF_MAX_STANZA (512 * 1024) /* bytes, like Prosody's */
#define XMLS_DEF_MAX_DEPTH 64            /* element levels in a stanza */
#define XMLS_MAX_ATTRS 64                /* attributes on one element */
#define XMLS_MAX_CHILDREN 2048 /* children (text runs too) of one element */
/* xmpp_stanza_add_child walks the sibling list: this bounds the sum of
 * the lengths walked while building one stanza (a 1,000-item pubsub page
 * takes half of it) */
#define XMLS_MAX_WALK 1048576              /* sibling hops */
#define XMLS_PARSER_MEM (64 * 1024 * 1024) /* bytes expat may hold */
#define XMLS_MAX_ELEMS 16384               /* elements in one stanza */

/* Why a stanza was dropped while the stream goes on. */
enum xmls_refusal { XMLS_R_DEPTH, XMLS_R_ATTRS, XMLS_R_CHILDREN, XMLS_R_ELEMS };

struct xmls_cbs {
	/* The peer's stream header; id may be NULL. */
	void (*open)(void *arg, const char *id);
	/* One complete stanza, borrowed for the call. */
	void (*stanza)(void *arg, xmpp_stanza_t *);
	/* A stanza over a structural limit: only its top element's name
	 * and its id/type/from/to attributes (no children), borrowed. */
	void (*refused)(void *arg, xmpp_stanza_t *shell, enum xmls_refusal);
	/* </stream:stream> */
	void (*close)(void *arg);
};

struct xmls;

/* max_stanza in bytes, max_depth in element levels. */
struct xmls *xmls_new(xmpp_ctx_t *, size_t max_stanza, unsigned max_depth,
		      const struct xmls_cbs *, void *arg);
void         xmls_free(struct xmls *);
/* 0: all bytes taken; -1: the stream is dead (see xmls_error), or a
 * callback called xmls_stop. Never call it again after -1. */
int xmls_feed(struct xmls *, const char *, size_t);
/* From a callback: stop parsing; xmls_feed returns -1, error NULL. */
void xmls_stop(struct xmls *);
/* After -1: the stream error condition to send (invalid-xml,
 * restricted-xml, policy-violation, ...) or NULL after xmls_stop, and a
 * short description for the log. */
const char *xmls_error(const struct xmls *, const char **why);
const char *xmls_refusal_name(enum xmls_refusal);

#endif
