/*
 * External clock follower in virtual time: synthetic receive timestamps
 * (ideal grid + seeded uniform or near-Gaussian jitter) are fed tick by
 * tick; nothing sleeps, nothing reads a clock.  Each scenario prints what it
 * measured as TAP comments ("# ...") so the figures appear in the meson log
 * (docs/adr/0004-clock-follower.md quotes them).
 *
 * "Output jitter" is what the engine will transmit: tick n is scheduled at
 * clk_follow_predict_ns(n) made after feeding ticks up to n-1; its error is
 * measured against the ideal (jitter-free) grid.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "clock/clk_follow.h"

#define T0_NS INT64_C(1000000000000) /* arbitrary start: 1000 s of uptime */
#define JIT_NS 1000000.0             /* +-1 ms uniform input jitter */

static struct clk_follow f; /* ~32 KiB: static */

/* splitmix64: small, seedable, good enough for jitter */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double rng_uniform(void)
{
	return (double)(rng_next() >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* near-Gaussian, std dev 1 (Irwin-Hall: sum of 12 uniforms in [0,1) - 6) */
static double rng_gauss(void)
{
	double a = 0.0;

	for (int i = 0; i < 12; i++)
		a += (rng_uniform() + 1.0) / 2.0;
	return a - 6.0;
}

static double period_of(double bpm)
{
	return 60e9 / (bpm * CLK_FOLLOW_PPQN);
}

static int64_t to_ns(double t)
{
	return (int64_t)llround(t);
}

static void init_default(void)
{
	assert_int_equal(clk_follow_init(&f, NULL), 0);
}

static double rel_tempo_err(double bpm)
{
	return fabs((double)clk_follow_bpm_micro(&f) / 1e6 - bpm) / bpm;
}

/* ---- configuration ------------------------------------------------------ */

static void test_cfg(void **state)
{
	struct clk_follow_cfg c, bad;

	(void)state;
	clk_follow_cfg_defaults(&c);
	assert_int_equal(c.loss_periods, 2);
	assert_int_equal(clk_follow_init(&f, &c), 0);
	assert_int_equal(clk_follow_init(NULL, &c), -EINVAL);
#define BAD(field, value)                                                   \
	do {                                                                \
		bad = c;                                                    \
		bad.field = value;                                          \
		assert_int_equal(clk_follow_init(&f, &bad), -EINVAL);       \
	} while (0)
	BAD(window_max, 15);
	BAD(window_max, CLK_FOLLOW_WINDOW_CAP + 1);
	BAD(loss_periods, 0);
	BAD(loss_periods, 49);
	BAD(lock_min_ticks, 2);
	BAD(lock_min_ticks, c.window_max + 1);
	BAD(lock_tol_ppm, 0);
	BAD(step_ticks, 1);
	BAD(step_ticks, CLK_FOLLOW_STEP_CAP + 1);
	BAD(step_sigmas, 1.5);
	BAD(step_sigmas, NAN);
	BAD(step_min_ns, -1);
#undef BAD
	/* a refused configuration leaves the follower as it was */
	assert_int_equal(f.cfg.window_max, c.window_max);
	c.window_max = CLK_FOLLOW_WINDOW_CAP;
	c.step_ticks = CLK_FOLLOW_STEP_CAP;
	assert_int_equal(clk_follow_init(&f, &c), 0);
}

static void test_empty(void **state)
{
	(void)state;
	init_default();
	assert_false(clk_follow_locked(&f));
	assert_int_equal(clk_follow_predict_ns(&f, 0), INT64_MIN);
	assert_true(clk_follow_period_ns(&f) == 0.0);
	assert_int_equal(clk_follow_bpm_micro(&f), 0);
	assert_int_equal(clk_follow_loss_deadline_ns(&f), INT64_MAX);
	assert_int_equal(clk_follow_check_loss(&f, INT64_MAX), 0);
	assert_int_equal(clk_follow_tick(&f, T0_NS), 0);
	/* one tick: still no estimate, loss armed for the slowest tempo */
	assert_int_equal(clk_follow_predict_ns(&f, 1), INT64_MIN);
	assert_int_equal(clk_follow_bpm_micro(&f), 0);
	assert_int_equal(clk_follow_loss_deadline_ns(&f),
			 T0_NS + 2 * CLK_FOLLOW_PERIOD_MAX_NS);
	assert_int_equal(clk_follow_tick(&f, T0_NS + 20000000), 1);
	assert_int_equal(clk_follow_predict_ns(&f, 2), T0_NS + 40000000);
	assert_int_equal(clk_follow_bpm_micro(&f), 125000000);
}

/* ---- steady input with jitter ------------------------------------------ */

#define STEADY_TICKS 22000   /* ~3 minutes at 120 BPM */
#define STEADY_JIT_FROM 1200 /* window (1024) full, plus a margin */

static void run_steady(double bpm, uint64_t seed)
{
	double p = period_of(bpm);
	double in2 = 0.0, out2 = 0.0, err_max = 0.0;
	int lock_n = -1, m = 0;
	uint64_t relocks0;

	rng_state = seed;
	init_default();
	for (int n = 0; n < STEADY_TICKS; n++) {
		double ideal = (double)T0_NS + n * p;
		double e_in = rng_uniform() * JIT_NS;

		if (n >= STEADY_JIT_FROM) {
			double e_out = (double)clk_follow_predict_ns(&f, n) - ideal;

			out2 += e_out * e_out;
			in2 += e_in * e_in;
			m++;
		}
		assert_int_equal(clk_follow_tick(&f, to_ns(ideal + e_in)), n);
		if (lock_n < 0 && clk_follow_locked(&f))
			lock_n = n;
		if (lock_n >= 0)
			assert_true(clk_follow_locked(&f)); /* never lets go */
		if (n >= 200 && n <= 2000 && rel_tempo_err(bpm) > err_max)
			err_max = rel_tempo_err(bpm);
	}
	relocks0 = f.relocks;
	print_message("# steady %.1f BPM +-1 ms: locked at tick %d; max tempo error "
		      "(ticks 200..2000) %.4f %%; input jitter %.1f us rms, output %.2f us "
		      "rms, ratio %.3f; outliers %llu, relocks %llu\n",
		      bpm, lock_n, err_max * 100.0, sqrt(in2 / m) / 1e3, sqrt(out2 / m) / 1e3,
		      sqrt(out2 / in2), (unsigned long long)f.outliers,
		      (unsigned long long)relocks0);
	assert_true(lock_n >= 0 && lock_n < 48);  /* within 2 beats of the first tick */
	assert_true(err_max < 0.0005);            /* < 0.05 % */
	assert_true(sqrt(out2) <= 0.1 * sqrt(in2)); /* rms out <= in / 10 */
	assert_int_equal(relocks0, 0);
	assert_int_equal(f.ticks, STEADY_TICKS);
	assert_int_equal(f.rejected, 0);
}

static void test_steady_120(void **state)
{
	(void)state;
	run_steady(120.0, 1);
}

static void test_steady_60(void **state)
{
	(void)state;
	run_steady(60.0, 2);
}

static void test_steady_174_5(void **state)
{
	(void)state;
	run_steady(174.5, 3);
}

static void test_steady_300(void **state)
{
	(void)state;
	run_steady(300.0, 4);
}

/* Near-Gaussian jitter has tails: single outliers are held out, but no
 * false tempo step in ~14 minutes. */
static void test_gaussian_no_false_step(void **state)
{
	double p = period_of(120.0);

	(void)state;
	rng_state = 5;
	init_default();
	for (int n = 0; n < 100000; n++)
		assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + n * p +
							    rng_gauss() * 500000.0)), n);
	print_message("# gaussian sigma 0.5 ms, 100000 ticks: outliers %llu, relocks %llu, "
		      "jitter estimate %.1f us\n", (unsigned long long)f.outliers,
		      (unsigned long long)f.relocks, clk_follow_jitter_ns(&f) / 1e3);
	assert_int_equal(f.relocks, 0);
	assert_true(f.outliers < 100);
	assert_true(clk_follow_locked(&f));
	assert_true(rel_tempo_err(120.0) < 0.0001);
}

