/*
 * Engine loop on the virtual time source: RT-path test, also run in the
 * RTSan build (no mocks here: cmocka's expectation machinery allocates).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock/timesrc_virtual.h"
#include "engine/engine.h"

#define P ENGINE_IDLE_PERIOD_NS

static struct engine eng; /* large: static */

static void test_unknown_command_logged(void **state)
{
	struct timesrc_virtual ts;
	struct engine_cmd bad = { .type = 999 };
	struct rtlog_rec rec;

	(void)state;
	timesrc_virtual_init(&ts, 0);
	engine_init(&eng, &ts.base, NULL, NULL);
	engine_post(&eng, &bad);
	assert_int_equal(engine_step(&eng), 0);
	assert_int_equal(ring_pop(&eng.log.ring, &rec), 0);
	assert_int_equal(rec.arg[0], 999);
}

/* Virtual time runs the loop for an hour of heartbeats instantly. */
static void test_virtual_hour(void **state)
{
	struct timesrc_virtual ts;
	uint64_t n = 3600 * (TIMESRC_NS_PER_SEC / P);

	(void)state;
	timesrc_virtual_init(&ts, 0);
	engine_init(&eng, &ts.base, NULL, NULL);
	for (uint64_t i = 0; i < n; i++)
		engine_step(&eng);
	assert_int_equal(ts.now_ns, 3600 * TIMESRC_NS_PER_SEC);
	assert_int_equal(atomic_load(&eng.stats.lateness_max_ns), 0);
	assert_int_equal(engine_lateness_bucket(0), 0);
	assert_int_equal(engine_lateness_bucket(999), 0);
	assert_int_equal(engine_lateness_bucket(1000), 1);
	assert_int_equal(engine_lateness_bucket(INT64_MAX), ENGINE_LAT_BUCKETS - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_command_logged),
		cmocka_unit_test(test_virtual_hour),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
