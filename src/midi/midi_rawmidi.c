/*
 * midi_rawmidi.c - MIDI backend on raw ALSA MIDI devices (see
 * midi_rawmidi.h).
 *
 * Each port owns one stream (input or output) of one device, opened
 * non-blocking.  Output: send() encodes the message into the port's byte
 * buffer (midi_encode) and writes what the device takes; what it does not
 * take stays in the buffer for the next send() or flush(), so the wire only
 * ever sees whole messages and a full buffer drops whole messages (-ENOSPC).
 * A message is refused before it is encoded when it might not fit: the
 * encoder's running-status memory never counts a message that was dropped.
 *
 * Input: recv() reads one burst (with the kernel's CLOCK_MONOTONIC arrival
 * stamp when the kernel frames input with timestamps, Linux >= 5.14; else
 * the time of the read), parses it (midi_parse, SysEx chunks from the
 * engine's pool) and returns the messages one per call, draining every
 * input port until all say EAGAIN.  The engine waits on ONE fd: an epoll
 * set of the input streams, so the fd it was given at start stays valid
 * when devices come and go.
 *
 * Lost devices.  A port's handle belongs to one thread at a time, decided
 * by its atomic state:
 *   UP   - the engine uses it.  On a read or write error other than EAGAIN
 *          (-ENODEV when unplugged) the engine ends the parser (returning a
 *          held SysEx chunk to its pool on its own thread), takes the fd out
 *          of the epoll set (else the dead fd would keep the engine's wait
 *          returning) and publishes LOST; it never touches the port again.
 *   LOST - service() (control thread, woken by the backend's periodic
 *          timerfd) closes the handle, reports MIDI_NOTIFY_DISCONNECTED,
 *          moves to DOWN.
 *   DOWN - service() tries to reopen the device every retry_ns; on success
 *          it resets parser/encoder, adds the fd to the epoll set, reports
 *          MIDI_NOTIFY_CONNECTED and publishes UP (release; the engine
 *          loads the state with acquire before using the handle).
 */
#include "midi/midi_rawmidi.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "midi/midi_priv.h"

#define MR_DEFAULT_DEVICE "hw:0,0,0"
#define MR_SERVICE_PERIOD_NS (200 * INT64_C(1000000)) /* how soon a lost device is noticed */
#define MR_RETRY_NS MIDI_NS_PER_SEC                  /* default reopen interval */

/* ------------------------------------------------------------------ RT */

static void mr_count(_Atomic uint64_t *c, uint64_t n) RT_SAFE
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static int mr_state(struct midi_rawmidi_port *p) RT_SAFE
{
	return atomic_load_explicit(&p->state, memory_order_acquire);
}

/* The engine lets go of a failed port (see the model above). */
static void mr_lose(struct midi_rawmidi *r, struct midi_rawmidi_port *p) RT_SAFE
{
	struct midi_msg m;

	if (p->cfg.dir == MIDI_PORT_IN) {
		if (midi_parse_end(&p->parse, &m, 1) == 1 && m.type == MIDI_SYSEX && m.sysex)
			pool_put(r->sysex_pool, m.sysex);
		RT_SYSCALL_BEGIN("midi-lost")
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, p->fd, NULL);
		RT_SYSCALL_END
	}
	mr_count(&r->stats.lost, 1);
	atomic_store_explicit(&p->state, MIDI_RAWMIDI_LOST, memory_order_release);
}

/* Write what the device takes of the port's pending bytes.  Returns 0
 * (also when it took nothing now), or -ENOTCONN when the device failed. */
static int mr_push(struct midi_rawmidi *r, struct midi_rawmidi_port *p) RT_SAFE
{
	ssize_t n;

	if (p->tx_len == 0)
		return 0;
	RT_SYSCALL_BEGIN("midi-send")
	n = snd_rawmidi_write(p->h, p->tx, p->tx_len);
	RT_SYSCALL_END
	if (n == -EAGAIN || n == 0)
		return 0;
	if (n < 0) {
		mr_lose(r, p);
		return -ENOTCONN;
	}
	memmove(p->tx, p->tx + n, p->tx_len - (size_t)n);
	p->tx_len -= (size_t)n;
	mr_count(&r->stats.tx_bytes, (uint64_t)n);
	return 0;
}

