/*
 * osc.c - OSC sockets, allow-list, decoding and dispatch (see osc.h).
 *
 * Flow of a UDP datagram: recvfrom (MSG_TRUNC tells the real size) ->
 * source checked against the allow-list (denied: dropped, counted, no reply:
 * replying would let anyone probe us) -> size checked -> bundle unpacked or
 * message decoded by liblo -> method looked up -> handler, which replies.
 * Every failure after the allow-list answers "/phasorsync/error address
 * reason" to the sender, so a person typing into oscsend sees what was
 * wrong.  TCP is the same after the stream framing.
 */
#include "control/osc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OSC_BUNDLE_DEPTH 4 /* nested bundles followed at most */

static void osc_trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

int osc_parse_allow(struct osc_server_cfg *cfg, const char *list, char *err, size_t errlen)
{
	struct osc_allow a[OSC_MAX_ALLOW];
	int n = 0;
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ','), *end, *slash;
		char addr[64];
		long prefix;
		int maxp;

		if (!e)
			e = p + strlen(p);
		end = e;
		osc_trim(&p, &end);
		if (end == p) {
			snprintf(err, errlen, "osc.allow: empty entry (expected a comma-separated list "
				 "of networks like 192.168.0.0/16 or ::1)");
			return -EINVAL;
		}
		if (n == OSC_MAX_ALLOW) {
			snprintf(err, errlen, "osc.allow: more than %d networks", OSC_MAX_ALLOW);
			return -EINVAL;
		}
		slash = memchr(p, '/', (size_t)(end - p));
		if ((size_t)((slash ? slash : end) - p) >= sizeof(addr))
			goto bad;
		memcpy(addr, p, (size_t)((slash ? slash : end) - p));
		addr[(slash ? slash : end) - p] = '\0';
		memset(&a[n], 0, sizeof(a[n]));
		if (inet_pton(AF_INET, addr, a[n].addr) == 1) {
			a[n].family = AF_INET;
			maxp = 32;
		} else if (inet_pton(AF_INET6, addr, a[n].addr) == 1) {
			a[n].family = AF_INET6;
			maxp = 128;
		} else {
			goto bad;
		}
		prefix = maxp;
		if (slash) {
			char *pe;
			char num[8];
			if (end - slash - 1 <= 0 || end - slash - 1 >= (long)sizeof(num))
				goto bad;
			memcpy(num, slash + 1, (size_t)(end - slash - 1));
			num[end - slash - 1] = '\0';
			prefix = strtol(num, &pe, 10);
			if (*pe || prefix < 0 || prefix > maxp)
				goto bad;
		}
		a[n].prefix = (int)prefix;
		n++;
		p = *e ? e + 1 : e;
		continue;
bad:
		snprintf(err, errlen, "osc.allow: '%.*s' is not a network (expected ADDRESS or "
			 "ADDRESS/PREFIX, e.g. 192.168.1.0/24 or fe80::/10)", (int)(end - p), p);
		return -EINVAL;
	}
	memcpy(cfg->allow, a, sizeof(a[0]) * (size_t)n);
	cfg->nallow = n;
	return 0;
}

static bool osc_match_prefix(const uint8_t *a, const uint8_t *net, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, (size_t)full))
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (0xff << (8 - rest))) == 0;
}

static bool osc_allowed(const struct osc_server *s, const struct sockaddr_storage *ss)
{
	const uint8_t *a4 = NULL, *a6 = NULL;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ss->ss_family == AF_INET) {
		a4 = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		a6 = (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (!memcmp(a6, mapped, 12))
			a4 = a6 + 12; /* IPv4-mapped: judge as IPv4 */
	}
	for (int i = 0; i < s->cfg.nallow; i++) {
		const struct osc_allow *al = &s->cfg.allow[i];
		if (al->family == AF_INET && a4 && osc_match_prefix(a4, al->addr, al->prefix))
			return true;
		if (al->family == AF_INET6 && a6 && osc_match_prefix(a6, al->addr, al->prefix))
			return true;
	}
	return false;
}

void osc_peer_str(const struct osc_peer *p, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&p->addr;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (p->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&p->addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, n, "%s %s:%d", p->tcp >= 0 ? "tcp" : "udp", host, port);
}

static int osc_bind(int type, const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC, .ai_socktype = type };
	struct addrinfo *ai = NULL;
	char portstr[16];
	int fd, one = 1, zero = 0, r;

	snprintf(portstr, sizeof(portstr), "%d", port);
	r = getaddrinfo(host, portstr, &hints, &ai);
	if (r != 0) {
		snprintf(err, errlen, "osc.bind = '%s': not a numeric address (%s)", host,
			 gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)); /* "::" serves v4 too */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    (type == SOCK_STREAM && listen(fd, OSC_MAX_TCP_CLIENTS) < 0)) {
		r = -errno;
		close(fd);
		goto out;
	}
	r = fd;
