/*
 * audio_alsa.h - ALSA PCM playback behind the struct audio_pcm seam.
 *
 * Pair it with the device backend (audio_device.h), which owns the thread
 * and all decisions:
 *
 *   struct audio_pcm *pcm;
 *   audio_alsa_pcm_new(&pcm, "hw:1,0");
 *   audio_device_init(&dev, pcm, &ts.base, &fmt, &dcfg, audio_engine_render_cb, &ae, ...);
 *   dev.base.ops->start(&dev.base);  ...  dev.base.ops->close(&dev.base);
 *   audio_alsa_pcm_del(pcm);
 *
 * The PCM is opened non-blocking (writes never wait; snd_pcm_wait() is the
 * one wait), with the exact rate, channel count and sample format asked
 * for (a device that refuses them is a configuration error, -EINVAL, not
 * silently resampled), a buffer near periods * period frames, playback
 * starting once the buffer is full, and CLOCK_MONOTONIC time stamps so
 * that snd_pcm_status()'s time stamp, avail and delay describe one
 * instant.  Use a hw: (or plughw:) device for real-time work: plugins such
 * as dmix or pulse may lock or allocate inside alsa-lib.
 */
#ifndef PS_AUDIO_AUDIO_ALSA_H
#define PS_AUDIO_AUDIO_ALSA_H

#include "audio/audio_pcm.h"

/*
 * audio_alsa_pcm_new - a closed ALSA PCM for `device` (e.g. "hw:1,0",
 * "default"); the device backend opens it.  Returns 0 or -ENOMEM /
 * -EINVAL (empty name).  Context: non-RT.
 */
int audio_alsa_pcm_new(struct audio_pcm **out, const char *device);

/* audio_alsa_pcm_del - close (if open) and free.  Context: non-RT. */
void audio_alsa_pcm_del(struct audio_pcm *p);

#endif