static int mr_send(struct midi_backend *b, int port, const struct midi_msg *m,
		   int64_t due_ns) RT_SAFE
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;
	struct midi_rawmidi_port *p;
	int n;

	(void)due_ns; /* direct only: the engine calls at the due time */
	if (port < 0 || port >= r->nports || r->port[port].cfg.dir != MIDI_PORT_OUT)
		return -EINVAL;
	p = &r->port[port];
	if (mr_state(p) != MIDI_RAWMIDI_UP)
		return -ENOTCONN;
	if (p->tx_len + MIDI_ENCODE_MAX > sizeof(p->tx)) {
		if (mr_push(r, p) < 0)
			return -ENOTCONN;
		if (p->tx_len + MIDI_ENCODE_MAX > sizeof(p->tx)) {
			mr_count(&r->stats.tx_full, 1);
			return -ENOSPC;
		}
	}
	n = midi_encode_msg(&p->enc, m, p->tx + p->tx_len, sizeof(p->tx) - p->tx_len);
	if (n < 0) {
		mr_count(&r->stats.tx_errors, 1);
		return n;
	}
	p->tx_len += (size_t)n;
	return mr_push(r, p);
}

static int mr_flush(struct midi_backend *b) RT_SAFE
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;
	int ret = 0;

	for (int i = 0; i < r->nports; i++) {
		struct midi_rawmidi_port *p = &r->port[i];

		if (p->cfg.dir == MIDI_PORT_OUT && p->tx_len && mr_state(p) == MIDI_RAWMIDI_UP &&
		    mr_push(r, p) < 0)
			ret = -ENOTCONN;
	}
	return ret;
}

static int mr_drop_pending(struct midi_backend *b, int port) RT_SAFE
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;

	/* Direct output holds nothing back but bytes the device has not taken
	 * yet, and those are whole messages already due: they stay. */
	return port < -1 || port >= r->nports ? -EINVAL : 0;
}

/* Read one burst from input port `idx` into r->rx.  Returns the bytes
 * read, 0 or -EAGAIN when none, another -errno when the device failed. */
static ssize_t mr_read(struct midi_rawmidi *r, struct midi_rawmidi_port *p, int idx) RT_SAFE
{
	struct timespec ts = { 0, 0 };
	ssize_t n;

	RT_SYSCALL_BEGIN("midi-recv")
	if (p->tstamp)
		n = snd_rawmidi_tread(p->h, &ts, r->rx, sizeof(r->rx));
	else
		n = snd_rawmidi_read(p->h, r->rx, sizeof(r->rx));
	RT_SYSCALL_END
	if (n <= 0)
		return n;
	r->rx_len = (size_t)n;
	r->rx_pos = 0;
	r->rx_port = idx;
	r->rx_t_ns = ts.tv_sec || ts.tv_nsec ? (int64_t)ts.tv_sec * MIDI_NS_PER_SEC + ts.tv_nsec
					     : midi_now_ns();
	mr_count(&r->stats.rx_bytes, (uint64_t)n);
	return n;
}

static int mr_recv(struct midi_backend *b, struct midi_event_in *ev) RT_SAFE
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;

	for (;;) {
		if (r->rxq_pos < r->rxq_len) {
			ev->t_ns = r->rx_t_ns;
			ev->port = (uint16_t)r->rx_port;
			ev->msg = r->rxq[r->rxq_pos++];
			mr_count(&r->stats.rx_events, 1);
			return 0;
		}
		if (r->rx_pos < r->rx_len) {
			struct midi_rawmidi_port *p = &r->port[r->rx_port];
			size_t used = 0;
			int n = midi_parse_feed(&p->parse, r->rx + r->rx_pos, r->rx_len - r->rx_pos,
						&used, r->rxq, MIDI_RAWMIDI_RXQ);

			r->rxq_len = n > 0 ? n : 0;
			r->rxq_pos = 0;
			r->rx_pos = n < 0 ? r->rx_len : r->rx_pos + used;
			continue;
		}
		int k;

		for (k = 0; k < r->nports; k++) {
			int idx = (r->rx_next + k) % r->nports;
			struct midi_rawmidi_port *p = &r->port[idx];
			ssize_t n;

			if (p->cfg.dir != MIDI_PORT_IN || mr_state(p) != MIDI_RAWMIDI_UP)
				continue;
			n = mr_read(r, p, idx);
			if (n > 0) {
				r->rx_next = idx; /* drain this one first */
				break;
			}
			if (n < 0 && n != -EAGAIN)
				mr_lose(r, p);
		}
		if (k == r->nports)
			return -EAGAIN;
	}
}

/* ------------------------------------------------------------ control */

static void mr_notify(struct midi_rawmidi *r, int type, int port, const char *peer)
{
	struct midi_notify *n;
	size_t len = strnlen(peer, sizeof(n->peer) - 1);

	if (r->npend >= MIDI_RAWMIDI_NOTIFY_MAX)
		return; /* XXX: the oldest are kept; service() runs every 200 ms */
	n = &r->pend[r->npend++];
	n->type = type;
	n->port = (uint16_t)port;
	memcpy(n->peer, peer, len);
	n->peer[len] = 0;
}

