/* The line protocols of helpim-protocol(7): reading, splitting, encoding. */

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpim.h"

int
lread_fill(struct lread *lr, int fd)
{
	ssize_t n;

	if (lr->off > 0) {
		memmove(lr->buf, lr->buf + lr->off, lr->len - lr->off);
		lr->len -= lr->off;
		lr->off = 0;
	}
	if (lr->len == sizeof(lr->buf) - 1) {
		/* no newline in a full buffer: drop it, skip to the next one */
		lr->toolong = 1;
		lr->len = 0;
	}
	n = read(fd, lr->buf + lr->len, sizeof(lr->buf) - 1 - lr->len);
	if (n == 0)
		lr->eof = 1;
	if (n > 0)
		lr->len += n;
	return n;
}

char *
lread_next(struct lread *lr)
{
	char *line, *nl;
	size_t n;

	while (lr->off < lr->len) {
		line = lr->buf + lr->off;
		n = lr->len - lr->off;
		if ((nl = memchr(line, '\n', n)) != NULL)
			n = nl - line;
		else if (!lr->eof)
			return NULL;
		lr->off += n + (nl != NULL);
		line[n] = '\0';
		lr->lineno++;
		if (lr->toolong) {
			lr->toolong = 0;
			warnx("line %lu: longer than %d bytes, skipped",
			    lr->lineno, LINE_MAX_LEN);
			continue;
		}
		if (n > LINE_MAX_LEN) {
			warnx("line %lu: longer than %d bytes, skipped",
			    lr->lineno, LINE_MAX_LEN);
			continue;
		}
		if (memchr(line, '\0', n) != NULL) {
			warnx("line %lu: NUL byte, skipped", lr->lineno);
			continue;
		}
		return line;
	}
	return NULL;
}

int
line_split(char *s, char **f, int max)
{
	int n;

	for (n = 0; n < max; n++) {
		f[n] = s;
		if ((s = strchr(s, '|')) == NULL)
			return n + 1;
		*s++ = '\0';
	}
	return -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
line_decode(char *s)
{
	char *d = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return -1;
		if (*s != '%') {
			*d++ = *s;
			continue;
		}
		if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1;
		*d++ = hi << 4 | lo;
		s += 2;
	}
	*d = '\0';
	return 0;
}

/* Like strlcpy: returns the length of the whole encoding; never splits one. */
size_t
line_encode(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)src;
	size_t n = 0, w;

	for (; *s != '\0'; s++) {
		w = (*s == '%' || *s == '|' || *s < 0x20 || *s == 0x7f) ? 3 : 1;
		if (n + w < size) {
			if (w == 1)
				dst[n] = *s;
			else {
				dst[n] = '%';
				dst[n + 1] = hex[*s >> 4];
				dst[n + 2] = hex[*s & 0xf];
			}
		} else if (size > 0)
			size = 0, dst[n] = '\0';
		n += w;
	}
	if (size > 0)
		dst[n] = '\0';
	return n;
}

void
line_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Milliseconds of a clock that never jumps: for timers. */
long long
line_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ASCII only: room JIDs are nodeprep'd, and nicks are never folded. */
void
line_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

int
line_count(const char *s, int *n)
{
	const char *e;

	if (!isdigit((unsigned char)*s))
		return -1;
	*n = strtonum(s, 0, 100000, &e);
	return e == NULL ? 0 : -1;
}
