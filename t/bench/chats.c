/*
 * chats: reads the configuration; logs in PAIRS staff members and PAIRS
 * clients anonymously, and runs whole chats through the bot for SECONDS:
 * claim a room (helpim.claim_staff_room), staff joins, claim
 * (helpim.claim_client_room), client joins, client leaves, staff leaves.
 * Measures from each presence sent to the NOTIFY on channel helpim_bench
 * (a bench-only trigger) that says the matching row was committed; prints
 * one line of counts and milliseconds.
 */

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
#include <strophe.h>

#include "../../src/conf.h"
#include "../../src/log.h"

enum phase { P_FREE, P_SJOIN, P_WAIT, P_CJOIN, P_CLEAVE, P_SLEAVE };

struct agent {
	xmpp_conn_t	*conn;
	int		 fd;
	int		 online;
	char		 nick[32];
};

struct room {
	char		 jid[512];
	char		 pw[128];
	enum phase	 phase;
	int		 staff, client;
	int		 early;		/* a client's claim beat the NOTIFY */
	const char	*want;		/* status */
	int		 wantn;		/* chatters */
	double		 sent;		/* ms */
};

struct claim {
	int	 agent;
	double	 after;		/* ms: retry time */
};

static struct conf	 c;
static xmpp_ctx_t	*ctx;
static struct agent	*ag;
static struct room	*rooms;
static int		 npairs, nag, nonline, dead;
static PGconn		*cdb, *ldb;
static struct claim	*cq;
static int		 cqhead, cqlen, cbusy, cagent;
static double		*lat;
static size_t		 nlat, lsize;
static long		 chats, empty;
static int		 running, verbose;
static int		*idle, nidle;	/* clients not in a room */

static void
usage(void)
{
	fprintf(stderr, "usage: chats [-v] [-d domain] [-f file] [-N pairs] "
	    "[-t seconds]\n");
	exit(EXIT_PERM);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
sample(double ms)
{
	if (nlat == lsize) {
		lsize = lsize ? lsize * 2 : 4096;
		if ((lat = reallocarray(lat, lsize, sizeof(*lat))) == NULL)
			err(EXIT_TEMP, NULL);
	}
	lat[nlat++] = ms;
}

static void
claim(int a, double after)
{
	if (!running)
		return;
	cq[(cqhead + cqlen) % nag] = (struct claim){ a, after };
	cqlen++;
}

static void
presence(int a, struct room *r, int join)
{
	char buf[1024];
	int n;

	if (join)
		n = snprintf(buf, sizeof(buf), "<presence to='%s/%s'>"
		    "<x xmlns='http://jabber.org/protocol/muc'><password>%s"
		    "</password><history maxstanzas='0'/></x></presence>",
		    r->jid, ag[a].nick, r->pw);
	else
		n = snprintf(buf, sizeof(buf), "<presence type='unavailable' "
		    "to='%s/%s'/>", r->jid, ag[a].nick);
	xmpp_send_raw(ag[a].conn, buf, n);
	r->sent = now();
}

static struct room *
room_find(const char *jid)
{
	int i;

	for (i = 0; i < npairs; i++)
		if (rooms[i].phase != P_FREE && strcmp(rooms[i].jid, jid) == 0)
			return &rooms[i];
	return NULL;
}

static void
expect(struct room *r, enum phase p, const char *st, int n)
{
	r->phase = p;
	r->want = st;
	r->wantn = n;
}

static void
client_join(struct room *r)
{
	if (nidle == 0)
		errx(EXIT_TEMP, "no idle client");
	r->client = idle[--nidle];
	r->early = 0;
	expect(r, P_CJOIN, "chatting", 2);
	presence(r->client, r, 1);
}

static void
claimed(int a, const char *jid, const char *pw)
{
	struct room *r;
	int i;

	if (a >= 0) {
		for (i = 0; i < npairs && rooms[i].phase != P_FREE; i++)
			;
		if (i == npairs)
			errx(EXIT_TEMP, "more rooms than staff members");
		r = &rooms[i];
		strlcpy(r->jid, jid, sizeof(r->jid));
		strlcpy(r->pw, pw, sizeof(r->pw));
		r->staff = a;
		r->client = -1;
		r->early = 0;
		expect(r, P_SJOIN, "staff_waiting", 1);
		presence(a, r, 1);
		return;
	}
	if ((r = room_find(jid)) == NULL ||
	    (r->phase != P_WAIT && r->phase != P_SJOIN))
		errx(EXIT_TEMP, "%s: claimed for a client, not ours", jid);
	if (r->phase == P_SJOIN)
		r->early = 1;
	else
		client_join(r);
}

static void
notified(char *payload)
{
	struct room *r;
	char *st, *n;
	int a;

	if ((st = strchr(payload, ' ')) == NULL ||
	    (n = strchr(st + 1, ' ')) == NULL)
		return;
	*st++ = '\0';
	*n++ = '\0';
	if ((r = room_find(payload)) == NULL || r->want == NULL ||
	    strcmp(st, r->want) != 0 || atoi(n) != r->wantn)
		return;
	sample(now() - r->sent);
	if (verbose) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr, "%lld.%06ld %s %s %d %.1f\n",
		    (long long)ts.tv_sec, ts.tv_nsec / 1000, payload, st,
		    r->wantn, now() - r->sent);
	}
	switch (r->phase) {
	case P_SJOIN:
		/* one client for each waiting staff member */
		r->phase = P_WAIT;
		r->want = NULL;
		claim(-1, 0);
		if (r->early)
			client_join(r);
		break;
	case P_CJOIN:
		expect(r, P_CLEAVE, "closing", 1);
		presence(r->client, r, 0);
		break;
	case P_CLEAVE:
		idle[nidle++] = r->client;
		expect(r, P_SLEAVE, "closing", 0);
		presence(r->staff, r, 0);
		break;
	case P_SLEAVE:
		chats++;
		a = r->staff;
		r->phase = P_FREE;
		claim(a, 0);
		break;
	default:
		break;
	}
}

