/*
 * midi_parse.c - MIDI 1.0 byte-stream parser (see midi_parse.h for the
 * rules and the ownership of SysEx chunks).
 *
 * Model: one status byte decides what the following data bytes mean.
 * `status`/`need`/`have` describe the message being collected; for channel
 * messages `status` survives a completed message (running status), for
 * System Common it is cleared once the message is complete, because the
 * specification gives System Common no running status.  A SysEx is a
 * separate mode (`sysex`): data bytes go into the current chunk, which is
 * handed out when it is full and the message goes on (with CONT) or when
 * the message ends.  Both moments are fixed by the byte sequence
 * alone, so the output never depends on where the input was split, and a
 * re-encoded stream parses back into the same order of chunks and
 * real-time messages.
 *
 * Real-time bytes are decided by the byte value alone (>= F8) and never touch
 * the message state, which is what makes them legal anywhere.
 *
 * Speed: on x86-64 with AVX2 (found at run time) complete messages
 * outside SysEx go through the block path, midi_parse_block(): 64 bytes a
 * window, the bytes that complete messages found at once with vectors and
 * bit-mask arithmetic, the messages written from a table of words by
 * permutations, with no branch on what the bytes are.  Elsewhere, and for
 * what a window refuses (SysEx, errors), complete messages outside SysEx
 * take the fast path, midi_parse_fast(): one message per pass (a status
 * byte or running status with its data bytes, a real-time byte, or such a
 * message with one real-time byte inside; also F2, F6 and a short SysEx
 * whole in the buffer), selected through per-byte tables with masks
 * instead of branches, written as one word.  The byte loop does the rest
 * (longer SysEx, errors, the last eight bytes of a buffer) with the hot
 * state in locals (the output messages are uint8_t-typed and would
 * otherwise alias it, forcing a reload per byte).  SysEx payload is checked
 * for the next status byte and copied into the chunk in one pass, eight
 * bytes at a time, so bulk dumps cost little more than their copy.
 *
 * Measured (tests/bench_midi_parse.c, -O3 as the release build, this
 * 2-core Zen 3 VM; "ns" is the fast path alone on regular / mixed streams,
 * best of 4 interleaved runs; ratios are medians of 3 against alsa-lib):
 * - kept: the fast path with one 16-byte-entry table: realistic stream
 *   2.28x -> 2.97x, without SysEx 1.87x -> 2.75x; two tables of 8-byte
 *   entries (scaled indexing) and the head entry chosen by a cmov:
 *   4.2 -> 3.5 ns; the real-time byte inside a message taken without
 *   leaving the fast path: 3.53x -> 3.95x; the next head word read before
 *   the length is known: 3.89x -> 4.12x; the length word kept whole: 3.3 ->
 *   3.1 ns; the SysEx scan locating the status byte by its bit: bulk SysEx
 *   1361 -> 1703 MB/s.
 * - rejected: branch-free data bytes in the byte loop (always write the
 *   candidate, advance by the "complete" flag, update have/d0 with
 *   arithmetic): 5.6 -> 7.1 / 7.4 -> 8.6 ns a message, as the byte loop's
 *   branches are cheap when predicted and the candidate costs every byte;
 *   one table indexed by the selected status (a load in the loop-carried
 *   chain): 5.1 vs 4.5 ns; the length from a table instead of the shift:
 *   5.4 vs 4.0 ns; two messages per pass from one 8-byte word: no faster
 *   (register pressure, ~57 instructions a message); an iteration count
 *   instead of the two bounds checks: 4.1 vs 3.6 ns; a 16-byte vector
 *   store per message: 3.8 vs 3.3 ns; the data shift as a conditional
 *   (gcc emits a branch): 3.8 vs 3.2 ns on mixed streams.  -O2, -flto and
 *   -march=x86-64-v3/native measured within the noise of -O3.
 * Measured again on a 2-core Intel VM (shared, no perf counters; the same
 * parser there: realistic 3.17x, without SysEx 3.19x, bulk 3.47x, medians
 * of 5 interleaved runs; "ns" from synthetic streams of channel messages,
 * best of 3; mispredicts from valgrind's branch simulation, per kilobyte):
 * - kept: one status-first word for both kinds of head (running status
 *   put in front of a data byte), so check, data mask and template come
 *   from one entry per status, the tables in one object (one base
 *   register), the length field holding the shift itself: ~51 -> ~40
 *   instructions a pass, 3.35 -> 3.08 ns; F2, F6 and whole short SysEx
 *   off the failed check instead of leaving the fast path: realistic 3.24x
 *   -> 3.43x; the SysEx copy in one pass with the scan: bulk 3.24x ->
 *   3.74x.  All of it: realistic 3.17x -> 3.32x, without SysEx 3.19x ->
 *   3.29x, bulk 3.47x -> 3.80x; callgrind, instructions per byte 16.84 ->
 *   15.12 / 20.64 -> 18.60 / 3.87 -> 3.62.
 * - rejected: the running status and `len` updated through the entry of
 *   the selected status (a load in the loop-carried chain again): 2.60x vs
 *   3.20x; passes bounded by min(bytes left, slots left) with one check:
 *   ~10 shrinking rounds a call, each ending in a mispredicted exit, 60 vs
 *   44 mispredicts, no gain (3.18x vs 3.37x with both checks); the length
 *   as two bit tests choosing the next head word by cmov (C, or bt in
 *   asm): the chain is shorter on paper, 3.2..3.7 vs 3.1 ns measured, and
 *   gcc turns the head select into a branch unless the mask is hidden;
 *   the odd cases (real-time inside, F2, F6, SysEx) out of line: no spill
 *   in the loop, but the real-time byte inside costs a call, 4.40 vs 4.09
 *   ns with one in 13 messages; the SysEx copy inline: gcc spills two
 *   values of the loop (22.1 -> 24.5 instructions a byte without SysEx,
 *   consumer included); the head word
 *   kept shifted by two to take a shift off the chain: no faster (3.11 vs
 *   3.03 ns), one more shift on the shift ports; the one-pass SysEx copy
 *   ending byte by byte: bulk 3.13x vs 3.56x (a mispredict per run);
 *   -mbmi2: 3-5% on channel messages, not worth a dispatched copy.
 *   What is left is mostly the mispredicted branch of a real-time byte
 *   inside a message (one multi-byte message in 12 in the benchmark; ~40
 *   cycles each, about a fifth of the time on the stream without SysEx);
 *   taking it without a branch was estimated, not built: ~10 more
 *   instructions and a longer chain for every pass, about what it saves.
 * - rejected, two block paths over 64-byte windows as bit masks (SSE2
 *   movemask; NEON on aarch64), built, tested against this parser (~3 M
 *   random cases with random chunking and room, equal) and measured
 *   interleaved, medians of 9: (a) from status bit to status bit, one
 *   message a pass: 2.4x..2.9x against alsa-lib on the realistic stream -
 *   one pass in seven is odd (a real-time byte inside 9.4%, several in
 *   running status 4.4%), each a mispredict of ~40 cycles; (b) word
 *   arithmetic on the masks (prefix XOR for the data counts' parity,
 *   carries for what each head governs) finding every byte that completes
 *   a message, then one branch-free write per message: realistic 3.32x ->
 *   3.68x, without SysEx 3.31x -> 3.60x, bulk 3.80x -> 3.88x, still ~47
 *   instructions a message (18 in the write loop, the rest classifying the
 *   window).  +11% for ~480 lines of per-target SIMD in an RT parser,
 *   with the 5x still out of reach: not kept.
 * The benchmark's consumer (a tally per event, the same for alsa-lib)
 * takes about a fifth of this parser's time on the realistic stream (Zen
 * 3), about 6% on the Intel VM.
 * The block path, on the same Intel VM (AVX2; ratios against alsa-lib,
 * realistic / without SysEx, medians of 3-8 interleaved runs of best of
 * 5-9 passes; the VM's own noise is about +-5%):
 * - kept, in the order built: 62-byte windows behind two stand-in
 *   positions for the carried state: 3.35x / 3.34x (fast path) -> 3.93x
 *   / 4.17x; the status fill within 128-bit lanes, then across, and the
 *   data byte before a position as the byte before it (or the one before
 *   that after a real-time byte) instead of a second fill: 4.28x / 4.52x;
 *   constants as memory operands, not rebuilt in the loop: within the
 *   noise, kept for 40 fewer instructions a window; F2 inside the window
 *   and two messages a pass: 4.24x -> 4.48x; eight messages a group
 *   written from words compacted by a table permutation (no mispredicted
 *   loop exit a window): 4.42x -> 4.64x; 64-byte windows with the state
 *   as carry-ins: 4.71x -> 4.96x / 5.26x; a short SysEx whole taken
 *   inside the loop: 4.96x -> 5.03x; byte classes by two nibble tables:
 *   5.05x -> 5.08x; SysEx payload 32 bytes a step with the clocks inside
 *   a dump delivered in the same loop (midi_parse_sysex_run()): bulk
 *   3.79x -> 4.09x, realistic 5.04x -> 5.09x.  The room cut (stop after the last message that fits,
 *   as the byte loop) is for correctness.  Parse alone without SysEx:
 *   1.6-1.7 ns a message; callgrind, realistic: ~22 instructions a message
 *   in midi_parse_block(), ~540 a window.  Removing parts (timing only):
 *   the emission is ~23% of the parse, the words ~18%, the status fill
 *   ~12%, the checks that end a window ~9%, the one for data after System
 *   Common ~7%.  With the cut kept off the next window's start (timing
 *   only) nothing changes: the path is bound by its instructions, not by
 *   the chain from one window to the next.
 * - rejected: SysEx as a message inside the window (its masks cost every
 *   window more than the stalls saved: 4.52x -> 4.31x, 4.49x -> 4.46x
 *   with the masks behind a branch); the emission by AVX-512 compress (a
 *   call and a variable loop: 5.07x -> 4.90x); eight 16-byte stores a
 *   group instead of four 32-byte ones (4.99x -> 4.59x); the upper half
 *   of a group only when it holds more than four messages (a branch a
 *   group: 4.93x -> 4.84x; a branch a window on a byte-wise count: 5.14x
 *   -> 5.04x); the words without blends (max, and/andnot: 4.97x ->
 *   4.93x); message pairs by four permutations of the compacted
 *   words (5.02x -> 4.85x); the next window started before the cut is
 *   known (a predicted branch: 1.61 -> 1.69 ns); the lane carries of the
 *   status fill from the scalar masks (no gain); the check after System
 *   Common split by F2 behind a branch (5M more instructions); the SysEx
 *   copy 32 bytes a step alone, and a scalar loop of its own for payload
 *   and clocks (bulk dumps unchanged at 2.3-2.5 GB/s).
 */
