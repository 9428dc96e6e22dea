/*
 * midi_probe - drives the MIDI backends from the command line, for the VM
 * integration tests (tests/vm/alsa-tests.sh), which check what real ALSA
 * clients (aseqdump, aplaymidi, amidi, aconnect) see of it and send to it.
 * It uses the backends only through struct midi_backend_ops, the way the
 * engine does, with an engine-like loop: sleep until (due - lookahead),
 * then send(port, msg, due).
 *
 *   midi_probe [common options] MODE [mode options]
 * common: --backend auto|alsa|rawmidi|dump (through midi_auto_open)
 *         --client NAME (alsa)  --lookahead-ms L (alsa; 0 = direct)
 *         --system-timer (alsa)  --dump-file F (dump; default stdout)
 *         --seq-device PATH (what auto looks for)
 * A port's --connect is a name pattern (alsa) or a device (rawmidi).
 * modes:
 *   send    --connect PAT [--count N] [--period-ms P]   fixed message set,
 *           then N notes; prints "sent ..." lines and the send results
 *   recv    [--connect PAT] --count N [--timeout-ms T]  prints one "rx" line
 *           per message: arrival time, port, type, channel, data
 *   follow  --connect PAT --duration-ms D [--period-ms P]  keeps sending
 *           notes and servicing the backend; prints notifications
 *   drop    --connect PAT   queues notes 600 ms ahead, drops them, sends a
 *           marker note (CC 119) 100 ms ahead
 *   jitter  --connect PAT [--in PAT2] --count N [--period-ms P]   sends
 *           clocks to PAT and receives them back on an input port bound to
 *           PAT2 (default PAT; a thru port); prints arrival - due statistics
 *   unconnected   send on a port without peers and on bad ports; prints
 *           the return codes
 *   clockrx --connect PAT [--in PAT2] --bpm B --duration-ms D   receives
 *           MIDI clock from the sources matching PAT (port 0) and PAT2
 *           (port 1) at once, each clock stamped by the kernel on arrival
 *           on our own queue (real time); after D ms prints, per port, the
 *           clock rate and the error of every interval against the ideal
 *           period at B BPM (24 per quarter).  The e2e suite runs two
 *           daemons side by side into it (tests/vm/e2e.sh, ADR 0003).
 * Every line that tests read starts with a keyword; "# " lines are notes.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "midi/midi_auto.h"
#include "midi/midi_backend.h"
#include "rt/pool.h"

#define NS 1000000000LL
#define MS 1000000LL
#define SYSEX_CHUNKS 16

static struct {
	const char *backend;
	const char *client;
	const char *connect;
	const char *in;
	const char *dump_file;
	const char *seq_device;
	int64_t lookahead_ns;
	bool system_timer;
	int count;
	int64_t period_ns;
	int64_t timeout_ns;
	int64_t duration_ns;
	double bpm;
} opt = { .backend = "alsa", .count = 8, .period_ns = 50 * MS, .timeout_ns = 10 * NS,
	  .duration_ns = 5 * NS, .connect = "", .bpm = 120 };

static volatile sig_atomic_t stop_flag; /* SIGTERM/SIGINT: finish and report */
static struct midi_auto mauto;
static struct midi_backend *be;
static struct pool sysex_pool;
static unsigned char sysex_mem[POOL_STORAGE_SIZE(SYSEX_CHUNKS, sizeof(struct midi_sysex_chunk))]
	__attribute__((aligned(16)));

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NS, .tv_nsec = t % NS };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void die(const char *what, int err)
{
	printf("error %s: %s\n", what, strerror(-err));
	exit(1);
}

static void print_notifications(void)
{
	struct midi_notify n[8];
	int k;

	while ((k = be->ops->service(be, n, 8)) > 0)
		for (int i = 0; i < k; i++)
			printf("notify %s port=%u peer=%s t_ms=%lld\n",
			       n[i].type == MIDI_NOTIFY_CONNECTED ? "connected" : "disconnected",
			       n[i].port, n[i].peer, (long long)(now_ns() / MS));
	if (k < 0)
		die("service", k);
	fflush(stdout);
}

