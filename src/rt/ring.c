/*
 * ring.c - SPSC ring of fixed-size records (see ring.h for the model).
 *
 * Why copies and not pointers: records are small (commands, log entries),
 * a copy keeps ownership trivial (nothing is shared after the push) and lets
 * the storage be a plain preallocated array.
 */
#include "rt/ring.h"

#include <errno.h>
#include <string.h>

int ring_init(struct ring *r, void *storage, uint32_t capacity, size_t rec_size)
{
	if (!r || !storage || rec_size == 0 || capacity < 2 || capacity > (1u << 30) ||
	    (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->drops, 0);
	r->mask = capacity - 1;
	r->rec_size = rec_size;
	r->buf = storage;
	return 0;
}

int ring_push(struct ring *r, const void *rec) RT_SAFE
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (head - tail > r->mask) {
		atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	memcpy(r->buf + (size_t)(head & r->mask) * r->rec_size, rec, r->rec_size);
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return 0;
}

int ring_pop(struct ring *r, void *rec) RT_SAFE
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (head == tail)
		return -EAGAIN;
	memcpy(rec, r->buf + (size_t)(tail & r->mask) * r->rec_size, r->rec_size);
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return 0;
}

uint32_t ring_count(struct ring *r) RT_SAFE
{
	/* tail first: head only grows, so head - tail can never go negative */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	return head - tail;
}

uint64_t ring_drops(struct ring *r) RT_SAFE
{
	return atomic_load_explicit(&r->drops, memory_order_relaxed);
}
