/*
 * Follower mode in virtual time: an external 24 PPQN clock with seeded
 * +-1 ms jitter arrives on an input port; the engine locks its timeline to
 * it and re-transmits a clock with far less jitter; Start and Stop from the
 * input are honoured; clock loss is detected and stops the transport; local
 * tempo changes are refused while following.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture_midi.h"
#include "clock/timesrc_virtual.h"
#include "engine/engine.h"

#define T0 INT64_C(1000000000)
#define MS INT64_C(1000000)
#define IN_PORT 5

static struct engine eng;
static struct capture_midi cap;
static struct timesrc_virtual vt;
static uint64_t seed = 0x9e3779b97f4a7c15u;

static double uniform(void) /* -1 .. 1, deterministic */
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (double)(seed >> 11) / (double)(UINT64_C(1) << 53) * 2.0 - 1.0;
}

static void setup_follow(void)
{
	struct engine_cfg cfg;

	engine_cfg_defaults(&cfg);
	cfg.nout = 1;
	clk_output_cfg_defaults(&cfg.out[0]);
	cfg.out_port[0] = 0;
	cfg.follow_port = IN_PORT;
	cfg.follow = true;
	cfg.follow_stop_on_loss = true;
	timesrc_virtual_init(&vt, T0);
	vt.max_wait_ns = MS / 2; /* input "wakes" the loop within 0.5 ms */
	capture_midi_init(&cap);
	cap.ts = &vt.base;
	assert_int_equal(engine_init(&eng, &vt.base, &cap.base, &cfg), 0);
}

/* Script an external clock: `n` ticks at `bpm` from t_start with +-jit_ns
 * uniform jitter, a Start right before tick `start_at`.  Returns the ideal
 * time of tick 0. */
static void script_clock(double bpm, int n, int64_t t_start, int64_t jit_ns, int start_at,
			 double *in_jit_rms)
{
	double period = 2.5e9 / bpm, sum2 = 0;
	struct midi_msg clk = { .type = MIDI_CLOCK }, start = { .type = MIDI_START };

	for (int k = 0; k < n; k++) {
		int64_t ideal = t_start + (int64_t)llround(k * period);
		int64_t j = (int64_t)llround(uniform() * (double)jit_ns);
		if (k == start_at)
			assert_int_equal(capture_midi_input(&cap, IN_PORT, &start, ideal - 2 * MS), 0);
		assert_int_equal(capture_midi_input(&cap, IN_PORT, &clk, ideal + j), 0);
		sum2 += (double)j * (double)j;
	}
	*in_jit_rms = sqrt(sum2 / n);
}

