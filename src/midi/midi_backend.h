/*
 * midi_backend.h - the MIDI backend interface (the mockability seam).
 *
 * A backend moves struct midi_msg between the engine and the outside world:
 * the ALSA sequencer (midi_alsa.c), a raw device (midi_rawmidi.c), a JSON
 * Lines dump (midi_dump.c), or a cmocka mock (mocks/mock_midi.c).  Each
 * implementation embeds struct midi_backend as its FIRST member.
 *
 * Threads: set-up, ports, connections and service() run on the control
 * thread; send(), flush(), recv() and drop_pending() run on the engine
 * thread and are RT_SAFE.  The two sides never call into the backend at the
 * same time for the same port table change: ports are added before the
 * engine starts; connection state changes happen inside the backend and are
 * reported through service().
 *
 * Times are CLOCK_MONOTONIC ns (or virtual ns, when the engine runs on the
 * virtual time source: backends used with --render, i.e. dump and mock,
 * take due times as given and never read a clock for scheduling).
 */
#ifndef PS_MIDI_MIDI_BACKEND_H
#define PS_MIDI_MIDI_BACKEND_H

#include <poll.h>
#include <stdint.h>

#include "midi/midi_msg.h"
#include "rt/rt.h"

#define MIDI_PORT_NAME_MAX 64
#define MIDI_MAX_PORTS 32

enum midi_port_dir {
	MIDI_PORT_OUT = 1, /* we send */
	MIDI_PORT_IN = 2,  /* we receive */
};

struct midi_port_cfg {
	char name[MIDI_PORT_NAME_MAX];    /* our port's name, e.g. "clock-out" */
	int dir;                          /* enum midi_port_dir */
	char connect[MIDI_PORT_NAME_MAX]; /* auto-connect peers whose "client:port" name
					     contains this; "" = none */
};

struct midi_event_in {
	int64_t t_ns;        /* arrival time stamp */
	uint16_t port;       /* our input port index */
	struct midi_msg msg; /* the message (SysEx chunk owned by the receiver) */
};

/* Notifications from service(): what changed on the control side. */
enum midi_notify_type {
	MIDI_NOTIFY_CONNECTED = 1,    /* a peer was connected to one of our ports */
	MIDI_NOTIFY_DISCONNECTED = 2, /* a peer went away */
};

struct midi_notify {
	int type;                         /* enum midi_notify_type */
	uint16_t port;                    /* our port index */
	char peer[MIDI_PORT_NAME_MAX];    /* the peer's name */
};

struct midi_backend;

struct midi_backend_ops {
	/* Human-readable backend name ("alsa", "rawmidi", "dump", "mock"). */
	const char *name;

	/* Add a port; returns its index (0, 1, ...) or -errno.  Must be called
	 * before the engine starts.  Context: non-RT. */
	int (*port_add)(struct midi_backend *b, const struct midi_port_cfg *pc);

	/* Hand one message to the backend for output on `port` at `due_ns`.
	 * Scheduled backends queue it for the kernel to deliver at due_ns;
	 * direct backends output it now (the engine calls at due time).
	 * Returns 0, -ENOSPC (queue full: dropped, counted), -ENOTCONN (port
	 * has no peer: dropped silently), or -errno.  Never blocks.
	 * Context: RT (engine thread). */
	int (*send)(struct midi_backend *b, int port, const struct midi_msg *m,
		    int64_t due_ns) RT_SAFE;

	/* Push what send() batched to the kernel.  Returns 0 or -errno.
	 * Context: RT (engine thread). */
	int (*flush)(struct midi_backend *b) RT_SAFE;

	/* Cancel every event handed to send() for `port` (-1: all ports) that
	 * has not reached the wire yet (stop, panic).  Returns 0 or -errno.
	 * Context: RT (engine thread). */
	int (*drop_pending)(struct midi_backend *b, int port) RT_SAFE;

	/* Take one received event: 0 and *ev filled, or -EAGAIN when none.
	 * Context: RT (engine thread). */
	int (*recv)(struct midi_backend *b, struct midi_event_in *ev) RT_SAFE;

	/* File descriptors that become readable when recv() has input; the
	 * engine adds them to its wait.  Returns how many were written (<= max).
	 * Context: non-RT, before the engine starts. */
	int (*input_fds)(struct midi_backend *b, int *fds, int max);

	/* Control-side housekeeping: process port announcements, reconnect
	 * ports to peers that (re)appeared, drop vanished ones.  Writes up to
	 * `max` notifications, returns how many (or -errno).
	 * Context: non-RT (control thread), whenever a service fd is readable
	 * or periodically. */
	int (*service)(struct midi_backend *b, struct midi_notify *out, int max);

	/* File descriptors the control thread polls to call service().
	 * Returns how many were written (<= max).  Context: non-RT. */
	int (*service_fds)(struct midi_backend *b, int *fds, int max);

	/* Release everything.  Context: non-RT, engine stopped. */
	void (*close)(struct midi_backend *b);
};

struct midi_backend {
	const struct midi_backend_ops *ops; /* implementation */
};

#endif
