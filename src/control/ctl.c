/*
 * ctl.c - the /phasorsync OSC API (see ctl.h and docs/osc.md).
 *
 * Each handler validates every argument first (osc_arg_* reply the error
 * themselves), then posts one engine command and acknowledges.  Values are
 * checked here with the same limits the engine enforces, so a refusal is
 * answered synchronously to the sender; the engine's own check remains the
 * last line of defence.  Numbers may arrive as int or float (TouchOSC sends
 * floats).
 */
#include "control/ctl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock/timeline.h"
#include "control/log.h"

#define CTL_SUB_MAX_FAILURES 8

static void ctl_ok(struct osc_req *req)
{
	lo_message m = lo_message_new();

	if (!m)
		return;
	lo_message_add_string(m, req->path);
	osc_send(req->srv, req->from, "/phasorsync/ok", m);
	lo_message_free(m);
}

/* Post a command; answer ok, or an error if the engine's queue is full. */
static int ctl_post(struct osc_req *req, uint32_t type, uint32_t u32, int64_t i64)
{
	struct ctl *c = req->ctx;
	struct engine_cmd cmd = { .type = type, .u32 = u32, .i64 = i64 };

	if (engine_post(c->eng, &cmd) < 0)
		return osc_reply_error(req, "engine busy (command queue full); try again");
	ctl_ok(req);
	return 0;
}

/*
 * Trigger addresses (stop, continue, panic, start...) take no argument, or
 * one number or boolean as control surfaces send it: buttons send 1 on press
 * and 0 on release (TouchOSC, Open Stage Control), so nonzero/true triggers
 * and 0/false is the release: ignored, without a reply.  Returns 1 to go
 * on, 0 to ignore, -EINVAL after replying an error.
 */
static int ctl_trigger(struct osc_req *req)
{
	double v;

	if (req->argc == 0)
		return 1;
	if (req->argc == 1 && (req->types[0] == 'T' || req->types[0] == 'F'))
		return req->types[0] == 'T';
	if (req->argc > 1 || strchr("ihfd", req->types[0]) == NULL) {
		osc_reply_error(req, "takes no argument, or one number (nonzero triggers; 0, a button "
				"release, is ignored)");
		return -EINVAL;
	}
	if (osc_arg_number(req, 0, "button value", -1e9, 1e9, &v) < 0)
		return -EINVAL;
	return v != 0;
}

static int ctl_no_args(struct osc_req *req)
{
	if (req->argc > 0) {
		osc_reply_error(req, "takes no arguments (got %d)", req->argc);
		return -EINVAL;
	}
	return 0;
}

/* Optional "when" argument: "now", "beat", "bar" (or 0/1 meaning now/bar). */
static int ctl_arg_when(struct osc_req *req, int i, uint32_t *when)
{
	const char *s = NULL;
	double v;

	*when = ENGINE_WHEN_NOW;
	if (i >= req->argc)
		return 0;
	if (req->types[i] == 's' || req->types[i] == 'S') {
		if (osc_arg_string(req, i, "when", 64, &s) < 0)
			return -EINVAL; /* replied already */
		if (!strcmp(s, "now"))
			*when = ENGINE_WHEN_NOW;
		else if (!strcmp(s, "beat"))
			*when = ENGINE_WHEN_BEAT;
		else if (!strcmp(s, "bar"))
			*when = ENGINE_WHEN_BAR;
		else {
			osc_reply_error(req, "argument %d (when) = '%s': must be now, beat or bar", i + 1, s);
			return -EINVAL;
		}
		return 0;
	}
	if (osc_arg_number(req, i, "when (0 = now, 1 = next bar)", 0, 1, &v) < 0)
		return -EINVAL;
	*when = v == 1 ? ENGINE_WHEN_BAR : ENGINE_WHEN_NOW;
	return 0;
}

static bool ctl_snapshot(struct ctl *c, struct clk_snapshot *s)
{
	return engine_snapshot(c->eng, s);
}

static double ctl_bpm_now(const struct clk_snapshot *s, int64_t now)
{
	return tl_bpm_at(&s->tl, tl_pos_at(&s->tl, now)) / 1e6;
}

