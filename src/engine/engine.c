/*
 * engine.c - the RT loop (see engine.h for the model).
 *
 * Deadlines are absolute: heartbeat k is due at anchor + k * period, so a
 * late wake-up never shifts later ones (no drift), and a wake-up that was so
 * late it skipped heartbeats resynchronises to the next one ahead rather
 * than firing a burst.
 */
#include "engine/engine.h"

#include <errno.h>
#include <syslog.h>

int engine_init(struct engine *e, struct timesrc *ts)
{
	int r;

	if (!e || !ts)
		return -EINVAL;
	rt_assert_not_rt();
	e->ts = ts;
	r = ring_init(&e->cmd, e->cmd_buf, ENGINE_CMD_RING_CAP, sizeof(struct engine_cmd));
	if (r < 0)
		return r;
	r = rtlog_init(&e->log, e->log_buf, ENGINE_LOG_RING_CAP);
	if (r < 0)
		return r;
	atomic_init(&e->stats.iterations, 0);
	atomic_init(&e->stats.deadlines, 0);
	atomic_init(&e->stats.commands, 0);
	atomic_init(&e->stats.lateness_max_ns, 0);
	for (unsigned i = 0; i < ENGINE_LAT_BUCKETS; i++)
		atomic_init(&e->stats.lateness_hist[i], 0);
	e->period_ns = ENGINE_IDLE_PERIOD_NS;
	e->anchor_ns = timesrc_now_ns(ts);
	e->k = 1;
	e->quit = false;
	return 0;
}

int engine_post(struct engine *e, const struct engine_cmd *c) RT_SAFE
{
	int r = ring_push(&e->cmd, c);

	if (r == 0)
		timesrc_wake(e->ts);
	return r;
}

unsigned engine_lateness_bucket(int64_t late_ns) RT_SAFE
{
	uint64_t us = late_ns > 0 ? (uint64_t)late_ns / 1000 : 0;
	unsigned b = 0;

	while (us > 0 && b < ENGINE_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static void engine_record_lateness(struct engine *e, int64_t late_ns) RT_SAFE
{
	int64_t max = atomic_load_explicit(&e->stats.lateness_max_ns, memory_order_relaxed);

	atomic_fetch_add_explicit(&e->stats.lateness_hist[engine_lateness_bucket(late_ns)], 1,
				  memory_order_relaxed);
	if (late_ns > max)
		atomic_store_explicit(&e->stats.lateness_max_ns, late_ns, memory_order_relaxed);
}

static void engine_exec(struct engine *e, const struct engine_cmd *c) RT_SAFE
{
	switch (c->type) {
	case ENGINE_CMD_QUIT:
		e->quit = true;
		break;
	case ENGINE_CMD_NOP:
		break;
	default:
		RTLOG(&e->log, LOG_ERR, timesrc_now_ns(e->ts), "engine: unknown command %" PRId64,
		      (int64_t)c->type);
		break;
	}
	atomic_fetch_add_explicit(&e->stats.commands, 1, memory_order_relaxed);
}

int engine_step(struct engine *e) RT_SAFE
{
	struct engine_cmd c;
	int64_t due = e->anchor_ns + (int64_t)e->k * e->period_ns;
	int w = timesrc_wait_until_ns(e->ts, due);
	int64_t now = timesrc_now_ns(e->ts);

	atomic_fetch_add_explicit(&e->stats.iterations, 1, memory_order_relaxed);
	while (ring_pop(&e->cmd, &c) == 0)
		engine_exec(e, &c);
	if (now >= due) {
		if (w == TIMESRC_DEADLINE) {
			atomic_fetch_add_explicit(&e->stats.deadlines, 1, memory_order_relaxed);
			engine_record_lateness(e, now - due);
		}
		/* next heartbeat strictly after now, on the anchor's grid */
		e->k = (uint64_t)((now - e->anchor_ns) / e->period_ns) + 1;
	}
	return e->quit ? 1 : 0;
}

void *engine_run(void *arg) RT_SAFE
{
	struct engine *e = arg;

	while (!engine_step(e))
		;
	return NULL;
}
