/* SPSC ring: single-thread semantics (order, full/empty, drops, wrap). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rt/ring.h"

struct rec {
	uint32_t seq;
	uint32_t pad[3];
};

static void test_init_rejects_bad_capacity(void **state)
{
	struct ring r;
	struct rec buf[8];

	(void)state;
	assert_int_equal(ring_init(&r, buf, 0, sizeof(struct rec)), -EINVAL);
	assert_int_equal(ring_init(&r, buf, 1, sizeof(struct rec)), -EINVAL);
	assert_int_equal(ring_init(&r, buf, 6, sizeof(struct rec)), -EINVAL);
	assert_int_equal(ring_init(&r, NULL, 8, sizeof(struct rec)), -EINVAL);
	assert_int_equal(ring_init(&r, buf, 8, 0), -EINVAL);
	assert_int_equal(ring_init(&r, buf, 8, sizeof(struct rec)), 0);
}

static void test_fifo_order_full_and_empty(void **state)
{
	struct ring r;
	struct rec buf[4], in, out;

	(void)state;
	assert_int_equal(ring_init(&r, buf, 4, sizeof(struct rec)), 0);
	assert_int_equal(ring_pop(&r, &out), -EAGAIN);
	for (uint32_t i = 0; i < 4; i++) {
		in = (struct rec){ .seq = i, .pad = { i * 3, i * 5, i * 7 } };
		assert_int_equal(ring_push(&r, &in), 0);
	}
	assert_int_equal(ring_count(&r), 4);
	in.seq = 99;
	assert_int_equal(ring_push(&r, &in), -ENOSPC);
	assert_int_equal(ring_drops(&r), 1);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(ring_pop(&r, &out), 0);
		assert_int_equal(out.seq, i);
		assert_int_equal(out.pad[2], i * 7);
	}
	assert_int_equal(ring_pop(&r, &out), -EAGAIN);
	assert_int_equal(ring_count(&r), 0);
}

/* Indices are free-running uint32: start near the wrap and cross it. */
static void test_index_wraparound(void **state)
{
	struct ring r;
	struct rec buf[8], in, out;
	uint32_t next_pop = 0;

	(void)state;
	assert_int_equal(ring_init(&r, buf, 8, sizeof(struct rec)), 0);
	atomic_store(&r.head, UINT32_MAX - 5);
	atomic_store(&r.tail, UINT32_MAX - 5);
	for (uint32_t i = 0; i < 100; i++) {
		in.seq = i;
		assert_int_equal(ring_push(&r, &in), 0);
		if (i % 3 == 2) {
			while (ring_pop(&r, &out) == 0)
				assert_int_equal(out.seq, next_pop++);
		}
	}
	while (ring_pop(&r, &out) == 0)
		assert_int_equal(out.seq, next_pop++);
	assert_int_equal(next_pop, 100);
	assert_int_equal(ring_drops(&r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_capacity),
		cmocka_unit_test(test_fifo_order_full_and_empty),
		cmocka_unit_test(test_index_wraparound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
