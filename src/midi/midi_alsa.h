/*
 * midi_alsa.h - MIDI backend on the ALSA sequencer (the default backend).
 *
 * One sequencer client (`client_name`, default "PhasorSync") owns our
 * ports and a private queue; other clients see the ports in `aconnect -l`
 * and may subscribe to them.  Ports are bound to peers by name: every peer
 * port whose "client:port" name contains the port's `connect` pattern is
 * connected, now and whenever it (re)appears; see midi_alsa.c for the model.
 *
 * Output is scheduled on our queue with real-time stamps when lookahead_ns
 * > 0 (the kernel's queue timer - the high-resolution one when available -
 * delivers it at due_ns), or direct when lookahead_ns == 0 (delivered when
 * send() is called).  Input is stamped by the kernel on our queue at
 * arrival and reported in CLOCK_MONOTONIC ns.
 */
#ifndef PS_MIDI_MIDI_ALSA_H
#define PS_MIDI_MIDI_ALSA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "midi/midi_backend.h"
#include "rt/pool.h"

#define MIDI_ALSA_CLIENT_NAME "PhasorSync" /* default client name */
#define MIDI_ALSA_MAX_PEERS 8              /* auto-connected peers per port */
#define MIDI_ALSA_NOTIFY_MAX 64            /* notifications held for service() */
#define MIDI_ALSA_QUEUE_HZ_MAX 6250        /* highest queue timer rate the kernel accepts */

/* The alsa-lib handle types, never defined here (only midi_alsa.c includes
 * <alsa/asoundlib.h>). */
struct _snd_seq;
struct _snd_seq_remove_events;
struct snd_seq_event;

struct midi_alsa_cfg {
	const char *client_name; /* sequencer client name; NULL = MIDI_ALSA_CLIENT_NAME */
	int64_t lookahead_ns;    /* > 0: scheduled output on our queue; 0: direct output */
	struct pool *sysex_pool; /* engine-owned struct midi_sysex_chunk pool for SysEx
				    input; NULL = SysEx input is dropped (counted) */
	unsigned queue_hz;       /* queue timer rate; 0 = MIDI_ALSA_QUEUE_HZ_MAX */
	bool system_timer;       /* use the system (jiffies) timer even where the
				    hrtimer exists: for comparisons only */
};

/* Counters: written by the thread named, read by anyone (relaxed). */
struct midi_alsa_stats {
	_Atomic uint64_t tx_events;     /* engine: events handed to the kernel */
	_Atomic uint64_t tx_full;       /* engine: sends dropped, kernel pool full (-ENOSPC) */
	_Atomic uint64_t tx_errors;     /* engine: sends refused otherwise */
	_Atomic uint64_t rx_events;     /* engine: messages returned by recv() */
	_Atomic uint64_t rx_overruns;   /* engine: kernel input FIFO overflows */
	_Atomic uint64_t rx_ignored;    /* engine: received events with no MIDI 1.0 meaning */
	_Atomic uint64_t rx_sysex_drop; /* engine: SysEx chunks dropped (no pool / pool empty) */
	_Atomic uint64_t announce_lost; /* control: announcement overflows (full rescan done) */
};

struct midi_alsa_peer {
	int client;                   /* peer address */
	int port;
	char name[MIDI_PORT_NAME_MAX]; /* "client:port" when it was connected */
	bool connected;               /* false: someone else disconnected it; left alone
				         until the peer port goes away and comes back */
};

struct midi_alsa_port {
	struct midi_port_cfg cfg;                       /* as given to port_add() */
	int seq_port;                                   /* port number on our client */
	_Atomic int subscribers;                        /* control: current connections;
							   send() drops when 0 */
	struct midi_alsa_peer peer[MIDI_ALSA_MAX_PEERS]; /* peers we auto-connected */
	int npeers;                                     /* entries of peer in use */
};

struct midi_alsa {
	struct midi_backend base;          /* must be first */
	struct _snd_seq *seq;              /* data client: ports, queue; after start only
					      the engine thread uses it */
	struct _snd_seq *ctl;              /* control client: announcements, connections,
					      clock sync; control thread only */
	struct _snd_seq_remove_events *rm; /* preallocated for drop_pending() */
	int client;                        /* data client number */
	int ctl_client;                    /* control client number */
	int queue;                         /* our queue */
	bool hrtimer;                      /* queue runs on the high-resolution timer */
	unsigned queue_hz;                 /* queue timer rate requested */
	int64_t lookahead_ns;              /* 0 = direct output */
	_Atomic int64_t q0_ns;             /* CLOCK_MONOTONIC ns at queue time 0 */
	int64_t last_sync_ns;              /* when q0_ns was last measured */
	struct pool *sysex_pool;           /* see midi_alsa_cfg */
	struct midi_alsa_port port[MIDI_MAX_PORTS]; /* index = our port index */
	int nports;                        /* ports added */
	struct midi_notify pend[MIDI_ALSA_NOTIFY_MAX]; /* not yet returned by service() */
	int npend;                         /* entries of pend in use */
	struct snd_seq_event *rx_ev;       /* engine: input event being split (alsa-lib's
					      buffer; valid until the next read) */
	int rx_step;                       /* engine: next message index within rx_ev */
	int64_t rx_last_ns;                /* engine: stamp of the last message returned */
	struct midi_alsa_stats stats;      /* counters */
};

/*
 * midi_alsa_open - open the sequencer clients and start our queue.  Returns
 * 0, or -errno: -ENOENT when there is no sequencer (/dev/snd/seq missing),
 * another -errno from alsa-lib otherwise.  On error nothing stays open.
 * Context: non-RT.
 */
int midi_alsa_open(struct midi_alsa *a, const struct midi_alsa_cfg *cfg);

#endif
