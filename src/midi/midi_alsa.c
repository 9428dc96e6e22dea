/*
 * midi_alsa.c - MIDI backend on the ALSA sequencer (see midi_alsa.h).
 *
 * Two sequencer clients, one per thread:
 *   - the data client ("PhasorSync") owns our ports and a locked private
 *     queue.  After the engine starts, only the engine thread touches it:
 *     send() writes events, recv() reads them, drop_pending() removes
 *     queued ones.  This matters because the kernel serialises every write
 *     and ioctl of one client on that client's ioctl mutex: a control-side
 *     ioctl on the data client could make the engine's write() sleep.
 *   - the control client ("PhasorSync control") has one private port
 *     subscribed to System:Announce.  service() reads the announcements and
 *     makes every connection (third-party subscriptions of the data
 *     client's ports, allowed because our ports are exported), and reads
 *     the queue clock to keep the queue <-> CLOCK_MONOTONIC offset.
 *
 * Binding by name.  A port with a non-empty `connect` pattern is connected
 * to every peer port whose "client:port" name contains the pattern and whose
 * capabilities fit (we write to writable ports, read from readable ones).
 * service() answers any announcement (client or port start, exit, change,
 * (un)subscription) with a rescan of the whole graph, which makes it
 * idempotent and immune to lost announcements:
 *   1. a peer we connected that no longer exists under the same name is
 *      dropped (MIDI_NOTIFY_DISCONNECTED); one that exists but whose
 *      connection someone else removed is left alone (also reported) until
 *      it goes away and comes back - we do not fight `aconnect -d`;
 *   2. every matching port not yet known is connected (MIDI_NOTIFY_CONNECTED);
 *   3. each port's subscriber count is refreshed; send() on a port with none
 *      returns -ENOTCONN without a system call.
 *
 * Time.  Our queue runs on the global hrtimer where the kernel has it
 * (else the system timer, whose 1/HZ granularity is several ms) at up to
 * MIDI_ALSA_QUEUE_HZ_MAX ticks per second: a scheduled event leaves on the
 * first queue tick at or after its time.  Queue real time starts at 0 when
 * the queue starts and advances with the kernel's monotonic clock, so
 * CLOCK_MONOTONIC = q0_ns + queue time.  q0_ns is measured at open by
 * reading the queue status between two clock reads (the narrowest of a few
 * tries) and re-measured by service() every MA_SYNC_PERIOD_NS; steps below
 * MA_SYNC_DEADBAND_NS are measurement noise and ignored.
 *
 * Output.  Every send() is written to the kernel at once
 * (snd_seq_event_output_direct on the non-blocking data client), so flush()
 * has nothing left to do: one event per write costs a system call per
 * event, but errors are per event and a direct event leaves without waiting
 * for a batch.  With lookahead_ns > 0 the event carries an absolute
 * real-time stamp on our queue; with 0 it is a direct event.  Each event is
 * tagged with its port index + 1 so drop_pending() can remove one port's
 * queued events.
 *
 * Input.  Our input ports stamp every arriving event with our queue's real
 * time (port-level timestamping, so third-party connections are stamped
 * too); recv() converts it to CLOCK_MONOTONIC, never earlier than the
 * stamp it returned before.  One sequencer event can
 * become several messages (a 14-bit controller, an (N)RPN, a long SysEx):
 * recv() keeps the event (it lives in alsa-lib's input buffer until the
 * next read) and returns its messages one per call.
 */
#include "midi/midi_alsa.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "midi/midi_priv.h"

#define MA_SYNC_PERIOD_NS (10 * MIDI_NS_PER_SEC) /* queue clock re-measured this often */
#define MA_SYNC_DEADBAND_NS INT64_C(20000)      /* smaller offset changes are ignored */
#define MA_SYNC_TRIES 5                          /* clock/queue reads per measurement */
#define MA_POOL_OUTPUT 1000                      /* kernel cells for our queued output */
#define MA_POOL_INPUT 1000                       /* kernel cells for input not yet read */
#define MA_NAME_MAX 160                          /* "client:port" as the kernel has it */

/* ------------------------------------------------------------------ RT */

static int64_t ma_q0(const struct midi_alsa *a) RT_SAFE
{
	return atomic_load_explicit(&a->q0_ns, memory_order_relaxed);
}

static void ma_count(_Atomic uint64_t *c) RT_SAFE
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Fill `ev` (cleared by the caller) from `m`; `sx` receives a SysEx
 * chunk's bytes with F0/F7 added as its flags say.  Returns 0 or -EINVAL
 * for a type the sequencer cannot carry. */
