/*
 * midi_parse.h - incremental MIDI 1.0 byte-stream parser.
 *
 * Bytes in, struct midi_msg out.  All state lives in a caller-owned struct
 * midi_parse; the parser never allocates, never blocks and does no I/O, so
 * it runs on the engine thread.  The output depends only on the byte
 * sequence, never on how it is split between calls: a message is delivered
 * by the byte that completes it, whichever call that byte arrives in.
 *
 * MIDI 1.0 rules implemented (each has a row in tests/test_midi_parse.c):
 * - Running status: data bytes after a complete channel message start
 *   another one with the same status.
 * - Real-time bytes (F8..FF) are delivered at once wherever they appear,
 *   also between a status byte and its data and inside SysEx, and change no
 *   state.  Undefined real-time bytes (F9, FD) are dropped and counted.
 * - System Common (F1..F7, including undefined F4/F5 and stray F7) and SysEx
 *   (F0) cancel running status: data bytes after them, beyond what the
 *   message takes, are stray.
 * - Any status byte other than real-time ends a SysEx: F7 normally, anything
 *   else as "unterminated" (delivered, and counted).  The end of the stream
 *   (midi_parse_end()) does the same.
 * - Undefined status bytes (F4, F5, F9, FD) produce nothing; they are
 *   counted.
 * - Stray data bytes (no status to belong to) and stray F7 (outside SysEx)
 *   are dropped and counted.
 * - A message still missing data bytes when a non-real-time status byte
 *   arrives is dropped and counted.
 * - SysEx of any length is delivered in order, as pool-backed chunks of up
 *   to MIDI_SYSEX_CHUNK_MAX bytes (flags as in midi_msg.h).  A full chunk
 *   is delivered, with CONT, when the next payload or real-time byte
 *   arrives, otherwise when its message ends: a payload of exactly k *
 *   MIDI_SYSEX_CHUNK_MAX bytes is k chunks (an empty last chunk only when a
 *   real-time byte sits on the last boundary).  A real-time byte inside a
 *   SysEx is delivered before the partial chunk holding the payload bytes
 *   that preceded it, after the full ones.
 * - Note-on with velocity 0 stays a note-on (lossless).
 *
 * Chunk ownership: each delivered SysEx message owns its chunk; the caller
 * returns it to the pool with pool_put().  The parser itself holds at most
 * one chunk at a time (the one being filled).  When the pool is empty the
 * SysEx payload is dropped and counted, and a chunk sequence already begun
 * ends with a MIDI_F_SYSEX_TRUNC chunk.
 */
#ifndef PS_MIDI_MIDI_PARSE_H
#define PS_MIDI_MIDI_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "midi/midi_msg.h"
#include "rt/pool.h"
#include "rt/rt.h"

/* Room the output array needs for any one input byte: a status byte can end
 * a SysEx and be a complete message itself (F6). */
#define MIDI_PARSE_OUT_MIN 2

struct midi_parse_stats {
	uint64_t bytes;               /* bytes consumed */
	uint64_t messages;            /* messages delivered (every SysEx chunk counts) */
	uint64_t stray_data;          /* data bytes with no status to belong to, dropped */
	uint64_t stray_eox;           /* F7 outside SysEx, dropped */
	uint64_t undefined;           /* undefined status bytes F4 F5 F9 FD, dropped */
	uint64_t incomplete;          /* messages cut short by a status byte or the end, dropped */
	uint64_t sysex_unterminated;  /* SysEx ended without F7 (delivered all the same) */
	uint64_t sysex_dropped;       /* SysEx messages cut or lost for want of a pool chunk */
	uint64_t sysex_dropped_bytes; /* payload bytes of those that were dropped */
};

struct midi_parse {
	struct pool *pool;              /* SysEx chunks (caller's); NULL: every SysEx is dropped */
	uint8_t status;                 /* status the next data byte belongs to, 0 = none */
	uint8_t need;                   /* data bytes `status` takes; 0 when status is 0 */
	uint8_t have;                   /* data bytes of the current message collected */
	uint8_t pending;                /* 1: a message was started and not yet delivered */
	uint8_t d0;                     /* first data byte, while a second is awaited */
	uint8_t sysex;                  /* MIDI_PARSE_SX_* */
#define MIDI_PARSE_SX_NONE 0            /*   not inside a SysEx */
#define MIDI_PARSE_SX_FILL 1            /*   inside a SysEx, filling `chunk` */
#define MIDI_PARSE_SX_DROP 2            /*   inside a SysEx, no chunk: dropping payload */
	uint8_t sysex_first;            /* 1 while `chunk` is the first chunk of its message */
	uint8_t simd;                   /* 1: the block path runs (x86-64 with AVX2, found
					   by midi_parse_init()); 0 turns it off */
	struct midi_sysex_chunk *chunk; /* chunk being filled (SX_FILL), else NULL */
	struct midi_parse_stats stats;  /* counters, owning thread reads them any time */
};

/*
 * midi_parse_init - empty parser (no running status, counters zero) taking
 * SysEx chunks from `pool` (objects of at least sizeof(struct
 * midi_sysex_chunk)), or from nowhere when `pool` is NULL.  Returns 0, or
 * -EINVAL for a NULL parser or a pool of too small objects.
 * Context: any thread, before use.
 */
int midi_parse_init(struct midi_parse *p, struct pool *pool);

/*
 * midi_parse_feed - parse up to `len` bytes of `buf`, writing at most `max`
 * messages to `out`.  Stops early, before a byte, when fewer than
 * MIDI_PARSE_OUT_MIN slots are left; *used tells how many bytes were
 * consumed, and the caller feeds the rest again after draining `out`.
 * Slots of `out` beyond the messages returned (within `max`) may be
 * overwritten; their contents mean nothing.
 * Returns the number of messages written, or -EINVAL (nothing consumed) when
 * `max` < MIDI_PARSE_OUT_MIN.  SysEx chunks in `out` belong to the caller.
 * Context: RT; the owning thread.
 */
int midi_parse_feed(struct midi_parse *p, const uint8_t *buf, size_t len, size_t *used,
		    struct midi_msg *out, size_t max) RT_SAFE;

/*
 * midi_parse_end - end of stream: an unterminated SysEx is delivered (its
 * last chunk, counted in sysex_unterminated), an incomplete message is
 * dropped and counted, running status is cleared.  Writes at most one
 * message to `out` (max >= 1) and returns how many, or -EINVAL if max is 0.
 * The parser can be fed again afterwards, as a new stream.  Also the way to
 * give up a stream (port closed): the caller puts the chunk back, if any.
 * Context: RT; the owning thread.
 */
int midi_parse_end(struct midi_parse *p, struct midi_msg *out, size_t max) RT_SAFE;

#endif
