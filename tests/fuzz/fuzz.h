/*
 * fuzz.h - what every fuzz target under tests/fuzz/ provides.
 *
 * A target is one .c file defining LLVMFuzzerTestOneInput() (libFuzzer's
 * entry point: must not crash, leak, loop or trip a sanitizer for any
 * input; checks its own invariants and abort()s when one fails) and
 * fuzz_seed() (valid inputs to start from).  tests/fuzz/meson.build builds
 * each target three ways: the libFuzzer binary (./dev fuzz), a seed
 * corpus writer (fuzz_seed_main.c) and a deterministic replay test run by
 * ./dev test in every flavour (fuzz_replay.c).
 */
#ifndef PS_TESTS_FUZZ_H
#define PS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An invariant of target `tag`: on failure, say which and abort() (what
 * libFuzzer and the replay test catch). */
#define FUZZ_CHECK(tag, cond)                                                       \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s: check failed: %s (line %d)\n", tag, #cond, \
				__LINE__);                                          \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* libFuzzer's entry point: always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Seed input number `i` into buf (cap bytes); returns its length, or 0
 * when there are no more seeds. */
size_t fuzz_seed(uint32_t i, uint8_t *buf, size_t cap);

#endif
