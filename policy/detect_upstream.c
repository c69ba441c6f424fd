/* SPDX-License-Identifier: ISC */
/*
 * floodgate - upstream blocklists (policy/upstream.h): a set of listed
 * items, each with the bit set of the sources that list it, turned into
 * reputation signals of weight.upstream.
 *
 * The default weight (10) reaches quarantine and no further: a listed
 * domain's invitations and messages to strangers are refused, contacts
 * keep talking (doc/design.md). Listed subjects are topped up to the weight
 * while they stay listed, so decay alone does not let them go, and a
 * signal of minus what is left is added when the last source drops them.
 *
 * The set is the state of the "upstream" detector: the policy creates it
 * with the other detectors, checks hashed listings before each gate
 * decision (the pregate hook) and tops listed subjects up from its tick.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../core/clock.h"
#include "../core/jid.h"
#include "../core/log.h"
#include "../core/siphash.h"
#include "../core/xmalloc.h"
#include "detect.h"
#include "upstream.h"

#define UP_TWEAK 0x7570737472656d31ULL /* siphash domain: "upstrem1" */
#define UP_BUCKETS_MIN 1024            /* hash buckets, initial */
#define UP_TOPUP_MS 600000             /* top listed subjects up, ms */
#define UP_LINE_MAX 4096               /* bytes per list-file line */
#define UP_DOMAIN_MAX 253              /* bytes of a domain name */
#define UP_LABEL_MAX 63                /* bytes of one label */
#define UP_KEY_MAX 1024                /* bytes of a normalised item */
#define UP_SIGNAL "upstream"
#define UP_SIGNAL_DROP "upstream-delisted"

/* One listed item. One allocation, key included. */
struct up_ent {
	struct up_ent *next;
	uint64_t       h;
	uint64_t       src;  /* sources listing it */
	uint64_t       seen; /* listed again during a replace */
	uint8_t        kind; /* enum up_kind */
	uint8_t        signalled;
	uint8_t        mat_type; /* UP_HASH: enum fg_subj of mat */
	char          *mat;      /* UP_HASH: what it matched, or NULL */
	char           key[];
};

struct up_state {
	struct policy  *pol;
	double          w;
	char           *src[UP_SOURCES_MAX];
	struct up_ent **tab;
	size_t          nb; /* buckets, a power of two */
	size_t          n;
	size_t          nhash; /* UP_HASH entries */
	int64_t         last_topup;
};

static struct up_state *state(struct policy *);
static int              src_bit(struct up_state *, const char *, int);
static struct up_ent  **ent_slot(struct up_state *, enum up_kind, const char *);
static void             ent_listed(struct up_state *, struct up_ent *);
static void             ent_remove(struct up_state *, struct up_ent **);
static int  subj_of(const struct up_ent *, enum fg_subj *, const char **);
static void grow(struct up_state *);

void
up_sha256_hex(const char *s, char out[65])
{
	unsigned char     md[EVP_MAX_MD_SIZE];
	unsigned int      mdlen = 0, i;
	static const char hex[] = "0123456789abcdef";

	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		fatalx("EVP_Digest(sha256) failed");
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* A domain name as lists carry them: labels of letters, digits, '-',
 * '_' or UTF-8 bytes (IDNs), no empty label. */
static int
valid_domain(const char *s)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > UP_DOMAIN_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_' || c >= 0x80))
			return 0;
		if (++label > UP_LABEL_MAX)
			return 0;
	}
	return jid_is_domain(s);
}

static int
all_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

enum up_kind
up_classify(const char *id, char *out, size_t outsz)
{
	char        addr[INET6_ADDRSTRLEN + 8];
	const char *slash;
	size_t      i, n;
	int         bits, v6;

	if (id == NULL || (n = strlen(id)) == 0 || n >= outsz)
		return UP_BAD;
	if (all_hex(id, 64)) {
		for (i = 0; i <= n; i++)
			out[i] = (char)tolower((unsigned char)id[i]);
		return UP_HASH;
	}
	if ((slash = strchr(id, '/')) != NULL) {
		if ((size_t)(slash - id) >= sizeof addr ||
		    strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
		    slash[1] == '\0' || strlen(slash + 1) > 3)
			return UP_BAD;
		memcpy(addr, id, (size_t)(slash - id));
		addr[slash - id] = '\0';
		bits = atoi(slash + 1);
		v6 = strchr(addr, ':') != NULL;
		if (bits == (v6 ? 128 : 32))
			return pol_norm_ip(addr, out, outsz) == -1 ? UP_BAD
								   : UP_IP;
		if (bits == (v6 ? 48 : 24))
			return pol_norm_prefix(id, out, outsz) == -1
				   ? UP_BAD
				   : UP_PREFIX;
		return UP_BAD; /* networks we do not keep verdicts for */
	}
	if (strchr(id, ':') != NULL || strspn(id, "0123456789.") == n)
		return pol_norm_ip(id, out, outsz) == -1 ? UP_BAD : UP_IP;
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)id[i]);
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
	return valid_domain(out) ? UP_DOMAIN : UP_BAD;
}

