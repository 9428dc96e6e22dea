/*
 * Device backend against the simulated sound card (mocks/mock_audio.c) in
 * virtual time: output time derived from the device's delay and time
 * stamps (every pulse heard within one frame of its tick), a drifting
 * crystal tracked, an underrun recovered and counted, a vanished device
 * closed, retried every interval and re-opened when it returns, a stalled
 * device treated as lost, an absent device at start-up, a refused format,
 * and the real thread started and stopped.
 *
 * Heard times come from the mock's own model of the card, independent of
 * the backend's arithmetic; expected times are the 24 PPQN ticks computed
 * here at a fixed tempo (T0 + round(k * 60e9 / (24 * bpm))).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "audio/audio_device.h"
#include "audio/audio_engine.h"
#include "audio/audio_null.h"
#include "clock/timeline.h"
#include "clock/timesrc_virtual.h"
#include "mock_audio.h"

#define RATE 48000
#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
#define T0 (SEC + 500 * MS)           /* song position 0; the device opens at 1 s */
#define BPM INT64_C(111100000)        /* 111.1 BPM */
#define FRAME_NS (SEC / RATE + 1)     /* one frame, rounded up: 20834 ns */

static struct timesrc_virtual vt;
static struct mock_audio card;
static struct audio_device dev;
static struct audio_engine ae;
static struct clk_snapshot snap;

static bool snap_cb(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	(void)ctx;
	*out = snap;
	return true;
}

static int64_t tick_time(int64_t k)
{
	__int128 num = (__int128)k * 60000000000 * 1000000, den = (__int128)24 * BPM;

	return T0 + (int64_t)((2 * num + den) / (2 * den));
}

