/*
 * helpim-setstatus: reads event lines (helpim-protocol(7)) on stdin, applies
 * them to helpim.rooms in batches with helpim.apply_events() and runs
 * helpim.sweep() about once a second.  The events of a room that another
 * transaction holds up wait, in order, while those of the others go on.
 */

#include <sys/queue.h>
#include <sys/tree.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "clock.h"
#include "conf.h"
#include "db.h"
#include "line.h"
#include "log.h"

#define BATCH		1024	/* events per statement at most */
#define SWEEP_MS	1000
#define DRAIN_MS	5000	/* after a signal to stop, reading on at most */
#define RETRY_MS	100	/* a held-up room is tried again after this, */
#define RETRY_MAX_MS	1000	/* doubling up to this */
#define SPLIT_MS	1000	/* trying rooms one by one, at most this long */
#define QUEUE_MAX	(16 << 20)	/* bytes of events in memory at most */

enum { P_EVENT, P_AT, P_JID, P_COUNT, P_NICK, P_DETAIL, NPARAM };

struct abuf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

struct ev {
	TAILQ_ENTRY(ev)	 entry;		/* in ready, while its room is */
	TAILQ_ENTRY(ev)	 bentry;	/* in its backlog's evs */
	struct backlog	*backlog;
	unsigned long	 lineno;
	size_t		 size;
	const char	*p[NPARAM];
	char		 buf[];
};

TAILQ_HEAD(evq, ev);

/* A room's backlog: its events not applied yet, in order. */
struct backlog {
	RB_ENTRY(backlog) entry;
	const char	*jid;
	struct evq	 evs;		/* its events, in order */
	int		 nev;
	long long	 retry;		/* held up: try again then; else 0 */
	long long	 backoff;
	long long	 held_since;
	int		 mark;
};

static int	 backlogcmp(const struct backlog *, const struct backlog *);
RB_HEAD(backlogs, backlog);
RB_PROTOTYPE(backlogs, backlog, entry, backlogcmp)
RB_GENERATE(backlogs, backlog, entry, backlogcmp)

static struct backlogs	 backlogs = RB_INITIALIZER(&backlogs);
static struct evq	 ready = TAILQ_HEAD_INITIALIZER(ready);
static int		 nready;	/* events of rooms not held up */
static int		 nqueued;	/* all the events not applied */
static int		 nheld;		/* rooms held up */
static size_t		 qbytes;	/* the memory they take */
static struct ev	*batch[BATCH];
static struct backlog	*split[BATCH];
static PGconn		*db;
static struct conf	 conf;
static struct lread	 lr;
static int		 version;	/* the version line was read */
static char		 dberrbuf[512];
static char		 since[64];	/* started: the rooms seen since */
static volatile sig_atomic_t quit;

static __dead void
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

static int
backlogcmp(const struct backlog *a, const struct backlog *b)
{
	return strcmp(a->jid, b->jid);
}

static const char *
dberr(const PGresult *res)
{
	strlcpy(dberrbuf, db_error(db, res), sizeof(dberrbuf));
	return dberrbuf;
}

/* The connection failed: report it and exit (res, if any, freed first). */
static __dead void
lost(PGresult *res)
{
	PQclear(res);
	db_fail(db, NULL, NULL);
}

/*
 * An error that waiting will not mend: exit so that helpim-run restarts the
 * pipeline and the snapshots of the new helpim-watch bring the rooms up to
 * date; the events not applied are not skipped, they are superseded.
 */
static void
fail(PGresult *res)
{
	static char hint[80];

	snprintf(hint, sizeof(hint), "; %d event%s not applied, exiting for a "
	    "restart", nqueued, nqueued == 1 ? "" : "s");
	db_exit(db, res, EXIT_TEMP, hint);
}

static void
account(size_t n)
{
	if (qbytes + n > QUEUE_MAX) {
		PQfinish(db);
		log_errx(EXIT_TEMP, "line %lu: %d events wait, and no more "
		    "fit in %d MB; exiting for a restart", lr.lineno, nqueued,
		    QUEUE_MAX >> 20);
	}
	qbytes += n;
}

