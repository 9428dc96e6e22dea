/*
 * pattern.h - an immutable, preallocated loop of MIDI events built from a
 * Standard MIDI File.
 *
 * Built on the control side (pattern_new() allocates, through the injected
 * allocator, one block holding everything), then only read: the engine
 * plays it without allocating, through the RT_SAFE accessors below, as
 * `loop_start + event.pos` on the timeline.  A pattern is never changed
 * after pattern_new() returns, so the control thread may hand the pointer
 * to the engine through a ring and must keep it alive until the engine
 * says it has let go; pattern_del() then frees it.
 *
 * Conversion rules (docs/adr/0007-smf-and-patterns.md has the reasons):
 * - Positions: pos = tick * TL_UNITS_PER_BEAT / division, exact whenever
 *   division divides 1,612,800 * tick (every common division does);
 *   otherwise rounded to the nearest unit, ties up (counted in
 *   stats.rounded).  Rounding is monotone, so it never reorders a track.
 * - Order: by position; at equal positions by track, then file order.
 * - Kept: channel messages.  Note-on with velocity 0 becomes note-off
 *   velocity 64 (MIDI 1.0's equivalence), so a pattern holds two note
 *   kinds only.  With opts.channel >= 0 every channel message is moved to
 *   that channel (before note pairing: notes of different channels may
 *   merge into one key).  Dropped and counted: SysEx and F7 escapes (a
 *   struct midi_msg SysEx needs a pool-owned chunk, which an immutable,
 *   shared pattern cannot hand out), meta events (tempo changes are kept
 *   aside in `tempo` with opts.keep_tempo; the engine is the master and
 *   ignores them unless asked).
 * - Length: opts.length_bars bars if set; otherwise the last track end
 *   (End of Track) rounded up to whole bars, at least one bar.  A bar is
 *   the time signature at tick 0 (the first FF 58 there, in track order),
 *   4/4 when there is none; later meter changes do not change the bar.
 * - Events after the end are dropped; at exactly the end everything is
 *   kept except note-ons (a note-on there would sound in the next loop's
 *   time with no note-off of its own).
 * - Note pairing per (channel, note): note-ons are counted, a note-off
 *   closes one open note-on (two note-ons of a key need two note-offs); a
 *   note-off with no open note-on is dropped (stats.stray_offs); note-ons
 *   still open at the end get a note-off at the end (stats.closed_at_end),
 *   in channel then note order.  So every loop leaves no note sounding.
 * - Format 2 files (independent sequences, no common time) are rejected.
 */
#ifndef PS_ENGINE_PATTERN_H
#define PS_ENGINE_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#include "midi/midi_msg.h"
#include "midi/smf.h"
#include "rt/alloc.h"
#include "rt/rt.h"

#define PATTERN_NAME_MAX 64               /* name, with its NUL */
#define PATTERN_BEATS_MAX 65536           /* longest file: quarter notes up to its end */
#define PATTERN_BARS_MAX 4096             /* longest explicit length, bars */
#define PATTERN_DIR_MAX 256               /* patterns loaded from one directory */
#define PATTERN_OFF_VELOCITY 64           /* velocity of note-offs the pattern makes */

struct pattern_opts {
	int channel;     /* -1: the file's channels; 0..15: all channel messages to this one */
	int length_bars; /* 0: from the file; 1..PATTERN_BARS_MAX: this many bars */
	bool keep_tempo; /* collect the file's Set Tempo events into `tempo` */
};

struct pattern_event {
	int64_t pos;          /* units from the loop start, 0..length */
	struct midi_msg msg;  /* a channel message (never note-on velocity 0); sysex NULL */
};

struct pattern_tempo {
	int64_t pos;       /* units from the loop start, 0..length-1 */
	int64_t bpm_micro; /* tempo from there on, micro-BPM (not range-checked) */
};

struct pattern_stats {
	uint32_t rounded;       /* events whose tick fell between two units (rounded) */
	uint32_t stray_offs;    /* note-offs with no sounding note-on, dropped */
	uint32_t closed_at_end; /* note-offs added at the end for open note-ons */
	uint32_t sysex_dropped; /* SysEx and escape events dropped */
	uint32_t meta_dropped;  /* meta events not kept (Set Tempo kept with keep_tempo) */
	uint32_t beyond_end;    /* after the end (or note-ons / tempo changes at it), dropped */
};

struct pattern {
	char name[PATTERN_NAME_MAX];         /* e.g. the file name without ".mid" */
	int64_t length;                      /* loop length, units; a whole number of bars, > 0 */
	int64_t bar;                         /* bar length, units */
	int32_t bars;                        /* length / bar */
	uint8_t ts_num;                      /* time signature numerator */
	uint8_t ts_den;                      /* time signature denominator (1..64) */
	uint16_t division;                   /* the file's ticks per quarter note */
	uint32_t nevents;                    /* events */
	const struct pattern_event *events;  /* sorted by pos; same block as the pattern */
	uint32_t ntempo;                     /* tempo changes (keep_tempo only) */
	const struct pattern_tempo *tempo;   /* sorted by pos; NULL when none */
	struct pattern_stats stats;          /* what the conversion dropped, rounded, added */
	const struct alloc *alloc;           /* where the pattern's block came from */
};

/* pattern_opts_defaults - file channels, file length, no tempo.  Context: any. */
void pattern_opts_defaults(struct pattern_opts *o);