/* Service until a peer of `port` is connected or `timeout` passes. */
static int wait_connected(int64_t timeout)
{
	struct midi_notify n[8];
	int fds[4], nfd, k, got = 0;
	int64_t end = now_ns() + timeout;

	nfd = be->ops->service_fds(be, fds, 4);
	while (!got && now_ns() < end) {
		struct pollfd p = { .fd = nfd > 0 ? fds[0] : -1, .events = POLLIN };

		while ((k = be->ops->service(be, n, 8)) > 0)
			for (int i = 0; i < k; i++) {
				printf("notify %s port=%u peer=%s\n",
				       n[i].type == MIDI_NOTIFY_CONNECTED ? "connected" : "disconnected",
				       n[i].port, n[i].peer);
				got |= n[i].type == MIDI_NOTIFY_CONNECTED;
			}
		if (!got)
			poll(&p, 1, 50);
	}
	fflush(stdout);
	return got;
}

static void open_backend(void)
{
	struct midi_auto_cfg c = {
		.kind = midi_auto_kind_parse(opt.backend),
		.seq_device = opt.seq_device,
		.alsa = { .client_name = opt.client, .lookahead_ns = opt.lookahead_ns,
			  .sysex_pool = &sysex_pool, .system_timer = opt.system_timer },
		.rawmidi = { .sysex_pool = &sysex_pool },
		.dump = { .path = opt.dump_file },
	};
	char msg[MIDI_AUTO_MSG_MAX];
	int r;

	pool_init(&sysex_pool, sysex_mem, sizeof(struct midi_sysex_chunk), SYSEX_CHUNKS);
	if (c.kind < 0) {
		printf("error unknown backend %s\n", opt.backend);
		exit(2);
	}
	r = midi_auto_open(&mauto, &c, msg, sizeof(msg));
	if (msg[0])
		printf("%s %s\n", r < 0 ? "error" : "warning", msg);
	if (r < 0)
		exit(1);
	be = midi_auto_backend(&mauto);
	printf("backend %s\n", be->ops->name);
	if (mauto.kind == MIDI_AUTO_ALSA)
		printf("# alsa client %d, queue %d on the %s timer, lookahead %lld ms\n",
		       mauto.u.alsa.client, mauto.u.alsa.queue, mauto.u.alsa.hrtimer ? "hr" : "system",
		       (long long)(opt.lookahead_ns / MS));
}

static const char *timer_name(void)
{
	if (mauto.kind != MIDI_AUTO_ALSA)
		return "none";
	return mauto.u.alsa.hrtimer ? "hr" : "system";
}

static void print_stats(void)
{
	switch (mauto.kind) {
	case MIDI_AUTO_ALSA:
		printf("stats tx=%llu full=%llu errors=%llu\n",
		       (unsigned long long)mauto.u.alsa.stats.tx_events,
		       (unsigned long long)mauto.u.alsa.stats.tx_full,
		       (unsigned long long)mauto.u.alsa.stats.tx_errors);
		break;
	case MIDI_AUTO_RAWMIDI:
		printf("stats tx_bytes=%llu full=%llu errors=%llu lost=%llu\n",
		       (unsigned long long)mauto.u.rawmidi.stats.tx_bytes,
		       (unsigned long long)mauto.u.rawmidi.stats.tx_full,
		       (unsigned long long)mauto.u.rawmidi.stats.tx_errors,
		       (unsigned long long)mauto.u.rawmidi.stats.lost);
		break;
	case MIDI_AUTO_DUMP:
		printf("stats tx=%llu full=%llu errors=%llu\n",
		       (unsigned long long)mauto.u.dump.stats.tx_events,
		       (unsigned long long)mauto.u.dump.stats.tx_full,
		       (unsigned long long)mauto.u.dump.stats.tx_errors);
		break;
	}
}

static int add_port(const char *name, int dir, const char *connect)
{
	struct midi_port_cfg pc = { .dir = dir };
	int r;

	snprintf(pc.name, sizeof(pc.name), "%s", name);
	snprintf(pc.connect, sizeof(pc.connect), "%s", connect ? connect : "");
	r = be->ops->port_add(be, &pc);
	if (r < 0)
		die("port_add", r);
	return r;
}

