/* The line protocols of helpim-protocol(7): reading, splitting, encoding. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "line.h"
#include "log.h"

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
		/* a writer cut off mid-line: what came is no record */
		if (nl == NULL && !lr->toolong) {
			log_warnx("line %lu: unfinished at end of input, "
			    "dropped", lr->lineno);
			continue;
		}
		if (lr->toolong) {
			lr->toolong = 0;
			log_warnx("line %lu: longer than %d bytes, skipped",
			    lr->lineno, LINE_MAX_LEN);
			continue;
		}
		if (n > LINE_MAX_LEN) {
			log_warnx("line %lu: longer than %d bytes, skipped",
			    lr->lineno, LINE_MAX_LEN);
			continue;
		}
		if (memchr(line, '\0', n) != NULL) {
			log_warnx("line %lu: NUL byte, skipped", lr->lineno);
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

/* Cuts the next '|'-separated field off *sp. */
static char *
field(char **sp)
{
	char *f = *sp, *e;

	if ((e = strchr(f, '|')) != NULL) {
		*e = '\0';
		*sp = e + 1;
	} else
		*sp = f + strlen(f);
	return f;
}

static int
nfields(const char *s)
{
	int n = 1;

	while ((s = strchr(s, '|')) != NULL)
		n++, s++;
	return n;
}

/*
 * Well-formed UTF-8: no stray or missing continuation byte, no overlong
 * form, no surrogate, nothing past U+10FFFF.  The database refuses the rest.
 */
static int
utf8(const char *p)
{
	static const unsigned int least[] = { 0, 0x80, 0x800, 0x10000 };
	const unsigned char *s = (const unsigned char *)p;
	unsigned int c;
	int i, n;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0)
			n = 1, c = *s & 0x1f;
		else if ((*s & 0xf0) == 0xe0)
			n = 2, c = *s & 0x0f;
		else if ((*s & 0xf8) == 0xf0)
			n = 3, c = *s & 0x07;
		else
			return -1;
		for (i = 0, s++; i < n; i++, s++) {
			if ((*s & 0xc0) != 0x80)
				return -1;
			c = c << 6 | (*s & 0x3f);
		}
		if (c < least[n] || (c >= 0xd800 && c <= 0xdfff) ||
		    c > 0x10ffff)
			return -1;
	}
	return 0;
}

/* A bare JID with a local part, lower-cased in place. */
static int
room_jid(char *s)
{
	char *p, *at;

	if ((at = strchr(s, '@')) == NULL || at == s || at[1] == '\0' ||
	    strlen(s) >= 3072 || utf8(s) == -1)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '/')
			return -1;
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	}
	return 0;
}

/* 2026-11-25T13:37:00.123Z, and a date that exists */
static int
valid_time(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm tm, back;
	time_t t;
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return -1;
	for (i = 0; pat[i] != '\0'; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    s[i] != pat[i])
			return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6 ||
	    tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	back = tm;
	if ((t = timegm(&tm)) == -1 || gmtime_r(&t, &tm) == NULL)
		return -1;
	return tm.tm_year == back.tm_year && tm.tm_mon == back.tm_mon &&
	    tm.tm_mday == back.tm_mday && tm.tm_hour == back.tm_hour &&
	    tm.tm_min == back.tm_min && tm.tm_sec == back.tm_sec ? 0 : -1;
}

/*
 * A status is a name of helpim.statuses: the database judges which, the
 * line only says it looks like one.
 */
static int
status_name(const char *s)
{
	size_t n;

	n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
	return n > 0 && n <= STATUS_MAX && s[n] == '\0' ? 0 : -1;
}

/* Decodes a free-text field; an empty one gives NULL when allowed. */
static int
text(char *s, char **out, int empty)
{
	if (line_decode(s) == -1 || utf8(s) == -1)
		return -1;
	if (*s == '\0') {
		*out = NULL;
		return empty ? 0 : -1;
	}
	*out = s;
	return 0;
}

