/* Timed queue: min order, FIFO among equal times, capacity, remove_if,
 * and a randomised comparison with a stable sort. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rt/tqueue.h"

static void test_orders_by_time(void **state)
{
	struct tqueue_entry st[8];
	struct tqueue q;
	int64_t due;
	void *item;
	static const int64_t t[] = { 50, 10, 40, 20, 30 };

	(void)state;
	assert_int_equal(tqueue_init(&q, st, 8), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(tqueue_push(&q, t[i], (void *)(intptr_t)t[i]), 0);
	assert_int_equal(tqueue_peek(&q, &due, NULL), 0);
	assert_int_equal(due, 10);
	for (int64_t expect = 10; expect <= 50; expect += 10) {
		assert_int_equal(tqueue_pop(&q, &due, &item), 0);
		assert_int_equal(due, expect);
		assert_int_equal((intptr_t)item, expect);
	}
	assert_int_equal(tqueue_pop(&q, NULL, NULL), -EAGAIN);
}

/* Note-off then note-on at the same instant must leave in that order. */
static void test_stable_for_equal_times(void **state)
{
	struct tqueue_entry st[64];
	struct tqueue q;
	void *item;

	(void)state;
	tqueue_init(&q, st, 64);
	for (intptr_t i = 0; i < 40; i++)
		tqueue_push(&q, (i % 2) ? 100 : 200, (void *)i);
	for (intptr_t expect = 1; expect < 40; expect += 2) {
		tqueue_pop(&q, NULL, &item);
		assert_int_equal((intptr_t)item, expect);
	}
	for (intptr_t expect = 0; expect < 40; expect += 2) {
		tqueue_pop(&q, NULL, &item);
		assert_int_equal((intptr_t)item, expect);
	}
}

static void test_full_and_pop_due(void **state)
{
	struct tqueue_entry st[3];
	struct tqueue q;
	int64_t due;

	(void)state;
	tqueue_init(&q, st, 3);
	assert_int_equal(tqueue_push(&q, 30, NULL), 0);
	assert_int_equal(tqueue_push(&q, 10, NULL), 0);
	assert_int_equal(tqueue_push(&q, 20, NULL), 0);
	assert_int_equal(tqueue_push(&q, 5, NULL), -ENOSPC);
	assert_int_equal(q.failures, 1);
	assert_int_equal(q.high_water, 3);
	assert_int_equal(tqueue_pop_due(&q, 9, &due, NULL), -EAGAIN);
	assert_int_equal(tqueue_pop_due(&q, 10, &due, NULL), 0);
	assert_int_equal(due, 10);
	assert_int_equal(tqueue_pop_due(&q, 25, &due, NULL), 0);
	assert_int_equal(due, 20);
	assert_int_equal(tqueue_pop_due(&q, 25, &due, NULL), -EAGAIN);
}

static int is_odd(void *item, void *ctx) RT_SAFE
{
	(void)ctx;
	return (intptr_t)item % 2;
}

static void test_remove_if_keeps_order(void **state)
{
	struct tqueue_entry st[64];
	struct tqueue q;
	void *item;
	int64_t due, last_due = -1;
	intptr_t last_item = -1;

	(void)state;
	tqueue_init(&q, st, 64);
	for (intptr_t i = 0; i < 50; i++)
		tqueue_push(&q, (i * 7) % 5, (void *)i);
	assert_int_equal(tqueue_remove_if(&q, is_odd, NULL), 25);
	assert_int_equal(q.n, 25);
	while (tqueue_pop(&q, &due, &item) == 0) {
		assert_int_equal((intptr_t)item % 2, 0);
		if (due == last_due)
			assert_true((intptr_t)item > last_item); /* FIFO kept */
		assert_true(due >= last_due);
		last_due = due;
		last_item = (intptr_t)item;
	}
}

struct ref {
	int64_t due;
	intptr_t id;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Interleaved pushes and pops against a reference stable order. */
static void test_random_against_reference(void **state)
{
	enum { N = 2000 };
	static struct tqueue_entry st[N];
	static struct ref ref[N];
	struct tqueue q;
	unsigned seed = 12345;
	int nref = 0;
	intptr_t id = 0;
	int64_t due;
	void *item;

	(void)state;
	tqueue_init(&q, st, N);
	for (int round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 3 != 0 && nref < N) {
			int64_t d = (int64_t)((seed >> 8) % 50);
			assert_int_equal(tqueue_push(&q, d, (void *)id), 0);
			ref[nref++] = (struct ref){ d, id++ };
		} else if (nref > 0) {
			qsort(ref, (size_t)nref, sizeof(ref[0]), ref_cmp);
			assert_int_equal(tqueue_pop(&q, &due, &item), 0);
			assert_int_equal(due, ref[0].due);
			assert_int_equal((intptr_t)item, ref[0].id);
			ref[0] = ref[--nref];
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders_by_time),
		cmocka_unit_test(test_stable_for_equal_times),
		cmocka_unit_test(test_full_and_pop_due),
		cmocka_unit_test(test_remove_if_keeps_order),
		cmocka_unit_test(test_random_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
