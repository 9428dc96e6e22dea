/*
 * patlib.h - the patterns the daemon plays: which engine slot plays which
 * .mid file of patterns.dir, with which settings ([patterns] and its
 * [pattern.NAME] overrides), and what a reload hands over to the running
 * engine.
 *
 * Slots are stable by name: a pattern keeps its slot across reloads (so a
 * playing one keeps playing), a new file takes a slot no pattern uses, a
 * removed file frees its slot.  A reloaded file that plays the same as
 * before keeps its pattern object, so the engine sees no change for it; one
 * that changed is a new object, which the engine takes over in the same
 * phase (engine.h, ENGINE_CMD_PATTERN_TABLE).  Pattern objects are owned by
 * the library whose table names them; after a hand-over the old library
 * frees the ones the new one does not share (patlib_release).
 *
 * Everything here runs on the control thread (or before the engine starts).
 */
#ifndef PS_CONTROL_PATLIB_H
#define PS_CONTROL_PATLIB_H

#include <stdint.h>

#include "control/config.h"
#include "engine/engine.h"
#include "engine/pattern.h"

struct patlib {
	struct engine_pat_table table;                        /* what the engine plays */
	struct pattern *pat[ENGINE_MAX_PATTERNS];             /* slot i's pattern (owned or shared) */
	char name[ENGINE_MAX_PATTERNS][PATTERN_NAME_MAX];     /* slot i's pattern name, "" = empty */
	struct config_pattern_opts opts[ENGINE_MAX_PATTERNS]; /* the settings it was loaded with */
	int count;                                            /* slots holding a pattern */
	uint32_t gen;                                         /* hand-over generation of `table` */
};

/*
 * patlib_load - read c's patterns.dir into `next`, each file with its own
 * settings (config_pattern_opts).  With `cur` (the running library),
 * names keep cur's slots and unchanged patterns keep cur's objects; `next`
 * then shares them.  Files that cannot be loaded, slots running out and
 * an unreadable directory are logged and skipped.  Returns the number of
 * patterns loaded (>= 0), or -ENOMEM (next is then empty and owns
 * nothing).  next->gen is cur's + 1 (or 0).
 * Context: control thread; file I/O, allocates.
 */
int patlib_load(struct patlib *next, const struct patlib *cur, const struct config *c);

/*
 * patlib_release - free the patterns of `old` that `keep` (may be NULL)
 * does not hold, and empty `old`.  Call once the engine no longer plays
 * `old`'s table (its hand-over was acknowledged, or it has ended).
 * Context: control thread.
 */
void patlib_release(struct patlib *old, const struct patlib *keep);

/* patlib_slot - the slot of pattern `name`, or -1.  Context: control thread. */
int patlib_slot(const struct patlib *l, const char *name);

/*
 * patlib_sorted - the slots holding a pattern, in name order, into
 * slots[ENGINE_MAX_PATTERNS]; returns how many.  Context: control thread.
 */
int patlib_sorted(const struct patlib *l, int *slots);

/* patlib_same_table - whether two tables play the same (no hand-over
 * needed).  Context: any. */
bool patlib_same_table(const struct engine_pat_table *a, const struct engine_pat_table *b);

#endif
