/*
 * Shared declarations: configuration (conf.c), line protocols (line.c),
 * stanzas (stanza.c), log lines (log.c), PostgreSQL errors (db.c).
 */

#ifndef HELPIM_H
#define HELPIM_H

#include <stddef.h>
#include <limits.h>

/* Exit codes, as in every EXIT STATUS section. */
#define EXIT_NO		1	/* a negative answer */
#define EXIT_PERM	100	/* permanent failure: do not restart */
#define EXIT_TEMP	111	/* temporary failure: restart me */

#define CONF_DEFAULT	"/etc/helpim/helpim.conf"

enum { TLS_REQUIRED, TLS_OFF };

struct conf {
	char	 path[PATH_MAX];
	char	 jid[1024];
	char	 password[1024];	/* secret; filled only with CONF_SECRET */
	char	 password_file[PATH_MAX];
	char	 resource[256];
	char	 nick[256];
	char	 server[256];
	int	 port;
	int	 tls;
	char	 cafile[PATH_MAX];
	char	 muc_domain[256];
	char	 room_prefix[64];
	int	 pool_size;
	int	 max_rooms;
	int	 max_chatters;
	int	 history_length;
	char	 db[1024];
	char	 instance[64];
	char	 jid_hash_key_file[PATH_MAX];
	/* timers, in milliseconds */
	long long grace;
	long long staff_claim_timeout;
	long long client_claim_timeout;
	long long linger;
	long long refill_interval;
	long long retention;
	long long lease;
};

#define CONF_SECRET	0x1	/* read the XMPP password (inline or from its file) */
#define KEY_MIN_LEN	16	/* characters of a JID hash key */

const char	*conf_path(const char *);
int		 conf_opt(int, const char **, int *);
int		 conf_load(struct conf *, const char *, int);
void		 conf_clear(struct conf *);
int		 conf_duration(const char *, long long *);
int		 conf_key(const struct conf *, char *, size_t);

/* jidhash.c: the keyed hash of a real JID, "" without a key (helpim-watch) */
int		 jidhash_init(const struct conf *);
const char	*jidhash(const char *);

#ifdef __LIBSTROPHE_STROPHE_H__
/* stanza.c: for the programs that speak XMPP; include <strophe.h> first. */
extern int	 st_sock;	/* the socket, once st_on_sockopt has run */
extern const xmpp_mem_t st_mem;	/* for xmpp_ctx_new: clears what it frees */
const char	*st_condition(xmpp_stanza_t *);
int		 st_has_code(xmpp_stanza_t *, const char *);
xmpp_stanza_t	*st_tag(xmpp_ctx_t *, const char *, const char *);
xmpp_stanza_t	*st_add(xmpp_stanza_t *, xmpp_stanza_t *);
void		 st_add_text(xmpp_ctx_t *, xmpp_stanza_t *, const char *,
		    const char *);
xmpp_stanza_t	*st_iq_query(xmpp_ctx_t *, const char *, const char *,
		    const char *, const char *, xmpp_stanza_t **);
void		 st_add_field(xmpp_ctx_t *, xmpp_stanza_t *, const char *,
		    const char *);
xmpp_stanza_t	*st_join(xmpp_ctx_t *, const char *, const char *);
void		 st_send(xmpp_conn_t *, xmpp_stanza_t *);
int		 st_on_sockopt(xmpp_conn_t *, void *);
int		 st_login_refused(const char *);
#endif

/*
 * Line protocols (man/helpim-protocol.7): fields separated by '|',
 * free text percent-encoded, at most LINE_MAX_LEN bytes without the newline.
 */
#define LINE_MAX_LEN	8192
#define LINE_FIELDS	16
#define FEED_VERSION	"helpim-feed|1"
#define EVENTS_VERSION	"helpim-events|1"
#define TIME_LEN	sizeof("2026-01-01T00:00:00.000Z")

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
void	 line_time(char *, size_t);
long long line_now_ms(void);
long long line_epoch_ms(void);
void	 line_lower(char *);
int	 line_count(const char *, int *);

/* One feed line, split and checked in place; pointers into the line. */
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

/* PostgreSQL (db.c); the types of libpq-fe.h, declared here without it. */
struct pg_conn;
struct pg_result;

const char	*db_error(struct pg_conn *, const struct pg_result *);
int		 db_exitcode(struct pg_conn *, const struct pg_result *);
int		 db_retryable(const struct pg_result *);
void		 db_exit(struct pg_conn *, struct pg_result *, int,
		    const char *) __attribute__((__noreturn__));
void		 db_fail(struct pg_conn *, struct pg_result *, const char *)
		    __attribute__((__noreturn__));
struct pg_conn	*db_open(const char *);

#endif
