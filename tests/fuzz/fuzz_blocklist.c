/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: blocklist input. Arbitrary bytes are read as a plain
 * domain list (line by line, as from a file) and as RTBL item ids. Every
 * accepted domain and every classified id must come out in the normal
 * form its parser promises; nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "policy/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_lower(const char *s)
{
	for (; *s != '\0'; s++)
		if ((*s >= 'A' && *s <= 'Z') || (unsigned char)*s <= 0x20)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char       *text, *line, *save = NULL, out[512], again[512];
	const char *err;
	int         r;

	text = malloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		err = NULL;
		r = up_parse_line(line, out, sizeof out, &err);
		if (r == 1)
			check_lower(out);
		else if (r == -1 && err == NULL)
			abort(); /* a bad line must say why */
		if (up_classify(line, out, sizeof out) != UP_BAD) {
			check_lower(out);
			/* the normal form is a fixed point */
			if (up_classify(out, again, sizeof again) == UP_BAD ||
			    strcmp(out, again) != 0)
				abort();
		}
	}
	free(text);
	return 0;
}