static struct backlog *
backlog_get(const char *jid)
{
	struct backlog key, *b;
	size_t len;

	key.jid = jid;
	if ((b = RB_FIND(backlogs, &backlogs, &key)) != NULL)
		return b;
	len = strlen(jid) + 1;
	account(sizeof(*b) + len);
	if ((b = calloc(1, sizeof(*b) + len)) == NULL)
		log_err(EXIT_TEMP, NULL);
	memcpy(b + 1, jid, len);
	b->jid = (const char *)(b + 1);
	TAILQ_INIT(&b->evs);
	RB_INSERT(backlogs, &backlogs, b);
	return b;
}

/* Splits and checks one event line and queues it; warns if it is bad. */
static void
enqueue(const char *line, unsigned long lineno)
{
	struct event ev;
	struct ev *e;
	const char *why;
	size_t len;

	len = strlen(line) + 1;
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		log_err(EXIT_TEMP, NULL);
	memcpy(e->buf, line, len);
	if ((why = line_event(e->buf, &ev)) != NULL) {
		log_warnx("line %lu: %s, skipped", lineno, why);
		free(e);
		return;
	}
	e->lineno = lineno;
	e->size = sizeof(*e) + len;
	account(e->size);
	e->p[P_EVENT] = ev.verb;
	e->p[P_AT] = ev.time;
	e->p[P_JID] = ev.room;
	e->p[P_COUNT] = ev.count;
	e->p[P_NICK] = ev.nick;
	e->p[P_DETAIL] = ev.detail;
	e->backlog = backlog_get(ev.room);
	TAILQ_INSERT_TAIL(&e->backlog->evs, e, bentry);
	e->backlog->nev++;
	nqueued++;
	if (e->backlog->retry == 0) {
		TAILQ_INSERT_TAIL(&ready, e, entry);
		nready++;
	}
}

/* An event applied: out of the queue, and its room too when it was the last. */
static void
dequeue(struct ev *e)
{
	struct backlog *b = e->backlog;

	TAILQ_REMOVE(&b->evs, e, bentry);
	if (b->retry == 0) {
		TAILQ_REMOVE(&ready, e, entry);
		nready--;
	}
	nqueued--;
	qbytes -= e->size;
	free(e);
	if (--b->nev == 0) {
		RB_REMOVE(backlogs, &backlogs, b);
		qbytes -= sizeof(*b) + strlen(b->jid) + 1;
		free(b);
	}
}

/* The events of b wait, in order, and are tried again later. */
static void
hold(struct backlog *b, const char *why)
{
	struct ev *e;
	long long now = clock_ms();

	if (b->retry != 0) {
		if ((b->backoff *= 2) > RETRY_MAX_MS)
			b->backoff = RETRY_MAX_MS;
		b->retry = now + b->backoff;
		return;
	}
	TAILQ_FOREACH(e, &b->evs, bentry)
		TAILQ_REMOVE(&ready, e, entry);
	nready -= b->nev;
	nheld++;
	b->held_since = now;
	b->backoff = RETRY_MS;
	b->retry = now + b->backoff;
	log_warnx("line %lu: %s: %s; the room's events wait",
	    TAILQ_FIRST(&b->evs)->lineno, b->jid, why);
}

/* A held-up room goes on: its events join the others. */
static void
release(struct backlog *b)
{
	struct ev *e;

	if (b->retry == 0)
		return;
	log_info("%s: the events that waited are applied, after %lld ms",
	    b->jid, clock_ms() - b->held_since);
	/* the order among rooms does not matter, within a room it does */
	TAILQ_FOREACH(e, &b->evs, bentry)
		TAILQ_INSERT_TAIL(&ready, e, entry);
	nready += b->nev;
	nheld--;
	b->retry = 0;
}