static int ma_msg_to_ev(const struct midi_msg *m, snd_seq_event_t *ev,
			uint8_t sx[MIDI_SYSEX_CHUNK_MAX + 2]) RT_SAFE
{
	size_t n = 0;

	ev->data.control.channel = m->channel & 0x0F;
	switch (m->type) {
	case MIDI_NOTE_OFF:
	case MIDI_NOTE_ON:
	case MIDI_POLY_PRESSURE:
		ev->type = m->type == MIDI_NOTE_OFF ? SND_SEQ_EVENT_NOTEOFF :
			   m->type == MIDI_NOTE_ON ? SND_SEQ_EVENT_NOTEON : SND_SEQ_EVENT_KEYPRESS;
		ev->data.note.channel = m->channel & 0x0F;
		ev->data.note.note = m->data[0] & 0x7F;
		ev->data.note.velocity = m->data[1] & 0x7F;
		return 0;
	case MIDI_CONTROL_CHANGE:
		ev->type = SND_SEQ_EVENT_CONTROLLER;
		ev->data.control.param = m->data[0] & 0x7F;
		ev->data.control.value = m->data[1] & 0x7F;
		return 0;
	case MIDI_PROGRAM_CHANGE:
		ev->type = SND_SEQ_EVENT_PGMCHANGE;
		ev->data.control.value = m->data[0] & 0x7F;
		return 0;
	case MIDI_CHANNEL_PRESSURE:
		ev->type = SND_SEQ_EVENT_CHANPRESS;
		ev->data.control.value = m->data[0] & 0x7F;
		return 0;
	case MIDI_PITCH_BEND: /* the sequencer centres bend on 0 */
		ev->type = SND_SEQ_EVENT_PITCHBEND;
		ev->data.control.value = ((m->data[1] & 0x7F) << 7 | (m->data[0] & 0x7F)) - 8192;
		return 0;
	case MIDI_SONG_POSITION:
		ev->type = SND_SEQ_EVENT_SONGPOS;
		ev->data.control.channel = 0;
		ev->data.control.value = (m->data[1] & 0x7F) << 7 | (m->data[0] & 0x7F);
		return 0;
	case MIDI_MTC_QUARTER_FRAME:
	case MIDI_SONG_SELECT:
		ev->type = m->type == MIDI_SONG_SELECT ? SND_SEQ_EVENT_SONGSEL : SND_SEQ_EVENT_QFRAME;
		ev->data.control.channel = 0;
		ev->data.control.value = m->data[0] & 0x7F;
		return 0;
	case MIDI_TUNE_REQUEST: ev->type = SND_SEQ_EVENT_TUNE_REQUEST; break;
	case MIDI_CLOCK: ev->type = SND_SEQ_EVENT_CLOCK; break;
	case MIDI_START: ev->type = SND_SEQ_EVENT_START; break;
	case MIDI_CONTINUE: ev->type = SND_SEQ_EVENT_CONTINUE; break;
	case MIDI_STOP: ev->type = SND_SEQ_EVENT_STOP; break;
	case MIDI_ACTIVE_SENSING: ev->type = SND_SEQ_EVENT_SENSING; break;
	case MIDI_RESET: ev->type = SND_SEQ_EVENT_RESET; break;
	case MIDI_SYSEX:
		if (!m->sysex || m->sysex->len > MIDI_SYSEX_CHUNK_MAX)
			return -EINVAL;
		if (m->flags & MIDI_F_SYSEX_START)
			sx[n++] = 0xF0;
		memcpy(sx + n, m->sysex->data, m->sysex->len);
		n += m->sysex->len;
		if (!(m->flags & MIDI_F_SYSEX_CONT))
			sx[n++] = 0xF7;
		ev->type = SND_SEQ_EVENT_SYSEX;
		ev->flags = (ev->flags & ~SND_SEQ_EVENT_LENGTH_MASK) | SND_SEQ_EVENT_LENGTH_VARIABLE;
		ev->data.ext.len = (unsigned)n;
		ev->data.ext.ptr = sx;
		return 0;
	default:
		return -EINVAL;
	}
	ev->data.control.channel = 0; /* system messages: no channel */
	return 0;
}

static int ma_send(struct midi_backend *b, int port, const struct midi_msg *m,
		   int64_t due_ns) RT_SAFE
{
	struct midi_alsa *a = (struct midi_alsa *)b;
	struct midi_alsa_port *p;
	snd_seq_event_t ev;
	uint8_t sx[MIDI_SYSEX_CHUNK_MAX + 2];
	int64_t t;
	int r;

	if (port < 0 || port >= a->nports || a->port[port].cfg.dir != MIDI_PORT_OUT)
		return -EINVAL;
	p = &a->port[port];
	if (atomic_load_explicit(&p->subscribers, memory_order_relaxed) == 0)
		return -ENOTCONN;
	memset(&ev, 0, sizeof(ev));
	if (ma_msg_to_ev(m, &ev, sx) < 0) {
		ma_count(&a->stats.tx_errors);
		return -EINVAL;
	}
	ev.source.client = (unsigned char)a->client;
	ev.source.port = (unsigned char)p->seq_port;
	ev.dest.client = SND_SEQ_ADDRESS_SUBSCRIBERS;
	ev.dest.port = SND_SEQ_ADDRESS_UNKNOWN;
	ev.tag = (signed char)(port + 1);
	if (a->lookahead_ns > 0) {
		t = due_ns - ma_q0(a);
		if (t < 0)
			t = 0;
		ev.flags |= SND_SEQ_TIME_STAMP_REAL | SND_SEQ_TIME_MODE_ABS;
		ev.queue = (unsigned char)a->queue;
		ev.time.time.tv_sec = (unsigned)(t / MIDI_NS_PER_SEC);
		ev.time.time.tv_nsec = (unsigned)(t % MIDI_NS_PER_SEC);
	} else {
		ev.queue = SND_SEQ_QUEUE_DIRECT;
	}
	RT_SYSCALL_BEGIN("midi-send")
	r = snd_seq_event_output_direct(a->seq, &ev);
	RT_SYSCALL_END
	if (r >= 0) {
		ma_count(&a->stats.tx_events);
		return 0;
	}
	if (r == -EAGAIN || r == -ENOMEM || r == -ENOSPC) {
		ma_count(&a->stats.tx_full);
		return -ENOSPC;
	}
	if (r == -ENOENT) /* a direct event met a subscriber whose client is exiting:
			     the peer is gone, service() will notice */
		return -ENOTCONN;
	ma_count(&a->stats.tx_errors);
	return r;
}

