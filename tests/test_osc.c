/*
 * The OSC API in-process over loopback: a real UDP/TCP server (ctl + osc),
 * a client socket of ours, the engine in virtual time.  Covers every
 * address, int and float arguments, a table of bad inputs (each answered
 * by /phasorsync/error naming what is allowed, the state unchanged), the
 * allow-list, oversize and malformed packets, bundles, TCP framing,
 * subscriptions and pushes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <lo/lo.h>

#include "capture_midi.h"
#include "clock/timesrc_virtual.h"
#include "control/config.h"
#include "control/ctl.h"
#include "control/sdnotify.h"
#include "engine/engine.h"

#define T0 INT64_C(1000000000)
#define MS INT64_C(1000000)

static struct engine eng;
static struct capture_midi cap;
static struct timesrc_virtual vt;
static struct config cfg;
static struct ctl ctl;
static int cli = -1;

static void start_all(const char *allow)
{
	struct engine_cfg ecfg;
	struct osc_server_cfg scfg = { .bind = "127.0.0.1", .port = 0, .udp = true, .tcp = true };
	char err[256];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	config_defaults(&cfg);
	engine_cfg_defaults(&ecfg);
	ecfg.nout = 1;
	ecfg.out[0] = cfg.out[0].clk;
	timesrc_virtual_init(&vt, T0);
	capture_midi_init(&cap);
	assert_int_equal(engine_init(&eng, &vt.base, &cap.base, &ecfg), 0);
	assert_int_equal(osc_parse_allow(&scfg, allow, err, sizeof(err)), 0);
	assert_int_equal(ctl_open(&ctl, &eng, &vt.base, &cfg, &scfg, err, sizeof(err)), 0);
	cli = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(cli >= 0);
	assert_int_equal(bind(cli, (struct sockaddr *)&a, sizeof(a)), 0);
}

static int teardown(void **state)
{
	(void)state;
	ctl_close(&ctl);
	if (cli >= 0)
		close(cli);
	cli = -1;
	return 0;
}

static void send_raw(const void *data, size_t n)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ctl.osc.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	assert_int_equal(sendto(cli, data, n, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)n);
}

static void send_msg(const char *path, lo_message m)
{
	char buf[9000];
	size_t n = sizeof(buf);

	assert_non_null(lo_message_serialise(m, path, buf, &n));
	send_raw(buf, n);
	lo_message_free(m);
	osc_server_service(&ctl.osc);
}

/* Build a message from a type string and values: i (int), f (double), s. */
static lo_message mk(const char *types, ...)
{
	lo_message m = lo_message_new();
	va_list ap;

	va_start(ap, types);
	for (const char *t = types; *t; t++) {
		if (*t == 'i')
			lo_message_add_int32(m, va_arg(ap, int));
		else if (*t == 'f')
			lo_message_add_float(m, (float)va_arg(ap, double));
		else if (*t == 's')
			lo_message_add_string(m, va_arg(ap, const char *));
		else if (*t == 'T')
			lo_message_add_true(m);
	}
	va_end(ap);
	return m;
}

struct reply {
	char path[128];
	char types[128];
	lo_arg *argv[128];
	int argc;
	lo_message msg;
};

/* Take the next reply waiting on the client socket; false if none. */
static bool get_reply(struct reply *r)
{
	static char buf[9000];
	ssize_t n = recv(cli, buf, sizeof(buf), MSG_DONTWAIT);
	int res;

	if (n <= 0)
		return false;
	if (r->msg)
		lo_message_free(r->msg);
	snprintf(r->path, sizeof(r->path), "%.127s", buf);
	r->msg = lo_message_deserialise(buf, (size_t)n, &res);
	assert_non_null(r->msg);
	snprintf(r->types, sizeof(r->types), "%.127s", lo_message_get_types(r->msg));
	r->argc = lo_message_get_argc(r->msg);
	memcpy(r->argv, lo_message_get_argv(r->msg), sizeof(lo_arg *) * (size_t)r->argc);
	return true;
}

static void expect_ok(const char *path)
{
	struct reply r = { 0 };

	assert_true(get_reply(&r));
	assert_string_equal(r.path, "/phasorsync/ok");
	assert_string_equal(osc_str(r.argv[0]), path);
	lo_message_free(r.msg);
}

