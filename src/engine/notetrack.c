/*
 * notetrack.c - sounding-note tracker (see notetrack.h for the semantics).
 *
 * Model: a key is (output, channel, note), numbered (out*16 + channel)*128
 * + note.  Each key has a chain of records, one per owner sounding it,
 * kept in owner order, with a count of outstanding note-ons.  Records come
 * from a fixed array with a free list threaded through `next`.  A bitmap
 * of keys that have a chain lets a release scan an output (32 words) or
 * everything (1024 words) in key order without touching silent keys, so
 * a panic costs microseconds and releases come out sorted, whatever the
 * order the notes were played in.
 *
 * Ownership: one thread (the engine) owns the tracker; nothing is shared.
 */
#include "engine/notetrack.h"

#include <errno.h>
#include <string.h>

_Static_assert(NOTETRACK_CAP < NOTETRACK_NIL, "record indices must fit below NIL");
_Static_assert(NOTETRACK_KEYS % 128 == 0, "a (output, channel) spans two bitmap words");

static inline uint32_t nt_key(int out, int channel, int note) RT_SAFE
{
	return ((uint32_t)out * 16 + (uint32_t)channel) * 128 + (uint32_t)note;
}

static inline int nt_valid(int out, int channel, int note) RT_SAFE
{
	return out >= 0 && out < NOTETRACK_OUT_MAX && channel >= 0 && channel < 16 && note >= 0 &&
	       note < 128;
}

void notetrack_init(struct notetrack *nt)
{
	memset(nt, 0, sizeof(*nt));
	for (uint32_t i = 0; i < NOTETRACK_KEYS; i++)
		nt->head[i] = NOTETRACK_NIL;
	for (uint32_t i = 0; i < NOTETRACK_CAP; i++)
		nt->rec[i].next = i + 1 < NOTETRACK_CAP ? (uint16_t)(i + 1) : NOTETRACK_NIL;
	nt->free_head = 0;
}

int notetrack_on(struct notetrack *nt, int out, int channel, int note, int owner) RT_SAFE
{
	uint32_t key;
	uint16_t *link, r;

	if (!nt_valid(out, channel, note) || owner < 0 || owner > NOTETRACK_OWNER_NONE)
		return -EINVAL;
	key = nt_key(out, channel, note);
	link = &nt->head[key];
	while (*link != NOTETRACK_NIL && nt->rec[*link].owner < owner)
		link = &nt->rec[*link].next;
	if (*link != NOTETRACK_NIL && nt->rec[*link].owner == owner) {
		struct notetrack_rec *e = &nt->rec[*link];
		if (e->count == NOTETRACK_COUNT_MAX) {
			nt->stats.refused++;
			return -EOVERFLOW;
		}
		e->count++;
	} else {
		r = nt->free_head;
		if (r == NOTETRACK_NIL) {
			nt->stats.refused++;
			return -ENOSPC;
		}
		nt->free_head = nt->rec[r].next;
		nt->rec[r] = (struct notetrack_rec){ .next = *link, .owner = (uint16_t)owner,
						     .count = 1 };
		*link = r;
		nt->busy[key / 64] |= UINT64_C(1) << (key % 64);
		if (++nt->nrec > nt->high_water)
			nt->high_water = nt->nrec;
	}
	nt->sounding++;
	nt->stats.ons++;
	return 0;
}

/* Unlinks the record at *link (of `key`) and frees it. */
static void nt_unlink(struct notetrack *nt, uint32_t key, uint16_t *link) RT_SAFE
{
	uint16_t r = *link;

	*link = nt->rec[r].next;
	nt->rec[r].next = nt->free_head;
	nt->rec[r].count = 0;
	nt->free_head = r;
	nt->nrec--;
	if (nt->head[key] == NOTETRACK_NIL)
		nt->busy[key / 64] &= ~(UINT64_C(1) << (key % 64));
}

int notetrack_off(struct notetrack *nt, int out, int channel, int note, int owner) RT_SAFE
{
	uint32_t key;
	uint16_t *link;
	struct notetrack_rec *e;

	if (!nt_valid(out, channel, note) || owner < 0 || owner > NOTETRACK_OWNER_NONE)
		return -EINVAL;
	key = nt_key(out, channel, note);
	link = &nt->head[key];
	while (*link != NOTETRACK_NIL && nt->rec[*link].owner < owner)
		link = &nt->rec[*link].next;
	if (*link == NOTETRACK_NIL || nt->rec[*link].owner != owner) {
		nt->stats.stray_offs++;
		return -ENOENT;
	}
	e = &nt->rec[*link];
	e->count--;
	nt->sounding--;
	nt->stats.offs++;
	if (e->count == 0) {
		nt_unlink(nt, key, link);
		return 0;
	}
	return e->count;
}

