/*
 * config.h - the daemon's configuration: an INI file (libinih), every key
 * with a built-in default, every value validated.
 *
 * One table (config.c) describes each key: section, name, type, range or
 * choices, default.  Defaults are parsed through the same validators as file
 * values, so a default can never be out of range.  Loading never modifies
 * the caller's config unless the whole file is valid; errors name file:line,
 * the key, the value, and what is allowed.
 *
 * Clock outputs are sections [output.NAME] (NAME: letters, digits, '-', '_');
 * without any, one output named "clock" exists, so the daemon is useful with
 * no file at all.  Patterns take [patterns] settings, each of which a
 * section [pattern.NAME] (NAME: the file name without .mid) may override for
 * one pattern; a key it does not set stays as [patterns] says.
 */
#ifndef PS_CONTROL_CONFIG_H
#define PS_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clock/clkout.h"

#define CONFIG_DEFAULT_PATH "/etc/phasorsync/phasorsync.conf"
#define CONFIG_ERR_MAX 512   /* bytes for an error message */
#define CONFIG_MAX_OUTPUTS 16
#define CONFIG_NAME_MAX 32   /* output name, with NUL */
#define CONFIG_PATTERNS_DIR_DEFAULT "/var/lib/phasorsync/patterns" /* patterns.dir */
#define CONFIG_STR_MAX 128   /* port names, patterns, paths, with NUL */
#define CONFIG_MAX_PATTERNS 64 /* [pattern.NAME] sections */
#define CONFIG_PATTERN_NAME_MAX 64 /* pattern name, with NUL (PATTERN_NAME_MAX) */

enum config_midi_backend {
	CONFIG_MIDI_AUTO = 0,   /* ALSA if /dev/snd/seq exists, else dump */
	CONFIG_MIDI_ALSA = 1,
	CONFIG_MIDI_DUMP = 2,
	CONFIG_MIDI_RAWMIDI = 3,
};

struct config_output {
	char name[CONFIG_NAME_MAX];      /* from [output.NAME] */
	char port[CONFIG_STR_MAX];       /* our port's name ("" = the output name) */
	char connect[CONFIG_STR_MAX];    /* auto-connect to peers matching this ("" = none) */
	struct clk_output_cfg clk;       /* pulse grid, offset, swing, transport flags */
};

/* What a pattern plays with: [patterns], or a [pattern.NAME] override. */
struct config_pattern_opts {
	char output[CONFIG_NAME_MAX];     /* output it plays to, "" = the first */
	int channel;                      /* -1 = the file's channels, else 1..16 */
	int length_bars;                  /* 0: the file's own length; else this many bars */
	int tempo;                        /* 1: its tempo map sets the tempo; 0: ignored */
	char group[CONFIG_NAME_MAX];      /* exclusive group ("" = none): a launch stops the
					     others of its group at the same point */
};

/* Bits of config_pattern.set: the keys a [pattern.NAME] section set. */
#define CONFIG_PAT_OUTPUT 0x01
#define CONFIG_PAT_CHANNEL 0x02
#define CONFIG_PAT_LENGTH 0x04
#define CONFIG_PAT_TEMPO 0x08
#define CONFIG_PAT_GROUP 0x10

struct config_pattern {
	char name[CONFIG_PATTERN_NAME_MAX]; /* from [pattern.NAME] */
	unsigned set;                     /* CONFIG_PAT_*: the keys it set (the rest: [patterns]) */
	struct config_pattern_opts o;     /* the values of the keys it set */
};

/* Sync pulse channels the config file can set (pulse_*, pulse2_*, pulse3_*):
 * e.g. 2 PPQN for a Volca, 24 PPQN DIN sync and 4 PPQN for a modular. */
#define CONFIG_AUDIO_PULSES 3