static const char *type_name(uint8_t t)
{
	switch (t) {
	case MIDI_NOTE_OFF: return "note-off";
	case MIDI_NOTE_ON: return "note-on";
	case MIDI_POLY_PRESSURE: return "poly-pressure";
	case MIDI_CONTROL_CHANGE: return "cc";
	case MIDI_PROGRAM_CHANGE: return "program";
	case MIDI_CHANNEL_PRESSURE: return "channel-pressure";
	case MIDI_PITCH_BEND: return "pitch-bend";
	case MIDI_SYSEX: return "sysex";
	case MIDI_MTC_QUARTER_FRAME: return "mtc";
	case MIDI_SONG_POSITION: return "song-position";
	case MIDI_SONG_SELECT: return "song-select";
	case MIDI_TUNE_REQUEST: return "tune-request";
	case MIDI_CLOCK: return "clock";
	case MIDI_START: return "start";
	case MIDI_CONTINUE: return "continue";
	case MIDI_STOP: return "stop";
	case MIDI_ACTIVE_SENSING: return "active-sensing";
	case MIDI_RESET: return "reset";
	default: return "?";
	}
}

static void print_rx(const struct midi_event_in *ev)
{
	const struct midi_msg *m = &ev->msg;

	printf("rx t_ns=%lld port=%u %s ch=%u d=%u,%u", (long long)ev->t_ns, ev->port,
	       type_name(m->type), m->channel, m->data[0], m->data[1]);
	if (m->type == MIDI_SYSEX && m->sysex) {
		printf(" flags=%s%s bytes=", m->flags & MIDI_F_SYSEX_START ? "S" : "",
		       m->flags & MIDI_F_SYSEX_CONT ? "C" : "E");
		for (unsigned i = 0; i < m->sysex->len; i++)
			printf("%02X", m->sysex->data[i]);
		pool_put(&sysex_pool, m->sysex);
	}
	printf("\n");
}

static struct midi_msg msg(uint8_t type, uint8_t ch, uint8_t d0, uint8_t d1)
{
	return (struct midi_msg){ .type = type, .channel = ch, .data = { d0, d1 } };
}

/* Engine-like: wait until due - lookahead, then hand over with due. */
static int send_at(int port, const struct midi_msg *m, int64_t due)
{
	sleep_until(due - opt.lookahead_ns);
	return be->ops->send(be, port, m, due);
}

static int mode_send(void)
{
	static struct midi_sysex_chunk sx = { .len = 4, .data = { 0x7D, 0x01, 0x02, 0x03 } };
	struct midi_msg set[] = {
		msg(MIDI_PROGRAM_CHANGE, 2, 5, 0),
		msg(MIDI_CONTROL_CHANGE, 1, 7, 99),
		msg(MIDI_PITCH_BEND, 3, 0x00, 0x50),
		msg(MIDI_CHANNEL_PRESSURE, 4, 33, 0),
		msg(MIDI_POLY_PRESSURE, 5, 61, 44),
		msg(MIDI_SONG_POSITION, 0, 0x10, 0x02),
		msg(MIDI_START, 0, 0, 0),
		msg(MIDI_CLOCK, 0, 0, 0),
		msg(MIDI_STOP, 0, 0, 0),
		msg(MIDI_CONTINUE, 0, 0, 0),
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &sx },
	};
	int port = add_port("out", MIDI_PORT_OUT, opt.connect), fails = 0, r;
	int64_t t0;

	if (!wait_connected(5 * NS)) {
		printf("error no peer matched '%s'\n", opt.connect);
		return 1;
	}
	t0 = now_ns() + opt.lookahead_ns + 20 * MS;
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		r = send_at(port, &set[i], t0 + (int64_t)i * 10 * MS);
		printf("sent %s r=%d\n", type_name(set[i].type), r);
		fails += r != 0;
	}
	t0 += (int64_t)sizeof(set) / sizeof(set[0]) * 10 * MS;
	for (int i = 0; i < opt.count; i++) {
		struct midi_msg on = msg(MIDI_NOTE_ON, 0, (uint8_t)(60 + i % 12), 100);
		struct midi_msg off = msg(MIDI_NOTE_OFF, 0, (uint8_t)(60 + i % 12), 0);
		int64_t due = t0 + i * opt.period_ns;

		r = send_at(port, &on, due);
		fails += r != 0;
		r |= send_at(port, &off, due + opt.period_ns / 2);
		fails += r != 0;
	}
	printf("sent notes=%d fails=%d\n", opt.count, fails);
	be->ops->flush(be);
	sleep_until(now_ns() + opt.lookahead_ns + 300 * MS); /* let the queue drain */
	print_stats();
	return fails ? 1 : 0;
}

