/*
 * helpim-rooms: reads the open rooms of this instance from helpim.rooms and
 * prints them as a table, as feed lines (helpim-protocol(7)), as feed lines
 * that follow new rooms and close requests (LISTEN helpim), or as a summary
 * in key=value lines or in Prometheus' text format.
 */

#include <sys/tree.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
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

/* an open room: $n is ended[], the statuses that are not open */
#define OPEN(n)	"status <> ALL ($" #n "::text[])"
#define LOCK_KEY	"7244"	/* with hashtext(instance): one pipeline */
#define LOCK_TRIES	25	/* every 0.2 s: a predecessor's session ends */

/* A room of the first listing: new rooms and close requests come after. */
struct seen {
	RB_ENTRY(seen)	 entry;
	char		*jid;
	char		*closeat;	/* close request already listed, or NULL */
};

static int
seencmp(const struct seen *a, const struct seen *b)
{
	return strcmp(a->jid, b->jid);
}

RB_HEAD(seens, seen);
RB_PROTOTYPE(seens, seen, entry, seencmp)
RB_GENERATE(seens, seen, entry, seencmp)

static PGconn		*db;
static struct conf	 conf;
static struct seens	 seen = RB_INITIALIZER(&seen);
static char		 sessname[320];	/* helpim-rooms PID@HOST */
static char		 epoch[32];	/* of the instance's lease we hold */
static char		 ended[1024];	/* of helpim.statuses: db_ended() */
static size_t		 nseen;
static volatile sig_atomic_t quit;

static __dead void
usage(void)
{
	fprintf(stderr, "usage: helpim-rooms [-FmnPqSv] [-f file]\n");
	exit(EXIT_PERM);
}

static void
onsignal(int sig)
{
	(void)sig;
	quit = 1;
}

static __dead void
dbfail(PGresult *res)
{
	db_fail(db, res, NULL);
}

#define QUERY_MAX	3	/* parameters of query() */

/* Runs sql with its n text parameters; any error is fatal. */
static PGresult *
query(const char *sql, int n, ...)
{
	const char *p[QUERY_MAX];
	PGresult *res;
	va_list ap;
	int i;

	if (n < 0 || n > QUERY_MAX)
		log_errx(EXIT_TEMP, "query: %d parameters", n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		p[i] = va_arg(ap, const char *);
	va_end(ap);
	res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		dbfail(res);
	return res;
}

/* A reader that went away is the end of the job, not a failure. */
static void
out(void)
{
	if (fflush(stdout) == EOF) {
		if (errno == EPIPE)
			exit(0);
		log_err(EXIT_TEMP, "stdout");
	}
}

/*
 * VERB|JID|FIELD..., each field percent-encoded; the fields from cut on
 * are left out, and the last one before cut is cut short, if the line
 * would not fit LINE_MAX_LEN (a long close reason, nicks of a watch line).
 */
static void
feedline(const char *verb, const char *jid, int n, int cut,
    const char **f)
{
	char line[LINE_MAX_LEN + 2];
	size_t len, room;
	int i;

	len = snprintf(line, sizeof(line), "%s|%s", verb, jid);
	for (i = 0; i < n && len < LINE_MAX_LEN; i++) {
		if (f[i] == NULL)
			continue;
		room = LINE_MAX_LEN - len - 1;
		/* line_encode never splits an encoding, and ends the string */
		if (line_encode(line + len + 1, room + 1, f[i]) > room) {
			if (i >= cut)
				break;
			line[len] = '|';
			len += 1 + strlen(line + len + 1);
			break;
		}
		line[len] = '|';
		len += 1 + strlen(line + len + 1);
	}
	puts(line);
	explicit_bzero(line, sizeof(line));	/* a room password */
}

static struct seen *
lookup(const char *jid)
{
	struct seen key;

	key.jid = (char *)(uintptr_t)jid;
	return RB_FIND(seens, &seen, &key);
}

/* The room passwords in column col of res do not outlive it. */
static void
wipe(PGresult *res, int col)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		explicit_bzero(PQgetvalue(res, i, col),
		    PQgetlength(res, i, col));
}

/* A room for the feed: roomlines() reads these columns. */
#define ROOMCOLS	"jid, status, password, close_requested_at::text, " \
	"coalesce(close_reason, ''), staff_nick, client_nick, new_password"

/*
 * The feed lines of row i: watch, with the nicks the database knows, then
 * rekey and close where one is pending.
 */
