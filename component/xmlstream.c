/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the XEP-0114 stream parser over expat.
 *
 * Every cost is linear in the bytes received, and memory is bounded by
 * the per-stanza size limit:
 * - stanzas are built from expat events with one growable text buffer per
 *   open element, flushed as one text child when a child starts or the
 *   element ends (libstrophe's parser regrew text per expat chunk, which
 *   is quadratic on a body of line breaks);
 * - expat 2.5 re-tokenises a token that spans reads from its start on
 *   every XML_Parse call, so a pre-scan feeds expat only up to "safe
 *   points" (outside tags, quoted values, references and comments) and
 *   holds the rest, which counts toward the size limit;
 * - children per element and elements per stanza are capped because
 *   xmpp_stanza_add_child walks the sibling list; depth is capped because
 *   libstrophe releases and serialises stanzas recursively. A stanza over
 *   one of those is dropped (the stream goes on: a remote user can send
 *   it); a stanza over the size limit, or any XML error, kills the stream.
 * - RFC 6120 restricted XML: no DTD, no entity declarations, no comments,
 *   no processing instructions.
 */
#include <sys/random.h>

#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "xmlstream.h"

#define XMLS_SEP '\xff'          /* never in UTF-8: splits ns and name */
#define XMLS_PIECE 65536         /* bytes given to expat at once */
#define XMLS_SHELL_ATTR_MAX 1024 /* longest attribute kept in a shell */
#define XMLS_TXT_KEEP 4096       /* text buffer kept between stanzas */

enum scan {
	SC_TEXT,
	SC_REF,
	SC_LT,
	SC_TAG,
	SC_QUOTE,
	SC_BANG,
	SC_CDATA,
	SC_COMMENT,
	SC_PI
};

struct frame {
	xmpp_stanza_t *el;
	char          *txt;
	size_t         len, cap;
	unsigned       nchild;
};

struct xmls {
	xmpp_ctx_t     *ctx;
	XML_Parser      p;
	struct xmls_cbs cb;
	void           *arg;
	size_t          max_stanza;
	unsigned        max_depth;
	/* bytes not yet given to expat, and the pre-scan over them */
	char             *pend;
	size_t            plen, pcap, scanned, safe;
	enum scan         sc;
	char              quote;
	char              bang[8];
	unsigned          nbang, run;
	uint64_t          fed;   /* bytes given to expat */
	uint64_t          mark;  /* where the stanza in progress began */
	unsigned          depth; /* 0 before the header, 1 in the stream */
	struct frame     *fr;    /* fr[0] is the stanza's top element */
	unsigned          nelems;
	uint64_t          walk; /* sibling hops spent on this stanza */
	size_t            mem;  /* bytes expat holds */
	int               discard;
	enum xmls_refusal why;
	xmpp_stanza_t    *shell;
	const char       *cond, *whystr;
	int               dead, stopped;
	char             *ns; /* scratch for a namespace name */
	size_t            nscap;
};

static void  fail(struct xmls *, const char *, const char *);
static void *mm_malloc(size_t);
static void *mm_realloc(void *, size_t);
static void  mm_free(void *);

/* expat keeps every element and attribute name it has seen for the life
 * of the document (the whole stream): its memory is counted, and a
 * stream past XMLS_PARSER_MEM is closed (the next one starts afresh). */
struct mm_hdr {
	size_t  size;
	size_t *counter;
	size_t  pad; /* keeps the payload 16-byte aligned */
	size_t  pad2;
};
static size_t                         *mm_counter; /* of the parser in use */
static const XML_Memory_Handling_Suite mm = {mm_malloc, mm_realloc, mm_free};

static void *
mm_malloc(size_t n)
{
	struct mm_hdr *h = malloc(sizeof *h + n);

	if (h == NULL)
		return NULL;
	h->size = n;
	h->counter = mm_counter;
	*h->counter += n;
	return h + 1;
}

static void *
mm_realloc(void *p, size_t n)
{
	struct mm_hdr *h, *nh;

	if (p == NULL)
		return mm_malloc(n);
	h = (struct mm_hdr *)p - 1;
	if ((nh = realloc(h, sizeof *nh + n)) == NULL)
		return NULL;
	*nh->counter += n - nh->size;
	nh->size = n;
	return nh + 1;
}

