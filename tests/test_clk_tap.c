/*
 * Tap tempo: one test per rule of clk_tap.h, plus seeded human-like timing
 * jitter.  Virtual time: taps are just numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "clock/clk_tap.h"

#define MS INT64_C(1000000)
#define T0 (INT64_C(5000) * MS)

static struct clk_tap tap;

/* 60e15 / interval, rounded: the exact expected micro-BPM */
static int64_t bpm_of(int64_t iv_ns)
{
	return (INT64_C(60000000000000000) + iv_ns / 2) / iv_ns;
}

/* the same for the mean of k intervals summing to sum_ns */
static int64_t bpm_of_sum(int64_t sum_ns, int k)
{
	return (INT64_C(60000000000000000) * k + sum_ns / 2) / sum_ns;
}

/* Tap at each of n intervals of iv_ns after *t; returns the last result. */
static int tap_run(int64_t *t, int n, int64_t iv_ns, int64_t *bpm)
{
	int r = 0;

	for (int i = 0; i < n; i++) {
		*t += iv_ns;
		r = clk_tap_add(&tap, *t, bpm);
	}
	return r;
}

static void test_two_taps(void **state)
{
	int64_t bpm = -1;

	(void)state;
	clk_tap_init(&tap);
	assert_int_equal(clk_tap_add(&tap, T0, &bpm), 0);
	assert_int_equal(bpm, -1); /* untouched without an estimate */
	assert_int_equal(clk_tap_add(&tap, T0 + 500 * MS, &bpm), 1);
	assert_int_equal(bpm, 120000000);
	assert_int_equal(clk_tap_add(&tap, T0 + 1000 * MS, NULL), 1);
	assert_int_equal(tap.taps, 3);
	assert_int_equal(tap.sequences, 1);
}

/* The mean of the last 8 kept intervals, older ones forgotten. */
static void test_mean_of_last_eight(void **state)
{
	int64_t t = T0, bpm = 0;

	(void)state;
	clk_tap_init(&tap);
	clk_tap_add(&tap, t, &bpm);
	assert_int_equal(tap_run(&t, 2, 490 * MS, &bpm), 1);
	assert_int_equal(tap_run(&t, 1, 520 * MS, &bpm), 1);
	assert_int_equal(bpm, bpm_of(500 * MS)); /* (490 + 490 + 520) / 3 */
	tap_run(&t, 8, 600 * MS, &bpm);
	assert_int_equal(bpm, 100000000);
	tap_run(&t, 4, 500 * MS, &bpm); /* within 25 % of 600: kept */
	assert_int_equal(bpm, bpm_of(550 * MS));
	tap_run(&t, 4, 500 * MS, &bpm);
	assert_int_equal(bpm, 120000000);
	assert_int_equal(tap.iv_len, CLK_TAP_MAX_INTERVALS);
	assert_int_equal(tap.outliers, 0);
}

/* An interval more than 25 % from the median is not used; a late tap gives
 * one long and one short interval, neither used, and the two do not agree. */
static void test_outlier_rejected(void **state)
{
	int64_t t = T0, bpm = 0;

	(void)state;
	clk_tap_init(&tap);
	clk_tap_add(&tap, t, &bpm);
	tap_run(&t, 4, 500 * MS, &bpm);
	assert_int_equal(clk_tap_add(&tap, t + 630 * MS, &bpm), 1); /* +26 % */
	assert_int_equal(bpm, 120000000);
	assert_int_equal(tap.outliers, 1);
	assert_int_equal(clk_tap_add(&tap, t + 1000 * MS, &bpm), 1); /* 370 ms: -26 % */
	assert_int_equal(bpm, 120000000);
	assert_int_equal(tap.outliers, 2);
	t += 1000 * MS;
	assert_int_equal(tap_run(&t, 1, 620 * MS, &bpm), 1); /* +24 %: kept */
	assert_int_equal(bpm, bpm_of_sum((4 * 500 + 620) * MS, 5));
	assert_int_equal(tap.outliers, 2);
	assert_int_equal(tap.sequences, 1);
	/* judged against the median (500), not the extremes (400 .. 620) */
	tap_run(&t, 1, 400 * MS, &bpm);
	tap_run(&t, 1, 600 * MS, &bpm);
	assert_int_equal(bpm, bpm_of_sum((4 * 500 + 620 + 400 + 600) * MS, 7));
	assert_int_equal(tap.outliers, 2);
}

/* Two agreeing outliers in a row: a new tempo, taken at once. */
static void test_tempo_change(void **state)
{
	int64_t t = T0, bpm = 0;

	(void)state;
	clk_tap_init(&tap);
	clk_tap_add(&tap, t, &bpm);
	tap_run(&t, 6, 500 * MS, &bpm);
	assert_int_equal(tap_run(&t, 1, 660 * MS, &bpm), 1);
	assert_int_equal(bpm, 120000000); /* one outlier: not yet */
	tap_run(&t, 1, 500 * MS, &bpm);
	assert_int_equal(tap_run(&t, 1, 670 * MS, &bpm), 1);
	assert_int_equal(bpm, 120000000); /* outliers not in a row: no change */
	assert_int_equal(tap.sequences, 1);
	assert_int_equal(tap_run(&t, 1, 680 * MS, &bpm), 1);
	assert_int_equal(bpm, bpm_of(675 * MS)); /* from 670 and 680 */
	assert_int_equal(tap.iv_len, 2);
	assert_int_equal(tap.sequences, 2);
	/* and faster again */
	tap_run(&t, 2, 400 * MS, &bpm);
	assert_int_equal(bpm, 150000000);
}

