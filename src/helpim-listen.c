/*
 * helpim-listen: LISTENs on a channel of the database (helpim_webapp by
 * default) and prints the payload of each notification on a line of its
 * own, as it comes; with -t, after the time it came.  Reads nothing;
 * writes the payloads on stdout.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "conf.h"
#include "db.h"
#include "line.h"
#include "log.h"

static volatile sig_atomic_t quit;

static __dead void
usage(void)
{
	fprintf(stderr, "usage: helpim-listen [-nqtv] [-f file] [channel]\n");
	exit(EXIT_PERM);
}

static void
onsignal(int sig)
{
	(void)sig;
	quit = 1;
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

static void
subscribe(PGconn *db, const char *channel)
{
	PGresult *res;
	char *id, *sql;

	if ((id = PQescapeIdentifier(db, channel, strlen(channel))) == NULL)
		db_fail(db, NULL, NULL);
	if (asprintf(&sql, "LISTEN %s", id) == -1)
		log_err(EXIT_TEMP, "asprintf");
	PQfreemem(id);
	res = PQexec(db, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		db_fail(db, res, NULL);
	PQclear(res);
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	struct pollfd pfd[2];
	PGconn *db;
	PGnotify *nf;
	const char *file = NULL, *channel = "helpim_webapp";
	struct timespec ts;
	char line[LINE_MAX_LEN + 1];
	int ch, check = 0, stamp = 0;

	while ((ch = getopt(argc, argv, "f:nqtv")) != -1)
		switch (ch) {
		case 't':
			stamp = 1;
			break;
		default:
			if (conf_opt(ch, &file, &check) == -1)
				usage();
		}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (argc == 1)
		channel = argv[0];
	if (*channel == '\0')
		usage();
	if (conf_load(&conf, conf_path(file), 0) == -1)
		return EXIT_PERM;
	if (check)
		return 0;

	sig_stop(onsignal);

	db = db_open(conf.db);
	if (PQstatus(db) != CONNECTION_OK)
		db_fail(db, NULL, NULL);
	subscribe(db, channel);
	log_info("listening on %s", channel);

	pfd[0].fd = PQsocket(db);
	pfd[0].events = POLLIN;
	pfd[1].fd = STDOUT_FILENO;
	pfd[1].events = 0;	/* POLLERR, POLLHUP: the reader is gone */
	while (!quit) {
		while ((nf = PQnotifies(db)) != NULL) {
			/* a payload is free text: one line, nothing forged */
			line_encode(line, sizeof(line), nf->extra);
			if (stamp) {
				clock_gettime(CLOCK_REALTIME, &ts);
				printf("%lld.%06ld ", (long long)ts.tv_sec,
				    ts.tv_nsec / 1000);
			}
			printf("%s\n", line);
			PQfreemem(nf);
		}
		out();
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_err(EXIT_TEMP, "poll");
		}
		if (pfd[1].revents & (POLLERR | POLLHUP))
			break;
		if (pfd[0].revents != 0 &&
		    (!PQconsumeInput(db) || PQstatus(db) == CONNECTION_BAD))
			db_fail(db, NULL, NULL);
	}
	PQfinish(db);
	return 0;
}