int notetrack_msg(struct notetrack *nt, int out, int owner, const struct midi_msg *m) RT_SAFE
{
	if (m->type == MIDI_NOTE_ON && m->data[1] > 0)
		return notetrack_on(nt, out, m->channel, m->data[0], owner);
	if (m->type == MIDI_NOTE_ON || m->type == MIDI_NOTE_OFF) {
		int r = notetrack_off(nt, out, m->channel, m->data[0], owner);
		return r > 0 ? 0 : r;
	}
	return 0;
}

uint32_t notetrack_sounding(const struct notetrack *nt, int out, int channel, int note) RT_SAFE
{
	uint32_t n = 0;

	if (!nt_valid(out, channel, note))
		return 0;
	for (uint16_t r = nt->head[nt_key(out, channel, note)]; r != NOTETRACK_NIL;
	     r = nt->rec[r].next)
		n += nt->rec[r].count;
	return n;
}

/* Output and channel ranges of a filter; false if it can match nothing. */
static int nt_range(const struct notetrack_filter *f, int *o0, int *o1, int *c0, int *c1) RT_SAFE
{
	if (f->out == NOTETRACK_ANY) {
		*o0 = 0;
		*o1 = NOTETRACK_OUT_MAX - 1;
	} else if (f->out >= 0 && f->out < NOTETRACK_OUT_MAX) {
		*o0 = *o1 = f->out;
	} else {
		return 0;
	}
	if (f->channel == NOTETRACK_ANY) {
		*c0 = 0;
		*c1 = 15;
	} else if (f->channel >= 0 && f->channel < 16) {
		*c0 = *c1 = f->channel;
	} else {
		return 0;
	}
	return f->owner == NOTETRACK_ANY || (f->owner >= 0 && f->owner <= NOTETRACK_OWNER_NONE);
}

/* Sets `others` of the last entries written, those of `key`. */
static void nt_others(struct notetrack_note *notes, uint32_t n, int o, int c, uint32_t key,
		      uint32_t others) RT_SAFE
{
	for (uint32_t i = n; i > 0; i--) {
		struct notetrack_note *x = &notes[i - 1];
		if (x->out != o || x->channel != c || x->note != key % 128)
			break;
		x->others = others;
	}
}

/*
 * The one walk behind count and take: every record matching `f`, in key
 * then owner order.  take: removes them and writes up to `max` to `notes`
 * (returns how many); count (take 0): returns the sum of their counts and
 * writes nothing.
 */
static uint32_t nt_walk(struct notetrack *nt, const struct notetrack_filter *f,
			struct notetrack_note *notes, uint32_t max, int take) RT_SAFE
{
	int o0, o1, c0, c1;
	uint32_t n = 0;

	if (!nt_range(f, &o0, &o1, &c0, &c1))
		return 0;
	for (int o = o0; o <= o1; o++) {
		for (int c = c0; c <= c1; c++) {
			uint32_t base = nt_key(o, c, 0);

			for (uint32_t w = base / 64; w < base / 64 + 2; w++) {
				uint64_t bits = nt->busy[w];

				while (bits) {
					uint32_t key = w * 64 + (uint32_t)__builtin_ctzll(bits);
					uint16_t *link = &nt->head[key];
					uint32_t left = 0; /* note-ons of the key not taken */

					bits &= bits - 1;
					for (uint16_t r = *link; r != NOTETRACK_NIL; r = nt->rec[r].next)
						left += nt->rec[r].count;
					while (*link != NOTETRACK_NIL) {
						struct notetrack_rec *e = &nt->rec[*link];

						if (f->owner != NOTETRACK_ANY && e->owner != f->owner) {
							link = &e->next;
							continue;
						}
						if (!take) {
							n += e->count;
							link = &e->next;
							continue;
						}
						if (n == max) {
							nt_others(notes, n, o, c, key, left);
							return n;
						}
						left -= e->count;
						notes[n++] = (struct notetrack_note){
							.out = (uint8_t)o,
							.channel = (uint8_t)c,
							.note = (uint8_t)(key % 128),
							.owner = e->owner,
							.count = e->count,
						};
						nt->sounding -= e->count;
						nt->stats.released += e->count;
						nt_unlink(nt, key, link);
					}
					if (take)
						nt_others(notes, n, o, c, key, left);
				}
			}
		}
	}
	return n;
}

uint32_t notetrack_count(const struct notetrack *nt, const struct notetrack_filter *f) RT_SAFE
{
	/* the walk does not write when not taking */
	return nt_walk((struct notetrack *)nt, f, NULL, 0, 0);
}

uint32_t notetrack_take(struct notetrack *nt, const struct notetrack_filter *f,
			struct notetrack_note *notes, uint32_t max) RT_SAFE
{
	if (!notes || max == 0)
		return 0;
	return nt_walk(nt, f, notes, max, 1);
}
