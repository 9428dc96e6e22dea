/*
 * audio_device.c - the device backend's period loop, output-time
 * derivation, xrun recovery and device-loss retry (model in
 * audio_device.h).
 *
 * Split by context: adev_cycle() and what it calls are RT_SAFE and run
 * every period; opening and closing the device (ALSA set-up calls, which
 * allocate) live in audio_device_step()'s non-RT branches, entered only
 * when the device is not there, so no RT period ever waits for them.
 *
 * Why prime with silence: a PCM reports meaningful time stamps only once
 * it runs, and it runs once its buffer is full.  Filling the first buffer
 * with silence costs one buffer of silence at start and after each xrun,
 * and in exchange every rendered frame has a measured output time.
 */
#include "audio/audio_device.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int64_t adev_abs(int64_t v) RT_SAFE
{
	return v < 0 ? -v : v;
}

/* Fill the device buffer with silence so that the stream starts. */
static int adev_prime(struct audio_device *d) RT_SAFE
{
	const struct audio_format *f = &d->base.fmt;
	struct audio_pcm_status st;

	for (uint32_t i = 0; i < f->periods + 2; i++) {
		int64_t w;
		int r = d->pcm->ops->status(d->pcm, &st);

		if (r < 0)
			return r;
		if (st.avail <= 0)
			break;
		w = d->pcm->ops->write(d->pcm, d->pb.silence,
				       st.avail < (int64_t)f->period ? (uint32_t)st.avail : f->period);
		if (w < 0)
			return (int)w;
	}
	d->anchored = false;
	return 0;
}

/* Errors from the device: recover what can be recovered on the spot. */
static int adev_fault(struct audio_device *d, int err) RT_SAFE
{
	atomic_store_explicit(&d->base.stats.last_err, err, memory_order_relaxed);
	if (err == -EAGAIN || err == -EINTR)
		return AUDIO_DEVICE_IDLE;
	if (err == -EPIPE || err == -ESTRPIPE) {
		audio_stat_inc(&d->base.stats.xruns);
		if (d->pcm->ops->recover(d->pcm, err) < 0 || adev_prime(d) < 0)
			return AUDIO_DEVICE_LOST;
		return AUDIO_DEVICE_XRUN;
	}
	return AUDIO_DEVICE_LOST; /* gone, stalled (-ETIMEDOUT), or unknown: start over */
}

static int64_t adev_round(double x) RT_SAFE
{
	return (int64_t)(x >= 0.0 ? x + 0.5 : x - 0.5);
}

/* (Re)start the loop at measured time `meas`. */
static void adev_anchor(struct audio_device *d, int64_t meas) RT_SAFE
{
	d->base_ns = meas;
	d->t_next = 0.0;
	d->since_anchor = 0;
	for (int i = 0; i < AUDIO_DEVICE_MINWIN; i++)
		d->errs[i] = 1e18; /* "no sample": never the minimum */
	d->anchored = true;
	atomic_store_explicit(&d->base.stats.meas_err_max_ns, 0, memory_order_relaxed);
}

/*
 * Output time of the next frame to write: measure, filter, set anchor_ns.
 * Returns true while acquiring (the first AUDIO_DEVICE_MINWIN periods after
 * (re)anchoring, written silent: the phase comes from the lower envelope of
 * their measurements before any pulse depends on it).
 */
static bool adev_track(struct audio_device *d, const struct audio_pcm_status *st, int64_t now)
	RT_SAFE
{
	int64_t ref = st->tstamp_ns ? st->tstamp_ns : now;
	int64_t meas = audio_frame_time(ref, st->delay, d->base.fmt.rate);
	double e, emin = 1e18, b, c;
	bool acquiring = false;
	int64_t ae;

	if (!d->anchored) {
		d->per_frame = 1e9 / d->base.fmt.rate;
		adev_anchor(d, meas);
	}
	e = (double)(meas - d->base_ns) - d->t_next;
	d->errs[d->since_anchor % AUDIO_DEVICE_MINWIN] = e;
	for (int i = 0; i < AUDIO_DEVICE_MINWIN; i++)
		emin = d->errs[i] < emin ? d->errs[i] : emin;
	ae = adev_round(e);
	atomic_store_explicit(&d->base.stats.meas_err_ns, ae, memory_order_relaxed);
	if (d->since_anchor >= AUDIO_DEVICE_MINWIN &&
	    adev_abs(ae) > atomic_load_explicit(&d->base.stats.meas_err_max_ns, memory_order_relaxed))
		atomic_store_explicit(&d->base.stats.meas_err_max_ns, adev_abs(ae),
				      memory_order_relaxed);
	if (d->since_anchor + 1 < AUDIO_DEVICE_MINWIN) {
		acquiring = true; /* measure only */
	} else if (d->since_anchor + 1 == AUDIO_DEVICE_MINWIN) {
		d->t_next += emin; /* phase of the lower envelope; rate nominal so far */
		for (int i = 0; i < AUDIO_DEVICE_MINWIN; i++)
			d->errs[i] -= emin;
	} else if (emin > (double)d->resync_ns || emin < -(double)d->resync_ns) {
		audio_stat_inc(&d->base.stats.resyncs);
		adev_anchor(d, meas);
		d->errs[0] = 0.0;
		acquiring = true;
	} else {
		/* second-order DLL on the lower envelope; the stored errors are
		 * relative to the prediction, so they move with its correction */
		bool locking = d->since_anchor < AUDIO_DEVICE_MINWIN + d->lock_periods;
		b = locking ? d->b_lock : d->b;
		c = locking ? d->c_lock : d->c;
		d->t_next += b * emin;
		d->per_frame += c * emin / d->base.fmt.period;
		for (int i = 0; i < AUDIO_DEVICE_MINWIN; i++)
			d->errs[i] -= b * emin;
	}
	d->since_anchor++;
	if (d->t_next > 1e9) { /* keep the double small: move the base */
		int64_t whole = (int64_t)d->t_next;
		d->base_ns += whole;
		d->t_next -= (double)whole;
	}
	d->anchor_ns = d->base_ns + adev_round(d->t_next);
	atomic_store_explicit(&d->base.stats.delay_ns, d->anchor_ns - now, memory_order_relaxed);
	return acquiring;
}