struct config {
	struct {
		int priority;      /* SCHED_FIFO priority of the engine thread, 0 = no RT */
		int cpu;           /* CPU to pin the engine thread to, -1 = any */
		bool mlock;        /* lock all memory (mlockall) */
	} rt;
	struct {
		int level;         /* syslog level threshold (LOG_ERR..LOG_DEBUG) */
	} log;
	struct {
		int64_t bpm_micro;     /* initial tempo, micro-BPM */
		int quantum;           /* beats per bar */
		int64_t lookahead_us;  /* scheduling lookahead; 0 = direct output */
		bool start;            /* start the transport at launch */
	} clock;
	struct {
		int backend;                      /* enum config_midi_backend */
		char client_name[CONFIG_STR_MAX]; /* ALSA client name */
		char dump_file[CONFIG_STR_MAX];   /* dump backend target, "-" = stdout */
		char rawmidi_device[CONFIG_STR_MAX]; /* e.g. hw:1,0,0 */
	} midi;
	struct {
		bool enabled;                     /* start in follower mode */
		char input[CONFIG_STR_MAX];       /* our input port's name */
		char connect[CONFIG_STR_MAX];     /* auto-connect from sources matching this */
		int stop_on_loss;                 /* 1: clock loss stops; 0: free-run (enum key on_loss) */
	} follow;
	struct {
		bool enabled;                     /* run the audio engine */
		char device[CONFIG_STR_MAX];      /* ALSA PCM name, "null", or FILE.wav */
		int rate;                         /* frames per second */
		int channels;                     /* output channels */
		int period;                       /* frames per period */
		int periods;                      /* periods in the device buffer */
		int format;                       /* enum audio_sample_fmt */
		int priority;                     /* SCHED_FIFO priority of the audio thread */
		int click_channel;                /* 1-based, 0 = no click */
		int click_sound;                  /* enum audio_click_sound */
		int click_level;                  /* percent */
		int accent_level;                 /* percent, bar downbeats */
		int32_t click_offset_us;          /* latency compensation */
		struct {
			int channel;              /* 1-based, 0 = off */
			int ppqn;                 /* pulses per quarter note */
			int width_us;             /* high time */
			int level;                /* percent */
			int polarity;             /* 1 = negative-going */
			int32_t offset_us;        /* latency compensation */
			int swing;                /* permille, 500..750 */
		} pulse[CONFIG_AUDIO_PULSES];     /* keys pulse_*, pulse2_*, pulse3_* */
		int run_channel;                  /* 1-based DIN-sync run/stop line, 0 = none */
	} audio;
	struct {
		int port;                         /* UDP and TCP port */
		char bind[64];                    /* address to listen on */
		char allow[512];                  /* accepted source networks, CIDR list */
		bool udp;                         /* serve OSC over UDP */
		bool tcp;                         /* serve OSC over TCP */
	} osc;
	struct {
		char dir[CONFIG_STR_MAX];         /* directory of .mid files, "" = no patterns */
		char autostart[512];              /* pattern names launched at start, comma-separated */
		int quantize;                     /* default launch/stop point: enum engine_when */
		struct config_pattern_opts o;     /* every pattern's, unless [pattern.NAME] says */
	} patterns;
	int npat;                                       /* [pattern.NAME] sections */
	struct config_pattern pat[CONFIG_MAX_PATTERNS]; /* in file order */
	int nout;                                       /* outputs defined */
	int nout_explicit;                              /* 1 once a file or --set named an output */
	struct config_output out[CONFIG_MAX_OUTPUTS];   /* in file order */
};

/* config_defaults - every key at its built-in default.  Context: non-RT. */
void config_defaults(struct config *c);

/*
 * config_load_file - defaults, then every key of the file at `path`.
 * On success *c is replaced and 0 returned.  On error *c is untouched,
 * `err` holds "PATH:LINE: ..." (or "PATH: ..." when it cannot be read) and
 * -EINVAL (bad content) or -errno (unreadable) is returned.
 * Context: non-RT.
 */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/*
 * config_set - apply one "section.key=value" assignment (command line
 * --set), e.g. "clock.tempo=121.5" or "output.drums.offset_us=-2000".
 * On error *c is untouched and `err` explains; returns -EINVAL.
 * Context: non-RT.
 */
int config_set(struct config *c, const char *assignment, char *err, size_t errlen);

/*
 * config_check - cross-key rules (e.g. a negative output offset may not
 * exceed the lookahead).  Returns 0 or -EINVAL with `err` set.
 * Context: non-RT.
 */
int config_check(const struct config *c, char *err, size_t errlen);

/*
 * config_print - write every key with its current value, INI form.
 * Context: non-RT.
 */
void config_print(const struct config *c, FILE *f);

/* config_audio - the audio engine's settings from [audio].  Context: any. */
struct audio_cfg;
void config_audio(const struct config *c, struct audio_cfg *a);

/*
 * config_pattern_opts - the settings pattern `name` plays with: [patterns]
 * with what [pattern.NAME] sets over it.  Context: any.
 */
void config_pattern_opts(const struct config *c, const char *name, struct config_pattern_opts *o);

/* config_backend_name - "auto", "alsa", ...  Context: any. */
const char *config_backend_name(int backend);

#endif
