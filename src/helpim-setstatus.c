/*
 * helpim-setstatus: reads event lines (helpim-protocol(7)) on stdin, applies
 * them to helpim.rooms in batches with helpim.apply_events() and runs
 * helpim.sweep() about once a second.
 */

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "helpim.h"

#define BATCH		1024	/* events per transaction at most */
#define SWEEP_MS	1000
#define DRAIN_MS	5000	/* after a signal to stop, reading on at most */

enum { P_EVENT, P_AT, P_JID, P_COUNT, P_NICK, P_DETAIL, NPARAM };

struct abuf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

struct ev {
	unsigned long	 lineno;
	const char	*p[NPARAM];
	char		 buf[LINE_MAX_LEN + 1];
};

static struct ev	 batch[BATCH];
static int		 nbatch;
static int		 ndone;		/* applied already: a room was locked */
static PGconn		*db;
static struct conf	 conf;
static char		 dberrbuf[512];
static char		 since[64];	/* started: the rooms seen since */
static volatile sig_atomic_t quit;

static void
usage(void)
{
	fprintf(stderr, "usage: helpim-setstatus [-nqv] [-f file]\n");
	exit(EXIT_PERM);
}

static void
onsignal(int sig)
{
	(void)sig;
	quit = 1;
}

static const char *
dberr(const PGresult *res)
{
	strlcpy(dberrbuf, db_error(db, res), sizeof(dberrbuf));
	return dberrbuf;
}

/* The connection failed: report it and exit (res, if any, freed first). */
static void
lost(PGresult *res)
{
	PQclear(res);
	db_fail(db, NULL, NULL);
}

/* Splits and checks one event line into e; warns and returns -1 if bad. */
static int
parse(const char *line, unsigned long lineno, struct ev *e)
{
	struct event ev;
	const char *why;

	e->lineno = lineno;
	strlcpy(e->buf, line, sizeof(e->buf));
	if ((why = line_event(e->buf, &ev)) != NULL) {
		log_warnx("line %lu: %s, skipped", lineno, why);
		return -1;
	}
	e->p[P_EVENT] = ev.verb;
	e->p[P_AT] = ev.time;
	e->p[P_JID] = ev.room;
	e->p[P_COUNT] = ev.count;
	e->p[P_NICK] = ev.nick;
	e->p[P_DETAIL] = ev.detail;
	return 0;
}