static int adev_cycle(struct audio_device *d) RT_SAFE
{
	struct audio_pcm_status st;
	uint32_t period = d->base.fmt.period;
	int64_t w;
	int r;

	r = d->pcm->ops->wait(d->pcm, d->wait_ms);
	if (r < 0)
		return adev_fault(d, r);
	r = d->pcm->ops->status(d->pcm, &st);
	if (r < 0)
		return adev_fault(d, r);
	if (st.avail < (int64_t)period)
		return AUDIO_DEVICE_IDLE;
	if (adev_track(d, &st, timesrc_now_ns(d->ts))) {
		w = d->pcm->ops->write(d->pcm, d->pb.silence, period);
	} else {
		audio_pbuf_render(&d->base, &d->pb, period, d->anchor_ns, 0);
		w = d->pcm->ops->write(d->pcm, d->pb.dev, period);
	}
	if (w < 0)
		return adev_fault(d, (int)w);
	d->t_next += (double)w * d->per_frame;
	audio_stat_inc(&d->base.stats.periods);
	return AUDIO_DEVICE_PERIOD;
}

/* Try to open and prime the device now.  Context: non-RT. */
static int adev_open(struct audio_device *d)
{
	int r;

	rt_assert_not_rt();
	if (d->ever_lost)
		audio_stat_inc(&d->base.stats.reopen_tries);
	r = d->pcm->ops->open(d->pcm, &d->base.fmt, d->err, sizeof(d->err));
	if (r == 0) {
		d->is_open = true;
		r = adev_prime(d);
		if (r < 0) {
			snprintf(d->err, sizeof(d->err), "audio device: cannot start: %s",
				 strerror(-r));
			d->pcm->ops->close(d->pcm);
			d->is_open = false;
		}
	}
	if (r < 0) {
		atomic_store_explicit(&d->base.stats.last_err, r, memory_order_relaxed);
		audio_stat_set_state(&d->base, AUDIO_STATE_LOST);
		d->next_retry_ns = timesrc_now_ns(d->ts) + d->cfg.retry_ns;
		return r;
	}
	if (d->ever_lost)
		audio_stat_inc(&d->base.stats.reopens);
	audio_stat_set_state(&d->base, AUDIO_STATE_RUNNING);
	return 0;
}

int audio_device_step(struct audio_device *d)
{
	int ev;

	if (!d->is_open) {
		if (d->must_close) { /* here, not where the loss was seen: that was RT */
			d->pcm->ops->close(d->pcm);
			d->must_close = false;
		}
		if (timesrc_now_ns(d->ts) < d->next_retry_ns) {
			timesrc_wait_until_ns(d->ts, d->next_retry_ns);
			return AUDIO_DEVICE_IDLE;
		}
		return adev_open(d) == 0 ? AUDIO_DEVICE_OPENED : AUDIO_DEVICE_OPEN_FAILED;
	}
	ev = adev_cycle(d);
	if (ev == AUDIO_DEVICE_LOST) {
		d->must_close = true;
		d->is_open = false;
		d->ever_lost = true;
		audio_stat_inc(&d->base.stats.losses);
		audio_stat_set_state(&d->base, AUDIO_STATE_LOST);
		d->next_retry_ns = timesrc_now_ns(d->ts) + d->cfg.retry_ns;
	}
	return ev;
}

