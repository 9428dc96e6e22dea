/*
 * ctl.h - the remote-control API: every /phasorsync/... OSC address, its
 * validation, the engine command it becomes, its reply; status; and the
 * subscriptions that push transport, tempo, beat and bar events.
 *
 * Replies: a query answers on its own address; a successful change answers
 * "/phasorsync/ok s:address"; anything refused answers
 * "/phasorsync/error s:address s:reason" and changes nothing.  Documented in
 * docs/osc.md.
 */
#ifndef PS_CONTROL_CTL_H
#define PS_CONTROL_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/clk_tap.h"
#include "clock/timesrc.h"
#include "control/config.h"
#include "control/osc.h"
#include "control/patlib.h"
#include "engine/engine.h"

#define CTL_MAX_SUBS 16

enum ctl_sub_events {
	CTL_SUB_STATE = 0, /* transport and tempo changes only */
	CTL_SUB_BAR = 1,   /* ... plus an event on every bar */
	CTL_SUB_BEAT = 2,  /* ... plus an event on every beat */
};

struct ctl_sub {
	bool used;             /* slot in use */
	struct osc_peer peer;  /* where pushes go */
	int events;            /* enum ctl_sub_events */
	int failures;          /* consecutive failed sends; dropped after 8 */
	int64_t renewed_ns;    /* when it was made or last renewed (control time) */
};

struct ctl {
	struct engine *eng;               /* the engine (commands, snapshot, stats) */
	const struct patlib *lib;         /* the patterns and their slots (NULL = none) */
	struct timesrc *ts;               /* time source for "now" */
	struct config *cfg;               /* running configuration (outputs by name) */
	struct osc_server osc;            /* the OSC server */
	struct ctl_sub subs[CTL_MAX_SUBS]; /* subscribers */
	bool rt;                          /* engine thread runs SCHED_FIFO */
	bool mlocked;                     /* memory locked */
	int64_t last_beat_pushed;         /* song beat index of the last beat push */
	struct clk_tap tap;               /* tap tempo state */
	int (*reload)(void *ctx, char *err, size_t errlen); /* daemon's reload, or NULL */
	void *reload_ctx;                 /* its argument */
};

/*
 * ctl_open - bind the OSC server per `scfg` and serve the API.
 * Returns 0 or -errno with `err` explaining.  Context: control thread.
 */
int ctl_open(struct ctl *c, struct engine *eng, struct timesrc *ts, struct config *cfg,
	     const struct osc_server_cfg *scfg, char *err, size_t errlen);

/* ctl_close - close the server.  Context: control thread. */
void ctl_close(struct ctl *c);

/*
 * ctl_on_note - push an engine notification (transport, tempo, locate)
 * to subscribers.  Context: control thread.
 */
void ctl_on_note(struct ctl *c, const struct engine_note *n);

/*
 * ctl_next_beat_ns - time of the next beat boundary after `now` while the
 * transport plays and someone subscribed to beats or bars; INT64_MAX
 * otherwise.  The control loop arms a timer for it and calls
 * ctl_push_beats() when it fires.  Context: control thread.
 */
int64_t ctl_next_beat_ns(struct ctl *c, int64_t now);

/* ctl_push_beats - send beat/bar events for beats that have begun by `now`.
 * Context: control thread. */
void ctl_push_beats(struct ctl *c, int64_t now);

/* ctl_output_index - the output called `name`, or -1.  Context: any. */
int ctl_output_index(const struct ctl *c, const char *name);

#endif