static int ctl_tempo(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	struct clk_snapshot s;
	uint32_t when;
	double bpm;

	if (req->argc == 0) {
		lo_message m = lo_message_new();
		if (!m || !ctl_snapshot(c, &s))
			return osc_reply_error(req, "state unavailable; try again");
		lo_message_add_float(m, (float)ctl_bpm_now(&s, timesrc_now_ns(c->ts)));
		osc_send(req->srv, req->from, "/phasorsync/tempo", m);
		lo_message_free(m);
		return 0;
	}
	if (req->argc > 2)
		return osc_reply_error(req, "takes a tempo and an optional when (now, beat, bar)");
	if (osc_arg_number(req, 0, "tempo in BPM", 20, 999, &bpm) < 0 ||
	    ctl_arg_when(req, 1, &when) < 0)
		return 0;
	if (atomic_load(&c->eng->stats.follow_state) != ENGINE_FOLLOW_OFF)
		return osc_reply_error(req, "the tempo follows the external clock (follow is on)");
	return ctl_post(req, ENGINE_CMD_TEMPO, when, (int64_t)llround(bpm * 1e6));
}

/* /phasorsync/start [s:now|beat|bar] (or a button value), and the button
 * forms /phasorsync/start/beat and /phasorsync/start/bar. */
static int ctl_start(struct osc_req *req)
{
	uint32_t when = ENGINE_WHEN_NOW;
	const char *w;

	if (!strcmp(req->path, "/phasorsync/start/bar") || !strcmp(req->path, "/phasorsync/start/beat")) {
		when = req->path[18] == 'b' && req->path[19] == 'a' ? ENGINE_WHEN_BAR : ENGINE_WHEN_BEAT;
	} else if (!strcmp(req->path, "/phasorsync/start/now")) {
		when = ENGINE_WHEN_NOW;
	} else if (strcmp(req->path, "/phasorsync/start")) {
		return osc_reply_error(req, "unknown address (start, start/now, start/beat, start/bar)");
	} else if (req->argc == 1 && (req->types[0] == 's' || req->types[0] == 'S')) {
		if (osc_arg_string(req, 0, "when", 64, &w) < 0 || ctl_arg_when(req, 0, &when) < 0)
			return 0;
		return ctl_post(req, ENGINE_CMD_START, when, 0);
	}
	switch (ctl_trigger(req)) {
	case 1: return ctl_post(req, ENGINE_CMD_START, when, 0);
	default: return 0;
	}
}

static int ctl_stop(struct osc_req *req)
{
	return ctl_trigger(req) == 1 ? ctl_post(req, ENGINE_CMD_STOP, 0, 0) : 0;
}

static int ctl_continue(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	struct clk_snapshot s;

	if (ctl_trigger(req) != 1)
		return 0;
	if (ctl_snapshot(c, &s) && s.transport == CLK_PLAYING)
		return osc_reply_error(req, "already playing (continue resumes a stopped transport)");
	return ctl_post(req, ENGINE_CMD_CONTINUE, 0, 0);
}

static int ctl_locate(struct osc_req *req)
{
	double beats;

	if (req->argc != 1)
		return osc_reply_error(req, "takes one argument: song position in beats (0 to 4095.75, "
					    "in steps of 1/16 note = 0.25 beat)");
	if (osc_arg_number(req, 0, "song position in beats", 0, 16383 / 4.0, &beats) < 0)
		return 0;
	return ctl_post(req, ENGINE_CMD_LOCATE, 0, (int64_t)floor(beats * 4 + 1e-9));
}

static int ctl_quantum(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	struct clk_snapshot s;
	double q;

	if (req->argc == 0) {
		lo_message m = lo_message_new();
		if (!m || !ctl_snapshot(c, &s))
			return osc_reply_error(req, "state unavailable; try again");
		lo_message_add_int32(m, s.quantum);
		osc_send(req->srv, req->from, "/phasorsync/quantum", m);
		lo_message_free(m);
		return 0;
	}
	if (req->argc > 1 || osc_arg_number(req, 0, "beats per bar", 1, TL_QUANTUM_MAX, &q) < 0)
		return req->argc > 1 ? osc_reply_error(req, "takes one argument: beats per bar") : 0;
	if (q != floor(q))
		return osc_reply_error(req, "argument 1 (beats per bar) = %g: must be a whole number", q);
	return ctl_post(req, ENGINE_CMD_QUANTUM, (uint32_t)q, 0);
}

static int ctl_panic(struct osc_req *req)
{
	return ctl_trigger(req) == 1 ? ctl_post(req, ENGINE_CMD_PANIC, 0, 0) : 0;
}

/* Tap tempo: the tap's time is when this thread read it (UDP on a LAN
 * adds well under a millisecond of jitter to human tapping). */
static int ctl_tap(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	int64_t bpm = 0;
	int r;

	if (ctl_trigger(req) != 1)
		return 0;
	r = clk_tap_add(&c->tap, timesrc_now_ns(c->ts), &bpm);
	if (r == 1 && atomic_load(&c->eng->stats.follow_state) == ENGINE_FOLLOW_OFF)
		return ctl_post(req, ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, bpm);
	if (r == 1)
		return osc_reply_error(req, "the tempo follows the external clock (follow is on)");
	ctl_ok(req); /* first tap of a sequence, or one ignored as an outlier */
	return 0;
}

