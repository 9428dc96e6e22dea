/*
 * Audio configuration: the defaults are valid, and every bad value is
 * refused with a message naming the setting, the value and what is
 * allowed; the engine refuses to start on a bad configuration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "audio/audio_engine.h"

static struct audio_cfg cfg;
static char err[512];

static bool no_snapshot(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	(void)ctx;
	(void)out;
	return false;
}

static void expect_error(const char *msg)
{
	err[0] = '\0';
	assert_int_equal(audio_cfg_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
	audio_cfg_defaults(&cfg);
}

static void test_defaults_valid(void **state)
{
	static struct audio_engine ae;

	(void)state;
	audio_cfg_defaults(&cfg);
	assert_int_equal(audio_cfg_check(&cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.fmt.rate, 48000);
	assert_int_equal(cfg.fmt.period, 512);
	assert_int_equal(audio_engine_init(&ae, &cfg, no_snapshot, NULL, err, sizeof(err)), 0);
	assert_int_equal(ae.r.click_frames, 960); /* 20 ms at 48 kHz */
	cfg.fmt.rate = 12345;
	assert_int_equal(audio_engine_init(&ae, &cfg, no_snapshot, NULL, err, sizeof(err)), -EINVAL);
	audio_cfg_defaults(&cfg);
	assert_int_equal(audio_engine_init(&ae, &cfg, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "audio engine: no snapshot source");
}

static void test_format_errors(void **state)
{
	(void)state;
	audio_cfg_defaults(&cfg);
	cfg.fmt.rate = 12345;
	expect_error("audio rate = 12345: must be one of 44100, 48000, 88200, 96000");
	cfg.fmt.channels = 0;
	expect_error("audio channels = 0: must be from 1 to 32");
	cfg.fmt.channels = 33;
	expect_error("audio channels = 33: must be from 1 to 32");
	cfg.fmt.period = 500;
	expect_error("audio period = 500 frames: must be a power of two from 16 to 8192 "
		     "(e.g. 256, 512, 1024)");
	cfg.fmt.period = 8;
	expect_error("audio period = 8 frames: must be a power of two from 16 to 8192 "
		     "(e.g. 256, 512, 1024)");
	cfg.fmt.period = 16384;
	expect_error("audio period = 16384 frames: must be a power of two from 16 to 8192 "
		     "(e.g. 256, 512, 1024)");
	cfg.fmt.periods = 1;
	expect_error("audio periods = 1: must be from 2 to 16");
	cfg.fmt.sample_fmt = 9;
	expect_error("audio format = 9: must be s16, s32 or float");
	cfg.device[0] = '\0';
	expect_error("audio device: must be an ALSA PCM name (e.g. default, hw:1,0), null, or a "
		     "file name ending in .wav");
	cfg.priority = 100;
	expect_error("audio priority = 100: must be from 0 (no RT) to 99");
	cfg.retry_ms = 50;
	expect_error("audio retry = 50 ms: must be from 100 to 60000 ms");
}

static void test_channel_errors(void **state)
{
	(void)state;
	audio_cfg_defaults(&cfg);
	cfg.out.click.channel = 2;
	expect_error("audio click channel = 2: must be from 0 to 1 (the stream has 2 channels)");
	cfg.out.pulse[0].channel = 0;
	expect_error("audio pulse 1 channel = 0: channel 0 already carries click "
		     "(one source per channel)");
	cfg.out.run.channel = 1;
	expect_error("audio run/stop channel = 1: channel 1 already carries pulse 1 "
		     "(one source per channel)");
	cfg.out.npulse = 9;
	expect_error("audio pulse channels = 9: at most 8");
	/* off is off: no channel needed */
	cfg.out.click.channel = -1;
	cfg.out.npulse = 0;
	assert_int_equal(audio_cfg_check(&cfg, err, sizeof(err)), 0);
}

static void test_source_errors(void **state)
{
	(void)state;
	audio_cfg_defaults(&cfg);
	cfg.out.pulse[0].ppqn = 5;
	expect_error("audio pulse 1 ppqn = 5: must be one of 1, 2, 4, 8, 12, 16, 24, 48, 96");
	cfg.out.pulse[0].width_us = 50;
	expect_error("audio pulse 1 width = 50 us: must be from 100 to 100000 us");
	cfg.out.pulse[0].level_pct = 0;
	expect_error("audio pulse 1 level = 0 %: must be from 1 to 100 %");
	cfg.out.pulse[0].offset_us = -100001;
	expect_error("audio pulse 1 offset = -100001 us: must be from -100000 to 100000 us");
	cfg.out.pulse[0].swing_permille = 800;
	expect_error("audio pulse 1 swing = 80.0 %: must be from 50 to 75 %");
	cfg.out.pulse[0].swing_unit = 4;
	expect_error("audio pulse 1 swing unit = 4: must be 8 or 16");
	cfg.out.click.sound = 7;
	expect_error("audio click sound = 7: must be beep, wood or noise");
	cfg.out.click.level_pct = 101;
	expect_error("audio click level = 101 %: must be from 0 to 100 %");
	cfg.out.click.freq_hz = 20000;
	expect_error("audio click pitch = 20000 Hz: must be from 100 to 12000 Hz");
	cfg.out.click.length_ms = 0;
	expect_error("audio click length = 0 ms: must be from 1 to 100 ms");
	cfg.fmt.channels = 3;
	cfg.out.run = (struct audio_run_cfg){ .channel = 2, .level_pct = 0 };
	expect_error("audio run/stop level = 0 %: must be from 1 to 100 %");
}

static void test_backend_selection(void **state)
{
	(void)state;
	assert_int_equal(audio_cfg_backend("hw:1,0"), AUDIO_BACKEND_ALSA);
	assert_int_equal(audio_cfg_backend("default"), AUDIO_BACKEND_ALSA);
	assert_int_equal(audio_cfg_backend("null"), AUDIO_BACKEND_NULL);
	assert_int_equal(audio_cfg_backend("out.wav"), AUDIO_BACKEND_WAV);
	assert_int_equal(audio_cfg_backend("/tmp/click track.wav"), AUDIO_BACKEND_WAV);
	assert_int_equal(audio_cfg_backend(".wav"), AUDIO_BACKEND_ALSA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_valid),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_channel_errors),
		cmocka_unit_test(test_source_errors),
		cmocka_unit_test(test_backend_selection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
