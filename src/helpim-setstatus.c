/*
 * helpim-setstatus: reads event lines (helpim-protocol(7)) on stdin, applies
 * them to helpim.rooms with helpim.apply_event() and runs helpim.sweep()
 * about once a second.
 */

#include <ctype.h>
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

#include "helpim.h"

#define BATCH		256	/* events per transaction at most */
#define SWEEP_MS	1000

enum { P_EVENT, P_AT, P_JID, P_COUNT, P_NICK, P_DETAIL, NPARAM };

struct ev {
	unsigned long	 lineno;
	const char	*p[NPARAM];
	char		 buf[LINE_MAX_LEN + 1];
};

static struct ev	 batch[BATCH];
static int		 nbatch;
static PGconn		*db;
static struct conf	 conf;
static char		 dberrbuf[512];
static volatile sig_atomic_t quit;

static void
usage(void)
{
	fprintf(stderr, "usage: helpim-setstatus [-n] [-f file]\n");
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
	const char *m;

	m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db);
	strlcpy(dberrbuf, m, sizeof(dberrbuf));
	dberrbuf[strcspn(dberrbuf, "\n")] = '\0';
	return dberrbuf;
}

static void
lost(void)
{
	warnx("database: %s", *dberr(NULL) != '\0' ? dberrbuf :
	    "connection lost");
	exit(EXIT_TEMP);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
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

/* A bare room JID, lower-cased in place. */
static int
valid_jid(char *s)
{
	char *p;

	if (*s == '\0' || *s == '@' || strchr(s, '@') == NULL ||
	    strchr(s, '/') != NULL)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '%')
			return -1;
		*p = tolower((unsigned char)*p);
	}
	return 0;
}

/* A decoded free-text field; empty gives NULL when allowed. */
static int
text(char *s, const char **out, int empty)
{
	if (line_decode(s) == -1)
		return -1;
	if (*s == '\0') {
		*out = NULL;
		return empty ? 0 : -1;
	}
	*out = s;
	return 0;
}

/* Splits and checks one event line into e; warns and returns -1 if bad. */
static int
parse(const char *line, unsigned long lineno, struct ev *e)
{
	static char *f[LINE_MAX_LEN / 2 + 2];
	const char *what = "bad field";
	char *d, *verb;
	size_t len;
	int i, nf, n, want;

	memset(e->p, 0, sizeof(e->p));
	e->lineno = lineno;
	strlcpy(e->buf, line, sizeof(e->buf));
	nf = line_split(e->buf, f, sizeof(f) / sizeof(f[0]));
	verb = f[0];
	if (strcmp(verb, "snapshot") == 0)
		want = nf >= 4 ? nf : 4;
	else if (strcmp(verb, "join") == 0 || strcmp(verb, "leave") == 0 ||
	    strcmp(verb, "nick") == 0 || strcmp(verb, "kick") == 0)
		want = 6;
	else if (strcmp(verb, "destroyed") == 0 || strcmp(verb, "gone") == 0)
		want = 5;
	else {
		warnx("line %lu: unknown verb '%.32s', skipped", lineno, verb);
		return -1;
	}
	if (nf != want) {
		warnx("line %lu: %s: %d fields instead of %d, skipped", lineno,
		    verb, nf, want);
		return -1;
	}
	e->p[P_EVENT] = verb;
	if (valid_time(f[1]) == -1) {
		what = "bad time";
		goto bad;
	}
	e->p[P_AT] = f[1];
	if (valid_jid(f[2]) == -1) {
		what = "bad room JID";
		goto bad;
	}
	e->p[P_JID] = f[2];
	if (line_count(f[3], &n) == -1) {
		what = "bad number of chatters";
		goto bad;
	}
	e->p[P_COUNT] = f[3];

	if (strcmp(verb, "snapshot") == 0) {
		/* the nicks, decoded, one a line; nicks never hold a newline */
		for (i = 4, d = f[nf > 4 ? 4 : 0]; i < nf; i++) {
			if (line_decode(f[i]) == -1 || *f[i] == '\0' ||
			    strchr(f[i], '\n') != NULL) {
				what = "bad nick";
				goto bad;
			}
			len = strlen(f[i]);
			memmove(d, f[i], len);
			d += len;
			*d++ = '\n';
		}
		if (nf > 4) {
			d[-1] = '\0';
			e->p[P_DETAIL] = f[4];
		}
	} else if (nf == 5) {
		if (text(f[4], &e->p[P_DETAIL], 1) == -1)
			goto bad;
	} else {
		if (text(f[4], &e->p[P_NICK], 0) == -1) {
			what = "bad nick";
			goto bad;
		}
		/* a join's real JID and a kick's reason may be empty */
		if (text(f[5], &e->p[P_DETAIL], strcmp(verb, "join") == 0 ||
		    strcmp(verb, "kick") == 0) == -1)
			goto bad;
	}
	return 0;
bad:
	warnx("line %lu: %s: %s, skipped", lineno, verb, what);
	return -1;
}

/*
 * Reads the results of n queries (batch[from...] when from >= 0) and the
 * sync behind them.  Statements between two syncs form one implicit
 * transaction: an error rolls all of them back.
 */