static int ctl_follow(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	bool on;

	if (req->argc == 0) {
		lo_message m = lo_message_new();
		if (!m)
			return 0;
		lo_message_add_int32(m, atomic_load(&c->eng->stats.follow_state) != ENGINE_FOLLOW_OFF);
		osc_send(req->srv, req->from, "/phasorsync/follow", m);
		lo_message_free(m);
		return 0;
	}
	if (req->argc > 1 || osc_arg_bool(req, 0, "follow on/off", &on) < 0)
		return req->argc > 1 ? osc_reply_error(req, "takes one value: 1 = follow, 0 = internal") : 0;
	if (on && c->eng->follow_port < 0)
		return osc_reply_error(req, "no clock input: enable [follow] in the configuration");
	return ctl_post(req, ENGINE_CMD_FOLLOW, on, 0);
}

static const char *ctl_sync_name(int st)
{
	switch (st) {
	case ENGINE_FOLLOW_WAITING: return "waiting";
	case ENGINE_FOLLOW_ACQUIRING: return "acquiring";
	case ENGINE_FOLLOW_LOCKED: return "locked";
	case ENGINE_FOLLOW_LOST: return "lost";
	default: return "internal";
	}
}

static int ctl_reload(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	char err[CONFIG_ERR_MAX];

	if (ctl_trigger(req) != 1)
		return 0;
	if (!c->reload)
		return osc_reply_error(req, "reload is not available");
	if (c->reload(c->reload_ctx, err, sizeof(err)) < 0)
		return osc_reply_error(req, "rejected, running configuration kept: %s", err);
	ctl_ok(req);
	return 0;
}

int ctl_output_index(const struct ctl *c, const char *name)
{
	for (int i = 0; i < c->cfg->nout; i++)
		if (!strcmp(c->cfg->out[i].name, name))
			return i;
	return -1;
}