static void *adev_thread(void *arg)
{
	struct audio_device *d = arg;
	bool rt = true;

	while (!atomic_load_explicit(&d->quit, memory_order_acquire)) {
		if (rt != d->is_open) { /* set-up calls are allowed only while not RT */
			rt = d->is_open;
			rt_thread_mark(rt);
		}
		audio_device_step(d);
	}
	return NULL;
}

static int adev_start(struct audio_backend *b)
{
	struct audio_device *d = (struct audio_device *)b;
	struct rt_thread_cfg tc = { .name = "ps-audio", .priority = d->cfg.priority,
				    .cpu = d->cfg.cpu };
	int r;

	rt_assert_not_rt();
	if (d->started)
		return -EALREADY;
	if (!d->is_open) {
		r = adev_open(d);
		if (r == -EINVAL)
			return r; /* refused format: a configuration error, say so now */
	}
	atomic_store(&d->quit, false);
	r = rt_thread_start(&d->thread, &tc, adev_thread, d);
	if (r)
		return r;
	d->started = true;
	return 0;
}

static int adev_stop(struct audio_backend *b)
{
	struct audio_device *d = (struct audio_device *)b;
	int r;

	rt_assert_not_rt();
	if (!d->started)
		return 0;
	atomic_store_explicit(&d->quit, true, memory_order_release);
	timesrc_wake(d->ts); /* end a retry wait; a PCM wait ends within wait_ms */
	r = rt_thread_join(&d->thread, NULL);
	d->started = false;
	audio_stat_set_state(b, AUDIO_STATE_STOPPED);
	return r;
}

static int adev_close(struct audio_backend *b)
{
	struct audio_device *d = (struct audio_device *)b;
	int r = adev_stop(b);

	if (d->is_open || d->must_close)
		d->pcm->ops->close(d->pcm);
	d->is_open = false;
	d->must_close = false;
	audio_pbuf_free(&d->pb);
	return r;
}

static const struct audio_backend_ops audio_device_ops = {
	/* "device": the PCM's own name is in pcm->ops->name */
	.name = "device",
	/* opens once on the caller's thread (-EINVAL: format refused), then
	 * starts the RT thread; an absent device is retried by the thread */
	.start = adev_start,
	/* joins the thread within one wait limit; the device stays open */
	.stop = adev_stop,
	/* stop, close the device, free the buffers */
	.close = adev_close,
};

void audio_device_cfg_defaults(struct audio_device_cfg *c)
{
	*c = (struct audio_device_cfg){ .priority = 70, .cpu = -1, .retry_ns = 1000000000 };
}

int audio_device_init(struct audio_device *d, struct audio_pcm *pcm, struct timesrc *ts,
		      const struct audio_format *f, const struct audio_device_cfg *cfg,
		      audio_render_cb cb, void *ctx, char *err, size_t errlen)
{
	int64_t buffer_ms;
	int r;

	rt_assert_not_rt();
	memset(d, 0, sizeof(*d));
	if (!pcm || !ts || !cb || !cfg || cfg->retry_ns <= 0) {
		snprintf(err, errlen, "audio device: needs a PCM, a time source, a render callback "
			 "and a positive retry interval");
		return -EINVAL;
	}
	r = audio_format_check(f, err, errlen);
	if (r)
		return r;
	audio_backend_base_init(&d->base, &audio_device_ops, f, cb, ctx);
	d->pcm = pcm;
	d->ts = ts;
	d->cfg = *cfg;
	{
		/* DLL gains (Adriaensen): w = 2 pi B T, b = sqrt(2) w, c = w^2 */
		double tp = (double)f->period / f->rate;
		double wl = 2.0 * 3.14159265358979 * AUDIO_DEVICE_BW_LOCK_HZ * tp;
		double wn = 2.0 * 3.14159265358979 * AUDIO_DEVICE_BW_HZ * tp;
		d->b_lock = 1.41421356237 * wl;
		d->c_lock = wl * wl;
		d->b = 1.41421356237 * wn;
		d->c = wn * wn;
		d->lock_periods = AUDIO_DEVICE_LOCK_NS / (int64_t)(tp * 1e9);
		d->resync_ns = (int64_t)(2 * tp * 1e9);
		if (d->resync_ns < AUDIO_DEVICE_RESYNC_MIN_NS)
			d->resync_ns = AUDIO_DEVICE_RESYNC_MIN_NS;
	}
	buffer_ms = (int64_t)f->period * f->periods * 1000 / f->rate + 1;
	d->wait_ms = (int)(4 * buffer_ms > AUDIO_DEVICE_WAIT_MIN_MS ? 4 * buffer_ms
								    : AUDIO_DEVICE_WAIT_MIN_MS);
	atomic_init(&d->quit, false);
	r = audio_pbuf_alloc(&d->pb, f);
	if (r)
		snprintf(err, errlen, "audio device: out of memory");
	return r;
}