#include "midi/midi_parse.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* The fast path and the SysEx scan read and write little-endian words. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MIDI_PARSE_FAST 1
#else
#define MIDI_PARSE_FAST 0 /* byte loop only */
#endif

/* The block path (midi_parse_block()): x86-64 with AVX2, chosen at run
 * time by midi_parse_init(). */
#if MIDI_PARSE_FAST && defined(__x86_64__) && defined(__GNUC__)
#define MIDI_PARSE_BLOCK 1
#include <immintrin.h>
#else
#define MIDI_PARSE_BLOCK 0
#endif

int midi_parse_init(struct midi_parse *p, struct pool *pool)
{
	if (!p || (pool && pool->obj_size < sizeof(struct midi_sysex_chunk)))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->pool = pool;
#if MIDI_PARSE_BLOCK
	__builtin_cpu_init();
	p->simd = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
	return 0;
}

static inline void midi_parse_put(struct midi_msg *o, uint8_t type, uint8_t channel,
				  uint8_t d0, uint8_t d1, uint8_t flags,
				  struct midi_sysex_chunk *chunk) RT_SAFE
{
	o->type = type;
	o->channel = channel;
	o->data[0] = d0;
	o->data[1] = d1;
	o->flags = flags;
	o->sysex = chunk;
}

/* Ends the SysEx under way: its last chunk (if any) goes to `o`.  Returns
 * the number of messages written (0 or 1). */
static int midi_parse_sysex_end(struct midi_parse *p, struct midi_msg *o) RT_SAFE
{
	int n = 0;

	if (p->sysex == MIDI_PARSE_SX_FILL) {
		midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, p->sysex_first ? MIDI_F_SYSEX_START : 0,
			       p->chunk);
		n = 1;
	}
	p->chunk = NULL;
	p->sysex = MIDI_PARSE_SX_NONE;
	return n;
}

/* F0: a new SysEx takes a chunk now, so that even F0 F7 is delivered. */
static void midi_parse_sysex_begin(struct midi_parse *p) RT_SAFE
{
	p->chunk = p->pool ? pool_get(p->pool) : NULL;
	if (p->chunk) {
		p->chunk->len = 0;
		p->sysex = MIDI_PARSE_SX_FILL;
		p->sysex_first = 1;
	} else {
		p->sysex = MIDI_PARSE_SX_DROP;
		p->stats.sysex_dropped++;
	}
}

/* The current chunk is full and the message goes on: a payload byte or a
 * real-time byte arrived.  A chunk that fills up waits for this moment
 * rather than leaving at once, so a payload of exactly k *
 * MIDI_SYSEX_CHUNK_MAX bytes is k chunks with no empty one after them; it
 * leaves before a real-time byte so that real-time messages keep their
 * place between chunks (re-encoding puts them on the chunk boundary, where
 * they must parse back into the same order).  So the one empty chunk left is
 * a message ending right after a real-time byte on a chunk boundary.
 * With a fresh chunk from the pool the full one leaves with CONT.  Without
 * one, `payload` 0 (real-time byte): it stays (the real-time message goes
 * first) until the end of the message or the next payload byte; `payload`
 * 1: it ends the sequence as TRUNC and the rest is dropped.
 * Returns the number of messages written (0 or 1). */
static int midi_parse_sysex_full(struct midi_parse *p, struct midi_msg *o, int payload) RT_SAFE
{
	struct midi_sysex_chunk *next = p->pool ? pool_get(p->pool) : NULL;
	uint8_t first = p->sysex_first ? MIDI_F_SYSEX_START : 0;

	if (next) {
		midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, first | MIDI_F_SYSEX_CONT, p->chunk);
		next->len = 0;
		p->chunk = next;
		p->sysex_first = 0;
		return 1;
	}
	if (!payload)
		return 0;
	midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, first | MIDI_F_SYSEX_TRUNC, p->chunk);
	p->chunk = NULL;
	p->sysex = MIDI_PARSE_SX_DROP;
	p->stats.sysex_dropped++;
	return 1;
}

