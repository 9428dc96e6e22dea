/*
 * smf_gen.h - Standard MIDI Files for tests, built independently of the
 * reader under test.
 *
 * 1. smf_hex(): a tiny notation for hand-built files, so that a test row
 *    reads like the bytes it describes:
 *        'MThd' 00000006 0000 0001 0060  'MTrk' L{ 00 903c64 60 803c40 00 ff2f00 }
 *    hex digits in pairs (spaces optional between pairs), 'text' as ASCII
 *    bytes, L{ ... } as the 32-bit big-endian length of what is inside
 *    followed by it, V(n) as n in decimal written as a variable-length
 *    quantity, and HH*N as N bytes HH.
 * 2. smf_gen_random(): a deterministic generator (seeded) of small valid
 *    files of every kind the reader accepts, with the model of what a
 *    correct reader must find in them.
 *
 * No cmocka here: the fuzz target uses it for its seed corpus.  Failures
 * (bad notation, out of room) abort.
 */
#ifndef PS_TESTS_SMF_GEN_H
#define PS_TESTS_SMF_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMF_GEN_TRACKS_MAX 4   /* tracks per generated file */
#define SMF_GEN_EVENTS_MAX 48  /* events per generated track */
#define SMF_GEN_DATA_MAX 40    /* payload bytes per generated SysEx/escape/meta */

/* smf_hex - parse the notation into out (cap bytes).  Returns the length. */
size_t smf_hex(const char *spec, uint8_t *out, size_t cap);

/* smf_vlq_put - write v (<= 0x0FFFFFFF) as a minimal VLQ; returns bytes written. */
size_t smf_vlq_put(uint8_t *out, uint32_t v);

struct smf_gen_event {
	int64_t tick;                    /* absolute */
	uint8_t kind;                    /* enum smf_event_kind values (1..4) */
	uint8_t meta;                    /* meta type */
	uint8_t status;                  /* channel: status byte */
	uint8_t d[2];                    /* channel: data bytes */
	uint32_t len;                    /* payload bytes */
	uint8_t data[SMF_GEN_DATA_MAX];  /* payload */
};

struct smf_gen_track {
	uint32_t n;                                   /* events (End of Track excluded) */
	struct smf_gen_event ev[SMF_GEN_EVENTS_MAX];  /* in file order */
	int64_t end_tick;                             /* End of Track tick, or last event's */
	bool has_eot;                                 /* written with End of Track */
	char name[64];                                /* first Track Name as the reader shows it */
};

struct smf_gen_model {
	int format;                                       /* 0, 1, 2 */
	int division;                                     /* ticks per quarter note */
	int ntracks;                                      /* tracks */
	struct smf_gen_track tr[SMF_GEN_TRACKS_MAX];      /* expected content */
	uint32_t skipped_chunks;                          /* unknown chunks written */
	uint32_t trailing_bytes;                          /* bytes after the last track */
	uint32_t after_eot_bytes;                         /* bytes after End of Track */
	uint32_t missing_eot;                             /* tracks without End of Track */
	size_t tracks_end;                                /* offset just after the last MTrk chunk */
};

/*
 * smf_gen_random - a valid file for `seed` (same seed, same bytes) into
 * buf (cap bytes; 64 KiB always suffices) and its model.  `notes_only`
 * restricts the content to what a pattern plays: notes, CCs, program
 * changes and pitch bends on channels 0..3, time signature and tempo at
 * tick 0, End of Track everywhere.  Returns the file length.
 */
size_t smf_gen_random(uint32_t seed, bool notes_only, uint8_t *buf, size_t cap,
		      struct smf_gen_model *m);

#endif