static void
roomlines(PGresult *res, int i)
{
	const char *jid, *f[4];

	jid = PQgetvalue(res, i, 0);
	f[0] = PQgetvalue(res, i, 1);
	f[1] = PQgetvalue(res, i, 2);
	f[2] = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5);
	f[3] = PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6);
	feedline("watch", jid, 4, 2, f);
	if (!PQgetisnull(res, i, 7)) {
		f[0] = PQgetvalue(res, i, 7);
		feedline("rekey", jid, 1, 1, f);
	}
	if (!PQgetisnull(res, i, 3)) {
		f[0] = PQgetvalue(res, i, 4);
		feedline("close", jid, 1, 1, f);
	}
}

/* The rows of ROOMCOLS, passwords wiped, gone. */
static void
rooms_clear(PGresult *res)
{
	wipe(res, 2);
	wipe(res, 7);
	PQclear(res);
}

/* Prints the feed of the instance's open rooms; returns their rows. */
static PGresult *
feed(void)
{
	PGresult *res;
	int i;

	res = query("SELECT " ROOMCOLS " FROM helpim.rooms "
	    "WHERE instance = $1 AND " OPEN(2) " ORDER BY id", 2, conf.instance,
	    ended);
	puts(FEED_VERSION);
	for (i = 0; i < PQntuples(res); i++)
		roomlines(res, i);
	out();
	return res;
}

/* Remembers the rooms of the feed, as listed: what follow() has sent. */
static void
remember(PGresult *res)
{
	struct seen *s;
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->jid = strdup(PQgetvalue(res, i, 0))) == NULL ||
		    (!PQgetisnull(res, i, 3) &&
		    (s->closeat = strdup(PQgetvalue(res, i, 3))) == NULL))
			log_err(EXIT_TEMP, NULL);
		if (RB_INSERT(seens, &seen, s) == NULL)
			nseen++;
		else {
			free(s->jid);
			free(s->closeat);
			free(s);
		}
	}
}

static void
notified(const char *payload)
{
	PGresult *res;
	struct seen *s;
	const char *jid, *f[2];

	if (strncmp(payload, "watch ", 6) == 0) {
		jid = payload + 6;
		if (lookup(jid) != NULL)
			return;		/* listed already */
		/* a new room, or one adopted from a dead instance */
		res = query("SELECT " ROOMCOLS " FROM helpim.rooms "
		    "WHERE jid = $1 AND instance = $2 AND " OPEN(3), 3, jid,
		    conf.instance, ended);
		if (PQntuples(res) == 1)
			roomlines(res, 0);
		rooms_clear(res);
		return;
	} else if (strncmp(payload, "rekey ", 6) == 0) {
		jid = payload + 6;
		res = query("SELECT new_password FROM helpim.rooms "
		    "WHERE jid = $1 AND instance = $2 AND " OPEN(3)
		    " AND new_password IS NOT NULL", 3, jid, conf.instance,
		    ended);
		if (PQntuples(res) == 1) {
			f[0] = PQgetvalue(res, 0, 0);
			feedline("rekey", jid, 1, 1, f);
		}
		wipe(res, 0);
	} else if (strncmp(payload, "close ", 6) == 0) {
		jid = payload + 6;
		res = query("SELECT coalesce(close_reason, ''), "
		    "close_requested_at::text FROM helpim.rooms "
		    "WHERE jid = $1 AND instance = $2 AND " OPEN(3)
		    " AND close_requested_at IS NOT NULL", 3, jid,
		    conf.instance, ended);
		if (PQntuples(res) == 1 && ((s = lookup(jid)) == NULL ||
		    s->closeat == NULL ||
		    strcmp(s->closeat, PQgetvalue(res, 0, 1)) != 0)) {
			f[0] = PQgetvalue(res, 0, 0);
			feedline("close", jid, 1, 1, f);
		}
	} else
		return;
	PQclear(res);
}

/*
 * The session that holds the instance's lock, if it is a helpim-rooms of
 * this host that is dead (the host restarted, and the database has not
 * noticed yet): ended, so that the lock is free.  Else its name and start.
 */
static void
holder(char *buf, size_t size)
{
	PGresult *res;
	char host[256], me[300];
	const char *name;
	pid_t pid;

	res = query("SELECT a.pid::text, coalesce(a.application_name, ''), "
	    "a.backend_start::text FROM pg_locks AS l JOIN pg_stat_activity "
	    "AS a USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND "
	    "l.classid = " LOCK_KEY " AND l.objid = hashtext($1)::oid AND "
	    "l.objsubid = 2", 1, conf.instance);
	if (PQntuples(res) != 1) {
		strlcpy(buf, "a session this role cannot see", size);
		PQclear(res);
		return;
	}
	name = PQgetvalue(res, 0, 1);
	snprintf(buf, size, "%s, connected since %s", name,
	    PQgetvalue(res, 0, 2));
	if (gethostname(host, sizeof(host)) == 0 &&
	    sscanf(name, "helpim-rooms %d@%255s", &pid, me) == 2 &&
	    strcmp(me, host) == 0 && pid != getpid() && kill(pid, 0) == -1 &&
	    errno == ESRCH) {
		log_warnx("ending the session of a dead helpim-rooms (pid %d)",
		    (int)pid);
		PQclear(query("SELECT pg_terminate_backend($1::integer)", 1,
		    PQgetvalue(res, 0, 0)));
	}
	PQclear(res);
}

