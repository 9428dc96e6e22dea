/*
 * audio_wav.c - WAV file backend (see audio_wav.h for the time model).
 *
 * The header is written at open with the size fields zero and patched at
 * close, so an interrupted render leaves a file whose header says "empty"
 * rather than one that claims data it lacks.  Samples are converted by
 * audio_convert() in host order; the host is little-endian (x86-64,
 * aarch64), which the build checks, so no byte swapping is needed.
 *
 * This backend has no RT thread: file I/O is not RT-safe and does not need
 * to be, since nothing here runs against a real clock.  The render callback
 * is still the RT_SAFE one the devices call, so an RTSan build checks it
 * here too.
 */
#include "audio/audio_wav.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "rt/rt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "audio_wav.c writes samples in host order and assumes a little-endian host"
#endif

#define WAV_FORMAT_PCM 0x0001
#define WAV_FORMAT_FLOAT 0x0003
#define WAV_FORMAT_EXTENSIBLE 0xFFFE
#define WAV_RIFF_MAX UINT64_C(0xFFFFFFFF)

/* KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: the format tag followed by the
 * fixed tail 0000-0010-8000-00aa00389b71. */
static const uint8_t wav_guid_tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
					   0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };

static uint8_t *wav_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* Build the header for `frames` frames into h; returns its length. */
static uint32_t wav_header(const struct audio_format *f, int64_t frames, uint8_t h[96])
{
	uint32_t bps = (uint32_t)audio_sample_bytes(f->sample_fmt);
	uint32_t block = bps * f->channels;
	uint64_t data = (uint64_t)frames * block;
	bool is_float = f->sample_fmt == AUDIO_FMT_F32;
	bool ext = f->channels > 2 || bps > 2;
	uint16_t tag = is_float ? WAV_FORMAT_FLOAT : WAV_FORMAT_PCM;
	uint32_t fmt_len = ext ? 40 : 16;
	uint32_t hdr = 12 + 8 + fmt_len + (is_float ? 12 : 0) + 8;
	uint8_t *p = h;

	memcpy(p, "RIFF", 4);
	p = wav_le(p + 4, hdr - 8 + data, 4);
	memcpy(p, "WAVEfmt ", 8);
	p = wav_le(p + 8, fmt_len, 4);
	p = wav_le(p, ext ? WAV_FORMAT_EXTENSIBLE : tag, 2);
	p = wav_le(p, f->channels, 2);
	p = wav_le(p, f->rate, 4);
	p = wav_le(p, (uint64_t)f->rate * block, 4);
	p = wav_le(p, block, 2);
	p = wav_le(p, bps * 8, 2);
	if (ext) {
		p = wav_le(p, 22, 2);       /* cbSize */
		p = wav_le(p, bps * 8, 2);  /* valid bits */
		p = wav_le(p, 0, 4);        /* channel mask: no speaker positions */
		p = wav_le(p, tag, 2);      /* sub-format GUID */
		memcpy(p, wav_guid_tail, sizeof(wav_guid_tail));
		p += sizeof(wav_guid_tail);
	}
	if (is_float) {
		memcpy(p, "fact", 4);
		p = wav_le(p + 4, 4, 4);
		p = wav_le(p, (uint64_t)frames, 4);
	}
	memcpy(p, "data", 4);
	p = wav_le(p + 4, data, 4);
	return (uint32_t)(p - h);
}

static int wav_write_header(struct audio_wav *w)
{
	uint8_t h[96];
	uint32_t n = wav_header(&w->base.fmt, w->frames, h);

	if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(h, 1, n, w->f) != n)
		return -errno ? -errno : -EIO;
	w->header_bytes = n;
	return 0;
}

int audio_wav_render_until(struct audio_wav *w, int64_t t_end_ns)
{
	const struct audio_format *f = &w->base.fmt;

	rt_assert_not_rt();
	if (w->err)
		return w->err;
	while (w->frames < w->length_frames &&
	       audio_frame_time(w->start_ns, w->frames, f->rate) < t_end_ns) {
		int64_t left = w->length_frames - w->frames;
		uint32_t n = left < (int64_t)f->period ? (uint32_t)left : f->period;
		size_t bytes = (size_t)n * f->channels * audio_sample_bytes(f->sample_fmt);

		if (w->frames + n > w->max_frames)
			return w->err = -EFBIG;
		audio_pbuf_render(&w->base, &w->pb, n, w->start_ns, w->frames);
		if (fwrite(w->pb.dev, 1, bytes, w->f) != bytes)
			return w->err = -errno ? -errno : -EIO;
		w->frames += n;
		audio_stat_inc(&w->base.stats.periods);
	}
	return 0;
}

static int wav_start(struct audio_backend *b)
{
	struct audio_wav *w = (struct audio_wav *)b;
	int r;

	audio_stat_set_state(b, AUDIO_STATE_RUNNING);
	r = audio_wav_render_until(w, INT64_MAX);
	audio_stat_set_state(b, AUDIO_STATE_STOPPED);
	return r;
}

static int wav_stop(struct audio_backend *b)
{
	(void)b;
	return 0;
}

static int wav_close(struct audio_backend *b)
{
	struct audio_wav *w = (struct audio_wav *)b;
	int r = w->err;

	rt_assert_not_rt();
	if (!w->f)
		return 0;
	if (!r)
		r = wav_write_header(w);
	if (fclose(w->f) != 0 && !r)
		r = -errno;
	w->f = NULL;
	audio_pbuf_free(&w->pb);
	return r;
}

static const struct audio_backend_ops audio_wav_ops = {
	/* "wav" */
	.name = "wav",
	/* renders length_frames in virtual time on the caller's thread */
	.start = wav_start,
	/* nothing runs between calls: no-op */
	.stop = wav_stop,
	/* patches the header sizes, closes the file; -errno if it failed */
	.close = wav_close,
};

int audio_wav_open(struct audio_wav *w, const char *path, const struct audio_format *f,
		   int64_t start_ns, int64_t length_frames, audio_render_cb cb, void *ctx,
		   char *err, size_t errlen)
{
	uint8_t h[96];
	int r;

	rt_assert_not_rt();
	memset(w, 0, sizeof(*w));
	r = audio_format_check(f, err, errlen);
	if (r)
		return r;
	if (!cb || length_frames < 0) {
		snprintf(err, errlen, "audio wav: no render callback or negative length");
		return -EINVAL;
	}
	audio_backend_base_init(&w->base, &audio_wav_ops, f, cb, ctx);
	w->start_ns = start_ns;
	w->length_frames = length_frames;
	w->max_frames = (int64_t)((WAV_RIFF_MAX - wav_header(f, 0, h)) /
				  ((uint64_t)f->channels * audio_sample_bytes(f->sample_fmt)));
	r = audio_pbuf_alloc(&w->pb, f);
	if (r) {
		snprintf(err, errlen, "audio wav: out of memory");
		return r;
	}
	w->f = fopen(path, "wb");
	if (!w->f) {
		r = -errno;
		snprintf(err, errlen, "audio wav %s: cannot create: %s", path, strerror(-r));
		goto out_buf;
	}
	r = wav_write_header(w);
	if (r) {
		snprintf(err, errlen, "audio wav %s: cannot write: %s", path, strerror(-r));
		goto out_file;
	}
	return 0;
out_file:
	fclose(w->f);
	w->f = NULL;
out_buf:
	audio_pbuf_free(&w->pb);
	return r;
}
