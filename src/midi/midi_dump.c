/*
 * midi_dump.c - JSON Lines MIDI backend (see midi_dump.h).
 *
 * Producer/consumer: send() (engine thread) validates the message, stamps
 * it and copies it (with a copy of its SysEx chunk: the caller keeps the
 * chunk it passed in) into an SPSC ring; the control thread pops, formats
 * with midi_json_format_ex() and writes.  A full ring drops the event and
 * counts it, like a full kernel queue in the other backends: the engine is
 * never held up by a slow disk or a blocked stdout pipe.
 *
 * Why t_ns is taken in send(): it is the moment the event left the engine,
 * the closest a dump has to a wire time; a time taken by the writer would
 * only measure how often the control thread runs.
 */
#include "midi/midi_dump.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "midi/midi_json.h"
#include "midi/midi_priv.h"

#define MD_PERIOD_NS (20 * INT64_C(1000000)) /* writer wake-up period */

/* ------------------------------------------------------------------ RT */

static void md_count(_Atomic uint64_t *c) RT_SAFE
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* What midi_json_format() would accept, checked on the engine side so that
 * send() can refuse it with -EINVAL (the writer never sees bad records). */
static bool md_valid(const struct midi_msg *m) RT_SAFE
{
	int n = midi_data_len(m->type);

	if (m->type == MIDI_SYSEX) {
		if (!m->sysex || m->sysex->len > MIDI_SYSEX_CHUNK_MAX)
			return false;
		for (unsigned i = 0; i < m->sysex->len; i++)
			if (m->sysex->data[i] > 0x7F)
				return false;
		return true;
	}
	if (n < 0 || (midi_is_channel_type(m->type) ? (m->type & 0x0F) != 0 || m->channel > 15
						    : m->channel != 0))
		return false;
	for (int i = 0; i < n; i++)
		if (m->data[i] > 0x7F)
			return false;
	return true;
}

static int md_send(struct midi_backend *b, int port, const struct midi_msg *m,
		   int64_t due_ns) RT_SAFE
{
	struct midi_dump *d = (struct midi_dump *)b;
	struct midi_dump_rec rec;

	if (port < 0 || port >= d->nports || d->dir[port] != MIDI_PORT_OUT)
		return -EINVAL;
	if (!md_valid(m)) {
		md_count(&d->stats.tx_errors);
		return -EINVAL;
	}
	rec.due_ns = due_ns;
	rec.t_ns = d->clock ? d->clock(d->clock_ctx) : midi_now_ns();
	rec.port = (uint16_t)port;
	rec.msg = *m;
	rec.msg.sysex = NULL;
	rec.sx.len = 0;
	if (m->type == MIDI_SYSEX) {
		rec.sx.len = m->sysex->len;
		memcpy(rec.sx.data, m->sysex->data, m->sysex->len);
	}
	if (ring_push(&d->q, &rec) < 0) {
		md_count(&d->stats.tx_full);
		return -ENOSPC;
	}
	md_count(&d->stats.tx_events);
	return 0;
}

static int md_flush(struct midi_backend *b) RT_SAFE
{
	(void)b; /* the writer runs on the control side */
	return 0;
}

static int md_drop_pending(struct midi_backend *b, int port) RT_SAFE
{
	struct midi_dump *d = (struct midi_dump *)b;

	/* A record is the dump's wire: once send() took it, it is out. */
	return port < -1 || port >= d->nports ? -EINVAL : 0;
}

static int md_recv(struct midi_backend *b, struct midi_event_in *ev) RT_SAFE
{
	(void)b;
	(void)ev;
	return -EAGAIN; /* no input */
}

/* ------------------------------------------------------------ control */

int midi_dump_drain(struct midi_dump *d)
{
	struct midi_dump_rec rec;
	char pre[96], line[MIDI_JSON_MAX + 96];
	int n = 0, len, err = 0;

	rt_assert_not_rt();
	while (ring_pop(&d->q, &rec) == 0) {
		if (rec.msg.type == MIDI_SYSEX)
			rec.msg.sysex = &rec.sx;
		snprintf(pre, sizeof(pre), "\"port\":%u,\"due_ns\":%" PRId64 ",\"t_ns\":%" PRId64,
			 rec.port, rec.due_ns, rec.t_ns);
		len = midi_json_format_ex(&rec.msg, pre, NULL, line, sizeof(line) - 1);
		if (len < 0)
			continue; /* cannot happen: send() validated it */
		line[len++] = '\n';
		if (fwrite(line, 1, (size_t)len, d->f) != (size_t)len && !err)
			err = errno ? -errno : -EIO;
		n++;
	}
	if (n && fflush(d->f) != 0 && !err)
		err = errno ? -errno : -EIO;
	atomic_fetch_add_explicit(&d->stats.written, (uint64_t)n, memory_order_relaxed);
	if (err) {
		clearerr(d->f);
		return err;
	}
	return n;
}