/* Open port `idx`'s device stream and hand it to the engine (state UP). */
static int mr_open_port(struct midi_rawmidi *r, int idx)
{
	struct midi_rawmidi_port *p = &r->port[idx];
	snd_rawmidi_t *h = NULL;
	snd_rawmidi_params_t *params;
	struct pollfd pfd;
	struct epoll_event ee = { .events = EPOLLIN };
	int e;

	if (p->cfg.dir == MIDI_PORT_IN)
		e = snd_rawmidi_open(&h, NULL, p->device, SND_RAWMIDI_NONBLOCK);
	else
		e = snd_rawmidi_open(NULL, &h, p->device, SND_RAWMIDI_NONBLOCK);
	if (e < 0)
		return e;
	p->tx_len = 0;
	if (p->cfg.dir == MIDI_PORT_OUT) {
		midi_encode_init(&p->enc, r->running_status);
		p->h = h;
		atomic_store_explicit(&p->state, MIDI_RAWMIDI_UP, memory_order_release);
		return 0;
	}
	/* Kernel arrival stamps where the kernel frames input with them; the
	 * buffer tread() reads into is allocated here, not on the engine. */
	snd_rawmidi_params_alloca(&params);
	p->tstamp = snd_rawmidi_params_current(h, params) >= 0 &&
		    snd_rawmidi_params_set_read_mode(h, params, SND_RAWMIDI_READ_TSTAMP) >= 0 &&
		    snd_rawmidi_params_set_clock_type(h, params, SND_RAWMIDI_CLOCK_MONOTONIC) >= 0 &&
		    snd_rawmidi_params(h, params) >= 0;
	e = midi_parse_init(&p->parse, r->sysex_pool);
	if (e == 0 && snd_rawmidi_poll_descriptors(h, &pfd, 1) != 1)
		e = -EIO;
	if (e < 0)
		goto fail;
	p->fd = pfd.fd;
	ee.data.u32 = (uint32_t)idx;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, p->fd, &ee) < 0) {
		e = -errno;
		goto fail;
	}
	p->h = h;
	atomic_store_explicit(&p->state, MIDI_RAWMIDI_UP, memory_order_release);
	return 0;

fail:
	snd_rawmidi_close(h);
	return e;
}

static int mr_port_add(struct midi_backend *b, const struct midi_port_cfg *pc)
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;
	struct midi_rawmidi_port *p;
	int e;

	rt_assert_not_rt();
	if ((pc->dir != MIDI_PORT_OUT && pc->dir != MIDI_PORT_IN) || !pc->name[0] ||
	    !memchr(pc->name, 0, sizeof(pc->name)) || !memchr(pc->connect, 0, sizeof(pc->connect)))
		return -EINVAL;
	if (r->nports >= MIDI_MAX_PORTS)
		return -ENOSPC;
	p = &r->port[r->nports];
	memset(p, 0, sizeof(*p));
	p->cfg = *pc;
	memcpy(p->device, pc->connect[0] ? pc->connect : r->device, sizeof(p->device));
	atomic_init(&p->state, MIDI_RAWMIDI_DOWN);
	p->fd = -1;
	e = mr_open_port(r, r->nports);
	if (e < 0)
		return e; /* a device missing at start is a configuration error: say so */
	mr_notify(r, MIDI_NOTIFY_CONNECTED, r->nports, p->device);
	return r->nports++;
}

static int mr_service(struct midi_backend *b, struct midi_notify *out, int max)
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;
	uint64_t ticks;
	int64_t now = midi_now_ns();
	int n;

	rt_assert_not_rt();
	(void)!read(r->timer_fd, &ticks, sizeof(ticks)); /* non-blocking; clears it */
	for (int i = 0; i < r->nports; i++) {
		struct midi_rawmidi_port *p = &r->port[i];
		int st = atomic_load_explicit(&p->state, memory_order_acquire);

		if (st == MIDI_RAWMIDI_LOST) {
			snd_rawmidi_close(p->h);
			p->h = NULL;
			mr_notify(r, MIDI_NOTIFY_DISCONNECTED, i, p->device);
			atomic_store_explicit(&p->state, MIDI_RAWMIDI_DOWN, memory_order_relaxed);
			p->retry_at_ns = now;
			st = MIDI_RAWMIDI_DOWN;
		}
		if (st == MIDI_RAWMIDI_DOWN && now >= p->retry_at_ns) {
			if (mr_open_port(r, i) == 0) {
				atomic_fetch_add_explicit(&r->stats.reopened, 1, memory_order_relaxed);
				mr_notify(r, MIDI_NOTIFY_CONNECTED, i, p->device);
			} else {
				p->retry_at_ns = now + r->retry_ns;
			}
		}
	}
	n = r->npend < max ? r->npend : max;
	if (n > 0) {
		memcpy(out, r->pend, (size_t)n * sizeof(*out));
		memmove(r->pend, r->pend + n, (size_t)(r->npend - n) * sizeof(*out));
		r->npend -= n;
	}
	return n;
}

