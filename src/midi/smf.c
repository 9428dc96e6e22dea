/*
 * smf.c - Standard MIDI File reader (see smf.h for the rules).
 *
 * Model: two passes over the same bytes with the same code (smf_walk).
 * Pass 1 validates everything and counts events and payload bytes; then
 * one allocation of exactly that size; pass 2 fills it.  Every length
 * field is compared with the bytes actually left before it is used, so the
 * memory taken is bounded by the file's real content (at most
 * SMF_EVENT_MAX events of sizeof(struct smf_event), plus payload bytes no
 * more than the file's size), never by what a header claims.  Pass 2 sees
 * the same bytes, so it cannot fail where pass 1 succeeded.
 *
 * Termination: every iteration of every loop consumes at least one byte
 * of the buffer (a chunk header is 8 bytes, an event at least 2: delta and
 * one byte), and a running-status event consumes its data bytes.
 *
 * Units: ticks (the file's division per quarter note), byte offsets from
 * the start of the buffer.  Nothing here knows about tempo or time.
 */
#include "midi/smf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct smf_walk {
	const uint8_t *buf;      /* the file */
	size_t len;              /* its size */
	struct smf_error *err;   /* details of the first error, or NULL */
	int track;               /* track being read, -1 outside tracks */
	struct smf *s;           /* pass 2: the struct being filled; pass 1: NULL */
	uint32_t nevents;        /* events seen so far */
	size_t payload;          /* payload bytes seen so far */
	struct smf_event *ev;    /* pass 2: next free event */
	uint8_t *pay;            /* pass 2: next free payload byte */
	uint32_t skipped_chunks; /* unknown chunks */
	uint32_t missing_eot;    /* tracks without End of Track */
	uint32_t after_eot;      /* bytes after End of Track */
	uint32_t trailing;       /* bytes after the last track */
};

static uint32_t smf_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t smf_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Records the error (first one only matters: every caller returns at once)
 * and returns `code`.  `expected` may be NULL. */
