/*
 * rtlog.h - logging from RT threads without stdio.
 *
 * The RT thread writes fixed-size records (level, timestamp, a format string
 * with static lifetime, up to RTLOG_MAX_ARGS int64_t arguments) into an SPSC
 * ring; a non-RT thread drains the ring and formats the text.  A full ring
 * drops the record and counts it; the drainer reports the count once.
 *
 * RTLOG(log, level, fmt, ...) checks the format against the arguments at
 * compile time (printf rules); every argument is converted to int64_t, so
 * formats must use PRId64/PRIu64/PRIx64 conversions only.
 */
#ifndef PS_RT_RTLOG_H
#define PS_RT_RTLOG_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/ring.h"
#include "rt/rt.h"

#define RTLOG_MAX_ARGS 4

struct rtlog_rec {
	int64_t t_ns;                  /* caller's timestamp */
	const char *fmt;               /* string literal: static lifetime */
	int64_t arg[RTLOG_MAX_ARGS];   /* arguments, all int64_t */
	int level;                     /* syslog level (LOG_ERR..LOG_DEBUG numbers) */
};

struct rtlog {
	struct ring ring;          /* of struct rtlog_rec */
	uint64_t reported_drops;   /* drops already reported by the drainer */
};

/* Storage bytes for a log of `cap` records (cap a power of two). */
#define RTLOG_STORAGE_SIZE(cap) ((size_t)(cap) * sizeof(struct rtlog_rec))

/*
 * rtlog_init - log over caller-owned storage for `cap` records (power of 2).
 * Returns 0 or -EINVAL.
 * Context: non-RT, before use.
 */
int rtlog_init(struct rtlog *l, void *storage, uint32_t cap);

/*
 * rtlog_put - enqueue a record; use the RTLOG macro instead.  Returns 0 or
 * -ENOSPC (dropped, counted).
 * Context: RT; the single producer thread.
 */
int rtlog_put(struct rtlog *l, int level, int64_t t_ns, const char *fmt,
	      const int64_t arg[RTLOG_MAX_ARGS]) RT_SAFE;

/* Compile-time format check only; never does anything. */
static inline void rtlog_fmtcheck_(const char *fmt, ...) RT_SAFE
	__attribute__((format(printf, 1, 2)));
static inline void rtlog_fmtcheck_(const char *fmt, ...) RT_SAFE
{
	(void)fmt;
}

#define RTLOG(l, level, t_ns, fmt, ...)                                        \
	do {                                                                   \
		rtlog_fmtcheck_(fmt, ##__VA_ARGS__);                           \
		rtlog_put((l), (level), (t_ns), (fmt),                         \
			  (const int64_t[RTLOG_MAX_ARGS + 1]){ 0, ##__VA_ARGS__ } + 1); \
	} while (0)

/*
 * Callback receiving each drained record as text.  `text` is valid only
 * during the call.
 */
typedef void (*rtlog_sink_cb)(void *ctx, int level, int64_t t_ns, const char *text);

/*
 * rtlog_drain - format and hand every queued record to `sink`, oldest first;
 * if records were dropped since the last drain, first reports how many as a
 * warning.  Returns the number of records delivered.
 * Context: non-RT; the single consumer thread.
 */
unsigned rtlog_drain(struct rtlog *l, rtlog_sink_cb sink, void *ctx);

#endif
