/*
 * osc.h - OSC server: UDP and TCP sockets, source allow-list, packet
 * decoding (liblo as the codec), dispatch to a method table, replies.
 *
 * The daemon owns the sockets (liblo's own servers cannot bind to a chosen
 * address in Debian's liblo 0.31 and hide the source until after parsing),
 * so that every datagram is checked against the allow-list before a byte of
 * it is parsed, sizes are capped, and nothing ever blocks the control loop:
 * all sockets are non-blocking and polled by the caller.
 * TCP uses OSC 1.0 stream framing: a big-endian int32 length, then the
 * packet.  Bundles are unpacked and their messages dispatched in order,
 * immediately (time tags are ignored: the box, not the sender, keeps time).
 */
#ifndef PS_CONTROL_OSC_H
#define PS_CONTROL_OSC_H

#include <lo/lo.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define OSC_MAX_PACKET 8192      /* bytes; larger packets are refused and counted */
#define OSC_MAX_TCP_CLIENTS 8    /* simultaneous TCP connections */
#define OSC_MAX_ALLOW 16         /* allow-list entries */
#define OSC_MAX_ARGS 16          /* arguments per message */
#define OSC_ERR_MAX 256          /* error message bytes */

struct osc_allow {
	int family;             /* AF_INET or AF_INET6 */
	uint8_t addr[16];       /* network address (4 bytes used for IPv4) */
	int prefix;             /* prefix length */
};

struct osc_server_cfg {
	char bind[64];                        /* address to bind, e.g. "0.0.0.0", "::", "127.0.0.1" */
	int port;                             /* UDP and TCP port; 0 = any (tests) */
	bool udp;                             /* serve UDP */
	bool tcp;                             /* serve TCP */
	struct osc_allow allow[OSC_MAX_ALLOW]; /* accepted source networks */
	int nallow;                           /* entries; 0 = accept nothing */
};

/* Where a message came from, and where its replies go. */
struct osc_peer {
	struct sockaddr_storage addr; /* source address */
	socklen_t len;                /* its length */
	int tcp;                      /* index of the TCP client, or -1 for UDP */
	uint32_t tcp_gen;             /* that client's connection number: a later
				       * connection in the same slot is not this peer */
};

struct osc_server;

/* A decoded request, valid only during the handler call. */
struct osc_req {
	struct osc_server *srv;   /* the server */
	const struct osc_peer *from; /* the sender */
	const char *path;         /* OSC address */
	const char *types;        /* type tags, without the leading ',' */
	lo_arg **argv;            /* arguments (host byte order) */
	int argc;                 /* number of arguments */
	void *ctx;                /* the method table's context */
};

/* A handler returns 0 after replying as it sees fit (including with an
 * error reply).  Context: control thread. */
typedef int (*osc_handler_fn)(struct osc_req *req);

struct osc_method {
	const char *path;      /* exact address, or a prefix ending in '/' matched by prefix */
	osc_handler_fn fn;     /* its handler */
};

struct osc_tcp_client {
	int fd;                          /* socket, -1 when free */
	struct osc_peer peer;            /* remote address (and .tcp_gen = gen) */
	uint32_t gen;                    /* connections accepted into this slot so far */
	uint8_t buf[OSC_MAX_PACKET + 4]; /* partial frame */
	size_t have;                     /* bytes in buf */
};

struct osc_stats {
	uint64_t received;   /* messages dispatched */
	uint64_t denied;     /* packets from sources outside the allow-list */
	uint64_t malformed;  /* packets liblo could not decode */
	uint64_t oversize;   /* packets over OSC_MAX_PACKET */
	uint64_t errors;     /* error replies sent */
	uint64_t send_fail;  /* replies or pushes that could not be sent */
};

struct osc_server {
	int udp_fd;                                     /* -1 if none */
	int listen_fd;                                  /* TCP listener, -1 if none */
	int port;                                       /* the bound port */
	struct osc_tcp_client tcp[OSC_MAX_TCP_CLIENTS]; /* TCP clients */
	struct osc_server_cfg cfg;                      /* configuration */
	const struct osc_method *methods;               /* NULL-terminated table */
	void *ctx;                                      /* handlers' context */
	struct osc_stats stats;                         /* counters */
};