/* ---- no jitter ----------------------------------------------------------- */

static void run_exact(double bpm)
{
	double p = period_of(bpm);
	int64_t worst = 0;

	init_default();
	for (int n = 0; n < 3000; n++) {
		int64_t ideal = to_ns((double)T0_NS + n * p);

		if (n >= 2) {
			int64_t e = clk_follow_predict_ns(&f, n) - ideal;
			int64_t far = clk_follow_predict_ns(&f, n + 96) -
				      to_ns((double)T0_NS + (n + 96) * p);

			if (e < 0)
				e = -e;
			if (far < 0)
				far = -far;
			if (e > worst)
				worst = e;
			if (far > worst)
				worst = far;
		}
		assert_int_equal(clk_follow_tick(&f, ideal), n);
		/* lock exactly when the fit has lock_min_ticks points */
		assert_int_equal(clk_follow_locked(&f), n + 1 >= f.cfg.lock_min_ticks);
	}
	print_message("# exact %.1f BPM: worst prediction error %lld ns (next tick and 4 "
		      "beats ahead); tempo %lld micro-BPM\n", bpm, (long long)worst,
		      (long long)clk_follow_bpm_micro(&f));
	assert_true(worst <= 1000);
	assert_true(llabs(clk_follow_bpm_micro(&f) - llround(bpm * 1e6)) <= 1);
	assert_int_equal(f.outliers, 0);
}

