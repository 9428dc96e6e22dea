/*
 * mock_audio.c - simulated sound card in virtual time (see mock_audio.h).
 *
 * An underrun is the buffer running empty (frames played >= frames
 * written), which is when ALSA's default stop threshold stops a stream.
 */
#include "mock_audio.h"

#include "rt/rt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MA_E15 ((__int128)1000000000 * 1000000)

/* Frames the card has played by `t` in the current run. */
static int64_t ma_played(const struct mock_audio *m, int64_t t) RT_SAFE
{
	if (!m->running || t <= m->start_ns)
		return 0;
	return (int64_t)((__int128)(t - m->start_ns) * m->fmt.rate * (1000000 + m->ppm) / MA_E15);
}

/* Earliest time at which ma_played() >= n. */
static int64_t ma_time_of(const struct mock_audio *m, int64_t n) RT_SAFE
{
	__int128 den = (__int128)m->fmt.rate * (1000000 + m->ppm);

	return m->start_ns + (int64_t)((n * MA_E15 + den - 1) / den);
}

/* Heard time of frame j of the current run. */
static int64_t ma_heard(const struct mock_audio *m, int64_t j) RT_SAFE
{
	return m->start_ns +
	       (int64_t)((j + m->hw_delay) * MA_E15 / ((__int128)m->fmt.rate * (1000000 + m->ppm)));
}

/* Detect an underrun at the current time. */
static bool ma_underrun(struct mock_audio *m) RT_SAFE
{
	if (!m->xrun && m->running && ma_played(m, timesrc_now_ns(m->ts)) >= m->written) {
		m->xrun = true;
		m->underruns++;
	}
	return m->xrun;
}

static int ma_open(struct audio_pcm *p, const struct audio_format *f, char *err, size_t errlen)
{
	struct mock_audio *m = (struct mock_audio *)p;

	rt_assert_not_rt(); /* the contract: open and close are non-RT */
	m->opens++;
	if (!m->present && m->return_at_ns > 0 && timesrc_now_ns(m->ts) >= m->return_at_ns)
		m->present = true;
	if (!m->present) {
		snprintf(err, errlen, "mock audio: no such device");
		return -ENOENT;
	}
	if (m->open_err) {
		snprintf(err, errlen, "mock audio: refused (%d)", m->open_err);
		return m->open_err;
	}
	m->fmt = *f;
	m->buffer = (int64_t)f->period * f->periods;
	m->is_open = true;
	m->running = false;
	m->xrun = false;
	m->written = 0;
	m->prev_nonzero = false;
	return 0;
}

static void ma_close(struct audio_pcm *p)
{
	struct mock_audio *m = (struct mock_audio *)p;

	rt_assert_not_rt();
	m->closes++;
	m->is_open = false;
	m->running = false;
}

static int ma_wait(struct audio_pcm *p, int timeout_ms) RT_SAFE
{
	struct mock_audio *m = (struct mock_audio *)p;
	int64_t now = timesrc_now_ns(m->ts), t;

	m->waits++;
	if (!m->present)
		return -ENODEV;
	if (ma_underrun(m))
		return -EPIPE;
	if (!m->running)
		return 0; /* not started: the buffer has room until it is full */
	{
		/* until status() shows a period free: its pointer is lagged and
		 * moves in bursts */
		int64_t need = m->written - m->buffer + m->fmt.period;
		if (m->ptr_granularity > 1 && need % m->ptr_granularity)
			need += m->ptr_granularity - need % m->ptr_granularity;
		t = ma_time_of(m, need) + m->tstamp_lag_ns;
	}
	if (t < now)
		t = now;
	if (m->waits == m->late_at_wait)
		t += m->late_ns;
	if (m->wake_jitter_ns > 0) {
		uint64_t x = m->jitter_seed ? m->jitter_seed : UINT64_C(0x9e3779b97f4a7c15);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		m->jitter_seed = x;
		t += (int64_t)(x % (uint64_t)m->wake_jitter_ns);
	}
	if (t - now > (int64_t)timeout_ms * 1000000) {
		timesrc_wait_until_ns(m->ts, now + (int64_t)timeout_ms * 1000000);
		return -ETIMEDOUT;
	}
	timesrc_wait_until_ns(m->ts, t);
	return ma_underrun(m) ? -EPIPE : 0;
}

static int ma_status(struct audio_pcm *p, struct audio_pcm_status *st) RT_SAFE
{
	struct mock_audio *m = (struct mock_audio *)p;
	int64_t now = timesrc_now_ns(m->ts);
	int64_t queued;

	if (!m->present)
		return -ENODEV;
	if (ma_underrun(m))
		return -EPIPE;
	{
		int64_t at = now - m->tstamp_lag_ns, played = ma_played(m, at);
		if (m->ptr_granularity > 1)
			played -= played % m->ptr_granularity;
		queued = m->written - played;
		st->tstamp_ns = at;
	}
	st->avail = m->buffer - queued;
	st->delay = queued + m->hw_delay;
	return 0;
}

static bool ma_nonzero(const struct mock_audio *m, const void *buf, int64_t i) RT_SAFE
{
	int64_t idx = i * m->fmt.channels + m->capture_ch;

	switch (m->fmt.sample_fmt) {
	case AUDIO_FMT_S16:
		return ((const int16_t *)buf)[idx] != 0;
	case AUDIO_FMT_S32:
		return ((const int32_t *)buf)[idx] != 0;
	default:
		return ((const float *)buf)[idx] != 0.0f;
	}
}

static int64_t ma_write(struct audio_pcm *p, const void *buf, uint32_t frames) RT_SAFE
{
	struct mock_audio *m = (struct mock_audio *)p;
	int64_t n, avail;

	m->writes++;
	if (m->writes == m->vanish_at_write)
		m->present = false;
	if (!m->present)
		return -ENODEV;
	if (ma_underrun(m))
		return -EPIPE;
	avail = m->buffer - (m->written - ma_played(m, timesrc_now_ns(m->ts)));
	n = frames < avail ? frames : avail;
	for (int64_t i = 0; i < n; i++) {
		bool nz = ma_nonzero(m, buf, i);
		if (nz && !m->prev_nonzero && m->n_onsets < MOCK_AUDIO_ONSETS)
			m->onset_ns[m->n_onsets++] = m->running ? ma_heard(m, m->written + i) : -1;
		m->prev_nonzero = nz;
	}
	m->written += n;
	if (!m->running && m->written >= m->buffer) {
		m->running = true;
		m->start_ns = timesrc_now_ns(m->ts);
	}
	return n;
}

static int ma_recover(struct audio_pcm *p, int err) RT_SAFE
{
	struct mock_audio *m = (struct mock_audio *)p;

	(void)err;
	m->recovers++;
	if (!m->present)
		return -ENODEV;
	m->xrun = false;
	m->running = false;
	m->written = 0;
	m->prev_nonzero = false;
	return 0;
}

static const struct audio_pcm_ops mock_audio_ops = {
	.name = "mock",
	.open = ma_open,
	.close = ma_close,
	.wait = ma_wait,
	.status = ma_status,
	.write = ma_write,
	.recover = ma_recover,
};

void mock_audio_init(struct mock_audio *m, struct timesrc *ts)
{
	memset(m, 0, sizeof(*m));
	m->base.ops = &mock_audio_ops;
	m->ts = ts;
	m->present = true;
}