/* /phasorsync/output/NAME/SETTING [value] */
static int ctl_output(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	const char *rest = req->path + strlen("/phasorsync/output/");
	const char *slash = strchr(rest, '/');
	char name[CONFIG_NAME_MAX];
	const char *setting;
	struct clk_output_cfg *oc;
	int idx, field;
	double v = 0, lo_v, hi_v;
	bool b;
	lo_message m;

	if (!slash || (size_t)(slash - rest) >= sizeof(name))
		return osc_reply_error(req, "expected /phasorsync/output/NAME/SETTING");
	memcpy(name, rest, (size_t)(slash - rest));
	name[slash - rest] = '\0';
	setting = slash + 1;
	idx = ctl_output_index(c, name);
	if (idx < 0)
		return osc_reply_error(req, "no output named '%s' (outputs are the [output.NAME] "
					    "sections of the configuration)", name);
	/* The control side's mirror: only this thread originates output changes,
	 * so it knows the engine's settings without reading engine memory. */
	oc = &c->cfg->out[idx].clk;
	if (!strcmp(setting, "enable"))
		field = ENGINE_OUT_ENABLED;
	else if (!strcmp(setting, "offset"))
		field = ENGINE_OUT_OFFSET_US;
	else if (!strcmp(setting, "swing"))
		field = ENGINE_OUT_SWING;
	else if (!strcmp(setting, "swing_unit"))
		field = ENGINE_OUT_SWING_UNIT;
	else if (!strcmp(setting, "ppqn"))
		field = ENGINE_OUT_PPQN;
	else if (!strcmp(setting, "clock_while_stopped"))
		field = ENGINE_OUT_CLOCK_WHILE_STOPPED;
	else if (!strcmp(setting, "transport"))
		field = ENGINE_OUT_TRANSPORT;
	else if (!strcmp(setting, "spp"))
		field = ENGINE_OUT_SPP;
	else
		return osc_reply_error(req, "unknown setting '%s': enable, offset, swing, swing_unit, "
					    "ppqn, clock_while_stopped, transport, spp", setting);
	if (req->argc == 0) {
		m = lo_message_new();
		if (!m)
			return 0;
		switch (field) {
		case ENGINE_OUT_ENABLED: lo_message_add_int32(m, oc->enabled); break;
		case ENGINE_OUT_OFFSET_US: lo_message_add_float(m, oc->offset_us / 1000.0f); break;
		case ENGINE_OUT_SWING: lo_message_add_float(m, oc->swing_permille / 10.0f); break;
		case ENGINE_OUT_SWING_UNIT: lo_message_add_int32(m, oc->swing_unit); break;
		case ENGINE_OUT_PPQN: lo_message_add_int32(m, oc->ppqn); break;
		case ENGINE_OUT_CLOCK_WHILE_STOPPED: lo_message_add_int32(m, oc->clock_while_stopped); break;
		case ENGINE_OUT_TRANSPORT: lo_message_add_int32(m, oc->transport); break;
		default: lo_message_add_int32(m, oc->spp); break;
		}
		osc_send(req->srv, req->from, req->path, m);
		lo_message_free(m);
		return 0;
	}
	if (req->argc > 1)
		return osc_reply_error(req, "takes one value");
	switch (field) {
	case ENGINE_OUT_ENABLED:
	case ENGINE_OUT_CLOCK_WHILE_STOPPED:
	case ENGINE_OUT_TRANSPORT:
	case ENGINE_OUT_SPP:
		if (osc_arg_bool(req, 0, setting, &b) < 0)
			return 0;
		if (field == ENGINE_OUT_ENABLED)
			oc->enabled = b;
		else if (field == ENGINE_OUT_CLOCK_WHILE_STOPPED)
			oc->clock_while_stopped = b;
		else if (field == ENGINE_OUT_TRANSPORT)
			oc->transport = b;
		else
			oc->spp = b;
		return ctl_post(req, ENGINE_CMD_OUTPUT, (uint32_t)idx | (uint32_t)field << 8, b);
	case ENGINE_OUT_OFFSET_US:
		lo_v = -(double)c->eng->lookahead_ns / 1e6;
		hi_v = CLK_OFFSET_MAX_US / 1000.0;
		if (osc_arg_number(req, 0, "offset in ms (negative down to minus the lookahead)", lo_v,
				   hi_v, &v) < 0)
			return 0;
		oc->offset_us = (int32_t)llround(v * 1000);
		return ctl_post(req, ENGINE_CMD_OUTPUT, (uint32_t)idx | (uint32_t)field << 8,
				oc->offset_us);
	case ENGINE_OUT_SWING:
		if (osc_arg_number(req, 0, "swing in percent", 50, 75, &v) < 0)
			return 0;
		oc->swing_permille = (int)llround(v * 10);
		return ctl_post(req, ENGINE_CMD_OUTPUT, (uint32_t)idx | (uint32_t)field << 8,
				oc->swing_permille);
	case ENGINE_OUT_SWING_UNIT:
		if (osc_arg_number(req, 0, "swing unit (8 or 16)", 8, 16, &v) < 0)
			return 0;
		if (v != 8 && v != 16)
			return osc_reply_error(req, "argument 1 (swing unit) = %g: must be 8 or 16", v);
		oc->swing_unit = (int)v;
		return ctl_post(req, ENGINE_CMD_OUTPUT, (uint32_t)idx | (uint32_t)field << 8, (int64_t)v);
	default: /* ppqn */
		if (osc_arg_number(req, 0, "pulses per quarter note", CLK_PPQN_MIN, CLK_PPQN_MAX, &v) < 0)
			return 0;
		if (v != floor(v))
			return osc_reply_error(req, "argument 1 (ppqn) = %g: must be a whole number", v);
		oc->ppqn = (int)v;
		return ctl_post(req, ENGINE_CMD_OUTPUT, (uint32_t)idx | (uint32_t)field << 8, (int64_t)v);
	}
}

static void ctl_kv_s(lo_message m, const char *k, const char *v)
{
	lo_message_add_string(m, k);
	lo_message_add_string(m, v);
}

static void ctl_kv_f(lo_message m, const char *k, double v)
{
	lo_message_add_string(m, k);
	lo_message_add_float(m, (float)v);
}

static void ctl_kv_i(lo_message m, const char *k, int64_t v)
{
	lo_message_add_string(m, k);
	if (v >= INT32_MIN && v <= INT32_MAX)
		lo_message_add_int32(m, (int32_t)v);
	else
		lo_message_add_int64(m, v);
}

/* /phasorsync/status: key/value pairs (s:key then its value), so that
 * clients can read what they know and skip what they do not. */