/*
 * osc_parse_allow - parse "127.0.0.0/8, 192.168.0.0/16, ::1/128" into cfg.
 * A bare address means a single host.  Returns 0, or -EINVAL with `err`
 * naming the bad entry and the expected form.  Context: non-RT.
 */
int osc_parse_allow(struct osc_server_cfg *cfg, const char *list, char *err, size_t errlen);

/*
 * osc_server_open - bind the sockets (non-blocking, close-on-exec).
 * Returns 0 or -errno with `err` explaining (e.g. port in use).
 * Context: control thread.
 */
int osc_server_open(struct osc_server *s, const struct osc_server_cfg *cfg,
		    const struct osc_method *methods, void *ctx, char *err, size_t errlen);

/* osc_server_close - close every socket.  Context: control thread. */
void osc_server_close(struct osc_server *s);

/*
 * osc_server_pollfds - fill `pfd` with the fds to poll for input (UDP,
 * listener, TCP clients); returns how many.  Context: control thread.
 */
int osc_server_pollfds(struct osc_server *s, struct pollfd *pfd, int max);

/*
 * osc_server_service - read and dispatch everything pending on every
 * socket, never blocking.  Returns the number of messages dispatched.
 * Context: control thread.
 */
int osc_server_service(struct osc_server *s);

/*
 * osc_server_dispatch - handle one packet as if it had arrived from `from`
 * (after the allow-list and size checks): for tests and fuzzing.  `data` may
 * be modified.  Context: control thread.
 */
void osc_server_dispatch(struct osc_server *s, const struct osc_peer *from, uint8_t *data,
			 size_t size);

/*
 * osc_send - send message `m` to `to` at `path` (over the same TCP
 * connection it came on, or UDP).  Returns 0 or -errno (counted).
 * Context: control thread.
 */
int osc_send(struct osc_server *s, const struct osc_peer *to, const char *path, lo_message m);

/*
 * osc_reply_error - send "/phasorsync/error s:address s:reason" to the
 * requester.  Always returns 0 (the handler's result).
 * Context: control thread.
 */
int osc_reply_error(struct osc_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Argument helpers.  Each validates type and value and, on failure, sends
 * the error reply itself and returns -EINVAL; the handler then just returns.
 *   osc_arg_number: i, h, f, d accepted (TouchOSC sends floats); NaN and
 *     infinities refused; range [min, max].
 *   osc_arg_bool: T, F, or a number 0/1.
 *   osc_arg_string: s or S, at most `max` bytes.
 */
int osc_arg_number(struct osc_req *req, int i, const char *what, double min, double max,
		   double *out);
int osc_arg_bool(struct osc_req *req, int i, const char *what, bool *out);
int osc_arg_string(struct osc_req *req, int i, const char *what, size_t max, const char **out);

/*
 * Argument accessors.  liblo's lo_arg pointers point into the packet,
 * aligned to 4 bytes only, while lo_arg is a union with 8-byte members:
 * reading through `arg->d` is undefined behaviour (UBSan says so), so the
 * values are copied out instead.  Context: any.
 */
static inline int32_t osc_i32(const void *a) { int32_t v; memcpy(&v, a, sizeof(v)); return v; }
static inline float osc_f32(const void *a) { float v; memcpy(&v, a, sizeof(v)); return v; }
static inline int64_t osc_i64(const void *a) { int64_t v; memcpy(&v, a, sizeof(v)); return v; }
static inline double osc_f64(const void *a) { double v; memcpy(&v, a, sizeof(v)); return v; }
static inline const char *osc_str(const void *a) { return (const char *)a; }

/* osc_peer_str - "udp 127.0.0.1:5000" for logs.  Context: any. */
void osc_peer_str(const struct osc_peer *p, char *buf, size_t n);

#endif