/* Returns NULL, or why the line is refused. */
const char *
line_feed(char *s, struct feed *fd)
{
	static char why[80];
	int nf;

	memset(fd, 0, sizeof(*fd));
	nf = nfields(s);
	fd->verb = field(&s);
	if (strcmp(fd->verb, "watch") != 0 && strcmp(fd->verb, "close") != 0 &&
	    strcmp(fd->verb, "rekey") != 0) {
		snprintf(why, sizeof(why), "unknown verb '%.40s'", fd->verb);
		return why;
	}
	if (fd->verb[0] == 'w' ? nf < 4 || nf > 4 + FEED_NAMED : nf != 3) {
		snprintf(why, sizeof(why), "%s: wrong number of fields",
		    fd->verb);
		return why;
	}
	fd->room = field(&s);
	if (fd->verb[0] == 'c') {
		fd->reason = field(&s);
		if (room_jid(fd->room) == -1 || line_decode(fd->reason) == -1)
			return "bad close line";
		return NULL;
	}
	if (room_jid(fd->room) == -1)
		return "bad room JID";
	if (fd->verb[0] == 'r') {
		fd->password = field(&s);
		if (line_decode(fd->password) == -1 || fd->password[0] == '\0')
			return "bad password";
		return NULL;
	}
	fd->status = field(&s);
	if (status_name(fd->status) == -1) {
		snprintf(why, sizeof(why), "bad status '%.40s'", fd->status);
		return why;
	}
	fd->password = field(&s);
	if (line_decode(fd->password) == -1 || fd->password[0] == '\0')
		return "bad password";
	/* the chatters the database names: nobody else is kept */
	for (fd->nnamed = 0; fd->nnamed < nf - 4; fd->nnamed++) {
		fd->named[fd->nnamed] = field(&s);
		if (line_decode(fd->named[fd->nnamed]) == -1 ||
		    fd->named[fd->nnamed][0] == '\0')
			return "bad nick";
	}
	return NULL;
}

/* Returns NULL, or why the line is refused ("VERB: what"). */
const char *
line_event(char *s, struct event *e)
{
	static char why[80];
	const char *what = "bad field";
	char *f, *d;
	size_t len;
	int i, nf, want;

	memset(e, 0, sizeof(*e));
	nf = nfields(s);
	e->verb = field(&s);
	if (strcmp(e->verb, "snapshot") == 0)
		want = nf >= 4 ? nf : 4;
	else if (strcmp(e->verb, "join") == 0 ||
	    strcmp(e->verb, "leave") == 0 || strcmp(e->verb, "nick") == 0 ||
	    strcmp(e->verb, "kick") == 0)
		want = 6;
	else if (strcmp(e->verb, "destroyed") == 0 ||
	    strcmp(e->verb, "gone") == 0)
		want = 5;
	else if (strcmp(e->verb, "rekeyed") == 0)
		want = 4;
	else {
		snprintf(why, sizeof(why), "unknown verb '%.32s'", e->verb);
		return why;
	}
	if (nf != want) {
		snprintf(why, sizeof(why), "%s: %d fields instead of %d",
		    e->verb, nf, want);
		return why;
	}
	e->time = field(&s);
	e->room = field(&s);
	e->count = field(&s);
	if (valid_time(e->time) == -1)
		what = "bad time";
	else if (room_jid(e->room) == -1)
		what = "bad room JID";
	else if (line_count(e->count, &e->chatters) == -1)
		what = "bad number of chatters";
	else if (e->verb[0] == 's') {
		/* the nicks, decoded, one a line; nicks never hold a newline */
		for (i = 4, d = s; i < nf; i++) {
			f = field(&s);
			if (line_decode(f) == -1 || *f == '\0' ||
			    strchr(f, '\n') != NULL || utf8(f) == -1) {
				what = "bad nick";
				goto bad;
			}
			if (e->detail == NULL)
				e->detail = d;
			len = strlen(f);
			memmove(d, f, len);
			d += len;
			*d++ = '\n';
		}
		if (e->detail != NULL)
			d[-1] = '\0';
		return NULL;
	} else if (want == 4)
		return NULL;
	else if (want == 5) {
		if (text(field(&s), &e->detail, 1) == 0)
			return NULL;
	} else if (text(field(&s), &e->nick, 0) == -1)
		what = "bad nick";
	/* a join's real JID and a kick's reason may be empty */
	else if (text(field(&s), &e->detail, strcmp(e->verb, "join") == 0 ||
	    strcmp(e->verb, "kick") == 0) == 0)
		return NULL;
bad:
	snprintf(why, sizeof(why), "%s: %s", e->verb, what);
	return why;
}