static int ctl_status(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	struct clk_snapshot s;
	int64_t now = timesrc_now_ns(c->ts), song, beat_idx;
	struct engine_stats *st = &c->eng->stats;
	double beats;
	lo_message m;

	if (ctl_no_args(req) < 0)
		return 0;
	if (!ctl_snapshot(c, &s) || !(m = lo_message_new()))
		return osc_reply_error(req, "state unavailable; try again");
	song = clk_snapshot_song_pos(&s, now);
	beats = (double)song / TL_UNITS_PER_BEAT;
	beat_idx = tl_floor_div(song, TL_UNITS_PER_BEAT);
	ctl_kv_s(m, "transport", s.transport == CLK_PLAYING ? "playing" : "stopped");
	ctl_kv_f(m, "tempo", ctl_bpm_now(&s, now));
	ctl_kv_f(m, "beat", beats);
	ctl_kv_i(m, "bar", tl_floor_div(beat_idx, s.quantum) + 1);
	ctl_kv_i(m, "beat_in_bar", beat_idx - tl_floor_div(beat_idx, s.quantum) * s.quantum + 1);
	ctl_kv_f(m, "phase", (double)(song - tl_floor_div(song, s.quantum * TL_UNITS_PER_BEAT) *
					     s.quantum * TL_UNITS_PER_BEAT) /
				     (double)(s.quantum * TL_UNITS_PER_BEAT));
	ctl_kv_i(m, "quantum", s.quantum);
	ctl_kv_s(m, "sync", ctl_sync_name(atomic_load(&st->follow_state)));
	if (atomic_load(&st->follow_state) != ENGINE_FOLLOW_OFF) {
		ctl_kv_f(m, "follow_tempo", atomic_load(&st->follow_bpm) / 1e6);
		ctl_kv_i(m, "follow_ticks", (int64_t)atomic_load(&st->follow_ticks));
		ctl_kv_i(m, "follow_losses", (int64_t)atomic_load(&st->follow_losses));
	}
	ctl_kv_i(m, "rt", c->rt);
	ctl_kv_i(m, "mlocked", c->mlocked);
	ctl_kv_i(m, "outputs", c->eng->nout);
	ctl_kv_i(m, "sent", (int64_t)atomic_load(&st->sent));
	ctl_kv_i(m, "late", (int64_t)atomic_load(&st->late));
	ctl_kv_f(m, "lateness_max_us", atomic_load(&st->lateness_max_ns) / 1e3);
	ctl_kv_i(m, "send_errors", (int64_t)atomic_load(&st->send_errors));
	ctl_kv_i(m, "rejected", (int64_t)atomic_load(&st->rejected));
	ctl_kv_i(m, "event_drops", (int64_t)atomic_load(&st->event_drops));
	ctl_kv_i(m, "queue_high_water", atomic_load(&st->queue_high_water));
	ctl_kv_i(m, "command_drops", (int64_t)ring_drops(&c->eng->cmd));
	ctl_kv_i(m, "pool_high_water", atomic_load(&st->pool_high_water));
	ctl_kv_i(m, "notify_drops", (int64_t)ring_drops(&c->eng->notes));
	ctl_kv_i(m, "log_drops", (int64_t)ring_drops(&c->eng->log.ring));
	ctl_kv_i(m, "osc_denied", (int64_t)c->osc.stats.denied);
	ctl_kv_i(m, "osc_errors", (int64_t)c->osc.stats.errors);
	osc_send(req->srv, req->from, "/phasorsync/status", m);
	lo_message_free(m);
	return 0;
}

static const char *ctl_pat_state_name(int st)
{
	return st == ENGINE_PAT_PLAYING ? "playing" : st == ENGINE_PAT_ARMED ? "armed" : "stopped";
}

/*
 * /phasorsync/pattern/list: the names; /phasorsync/pattern/status: per
 * pattern the pairs name, state, mute, solo, queued, loops, bars, output,
 * channel (0 = the file's own), tempo (1 = its tempo map sets the tempo),
 * group ("" = none); both in name order;
 * /phasorsync/pattern/NAME/launch|stop [now|beat|bar] (default
 * patterns.quantize), /phasorsync/pattern/NAME/mute|solo 0|1.
 */
