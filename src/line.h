/* The line protocols of helpim-protocol(7) (line.c). */

#ifndef LINE_H
#define LINE_H

#include <stddef.h>

/*
 * Line protocols (man/helpim-protocol.7): fields separated by '|',
 * free text percent-encoded, at most LINE_MAX_LEN bytes without the newline.
 */
#define LINE_MAX_LEN	8192
#define LINE_FIELDS	16
#define FEED_VERSION	"helpim-feed|1"
#define EVENTS_VERSION	"helpim-events|1"

struct lread {
	char		 buf[LINE_MAX_LEN + 2];
	size_t		 len;		/* bytes in buf */
	size_t		 off;		/* start of the next line in buf */
	unsigned long	 lineno;	/* number of the line last returned */
	int		 toolong;	/* discarding the rest of a long line */
	int		 eof;
};

int	 lread_fill(struct lread *, int);
char	*lread_next(struct lread *);
int	 line_split(char *, char **, int);
int	 line_decode(char *);
size_t	 line_encode(char *, size_t, const char *);
void	 line_lower(char *);
int	 line_count(const char *, int *);

/* One feed line, split and checked in place; pointers into the line. */
#define STATUS_MAX	32	/* bytes of a status name, as in helpim.statuses */
#define FEED_NAMED	2	/* at most: the staff member and the client */
struct feed {
	char	*verb;		/* "watch", "rekey" or "close" */
	char	*room;		/* bare, lower-cased */
	char	*status;	/* watch: an open status */
	char	*password;	/* watch, rekey: decoded, not empty */
	char	*reason;	/* close: decoded, may be empty */
	char	*named[FEED_NAMED]; /* watch: the nicks the database names */
	int	 nnamed;
};

/* One event line, split and checked in place; pointers into the line. */
struct event {
	char	*verb;
	char	*time;
	char	*room;		/* bare, lower-cased */
	char	*count;		/* the chatters, as written */
	int	 chatters;
	char	*nick;		/* join, leave, kick; nick: the old one */
	char	*detail;	/* decoded; NULL when empty; snapshot: the
				   nicks, one a line */
};

const char	*line_feed(char *, struct feed *);
const char	*line_event(char *, struct event *);

#endif