static void run_engine(int64_t until)
{
	assert_int_equal(engine_run_until(&eng, until), 0);
}

static float query_tempo(void)
{
	struct reply r = { 0 };
	float v;

	send_msg("/phasorsync/tempo", mk(""));
	assert_true(get_reply(&r));
	assert_string_equal(r.path, "/phasorsync/tempo");
	assert_string_equal(r.types, "f");
	v = osc_f32(r.argv[0]);
	lo_message_free(r.msg);
	return v;
}

static void test_tempo_set_and_query_int_and_float(void **state)
{
	(void)state;
	start_all("127.0.0.0/8");
	assert_true(fabsf(query_tempo() - 120.0f) < 1e-4f);
	send_msg("/phasorsync/tempo", mk("f", 133.5));
	expect_ok("/phasorsync/tempo");
	run_engine(T0 + 100 * MS);
	assert_true(fabsf(query_tempo() - 133.5f) < 1e-4f);
	send_msg("/phasorsync/tempo", mk("i", 90)); /* int works as well */
	expect_ok("/phasorsync/tempo");
	send_msg("/phasorsync/tempo", mk("fs", 100.0, "bar"));
	expect_ok("/phasorsync/tempo");
	run_engine(T0 + 200 * MS);
	assert_true(fabsf(query_tempo() - 90.0f) < 1e-4f); /* 100 waits for the bar */
}

static void test_transport_and_status(void **state)
{
	struct reply r = { 0 };
	bool saw_transport = false, saw_rt = false;
	int keys = 0;

	(void)state;
	start_all("127.0.0.0/8");
	send_msg("/phasorsync/start", mk("s", "bar"));
	expect_ok("/phasorsync/start");
	run_engine(T0 + 2500 * MS);
	send_msg("/phasorsync/status", mk(""));
	assert_true(get_reply(&r));
	assert_string_equal(r.path, "/phasorsync/status");
	assert_int_equal(r.argc % 2, 0);
	for (int i = 0; i < r.argc; i += 2) {
		assert_int_equal(r.types[i], 's');
		if (!strcmp(osc_str(r.argv[i]), "transport")) {
			assert_string_equal(osc_str(r.argv[i + 1]), "playing");
			saw_transport = true;
		}
		if (!strcmp(osc_str(r.argv[i]), "beat")) /* started at 2 s: 0.5 s = 1 beat in */
			assert_true(fabsf(osc_f32(r.argv[i + 1]) - 1.0f) < 1e-3f);
		if (!strcmp(osc_str(r.argv[i]), "rt"))
			saw_rt = true;
		/* 1 beat into bar 1 of 4 beats: bar 1, its beat 2, phase 0.25 */
		if (!strcmp(osc_str(r.argv[i]), "bar"))
			assert_int_equal(osc_i32(r.argv[i + 1]), 1), keys++;
		if (!strcmp(osc_str(r.argv[i]), "beat_in_bar"))
			assert_int_equal(osc_i32(r.argv[i + 1]), 2), keys++;
		if (!strcmp(osc_str(r.argv[i]), "phase"))
			assert_true(fabsf(osc_f32(r.argv[i + 1]) - 0.25f) < 1e-3f), keys++;
		/* the Start messages were queued: the pool's high-water mark shows it */
		if (!strcmp(osc_str(r.argv[i]), "pool_high_water"))
			assert_true(osc_i32(r.argv[i + 1]) >= 1), keys++;
		if (!strcmp(osc_str(r.argv[i]), "notify_drops") ||
		    !strcmp(osc_str(r.argv[i]), "log_drops"))
			assert_int_equal(osc_i32(r.argv[i + 1]), 0), keys++;
	}
	assert_true(saw_transport && saw_rt);
	assert_int_equal(keys, 6);
	lo_message_free(r.msg);
	send_msg("/phasorsync/stop", mk(""));
	expect_ok("/phasorsync/stop");
	send_msg("/phasorsync/locate", mk("f", 8.25)); /* 33 sixteenths */
	expect_ok("/phasorsync/locate");
	run_engine(T0 + 3000 * MS);
}

