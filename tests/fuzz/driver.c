/* SPDX-License-Identifier: ISC */
/*
 * A tiny stand-in for libFuzzer's main(), so fuzz targets run in `make
 * check` under ASan/UBSan without clang: feeds each corpus file given on
 * the command line (or every file in FUZZ_DEFAULT_CORPUS under
 * $top_srcdir) to LLVMFuzzerTestOneInput, then FUZZ_ITERATIONS
 * deterministic mutations of each (bit flips, byte edits, cuts,
 * duplicated spans, splices with another input). Prints TAP. A crash is
 * the failure: the sanitizers abort the process.
 *
 * Options: -n N mutations per input, -s SEED.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FUZZ_ITERATIONS
#define FUZZ_ITERATIONS 1000 /* mutations per corpus input */
#endif
#define FUZZ_MAX_INPUT (1024 * 1024) /* bytes; longer inputs are cut */
#define FUZZ_MAX_FILES 256

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct input {
	uint8_t *data;
	size_t   len;
};

static struct input inputs[FUZZ_MAX_FILES];
static uint8_t      tmp[FUZZ_MAX_INPUT];
static size_t       ninputs;
static uint64_t     rng = 0x853c49e6748fea9bULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return n == 0 ? 0 : (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

static void
load(const char *path)
{
	FILE       *fp;
	struct stat sb;
	uint8_t    *buf;
	size_t      n;

	if (ninputs >= FUZZ_MAX_FILES || stat(path, &sb) == -1 ||
	    !S_ISREG(sb.st_mode) || (fp = fopen(path, "rb")) == NULL)
		return;
	if ((buf = malloc(FUZZ_MAX_INPUT)) == NULL)
		abort();
	n = fread(buf, 1, FUZZ_MAX_INPUT, fp);
	fclose(fp);
	inputs[ninputs].data = buf;
	inputs[ninputs++].len = n;
}

static void
load_arg(const char *path)
{
	struct stat    sb;
	DIR           *d;
	struct dirent *de;
	char           p[4096];

	if (stat(path, &sb) == -1) {
		fprintf(stderr, "fuzz driver: %s: not found\n", path);
		exit(1);
	}
	if (!S_ISDIR(sb.st_mode)) {
		load(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", path, de->d_name);
		load(p);
	}
	closedir(d);
}

/* One mutation of in into out (capacity FUZZ_MAX_INPUT). */
static size_t
mutate(const struct input *in, uint8_t *out)
{
	static const char   magic[] = "\n\0\r\t :@/<>()[]|.-+Z9?";
	size_t              n = in->len, i, k, a, b;
	const struct input *o;

	memcpy(out, in->data, n);
	for (k = 1 + rnd(4); k > 0; k--) {
		switch (rnd(7)) {
		case 0: /* flip a bit */
			if (n > 0)
				out[rnd(n)] ^= 1u << rnd(8);
			break;
		case 1: /* a byte that matters to the parsers */
			if (n > 0)
				out[rnd(n)] = magic[rnd(sizeof(magic) - 1)];
			break;
		case 2: /* cut the tail */
			n = rnd(n + 1);
			break;
		case 3: /* delete a span */
			if (n > 0) {
				a = rnd(n);
				b = a + rnd(n - a + 1);
				memmove(out + a, out + b, n - b);
				n -= b - a;
			}
			break;
		case 4: /* duplicate a span */
			if (n > 0) {
				a = rnd(n);
				b = rnd(n - a + 1);
				if (b == 0 || n >= FUZZ_MAX_INPUT ||
				    b > FUZZ_MAX_INPUT - n)
					break;
				/* copy first, then open the gap */
				memcpy(tmp, out + a, b);
				i = rnd(n + 1);
				memmove(out + i + b, out + i, n - i);
				memcpy(out + i, tmp, b);
				n += b;
			}
			break;
		case 5: /* splice in part of another input */
			o = &inputs[rnd(ninputs)];
			if (o->len == 0)
				break;
			a = rnd(o->len);
			b = rnd(o->len - a + 1);
			i = rnd(n + 1);
			if (i + b > FUZZ_MAX_INPUT)
				break;
			memcpy(out + i, o->data + a, b);
			if (i + b > n)
				n = i + b;
			break;
		default: /* insert a byte */
			if (n < FUZZ_MAX_INPUT) {
				i = rnd(n + 1);
				memmove(out + i + 1, out + i, n - i);
				out[i] = (uint8_t)rnd(256);
				n++;
			}
			break;
		}
	}
	return n;
}

int
main(int argc, char *argv[])
{
	long        iters = FUZZ_ITERATIONS;
	const char *top;
	char        p[4096];
	uint8_t    *buf;
	size_t      i, n, runs = 0;
	long        j;
	int         ch;

	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			iters = strtol(optarg, NULL, 10);
			break;
		case 's':
			rng ^=
			    strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ULL;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-n N] [-s SEED] "
				"[FILE|DIR ...]\n",
				argv[0]);
			return 2;
		}
	}
	for (; optind < argc; optind++)
		load_arg(argv[optind]);
#ifdef FUZZ_DEFAULT_CORPUS
	if (ninputs == 0) {
		top = getenv("top_srcdir");
		snprintf(p, sizeof p, "%s/%s", top != NULL ? top : ".",
			 FUZZ_DEFAULT_CORPUS);
		load_arg(p);
	}
#else
	(void)top;
	(void)p;
#endif
	if (ninputs == 0) {
		fprintf(stderr, "fuzz driver: no corpus\n");
		return 1;
	}
	if ((buf = malloc(FUZZ_MAX_INPUT)) == NULL)
		abort();
	for (i = 0; i < ninputs; i++) {
		LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
		runs++;
		for (j = 0; j < iters; j++) {
			n = mutate(&inputs[i], buf);
			LLVMFuzzerTestOneInput(buf, n);
			runs++;
		}
	}
	printf("1..1\nok 1 - %zu inputs, %zu runs without a crash\n", ninputs,
	       runs);
	for (i = 0; i < ninputs; i++)
		free(inputs[i].data);
	free(buf);
	return 0;
}