static int smf_fail(struct smf_walk *w, size_t off, int code, const char *expected,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int smf_fail(struct smf_walk *w, size_t off, int code, const char *expected,
		    const char *fmt, ...)
{
	struct smf_error *e = w->err;
	size_t n = 0, cap = sizeof(e->msg);
	va_list ap;
	int k;

	if (!e)
		return code;
	e->code = code;
	e->offset = off;
	e->track = w->track;
	if (off != SMF_NO_OFFSET) {
		k = snprintf(e->msg, cap, "offset 0x%zx: ", off);
		n = k > 0 ? (size_t)k : 0;
	}
	va_start(ap, fmt);
	k = vsnprintf(e->msg + n, cap - n, fmt, ap);
	va_end(ap);
	n += k > 0 ? (size_t)k : 0;
	if (n < cap && w->track >= 0) {
		k = snprintf(e->msg + n, cap - n, " in track %d", w->track);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n < cap && expected)
		snprintf(e->msg + n, cap - n, " (expected %s)", expected);
	return code;
}

static const char *smf_channel_name(uint8_t status)
{
	switch (status & 0xF0) {
	case 0x80: return "Note Off";
	case 0x90: return "Note On";
	case 0xA0: return "Poly Pressure";
	case 0xB0: return "Control Change";
	case 0xC0: return "Program Change";
	case 0xD0: return "Channel Pressure";
	default: return "Pitch Bend";
	}
}

/* Reads a variable-length quantity at *p (< end).  At most 4 bytes, so the
 * value is at most 0x0FFFFFFF. */
static int smf_vlq(struct smf_walk *w, size_t *p, size_t end, const char *what, uint32_t *v)
{
	size_t start = *p;
	uint32_t x = 0;

	for (int i = 0; i < SMF_VLQ_MAX_BYTES; i++) {
		uint8_t b;

		if (*p >= end)
			return smf_fail(w, start, -EINVAL, "the rest of the variable-length quantity",
					"track ends inside the %s", what);
		b = w->buf[(*p)++];
		x = x << 7 | (b & 0x7F);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return smf_fail(w, start, -EINVAL, "at most 4 bytes, the last below 0x80",
			"%s is a variable-length quantity longer than 4 bytes", what);
}

/* Adds one event (pass 2 fills it).  `data`/`len`: payload to copy. */
static int smf_add(struct smf_walk *w, size_t off, int64_t tick, uint8_t kind, uint8_t meta,
		   const struct midi_msg *msg, const uint8_t *data, uint32_t len)
{
	struct smf_event *e;

	if (w->nevents >= SMF_EVENT_MAX)
		return smf_fail(w, off, -E2BIG, "a smaller file",
				"more than %u events in the file", SMF_EVENT_MAX);
	w->nevents++;
	w->payload += len;
	if (!w->s)
		return 0;
	e = w->ev++;
	*e = (struct smf_event){ .tick = tick, .offset = (uint32_t)off, .kind = kind,
				 .meta = meta, .len = len };
	if (msg)
		e->msg = *msg;
	if (len) {
		memcpy(w->pay, data, len);
		e->data = w->pay;
		w->pay += len;
	}
	return 0;
}

static void smf_set_name(struct smf_track *t, const uint8_t *d, uint32_t len)
{
	uint32_t n = len < SMF_NAME_MAX - 1 ? len : SMF_NAME_MAX - 1;

	for (uint32_t i = 0; i < n; i++)
		t->name[i] = d[i] >= 0x20 && d[i] < 0x7F ? (char)d[i] : '?';
	t->name[n] = '\0';
}

/* Checks the meta events the reader interprets.  `p` is the payload. */
static int smf_meta_check(struct smf_walk *w, size_t off, uint8_t type, size_t p, uint32_t len)
{
	const uint8_t *d = w->buf + p;

	switch (type) {
	case SMF_META_END_OF_TRACK:
		if (len != 0)
			return smf_fail(w, off, -EINVAL, "0", "End of Track (FF 2F) length %u", len);
		break;
	case SMF_META_TEMPO:
		if (len != 3)
			return smf_fail(w, off, -EINVAL, "3", "Set Tempo (FF 51) length %u", len);
		if (d[0] == 0 && d[1] == 0 && d[2] == 0)
			return smf_fail(w, p, -EINVAL, "1..16777215 microseconds per quarter note",
					"Set Tempo of 0 microseconds per quarter note");
		break;
	case SMF_META_TIME_SIG:
		if (len != 4)
			return smf_fail(w, off, -EINVAL, "4", "Time Signature (FF 58) length %u", len);
		if (d[0] == 0)
			return smf_fail(w, p, -EINVAL, "1..255", "Time Signature numerator 0");
		if (d[1] > 6)
			return smf_fail(w, p + 1, -EINVAL, "0..6 (whole note .. 64th)",
					"Time Signature denominator exponent %u", d[1]);
		break;
	default:
		break;
	}
	return 0;
}

/* One MTrk chunk's bytes: [start, end). */
static int smf_track(struct smf_walk *w, struct smf_track *t, size_t start, size_t end)
{
	size_t p = start;
	int64_t tick = 0;
	uint8_t rs = 0; /* running status, 0 = none */
	uint32_t n0 = w->nevents;
	bool named = false;
	int r;

	if (t)
		t->events = w->ev;
	while (p < end) {
		size_t off = p, at;
		uint32_t delta = 0, len = 0; /* set by smf_vlq() on success; gcc -O3 cannot see it */
		uint8_t status;

		if ((r = smf_vlq(w, &p, end, "delta-time", &delta)) < 0)
			return r;
		tick += delta;
		if (p >= end)
			return smf_fail(w, p, -EINVAL, "an event after the delta-time",
					"track ends after a delta-time");
		at = p;
		if (w->buf[p] < 0x80) {
			if (!rs)
				return smf_fail(w, p, -EINVAL, "a status byte",
						"running status with no previous status byte "
						"(data byte 0x%02x)", w->buf[p]);
			status = rs;
		} else {
			status = w->buf[p++];
		}

		if (status < 0xF0) {
			int need = midi_data_len(status);
			struct midi_msg m = { .type = status & 0xF0, .channel = status & 0x0F };

			if (end - p < (size_t)need)
				return smf_fail(w, at, -EINVAL, need == 1 ? "1 data byte" : "2 data bytes",
						"track ends inside a %s message",
						smf_channel_name(status));
			for (int i = 0; i < need; i++) {
				uint8_t b = w->buf[p + i];

				if (b >= 0x80)
					return smf_fail(w, p + i, -EINVAL, "a data byte 0x00..0x7f",
							"byte 0x%02x inside a %s message",
							b, smf_channel_name(status));
				m.data[i] = b;
			}
			p += (size_t)need;
			rs = status;
			if ((r = smf_add(w, off, tick, SMF_EV_CHANNEL, 0, &m, NULL, 0)) < 0)
				return r;
		} else if (status == 0xF0 || status == 0xF7) {
			const char *what = status == 0xF0 ? "SysEx (F0)" : "escape (F7)";

			if ((r = smf_vlq(w, &p, end, status == 0xF0 ? "SysEx length" : "escape length",
					 &len)) < 0)
				return r;
			if (len > end - p)
				return smf_fail(w, at, -EINVAL, "a length within the track chunk",
						"%s length %u exceeds the %zu bytes left",
						what, len, end - p);
			if ((r = smf_add(w, off, tick, status == 0xF0 ? SMF_EV_SYSEX : SMF_EV_ESCAPE,
					 0, NULL, w->buf + p, len)) < 0)
				return r;
			p += len;
		} else if (status == 0xFF) {
			uint8_t type;

			if (p >= end)
				return smf_fail(w, at, -EINVAL, "a meta type byte",
						"track ends inside a meta event");
			type = w->buf[p++];
			if (type >= 0x80)
				return smf_fail(w, p - 1, -EINVAL, "0x00..0x7f", "meta type 0x%02x", type);
			if ((r = smf_vlq(w, &p, end, "meta length", &len)) < 0)
				return r;
			if (len > end - p)
				return smf_fail(w, at, -EINVAL, "a length within the track chunk",
						"meta event FF %02X length %u exceeds the %zu bytes left",
						type, len, end - p);
			if ((r = smf_meta_check(w, at, type, p, len)) < 0)
				return r;
			if (type == SMF_META_END_OF_TRACK) {
				w->after_eot += (uint32_t)(end - p);
				if (t) {
					t->has_eot = true;
					t->end_tick = tick;
				}
				p = end;
				goto done;
			}
			if (type == SMF_META_TRACK_NAME && !named) {
				named = true;
				if (t)
					smf_set_name(t, w->buf + p, len);
			}
			if ((r = smf_add(w, off, tick, SMF_EV_META, type, NULL, w->buf + p, len)) < 0)
				return r;
			p += len;
		} else {
			return smf_fail(w, at, -EINVAL,
					"a channel message, F0 (SysEx), F7 (escape) or FF (meta)",
					"status byte 0x%02x is not an SMF event", status);
		}
	}
	w->missing_eot++;
	if (t)
		t->end_tick = tick;
done:
	if (t)
		t->nevents = w->nevents - n0;
	return 0;
}

/* The whole file.  Pass 1 when w->s is NULL, pass 2 otherwise. */
static int smf_walk(struct smf_walk *w, uint16_t *format, uint16_t *ntracks, uint16_t *division)
{
	const uint8_t *b = w->buf;
	size_t len = w->len, p;
	uint32_t hlen;
	uint16_t found = 0;
	int r;

	w->track = -1;
	if (len < 4 || memcmp(b, "MThd", 4) != 0) {
		if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "RMID", 4) == 0)
			return smf_fail(w, 0, -ENOTSUP, "a plain Standard MIDI File",
					"RIFF MIDI (RMID) wrapper is not supported");
		if (len == 0)
			return smf_fail(w, 0, -EINVAL, "\"MThd\"", "empty file");
		return smf_fail(w, 0, -EINVAL, "\"MThd\"",
				"not a Standard MIDI File: it starts with %02x %02x %02x %02x",
				b[0], len > 1 ? b[1] : 0, len > 2 ? b[2] : 0, len > 3 ? b[3] : 0);
	}
	if (len < 14)
		return smf_fail(w, len, -EINVAL, "14 bytes of MThd header",
				"file ends inside the MThd header (%zu bytes)", len);
	hlen = smf_be32(b + 4);
	if (hlen < 6)
		return smf_fail(w, 4, -EINVAL, "at least 6", "MThd length %u", hlen);
	if (hlen > len - 8)
		return smf_fail(w, 4, -EINVAL, "a length within the file",
				"MThd length %u exceeds the %zu bytes left in the file", hlen, len - 8);
	*format = smf_be16(b + 8);
	*ntracks = smf_be16(b + 10);
	*division = smf_be16(b + 12);
	if (*format > 2)
		return smf_fail(w, 8, -EINVAL, "0, 1 or 2", "format %u", *format);
	if (*ntracks == 0)
		return smf_fail(w, 10, -EINVAL, "at least 1", "track count 0");
	if (*format == 0 && *ntracks != 1)
		return smf_fail(w, 10, -EINVAL, "1 in a format 0 file", "track count %u", *ntracks);
	if (*division & 0x8000)
		return smf_fail(w, 12, -ENOTSUP, "ticks per quarter note (bit 15 clear)",
				"SMPTE division (%d frames/s, %u ticks per frame) is not supported",
				-(int)(int8_t)(*division >> 8), *division & 0xFF);
	if (*division == 0)
		return smf_fail(w, 12, -EINVAL, "1..32767 ticks per quarter note", "division 0");

	p = 8 + (size_t)hlen;
	while (found < *ntracks) {
		uint32_t clen;
		size_t left = len - p;

		if (left == 0)
			return smf_fail(w, p, -EINVAL, "the remaining tracks",
					"file ends after %u of %u tracks", found, *ntracks);
		if (left < 8)
			return smf_fail(w, p, -EINVAL, "8 bytes of chunk header",
					"file ends inside a chunk header (%zu bytes left)", left);
		clen = smf_be32(b + p + 4);
		if (clen > left - 8) {
			if (memcmp(b + p, "MTrk", 4) != 0)
				return smf_fail(w, p + 4, -EINVAL, "a length within the file",
						"chunk length %u exceeds the %zu bytes left in the "
						"file", clen, left - 8);
			r = smf_fail(w, p + 4, -EINVAL, "a length within the file",
				     "MTrk chunk length %u of track %u exceeds the %zu bytes left "
				     "in the file", clen, found, left - 8);
			if (w->err)
				w->err->track = found;
			return r;
		}
		if (memcmp(b + p, "MTrk", 4) == 0) {
			struct smf_track *t = w->s ? &w->s->tracks[found] : NULL;

			w->track = found;
			if (t)
				t->offset = (uint32_t)p;
			if ((r = smf_track(w, t, p + 8, p + 8 + clen)) < 0)
				return r;
			w->track = -1;
			found++;
		} else {
			w->skipped_chunks++;
		}
		p += 8 + (size_t)clen;
	}
	w->trailing = (uint32_t)(len - p);
	return 0;
}

