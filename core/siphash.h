/* SPDX-License-Identifier: ISC */
/*
 * floodgate - SipHash (Aumasson & Bernstein, 2012), keyed 64-bit hash:
 * 2-4 as in the paper, 1-3 for tables.
 *
 * Every table indexed by attacker-chosen strings (JIDs, domains, IPs) hashes
 * them with the per-process key from sip_key(), drawn from getrandom() on
 * first use, so nobody outside the process can compute which keys collide.
 */
#ifndef FG_SIPHASH_H
#define FG_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct sip_key {
	uint64_t k0;
	uint64_t k1;
};

/* SipHash-2-4 of buf under k, as in the paper (little-endian key/words). */
uint64_t sip_hash24(const struct sip_key *k, const void *buf, size_t len);

/* SipHash-2-4 of the 8 little-endian bytes of tweak followed by buf: a
 * cheap way to give each table or key class its own domain of hashes. */
uint64_t sip_hash24_tw(const struct sip_key *k, uint64_t tweak, const void *buf,
		       size_t len);

/* SipHash-1-3 (one compression round per word, three finalisation
 * rounds) of the tweak and buf, as sip_hash24_tw. */
uint64_t sip_hash13_tw(const struct sip_key *k, uint64_t tweak, const void *buf,
		       size_t len);

/* The per-process random key (getrandom() on first call; fatal if the
 * kernel cannot supply randomness). */
const struct sip_key *sip_key(void);

/* Keyed hash for tables with the process key, domain-separated by
 * tweak: sip_hash13_tw(sip_key(), tweak, buf, len). */
uint64_t sip_hash(uint64_t tweak, const void *buf, size_t len);

#endif
