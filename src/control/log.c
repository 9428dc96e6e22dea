/*
 * log.c - leveled logging to stderr, journald-aware (see log.h).
 *
 * Each line is formatted into one buffer and written with one write(2), so
 * lines from different threads never interleave and a journald reader sees
 * one record per line.
 */
#include "control/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/rt.h"

static const char *log_prog = "phasorsyncd"; /* prefix for terminal output */
static _Atomic int log_level = LOG_INFO;      /* threshold */
static bool log_to_journal;                   /* "<N>" prefixes */

static bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *prog)
{
	if (prog)
		log_prog = prog;
	log_to_journal = log_stderr_is_journal();
}

void log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	atomic_store(&log_level, level);
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

bool log_journal(void)
{
	return log_to_journal;
}

const char *log_level_name(int level)
{
	static const char *const names[] = { "emergency", "alert", "critical", "error",
					     "warning", "notice", "info", "debug" };

	return level >= 0 && level <= LOG_DEBUG ? names[level] : "?";
}

void vlogx(int level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	rt_assert_not_rt();
	if (level > atomic_load(&log_level))
		return;
	if (log_to_journal)
		n = snprintf(line, sizeof(line), "<%d>", level);
	else
		n = snprintf(line, sizeof(line), "%s: %s: ", log_prog, log_level_name(level));
	if (n < 0)
		return;
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void logx(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogx(level, fmt, ap);
	va_end(ap);
}