static int ctl_pattern(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	const char *rest = req->path + strlen("/phasorsync/pattern/");
	const char *slash = strchr(rest, '/');
	char name[PATTERN_NAME_MAX];
	const char *action;
	uint32_t when;
	bool b;
	int slot;
	lo_message m;

	if (!strcmp(rest, "list") || !strcmp(rest, "status")) {
		bool status = rest[0] == 's';
		if (ctl_no_args(req) < 0)
			return 0;
		if (!(m = lo_message_new()))
			return 0;
		int slots[ENGINE_MAX_PATTERNS], n = c->lib ? patlib_sorted(c->lib, slots) : 0;
		for (int k = 0; k < n; k++) {
			int i = slots[k];
			const struct engine_pat_status *ps = &c->eng->pat_status[i];
			const struct config_pattern_opts *o = &c->lib->opts[i];
			if (!status) {
				lo_message_add_string(m, c->lib->name[i]);
				continue;
			}
			ctl_kv_s(m, "name", c->lib->name[i]);
			ctl_kv_s(m, "state", ctl_pat_state_name(atomic_load(&ps->state)));
			ctl_kv_i(m, "mute", atomic_load(&ps->mute));
			ctl_kv_i(m, "solo", atomic_load(&ps->solo));
			ctl_kv_i(m, "queued", atomic_load(&ps->queued));
			ctl_kv_i(m, "loops", (int64_t)atomic_load(&ps->loops));
			ctl_kv_i(m, "bars", c->lib->pat[i]->bars);
			ctl_kv_s(m, "output", c->cfg->out[c->lib->table.slot[i].out].name);
			ctl_kv_i(m, "channel", o->channel > 0 ? o->channel : 0);
			ctl_kv_i(m, "tempo", o->tempo);
			ctl_kv_s(m, "group", o->group);
		}
		osc_send(req->srv, req->from, req->path, m);
		lo_message_free(m);
		return 0;
	}
	if (!slash || slash == rest || (size_t)(slash - rest) >= sizeof(name))
		return osc_reply_error(req, "expected /phasorsync/pattern/list, /phasorsync/pattern/status "
					    "or /phasorsync/pattern/NAME/ACTION");
	memcpy(name, rest, (size_t)(slash - rest));
	name[slash - rest] = '\0';
	action = slash + 1;
	slot = c->lib ? patlib_slot(c->lib, name) : -1;
	if (slot < 0)
		return osc_reply_error(req, "no pattern named '%s' (see /phasorsync/pattern/list; "
					    "patterns are the .mid files of patterns.dir)", name);
	if (!strcmp(action, "launch") || !strcmp(action, "stop")) {
		if (req->argc > 1)
			return osc_reply_error(req, "takes an optional when: now, beat or bar");
		when = (uint32_t)c->cfg->patterns.quantize;
		if (req->argc == 1 && ctl_arg_when(req, 0, &when) < 0)
			return 0;
		return ctl_post(req, action[0] == 'l' ? ENGINE_CMD_PATTERN_LAUNCH : ENGINE_CMD_PATTERN_STOP,
				(uint32_t)slot, when);
	}
	if (!strcmp(action, "mute") || !strcmp(action, "solo")) {
		if (req->argc != 1)
			return osc_reply_error(req, "takes one value: 1 = on, 0 = off");
		if (osc_arg_bool(req, 0, action, &b) < 0)
			return 0;
		return ctl_post(req, action[0] == 'm' ? ENGINE_CMD_PATTERN_MUTE : ENGINE_CMD_PATTERN_SOLO,
				(uint32_t)slot, b);
	}
	return osc_reply_error(req, "unknown action '%s': launch, stop, mute, solo", action);
}

/* The subscriber address: the sender's host, at `port` if given. */
static int ctl_sub_peer(struct osc_req *req, int i, struct osc_peer *p)
{
	double port;

	*p = *req->from;
	if (i >= req->argc)
		return 0;
	if (osc_arg_number(req, i, "port to push to", 1, 65535, &port) < 0)
		return -EINVAL;
	p->tcp = -1; /* an explicit port means UDP to that port */
	if (p->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&p->addr)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&p->addr)->sin6_port = htons((uint16_t)port);
	return 0;
}

static bool ctl_same_peer(const struct osc_peer *a, const struct osc_peer *b)
{
	return a->tcp == b->tcp && (a->tcp < 0 || a->tcp_gen == b->tcp_gen) && a->len == b->len &&
	       !memcmp(&a->addr, &b->addr, a->len);
}

