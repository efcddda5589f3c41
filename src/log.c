/*
 * The log on stderr: one line per message, "prog: level: what[: why]", the
 * level one of error, warning, info (silenced by -q) and debug (shown with
 * -v).  One write(2) per line, so that lines of programs sharing a pipe never
 * mix; control characters become '?', so that no text from outside can forge
 * a line.  Also the one signal policy of the suite.
 */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int	log_level = LOGLEVEL_INFO;

/* errnum: the errno to append, or -1 */
static void
logv(const char *level, int errnum, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t i, n, room;
	int k;

	k = snprintf(buf, sizeof(buf), "%s: %s: ", getprogname(), level);
	if (k < 0 || (size_t)k >= sizeof(buf))
		return;
	n = k;
	room = sizeof(buf) - 1;		/* the newline */
	if (fmt != NULL && (k = vsnprintf(buf + n, room - n, fmt, ap)) > 0)
		n += (size_t)k < room - n ? (size_t)k : room - n - 1;
	if (errnum >= 0 && (k = snprintf(buf + n, room - n, "%s%s",
	    fmt != NULL ? ": " : "", strerror(errnum))) > 0)
		n += (size_t)k < room - n ? (size_t)k : room - n - 1;
	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n++] = '\n';
	(void)write(STDERR_FILENO, buf, n);
}

#define LOG(level, errnum) do {			\
	va_list ap;				\
	va_start(ap, fmt);			\
	logv(level, errnum, fmt, ap);		\
	va_end(ap);				\
} while (0)

void
log_err(int code, const char *fmt, ...)
{
	int e = errno;

	LOG("error", e);
	exit(code);
}

void
log_errx(int code, const char *fmt, ...)
{
	LOG("error", -1);
	exit(code);
}

/* log_error, log_errorx, log_warn, log_warnx: with errno's text or without */
#define LOGFN(name, level, witherrno)		\
void						\
name(const char *fmt, ...)			\
{						\
	int e = errno;				\
						\
	LOG(level, witherrno ? e : -1);		\
}
LOGFN(log_error, "error", 1)
LOGFN(log_errorx, "error", 0)
LOGFN(log_warn, "warning", 1)
LOGFN(log_warnx, "warning", 0)

void
log_info(const char *fmt, ...)
{
	if (log_level >= LOGLEVEL_INFO)
		LOG("info", -1);
}

void
log_debug(const char *fmt, ...)
{
	if (log_level >= LOGLEVEL_DEBUG)
		LOG("debug", -1);
}

/* A flag's old letter, kept for one release: warns, returns the new one. */
int
log_renamed(int old, int new)
{
	log_warnx("-%c is now -%c; -%c goes in the next release", old, new,
	    old);
	return new;
}

/*
 * SIGHUP, SIGINT and SIGTERM all ask for a clean stop: fn sets a flag that
 * the program's loop acts on (leave the rooms, finish the transaction).
 * SIGPIPE is ignored: the failed write says it.
 */
void
sig_stop(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = fn;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