/* A status byte in F0..F7 or 80..EF.  Returns the messages written (0..2). */
static int midi_parse_status(struct midi_parse *p, uint8_t b, struct midi_msg *o) RT_SAFE
{
	int n = 0;

	if (p->sysex != MIDI_PARSE_SX_NONE) {
		if (b != 0xF7)
			p->stats.sysex_unterminated++;
		n = midi_parse_sysex_end(p, o);
		if (b == 0xF7)
			return n; /* running status was already cleared by the F0 */
	}
	if (p->pending) {
		p->stats.incomplete++;
		p->pending = 0;
	}
	p->have = 0;
	if (b < 0xF0) {
		p->status = b;
		p->need = (b & 0xE0) == 0xC0 ? 1 : 2;
		p->pending = 1;
		return n;
	}
	/* System Common and SysEx: running status ends here */
	p->status = 0;
	p->need = 0;
	switch (b) {
	case 0xF0:
		midi_parse_sysex_begin(p);
		break;
	case 0xF1: /* MTC quarter frame */
	case 0xF2: /* song position */
	case 0xF3: /* song select */
		p->status = b;
		p->need = b == 0xF2 ? 2 : 1;
		p->pending = 1;
		break;
	case 0xF6:
		midi_parse_put(o + n, MIDI_TUNE_REQUEST, 0, 0, 0, 0, NULL);
		n++;
		break;
	case 0xF7:
		p->stats.stray_eox++;
		break;
	default: /* F4, F5 */
		p->stats.undefined++;
		break;
	}
	return n;
}

/* Length of the run of data bytes (< 0x80) at the start of s[0..n). */
static size_t midi_parse_data_run(const uint8_t *s, size_t n) RT_SAFE
{
	size_t k = 0;

	for (; k + 8 <= n; k += 8) { /* eight at a time: bulk dumps are long */
		uint64_t w;

		memcpy(&w, s + k, sizeof(w));
		w &= 0x8080808080808080u;
		if (w && MIDI_PARSE_FAST) /* little-endian: the lowest set bit is the first */
			return k + (size_t)__builtin_ctzll(w) / 8;
		if (w)
			break;
	}
	while (k < n && s[k] < 0x80)
		k++;
	return k;
}

/* Copies the run of data bytes at the start of s[0..n) to d[0..n); returns
 * its length.  One pass, eight bytes at a time, so a bulk dump is scanned
 * and copied at once; the word holding the run's end is stored whole (d
 * has room for it), the bytes of d beyond the run are not payload. */
static size_t midi_parse_data_copy(uint8_t *d, const uint8_t *s, size_t n) RT_SAFE
{
	size_t k = 0;

	for (; k + 8 <= n; k += 8) {
		uint64_t w, st;

		memcpy(&w, s + k, sizeof(w));
		memcpy(d + k, &w, sizeof(w));
		st = w & 0x8080808080808080u;
		if (st && MIDI_PARSE_FAST) /* little-endian: the lowest set bit is the first */
			return k + (size_t)__builtin_ctzll(st) / 8;
		if (st)
			break;
	}
	for (; k < n && s[k] < 0x80; k++)
		d[k] = s[k];
	return k;
}

/* SysEx payload at s[0..n) (n > 0, s[0] a data byte): copies the run of
 * data bytes that fits the current chunk.  Writes at most one message to
 * `o`; returns bytes consumed and sets *emitted. */
static size_t midi_parse_sysex_data(struct midi_parse *p, const uint8_t *s, size_t n,
				    struct midi_msg *o, size_t *emitted) RT_SAFE
{
	struct midi_sysex_chunk *c = p->chunk;
	size_t k;

	*emitted = 0;
	if (p->sysex == MIDI_PARSE_SX_DROP) {
		k = midi_parse_data_run(s, n);
		p->stats.sysex_dropped_bytes += k;
		return k;
	}
	if (c->len == MIDI_SYSEX_CHUNK_MAX) { /* more payload: the full chunk leaves */
		*emitted = (size_t)midi_parse_sysex_full(p, o, 1);
		return 0; /* p->sysex may now be SX_DROP */
	}
	if (n > (size_t)(MIDI_SYSEX_CHUNK_MAX - c->len))
		n = (size_t)(MIDI_SYSEX_CHUNK_MAX - c->len);
	k = midi_parse_data_copy(c->data + c->len, s, n);
	c->len = (uint16_t)(c->len + k);
	return k;
}

/* A whole SysEx at s[0..n) (s[0] is F0), for the fast path: when its F7
 * is there, within one chunk's payload and with no real-time byte before
 * it, it is taken as the byte loop would (one START chunk, or dropped and
 * counted when there is no chunk) and the bytes it took are returned, with
 * the messages written to `o` (0 or 1) in *emitted; else 0, nothing done. */
static __attribute__((noinline)) size_t midi_parse_sysex_whole(struct midi_parse *p,
								 const uint8_t *s, size_t n,
								 struct midi_msg *o,
								 size_t *emitted) RT_SAFE
{
	struct midi_sysex_chunk *c;
	size_t k;

	if (n > MIDI_SYSEX_CHUNK_MAX + 2)
		n = MIDI_SYSEX_CHUNK_MAX + 2;
	k = midi_parse_data_run(s + 1, n - 1);
	if (k + 1 >= n || s[k + 1] != 0xF7)
		return 0;
	c = p->pool ? pool_get(p->pool) : NULL;
	*emitted = c != NULL;
	if (c) {
		memcpy(c->data, s + 1, k);
		c->len = (uint16_t)k;
		midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, MIDI_F_SYSEX_START, c);
	} else {
		p->stats.sysex_dropped++;
		p->stats.sysex_dropped_bytes += k;
	}
	return k + 2;
}

/*
 * Fast path: whole messages, one per pass, with no branch on what the bytes
 * are.  A pass looks at the next bytes; the first is a status byte heading
 * its message or a data byte heading a message in running status.  Either
 * way the pass builds the same word, the status byte and then the data
 * bytes (in running status, the running status put in front of the bytes),
 * so one table entry, indexed by that status, serves both: which bits of
 * the word must be clear (the top bits of its data bytes; a few statuses
 * never pass: F0, F2, F4..F7, F9, FD, no running status) and how the
 * message is written.  If the bits are not clear, the mispredicted branch
 * takes what it can and otherwise stops the pass before changing anything:
 * one real-time byte inside the message (a clock, typically), the
 * real-time message first, then the message without it; F2 and F6, whose
 * lengths the length field cannot tell; a SysEx whose F7 is in the buffer
 * within one chunk's payload, with no real-time byte inside (the short
 * ones, identity requests, parameter changes).  Everything else is the
 * byte loop's.  A message is one output slot and its bytes write nothing
 * else, so a pass taken only with room for its messages stops before the
 * same byte as the byte loop would: the output never depends on which path
 * ran.
 */

/* A message's first eight bytes are written as one little-endian word;
 * the block path writes whole 16-byte messages (a NULL pointer is zero). */