static int ctl_subscribe(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	struct osc_peer p;
	const char *ev = "state";
	int events, free_slot = -1, i = 0;

	if (req->argc > 2)
		return osc_reply_error(req, "takes [events] [port]: events = state, bar or beat");
	if (req->argc > 0 && (req->types[0] == 's' || req->types[0] == 'S')) {
		if (osc_arg_string(req, 0, "events", 64, &ev) < 0)
			return 0;
		i = 1;
	}
	if (!strcmp(ev, "state"))
		events = CTL_SUB_STATE;
	else if (!strcmp(ev, "bar"))
		events = CTL_SUB_BAR;
	else if (!strcmp(ev, "beat"))
		events = CTL_SUB_BEAT;
	else
		return osc_reply_error(req, "events = '%s': must be state, bar or beat", ev);
	if (req->argc > i + 1)
		return osc_reply_error(req, "takes [events] [port]");
	if (ctl_sub_peer(req, i, &p) < 0)
		return 0;
	for (int k = 0; k < CTL_MAX_SUBS; k++) {
		if (c->subs[k].used && ctl_same_peer(&c->subs[k].peer, &p)) {
			free_slot = k; /* re-subscribing updates the event choice */
			break;
		}
		if (!c->subs[k].used && free_slot < 0)
			free_slot = k;
	}
	if (free_slot < 0) {
		/* full: a UDP subscriber cannot say it went away (sends to a
		 * dead port rarely fail), so the one renewed longest ago makes
		 * room; subscribers that renew (phasorctl watch) stay */
		for (int k = 0; k < CTL_MAX_SUBS; k++)
			if (c->subs[k].peer.tcp < 0 &&
			    (free_slot < 0 || c->subs[k].renewed_ns < c->subs[free_slot].renewed_ns))
				free_slot = k;
		if (free_slot < 0)
			return osc_reply_error(req, "too many subscribers (at most %d)", CTL_MAX_SUBS);
		{
			char who[96];
			osc_peer_str(&c->subs[free_slot].peer, who, sizeof(who));
			logx(LOG_INFO, "osc: %d subscribers: dropping %s, the least recently renewed",
			     CTL_MAX_SUBS, who);
		}
	}
	c->subs[free_slot] = (struct ctl_sub){ .used = true, .peer = p, .events = events,
					       .renewed_ns = timesrc_now_ns(c->ts) };
	ctl_ok(req);
	return 0;
}

static int ctl_unsubscribe(struct osc_req *req)
{
	struct ctl *c = req->ctx;
	struct osc_peer p;
	bool found = false;

	if (req->argc > 1)
		return osc_reply_error(req, "takes [port]");
	if (ctl_sub_peer(req, 0, &p) < 0)
		return 0;
	for (int k = 0; k < CTL_MAX_SUBS; k++)
		if (c->subs[k].used && ctl_same_peer(&c->subs[k].peer, &p)) {
			c->subs[k].used = false;
			found = true;
		}
	if (!found)
		return osc_reply_error(req, "not subscribed from this address");
	ctl_ok(req);
	return 0;
}

static const char *const ctl_help_text[] = {
	"/phasorsync/tempo [bpm [now|beat|bar]]", "/phasorsync/start [now|beat|bar]",
	"/phasorsync/start/now", "/phasorsync/start/beat", "/phasorsync/start/bar",
	"/phasorsync/stop", "/phasorsync/continue", "/phasorsync/locate beats",
	"/phasorsync/quantum [beats]", "/phasorsync/output/NAME/SETTING [value]",
	"/phasorsync/status", "/phasorsync/subscribe [state|bar|beat] [port]",
	"/phasorsync/unsubscribe [port]", "/phasorsync/reload", "/phasorsync/tap",
	"/phasorsync/follow [0|1]", "/phasorsync/panic", "/panic",
	"/phasorsync/pattern/list", "/phasorsync/pattern/status",
	"/phasorsync/pattern/NAME/launch [now|beat|bar]", "/phasorsync/pattern/NAME/stop [now|beat|bar]",
	"/phasorsync/pattern/NAME/mute 0|1", "/phasorsync/pattern/NAME/solo 0|1",
	"/phasorsync/help", NULL,
};

static int ctl_help(struct osc_req *req)
{
	lo_message m = lo_message_new();

	if (!m)
		return 0;
	for (int i = 0; ctl_help_text[i]; i++)
		lo_message_add_string(m, ctl_help_text[i]);
	osc_send(req->srv, req->from, "/phasorsync/help", m);
	lo_message_free(m);
	return 0;
}

static const struct osc_method ctl_methods[] = {
	{ "/phasorsync/tempo", ctl_tempo },
	{ "/phasorsync/start", ctl_start },
	{ "/phasorsync/start/", ctl_start },
	{ "/phasorsync/stop", ctl_stop },
	{ "/phasorsync/continue", ctl_continue },
	{ "/phasorsync/locate", ctl_locate },
	{ "/phasorsync/quantum", ctl_quantum },
	{ "/phasorsync/output/", ctl_output },
	{ "/phasorsync/pattern/", ctl_pattern },
	{ "/phasorsync/status", ctl_status },
	{ "/phasorsync/subscribe", ctl_subscribe },
	{ "/phasorsync/unsubscribe", ctl_unsubscribe },
	{ "/phasorsync/reload", ctl_reload },
	{ "/phasorsync/tap", ctl_tap },
	{ "/phasorsync/follow", ctl_follow },
	{ "/phasorsync/panic", ctl_panic },
	{ "/panic", ctl_panic },
	{ "/phasorsync/help", ctl_help },
	{ NULL, NULL },
};