static void test_exact(void **state)
{
	(void)state;
	run_exact(120.0);
	run_exact(174.5);
	run_exact(20.0);
	run_exact(999.0);
}

/* ---- tempo steps --------------------------------------------------------- */

#define STEP_AT 1500

static void run_step(double bpm1, double bpm2, double jit_ns, uint64_t seed)
{
	double p1 = period_of(bpm1), p2 = period_of(bpm2);
	double err_relock = 0.0, err_max = 0.0;
	int unlock_k = -1, relock_k = -1;

	rng_state = seed;
	init_default();
	for (int n = 0; n < STEP_AT + 400; n++) {
		double ideal = n <= STEP_AT ? (double)T0_NS + n * p1
					    : (double)T0_NS + STEP_AT * p1 + (n - STEP_AT) * p2;

		assert_int_equal(clk_follow_tick(&f, to_ns(ideal + rng_uniform() * jit_ns)), n);
		if (n == STEP_AT)
			assert_true(clk_follow_locked(&f));
		if (n <= STEP_AT)
			continue;
		if (unlock_k < 0 && !clk_follow_locked(&f))
			unlock_k = n - STEP_AT;
		if (unlock_k >= 0 && relock_k < 0 && clk_follow_locked(&f)) {
			relock_k = n - STEP_AT;
			err_relock = rel_tempo_err(bpm2);
		}
		if (n - STEP_AT >= 24) {
			assert_true(clk_follow_locked(&f));
			if (rel_tempo_err(bpm2) > err_max)
				err_max = rel_tempo_err(bpm2);
		}
	}
	print_message("# step %.0f -> %.0f BPM, +-%.0f us: unlocked at +%d, re-locked at +%d "
		      "ticks (tempo error %.3f %%); max error ticks +24..+400 %.3f %%; "
		      "relocks %llu\n", bpm1, bpm2, jit_ns / 1e3, unlock_k, relock_k,
		      err_relock * 100.0, err_max * 100.0, (unsigned long long)f.relocks);
	assert_true(unlock_k >= 1 && unlock_k <= 6);
	assert_true(relock_k > unlock_k && relock_k <= 24); /* within 1 beat */
	if (jit_ns == 0.0) {
		/* step_ticks outliers make the step; the fit restarts from them
		 * and locks once it holds lock_min_ticks points */
		assert_int_equal(unlock_k, f.cfg.step_ticks);
		assert_int_equal(relock_k, f.cfg.lock_min_ticks);
	}
	assert_true(err_relock < 0.005);
	assert_true(err_max < 0.005);
	assert_int_equal(f.relocks, 1);
	assert_int_equal(f.losses, 0);
}