static int ma_flush(struct midi_backend *b) RT_SAFE
{
	(void)b; /* send() wrote every event already */
	return 0;
}

static int ma_drop_pending(struct midi_backend *b, int port) RT_SAFE
{
	struct midi_alsa *a = (struct midi_alsa *)b;
	unsigned cond = SND_SEQ_REMOVE_OUTPUT;
	int r;

	if (port < -1 || port >= a->nports)
		return -EINVAL;
	if (a->lookahead_ns == 0)
		return 0; /* direct output: nothing waits in our queue */
	if (port >= 0)
		cond |= SND_SEQ_REMOVE_TAG_MATCH;
	RT_SYSCALL_BEGIN("midi-drop")
	snd_seq_remove_events_set_condition(a->rm, cond);
	snd_seq_remove_events_set_queue(a->rm, a->queue);
	snd_seq_remove_events_set_tag(a->rm, port + 1);
	r = snd_seq_remove_events(a->seq, a->rm);
	RT_SYSCALL_END
	return r < 0 ? r : 0;
}

/* The port index of sequencer port `seq_port`, or -1. */
static int ma_port_index(const struct midi_alsa *a, int seq_port) RT_SAFE
{
	for (int i = 0; i < a->nports; i++)
		if (a->port[i].seq_port == seq_port)
			return i;
	return -1;
}

/* SysEx message number `step` of `ev` into *m (a chunk from the pool; m
 * left untouched when none is left).  Returns the number of messages `ev`
 * makes. */
static int ma_sysex_step(struct midi_alsa *a, const snd_seq_event_t *ev, int step,
			 struct midi_msg *m) RT_SAFE
{
	const uint8_t *d = ev->data.ext.ptr;
	size_t len = ev->data.ext.len, off;
	bool start = len > 0 && d[0] == 0xF0;
	bool end = len > (size_t)start && d[len - 1] == 0xF7;
	size_t payload = len - start - end;
	int n = payload == 0 ? 1 : (int)((payload + MIDI_SYSEX_CHUNK_MAX - 1) / MIDI_SYSEX_CHUNK_MAX);
	struct midi_sysex_chunk *c;

	if (step >= n)
		return n;
	c = a->sysex_pool ? pool_get(a->sysex_pool) : NULL;
	if (!c) {
		/* XXX: unlike midi_parse, a message cut short here ends without a
		 * MIDI_F_SYSEX_TRUNC chunk (that would need a chunk too): the
		 * consumer sees CONT chunks and no end; only the counter tells. */
		ma_count(&a->stats.rx_sysex_drop);
		return n;
	}
	off = (size_t)step * MIDI_SYSEX_CHUNK_MAX;
	c->len = (uint16_t)(payload - off < MIDI_SYSEX_CHUNK_MAX ? payload - off : MIDI_SYSEX_CHUNK_MAX);
	memcpy(c->data, d + start + off, c->len);
	m->type = MIDI_SYSEX;
	m->sysex = c;
	if (start && step == 0)
		m->flags |= MIDI_F_SYSEX_START;
	if (!(end && step == n - 1))
		m->flags |= MIDI_F_SYSEX_CONT;
	return n;
}

/* (N)RPN as controllers: parameter MSB, LSB, data entry MSB, LSB */
static const uint8_t ma_cc_nrpn[4] = { 99, 98, 6, 38 };
static const uint8_t ma_cc_rpn[4] = { 101, 100, 6, 38 };

static void ma_cc(struct midi_msg *m, unsigned ch, unsigned cc, unsigned v) RT_SAFE
{
	m->type = MIDI_CONTROL_CHANGE;
	m->channel = ch & 0x0F;
	m->data[0] = cc & 0x7F;
	m->data[1] = v & 0x7F;
}

/* Message number `step` of `ev` into *m (zeroed by the caller; left zero
 * when this step's SysEx chunk was dropped).  Returns how many messages
 * `ev` makes: 0 when it has no MIDI 1.0 meaning. */
static int ma_ev_to_msg(struct midi_alsa *a, const snd_seq_event_t *ev, int step,
			struct midi_msg *m) RT_SAFE
{
	const snd_seq_ev_ctrl_t *c = &ev->data.control;
	unsigned ch = c->channel & 0x0F;
	int v;

