/*
 * smf.h - Standard MIDI File reader (SMF 1.0: formats 0, 1 and 2).
 *
 * smf_parse() turns the bytes of a file into tracks of events with
 * absolute tick times.  It runs on the control side and allocates (through
 * an injected allocator) exactly once, after the whole file has been
 * checked: the allocation is sized from what the file really contains
 * (events found, payload bytes present), never from a length field, so a
 * hostile header or chunk length cannot make it large.  A malformed,
 * truncated or hostile file gets -errno and a one-line message naming the
 * byte offset, what was wrong, and what was expected; the parser never
 * reads out of bounds and every loop advances through the buffer, so it
 * terminates.
 *
 * Rules (each has a row in tests/test_smf.c; the ADR docs/adr/0007 has the
 * reasons):
 * - The file starts with an MThd chunk of length >= 6 (extra header bytes
 *   are skipped).  Format 0 (exactly one track), 1 and 2 are read; a format
 *   above 2 is rejected.  Division must be ticks per quarter note, 1..32767;
 *   SMPTE divisions (bit 15 set) are rejected with -ENOTSUP.
 * - Then chunks: "MTrk" chunks are the tracks; chunks of any other type are
 *   skipped (counted).  Reading stops after as many MTrk chunks as MThd
 *   declares; bytes after that are ignored (counted).  A chunk whose length
 *   exceeds the bytes left, or a file that ends before all declared tracks,
 *   is an error.
 * - Inside a track: a delta-time (variable-length quantity of at most 4
 *   bytes) then an event.  Channel messages with running status (a data
 *   byte where a status byte may be; the previous channel status applies).
 *   Running status does not cross tracks.  It survives meta and SysEx
 *   events: SMF 1.0 says they cancel it, but a data byte there has no other
 *   meaning, and files in the wild rely on it.
 * - F0 (SysEx) and F7 (escape) events: a length VLQ then that many bytes.
 *   FF (meta) events: a type byte (< 0x80), a length VLQ, the bytes.
 *   Lengths are checked against the bytes left in the track.
 * - Meta events interpreted: End of Track (FF 2F, length 0) ends the track;
 *   bytes after it inside the chunk are ignored (counted).  Set Tempo
 *   (FF 51, length 3, tempo > 0), Time Signature (FF 58, length 4,
 *   numerator >= 1, denominator 2^0..2^6), Track Name (FF 03; the first one
 *   names the track).  Every other meta type is kept as raw bytes and not
 *   interpreted.
 * - A track chunk that ends between events without End of Track is
 *   accepted: the track ends at the tick of its last event (counted in
 *   `missing_eot`).  Ending inside an event is an error.
 * - Status bytes F1..F6 and F8..FE are errors inside a track (an SMF has
 *   no way to say how long they are; they belong in F7 escapes).
 * - At most SMF_EVENT_MAX events per file and SMF_FILE_MAX bytes (-E2BIG,
 *   -EFBIG).
 *
 * Track numbers in messages and in struct smf_error count from 0, in the
 * order of the MTrk chunks in the file.
 */
#ifndef PS_MIDI_SMF_H
#define PS_MIDI_SMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "midi/midi_msg.h"
#include "rt/alloc.h"

#define SMF_FILE_MAX (16u << 20)    /* largest file read or parsed: 16 MiB */
#define SMF_EVENT_MAX (1u << 18)    /* most events in one file (End of Track not counted) */
#define SMF_VLQ_MAX_BYTES 4         /* a variable-length quantity is at most 4 bytes */
#define SMF_NAME_MAX 64             /* track name kept, with its NUL */
#define SMF_ERR_MSG_MAX 200         /* struct smf_error message, with its NUL */
#define SMF_NO_OFFSET ((size_t)-1)  /* smf_error.offset when no byte is to blame */

/* Meta event types interpreted by the reader. */
#define SMF_META_TRACK_NAME 0x03
#define SMF_META_END_OF_TRACK 0x2F
#define SMF_META_TEMPO 0x51         /* 3 bytes: microseconds per quarter note, big-endian */
#define SMF_META_TIME_SIG 0x58      /* 4 bytes: numerator, log2(denominator), clocks, 32nds */

enum smf_event_kind {
	SMF_EV_CHANNEL = 1, /* channel message in `msg` (80..EF, data bytes as in the file) */
	SMF_EV_SYSEX = 2,   /* F0 event: `data` = the bytes after F0 and the length, usually ending F7 */
	SMF_EV_ESCAPE = 3,  /* F7 event: `data` = raw bytes to send as they are */
	SMF_EV_META = 4,    /* FF event: type in `meta`, its bytes in `data` */
};

