/*
 * ring.h - single-producer single-consumer ring of fixed-size records.
 *
 * The only channel between threads (control -> engine commands, engine ->
 * control notifications, RT log).  Lock-free and wait-free: the producer
 * owns `head`, the consumer owns `tail`, each publishes with a release store
 * and reads the other's index with an acquire load, so a record's bytes are
 * visible before its index is.  Indices are free-running 32-bit counters;
 * capacity is a power of two so that `index & mask` is the slot.
 */
#ifndef PS_RT_RING_H
#define PS_RT_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

#define RING_CACHELINE 64

struct ring {
	alignas(RING_CACHELINE) _Atomic uint32_t head; /* next slot to write; producer-owned */
	alignas(RING_CACHELINE) _Atomic uint32_t tail; /* next slot to read; consumer-owned */
	alignas(RING_CACHELINE) uint32_t mask;          /* capacity - 1, in records */
	size_t rec_size;                                /* bytes per record */
	unsigned char *buf;                             /* caller-owned, capacity * rec_size bytes */
	_Atomic uint64_t drops;                         /* pushes refused because full */
};

/*
 * ring_init - set up a ring over caller-owned storage of
 * capacity * rec_size bytes.  Returns 0, or -EINVAL when capacity is not a
 * power of two in 2..2^30, rec_size is 0 or storage is NULL.
 * Context: non-RT, before either side uses the ring.
 */
int ring_init(struct ring *r, void *storage, uint32_t capacity, size_t rec_size);

/*
 * ring_push - copy one record in.  Returns 0, or -ENOSPC when full (the
 * record is dropped and counted in `drops`).
 * Context: RT; producer thread only.
 */
int ring_push(struct ring *r, const void *rec) RT_SAFE;

/*
 * ring_pop - copy the oldest record out.  Returns 0, or -EAGAIN when empty.
 * Context: RT; consumer thread only.
 */
int ring_pop(struct ring *r, void *rec) RT_SAFE;

/*
 * ring_count - records currently queued (a snapshot).
 * Context: any thread.
 */
uint32_t ring_count(struct ring *r) RT_SAFE;

/*
 * ring_drops - records refused so far because the ring was full.
 * Context: any thread.
 */
uint64_t ring_drops(struct ring *r) RT_SAFE;

#endif
