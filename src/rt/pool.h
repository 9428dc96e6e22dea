/*
 * pool.h - fixed-capacity pool of fixed-size objects.
 *
 * O(1) get and put through an intrusive free list threaded through the free
 * objects themselves, over caller-owned storage: never calls malloc.  A pool
 * belongs to one thread (no locking).  Counters tell how close to the limit
 * a configuration runs: in use, high-water mark, refused gets.
 */
#ifndef PS_RT_POOL_H
#define PS_RT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

struct pool_free; /* never defined: a free object's first bytes */

struct pool {
	unsigned char *mem;     /* caller-owned, cap * obj_size bytes */
	size_t obj_size;        /* bytes per object, rounded up to pointer alignment */
	uint32_t cap;           /* number of objects */
	struct pool_free *free; /* head of the free list */
	uint32_t in_use;        /* objects handed out now */
	uint32_t high_water;    /* most objects ever in use at once */
	uint64_t failures;      /* pool_get() calls refused because empty */
};

/* Bytes of storage a pool of `cap` objects of `size` bytes needs. */
#define POOL_OBJ_SIZE(size) \
	(((size) < sizeof(void *) ? sizeof(void *) : (size)) + sizeof(void *) - 1) / \
		sizeof(void *) * sizeof(void *)
#define POOL_STORAGE_SIZE(cap, size) ((size_t)(cap) * POOL_OBJ_SIZE(size))

/*
 * pool_init - build the free list over `mem` (POOL_STORAGE_SIZE(cap, size)
 * bytes, pointer-aligned).  Returns 0, or -EINVAL for a NULL `mem`, a zero
 * size or cap, or misaligned storage.
 * Context: non-RT, before use.
 */
int pool_init(struct pool *p, void *mem, size_t obj_size, uint32_t cap);

/*
 * pool_get - take one object.  Returns it (contents unspecified; poisoned
 * with 0xA5 in debug builds), or NULL when the pool is empty, in which case
 * `failures` is incremented.
 * Context: RT; the owning thread only.
 */
void *pool_get(struct pool *p) RT_SAFE;

/*
 * pool_put - return an object obtained from this pool.  NULL is ignored.
 * In debug builds the object is poisoned with 0x5A and a pointer not from
 * this pool aborts.
 * Context: RT; the owning thread only.
 */
void pool_put(struct pool *p, void *obj) RT_SAFE;

/*
 * pool_contains - whether `obj` points at an object slot of this pool.
 * Context: any thread.
 */
int pool_contains(const struct pool *p, const void *obj) RT_SAFE;

#endif