	switch (ev->type) {
	case SND_SEQ_EVENT_NOTEON:
	case SND_SEQ_EVENT_NOTEOFF:
	case SND_SEQ_EVENT_KEYPRESS:
		m->type = ev->type == SND_SEQ_EVENT_NOTEON ? MIDI_NOTE_ON :
			  ev->type == SND_SEQ_EVENT_NOTEOFF ? MIDI_NOTE_OFF : MIDI_POLY_PRESSURE;
		m->channel = ev->data.note.channel & 0x0F;
		m->data[0] = ev->data.note.note & 0x7F;
		m->data[1] = ev->data.note.velocity & 0x7F;
		return 1;
	case SND_SEQ_EVENT_CONTROLLER:
		ma_cc(m, ch, c->param, (unsigned)c->value);
		return 1;
	case SND_SEQ_EVENT_CONTROL14: /* MSB on cc, LSB on cc + 32 (MIDI 1.0 pairs 0-31) */
		if (c->param >= 32) {
			ma_cc(m, ch, c->param, (unsigned)c->value);
			return 1;
		}
		if (step == 0)
			ma_cc(m, ch, c->param, (unsigned)c->value >> 7);
		else
			ma_cc(m, ch, c->param + 32, (unsigned)c->value);
		return 2;
	case SND_SEQ_EVENT_NONREGPARAM:
	case SND_SEQ_EVENT_REGPARAM: { /* (N)RPN number MSB, LSB, data entry MSB, LSB */
		bool nrpn = ev->type == SND_SEQ_EVENT_NONREGPARAM;
		unsigned val[4] = { c->param >> 7, c->param, (unsigned)c->value >> 7, (unsigned)c->value };

		if (step < 4)
			ma_cc(m, ch, nrpn ? ma_cc_nrpn[step] : ma_cc_rpn[step], val[step]);
		return 4;
	}
	case SND_SEQ_EVENT_PGMCHANGE:
	case SND_SEQ_EVENT_CHANPRESS:
		m->type = ev->type == SND_SEQ_EVENT_PGMCHANGE ? MIDI_PROGRAM_CHANGE : MIDI_CHANNEL_PRESSURE;
		m->channel = ch;
		m->data[0] = c->value & 0x7F;
		return 1;
	case SND_SEQ_EVENT_PITCHBEND:
		v = c->value + 8192;
		v = v < 0 ? 0 : v > 16383 ? 16383 : v;
		m->type = MIDI_PITCH_BEND;
		m->channel = ch;
		m->data[0] = v & 0x7F;
		m->data[1] = (v >> 7) & 0x7F;
		return 1;
	case SND_SEQ_EVENT_SONGPOS:
		m->type = MIDI_SONG_POSITION;
		m->data[0] = c->value & 0x7F;
		m->data[1] = (c->value >> 7) & 0x7F;
		return 1;
	case SND_SEQ_EVENT_QFRAME:
	case SND_SEQ_EVENT_SONGSEL:
		m->type = ev->type == SND_SEQ_EVENT_QFRAME ? MIDI_MTC_QUARTER_FRAME : MIDI_SONG_SELECT;
		m->data[0] = c->value & 0x7F;
		return 1;
	case SND_SEQ_EVENT_TUNE_REQUEST: m->type = MIDI_TUNE_REQUEST; return 1;
	case SND_SEQ_EVENT_CLOCK: m->type = MIDI_CLOCK; return 1;
	case SND_SEQ_EVENT_START: m->type = MIDI_START; return 1;
	case SND_SEQ_EVENT_CONTINUE: m->type = MIDI_CONTINUE; return 1;
	case SND_SEQ_EVENT_STOP: m->type = MIDI_STOP; return 1;
	case SND_SEQ_EVENT_SENSING: m->type = MIDI_ACTIVE_SENSING; return 1;
	case SND_SEQ_EVENT_RESET: m->type = MIDI_RESET; return 1;
	case SND_SEQ_EVENT_SYSEX:
		if ((ev->flags & SND_SEQ_EVENT_LENGTH_MASK) != SND_SEQ_EVENT_LENGTH_VARIABLE)
			return 0;
		return ma_sysex_step(a, ev, step, m);
	default:
		return 0;
	}
}

/* Arrival time of `ev` in CLOCK_MONOTONIC ns: the kernel's stamp on our
 * queue, or now for an event that somehow arrived unstamped. */
static int64_t ma_stamp_ns(const struct midi_alsa *a, const snd_seq_event_t *ev) RT_SAFE
{
	if ((ev->flags & SND_SEQ_TIME_STAMP_MASK) == SND_SEQ_TIME_STAMP_REAL &&
	    ev->queue == a->queue)
		return ma_q0(a) + (int64_t)ev->time.time.tv_sec * MIDI_NS_PER_SEC +
		       ev->time.time.tv_nsec;
	return midi_now_ns();
}

