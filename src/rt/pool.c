/*
 * pool.c - fixed-capacity object pool (see pool.h).
 *
 * Poisoning in debug builds makes use-after-put and use-before-init show up
 * as recognisable garbage (0x5A / 0xA5) instead of plausible stale data.
 */
#include "rt/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define POOL_POISON_FREE 0x5A
#define POOL_POISON_ALLOC 0xA5

struct pool_link {
	struct pool_link *next; /* next free object */
};

int pool_init(struct pool *p, void *mem, size_t obj_size, uint32_t cap)
{
	if (!p || !mem || obj_size == 0 || cap == 0 ||
	    ((uintptr_t)mem % sizeof(void *)) != 0)
		return -EINVAL;
	p->mem = mem;
	p->obj_size = POOL_OBJ_SIZE(obj_size);
	p->cap = cap;
	p->in_use = 0;
	p->high_water = 0;
	p->failures = 0;
	p->free = NULL;
	for (uint32_t i = cap; i-- > 0;) {
		struct pool_link *l = (struct pool_link *)(p->mem + (size_t)i * p->obj_size);
#ifndef NDEBUG
		memset(l, POOL_POISON_FREE, p->obj_size);
#endif
		l->next = (struct pool_link *)p->free;
		p->free = (struct pool_free *)l;
	}
	return 0;
}

int pool_contains(const struct pool *p, const void *obj) RT_SAFE
{
	const unsigned char *o = obj;

	if (o < p->mem || o >= p->mem + (size_t)p->cap * p->obj_size)
		return 0;
	return (size_t)(o - p->mem) % p->obj_size == 0;
}

void *pool_get(struct pool *p) RT_SAFE
{
	struct pool_link *l = (struct pool_link *)p->free;

	if (!l) {
		p->failures++;
		return NULL;
	}
	p->free = (struct pool_free *)l->next;
	if (++p->in_use > p->high_water)
		p->high_water = p->in_use;
#ifndef NDEBUG
	memset(l, POOL_POISON_ALLOC, p->obj_size);
#endif
	return l;
}

void pool_put(struct pool *p, void *obj) RT_SAFE
{
	struct pool_link *l = obj;

	if (!obj)
		return;
#ifndef NDEBUG
	if (!pool_contains(p, obj) || p->in_use == 0)
		__builtin_trap(); /* a foreign or double-freed pointer: corrupt state */
	memset(l, POOL_POISON_FREE, p->obj_size);
#endif
	l->next = (struct pool_link *)p->free;
	p->free = (struct pool_free *)l;
	p->in_use--;
}
