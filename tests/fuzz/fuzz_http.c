/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the HTTP listener's request-head parser. Arbitrary bytes
 * (cut at the first NUL, as the listener refuses heads with one) must
 * parse or be refused; what parses must keep the parser's promises: a
 * method, a target starting with '/', a length of -1 or 0 up to
 * HTTP_BODY_MAX + 1, and header values without leading or trailing
 * blanks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_value(const char *v)
{
	size_t n;

	if (v == NULL)
		return;
	n = strlen(v);
	if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
		      v[n - 1] == '\t'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct http_head hd;
	char            *head = malloc(len + 1);

	memcpy(head, data, len);
	head[len] = '\0';
	if (http_head_parse(head, &hd) == 0) {
		if (hd.method == NULL || hd.target == NULL ||
		    hd.target[0] != '/' || strchr(hd.method, ' ') != NULL)
			abort();
		if (hd.clen < -1 || hd.clen > HTTP_BODY_MAX + 1)
			abort();
		check_value(hd.cookie);
		check_value(hd.ctype);
	}
	free(head);
	return 0;
}
