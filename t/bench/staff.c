/*
 * staff: reads the configuration; runs STAFF staff members of the routing
 * benchmark, each on a database connection of its own (the webapp's), in
 * one poll loop: claim a room, join it, wait for a client's claim, let the
 * client join and leave, leave, and again, until CHATS chats have begun.
 * The staff members come in one after another over one chat length, and a
 * chat lasts between half and one and a half times that length, so that
 * they do not move in step: a steady load, not a wave of fifty joins at
 * once every chat length.
 * The joins and leaves are event lines, stamped with the time they are
 * written, to a helpim-setstatus of our own: the path of a real chat, where
 * the watcher reports them and helpim-setstatus applies them in batches.
 * A staff member waits for its client by the notification "status JID
 * client_claimed" on a LISTEN connection, never by asking.  bench.joins
 * (t/bench/routing.sql) keeps each staff member's join time.  Prints the
 * number of chats.
 */

#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../../src/conf.h"
#include "../../src/log.h"

enum step { S_REST, S_CLAIM, S_JOIN, S_WAIT, S_CHAT, S_PART, S_END, S_DONE };

struct staff {
	PGconn		*db;
	enum step	 step;
	int		 busy;
	int		 claimed;	/* the client's claim was notified */
	char		 nick[32];
	char		 jid[512];
	char		 joined[64];	/* the time of the join's event line */
	long long	 until;		/* resting or chatting until (ms), or 0 */
};

static struct conf	 c;
static struct staff	*st;
static int		 nstaff, chats, started;
static long long	 chatlen;	/* ms */
static FILE		*events;	/* to helpim-setstatus */
static pid_t		 child;		/* helpim-setstatus */

static void
usage(void)
{
	fprintf(stderr, "usage: staff [-f file] [-l ms] -c chats -n staff\n");
	exit(EXIT_PERM);
}

