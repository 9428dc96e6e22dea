/* Timeline: exact tick times over 24 h, phase-continuous tempo changes
 * (immediate and pending), inverse mapping, grid helpers, BPM parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock/timeline.h"

#define BPM(x) ((int64_t)((x) * 1000000.0 + 0.5))

/* round(a / b) for a >= 0, b > 0, independent of the code under test */
static int64_t ref_round(__int128 a, __int128 b)
{
	return (int64_t)((2 * a + b) / (2 * b));
}

static void test_24_hours_at_120_every_tick_exact(void **state)
{
	struct timeline tl;
	const int64_t t0 = 123456789;
	int64_t k, n = 0, last = t0 - 1;

	(void)state;
	assert_int_equal(tl_init(&tl, t0, 0, BPM(120)), 0);
	/* 24 h * 2 beats/s * 24 ticks/beat */
	for (k = 0; tl_time_at(&tl, k * TL_UNITS_PER_TICK) < t0 + INT64_C(86400000000000); k++) {
		int64_t t = tl_time_at(&tl, k * TL_UNITS_PER_TICK);
		/* tick period at 120 BPM is 62.5e6 / 3 ns */
		if (t != t0 + ref_round((__int128)k * 62500000, 3))
			fail_msg("tick %lld at %lld, expected %lld", (long long)k, (long long)t,
				 (long long)(t0 + ref_round((__int128)k * 62500000, 3)));
		assert_true(t > last);
		last = t;
		n++;
	}
	assert_int_equal(n, 4147200);
}

static void test_tempo_change_is_phase_continuous(void **state)
{
	struct timeline tl;
	int64_t p = 7 * TL_UNITS_PER_BEAT + 12345; /* an arbitrary position, not on a tick */
	int64_t tp, after;

	(void)state;
	tl_init(&tl, 0, 0, BPM(120));
	tp = tl_time_at(&tl, p);
	assert_int_equal(tl_set_tempo_at(&tl, p, BPM(174.5)), 0);
	assert_int_equal(tl_time_at(&tl, p), tp); /* the change point does not move */
	/* before it: untouched */
	assert_int_equal(tl_time_at(&tl, 3 * TL_UNITS_PER_BEAT), 1500000000);
	/* after it: the new tempo, measured from the change point */
	after = tl_time_at(&tl, p + 10 * TL_UNITS_PER_BEAT);
	assert_int_equal(after - tp, ref_round((__int128)10 * 60000000000 * 1000000, BPM(174.5)));
	tl_commit(&tl, p);
	assert_false(tl.pending);
	assert_int_equal(tl_time_at(&tl, p), tp);
	assert_int_equal(tl_time_at(&tl, p + 10 * TL_UNITS_PER_BEAT), after);
	assert_int_equal(tl_bpm_at(&tl, p), BPM(174.5));
}

/* Many tempo changes at odd places: every tick interval is one of the two
 * tempos' periods (to the ns) or a split interval - never a jump. */
static void test_many_changes_no_jumps(void **state)
{
	struct timeline tl;
	int64_t bpm[] = { BPM(120), BPM(60.001), BPM(999), BPM(20), BPM(133.333), BPM(87.25) };
	int64_t prev_t, pos = 0;
	unsigned seed = 7;

	(void)state;
	tl_init(&tl, 1000, 0, bpm[0]);
	prev_t = tl_time_at(&tl, 0);
	for (int i = 0; i < 20000; i++) {
		int64_t t;
		pos += TL_UNITS_PER_TICK;
		if (i % 97 == 50) {
			seed = seed * 1103515245u + 12345u;
			int64_t at = pos - TL_UNITS_PER_TICK + (int64_t)(seed % TL_UNITS_PER_TICK);
			tl_reanchor(&tl, pos - TL_UNITS_PER_TICK);
			assert_int_equal(tl_set_tempo_at(&tl, at, bpm[(seed >> 8) % 6]), 0);
		}
		t = tl_time_at(&tl, pos);
		/* interval within the slowest and fastest tick period (+1 ns rounding) */
		assert_true(t - prev_t >= 2502502 - 1 && t - prev_t <= 125000000 + 1);
		prev_t = t;
		tl_commit(&tl, pos);
	}
}

