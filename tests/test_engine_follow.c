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
	/* locked within 2 beats (48 input clocks): the estimate is available and close */
	assert_int_equal(engine_run_until(&eng, t_start + (int64_t)(47 * period) + MS), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_LOCKED);
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

/* ---- a scripted master with a tempo step and transport messages --------- */

struct xmsg {
	int before_tick;     /* sent 2 ms before this input tick */
	struct midi_msg msg; /* Start, Stop, Continue, Song Position */
};

static int64_t m_t0;    /* ideal time of input tick 0 */
static double m_p1, m_p2; /* tick periods before and after the step, ns */
static int m_step;      /* the tick at which the period changes */

static int64_t ideal_at(int k)
{
	if (k <= m_step)
		return m_t0 + (int64_t)llround(k * m_p1);
	return m_t0 + (int64_t)llround(m_step * m_p1 + (k - m_step) * m_p2);
}

/* `n` ticks from t_start, at bpm1 up to tick `step` and bpm2 after it,
 * +-jit_ns uniform jitter, with the transport messages `xm` (tick order). */
static void script_master(double bpm1, double bpm2, int step, int n, int64_t t_start,
			  int64_t jit_ns, const struct xmsg *xm, int nxm)
{
	struct midi_msg clk = { .type = MIDI_CLOCK };
	int x = 0;

	m_t0 = t_start;
	m_p1 = 2.5e9 / bpm1;
	m_p2 = 2.5e9 / bpm2;
	m_step = step;
	for (int k = 0; k < n; k++) {
		int64_t ideal = ideal_at(k);
		for (; x < nxm && xm[x].before_tick == k; x++)
			assert_int_equal(capture_midi_input(&cap, IN_PORT, &xm[x].msg, ideal - 2 * MS), 0);
		assert_int_equal(capture_midi_input(&cap, IN_PORT, &clk,
						    ideal + (int64_t)llround(uniform() * (double)jit_ns)), 0);
	}
}

/*
 * A tempo step of the master while we follow and play: every clock we send
 * after the Start is the master's clock of the same song position - the
 * j-th clock after Start at the master's tick start_at + j - within `tol`,
 * before the step and again from one beat after it (no whole-tick phase
 * offset left by the re-lock), and no interval in between stretches or
 * shrinks beyond what a bounded slew gives.
 */
static void run_tempo_step(double bpm1, double bpm2, int64_t jit_ns, uint64_t s)
{
	const int start_at = 48, step = 600, n = 1000;
	const struct xmsg xm[] = { { start_at, { .type = MIDI_START } } };
	const double pmin = fmin(2.5e9 / bpm1, 2.5e9 / bpm2), pmax = fmax(2.5e9 / bpm1, 2.5e9 / bpm2);
	const int64_t tol = jit_ns + MS / 2;
	int64_t prev = 0, err, err_max_pre = 0, err_max_post = 0;
	int j = 0, start_idx = -1, in_phase_from = -1;

	(void)s;
	seed = s;
	setup_follow();
	script_master(bpm1, bpm2, step, n, T0 + 100 * MS, jit_ns, xm, 1);
	assert_int_equal(engine_run_until(&eng, ideal_at(n - 10)), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_LOCKED);
	for (int i = 0; i < cap.n; i++) {
		const struct capture_event *ev = &cap.ev[i];
		int m;

		if (ev->msg.type == MIDI_START)
			start_idx = i;
		if (ev->msg.type != MIDI_CLOCK || start_idx < 0)
			continue;
		m = start_at + j++;
		if (m >= n - 20)
			break;
		if (prev) {
			double d = (double)(ev->due_ns - prev);
			if (d < 0.7 * pmin || d > 1.4 * pmax)
				fail_msg("interval %.3f ms before input tick %d (periods %.3f, %.3f ms)",
					 d / 1e6, m, pmin / 1e6, pmax / 1e6);
		}
		prev = ev->due_ns;
		err = llabs(ev->due_ns - ideal_at(m));
		if (m >= 200 && m < step && err > err_max_pre)
			err_max_pre = err;
		if (m >= step) {
			if (err > tol)
				in_phase_from = -1;
			else if (in_phase_from < 0)
				in_phase_from = m - step;
			if (m >= step + 24 && err > err_max_post)
				err_max_post = err;
		}
	}
	print_message("# step %.0f -> %.0f BPM, +-%.1f ms: in phase (within %.1f ms) from +%d "
		      "ticks; max error before %.3f ms, from +24 ticks %.3f ms\n", bpm1, bpm2,
		      (double)jit_ns / 1e6, (double)tol / 1e6, in_phase_from,
		      (double)err_max_pre / 1e6, (double)err_max_post / 1e6);
	assert_true(start_idx >= 0 && j > n - 20 - start_at);
	assert_true(err_max_pre <= tol);
	assert_true(in_phase_from >= 0 && in_phase_from <= 24); /* re-locked within 1 beat */
	assert_true(err_max_post <= tol);
}

