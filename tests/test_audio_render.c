/*
 * Audio renderer: every pulse, click and run/stop edge on its exact frame.
 *
 * Expected frames are computed here from first principles: the time of
 * pulse k at a fixed tempo is T0 + round(k * 60e9 / (ppqn * bpm)) ns (the
 * timeline's documented rounding, ADR 0005), and its frame is the first
 * frame g with anchor + g * 1e9 / rate >= that time, i.e.
 * ceil((t - anchor) * rate / 1e9).  Also in the RTSan suite: audio_render()
 * is RT_SAFE, so any allocation or lock inside it aborts there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audio/audio_format.h"
#include "audio/audio_render.h"
#include "clock/timeline.h"

#define RATE 48000
#define T0 INT64_C(1000000000)               /* song position 0 */
#define ANCHOR (T0 - INT64_C(250000123))     /* frame 0: a quarter second earlier, odd ns */
#define NF (RATE * 6)                        /* frames rendered per test */
#define MAXCH 4
#define UNITS TL_UNITS_PER_BEAT

static float buf[NF * MAXCH];
static float buf2[NF * MAXCH];
static struct audio_render rnd;
static int64_t on[4096];

static int64_t ceil_div(__int128 a, __int128 b) /* b > 0 */
{
	__int128 q = a / b;

	if (a % b != 0 && a > 0)
		q++;
	return (int64_t)q;
}

static int64_t round_div(__int128 a, __int128 b) /* a >= 0, b > 0; half up */
{
	return (int64_t)((2 * a + b) / (2 * b));
}

/* Time of timeline position `pos` (units, >= 0) at one tempo from T0. */
static int64_t pos_time(int64_t pos, int64_t bpm_micro)
{
	return T0 + round_div((__int128)pos * 60000000000 * 1000000, (__int128)UNITS * bpm_micro);
}

static int64_t frame_of(int64_t t_ns, int64_t anchor)
{
	return ceil_div((__int128)(t_ns - anchor) * RATE, 1000000000);
}

static void snap_playing(struct clk_snapshot *s, int64_t bpm_micro, int quantum)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(tl_init(&s->tl, T0, 0, bpm_micro), 0);
	s->song_origin = 0;
	s->play_from = 0;
	s->play_until = INT64_MAX;
	s->transport = CLK_PLAYING;
	s->quantum = quantum;
}

static void cfg_empty(struct audio_render_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->click.channel = -1;
	c->run.channel = -1;
}

static void init_render(const struct audio_render_cfg *c, uint32_t channels)
{
	char err[256] = "";
	int r = audio_render_init(&rnd, c, RATE, channels, err, sizeof(err));

	if (r)
		fail_msg("audio_render_init: %s", err);
}

/* Render frames [g0, g0 + n) into b, `period` frames per call. */
static void render_span(float *b, const struct clk_snapshot *s, int64_t anchor, int64_t g0,
			int64_t n, uint32_t period)
{
	for (int64_t done = 0; done < n;) {
		uint32_t m = n - done < period ? (uint32_t)(n - done) : period;
		audio_render(&rnd, s, b + done * rnd.channels, m, anchor, g0 + done);
		done += m;
	}
}

static float at(const float *b, int64_t g, int ch)
{
	return b[g * rnd.channels + (uint32_t)ch];
}

/* Onsets: non-zero after at least `gap` zero frames. */
static int64_t onsets(const float *b, int ch, int64_t n, int64_t gap, int64_t *out, int64_t max)
{
	int64_t k = 0, quiet = gap;

	for (int64_t g = 0; g < n; g++) {
		if (at(b, g, ch) != 0.0f) {
			if (quiet >= gap && k < max)
				out[k] = g;
			k += quiet >= gap;
			quiet = 0;
		} else {
			quiet++;
		}
	}
	return k;
}

/* Length of the non-zero run starting at g. */
static int64_t run_len(const float *b, int ch, int64_t g, int64_t n)
{
	int64_t l = 0;

	while (g + l < n && at(b, g + l, ch) != 0.0f)
		l++;
	return l;
}

