/*
 * Planted run-time RT-safety violation for the RTSan build.
 *
 * `rt_planted_runtime bad` calls malloc inside an RT_SAFE function with the
 * compile-time check silenced (as if it hid behind an opaque call), so only
 * RealtimeSanitizer stands between it and production; expect_rtsan.py passes
 * only if the process dies with RTSan's report naming malloc.
 * `rt_planted_runtime good` runs the same path without the violation and
 * must exit 0, so the test cannot pass for the wrong reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/ring.h"
#include "rt/rt.h"

static void *(*volatile opaque_alloc)(size_t) = malloc; /* hidden from the compiler */
static unsigned long planted_storage[4];
static struct ring planted_ring;

static void *rt_path(int misbehave) RT_SAFE
{
	unsigned long v = 7, out = 0;
	void *p = NULL;

	ring_push(&planted_ring, &v);
	ring_pop(&planted_ring, &out);
	if (misbehave) {
#if RT_HAVE_EFFECTS
		_Pragma("clang diagnostic push")
		_Pragma("clang diagnostic ignored \"-Wfunction-effects\"")
#endif
		p = opaque_alloc(64);
#if RT_HAVE_EFFECTS
		_Pragma("clang diagnostic pop")
#endif
	}
	return p;
}

int main(int argc, char **argv)
{
	void *p;

	if (argc != 2 || (strcmp(argv[1], "good") && strcmp(argv[1], "bad"))) {
		fprintf(stderr, "usage: rt_planted_runtime good|bad\n");
		return 2;
	}
	if (ring_init(&planted_ring, planted_storage, 4, sizeof(unsigned long)) != 0)
		return 2;
	p = rt_path(!strcmp(argv[1], "bad"));
	free(p);
	printf("rt path completed (%s)\n", argv[1]);
	return 0;
}