static void test_tempo_step_up(void **state)
{
	(void)state;
	run_tempo_step(120.0, 140.0, 0, 1);
	run_tempo_step(120.0, 140.0, MS, 2);
}

static void test_tempo_step_down(void **state)
{
	(void)state;
	run_tempo_step(140.0, 100.0, 0, 3);
	run_tempo_step(140.0, 100.0, MS, 4);
}

static void test_tempo_step_large(void **state)
{
	(void)state;
	run_tempo_step(90.0, 180.0, 0, 5);
	run_tempo_step(160.0, 90.0, MS, 6); /* a halving would be a clock loss (2 periods) */
}

/* The master tick (no jitter) whose ideal time is nearest to t. */
static int master_tick_at(int64_t t, int n)
{
	int best = 0;

	for (int k = 1; k < n; k++)
		if (llabs(ideal_at(k) - t) < llabs(ideal_at(best) - t))
			best = k;
	return best;
}

/* Index of the first captured event of `type` at or after index `from`
 * (and, for SPP, its value in *spp); -1 if none. */
static int find_sent(int from, int type, int *spp)
{
	for (int i = from; i < cap.n; i++)
		if (cap.ev[i].msg.type == type) {
			if (spp)
				*spp = cap.ev[i].msg.data[0] | cap.ev[i].msg.data[1] << 7;
			return i;
		}
	return -1;
}

static int clocks_between(int from, int to)
{
	int c = 0;

	for (int i = from; i < to; i++)
		c += cap.ev[i].msg.type == MIDI_CLOCK;
	return c;
}

/*
 * Start, Stop, SPP while stopped, Continue, and SPP while playing (a jump)
 * from the master, at 120 BPM without jitter: our outputs play, stop and
 * resume in step with the master's song position.  The master keeps its
 * clock running while stopped, as most do.
 */
static void test_input_transport(void **state)
{
	const int n = 700;
	const struct xmsg xm[] = {
		{ 48, { .type = MIDI_START } },
		{ 144, { .type = MIDI_STOP } },                              /* after 96 clocks */
		{ 300, { .type = MIDI_SONG_POSITION, .data = { 32, 0 } } },  /* 16th 32 = clock 192 */
		{ 310, { .type = MIDI_CONTINUE } },
		{ 500, { .type = MIDI_SONG_POSITION, .data = { 8, 0 } } },   /* jump to clock 48 */
	};
	struct clk_snapshot snap;
	int start, stop, spp1, cont, stop2, spp2, cont2, v1 = -1, v2 = -1, c, m;

	(void)state;
	setup_follow();
	script_master(120.0, 120.0, n, n, T0 + 100 * MS, 0, xm, 5);
	assert_int_equal(engine_run_until(&eng, ideal_at(n - 10)), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_LOCKED);

	/* Start: the first clock after it is the master's tick 48 */
	start = find_sent(0, MIDI_START, NULL);
	assert_true(start >= 0);
	c = find_sent(start, MIDI_CLOCK, NULL);
	assert_true(llabs(cap.ev[c].due_ns - ideal_at(48)) < MS / 2);
	/* Stop: after the 96 clocks the master played, plus at most the one
	 * already handed out within the lookahead when the Stop arrived */
	stop = find_sent(start, MIDI_STOP, NULL);
	assert_true(stop > start);
	assert_in_range(clocks_between(start, stop), 96, 97);
	/* SPP while stopped is passed on; Continue resumes at the master's tick
	 * 310, announced by SPP 32 (SPP, then Continue, then that clock) */
	spp1 = find_sent(stop, MIDI_SONG_POSITION, &v1);
	assert_true(spp1 > stop);
	assert_int_equal(v1, 32);
	cont = find_sent(spp1, MIDI_CONTINUE, NULL);
	assert_true(cont > spp1);
	assert_int_equal(clocks_between(stop, cont), 0); /* clock_while_stopped is off */
	assert_int_equal(find_sent(cont - 1, MIDI_SONG_POSITION, &v1), cont - 1);
	assert_int_equal(v1, 32);
	c = find_sent(cont, MIDI_CLOCK, NULL);
	assert_true(llabs(cap.ev[c].due_ns - ideal_at(310)) < MS / 2);
	/* the jump while playing goes out as Stop, SPP, Continue, on a 16th,
	 * with the song position the master has at that clock */
	stop2 = find_sent(cont, MIDI_STOP, NULL);
	assert_true(stop2 > cont);
	spp2 = find_sent(stop2, MIDI_SONG_POSITION, &v2);
	cont2 = find_sent(stop2, MIDI_CONTINUE, NULL);
	assert_true(spp2 > stop2 && cont2 > spp2);
	c = find_sent(cont2, MIDI_CLOCK, NULL);
	m = master_tick_at(cap.ev[c].due_ns, n);
	assert_true(llabs(cap.ev[c].due_ns - ideal_at(m)) < MS / 2);
	assert_in_range(m, 500, 500 + 12);
	assert_int_equal(v2 * 6, 48 + (m - 500));
	/* no clock went missing or doubled: the master's ticks 310 .. m-1 */
	assert_int_equal(clocks_between(cont, stop2), m - 310);
	print_message("# jump: master at clock 48 on its tick 500; we join at its tick %d with SPP %d\n",
		      m, v2);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.transport, ENGINE_PLAYING);
}