static void test_locks_and_reduces_jitter(void **state)
{
	const double bpm = 123.4, period = 2.5e9 / 123.4;
	const int64_t t_start = T0 + 100 * MS;
	double in_rms, sum = 0, sum2 = 0, mean, rms;
	int64_t prev = 0, first_out = 0;
	int n = 0, start_idx = -1, clocks_after = 0;

	(void)state;
	setup_follow();
	script_clock(bpm, 2400, t_start, MS, 480, &in_rms); /* Start before input tick 480 */
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(100 * period)), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_LOCKED);
	/* locked within 2 beats: the estimate is available and close */
	assert_true(fabs(atomic_load(&eng.stats.follow_bpm) / 1e6 - bpm) / bpm < 0.005);
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(2390 * period)), 0);
	/* our re-transmitted clock after the Start: interval statistics */
	for (int i = 0; i < cap.n; i++) {
		const struct capture_event *ev = &cap.ev[i];
		if (ev->msg.type == MIDI_START)
			start_idx = i;
		if (ev->msg.type != MIDI_CLOCK || start_idx < 0)
			continue;
		if (clocks_after++ == 0) {
			first_out = ev->due_ns;
			assert_true(cap.ev[start_idx].due_ns < ev->due_ns);
		}
		/* skip the first 2 beats after the start, then measure */
		if (prev && clocks_after > 48) {
			double d = (double)(ev->due_ns - prev) - period;
			sum += d;
			sum2 += d * d;
			n++;
		}
		prev = ev->due_ns;
	}
	if (start_idx < 0 || n <= 1000) {
		int starts = 0, clocks = 0;
		for (int i = 0; i < cap.n; i++) {
			starts += cap.ev[i].msg.type == MIDI_START;
			clocks += cap.ev[i].msg.type == MIDI_CLOCK;
		}
		fail_msg("start_idx %d, %d events, %d Start, %d clocks, %d measured, follow state %d, "
			 "ticks %llu", start_idx, cap.n, starts, clocks, n,
			 atomic_load(&eng.stats.follow_state),
			 (unsigned long long)atomic_load(&eng.stats.follow_ticks));
	}
	mean = sum / n;
	rms = sqrt(sum2 / n);
	print_message("# input jitter %.1f us rms; output interval error %.2f us rms "
		      "(a tick's jitter contributes to two intervals); tempo error %.4f %%; "
		      "downbeat %+.1f us from the input's ideal\n",
		      in_rms / 1e3, rms / 1e3, 100 * fabs(mean) / period,
		      (double)(first_out - (t_start + (int64_t)llround(480 * period))) / 1e3);
	/* interval jitter of a series with per-tick jitter s is s*sqrt(2): the
	 * output's per-tick jitter is rms/sqrt(2); at most a tenth of the input's */
	assert_true(rms / sqrt(2.0) <= 0.1 * in_rms);
	assert_true(fabs(mean) / period < 0.0005); /* tempo error < 0.05 % */
	/* the downbeat lands where the input's downbeat ideally is, within 1 ms */
	assert_true(llabs(first_out - (t_start + (int64_t)llround(480 * period))) < MS);
}

static void test_loss_stops_and_tempo_refused(void **state)
{
	const double period = 2.5e9 / 100.0;
	const int64_t t_start = T0 + 50 * MS;
	double in_rms;
	struct engine_cmd tempo = { .type = ENGINE_CMD_TEMPO, .i64 = 150000000 };
	struct clk_snapshot snap;
	int stop = -1;

	(void)state;
	setup_follow();
	script_clock(100.0, 200, t_start, 0, 100, &in_rms);
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(150 * period)), 0);
	assert_int_equal(engine_post(&eng, &tempo), 0);
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(199 * period) + MS), 0);
	assert_int_equal(atomic_load(&eng.stats.rejected), 1); /* the input sets the tempo */
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.transport, ENGINE_PLAYING);
	/* the input goes silent after tick 199: loss within 2 periods */
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(199 * period + 2.2 * period)), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_LOST);
	assert_int_equal(atomic_load(&eng.stats.follow_losses), 1);
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(210 * period)), 0);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.transport, ENGINE_STOPPED);
	for (int i = 0; i < cap.n; i++)
		if (cap.ev[i].msg.type == MIDI_STOP)
			stop = i;
	assert_true(stop >= 0);
	/* detected no later than 2 periods (+ the 0.5 ms loop granularity) after tick 199 */
	assert_true(cap.ev[stop].due_ns <= t_start + (int64_t)(199 * period + 2 * period) + 2 * MS + 30 * MS);
}

static void test_follow_off_and_on(void **state)
{
	struct engine_cmd off = { .type = ENGINE_CMD_FOLLOW, .u32 = 0 };
	struct engine_cmd tempo = { .type = ENGINE_CMD_TEMPO, .i64 = 150000000 };
	struct clk_snapshot snap;

	(void)state;
	setup_follow();
	assert_int_equal(engine_post(&eng, &off), 0);
	assert_int_equal(engine_post(&eng, &tempo), 0);
	assert_int_equal(engine_run_until(&eng, T0 + 100 * MS), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_OFF);
	assert_int_equal(atomic_load(&eng.stats.rejected), 0);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(tl_bpm_at(&snap.tl, INT64_MAX / 2), 150000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locks_and_reduces_jitter),
		cmocka_unit_test(test_loss_stops_and_tempo_refused),
		cmocka_unit_test(test_follow_off_and_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
