/*
 * midi_encode.h - struct midi_msg to MIDI 1.0 bytes.
 *
 * The inverse of midi_parse: what midi_parse delivers, encoded in order,
 * parses back to the same messages.  State is a caller-owned struct
 * midi_encode per output stream: the last status byte (for optional running
 * status) and whether a SysEx is open.
 *
 * Running status (optional) omits a channel status byte equal to the last
 * one written.  Real-time messages neither use nor disturb it; System Common
 * and SysEx cancel it, as on the receiving side.  Some receivers resync
 * badly after a lost status byte: a stream that may have gaps should leave
 * running status off or re-init the encoder after a gap.
 *
 * SysEx: a chunk with MIDI_F_SYSEX_START is preceded by F0, a chunk without
 * MIDI_F_SYSEX_CONT is followed by F7 (also a MIDI_F_SYSEX_TRUNC chunk: the
 * wire cannot say "truncated", and an open SysEx would swallow what
 * follows).  Between the chunks of one SysEx only real-time messages may be
 * encoded; anything else is refused with -EBUSY.
 */
#ifndef PS_MIDI_MIDI_ENCODE_H
#define PS_MIDI_MIDI_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "midi/midi_msg.h"
#include "rt/rt.h"

/* Bytes one message can take: a whole SysEx in one chunk, with F0 and F7. */
#define MIDI_ENCODE_MAX (MIDI_SYSEX_CHUNK_MAX + 2)

struct midi_encode {
	uint8_t running_status; /* 1: omit a channel status byte equal to `last` */
	uint8_t last;           /* last channel status byte written, 0 = none */
	uint8_t in_sysex;       /* 1: a SysEx chunk with CONT was written; its message is open */
};

/*
 * midi_encode_init - a new output stream: no running status yet, no SysEx
 * open.  Returns 0, or -EINVAL for a NULL encoder.
 * Context: any thread.
 */
int midi_encode_init(struct midi_encode *e, bool running_status) RT_SAFE;

/*
 * midi_encode_msg - write `m` as bytes to `buf` (`n` bytes of room;
 * MIDI_ENCODE_MAX always suffices).  Returns the number of bytes written
 * (0 for an empty middle chunk of a SysEx), or, with nothing written and
 * the state unchanged: -ENOSPC (does not fit), -EINVAL (not a valid
 * message: unknown type, channel > 15, data or payload byte > 127, SysEx
 * without chunk or continuing one that is not open), -EBUSY (a SysEx is
 * open and `m` is neither real-time nor its next chunk).
 * Context: RT; the thread owning `e`.
 */
int midi_encode_msg(struct midi_encode *e, const struct midi_msg *m, uint8_t *buf,
		    size_t n) RT_SAFE;

#endif
