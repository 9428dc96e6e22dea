/*
 * mock_timesrc.h - cmocka-scripted time source.
 *
 * Each wait_until_ns() checks its deadline against an expectation and
 * returns at the time the test scripted:
 *   expect_value(mock_timesrc_wait, deadline_ns, D);
 *   will_return(mock_timesrc_wait, T);   // the wait ends at T
 * The wait reports TIMESRC_DEADLINE when T >= D, else TIMESRC_WOKEN.
 * now_ns() returns the time the last wait ended (or the start time).
 */
#ifndef PS_MOCKS_MOCK_TIMESRC_H
#define PS_MOCKS_MOCK_TIMESRC_H

#include <stdint.h>

#include "clock/timesrc.h"

struct mock_timesrc {
	struct timesrc base; /* must be first */
	int64_t now_ns;      /* current virtual time */
	int wakes;           /* wake() calls seen */
};

void mock_timesrc_init(struct mock_timesrc *m, int64_t start_ns);

/* The function name that expectations are keyed on. */
int mock_timesrc_wait(struct timesrc *ts, int64_t deadline_ns);

#endif