static void test_step_120_140(void **state)
{
	(void)state;
	run_step(120.0, 140.0, JIT_NS, 11);
}

static void test_step_140_100(void **state)
{
	(void)state;
	run_step(140.0, 100.0, JIT_NS, 12);
}

static void test_step_no_jitter(void **state)
{
	(void)state;
	run_step(120.0, 140.0, 0.0, 13);
	run_step(140.0, 100.0, 0.0, 13);
}

/* A phase jump (the sender relocated its grid by 5 ms, same tempo) is a step
 * too: the fit restarts from the new phase instead of bending slowly. */
static void test_phase_jump(void **state)
{
	double p = period_of(120.0);

	(void)state;
	rng_state = 14;
	init_default();
	for (int n = 0; n < 1000; n++) {
		double shift = n >= 600 ? 5e6 : 0.0;

		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + shift + rng_uniform() * JIT_NS));
		if (n == 630) {
			assert_true(clk_follow_locked(&f));
			assert_true(rel_tempo_err(120.0) < 0.005);
		}
	}
	assert_int_equal(f.relocks, 1);
	assert_true(llabs(clk_follow_predict_ns(&f, 1000) - to_ns((double)T0_NS + 1000 * p + 5e6))
		    < 200000);
}

/* ---- clock loss ---------------------------------------------------------- */

static void test_loss(void **state)
{
	double p = period_of(120.0);
	int64_t last = 0, deadline, p_est;

	(void)state;
	init_default();
	for (int n = 0; n < 100; n++) {
		last = to_ns((double)T0_NS + n * p);
		assert_int_equal(clk_follow_tick(&f, last), n);
		assert_int_equal(clk_follow_check_loss(&f, last), 0);
	}
	assert_true(clk_follow_locked(&f));
	p_est = (int64_t)llround(clk_follow_period_ns(&f));
	deadline = clk_follow_loss_deadline_ns(&f);
	assert_true(llabs(deadline - (last + 2 * p_est)) <= 1);
	assert_true(llabs(deadline - to_ns((double)last + 2.0 * p)) <= 1);
	assert_int_equal(clk_follow_check_loss(&f, last + p), 0);
	assert_int_equal(clk_follow_check_loss(&f, deadline - 1), 0);
	assert_int_equal(f.losses, 0);
	assert_int_equal(clk_follow_check_loss(&f, deadline), 1);
	assert_int_equal(f.losses, 1);
	assert_false(clk_follow_locked(&f));
	assert_int_equal(clk_follow_loss_deadline_ns(&f), INT64_MAX);
	assert_int_equal(clk_follow_check_loss(&f, deadline + 1), 0); /* exactly once */
	assert_int_equal(clk_follow_check_loss(&f, INT64_MAX), 0);
	/* frozen fit, for free-running */
	assert_true(llabs(clk_follow_bpm_micro(&f) - 120000000) <= 1);
	assert_true(llabs(clk_follow_predict_ns(&f, 200) - to_ns((double)T0_NS + 200 * p)) <= 1);
	/* the clock comes back: acquisition starts again from index 0 */
	for (int n = 0; n < 11; n++) {
		assert_int_equal(clk_follow_tick(&f, deadline + 1000000000 + to_ns(n * p)), n);
		assert_false(clk_follow_locked(&f));
	}
	assert_int_equal(clk_follow_tick(&f, deadline + 1000000000 + to_ns(11 * p)), 11);
	assert_true(clk_follow_locked(&f));
	assert_int_equal(f.losses, 1);
}

