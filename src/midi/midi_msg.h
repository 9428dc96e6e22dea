/*
 * midi_msg.h - MIDI 1.0 messages as fixed-size values.
 *
 * A struct midi_msg is plain data: it can be copied through rings and
 * queues, it never points into a transient input buffer.  The only pointer
 * is `sysex`, into a chunk owned by a pool (struct midi_sysex_chunk), whose
 * owner is whoever holds the message; the consumer gives the chunk back to
 * its pool.  Channel messages keep their data bytes exactly as on the wire
 * (lossless: note-on with velocity 0 stays a note-on; the engine treats it
 * as a note-off).
 *
 * A SysEx message travels as one or more chunks, in order: the first has
 * MIDI_F_SYSEX_START, every chunk but the last has MIDI_F_SYSEX_CONT.  A
 * last chunk with MIDI_F_SYSEX_TRUNC means the receiver ran out of chunks
 * and dropped the rest of that message: a consumer that needs whole
 * messages (a patch dump, a forwarder) discards it.  Real-time messages may
 * sit between the chunks of one SysEx; nothing else does.
 */
#ifndef PS_MIDI_MIDI_MSG_H
#define PS_MIDI_MIDI_MSG_H

#include <stdint.h>

#include "rt/rt.h"

/* Message types: the status byte, channel nibble cleared for channel
 * messages. */
enum midi_type {
	MIDI_NOTE_OFF = 0x80,          /* data: note, velocity */
	MIDI_NOTE_ON = 0x90,           /* data: note, velocity */
	MIDI_POLY_PRESSURE = 0xA0,     /* data: note, pressure */
	MIDI_CONTROL_CHANGE = 0xB0,    /* data: controller, value */
	MIDI_PROGRAM_CHANGE = 0xC0,    /* data: program */
	MIDI_CHANNEL_PRESSURE = 0xD0,  /* data: pressure */
	MIDI_PITCH_BEND = 0xE0,        /* data: LSB, MSB (14 bits, 8192 = centre) */
	MIDI_SYSEX = 0xF0,             /* payload in `sysex` (without F0/F7) */
	MIDI_MTC_QUARTER_FRAME = 0xF1, /* data: value */
	MIDI_SONG_POSITION = 0xF2,     /* data: LSB, MSB (MIDI beats = 16ths) */
	MIDI_SONG_SELECT = 0xF3,       /* data: song */
	MIDI_TUNE_REQUEST = 0xF6,
	MIDI_CLOCK = 0xF8,
	MIDI_START = 0xFA,
	MIDI_CONTINUE = 0xFB,
	MIDI_STOP = 0xFC,
	MIDI_ACTIVE_SENSING = 0xFE,
	MIDI_RESET = 0xFF,
};

#define MIDI_SYSEX_CHUNK_MAX 256 /* payload bytes per SysEx chunk */

/* flags */
#define MIDI_F_SYSEX_CONT 0x01 /* SysEx chunk: more chunks of the same message follow */
#define MIDI_F_SYSEX_START 0x02 /* SysEx chunk: first chunk of its message (F0 precedes it) */
#define MIDI_F_SYSEX_TRUNC 0x04 /* SysEx chunk: last one delivered, the rest of the message was
				   dropped (chunk pool exhausted); never set with CONT */

struct midi_sysex_chunk {
	uint16_t len;                          /* payload bytes used */
	uint8_t data[MIDI_SYSEX_CHUNK_MAX];    /* payload, without F0/F7 */
};

struct midi_msg {
	uint8_t type;     /* enum midi_type */
	uint8_t channel;  /* 0..15 for channel messages, 0 otherwise */
	uint8_t data[2];  /* data bytes as on the wire; unused ones are 0 */
	uint8_t flags;    /* MIDI_F_* */
	struct midi_sysex_chunk *sysex; /* MIDI_SYSEX only: pool-owned chunk, else NULL */
};

/* Message helpers, usable on RT threads. */
static inline int midi_is_channel_type(uint8_t type) RT_SAFE
{
	return type >= 0x80 && type < 0xF0;
}

static inline int midi_is_realtime_type(uint8_t type) RT_SAFE
{
	return type >= 0xF8;
}

/* Number of data bytes that follow a status byte (0xF0 counts 0: SysEx is
 * variable); -1 for undefined status bytes (F4, F5, F9, FD) and data bytes.
 * A switch, not a static table: -Wfunction-effects forbids static locals in
 * nonblocking functions. */
static inline int midi_data_len(uint8_t status) RT_SAFE
{
	if (status < 0x80)
		return -1;
	if (status < 0xF0)
		return (status & 0xE0) == 0xC0 ? 1 : 2;
	switch (status) {
	case 0xF1: /* MTC quarter frame */
	case 0xF3: /* song select */
		return 1;
	case 0xF2: /* song position */
		return 2;
	case 0xF4:
	case 0xF5:
	case 0xF9:
	case 0xFD:
		return -1;
	default:
		return 0;
	}
}

#endif