/* When the first held-up room is due: LLONG_MAX if none is. */
static long long
due(void)
{
	struct backlog *b;
	long long t = LLONG_MAX;

	if (nheld > 0)
		RB_FOREACH(b, backlogs, &backlogs)
			if (b->retry != 0 && b->retry < t)
				t = b->retry;
	return t;
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

/* Closes the array literal in *a (not empty); the next arradd starts anew. */
static const char *
arrend(struct abuf *a)
{
	a->s[a->len++] = '}';
	a->s[a->len] = '\0';
	a->len = 0;
	return a->s;
}

/*
 * 0 when res is as want says (the caller clears it); else res is cleared,
 * the transaction rolled back and -1 returned for an error that may pass
 * (in dberrbuf).  Any other error ends the program.
 */
static int
done(PGresult *res, ExecStatusType want)
{
	const char *why;

	if (PQresultStatus(res) == want)
		return 0;
	if (PQstatus(db) == CONNECTION_BAD || !db_retryable(res))
		fail(res);
	if ((why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) != NULL)
		strlcpy(dberrbuf, why, sizeof(dberrbuf));
	else
		dberr(res);
	PQclear(res);
	if (PQtransactionStatus(db) != PQTRANS_IDLE) {
		res = PQexec(db, "ROLLBACK");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail(res);
		PQclear(res);
	}
	return -1;
}

/* BEGIN or COMMIT: done() for a command whose result says nothing more. */
static int
command(const char *sql)
{
	PGresult *res = PQexec(db, sql);

	if (done(res, PGRES_COMMAND_OK) == -1)
		return -1;
	PQclear(res);
	return 0;
}

/* Reports what the batch's events did, from the array of outcomes v. */
static void
outcomes(const char *v, int n)
{
	const char *e;
	size_t len;
	int i;

	/* {staff_waiting,anomaly,...}: report the anomalies */
	v++;
	for (i = 0; i < n && *v != '\0'; i++, v = e + 1) {
		e = v + strcspn(v, ",}");
		len = e - v;
		if (len == 7 && strncmp(v, "anomaly", 7) == 0)
			log_warnx("line %lu: %s %s: anomaly recorded",
			    batch[i]->lineno, batch[i]->p[P_EVENT],
			    batch[i]->p[P_JID]);
		else
			log_debug("line %lu: %s %s: %.*s", batch[i]->lineno,
			    batch[i]->p[P_EVENT], batch[i]->p[P_JID], (int)len,
			    v);
		if (*e == '\0')
			break;
	}
}

/*
 * Begins a transaction and finds the rooms of batch[0..n-1] that another
 * transaction holds locked, without waiting for them: they are held up and
 * their events taken out of batch[].  The events left, or -1 for an error
 * that may pass.
 */
static int
unlocked(int n)
{
	static struct abuf jids;
	const char *p[1];
	struct backlog key, *b;
	PGresult *res;
	int i, k;

	for (i = 0; i < n; i++)
		batch[i]->backlog->mark = 0;
	for (i = 0; i < n; i++)
		if (!batch[i]->backlog->mark) {
			batch[i]->backlog->mark = 1;
			arradd(&jids, batch[i]->p[P_JID]);
		}
	p[0] = arrend(&jids);
	if (command("BEGIN") == -1)
		return -1;
	res = PQexecPrepared(db, "busy", 1, p, NULL, NULL, 0);
	if (done(res, PGRES_TUPLES_OK) == -1)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		key.jid = PQgetvalue(res, i, 0);
		b = RB_FIND(backlogs, &backlogs, &key);
		if (b != NULL && b->mark) {
			hold(b, "locked by another transaction");
			b->mark = 0;
		}
	}
	PQclear(res);
	for (i = k = 0; i < n; i++)
		if (batch[i]->backlog->mark)
			batch[k++] = batch[i];
	return k;
}

/*
 * Applies batch[0..n-1] with one statement; with check, after unlocked()
 * and in its transaction.  0, or -1 for an error that may pass: nothing was
 * applied.
 */
