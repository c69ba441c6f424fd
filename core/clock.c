/* SPDX-License-Identifier: ISC */
/*
 * floodgate - monotonic and wall clocks, with a fake for tests.
 */
#include <time.h>

#include "clock.h"

static int      fake_on;
static uint64_t fake_mono;
static int64_t  fake_wall;

uint64_t
clock_mono_ns(void)
{
	struct timespec ts;

	if (fake_on)
		return fake_mono;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	if (fake_on)
		return fake_wall;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
clock_fake_set(uint64_t mono_ns, int64_t wall_ms)
{
	fake_on = 1;
	fake_mono = mono_ns;
	fake_wall = wall_ms;
}

void
clock_fake_advance_ms(int64_t ms)
{
	fake_mono += (uint64_t)(ms * 1000000);
	fake_wall += ms;
}

void
clock_fake_off(void)
{
	fake_on = 0;
}
