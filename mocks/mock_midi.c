/*
 * mock_midi.c - cmocka-scripted MIDI backend (see mock_midi.h).
 * Test code only: the ops are not RT_SAFE (cmocka allocates), so RT-suite
 * tests that need a MIDI backend use the dump backend instead.
 */
#include "mock_midi.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static int mock_port_add(struct midi_backend *b, const struct midi_port_cfg *pc)
{
	struct mock_midi *m = (struct mock_midi *)b;

	if (m->nports >= MIDI_MAX_PORTS)
		return -ENOSPC;
	m->port[m->nports] = *pc;
	return m->nports++;
}

int mock_midi_send(struct midi_backend *b, int port, const struct midi_msg *msg, int64_t due_ns)
{
	struct mock_midi *m = (struct mock_midi *)b;
	int type = msg->type, channel = msg->channel, d0 = msg->data[0], d1 = msg->data[1];

	if (m->record) {
		if (m->nsent >= MOCK_MIDI_RECORD)
			return -ENOSPC;
		m->sent[m->nsent++] = (struct mock_midi_sent){ .port = port, .msg = *msg,
							       .due_ns = due_ns };
		return 0;
	}
	check_expected(port);
	check_expected(type);
	check_expected(channel);
	check_expected(d0);
	check_expected(d1);
	check_expected(due_ns);
	return mock_type(int);
}

static int mock_flush(struct midi_backend *b)
{
	((struct mock_midi *)b)->flushes++;
	return 0;
}

int mock_midi_drop_pending(struct midi_backend *b, int port)
{
	(void)b;
	check_expected(port);
	return mock_type(int);
}

static int mock_recv(struct midi_backend *b, struct midi_event_in *ev)
{
	struct mock_midi *m = (struct mock_midi *)b;

	if (m->in_pos >= m->in_len)
		return -EAGAIN;
	*ev = m->in[m->in_pos++];
	return 0;
}

static int mock_no_fds(struct midi_backend *b, int *fds, int max)
{
	(void)b;
	(void)fds;
	(void)max;
	return 0;
}

static int mock_service(struct midi_backend *b, struct midi_notify *out, int max)
{
	struct mock_midi *m = (struct mock_midi *)b;
	int n = m->nnotify < max ? m->nnotify : max;

	memcpy(out, m->notify, (size_t)n * sizeof(*out));
	memmove(m->notify, m->notify + n, (size_t)(m->nnotify - n) * sizeof(*out));
	m->nnotify -= n;
	return n;
}

static void mock_close(struct midi_backend *b)
{
	((struct mock_midi *)b)->closes++;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wfunction-effects"
static const struct midi_backend_ops mock_midi_ops = {
	.name = "mock",
	.port_add = mock_port_add,       /* records the port; its index */
	.send = mock_midi_send,          /* expectation or record, see mock_midi.h */
	.flush = mock_flush,             /* counted */
	.drop_pending = mock_midi_drop_pending, /* expectation */
	.recv = mock_recv,               /* scripted input, then -EAGAIN */
	.input_fds = mock_no_fds,        /* none */
	.service = mock_service,         /* scripted notifications */
	.service_fds = mock_no_fds,      /* none */
	.close = mock_close,             /* counted */
};
#pragma GCC diagnostic pop

void mock_midi_init(struct mock_midi *m)
{
	memset(m, 0, sizeof(*m));
	m->base.ops = &mock_midi_ops;
}

int mock_midi_input(struct mock_midi *m, const struct midi_event_in *ev)
{
	if (m->in_len >= MOCK_MIDI_QUEUE)
		return -ENOSPC;
	m->in[m->in_len++] = *ev;
	return 0;
}

int mock_midi_notify(struct mock_midi *m, const struct midi_notify *n)
{
	if (m->nnotify >= MOCK_MIDI_QUEUE)
		return -ENOSPC;
	m->notify[m->nnotify++] = *n;
	return 0;
}
