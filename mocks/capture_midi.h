/*
 * capture_midi.h - a MIDI backend that records what the engine sends.
 *
 * Unlike the cmocka mock (expectations), this keeps the last
 * CAPTURE_MIDI_MAX sends in a fixed array and can also hand every send to a
 * checker callback, so a test can verify millions of events (24 hours of
 * clock) without storing them.  Its ops are RT_SAFE (no allocation), so it
 * serves in the RTSan suite too.
 */
#ifndef PS_MOCKS_CAPTURE_MIDI_H
#define PS_MOCKS_CAPTURE_MIDI_H

#include <stdint.h>

#include "midi/midi_backend.h"

#define CAPTURE_MIDI_MAX 4096
#define CAPTURE_MIDI_IN_MAX 65536 /* scripted input events */

struct timesrc;

struct capture_event {
	int port;            /* port passed to send() */
	struct midi_msg msg; /* the message */
	int64_t due_ns;      /* due time passed to send() */
};

typedef void (*capture_check_fn)(void *ctx, const struct capture_event *ev) RT_SAFE;

struct capture_midi {
	struct midi_backend base;                  /* must be first */
	struct capture_event ev[CAPTURE_MIDI_MAX]; /* recorded sends, oldest first */
	int n;                                     /* entries in ev (stops at the max) */
	uint64_t total;                            /* sends seen */
	uint64_t flushes;                          /* flush() calls */
	capture_check_fn check;                    /* optional per-send callback */
	void *check_ctx;                           /* its argument */
	int fail_with;                             /* if nonzero, send() returns this */
	struct midi_event_in in[CAPTURE_MIDI_IN_MAX]; /* scripted input, by time */
	int nin;                                   /* entries in `in` */
	int in_next;                               /* next one recv() returns */
	struct timesrc *ts;                        /* recv() returns input whose t_ns <= now */
};

/* capture_midi_input - script one input event, arriving at t_ns (events
 * must be added in time order).  Returns 0 or -ENOSPC. */
int capture_midi_input(struct capture_midi *c, int port, const struct midi_msg *m, int64_t t_ns);

void capture_midi_init(struct capture_midi *c);

#endif