/*
 * One pipeline per instance: the feed holds the instance's lock while it
 * runs, and the database drops it with the session.  A second pipeline
 * gets no feed, so its helpim-watch never goes online.
 */
static void
lock_instance(void)
{
	char who[512];
	PGresult *res;
	int i, got;

	for (i = 0; i < LOCK_TRIES && !quit; i++) {
		res = query("SELECT pg_try_advisory_lock(" LOCK_KEY ", "
		    "hashtext($1))", 1, conf.instance);
		got = *PQgetvalue(res, 0, 0) == 't';
		PQclear(res);
		if (got)
			return;
		holder(who, sizeof(who));
		poll(NULL, 0, 200);
	}
	if (quit)
		exit(0);
	log_errx(EXIT_PERM, "instance '%s' runs already (%s): not starting "
	    "a second pipeline", conf.instance, who);
}

/*
 * Renews the instance's lease, or stands down if it was lost (this pipeline
 * was paused or cut off past it, and another instance adopted its rooms);
 * then adopts the rooms of any instance whose lease has run out.
 */
static void
lease(void)
{
	PGresult *res;
	char ms[32];

	snprintf(ms, sizeof(ms), "%lld ms", conf.lease);
	res = query("SELECT helpim.lease_renew($1, $2, $3)", 3,
	    conf.instance, epoch, ms);
	if (*PQgetvalue(res, 0, 0) != 't') {
		PQclear(res);
		res = query("SELECT coalesce(adopted_by, holder) FROM "
		    "helpim.instances WHERE instance = $1", 1, conf.instance);
		log_errx(EXIT_TEMP, "the lease of instance '%s' was lost "
		    "(epoch %s; now %s): standing down", conf.instance, epoch,
		    PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "nobody");
	}
	PQclear(res);
	res = query("SELECT helpim.adopt($1, $2)", 2, conf.instance, epoch);
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_info("adopted %s open rooms of an instance whose lease ran "
		    "out", PQgetvalue(res, 0, 0));
	PQclear(res);
}

static void
follow(void)
{
	struct pollfd pfd[2];
	PGnotify *nf;
	PGresult *res;
	long long next, t;
	char ms[32];

	lock_instance();
	snprintf(ms, sizeof(ms), "%lld ms", conf.lease);
	res = query("SELECT helpim.lease_take($1, $2, $3)", 3, conf.instance,
	    sessname, ms);
	strlcpy(epoch, PQgetvalue(res, 0, 0), sizeof(epoch));
	PQclear(res);
	PQclear(query("LISTEN helpim", 0));
	res = feed();
	remember(res);
	rooms_clear(res);
	log_info("%zu open rooms listed, following (epoch %s)", nseen, epoch);
	next = clock_ms();
	pfd[0].fd = PQsocket(db);
	pfd[0].events = POLLIN;
	pfd[1].fd = STDOUT_FILENO;
	pfd[1].events = 0;	/* POLLERR, POLLHUP: the reader is gone */
	while (!quit) {
		while ((nf = PQnotifies(db)) != NULL) {
			if (strcmp(nf->relname, "helpim") == 0) {
				log_debug("notified: %s", nf->extra);
				notified(nf->extra);
			}
			PQfreemem(nf);
		}
		out();
		if ((t = next - clock_ms()) <= 0) {
			lease();
			next = clock_ms() + conf.lease / 5;
			continue;
		}
		if (poll(pfd, 2, (int)t) == -1) {
			if (errno == EINTR)
				continue;
			log_err(EXIT_TEMP, "poll");
		}
		if (pfd[1].revents & (POLLERR | POLLHUP))
			exit(0);
		if (pfd[0].revents != 0 &&
		    (!PQconsumeInput(db) || PQstatus(db) == CONNECTION_BAD))
			dbfail(NULL);
	}
}