/* Another loss_periods, and the loss before any estimate. */
static void test_loss_config(void **state)
{
	struct clk_follow_cfg c;
	int64_t p = 10000000; /* 250 BPM */

	(void)state;
	clk_follow_cfg_defaults(&c);
	c.loss_periods = 4;
	assert_int_equal(clk_follow_init(&f, &c), 0);
	assert_int_equal(clk_follow_tick(&f, 0), 0);
	assert_int_equal(clk_follow_loss_deadline_ns(&f), 4 * CLK_FOLLOW_PERIOD_MAX_NS);
	assert_int_equal(clk_follow_check_loss(&f, 4 * CLK_FOLLOW_PERIOD_MAX_NS - 1), 0);
	assert_int_equal(clk_follow_check_loss(&f, 4 * CLK_FOLLOW_PERIOD_MAX_NS), 1);
	for (int n = 0; n < 20; n++)
		assert_int_equal(clk_follow_tick(&f, T0_NS + n * p), n);
	assert_int_equal(clk_follow_loss_deadline_ns(&f), T0_NS + 23 * p);
	assert_int_equal(clk_follow_check_loss(&f, T0_NS + 23 * p - 1), 0);
	assert_int_equal(clk_follow_check_loss(&f, T0_NS + 23 * p), 1);
	assert_int_equal(f.losses, 2);
}

/* A tick arriving after the deadline without a check_loss() acts like a
 * loss; one arriving before it does not. */
static void test_huge_gap(void **state)
{
	int64_t p = 20000000, t;

	(void)state;
	init_default();
	for (int n = 0; n < 50; n++)
		assert_int_equal(clk_follow_tick(&f, T0_NS + n * p), n);
	t = T0_NS + 49 * p;
	assert_int_equal(clk_follow_tick(&f, t + 2 * p - 1), 50); /* late, not lost */
	assert_int_equal(f.losses, 0);
	assert_true(clk_follow_locked(&f)); /* one outlier does not unlock */
	assert_int_equal(f.outliers, 1);
	t = t + 2 * p - 1;
	assert_int_equal(clk_follow_tick(&f, t + 10 * p), 0);
	assert_int_equal(f.losses, 1);
	assert_false(clk_follow_locked(&f));
	assert_int_equal(clk_follow_predict_ns(&f, 1), INT64_MIN);
}

/* ---- bad input ----------------------------------------------------------- */

static void test_backwards_and_duplicates(void **state)
{
	double p = period_of(120.0);
	int64_t t = 0, before;
	double period_before;

	(void)state;
	rng_state = 21;
	init_default();
	for (int n = 0; n < 200; n++) {
		t = to_ns((double)T0_NS + n * p + rng_uniform() * JIT_NS);
		assert_int_equal(clk_follow_tick(&f, t), n);
	}
	before = clk_follow_predict_ns(&f, 200);
	period_before = clk_follow_period_ns(&f);
	assert_int_equal(clk_follow_tick(&f, t), -EINVAL);            /* duplicate */
	assert_int_equal(clk_follow_tick(&f, t - 5000000), -EINVAL);  /* backwards */
	assert_int_equal(clk_follow_tick(&f, INT64_MIN), -EINVAL);
	assert_int_equal(clk_follow_tick(&f, t + 1), -ERANGE);        /* double send */
	assert_int_equal(clk_follow_tick(&f, t + CLK_FOLLOW_DT_MIN_NS - 1), -ERANGE);
	assert_int_equal(f.rejected, 5);
	assert_int_equal(clk_follow_predict_ns(&f, 200), before);
	assert_true(clk_follow_period_ns(&f) == period_before);
	assert_true(clk_follow_locked(&f));
	assert_int_equal(f.ticks, 200);
	/* the next real tick continues the numbering */
	assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + 200 * p)), 200);
}

/* A single tick 5 ms late (a delayed MIDI byte) is held out of the fit; a
 * 15 ms one barely moves the jitter estimate (its three second differences
 * are clipped). */
