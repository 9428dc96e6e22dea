/*
 * audio_null.c - timer-paced backend that discards its audio (see
 * audio_null.h).
 *
 * Deadlines are computed from the start anchor for every period
 * (audio_frame_time(start, n * period)), never by adding a period length,
 * so the pacing does not drift even though a 512-frame period at 44.1 kHz
 * is not a whole number of nanoseconds.  The wait is the time source's
 * (named exception "deliberate-wait" for timesrc_posix), so this file makes
 * no system call of its own.
 */
#include "audio/audio_null.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int audio_null_step(struct audio_null *nb) RT_SAFE
{
	const struct audio_format *f = &nb->base.fmt;
	int64_t deadline = audio_frame_time(nb->start_ns, (nb->n - 1) * (int64_t)f->period, f->rate);
	int w = timesrc_wait_until_ns(nb->ts, deadline);

	if (w != TIMESRC_DEADLINE && timesrc_now_ns(nb->ts) < deadline)
		return 0;
	audio_pbuf_render(&nb->base, &nb->pb, f->period, nb->start_ns,
			  nb->n * (int64_t)f->period);
	nb->n++;
	audio_stat_inc(&nb->base.stats.periods);
	return 1;
}

static void *anull_thread(void *arg) RT_SAFE
{
	struct audio_null *nb = arg;

	while (!atomic_load_explicit(&nb->quit, memory_order_acquire))
		audio_null_step(nb);
	return NULL;
}

static int anull_start(struct audio_backend *b)
{
	struct audio_null *nb = (struct audio_null *)b;
	struct rt_thread_cfg tc = { .name = "ps-audio", .priority = nb->priority, .cpu = -1 };
	int r;

	rt_assert_not_rt();
	if (nb->started)
		return -EALREADY;
	atomic_store(&nb->quit, false);
	/* period 0 is heard one period from now: render it at once */
	nb->start_ns = audio_frame_time(timesrc_now_ns(nb->ts), b->fmt.period, b->fmt.rate);
	nb->n = 0;
	r = rt_thread_start(&nb->thread, &tc, anull_thread, nb);
	if (r)
		return r;
	nb->started = true;
	audio_stat_set_state(b, AUDIO_STATE_RUNNING);
	return 0;
}

static int anull_stop(struct audio_backend *b)
{
	struct audio_null *nb = (struct audio_null *)b;
	int r;

	rt_assert_not_rt();
	if (!nb->started)
		return 0;
	atomic_store_explicit(&nb->quit, true, memory_order_release);
	timesrc_wake(nb->ts);
	r = rt_thread_join(&nb->thread, NULL);
	nb->started = false;
	audio_stat_set_state(b, AUDIO_STATE_STOPPED);
	return r;
}

static int anull_close(struct audio_backend *b)
{
	struct audio_null *nb = (struct audio_null *)b;
	int r = anull_stop(b);

	audio_pbuf_free(&nb->pb);
	return r;
}

static const struct audio_backend_ops audio_null_ops = {
	/* "null" */
	.name = "null",
	/* anchors frame 0 one period from now, starts the timer thread */
	.start = anull_start,
	/* wakes the timer wait and joins the thread */
	.stop = anull_stop,
	/* stop, free the buffers */
	.close = anull_close,
};

int audio_null_open(struct audio_null *nb, struct timesrc *ts, const struct audio_format *f,
		    int priority, audio_render_cb cb, void *ctx, char *err, size_t errlen)
{
	int r;

	rt_assert_not_rt();
	memset(nb, 0, sizeof(*nb));
	if (!ts || !cb) {
		snprintf(err, errlen, "audio null: needs a time source and a render callback");
		return -EINVAL;
	}
	r = audio_format_check(f, err, errlen);
	if (r)
		return r;
	audio_backend_base_init(&nb->base, &audio_null_ops, f, cb, ctx);
	nb->ts = ts;
	nb->priority = priority;
	atomic_init(&nb->quit, false);
	r = audio_pbuf_alloc(&nb->pb, f);
	if (r)
		snprintf(err, errlen, "audio null: out of memory");
	return r;
}