struct smf_event {
	int64_t tick;         /* absolute: sum of the delta-times from the track start */
	uint32_t offset;      /* file offset of the event's delta-time */
	uint8_t kind;         /* enum smf_event_kind */
	uint8_t meta;         /* SMF_EV_META: the meta type; else 0 */
	struct midi_msg msg;  /* SMF_EV_CHANNEL: the message (never a SysEx); else all zero */
	uint32_t len;         /* SYSEX, ESCAPE, META: bytes at `data`; else 0 */
	const uint8_t *data;  /* into the struct smf's memory (lives until smf_free); NULL if len 0 */
};

struct smf_track {
	uint32_t offset;          /* file offset of the "MTrk" chunk header */
	uint32_t nevents;         /* events, End of Track excluded */
	struct smf_event *events; /* in file order, so ticks never decrease */
	int64_t end_tick;         /* tick of End of Track; without one, of the last event (0 if none) */
	bool has_eot;             /* the track ended with End of Track */
	char name[SMF_NAME_MAX];  /* first Track Name, truncated, control bytes as '?'; "" if none */
};

struct smf {
	uint16_t format;            /* 0, 1 or 2 */
	uint16_t division;          /* ticks per quarter note, 1..32767 */
	uint16_t ntracks;           /* tracks read (= MThd's count) */
	struct smf_track *tracks;   /* ntracks tracks, in file order */
	uint32_t nevents;           /* events in all tracks */
	uint32_t skipped_chunks;    /* chunks of unknown type skipped */
	uint32_t missing_eot;       /* tracks without End of Track */
	uint32_t trailing_bytes;    /* bytes after the last track, ignored */
	uint32_t after_eot_bytes;   /* bytes after End of Track inside track chunks, ignored */
	void *mem;                  /* the one allocation: tracks, events, payload bytes */
	const struct alloc *alloc;  /* where `mem` came from */
};

struct smf_error {
	int code;                   /* the -errno returned; 0 when there was no error */
	size_t offset;              /* file offset of the offending byte, or SMF_NO_OFFSET */
	int track;                  /* track the error is in, or -1 (header, chunk list, I/O) */
	char msg[SMF_ERR_MSG_MAX];  /* "offset 0x1a: what was wrong in track 2 (expected what)" */
};

/*
 * smf_parse - read `len` bytes of `buf` as a Standard MIDI File into *s.
 * The result does not point into `buf` (payloads are copied).  On success
 * returns 0 and the caller frees *s with smf_free().  On error *s is left
 * empty (nothing to free) and the return is:
 *   -EINVAL   malformed or truncated (the message says which byte and why)
 *   -ENOTSUP  valid but unsupported (SMPTE division, RIFF/RMID wrapper)
 *   -E2BIG    more than SMF_EVENT_MAX events
 *   -EFBIG    more than SMF_FILE_MAX bytes
 *   -ENOMEM   the allocator failed
 * `err` (may be NULL) receives the details; err->code == 0 on success.
 * `a` is the allocator (NULL: malloc); it must outlive *s.
 * Context: non-RT, allocates.
 */
int smf_parse(struct smf *s, const uint8_t *buf, size_t len, const struct alloc *a,
	      struct smf_error *err);

/*
 * smf_free - release what smf_parse() allocated and empty *s.  Safe on an
 * empty or already freed struct.
 * Context: non-RT.
 */
void smf_free(struct smf *s);

/*
 * smf_read_file - read a whole regular file of at most SMF_FILE_MAX bytes
 * into a buffer from `a` (the caller frees it with alloc_free(a, *buf)).
 * Returns 0, or -errno with `err` naming the problem: open/read errors as
 * the system reports them, -EINVAL for something that is not a regular
 * file, -EFBIG beyond SMF_FILE_MAX bytes, -ENOMEM.
 * Context: non-RT, blocks on file I/O, allocates.
 */
int smf_read_file(const char *path, const struct alloc *a, uint8_t **buf, size_t *len,
		  struct smf_error *err);

/*
 * smf_load_file - smf_read_file() then smf_parse(); the file's bytes are
 * freed before returning.  Returns as those do.
 * Context: non-RT, blocks on file I/O, allocates.
 */
int smf_load_file(struct smf *s, const char *path, const struct alloc *a, struct smf_error *err);

#endif