static void test_single_glitch(void **state)
{
	double p = period_of(120.0);
	int64_t before;
	double jit;

	(void)state;
	rng_state = 22;
	init_default();
	for (int n = 0; n < 500; n++)
		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + rng_uniform() * JIT_NS));
	before = clk_follow_predict_ns(&f, 501);
	assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + 500 * p + 5e6)), 500);
	assert_int_equal(f.outliers, 1);
	assert_int_equal(clk_follow_predict_ns(&f, 501), before);
	assert_true(clk_follow_locked(&f));
	assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + 501 * p)), 501);
	jit = clk_follow_jitter_ns(&f);
	for (int n = 502; n < 600; n++) {
		double late = n == 550 ? 15e6 : rng_uniform() * JIT_NS;

		assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + n * p + late)), n);
		if (n == 552)
			assert_true(clk_follow_jitter_ns(&f) < 1.25 * jit);
	}
	assert_int_equal(f.outliers, 2);
	assert_int_equal(f.relocks, 0);
}

/* Outliers on alternating sides are noise bursts, not a tempo step. */
static void test_alternating_outliers(void **state)
{
	double p = period_of(120.0);
	static const double off_ns[] = { 4e6, -4e6, 4e6, -4e6, 4e6 };

	(void)state;
	init_default();
	for (int n = 0; n < 100; n++)
		clk_follow_tick(&f, to_ns((double)T0_NS + n * p));
	for (int n = 100; n < 105; n++)
		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + off_ns[n - 100]));
	assert_int_equal(f.outliers, 5);
	assert_int_equal(f.relocks, 0);
	assert_true(clk_follow_locked(&f));
	assert_true(llabs(clk_follow_predict_ns(&f, 105) - to_ns((double)T0_NS + 105 * p)) <= 1);
}

/* Lock has hysteresis: once locked, the follower lets go only when the
 * period's standard error exceeds twice lock_tol_ppm, so it does not flicker
 * at the threshold; a fresh follower needs the error within lock_tol_ppm.
 * With a 32-tick window at 120 BPM the standard error is 1e-3 for uniform
 * jitter of about +-1.9 ms. */
static void test_lock_hysteresis(void **state)
{
	static struct clk_follow fresh;
	struct clk_follow_cfg c;
	double p = period_of(120.0), jit = 0.5e6;
	int n;

	(void)state;
	clk_follow_cfg_defaults(&c);
	c.window_max = 32;
	c.lock_tol_ppm = 1000;
	rng_state = 24;
	assert_int_equal(clk_follow_init(&f, &c), 0);
	assert_int_equal(clk_follow_init(&fresh, &c), 0);
	for (n = 0; n < 200; n++)
		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + rng_uniform() * jit));
	assert_true(clk_follow_locked(&f));
	/* jitter grows slowly (the estimate follows, no outliers) to +-2.6 ms */
	for (; jit < 2.6e6; n++) {
		jit *= 1.01;
		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + rng_uniform() * jit));
	}
	for (int k = 0; k < 1000; k++, n++) {
		double e = rng_uniform() * jit;

		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + e));
		clk_follow_tick(&fresh, to_ns((double)T0_NS + n * p + e));
		assert_true(clk_follow_locked(&f));
		assert_false(clk_follow_locked(&fresh));
	}
	/* ... and beyond twice the tolerance it lets go */
	for (; jit < 8e6; n++) {
		jit *= 1.01;
		clk_follow_tick(&f, to_ns((double)T0_NS + n * p + rng_uniform() * jit));
	}
	assert_false(clk_follow_locked(&f));
	assert_int_equal(f.losses, 0);
}

/* Faster than 999 BPM: measured and reported, never locked. */
static void test_too_fast(void **state)
{
	double p = period_of(1500.0); /* 1.67 ms: above the DT_MIN floor */

	(void)state;
	init_default();
	for (int n = 0; n < 500; n++)
		assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + n * p)), n);
	assert_false(clk_follow_locked(&f));
	assert_true(llabs(clk_follow_bpm_micro(&f) - 1500000000) <= 1);
	/* faster than DT_MIN: every other tick refused */
	init_default();
	for (int n = 0; n < 100; n++) {
		int r = clk_follow_tick(&f, T0_NS + n * ((CLK_FOLLOW_DT_MIN_NS + 1) / 2));

		assert_int_equal(r, n % 2 ? -ERANGE : n / 2);
	}
	assert_false(clk_follow_locked(&f));
	assert_int_equal(f.rejected, 50);
}

