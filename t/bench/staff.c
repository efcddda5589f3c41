/*
 * staff: reads the configuration; runs STAFF staff members of the routing
 * benchmark, each on a database connection of its own, in one poll loop:
 * claim a room, join it (helpim.apply_event, as helpim-setstatus would),
 * wait for a client's claim, let the client join and leave, leave, and
 * again, until CHATS chats have begun.  A staff member waits for its
 * client by the notification "status JID client_claimed" on a LISTEN
 * connection, never by asking.  The steps are the functions of
 * t/bench/routing.sql.  Prints the number of chats.
 */

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../../src/conf.h"
#include "../../src/log.h"

enum step { S_CLAIM, S_JOIN, S_WAIT, S_CHAT, S_PART, S_END, S_DONE };

struct staff {
	PGconn		*db;
	enum step	 step;
	int		 busy;
	int		 claimed;	/* the client's claim was notified */
	char		 nick[32];
	char		 jid[512];
	char		 joined[64];	/* the database's clock at the join */
};

static struct conf	 c;
static struct staff	*st;
static int		 nstaff, chats, started;

static void
usage(void)
{
	fprintf(stderr, "usage: staff [-f file] -c chats -n staff\n");
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

/* Sends the query of the staff member's step. */
static void
send_step(struct staff *s)
{
	static const char *sql[] = {
		[S_CLAIM] = "SELECT jid FROM helpim.claim_staff_room($1)",
		[S_JOIN] = "SELECT t, helpim.apply_event('join', t, $2, 1, $1) "
		    "FROM clock_timestamp() AS t",
		[S_CHAT] = "SELECT bench.chat($2, $3::timestamptz)",
		[S_PART] = "SELECT bench.part($2)",
		[S_END] = "SELECT bench.leave($2, $1)",
	};
	const char *p[3] = { s->nick, s->jid, s->joined };
	const Oid types[3] = { 25, 25, 25 };	/* text */
	int n = s->step == S_CLAIM ? 1 : s->step == S_CHAT ? 3 : 2;

	if (!PQsendQueryParams(s->db, sql[s->step], n, types, p, NULL, NULL,
	    0))
		errx(EXIT_TEMP, "database: %s", pqerr(s->db));
	s->busy = 1;
}

/* The next step after a wait or a result. */
static void
advance(struct staff *s)
{
	switch (s->step) {
	case S_WAIT:
		if (s->claimed) {
			started++;
			s->step = S_CHAT;
		} else if (started >= chats)
			s->step = S_END;
		else
			return;
		break;
	case S_PART:
		s->step = S_END;
		break;
	case S_END:
		s->step = started >= chats ? S_DONE : S_CLAIM;
		break;
	case S_CHAT:
		s->step = S_PART;
		break;
	default:
		return;
	}
	if (s->step != S_DONE)
		send_step(s);
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
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			errx(EXIT_TEMP, "%s: %s", s->nick, pqerr(s->db));
		switch (s->step) {
		case S_CLAIM:
			if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
				errx(EXIT_TEMP, "%s: no room to claim", s->nick);
			strlcpy(s->jid, PQgetvalue(res, 0, 0), sizeof(s->jid));
			s->claimed = 0;
			break;
		case S_JOIN:
			strlcpy(s->joined, PQgetvalue(res, 0, 0),
			    sizeof(s->joined));
			break;
		default:
			break;
		}
		PQclear(res);
	}
	if (s->busy)
		return;
	if (s->step == S_CLAIM) {
		s->step = S_JOIN;
		send_step(s);
	} else if (s->step == S_JOIN) {
		s->step = S_WAIT;
		advance(s);
	} else
		advance(s);
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
			if (!st[i].busy)
				advance(&st[i]);
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
	int ch, i, live;

	while ((ch = getopt(argc, argv, "c:f:n:")) != -1)
		switch (ch) {
		case 'c':
			chats = strtonum(optarg, 1, 10000000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "chats %s: %s", optarg, e);
			break;
		case 'f':
			file = optarg;
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
	for (i = 0; i < nstaff; i++)
		send_step(&st[i]);

	for (;;) {
		live = 0;
		for (i = 0; i < nstaff; i++) {
			pfd[i].fd = st[i].busy ? PQsocket(st[i].db) : -1;
			pfd[i].events = POLLIN;
			if (st[i].step != S_DONE)
				live++;
		}
		if (live == 0)
			break;
		pfd[nstaff].fd = PQsocket(ldb);
		pfd[nstaff].events = POLLIN;
		if (poll(pfd, nstaff + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TEMP, "poll");
		}
		for (i = 0; i < nstaff; i++)
			if (st[i].busy && pfd[i].revents != 0)
				result(&st[i]);
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
				if (st[i].step == S_WAIT && !st[i].busy)
					advance(&st[i]);
	}
	printf("staff %d chats %d\n", nstaff, started);
	return 0;
}