int smf_parse(struct smf *s, const uint8_t *buf, size_t len, const struct alloc *a,
	      struct smf_error *err)
{
	struct smf_walk w = { .buf = buf, .len = len, .err = err, .track = -1 };
	uint16_t format, ntracks, division;
	size_t tr_bytes, ev_bytes;
	unsigned char *mem;
	int r;

	if (err)
		*err = (struct smf_error){ .offset = SMF_NO_OFFSET, .track = -1 };
	if (!s)
		return -EINVAL;
	*s = (struct smf){ 0 };
	if (!buf && len)
		return smf_fail(&w, SMF_NO_OFFSET, -EINVAL, NULL, "no buffer");
	if (len > SMF_FILE_MAX)
		return smf_fail(&w, SMF_NO_OFFSET, -EFBIG, "at most 16 MiB",
				"file of %zu bytes is too large", len);
	if (!buf)
		buf = w.buf = (const uint8_t *)"";
	r = smf_walk(&w, &format, &ntracks, &division);
	if (r < 0)
		return r;

	tr_bytes = (size_t)ntracks * sizeof(struct smf_track);
	ev_bytes = (size_t)w.nevents * sizeof(struct smf_event);
	mem = alloc_mem(a, tr_bytes + ev_bytes + w.payload + 1);
	if (!mem)
		return smf_fail(&w, SMF_NO_OFFSET, -ENOMEM, NULL,
				"out of memory for %u events", w.nevents);
	memset(mem, 0, tr_bytes + ev_bytes);
	s->mem = mem;
	s->alloc = a;
	s->tracks = (struct smf_track *)(void *)mem;
	s->format = format;
	s->ntracks = ntracks;
	s->division = division;
	s->nevents = w.nevents;

