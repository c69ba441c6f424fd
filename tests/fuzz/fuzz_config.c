/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the configuration parser. Arbitrary bytes as a config
 * file must give either a valid config or errors, never a crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char       path[64];
	static int        init;
	struct fg_config *c;
	FILE             *fp;

	if (!init) {
		int fd;

		snprintf(path, sizeof path, "/tmp/fuzzcfgXXXXXX");
		fd = mkstemp(path);
		close(fd);
		/* errors go nowhere: the fuzzer makes millions of them */
		if (freopen("/dev/null", "w", stderr) == NULL)
			abort();
		log_init(1, 0, "fuzz");
		init = 1;
	}
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	fwrite(data, 1, len, fp);
	fclose(fp);
	c = config_load(path);
	if (c != NULL) {
		/* what validate() promises */
		if (c->comp_jid == NULL || c->serves.n == 0 ||
		    !(c->throttle_at < c->quarantine_at))
			abort();
		config_free(c);
	}
	return 0;
}