static void
mm_free(void *p)
{
	struct mm_hdr *h;

	if (p == NULL)
		return;
	h = (struct mm_hdr *)p - 1;
	*h->counter -= h->size;
	free(h);
}
static void scan(struct xmls *);
static void on_start(void *, const XML_Char *, const XML_Char **);
static void on_end(void *, const XML_Char *);
static void on_text(void *, const XML_Char *, int);
static int  flush_text(struct xmls *, struct frame *);
static void refuse(struct xmls *, enum xmls_refusal, xmpp_stanza_t *);

static const char *
local_name(const char *n)
{
	const char *s = strchr(n, XMLS_SEP);

	return s != NULL ? s + 1 : n;
}

static void
fail(struct xmls *x, const char *cond, const char *why)
{
	if (x->cond == NULL) {
		x->cond = cond;
		x->whystr = why;
	}
	XML_StopParser(x->p, XML_FALSE);
}

static void
on_doctype(void *arg, const XML_Char *n, const XML_Char *s, const XML_Char *p,
	   int internal)
{
	fail(arg, "restricted-xml", "DOCTYPE");
}

static void
on_entity(void *arg, const XML_Char *n, int pe, const XML_Char *v, int vl,
	  const XML_Char *b, const XML_Char *s, const XML_Char *p,
	  const XML_Char *nn)
{
	fail(arg, "restricted-xml", "entity declaration");
}

static void
on_comment(void *arg, const XML_Char *c)
{
	fail(arg, "restricted-xml", "comment");
}

static void
on_pi(void *arg, const XML_Char *t, const XML_Char *d)
{
	fail(arg, "restricted-xml", "processing instruction");
}

struct xmls *
xmls_new(xmpp_ctx_t *ctx, size_t max_stanza, unsigned max_depth,
	 const struct xmls_cbs *cb, void *arg)
{
	struct xmls  *x = xcalloc(1, sizeof *x);
	unsigned long salt = 0;

	x->ctx = ctx;
	x->cb = *cb;
	x->arg = arg;
	x->max_stanza = max_stanza;
	x->max_depth = max_depth > 0 ? max_depth : 1;
	x->fr = xcalloc(x->max_depth, sizeof *x->fr);
	mm_counter = &x->mem;
	if ((x->p = XML_ParserCreate_MM("UTF-8", &mm, "\xff")) == NULL)
		fatalx("XML_ParserCreate_MM failed");
	/* a fixed salt lets a peer precompute colliding names */
	if (getrandom(&salt, sizeof salt, 0) != (ssize_t)sizeof salt)
		salt = (unsigned long)(uintptr_t)x ^ (unsigned long)random();
	XML_SetHashSalt(x->p, salt);
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	XML_SetEntityDeclHandler(x->p, on_entity);
	XML_SetCommentHandler(x->p, on_comment);
	XML_SetProcessingInstructionHandler(x->p, on_pi);
	XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
	return x;
}

void
xmls_free(struct xmls *x)
{
	unsigned i;

	if (x == NULL)
		return;
	if (x->fr[0].el != NULL)
		xmpp_stanza_release(x->fr[0].el);
	if (x->shell != NULL)
		xmpp_stanza_release(x->shell);
	for (i = 0; i < x->max_depth; i++)
		free(x->fr[i].txt);
	free(x->fr);
	free(x->pend);
	free(x->ns);
	mm_counter = &x->mem;
	XML_ParserFree(x->p);
	free(x);
}

void
xmls_stop(struct xmls *x)
{
	x->stopped = 1;
	XML_StopParser(x->p, XML_FALSE);
}

const char *
xmls_error(const struct xmls *x, const char **why)
{
	if (why != NULL)
		*why = x->whystr != NULL ? x->whystr : "stopped";
	return x->cond;
}

const char *
xmls_refusal_name(enum xmls_refusal r)
{
	switch (r) {
	case XMLS_R_DEPTH:
		return "depth";
	case XMLS_R_ATTRS:
		return "attributes";
	case XMLS_R_CHILDREN:
		return "children";
	case XMLS_R_ELEMS:
		return "elements";
	}
	return "?";
}

