/*
 * engine.h - the RT engine loop.
 *
 * One thread runs engine_run(): each iteration waits on an absolute deadline
 * (through the time source, so it also wakes for commands and MIDI input),
 * drains the command ring from the control side, and hands every event due
 * before now + lookahead to the MIDI backend with its due time.  The control
 * side talks to it only through engine_post() (command ring + wake), reads
 * notifications from the notify ring, a lock-free status snapshot, and
 * statistics through atomics; nothing here locks, allocates, or prints.
 *
 * Musical state: one timeline (clock/timeline.h); a transport that maps song
 * position 0 to a timeline position (the song origin) and plays from
 * `play_from` until `play_until`; clock outputs, each a pulse grid anchored
 * at the song origin with its own ppqn, swing and offset
 * (clock/clkout.h); and a timed queue of one-shot events (Start, Stop,
 * Continue, Song Position Pointer); and pattern slots (engine_pattern)
 * playing immutable patterns with every note-on tracked (notetrack.h).
 *
 * Commitment: an event handed to the backend cannot be taken back, so every
 * change (tempo, start, stop, locate) takes effect at a position after the
 * latest base time already handed out (`committed_t`), never in the past:
 * phase stays continuous and no event is ever sent twice or out of order.
 */
#ifndef PS_ENGINE_ENGINE_H
#define PS_ENGINE_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock/clk_follow.h"
#include "clock/clk_xport.h"
#include "clock/clkout.h"
#include "clock/clksnap.h"
#include "clock/timeline.h"
#include "clock/timesrc.h"
#include "engine/notetrack.h"
#include "engine/pattern.h"
#include "midi/midi_backend.h"
#include "rt/pool.h"
#include "rt/ring.h"
#include "rt/rt.h"
#include "rt/rtlog.h"
#include "rt/seqbuf.h"
#include "rt/tqueue.h"

#define ENGINE_CMD_RING_CAP 256      /* commands queued control -> engine */
#define ENGINE_NOTE_RING_CAP 256     /* notifications engine -> control */
#define ENGINE_LOG_RING_CAP 256      /* RT log records */
#define ENGINE_EVENT_CAP 1024        /* one-shot events scheduled at once */
#define ENGINE_MAX_OUTPUTS 16        /* clock outputs */
#define ENGINE_LAT_BUCKETS 24        /* lateness histogram: bucket i < 2^i us */
#define ENGINE_IDLE_PERIOD_NS INT64_C(10000000) /* heartbeat grid when idle: 10 ms */
#define ENGINE_LOOKAHEAD_MAX_NS INT64_C(100000000) /* 100 ms */
#define ENGINE_LEAD_MAX_NS INT64_C(1000000)        /* Start/Stop lead before the pulse: 1 ms */
#define ENGINE_LATE_NS INT64_C(1000000)            /* "late": handed out over 1 ms after due (in
						      direct mode every event is a few us late) */
#define ENGINE_MAX_PATTERNS 32       /* pattern slots */
#define ENGINE_RELEASE_BATCH 64      /* notes taken from the tracker per call */