/* A pause ends the sequence: longer than 2x the median, or than 3 s. */
static void test_pause_resets(void **state)
{
	int64_t t = T0, bpm = 0;

	(void)state;
	clk_tap_init(&tap);
	clk_tap_add(&tap, t, &bpm);
	tap_run(&t, 3, 500 * MS, &bpm);
	assert_int_equal(clk_tap_add(&tap, t + 1000 * MS, &bpm), 1); /* 2x: outlier only */
	t += 1000 * MS;
	assert_int_equal(tap.sequences, 1);
	bpm = -1;
	assert_int_equal(clk_tap_add(&tap, t + 1000 * MS + 1, &bpm), 0); /* > 2x: pause */
	assert_int_equal(bpm, -1);
	assert_int_equal(tap.sequences, 2);
	t += 1000 * MS + 1;
	assert_int_equal(tap_run(&t, 1, 400 * MS, &bpm), 1); /* a fresh start */
	assert_int_equal(bpm, 150000000);
	/* the absolute limit: the first interval of a sequence may be 3 s ... */
	clk_tap_init(&tap);
	clk_tap_add(&tap, T0, NULL);
	assert_int_equal(clk_tap_add(&tap, T0 + CLK_TAP_MAX_NS, &bpm), 1);
	assert_int_equal(bpm, 20000000);
	/* ... but not more */
	clk_tap_init(&tap);
	clk_tap_add(&tap, T0, NULL);
	assert_int_equal(clk_tap_add(&tap, T0 + CLK_TAP_MAX_NS + 1, &bpm), 0);
	assert_int_equal(tap.sequences, 2);
}

/* Faster than 999 BPM (a bouncing switch): ignored, measured from the tap
 * before; the 999 BPM limit itself is accepted. */
static void test_bounce_and_limits(void **state)
{
	int64_t bpm = 0;

	(void)state;
	clk_tap_init(&tap);
	clk_tap_add(&tap, T0, &bpm);
	assert_int_equal(clk_tap_add(&tap, T0 + 5 * MS, &bpm), -ERANGE);
	assert_int_equal(clk_tap_add(&tap, T0 + CLK_TAP_MIN_NS - 1, &bpm), -ERANGE);
	assert_int_equal(bpm, 0);
	assert_int_equal(clk_tap_add(&tap, T0 + 500 * MS, &bpm), 1);
	assert_int_equal(bpm, 120000000);
	assert_int_equal(tap.ignored, 2);
	clk_tap_init(&tap);
	clk_tap_add(&tap, T0, &bpm);
	assert_int_equal(clk_tap_add(&tap, T0 + CLK_TAP_MIN_NS, &bpm), 1);
	assert_int_equal(bpm, bpm_of(CLK_TAP_MIN_NS)); /* 998.999984 BPM */
	assert_true(bpm <= 999000000 && bpm > 998999900);
}

static void test_backwards_ignored(void **state)
{
	int64_t bpm = 0;

	(void)state;
	clk_tap_init(&tap);
	clk_tap_add(&tap, T0, &bpm);
	clk_tap_add(&tap, T0 + 500 * MS, &bpm);
	assert_int_equal(clk_tap_add(&tap, T0 + 500 * MS, &bpm), -EINVAL);
	assert_int_equal(clk_tap_add(&tap, T0, &bpm), -EINVAL);
	assert_int_equal(clk_tap_add(&tap, INT64_MIN, &bpm), -EINVAL);
	assert_int_equal(tap.ignored, 3);
	assert_int_equal(clk_tap_add(&tap, T0 + 1000 * MS, &bpm), 1);
	assert_int_equal(bpm, 120000000);
	clk_tap_reset(&tap);
	assert_int_equal(clk_tap_add(&tap, 0, &bpm), 0); /* forgotten: earlier is fine */
	assert_int_equal(tap.ignored, 3);
}

/* Human taps: +-20 ms uniform timing error at 120, 90 and 240 BPM.  The
 * mean of k intervals is (t_k - t_0) / k: its error is at most 40 ms / k. */
static void test_human_jitter(void **state)
{
	static const int64_t iv[] = { 500 * MS, 666666667, 250 * MS };
	uint64_t rng = 42;

	(void)state;
	for (unsigned c = 0; c < sizeof(iv) / sizeof(iv[0]); c++) {
		int64_t bpm = 0, want = bpm_of(iv[c]);
		double worst = 0.0;

		clk_tap_init(&tap);
		for (int k = 0; k < 40; k++) {
			int64_t e;

			rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
			e = (int64_t)(rng >> 33) % (40 * MS + 1) - 20 * MS;
			assert_int_equal(clk_tap_add(&tap, T0 + k * iv[c] + e, &bpm), k > 0);
			if (k >= 8) {
				double err = (double)llabs(bpm - want) / (double)want;

				if (err > worst)
					worst = err;
			}
		}
		print_message("# tap %.2f BPM, +-20 ms: worst tempo error after 8 taps %.2f %%; "
			      "outliers %llu\n", (double)want / 1e6, worst * 100.0,
			      (unsigned long long)tap.outliers);
		/* no outlier at this jitter, so the mean of the last 8 intervals
		 * is off by at most 40 ms / 8 */
		assert_int_equal(tap.outliers, 0);
		assert_true(worst <= 5.0 * MS / (double)(iv[c] - 5 * MS));
		assert_int_equal(tap.sequences, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_taps),
		cmocka_unit_test(test_mean_of_last_eight),
		cmocka_unit_test(test_outlier_rejected),
		cmocka_unit_test(test_tempo_change),
		cmocka_unit_test(test_pause_resets),
		cmocka_unit_test(test_bounce_and_limits),
		cmocka_unit_test(test_backwards_ignored),
		cmocka_unit_test(test_human_jitter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