/* Appends s to the array literal in *a, quoted, NULL as NULL. */
static void
arradd(struct abuf *a, const char *s)
{
	size_t need = 4 + (s != NULL ? 2 * strlen(s) : 4);
	char *p;

	if (a->len + need + 2 > a->size) {
		a->size = (a->len + need + 2) * 2;
		if ((a->s = realloc(a->s, a->size)) == NULL)
			log_err(EXIT_TEMP, NULL);
	}
	p = a->s + a->len;
	*p++ = a->len == 0 ? '{' : ',';
	if (s == NULL) {
		memcpy(p, "NULL", 4);
		p += 4;
	} else {
		*p++ = '"';
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p = '\0';
	a->len = p - a->s;
}

/*
 * Events from..to-1 in one statement, so in one transaction.  -1: refused;
 * -2: a room stayed locked (by a webapp transaction) past lock_timeout.
 */
static int
apply(int from, int to)
{
	static struct abuf arr[NPARAM];
	const char *p[NPARAM], *v, *e;
	PGresult *res;
	size_t len;
	int i, k;

	for (k = 0; k < NPARAM; k++) {
		arr[k].len = 0;
		for (i = from; i < to; i++)
			arradd(&arr[k], batch[i].p[k]);
		arr[k].s[arr[k].len++] = '}';
		arr[k].s[arr[k].len] = '\0';
		p[k] = arr[k].s;
	}
	res = PQexecPrepared(db, "apply", NPARAM, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (PQstatus(db) == CONNECTION_BAD)
			lost(res);
		dberr(res);
		k = (v = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL &&
		    strcmp(v, "55P03") == 0;
		PQclear(res);
		return k ? -2 : -1;
	}
	/* {staff_waiting,anomaly,...}: report the anomalies */
	v = PQgetvalue(res, 0, 0) + 1;
	for (i = from; i < to && *v != '\0'; i++, v = e + 1) {
		e = v + strcspn(v, ",}");
		len = e - v;
		if (len == 7 && strncmp(v, "anomaly", 7) == 0)
			log_warnx("line %lu: %s %s: anomaly recorded",
			    batch[i].lineno, batch[i].p[P_EVENT],
			    batch[i].p[P_JID]);
		else
			log_debug("line %lu: %s %s: %.*s", batch[i].lineno,
			    batch[i].p[P_EVENT], batch[i].p[P_JID], (int)len,
			    v);
		if (*e == '\0')
			break;
	}
	PQclear(res);
	return 0;
}

/*
 * Applies the batch; -1 when a locked room holds up the rest of it, to be
 * tried again later, in order.
 */
static int
flush(void)
{
	int i, r;

	if (nbatch == 0)
		return 0;
	if ((r = apply(ndone, nbatch)) == -1) {
		/* one event spoilt the batch: find it, keep the others */
		for (i = ndone; i < nbatch; i++) {
			if ((r = apply(i, i + 1)) == -2)
				break;
			if (r == -1)
				log_warnx("line %lu: %s, skipped",
				    batch[i].lineno, dberrbuf);
			ndone = i + 1;
		}
	}
	if (r == -2) {
		log_warnx("line %lu: %s; trying again", batch[ndone].lineno,
		    dberrbuf);
		return -1;
	}
	nbatch = ndone = 0;
	return 0;
}

static void
sweep(void)
{
	char t[3][32];
	const char *p[5];
	PGresult *res;

	snprintf(t[0], sizeof(t[0]), "%lld ms", conf.staff_claim_timeout);
	snprintf(t[1], sizeof(t[1]), "%lld ms", conf.client_claim_timeout);
	snprintf(t[2], sizeof(t[2]), "%lld ms", conf.linger);
	p[0] = t[0];
	p[1] = t[1];
	p[2] = t[2];
	p[3] = conf.instance;
	p[4] = since;
	res = PQexecPrepared(db, "sweep", 5, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (PQstatus(db) == CONNECTION_BAD)
			lost(res);
		log_warnx("sweep: %s", dberr(res));
	} else if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_info("sweep: %s rooms expired or asked to close",
		    PQgetvalue(res, 0, 0));
	PQclear(res);
}

static void
prepare(const char *name, const char *sql, int n)
{
	PGresult *res;

	res = PQprepare(db, name, sql, n, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (PQstatus(db) == CONNECTION_BAD)
			lost(res);
		db_fail(db, res, " (schema older than version 2? run "
		    "helpim-initdb)");
	}
	PQclear(res);
}

/*
 * The writer of the instance, at the epoch of its lease (helpim-rooms -f
 * took it before the events began): once another instance adopts the
 * rooms, the database refuses what this session writes (helpim.fence).
 * No lease (the pipeline run by hand): no fence.
 */
static void
declare(void)
{
	const char *p[1] = { conf.instance };
	PGresult *res;

	res = PQexecParams(db, "SELECT set_config('helpim.instance', $1, "
	    "false), set_config('helpim.epoch', coalesce((SELECT epoch::text "
	    "FROM helpim.instances WHERE instance = $1), ''), false)", 1, NULL,
	    p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		lost(res);
	if (*PQgetvalue(res, 0, 1) != '\0')
		log_debug("writing for instance '%s', epoch %s", conf.instance,
		    PQgetvalue(res, 0, 1));
	PQclear(res);
}

static int
readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) > 0;
}

/* Waits for input, watching the database meanwhile. */
static void
await(long long ms)
{
	struct pollfd pfd[2];
	PGnotify *nf;

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = PQsocket(db);
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, ms < 0 ? 0 : (int)ms) == -1) {
		if (errno != EINTR)
			log_err(EXIT_TEMP, "poll");
		return;
	}
	if (pfd[1].revents != 0) {
		if (!PQconsumeInput(db) || PQstatus(db) == CONNECTION_BAD)
			lost(NULL);
		while ((nf = PQnotifies(db)) != NULL)
			PQfreemem(nf);
	}
}