static int
run(int n, int check)
{
	static struct abuf arr[NPARAM];
	const char *p[NPARAM];
	PGresult *res;
	int i, k;

	if (check && (n = unlocked(n)) == -1)
		return -1;
	if (n > 0) {
		for (k = 0; k < NPARAM; k++) {
			for (i = 0; i < n; i++)
				arradd(&arr[k], batch[i]->p[k]);
			p[k] = arrend(&arr[k]);
		}
		res = PQexecPrepared(db, "apply", NPARAM, p, NULL, NULL, 0);
		if (done(res, PGRES_TUPLES_OK) == -1)
			return -1;
		outcomes(PQgetvalue(res, 0, 0), n);
		PQclear(res);
	}
	if (check && command("COMMIT") == -1)
		return -1;
	for (i = 0; i < n; i++)
		release(batch[i]->backlog);
	for (i = 0; i < n; i++)
		dequeue(batch[i]);
	return 0;
}

/* Fills batch[] with the first events of b, or of the rooms not held up. */
static int
pick(struct backlog *b)
{
	struct ev *e;
	int n = 0;

	if (b != NULL)
		TAILQ_FOREACH(e, &b->evs, bentry) {
			batch[n++] = e;
			if (n == BATCH)
				break;
		}
	else
		TAILQ_FOREACH(e, &ready, entry) {
			batch[n++] = e;
			if (n == BATCH)
				break;
		}
	return n;
}

static void intake(void);

/*
 * Tries again the held-up rooms whose time has come, each alone, then
 * applies the events of the others in one statement.  If that fails for a
 * reason that may pass, their rooms are tried one by one for a while: those
 * that fail again are held up, those not tried stay for the next time.
 * Input is read on meanwhile.
 */
static void
flush(void)
{
	struct backlog *b, *first;
	long long end, now;
	int i, k, n;

	end = clock_ms() + SPLIT_MS;
	while (nheld > 0 && (now = clock_ms()) < end) {
		first = NULL;
		RB_FOREACH(b, backlogs, &backlogs)
			if (b->retry != 0 && b->retry <= now &&
			    (first == NULL || b->retry < first->retry))
				first = b;
		if (first == NULL)
			break;
		if (run(pick(first), 1) == -1)
			hold(first, dberrbuf);
		intake();
	}
	/* a room locked past lock_timeout: which one, without waiting */
	if (nready == 0 || run(n = pick(NULL), 0) == 0 || run(n, 1) == 0)
		return;
	/* the rooms of the batch, once each, in order */
	for (i = 0; i < n; i++)
		batch[i]->backlog->mark = 0;
	for (i = k = 0; i < n; i++)
		if (!batch[i]->backlog->mark) {
			batch[i]->backlog->mark = 1;
			split[k++] = batch[i]->backlog;
		}
	for (i = 0; i < k && (i == 0 || clock_ms() < end); i++) {
		/* (a room found locked is held up already) */
		if (split[i]->retry == 0 && run(pick(split[i]), 1) == -1)
			hold(split[i], dberrbuf);
		intake();
	}
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

/* Reads what is on stdin now, without waiting, and queues its events. */
static void
intake(void)
{
	char *line;

	if (lr.eof || !readable(STDIN_FILENO))
		return;
	if (lread_fill(&lr, STDIN_FILENO) == -1) {
		if (errno == EINTR)
			return;
		log_err(EXIT_TEMP, "stdin");
	}
	while ((line = lread_next(&lr)) != NULL) {
		if (!version) {
			version = 1;
			if (strncmp(line, "helpim-events|", 14) == 0) {
				if (strcmp(line, EVENTS_VERSION) != 0)
					log_errx(EXIT_PERM, "line %lu: '%.40s' "
					    "is not supported; expected '%s'",
					    lr.lineno, line, EVENTS_VERSION);
				declare();
				continue;
			}
			log_warnx("line %lu: no version line '%s'", lr.lineno,
			    EVENTS_VERSION);
		}
		enqueue(line, lr.lineno);
	}
}

/* Waits until the time at, for input too unless at its end. */
static void
await(long long at)
{
	struct pollfd pfd[2];
	PGnotify *nf;
	long long ms = at - clock_ms();

	pfd[0].fd = lr.eof ? -1 : STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = PQsocket(db);
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms) ==
	    -1) {
		if (errno != EINTR)
			log_err(EXIT_TEMP, "poll");
		return;
	}
	if (pfd[1].revents != 0) {
		if (!PQconsumeInput(db) || PQstatus(db) == CONNECTION_BAD)
			fail(NULL);
		while ((nf = PQnotifies(db)) != NULL)
			PQfreemem(nf);
	}
}