enum engine_cmd_type {
	ENGINE_CMD_NOP = 0,        /* does nothing; used by tests */
	ENGINE_CMD_QUIT = 1,       /* leave engine_run() at the next iteration */
	ENGINE_CMD_START = 2,      /* u32: enum engine_when (NOW or BAR or BEAT) */
	ENGINE_CMD_STOP = 3,       /* stop at the next pulse */
	ENGINE_CMD_CONTINUE = 4,   /* resume from the stopped song position */
	ENGINE_CMD_LOCATE = 5,     /* i64: song position in 16th notes (0..16383) */
	ENGINE_CMD_TEMPO = 6,      /* i64: micro-BPM; u32: enum engine_when */
	ENGINE_CMD_QUANTUM = 7,    /* u32: beats per bar, 1..TL_QUANTUM_MAX */
	ENGINE_CMD_OUTPUT = 8,     /* u32: output | field << 8 (enum engine_out_field); i64: value */
	ENGINE_CMD_PANIC = 9,      /* All Notes Off (CC 123) on every channel of every output */
	ENGINE_CMD_FOLLOW = 10,    /* u32: 1 = follow the external clock input, 0 = internal */
	ENGINE_CMD_PATTERN_LAUNCH = 11, /* u32: slot; i64: enum engine_when (restarts a playing slot) */
	ENGINE_CMD_PATTERN_STOP = 12,   /* u32: slot; i64: enum engine_when */
	ENGINE_CMD_PATTERN_MUTE = 13,   /* u32: slot; i64: 1 = mute, 0 = unmute */
	ENGINE_CMD_PATTERN_SOLO = 14,   /* u32: slot; i64: 1 = solo, 0 = unsolo */
	ENGINE_CMD_OUTPUT_LOST = 15,    /* u32: output whose port lost a peer: end its notes now,
					 * and remember them for ENGINE_CMD_OUTPUT_BACK */
	ENGINE_CMD_OUTPUT_BACK = 16,    /* u32: output whose port got a peer (again): note-offs for
					 * the notes remembered at a loss that are not sounding now */
	ENGINE_CMD_PATTERN_TABLE = 17,  /* i64: const struct engine_pat_table * (the caller's, read
					 * during the command only); u32: generation, published in
					 * stats.pat_table_gen once applied: the engine then holds no
					 * pointer to a pattern the table does not name */
};

/* Pattern slot states. */
enum engine_pat_state {
	ENGINE_PAT_STOPPED = 0, /* not launched */
	ENGINE_PAT_ARMED = 1,   /* launched, waiting for the transport (or a queued launch point) */
	ENGINE_PAT_PLAYING = 2, /* its cursor runs */
};

enum engine_follow_state {
	ENGINE_FOLLOW_OFF = 0,       /* internal clock */
	ENGINE_FOLLOW_WAITING = 1,   /* following, no clock seen yet (or after a loss) */
	ENGINE_FOLLOW_ACQUIRING = 2, /* clocks arrive, not locked yet */
	ENGINE_FOLLOW_LOCKED = 3,    /* timeline locked to the input */
	ENGINE_FOLLOW_LOST = 4,      /* the clock stopped arriving */
};

enum engine_when {
	ENGINE_WHEN_NOW = 0,  /* as soon as possible (after what is committed) */
	ENGINE_WHEN_BEAT = 1, /* on the next beat */
	ENGINE_WHEN_BAR = 2,  /* on the next bar (quantum beats) */
};

enum engine_out_field {
	ENGINE_OUT_ENABLED = 0,
	ENGINE_OUT_PPQN = 1,
	ENGINE_OUT_OFFSET_US = 2,
	ENGINE_OUT_SWING = 3,      /* permille */
	ENGINE_OUT_SWING_UNIT = 4, /* 8 or 16 */
	ENGINE_OUT_CLOCK_WHILE_STOPPED = 5,
	ENGINE_OUT_TRANSPORT = 6,
	ENGINE_OUT_SPP = 7,
};

/* Transport states are the clock module's (clock/clksnap.h). */
#define ENGINE_STOPPED CLK_STOPPED
#define ENGINE_PLAYING CLK_PLAYING

struct engine_cmd {
	uint32_t type;   /* enum engine_cmd_type */
	uint32_t u32;    /* command-specific */
	int64_t i64;     /* command-specific */
};

enum engine_note_type {
	ENGINE_NOTE_TRANSPORT = 1, /* u32: enum clk_transport; t_ns: when; a: song position (units) */
	ENGINE_NOTE_TEMPO = 2,     /* t_ns: when it takes effect; a: micro-BPM */
	ENGINE_NOTE_REJECTED = 3,  /* u32: command type; a: -errno */
	ENGINE_NOTE_LOCATE = 4,    /* t_ns: when; a: song position (units) */
	ENGINE_NOTE_FOLLOW = 5,    /* u32: enum engine_follow_state; a: estimated micro-BPM */
};

struct engine_note {
	uint32_t type;   /* enum engine_note_type */
	uint32_t u32;    /* type-specific */
	int64_t t_ns;    /* type-specific time */
	int64_t a;       /* type-specific value */
};