static const char *
pqerr(PGconn *d)
{
	static char buf[512];

	strlcpy(buf, PQerrorMessage(d), sizeof(buf));
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The time now, as an event line carries it. */
static const char *
stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char sec[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
	return buf;
}

/* An event line of the staff member's room. */
static void
event(struct staff *s, const char *verb, int chatters, const char *rest)
{
	char t[64];

	if (fprintf(events, "%s|%s|%s|%d|%s\n", verb, stamp(t, sizeof(t)),
	    s->jid, chatters, rest) < 0 || fflush(events) == EOF)
		err(EXIT_TEMP, "helpim-setstatus");
}

/*
 * Takes the staff member's step: a query for the claims, event lines for
 * the joins and leaves.
 */
static void
send_step(struct staff *s)
{
	static const char *sql[] = {
		[S_CLAIM] = "SELECT jid FROM helpim.claim_staff_room($1)",
		[S_CHAT] = "INSERT INTO bench.joins SELECT jid, $2::timestamptz, "
		    "client_claimed_at FROM helpim.rooms WHERE jid = $1",
	};
	const char *p[2];
	const Oid types[2] = { 25, 25 };	/* text */
	char rest[64];

	switch (s->step) {
	case S_JOIN:
		snprintf(rest, sizeof(rest), "%s|", s->nick);
		event(s, "join", 1, rest);
		stamp(s->joined, sizeof(s->joined));
		return;
	case S_PART:
		event(s, "leave", 1, "client|left");
		return;
	case S_END:
		snprintf(rest, sizeof(rest), "%s|left", s->nick);
		event(s, "leave", 0, rest);
		event(s, "destroyed", 0, "empty");
		return;
	default:
		break;
	}
	if (s->step == S_CLAIM)
		p[0] = s->nick;
	else {
		p[0] = s->jid;
		p[1] = s->joined;
		event(s, "join", 2, "client|");
	}
	if (!PQsendQueryParams(s->db, sql[s->step], s->step == S_CLAIM ? 1 : 2,
	    types, p, NULL, NULL, 0))
		errx(EXIT_TEMP, "database: %s", pqerr(s->db));
	s->busy = 1;
}

/* Starts helpim-setstatus; returns its input, after the version line. */
static FILE *
setstatus(const char *file)
{
	FILE *f;
	int fd[2];

	if (pipe(fd) == -1)
		err(EXIT_TEMP, "pipe");
	if ((child = fork()) == -1)
		err(EXIT_TEMP, "fork");
	if (child == 0) {
		if (dup2(fd[0], 0) == -1)
			err(EXIT_TEMP, "dup2");
		close(fd[0]);
		close(fd[1]);
		if (file != NULL)
			execlp("helpim-setstatus", "helpim-setstatus", "-f", file,
			    (char *)NULL);
		else
			execlp("helpim-setstatus", "helpim-setstatus",
			    (char *)NULL);
		err(EXIT_TEMP, "helpim-setstatus");
	}
	close(fd[0]);
	if ((f = fdopen(fd[1], "w")) == NULL)
		err(EXIT_TEMP, "fdopen");
	if (fputs("helpim-events|1\n", f) == EOF)
		err(EXIT_TEMP, "helpim-setstatus");
	return f;
}

/* The staff member's step is done (or waits): the next ones. */
static void
go(struct staff *s)
{
	for (;;) {
		switch (s->step) {
		case S_REST:
			if (s->until > now_ms())
				return;
			s->until = 0;
			s->step = S_CLAIM;
			break;
		case S_CLAIM:
			s->step = S_JOIN;
			break;
		case S_JOIN:
			s->step = S_WAIT;
			continue;
		case S_WAIT:
			if (s->claimed) {
				started++;
				s->step = S_CHAT;
			} else if (started >= chats)
				s->step = S_END;
			else
				return;
			break;
		case S_CHAT:
			if (chatlen > 0 && s->until == 0) {
				s->until = now_ms() + chatlen / 2 +
				    arc4random_uniform(chatlen + 1);
				return;
			}
			if (s->until > now_ms())
				return;
			s->until = 0;
			s->step = S_PART;
			break;
		case S_PART:
			s->step = S_END;
			break;
		case S_END:
			s->step = started >= chats ? S_DONE : S_CLAIM;
			break;
		case S_DONE:
			return;
		}
		if (s->step == S_DONE)
			return;
		send_step(s);
		if (s->busy)
			return;
	}
}

static void
result(struct staff *s)
{
	PGresult *res;

	if (!PQconsumeInput(s->db))
		errx(EXIT_TEMP, "database: %s", pqerr(s->db));
	while (!PQisBusy(s->db)) {
		if ((res = PQgetResult(s->db)) == NULL) {
			s->busy = 0;
			break;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		    PQresultStatus(res) != PGRES_COMMAND_OK)
			errx(EXIT_TEMP, "%s: %s", s->nick, pqerr(s->db));
		if (s->step == S_CLAIM) {
			if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
				errx(EXIT_TEMP, "%s: no room to claim", s->nick);
			strlcpy(s->jid, PQgetvalue(res, 0, 0), sizeof(s->jid));
			s->claimed = 0;
		}
		PQclear(res);
	}
	if (!s->busy)
		go(s);
}

/* "status JID client_claimed N": that room's staff member has a client. */
static void
notified(const char *msg)
{
	char jid[512], status[32];
	int i;

	if (sscanf(msg, "status %511s %31s", jid, status) != 2 ||
	    strcmp(status, "client_claimed") != 0)
		return;
	for (i = 0; i < nstaff; i++)
		if (strcmp(st[i].jid, jid) == 0) {
			st[i].claimed = 1;
			if (st[i].step == S_WAIT)
				go(&st[i]);
			return;
		}
}

int
main(int argc, char *argv[])
{
	const char *file = NULL, *e;
	struct pollfd *pfd;
	PGconn *ldb;
	PGnotify *nf;
	long long wake;
	int ch, i, live, status;

	while ((ch = getopt(argc, argv, "c:f:l:n:")) != -1)
		switch (ch) {
		case 'c':
			chats = strtonum(optarg, 1, 10000000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "chats %s: %s", optarg, e);
			break;
		case 'f':
			file = optarg;
			break;
		case 'l':
			chatlen = strtonum(optarg, 0, 3600000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "chat length %s: %s", optarg, e);
			break;
		case 'n':
			nstaff = strtonum(optarg, 1, 1000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "staff %s: %s", optarg, e);
			break;
		default:
			usage();
		}
	if (argc != optind || nstaff == 0 || chats == 0)
		usage();
	if (conf_load(&c, conf_path(file), 0) == -1)
		return EXIT_PERM;
	signal(SIGPIPE, SIG_IGN);

	if ((st = calloc(nstaff, sizeof(*st))) == NULL ||
	    (pfd = calloc(nstaff + 1, sizeof(*pfd))) == NULL)
		err(EXIT_TEMP, NULL);
	ldb = PQconnectdb(c.db);
	if (PQstatus(ldb) != CONNECTION_OK)
		errx(EXIT_TEMP, "database: %s", pqerr(ldb));
	PQclear(PQexec(ldb, "LISTEN helpim_webapp"));
	for (i = 0; i < nstaff; i++) {
		st[i].db = PQconnectdb(c.db);
		if (PQstatus(st[i].db) != CONNECTION_OK)
			errx(EXIT_TEMP, "database: %s", pqerr(st[i].db));
		snprintf(st[i].nick, sizeof(st[i].nick), "staff%d", i + 1);
	}
	events = setstatus(file);
	for (i = 0; i < nstaff; i++) {
		st[i].until = now_ms() + chatlen * i / nstaff;
		go(&st[i]);
	}

	for (;;) {
		live = 0;
		wake = -1;
		for (i = 0; i < nstaff; i++) {
			pfd[i].fd = st[i].busy ? PQsocket(st[i].db) : -1;
			pfd[i].events = POLLIN;
			if (st[i].step != S_DONE)
				live++;
			if (st[i].until != 0 && (wake == -1 ||
			    st[i].until < wake))
				wake = st[i].until;
		}
		if (live == 0)
			break;
		pfd[nstaff].fd = PQsocket(ldb);
		pfd[nstaff].events = POLLIN;
		if (wake != -1)
			wake = wake > now_ms() ? wake - now_ms() : 0;
		if (poll(pfd, nstaff + 1, (int)wake) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TEMP, "poll");
		}
		for (i = 0; i < nstaff; i++)
			if (st[i].busy && pfd[i].revents != 0)
				result(&st[i]);
			else if (st[i].until != 0 && st[i].until <= now_ms())
				go(&st[i]);
		if (pfd[nstaff].revents != 0) {
			if (!PQconsumeInput(ldb))
				errx(EXIT_TEMP, "database: %s", pqerr(ldb));
			while ((nf = PQnotifies(ldb)) != NULL) {
				notified(nf->extra);
				PQfreemem(nf);
			}
		}
		/* the last client taken: the waiting ones end */
		if (started >= chats)
			for (i = 0; i < nstaff; i++)
				if (st[i].step == S_WAIT)
					go(&st[i]);
	}
	if (fclose(events) == EOF)
		err(EXIT_TEMP, "helpim-setstatus");
	if (waitpid(child, &status, 0) == -1)
		err(EXIT_TEMP, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(EXIT_TEMP, "helpim-setstatus failed");
	printf("staff %d chats %d\n", nstaff, started);
	return 0;
}