static long long
earliest(long long a, long long b)
{
	return a < b ? a : b;
}

int
main(int argc, char *argv[])
{
	PGresult *res;
	const char *file = NULL;
	long long next, stop = 0;
	int ch, check = 0;

	while ((ch = getopt(argc, argv, "f:nqv")) != -1)
		switch (ch) {
		default:
			if (conf_opt(ch, &file, &check) == -1)
				usage();
		}
	if (argc != optind)
		usage();
	if (conf_load(&conf, conf_path(file), 0) == -1)
		return EXIT_PERM;
	if (check)
		return 0;

	sig_stop(onsignal);

	db = db_open(conf.db);
	if (PQstatus(db) != CONNECTION_OK)
		lost(NULL);
	/* a room locked longer than that is held up, the others go on */
	res = PQexec(db, "SET lock_timeout = '200ms'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		lost(res);
	PQclear(res);
	prepare("busy", "WITH ours AS (SELECT jid FROM helpim.rooms "
	    "WHERE jid = ANY ($1) FOR UPDATE SKIP LOCKED) "
	    "SELECT jid FROM helpim.rooms WHERE jid = ANY ($1) "
	    "EXCEPT SELECT jid FROM ours", 1);
	prepare("apply", "SELECT helpim.apply_events($1, $2, $3, $4, $5, $6)",
	    NPARAM);
	prepare("sweep", "SELECT helpim.sweep($1, $2, $3, $4, $5)", 5);
	/* no claim expires in a room not seen (a snapshot) since now */
	res = PQexec(db, "SELECT now()::text");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		lost(res);
	strlcpy(since, PQgetvalue(res, 0, 0), sizeof(since));
	PQclear(res);

	next = clock_ms();
	for (;;) {
		intake();
		if (lr.eof)
			break;
		/* events still in the pipe are applied before stopping */
		if (quit && stop == 0)
			stop = clock_ms() + DRAIN_MS;
		if (stop != 0 && clock_ms() >= stop) {
			log_warnx("stdin still open %d s after the signal to "
			    "stop", DRAIN_MS / 1000);
			break;
		}
		/* commit before waiting for more input */
		if (nready >= BATCH || due() <= clock_ms() ||
		    (nready > 0 && !readable(STDIN_FILENO)))
			flush();
		if (clock_ms() >= next) {
			flush();
			sweep();
			next = clock_ms() + SWEEP_MS;
		}
		if (nready < BATCH && !readable(STDIN_FILENO))
			await(earliest(earliest(next, due()),
			    stop != 0 ? stop : LLONG_MAX));
	}
	/* what came is applied, unless a room stays held up past the stop */
	while (nqueued > 0) {
		flush();
		if (nqueued == 0)
			break;
		if (quit && (stop == 0 || clock_ms() >= stop)) {
			PQfinish(db);
			log_errx(EXIT_TEMP, "%d event%s not applied: %d room%s "
			    "stayed held up", nqueued, nqueued == 1 ? "" : "s",
			    nheld, nheld == 1 ? "" : "s");
		}
		if (nready == 0)
			await(earliest(due(), stop != 0 ? stop : LLONG_MAX));
	}
	PQfinish(db);
	return 0;
}