struct engine_stats {
	_Atomic uint64_t iterations;                    /* loop iterations (heartbeat) */
	_Atomic uint64_t deadlines;                     /* waits that ended at their deadline */
	_Atomic uint64_t commands;                      /* commands executed */
	_Atomic uint64_t rejected;                      /* commands refused (bad values) */
	_Atomic uint64_t lateness_hist[ENGINE_LAT_BUCKETS]; /* wake-up lateness, log2 us buckets */
	_Atomic int64_t lateness_max_ns;                /* worst wake-up lateness seen */
	_Atomic uint64_t sent;                          /* events handed to the backend */
	_Atomic uint64_t late;                          /* events handed out more than ENGINE_LATE_NS after due */
	_Atomic uint64_t send_errors;                   /* backend refusals (other than no peer) */
	_Atomic uint64_t event_drops;                   /* one-shot events lost: pool or queue full */
	_Atomic uint32_t queue_high_water;              /* most one-shot events queued at once */
	_Atomic uint32_t queued;                        /* one-shot events waiting now */
	_Atomic uint32_t pool_high_water;               /* most event-pool objects in use at once */
	_Atomic int64_t committed_t;                    /* latest base time handed to the backend */
	_Atomic int follow_state;                       /* enum engine_follow_state */
	_Atomic int64_t follow_bpm;                     /* follower's estimate, micro-BPM (0 = none) */
	_Atomic uint64_t follow_ticks;                  /* input clocks received */
	_Atomic uint64_t follow_losses;                 /* clock losses detected */
	_Atomic uint32_t sounding;                      /* pattern note-ons handed out, not yet ended */
	_Atomic uint64_t notes_refused;                 /* note-ons not sent: tracker full */
	_Atomic uint64_t notes_at_loss;                 /* notes sounding when an output lost a peer */
	_Atomic uint32_t pat_table_gen;                 /* generation of the last pattern table applied */
	_Atomic uint64_t pat_tempos;                    /* tempo changes made by patterns' tempo maps */
};

/* What the control side can read of a pattern slot (written by the engine). */
struct engine_pat_status {
	_Atomic int state;     /* enum engine_pat_state */
	_Atomic bool mute;     /* muted */
	_Atomic bool solo;     /* soloed */
	_Atomic bool queued;   /* a launch, stop or restart is pending */
	_Atomic uint32_t sounding; /* its note-ons handed out, not yet ended */
	_Atomic uint64_t loops;    /* loop starts played */
};

/* What a pattern slot plays: the engine's configuration of one slot, set at
 * init (engine_cfg.pats) or swapped in while running (ENGINE_CMD_PATTERN_TABLE). */
struct engine_pat_slot {
	const struct pattern *pat; /* what it plays (not owned; NULL = an empty slot) */
	int out;                   /* output index: port, offset, swing */
	int group;                 /* 0: none; slots of one group > 0 play one at a time (a launch
				      stops the others at the same point: a pattern switch) */
	bool tempo;                /* the pattern's Set Tempo events set the tempo while it plays
				      (ignored while following an external clock) */
};

struct engine_pat_table {
	int n;                                          /* slots in use, 0..ENGINE_MAX_PATTERNS */
	struct engine_pat_slot slot[ENGINE_MAX_PATTERNS]; /* slot i */
};

struct engine_cfg {
	int64_t lookahead_ns;                        /* 0 = direct output, else scheduled */
	int64_t bpm_micro;                           /* initial tempo */
	int quantum;                                 /* beats per bar */
	int nout;                                    /* clock outputs */
	struct clk_output_cfg out[ENGINE_MAX_OUTPUTS]; /* their settings */
	int out_port[ENGINE_MAX_OUTPUTS];            /* their backend port indices */
	int follow_port;                             /* backend input port of the external clock, -1 = none */
	bool follow;                                 /* start in follower mode */
	bool follow_stop_on_loss;                    /* clock loss stops the transport (else free-run) */
	struct engine_pat_table pats;                /* pattern slots (patterns not owned; they
							outlive the engine or its next table) */
};

/*
 * A pattern slot.  Its events play at origin + k * length + event.pos
 * (pattern_cursor), warped by its output's swing relative to the song
 * origin, plus the output's offset.  Every change (launch, stop, transport
 * start/stop/locate) is a pending change at a position: when playback
 * reaches it, the slot's sounding notes are released with explicit
 * note-offs, then the slot takes `chg_next`.  Immediate releases (mute,
 * solo, panic) are a release marker at `rel_pos`.  With `tempo`, the
 * pattern's tempo map is a fourth kind of item (tpos/tbpm), set on the
 * timeline ahead of its position (docs/adr/0010-pattern-playback.md).
 */
