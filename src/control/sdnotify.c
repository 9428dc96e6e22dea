/*
 * sdnotify.c - sd_notify protocol over $NOTIFY_SOCKET (see sdnotify.h).
 */
#include "control/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sdnotify_open(struct sdnotify *n)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");

	n->fd = -1;
	n->watchdog_ns = 0;
	if (wd && (!wd_pid || strtol(wd_pid, NULL, 10) == getpid()))
		n->watchdog_ns = strtoll(wd, NULL, 10) * 1000;
	if (!sock || (sock[0] != '/' && sock[0] != '@') || strlen(sock) >= sizeof(n->path))
		return 0;
	snprintf(n->path, sizeof(n->path), "%s", sock);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return n->fd < 0 ? -errno : 0;
}

int sdnotify_send(struct sdnotify *n, const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(n->path);
	socklen_t salen;

	if (n->fd < 0)
		return 0;
	memcpy(sa.sun_path, n->path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		return -errno;
	return 0;
}

void sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

int sdnotify_watchdog(const struct sdnotify *n, int64_t now_ns, int64_t *last_ns,
		      uint64_t iter, uint64_t *last_iter)
{
	int r;

	if (n->watchdog_ns <= 0 || now_ns - *last_ns < n->watchdog_ns / 2)
		return 0;
	r = iter != *last_iter ? 1 : -1;
	if (r == 1)
		*last_ns = now_ns;
	*last_iter = iter;
	return r;
}
