/*
 * libFuzzer target for the MIDI parser, encoder and JSON records.
 *
 * For every input it checks, aborting on the first violation:
 * 1. the parser consumes every byte and delivers a well-formed sequence
 *    (SysEx chunk chains START .. CONT .. last, only real-time inside a
 *    chain, full chunks only where more follows, valid fields);
 * 2. chunking invariance: the same input fed in pieces derived from the
 *    input itself, with the minimum output room, gives identical messages
 *    and counters; so does feeding it byte by byte, which leaves all of it
 *    to the parser's byte loop (its whole-message fast path needs nine
 *    bytes), so the fast path is checked against the byte loop;
 * 3. decode -> encode -> decode is stable: every delivered message encodes
 *    (with or without running status), the bytes parse back into the same
 *    messages with no drops, and encoding those gives the same bytes;
 * 4. every message formats as a JSON record that fits MIDI_JSON_MAX;
 * 5. with a two-chunk pool that the consumer does not give back, only SysEx
 *    suffers: the other messages are exactly those of pass 1, chunk chains
 *    stay well-formed (ending in TRUNC when cut), nothing leaks.
 * Built with -fsanitize=fuzzer,address,undefined by `./dev fuzz`; built
 * without libFuzzer, with replay_main.c, to replay tests/fuzz/corpus as an
 * ordinary test.
 */
#include <stdint.h>
#include <string.h>

#include "midi/midi_encode.h"
#include "midi/midi_json.h"
#include "midi/midi_parse.h"
#include "rt/pool.h"

#define FZ_OUT_MAX 64
#define FZ_MAX_INPUT 65536 /* longer inputs are cut: ./dev fuzz uses -max_len=8192 */
#define FZ_POOL_CAP (FZ_OUT_MAX + 2)

#define FZ_CHECK(c)                       \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

struct fz_rec {
	struct midi_msg m; /* message, sysex pointer cleared */
	uint32_t off;      /* SysEx payload: offset in the log's arena */
	uint16_t len;      /* SysEx payload bytes */
};

/* Sized from the input: at most one message per input byte plus one, and
 * no more payload bytes than input bytes. */
