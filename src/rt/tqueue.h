/*
 * tqueue.h - fixed-capacity timed queue: a binary min-heap keyed on an
 * int64_t due time (ns), stable for equal times.
 *
 * Stability matters musically: a Note Off and a Note On for the same key at
 * the same instant must leave in the order they were scheduled, or the note
 * is cut.  Each entry carries an insertion sequence number as a tie-break, so
 * the heap order is (due_ns, seq) - a total order, hence FIFO among equals.
 * Entries are (due, seq, payload pointer); the payload usually lives in a
 * pool.  One owning thread, no locks, no allocation.
 */
#ifndef PS_RT_TQUEUE_H
#define PS_RT_TQUEUE_H

#include <stdint.h>

#include "rt/rt.h"

struct tqueue_entry {
	int64_t due_ns; /* when, CLOCK_MONOTONIC ns (or virtual ns) */
	uint64_t seq;   /* insertion order, tie-break for equal due_ns */
	void *item;     /* caller's payload; not owned */
};

struct tqueue {
	struct tqueue_entry *heap; /* caller-owned array of cap entries */
	uint32_t cap;              /* entries the storage holds */
	uint32_t n;                /* entries queued */
	uint64_t next_seq;         /* seq of the next push */
	uint32_t high_water;       /* most entries ever queued at once */
	uint64_t failures;         /* pushes refused because full */
};

/*
 * tqueue_init - empty queue over caller-owned storage of `cap` entries.
 * Returns 0 or -EINVAL (NULL storage, cap 0).
 * Context: non-RT, before use.
 */
int tqueue_init(struct tqueue *q, struct tqueue_entry *storage, uint32_t cap);

/*
 * tqueue_push - schedule `item` at `due_ns`.  O(log n).  Returns 0, or
 * -ENOSPC when full (counted in `failures`, nothing queued).
 * Context: RT; owning thread.
 */
int tqueue_push(struct tqueue *q, int64_t due_ns, void *item) RT_SAFE;

/*
 * tqueue_peek - earliest entry without removing it: returns 0 and fills
 * *due_ns and *item, or -EAGAIN when empty.  Either out pointer may be NULL.
 * Context: RT; owning thread.
 */
int tqueue_peek(const struct tqueue *q, int64_t *due_ns, void **item) RT_SAFE;

/*
 * tqueue_pop - remove the earliest entry (FIFO among equal due times).
 * Returns 0 and fills the out pointers (may be NULL), or -EAGAIN when empty.
 * O(log n).
 * Context: RT; owning thread.
 */
int tqueue_pop(struct tqueue *q, int64_t *due_ns, void **item) RT_SAFE;

/*
 * tqueue_pop_due - pop the earliest entry only if due_ns <= limit_ns.
 * Returns 0 with the entry, or -EAGAIN (empty, or nothing due yet).
 * Context: RT; owning thread.
 */
int tqueue_pop_due(struct tqueue *q, int64_t limit_ns, int64_t *due_ns, void **item) RT_SAFE;

/*
 * tqueue_remove_if - remove every entry whose item satisfies pred(item, ctx),
 * calling pred once per entry; relative order of the rest is kept.  O(n).
 * Returns the number removed.  pred must be RT_SAFE.
 * Context: RT; owning thread.
 */
typedef int (*tqueue_pred_fn)(void *item, void *ctx) RT_SAFE;
uint32_t tqueue_remove_if(struct tqueue *q, tqueue_pred_fn pred, void *ctx) RT_SAFE;

#endif