static void
age(char *buf, size_t size, long long s)
{
	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, size, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

static void
table(void)
{
	PGresult *res;
	char since[32], made[32], staff[256], client[256];
	int i, n;

	res = query("SELECT jid, status, "
	    "greatest(extract(epoch FROM now() - status_at), 0)::bigint, "
	    "greatest(extract(epoch FROM now() - created_at), 0)::bigint, chatters, "
	    "coalesce(staff_nick, '-'), coalesce(client_nick, '-'), "
	    "close_requested_at IS NOT NULL FROM helpim.rooms "
	    "WHERE instance = $1 AND " OPEN(2) " ORDER BY id", 2, conf.instance,
	    ended);
	n = PQntuples(res);
	printf("%-32s %-14s %6s %6s %8s %-12s %s\n", "ROOM", "STATUS", "SINCE",
	    "AGE", "CHATTERS", "STAFF", "CLIENT");
	for (i = 0; i < n; i++) {
		age(since, sizeof(since), atoll(PQgetvalue(res, i, 2)));
		age(made, sizeof(made), atoll(PQgetvalue(res, i, 3)));
		line_encode(staff, sizeof(staff), PQgetvalue(res, i, 5));
		line_encode(client, sizeof(client), PQgetvalue(res, i, 6));
		printf("%-32s %-14s %6s %6s %8s %-12s %s%s\n",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), since, made,
		    PQgetvalue(res, i, 4), staff, client,
		    *PQgetvalue(res, i, 7) == 't' ? " (close requested)" : "");
	}
	PQclear(res);
	out();
}

/* The rooms of each status of helpim.statuses, in their order: name, count. */
static PGresult *
bystatus(void)
{
	return query("SELECT s.name, count(r.id) FROM helpim.statuses AS s "
	    "LEFT JOIN helpim.rooms AS r ON r.status = s.name AND "
	    "r.instance = $1 GROUP BY s.name ORDER BY s.ord", 1, conf.instance);
}

/* The other numbers of -S and -m, in the order of keys[]. */
static const char *keys[] = {
	"rooms_open", "pool_free", "chats", "close_pending", "staff_wait_max",
	"events", "anomalies", "restarts",
};
enum { K_OPEN, K_POOL, K_CHATS, K_CLOSE, K_WAIT, K_EVENTS, K_ANOMALIES,
    K_RESTARTS, K_N };

static PGresult *
stats(void)
{
	return query("SELECT count(*), "
	    "count(*) FILTER (WHERE status = 'available' AND "
	    "close_requested_at IS NULL), "
	    "count(*) FILTER (WHERE status = 'chatting'), "
	    "count(*) FILTER (WHERE close_requested_at IS NOT NULL), "
	    "coalesce(max(extract(epoch FROM now() - staff_joined_at)) "
	    "FILTER (WHERE status = 'staff_waiting'), 0)::bigint, "
	    /* events of unknown rooms belong to no instance: counted by all */
	    "(SELECT count(*) FROM helpim.room_events AS e WHERE e.room_id IN "
	    "(SELECT id FROM helpim.rooms WHERE instance = $1) OR "
	    "e.room_id IS NULL), "
	    "(SELECT count(*) FROM helpim.room_events AS e WHERE "
	    "e.anomaly IS NOT NULL AND (e.room_id IN "
	    "(SELECT id FROM helpim.rooms WHERE instance = $1) OR "
	    "e.room_id IS NULL)), "
	    "(SELECT count(*) FROM helpim.restarts WHERE instance = $1) "
	    "FROM helpim.rooms WHERE instance = $1 AND " OPEN(2), 2,
	    conf.instance, ended);
}

/* Every instance's lease: name, epoch, seconds left, holder, adopter. */
static PGresult *
leases(void)
{
	return query("SELECT instance, epoch, greatest(extract(epoch FROM "
	    "until - now()), 0)::bigint, holder, adopted_by "
	    "FROM helpim.instances ORDER BY instance", 0);
}

/* A label value of Prometheus' text format. */
static void
label(char *dst, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < size; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			dst[n++] = '\\';
		dst[n++] = *s == '\n' ? 'n' : *s;
	}
	dst[n] = '\0';
}