static int mr_input_fds(struct midi_backend *b, int *fds, int max)
{
	if (max < 1)
		return 0;
	fds[0] = ((struct midi_rawmidi *)b)->epfd;
	return 1;
}

static int mr_service_fds(struct midi_backend *b, int *fds, int max)
{
	if (max < 1)
		return 0;
	fds[0] = ((struct midi_rawmidi *)b)->timer_fd;
	return 1;
}

static void mr_close(struct midi_backend *b)
{
	struct midi_rawmidi *r = (struct midi_rawmidi *)b;

	rt_assert_not_rt();
	for (int i = 0; i < r->nports; i++) {
		struct midi_rawmidi_port *p = &r->port[i];

		if (!p->h)
			continue;
		if (p->cfg.dir == MIDI_PORT_OUT && mr_state(p) == MIDI_RAWMIDI_UP)
			(void)mr_push(r, p); /* last bytes, best effort */
		snd_rawmidi_close(p->h);
		p->h = NULL;
	}
	r->nports = 0;
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->timer_fd >= 0)
		close(r->timer_fd);
	r->epfd = r->timer_fd = -1;
}

static const struct midi_backend_ops midi_rawmidi_ops = {
	.name = "rawmidi",
	/* Opens one stream of the device named by pc->connect ("" = the
	 * backend's default): -EINVAL for a bad cfg, -ENOSPC beyond
	 * MIDI_MAX_PORTS, alsa-lib's -errno when the device cannot be opened
	 * (-ENOENT, -EBUSY...).  Reports MIDI_NOTIFY_CONNECTED through the
	 * next service().  Control thread, before the engine starts. */
	.port_add = mr_port_add,
	/* Encodes and writes at once (direct; due_ns unused).  -ENOTCONN when
	 * the device is lost, -ENOSPC when its buffer is full (whole message
	 * dropped, counted), -EINVAL / -EBUSY from the encoder (invalid
	 * message, or not the next chunk of an open SysEx).  Engine thread. */
	.send = mr_send,
	/* Writes bytes the devices did not take earlier.  0 or -ENOTCONN.
	 * Engine thread. */
	.flush = mr_flush,
	/* Nothing is held back in direct output: 0 (-EINVAL for a bad port).
	 * Engine thread. */
	.drop_pending = mr_drop_pending,
	/* Next parsed message of any input port, stamped at arrival; -EAGAIN
	 * when every input port is drained.  Engine thread. */
	.recv = mr_recv,
	/* One fd: the epoll set of the input streams.  Control thread. */
	.input_fds = mr_input_fds,
	/* Closes lost devices and reopens them when they are back (every
	 * retry_ns); reports both.  Control thread, when the service fd is
	 * readable (every 200 ms). */
	.service = mr_service,
	/* One fd: a 200 ms periodic timerfd.  Control thread. */
	.service_fds = mr_service_fds,
	/* Writes what is pending (best effort) and closes every device.
	 * Control thread, engine stopped. */
	.close = mr_close,
};

int midi_rawmidi_open(struct midi_rawmidi *r, const struct midi_rawmidi_cfg *cfg)
{
	struct itimerspec its = {
		.it_interval = { 0, MR_SERVICE_PERIOD_NS },
		.it_value = { 0, MR_SERVICE_PERIOD_NS },
	};
	const char *dev = cfg->device ? cfg->device : MR_DEFAULT_DEVICE;
	int e;

	rt_assert_not_rt();
	memset(r, 0, sizeof(*r));
	r->base.ops = &midi_rawmidi_ops;
	r->sysex_pool = cfg->sysex_pool;
	r->running_status = cfg->running_status;
	r->retry_ns = cfg->retry_ns > 0 ? cfg->retry_ns : MR_RETRY_NS;
	if (strlen(dev) >= sizeof(r->device))
		return -ENAMETOOLONG;
	memcpy(r->device, dev, strlen(dev) + 1);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0)
		return -errno;
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer_fd < 0)
		goto fail_epoll;
	if (timerfd_settime(r->timer_fd, 0, &its, NULL) < 0)
		goto fail_timer;
	return 0;

fail_timer:
	e = -errno;
	close(r->timer_fd);
	close(r->epfd);
	return e;
fail_epoll:
	e = -errno;
	close(r->epfd);
	return e;
}