static int ma_recv(struct midi_backend *b, struct midi_event_in *out) RT_SAFE
{
	struct midi_alsa *a = (struct midi_alsa *)b;
	snd_seq_event_t *ev;
	int r, n, idx, step;

	for (;;) {
		if (!a->rx_ev) {
			RT_SYSCALL_BEGIN("midi-recv")
			r = snd_seq_event_input(a->seq, &ev);
			RT_SYSCALL_END
			if (r == -ENOSPC) { /* the kernel FIFO overflowed; what follows is fine */
				ma_count(&a->stats.rx_overruns);
				continue;
			}
			if (r < 0)
				return r; /* -EAGAIN: nothing (more) to read */
			a->rx_ev = ev;
			a->rx_step = 0;
		}
		ev = a->rx_ev;
		step = a->rx_step++;
		idx = ma_port_index(a, ev->dest.port);
		memset(out, 0, sizeof(*out));
		n = idx < 0 ? 0 : ma_ev_to_msg(a, ev, step, &out->msg);
		if (a->rx_step >= n)
			a->rx_ev = NULL; /* its last message (or none): read the next one */
		if (n == 0)
			ma_count(&a->stats.rx_ignored);
		if (step >= n || out->msg.type == 0)
			continue;
		/* stamps never go backwards: the kernel's queue time can step back
		 * by tens of us between events of one burst (seen in the qemu test
		 * VM: a clock stamped 26 us before the controller that preceded
		 * it, with no re-measurement of q0 in between); an arrival order
		 * is a time order to every consumer (the follower above all) */
		out->t_ns = ma_stamp_ns(a, ev);
		if (out->t_ns < a->rx_last_ns)
			out->t_ns = a->rx_last_ns;
		a->rx_last_ns = out->t_ns;
		out->port = (uint16_t)idx;
		ma_count(&a->stats.rx_events);
		return 0;
	}
}

/* ------------------------------------------------------------ control */

/* Measure q0_ns: the queue time read between two clock reads, narrowest
 * window of MA_SYNC_TRIES.  `force` applies even a step inside the
 * dead band.  Returns 0 or -errno. */
static int ma_sync_time(struct midi_alsa *a, bool force)
{
	snd_seq_queue_status_t *st;
	const snd_seq_real_time_t *qt;
	int64_t t0, t1, best = INT64_MAX, q0 = 0, old;
	int r;

	snd_seq_queue_status_alloca(&st);
	for (int i = 0; i < MA_SYNC_TRIES; i++) {
		t0 = midi_now_ns();
		r = snd_seq_get_queue_status(a->ctl, a->queue, st);
		t1 = midi_now_ns();
		if (r < 0)
			return r;
		if (t1 - t0 < best) {
			qt = snd_seq_queue_status_get_real_time(st);
			best = t1 - t0;
			q0 = t0 + (t1 - t0) / 2 - ((int64_t)qt->tv_sec * MIDI_NS_PER_SEC + qt->tv_nsec);
		}
	}
	old = ma_q0(a);
	if (force || q0 - old > MA_SYNC_DEADBAND_NS || old - q0 > MA_SYNC_DEADBAND_NS)
		atomic_store_explicit(&a->q0_ns, q0, memory_order_relaxed);
	a->last_sync_ns = t1;
	return 0;
}

/* Copy `src` into `dst` of `n` bytes, truncated (peer names are longer
 * than what a notification carries). */
static void ma_copy_name(char *dst, const char *src, size_t n)
{
	size_t len = strnlen(src, n - 1);

	memmove(dst, src, len);
	dst[len] = 0;
}

static void ma_notify(struct midi_alsa *a, int type, int port, const char *peer)
{
	struct midi_notify *n;

	if (a->npend >= MIDI_ALSA_NOTIFY_MAX)
		return; /* XXX: the oldest are kept; service() is called often enough in practice */
	n = &a->pend[a->npend++];
	n->type = type;
	n->port = (uint16_t)port;
	ma_copy_name(n->peer, peer, sizeof(n->peer));
}

/* "client:port" name and capabilities of a peer port; -errno when gone. */
static int ma_peer_name(struct midi_alsa *a, int client, int port, char *name, size_t len,
			unsigned *caps)
{
	snd_seq_client_info_t *ci;
	snd_seq_port_info_t *pi;
	int r;

	snd_seq_client_info_alloca(&ci);
	snd_seq_port_info_alloca(&pi);
	r = snd_seq_get_any_client_info(a->ctl, client, ci);
	if (r >= 0)
		r = snd_seq_get_any_port_info(a->ctl, client, port, pi);
	if (r < 0)
		return r;
	snprintf(name, len, "%s:%s", snd_seq_client_info_get_name(ci), snd_seq_port_info_get_name(pi));
	*caps = snd_seq_port_info_get_capability(pi);
	return 0;
}

static void ma_sub_fill(struct midi_alsa *a, const struct midi_alsa_port *p, int client,
			int port, snd_seq_port_subscribe_t *sub)
{
	snd_seq_addr_t ours = { .client = (unsigned char)a->client,
				.port = (unsigned char)p->seq_port };
	snd_seq_addr_t peer = { .client = (unsigned char)client, .port = (unsigned char)port };

	snd_seq_port_subscribe_set_sender(sub, p->cfg.dir == MIDI_PORT_OUT ? &ours : &peer);
	snd_seq_port_subscribe_set_dest(sub, p->cfg.dir == MIDI_PORT_OUT ? &peer : &ours);
}

static bool ma_matches(const struct midi_alsa_port *p, const char *name, unsigned caps)
{
	unsigned need = p->cfg.dir == MIDI_PORT_OUT ? SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE
						    : SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ;

	if (!p->cfg.connect[0] || (caps & need) != need || (caps & SND_SEQ_PORT_CAP_NO_EXPORT))
		return false;
	return strstr(name, p->cfg.connect) != NULL;
}

static struct midi_alsa_peer *ma_find_peer(struct midi_alsa_port *p, int client, int port)
{
	for (int i = 0; i < p->npeers; i++)
		if (p->peer[i].client == client && p->peer[i].port == port)
			return &p->peer[i];
	return NULL;
}