static void test_pulses_exact_every_ppqn(void **state)
{
	static const int ppqns[] = { 1, 2, 4, 24, 48 };
	const int64_t bpm = 97300000; /* 97.3 BPM: no pulse falls on a whole frame */
	struct audio_render_cfg c;
	struct clk_snapshot s;

	(void)state;
	snap_playing(&s, bpm, 4);
	for (size_t i = 0; i < sizeof(ppqns) / sizeof(ppqns[0]); i++) {
		int ppqn = ppqns[i];
		int64_t n, expect_n = 0;

		cfg_empty(&c);
		c.npulse = 1;
		audio_pulse_cfg_defaults(&c.pulse[0], 0);
		c.pulse[0].ppqn = ppqn;
		init_render(&c, 1);
		render_span(buf, &s, ANCHOR, 0, NF, 512);
		n = onsets(buf, 0, NF, 1, on, 4096);
		for (int64_t k = 0; frame_of(pos_time(k * UNITS / ppqn, bpm), ANCHOR) < NF; k++) {
			int64_t f = frame_of(pos_time(k * UNITS / ppqn, bpm), ANCHOR);
			if (k >= n)
				fail_msg("ppqn %d: pulse %lld missing (expected at frame %lld)", ppqn,
					 (long long)k, (long long)f);
			if (on[k] != f)
				fail_msg("ppqn %d: pulse %lld at frame %lld, expected %lld", ppqn,
					 (long long)k, (long long)on[k], (long long)f);
			/* 5 ms = 240 frames, the last one may be cut by the buffer end */
			if (f + 240 <= NF)
				assert_int_equal(run_len(buf, 0, f, NF), 240);
			assert_true(at(buf, f, 0) == 1.0f);
			assert_true(at(buf, f - 1, 0) == 0.0f);
			expect_n++;
		}
		assert_int_equal(n, expect_n);
		assert_true(expect_n >= 9); /* 6 s at 97.3 BPM: 9 beats at 1 PPQN */
	}
}

static void test_width_cut_level_polarity(void **state)
{
	const int64_t bpm = 300000000; /* 24 PPQN at 300 BPM: a pulse every 400 frames */
	struct audio_render_cfg c;
	struct clk_snapshot s;
	int64_t n;

	(void)state;
	snap_playing(&s, bpm, 4);
	cfg_empty(&c);
	c.npulse = 1;
	audio_pulse_cfg_defaults(&c.pulse[0], 1);
	c.pulse[0].width_us = 10000; /* 480 frames: longer than the spacing */
	c.pulse[0].level_pct = 40;
	c.pulse[0].invert = true;
	init_render(&c, 2);
	render_span(buf, &s, ANCHOR, 0, NF, 512);
	n = onsets(buf, 1, NF, 1, on, 4096);
	assert_true(n > 600);
	for (int64_t k = 0; k + 1 < n; k++) {
		int64_t f = frame_of(pos_time(k * UNITS / 24, bpm), ANCHOR);
		int64_t next = frame_of(pos_time((k + 1) * UNITS / 24, bpm), ANCHOR);
		assert_int_equal(on[k], f);
		assert_int_equal(run_len(buf, 1, f, NF), (next - f) / 2); /* cut to half */
		for (int64_t g = f; g < f + (next - f) / 2; g++)
			assert_true(at(buf, g, 1) == -0.4f);
	}
	for (int64_t g = 0; g < NF; g++) /* channel 0 carries nothing */
		assert_true(at(buf, g, 0) == 0.0f);
}