struct bad_case {
	const char *path;
	lo_message (*build)(void);
	const char *want; /* substring of the reason */
};

#define BUILD(name, ...) static lo_message name(void) { return mk(__VA_ARGS__); }
BUILD(b_str, "s", "fast")
BUILD(b_1000, "i", 1000)
BUILD(b_10, "f", 10.0)
BUILD(b_nan, "f", (double)NAN)
BUILD(b_inf, "f", (double)INFINITY)
BUILD(b_when, "fs", 120.0, "later")
BUILD(b_three, "fss", 120.0, "bar", "x")
BUILD(b_longwhen, "fs", 120.0, "the-next-bar-but-one-please-and-make-it-snappy-thank-you-very-much")
BUILD(b_none, "")
BUILD(b_5, "i", 5)
BUILD(b_1, "i", 1)
BUILD(b_neg, "i", -1)
BUILD(b_q, "f", 3.5)
BUILD(b_off, "f", -6.0)
BUILD(b_swing, "i", 80)
BUILD(b_yes, "s", "yes")
BUILD(b_unit, "i", 12)
BUILD(b_often, "s", "often")
BUILD(b_port, "si", "beat", 70000)
static lo_message b_many(void)
{
	lo_message m = lo_message_new();
	for (int i = 0; i < 20; i++)
		lo_message_add_int32(m, i);
	return m;
}

static const struct bad_case bad_cases[] = {
	{ "/phasorsync/tempo", b_str, "is a string: expected a number" },
	{ "/phasorsync/tempo", b_1000, "must be from 20 to 999" },
	{ "/phasorsync/tempo", b_10, "must be from 20 to 999" },
	{ "/phasorsync/tempo", b_nan, "must be from 20 to 999" },
	{ "/phasorsync/tempo", b_inf, "must be from 20 to 999" },
	{ "/phasorsync/tempo", b_when, "must be now, beat or bar" },
	{ "/phasorsync/tempo", b_three, "optional when" },
	{ "/phasorsync/tempo", b_longwhen, "longer than 64 bytes" },
	{ "/phasorsync/nope", b_none, "unknown address" },
	{ "/phasorsync/start", b_str, "must be now, beat or bar" },
	{ "/phasorsync/start/later", b_none, "unknown address" },
	{ "/phasorsync/stop", b_str, "takes no argument, or one number" },
	{ "/phasorsync/continue", b_three, "takes no argument, or one number" },
	{ "/phasorsync/locate", b_none, "takes one argument" },
	{ "/phasorsync/locate", b_neg, "must be from 0 to 4095.75" },
	{ "/phasorsync/quantum", b_q, "whole number" },
	{ "/phasorsync/quantum", b_1000, "must be from 1 to 64" },
	{ "/phasorsync/output/nope/offset", b_1, "no output named 'nope'" },
	{ "/phasorsync/output/clock/bogus", b_1, "unknown setting 'bogus'" },
	{ "/phasorsync/output/clock/offset", b_off, "must be from -5 to 100" },
	{ "/phasorsync/output/clock/swing", b_swing, "must be from 50 to 75" },
	{ "/phasorsync/output/clock/enable", b_yes, "expected 0 or 1" },
	{ "/phasorsync/output/clock/enable", b_5, "must be from 0 to 1" },
	{ "/phasorsync/output/clock/swing_unit", b_unit, "must be 8 or 16" },
	{ "/phasorsync/subscribe", b_often, "must be state, bar or beat" },
	{ "/phasorsync/subscribe", b_port, "must be from 1 to 65535" },
	{ "/phasorsync/unsubscribe", b_none, "not subscribed" },
	{ "/phasorsync/tempo", b_many, "too many arguments" },
	{ "/phasorsync/status", b_1, "takes no arguments" },
};