/* Step 1 of the rescan: forget peers that went away, notice connections
 * someone else removed. */
static void ma_check_peers(struct midi_alsa *a, int idx)
{
	struct midi_alsa_port *p = &a->port[idx];
	snd_seq_port_subscribe_t *sub;
	char name[MA_NAME_MAX], cut[MIDI_PORT_NAME_MAX];
	unsigned caps;

	snd_seq_port_subscribe_alloca(&sub);
	for (int i = p->npeers - 1; i >= 0; i--) {
		struct midi_alsa_peer *e = &p->peer[i];

		if (ma_peer_name(a, e->client, e->port, name, sizeof(name), &caps) == 0) {
			ma_copy_name(cut, name, sizeof(cut));
			if (strcmp(cut, e->name) == 0) {
				ma_sub_fill(a, p, e->client, e->port, sub);
				if (e->connected && snd_seq_get_port_subscription(a->ctl, sub) < 0) {
					e->connected = false;
					ma_notify(a, MIDI_NOTIFY_DISCONNECTED, idx, e->name);
				}
				continue;
			}
		}
		if (e->connected)
			ma_notify(a, MIDI_NOTIFY_DISCONNECTED, idx, e->name);
		p->peer[i] = p->peer[--p->npeers];
	}
}

/* Step 2: connect every matching port we do not know yet. */
static void ma_connect_new(struct midi_alsa *a)
{
	snd_seq_client_info_t *ci;
	snd_seq_port_info_t *pi;
	snd_seq_port_subscribe_t *sub;
	char name[MA_NAME_MAX];

	snd_seq_client_info_alloca(&ci);
	snd_seq_port_info_alloca(&pi);
	snd_seq_port_subscribe_alloca(&sub);
	snd_seq_client_info_set_client(ci, -1);
	while (snd_seq_query_next_client(a->ctl, ci) >= 0) {
		int c = snd_seq_client_info_get_client(ci);

		if (c == SND_SEQ_CLIENT_SYSTEM || c == a->client || c == a->ctl_client)
			continue;
		snd_seq_port_info_set_client(pi, c);
		snd_seq_port_info_set_port(pi, -1);
		while (snd_seq_query_next_port(a->ctl, pi) >= 0) {
			int pn = snd_seq_port_info_get_port(pi);
			unsigned caps = snd_seq_port_info_get_capability(pi);

			snprintf(name, sizeof(name), "%s:%s", snd_seq_client_info_get_name(ci),
				 snd_seq_port_info_get_name(pi));
			for (int i = 0; i < a->nports; i++) {
				struct midi_alsa_port *p = &a->port[i];
				struct midi_alsa_peer *e;
				int r;

				if (!ma_matches(p, name, caps) || ma_find_peer(p, c, pn))
					continue;
				if (p->npeers >= MIDI_ALSA_MAX_PEERS)
					continue; /* XXX: more matches than we track are ignored */
				ma_sub_fill(a, p, c, pn, sub);
				r = snd_seq_subscribe_port(a->ctl, sub);
				if (r < 0 && r != -EBUSY) /* -EBUSY: connected already */
					continue;
				e = &p->peer[p->npeers++];
				e->client = c;
				e->port = pn;
				e->connected = true;
				ma_copy_name(e->name, name, sizeof(e->name));
				ma_notify(a, MIDI_NOTIFY_CONNECTED, i, e->name);
			}
		}
	}
}

/* Step 3: how many connections each port has now (ours and others'). */
static void ma_count_subscribers(struct midi_alsa *a)
{
	snd_seq_port_info_t *pi;

	snd_seq_port_info_alloca(&pi);
	for (int i = 0; i < a->nports; i++) {
		struct midi_alsa_port *p = &a->port[i];
		int n = 0;

		if (snd_seq_get_any_port_info(a->ctl, a->client, p->seq_port, pi) >= 0)
			n = p->cfg.dir == MIDI_PORT_OUT ? snd_seq_port_info_get_read_use(pi)
							: snd_seq_port_info_get_write_use(pi);
		atomic_store_explicit(&p->subscribers, n, memory_order_relaxed);
	}
}

static void ma_rescan(struct midi_alsa *a)
{
	for (int i = 0; i < a->nports; i++)
		ma_check_peers(a, i);
	ma_connect_new(a);
	ma_count_subscribers(a);
}

static int ma_port_add(struct midi_backend *b, const struct midi_port_cfg *pc)
{
	struct midi_alsa *a = (struct midi_alsa *)b;
	struct midi_alsa_port *p;
	snd_seq_port_info_t *pi;
	int r;

	rt_assert_not_rt();
	if (pc->dir != MIDI_PORT_OUT && pc->dir != MIDI_PORT_IN)
		return -EINVAL;
	if (!pc->name[0] || !memchr(pc->name, 0, sizeof(pc->name)) ||
	    !memchr(pc->connect, 0, sizeof(pc->connect)))
		return -EINVAL;
	if (a->nports >= MIDI_MAX_PORTS)
		return -ENOSPC;
	p = &a->port[a->nports];
	memset(p, 0, sizeof(*p));
	p->cfg = *pc;
	snd_seq_port_info_alloca(&pi);
	snd_seq_port_info_set_name(pi, pc->name);
	snd_seq_port_info_set_type(pi, SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_APPLICATION);
	if (pc->dir == MIDI_PORT_OUT) {
		snd_seq_port_info_set_capability(pi, SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ);
	} else {
		snd_seq_port_info_set_capability(pi, SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE);
		snd_seq_port_info_set_timestamping(pi, 1);
		snd_seq_port_info_set_timestamp_real(pi, 1);
		snd_seq_port_info_set_timestamp_queue(pi, a->queue);
	}
	r = snd_seq_create_port(a->seq, pi);
	if (r < 0)
		return r;
	p->seq_port = snd_seq_port_info_get_port(pi);
	a->nports++;
	ma_rescan(a);
	return a->nports - 1;
}

