/*
 * fuzz_replay.c - run a fuzz target without libFuzzer: on the files named
 * on the command line (to replay a crash), or else on every seed and a
 * fixed set of mutations of each (bit flips, interesting byte values,
 * truncations, insertions, deletions, spliced seeds).  Deterministic, so it
 * is a regular test in every build flavour, sanitizers included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX 70000
#define REPLAY_MUTATIONS 300

static uint8_t seed_buf[REPLAY_MAX], other[REPLAY_MAX], work[REPLAY_MAX + 64];

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static unsigned long run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		exit(2);
	}
	n = fread(work, 1, sizeof(work), f);
	fclose(f);
	LLVMFuzzerTestOneInput(work, n);
	return 1;
}

/* One mutation of seed (len bytes) into work; returns the new length. */
static size_t mutate(const uint8_t *in, size_t len, uint32_t *rs, uint32_t nseeds)
{
	static const uint8_t interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0x81, 0xf0, 0xf7, 0xff };
	size_t n = len, at = len ? xs(rs) % len : 0;

	memcpy(work, in, len);
	switch (xs(rs) % 7) {
	case 0: /* bit flips */
		for (int k = 1 + (int)(xs(rs) % 4); k > 0 && len; k--)
			work[xs(rs) % len] ^= (uint8_t)(1u << (xs(rs) % 8));
		break;
	case 1: /* interesting byte */
		if (len)
			work[at] = interesting[xs(rs) % sizeof(interesting)];
		break;
	case 2: /* truncate */
		n = at;
		break;
	case 3: /* insert bytes */
		if (len + 8 <= sizeof(work)) {
			size_t k = 1 + xs(rs) % 8;
			memmove(work + at + k, work + at, len - at);
			for (size_t i = 0; i < k; i++)
				work[at + i] = (uint8_t)xs(rs);
			n = len + k;
		}
		break;
	case 4: /* delete bytes */
		if (len) {
			size_t k = 1 + xs(rs) % 8;
			if (k > len - at)
				k = len - at;
			memmove(work + at, work + at + k, len - at - k);
			n = len - k;
		}
		break;
	case 5: { /* 32-bit big-endian length-like value */
		uint32_t v = xs(rs) % 3 == 0 ? 0xFFFFFFFFu : xs(rs) % 3 == 1 ? (uint32_t)len : xs(rs);
		if (len >= 4) {
			at = xs(rs) % (len - 3);
			work[at] = (uint8_t)(v >> 24);
			work[at + 1] = (uint8_t)(v >> 16);
			work[at + 2] = (uint8_t)(v >> 8);
			work[at + 3] = (uint8_t)v;
		}
		break;
	}
	default: { /* splice: head of this seed, tail of another */
		size_t olen = fuzz_seed(xs(rs) % nseeds, other, sizeof(other));
		size_t from = olen ? xs(rs) % olen : 0;
		if (at + (olen - from) <= sizeof(work)) {
			memcpy(work + at, other + from, olen - from);
			n = at + (olen - from);
		}
		break;
	}
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned long runs = 0;
	uint32_t nseeds = 0, rs = 0x9e3779b9u;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			runs += run_file(argv[i]);
		printf("replayed %lu files\n", runs);
		return 0;
	}
	while (fuzz_seed(nseeds, seed_buf, sizeof(seed_buf)) > 0)
		nseeds++;
	for (uint32_t i = 0; i < nseeds; i++) {
		size_t len = fuzz_seed(i, seed_buf, sizeof(seed_buf));

		LLVMFuzzerTestOneInput(seed_buf, len);
		runs++;
		for (int m = 0; m < REPLAY_MUTATIONS; m++) {
			size_t n = mutate(seed_buf, len, &rs, nseeds);
			LLVMFuzzerTestOneInput(work, n);
			runs++;
		}
	}
	printf("%lu inputs from %u seeds, no failure\n", runs, nseeds);
	return 0;
}
