/*
 * WAV backend: renders in virtual time; the file read back (by an
 * independent reader, tests/wavread.c) has every click, pulse and run/stop
 * edge on its exact expected frame, across a tempo change; headers for
 * s16/s32/float and more than two channels; lock-step rendering next to
 * the MIDI engine puts every 24 PPQN audio pulse on the frame of the
 * matching MIDI clock's due time, across a tempo change made "now".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audio/audio_engine.h"
#include "audio/audio_wav.h"
#include "capture_midi.h"
#include "clock/timeline.h"
#include "clock/timesrc_virtual.h"
#include "engine/engine.h"
#include "wavread.h"

#define RATE 48000
#define T0 INT64_C(2000000000)      /* song position 0 */
#define START (T0 - INT64_C(100000007)) /* frame 0 of the file */
#define UNITS TL_UNITS_PER_BEAT
#define BPM_A INT64_C(123400000)    /* 123.4 BPM ... */
#define CHANGE_BEAT 8               /* ... until beat 8 ... */
#define BPM_B INT64_C(91700000)     /* ... then 91.7 BPM */
#define MS INT64_C(1000000)

static struct audio_engine ae;
static struct audio_wav wav;
static struct clk_snapshot fixed;
static char path[64];
static int64_t on[8192];

static bool fixed_snapshot(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	(void)ctx;
	*out = fixed;
	return true;
}

static int64_t ceil_div(__int128 a, __int128 b)
{
	__int128 q = a / b;

	if (a % b != 0 && a > 0)
		q++;
	return (int64_t)q;
}

static int64_t round_div(__int128 a, __int128 b)
{
	return (int64_t)((2 * a + b) / (2 * b));
}

/* Time of position `pos` (units, >= 0): 123.4 BPM from T0 up to beat 8,
 * 91.7 BPM after; the change's own time is rounded first (ADR 0005). */
static int64_t pos_time(int64_t pos)
{
	const __int128 ns_beat = (__int128)60000000000 * 1000000;
	int64_t pc = CHANGE_BEAT * UNITS, tc;

	if (pos <= pc)
		return T0 + round_div(pos * ns_beat, (__int128)UNITS * BPM_A);
	tc = T0 + round_div(pc * ns_beat, (__int128)UNITS * BPM_A);
	return tc + round_div((pos - pc) * ns_beat, (__int128)UNITS * BPM_B);
}

static int64_t frame_of(int64_t t_ns)
{
	return ceil_div((__int128)(t_ns - START) * RATE, 1000000000);
}