_Static_assert(sizeof(struct midi_msg) == 16, "struct midi_msg size assumed by midi_parse_block()");
_Static_assert(offsetof(struct midi_msg, type) == 0 && offsetof(struct midi_msg, channel) == 1 &&
		       offsetof(struct midi_msg, data) == 2 && offsetof(struct midi_msg, flags) == 4 &&
		       offsetof(struct midi_msg, sysex) == 8,
	       "struct midi_msg layout assumed by midi_parse_fast()");

/* Bytes a message headed by byte b take, less one, times eight: `len` >>
 * ((b >> 3) * 2) & 0x18, a 2-bit field per eight byte values, three bits
 * up.  The top 29 bits are the data bytes of the status bytes 80..FF
 * (MIDI_PARSE_LEN; F0..F7 share one field, which holds 1 for F1/F3: F0, F2
 * and F4..F7 never pass the check; F8..FF are beyond bit 63, so 0); below
 * them, for the data bytes 00..7F, the running status's data bytes less
 * one.  Times eight because the result is the shift that takes the next
 * head word out of the bytes read ahead.  Shifts, not a table load: the
 * next pass waits on this value. */
#define MIDI_PARSE_LEN ((uint64_t)0x1A55AAAA << 35)

/* Running status "none" inside the fast path: a data byte then heads a
 * word whose status is this value, whose entry never passes. */
#define MIDI_PARSE_NONE 0x01

/* The fast path's tables, indexed by a byte value, with entries of 8 bytes
 * (scaled indexing, no shift), in one object (one base register). */
struct midi_parse_head { /* by status: the head byte, or the running status */
	uint32_t check; /* bits of the word that must be clear: its data bytes' top bits */
	uint32_t dmask; /* its data bytes, a mask on the word shifted up by a byte */
};

struct midi_parse_put {
	uint32_t tmpl; /* by status: type | channel << 8, the first two bytes of its message */
	uint32_t next; /* by head byte: the running status it sets, ORed in after `keep` */
};

struct midi_parse_tables {
	struct midi_parse_head head[256];
	struct midi_parse_put put[256];
	/* By head byte, not status: the running status would put a load in
	 * the loop-carried chain.  ~0 for the bytes that keep the running
	 * status and `len` (data bytes, real-time), 0 for those that set them. */
	uint64_t keep[256];
	/* By head byte: `len` after a byte that sets the running status;
	 * also `len` for a running status. */
	uint64_t len[256];
};

#define MIDI_PARSE_SLOW 0xFF /* check of the statuses left to the byte loop: the word's
				status byte (>= 0x80, or MIDI_PARSE_NONE) is never clear */
#define MPH_CHAN(s) { ((s) & 0xE0) == 0xC0 ? 0x8000 : 0x808000, \
		      ((s) & 0xE0) == 0xC0 ? 0xFF0000 : 0xFFFF0000 }
#define MPH_COMMON { 0x8000, 0xFF0000 } /* F1, F3: one data byte */
#define MPH_RT { 0, 0 }
#define MPH_SLOW { MIDI_PARSE_SLOW, 0 }
#define MPH_F2 { MIDI_PARSE_SLOW, 0xFFFF0000 } /* taken off the failed check */
#define MPP_CHAN(s) { ((s) & 0xF0) | ((s) & 0x0F) << 8, (s) }
#define MPP_COMMON(s) { (s), MIDI_PARSE_NONE } /* no running status after System Common */
#define MPP_RT(s) { (s), 0 }
#define MPL_CHAN(s) (MIDI_PARSE_LEN | (((s) & 0xE0) == 0xC0 ? 0 : (uint64_t)0x55555555 << 3))
#define MP16(M, s) M(s), M(s + 1), M(s + 2), M(s + 3), M(s + 4), M(s + 5), M(s + 6),     \
		   M(s + 7), M(s + 8), M(s + 9), M(s + 10), M(s + 11), M(s + 12), M(s + 13), \
		   M(s + 14), M(s + 15)
#define MPK8 ~(uint64_t)0, ~(uint64_t)0, ~(uint64_t)0, ~(uint64_t)0, \
	     ~(uint64_t)0, ~(uint64_t)0, ~(uint64_t)0, ~(uint64_t)0
#define MPK64 MPK8, MPK8, MPK8, MPK8, MPK8, MPK8, MPK8, MPK8

static const struct midi_parse_tables midi_parse_tab = {
	.head = {
		/* entries 00..7F serve as running status: only MIDI_PARSE_NONE is */
		[MIDI_PARSE_NONE] = MPH_SLOW, /* a data byte is stray */
		[0x80] = MP16(MPH_CHAN, 0x80), MP16(MPH_CHAN, 0x90), MP16(MPH_CHAN, 0xA0),
		MP16(MPH_CHAN, 0xB0), MP16(MPH_CHAN, 0xC0), MP16(MPH_CHAN, 0xD0),
		MP16(MPH_CHAN, 0xE0),
		MPH_SLOW, MPH_COMMON, MPH_F2, MPH_COMMON, /* F0..F3 */
		MPH_SLOW, MPH_SLOW, MPH_SLOW, MPH_SLOW, /* F4..F7; F6 taken off the failed check */
		MPH_RT, MPH_SLOW, MPH_RT, MPH_RT, MPH_RT, MPH_SLOW, MPH_RT, MPH_RT, /* F8..FF */
	},
	.put = {
		[0x80] = MP16(MPP_CHAN, 0x80), MP16(MPP_CHAN, 0x90), MP16(MPP_CHAN, 0xA0),
		MP16(MPP_CHAN, 0xB0), MP16(MPP_CHAN, 0xC0), MP16(MPP_CHAN, 0xD0),
		MP16(MPP_CHAN, 0xE0),
		[0xF1] = MPP_COMMON(0xF1), [0xF2] = MPP_COMMON(0xF2), [0xF3] = MPP_COMMON(0xF3),
		[0xF6] = MPP_COMMON(0xF6), [0xF8] = MPP_RT(0xF8), [0xFA] = MPP_RT(0xFA), [0xFB] = MPP_RT(0xFB),
		[0xFC] = MPP_RT(0xFC), [0xFE] = MPP_RT(0xFE), [0xFF] = MPP_RT(0xFF),
	},
	.keep = { MPK64, MPK64, [0xF8] = MPK8 },
	.len = {
		[0x00] = MIDI_PARSE_LEN, [MIDI_PARSE_NONE] = MIDI_PARSE_LEN, /* none */
		[0x80] = MP16(MPL_CHAN, 0x80), MP16(MPL_CHAN, 0x90), MP16(MPL_CHAN, 0xA0),
		MP16(MPL_CHAN, 0xB0), MP16(MPL_CHAN, 0xC0), MP16(MPL_CHAN, 0xD0),
		MP16(MPL_CHAN, 0xE0),
		[0xF1] = MIDI_PARSE_LEN, [0xF2] = MIDI_PARSE_LEN, [0xF3] = MIDI_PARSE_LEN,
		[0xF6] = MIDI_PARSE_LEN,
	},
};