/*
 * pattern_new - convert a parsed file into a new pattern named `name`
 * (NULL: "").  `o` NULL means defaults.  Returns 0 and *out (free with
 * pattern_del()), or -errno with `err` (may be NULL) saying why:
 * -ENOTSUP (format 2), -EINVAL (bad options), -ENAMETOOLONG (name of
 * PATTERN_NAME_MAX bytes or more), -EFBIG (file longer than
 * PATTERN_BEATS_MAX quarter notes), -ENOMEM.
 * Context: non-RT, allocates.
 */
int pattern_new(const struct smf *s, const char *name, const struct pattern_opts *o,
		const struct alloc *a, struct pattern **out, struct smf_error *err);

/*
 * pattern_load_file - smf_load_file() then pattern_new().  Returns as they
 * do.  Context: non-RT, file I/O, allocates.
 */
int pattern_load_file(const char *path, const char *name, const struct pattern_opts *o,
		      const struct alloc *a, struct pattern **out, struct smf_error *err);

/* pattern_del - free a pattern (NULL is ignored).  Context: non-RT. */
void pattern_del(struct pattern *p);

/*
 * pattern_seek - index of the first event at or after `pos` (units from
 * the loop start), or p->nevents when there is none.  O(log n).
 * Context: RT; any thread (the pattern is immutable).
 */
uint32_t pattern_seek(const struct pattern *p, int64_t pos) RT_SAFE;

/*
 * pattern_event_at - event `i` (< p->nevents), or NULL.  The pointer lives
 * as long as the pattern.  Context: RT; any thread.
 */
const struct pattern_event *pattern_event_at(const struct pattern *p, uint32_t i) RT_SAFE;

/* Playback position in a pattern that loops on the timeline from `origin`:
 * loop k starts at origin + k * length. */
struct pattern_cursor {
	const struct pattern *pat; /* pattern played (not owned) */
	int64_t origin;            /* timeline position of the first loop's start */
	int64_t loop_start;        /* timeline position of the current loop's start */
	uint32_t next;             /* index of the next event in the current loop */
};

/*
 * pattern_cursor_init - cursor at the first event whose timeline position
 * is at or after `from` (from < origin counts as origin).  Events at the
 * very end of the loop before `from`'s loop (the note-offs at pos ==
 * length) belong to that earlier loop and are not replayed: a cursor that
 * is re-seeked mid-play must have its notes released by the note tracker.
 * Context: RT.
 */
void pattern_cursor_init(struct pattern_cursor *c, const struct pattern *p, int64_t origin,
			 int64_t from) RT_SAFE;

/*
 * pattern_cursor_peek - the next event and its timeline position; false
 * when the pattern has no events.  Does not move.  Context: RT.
 */
bool pattern_cursor_peek(const struct pattern_cursor *c, int64_t *pos,
			 const struct pattern_event **ev) RT_SAFE;

/*
 * pattern_cursor_next - step past the event peek() returned; after the last
 * event of a loop comes the first of the next loop (all of a loop's events,
 * including those at pos == length, come before the next loop's).
 * Context: RT.
 */
void pattern_cursor_next(struct pattern_cursor *c) RT_SAFE;

/* ---- a directory of .mid files ------------------------------------ */

/* Called once per file that could not be loaded; `file` is its name in
 * the directory.  Context: the caller's (non-RT). */
typedef void (*pattern_dir_err_cb)(void *ctx, const char *file, const struct smf_error *err);

struct pattern_set {
	uint32_t count;            /* patterns */
	struct pattern **items;    /* sorted by name (byte order) */
	const struct alloc *alloc; /* where `items` came from */
};

/*
 * pattern_dir_load - every "*.mid" file of `dir` (suffix in any case; names
 * starting with '.' skipped, e.g. "._x.mid" from macOS), sorted by name,
 * each converted with `o` and named after its file without the suffix.
 * A file that cannot be read or converted is reported through `cb` (may be
 * NULL) and skipped: the others still load.  Also reported: names too long,
 * a duplicate name (x.mid and x.MID), more than PATTERN_DIR_MAX files.
 * Returns the number of files reported (>= 0) and fills *set (free with
 * pattern_set_free(), also when it is empty), or -errno when the directory
 * cannot be read or memory runs out (*set is then empty).
 * Context: non-RT, file I/O, allocates.
 */
int pattern_dir_load(const char *dir, const struct pattern_opts *o, const struct alloc *a,
		     struct pattern_set *set, pattern_dir_err_cb cb, void *ctx);

/* Called once per file before it is loaded: fill `o` with the options
 * pattern `name` is converted with.  Context: the caller's (non-RT). */
typedef void (*pattern_dir_opts_cb)(void *octx, const char *name, struct pattern_opts *o);

/*
 * pattern_dir_load_each - pattern_dir_load() with options per pattern,
 * from `ocb`.  Returns as pattern_dir_load().
 * Context: non-RT, file I/O, allocates.
 */
int pattern_dir_load_each(const char *dir, pattern_dir_opts_cb ocb, void *octx,
			  const struct alloc *a, struct pattern_set *set, pattern_dir_err_cb cb,
			  void *ctx);

/*
 * pattern_equal - whether two patterns play the same: length, meter,
 * events and tempo map (names, divisions and statistics aside).  NULL
 * equals only NULL.  Context: any thread.
 */
bool pattern_equal(const struct pattern *a, const struct pattern *b);

/* pattern_set_free - free every pattern and the set.  Context: non-RT. */
void pattern_set_free(struct pattern_set *set);

/*
 * pattern_set_find - the pattern named `name`, or NULL.  Binary search.
 * Context: non-RT (the set's owner).
 */
const struct pattern *pattern_set_find(const struct pattern_set *set, const char *name);

#endif
