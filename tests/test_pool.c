/* Fixed pool: O(1) get/put, counters, exhaustion, poisoning. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rt/pool.h"

struct obj {
	uint64_t a, b;
	uint8_t c;
};

static void test_init_validation(void **state)
{
	struct pool p;
	void *mem[16];

	(void)state;
	assert_int_equal(pool_init(&p, NULL, 8, 4), -EINVAL);
	assert_int_equal(pool_init(&p, mem, 0, 4), -EINVAL);
	assert_int_equal(pool_init(&p, mem, 8, 0), -EINVAL);
	assert_int_equal(pool_init(&p, (char *)mem + 1, 8, 4), -EINVAL);
	assert_int_equal(pool_init(&p, mem, 8, 4), 0);
}

static void test_exhaustion_and_counters(void **state)
{
	enum { CAP = 5 };
	struct pool p;
	void *mem[POOL_STORAGE_SIZE(CAP, sizeof(struct obj)) / sizeof(void *)];
	struct obj *o[CAP];

	(void)state;
	assert_int_equal(pool_init(&p, mem, sizeof(struct obj), CAP), 0);
	for (int i = 0; i < CAP; i++) {
		o[i] = pool_get(&p);
		assert_non_null(o[i]);
		assert_true(pool_contains(&p, o[i]));
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(o[i], o[j]);
		o[i]->a = (uint64_t)i; /* usable memory */
		o[i]->c = 0xff;
	}
	assert_int_equal(p.in_use, CAP);
	assert_null(pool_get(&p));
	assert_null(pool_get(&p));
	assert_int_equal(p.failures, 2);
	pool_put(&p, o[2]);
	pool_put(&p, o[4]);
	assert_int_equal(p.in_use, CAP - 2);
	assert_int_equal(p.high_water, CAP);
	assert_ptr_equal(pool_get(&p), o[4]); /* LIFO reuse: cache-warm */
	assert_ptr_equal(pool_get(&p), o[2]);
	pool_put(&p, NULL); /* ignored */
	assert_int_equal(p.in_use, CAP);
}

static void test_foreign_pointer_not_contained(void **state)
{
	struct pool p;
	void *mem[8];
	int x = 0;

	(void)state;
	assert_int_equal(pool_init(&p, mem, sizeof(void *), 8), 0);
	assert_false(pool_contains(&p, &x));
	assert_false(pool_contains(&p, (char *)mem + 1)); /* inside, misaligned */
	assert_true(pool_contains(&p, &mem[3]));
}

#ifndef NDEBUG
static void test_debug_poison(void **state)
{
	struct pool p;
	void *mem[POOL_STORAGE_SIZE(2, 32) / sizeof(void *)];
	unsigned char *o;

	(void)state;
	assert_int_equal(pool_init(&p, mem, 32, 2), 0);
	o = pool_get(&p);
	for (int i = 0; i < 32; i++)
		assert_int_equal(o[i], 0xA5);
	pool_put(&p, o);
	for (int i = (int)sizeof(void *); i < 32; i++)
		assert_int_equal(o[i], 0x5A);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_validation),
		cmocka_unit_test(test_exhaustion_and_counters),
		cmocka_unit_test(test_foreign_pointer_not_contained),
#ifndef NDEBUG
		cmocka_unit_test(test_debug_poison),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
