/*
 * audio_priv.h - helpers shared by the audio backends (not for their users).
 *
 * Every backend renders a period into a float buffer and converts it into
 * the device's sample format; struct audio_pbuf holds both buffers,
 * allocated once when the backend opens (non-RT) and reused by every
 * period on the RT thread.
 */
#ifndef PS_AUDIO_AUDIO_PRIV_H
#define PS_AUDIO_AUDIO_PRIV_H

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_backend.h"
#include "audio/audio_format.h"
#include "rt/rt.h"

struct audio_pbuf {
	float *f;          /* one period of float frames (render output) */
	void *dev;         /* the same period in the device's sample format */
	void *silence;     /* one period of zeros in the device's format (prefill) */
	size_t dev_bytes;  /* bytes of dev and of silence */
};

/* Allocate the buffers for one period of `f`.  Returns 0 or -ENOMEM.
 * Context: non-RT. */
static inline int audio_pbuf_alloc(struct audio_pbuf *p, const struct audio_format *f)
{
	size_t samples = (size_t)f->period * f->channels;

	rt_assert_not_rt();
	p->dev_bytes = samples * audio_sample_bytes(f->sample_fmt);
	p->f = calloc(samples, sizeof(float));
	p->dev = calloc(1, p->dev_bytes);
	p->silence = calloc(1, p->dev_bytes);
	if (!p->f || !p->dev || !p->silence) {
		free(p->f);
		free(p->dev);
		free(p->silence);
		memset(p, 0, sizeof(*p));
		return -ENOMEM;
	}
	return 0;
}

/* Release what audio_pbuf_alloc() allocated (NULL-safe).  Context: non-RT. */
static inline void audio_pbuf_free(struct audio_pbuf *p)
{
	rt_assert_not_rt();
	free(p->f);
	free(p->dev);
	free(p->silence);
	memset(p, 0, sizeof(*p));
}

/* Fill in the base handle.  Context: non-RT. */
static inline void audio_backend_base_init(struct audio_backend *b,
					   const struct audio_backend_ops *ops,
					   const struct audio_format *f, audio_render_cb cb,
					   void *ctx)
{
	memset(b, 0, sizeof(*b));
	b->ops = ops;
	b->fmt = *f;
	b->render = cb;
	b->render_ctx = ctx;
}

/*
 * audio_pbuf_render - render `frames` (<= period) frames starting at frame
 * `frame0` from `anchor_ns` and convert them into p->dev.
 * Context: RT.
 */
static inline void audio_pbuf_render(struct audio_backend *b, struct audio_pbuf *p,
				     uint32_t frames, int64_t anchor_ns, int64_t frame0) RT_SAFE
{
	b->render(b->render_ctx, p->f, frames, anchor_ns, frame0);
	audio_convert(p->f, p->dev, (size_t)frames * b->fmt.channels, b->fmt.sample_fmt);
}

/* Relaxed statistics updates.  Context: the backend's thread. */
static inline void audio_stat_inc(_Atomic uint64_t *c) RT_SAFE
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline void audio_stat_set_state(struct audio_backend *b, int state) RT_SAFE
{
	atomic_store_explicit(&b->stats.state, state, memory_order_relaxed);
}

#endif
