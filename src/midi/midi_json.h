/*
 * midi_json.h - one struct midi_msg as one JSON object: the record format of
 * `phasorctl decode` and of the dump backend.
 *
 * Records (channels printed 1..16, values as on the wire unless noted):
 *   {"type":"note-off","channel":1,"note":60,"velocity":0}
 *   {"type":"note-on","channel":1,"note":60,"velocity":100}
 *   {"type":"poly-pressure","channel":1,"note":60,"pressure":30}
 *   {"type":"control-change","channel":1,"controller":7,"value":100}
 *   {"type":"program-change","channel":1,"program":5}
 *   {"type":"channel-pressure","channel":1,"pressure":30}
 *   {"type":"pitch-bend","channel":1,"value":-8192}     -8192..8191, 0 = centre
 *   {"type":"sysex","data":"7e7f0601"}                  payload hex, no F0/F7;
 *        "continued":true on every chunk but the last of a message;
 *        "truncated":true on a MIDI_F_SYSEX_TRUNC chunk (never from decode)
 *   {"type":"mtc-quarter-frame","value":37}
 *   {"type":"song-position","position":272}             MIDI beats, 0..16383
 *   {"type":"song-select","song":5}
 *   {"type":"tune-request"} {"type":"clock"} {"type":"start"}
 *   {"type":"continue"} {"type":"stop"} {"type":"active-sensing"}
 *   {"type":"reset"}
 */
#ifndef PS_MIDI_MIDI_JSON_H
#define PS_MIDI_MIDI_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "midi/midi_msg.h"

/* Buffer size that always holds one record without extra fields, NUL
 * included: the longest is a full continued, truncated SysEx chunk. */
#define MIDI_JSON_MAX (64 + 2 * MIDI_SYSEX_CHUNK_MAX)

/*
 * midi_json_type_name - the record's "type" string for a message type
 * (enum midi_type, channel nibble clear), or NULL when `type` is not one.
 * The string is static.
 * Context: any thread.
 */
const char *midi_json_type_name(uint8_t type);

/*
 * midi_json_format - write `m` as one JSON object, no newline, NUL-terminated.
 * Returns its length (without the NUL), -ENOSPC when `n` bytes do not hold
 * it (buf then holds "" if n > 0), or -EINVAL when `m` is not a valid
 * message (unknown type, channel > 15, data byte > 127, SysEx without chunk
 * or with a payload byte > 127).
 * Context: any thread, non-RT.
 */
int midi_json_format(const struct midi_msg *m, char *buf, size_t n);

/*
 * midi_json_format_ex - like midi_json_format(), with extra members written
 * verbatim: `pre` right after the opening brace, `post` right before the
 * closing one, each a comma-separated list of JSON members without leading
 * or trailing comma (e.g. "\"port\":0,\"t_ns\":12"), or NULL / "" for none.
 * The caller is responsible for their syntax.
 * Context: any thread, non-RT.
 */
int midi_json_format_ex(const struct midi_msg *m, const char *pre, const char *post,
			char *buf, size_t n);

#endif