static const char *
pqerr(PGconn *d)
{
	static char buf[512];

	strlcpy(buf, PQerrorMessage(d), sizeof(buf));
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void
claim_send(void)
{
	static const char *sql[] = {
		"SELECT jid, password FROM helpim.claim_staff_room($1)",
		"SELECT jid, password FROM helpim.claim_client_room($1)",
	};
	char ref[64];
	const char *p[1] = { ref };
	struct claim *q = &cq[cqhead];

	if (cbusy || cqlen == 0 || q->after > now())
		return;
	cagent = q->agent;
	cqhead = (cqhead + 1) % nag;
	cqlen--;
	snprintf(ref, sizeof(ref), "bench-%d", cagent);
	if (!PQsendQueryParams(cdb, sql[cagent == -1], 1, NULL, p, NULL,
	    NULL, 0))
		errx(EXIT_TEMP, "database: %s", pqerr(cdb));
	cbusy = 1;
}

static void
claim_input(void)
{
	PGresult *res;

	if (!PQconsumeInput(cdb))
		errx(EXIT_TEMP, "database: %s", pqerr(cdb));
	while (!PQisBusy(cdb)) {
		if ((res = PQgetResult(cdb)) == NULL) {
			cbusy = 0;
			return;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			errx(EXIT_TEMP, "claim: %s", pqerr(cdb));
		if (PQntuples(res) == 0) {
			empty++;
			claim(cagent, now() + 10);
		} else
			claimed(cagent, PQgetvalue(res, 0, 0),
			    PQgetvalue(res, 0, 1));
		PQclear(res);
	}
}

static void
on_conn(xmpp_conn_t *cn, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *arg)
{
	struct agent *a = arg;

	(void)cn;
	(void)error;
	(void)se;
	if (ev == XMPP_CONN_CONNECT) {
		a->online = 1;
		nonline++;
	} else if (ev == XMPP_CONN_DISCONNECT)
		dead = 1;
}

static int
on_sockopt(xmpp_conn_t *cn, void *sock)
{
	int i;

	for (i = 0; i < nag; i++)
		if (ag[i].conn == cn)
			ag[i].fd = *(int *)sock;
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	const char *file = NULL, *domain = "anon.localhost", *e;
	struct pollfd *pfd;
	PGnotify *nf;
	double t0, end;
	int ch, i, secs = 10;

	while ((ch = getopt(argc, argv, "d:f:N:t:v")) != -1)
		switch (ch) {
		case 'd':
			domain = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'N':
			npairs = strtonum(optarg, 1, 5000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "pairs %s: %s", optarg, e);
			break;
		case 't':
			secs = strtonum(optarg, 1, 3600, &e);
			if (e != NULL)
				errx(EXIT_PERM, "seconds %s: %s", optarg, e);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	if (argc != optind || npairs == 0)
		usage();
	if (conf_load(&c, conf_path(file), 0) == -1)
		return EXIT_PERM;
	signal(SIGPIPE, SIG_IGN);

	cdb = PQconnectdb(c.db);
	ldb = PQconnectdb(c.db);
	if (PQstatus(cdb) != CONNECTION_OK || PQstatus(ldb) != CONNECTION_OK)
		errx(EXIT_TEMP, "database: %s", pqerr(PQstatus(cdb) !=
		    CONNECTION_OK ? cdb : ldb));
	PQclear(PQexec(ldb, "LISTEN helpim_bench"));

	/* staff members 0..n-1; the clients n..2n-1 are one idle pool */
	if ((ag = calloc(2 * npairs, sizeof(*ag))) == NULL ||
	    (rooms = calloc(npairs, sizeof(*rooms))) == NULL ||
	    (cq = calloc(2 * npairs + 1, sizeof(*cq))) == NULL ||
	    (pfd = calloc(2 * npairs + 2, sizeof(*pfd))) == NULL ||
	    (idle = calloc(npairs, sizeof(*idle))) == NULL)
		err(EXIT_TEMP, NULL);
	nag = 2 * npairs + 1;
	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	for (i = 0; i < 2 * npairs; i++) {
		ag[i].fd = -1;
		if (i >= npairs)
			idle[nidle++] = i;
		snprintf(ag[i].nick, sizeof(ag[i].nick), "%s%d",
		    i < npairs ? "staff" : "client", i);
		ag[i].conn = xmpp_conn_new(ctx);
		xmpp_conn_set_flags(ag[i].conn, XMPP_CONN_FLAG_DISABLE_SM |
		    XMPP_CONN_FLAG_DISABLE_TLS);
		xmpp_conn_set_jid(ag[i].conn, domain);
		xmpp_conn_set_sockopt_callback(ag[i].conn, on_sockopt);
		if (xmpp_connect_client(ag[i].conn, c.server, c.port, on_conn,
		    &ag[i]) != XMPP_EOK)
			errx(EXIT_TEMP, "cannot connect");
	}
	t0 = now();
	while (nonline < 2 * npairs && !dead && now() - t0 < 30000)
		xmpp_run_once(ctx, 10);
	if (nonline < 2 * npairs)
		errx(EXIT_TEMP, "%d of %d logged in", nonline, 2 * npairs);

	running = 1;
	for (i = 0; i < npairs; i++)
		claim(i, 0);
	end = now() + secs * 1000.0;
	while (!dead) {
		if (running && now() >= end)
			running = 0;
		if (!running && !cbusy)
			break;
		claim_send();
		for (i = 0; i < 2 * npairs; i++) {
			pfd[i].fd = ag[i].fd;
			pfd[i].events = POLLIN;
			if (xmpp_conn_send_queue_len(ag[i].conn) > 0)
				pfd[i].events |= POLLOUT;
		}
		pfd[i].fd = PQsocket(ldb);
		pfd[i].events = POLLIN;
		pfd[i + 1].fd = cbusy ? PQsocket(cdb) : -1;
		pfd[i + 1].events = POLLIN;
		if (poll(pfd, 2 * npairs + 2, cqlen > 0 && !cbusy ? 1 : 50) ==
		    -1 && errno != EINTR)
			err(EXIT_TEMP, "poll");
		xmpp_run_once(ctx, 0);
		if (pfd[i].revents != 0) {
			if (!PQconsumeInput(ldb))
				errx(EXIT_TEMP, "database: %s", pqerr(ldb));
			while ((nf = PQnotifies(ldb)) != NULL) {
				notified(nf->extra);
				PQfreemem(nf);
			}
		}
		if (cbusy && pfd[i + 1].revents != 0)
			claim_input();
	}
	if (dead)
		errx(EXIT_TEMP, "a connection was lost");
	if (nlat == 0)
		errx(EXIT_TEMP, "no chat got anywhere");
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("pairs %d chats %ld samples %zu empty %ld p50 %.1f p99 %.1f "
	    "max %.1f\n", npairs, chats, nlat, empty, lat[nlat / 2],
	    lat[(size_t)(nlat * 0.99)], lat[nlat - 1]);
	return 0;
}
