/*
 * test_alloc.h - a struct alloc for cmocka tests: counts calls and live
 * blocks, records the largest request, fails the Nth call on demand, and
 * allocates with cmocka's test_malloc so that a leak fails the test.
 * Include after <cmocka.h>.
 */
#ifndef PS_TESTS_TEST_ALLOC_H
#define PS_TESTS_TEST_ALLOC_H

#include <stddef.h>

#include "rt/alloc.h"

struct count_alloc {
	int calls;      /* alloc() calls */
	int live;       /* blocks not yet freed */
	size_t largest; /* biggest size asked */
	int fail_at;    /* 1-based call that fails; 0 = never */
};

static inline void *ca_alloc(void *ctx, size_t n)
{
	struct count_alloc *c = ctx;

	c->calls++;
	if (n > c->largest)
		c->largest = n;
	if (c->fail_at && c->calls == c->fail_at)
		return NULL;
	c->live++;
	return test_malloc(n);
}

static inline void ca_free(void *ctx, void *p)
{
	struct count_alloc *c = ctx;

	c->live--;
	test_free(p);
}

/* An allocator over `c`. */
#define COUNT_ALLOC(c) ((struct alloc){ ca_alloc, ca_free, (c) })

#endif