/* The pre-scan: advance over the bytes not scanned yet and move x->safe
 * to the last point where expat can stop without a token left open. */
static void
scan(struct xmls *x)
{
	static const char cdata[] = "[CDATA[";
	size_t            i;
	char              c;

	for (i = x->scanned; i < x->plen; i++) {
		c = x->pend[i];
		switch (x->sc) {
		case SC_REF:
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '#' || c == '_' ||
			    c == '.' || c == '-' || c == ':')
				break;
			x->sc = SC_TEXT;
			/* FALLTHROUGH */
		case SC_TEXT:
			if (c == '<') {
				x->safe = i;
				x->sc = SC_LT;
			} else if (c == '&') {
				x->safe = i;
				x->sc = SC_REF;
			} else
				x->safe = i + 1;
			break;
		case SC_LT:
			x->nbang = 0;
			x->run = 0;
			if (c == '!')
				x->sc = SC_BANG;
			else if (c == '?')
				x->sc = SC_PI;
			else if (c == '>') {
				x->sc = SC_TEXT;
				x->safe = i + 1;
			} else
				x->sc = SC_TAG;
			break;
		case SC_BANG:
			x->bang[x->nbang++] = c;
			if (x->nbang == 2 && memcmp(x->bang, "--", 2) == 0) {
				x->sc = SC_COMMENT;
				break;
			}
			if (memcmp(x->bang, cdata, x->nbang) == 0) {
				if (x->nbang == sizeof cdata - 1) {
					x->sc = SC_CDATA;
					x->safe = i + 1;
				}
				break;
			}
			if (x->nbang == 1 && c == '-')
				break;
			x->sc = SC_TAG; /* DOCTYPE and the like: refused */
					/* FALLTHROUGH */
		case SC_TAG:
			if (c == '"' || c == '\'') {
				x->quote = c;
				x->sc = SC_QUOTE;
			} else if (c == '>') {
				x->sc = SC_TEXT;
				x->safe = i + 1;
			}
			break;
		case SC_QUOTE:
			if (c == x->quote)
				x->sc = SC_TAG;
			break;
		case SC_CDATA:
			if (c == '>' && x->run >= 2) {
				x->sc = SC_TEXT;
				x->safe = i + 1;
			} else if (c != ']')
				x->safe = i + 1;
			x->run = c == ']' ? x->run + 1 : 0;
			break;
		case SC_COMMENT:
			if (c == '>' && x->run >= 2) {
				x->sc = SC_TEXT;
				x->safe = i + 1;
			}
			x->run = c == '-' ? x->run + 1 : 0;
			break;
		case SC_PI:
			if (c == '>' && x->run > 0) {
				x->sc = SC_TEXT;
				x->safe = i + 1;
			}
			x->run = c == '?';
			break;
		}
	}
	x->scanned = x->plen;
}

int
xmls_feed(struct xmls *x, const char *buf, size_t len)
{
	size_t          n;
	enum XML_Status r;
	enum XML_Error  e;

	while (!x->dead && len > 0) {
		n = len < XMLS_PIECE ? len : XMLS_PIECE;
		if (x->plen + n > x->pcap) {
			x->pcap = (x->plen + n) * 2;
			x->pend = xrealloc(x->pend, x->pcap);
		}
		memcpy(x->pend + x->plen, buf, n);
		x->plen += n;
		buf += n;
		len -= n;
		scan(x);
		if (x->safe > 0) {
			mm_counter = &x->mem;
			r = XML_Parse(x->p, x->pend, (int)x->safe, XML_FALSE);
			x->fed += x->safe;
			memmove(x->pend, x->pend + x->safe, x->plen - x->safe);
			x->plen -= x->safe;
			x->scanned -= x->safe;
			x->safe = 0;
			if (r != XML_STATUS_OK) {
				x->dead = 1;
				e = XML_GetErrorCode(x->p);
				if (x->cond == NULL && !x->stopped) {
					x->cond = "invalid-xml";
					x->whystr = XML_ErrorString(e);
				}
				return -1;
			}
		}
		if (x->mem > XMLS_PARSER_MEM) {
			x->dead = 1;
			x->cond = "resource-constraint";
			x->whystr = "parser memory over its limit";
			return -1;
		}
		if (x->fed + x->plen - x->mark > x->max_stanza) {
			x->dead = 1;
			x->cond = "policy-violation";
			x->whystr = "stanza over the size limit";
			return -1;
		}
	}
	return x->dead ? -1 : 0;
}