/*
 * With an output that clocks while stopped, the master's next clock after
 * its Start is already handed out when the Start arrives (2 ms before it,
 * lookahead 5 ms): we join on the next 16th with SPP + Continue, at the
 * master's song position there - never a downbeat a few ticks late.
 */
static void test_input_start_late_joins_on_16th(void **state)
{
	const int n = 300;
	const struct xmsg xm[] = { { 48, { .type = MIDI_START } } };
	int cont, v = -1, c, m;

	(void)state;
	setup_follow();
	eng.out[0].cfg.clock_while_stopped = true;
	script_master(120.0, 120.0, n, n, T0 + 100 * MS, 0, xm, 1);
	assert_int_equal(engine_run_until(&eng, ideal_at(n - 10)), 0);
	assert_int_equal(find_sent(0, MIDI_START, NULL), -1);
	cont = find_sent(0, MIDI_CONTINUE, NULL);
	assert_true(cont > 0);
	assert_int_equal(find_sent(cont - 1, MIDI_SONG_POSITION, &v), cont - 1);
	c = find_sent(cont, MIDI_CLOCK, NULL);
	m = master_tick_at(cap.ev[c].due_ns, n);
	assert_true(llabs(cap.ev[c].due_ns - ideal_at(m)) < MS / 2);
	assert_true(m > 48);
	assert_int_equal(v * 6, m - 48); /* our song position is the master's */
}

/* follow_stop_on_loss = false: after the master falls silent the loss is
 * reported within 2 periods, the transport keeps playing and our clock runs
 * on at the last estimated tempo, on the same grid (no gap, no jump). */
static void test_loss_free_runs(void **state)
{
	const int n = 300;
	const struct xmsg xm[] = { { 48, { .type = MIDI_START } } };
	const double period = 2.5e9 / 110.0;
	struct clk_snapshot snap;
	int64_t prev = 0;
	int after = 0;

	(void)state;
	setup_follow();
	eng.follow_stop_on_loss = false;
	script_master(110.0, 110.0, n, n, T0 + 100 * MS, 0, xm, 1);
	assert_int_equal(engine_run_until(&eng, ideal_at(n - 1) + (int64_t)(2.2 * period)), 0);
	assert_int_equal(atomic_load(&eng.stats.follow_state), ENGINE_FOLLOW_LOST);
	assert_int_equal(atomic_load(&eng.stats.follow_losses), 1);
	assert_int_equal(engine_run_until(&eng, ideal_at(n - 1) + 2 * INT64_C(1000000000)), 0);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.transport, ENGINE_PLAYING);
	assert_int_equal(find_sent(0, MIDI_STOP, NULL), -1);
	for (int i = 0; i < cap.n; i++) {
		if (cap.ev[i].msg.type != MIDI_CLOCK)
			continue;
		if (prev && llabs(cap.ev[i].due_ns - prev - (int64_t)llround(period)) > 1000)
			fail_msg("interval %.3f ms at %d (period %.3f ms)",
				 (double)(cap.ev[i].due_ns - prev) / 1e6, i, period / 1e6);
		prev = cap.ev[i].due_ns;
		after += cap.ev[i].due_ns > ideal_at(n - 1);
	}
	/* 2 s at 110 BPM: 88 clocks after the master's last one */
	assert_in_range(after, 86, 89);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locks_and_reduces_jitter),
		cmocka_unit_test(test_loss_stops_and_tempo_refused),
		cmocka_unit_test(test_follow_off_and_on),
		cmocka_unit_test(test_tempo_step_up),
		cmocka_unit_test(test_tempo_step_down),
		cmocka_unit_test(test_tempo_step_large),
		cmocka_unit_test(test_input_transport),
		cmocka_unit_test(test_loss_free_runs),
		cmocka_unit_test(test_input_start_late_joins_on_16th),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