out:
	if (r < 0 && r != -EINVAL)
		snprintf(err, errlen, "osc: cannot listen on %s %s port %d: %s",
			 type == SOCK_STREAM ? "TCP" : "UDP", host, port, strerror(-r));
	freeaddrinfo(ai);
	return r;
}

static int osc_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int osc_server_open(struct osc_server *s, const struct osc_server_cfg *cfg,
		    const struct osc_method *methods, void *ctx, char *err, size_t errlen)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->udp_fd = s->listen_fd = -1;
	for (int i = 0; i < OSC_MAX_TCP_CLIENTS; i++)
		s->tcp[i].fd = -1;
	s->cfg = *cfg;
	s->methods = methods;
	s->ctx = ctx;
	s->port = cfg->port;
	if (cfg->udp) {
		r = osc_bind(SOCK_DGRAM, cfg->bind, s->port, err, errlen);
		if (r < 0)
			return r;
		s->udp_fd = r;
		s->port = osc_local_port(r);
	}
	if (cfg->tcp) {
		r = osc_bind(SOCK_STREAM, cfg->bind, s->port, err, errlen);
		if (r < 0) {
			osc_server_close(s);
			return r;
		}
		s->listen_fd = r;
		s->port = osc_local_port(r);
	}
	return 0;
}

void osc_server_close(struct osc_server *s)
{
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	for (int i = 0; i < OSC_MAX_TCP_CLIENTS; i++)
		if (s->tcp[i].fd >= 0)
			close(s->tcp[i].fd);
	s->udp_fd = s->listen_fd = -1;
	for (int i = 0; i < OSC_MAX_TCP_CLIENTS; i++)
		s->tcp[i].fd = -1;
}

