/*
 * rtlog.c - RT-side record writer and non-RT drainer (see rtlog.h).
 *
 * Formatting happens only on the drain side: snprintf may allocate (locale)
 * and is not RT-safe.  Passing all RTLOG_MAX_ARGS int64_t values to snprintf
 * is well defined even when the format consumes fewer (C11 7.21.6.1p2:
 * excess arguments are evaluated and ignored).
 */
#include "rt/rtlog.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

int rtlog_init(struct rtlog *l, void *storage, uint32_t cap)
{
	l->reported_drops = 0;
	return ring_init(&l->ring, storage, cap, sizeof(struct rtlog_rec));
}

int rtlog_put(struct rtlog *l, int level, int64_t t_ns, const char *fmt,
	      const int64_t arg[RTLOG_MAX_ARGS]) RT_SAFE
{
	struct rtlog_rec rec = { .t_ns = t_ns, .fmt = fmt, .level = level };

	memcpy(rec.arg, arg, sizeof(rec.arg));
	return ring_push(&l->ring, &rec);
}

unsigned rtlog_drain(struct rtlog *l, rtlog_sink_cb sink, void *ctx)
{
	struct rtlog_rec rec;
	char text[512];
	unsigned n = 0;
	uint64_t drops;

	rt_assert_not_rt();
	drops = ring_drops(&l->ring);
	if (drops != l->reported_drops) {
		snprintf(text, sizeof(text), "rt log: %" PRIu64 " records dropped (log ring full)",
			 drops - l->reported_drops);
		l->reported_drops = drops;
		sink(ctx, LOG_WARNING, 0, text);
	}
	while (ring_pop(&l->ring, &rec) == 0) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(text, sizeof(text), rec.fmt, rec.arg[0], rec.arg[1], rec.arg[2], rec.arg[3]);
#pragma GCC diagnostic pop
		sink(ctx, rec.level, rec.t_ns, text);
		n++;
	}
	return n;
}