static void
summary(void)
{
	PGresult *res;
	int i;

	res = bystatus();
	for (i = 0; i < PQntuples(res); i++)
		printf("rooms_%s=%s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1));
	PQclear(res);
	res = stats();
	for (i = 0; i < K_N; i++)
		printf("%s=%s\n", keys[i], PQgetvalue(res, 0, i));
	PQclear(res);
	res = leases();
	for (i = 0; i < PQntuples(res); i++)
		printf("lease=%s epoch=%s left=%s holder=%s%s%s\n",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    PQgetisnull(res, i, 4) ? "" : " adopted_by=",
		    PQgetvalue(res, i, 4));
	PQclear(res);
	out();
}

static void
metric(const char *name, const char *type, const char *help,
    const char *label, const char *value)
{
	if (type != NULL)
		printf("# HELP helpim_%s %s\n# TYPE helpim_%s %s\n", name, help,
		    name, type);
	printf("helpim_%s{%s} %s\n", name, label, value);
}

/* Prometheus' text format, version 0.0.4. */
static void
metrics(void)
{
	PGresult *res;
	char inst[4 * sizeof(conf.instance) + 16], l[sizeof(inst) + 64];
	int i;

	label(inst, sizeof(inst), conf.instance);
	res = bystatus();
	for (i = 0; i < PQntuples(res); i++) {
		snprintf(l, sizeof(l), "instance=\"%s\",status=\"%s\"", inst,
		    PQgetvalue(res, i, 0));
		metric("rooms", i == 0 ? "gauge" : NULL,
		    "Rooms by status; those not open are history.", l,
		    PQgetvalue(res, i, 1));
	}
	PQclear(res);
	res = stats();
	snprintf(l, sizeof(l), "instance=\"%s\"", inst);
	metric("rooms_open", "gauge", "Rooms of an open status.", l,
	    PQgetvalue(res, 0, K_OPEN));
	metric("pool_free", "gauge",
	    "Available rooms without a close request.", l,
	    PQgetvalue(res, 0, K_POOL));
	metric("chats", "gauge", "Rooms with a chat going on.", l,
	    PQgetvalue(res, 0, K_CHATS));
	metric("close_pending", "gauge",
	    "Open rooms with a close request not done yet.", l,
	    PQgetvalue(res, 0, K_CLOSE));
	metric("staff_wait_seconds_max", "gauge",
	    "Longest wait of a staff member for a client.", l,
	    PQgetvalue(res, 0, K_WAIT));
	metric("events_total", "counter",
	    "Rows in helpim.room_events: events, claims, close requests.", l,
	    PQgetvalue(res, 0, K_EVENTS));
	metric("anomalies_total", "counter",
	    "Events that did not fit the status of their room.", l,
	    PQgetvalue(res, 0, K_ANOMALIES));
	metric("pipeline_restarts_total", "counter",
	    "Restarts of the pipeline by helpim-run.", l,
	    PQgetvalue(res, 0, K_RESTARTS));
	PQclear(res);
	res = leases();
	for (i = 0; i < PQntuples(res); i++) {
		label(inst, sizeof(inst), PQgetvalue(res, i, 0));
		snprintf(l, sizeof(l), "instance=\"%s\"", inst);
		metric("lease_seconds", i == 0 ? "gauge" : NULL,
		    "Seconds left of each instance's lease; 0: run out.", l,
		    PQgetvalue(res, i, 2));
	}
	for (i = 0; i < PQntuples(res); i++) {
		label(inst, sizeof(inst), PQgetvalue(res, i, 0));
		snprintf(l, sizeof(l), "instance=\"%s\"", inst);
		metric("lease_epoch", i == 0 ? "gauge" : NULL,
		    "Epoch of each instance's lease: it moves on a takeover.",
		    l, PQgetvalue(res, i, 1));
	}
	PQclear(res);
	out();
}

int
main(int argc, char *argv[])
{
	const char *file = NULL, *name;
	int ch, check = 0, mode = 0;

	while ((ch = getopt(argc, argv, "c:f:FmnpPqsSv")) != -1) {
		if (ch == 'c' || ch == 'p' || ch == 's')
			ch = log_renamed(ch, ch == 'c' ? 'f' : toupper(ch));
		/* the old follow mode, -f without a file */
		if ((ch == 'f' && *optarg == '-') ||
		    (ch == '?' && optopt == 'f'))
			log_errx(EXIT_PERM, "-f takes the configuration file; "
			    "follow mode is -F");
		switch (ch) {
		case 'F':
		case 'm':
		case 'P':
		case 'S':
			if (mode != 0 && mode != ch)
				usage();
			mode = ch;
			break;
		default:
			if (conf_opt(ch, &file, &check) == -1)
				usage();
		}
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
		dbfail(NULL);
	db_ended(db, ended, sizeof(ended));
	/* the lease's holder, as pg_stat_activity names it */
	if ((name = PQparameterStatus(db, "application_name")) != NULL)
		strlcpy(sessname, name, sizeof(sessname));
	switch (mode) {
	case 'F':
		follow();
		break;
	case 'P':
		rooms_clear(feed());
		break;
	case 'S':
		summary();
		break;
	case 'm':
		metrics();
		break;
	default:
		table();
		break;
	}
	PQfinish(db);
	return 0;
}