int osc_server_pollfds(struct osc_server *s, struct pollfd *pfd, int max)
{
	int n = 0;

	if (s->udp_fd >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = s->udp_fd, .events = POLLIN };
	if (s->listen_fd >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (int i = 0; i < OSC_MAX_TCP_CLIENTS && n < max; i++)
		if (s->tcp[i].fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = s->tcp[i].fd, .events = POLLIN };
	return n;
}

int osc_send(struct osc_server *s, const struct osc_peer *to, const char *path, lo_message m)
{
	uint8_t buf[OSC_MAX_PACKET + 4];
	size_t len = lo_message_length(m, path);
	ssize_t w;

	if (len == 0 || len > OSC_MAX_PACKET || !lo_message_serialise(m, path, buf + 4, &len)) {
		s->stats.send_fail++;
		return -EMSGSIZE;
	}
	if (to->tcp >= 0) {
		struct osc_tcp_client *c = &s->tcp[to->tcp];
		uint32_t be = htonl((uint32_t)len);
		if (c->fd < 0 || c->gen != to->tcp_gen) {
			s->stats.send_fail++;
			return -ENOTCONN; /* that connection is gone (its slot may serve another) */
		}
		memcpy(buf, &be, 4);
		w = send(c->fd, buf, len + 4, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w != (ssize_t)(len + 4)) {
			s->stats.send_fail++;
			return w < 0 ? -errno : -EAGAIN;
		}
		return 0;
	}
	if (s->udp_fd < 0) {
		s->stats.send_fail++;
		return -ENOTCONN;
	}
	w = sendto(s->udp_fd, buf + 4, len, MSG_DONTWAIT, (const struct sockaddr *)&to->addr, to->len);
	if (w != (ssize_t)len) {
		s->stats.send_fail++;
		return w < 0 ? -errno : -EAGAIN;
	}
	return 0;
}

static void osc_send_error(struct osc_server *s, const struct osc_peer *to, const char *addr,
			   const char *reason)
{
	lo_message m = lo_message_new();

	s->stats.errors++;
	if (!m)
		return;
	lo_message_add_string(m, addr);
	lo_message_add_string(m, reason);
	osc_send(s, to, "/phasorsync/error", m);
	lo_message_free(m);
}

int osc_reply_error(struct osc_req *req, const char *fmt, ...)
{
	char reason[OSC_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	osc_send_error(req->srv, req->from, req->path, reason);
	return 0;
}

static const char *osc_type_name(char t)
{
	switch (t) {
	case 'i': return "int32";
	case 'h': return "int64";
	case 'f': return "float";
	case 'd': return "double";
	case 's': return "string";
	case 'S': return "symbol";
	case 'T': return "true";
	case 'F': return "false";
	case 'b': return "blob";
	case 'N': return "nil";
	default: return "other";
	}
}

int osc_arg_number(struct osc_req *req, int i, const char *what, double min, double max,
		   double *out)
{
	double v;

	if (i >= req->argc) {
		osc_reply_error(req, "missing argument %d (%s): a number from %g to %g", i + 1, what,
				min, max);
		return -EINVAL;
	}
	switch (req->types[i]) {
	case 'i': v = osc_i32(req->argv[i]); break;
	case 'h': v = (double)osc_i64(req->argv[i]); break;
	case 'f': v = osc_f32(req->argv[i]); break;
	case 'd': v = osc_f64(req->argv[i]); break;
	default:
		osc_reply_error(req, "argument %d (%s) is a %s: expected a number (int or float) from "
				"%g to %g", i + 1, what, osc_type_name(req->types[i]), min, max);
		return -EINVAL;
	}
	if (isnan(v) || isinf(v) || v < min || v > max) {
		osc_reply_error(req, "argument %d (%s) = %g: must be from %g to %g", i + 1, what, v,
				min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int osc_arg_bool(struct osc_req *req, int i, const char *what, bool *out)
{
	double v;

	if (i < req->argc && (req->types[i] == 'T' || req->types[i] == 'F')) {
		*out = req->types[i] == 'T';
		return 0;
	}
	if (i < req->argc && (req->types[i] == 's' || req->types[i] == 'S')) {
		osc_reply_error(req, "argument %d (%s) is a string: expected 0 or 1 (int or float) "
				"or true/false", i + 1, what);
		return -EINVAL;
	}
	if (osc_arg_number(req, i, what, 0, 1, &v) < 0)
		return -EINVAL;
	if (v != 0 && v != 1) {
		osc_reply_error(req, "argument %d (%s) = %g: must be 0 or 1", i + 1, what, v);
		return -EINVAL;
	}
	*out = v == 1;
	return 0;
}

int osc_arg_string(struct osc_req *req, int i, const char *what, size_t max, const char **out)
{
	if (i >= req->argc || (req->types[i] != 's' && req->types[i] != 'S')) {
		osc_reply_error(req, "argument %d (%s): expected a string", i + 1, what);
		return -EINVAL;
	}
	if (strlen(osc_str(req->argv[i])) > max) {
		osc_reply_error(req, "argument %d (%s): longer than %zu bytes", i + 1, what, max);
		return -EINVAL;
	}
	*out = osc_str(req->argv[i]);
	return 0;
}

/* The OSC address of a packet, if it is a well-formed NUL-terminated
 * string starting with '/'; NULL otherwise. */
static const char *osc_packet_path(const uint8_t *data, size_t size)
{
	if (size < 4 || data[0] != '/' || !memchr(data, 0, size))
		return NULL;
	return (const char *)data;
}

static void osc_dispatch_message(struct osc_server *s, const struct osc_peer *from, uint8_t *data,
				 size_t size)
{
	const char *path = osc_packet_path(data, size);
	const struct osc_method *m;
	char pathcopy[256];
	lo_message msg;
	int res = 0;

	if (!path) {
		s->stats.malformed++;
		osc_send_error(s, from, "", "not an OSC message (an address starting with '/' expected)");
		return;
	}
	snprintf(pathcopy, sizeof(pathcopy), "%s", path);
	msg = lo_message_deserialise(data, size, &res);
	if (!msg) {
		s->stats.malformed++;
		osc_send_error(s, from, pathcopy, "malformed OSC message (bad type tags or arguments)");
		return;
	}
	for (m = s->methods; m->path; m++) {
		size_t n = strlen(m->path);
		if (m->path[n - 1] == '/' ? !strncmp(pathcopy, m->path, n) : !strcmp(pathcopy, m->path))
			break;
	}
	if (!m->path) {
		osc_send_error(s, from, pathcopy, "unknown address (see docs/osc.md; "
			       "/phasorsync/help lists every address)");
	} else if (lo_message_get_argc(msg) > OSC_MAX_ARGS) {
		osc_send_error(s, from, pathcopy, "too many arguments");
	} else {
		struct osc_req req = {
			.srv = s,
			.from = from,
			.path = pathcopy,
			.types = lo_message_get_types(msg),
			.argv = lo_message_get_argv(msg),
			.argc = lo_message_get_argc(msg),
			.ctx = s->ctx,
		};
		if (!req.types)
			req.types = "";
		s->stats.received++;
		m->fn(&req);
	}
	lo_message_free(msg);
}

static void osc_dispatch_packet(struct osc_server *s, const struct osc_peer *from, uint8_t *data,
				size_t size, int depth)
{
	size_t off = 16;

	if (size < 8 || memcmp(data, "#bundle", 8)) {
		osc_dispatch_message(s, from, data, size);
		return;
	}
	if (depth >= OSC_BUNDLE_DEPTH || size < 16 || size % 4) {
		s->stats.malformed++;
		osc_send_error(s, from, "#bundle", "malformed or too deeply nested bundle");
		return;
	}
	while (off + 4 <= size) {
		uint32_t be, n;
		memcpy(&be, data + off, 4);
		n = ntohl(be);
		off += 4;
		if (n == 0 || n % 4 || n > size - off) {
			s->stats.malformed++;
			osc_send_error(s, from, "#bundle", "bundle element size out of bounds");
			return;
		}
		osc_dispatch_packet(s, from, data + off, n, depth + 1);
		off += n;
	}
}

void osc_server_dispatch(struct osc_server *s, const struct osc_peer *from, uint8_t *data,
			 size_t size)
{
	if (size > OSC_MAX_PACKET) {
		s->stats.oversize++;
		return;
	}
	osc_dispatch_packet(s, from, data, size, 0);
}

static void osc_service_udp(struct osc_server *s, int *count)
{
	uint8_t buf[OSC_MAX_PACKET];

	for (;;) {
		struct osc_peer from = { .len = sizeof(from.addr), .tcp = -1 };
		ssize_t n = recvfrom(s->udp_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from.addr, &from.len);
		if (n < 0)
			return; /* EAGAIN: drained */
		if (!osc_allowed(s, &from.addr)) {
			s->stats.denied++;
			continue;
		}
		if (n > (ssize_t)sizeof(buf)) {
			s->stats.oversize++;
			osc_send_error(s, &from, "", "packet larger than 8192 bytes");
			continue;
		}
		osc_dispatch_packet(s, &from, buf, (size_t)n, 0);
		(*count)++;
	}
}

static void osc_tcp_drop(struct osc_server *s, int i)
{
	close(s->tcp[i].fd);
	s->tcp[i].fd = -1;
	s->tcp[i].have = 0;
}

static void osc_service_accept(struct osc_server *s)
{
	for (;;) {
		struct osc_peer peer = { .len = sizeof(peer.addr) };
		int fd = accept4(s->listen_fd, (struct sockaddr *)&peer.addr, &peer.len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC), i;
		if (fd < 0)
			return;
		if (!osc_allowed(s, &peer.addr)) {
			s->stats.denied++;
			close(fd);
			continue;
		}
		for (i = 0; i < OSC_MAX_TCP_CLIENTS && s->tcp[i].fd >= 0; i++)
			;
		if (i == OSC_MAX_TCP_CLIENTS) {
			close(fd); /* full: refuse rather than starve the others */
			continue;
		}
		peer.tcp = i;
		peer.tcp_gen = ++s->tcp[i].gen;
		s->tcp[i].fd = fd;
		s->tcp[i].peer = peer;
		s->tcp[i].have = 0;
	}
}

static void osc_service_tcp(struct osc_server *s, int i, int *count)
{
	struct osc_tcp_client *c = &s->tcp[i];

	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			osc_tcp_drop(s, i);
			return;
		}
		if (n < 0)
			return;
		c->have += (size_t)n;
		while (c->have >= 4) {
			uint32_t be, len;
			memcpy(&be, c->buf, 4);
			len = ntohl(be);
			if (len > OSC_MAX_PACKET) {
				s->stats.oversize++;
				osc_send_error(s, &c->peer, "", "packet larger than 8192 bytes; closing");
				osc_tcp_drop(s, i);
				return;
			}
			if (c->have < 4 + len)
				break;
			osc_dispatch_packet(s, &c->peer, c->buf + 4, len, 0);
			(*count)++;
			if (c->fd < 0)
				return;
			memmove(c->buf, c->buf + 4 + len, c->have - 4 - len);
			c->have -= 4 + len;
		}
	}
}

int osc_server_service(struct osc_server *s)
{
	int count = 0;

	if (s->udp_fd >= 0)
		osc_service_udp(s, &count);
	if (s->listen_fd >= 0)
		osc_service_accept(s);
	for (int i = 0; i < OSC_MAX_TCP_CLIENTS; i++)
		if (s->tcp[i].fd >= 0)
			osc_service_tcp(s, i, &count);
	return count;
}
