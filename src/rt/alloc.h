/*
 * alloc.h - an injected allocator for non-RT objects.
 *
 * Loaders that build objects on the control side (SMF files, patterns)
 * take a `const struct alloc *` instead of calling malloc directly, so that
 * tests can pass cmocka's leak-checking allocator, or one that fails on
 * the Nth call, and prove every error path frees what it took.  NULL means
 * libc malloc/free.  Never used on an RT thread: the helpers start with
 * rt_assert_not_rt().
 */
#ifndef PS_RT_ALLOC_H
#define PS_RT_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rt/rt.h"

struct alloc {
	void *(*alloc)(void *ctx, size_t size); /* like malloc: NULL on failure; size > 0 */
	void (*free)(void *ctx, void *p);       /* like free; never called with NULL */
	void *ctx;                              /* passed to both */
};

/*
 * alloc_mem - `size` bytes (> 0) from `a`, or from malloc when `a` is NULL.
 * Returns NULL on failure.
 * Context: non-RT.
 */
static inline void *alloc_mem(const struct alloc *a, size_t size)
{
	rt_assert_not_rt();
	return a ? a->alloc(a->ctx, size) : malloc(size);
}

/*
 * alloc_array - room for `n` objects of `size` bytes, or NULL when the
 * product overflows size_t or the allocator fails.  n == 0 allocates one
 * object (so that the result is never a legitimate NULL).
 * Context: non-RT.
 */
static inline void *alloc_array(const struct alloc *a, size_t n, size_t size)
{
	if (n == 0)
		n = 1;
	if (size == 0 || n > SIZE_MAX / size)
		return NULL;
	return alloc_mem(a, n * size);
}

/*
 * alloc_free - give back memory from alloc_mem()/alloc_array() on the same
 * allocator.  NULL is ignored.
 * Context: non-RT.
 */
static inline void alloc_free(const struct alloc *a, void *p)
{
	if (!p)
		return;
	rt_assert_not_rt();
	if (a)
		a->free(a->ctx, p);
	else
		free(p);
}

#endif