static void test_bad_inputs_answered_state_unchanged(void **state)
{
	struct clk_snapshot before, after;
	struct config cfg_before;
	struct reply r = { 0 };

	(void)state;
	start_all("127.0.0.0/8");
	run_engine(T0 + 50 * MS);
	assert_true(engine_snapshot(&eng, &before));
	cfg_before = cfg;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		send_msg(bad_cases[i].path, bad_cases[i].build());
		if (!get_reply(&r))
			fail_msg("case %zu (%s): no reply", i, bad_cases[i].path);
		assert_string_equal(r.path, "/phasorsync/error");
		assert_string_equal(r.types, "ss");
		assert_string_equal(osc_str(r.argv[0]), bad_cases[i].path);
		if (!strstr(osc_str(r.argv[1]), bad_cases[i].want))
			fail_msg("case %zu (%s): reason \"%s\" lacks \"%s\"", i, bad_cases[i].path,
				 osc_str(r.argv[1]), bad_cases[i].want);
		assert_false(get_reply(&r)); /* exactly one reply */
	}
	lo_message_free(r.msg);
	assert_int_equal(ring_count(&eng.cmd), 0); /* nothing reached the engine */
	run_engine(T0 + 100 * MS);
	assert_true(engine_snapshot(&eng, &after));
	assert_memory_equal(&before.tl, &after.tl, sizeof(before.tl));
	assert_int_equal(before.transport, after.transport);
	assert_memory_equal(&cfg_before, &cfg, sizeof(cfg));
	assert_int_equal(ctl.osc.stats.errors, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

static void test_garbage_oversize_and_bundles(void **state)
{
	static uint8_t big[9000];
	struct reply r = { 0 };
	uint8_t bundle[256];
	char m1[64], m2[64];
	size_t n1 = sizeof(m1), n2 = sizeof(m2), off = 16;
	lo_message a, b;
	uint32_t be;

	(void)state;
	start_all("127.0.0.0/8");
	send_raw("garbage!", 8);
	osc_server_service(&ctl.osc);
	assert_true(get_reply(&r));
	assert_string_equal(r.path, "/phasorsync/error");
	assert_non_null(strstr(osc_str(r.argv[1]), "not an OSC message"));
	/* an address, then a type tag string that lies about its arguments */
	send_raw("/phasorsync/tempo\0\0\0,fff\0\0\0\0\0\0\0", 28);
	osc_server_service(&ctl.osc);
	assert_true(get_reply(&r));
	assert_non_null(strstr(osc_str(r.argv[1]), "malformed"));
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	send_raw(big, sizeof(big));
	osc_server_service(&ctl.osc);
	assert_true(get_reply(&r));
	assert_non_null(strstr(osc_str(r.argv[1]), "larger than 8192"));
	assert_int_equal(ctl.osc.stats.oversize, 1);

	/* a bundle of two messages: both dispatched, in order */
	a = mk("f", 101.0);
	b = mk("");
	lo_message_serialise(a, "/phasorsync/tempo", m1, &n1);
	lo_message_serialise(b, "/phasorsync/stop", m2, &n2);
	lo_message_free(a);
	lo_message_free(b);
	memcpy(bundle, "#bundle\0\0\0\0\0\0\0\0\1", 16);
	be = htonl((uint32_t)n1);
	memcpy(bundle + off, &be, 4);
	memcpy(bundle + off + 4, m1, n1);
	off += 4 + n1;
	be = htonl((uint32_t)n2);
	memcpy(bundle + off, &be, 4);
	memcpy(bundle + off + 4, m2, n2);
	off += 4 + n2;
	send_raw(bundle, off);
	osc_server_service(&ctl.osc);
	expect_ok("/phasorsync/tempo");
	expect_ok("/phasorsync/stop");
	/* a bundle whose element size overruns the packet */
	be = htonl(4000);
	memcpy(bundle + 16, &be, 4);
	send_raw(bundle, off);
	osc_server_service(&ctl.osc);
	assert_true(get_reply(&r));
	assert_non_null(strstr(osc_str(r.argv[1]), "bundle element size"));
	lo_message_free(r.msg);
}

static void test_allow_list_denies_silently(void **state)
{
	struct reply r = { 0 };
	struct osc_server_cfg scfg = { 0 };
	char err[256];

	(void)state;
	start_all("10.0.0.0/8, 192.168.1.0/24, fe80::/10");
	send_msg("/phasorsync/tempo", mk("f", 150.0));
	assert_false(get_reply(&r));
	assert_int_equal(ctl.osc.stats.denied, 1);
	assert_int_equal(ring_count(&eng.cmd), 0);
	/* list syntax */
	assert_int_equal(osc_parse_allow(&scfg, "127.0.0.1", err, sizeof(err)), 0);
	assert_int_equal(scfg.allow[0].prefix, 32);
	assert_int_equal(osc_parse_allow(&scfg, "10.0.0.0/33", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'10.0.0.0/33' is not a network"));
	assert_int_equal(osc_parse_allow(&scfg, "10.0.0.0/8,,1.2.3.4", err, sizeof(err)), -EINVAL);
	assert_int_equal(osc_parse_allow(&scfg, "banana", err, sizeof(err)), -EINVAL);
	assert_int_equal(osc_parse_allow(&scfg, "::1/129", err, sizeof(err)), -EINVAL);
}

static void test_tcp_framing(void **state)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char buf[512], out[600];
	size_t n = sizeof(buf);
	lo_message m = mk("");
	uint32_t be, len;
	int fd, res;
	ssize_t got = 0;
	lo_message reply;

	(void)state;
	start_all("127.0.0.0/8");
	to.sin_port = htons((uint16_t)ctl.osc.port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	osc_server_service(&ctl.osc); /* accept */
	lo_message_serialise(m, "/phasorsync/quantum", buf, &n);
	lo_message_free(m);
	be = htonl((uint32_t)n);
	memcpy(out, &be, 4);
	memcpy(out + 4, buf, n);
	/* split the frame in two writes: the server must reassemble */
	assert_int_equal(write(fd, out, 6), 6);
	osc_server_service(&ctl.osc);
	assert_int_equal(write(fd, out + 6, n - 2), (ssize_t)(n - 2));
	osc_server_service(&ctl.osc);
	while (got < 4 || got < 4 + (ssize_t)ntohl(*(uint32_t *)buf)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		assert_int_equal(poll(&p, 1, 2000), 1);
		r = read(fd, buf + got, sizeof(buf) - (size_t)got);
		assert_true(r > 0);
		got += r;
	}
	memcpy(&be, buf, 4);
	len = ntohl(be);
	assert_string_equal(buf + 4, "/phasorsync/quantum");
	reply = lo_message_deserialise(buf + 4, len, &res);
	assert_non_null(reply);
	assert_int_equal(osc_i32(lo_message_get_argv(reply)[0]), 4);
	lo_message_free(reply);
	close(fd);
}

/* A TCP client of the server, connected and accepted. */
static int tcp_connect(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	to.sin_port = htons((uint16_t)ctl.osc.port);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	osc_server_service(&ctl.osc); /* accept */
	return fd;
}

static void tcp_send(int fd, const char *path, lo_message m)
{
	char buf[512], out[600];
	size_t n = sizeof(buf);
	uint32_t be;

	lo_message_serialise(m, path, buf, &n);
	lo_message_free(m);
	be = htonl((uint32_t)n);
	memcpy(out, &be, 4);
	memcpy(out + 4, buf, n);
	assert_int_equal(write(fd, out, n + 4), (ssize_t)(n + 4));
	osc_server_service(&ctl.osc);
}

/* Bytes readable on fd within ms milliseconds (0 if none). */
static ssize_t tcp_read(int fd, char *buf, size_t n, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return 0;
	return read(fd, buf, n);
}

/* A subscription made over a TCP connection ends with that connection: a
 * later connection that the server puts in the same slot gets no pushes. */
static void test_tcp_subscription_ends_with_connection(void **state)
{
	char buf[1024];
	int a, b;
	int64_t t;

	(void)state;
	start_all("127.0.0.0/8");
	a = tcp_connect();
	tcp_send(a, "/phasorsync/subscribe", mk("s", "beat"));
	assert_true(tcp_read(a, buf, sizeof(buf), 2000) > 4);
	assert_string_equal(buf + 4, "/phasorsync/ok");
	close(a);
	osc_server_service(&ctl.osc); /* sees the close */
	b = tcp_connect();             /* the same slot, a new connection */
	assert_int_equal(ctl.osc.tcp[0].fd >= 0, 1);
	send_msg("/phasorsync/start", mk("s", "bar"));
	expect_ok("/phasorsync/start");
	run_engine(T0 + 100 * MS);
	{
		struct engine_note n;
		while (engine_poll_note(&eng, &n) == 0)
			ctl_on_note(&ctl, &n); /* the transport push */
	}
	for (int i = 0; i < 3; i++) {
		t = ctl_next_beat_ns(&ctl, vt.now_ns);
		if (t == INT64_MAX)
			break;
		run_engine(t + 1);
		ctl_push_beats(&ctl, vt.now_ns);
	}
	assert_int_equal(tcp_read(b, buf, sizeof(buf), 200), 0); /* nothing pushed to B */
	for (int k = 0; k < CTL_MAX_SUBS; k++)
		assert_false(ctl.subs[k].used); /* and A's subscription is gone */
	close(b);
}

/* The systemd watchdog is fed only while the engine loop iterates: a hung
 * engine thread stops WATCHDOG=1 (systemd restarts the daemon) even though
 * the control thread, which sends it, is fine. */
#define SEC_NS INT64_C(1000000000)

static void test_watchdog_needs_engine_progress(void **state)
{
	struct sdnotify n = { .fd = -1, .watchdog_ns = 2 * SEC_NS };
	int64_t last = 0;
	uint64_t it_seen = 0;

	(void)state;
	assert_int_equal(sdnotify_watchdog(&n, SEC_NS / 2, &last, 10, &it_seen), 0); /* too soon */
	assert_int_equal(sdnotify_watchdog(&n, SEC_NS, &last, 10, &it_seen), 1);     /* iterated */
	assert_int_equal(last, SEC_NS);
	assert_int_equal(sdnotify_watchdog(&n, 2 * SEC_NS, &last, 10, &it_seen), -1); /* stalled */
	assert_int_equal(last, SEC_NS);
	assert_int_equal(sdnotify_watchdog(&n, 3 * SEC_NS, &last, 10, &it_seen), -1); /* still */
	assert_int_equal(sdnotify_watchdog(&n, 3 * SEC_NS + 1, &last, 11, &it_seen), 1); /* back */
	n.watchdog_ns = 0; /* no watchdog configured: never */
	assert_int_equal(sdnotify_watchdog(&n, 100 * SEC_NS, &last, 12, &it_seen), 0);
}

static bool subscribed_port(int port)
{
	for (int k = 0; k < CTL_MAX_SUBS; k++)
		if (ctl.subs[k].used &&
		    ntohs(((struct sockaddr_in *)&ctl.subs[k].peer.addr)->sin_port) == port)
			return true;
	return false;
}

/* UDP subscribers cannot say they went away: with all 16 slots taken, a new
 * subscriber replaces the one renewed longest ago, never one that renews. */
static void test_subscribers_full_least_recent_makes_room(void **state)
{
	(void)state;
	start_all("127.0.0.0/8");
	for (int i = 0; i < CTL_MAX_SUBS; i++) {
		vt.now_ns += MS;
		send_msg("/phasorsync/subscribe", mk("si", "state", 40001 + i));
		expect_ok("/phasorsync/subscribe");
	}
	vt.now_ns += MS;
	send_msg("/phasorsync/subscribe", mk("si", "state", 40001)); /* renews the oldest */
	expect_ok("/phasorsync/subscribe");
	vt.now_ns += MS;
	send_msg("/phasorsync/subscribe", mk("si", "beat", 40100)); /* a 17th */
	expect_ok("/phasorsync/subscribe");
	assert_true(subscribed_port(40100));
	assert_true(subscribed_port(40001));  /* renewed: kept */
	assert_false(subscribed_port(40002)); /* renewed longest ago: replaced */
	for (int i = 2; i < CTL_MAX_SUBS; i++)
		assert_true(subscribed_port(40001 + i));
}

static void test_subscribe_pushes(void **state)
{
	struct reply r = { 0 };
	int transport = 0, beats = 0, bars = 0, tempo = 0;
	int64_t t;

	(void)state;
	start_all("127.0.0.0/8");
	send_msg("/phasorsync/subscribe", mk("s", "beat"));
	expect_ok("/phasorsync/subscribe");
	send_msg("/phasorsync/start", mk("s", "bar"));
	expect_ok("/phasorsync/start");
	send_msg("/phasorsync/tempo", mk("f", 150.0));
	expect_ok("/phasorsync/tempo");
	run_engine(T0 + 100 * MS);
	{
		struct engine_note n;
		while (engine_poll_note(&eng, &n) == 0)
			ctl_on_note(&ctl, &n);
	}
	/* the control loop's beat timer, driven by hand */
	for (int i = 0; i < 12; i++) {
		t = ctl_next_beat_ns(&ctl, vt.now_ns);
		assert_true(t != INT64_MAX);
		run_engine(t + 1);
		ctl_push_beats(&ctl, vt.now_ns);
	}
	while (get_reply(&r)) {
		if (!strcmp(r.path, "/phasorsync/transport")) {
			assert_string_equal(osc_str(r.argv[0]), "playing");
			transport++;
		} else if (!strcmp(r.path, "/phasorsync/beat")) {
			/* bar, beat-in-bar: 1 1, 1 2, ... */
			assert_int_equal(osc_i32(r.argv[0]), beats / 4 + 1);
			assert_int_equal(osc_i32(r.argv[1]), beats % 4 + 1);
			beats++;
		} else if (!strcmp(r.path, "/phasorsync/bar")) {
			bars++;
		} else if (!strcmp(r.path, "/phasorsync/tempo")) {
			tempo++;
		}
	}
	lo_message_free(r.msg);
	assert_int_equal(transport, 1);
	assert_int_equal(tempo, 1);
	assert_int_equal(beats, 12);
	assert_int_equal(bars, 3);
	send_msg("/phasorsync/unsubscribe", mk(""));
	expect_ok("/phasorsync/unsubscribe");
	assert_int_equal(ctl_next_beat_ns(&ctl, vt.now_ns), INT64_MAX);
}

static void test_output_settings_roundtrip(void **state)
{
	struct reply r = { 0 };

	(void)state;
	start_all("127.0.0.0/8");
	send_msg("/phasorsync/output/clock/offset", mk("f", -2.5));
	expect_ok("/phasorsync/output/clock/offset");
	send_msg("/phasorsync/output/clock/swing", mk("i", 58));
	expect_ok("/phasorsync/output/clock/swing");
	send_msg("/phasorsync/output/clock/enable", mk("T"));
	expect_ok("/phasorsync/output/clock/enable");
	run_engine(T0 + 50 * MS);
	assert_int_equal(eng.out[0].cfg.offset_us, -2500);
	assert_int_equal(eng.out[0].cfg.swing_permille, 580);
	send_msg("/phasorsync/output/clock/offset", mk(""));
	assert_true(get_reply(&r));
	assert_string_equal(r.path, "/phasorsync/output/clock/offset");
	assert_true(fabsf(osc_f32(r.argv[0]) + 2.5f) < 1e-6f);
	/* button press (1) triggers, release (0) is ignored without a reply */
	send_msg("/phasorsync/stop", mk("f", 1.0));
	expect_ok("/phasorsync/stop");
	send_msg("/phasorsync/stop", mk("f", 0.0));
	assert_false(get_reply(&r));
	send_msg("/phasorsync/start/bar", mk("i", 1));
	expect_ok("/phasorsync/start/bar");
	send_msg("/phasorsync/start/bar", mk("i", 0));
	assert_false(get_reply(&r));
	send_msg("/phasorsync/help", mk(""));
	assert_true(get_reply(&r));
	assert_true(r.argc >= 10);
	lo_message_free(r.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tempo_set_and_query_int_and_float, teardown),
		cmocka_unit_test_teardown(test_transport_and_status, teardown),
		cmocka_unit_test_teardown(test_bad_inputs_answered_state_unchanged, teardown),
		cmocka_unit_test_teardown(test_garbage_oversize_and_bundles, teardown),
		cmocka_unit_test_teardown(test_allow_list_denies_silently, teardown),
		cmocka_unit_test_teardown(test_tcp_framing, teardown),
		cmocka_unit_test_teardown(test_subscribe_pushes, teardown),
		cmocka_unit_test(test_watchdog_needs_engine_progress),
		cmocka_unit_test_teardown(test_subscribers_full_least_recent_makes_room, teardown),
		cmocka_unit_test_teardown(test_tcp_subscription_ends_with_connection, teardown),
		cmocka_unit_test_teardown(test_output_settings_roundtrip, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