static int mode_recv(void)
{
	struct midi_event_in ev;
	int fds[4], sfds[4], n, ns, got = 0, r;
	int64_t end = now_ns() + opt.timeout_ns;

	add_port("in", MIDI_PORT_IN, opt.connect);
	if (mauto.kind == MIDI_AUTO_RAWMIDI)
		printf("# rawmidi input stamped by the %s\n",
		       mauto.u.rawmidi.port[0].tstamp ? "kernel (framed tstamp)" : "reader");
	n = be->ops->input_fds(be, fds, 4);
	ns = be->ops->service_fds(be, sfds, 4);
	print_notifications();
	printf("ready\n");
	fflush(stdout);
	while (got < opt.count && now_ns() < end && !stop_flag) {
		struct pollfd p[8];
		int k = 0;

		for (int i = 0; i < n; i++)
			p[k++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		for (int i = 0; i < ns; i++)
			p[k++] = (struct pollfd){ .fd = sfds[i], .events = POLLIN };
		poll(p, (nfds_t)k, 100);
		while ((r = be->ops->recv(be, &ev)) == 0) {
			print_rx(&ev);
			got++;
		}
		if (r != -EAGAIN)
			die("recv", r);
		print_notifications();
		fflush(stdout);
	}
	printf("received %d\n", got);
	return got >= opt.count ? 0 : 1;
}

static int mode_follow(void)
{
	int port = add_port("out", MIDI_PORT_OUT, opt.connect), ok = 0, notconn = 0, other = 0, r;
	int64_t t0 = now_ns(), end = t0 + opt.duration_ns;

	printf("ready\n");
	print_notifications();
	for (int64_t i = 1; t0 + i * opt.period_ns < end && !stop_flag; i++) {
		struct midi_msg on = msg(MIDI_NOTE_ON, 9, 42, 90);

		r = send_at(port, &on, t0 + i * opt.period_ns);
		ok += r == 0;
		notconn += r == -ENOTCONN;
		other += r != 0 && r != -ENOTCONN;
		if (r != 0 && r != -ENOTCONN)
			printf("senderr r=%d t_ms=%lld\n", r, (long long)(now_ns() / MS));
		print_notifications();
	}
	printf("follow sent=%d notconn=%d errors=%d\n", ok, notconn, other);
	return other ? 1 : 0;
}

static int mode_drop(void)
{
	int port = add_port("out", MIDI_PORT_OUT, opt.connect), r, fails = 0;
	struct midi_msg marker = msg(MIDI_CONTROL_CHANGE, 0, 119, 1);
	int64_t t0;

	if (!wait_connected(5 * NS)) {
		printf("error no peer matched '%s'\n", opt.connect);
		return 1;
	}
	t0 = now_ns();
	for (int i = 0; i < 5; i++) {
		struct midi_msg on = msg(MIDI_NOTE_ON, 0, (uint8_t)(70 + i), 100);

		fails += be->ops->send(be, port, &on, t0 + 600 * MS + i * MS) != 0;
	}
	r = be->ops->drop_pending(be, port);
	printf("drop_pending r=%d\n", r);
	fails += be->ops->send(be, port, &marker, t0 + 100 * MS) != 0;
	sleep_until(t0 + 1000 * MS);
	printf("drop done fails=%d\n", fails);
	return fails || r ? 1 : 0;
}

static int cmp64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

static int mode_jitter(void)
{
	struct midi_msg clk = msg(MIDI_CLOCK, 0, 0, 0);
	struct midi_event_in ev;
	int64_t *due, *err, t0, late_max = 0;
	int out = add_port("out", MIDI_PORT_OUT, opt.connect);
	int fails = 0, got = 0, r;
	double sum = 0, sum2 = 0;
	struct sched_param sp = { .sched_priority = 50 };

	add_port("in", MIDI_PORT_IN, opt.in ? opt.in : opt.connect);
	if (!wait_connected(5 * NS))
		return 1;
	print_notifications(); /* the second connection */
	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0 || mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		printf("# running without SCHED_FIFO/mlock: %s\n", strerror(errno));
	due = calloc((size_t)opt.count, sizeof(*due));
	err = calloc((size_t)opt.count, sizeof(*err));
	t0 = now_ns() + opt.lookahead_ns + 100 * MS;
	for (int i = 0; i < opt.count; i++) {
		int64_t w;

		due[i] = t0 + i * opt.period_ns;
		sleep_until(due[i] - opt.lookahead_ns);
		w = now_ns() - (due[i] - opt.lookahead_ns);
		late_max = w > late_max ? w : late_max;
		r = be->ops->send(be, out, &clk, due[i]);
		fails += r != 0;
		while (be->ops->recv(be, &ev) == 0)
			if (got < opt.count)
				err[got] = ev.t_ns - due[got], got++;
	}
	for (int64_t end = now_ns() + opt.lookahead_ns + 500 * MS; got < opt.count && now_ns() < end;) {
		sleep_until(now_ns() + MS);
		while (be->ops->recv(be, &ev) == 0)
			if (got < opt.count)
				err[got] = ev.t_ns - due[got], got++;
	}
	for (int i = 0; i < got; i++) {
		sum += (double)err[i];
		sum2 += (double)err[i] * (double)err[i];
	}
	qsort(err, (size_t)got, sizeof(*err), cmp64);
	if (got > 0) {
		double mean = sum / got, sd = sum2 / got - mean * mean;

		printf("jitter backend=%s mode=%s timer=%s n=%d sent_fail=%d arrival-due_us: min=%.1f "
		       "p50=%.1f p90=%.1f mean=%.1f p99=%.1f max=%.1f sd=%.1f wake_late_max_us=%.1f\n",
		       be->ops->name, opt.lookahead_ns ? "scheduled" : "direct", timer_name(), got,
		       fails, err[0] / 1e3, err[got / 2] / 1e3, err[(got * 9) / 10] / 1e3, mean / 1e3,
		       err[(got * 99) / 100 < got ? (got * 99) / 100 : got - 1] / 1e3,
		       err[got - 1] / 1e3, (sd > 0 ? __builtin_sqrt(sd) : 0) / 1e3, late_max / 1e3);
	}
	printf("received %d of %d\n", got, opt.count);
	return got == opt.count && !fails ? 0 : 1;
}

#define CLOCKRX_MAX 8192 /* clocks kept per port: 170 s at 120 BPM */

/* Rate and interval error of one port's clock stamps t[0..n-1]. */
static void clockrx_report(int port, const int64_t *t, int n, int starts, int stops)
{
	static int64_t err[CLOCKRX_MAX];
	double period = 60e9 / (opt.bpm * 24.0), rate = 0;
	int k = 0;

	for (int i = 1; i < n; i++) {
		int64_t e = (t[i] - t[i - 1]) - (int64_t)(period + 0.5);
		err[k++] = e < 0 ? -e : e;
	}
	if (n > 1)
		rate = (n - 1) * 1e9 / (double)(t[n - 1] - t[0]);
	qsort(err, (size_t)k, sizeof(*err), cmp64);
	printf("clockrx port=%d n=%d starts=%d stops=%d rate_hz=%.4f", port, n, starts, stops, rate);
	if (k > 0)
		printf(" ideal_us=%.1f interval_err_us: p50=%.1f p90=%.1f p99=%.1f max=%.1f", period / 1e3,
		       err[k / 2] / 1e3, err[(k * 9) / 10] / 1e3, err[(k * 99) / 100] / 1e3,
		       err[k - 1] / 1e3);
	printf("\n");
}

static int mode_clockrx(void)
{
	static int64_t t[2][CLOCKRX_MAX];
	struct midi_event_in ev;
	int fds[4], n[2] = { 0, 0 }, starts[2] = { 0, 0 }, stops[2] = { 0, 0 }, nin, nports = 1, r;
	int64_t end;

	add_port("rx0", MIDI_PORT_IN, opt.connect);
	if (opt.in) {
		add_port("rx1", MIDI_PORT_IN, opt.in);
		nports = 2;
	}
	nin = be->ops->input_fds(be, fds, 4);
	print_notifications();
	printf("ready\n");
	end = now_ns() + opt.duration_ns;
	while (now_ns() < end && !stop_flag) {
		struct pollfd p[4];

		for (int i = 0; i < nin; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		poll(p, (nfds_t)nin, 100);
		while ((r = be->ops->recv(be, &ev)) == 0) {
			int q = ev.port < 2 ? ev.port : 0;

			if (ev.msg.type == MIDI_CLOCK && n[q] < CLOCKRX_MAX)
				t[q][n[q]++] = ev.t_ns;
			starts[q] += ev.msg.type == MIDI_START;
			stops[q] += ev.msg.type == MIDI_STOP;
			if (ev.msg.type == MIDI_SYSEX && ev.msg.sysex)
				pool_put(&sysex_pool, ev.msg.sysex);
		}
		if (r != -EAGAIN)
			die("recv", r);
		print_notifications();
	}
	for (int q = 0; q < nports; q++)
		clockrx_report(q, t[q], n[q], starts[q], stops[q]);
	return 0;
}

static int mode_unconnected(void)
{
	struct midi_msg on = msg(MIDI_NOTE_ON, 0, 60, 100);
	int out = add_port("lonely", MIDI_PORT_OUT, "");
	int in = add_port("lonely-in", MIDI_PORT_IN, "");

	printf("unconnected send=%d\n", be->ops->send(be, out, &on, now_ns()));
	printf("badport send=%d\n", be->ops->send(be, 17, &on, now_ns()));
	printf("inport send=%d\n", be->ops->send(be, in, &on, now_ns()));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "backend", required_argument, 0, 'b' },
		{ "in", required_argument, 0, 'i' },
		{ "dump-file", required_argument, 0, 'f' },
		{ "seq-device", required_argument, 0, 's' },
		{ "client", required_argument, 0, 'C' },
		{ "connect", required_argument, 0, 'c' },
		{ "lookahead-ms", required_argument, 0, 'L' },
		{ "system-timer", no_argument, 0, 'S' },
		{ "count", required_argument, 0, 'n' },
		{ "period-ms", required_argument, 0, 'p' },
		{ "timeout-ms", required_argument, 0, 't' },
		{ "duration-ms", required_argument, 0, 'D' },
		{ "bpm", required_argument, 0, 'B' },
		{ 0, 0, 0, 0 },
	};
	const char *mode;
	int c, r;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b': opt.backend = optarg; break;
		case 'i': opt.in = optarg; break;
		case 'f': opt.dump_file = optarg; break;
		case 's': opt.seq_device = optarg; break;
		case 'C': opt.client = optarg; break;
		case 'c': opt.connect = optarg; break;
		case 'L': opt.lookahead_ns = atoll(optarg) * MS; break;
		case 'S': opt.system_timer = true; break;
		case 'n': opt.count = atoi(optarg); break;
		case 'p': opt.period_ns = atoll(optarg) * MS; break;
		case 't': opt.timeout_ns = atoll(optarg) * MS; break;
		case 'D': opt.duration_ns = atoll(optarg) * MS; break;
		case 'B': opt.bpm = atof(optarg); break;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: midi_probe [options] send|recv|follow|drop|jitter|unconnected|clockrx\n");
		return 2;
	}
	mode = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	open_backend();
	if (strcmp(mode, "send") == 0)
		r = mode_send();
	else if (strcmp(mode, "recv") == 0)
		r = mode_recv();
	else if (strcmp(mode, "follow") == 0)
		r = mode_follow();
	else if (strcmp(mode, "drop") == 0)
		r = mode_drop();
	else if (strcmp(mode, "jitter") == 0)
		r = mode_jitter();
	else if (strcmp(mode, "unconnected") == 0)
		r = mode_unconnected();
	else if (strcmp(mode, "clockrx") == 0)
		r = mode_clockrx();
	else
		r = 2;
	be->ops->close(be);
	return r;
}
