/*
 * midi_dump.h - MIDI backend that writes every sent event as one JSON Lines
 * record: for machines without ALSA, for --render, for tests.
 *
 * Record: the `phasorctl decode` record of the message (midi_json.h) with
 * three members first:
 *   {"port":0,"due_ns":123000000,"t_ns":122000417,"type":"clock"}
 *   port    our port index (port_add() order)
 *   due_ns  the due time given to send() (virtual under --render)
 *   t_ns    CLOCK_MONOTONIC when send() took the event (the dump's "wire")
 * Records appear in send() order.  The dump has no input.
 *
 * send() runs on the engine thread and never touches the file: it copies
 * the event into a ring; service() (control thread, woken by a 20 ms
 * periodic timerfd) or midi_dump_drain() formats and writes.
 */
#ifndef PS_MIDI_MIDI_DUMP_H
#define PS_MIDI_MIDI_DUMP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "midi/midi_backend.h"
#include "rt/ring.h"

#define MIDI_DUMP_QUEUE 1024 /* records between send() and the writer (power of 2) */

/* A clock for the "t_ns" field: returns ns; must be RT_SAFE (called by send). */
typedef int64_t (*midi_dump_clock_fn)(void *ctx) RT_SAFE;

struct midi_dump_cfg {
	const char *path;          /* file to write (truncated); NULL or "-" = stdout */
	midi_dump_clock_fn clock;  /* NULL = CLOCK_MONOTONIC; --render passes virtual time */
	void *clock_ctx;           /* its argument */
};

/* One event on its way from send() to the file. */
struct midi_dump_rec {
	int64_t due_ns;              /* as given to send() */
	int64_t t_ns;                /* CLOCK_MONOTONIC at send() */
	uint16_t port;               /* our port index */
	struct midi_msg msg;         /* the message; sysex points nowhere in the ring */
	struct midi_sysex_chunk sx;  /* copy of the SysEx chunk (the caller keeps its own) */
};

/* Counters: written by the thread named, read by anyone (relaxed). */
struct midi_dump_stats {
	_Atomic uint64_t tx_events; /* engine: events queued */
	_Atomic uint64_t tx_full;   /* engine: events dropped, queue full (-ENOSPC) */
	_Atomic uint64_t tx_errors; /* engine: invalid messages refused */
	_Atomic uint64_t written;   /* control: records written */
};

struct midi_dump {
	struct midi_backend base;                    /* must be first */
	FILE *f;                                     /* output */
	bool own_f;                                  /* we opened f (close it) */
	char path[256];                              /* for notifications: the file or "stdout" */
	int timer_fd;                                /* periodic: makes service() write */
	struct ring q;                               /* of struct midi_dump_rec, engine -> control */
	struct midi_dump_rec q_buf[MIDI_DUMP_QUEUE]; /* its storage */
	int dir[MIDI_MAX_PORTS];                     /* enum midi_port_dir of each port */
	int nports;                                  /* ports added */
	uint32_t connected_pending;                  /* bit i: port i's CONNECTED not reported yet */
	int write_err;                               /* first write error (-errno), reported once */
	struct midi_dump_stats stats;                /* counters */
	midi_dump_clock_fn clock;                    /* t_ns source, NULL = CLOCK_MONOTONIC */
	void *clock_ctx;                             /* its argument */
};

/*
 * midi_dump_open - open the output (the file is created or truncated).
 * Returns 0 or -errno.
 * Context: non-RT.
 */
int midi_dump_open(struct midi_dump *d, const struct midi_dump_cfg *cfg);

/*
 * midi_dump_drain - write every queued record now and flush.  Returns how
 * many were written, or -errno on a write error (records are still
 * consumed).  For single-threaded callers (--render, tests); service()
 * does the same.
 * Context: non-RT (the one thread that consumes the queue).
 */
int midi_dump_drain(struct midi_dump *d);

#endif