static void setup_dev(int64_t retry_ns)
{
	struct audio_cfg cfg;
	struct audio_device_cfg dc;
	char err[256] = "";

	timesrc_virtual_init(&vt, SEC);
	mock_audio_init(&card, &vt.base);
	memset(&snap, 0, sizeof(snap));
	assert_int_equal(tl_init(&snap.tl, T0, 0, BPM), 0);
	snap.play_from = 0;
	snap.play_until = INT64_MAX;
	snap.transport = CLK_PLAYING;
	snap.quantum = 4;

	audio_cfg_defaults(&cfg);
	cfg.out.click.channel = 1;
	cfg.out.pulse[0].channel = 0;
	cfg.out.pulse[0].ppqn = 24;
	cfg.out.pulse[0].width_us = 2000;
	if (audio_engine_init(&ae, &cfg, snap_cb, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	audio_device_cfg_defaults(&dc);
	dc.priority = 0;
	dc.retry_ns = retry_ns;
	if (audio_device_init(&dev, &card.base, &vt.base, &cfg.fmt, &dc, audio_engine_render_cb,
			      &ae, err, sizeof(err)))
		fail_msg("%s", err);
}

static void run_until(int64_t t)
{
	while (vt.now_ns < t)
		audio_device_step(&dev);
}

struct timing {
	int64_t n;        /* onsets checked */
	int64_t min_err;  /* heard - tick, ns */
	int64_t max_err;
	int64_t last_k;   /* tick index of the last onset */
};

static struct timing check_onsets_from(int gaps, int64_t from_ns);

static struct timing check_onsets(int gaps)
{
	return check_onsets_from(gaps, 0);
}

/* Match every captured onset to its tick; ticks must be consecutive except
 * across `gaps` allowed holes (xrun / loss). */
static struct timing check_onsets_from(int gaps, int64_t from_ns)
{
	struct timing tm = { .min_err = INT64_MAX, .max_err = INT64_MIN, .last_k = -1 };

	for (int i = 0; i < card.n_onsets; i++) {
		int64_t h = card.onset_ns[i], k;

		assert_true(h > 0);
		if (h < from_ns)
			continue;
		/* nearest tick */
		k = (int64_t)((__int128)(h - T0) * 24 * BPM / ((__int128)60000000000 * 1000000));
		if (tick_time(k + 1) - h < h - tick_time(k))
			k++;
		if (tm.last_k >= 0 && k != tm.last_k + 1) {
			if (gaps-- <= 0)
				fail_msg("onset %d: tick %lld follows tick %lld", i, (long long)k,
					 (long long)tm.last_k);
		}
		if (h - tick_time(k) < tm.min_err)
			tm.min_err = h - tick_time(k);
		if (h - tick_time(k) > tm.max_err)
			tm.max_err = h - tick_time(k);
		tm.last_k = k;
		tm.n++;
	}
	return tm;
}

static void test_output_time_exact(void **state)
{
	struct timing tm;

	(void)state;
	for (int64_t hw = 0; hw <= 123; hw += 123) {
		setup_dev(SEC);
		card.hw_delay = hw;
		run_until(T0 + 10 * SEC);
		tm = check_onsets(0);
		/* ticks 0..444 are due within 10 s at 111.1 BPM, 24 PPQN; the
		 * device has rendered a buffer ahead of the clock */
		assert_in_range(tm.n, 445, 448);
		assert_int_equal(tm.last_k + 1, tm.n);
		/* each pulse is heard on the first frame at or after its tick */
		assert_true(tm.min_err >= 0);
		assert_true(tm.max_err < FRAME_NS);
		assert_int_equal(atomic_load(&dev.base.stats.xruns), 0);
		assert_int_equal(atomic_load(&dev.base.stats.resyncs), 0);
		assert_int_equal(atomic_load(&dev.base.stats.losses), 0);
		assert_in_range(atomic_load(&dev.base.stats.periods), 10 * RATE / 512,
				11 * RATE / 512);
		/* render-to-output delay: buffer minus a period, plus hw delay */
		assert_int_equal(atomic_load(&dev.base.stats.delay_ns),
				 (int64_t)((1024 + hw) * SEC / RATE));
		assert_int_equal(dev.base.ops->close(&dev.base), 0);
	}
}

/* What a real driver reports: the status is a snapshot taken some time
 * before the call (its timestamp says when), and the play pointer moves in
 * DMA bursts, so the delay reads high by up to a burst.  The output time
 * comes from the snapshot's own timestamp: woken on the burst boundaries,
 * every pulse still lands on the first frame at or after its tick.  Woken
 * at any phase of a burst (2 ms of wake-up jitter), the lower envelope of
 * the measurements keeps the error to a few frames (taking each measurement
 * as it comes would put pulses ~0.7 ms early, a third of the burst). */
static void test_output_time_from_device_timestamps(void **state)
{
	struct timing tm;

	(void)state;
	for (int jitter = 0; jitter <= 1; jitter++) {
		setup_dev(SEC);
		card.tstamp_lag_ns = 3 * MS; /* 144 frames: a wrong reference would show */
		card.ptr_granularity = 64;   /* delay high by 0..63 frames */
		card.wake_jitter_ns = jitter ? 2 * MS : 0;
		run_until(T0 + 10 * SEC);
		tm = check_onsets(0);
		print_message("# timestamp 3 ms old, pointer in 64-frame bursts, wake jitter %d ms: "
			      "%lld pulses, heard - tick %lld .. %lld ns\n", jitter * 2, (long long)tm.n,
			      (long long)tm.min_err, (long long)tm.max_err);
		assert_in_range(tm.n, 445, 448);
		assert_int_equal(tm.last_k + 1, tm.n);
		if (!jitter) {
			assert_true(tm.min_err >= 0);
			assert_true(tm.max_err < FRAME_NS);
		} else {
			assert_true(tm.min_err > -200000 && tm.max_err < 200000); /* < 10 frames */
		}
		assert_int_equal(atomic_load(&dev.base.stats.xruns), 0);
		assert_int_equal(dev.base.ops->close(&dev.base), 0);
	}
}

static void test_crystal_drift_tracked(void **state)
{
	struct timing tm, late;

	(void)state;
	for (int64_t ppm = -150; ppm <= 150; ppm += 300) {
		setup_dev(SEC);
		card.ppm = ppm;
		run_until(T0 + 60 * SEC);
		tm = check_onsets(0);
		late = check_onsets_from(0, T0 + 10 * SEC);
		print_message("# drift %+lld ppm over 60 s: %lld pulses, heard - tick "
			      "%+lld .. %+lld ns; after 10 s %+lld .. %+lld ns (1 frame = 20833 ns)\n",
			      (long long)ppm, (long long)tm.n, (long long)tm.min_err,
			      (long long)tm.max_err, (long long)late.min_err, (long long)late.max_err);
		assert_true(tm.n > 2600);
		assert_true(tm.min_err > -FRAME_NS);
		assert_true(tm.max_err < 2 * FRAME_NS);
		/* locked: the rate is tracked, no steady-state error beyond a frame */
		assert_true(late.min_err > -FRAME_NS / 4);
		assert_true(late.max_err < FRAME_NS + FRAME_NS / 4);
		assert_int_equal(atomic_load(&dev.base.stats.resyncs), 0);
		assert_int_equal(dev.base.ops->close(&dev.base), 0);
	}
}

static void test_xrun_recovered(void **state)
{
	struct timing tm;

	(void)state;
	setup_dev(SEC);
	card.late_at_wait = 200;     /* ~2 s in */
	card.late_ns = 60 * MS;      /* longer than the 32 ms buffer */
	run_until(T0 + 5 * SEC);
	assert_int_equal(card.underruns, 1);
	assert_int_equal(card.recovers, 1);
	assert_int_equal(atomic_load(&dev.base.stats.xruns), 1);
	assert_int_equal(atomic_load(&dev.base.stats.losses), 0);
	assert_int_equal(atomic_load(&dev.base.stats.last_err), -EPIPE);
	assert_int_equal(atomic_load(&dev.base.stats.state), AUDIO_STATE_RUNNING);
	tm = check_onsets(1); /* one hole: the pulses that fell into the gap */
	assert_true(tm.min_err >= 0);
	assert_true(tm.max_err < FRAME_NS);
	assert_true(tick_time(tm.last_k) > T0 + 5 * SEC - 50 * MS); /* still pulsing */
	assert_int_equal(dev.base.ops->close(&dev.base), 0);
}

static void test_device_lost_and_back(void **state)
{
	int events[8] = { 0 };
	struct timing tm;
	int64_t lost_at = 0, back_at = 0;

	(void)state;
	setup_dev(500 * MS);
	card.vanish_at_write = 300;         /* ~3.2 s after opening */
	card.return_at_ns = T0 + 6 * SEC;   /* and back 3.3 s later */
	while (vt.now_ns < T0 + 10 * SEC) {
		int ev = audio_device_step(&dev);
		events[ev]++;
		if (ev == AUDIO_DEVICE_LOST)
			lost_at = vt.now_ns;

		if (ev == AUDIO_DEVICE_OPENED)
			back_at = vt.now_ns;
	}
	assert_int_equal(events[AUDIO_DEVICE_LOST], 1);
	assert_int_equal(events[AUDIO_DEVICE_OPENED], 2); /* the first open, and the return */
	assert_int_equal(atomic_load(&dev.base.stats.losses), 1);
	assert_int_equal(atomic_load(&dev.base.stats.reopens), 1);
	/* retries every 500 ms from the loss until the device is back */
	assert_true(back_at >= card.return_at_ns && back_at < card.return_at_ns + 500 * MS);
	assert_int_equal(atomic_load(&dev.base.stats.reopen_tries),
			 events[AUDIO_DEVICE_OPEN_FAILED] + 1);
	assert_int_equal(atomic_load(&dev.base.stats.reopen_tries), (back_at - lost_at) / (500 * MS));
	assert_int_equal(card.closes, 1);
	assert_int_equal(card.opens, 1 + atomic_load(&dev.base.stats.reopen_tries));
	assert_int_equal(atomic_load(&dev.base.stats.state), AUDIO_STATE_RUNNING);
	assert_int_equal(atomic_load(&dev.base.stats.last_err), -ENOENT); /* the last failed open */
	tm = check_onsets(1);
	assert_true(tm.min_err >= 0);
	assert_true(tm.max_err < FRAME_NS);
	assert_true(tick_time(tm.last_k) > T0 + 10 * SEC - 50 * MS);
	assert_int_equal(dev.base.ops->close(&dev.base), 0);
}

static void test_stalled_device_is_lost(void **state)
{
	(void)state;
	setup_dev(SEC);
	card.late_at_wait = 50;
	card.late_ns = 10 * SEC; /* the card stops answering */
	run_until(T0 + 5 * SEC);
	assert_int_equal(atomic_load(&dev.base.stats.losses), 1);
	assert_int_equal(atomic_load(&dev.base.stats.reopens), 1);
	assert_int_equal(card.closes, 1);
	assert_int_equal(atomic_load(&dev.base.stats.state), AUDIO_STATE_RUNNING);
	assert_int_equal(dev.base.ops->close(&dev.base), 0);
}

static void test_absent_at_start_then_plugged(void **state)
{
	(void)state;
	setup_dev(SEC);
	card.present = false;
	assert_int_equal(audio_device_step(&dev), AUDIO_DEVICE_OPEN_FAILED);
	assert_string_equal(dev.err, "mock audio: no such device");
	assert_int_equal(atomic_load(&dev.base.stats.state), AUDIO_STATE_LOST);
	assert_int_equal(atomic_load(&dev.base.stats.last_err), -ENOENT);
	/* the next step waits exactly one retry interval, without trying */
	assert_int_equal(audio_device_step(&dev), AUDIO_DEVICE_IDLE);
	assert_int_equal(vt.now_ns, 2 * SEC);
	assert_int_equal(card.opens, 1);
	card.present = true;
	assert_int_equal(audio_device_step(&dev), AUDIO_DEVICE_OPENED);
	assert_int_equal(audio_device_step(&dev), AUDIO_DEVICE_PERIOD);
	assert_int_equal(dev.base.ops->close(&dev.base), 0);
}

static void test_refused_format_fails_start(void **state)
{
	(void)state;
	setup_dev(SEC);
	card.open_err = -EINVAL;
	assert_int_equal(dev.base.ops->start(&dev.base), -EINVAL);
	assert_string_equal(dev.err, "mock audio: refused (-22)");
	assert_false(dev.started);
	assert_int_equal(dev.base.ops->close(&dev.base), 0);
}

/* The real thread: starts, delivers periods (in virtual time, as fast as
 * it can), loses the device and gets it back (the close and the re-opens
 * run on the thread, which must have marked itself non-RT for them: a
 * debug build aborts otherwise), stops on request. */
static void test_thread_start_stop(void **state)
{
	(void)state;
	setup_dev(SEC);
	card.vanish_at_write = 500;
	card.return_at_ns = 20 * SEC;
	assert_int_equal(dev.base.ops->start(&dev.base), 0);
	assert_int_equal(dev.base.ops->start(&dev.base), -EALREADY);
	while (atomic_load(&dev.base.stats.reopens) < 1 ||
	       atomic_load(&dev.base.stats.periods) < 3000)
		sched_yield();
	assert_int_equal(dev.base.ops->stop(&dev.base), 0);
	assert_int_equal(atomic_load(&dev.base.stats.state), AUDIO_STATE_STOPPED);
	assert_true(card.writes >= 3000);
	assert_int_equal(atomic_load(&dev.base.stats.xruns), 0);
	assert_int_equal(atomic_load(&dev.base.stats.losses), 1);
	assert_true(atomic_load(&dev.base.stats.reopen_tries) >= 13); /* each second, ~6.3 .. 20 s */
	assert_int_equal(dev.base.ops->close(&dev.base), 0);
	assert_int_equal(card.closes, 2); /* at the loss, and at the end */
}

/* --- the null backend ------------------------------------------------ */

static struct audio_null nullb;
static int64_t seen_anchor, seen_frame0[64];
static int seen;

static void record_cb(void *ctx, float *buf, uint32_t frames, int64_t anchor_ns,
		      int64_t frame0) RT_SAFE
{
	(void)ctx;
	for (uint32_t i = 0; i < frames * 2; i++)
		buf[i] = 0.0f;
	seen_anchor = anchor_ns;
	if (seen < 64)
		seen_frame0[seen] = frame0;
	seen++;
}

static void test_null_backend_deadlines(void **state)
{
	struct audio_format f;
	char err[256] = "";
	const int64_t start = SEC + 7;

	(void)state;
	audio_format_defaults(&f);
	f.rate = 44100; /* 512 frames = 11609977.3 ns: deadlines must not drift */
	timesrc_virtual_init(&vt, SEC);
	seen = 0;
	assert_int_equal(audio_null_open(&nullb, &vt.base, &f, 0, record_cb, NULL, err,
					 sizeof(err)), 0);
	nullb.start_ns = start; /* what start() does with now = 1 s - 1 period */
	for (int64_t n = 0; n < 40000; n++) {
		assert_int_equal(audio_null_step(&nullb), 1);
		/* period n is rendered one period before its first frame is heard */
		assert_int_equal(vt.now_ns, n == 0 ? SEC :
				 start + (int64_t)((__int128)(n - 1) * 512 * SEC / 44100));
		if (n < 64)
			assert_int_equal(seen_frame0[n], n * 512);
	}
	assert_int_equal(seen_anchor, start);
	assert_int_equal(atomic_load(&nullb.base.stats.periods), 40000);
	/* a woken wait renders nothing */
	timesrc_wake(&vt.base);
	assert_int_equal(audio_null_step(&nullb), 0);
	assert_int_equal(nullb.base.ops->close(&nullb.base), 0);

	/* and the real thread, in virtual time */
	assert_int_equal(audio_null_open(&nullb, &vt.base, &f, 0, record_cb, NULL, err,
					 sizeof(err)), 0);
	assert_int_equal(nullb.base.ops->start(&nullb.base), 0);
	while (atomic_load(&nullb.base.stats.periods) < 1000)
		sched_yield();
	assert_int_equal(nullb.base.ops->close(&nullb.base), 0);
	assert_int_equal(atomic_load(&nullb.base.stats.state), AUDIO_STATE_STOPPED);
	f.period = 500;
	assert_int_equal(audio_null_open(&nullb, &vt.base, &f, 0, record_cb, NULL, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "audio period = 500 frames: must be a power of two"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_time_exact),
		cmocka_unit_test(test_output_time_from_device_timestamps),
		cmocka_unit_test(test_crystal_drift_tracked),
		cmocka_unit_test(test_xrun_recovered),
		cmocka_unit_test(test_device_lost_and_back),
		cmocka_unit_test(test_stalled_device_is_lost),
		cmocka_unit_test(test_absent_at_start_then_plugged),
		cmocka_unit_test(test_refused_format_fails_start),
		cmocka_unit_test(test_thread_start_stop),
		cmocka_unit_test(test_null_backend_deadlines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
