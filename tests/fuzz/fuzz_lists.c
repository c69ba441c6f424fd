/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: operator list lines (policy/listfile.h). Arbitrary bytes
 * are read line by line as a JID, a domain and a URL-host list. An
 * accepted plain entry must come out lowercase, without blanks, and hash
 * to the entry's hash (so plain and hashed forms match alike); a bad line
 * must say why; and a set built from the accepted lines must find each.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/listfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((*s >= 'A' && *s <= 'Z') || *s == ' ' || *s == '\t' ||
		    *s == '#')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char          *text, *line, *save = NULL, out[LF_TEXT_MAX];
	const char    *err;
	struct lf_set *set;
	uint64_t       h;
	int            r, k;

	text = malloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	for (k = LF_JIDS; k <= LF_HOSTS; k++) {
		char *copy = strdup(text);

		set = lf_new();
		save = NULL;
		for (line = strtok_r(copy, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			err = NULL;
			r = lf_parse_line((enum lf_kind)k, line, &h, out,
					  sizeof out, &err);
			if (r == -1 && err == NULL)
				abort(); /* a bad line must say why */
			if (r != 1)
				continue;
			if (out[0] != '\0') {
				check_plain(out);
				if (lf_hash(out) != h)
					abort();
			}
			if (lf_add(set, (enum lf_kind)k, line, &err) == -1)
				abort(); /* parsed once, parses again */
			lf_done(set);
			if (!lf_has(set, h))
				abort();
			if (out[0] != '\0' && !lf_has_plain(set, out))
				abort();
		}
		lf_free(set);
		free(copy);
	}
	free(text);
	return 0;
}
