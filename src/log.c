/*
 * Levels for the log on stderr: warnings and errors go through err(3) and
 * warn(3) as "prog: what: why"; these add "prog: info: ..." (silenced by -q)
 * and "prog: debug: ..." (shown with -v), one write(2) per line so that lines
 * of programs sharing a pipe never mix.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpim.h"

int	log_level = LOGLEVEL_INFO;

static void
logv(const char *level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t i;
	int n, k;

	n = snprintf(buf, sizeof(buf), "%s: %s: ", getprogname(), level);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	k = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (k < 0)
		return;
	n += (size_t)k >= sizeof(buf) - n - 1 ? (int)sizeof(buf) - n - 2 : k;
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n++] = '\n';
	(void)write(STDERR_FILENO, buf, n);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOGLEVEL_INFO)
		return;
	va_start(ap, fmt);
	logv("info", fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOGLEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	logv("debug", fmt, ap);
	va_end(ap);
}