static uint64_t
here_end(struct xmls *x)
{
	return (uint64_t)XML_GetCurrentByteIndex(x->p) +
	       (uint64_t)XML_GetCurrentByteCount(x->p);
}

static xmpp_stanza_t *
shell_new(struct xmls *x, const char *name)
{
	xmpp_stanza_t *s = xmpp_stanza_new(x->ctx);

	xmpp_stanza_set_name(s, local_name(name));
	return s;
}

static void
shell_attr(xmpp_stanza_t *s, const char *k, const char *v)
{
	static const char *keep[] = {"id", "type", "from", "to"};
	size_t             i;

	for (i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (strcmp(k, keep[i]) == 0 && v != NULL &&
		    strlen(v) <= XMLS_SHELL_ATTR_MAX)
			xmpp_stanza_set_attribute(s, k, v);
}

/* Drop the stanza in progress, keeping only what an error reply needs;
 * shell is NULL when the top element is already built. */
static void
refuse(struct xmls *x, enum xmls_refusal why, xmpp_stanza_t *shell)
{
	static const char *keep[] = {"id", "type", "from", "to"};
	size_t             i;

	x->discard = 1;
	x->why = why;
	if (shell == NULL) {
		shell = shell_new(x, xmpp_stanza_get_name(x->fr[0].el));
		for (i = 0; i < sizeof keep / sizeof keep[0]; i++)
			shell_attr(
			    shell, keep[i],
			    xmpp_stanza_get_attribute(x->fr[0].el, keep[i]));
	}
	if (x->fr[0].el != NULL)
		xmpp_stanza_release(x->fr[0].el);
	x->fr[0].el = NULL;
	x->shell = shell;
}

static void
stream_open(struct xmls *x, const XML_Char *name, const XML_Char **attrs)
{
	const char *id = NULL;
	size_t      i;

	if (strcmp(name, XMLS_NS_STREAMS "\xff"
					 "stream") != 0) {
		fail(x, "invalid-namespace", "not a stream header");
		return;
	}
	for (i = 0; attrs[i] != NULL; i += 2)
		if (strcmp(attrs[i], "id") == 0)
			id = attrs[i + 1];
	x->depth = 1;
	x->mark = here_end(x);
	if (x->cb.open != NULL)
		x->cb.open(x->arg, id);
}

static void
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xmls   *x = arg;
	struct frame  *f;
	xmpp_stanza_t *el, *sh;
	const char    *sep;
	unsigned       lvl, na = 0;
	size_t         i, n;

	if (x->depth == 0) {
		stream_open(x, name, attrs);
		return;
	}
	if (x->depth == 1) {
		x->nelems = 0;
		x->walk = 0;
		x->discard = 0;
	}
	lvl = x->depth++ - 1;
	if (x->discard)
		return;
	while (attrs[na] != NULL)
		na++;
	na /= 2;
	if (lvl >= x->max_depth || ++x->nelems > XMLS_MAX_ELEMS ||
	    na > XMLS_MAX_ATTRS ||
	    (lvl > 0 && (flush_text(x, &x->fr[lvl - 1]) == -1 ||
			 x->fr[lvl - 1].nchild >= XMLS_MAX_CHILDREN ||
			 (x->walk += x->fr[lvl - 1].nchild) > XMLS_MAX_WALK))) {
		sh = NULL;
		if (lvl == 0) {
			sh = shell_new(x, name);
			for (i = 0; attrs[i] != NULL; i += 2)
				shell_attr(sh, attrs[i], attrs[i + 1]);
		}
		refuse(x,
		       lvl >= x->max_depth          ? XMLS_R_DEPTH
		       : x->nelems > XMLS_MAX_ELEMS ? XMLS_R_ELEMS
		       : na > XMLS_MAX_ATTRS        ? XMLS_R_ATTRS
						    : XMLS_R_CHILDREN,
		       sh);
		return;
	}
	el = xmpp_stanza_new(x->ctx);
	xmpp_stanza_set_name(el, local_name(name));
	/* like libstrophe: attributes lose their namespace prefix */
	for (i = 0; attrs[i] != NULL; i += 2)
		xmpp_stanza_set_attribute(el, local_name(attrs[i]),
					  attrs[i + 1]);
	if ((sep = strchr(name, XMLS_SEP)) != NULL) {
		n = (size_t)(sep - name);
		if (n + 1 > x->nscap) {
			x->nscap = n + 1;
			x->ns = xrealloc(x->ns, x->nscap);
		}
		memcpy(x->ns, name, n);
		x->ns[n] = '\0';
		xmpp_stanza_set_ns(el, x->ns);
	}
	if (lvl > 0) {
		xmpp_stanza_add_child_ex(x->fr[lvl - 1].el, el, 0);
		x->fr[lvl - 1].nchild++;
	}
	f = &x->fr[lvl];
	f->el = el;
	f->len = 0;
	f->nchild = 0;
}