int ctl_open(struct ctl *c, struct engine *eng, struct timesrc *ts, struct config *cfg,
	     const struct osc_server_cfg *scfg, char *err, size_t errlen)
{
	memset(c->subs, 0, sizeof(c->subs));
	c->eng = eng;
	c->ts = ts;
	c->cfg = cfg;
	c->last_beat_pushed = INT64_MIN;
	clk_tap_init(&c->tap);
	return osc_server_open(&c->osc, scfg, ctl_methods, c, err, errlen);
}

void ctl_close(struct ctl *c)
{
	osc_server_close(&c->osc);
}

static void ctl_push(struct ctl *c, int min_events, const char *path, lo_message m)
{
	for (int k = 0; k < CTL_MAX_SUBS; k++) {
		struct ctl_sub *s = &c->subs[k];
		if (!s->used || s->events < min_events)
			continue;
		int r = osc_send(&c->osc, &s->peer, path, m);
		if (r < 0) {
			/* a closed TCP connection never comes back: drop at once */
			if (++s->failures >= CTL_SUB_MAX_FAILURES || (s->peer.tcp >= 0 && r == -ENOTCONN)) {
				char who[96];
				osc_peer_str(&s->peer, who, sizeof(who));
				logx(LOG_INFO, "osc: dropping subscriber %s (unreachable)", who);
				s->used = false;
			}
		} else {
			s->failures = 0;
		}
	}
}

void ctl_on_note(struct ctl *c, const struct engine_note *n)
{
	lo_message m = lo_message_new();

	if (!m)
		return;
	switch (n->type) {
	case ENGINE_NOTE_TRANSPORT:
		lo_message_add_string(m, n->u32 == CLK_PLAYING ? "playing" : "stopped");
		lo_message_add_float(m, (float)((double)n->a / TL_UNITS_PER_BEAT));
		ctl_push(c, CTL_SUB_STATE, "/phasorsync/transport", m);
		break;
	case ENGINE_NOTE_TEMPO:
		lo_message_add_float(m, (float)(n->a / 1e6));
		ctl_push(c, CTL_SUB_STATE, "/phasorsync/tempo", m);
		break;
	case ENGINE_NOTE_FOLLOW:
		lo_message_add_string(m, ctl_sync_name((int)n->u32));
		lo_message_add_float(m, (float)(n->a / 1e6));
		ctl_push(c, CTL_SUB_STATE, "/phasorsync/sync", m);
		break;
	case ENGINE_NOTE_LOCATE:
		lo_message_add_float(m, (float)((double)n->a / TL_UNITS_PER_BEAT));
		ctl_push(c, CTL_SUB_STATE, "/phasorsync/locate", m);
		break;
	default:
		break;
	}
	lo_message_free(m);
}

static bool ctl_wants_beats(const struct ctl *c)
{
	for (int k = 0; k < CTL_MAX_SUBS; k++)
		if (c->subs[k].used && c->subs[k].events >= CTL_SUB_BAR)
			return true;
	return false;
}

int64_t ctl_next_beat_ns(struct ctl *c, int64_t now)
{
	struct clk_snapshot s;
	int64_t pos, next;

	if (!ctl_wants_beats(c) || !ctl_snapshot(c, &s) || s.transport != CLK_PLAYING)
		return INT64_MAX;
	pos = tl_pos_at(&s.tl, now);
	next = tl_grid_ceil(pos + 1, s.song_origin, TL_UNITS_PER_BEAT);
	if (next < s.play_from)
		next = s.play_from;
	return tl_time_at(&s.tl, next);
}

void ctl_push_beats(struct ctl *c, int64_t now)
{
	struct clk_snapshot s;
	int64_t song, beat, bar;
	lo_message m;

	if (!ctl_snapshot(c, &s) || s.transport != CLK_PLAYING)
		return;
	song = clk_snapshot_song_pos(&s, now);
	if (song < 0)
		return;
	beat = tl_floor_div(song, TL_UNITS_PER_BEAT);
	if (beat == c->last_beat_pushed)
		return;
	c->last_beat_pushed = beat;
	bar = tl_floor_div(beat, s.quantum);
	m = lo_message_new();
	if (!m)
		return;
	lo_message_add_int32(m, (int32_t)(bar + 1));
	lo_message_add_int32(m, (int32_t)(beat - bar * s.quantum + 1));
	ctl_push(c, CTL_SUB_BEAT, "/phasorsync/beat", m);
	if (beat - bar * s.quantum == 0) {
		lo_message mb = lo_message_new();
		if (mb) {
			lo_message_add_int32(mb, (int32_t)(bar + 1));
			ctl_push(c, CTL_SUB_BAR, "/phasorsync/bar", mb);
			lo_message_free(mb);
		}
	}
	lo_message_free(m);
}
