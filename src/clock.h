/* Clocks (clock.c): the time of an event line, and milliseconds. */

#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>

#define TIME_LEN	sizeof("2026-01-01T00:00:00.000Z")

void		 clock_stamp(char *, size_t);
long long	 clock_ms(void);	/* a clock that never jumps: timers */
long long	 clock_epoch_ms(void);	/* since the epoch: across processes */

#endif