	/* pass 2: same bytes, same decisions, now filling */
	w = (struct smf_walk){ .buf = w.buf, .len = len, .err = NULL, .s = s,
			       .ev = (struct smf_event *)(void *)(mem + tr_bytes),
			       .pay = mem + tr_bytes + ev_bytes };
	r = smf_walk(&w, &format, &ntracks, &division);
	if (r < 0 || w.nevents != s->nevents) {
		/* XXX cannot happen: pass 1 accepted the same bytes */
		smf_free(s);
		return r < 0 ? r : -EIO;
	}
	s->skipped_chunks = w.skipped_chunks;
	s->missing_eot = w.missing_eot;
	s->trailing_bytes = w.trailing;
	s->after_eot_bytes = w.after_eot;
	return 0;
}

void smf_free(struct smf *s)
{
	if (!s)
		return;
	alloc_free(s->alloc, s->mem);
	*s = (struct smf){ 0 };
}

int smf_read_file(const char *path, const struct alloc *a, uint8_t **buf, size_t *len,
		  struct smf_error *err)
{
	struct smf_walk w = { .err = err, .track = -1 };
	struct stat st;
	uint8_t *b;
	size_t n = 0, size;
	int fd, r;

	rt_assert_not_rt();
	if (err)
		*err = (struct smf_error){ .offset = SMF_NO_OFFSET, .track = -1 };
	if (!path || !buf || !len)
		return smf_fail(&w, SMF_NO_OFFSET, -EINVAL, NULL, "no path or no output");
	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return smf_fail(&w, SMF_NO_OFFSET, r, NULL, "cannot open: %s", strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		smf_fail(&w, SMF_NO_OFFSET, r, NULL, "cannot stat: %s", strerror(-r));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = smf_fail(&w, SMF_NO_OFFSET, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			     "a regular file", "not a regular file");
		goto out_close;
	}
	if (st.st_size > (off_t)SMF_FILE_MAX) {
		r = smf_fail(&w, SMF_NO_OFFSET, -EFBIG, "at most 16 MiB (16777216 bytes)",
			     "file of %lld bytes is too large", (long long)st.st_size);
		goto out_close;
	}
	size = (size_t)st.st_size;
	b = alloc_mem(a, size + 1);
	if (!b) {
		r = smf_fail(&w, SMF_NO_OFFSET, -ENOMEM, NULL, "out of memory for %zu bytes", size);
		goto out_close;
	}
	while (n < size) {
		ssize_t k = read(fd, b + n, size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			smf_fail(&w, n, r, NULL, "read error: %s", strerror(-r));
			goto out_free;
		}
		if (k == 0)
			break; /* the file shrank meanwhile: parse what is there */
		n += (size_t)k;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;

out_free:
	alloc_free(a, b);
out_close:
	close(fd);
	return r;
}

int smf_load_file(struct smf *s, const char *path, const struct alloc *a, struct smf_error *err)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (!s)
		return -EINVAL;
	*s = (struct smf){ 0 };
	r = smf_read_file(path, a, &buf, &len, err);
	if (r < 0)
		return r;
	r = smf_parse(s, buf, len, a, err);
	alloc_free(a, buf);
	return r;
}
