/*
 * mock_midi.h - cmocka-scripted MIDI backend (implements midi_backend.h).
 *
 * Sends are checked against expectations, in order (the default):
 *   expect_midi_send(port, type, channel, d0, d1, due_ns, ret);
 * or, with m->record set, appended to m->sent[] for the test to inspect
 * (for tests that send hundreds of clocks).  drop_pending() is checked:
 *   expect_midi_drop(port, ret);
 * Input and notifications are scripted: mock_midi_input() queues an event
 * that recv() returns, in order, then -EAGAIN; mock_midi_notify() queues a
 * notification that the next service() returns.  port_add() records the
 * port and returns its index; flush() calls are counted.
 */
#ifndef PS_MOCKS_MOCK_MIDI_H
#define PS_MOCKS_MOCK_MIDI_H

#include <stdbool.h>
#include <stdint.h>

#include "midi/midi_backend.h"

#define MOCK_MIDI_QUEUE 64    /* scripted input events / notifications */
#define MOCK_MIDI_RECORD 1024 /* sends kept in record mode */

struct mock_midi_sent {
	int port;            /* as passed to send() */
	struct midi_msg msg; /* copy (sysex still points at the caller's chunk) */
	int64_t due_ns;      /* as passed to send() */
};

struct mock_midi {
	struct midi_backend base;                      /* must be first */
	bool record;                                   /* sends go to sent[], no expectations */
	struct midi_port_cfg port[MIDI_MAX_PORTS];     /* ports added */
	int nports;                                    /* entries of port in use */
	struct mock_midi_sent sent[MOCK_MIDI_RECORD];  /* record mode: sends, in order */
	int nsent;                                     /* entries of sent in use */
	struct midi_event_in in[MOCK_MIDI_QUEUE];      /* scripted input */
	int in_len, in_pos;                            /* queued, next to return */
	struct midi_notify notify[MOCK_MIDI_QUEUE];    /* scripted notifications */
	int nnotify;                                   /* entries of notify in use */
	int flushes;                                   /* flush() calls */
	int closes;                                    /* close() calls */
};

void mock_midi_init(struct mock_midi *m);

/* Queue one input event / one notification.  0, or -ENOSPC when full. */
int mock_midi_input(struct mock_midi *m, const struct midi_event_in *ev);
int mock_midi_notify(struct mock_midi *m, const struct midi_notify *n);

/* The function names that expectations are keyed on. */
int mock_midi_send(struct midi_backend *b, int port, const struct midi_msg *msg, int64_t due_ns);
int mock_midi_drop_pending(struct midi_backend *b, int port);

#define expect_midi_send(port_, type_, channel_, d0_, d1_, due_ns_, ret_) \
	do {                                                               \
		expect_value(mock_midi_send, port, port_);                 \
		expect_value(mock_midi_send, type, type_);                 \
		expect_value(mock_midi_send, channel, channel_);           \
		expect_value(mock_midi_send, d0, d0_);                     \
		expect_value(mock_midi_send, d1, d1_);                     \
		expect_value(mock_midi_send, due_ns, due_ns_);             \
		will_return(mock_midi_send, ret_);                         \
	} while (0)

#define expect_midi_drop(port_, ret_)                                      \
	do {                                                               \
		expect_value(mock_midi_drop_pending, port, port_);         \
		will_return(mock_midi_drop_pending, ret_);                 \
	} while (0)

#endif
