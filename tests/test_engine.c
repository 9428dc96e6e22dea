/*
 * Engine loop in virtual time: waits on absolute deadlines of the anchor
 * grid (no drift, no catch-up burst after a late wake), runs commands,
 * quits promptly, records lateness.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "mock_timesrc.h"

#define P ENGINE_IDLE_PERIOD_NS

static struct engine eng; /* large: static */

static void expect_wait(int64_t deadline, int64_t ends_at)
{
	expect_value(mock_timesrc_wait, deadline_ns, deadline);
	will_return(mock_timesrc_wait, ends_at);
}

static void test_requires_time_source(void **state)
{
	(void)state;
	assert_int_equal(engine_init(&eng, NULL, NULL, NULL), -EINVAL);
}

static void test_absolute_deadlines_no_drift(void **state)
{
	struct mock_timesrc ts;

	(void)state;
	mock_timesrc_init(&ts, 1000);
	assert_int_equal(engine_init(&eng, &ts.base, NULL, NULL), 0);
	expect_wait(1000 + P, 1000 + P + 300);   /* 300 ns late */
	expect_wait(1000 + 2 * P, 1000 + 2 * P); /* still on the grid */
	expect_wait(1000 + 3 * P, 1000 + 5 * P + 7); /* very late: skipped 2 */
	expect_wait(1000 + 6 * P, 1000 + 6 * P);     /* resync, no burst */
	for (int i = 0; i < 4; i++)
		assert_int_equal(engine_step(&eng), 0);
	assert_int_equal(atomic_load(&eng.stats.iterations), 4);
	assert_int_equal(atomic_load(&eng.stats.deadlines), 4);
	assert_int_equal(atomic_load(&eng.stats.lateness_max_ns), 2 * P + 7);
	assert_int_equal(atomic_load(&eng.stats.lateness_hist[0]), 3); /* < 1 us */
}

static void test_command_wakes_and_quits(void **state)
{
	struct mock_timesrc ts;
	struct engine_cmd nop = { .type = ENGINE_CMD_NOP }, quit = { .type = ENGINE_CMD_QUIT };

	(void)state;
	mock_timesrc_init(&ts, 0);
	engine_init(&eng, &ts.base, NULL, NULL);
	assert_int_equal(engine_post(&eng, &nop), 0);
	assert_int_equal(engine_post(&eng, &quit), 0);
	assert_int_equal(ts.wakes, 2);
	expect_wait(P, 5); /* woken early by the commands */
	assert_int_equal(engine_step(&eng), 1);
	assert_int_equal(atomic_load(&eng.stats.commands), 2);
	assert_int_equal(atomic_load(&eng.stats.deadlines), 0); /* early wake is not a deadline */
}

static void test_early_wake_keeps_deadline(void **state)
{
	struct mock_timesrc ts;

	(void)state;
	mock_timesrc_init(&ts, 0);
	engine_init(&eng, &ts.base, NULL, NULL);
	expect_wait(P, P / 2); /* woken (e.g. input) before the deadline */
	expect_wait(P, P);     /* waits again for the same deadline */
	expect_wait(2 * P, 2 * P);
	for (int i = 0; i < 3; i++)
		engine_step(&eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requires_time_source),
		cmocka_unit_test(test_absolute_deadlines_no_drift),
		cmocka_unit_test(test_command_wakes_and_quits),
		cmocka_unit_test(test_early_wake_keeps_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