/*
 * midi_parse_fast - whole messages from s while at least nine bytes are
 * readable (s < fend, the end of the buffer less eight) and an output slot
 * is left (*op < olim); returns where it stopped, at the first byte it does
 * not take, at most fend + 3 (beyond only after a SysEx, at most the end).
 * Called outside SysEx with no message begun; *status is the running status
 * (0 or 80..EF), updated.  Each pass reads the eight bytes after the head
 * before it knows the message's length and takes the next head word from
 * them with a shift: the next pass then waits on the length computation
 * alone, not on a load from an address that depends on it.  The running
 * status and `len` are updated through tables indexed by the head byte,
 * for the same reason.
 */
static const uint8_t *midi_parse_fast(struct midi_parse *p, const uint8_t *s, const uint8_t *fend,
				      struct midi_msg **op, struct midi_msg *olim,
				      uint8_t *status) RT_SAFE
{
	struct midi_msg *o = *op;
	uint64_t rs = *status ? *status : MIDI_PARSE_NONE, w = 0;
	const struct midi_parse_tables *t = &midi_parse_tab;
	uint64_t len = t->len[rs];

	if (s < fend)
		memcpy(&w, s, sizeof(w));
	while (s < fend && o < olim) {
		uint64_t ahead, y, m;
		uint32_t idx, c, sh;

		memcpy(&ahead, s + 1, sizeof(ahead));
		y = (w & 0x80) ? w : (w << 8 | rs); /* status byte first; a cmov */
		idx = y & 0xFF;
		c = t->head[idx].check;
		sh = (uint32_t)(len >> ((w >> 2) & 0x3E)) & 0x18;
		if (__builtin_expect(y & c, 0)) {
			uint32_t at, rt;
			uint64_t low;

			if (c & 0xFF) {
				/* A status the check never passes.  System
				 * Common whose length `len` cannot tell (the
				 * field is F1/F3's): F2 takes two data bytes,
				 * F6 none.  A SysEx whole in the buffer. */
				size_t e = 0, k;

				if (idx == 0xF2 && !(y & 0x808000)) {
					sh = 16;
					goto put;
				}
				if (idx == 0xF6) {
					sh = 0;
					goto put;
				}
				if (idx != 0xF0)
					goto out;
				k = midi_parse_sysex_whole(p, s, (size_t)(fend + 8 - s), o, &e);
				if (!k)
					goto out;
				o += e;
				rs = MIDI_PARSE_NONE; /* as after any System Common */
				len = MIDI_PARSE_LEN;
				s += k;
				if (s < fend)
					memcpy(&w, s, sizeof(w));
				continue;
			}
			/* One real-time byte inside the message (a clock,
			 * typically) comes out first, as the byte loop has
			 * it; the message is the word without it.  Two slots:
			 * the byte loop would stop after the real-time byte
			 * with fewer. */
			if (o + 1 >= olim)
				goto out;
			at = (y & 0x8000) ? 1 : 2; /* the first byte that is no data */
			rt = (uint32_t)(y >> (8 * at)) & 0xFF;
			if (rt < 0xF8 || t->head[rt].check) /* also F9, FD */
				goto out;
			low = ((uint64_t)1 << (8 * at)) - 1;
			y = (y & low) | ((y >> 8) & ~low);
			if (y & c)
				goto out;
			m = rt;
			memcpy(o, &m, sizeof(m));
			o->sysex = NULL;
			o++;
			sh += 8;
		}
put:
		m = ((uint32_t)y << 8 & t->head[idx].dmask) | t->put[idx].tmpl;
		memcpy(o, &m, sizeof(m)); /* flags 0 */
		o->sysex = NULL;
		o++;
		rs = (rs & t->keep[w & 0xFF]) | t->put[w & 0xFF].next;
		len = (len & t->keep[w & 0xFF]) | t->len[w & 0xFF];
		s += (sh >> 3) + 1;
		w = ahead >> sh;
	}
out:
	*status = rs == MIDI_PARSE_NONE ? 0 : (uint8_t)rs;
	*op = o;
	return s;
}

#if MIDI_PARSE_BLOCK

/* By a byte of bit mask: the positions of its set bits, in order, one a
 * byte (the rest 0): which words a group of eight positions keeps. */
#define MPL_PC(x) (((x) & 1) + ((x) >> 1 & 1) + ((x) >> 2 & 1) + ((x) >> 3 & 1) + \
		   ((x) >> 4 & 1) + ((x) >> 5 & 1) + ((x) >> 6 & 1) + ((x) >> 7 & 1))
#define MPL_B(m, i) ((uint64_t)((m) >> (i) & 1) * (i) << (8 * MPL_PC((m) & ((1 << (i)) - 1))))
#define MPL(m) (MPL_B(m, 1) | MPL_B(m, 2) | MPL_B(m, 3) | MPL_B(m, 4) | MPL_B(m, 5) | \
		MPL_B(m, 6) | MPL_B(m, 7))
#define MPL4(m) MPL(m), MPL(m + 1), MPL(m + 2), MPL(m + 3)
#define MPL16(m) MPL4(m), MPL4(m + 4), MPL4(m + 8), MPL4(m + 12)
#define MPL64(m) MPL16(m), MPL16(m + 16), MPL16(m + 32), MPL16(m + 48)
static const uint64_t midi_parse_lut[256] = { MPL64(0), MPL64(64), MPL64(128), MPL64(192) };
#undef MPL64
#undef MPL16
#undef MPL4
#undef MPL
#undef MPL_B
#undef MPL_PC

/* Byte constants of the block path, loaded from memory (as operands)
 * rather than built in registers the loop needs. */
enum { MPB_CF7, MPB_CF0, MPB_C0F, MPB_CE0, MPB_CC0, MPB_C02, MPB_CF3, MPB_THI, MPB_TLO };
#define MPB_ROW(b) { b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, \
		     b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b }
static const _Alignas(32) uint8_t midi_parse_vk[][32] = {
	MPB_ROW(0xF7), MPB_ROW(0xF0), MPB_ROW(0x0F), MPB_ROW(0xE0), MPB_ROW(0xC0),
	MPB_ROW(0x02), MPB_ROW(0xF3),
	/* byte classes: bits by high nibble ANDed with bits by low nibble
	 * (see midi_parse_block()); both lanes alike */
	{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x10, 0, 0xE0,
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x10, 0, 0xE0 },
	{ 0x90, 0x70, 0x50, 0x70, 0x90, 0x90, 0x90, 0x90, 0x10, 0x90, 0x10, 0x10, 0x10, 0x90, 0x10, 0x10,
	  0x90, 0x70, 0x50, 0x70, 0x90, 0x90, 0x90, 0x90, 0x10, 0x90, 0x10, 0x10, 0x10, 0x90, 0x10, 0x10 },
};
#undef MPB_ROW
#define MPB_K(i) _mm256_load_si256((const __m256i *)vk[i])

/* Fill forward: each byte whose top bit is clear takes the nearest byte
 * below it whose top bit is set; below byte 0 stands byte 0 of `cin`
 * (whose upper lane is zero).  Within each 128-bit lane first, then across. */
#define MPB_FILL(x, cin)                                                                   \
	do {                                                                               \
		(x) = _mm256_blendv_epi8(_mm256_slli_si256((x), 1), (x), (x));            \
		(x) = _mm256_blendv_epi8(_mm256_slli_si256((x), 2), (x), (x));            \
		(x) = _mm256_blendv_epi8(_mm256_slli_si256((x), 4), (x), (x));            \
		(x) = _mm256_blendv_epi8(_mm256_slli_si256((x), 8), (x), (x));            \
		(x) = _mm256_blendv_epi8((cin), (x), (x));                                \
		(x) = _mm256_blendv_epi8(MPB_LOW15(x), (x), (x));                          \
	} while (0)