static void test_offset_and_swing(void **state)
{
	const int64_t bpm = 123456000;
	struct audio_render_cfg c;
	struct clk_snapshot s;
	int64_t n0, n1;

	(void)state;
	snap_playing(&s, bpm, 4);
	cfg_empty(&c);
	c.npulse = 2;
	audio_pulse_cfg_defaults(&c.pulse[0], 0);
	c.pulse[0].ppqn = 4;
	c.pulse[0].swing_permille = 600; /* 16ths split 60:40 */
	c.pulse[0].swing_unit = 16;
	c.pulse[0].offset_us = 1234;
	audio_pulse_cfg_defaults(&c.pulse[1], 1);
	c.pulse[1].ppqn = 2;
	c.pulse[1].offset_us = -2500;
	init_render(&c, 2);
	render_span(buf, &s, ANCHOR, 0, NF, 256);

	n0 = onsets(buf, 0, NF, 1, on, 4096);
	for (int64_t k = 0; k < n0; k++) {
		/* pair of 16ths = half a beat; the second 16th at 60 % of it */
		int64_t pos = (k / 2) * (UNITS / 2) + (k % 2 ? UNITS * 3 / 10 : 0);
		assert_int_equal(on[k], frame_of(pos_time(pos, bpm) + 1234000, ANCHOR));
	}
	assert_true(n0 >= 40);
	n1 = onsets(buf, 1, NF, 1, on, 4096);
	for (int64_t k = 0; k < n1; k++)
		assert_int_equal(on[k], frame_of(pos_time(k * UNITS / 2, bpm) - 2500000, ANCHOR));
	/* the first pulse, early by 2.5 ms, is before the song start and still there */
	assert_true(on[0] < frame_of(T0, ANCHOR));
	assert_true(n1 >= 20);
}

static int zero_crossings(const float *b, int ch, int64_t from, int64_t len)
{
	int z = 0;

	for (int64_t g = from + 1; g < from + len; g++)
		z += (at(b, g - 1, ch) > 0.0f) != (at(b, g, ch) > 0.0f);
	return z;
}

static void test_click_accent_level_pitch(void **state)
{
	const int64_t bpm = 101000000;
	struct audio_render_cfg c;
	struct clk_snapshot s;

	(void)state;
	int zc[AUDIO_CLICK_NOISE + 1] = { 0 };  /* zero crossings of the 2nd click, per sound */
	double tail[AUDIO_CLICK_NOISE + 1] = { 0 }; /* its energy in 10..20 ms over 0..10 ms */

	snap_playing(&s, bpm, 3); /* 3/4: accent every third beat */
	for (int sound = AUDIO_CLICK_BEEP; sound <= AUDIO_CLICK_NOISE; sound++) {
		int64_t n, expect_n = 0;

		cfg_empty(&c);
		c.click = (struct audio_click_cfg){ .channel = 2, .sound = sound, .level_pct = 60,
						    .accent_pct = 90, .freq_hz = 1000,
						    .accent_freq_hz = 1500, .length_ms = 20 };
		init_render(&c, 3);
		render_span(buf, &s, ANCHOR, 0, NF, 512);
		n = onsets(buf, 2, NF, 48, on, 4096);
		while (frame_of(pos_time(expect_n * UNITS, bpm), ANCHOR) < NF)
			expect_n++;
		assert_int_equal(n, expect_n);
		assert_int_equal(n, 10); /* song time -0.25 .. 5.75 s at 101 BPM: beats 0..9 */
		for (int64_t k = 0; k < n; k++) {
			int64_t f = frame_of(pos_time(k * UNITS, bpm), ANCHOR);
			assert_int_equal(on[k], f);
			assert_true(at(buf, f, 2) == (k % 3 == 0 ? 0.9f : 0.6f));
			assert_true(at(buf, f - 1, 2) == 0.0f);
			/* the sound lasts 20 ms (960 frames) and then is silent */
			assert_true(run_len(buf, 2, f, NF) <= 960);
			assert_true(at(buf, f + 960, 2) == 0.0f);
			if (sound == AUDIO_CLICK_BEEP) {
				/* a 1000 Hz beep crosses zero 2000 times a second */
				int z = zero_crossings(buf, 2, f, 900), want = k % 3 == 0 ? 56 : 37;
				assert_in_range(z, want - 2, want + 2);
			}
			if (k == 1) {
				double e0 = 0, e1 = 0;
				zc[sound] = zero_crossings(buf, 2, f, 900);
				for (int i = 0; i < 480; i++) {
					e0 += (double)at(buf, f + i, 2) * at(buf, f + i, 2);
					e1 += (double)at(buf, f + 480 + i, 2) * at(buf, f + 480 + i, 2);
				}
				tail[sound] = e1 / e0;
			}
		}
	}
	print_message("# click sounds, 2nd click: zero crossings beep %d, wood %d, noise %d; "
		      "late/early energy %.3f, %.3f, %.3f\n", zc[AUDIO_CLICK_BEEP], zc[AUDIO_CLICK_WOOD],
		      zc[AUDIO_CLICK_NOISE], tail[AUDIO_CLICK_BEEP], tail[AUDIO_CLICK_WOOD],
		      tail[AUDIO_CLICK_NOISE]);
	/* three different sounds: noise crosses zero far more often than a
	 * tone; the wood block is another pitch and dies away faster */
	assert_true(zc[AUDIO_CLICK_NOISE] > 4 * zc[AUDIO_CLICK_BEEP]);
	assert_true(abs(zc[AUDIO_CLICK_WOOD] - zc[AUDIO_CLICK_BEEP]) > 5);
	assert_true(tail[AUDIO_CLICK_WOOD] < tail[AUDIO_CLICK_BEEP]);
}

