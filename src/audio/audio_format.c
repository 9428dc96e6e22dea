/*
 * audio_format.c - format validation, frame <-> time arithmetic and sample
 * conversion (see audio_format.h for the model).
 *
 * Frame times use __int128 intermediates: a daemon up for a month at 96 kHz
 * has counted 2.5e11 frames, and 2.5e11 * 1e9 does not fit in int64_t.
 * Conversions clamp before scaling, so a sum of sources that overshoots
 * saturates instead of wrapping around (which would be heard as a loud
 * crack and seen by a sync input as a spurious edge).
 */
#include "audio/audio_format.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define AF_NS INT64_C(1000000000)

static const uint32_t af_rates[] = { 44100, 48000, 88200, 96000 };

void audio_format_defaults(struct audio_format *f)
{
	*f = (struct audio_format){
		.rate = 48000,
		.channels = 2,
		.period = 512,
		.periods = 3,
		.sample_fmt = AUDIO_FMT_S16,
	};
}

int audio_format_check(const struct audio_format *f, char *err, size_t errlen)
{
	bool rate_ok = false;

	for (size_t i = 0; i < sizeof(af_rates) / sizeof(af_rates[0]); i++)
		rate_ok |= f->rate == af_rates[i];
	if (!rate_ok) {
		snprintf(err, errlen, "audio rate = %u: must be one of 44100, 48000, 88200, 96000",
			 f->rate);
		return -EINVAL;
	}
	if (f->channels < 1 || f->channels > AUDIO_CHANNELS_MAX) {
		snprintf(err, errlen, "audio channels = %u: must be from 1 to %d", f->channels,
			 AUDIO_CHANNELS_MAX);
		return -EINVAL;
	}
	if (f->period < AUDIO_PERIOD_MIN || f->period > AUDIO_PERIOD_MAX ||
	    (f->period & (f->period - 1)) != 0) {
		snprintf(err, errlen,
			 "audio period = %u frames: must be a power of two from %d to %d "
			 "(e.g. 256, 512, 1024)",
			 f->period, AUDIO_PERIOD_MIN, AUDIO_PERIOD_MAX);
		return -EINVAL;
	}
	if (f->periods < AUDIO_PERIODS_MIN || f->periods > AUDIO_PERIODS_MAX) {
		snprintf(err, errlen, "audio periods = %u: must be from %d to %d", f->periods,
			 AUDIO_PERIODS_MIN, AUDIO_PERIODS_MAX);
		return -EINVAL;
	}
	if (audio_sample_bytes(f->sample_fmt) == 0) {
		snprintf(err, errlen, "audio format = %d: must be s16, s32 or float", f->sample_fmt);
		return -EINVAL;
	}
	return 0;
}

size_t audio_sample_bytes(int sample_fmt) RT_SAFE
{
	switch (sample_fmt) {
	case AUDIO_FMT_S16:
		return 2;
	case AUDIO_FMT_S32:
	case AUDIO_FMT_F32:
		return 4;
	default:
		return 0;
	}
}

const char *audio_sample_fmt_name(int sample_fmt)
{
	switch (sample_fmt) {
	case AUDIO_FMT_S16:
		return "s16";
	case AUDIO_FMT_S32:
		return "s32";
	case AUDIO_FMT_F32:
		return "float";
	default:
		return "?";
	}
}

static __int128 af_floor_div(__int128 a, __int128 b) RT_SAFE
{
	__int128 q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t audio_frame_time(int64_t anchor_ns, int64_t g, uint32_t rate) RT_SAFE
{
	return anchor_ns + (int64_t)af_floor_div((__int128)g * AF_NS, rate);
}

int64_t audio_frame_at(int64_t anchor_ns, int64_t t_ns, uint32_t rate) RT_SAFE
{
	/* g * 1e9 / rate >= dt  <=>  g >= ceil(dt * rate / 1e9) */
	__int128 dt = (__int128)t_ns - anchor_ns;

	return (int64_t)-af_floor_div(-dt * rate, AF_NS);
}

static float af_clamp(float x) RT_SAFE
{
	if (x > 1.0f)
		return 1.0f;
	if (x < -1.0f)
		return -1.0f;
	if (x != x) /* NaN: silence rather than full scale */
		return 0.0f;
	return x;
}

void audio_convert(const float *in, void *out, size_t n, int sample_fmt) RT_SAFE
{
	switch (sample_fmt) {
	case AUDIO_FMT_S16: {
		int16_t *o = out;
		for (size_t i = 0; i < n; i++) {
			float v = af_clamp(in[i]) * 32767.0f;
			o[i] = (int16_t)(v >= 0.0f ? v + 0.5f : v - 0.5f);
		}
		break;
	}
	case AUDIO_FMT_S32: {
		int32_t *o = out;
		for (size_t i = 0; i < n; i++) {
			double v = (double)af_clamp(in[i]) * 2147483647.0;
			o[i] = (int32_t)(v >= 0.0 ? v + 0.5 : v - 0.5);
		}
		break;
	}
	case AUDIO_FMT_F32:
		for (size_t i = 0; i < n; i++)
			((float *)out)[i] = af_clamp(in[i]);
		break;
	default:
		break;
	}
}
