/*
 * paced: reads the configuration; logs in CONNS staff and CONNS client
 * connections anonymously and runs chats through the bot on a schedule
 * drawn up front: arrivals of a Poisson process of RATE chats a second for
 * SECONDS, each chat LENGTH seconds from its arrival to the client's leave,
 * the staff member leaving a second later, whatever the system answers.
 * Each presence is timed from the moment it is sent to the NOTIFY of a
 * bench-only trigger (t/bench/setup.sql) that carries its event's time at
 * the watcher (at) and at the database (recorded_at).  Prints "steady"
 * when the warm-up ends, then one line of counts and milliseconds over the
 * presences sent after it, and the CPU seconds it used itself (cpu).
 */

#include <sys/tree.h>
#include <sys/resource.h>

#include <err.h>
#include <errno.h>
#include <math.h>
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

#define NDB	4		/* claim connections */
#define IDLE	-2		/* a claim connection without a query */
#define GAP	1000.0		/* ms from the client's leave to the staff's */
#define DRAIN	3000.0		/* ms to wait for the last commits */

/* a chat's four presences */
enum { SJOIN, CJOIN, CLEAVE, SLEAVE, NPRES };

struct pres {
	double	 sent;		/* ms, realtime; 0: not sent */
	double	 done;		/* the NOTIFY came */
	double	 at, rec;	/* the event at the watcher, at the database */
};

struct chat {
	RB_ENTRY(chat)	 entry;
	double		 at;	/* ms after the start: the arrival */
	char		 jid[512];
	char		 pw[128];
	int		 staff, client;	/* connections */
	int		 sover, cover;	/* too late for the join */
	struct pres	 p[NPRES];
};

struct claimq {
	int	 chat;		/* -1: a client's claim, for any room */
	double	 after;		/* ms, realtime: not before */
};

struct agent {
	xmpp_conn_t	*conn;
	int		 fd;
};

static int
chat_cmp(struct chat *a, struct chat *b)
{
	return strcmp(a->jid, b->jid);
}

RB_HEAD(jids, chat) byjid = RB_INITIALIZER(&byjid);
RB_PROTOTYPE(jids, chat, entry, chat_cmp)
RB_GENERATE(jids, chat, entry, chat_cmp)

static struct conf	 c;
static xmpp_ctx_t	*ctx;
static struct agent	*ag;
static int		 nag, nonline, dead;
static struct chat	*chats;
static int		 nchat, narr, ncl, nsl;
static char		 tag[16];
static PGconn		*ldb, *cdb[NDB];
static int		 busy[NDB];
static struct claimq	*cq;
static int		 cqhead, cqlen, cqsize;
static double		 t0, length, warm, secs;
static int		 running, steady;
static long		 empty, late, foreign;