/* Byte 15 of x in every byte of the upper lane, the lower lane zero. */
#define MPB_LOW15(x) _mm256_shuffle_epi8(_mm256_permute2x128_si256((x), (x), 0x08), MPB_K(MPB_C0F))

/* Byte 31 of x in every byte of the lower lane, the upper lane zero. */
#define MPB_LAST(x) _mm256_shuffle_epi8(_mm256_permute2x128_si256((x), (x), 0x81), MPB_K(MPB_C0F))

/* Positions governed by the marks in v, and by a mark below bit 0 when cin
 * is 1: each mark and the bits above it up to the next bit not in `pass`
 * (not including it), by the carry of an addition. */
static inline uint64_t midi_parse_govern(uint64_t v, uint64_t cin, uint64_t pass) RT_SAFE
{
	return v | (pass & ~(pass + (v << 1 | cin)));
}

/* Words of 32 positions: the first four bytes of the message each position
 * would complete (type, channel, data), from the bytes v, the governing
 * status byte gst and the data byte before each position pd; stored in
 * position order. */
__attribute__((target("avx2"))) static inline void midi_parse_words(const uint8_t (*vk)[32],
								  uint32_t *wd, __m256i v,
								  __m256i gst, __m256i pd) RT_SAFE
{
	const __m256i zero = _mm256_setzero_si256();
	__m256i rt = _mm256_and_si256(_mm256_cmpgt_epi8(v, MPB_K(MPB_CF7)), v);
	__m256i g = _mm256_blendv_epi8(gst, v, rt); /* real-time: the byte itself */
	__m256i sys = _mm256_cmpeq_epi8(_mm256_and_si256(g, MPB_K(MPB_CF0)), MPB_K(MPB_CF0));
	__m256i typ = _mm256_and_si256(g, _mm256_or_si256(sys, MPB_K(MPB_CF0)));
	__m256i chan = _mm256_andnot_si256(sys, _mm256_and_si256(g, MPB_K(MPB_C0F)));
	/* one data byte: C0..DF, F1, F3 (d1 0); none: real-time */
	__m256i n1 = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_and_si256(gst, MPB_K(MPB_CE0)),
						       MPB_K(MPB_CC0)),
				     _mm256_cmpeq_epi8(_mm256_or_si256(gst, MPB_K(MPB_C02)), MPB_K(MPB_CF3)));
	__m256i d0 = _mm256_blendv_epi8(_mm256_blendv_epi8(pd, v, n1), zero, rt);
	__m256i d1 = _mm256_blendv_epi8(_mm256_andnot_si256(n1, v), zero, rt);
	__m256i tc0 = _mm256_unpacklo_epi8(typ, chan), tc1 = _mm256_unpackhi_epi8(typ, chan);
	__m256i dd0 = _mm256_unpacklo_epi8(d0, d1), dd1 = _mm256_unpackhi_epi8(d0, d1);
	/* words of positions 0..3|16..19, 4..7|20..23, 8..11|24..27, 12..15|28..31 */
	__m256i a = _mm256_unpacklo_epi16(tc0, dd0), b = _mm256_unpackhi_epi16(tc0, dd0);
	__m256i c = _mm256_unpacklo_epi16(tc1, dd1), d = _mm256_unpackhi_epi16(tc1, dd1);

	_mm256_store_si256((__m256i *)wd, _mm256_permute2x128_si256(a, b, 0x20));
	_mm256_store_si256((__m256i *)(wd + 8), _mm256_permute2x128_si256(c, d, 0x20));
	_mm256_store_si256((__m256i *)(wd + 16), _mm256_permute2x128_si256(a, b, 0x31));
	_mm256_store_si256((__m256i *)(wd + 24), _mm256_permute2x128_si256(c, d, 0x31));
}

/* 64 bytes -> bit masks (bit i for byte i). */
#define MPB_MASK(a, b) ((uint64_t)(uint32_t)_mm256_movemask_epi8(a) | \
			(uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32)

/*
 * midi_parse_block - the block path: 64 bytes at a time, every message of
 * the window found at once with vectors and bit masks, then written from a
 * table of words with no branch on what the bytes are.  A window is taken
 * up to the first byte the byte loop would treat as anything but a
 * complete message or part of one: SysEx, F4..F7, F9, FD, a stray data
 * byte, a message cut short, two real-time bytes between the data bytes of
 * one message.  Those, and everything inside a SysEx, stay with the fast
 * path and the byte loop.
 *
 * Bit i of a mask is byte i of the window.  S marks the status bytes (not
 * real-time), D the data bytes.  With the positions each status governs
 * found by carries (midi_parse_govern; the carried running status governs
 * from below bit 0) and the parity of the data bytes since it by a prefix
 * XOR (the carried data byte counting as one), the bytes that complete a
 * message are: every real-time byte, every data byte of a one-byte status,
 * every second data byte of a two-byte one.
 *
 * Called with no SysEx under way and *status 0, a channel status, F1, F2
 * or F3 (System Common awaiting its data).  Reads 64 bytes from s (end - s
 * >= 64 for each window).  Writes up to eight slots beyond the messages it
 * returns, within the room (o < olim as midi_parse_feed() has it, plus one).
 * Returns where it stopped; *stall is 1 when it stopped at a byte it does
 * not take (or for want of room).
 */
