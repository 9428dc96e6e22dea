/*
 * capture_midi.c - recording MIDI backend for engine tests (see
 * capture_midi.h).
 */
#include "capture_midi.h"
#include "clock/timesrc.h"

#include <errno.h>
#include <string.h>

static int cap_port_add(struct midi_backend *b, const struct midi_port_cfg *pc)
{
	(void)b;
	(void)pc;
	return 0;
}

static int cap_send(struct midi_backend *b, int port, const struct midi_msg *m, int64_t due) RT_SAFE
{
	struct capture_midi *c = (struct capture_midi *)b;
	struct capture_event ev = { .port = port, .msg = *m, .due_ns = due };

	if (c->fail_with)
		return c->fail_with;
	c->total++;
	if (c->check)
		c->check(c->check_ctx, &ev);
	if (c->n < CAPTURE_MIDI_MAX)
		c->ev[c->n++] = ev;
	return 0;
}

static int cap_flush(struct midi_backend *b) RT_SAFE
{
	((struct capture_midi *)b)->flushes++;
	return 0;
}

static int cap_drop_pending(struct midi_backend *b, int port) RT_SAFE
{
	(void)b;
	(void)port;
	return 0;
}

static int cap_recv(struct midi_backend *b, struct midi_event_in *ev) RT_SAFE
{
	struct capture_midi *c = (struct capture_midi *)b;

	if (c->in_next >= c->nin || !c->ts || c->in[c->in_next].t_ns > timesrc_now_ns(c->ts))
		return -EAGAIN;
	*ev = c->in[c->in_next++];
	return 0;
}

int capture_midi_input(struct capture_midi *c, int port, const struct midi_msg *m, int64_t t_ns)
{
	if (c->nin == CAPTURE_MIDI_IN_MAX)
		return -ENOSPC;
	c->in[c->nin++] = (struct midi_event_in){ .t_ns = t_ns, .port = (uint16_t)port, .msg = *m };
	return 0;
}

static int cap_fds(struct midi_backend *b, int *fds, int max)
{
	(void)b;
	(void)fds;
	(void)max;
	return 0;
}

static int cap_service(struct midi_backend *b, struct midi_notify *out, int max)
{
	(void)b;
	(void)out;
	(void)max;
	return 0;
}

static void cap_close(struct midi_backend *b)
{
	(void)b;
}

static const struct midi_backend_ops capture_midi_ops = {
	.name = "capture",
	.port_add = cap_port_add,
	.send = cap_send,
	.flush = cap_flush,
	.drop_pending = cap_drop_pending,
	.recv = cap_recv,
	.input_fds = cap_fds,
	.service = cap_service,
	.service_fds = cap_fds,
	.close = cap_close,
};

void capture_midi_init(struct capture_midi *c)
{
	memset(c, 0, sizeof(*c));
	c->base.ops = &capture_midi_ops;
}