static int
flush_text(struct xmls *x, struct frame *f)
{
	xmpp_stanza_t *t;

	if (f->len == 0)
		return 0;
	if (f->nchild >= XMLS_MAX_CHILDREN ||
	    (x->walk += f->nchild) > XMLS_MAX_WALK)
		return -1;
	t = xmpp_stanza_new(x->ctx);
	xmpp_stanza_set_text_with_size(t, f->txt, f->len);
	xmpp_stanza_add_child_ex(f->el, t, 0);
	f->nchild++;
	f->len = 0;
	return 0;
}

static void
stanza_done(struct xmls *x)
{
	uint64_t       end = here_end(x);
	xmpp_stanza_t *st = x->fr[0].el;
	unsigned       i;

	x->fr[0].el = NULL;
	for (i = 0; i < x->max_depth; i++)
		if (x->fr[i].cap > XMLS_TXT_KEEP) {
			free(x->fr[i].txt);
			x->fr[i].txt = NULL;
			x->fr[i].cap = 0;
		}
	if (end - x->mark > x->max_stanza) {
		if (st != NULL)
			xmpp_stanza_release(st);
		fail(x, "policy-violation", "stanza over the size limit");
		return;
	}
	x->mark = end;
	if (x->discard) {
		x->discard = 0;
		if (x->cb.refused != NULL)
			x->cb.refused(x->arg, x->shell, x->why);
		xmpp_stanza_release(x->shell);
		x->shell = NULL;
		return;
	}
	if (x->cb.stanza != NULL)
		x->cb.stanza(x->arg, st);
	xmpp_stanza_release(st);
}

static void
on_end(void *arg, const XML_Char *name)
{
	struct xmls *x = arg;
	unsigned     lvl;

	if (x->depth <= 1) {
		x->depth = 0;
		if (x->cb.close != NULL)
			x->cb.close(x->arg);
		return;
	}
	lvl = --x->depth - 1;
	if (!x->discard && lvl < x->max_depth &&
	    flush_text(x, &x->fr[lvl]) == -1)
		refuse(x, XMLS_R_CHILDREN, NULL);
	if (lvl == 0)
		stanza_done(x);
}

static void
on_text(void *arg, const XML_Char *s, int len)
{
	struct xmls  *x = arg;
	struct frame *f;

	if (x->depth == 1) {
		x->mark = here_end(x); /* whitespace keepalive */
		return;
	}
	if (x->depth < 2 || x->discard)
		return;
	f = &x->fr[x->depth - 2];
	if (f->len + (size_t)len > f->cap) {
		f->cap = (f->len + (size_t)len) * 2;
		f->txt = xrealloc(f->txt, f->cap);
	}
	memcpy(f->txt + f->len, s, (size_t)len);
	f->len += (size_t)len;
}
