/*
 * notetrack.h - which notes are sounding, per output, channel, note and
 * owner, so that every one of them can be ended by an explicit note-off.
 *
 * The engine records each note-on it hands to a backend and each note-off
 * (note-on velocity 0 counts as a note-off).  Stop, mute, pattern stop or
 * switch, output loss, panic and shutdown then take exactly the sounding
 * notes of an output, a channel, an owner (a pattern) or all of them, and
 * send one note-off per outstanding note-on.  Everything is preallocated
 * in the struct; no call allocates, locks or blocks.
 *
 * Semantics (docs/adr/0007-smf-and-patterns.md has the reasons):
 * - A record is (output, channel, note, owner) with a count of note-ons
 *   not yet matched by a note-off.  Two note-ons of a key by one owner
 *   count 2: the note is sounding until the second note-off.  A release
 *   reports the count, and the caller sends that many note-offs: a
 *   receiver that stacks voices needs them all, one that keys by note
 *   ignores the extra ones.
 * - Owners are separate: pattern A's note-off never closes pattern B's
 *   note-on of the same key, and releasing A leaves B's record.  MIDI
 *   cannot end one of two identical notes, so the note-off sent for A may
 *   also silence B's on the receiver; `others` in the release tells the
 *   caller, who sends it all the same (a cut note is better than a stuck
 *   one) - B's own note-off later is harmless.
 * - A note-off for nothing the owner has sounding is counted as stray; the
 *   caller may still send it (harmless).
 * - When no record is free (NOTETRACK_CAP sounding keys), notetrack_on()
 *   refuses and the caller must not send that note-on: an untracked note
 *   could stick, a missing one cannot.
 * - The tracker records what was handed to the backend, which (with
 *   lookahead) may still be in the future: release note-offs must be
 *   scheduled no earlier than the last event already handed out for that
 *   output, or a queued note-on would sound after its note-off.
 */
#ifndef PS_ENGINE_NOTETRACK_H
#define PS_ENGINE_NOTETRACK_H

#include <stdint.h>

#include "midi/midi_backend.h"
#include "midi/midi_msg.h"
#include "rt/rt.h"

#define NOTETRACK_OUT_MAX MIDI_MAX_PORTS      /* outputs 0..31 */
#define NOTETRACK_KEYS (NOTETRACK_OUT_MAX * 16 * 128) /* (output, channel, note) keys */
#define NOTETRACK_CAP 2048                    /* (key, owner) records sounding at once */
#define NOTETRACK_NIL 0xFFFF                  /* no record */
#define NOTETRACK_OWNER_NONE 0xFFFE           /* owner of notes not from a pattern */
#define NOTETRACK_ANY (-1)                    /* filter: every output / channel / owner */
#define NOTETRACK_COUNT_MAX UINT16_MAX        /* note-ons of one key and owner at once */

struct notetrack_rec {
	uint16_t next;  /* next record of the same key (higher owner), or NIL; free list link */
	uint16_t owner; /* owner id (pattern), or NOTETRACK_OWNER_NONE */
	uint16_t count; /* outstanding note-ons, >= 1 while in use */
};

struct notetrack_stats {
	uint64_t ons;        /* note-ons recorded */
	uint64_t offs;       /* note-offs that matched a recorded note-on */
	uint64_t stray_offs; /* note-offs with nothing of that owner sounding on the key */
	uint64_t refused;    /* note-ons refused: no free record, or count at its maximum */
	uint64_t released;   /* note-ons ended by notetrack_take() */
};

struct notetrack {
	uint16_t head[NOTETRACK_KEYS];            /* first record of each key, or NIL */
	uint64_t busy[NOTETRACK_KEYS / 64];       /* bit set: the key has a record */
	struct notetrack_rec rec[NOTETRACK_CAP];  /* records */
	uint16_t free_head;                       /* first free record, or NIL */
	uint32_t nrec;                            /* records in use */
	uint32_t sounding;                        /* outstanding note-ons, all keys */
	uint32_t high_water;                      /* most records in use at once */
	struct notetrack_stats stats;             /* counters; owner thread */
};

/* What to release or count; NOTETRACK_ANY in a field matches everything. */
struct notetrack_filter {
	int out;     /* output, or NOTETRACK_ANY */
	int channel; /* 0..15, or NOTETRACK_ANY */
	int owner;   /* owner id, or NOTETRACK_ANY */
};

/* One released record: send `count` note-offs for it. */
struct notetrack_note {
	uint8_t out;     /* output */
	uint8_t channel; /* 0..15 */
	uint8_t note;    /* 0..127 */
	uint16_t owner;  /* who played it */
	uint16_t count;  /* its outstanding note-ons */
	uint32_t others; /* note-ons of the same key by other owners, still recorded */
};

/*
 * notetrack_init - nothing sounding, counters zero.
 * Context: non-RT, before use (writes ~150 KB).
 */
void notetrack_init(struct notetrack *nt);

/*
 * notetrack_on - record a note-on of `note` on (out, channel) by `owner`.
 * Returns 0; -EINVAL (out, channel, note or owner out of range); -ENOSPC
 * (no free record) or -EOVERFLOW (NOTETRACK_COUNT_MAX outstanding): both
 * counted as refused, and the caller must not send the note-on.
 * Context: RT; the owning thread.
 */
int notetrack_on(struct notetrack *nt, int out, int channel, int note, int owner) RT_SAFE;

/*
 * notetrack_off - record a note-off.  Returns the owner's note-ons of the
 * key still outstanding (0: the owner's note ended), -ENOENT when the
 * owner had nothing sounding there (counted as stray), -EINVAL.
 * Context: RT; the owning thread.
 */
int notetrack_off(struct notetrack *nt, int out, int channel, int note, int owner) RT_SAFE;

/*
 * notetrack_msg - record `m` if it is a note message: note-on with
 * velocity > 0 as notetrack_on(), note-off or note-on velocity 0 as
 * notetrack_off().  Returns what those return (note-off: 0 or -ENOENT),
 * 0 for any other message.
 * Context: RT; the owning thread.
 */
int notetrack_msg(struct notetrack *nt, int out, int owner, const struct midi_msg *m) RT_SAFE;

/*
 * notetrack_sounding - outstanding note-ons of one key, all owners.
 * Context: RT; the owning thread.
 */
uint32_t notetrack_sounding(const struct notetrack *nt, int out, int channel, int note) RT_SAFE;

/*
 * notetrack_count - outstanding note-ons matching `f`.
 * Context: RT; the owning thread.
 */
uint32_t notetrack_count(const struct notetrack *nt, const struct notetrack_filter *f) RT_SAFE;

/*
 * notetrack_take - remove up to `max` records matching `f` and write them
 * to `notes`, in (output, channel, note, owner) order.  Returns how many;
 * when that is `max`, call again for the rest.  A filter with a field out
 * of range matches nothing.
 * Context: RT; the owning thread.
 */
uint32_t notetrack_take(struct notetrack *nt, const struct notetrack_filter *f,
			struct notetrack_note *notes, uint32_t max) RT_SAFE;

#endif
