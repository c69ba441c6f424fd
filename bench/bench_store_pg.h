/* SPDX-License-Identifier: ISC */
/*
 * floodgate - bench_store against PostgreSQL (bench_store -P): the same
 * events through the PostgreSQL store, and one autocommit statement per
 * row through plain libpq as the baseline, on a throwaway cluster.
 */
#ifndef FG_BENCH_STORE_PG_H
#define FG_BENCH_STORE_PG_H

#include <stddef.h>

#include "storage/store.h"

/* The event generator of bench_store.c. */
void bench_event(size_t i, struct store_subject *, struct store_audit *);

/* Start the cluster (exit 77 when PostgreSQL is not installed). */
void bench_pg_start(void);
void bench_pg_stop(void);
/* Rows/s through store_queue_* and store_flush every batch events, the
 * event loop running between flushes as in the daemon. */
double bench_pg_batched(size_t events, size_t batch, double *flush_ms,
			double *cpu_rate);
/* Rows/s with one INSERT .. ON CONFLICT or INSERT per row, autocommit. */
double bench_pg_baseline(size_t events, double *cpu_rate);

#endif
