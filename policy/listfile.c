/* SPDX-License-Identifier: ISC */
/*
 * floodgate - operator list files (listfile.h): the line parser and the
 * sorted sets the detectors look entries up in. A set is two sorted
 * arrays, one of 64-bit hashes and one of plain texts; lookups are binary
 * searches, so a set of a million entries costs 8 MB of hashes and about
 * 20 comparisons a lookup.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../core/jid.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "listfile.h"

#define LF_FILE_MAX (64 * 1024 * 1024) /* bytes of one list file */
#define LF_BAD_LOGGED 20 /* bad lines logged per read, then a count */

struct lf_set {
	uint64_t *h;
	size_t    n, cap;
	char    **plain;
	size_t    nplain, capplain;
	size_t    nhashed; /* entries given as a hash: lookups must hash */
};

/* SHA-256 fetched once: an implicit fetch per EVP_Digest() call costs
 * more than the digest of a JID itself (OpenSSL 3). */
static EVP_MD     *lf_md;
static EVP_MD_CTX *lf_ctx;

uint64_t
lf_hash(const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0, i;
	uint64_t      h = 0;

	if (lf_md == NULL &&
	    ((lf_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	     (lf_ctx = EVP_MD_CTX_new()) == NULL))
		fatalx("SHA-256 not available");
	if (EVP_DigestInit_ex2(lf_ctx, lf_md, NULL) != 1 ||
	    EVP_DigestUpdate(lf_ctx, s, strlen(s)) != 1 ||
	    EVP_DigestFinal_ex(lf_ctx, md, &mdlen) != 1 || mdlen != 32)
		fatalx("SHA-256 failed");
	for (i = 0; i < 8; i++)
		h = h << 8 | md[i];
	return h;
}

uint64_t
lf_hex_hash(const char *s)
{
	uint64_t h = 0;
	int      i, c;

	for (i = 0; i < 16; i++) {
		c = tolower((unsigned char)s[i]);
		h = h << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return h;
}

static int
all_hex(const char *s, size_t n)
{
	return strspn(s, "0123456789abcdefABCDEF") >= n;
}

/* A host name as URLs carry it: at least one dot, labels of letters,
 * digits, '-', '_' or UTF-8 bytes, no empty label. */
static int
valid_host(const char *s)
{
	const char *p;
	size_t      label = 0;

	if (strchr(s, '.') == NULL)
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' ||
		      (unsigned char)*p >= 0x80))
			return 0;
		label++;
	}
	return label > 0;
}

/*
 * A URL-host entry in place: lowercased; a URL (http://, https://, as in
 * ejabberd's mod_antispam URL files) gives its host, without a port, a
 * path, a query or a fragment; a leading "www." and a trailing dot go, as
 * the modules leave them out of hfp (doc/PROTOCOL.md). 0 or -1.
 */
static int
host_of(char *tok)
{
	char  *p = tok;
	size_t n;

	for (n = 0; tok[n] != '\0'; n++)
		tok[n] = (char)tolower((unsigned char)tok[n]);
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else if (strncmp(p, "https://", 8) == 0)
		p += 8;
	if (p != tok)
		p[strcspn(p, "/?#:")] = '\0';
	if (strncmp(p, "www.", 4) == 0)
		p += 4;
	n = strlen(p);
	if (n > 1 && p[n - 1] == '.')
		p[--n] = '\0';
	memmove(tok, p, n + 1);
	return valid_host(tok) ? 0 : -1;
}

int
lf_parse_line(enum lf_kind kind, const char *line, uint64_t *h, char *text,
	      size_t textsz, const char **err)
{
	char   tok[LF_LINE_MAX];
	size_t n;

	text[0] = '\0';
	line += strspn(line, " \t\r\n");
	if (*line == '\0' || *line == '#')
		return 0;
	n = strcspn(line, " \t\r\n#");
	if (line[n + strspn(line + n, " \t\r\n")] != '\0' &&
	    line[n + strspn(line + n, " \t\r\n")] != '#') {
		*err = "more than one entry on the line";
		return -1;
	}
	if (n >= sizeof tok || n >= textsz) {
		*err = "entry too long";
		return -1;
	}
	memcpy(tok, line, n);
	tok[n] = '\0';
	if (n == 64 && all_hex(tok, 64)) {
		*h = lf_hex_hash(tok);
		return 1;
	}
	if (kind == LF_HOSTS && n == 16 && all_hex(tok, 16)) {
		*h = lf_hex_hash(tok);
		return 1;
	}
	switch (kind) {
	case LF_JIDS:
		if (strchr(tok, '@') == NULL || strchr(tok, '/') != NULL ||
		    jid_bare(tok, text, textsz) == -1) {
			*err = "not a bare JID (user@domain) or SHA-256";
			text[0] = '\0';
			return -1;
		}
		break;
	case LF_DOMAINS:
		if (strchr(tok, '@') != NULL || strchr(tok, '/') != NULL ||
		    jid_domain(tok, text, textsz) == -1) {
			*err = "not a domain or SHA-256";
			text[0] = '\0';
			return -1;
		}
		break;
	default:
		if (host_of(tok) == -1) {
			*err = "not a host name, URL, SHA-256 or host "
			       "fingerprint";
			return -1;
		}
		memcpy(text, tok, strlen(tok) + 1);
		break;
	}
	*h = lf_hash(text);
	return 1;
}