static int ma_service(struct midi_backend *b, struct midi_notify *out, int max)
{
	struct midi_alsa *a = (struct midi_alsa *)b;
	snd_seq_event_t *ev;
	bool changed = false;
	int r, n;

	rt_assert_not_rt();
	for (;;) {
		r = snd_seq_event_input(a->ctl, &ev);
		if (r == -EAGAIN)
			break;
		if (r == -ENOSPC) { /* announcements lost: the rescan catches up */
			atomic_fetch_add_explicit(&a->stats.announce_lost, 1, memory_order_relaxed);
			changed = true;
			continue;
		}
		if (r < 0)
			return r;
		switch (ev->type) {
		case SND_SEQ_EVENT_CLIENT_START:
		case SND_SEQ_EVENT_CLIENT_EXIT:
		case SND_SEQ_EVENT_CLIENT_CHANGE:
		case SND_SEQ_EVENT_PORT_START:
		case SND_SEQ_EVENT_PORT_EXIT:
		case SND_SEQ_EVENT_PORT_CHANGE:
		case SND_SEQ_EVENT_PORT_SUBSCRIBED:
		case SND_SEQ_EVENT_PORT_UNSUBSCRIBED:
			changed = true;
			break;
		default:
			break;
		}
	}
	if (changed)
		ma_rescan(a);
	if (midi_now_ns() - a->last_sync_ns >= MA_SYNC_PERIOD_NS)
		(void)ma_sync_time(a, false); /* a failed read keeps the old offset */
	n = a->npend < max ? a->npend : max;
	if (n > 0) {
		memcpy(out, a->pend, (size_t)n * sizeof(*out));
		memmove(a->pend, a->pend + n, (size_t)(a->npend - n) * sizeof(*out));
		a->npend -= n;
	}
	return n;
}

static int ma_fd_of(snd_seq_t *seq, int *fds, int max)
{
	struct pollfd pfd[4];
	int n;

	rt_assert_not_rt();
	n = snd_seq_poll_descriptors(seq, pfd, 4, POLLIN);
	n = n < max ? n : max;
	for (int i = 0; i < n; i++)
		fds[i] = pfd[i].fd;
	return n;
}

static int ma_input_fds(struct midi_backend *b, int *fds, int max)
{
	return ma_fd_of(((struct midi_alsa *)b)->seq, fds, max);
}

static int ma_service_fds(struct midi_backend *b, int *fds, int max)
{
	return ma_fd_of(((struct midi_alsa *)b)->ctl, fds, max);
}

static void ma_close(struct midi_backend *b)
{
	struct midi_alsa *a = (struct midi_alsa *)b;

	rt_assert_not_rt();
	if (a->rm)
		snd_seq_remove_events_free(a->rm);
	if (a->ctl)
		snd_seq_close(a->ctl); /* its subscriptions of our ports stay with the ports */
	if (a->seq)
		snd_seq_close(a->seq); /* frees the queue, its pending events and our ports */
	a->rm = NULL;
	a->ctl = a->seq = NULL;
	a->nports = 0;
}

static const struct midi_backend_ops midi_alsa_ops = {
	.name = "alsa",
	/* Creates the sequencer port (exported, timestamped on our queue for
	 * input) and connects it to matching peers at once; notifications for
	 * those come from the next service().  -EINVAL for a bad cfg, -ENOSPC
	 * beyond MIDI_MAX_PORTS, alsa-lib's -errno otherwise.  Control thread,
	 * before the engine starts. */
	.port_add = ma_port_add,
	/* One write() of one event on the non-blocking data client: scheduled
	 * at due_ns on our queue, or direct when lookahead is 0.  -ENOTCONN
	 * (no subscriber: nothing written), -ENOSPC (kernel pool full: dropped,
	 * counted), -EINVAL (bad port or message).  Engine thread. */
	.send = ma_send,
	/* Nothing to do: send() writes each event itself.  Engine thread. */
	.flush = ma_flush,
	/* Removes our not-yet-delivered scheduled events of `port` (-1: all)
	 * from the queue with one ioctl; no-op in direct mode.  Engine thread. */
	.drop_pending = ma_drop_pending,
	/* Next message from our input ports, stamped on arrival by the kernel.
	 * Reads the data client (non-blocking) only when alsa-lib's buffer is
	 * empty; -EAGAIN when nothing is left.  Engine thread. */
	.recv = ma_recv,
	/* The data client's poll fd.  Control thread, before the engine starts. */
	.input_fds = ma_input_fds,
	/* Reads announcements; on any change rescans the graph (reconnects
	 * peers that reappeared, drops vanished ones, recounts connections);
	 * re-measures the queue clock every 10 s.  Returns notifications or
	 * alsa-lib's -errno.  Control thread. */
	.service = ma_service,
	/* The control client's poll fd.  Control thread. */
	.service_fds = ma_service_fds,
	/* Closes both clients: the kernel drops our ports, queue and pending
	 * events.  Control thread, engine stopped. */
	.close = ma_close,
};

