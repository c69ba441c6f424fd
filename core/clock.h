/* SPDX-License-Identifier: ISC */
/*
 * floodgate - time. Rate limiting uses the monotonic clock; anything
 * stored or shown uses wall-clock unix milliseconds. Tests may freeze and
 * move both with clock_fake_*().
 */
#ifndef FG_CLOCK_H
#define FG_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ns(void);
int64_t  clock_wall_ms(void);

/* Test hooks: once set, both clocks read the fake values. */
void clock_fake_set(uint64_t mono_ns, int64_t wall_ms);
void clock_fake_advance_ms(int64_t ms);
void clock_fake_off(void);

#endif