__attribute__((target("avx2,popcnt,pclmul"))) static const uint8_t *
midi_parse_block(struct midi_parse *p, const uint8_t *s, const uint8_t *end, struct midi_msg **op,
		 struct midi_msg *olim, uint8_t *status, uint8_t *have, uint8_t *pending,
		 uint8_t *d0, int *stall) RT_SAFE
{
	struct midi_msg *o = *op;
	uint8_t st = *status, hv = *have, pe = *pending, dz = *d0;
	_Alignas(32) uint32_t wd[64];
	const uint8_t(*vk)[32] = midi_parse_vk;

	*stall = 0;
	__asm__("" : "+r"(vk)); /* loads, not constants rebuilt in the loop */
	while (end - s >= 64 && o < olim) {
		__m256i v0 = _mm256_loadu_si256((const __m256i *)s);
		__m256i v1 = _mm256_loadu_si256((const __m256i *)(s + 32));
		/* data bytes and F8..FF */
		__m256i g0 = _mm256_cmpgt_epi8(v0, MPB_K(MPB_CF7));
		__m256i g1 = _mm256_cmpgt_epi8(v1, MPB_K(MPB_CF7));
		/* Classes by nibble tables: bit 7 refused (F0, F4..F7, F9,
		 * FD), 6 System Common (F1..F3), 5 one data byte (F1, F3),
		 * 4 one data byte (C0..DF). */
		__m256i k0 = _mm256_and_si256(
			_mm256_shuffle_epi8(MPB_K(MPB_THI),
					    _mm256_and_si256(_mm256_srli_epi16(v0, 4), MPB_K(MPB_C0F))),
			_mm256_shuffle_epi8(MPB_K(MPB_TLO), _mm256_and_si256(v0, MPB_K(MPB_C0F))));
		__m256i k1 = _mm256_and_si256(
			_mm256_shuffle_epi8(MPB_K(MPB_THI),
					    _mm256_and_si256(_mm256_srli_epi16(v1, 4), MPB_K(MPB_C0F))),
			_mm256_shuffle_epi8(MPB_K(MPB_TLO), _mm256_and_si256(v1, MPB_K(MPB_C0F))));
		uint64_t h = MPB_MASK(v0, v1), rt = h & MPB_MASK(g0, g1);
		uint64_t bad = MPB_MASK(k0, k1);
		uint64_t scm = MPB_MASK(_mm256_add_epi8(k0, k0), _mm256_add_epi8(k1, k1));
		uint64_t n1 = MPB_MASK(_mm256_slli_epi16(k0, 2), _mm256_slli_epi16(k1, 2)) |
			      MPB_MASK(_mm256_slli_epi16(k0, 3), _mm256_slli_epi16(k1, 3));
		uint64_t S = h & ~rt, D = ~h, NS = ~S, G1, G2, Gs, P, Q, C, Z, pend, E, Cs, valid;
		uint64_t c1 = (st & 0xE0) == 0xC0 || (st | 2) == 0xF3; /* carried status: one data byte */
		uint64_t c2 = st && !c1, csc = st >= 0xF0;
		unsigned cut, e;
		__m256i s0, s1, q0, q1, cs, cd, pd0, pd1;

		G1 = midi_parse_govern(n1, c1, NS);
		G2 = midi_parse_govern(S & ~n1, c2, NS);
		P = (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(
			    _mm_cvtsi64_si128((long long)D), _mm_set1_epi8(-1), 0)) ^ -(uint64_t)hv;
		Q = P ^ midi_parse_govern(S & P, 0, NS); /* data bytes since the status, odd */
		C = rt | (D & G1) | (D & G2 & ~Q);
		/* pending: no data byte yet since the status, or an odd one of two */
		Z = midi_parse_govern(S, pe & !hv, rt);
		pend = Z | (G2 & Q);
		/* System Common has no running status: in its segment the data
		 * bytes after its message are stray */
		Cs = C & D & midi_parse_govern(scm, csc, NS);
		Gs = midi_parse_govern(Cs, 0, NS);
		Cs = Gs & ~(Cs & ~(Gs << 1));
		E = bad | (D & ~(G1 | G2)) | (D & Cs) | (S & (pend << 1 | pe)) |
		    (D & G2 & ~Q & rt << 1 & rt << 2);
		cut = E ? (unsigned)__builtin_ctzll(E) : 64;
		if (!cut)
			goto refused;
		valid = cut == 64 ? ~(uint64_t)0 : ((uint64_t)1 << cut) - 1;
		C &= valid;
		if ((size_t)__builtin_popcountll(C) >= (size_t)(olim - o)) {
			/* Room for fewer: stop after the last message that
			 * fits, as the byte loop would. */
			uint64_t c = C;

			for (ptrdiff_t i = 1; i < olim - o; i++)
				c &= c - 1;
			cut = (unsigned)__builtin_ctzll(c) + 1;
			valid = cut == 64 ? ~(uint64_t)0 : ((uint64_t)1 << cut) - 1;
			C &= valid;
		}

		/* The words: the governing status of each position, filled
		 * forward, and the data byte before it: the byte before, or
		 * the one before that when a real-time byte sits between
		 * (two real-time bytes there end the window above). */
		cs = _mm256_zextsi128_si256(_mm_set1_epi8((char)st));
		cd = _mm256_set1_epi8((char)dz);
		s0 = _mm256_and_si256(_mm256_cmpgt_epi8(MPB_K(MPB_CF7), v0), v0); /* 80..F6 */
		s1 = _mm256_and_si256(_mm256_cmpgt_epi8(MPB_K(MPB_CF7), v1), v1);
		MPB_FILL(s0, cs);
		MPB_FILL(s1, MPB_LAST(s0));
		q0 = _mm256_permute2x128_si256(v0, cd, 0x03);
		q1 = _mm256_permute2x128_si256(v1, v0, 0x03);
		pd0 = _mm256_alignr_epi8(v0, q0, 15);
		pd1 = _mm256_alignr_epi8(v1, q1, 15);
		pd0 = _mm256_blendv_epi8(pd0, _mm256_alignr_epi8(v0, q0, 14),
					 _mm256_and_si256(_mm256_cmpgt_epi8(pd0, MPB_K(MPB_CF7)), pd0));
		pd1 = _mm256_blendv_epi8(pd1, _mm256_alignr_epi8(v1, q1, 14),
					 _mm256_and_si256(_mm256_cmpgt_epi8(pd1, MPB_K(MPB_CF7)), pd1));
		midi_parse_words(vk, wd, v0, s0, pd0);
		midi_parse_words(vk, wd + 32, v1, s1, pd1);

		if (olim - o >= __builtin_popcountll(C) + 7) {
			/* Eight positions a group: their words compacted by a
			 * permutation, widened to messages, eight written, as
			 * many kept as the group completes. */
			for (unsigned g = 0; g < 64; g += 8) {
				unsigned m = (unsigned)(C >> g) & 0xFF;
				__m256i w = _mm256_permutevar8x32_epi32(
					_mm256_load_si256((const __m256i *)(wd + g)),
					_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)midi_parse_lut[m])));
				__m256i lo = _mm256_permute4x64_epi64(
					_mm256_cvtepu32_epi64(_mm256_castsi256_si128(w)), 0xD8);
				__m256i hi = _mm256_permute4x64_epi64(
					_mm256_cvtepu32_epi64(_mm256_extracti128_si256(w, 1)), 0xD8);
				const __m256i z = _mm256_setzero_si256();

				_mm256_storeu_si256((__m256i *)o, _mm256_unpacklo_epi64(lo, z));
				_mm256_storeu_si256((__m256i *)(o + 2), _mm256_unpackhi_epi64(lo, z));
				_mm256_storeu_si256((__m256i *)(o + 4), _mm256_unpacklo_epi64(hi, z));
				_mm256_storeu_si256((__m256i *)(o + 6), _mm256_unpackhi_epi64(hi, z));
				o += __builtin_popcount(m);
			}
		} else {
			while (C) { /* two a pass; a lone last one writes a spare slot */
				uint64_t c2n = C & (C - 1);
				unsigned j1 = (unsigned)__builtin_ctzll(C);
				unsigned j2 = (unsigned)__builtin_ctzll(c2n | (uint64_t)1 << 63);

				_mm_storeu_si128((__m128i *)o, _mm_cvtsi32_si128((int)wd[j1]));
				_mm_storeu_si128((__m128i *)(o + 1), _mm_cvtsi32_si128((int)wd[j2]));
				o += 1 + (c2n != 0);
				C = c2n & (c2n - 1);
			}
		}

		/* The state after the last byte taken. */
		e = cut - 1;
		hv = (uint8_t)((G2 & Q) >> e & 1);
		pe = (uint8_t)(pend >> e & 1);
		if (S & valid)
			st = s[63 - __builtin_clzll(S & valid)];
		if (st >= 0xF0 && !pe)
			st = 0; /* System Common: no running status */
		if (hv && (D & valid))
			dz = s[63 - __builtin_clzll(D & valid)];
		s += cut;
		if (cut == 64)
			continue;
