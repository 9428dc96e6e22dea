/*
 * midi_auto.h - choosing and opening the MIDI backend (`midi.backend`).
 *
 *   auto     ALSA sequencer when the sequencer device exists, else the dump
 *            backend, with one warning line saying so (the default: a
 *            machine without ALSA still runs, and says what it does);
 *   alsa     the ALSA sequencer, or a clear error;
 *   rawmidi  raw devices (midi_rawmidi.h);
 *   dump     JSON Lines records (midi_dump.h).
 * The midi module does not log: the warning or error comes back as text for
 * the caller to log.
 */
#ifndef PS_MIDI_MIDI_AUTO_H
#define PS_MIDI_MIDI_AUTO_H

#include <stddef.h>

#include "midi/midi_alsa.h"
#include "midi/midi_backend.h"
#include "midi/midi_dump.h"
#include "midi/midi_rawmidi.h"

#define MIDI_AUTO_SEQ_DEVICE "/dev/snd/seq" /* what `auto` looks for */
#define MIDI_AUTO_MSG_MAX 256               /* bytes for the warning / error text */

enum midi_auto_kind {
	MIDI_AUTO_AUTO = 0,
	MIDI_AUTO_ALSA = 1,
	MIDI_AUTO_RAWMIDI = 2,
	MIDI_AUTO_DUMP = 3,
};

struct midi_auto_cfg {
	int kind;                        /* enum midi_auto_kind */
	const char *seq_device;          /* NULL = MIDI_AUTO_SEQ_DEVICE (tests point it elsewhere) */
	struct midi_alsa_cfg alsa;       /* used when the choice is alsa */
	struct midi_rawmidi_cfg rawmidi; /* used when the choice is rawmidi */
	struct midi_dump_cfg dump;       /* used when the choice is dump */
};

/* The backend chosen; every member starts with struct midi_backend. */
struct midi_auto {
	union {
		struct midi_backend base;    /* the ops, whichever was chosen */
		struct midi_alsa alsa;
		struct midi_rawmidi rawmidi;
		struct midi_dump dump;
	} u;
	int kind; /* enum midi_auto_kind actually opened (never MIDI_AUTO_AUTO) */
};

/*
 * midi_auto_kind_parse - "auto", "alsa", "rawmidi" or "dump" to its enum
 * value, or -EINVAL.  Context: any thread.
 */
int midi_auto_kind_parse(const char *s);

/*
 * midi_auto_kind_name - the name of an enum midi_auto_kind, or "?".  The
 * string is static.  Context: any thread.
 */
const char *midi_auto_kind_name(int kind);

/*
 * midi_auto_open - open the backend `cfg` asks for.  Returns 0 with `msg`
 * empty, or with one warning line when `auto` fell back to dump; or -errno
 * with `msg` saying what failed and why (nothing stays open).  `msg` gets
 * at most `len` bytes (MIDI_AUTO_MSG_MAX suffice).
 * Context: non-RT.
 */
int midi_auto_open(struct midi_auto *m, const struct midi_auto_cfg *cfg, char *msg, size_t len);

/* The backend's ops handle.  Context: any thread. */
static inline struct midi_backend *midi_auto_backend(struct midi_auto *m)
{
	return &m->u.base;
}

#endif