static void test_pending_change_replaced_and_range(void **state)
{
	struct timeline tl;
	int64_t bar = 4 * TL_UNITS_PER_BEAT;

	(void)state;
	tl_init(&tl, 0, 0, BPM(100));
	assert_int_equal(tl_set_tempo_at(&tl, bar, BPM(150)), 0);
	assert_int_equal(tl_set_tempo_at(&tl, bar, BPM(90)), 0); /* replaces */
	assert_int_equal(tl_bpm_at(&tl, bar + 1), BPM(90));
	assert_int_equal(tl_bpm_at(&tl, bar - 1), BPM(100));
	assert_int_equal(tl_set_tempo_at(&tl, bar, BPM(19.999)), -ERANGE);
	assert_int_equal(tl_set_tempo_at(&tl, bar, BPM(999.001)), -ERANGE);
	assert_int_equal(tl_bpm_at(&tl, bar + 1), BPM(90)); /* unchanged by the refusals */
	assert_int_equal(tl_init(&tl, 0, 0, 0), -ERANGE);
}

static void test_pos_at_inverts_time_at(void **state)
{
	struct timeline tl;

	(void)state;
	tl_init(&tl, 5000, 100, BPM(137.77));
	tl_set_tempo_at(&tl, 3 * TL_UNITS_PER_BEAT, BPM(71));
	for (int64_t t = 0; t < INT64_C(5000000000); t += 999983) {
		int64_t p = tl_pos_at(&tl, t);
		assert_true(tl_time_at(&tl, p) <= t);      /* at or before */
		assert_true(tl_time_at(&tl, p + 1) > t);   /* and the last such */
		assert_true(tl_pos_at(&tl, t + 1) >= p);   /* monotone */
		assert_true(tl_pos_at(&tl, tl_time_at(&tl, p)) >= p); /* exact inverse */
	}
}

static void test_grid_helpers(void **state)
{
	(void)state;
	assert_int_equal(tl_grid_ceil(11, 1, 10), 11);
	assert_int_equal(tl_grid_ceil(12, 1, 10), 21);
	assert_int_equal(tl_grid_ceil(-5, 1, 10), 1);
	assert_int_equal(tl_grid_ceil(-9, 1, 10), -9);
	assert_int_equal(tl_grid_ceil(-10, 1, 10), -9);
	assert_int_equal(tl_grid_floor(-10, 1, 10), -19);
	assert_int_equal(tl_grid_floor(20, 1, 10), 11);
	assert_int_equal(tl_floor_div(-1, 3), -1);
	assert_int_equal(tl_floor_div(-3, 3), -1);
	assert_int_equal(tl_floor_div(4, 3), 1);
}

static void test_parse_bpm(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(tl_parse_bpm("120", &v), 0);
	assert_int_equal(v, 120000000);
	assert_int_equal(tl_parse_bpm("121.5", &v), 0);
	assert_int_equal(v, 121500000);
	assert_int_equal(tl_parse_bpm("20.000001", &v), 0);
	assert_int_equal(v, 20000001);
	assert_int_equal(tl_parse_bpm("999", &v), 0);
	assert_int_equal(tl_parse_bpm("19.999999", &v), -ERANGE);
	assert_int_equal(tl_parse_bpm("1000", &v), -ERANGE);
	assert_int_equal(tl_parse_bpm("99999999", &v), -ERANGE);
	assert_int_equal(tl_parse_bpm("", &v), -EINVAL);
	assert_int_equal(tl_parse_bpm(".5", &v), -EINVAL);
	assert_int_equal(tl_parse_bpm("120.", &v), -EINVAL);
	assert_int_equal(tl_parse_bpm("12a", &v), -EINVAL);
	assert_int_equal(tl_parse_bpm("-120", &v), -EINVAL);
	assert_int_equal(tl_parse_bpm("120.1234567", &v), -EINVAL);
	assert_int_equal(v, 999000000); /* untouched by failures */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_24_hours_at_120_every_tick_exact),
		cmocka_unit_test(test_tempo_change_is_phase_continuous),
		cmocka_unit_test(test_many_changes_no_jumps),
		cmocka_unit_test(test_pending_change_replaced_and_range),
		cmocka_unit_test(test_pos_at_inverts_time_at),
		cmocka_unit_test(test_grid_helpers),
		cmocka_unit_test(test_parse_bpm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