/* Slower than 20 BPM: each interval is too long, every tick starts again. */
static void test_too_slow(void **state)
{
	double p = period_of(15.0); /* 166.7 ms */

	(void)state;
	init_default();
	for (int n = 0; n < 50; n++) {
		assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + n * p)), 0);
		assert_int_equal(clk_follow_check_loss(&f, to_ns((double)T0_NS + n * p)), 0);
	}
	assert_false(clk_follow_locked(&f));
	assert_int_equal(clk_follow_bpm_micro(&f), 0);
	assert_int_equal(f.rejected, 49);
	assert_int_equal(f.losses, 0);
	/* just inside the range (20 BPM, +-1 ms) locks */
	rng_state = 23;
	init_default();
	p = period_of(20.0);
	for (int n = 0; n < 48; n++)
		assert_int_equal(clk_follow_tick(&f, to_ns((double)T0_NS + n * p +
							    rng_uniform() * JIT_NS)), n);
	assert_true(clk_follow_locked(&f));
	assert_true(rel_tempo_err(20.0) < 0.0005);
}

/* Timestamps near the int64 limits (and across zero) do not overflow. */
static void test_extreme_times(void **state)
{
	int64_t p = 20000000;

	(void)state;
	init_default();
	for (int n = 0; n < 100; n++)
		assert_int_equal(clk_follow_tick(&f, -50 * p + n * p), n);
	assert_int_equal(clk_follow_predict_ns(&f, 100), 50 * p);
	assert_int_equal(clk_follow_predict_ns(&f, INT64_MAX), INT64_MAX);
	assert_int_equal(clk_follow_predict_ns(&f, INT64_MIN), INT64_MIN + 1);
	init_default();
	for (int n = 0; n < 20; n++)
		assert_int_equal(clk_follow_tick(&f, INT64_MAX - (40 - n) * p), n);
	assert_int_equal(clk_follow_predict_ns(&f, 40), INT64_MAX);
	assert_int_equal(clk_follow_predict_ns(&f, 41), INT64_MAX); /* saturates */
	assert_int_equal(clk_follow_loss_deadline_ns(&f), INT64_MAX - 19 * p);
}

static void test_reset(void **state)
{
	(void)state;
	init_default();
	for (int n = 0; n < 30; n++)
		clk_follow_tick(&f, T0_NS + n * INT64_C(20000000));
	assert_true(clk_follow_locked(&f));
	clk_follow_reset(&f);
	assert_false(clk_follow_locked(&f));
	assert_int_equal(clk_follow_predict_ns(&f, 30), INT64_MIN);
	assert_int_equal(clk_follow_loss_deadline_ns(&f), INT64_MAX);
	assert_int_equal(f.ticks, 30); /* counters survive a reset */
	/* earlier timestamps are fine after a reset: nothing is remembered */
	assert_int_equal(clk_follow_tick(&f, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_steady_120),
		cmocka_unit_test(test_steady_60),
		cmocka_unit_test(test_steady_174_5),
		cmocka_unit_test(test_steady_300),
		cmocka_unit_test(test_gaussian_no_false_step),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_step_120_140),
		cmocka_unit_test(test_step_140_100),
		cmocka_unit_test(test_step_no_jitter),
		cmocka_unit_test(test_phase_jump),
		cmocka_unit_test(test_loss),
		cmocka_unit_test(test_loss_config),
		cmocka_unit_test(test_huge_gap),
		cmocka_unit_test(test_backwards_and_duplicates),
		cmocka_unit_test(test_single_glitch),
		cmocka_unit_test(test_alternating_outliers),
		cmocka_unit_test(test_lock_hysteresis),
		cmocka_unit_test(test_too_fast),
		cmocka_unit_test(test_too_slow),
		cmocka_unit_test(test_extreme_times),
		cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
