/*
 * seqbuf.h - single-writer snapshot buffer (a seqlock over atomic words).
 *
 * The engine publishes small state snapshots (timeline, transport, follower)
 * that other threads - control, audio - read without ever blocking the
 * writer: the writer bumps a sequence number to odd, stores the words,
 * bumps it to even; a reader retries while the number is odd or changed.
 * The payload is stored as _Atomic uint64_t words with relaxed ordering plus
 * fences, so the concurrent reads are data-race-free C11 (and TSan-clean),
 * unlike a memcpy under a seqlock.
 */
#ifndef PS_RT_SEQBUF_H
#define PS_RT_SEQBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

#define SEQBUF_MAX_BYTES 512

struct seqbuf {
	_Atomic uint32_t seq;                             /* odd while a write is in progress */
	_Atomic uint64_t words[SEQBUF_MAX_BYTES / 8];     /* the payload */
	size_t size;                                      /* payload bytes (fixed at init) */
};

/* seqbuf_init - for payloads of `size` <= SEQBUF_MAX_BYTES bytes; returns 0
 * or -EINVAL.  Context: non-RT, before use. */
int seqbuf_init(struct seqbuf *b, size_t size);

/* seqbuf_write - publish `size` bytes.  Never blocks.
 * Context: RT; the single writer thread. */
void seqbuf_write(struct seqbuf *b, const void *src) RT_SAFE;

/* seqbuf_read - copy the latest complete snapshot into dst.  Returns true
 * when a consistent copy was made within `tries` attempts (the writer
 * publishes rarely, so 1000 is plenty), false otherwise.
 * Context: any thread but the writer; never blocks. */
bool seqbuf_read(struct seqbuf *b, void *dst, unsigned tries) RT_SAFE;

#endif