refused:
		/* The window ended before a byte it does not take.  A short
		 * SysEx whole in the buffer is taken here, as the fast path
		 * would, and the windows go on after it; the rest is the
		 * caller's. */
		{
			size_t k, n = 0;

			if (*s != 0xF0 || pe || o >= olim ||
			    !(k = midi_parse_sysex_whole(p, s, (size_t)(end - s), o, &n))) {
				*stall = 1;
				break;
			}
			o += n;
			s += k;
			st = 0; /* SysEx ends running status */
		}
	}
	*status = st;
	*have = hv;
	*pending = pe;
	*d0 = dz;
	*op = o;
	return s;
}

/*
 * midi_parse_sysex_run - inside a SysEx with a chunk (SX_FILL): payload 32
 * bytes a step into the chunk, real-time bytes delivered on the way, as the
 * byte loop would.  Stops before any other status byte and before an
 * undefined real-time byte, when fewer than 32 bytes are left in the buffer
 * or in the chunk (the byte loop then fills it and decides what leaves
 * when it is full), or for room.  Returns where it stopped.
 */
__attribute__((target("avx2"))) static const uint8_t *
midi_parse_sysex_run(struct midi_parse *p, const uint8_t *s, const uint8_t *end,
		     struct midi_msg **op, struct midi_msg *olim) RT_SAFE
{
	struct midi_msg *o = *op;
	struct midi_sysex_chunk *c = p->chunk;
	size_t len = c->len;

	while (end - s >= 32 && len + 32 <= MIDI_SYSEX_CHUNK_MAX && o < olim) {
		__m256i w = _mm256_loadu_si256((const __m256i *)s);
		unsigned m = (unsigned)_mm256_movemask_epi8(w);
		uint8_t b;

		/* whole: bytes beyond the payload are no payload (len says) */
		_mm256_storeu_si256((__m256i *)(c->data + len), w);
		if (!m) {
			s += 32;
			len += 32;
			continue;
		}
		len += (unsigned)__builtin_ctz(m);
		s += (unsigned)__builtin_ctz(m);
		b = *s;
		if (b < 0xF8 || b == 0xF9 || b == 0xFD)
			break;
		/* a clock inside a dump; the chunk is not full here */
		midi_parse_put(o++, b, 0, 0, 0, 0, NULL);
		s++;
	}
	c->len = (uint16_t)len;
	*op = o;
	return s;
}
#endif /* MIDI_PARSE_BLOCK */

int midi_parse_feed(struct midi_parse *p, const uint8_t *buf, size_t len, size_t *used,
		    struct midi_msg *out, size_t max) RT_SAFE
{
	const uint8_t *s = buf, *end = buf + len;
	struct midi_msg *o = out, *olim;
	uint8_t status = p->status, need = p->need, have = p->have;
	uint8_t pending = p->pending, d0 = p->d0, sx = p->sysex;
	uint64_t incomplete = 0;

	if (max < MIDI_PARSE_OUT_MIN) {
		*used = 0;
		return -EINVAL;
	}
	if (max > 0x7FFFFFFF)
		max = 0x7FFFFFFF; /* the count is returned as int */
	olim = out + max - (MIDI_PARSE_OUT_MIN - 1); /* room for the worst byte */
	while (s < end && o < olim) {
		const uint8_t *fend = end - 8;
		uint8_t b;

#if MIDI_PARSE_BLOCK
		if (p->simd && sx == MIDI_PARSE_SX_NONE && end - s >= 64 && status <= 0xF3) {
			int stall;

			s = midi_parse_block(p, s, end, &o, olim, &status, &have, &pending, &d0, &stall);
			need = status ? (uint8_t)midi_data_len(status) : 0;
			if (s == end || o >= olim)
				break;
			if (stall)
				fend = s + 1; /* one message, then the block path again */
			else if (end - s >= 64)
				continue;
		}
		if (sx == MIDI_PARSE_SX_FILL && p->simd && end - s >= 32) {
			const uint8_t *s0 = s;

			s = midi_parse_sysex_run(p, s, end, &o, olim);
			if (s != s0)
				continue;
		}
#endif
		if (MIDI_PARSE_FAST && (sx | have | pending) == 0 && end - s >= 9) {
			s = midi_parse_fast(p, s, fend, &o, olim, &status);
			need = status ? (uint8_t)(1 + ((midi_parse_tab.len[status] >> 3) & 3)) : 0;
			if (s == end || o >= olim)
				break;
		}
		b = *s;
		if (b < 0x80 && sx == MIDI_PARSE_SX_NONE) {
			s++;
			if (have == 0) {
				if (need == 0) {
					p->stats.stray_data++;
					continue;
				}
				d0 = b;
				if (need == 2) {
					have = 1;
					pending = 1;
					continue;
				}
				b = 0; /* one data byte: d1 is 0 */
			}
			if (status < 0xF0) {
				*o++ = (struct midi_msg){ .type = status & 0xF0, .channel = status & 0x0F,
							  .data = { d0, b } };
			} else {
				*o++ = (struct midi_msg){ .type = status, .data = { d0, b } };
				status = 0; /* no running status for System Common */
				need = 0;
			}
			have = 0;
			pending = 0;
		} else if (b < 0x80) {
			size_t e;

			p->sysex = sx;
			s += midi_parse_sysex_data(p, s, (size_t)(end - s), o, &e);
			o += e;
			sx = p->sysex;
		} else if (b >= 0xF8) {
			s++;
			if (b == 0xF9 || b == 0xFD) {
				p->stats.undefined++;
				continue;
			}
			if (sx == MIDI_PARSE_SX_FILL && p->chunk->len == MIDI_SYSEX_CHUNK_MAX)
				o += midi_parse_sysex_full(p, o, 0);
			*o++ = (struct midi_msg){ .type = b };
		} else if (b < 0xF0 && sx == MIDI_PARSE_SX_NONE) {
			s++;
			incomplete += pending;
			status = b;
			need = (b & 0xE0) == 0xC0 ? 1 : 2;
			have = 0;
			pending = 1;
		} else {
			s++;
			p->status = status;
			p->need = need;
			p->have = have;
			p->pending = pending;
			p->sysex = sx;
			o += midi_parse_status(p, b, o);
			status = p->status;
			need = p->need;
			have = p->have;
			pending = p->pending;
			sx = p->sysex;
		}
	}
	p->status = status;
	p->need = need;
	p->have = have;
	p->pending = pending;
	p->d0 = d0;
	p->sysex = sx;
	p->stats.incomplete += incomplete;
	p->stats.bytes += (uint64_t)(s - buf);
	p->stats.messages += (uint64_t)(o - out);
	*used = (size_t)(s - buf);
	return (int)(o - out);
}

int midi_parse_end(struct midi_parse *p, struct midi_msg *out, size_t max) RT_SAFE
{
	int n = 0;

	if (max < 1)
		return -EINVAL;
	if (p->sysex != MIDI_PARSE_SX_NONE) {
		p->stats.sysex_unterminated++;
		n = midi_parse_sysex_end(p, out);
	}
	if (p->pending)
		p->stats.incomplete++;
	p->pending = 0;
	p->status = 0;
	p->need = 0;
	p->have = 0;
	p->stats.messages += (uint64_t)n;
	return n;
}
