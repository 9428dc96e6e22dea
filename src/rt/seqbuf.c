/*
 * seqbuf.c - seqlock over atomic words (see seqbuf.h).
 *
 * Ordering (the classic seqlock recipe in C11 terms): the writer's
 * seq := odd store is followed by a release fence before the payload
 * stores, and the final seq := even store is a release; the reader loads
 * seq with acquire, reads the payload relaxed, then an acquire fence before
 * re-reading seq.
 */
#include "rt/seqbuf.h"

#include <errno.h>
#include <string.h>

int seqbuf_init(struct seqbuf *b, size_t size)
{
	if (size == 0 || size > SEQBUF_MAX_BYTES)
		return -EINVAL;
	atomic_init(&b->seq, 0);
	for (size_t i = 0; i < SEQBUF_MAX_BYTES / 8; i++)
		atomic_init(&b->words[i], 0);
	b->size = size;
	return 0;
}

void seqbuf_write(struct seqbuf *b, const void *src) RT_SAFE
{
	uint32_t s = atomic_load_explicit(&b->seq, memory_order_relaxed);
	const unsigned char *p = src;
	size_t n = (b->size + 7) / 8;

	atomic_store_explicit(&b->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < n; i++) {
		uint64_t w = 0;
		size_t len = b->size - i * 8 < 8 ? b->size - i * 8 : 8;
		memcpy(&w, p + i * 8, len);
		atomic_store_explicit(&b->words[i], w, memory_order_relaxed);
	}
	atomic_store_explicit(&b->seq, s + 2, memory_order_release);
}

bool seqbuf_read(struct seqbuf *b, void *dst, unsigned tries) RT_SAFE
{
	unsigned char *p = dst;
	size_t n = (b->size + 7) / 8;

	while (tries-- > 0) {
		uint32_t s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		for (size_t i = 0; i < n; i++) {
			uint64_t w = atomic_load_explicit(&b->words[i], memory_order_relaxed);
			size_t len = b->size - i * 8 < 8 ? b->size - i * 8 : 8;
			memcpy(p + i * 8, &w, len);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&b->seq, memory_order_relaxed) == s1)
			return true;
	}
	return false;
}
