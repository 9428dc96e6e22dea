/*
 * midi_rawmidi.h - MIDI backend on raw ALSA MIDI devices (e.g. hw:1,0,0).
 *
 * Bytes go straight to and from the device through our encoder and parser:
 * no sequencer in between, the lowest-latency path to a USB or DIN
 * interface.  Each port is one direction of one device, named by the
 * port's `connect` field ("" = the backend's default device).  Output is
 * always direct: send() writes at once and due_ns is not used (a raw device
 * has no queue), so the engine runs this backend with lookahead 0.  Input
 * is stamped by the kernel on arrival (CLOCK_MONOTONIC) where it supports
 * that, else when read.
 *
 * A device that fails (unplugged) is dropped by the engine side and
 * reopened by service() once it is back; see midi_rawmidi.c.
 */
#ifndef PS_MIDI_MIDI_RAWMIDI_H
#define PS_MIDI_MIDI_RAWMIDI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "midi/midi_backend.h"
#include "midi/midi_encode.h"
#include "midi/midi_parse.h"
#include "rt/pool.h"

#define MIDI_RAWMIDI_TX_MAX 1024  /* output bytes held per port while the device is busy */
#define MIDI_RAWMIDI_RX_MAX 256   /* input bytes per read */
#define MIDI_RAWMIDI_RXQ 64       /* parsed messages held per read */
#define MIDI_RAWMIDI_NOTIFY_MAX 64 /* notifications held for service() */

struct _snd_rawmidi; /* alsa-lib's handle, never defined here */

struct midi_rawmidi_cfg {
	const char *device;       /* default device for ports with connect = ""; NULL = "hw:0,0,0" */
	struct pool *sysex_pool;  /* engine-owned SysEx chunk pool for input; NULL = dropped */
	bool running_status;      /* output: omit repeated status bytes (off: robust to gaps) */
	int64_t retry_ns;         /* reopen a lost device this often; 0 = 1 s */
};

/* Counters: written by the thread named, read by anyone (relaxed). */
struct midi_rawmidi_stats {
	_Atomic uint64_t tx_bytes;   /* engine: bytes accepted by the kernel */
	_Atomic uint64_t tx_full;    /* engine: messages dropped, device buffer full (-ENOSPC) */
	_Atomic uint64_t tx_errors;  /* engine: messages refused (invalid, encoder state) */
	_Atomic uint64_t rx_bytes;   /* engine: bytes read */
	_Atomic uint64_t rx_events;  /* engine: messages returned by recv() */
	_Atomic uint64_t lost;       /* engine: device failures (port dropped until reopened) */
	_Atomic uint64_t reopened;   /* control: devices reopened after a failure */
};

/* Port states: who may touch the handle. */
#define MIDI_RAWMIDI_UP 0   /* open; only the engine uses it */
#define MIDI_RAWMIDI_LOST 1 /* the engine saw it fail and let go of it */
#define MIDI_RAWMIDI_DOWN 2 /* closed by the control side, reopen pending */

struct midi_rawmidi_port {
	struct midi_port_cfg cfg;          /* as given to port_add() */
	char device[MIDI_PORT_NAME_MAX];   /* device this port opens */
	struct _snd_rawmidi *h;            /* the open stream, NULL when DOWN */
	_Atomic int state;                 /* MIDI_RAWMIDI_UP / _LOST / _DOWN */
	int fd;                            /* input: the fd in the backend's epoll set */
	bool tstamp;                       /* input: the kernel stamps it */
	struct midi_parse parse;           /* input: byte parser */
	struct midi_encode enc;            /* output: byte encoder */
	uint8_t tx[MIDI_RAWMIDI_TX_MAX];   /* output: encoded bytes the device has not taken */
	size_t tx_len;                     /* bytes in tx */
	int64_t retry_at_ns;               /* control: next reopen attempt when DOWN */
};

struct midi_rawmidi {
	struct midi_backend base;               /* must be first */
	int epfd;                               /* epoll over the input fds: the engine's input fd */
	int timer_fd;                           /* periodic: makes service() run (lost devices) */
	struct pool *sysex_pool;                /* see midi_rawmidi_cfg */
	bool running_status;                    /* see midi_rawmidi_cfg */
	int64_t retry_ns;                       /* see midi_rawmidi_cfg */
	char device[MIDI_PORT_NAME_MAX];        /* default device */
	struct midi_rawmidi_port port[MIDI_MAX_PORTS]; /* index = our port index */
	int nports;                             /* ports added */
	/* engine-side input state */
	uint8_t rx[MIDI_RAWMIDI_RX_MAX];        /* bytes read, not yet parsed */
	size_t rx_len, rx_pos;                  /* valid bytes in rx, next to parse */
	int rx_port;                            /* port the bytes in rx came from */
	int64_t rx_t_ns;                        /* their arrival time */
	struct midi_msg rxq[MIDI_RAWMIDI_RXQ];  /* parsed, not yet returned */
	int rxq_len, rxq_pos;                   /* messages in rxq, next to return */
	int rx_next;                            /* port to read first next time (fairness) */
	/* control side */
	struct midi_notify pend[MIDI_RAWMIDI_NOTIFY_MAX]; /* not yet returned by service() */
	int npend;                              /* entries of pend in use */
	struct midi_rawmidi_stats stats;        /* counters */
};

/*
 * midi_rawmidi_open - set up the backend (no device is opened before
 * port_add()).  Returns 0 or -errno.
 * Context: non-RT.
 */
int midi_rawmidi_open(struct midi_rawmidi *r, const struct midi_rawmidi_cfg *cfg);

#endif
