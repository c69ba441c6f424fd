/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the store's write-behind queue (internal to storage/).
 *
 * Rows are copied in (each entry and its strings in one allocation) and
 * kept until the store writes them. A subject queued twice collapses to
 * its latest state; audit and registration rows are appended in order.
 */
#ifndef FG_STORE_QUEUE_H
#define FG_STORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_q;

struct store_q *store_q_new(void);
void            store_q_free(struct store_q *);
/* 0 if queued, -1 if dropped because the queue is full. */
int store_q_subject(struct store_q *, const struct store_subject *);
int store_q_audit(struct store_q *, const struct store_audit *);
int store_q_registration(struct store_q *, const struct store_registration *);
size_t store_q_len(const struct store_q *);
/* Drop everything queued (after a successful write). */
void store_q_clear(struct store_q *);
/* Move the oldest max rows (subjects first, then audit rows, then
 * registrations) into out, which must be empty; the rest stay queued in
 * order. For a backend that writes a long queue in bounded pieces.
 * Returns the rows moved. */
size_t store_q_take(struct store_q *, size_t max, struct store_q *out);

/* Borrowed views of the queued rows, in queue order. */
size_t                      store_q_nsubjects(const struct store_q *);
const struct store_subject *store_q_subject_at(const struct store_q *, size_t);
size_t                      store_q_naudit(const struct store_q *);
const struct store_audit   *store_q_audit_at(const struct store_q *, size_t);
size_t                      store_q_nregs(const struct store_q *);
const struct store_registration *store_q_reg_at(const struct store_q *, size_t);

#endif