struct fz_log {
	struct fz_rec *r;  /* records */
	size_t n, cap;     /* used, allocated */
	uint8_t *arena;    /* SysEx payloads, back to back */
	size_t used, room; /* arena bytes used, allocated */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Static, not malloc'd per input: ASan's quarantine made per-input
 * allocations the main cost of a run. */
static struct fz_rec fz_recs[4][FZ_MAX_INPUT + 2];
static uint8_t fz_arenas[4][FZ_MAX_INPUT + 2];
static struct midi_msg fz_held[FZ_MAX_INPUT + 2];
static uint8_t fz_b2[2 * FZ_MAX_INPUT + 8], fz_b3[2 * FZ_MAX_INPUT + 8];

static void *fz_pool_mem[POOL_STORAGE_SIZE(FZ_POOL_CAP, sizeof(struct midi_sysex_chunk)) /
			 sizeof(void *)];

static void fz_log_add(struct fz_log *l, const struct midi_msg *m)
{
	struct fz_rec *r;

	FZ_CHECK(l->n < l->cap);
	r = &l->r[l->n++];
	r->m = *m;
	r->m.sysex = NULL;
	r->len = 0;
	r->off = (uint32_t)l->used;
	if (m->type == MIDI_SYSEX) {
		FZ_CHECK(m->sysex && m->sysex->len <= MIDI_SYSEX_CHUNK_MAX);
		FZ_CHECK(l->used + m->sysex->len <= l->room);
		r->len = m->sysex->len;
		memcpy(l->arena + l->used, m->sysex->data, r->len);
		l->used += r->len;
	} else {
		FZ_CHECK(!m->sysex);
	}
}

/* Parses `data` in pieces (split 0: all at once; 1: of 1..23 bytes derived
 * from the data; 2: one byte each) with `omax` output slots; chunks are
 * copied to the log and given back at once unless `hold`, in which case
 * they stay out until the end. */
static void fz_parse(const uint8_t *data, size_t size, size_t omax, int split, struct pool *pool,
		     int hold, struct fz_log *log, struct midi_parse_stats *st)
{
	struct midi_msg out[FZ_OUT_MAX];
	struct midi_msg *held = fz_held;
	size_t nheld = 0, off = 0, k = 0;
	struct midi_parse p;
	int n;

	FZ_CHECK(midi_parse_init(&p, pool) == 0);
	while (off < size) {
		size_t piece = size - off, used;

		if (split) {
			piece = split == 2 ? 1 : 1 + (size_t)(data[k++ % size] % 23);
			if (piece > size - off)
				piece = size - off;
		}
		while (piece > 0) {
			n = midi_parse_feed(&p, data + off, piece, &used, out, omax);
			FZ_CHECK(n >= 0 && (size_t)n <= omax && used <= piece);
			FZ_CHECK(used > 0 || n > 0);
			off += used;
			piece -= used;
			for (int i = 0; i < n; i++) {
				fz_log_add(log, &out[i]);
				if (!hold)
					pool_put(pool, out[i].sysex);
				else if (out[i].sysex)
					held[nheld++] = out[i];
			}
		}
	}
	n = midi_parse_end(&p, out, 1);
	FZ_CHECK(n == 0 || n == 1);
	for (int i = 0; i < n; i++) {
		fz_log_add(log, &out[i]);
		if (!hold)
			pool_put(pool, out[i].sysex);
		else if (out[i].sysex)
			held[nheld++] = out[i];
	}
	FZ_CHECK(p.stats.bytes == size);
	FZ_CHECK(p.stats.messages == log->n);
	FZ_CHECK(!p.chunk && p.sysex == MIDI_PARSE_SX_NONE);
	FZ_CHECK(pool->in_use == nheld);
	for (size_t i = 0; i < nheld; i++)
		pool_put(pool, held[i].sysex);
	FZ_CHECK(pool->in_use == 0);
	*st = p.stats;
}

/* SysEx chains are well-formed; fields are in range.  `full_pool`: no chunk
 * was ever refused, so no TRUNC, chunks before the last are full, and an
 * empty chunk other than a whole empty SysEx (F0 F7) is a last one after a
 * full chunk and a real-time message (F0, k x 256 bytes, F8, F7): a full
 * chunk leaves only when the message goes on. */
static void fz_check_wellformed(const struct fz_log *l, int full_pool)
{
	int open = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct midi_msg *m = &l->r[i].m;

		FZ_CHECK(m->data[0] < 0x80 && m->data[1] < 0x80);
		if (m->type == MIDI_SYSEX) {
			int start = !!(m->flags & MIDI_F_SYSEX_START);
			int cont = !!(m->flags & MIDI_F_SYSEX_CONT);
			int trunc = !!(m->flags & MIDI_F_SYSEX_TRUNC);

			FZ_CHECK(start != open);
			FZ_CHECK(!(cont && trunc));
			FZ_CHECK(!full_pool || !trunc);
			FZ_CHECK(!cont || l->r[i].len == MIDI_SYSEX_CHUNK_MAX);
			if (full_pool && !start && l->r[i].len == 0) {
				size_t k = i - 1;
				while (k > 0 && midi_is_realtime_type(l->r[k].m.type))
					k--;
				FZ_CHECK(k < i - 1 && l->r[k].m.type == MIDI_SYSEX &&
					 (l->r[k].m.flags & MIDI_F_SYSEX_CONT));
			}
			for (unsigned j = 0; j < l->r[i].len; j++)
				FZ_CHECK(l->arena[l->r[i].off + j] < 0x80);
			open = cont;
			continue;
		}
		FZ_CHECK(m->flags == 0);
		FZ_CHECK(!open || midi_is_realtime_type(m->type));
		if (midi_is_channel_type(m->type)) {
			FZ_CHECK((m->type & 0x0F) == 0 && m->channel < 16);
		} else {
			FZ_CHECK(m->channel == 0);
			FZ_CHECK(midi_data_len(m->type) >= 0 && m->type != 0xF7);
		}
	}
	FZ_CHECK(!open);
}

static int fz_same(const struct fz_log *la, size_t i, const struct fz_log *lb, size_t j)
{
	const struct fz_rec *a = &la->r[i], *b = &lb->r[j];

	return a->m.type == b->m.type && a->m.channel == b->m.channel &&
	       a->m.data[0] == b->m.data[0] && a->m.data[1] == b->m.data[1] &&
	       a->m.flags == b->m.flags && a->len == b->len &&
	       !memcmp(la->arena + a->off, lb->arena + b->off, a->len);
}

static int fz_same_log(const struct fz_log *a, const struct fz_log *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!fz_same(a, i, b, i))
			return 0;
	return 1;
}