static void make_path(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/ps-audio-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static void snapshot_with_tempo_change(void)
{
	memset(&fixed, 0, sizeof(fixed));
	assert_int_equal(tl_init(&fixed.tl, T0, 0, BPM_A), 0);
	assert_int_equal(tl_set_tempo_at(&fixed.tl, CHANGE_BEAT * UNITS, BPM_B), 0);
	fixed.song_origin = 0;
	fixed.play_from = 0;
	fixed.play_until = INT64_MAX;
	fixed.transport = CLK_PLAYING;
	fixed.quantum = 4;
}

/* Render `seconds` through the WAV backend with `cfg` and read it back. */
static void render_file(const struct audio_cfg *cfg, int64_t seconds, struct wavread *w)
{
	char err[256] = "";

	make_path();
	if (audio_engine_init(&ae, cfg, fixed_snapshot, NULL, err, sizeof(err)))
		fail_msg("audio_engine_init: %s", err);
	if (audio_wav_open(&wav, path, &cfg->fmt, START, seconds * RATE, audio_engine_render_cb,
			   &ae, err, sizeof(err)))
		fail_msg("audio_wav_open: %s", err);
	assert_int_equal(wav.base.ops->start(&wav.base), 0);
	assert_int_equal(wav.base.ops->stop(&wav.base), 0);
	assert_int_equal(wav.base.ops->close(&wav.base), 0);
	if (wavread_load(w, path, err, sizeof(err)))
		fail_msg("%s", err);
	unlink(path);
	assert_int_equal(w->frames, seconds * RATE);
	assert_int_equal(w->rate, RATE);
	assert_int_equal(w->channels, cfg->fmt.channels);
}

/* Check one channel's onsets against positions k * step (+ offset). */
static void check_grid(const struct wavread *w, int ch, int64_t step, int64_t off_ns,
		       int64_t gap, float thresh)
{
	int64_t n = wavread_onsets(w, ch, thresh, gap, on, 8192), k = 0;

	for (; frame_of(pos_time(k * step) + off_ns) < w->frames; k++) {
		int64_t f = frame_of(pos_time(k * step) + off_ns);
		if (k >= n)
			fail_msg("channel %d: onset %lld missing (expected frame %lld)", ch,
				 (long long)k, (long long)f);
		if (on[k] != f)
			fail_msg("channel %d: onset %lld at frame %lld, expected %lld (%+lld)", ch,
				 (long long)k, (long long)on[k], (long long)f,
				 (long long)(on[k] - f));
	}
	assert_int_equal(n, k);
}

static void test_onsets_exact_across_tempo_change(void **state)
{
	struct audio_cfg cfg;
	struct wavread w;

	(void)state;
	snapshot_with_tempo_change();
	audio_cfg_defaults(&cfg);
	cfg.fmt.channels = 4;
	cfg.out.npulse = 2; /* click 0, 2 PPQN on 1 (defaults) */
	audio_pulse_cfg_defaults(&cfg.out.pulse[1], 2);
	cfg.out.pulse[1].offset_us = 1500;
	cfg.out.pulse[1].width_us = 2000;
	cfg.out.run = (struct audio_run_cfg){ .channel = 3, .level_pct = 100 };
	render_file(&cfg, 12, &w);
	assert_int_equal(w.format, 1);
	assert_int_equal(w.bits, 16);
	assert_true(w.extensible); /* 4 channels */

	check_grid(&w, 0, UNITS, 0, 48, 0.0f);            /* click on every beat */
	check_grid(&w, 1, UNITS / 2, 0, 1, 0.0f);         /* 2 PPQN */
	check_grid(&w, 2, UNITS / 24, 1500000, 1, 0.0f);  /* 24 PPQN, +1.5 ms */
	/* the beats straddle the change: 8 at 123.4 BPM, the rest at 91.7 */
	assert_true(wavread_onsets(&w, 0, 0.0f, 48, on, 8192) >= 8 + 6);
	/* downbeats louder: the first sample is the level (16-bit rounded) */
	for (int64_t k = 0; k < 12; k++) {
		float v = wavread_at(&w, frame_of(pos_time(k * UNITS)), 0);
		assert_float_equal(v, (k % 4 == 0 ? 1.0f : 0.7f), 1.0 / 32767);
	}
	/* run: high from song position 0 to the end */
	assert_int_equal(wavread_onsets(&w, 3, 0.5f, 1, on, 8192), 1);
	assert_int_equal(on[0], frame_of(T0));
	assert_true(wavread_at(&w, w.frames - 1, 3) == 1.0f);
	wavread_free(&w);
}

static void test_formats_and_headers(void **state)
{
	static const int fmts[] = { AUDIO_FMT_S16, AUDIO_FMT_S32, AUDIO_FMT_F32 };
	struct audio_cfg cfg;
	struct wavread w;

	(void)state;
	snapshot_with_tempo_change();
	for (size_t i = 0; i < 3; i++) {
		for (uint32_t ch = 1; ch <= 2; ch++) {
			audio_cfg_defaults(&cfg);
			cfg.fmt.sample_fmt = fmts[i];
			cfg.fmt.channels = ch;
			cfg.out.click.channel = -1;
			cfg.out.pulse[0].channel = (int)ch - 1;
			cfg.out.pulse[0].level_pct = 80;
			cfg.out.pulse[0].invert = ch == 2;
			render_file(&cfg, 3, &w);
			assert_int_equal(w.format, fmts[i] == AUDIO_FMT_F32 ? 3 : 1);
			assert_int_equal(w.bits, fmts[i] == AUDIO_FMT_S16 ? 16 : 32);
			assert_int_equal(w.extensible, fmts[i] != AUDIO_FMT_S16);
			assert_int_equal(w.fact_frames, fmts[i] == AUDIO_FMT_F32 ? 3 * RATE : 0);
			assert_int_equal(w.data_bytes, 3 * RATE * ch * (w.bits / 8));
			check_grid(&w, (int)ch - 1, UNITS / 2, 0, 1, 0.0f);
			{
				float v = wavread_at(&w, frame_of(T0), (int)ch - 1);
				float want = ch == 2 ? -0.8f : 0.8f;
				if (fmts[i] == AUDIO_FMT_F32)
					assert_true(v == want);
				else
					assert_float_equal(v, want, 1.0 / 32767);
			}
			wavread_free(&w);
		}
	}
}

static void test_open_errors(void **state)
{
	struct audio_format f;
	char err[256] = "";

	(void)state;
	audio_format_defaults(&f);
	assert_int_equal(audio_wav_open(&wav, "/nonexistent-dir/x.wav", &f, 0, RATE,
					audio_engine_render_cb, &ae, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-dir/x.wav: cannot create"));
	f.rate = 12345;
	assert_int_equal(audio_wav_open(&wav, "/tmp/x.wav", &f, 0, RATE, audio_engine_render_cb,
					&ae, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "audio rate = 12345: must be one of 44100, 48000, 88200, 96000");
}

/* --- lock-step with the MIDI engine ------------------------------------ */

static struct engine eng;
static struct capture_midi cap;
static struct timesrc_virtual vt;

static bool engine_snap(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	return engine_snapshot(ctx, out);
}

static void post(uint32_t type, uint32_t u32, int64_t i64)
{
	struct engine_cmd c = { .type = type, .u32 = u32, .i64 = i64 };

	assert_int_equal(engine_post(&eng, &c), 0);
}

static void test_lockstep_with_midi_engine(void **state)
{
	const int64_t period_ns = 512 * INT64_C(1000000000) / RATE + 1;
	const int64_t start = INT64_C(1000000000), end = start + 8000 * MS;
	struct engine_cfg ecfg;
	struct audio_cfg cfg;
	struct wavread w;
	char err[256] = "";
	int64_t n, clocks = 0;

	(void)state;
	engine_cfg_defaults(&ecfg);
	ecfg.lookahead_ns = 5 * MS;
	ecfg.bpm_micro = 120000000;
	ecfg.nout = 1;
	clk_output_cfg_defaults(&ecfg.out[0]);
	ecfg.out[0].transport = false;
	timesrc_virtual_init(&vt, start);
	capture_midi_init(&cap);
	assert_int_equal(engine_init(&eng, &vt.base, &cap.base, &ecfg), 0);

	audio_cfg_defaults(&cfg);
	cfg.fmt.channels = 1;
	cfg.out.click.channel = -1;
	cfg.out.pulse[0].channel = 0;
	cfg.out.pulse[0].ppqn = 24;
	cfg.out.pulse[0].width_us = 1000;
	make_path();
	assert_int_equal(audio_engine_init(&ae, &cfg, engine_snap, &eng, err, sizeof(err)), 0);
	assert_int_equal(audio_wav_open(&wav, path, &cfg.fmt, start, INT64_MAX,
					audio_engine_render_cb, &ae, err, sizeof(err)),
			 0);

	post(ENGINE_CMD_START, ENGINE_WHEN_NOW, 0);
	for (int64_t t = start; t < end; t += 5 * MS) {
		if (t == start + 3005 * MS)
			post(ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, 157300000);
		if (t == start + 5500 * MS)
			post(ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, 71000000);
		assert_int_equal(engine_run_until(&eng, t), 0);
		/* every frame rendered lies before `t`: a later change cannot touch it */
		assert_int_equal(audio_wav_render_until(&wav, t - period_ns), 0);
	}
	{
		struct clk_snapshot s;
		assert_true(engine_snapshot(&eng, &s));
		assert_int_equal(tl_bpm_at(&s.tl, INT64_MAX), 71000000); /* both changes made */
	}
	assert_int_equal(wav.base.ops->close(&wav.base), 0);
	assert_int_equal(wavread_load(&w, path, err, sizeof(err)), 0);
	unlink(path);

	n = wavread_onsets(&w, 0, 0.0f, 1, on, 8192);
	for (int i = 0; i < cap.n; i++) {
		int64_t f;
		if (cap.ev[i].msg.type != MIDI_CLOCK)
			continue;
		f = ceil_div((__int128)(cap.ev[i].due_ns - start) * RATE, 1000000000);
		if (f >= w.frames)
			break;
		if (clocks >= n || on[clocks] != f)
			fail_msg("clock %lld due %lld: audio onset at frame %lld, expected %lld",
				 (long long)clocks, (long long)cap.ev[i].due_ns,
				 (long long)(clocks < n ? on[clocks] : -1), (long long)f);
		clocks++;
	}
	assert_int_equal(clocks, n);
	assert_true(clocks > 24 * 14); /* ~ 8 s at 71..157 BPM */
	wavread_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_onsets_exact_across_tempo_change),
		cmocka_unit_test(test_formats_and_headers),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_lockstep_with_midi_engine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
