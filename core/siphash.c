/* SPDX-License-Identifier: ISC */
/*
 * floodgate - SipHash, written from the algorithm description in
 * "SipHash: a fast short-input PRF" (Aumasson, Bernstein, 2012): c
 * compression rounds per 8-byte word, d finalisation rounds, the last word
 * carrying the message length mod 256 in its top byte. SipHash-2-4 is the
 * paper's; the tables use SipHash-1-3, the variant hash tables commonly
 * settle on against flooding (Rust's HashMap, CPython's str hash): it
 * costs about 60% of 2-4 on the short keys that are hashed here (session
 * ids, JIDs, IPs), millions of times in a log sweep.
 */
#include <sys/random.h>

#include <errno.h>
#include <string.h>

#include "log.h"
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

static struct sip_key proc_key;
static int            proc_key_set;

/* Read 8 bytes as a little-endian word, whatever the host order. */
static inline uint64_t
load64_le(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

/* c SIPROUNDs; c is a constant at every call, so the loop unrolls. */
#define ROUNDS(c, v0, v1, v2, v3)                                              \
	do {                                                                   \
		int r_;                                                        \
		for (r_ = 0; r_ < (c); r_++)                                   \
			SIPROUND(v0, v1, v2, v3);                              \
	} while (0)

/* The core: optional leading word (the tweak), then the bytes of buf;
 * c compression and d finalisation rounds. */
static inline __attribute__((always_inline)) uint64_t
sip_run(const struct sip_key *k, const uint64_t *tweak, size_t total,
	const unsigned char *in, size_t len, int c, int d)
{
	uint64_t             v0 = k->k0 ^ 0x736f6d6570736575ull;
	uint64_t             v1 = k->k1 ^ 0x646f72616e646f6dull;
	uint64_t             v2 = k->k0 ^ 0x6c7967656e657261ull;
	uint64_t             v3 = k->k1 ^ 0x7465646279746573ull;
	uint64_t             m, b;
	size_t               left = len & 7, i;
	const unsigned char *end = in + (len - left);

	if (tweak != NULL) {
		m = *tweak;
		v3 ^= m;
		ROUNDS(c, v0, v1, v2, v3);
		v0 ^= m;
	}
	for (; in != end; in += 8) {
		m = load64_le(in);
		v3 ^= m;
		ROUNDS(c, v0, v1, v2, v3);
		v0 ^= m;
	}
	b = (uint64_t)total << 56;
	for (i = 0; i < left; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	ROUNDS(c, v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	ROUNDS(d, v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
sip_hash24(const struct sip_key *k, const void *buf, size_t len)
{
	return sip_run(k, NULL, len, buf, len, 2, 4);
}

uint64_t
sip_hash24_tw(const struct sip_key *k, uint64_t tweak, const void *buf,
	      size_t len)
{
	return sip_run(k, &tweak, len + 8, buf, len, 2, 4);
}

uint64_t
sip_hash13_tw(const struct sip_key *k, uint64_t tweak, const void *buf,
	      size_t len)
{
	return sip_run(k, &tweak, len + 8, buf, len, 1, 3);
}

const struct sip_key *
sip_key(void)
{
	unsigned char raw[16];
	size_t        got = 0;
	ssize_t       n;

	if (proc_key_set)
		return &proc_key;
	while (got < sizeof raw) {
		n = getrandom(raw + got, sizeof raw - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		got += (size_t)n;
	}
	proc_key.k0 = load64_le(raw);
	proc_key.k1 = load64_le(raw + 8);
	explicit_bzero(raw, sizeof raw);
	proc_key_set = 1;
	return &proc_key;
}

uint64_t
sip_hash(uint64_t tweak, const void *buf, size_t len)
{
	return sip_run(sip_key(), &tweak, len + 8, buf, len, 1, 3);
}