struct lf_set *
lf_new(void)
{
	return xcalloc(1, sizeof(struct lf_set));
}

void
lf_free(struct lf_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nplain; i++)
		free(s->plain[i]);
	free(s->plain);
	free(s->h);
	free(s);
}

int
lf_add(struct lf_set *s, enum lf_kind kind, const char *entry, const char **err)
{
	char     text[LF_TEXT_MAX];
	uint64_t h;
	int      r;

	if ((r = lf_parse_line(kind, entry, &h, text, sizeof text, err)) <= 0) {
		if (r == 0)
			*err = "empty entry";
		return -1;
	}
	if (s->n >= LF_ENTRIES_MAX) {
		*err = "too many entries";
		return -1;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->h = xreallocarray(s->h, s->cap, sizeof *s->h);
	}
	s->h[s->n++] = h;
	if (text[0] != '\0') {
		if (s->nplain == s->capplain) {
			s->capplain = s->capplain ? s->capplain * 2 : 64;
			s->plain = xreallocarray(s->plain, s->capplain,
						 sizeof *s->plain);
		}
		s->plain[s->nplain++] = xstrdup(text);
	} else
		s->nhashed++;
	return 0;
}

int
lf_read(struct lf_set *s, enum lf_kind kind, const char *path)
{
	FILE       *fp;
	char       *line = NULL, esc[LOG_ESC_MAX];
	const char *err;
	size_t      cap = 0, total = 0;
	ssize_t     len;
	int         lineno = 0, bad = 0;
	struct stat st;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("list %s", path);
		return -1;
	}
	/* a FIFO or a device would keep the event loop reading */
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		fclose(fp);
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if ((total += (size_t)len) > LF_FILE_MAX) {
			log_warnx("%s:%d: file larger than %d bytes", path,
				  lineno, LF_FILE_MAX);
			goto fail;
		}
		if ((size_t)len >= LF_LINE_MAX) {
			if (++bad <= LF_BAD_LOGGED)
				log_warnx("%s:%d: line longer than %d bytes",
					  path, lineno, LF_LINE_MAX - 1);
			continue;
		}
		if (memchr(line, '\0', (size_t)len) != NULL) {
			if (++bad <= LF_BAD_LOGGED)
				log_warnx("%s:%d: NUL byte in the line", path,
					  lineno);
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (strspn(line, " \t") == strlen(line) ||
		    line[strspn(line, " \t")] == '#')
			continue;
		if (s->n >= LF_ENTRIES_MAX) {
			log_warnx("%s:%d: more than %d entries", path, lineno,
				  LF_ENTRIES_MAX);
			goto fail;
		}
		if (lf_add(s, kind, line, &err) == -1 && ++bad <= LF_BAD_LOGGED)
			log_warnx("%s:%d: %s: '%s'", path, lineno, err,
				  log_esc(esc, sizeof esc, line));
	}
	if (bad > LF_BAD_LOGGED)
		log_warnx("%s: %d bad lines, the first %d shown", path, bad,
			  LF_BAD_LOGGED);
	if (ferror(fp)) {
		log_warn("list %s", path);
		goto fail;
	}
	free(line);
	fclose(fp);
	return bad;
fail:
	free(line);
	fclose(fp);
	return -1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
lf_done(struct lf_set *s)
{
	size_t i, j;

	if (s->n > 1)
		qsort(s->h, s->n, sizeof *s->h, cmp_u64);
	for (i = j = 0; i < s->n; i++)
		if (j == 0 || s->h[j - 1] != s->h[i])
			s->h[j++] = s->h[i];
	s->n = j;
	if (s->nplain > 1)
		qsort(s->plain, s->nplain, sizeof *s->plain, cmp_str);
	for (i = j = 0; i < s->nplain; i++) {
		if (j > 0 && strcmp(s->plain[j - 1], s->plain[i]) == 0) {
			free(s->plain[i]);
			continue;
		}
		s->plain[j++] = s->plain[i];
	}
	s->nplain = j;
}

int
lf_has(const struct lf_set *s, uint64_t h)
{
	return s != NULL && s->n > 0 &&
	       bsearch(&h, s->h, s->n, sizeof *s->h, cmp_u64) != NULL;
}

int
lf_has_plain(const struct lf_set *s, const char *text)
{
	return s != NULL && s->nplain > 0 &&
	       bsearch(&text, s->plain, s->nplain, sizeof *s->plain, cmp_str) !=
		   NULL;
}

int
lf_match(const struct lf_set *s, const char *text)
{
	if (s == NULL || s->n == 0)
		return 0;
	return s->nhashed > 0 ? lf_has(s, lf_hash(text))
			      : lf_has_plain(s, text);
}

size_t
lf_count(const struct lf_set *s)
{
	return s != NULL ? s->n : 0;
}

size_t
lf_nplain(const struct lf_set *s)
{
	return s != NULL ? s->nplain : 0;
}

const char *
lf_plain(const struct lf_set *s, size_t i)
{
	return s != NULL && i < s->nplain ? s->plain[i] : NULL;
}