/* Encodes a log; returns the byte count (buffer sized by the caller). */
static size_t fz_encode(const struct fz_log *l, int running, uint8_t *buf, size_t cap)
{
	struct midi_encode e;
	struct midi_sysex_chunk ch;
	size_t len = 0;

	FZ_CHECK(midi_encode_init(&e, running) == 0);
	for (size_t i = 0; i < l->n; i++) {
		struct midi_msg m = l->r[i].m;
		int r;

		if (m.type == MIDI_SYSEX) {
			ch.len = l->r[i].len;
			memcpy(ch.data, l->arena + l->r[i].off, ch.len);
			m.sysex = &ch;
		}
		r = midi_encode_msg(&e, &m, buf + len, cap - len);
		FZ_CHECK(r >= 0);
		len += (size_t)r;
	}
	FZ_CHECK(!e.in_sysex);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct midi_parse_stats s1, s2, s3;
	struct fz_log l1 = { 0 }, l2 = { 0 }, l3 = { 0 }, l4 = { 0 };
	struct pool pool;
	uint8_t *b2, *b3;
	size_t cap = size + 2, n2, n3, k;

	struct fz_log *logs[4] = { &l1, &l2, &l3, &l4 };

	if (size > FZ_MAX_INPUT)
		size = FZ_MAX_INPUT;
	cap = size + 2;
	for (int i = 0; i < 4; i++) {
		logs[i]->r = fz_recs[i];
		logs[i]->arena = fz_arenas[i];
		logs[i]->cap = logs[i]->room = cap;
	}
	/* encoded size: at most 2 bytes per input byte ("F0 F0 ..." becomes
	 * "F0 F7 F0 F7 ...", running status expands 2 bytes to 3) */
	b2 = fz_b2;
	b3 = fz_b3;
	FZ_CHECK(pool_init(&pool, fz_pool_mem, sizeof(struct midi_sysex_chunk), FZ_POOL_CAP) == 0);

	/* 1, 2: all at once vs. pieces with minimum output room */
	fz_parse(data, size, FZ_OUT_MAX, 0, &pool, 0, &l1, &s1);
	fz_check_wellformed(&l1, 1);
	FZ_CHECK(s1.sysex_dropped == 0 && s1.sysex_dropped_bytes == 0);
	fz_parse(data, size, MIDI_PARSE_OUT_MIN, 1, &pool, 0, &l2, &s2);
	FZ_CHECK(fz_same_log(&l1, &l2));
	FZ_CHECK(!memcmp(&s1, &s2, sizeof(s1)));
	l2.n = 0;
	l2.used = 0;
	fz_parse(data, size, FZ_OUT_MAX, 2, &pool, 0, &l2, &s2);
	FZ_CHECK(fz_same_log(&l1, &l2));
	FZ_CHECK(!memcmp(&s1, &s2, sizeof(s1)));

	/* 3: decode -> encode -> decode -> encode, without and with running status */
	for (int running = 0; running < 2; running++) {
		l3.n = 0;
		l3.used = 0;
		n2 = fz_encode(&l1, running, b2, 2 * size + 8);
		fz_parse(b2, n2, FZ_OUT_MAX, 0, &pool, 0, &l3, &s3);
		FZ_CHECK(fz_same_log(&l1, &l3));
		FZ_CHECK(s3.stray_data == 0 && s3.stray_eox == 0 && s3.undefined == 0 &&
			 s3.incomplete == 0 && s3.sysex_unterminated == 0);
		n3 = fz_encode(&l3, running, b3, 2 * size + 8);
		FZ_CHECK(n3 == n2 && !memcmp(b2, b3, n2));
	}

	/* 4: JSON records */
	for (size_t i = 0; i < l1.n; i++) {
		struct midi_sysex_chunk ch;
		struct midi_msg m = l1.r[i].m;
		char buf[MIDI_JSON_MAX];
		int r;

		ch.len = l1.r[i].len;
		memcpy(ch.data, l1.arena + l1.r[i].off, ch.len);
		if (m.type == MIDI_SYSEX)
			m.sysex = &ch;
		r = midi_json_format(&m, buf, sizeof(buf));
		FZ_CHECK(r > 0 && r < MIDI_JSON_MAX && (size_t)r == strlen(buf));
		FZ_CHECK(!strncmp(buf, "{\"type\":\"", 9) && buf[r - 1] == '}');
	}

	/* 5: starved pool: only SysEx may differ */
	FZ_CHECK(pool_init(&pool, fz_pool_mem, sizeof(struct midi_sysex_chunk), 2) == 0);
	fz_parse(data, size, FZ_OUT_MAX, 0, &pool, 1, &l4, &s2);
	fz_check_wellformed(&l4, 0);
	k = 0;
	for (size_t i = 0; i < l1.n; i++) {
		if (l1.r[i].m.type == MIDI_SYSEX)
			continue;
		while (k < l4.n && l4.r[k].m.type == MIDI_SYSEX)
			k++;
		FZ_CHECK(k < l4.n && fz_same(&l1, i, &l4, k));
		k++;
	}
	while (k < l4.n && l4.r[k].m.type == MIDI_SYSEX)
		k++;
	FZ_CHECK(k == l4.n);
	FZ_CHECK(s2.stray_data == s1.stray_data && s2.incomplete == s1.incomplete &&
		 s2.undefined == s1.undefined && s2.stray_eox == s1.stray_eox);

	return 0;
}
