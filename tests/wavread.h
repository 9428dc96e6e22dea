/*
 * wavread.h - test helper: read a RIFF/WAVE file (PCM 16/32 bit, IEEE float
 * 32 bit, plain or WAVE_FORMAT_EXTENSIBLE) into floats, and find pulse
 * onsets.  Written from the RIFF/WAVE format description, independently of
 * src/audio/audio_wav.c, so a test reading a file back checks the writer.
 */
#ifndef PS_TESTS_WAVREAD_H
#define PS_TESTS_WAVREAD_H

#include <stddef.h>
#include <stdint.h>

struct wavread {
	uint16_t format;    /* 1 PCM, 3 float (the sub-format when extensible) */
	int extensible;     /* header was WAVE_FORMAT_EXTENSIBLE */
	uint16_t channels;  /* interleaved channels */
	uint32_t rate;      /* frames per second */
	uint16_t bits;      /* bits per sample */
	int64_t frames;     /* frames of data */
	uint32_t data_bytes; /* the data chunk's size field */
	uint32_t fact_frames; /* the fact chunk's frame count (float), 0 if none */
	float *samples;     /* frames * channels, scaled to [-1, 1] (malloc'd) */
};

/* Read `path`; returns 0, or -1 with a message in err.  wavread_free() after. */
int wavread_load(struct wavread *w, const char *path, char *err, size_t errlen);
void wavread_free(struct wavread *w);

/* Sample of frame g, channel ch. */
float wavread_at(const struct wavread *w, int64_t g, int ch);

/*
 * Onsets on one channel: frames g with |x[g]| > thresh preceded by at least
 * min_gap frames with |x| <= thresh (the file's start counts as quiet).
 * min_gap 1 finds every rising edge of a pulse train; a few ms finds each
 * click once despite its zero crossings.  Writes up to max frame numbers
 * to out, returns how many onsets there were in all.
 */
int64_t wavread_onsets(const struct wavread *w, int ch, float thresh, int64_t min_gap,
		       int64_t *out, int64_t max);

#endif