/* Put our queue on the hrtimer (or, failing that or when asked, the
 * system timer) at `hz` ticks per second. */
static int ma_set_timer(struct midi_alsa *a, unsigned hz, bool system_timer)
{
	snd_seq_queue_timer_t *qt;
	snd_timer_id_t *id;
	int r = -ENODEV;

	snd_seq_queue_timer_alloca(&qt);
	snd_timer_id_alloca(&id);
	if (snd_seq_get_queue_timer(a->seq, a->queue, qt) < 0)
		return -EIO;
	snd_seq_queue_timer_set_type(qt, SND_SEQ_TIMER_ALSA);
	snd_seq_queue_timer_set_resolution(qt, hz); /* the kernel reads it as Hz */
	snd_timer_id_set_class(id, SND_TIMER_CLASS_GLOBAL);
	snd_timer_id_set_sclass(id, SND_TIMER_SCLASS_NONE);
	snd_timer_id_set_card(id, -1);
	snd_timer_id_set_subdevice(id, 0);
	if (!system_timer) {
		snd_timer_id_set_device(id, SND_TIMER_GLOBAL_HRTIMER);
		snd_seq_queue_timer_set_id(qt, id);
		r = snd_seq_set_queue_timer(a->seq, a->queue, qt);
		a->hrtimer = r >= 0;
	}
	if (r < 0) {
		snd_timer_id_set_device(id, SND_TIMER_GLOBAL_SYSTEM);
		snd_seq_queue_timer_set_id(qt, id);
		r = snd_seq_set_queue_timer(a->seq, a->queue, qt);
	}
	return r < 0 ? r : 0;
}

int midi_alsa_open(struct midi_alsa *a, const struct midi_alsa_cfg *cfg)
{
	const char *name = cfg->client_name ? cfg->client_name : MIDI_ALSA_CLIENT_NAME;
	char ctl_name[MIDI_PORT_NAME_MAX];
	int r, port;

	rt_assert_not_rt();
	memset(a, 0, sizeof(*a));
	a->base.ops = &midi_alsa_ops;
	a->queue = -1;
	a->lookahead_ns = cfg->lookahead_ns > 0 ? cfg->lookahead_ns : 0;
	a->sysex_pool = cfg->sysex_pool;
	a->queue_hz = cfg->queue_hz ? cfg->queue_hz : MIDI_ALSA_QUEUE_HZ_MAX;

	r = snd_seq_open(&a->seq, "default", SND_SEQ_OPEN_DUPLEX, SND_SEQ_NONBLOCK);
	if (r < 0)
		goto fail_open;
	if ((r = snd_seq_set_client_name(a->seq, name)) < 0 ||
	    (r = snd_seq_set_client_pool_output(a->seq, MA_POOL_OUTPUT)) < 0 ||
	    (r = snd_seq_set_client_pool_input(a->seq, MA_POOL_INPUT)) < 0)
		goto fail_seq;
	a->client = snd_seq_client_id(a->seq);
	r = a->queue = snd_seq_alloc_named_queue(a->seq, name);
	if (r < 0)
		goto fail_seq;
	if ((r = ma_set_timer(a, a->queue_hz, cfg->system_timer)) < 0)
		goto fail_seq;
	if ((r = snd_seq_start_queue(a->seq, a->queue, NULL)) < 0 ||
	    (r = snd_seq_drain_output(a->seq)) < 0)
		goto fail_seq;
	r = snd_seq_remove_events_malloc(&a->rm);
	if (r < 0)
		goto fail_seq;

	r = snd_seq_open(&a->ctl, "default", SND_SEQ_OPEN_DUPLEX, SND_SEQ_NONBLOCK);
	if (r < 0)
		goto fail_rm;
	snprintf(ctl_name, sizeof(ctl_name), "%s control", name);
	if ((r = snd_seq_set_client_name(a->ctl, ctl_name)) < 0)
		goto fail_ctl;
	a->ctl_client = snd_seq_client_id(a->ctl);
	r = port = snd_seq_create_simple_port(a->ctl, "announce",
					      SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_NO_EXPORT,
					      SND_SEQ_PORT_TYPE_APPLICATION);
	if (r < 0)
		goto fail_ctl;
	r = snd_seq_connect_from(a->ctl, port, SND_SEQ_CLIENT_SYSTEM, SND_SEQ_PORT_SYSTEM_ANNOUNCE);
	if (r < 0)
		goto fail_ctl;
	r = ma_sync_time(a, true);
	if (r < 0)
		goto fail_ctl;
	return 0;

fail_ctl:
	snd_seq_close(a->ctl);
fail_rm:
	snd_seq_remove_events_free(a->rm);
fail_seq:
	snd_seq_close(a->seq);
fail_open:
	a->seq = a->ctl = NULL;
	a->rm = NULL;
	return r;
}