static void
usage(void)
{
	fprintf(stderr, "usage: paced [-c conns] [-d domain] [-f file] "
	    "[-l length] [-r rate] [-t seconds] [-w warmup]\n");
	exit(EXIT_PERM);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
presence(int i, int which)
{
	struct chat *ch = &chats[i];
	char buf[1024];
	int client = which == CJOIN || which == CLEAVE, n;

	if (which == SJOIN || which == CJOIN)
		n = snprintf(buf, sizeof(buf), "<presence to='%s/%c%s.%d'>"
		    "<x xmlns='http://jabber.org/protocol/muc'><password>%s"
		    "</password><history maxstanzas='0'/></x></presence>",
		    ch->jid, client ? 'c' : 's', tag, i, ch->pw);
	else
		n = snprintf(buf, sizeof(buf), "<presence type='unavailable' "
		    "to='%s/%c%s.%d'/>", ch->jid, client ? 'c' : 's', tag, i);
	xmpp_send_raw(ag[client ? ch->client : ch->staff].conn, buf, n);
	ch->p[which].sent = now();
}

static void
claim(int i, double after)
{
	if (cqlen == cqsize)
		errx(EXIT_TEMP, "claim queue full");
	cq[(cqhead + cqlen) % cqsize] = (struct claimq){ i, after };
	cqlen++;
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
	struct claimq *q;
	int k;

	for (k = 0; k < NDB && cqlen > 0; k++) {
		q = &cq[cqhead];
		if (busy[k] != IDLE || q->after > now())
			continue;
		snprintf(ref, sizeof(ref), "bench-%s-%d", tag, q->chat);
		if (!PQsendQueryParams(cdb[k], sql[q->chat == -1], 1, NULL, p,
		    NULL, NULL, 0))
			errx(EXIT_TEMP, "database: %s", pqerr(cdb[k]));
		busy[k] = q->chat;
		cqhead = (cqhead + 1) % cqsize;
		cqlen--;
	}
}

static void
claimed(int i, const char *jid, const char *pw)
{
	struct chat key, *ch;

	if (i >= 0) {
		ch = &chats[i];
		strlcpy(ch->jid, jid, sizeof(ch->jid));
		strlcpy(ch->pw, pw, sizeof(ch->pw));
		RB_INSERT(jids, &byjid, ch);
		if (ch->sover || !running)
			late++;
		else
			presence(i, SJOIN);
		return;
	}
	strlcpy(key.jid, jid, sizeof(key.jid));
	if ((ch = RB_FIND(jids, &byjid, &key)) == NULL)
		foreign++;
	else if (ch->cover || !running)
		late++;
	else
		presence(ch - chats, CJOIN);
}

static void
claim_input(int k)
{
	PGresult *res;
	int i = busy[k];

	if (!PQconsumeInput(cdb[k]))
		errx(EXIT_TEMP, "database: %s", pqerr(cdb[k]));
	while (!PQisBusy(cdb[k])) {
		if ((res = PQgetResult(cdb[k])) == NULL) {
			busy[k] = IDLE;
			return;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			errx(EXIT_TEMP, "claim: %s", pqerr(cdb[k]));
		if (PQntuples(res) > 0)
			claimed(i, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		else if (i >= 0)
			empty++;
		else if (running)
			/* the waiting staff member's commit is not seen yet */
			claim(-1, now() + 10);
		PQclear(res);
	}
}

/* "JID EVENT NICK AT RECORDED_AT", the times in seconds */
static void
notified(char *payload)
{
	char *f[5], *s = payload;
	const char *e;
	struct pres *p;
	size_t tl = strlen(tag);
	int k, i, which;

	for (k = 0; k < 5; k++)
		if ((f[k] = strsep(&s, " ")) == NULL)
			return;
	if ((f[2][0] != 's' && f[2][0] != 'c') ||
	    strncmp(f[2] + 1, tag, tl) != 0 || f[2][tl + 1] != '.')
		return;
	i = strtonum(f[2] + tl + 2, 0, nchat - 1, &e);
	if (e != NULL)
		return;
	if (strcmp(f[1], "join") == 0)
		which = f[2][0] == 's' ? SJOIN : CJOIN;
	else if (strcmp(f[1], "leave") == 0)
		which = f[2][0] == 's' ? SLEAVE : CLEAVE;
	else
		return;
	p = &chats[i].p[which];
	if (p->sent == 0 || p->done != 0)
		return;
	p->done = now();
	p->at = strtod(f[3], NULL) * 1e3;
	p->rec = strtod(f[4], NULL) * 1e3;
	/* one client for each waiting staff member */
	if (which == SJOIN && running)
		claim(-1, 0);
}

/* The schedule's due steps: arrivals, then leaves. */
static void
tick(double t)
{
	struct chat *ch;

	while (narr < nchat && chats[narr].at <= t)
		claim(narr++, 0);
	while (ncl < narr && chats[ncl].at + length <= t) {
		ch = &chats[ncl];
		if (ch->p[CJOIN].sent != 0)
			presence(ncl, CLEAVE);
		else
			ch->cover = 1;
		ncl++;
	}
	while (nsl < ncl && chats[nsl].at + length + GAP <= t) {
		ch = &chats[nsl];
		if (ch->p[SJOIN].sent != 0)
			presence(nsl, SLEAVE);
		else
			ch->sover = 1;
		nsl++;
	}
}

static double
next_due(void)
{
	double t = secs;

	if (narr < nchat && chats[narr].at < t)
		t = chats[narr].at;
	if (ncl < narr && chats[ncl].at + length < t)
		t = chats[ncl].at + length;
	if (nsl < ncl && chats[nsl].at + length + GAP < t)
		t = chats[nsl].at + length + GAP;
	if (!steady && warm < t)
		t = warm;
	return t;
}

static void
on_conn(xmpp_conn_t *cn, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *arg)
{
	(void)cn;
	(void)error;
	(void)se;
	(void)arg;
	if (ev == XMPP_CONN_CONNECT)
		nonline++;
	else if (ev == XMPP_CONN_DISCONNECT)
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

/* NAME-p50 A NAME-p99 B NAME-max C, of n values */
static void
dist(const char *name, double *v, size_t n)
{
	if (n == 0) {
		printf(" %s-p50 - %s-p99 - %s-max -", name, name, name);
		return;
	}
	qsort(v, n, sizeof(*v), cmp);
	printf(" %s-p50 %.1f %s-p99 %.1f %s-max %.1f", name, v[n / 2], name,
	    v[(size_t)(n * 0.99)], name, v[n - 1]);
}

static void
report(void)
{
	double *e2e, *srv, *bot, from = t0 + warm, to = t0 + secs;
	size_t n = 0, nd = 0, lost = 0;
	struct pres *p;
	struct rusage ru;
	int i, k, nsteady = 0;

	if ((e2e = calloc(NPRES * nchat + 1, sizeof(*e2e))) == NULL ||
	    (srv = calloc(NPRES * nchat + 1, sizeof(*srv))) == NULL ||
	    (bot = calloc(NPRES * nchat + 1, sizeof(*bot))) == NULL)
		err(EXIT_TEMP, NULL);
	for (i = 0; i < nchat; i++) {
		if (t0 + chats[i].at >= from)
			nsteady++;
		for (k = 0; k < NPRES; k++) {
			p = &chats[i].p[k];
			if (p->sent < from || p->sent >= to)
				continue;
			if (p->done == 0) {
				/* never committed: worse than any */
				e2e[n++] = INFINITY;
				lost++;
				continue;
			}
			e2e[n++] = p->done - p->sent;
			srv[nd] = p->at - p->sent;
			bot[nd++] = p->rec - p->at;
		}
	}
	if (getrusage(RUSAGE_SELF, &ru) == -1)
		err(EXIT_TEMP, "getrusage");
	printf("chats %d steady %d samples %zu lost %zu empty %ld late %ld "
	    "foreign %ld cpu %.2f", nchat, nsteady, n, lost, empty, late,
	    foreign, ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	dist("e2e", e2e, n);
	dist("server", srv, nd);
	dist("bot", bot, nd);
	printf("\n");
}

static int
pending(void)
{
	int i, k;

	for (i = 0; i < nchat; i++)
		for (k = 0; k < NPRES; k++)
			if (chats[i].p[k].sent >= t0 + warm &&
			    chats[i].p[k].sent < t0 + secs &&
			    chats[i].p[k].done == 0)
				return 1;
	return 0;
}

static double
number(const char *s, const char *what, double max)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (e == s || *e != '\0' || errno != 0 || !(v > 0) || v > max)
		errx(EXIT_PERM, "%s %s: invalid", what, s);
	return v;
}

int
main(int argc, char *argv[])
{
	const char *file = NULL, *domain = "anon.localhost", *e;
	struct pollfd *pfd;
	unsigned char rnd[4];
	PGnotify *nf;
	double t, rate = 1, wait, stop = 0;
	int ch, i, k, conns = 20;

	length = 10e3;
	secs = 20e3;
	warm = -1;
	while ((ch = getopt(argc, argv, "c:d:f:l:r:t:w:")) != -1)
		switch (ch) {
		case 'c':
			conns = strtonum(optarg, 1, 1000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "conns %s: %s", optarg, e);
			break;
		case 'd':
			domain = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'l':
			length = number(optarg, "length", 86400) * 1e3;
			break;
		case 'r':
			rate = number(optarg, "rate", 10000);
			break;
		case 't':
			secs = number(optarg, "seconds", 86400) * 1e3;
			break;
		case 'w':
			warm = strcmp(optarg, "0") == 0 ? 0 :
			    number(optarg, "warmup", 86400) * 1e3;
			break;
		default:
			usage();
		}
	if (argc != optind)
		usage();
	/* by default, measure once every chat of the run could be open */
	if (warm < 0)
		warm = length + GAP < secs / 2 ? length + GAP : secs / 2;
	if (warm >= secs)
		errx(EXIT_PERM, "the warm-up fills the run");
	if (conf_load(&c, conf_path(file), 0) == -1)
		return EXIT_PERM;
	signal(SIGPIPE, SIG_IGN);
	arc4random_buf(rnd, sizeof(rnd));
	snprintf(tag, sizeof(tag), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	    rnd[3]);

	/* the schedule, drawn before anything is sent */
	for (t = 0;; nchat++) {
		t += -log((arc4random() + 1.0) / 4294967296.0) / rate * 1e3;
		if (t >= secs)
			break;
		if ((nchat & 1023) == 0 && (chats = reallocarray(chats,
		    nchat + 1024, sizeof(*chats))) == NULL)
			err(EXIT_TEMP, NULL);
		memset(&chats[nchat], 0, sizeof(chats[nchat]));
		chats[nchat].at = t;
		chats[nchat].staff = nchat % conns;
		chats[nchat].client = conns + nchat % conns;
	}
	if (nchat == 0)
		errx(EXIT_PERM, "no chat arrives in %.0f s", secs / 1e3);
	cqsize = 2 * nchat + 1;

	ldb = PQconnectdb(c.db);
	if (PQstatus(ldb) != CONNECTION_OK)
		errx(EXIT_TEMP, "database: %s", pqerr(ldb));
	PQclear(PQexec(ldb, "LISTEN helpim_bench_event"));
	for (k = 0; k < NDB; k++) {
		cdb[k] = PQconnectdb(c.db);
		if (PQstatus(cdb[k]) != CONNECTION_OK)
			errx(EXIT_TEMP, "database: %s", pqerr(cdb[k]));
		busy[k] = IDLE;
	}
	nag = 2 * conns;
	if ((ag = calloc(nag, sizeof(*ag))) == NULL ||
	    (cq = calloc(cqsize, sizeof(*cq))) == NULL ||
	    (pfd = calloc(nag + 1 + NDB, sizeof(*pfd))) == NULL)
		err(EXIT_TEMP, NULL);
	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	for (i = 0; i < nag; i++) {
		ag[i].fd = -1;
		ag[i].conn = xmpp_conn_new(ctx);
		xmpp_conn_set_flags(ag[i].conn, XMPP_CONN_FLAG_DISABLE_SM |
		    XMPP_CONN_FLAG_DISABLE_TLS);
		xmpp_conn_set_jid(ag[i].conn, domain);
		xmpp_conn_set_sockopt_callback(ag[i].conn, on_sockopt);
		if (xmpp_connect_client(ag[i].conn, c.server, c.port, on_conn,
		    NULL) != XMPP_EOK)
			errx(EXIT_TEMP, "cannot connect");
	}
	t = now();
	while (nonline < nag && !dead && now() - t < 30000)
		xmpp_run_once(ctx, 10);
	if (nonline < nag)
		errx(EXIT_TEMP, "%d of %d logged in", nonline, nag);

	running = 1;
	t0 = now();
	while (!dead) {
		t = now() - t0;
		if (running && t >= secs) {
			running = 0;
			stop = now() + DRAIN;
		}
		if (!running && (!pending() || now() >= stop))
			break;
		if (running) {
			tick(t);
			if (!steady && t >= warm) {
				steady = 1;
				printf("steady\n");
				fflush(stdout);
			}
		}
		claim_send();
		for (i = 0; i < nag; i++) {
			pfd[i].fd = ag[i].fd;
			pfd[i].events = POLLIN;
			if (xmpp_conn_send_queue_len(ag[i].conn) > 0)
				pfd[i].events |= POLLOUT;
		}
		pfd[nag].fd = PQsocket(ldb);
		pfd[nag].events = POLLIN;
		for (k = 0; k < NDB; k++) {
			pfd[nag + 1 + k].fd = busy[k] != IDLE ?
			    PQsocket(cdb[k]) : -1;
			pfd[nag + 1 + k].events = POLLIN;
		}
		wait = running ? next_due() - t : 50;
		if (cqlen > 0 && cq[cqhead].after - now() < wait)
			wait = cq[cqhead].after - now();
		wait = wait < 0 ? 0 : wait > 50 ? 50 : ceil(wait);
		if (poll(pfd, nag + 1 + NDB, (int)wait) == -1 && errno != EINTR)
			err(EXIT_TEMP, "poll");
		xmpp_run_once(ctx, 0);
		if (pfd[nag].revents != 0) {
			if (!PQconsumeInput(ldb))
				errx(EXIT_TEMP, "database: %s", pqerr(ldb));
			while ((nf = PQnotifies(ldb)) != NULL) {
				notified(nf->extra);
				PQfreemem(nf);
			}
		}
		for (k = 0; k < NDB; k++)
			if (busy[k] != IDLE && pfd[nag + 1 + k].revents != 0)
				claim_input(k);
	}
	if (dead)
		errx(EXIT_TEMP, "a connection was lost");
	report();
	return 0;
}
