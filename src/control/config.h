/*
 * config.h - the daemon's configuration: an INI file (libinih), every key
 * with a built-in default, every value validated.
 *
 * One table (config.c) describes each key: section, name, type, range or
 * choices, default, help.  Defaults are parsed through the same validators
 * as file values, so a default can never be out of range.  Loading never
 * modifies the caller's config unless the whole file is valid; errors name
 * file:line, the key, the value, and what is allowed.
 */
#ifndef PS_CONTROL_CONFIG_H
#define PS_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/phasorsync/phasorsync.conf"
#define CONFIG_ERR_MAX 512 /* bytes for an error message */

struct config {
	struct {
		int priority; /* SCHED_FIFO priority of the engine thread, 0 = no RT */
		int cpu;      /* CPU to pin the engine thread to, -1 = any */
		bool mlock;   /* lock all memory (mlockall) */
	} rt;
	struct {
		int level;    /* syslog level threshold (LOG_ERR..LOG_DEBUG) */
	} log;
};

/* config_defaults - every key at its built-in default.  Context: non-RT. */
void config_defaults(struct config *c);

/*
 * config_load_file - defaults, then every key of the file at `path`.
 * On success *c is replaced and 0 returned.  On error *c is untouched,
 * `err` holds "PATH:LINE: ..." (or "PATH: ..." when it cannot be read) and
 * -EINVAL (bad content) or -errno (unreadable) is returned.
 * Context: non-RT.
 */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/*
 * config_set - apply one "section.key=value" assignment (command line
 * --set).  On error *c is untouched and `err` explains; returns -EINVAL.
 * Context: non-RT.
 */
int config_set(struct config *c, const char *assignment, char *err, size_t errlen);

/*
 * config_print - write every key with its current value, INI form.
 * Context: non-RT.
 */
void config_print(const struct config *c, FILE *f);

#endif