int
main(int argc, char *argv[])
{
	struct lread lr;
	PGresult *res;
	const char *file = NULL;
	char *line;
	long long next, stop = 0;
	int ch, check = 0, version = 0;

	while ((ch = getopt(argc, argv, "f:nqv")) != -1)
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'q':
			log_level = LOGLEVEL_QUIET;
			break;
		case 'v':
			log_level = LOGLEVEL_DEBUG;
			break;
		default:
			usage();
		}
	if (argc != optind)
		usage();
	if (conf_load(&conf, conf_path(file), 0) == -1)
		return EXIT_PERM;
	if (check)
		return 0;

	sig_stop(onsignal);

	db = PQconnectdb(conf.db);
	if (PQstatus(db) != CONNECTION_OK)
		lost(NULL);
	/* a room row locked by the webapp must not stop the pipeline */
	res = PQexec(db, "SET lock_timeout = '2s'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		lost(res);
	PQclear(res);
	prepare("apply", "SELECT helpim.apply_events($1, $2, $3, $4, $5, $6)",
	    NPARAM);
	prepare("sweep", "SELECT helpim.sweep($1, $2, $3, $4, $5)", 5);
	/* no claim expires in a room not seen (a snapshot) since now */
	res = PQexec(db, "SELECT now()::text");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		lost(res);
	strlcpy(since, PQgetvalue(res, 0, 0), sizeof(since));
	PQclear(res);

	memset(&lr, 0, sizeof(lr));
	next = line_now_ms();
	for (;;) {
		/* a full batch that is held up is applied before reading on */
		while (nbatch < BATCH && (line = lread_next(&lr)) != NULL) {
			if (!version) {
				version = 1;
				if (strncmp(line, "helpim-events|", 14) == 0) {
					if (strcmp(line, EVENTS_VERSION) != 0)
						log_errx(EXIT_PERM, "line %lu: "
						    "'%.40s' is not supported; "
						    "expected '%s'", lr.lineno,
						    line, EVENTS_VERSION);
					declare();
					continue;
				}
				log_warnx("line %lu: no version line '%s'",
				    lr.lineno, EVENTS_VERSION);
			}
			if (parse(line, lr.lineno, &batch[nbatch]) == 0 &&
			    ++nbatch == BATCH)
				flush();
		}
		if (lr.eof && nbatch < BATCH)
			break;
		/* events still in the pipe are applied before stopping */
		if (quit && stop == 0)
			stop = line_now_ms() + DRAIN_MS;
		if (stop != 0 && line_now_ms() >= stop) {
			log_warnx("stdin still open %d s after the signal to "
			    "stop", DRAIN_MS / 1000);
			break;
		}
		/* commit before waiting for more input */
		if (nbatch == BATCH ||
		    (nbatch > 0 && !readable(STDIN_FILENO)))
			flush();
		if (line_now_ms() >= next) {
			flush();
			sweep();
			next = line_now_ms() + SWEEP_MS;
		}
		if (nbatch == BATCH)
			continue;
		/* (a batch left is held up by a lock: try again soon) */
		if (nbatch == 0 || !readable(STDIN_FILENO)) {
			await((stop != 0 && stop < next ? stop : next) -
			    line_now_ms());
			if (!readable(STDIN_FILENO))
				continue;
		}
		if (lread_fill(&lr, STDIN_FILENO) == -1 && errno != EINTR)
			log_err(EXIT_TEMP, "stdin");
	}
	while (flush() == -1)
		if (quit && (stop == 0 || line_now_ms() >= stop)) {
			log_warnx("%d events not applied: a room stayed locked",
			    nbatch - ndone);
			PQfinish(db);
			return EXIT_TEMP;
		}
	PQfinish(db);
	return 0;
}
