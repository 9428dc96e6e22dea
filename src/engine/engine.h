/*
 * engine.h - the RT engine loop.
 *
 * One thread runs engine_run(): each iteration waits on an absolute deadline
 * (through the time source, so that it also wakes for commands), drains the
 * command ring from the control side, does the work due before the next
 * deadline, and records how late it woke.  The control side talks to it only
 * through engine_post() (command ring + wake) and reads statistics through
 * atomics; nothing here locks, allocates, or prints.
 *
 * This is the skeleton the clock and sequencer issues fill: today the only
 * work is the idle heartbeat at a fixed period, computed from the start
 * anchor (start + k * period), never by adding intervals.
 */
#ifndef PS_ENGINE_ENGINE_H
#define PS_ENGINE_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock/timesrc.h"
#include "rt/ring.h"
#include "rt/rt.h"
#include "rt/rtlog.h"

#define ENGINE_CMD_RING_CAP 256      /* commands queued control -> engine */
#define ENGINE_LOG_RING_CAP 256      /* RT log records */
#define ENGINE_LAT_BUCKETS 24        /* lateness histogram: bucket i < 2^i us */
#define ENGINE_IDLE_PERIOD_NS INT64_C(10000000) /* heartbeat when idle: 10 ms */

enum engine_cmd_type {
	ENGINE_CMD_NOP = 0,  /* does nothing; used by tests */
	ENGINE_CMD_QUIT = 1, /* leave engine_run() at the next iteration */
};

struct engine_cmd {
	uint32_t type;   /* enum engine_cmd_type */
	uint32_t u32;    /* command-specific */
	int64_t i64;     /* command-specific (times in ns) */
	double f64;      /* command-specific */
};

struct engine_stats {
	_Atomic uint64_t iterations;                    /* loop iterations (heartbeat) */
	_Atomic uint64_t deadlines;                     /* waits that ended at their deadline */
	_Atomic uint64_t commands;                      /* commands executed */
	_Atomic uint64_t lateness_hist[ENGINE_LAT_BUCKETS]; /* wake-up lateness, log2 us buckets */
	_Atomic int64_t lateness_max_ns;                /* worst wake-up lateness seen */
};

struct engine {
	struct timesrc *ts;                             /* time source (not owned) */
	struct ring cmd;                                /* of struct engine_cmd */
	struct engine_cmd cmd_buf[ENGINE_CMD_RING_CAP]; /* its storage */
	struct rtlog log;                               /* RT log, drained by control */
	struct rtlog_rec log_buf[ENGINE_LOG_RING_CAP];  /* its storage */
	struct engine_stats stats;                      /* read by control without locks */
	int64_t period_ns;                              /* idle heartbeat period */
	int64_t anchor_ns;                              /* time of heartbeat 0 */
	uint64_t k;                                     /* index of the next heartbeat */
	bool quit;                                      /* set by ENGINE_CMD_QUIT */
};

/*
 * engine_init - set up rings and stats.  Returns 0, or -EINVAL when ts is
 * NULL (time is an interface; there is no default clock).
 * Context: non-RT.
 */
int engine_init(struct engine *e, struct timesrc *ts);

/*
 * engine_post - queue a command and wake the engine.  Returns 0, or
 * -ENOSPC when the command ring is full (dropped, counted in the ring).
 * Context: the single control thread that produces commands.
 */
int engine_post(struct engine *e, const struct engine_cmd *c) RT_SAFE;

/*
 * engine_step - one loop iteration: wait for the next deadline or a wake,
 * run commands, do due work.  Returns 1 once quit was requested, else 0.
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
 * engine_lateness_bucket - histogram bucket for a lateness in ns.
 * Context: any thread.
 */
unsigned engine_lateness_bucket(int64_t late_ns) RT_SAFE;

#endif