static void test_run_stop_and_play_interval(void **state)
{
	const int64_t bpm = 133000000;
	struct audio_render_cfg c;
	struct clk_snapshot s;
	int64_t n, from, until;

	(void)state;
	snap_playing(&s, bpm, 4);
	s.play_from = 2 * UNITS;   /* started at beat 2 */
	s.play_until = 10 * UNITS; /* stopped at beat 10 */
	s.transport = CLK_STOPPED;
	cfg_empty(&c);
	c.npulse = 2;
	audio_pulse_cfg_defaults(&c.pulse[0], 0); /* DIN sync: 24 PPQN + run */
	audio_pulse_cfg_defaults(&c.pulse[1], 2);
	c.pulse[1].ppqn = 1;
	c.pulse[1].while_stopped = true;
	c.run = (struct audio_run_cfg){ .channel = 1, .level_pct = 100 };
	init_render(&c, 3);
	render_span(buf, &s, ANCHOR, 0, NF, 512);

	from = frame_of(pos_time(2 * UNITS, bpm), ANCHOR);
	until = frame_of(pos_time(10 * UNITS, bpm), ANCHOR);
	for (int64_t g = 0; g < NF; g++)
		assert_true(at(buf, g, 1) == (g >= from && g < until ? 1.0f : 0.0f));
	n = onsets(buf, 0, NF, 1, on, 4096);
	assert_int_equal(n, 8 * 24);
	assert_int_equal(on[0], from);
	for (int64_t k = 0; k < n; k++)
		assert_int_equal(on[k], frame_of(pos_time(2 * UNITS + k * UNITS / 24, bpm), ANCHOR));
	/* the while-stopped channel pulses on every beat, before and after */
	n = onsets(buf, 2, NF, 1, on, 4096);
	assert_int_equal(on[0], frame_of(pos_time(0, bpm), ANCHOR));
	assert_int_equal(n, 13); /* beats 0..12 within 5.75 s at 133 BPM */
}

static void test_silent_when_stopped_or_no_snapshot(void **state)
{
	struct audio_render_cfg c;
	struct clk_snapshot s;

	(void)state;
	audio_render_cfg_defaults(&c);
	c.run = (struct audio_run_cfg){ .channel = 2, .level_pct = 100 };
	init_render(&c, 3);
	snap_playing(&s, 120000000, 4);
	s.play_from = s.play_until = 0; /* never played */
	s.transport = CLK_STOPPED;
	render_span(buf, &s, ANCHOR, 0, NF, 512);
	for (int64_t i = 0; i < (int64_t)NF * 3; i++)
		assert_true(buf[i] == 0.0f);
	buf[5] = 1.0f;
	audio_render(&rnd, NULL, buf, 512, ANCHOR, 0);
	for (int i = 0; i < 512 * 3; i++)
		assert_true(buf[i] == 0.0f);
}