struct engine_pattern {
	const struct pattern *pat;   /* what it plays (immutable, not owned); NULL = empty slot */
	int out;                     /* output index (port, offset, swing) */
	int group;                   /* exclusive group, 0 = none */
	bool tempo;                  /* follow the pattern's tempo map */
	int state;                   /* enum engine_pat_state */
	struct pattern_cursor cur;   /* next event, while PLAYING */
	int64_t chg_pos;             /* position of the pending change, INT64_MAX = none */
	int chg_next;                /* state from there */
	int64_t chg_origin;          /* loop origin from there (chg_next PLAYING) */
	int64_t chg_from;            /* first position played from there (>= chg_pos) */
	int64_t rel_pos;             /* pending release of its notes, INT64_MAX = none */
	int64_t last_loop;           /* loop start of the last event played (loop counting) */
	bool mute;                   /* muted by command */
	bool solo;                   /* soloed by command */
	int64_t tpos;                /* tempo: timeline position of the next tempo event of the
					current play, INT64_MAX = none */
	int64_t tbpm;                /* its tempo, micro-BPM */
	uint32_t tnext;              /* index in pat->tempo of the event after it */
	int64_t tloop;               /* loop start of that event */
	bool tchg_done;              /* the pending launch's starting tempo is set already */
};

struct engine_output {
	struct clk_output_cfg cfg; /* settings */
	int port;                  /* backend port */
	int64_t grid_origin;       /* timeline position of pulse 0 */
	int64_t k;                 /* index of the next pulse */
	bool regrid;               /* switch grid when reaching regrid_pos */
	int64_t regrid_pos;        /* where the new grid takes over */
	int64_t regrid_origin;     /* its pulse 0 */
};

struct engine_event {
	uint16_t out;        /* output index */
	struct midi_msg msg; /* what to send */
	int64_t base;        /* timeline time before the output's offset */
};

struct engine {
	struct timesrc *ts;                             /* time source (not owned) */
	struct midi_backend *midi;                      /* output backend (not owned); NULL = none */
	struct ring cmd;                                /* of struct engine_cmd */
	struct engine_cmd cmd_buf[ENGINE_CMD_RING_CAP]; /* its storage */
	struct ring notes;                              /* of struct engine_note */
	struct engine_note note_buf[ENGINE_NOTE_RING_CAP]; /* its storage */
	struct rtlog log;                               /* RT log, drained by control */
	struct rtlog_rec log_buf[ENGINE_LOG_RING_CAP];  /* its storage */
	struct seqbuf snap;                             /* published struct clk_snapshot */
	struct engine_stats stats;                      /* read by control without locks */

	struct tqueue tq;                               /* one-shot events by due time */
	struct tqueue_entry tq_buf[ENGINE_EVENT_CAP];   /* its storage */
	struct pool ev_pool;                            /* struct engine_event objects */
	void *ev_buf[POOL_STORAGE_SIZE(ENGINE_EVENT_CAP, sizeof(struct engine_event)) /
		     sizeof(void *)];                   /* its storage */

	struct timeline tl;                             /* the musical timeline */
	int quantum;                                    /* beats per bar */
	int64_t lookahead_ns;                           /* scheduling horizon */
	int transport;                                  /* enum clk_transport */
	int64_t song_origin;                            /* timeline position of song position 0 */
	int64_t play_from;                              /* playback interval start */
	int64_t play_until;                             /* playback interval end (INT64_MAX) */
	int64_t stopped_song_pos;                       /* song position while stopped */
	int64_t committed_t;                            /* latest base time handed out */
	int nout;                                       /* outputs in use */
	struct engine_output out[ENGINE_MAX_OUTPUTS];   /* clock outputs */