int
up_parse_line(const char *line, char *out, size_t outsz, const char **err)
{
	const char *p = line, *end;
	size_t      n;

	*err = NULL;
	while (isspace((unsigned char)*p))
		p++;
	end = p + strcspn(p, "#");
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - p);
	if (n == 0)
		return 0;
	if (memchr(p, ' ', n) != NULL || memchr(p, '\t', n) != NULL) {
		*err = "more than one word (one domain a line)";
		return -1;
	}
	if (n >= outsz || n > UP_DOMAIN_MAX) {
		*err = "domain too long";
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	if (out[n - 1] == '.' && n > 1)
		out[--n] = '\0';
	for (n = 0; out[n] != '\0'; n++)
		out[n] = (char)tolower((unsigned char)out[n]);
	if (!valid_domain(out)) {
		*err = "not a domain name";
		return -1;
	}
	return 1;
}

int
up_read_file(const char *path, up_domain_cb cb, void *arg)
{
	FILE       *fp;
	char        line[UP_LINE_MAX], dom[UP_DOMAIN_MAX + 2];
	char        esc[LOG_ESC_MAX];
	const char *err;
	int         lineno = 0, bad = 0, ch;
	size_t      n;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("upstream list %s", path);
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		lineno++;
		n = strlen(line);
		if (n > 0 && line[n - 1] != '\n' && !feof(fp)) {
			log_warnx("%s:%d: line longer than %zu bytes, skipped",
				  path, lineno, sizeof line - 2);
			while ((ch = fgetc(fp)) != EOF && ch != '\n')
				;
			bad++;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		switch (up_parse_line(line, dom, sizeof dom, &err)) {
		case 1:
			cb(dom, arg);
			break;
		case -1:
			log_warnx("%s:%d: %s: '%s', skipped", path, lineno, err,
				  log_esc(esc, sizeof esc, line));
			bad++;
			break;
		}
	}
	if (ferror(fp)) {
		log_warn("upstream list %s", path);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return bad;
}

/* The upstream detector's state of pol. */
static struct up_state *
state(struct policy *pol)
{
	return pol_det_state(pol, &det_upstream);
}

/* Bit index of source name, or -1 (created when create is set). */
static int
src_bit(struct up_state *s, const char *name, int create)
{
	int i, fr = -1;

	for (i = 0; i < UP_SOURCES_MAX; i++) {
		if (s->src[i] != NULL && strcmp(s->src[i], name) == 0)
			return i;
		if (s->src[i] == NULL && fr == -1)
			fr = i;
	}
	if (!create)
		return -1;
	if (fr == -1) {
		log_warnx("upstream: more than %d sources, ignoring %s",
			  UP_SOURCES_MAX, name);
		return -1;
	}
	s->src[fr] = xstrdup(name);
	return fr;
}

static uint64_t
ent_hash(enum up_kind k, const char *key)
{
	return sip_hash((uint64_t)UP_TWEAK + (uint64_t)k, key, strlen(key));
}

/* The link pointing at (k, key), or at the NULL ending its chain. */
static struct up_ent **
ent_slot(struct up_state *s, enum up_kind k, const char *key)
{
	uint64_t        h = ent_hash(k, key);
	struct up_ent **pp = &s->tab[h & (s->nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->h == h && (*pp)->kind == k &&
		    strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

static void
grow(struct up_state *s)
{
	struct up_ent **nt, *e, *next;
	size_t          nb = s->nb * 2, i;

	nt = xcalloc(nb, sizeof *nt);
	for (i = 0; i < s->nb; i++)
		for (e = s->tab[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nt[e->h & (nb - 1)];
			nt[e->h & (nb - 1)] = e;
		}
	free(s->tab);
	s->tab = nt;
	s->nb = nb;
}

static int
subj_of(const struct up_ent *e, enum fg_subj *t, const char **key)
{
	switch (e->kind) {
	case UP_DOMAIN:
		*t = FG_SUBJ_DOMAIN;
		break;
	case UP_IP:
		*t = FG_SUBJ_IP;
		break;
	case UP_PREFIX:
		*t = FG_SUBJ_PREFIX;
		break;
	case UP_HASH:
		if (e->mat == NULL)
			return -1;
		*t = (enum fg_subj)e->mat_type;
		*key = e->mat;
		return 0;
	default:
		return -1;
	}
	*key = e->key;
	return 0;
}

/* Bring a listed subject's score up to the weight. */
static void
topup(struct up_state *s, struct up_ent *e)
{
	struct pol_info            info;
	const struct pol_detector *ctx;
	enum fg_subj               t;
	const char                *key;

	if (subj_of(e, &t, &key) == -1)
		return;
	if (pol_inspect(s->pol, t, key, &info) == -1)
		return;
	/* listings arrive from the component, outside the detector hooks */
	ctx = pol_ctx_enter(s->pol, &det_upstream);
	if (info.score < s->w)
		pol_signal(s->pol, t, key, UP_SIGNAL, s->w - info.score);
	pol_ctx_leave(s->pol, ctx);
	e->signalled = 1;
}

/* The first source listed e. */
static void
ent_listed(struct up_state *s, struct up_ent *e)
{
	enum fg_subj t;
	const char  *key;

	if (e->kind != UP_HASH || e->mat != NULL)
		topup(s, e);
	/* one of ours on somebody's list: the operator must hear of it, our
	 * users' mail to that list's readers is about to bounce */
	if (subj_of(e, &t, &key) == -1 || t != FG_SUBJ_DOMAIN ||
	    !pol_serves(s->pol, key))
		return;
	pol_note(s->pol,
		 &(struct pol_note){.what = POL_NOTE_OWN_LISTED,
				    .type = FG_SUBJ_DOMAIN,
				    .key = key,
				    .verdict = FG_V_BLOCK,
				    .text = "on an upstream blocklist"});
}

/* A delisting should lift what the listing alone caused now, not when
 * the verdict would expire (a day later): let the verdict step down as
 * far as the remaining score allows, as at expiry. Other evidence keeps
 * its weight, so a subject with its own record stays where it is. */
static void
reconsider(struct policy *p, enum fg_subj t, const char *key)
{
	struct rep_subj *rs;
	char             k[POL_KEY_MAX];
	int              n;
	int64_t          now = clock_wall_ms();

	if ((n = pol_norm_key(t, key, k, sizeof k)) == -1)
		return;
	rs = rep_find(p->rep, t, k, (size_t)n, rep_hash(t, k, (size_t)n));
	if (rs != NULL)
		pol_reeval(p, rs, now, UP_SIGNAL_DROP);
}

/* The last source dropped *pp: take its weight back, free it. */
static void
ent_remove(struct up_state *s, struct up_ent **pp)
{
	struct up_ent  *e = *pp;
	struct pol_info info;
	enum fg_subj    t;
	const char     *key;

	if (e->signalled && subj_of(e, &t, &key) == 0 &&
	    pol_inspect(s->pol, t, key, &info) == 0 && info.score > 0) {
		pol_signal(s->pol, t, key, UP_SIGNAL_DROP,
			   -(info.score < s->w ? info.score : s->w));
		reconsider(s->pol, t, key);
	}
	*pp = e->next;
	if (e->kind == UP_HASH)
		s->nhash--;
	s->n--;
	free(e->mat);
	free(e);
}

static void
list_bit(struct up_state *s, int bit, const char *id, int replacing)
{
	char            key[UP_KEY_MAX], esc[LOG_ESC_MAX];
	enum up_kind    k;
	struct up_ent **pp, *e;
	size_t          len;

	if ((k = up_classify(id, key, sizeof key)) == UP_BAD) {
		log_debug("upstream %s: ignoring item '%s'", s->src[bit],
			  log_esc(esc, sizeof esc, id));
		return;
	}
	pp = ent_slot(s, k, key);
	if ((e = *pp) == NULL) {
		if (s->n >= s->nb)
			grow(s), pp = ent_slot(s, k, key);
		len = strlen(key);
		e = xcalloc(1, sizeof *e + len + 1);
		memcpy(e->key, key, len + 1);
		e->h = ent_hash(k, key);
		e->kind = (uint8_t)k;
		*pp = e;
		s->n++;
		if (k == UP_HASH)
			s->nhash++;
	}
	if (replacing)
		e->seen |= 1ULL << bit;
	if (e->src == 0) {
		e->src |= 1ULL << bit;
		ent_listed(s, e);
	} else
		e->src |= 1ULL << bit;
}

static void
unlist_bit(struct up_state *s, int bit, const char *id)
{
	char            key[UP_KEY_MAX];
	enum up_kind    k;
	struct up_ent **pp;

	if ((k = up_classify(id, key, sizeof key)) == UP_BAD)
		return;
	pp = ent_slot(s, k, key);
	if (*pp == NULL)
		return;
	(*pp)->src &= ~(1ULL << bit);
	(*pp)->seen &= ~(1ULL << bit);
	if ((*pp)->src == 0)
		ent_remove(s, pp);
}

void
pol_upstream_list(struct policy *pol, const char *source, const char *id)
{
	struct up_state *s = state(pol);
	int              bit = src_bit(s, source, 1);

	if (bit >= 0)
		list_bit(s, bit, id, 1);
}

void
pol_upstream_unlist(struct policy *pol, const char *source, const char *id)
{
	struct up_state *s = state(pol);
	int              bit;

	if (s != NULL && (bit = src_bit(s, source, 0)) >= 0)
		unlist_bit(s, bit, id);
}

void
pol_upstream_begin(struct policy *pol, const char *source)
{
	struct up_state *s = state(pol);
	struct up_ent   *e;
	size_t           i;
	int              bit = src_bit(s, source, 1);

	if (bit < 0)
		return;
	for (i = 0; i < s->nb; i++)
		for (e = s->tab[i]; e != NULL; e = e->next)
			e->seen &= ~(1ULL << bit);
}

/* Drop from source bit every item not seen since begin (all if all). */
static void
sweep(struct up_state *s, int bit, int all)
{
	struct up_ent **pp;
	uint64_t        m = 1ULL << bit;
	size_t          i;

	for (i = 0; i < s->nb; i++) {
		pp = &s->tab[i];
		while (*pp != NULL) {
			if (((*pp)->src & m) && (all || !((*pp)->seen & m))) {
				(*pp)->src &= ~m;
				if ((*pp)->src == 0) {
					ent_remove(s, pp);
					continue;
				}
			}
			(*pp)->seen &= ~m;
			pp = &(*pp)->next;
		}
	}
}

void
pol_upstream_end(struct policy *pol, const char *source)
{
	struct up_state *s = state(pol);
	int              bit;

	if (s != NULL && (bit = src_bit(s, source, 0)) >= 0)
		sweep(s, bit, 0);
}

void
pol_upstream_drop(struct policy *pol, const char *source)
{
	struct up_state *s = state(pol);
	int              bit;

	if (s == NULL || (bit = src_bit(s, source, 0)) < 0)
		return;
	sweep(s, bit, 1);
	free(s->src[bit]);
	s->src[bit] = NULL;
}

struct file_ctx {
	struct policy *pol;
	const char    *source;
	size_t         n;
};

static void
file_domain(const char *domain, void *arg)
{
	struct file_ctx *f = arg;

	pol_upstream_list(f->pol, f->source, domain);
	f->n++;
}

int
pol_upstream_load_files(struct policy *pol, const struct fg_config *cfg)
{
	struct up_state *s = state(pol);
	struct file_ctx  f;
	char            *name;
	int              i, bad, total = 0, failed = 0;
	size_t           j;

	s->w = cfg->w_upstream;
	/* files no longer configured */
	for (i = 0; i < UP_SOURCES_MAX; i++) {
		if (s->src[i] == NULL || strncmp(s->src[i], "file:", 5) != 0 ||
		    config_list_has(&cfg->upstream_files, s->src[i] + 5))
			continue;
		log_info("upstream: dropping list %s", s->src[i] + 5);
		name = xstrdup(s->src[i]);
		pol_upstream_drop(pol, name);
		free(name);
	}
	for (j = 0; j < cfg->upstream_files.n; j++) {
		xasprintf(&name, "file:%s", cfg->upstream_files.v[j]);
		f.pol = pol;
		f.source = name;
		f.n = 0;
		pol_upstream_begin(pol, name);
		bad = up_read_file(cfg->upstream_files.v[j], file_domain, &f);
		if (bad == -1) {
			/* keep what the file listed before */
			log_warnx("upstream: keeping the previous copy of %s",
				  cfg->upstream_files.v[j]);
			failed = 1;
		} else {
			pol_upstream_end(pol, name);
			total += bad;
			log_info("upstream: %s: %zu domains, %d bad lines",
				 cfg->upstream_files.v[j], f.n, bad);
		}
		free(name);
	}
	return failed ? -1 : total;
}

/* Signal a matched hash entry for subject (t, key). */
static void
gate_match(struct up_state *s, const char *hex, enum fg_subj t, const char *key)
{
	struct up_ent *e = *ent_slot(s, UP_HASH, hex);

	if (e == NULL || e->src == 0)
		return;
	if (e->mat == NULL) {
		e->mat = xstrdup(key);
		e->mat_type = (uint8_t)t;
	} else if (strcmp(e->mat, key) != 0)
		return; /* a hash collision would be news; ignore */
	if (!e->signalled)
		topup(s, e);
}

/* Before a gate decision: signal the sender and its domain if an upstream
 * lists their SHA-256. Cheap when nothing hashed is listed. */
static void
up_pregate(void *arg, struct policy *pol, const struct pol_gate *g)
{
	struct up_state *s = arg;
	char             bare[JID_MAX + 1], dom[JID_MAX + 1], hex[65];

	if (s->nhash == 0 || g->from == NULL ||
	    jid_bare(g->from, bare, sizeof bare) == -1 ||
	    jid_domain(bare, dom, sizeof dom) == -1)
		return;
	if (strchr(bare, '@') != NULL) {
		up_sha256_hex(bare, hex);
		gate_match(s, hex, FG_SUBJ_ACCOUNT, bare);
	}
	up_sha256_hex(dom, hex);
	gate_match(s, hex, FG_SUBJ_DOMAIN, dom);
}

/* Keep listed subjects at weight.upstream while they stay listed. */
static void
up_tick(void *arg, struct policy *pol)
{
	struct up_state *s = arg;
	struct up_ent   *e;
	int64_t          now = clock_wall_ms();
	size_t           i;

	if (now - s->last_topup < UP_TOPUP_MS)
		return;
	s->last_topup = now;
	for (i = 0; i < s->nb; i++)
		for (e = s->tab[i]; e != NULL; e = e->next)
			if (e->src != 0 && e->signalled)
				topup(s, e);
}

size_t
pol_upstream_count(struct policy *pol)
{
	return state(pol)->n;
}

void
pol_upstream_sources(struct policy *pol,
		     void (*cb)(const char *, size_t, void *), void *arg)
{
	struct up_state *s = state(pol);
	struct up_ent   *e;
	size_t           n[UP_SOURCES_MAX] = {0}, i;
	int              b;

	for (i = 0; i < s->nb; i++)
		for (e = s->tab[i]; e != NULL; e = e->next)
			for (b = 0; b < UP_SOURCES_MAX; b++)
				if (e->src & (1ULL << b))
					n[b]++;
	for (b = 0; b < UP_SOURCES_MAX; b++)
		if (s->src[b] != NULL)
			cb(s->src[b], n[b], arg);
}

static void *
up_init(struct policy *pol, const struct fg_config *cfg)
{
	struct up_state *s = xcalloc(1, sizeof *s);

	s->pol = pol;
	s->w = cfg->w_upstream;
	s->nb = UP_BUCKETS_MIN;
	s->tab = xcalloc(s->nb, sizeof *s->tab);
	s->last_topup = clock_wall_ms();
	return s;
}

static void
up_reconfigure(void *arg, const struct fg_config *cfg)
{
	struct up_state *s = arg;

	s->w = cfg->w_upstream;
}

static void
up_free(void *arg)
{
	struct up_state *s = arg;
	struct up_ent   *e, *next;
	size_t           i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nb; i++)
		for (e = s->tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e->mat);
			free(e);
		}
	for (i = 0; i < UP_SOURCES_MAX; i++)
		free(s->src[i]);
	free(s->tab);
	free(s);
}

const struct pol_detector det_upstream = {
    .name = "upstream",
    .det = FG_DET_UPSTREAM,
    .cause = FG_CAUSE_LIST,
    .init = up_init,
    .reconfigure = up_reconfigure,
    .free = up_free,
    .pregate = up_pregate,
    .tick = up_tick,
};