/* The output does not depend on how the span is cut into buffers. */
static void test_buffer_split_invariance(void **state)
{
	struct audio_render_cfg c;
	struct clk_snapshot s;
	static const uint32_t periods[] = { 37, 512, 4096 };

	(void)state;
	snap_playing(&s, 140500000, 4);
	assert_int_equal(tl_set_tempo_at(&s.tl, 5 * UNITS, 87250000), 0);
	audio_render_cfg_defaults(&c);
	c.pulse[0].swing_permille = 650;
	c.pulse[0].width_us = 15000;
	c.npulse = 2;
	audio_pulse_cfg_defaults(&c.pulse[1], 2);
	c.pulse[1].offset_us = -777;
	c.run = (struct audio_run_cfg){ .channel = 3, .level_pct = 50, .offset_us = 333 };
	c.click.length_ms = 100;
	init_render(&c, 4);
	render_span(buf, &s, ANCHOR, 0, NF, NF);
	for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		memset(buf2, 0xff, sizeof(buf2));
		render_span(buf2, &s, ANCHOR, 0, NF, periods[i]);
		assert_memory_equal(buf, buf2, sizeof(float) * NF * 4);
	}
}

/* Ten hours into a stream, frames are still exact (128-bit frame times). */
static void test_exact_after_ten_hours(void **state)
{
	const int64_t bpm = 97300000;
	const int64_t g0 = INT64_C(10) * 3600 * RATE;
	struct audio_render_cfg c;
	struct clk_snapshot s;
	int64_t n, k0;

	(void)state;
	snap_playing(&s, bpm, 4);
	cfg_empty(&c);
	c.npulse = 1;
	audio_pulse_cfg_defaults(&c.pulse[0], 0);
	init_render(&c, 1);
	render_span(buf, &s, ANCHOR, g0, RATE * 2, 512);
	n = onsets(buf, 0, RATE * 2, 1, on, 4096);
	/* first 24 PPQN pulse at or after frame g0 */
	k0 = 0;
	while (frame_of(pos_time(k0 * UNITS / 24, bpm), ANCHOR) < g0)
		k0 += 1000;
	while (k0 > 0 && frame_of(pos_time((k0 - 1) * UNITS / 24, bpm), ANCHOR) >= g0)
		k0--;
	assert_true(n > 70);
	for (int64_t k = 0; k < n; k++)
		assert_int_equal(on[k] + g0,
				 frame_of(pos_time((k0 + k) * UNITS / 24, bpm), ANCHOR));
}

static void test_frame_math(void **state)
{
	(void)state;
	/* frame 1 at 48 kHz is at 20833.33 ns: the first frame at or after 20834 ns is 2 */
	assert_int_equal(audio_frame_at(0, 20833, 48000), 1);
	assert_int_equal(audio_frame_at(0, 20834, 48000), 2);
	assert_int_equal(audio_frame_at(0, 0, 48000), 0);
	assert_int_equal(audio_frame_at(1000, 0, 48000), 0);     /* 1 us before: frame 0 */
	assert_int_equal(audio_frame_at(100000, 0, 48000), -4);  /* -4.8 frames */
	assert_int_equal(audio_frame_time(0, 3, 48000), 62500);
	assert_int_equal(audio_frame_time(0, -1, 48000), -20834);
	assert_int_equal(audio_frame_at(0, INT64_C(3600000000000), 96000), INT64_C(345600000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_math),
		cmocka_unit_test(test_pulses_exact_every_ppqn),
		cmocka_unit_test(test_width_cut_level_polarity),
		cmocka_unit_test(test_offset_and_swing),
		cmocka_unit_test(test_click_accent_level_pitch),
		cmocka_unit_test(test_run_stop_and_play_interval),
		cmocka_unit_test(test_silent_when_stopped_or_no_snapshot),
		cmocka_unit_test(test_buffer_split_invariance),
		cmocka_unit_test(test_exact_after_ten_hours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
