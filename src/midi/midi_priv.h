/*
 * midi_priv.h - helpers shared by the MIDI backends (midi_*.c only).
 *
 * The midi module may not include the clock module (ARCHITECTURE.md), so
 * backends that stamp input or records with CLOCK_MONOTONIC read it here,
 * under the same named exception as the time source does.
 */
#ifndef PS_MIDI_MIDI_PRIV_H
#define PS_MIDI_MIDI_PRIV_H

#include <stdint.h>
#include <time.h>

#include "rt/rt.h"

#define MIDI_NS_PER_SEC INT64_C(1000000000)

/*
 * midi_now_ns - CLOCK_MONOTONIC now, in ns.
 * Context: any thread (RT).
 */
static inline int64_t midi_now_ns(void) RT_SAFE
{
	struct timespec ts;

	RT_SYSCALL_BEGIN("clock-read")
	clock_gettime(CLOCK_MONOTONIC, &ts);
	RT_SYSCALL_END
	return (int64_t)ts.tv_sec * MIDI_NS_PER_SEC + ts.tv_nsec;
}

#endif