	int64_t hb_anchor_ns;                           /* heartbeat grid origin */
	int64_t hb_period_ns;                           /* heartbeat period */
	int64_t next_deadline;                          /* the next wait's deadline */
	int64_t emit_limit;                             /* events due at or after this wait (render end) */
	struct ring *lat_samples;                       /* optional: int64_t lateness per deadline wake (bench) */
	int64_t commit_ahead_ns;                        /* others render this far ahead (audio buffer):
							   changes never take effect before now + it */
	int64_t emitted_to;                             /* every event due at or before this is out */
	int follow_port;                                /* input port followed, -1 = none */
	bool follow;                                    /* follower mode on */
	bool follow_stop_on_loss;                       /* loss stops (else free-run) */
	int follow_state;                               /* enum engine_follow_state */
	int64_t fol_pos0;                               /* timeline position of input clock 0 */
	int64_t fol_last_n;                             /* index of the last input clock */
	bool fol_aligned;                               /* fol_pos0 set by this acquisition's first lock */
	struct clk_follow fol;                          /* the estimator */
	struct clk_xport xp;                            /* the input's transport */
	int npat;                                       /* pattern slots in use */
	struct engine_pattern pat[ENGINE_MAX_PATTERNS]; /* pattern slots */
	struct engine_pat_status pat_status[ENGINE_MAX_PATTERNS]; /* read by control without locks */
	struct notetrack nt;                            /* sounding pattern notes (owner = slot) */
	struct notetrack_note rel_buf[ENGINE_RELEASE_BATCH]; /* scratch for releases */
	uint8_t lost_notes[ENGINE_MAX_OUTPUTS][16][16];     /* per output: channel x note bits of
							     * notes sounding at a peer's loss */
	bool tl_dirty;                                  /* snapshot needs publishing */
	bool quit;                                      /* set by ENGINE_CMD_QUIT */
};

/*
 * engine_init - set up rings, pools, timeline and outputs from `cfg` (NULL:
 * 120 BPM, 4/4, no outputs, direct).  `midi` may be NULL when cfg has no
 * outputs.  Returns 0, -EINVAL when ts is NULL, cfg is invalid or outputs
 * lack a backend (time is an interface; there is no default clock).
 * Context: non-RT.
 */
int engine_init(struct engine *e, struct timesrc *ts, struct midi_backend *midi,
		const struct engine_cfg *cfg);

/* engine_cfg_defaults - 120 BPM, quantum 4, lookahead 5 ms, no outputs. */
void engine_cfg_defaults(struct engine_cfg *cfg);

/*
 * engine_post - queue a command and wake the engine.  Returns 0, or
 * -ENOSPC when the command ring is full (dropped, counted in the ring).
 * Context: the single control thread that produces commands.
 */
int engine_post(struct engine *e, const struct engine_cmd *c) RT_SAFE;

/*
 * engine_step - one loop iteration: wait for the next deadline or a wake,
 * run commands, hand due events to the backend.  Returns 1 once quit was
 * requested, else 0.
 * Context: RT; the engine thread.
 */
int engine_step(struct engine *e) RT_SAFE;

/*
 * engine_run - engine_step() until quit.  `arg` is the struct engine.
 * Signature of a pthread start routine.
 * Context: RT; the engine thread's body.
 */
void *engine_run(void *arg) RT_SAFE;

/*
 * engine_run_until - engine_step() until the time source reaches `t_end_ns`
 * or quit (for virtual-time rendering, in as many slices as the caller
 * likes: slicing does not change what is sent when).  Returns 1 if quit was
 * requested.  A render's end is set once with e->emit_limit: events due at
 * or after it are never handed out.
 * Context: RT; the thread that owns the engine.
 */
int engine_run_until(struct engine *e, int64_t t_end_ns) RT_SAFE;

/*
 * engine_snapshot - copy the latest published state.  Returns true on a
 * consistent copy.  Context: any thread but the engine's; never blocks.
 */
bool engine_snapshot(struct engine *e, struct clk_snapshot *s) RT_SAFE;

/*
 * engine_poll_note - take one notification: 0, or -EAGAIN when none.
 * Context: the single control thread that consumes notifications.
 */
int engine_poll_note(struct engine *e, struct engine_note *n) RT_SAFE;

/*
 * engine_lateness_bucket - histogram bucket for a lateness in ns.
 * Context: any thread.
 */
unsigned engine_lateness_bucket(int64_t late_ns) RT_SAFE;

#endif
