/*
 * audio_null.h - the null backend: renders on a timer, discards the audio.
 *
 * For machines without audio (and to keep the audio path exercised when no
 * device is configured): an RT thread waits on absolute deadlines through
 * its own time source (timesrc_posix: an absolute timerfd; no drift) and
 * renders one period per deadline.  Period n is rendered at
 * start + (n - 1) * period / rate and "heard" from start + n * period /
 * rate, i.e. with one period of latency like a device with a one-period
 * queue; frame times are exact from the start anchor.
 */
#ifndef PS_AUDIO_AUDIO_NULL_H
#define PS_AUDIO_AUDIO_NULL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "audio/audio_backend.h"
#include "audio/audio_priv.h"
#include "clock/timesrc.h"
#include "rt/rt.h"
#include "rt/rtthread.h"

struct audio_null {
	struct audio_backend base;  /* must be first */
	struct timesrc *ts;         /* the deadlines' clock; no other thread waits on it */
	struct audio_pbuf pb;       /* period buffers */
	int priority;               /* SCHED_FIFO priority of the thread, 0 = no RT */
	struct rt_thread thread;    /* the timer thread */
	bool started;               /* thread running */
	_Atomic bool quit;          /* asks the thread to leave */
	int64_t start_ns;           /* anchor: frame 0 is heard here */
	int64_t n;                  /* next period to render */
};

/*
 * audio_null_open - set up for format `f` on time source `ts` (required).
 * Returns 0, -EINVAL (message in err) or -ENOMEM.
 * Context: non-RT.
 */
int audio_null_open(struct audio_null *nb, struct timesrc *ts, const struct audio_format *f,
		    int priority, audio_render_cb cb, void *ctx, char *err, size_t errlen);

/*
 * audio_null_step - wait for the next period's deadline and render it.
 * Returns 1 when a period was rendered, 0 when the wait was woken early.
 * The thread runs this until stop(); tests call it in virtual time.
 * Context: RT (the timer thread), or the caller while no thread runs.
 */
int audio_null_step(struct audio_null *nb) RT_SAFE;

#endif
