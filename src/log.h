/* Exit codes, log lines and the signal policy (log.c). */

#ifndef LOG_H
#define LOG_H

/* What does not return, in OpenBSD's spelling. */
#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

/* Exit codes, as in every EXIT STATUS section. */
#define EXIT_NO		1	/* a negative answer */
#define EXIT_PERM	100	/* permanent failure: do not restart */
#define EXIT_TEMP	111	/* temporary failure: restart me */

/* Log levels (log.c): -q lowers the level to QUIET, -v raises it to DEBUG. */
#define LOGLEVEL_QUIET	1
#define LOGLEVEL_INFO	2
#define LOGLEVEL_DEBUG	3

/* Like err(3) and warn(3), with the level after the program's name. */
#define LOG_PRINTF(f)	__attribute__((__format__(__printf__, f, f + 1)))
extern int	 log_level;
void	 log_err(int, const char *, ...) LOG_PRINTF(2)
	    __attribute__((__noreturn__));
void	 log_errx(int, const char *, ...) LOG_PRINTF(2)
	    __attribute__((__noreturn__));
void	 log_error(const char *, ...) LOG_PRINTF(1);
void	 log_errorx(const char *, ...) LOG_PRINTF(1);
void	 log_warn(const char *, ...) LOG_PRINTF(1);
void	 log_warnx(const char *, ...) LOG_PRINTF(1);
void	 log_info(const char *, ...) LOG_PRINTF(1);
void	 log_debug(const char *, ...) LOG_PRINTF(1);
int	 log_renamed(int, int);
/* The signals that stop a program, one policy for all (log.c). */
void	 sig_stop(void (*)(int));

#endif
