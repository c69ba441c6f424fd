/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: server log lines. The first byte picks the format and
 * the year; the rest is scanned as a log file and fed to both sweep and
 * report, whose outputs are then printed. Nothing may crash or leak,
 * and every line must be accounted for exactly once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/logscan.h"
#include "tools/authlog.h"
#include "tools/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct both {
	struct sweep  *sw;
	struct report *rp;
	uint64_t       n;
};

static void
both_rec(const struct logscan_rec *r, void *arg)
{
	struct both *b = arg;

	/* the parsers' promises: strings are there and bounded */
	if (r->user == NULL || r->host == NULL || r->ip == NULL ||
	    r->sid == NULL || r->user_len != strlen(r->user) ||
	    r->host_len != strlen(r->host) || r->ip_len != strlen(r->ip) ||
	    r->sid_len != strlen(r->sid) || r->user_len >= LOGSCAN_FIELD_MAX ||
	    r->host_len >= LOGSCAN_FIELD_MAX ||
	    r->ip_len >= LOGSCAN_FIELD_MAX || r->sid_len >= LOGSCAN_FIELD_MAX)
		abort();
	b->n++;
	sweep_rec(r, b->sw);
	report_rec(r, b->rp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logscan_opts         lo = {LOGSCAN_FMT_AUTO, 0};
	struct sweep_opts           so = {SWEEP_CASE_LOGIN, 0, NULL, NULL};
	struct both                 b;
	struct logscan             *ls;
	const struct logscan_stats *st;
	FILE                       *out;

	if (size > 0) {
		lo.fmt = (enum logscan_fmt)(data[0] % 3);
		lo.year = data[0] & 0x80 ? 2026 : 0;
		so.mode = data[0] & 0x40 ? SWEEP_DETECTORS : SWEEP_CASE_LOGIN;
		data++;
		size--;
	}
	b.sw = sweep_new(&so);
	b.rp = report_new();
	b.n = 0;
	ls = logscan_new(&lo, both_rec, &b);
	logscan_buf(ls, "fuzz", (const char *)data, size);
	st = logscan_stats(ls);
	if (st->records != b.n ||
	    st->lines != st->records + st->ignored + st->bad)
		abort();
	if ((out = fopen("/dev/null", "w")) != NULL) {
		sweep_print_report(out, b.sw, 1, st);
		sweep_print_csv(out, b.sw, 1);
		sweep_print_commands(out, b.sw, "ejabberd");
		report_print(out, b.rp, 0, st);
		report_print_csv(out, b.rp);
		fclose(out);
	}
	logscan_free(ls);
	sweep_free(b.sw);
	report_free(b.rp);
	return 0;
}