static int
collect(int from, int n)
{
	PGresult *res;
	int failed = 0, i = 0;
	const char *v;

	for (;;) {
		if ((res = PQgetResult(db)) == NULL) {
			if (PQstatus(db) == CONNECTION_BAD)
				lost();
			i++;
			continue;
		}
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(res);
			return failed ? -1 : 0;
		case PGRES_TUPLES_OK:
			if (from >= 0 && i < n && PQntuples(res) == 1 &&
			    (v = PQgetvalue(res, 0, 0)) != NULL &&
			    strcmp(v, "anomaly") == 0)
				warnx("line %lu: %s %s: anomaly recorded",
				    batch[from + i].lineno,
				    batch[from + i].p[P_EVENT],
				    batch[from + i].p[P_JID]);
			break;
		case PGRES_COMMAND_OK:
		case PGRES_PIPELINE_ABORTED:
			break;
		default:
			if (PQstatus(db) == CONNECTION_BAD)
				lost();
			if (!failed)
				dberr(res);
			failed = 1;
			break;
		}
		PQclear(res);
	}
}

static int
apply(int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		if (!PQsendQueryPrepared(db, "apply", NPARAM, batch[i].p,
		    NULL, NULL, 0))
			lost();
	if (!PQpipelineSync(db))
		lost();
	return collect(from, to - from);
}

static void
flush(void)
{
	int i;

	if (nbatch == 0)
		return;
	if (apply(0, nbatch) == -1) {
		/* one event spoilt the batch: find it, keep the others */
		for (i = 0; i < nbatch; i++)
			if (apply(i, i + 1) == -1)
				warnx("line %lu: %s, skipped", batch[i].lineno,
				    dberrbuf);
	}
	nbatch = 0;
}

static void
sweep(void)
{
	char t[3][32];
	const char *p[4];

	snprintf(t[0], sizeof(t[0]), "%lld ms", conf.staff_claim_timeout);
	snprintf(t[1], sizeof(t[1]), "%lld ms", conf.client_claim_timeout);
	snprintf(t[2], sizeof(t[2]), "%lld ms", conf.linger);
	p[0] = t[0];
	p[1] = t[1];
	p[2] = t[2];
	p[3] = conf.instance;
	if (!PQsendQueryPrepared(db, "sweep", 4, p, NULL, NULL, 0) ||
	    !PQpipelineSync(db))
		lost();
	if (collect(-1, 1) == -1)
		warnx("sweep: %s", dberrbuf);
}

static void
prepare(const char *name, const char *sql, int n)
{
	PGresult *res;

	res = PQprepare(db, name, sql, n, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (PQstatus(db) == CONNECTION_BAD)
			lost();
		errx(EXIT_PERM, "database: %s (schema older than version 2? "
		    "run helpim-initdb)", dberr(res));
	}
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
			err(EXIT_TEMP, "poll");
		return;
	}
	if (pfd[1].revents != 0) {
		if (!PQconsumeInput(db) || PQstatus(db) == CONNECTION_BAD)
			lost();
		while ((nf = PQnotifies(db)) != NULL)
			PQfreemem(nf);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct lread lr;
	const char *file = NULL;
	char *line;
	long long next;
	int ch, check = 0, version = 0;

	while ((ch = getopt(argc, argv, "f:n")) != -1)
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
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

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsignal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	db = PQconnectdb(conf.db);
	if (PQstatus(db) != CONNECTION_OK)
		errx(EXIT_TEMP, "database: %s", dberr(NULL));
	prepare("apply", "SELECT helpim.apply_event($1, $2, $3, $4, $5, $6)",
	    NPARAM);
	prepare("sweep", "SELECT helpim.sweep($1, $2, $3, $4)", 4);
	if (!PQenterPipelineMode(db))
		errx(EXIT_PERM, "database: no pipeline mode: %s", dberr(NULL));

	memset(&lr, 0, sizeof(lr));
	next = now_ms();
	while (!quit) {
		while ((line = lread_next(&lr)) != NULL) {
			if (!version) {
				if (lr.lineno != 1 ||
				    strcmp(line, EVENTS_VERSION) != 0)
					errx(EXIT_PERM, "line %lu: expected '%s'",
					    lr.lineno, EVENTS_VERSION);
				version = 1;
				continue;
			}
			if (parse(line, lr.lineno, &batch[nbatch]) == 0 &&
			    ++nbatch == BATCH)
				flush();
		}
		if (lr.eof)
			break;
		/* commit before waiting for more input */
		if (nbatch > 0 && !readable(STDIN_FILENO))
			flush();
		if (now_ms() >= next) {
			flush();
			sweep();
			next = now_ms() + SWEEP_MS;
		}
		if (nbatch == 0) {
			await(next - now_ms());
			if (quit || !readable(STDIN_FILENO))
				continue;
		}
		if (lread_fill(&lr, STDIN_FILENO) == -1 && errno != EINTR)
			err(EXIT_TEMP, "stdin");
	}
	flush();
	PQfinish(db);
	return 0;
}
