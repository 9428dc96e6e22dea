/*
 * daemon.h - phasorsyncd's life cycle on the control thread: configuration,
 * memory locking, the engine thread, signals, and the control loop.
 */
#ifndef PS_CONTROL_DAEMON_H
#define PS_CONTROL_DAEMON_H

#include <stdbool.h>

#define DAEMON_MAX_SETS 64 /* --set options accepted */

struct daemon_opts {
	const char *config_path;             /* NULL: CONFIG_DEFAULT_PATH if it exists */
	const char *sets[DAEMON_MAX_SETS];   /* "section.key=value" overrides, in order */
	const char *set_origin[DAEMON_MAX_SETS]; /* option that produced it (for errors) */
	char set_buf[DAEMON_MAX_SETS][160];  /* storage for sets built from options */
	int nsets;                           /* entries of sets */
	int log_level;                       /* -1: from the config */
};

/*
 * daemon_load_config - defaults, then the file (explicit path, or the
 * default path if present), then the --set overrides.  Logs the error and
 * returns -EINVAL (or -errno) on failure; *c is then untouched.
 * Context: non-RT.
 */
struct config;
int daemon_load_config(const struct daemon_opts *o, struct config *c, bool quiet);

/*
 * daemon_open_midi - open the configured MIDI backend with a port per
 * output (and the follow clock input), filling ecfg's port indices; with a
 * clock (render) the dump backend is forced and stamps t_ns from it.
 * Logs and returns -errno on failure.  Context: non-RT.
 */
struct engine_cfg;
struct midi_auto;
#include "midi/midi_dump.h"
int daemon_open_midi(struct midi_auto *ma, const struct config *c, struct engine_cfg *ecfg,
		     midi_dump_clock_fn clock, void *clock_ctx);

/*
 * daemon_render - run the engine in virtual time for `duration_ns` and exit:
 * the dump backend prints exactly what real time would send; with
 * `audio_path` (a .wav file) the audio is rendered in lock-step.
 * Returns the process exit status.  Context: the main thread.
 */
#include <stdint.h>
int daemon_render(const struct daemon_opts *o, int64_t duration_ns, const char *audio_path);

/*
 * daemon_run - run until SIGINT/SIGTERM.  Returns the process exit status.
 * Context: the main thread.
 */
int daemon_run(const struct daemon_opts *o);

#endif