static int md_port_add(struct midi_backend *b, const struct midi_port_cfg *pc)
{
	struct midi_dump *d = (struct midi_dump *)b;

	rt_assert_not_rt();
	if ((pc->dir != MIDI_PORT_OUT && pc->dir != MIDI_PORT_IN) || !pc->name[0] ||
	    !memchr(pc->name, 0, sizeof(pc->name)))
		return -EINVAL;
	if (d->nports >= MIDI_MAX_PORTS)
		return -ENOSPC;
	d->dir[d->nports] = pc->dir;
	if (pc->dir == MIDI_PORT_OUT)
		d->connected_pending |= UINT32_C(1) << d->nports; /* always "connected" to the file */
	return d->nports++;
}

static int md_service(struct midi_backend *b, struct midi_notify *out, int max)
{
	struct midi_dump *d = (struct midi_dump *)b;
	uint64_t ticks;
	int n = 0, r;

	rt_assert_not_rt();
	(void)!read(d->timer_fd, &ticks, sizeof(ticks)); /* non-blocking; clears it */
	r = midi_dump_drain(d);
	if (r < 0 && !d->write_err) {
		d->write_err = r;
		return r; /* reported once; later errors are only counted out of `written` */
	}
	for (int i = 0; i < d->nports && n < max; i++) {
		if (!(d->connected_pending & (UINT32_C(1) << i)))
			continue;
		d->connected_pending &= ~(UINT32_C(1) << i);
		out[n] = (struct midi_notify){ .type = MIDI_NOTIFY_CONNECTED, .port = (uint16_t)i };
		memcpy(out[n].peer, d->path, sizeof(out[n].peer) - 1);
		n++;
	}
	return n;
}

static int md_input_fds(struct midi_backend *b, int *fds, int max)
{
	(void)b;
	(void)fds;
	(void)max;
	return 0;
}

static int md_service_fds(struct midi_backend *b, int *fds, int max)
{
	if (max < 1)
		return 0;
	fds[0] = ((struct midi_dump *)b)->timer_fd;
	return 1;
}

static void md_close(struct midi_backend *b)
{
	struct midi_dump *d = (struct midi_dump *)b;

	rt_assert_not_rt();
	if (!d->f)
		return;
	(void)midi_dump_drain(d);
	if (d->own_f)
		fclose(d->f);
	d->f = NULL;
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	d->timer_fd = -1;
}

static const struct midi_backend_ops midi_dump_ops = {
	.name = "dump",
	/* Records the port's direction; input ports never receive anything.
	 * -EINVAL for a bad cfg, -ENOSPC beyond MIDI_MAX_PORTS.  An output
	 * port is reported MIDI_NOTIFY_CONNECTED (peer: the file) by the next
	 * service().  Control thread, before the engine starts. */
	.port_add = md_port_add,
	/* Validates and queues one record for the writer; never touches the
	 * file.  -EINVAL (bad port or message), -ENOSPC (queue full: dropped,
	 * counted).  Engine thread. */
	.send = md_send,
	/* Nothing to do (the writer is on the control side).  Engine thread. */
	.flush = md_flush,
	/* Nothing is pending: a queued record counts as sent.  Engine thread. */
	.drop_pending = md_drop_pending,
	/* Always -EAGAIN: a dump has no input.  Engine thread. */
	.recv = md_recv,
	/* None.  Control thread. */
	.input_fds = md_input_fds,
	/* Writes the queued records; -errno once on a write error.  Control
	 * thread, when the service fd is readable (every 20 ms). */
	.service = md_service,
	/* One fd: the writer's 20 ms periodic timerfd.  Control thread. */
	.service_fds = md_service_fds,
	/* Writes what is queued, closes the file (not stdout).  Control
	 * thread, engine stopped. */
	.close = md_close,
};

int midi_dump_open(struct midi_dump *d, const struct midi_dump_cfg *cfg)
{
	struct itimerspec its = {
		.it_interval = { 0, MD_PERIOD_NS },
		.it_value = { 0, MD_PERIOD_NS },
	};
	bool to_stdout = !cfg->path || strcmp(cfg->path, "-") == 0;
	int e;

	rt_assert_not_rt();
	memset(d, 0, sizeof(*d));
	d->base.ops = &midi_dump_ops;
	d->timer_fd = -1;
	d->clock = cfg->clock;
	d->clock_ctx = cfg->clock_ctx;
	snprintf(d->path, sizeof(d->path), "%s", to_stdout ? "stdout" : cfg->path);
	e = ring_init(&d->q, d->q_buf, MIDI_DUMP_QUEUE, sizeof(d->q_buf[0]));
	if (e < 0)
		return e;
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer_fd < 0 || timerfd_settime(d->timer_fd, 0, &its, NULL) < 0)
		goto fail;
	d->f = to_stdout ? stdout : fopen(cfg->path, "we");
	d->own_f = !to_stdout;
	if (!d->f)
		goto fail;
	return 0;

fail:
	e = -errno;
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	d->timer_fd = -1;
	d->f = NULL;
	return e;
}
