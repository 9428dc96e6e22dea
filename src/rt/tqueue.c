/*
 * tqueue.c - binary min-heap on (due_ns, seq); see tqueue.h.
 *
 * A heap rather than a sorted list or a timer wheel: pushes arrive in nearly
 * any order (several outputs with different offsets, patterns, clock), the
 * queue stays small (hundreds), and both operations are O(log n) with no
 * pointer chasing.  The seq tie-break makes equal-time entries FIFO.
 */
#include "rt/tqueue.h"

#include <errno.h>
#include <stddef.h>

static int tq_before(const struct tqueue_entry *a, const struct tqueue_entry *b) RT_SAFE
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void tq_sift_up(struct tqueue *q, uint32_t i) RT_SAFE
{
	struct tqueue_entry e = q->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!tq_before(&e, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = e;
}

static void tq_sift_down(struct tqueue *q, uint32_t i) RT_SAFE
{
	struct tqueue_entry e = q->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && tq_before(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!tq_before(&q->heap[c], &e))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	q->heap[i] = e;
}

int tqueue_init(struct tqueue *q, struct tqueue_entry *storage, uint32_t cap)
{
	if (!q || !storage || cap == 0)
		return -EINVAL;
	q->heap = storage;
	q->cap = cap;
	q->n = 0;
	q->next_seq = 0;
	q->high_water = 0;
	q->failures = 0;
	return 0;
}

int tqueue_push(struct tqueue *q, int64_t due_ns, void *item) RT_SAFE
{
	if (q->n == q->cap) {
		q->failures++;
		return -ENOSPC;
	}
	q->heap[q->n] = (struct tqueue_entry){ .due_ns = due_ns, .seq = q->next_seq++, .item = item };
	tq_sift_up(q, q->n);
	if (++q->n > q->high_water)
		q->high_water = q->n;
	return 0;
}

int tqueue_peek(const struct tqueue *q, int64_t *due_ns, void **item) RT_SAFE
{
	if (q->n == 0)
		return -EAGAIN;
	if (due_ns)
		*due_ns = q->heap[0].due_ns;
	if (item)
		*item = q->heap[0].item;
	return 0;
}

int tqueue_pop(struct tqueue *q, int64_t *due_ns, void **item) RT_SAFE
{
	if (tqueue_peek(q, due_ns, item) < 0)
		return -EAGAIN;
	if (--q->n > 0) {
		q->heap[0] = q->heap[q->n];
		tq_sift_down(q, 0);
	}
	return 0;
}

int tqueue_pop_due(struct tqueue *q, int64_t limit_ns, int64_t *due_ns, void **item) RT_SAFE
{
	if (q->n == 0 || q->heap[0].due_ns > limit_ns)
		return -EAGAIN;
	return tqueue_pop(q, due_ns, item);
}

uint32_t tqueue_remove_if(struct tqueue *q, tqueue_pred_fn pred, void *ctx) RT_SAFE
{
	uint32_t kept = 0, removed;

	for (uint32_t i = 0; i < q->n; i++)
		if (!pred(q->heap[i].item, ctx))
			q->heap[kept++] = q->heap[i];
	removed = q->n - kept;
	q->n = kept;
	/* Floyd's heapify; seq numbers are untouched, so FIFO order among
	 * equal times survives the rebuild. */
	for (uint32_t i = q->n / 2; i-- > 0;)
		tq_sift_down(q, i);
	return removed;
}
