/* PostgreSQL errors: one line to report, and the exit code they call for. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"

/* The error of res, or of the connection when res is NULL, on one line. */
const char *
db_error(PGconn *conn, const PGresult *res)
{
	static char buf[512];

	strlcpy(buf, res != NULL ? PQresultErrorMessage(res) :
	    conn != NULL ? PQerrorMessage(conn) : "", sizeof(buf));
	buf[strcspn(buf, "\n")] = '\0';
	if (*buf == '\0')
		strlcpy(buf, "connection lost", sizeof(buf));
	return buf;
}

/*
 * A connection named "prog PID@HOST" in pg_stat_activity, whatever conninfo
 * says, so that every stage can be told apart (and a dead one's session
 * found).  The caller checks PQstatus().
 */
PGconn *
db_open(const char *conninfo)
{
	static const char *const keys[] = { "dbname", "application_name",
	    NULL };
	const char *vals[3];
	char host[256], name[320];

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "%s %d@%s", getprogname(), (int)getpid(),
	    host);
	vals[0] = conninfo;
	vals[1] = name;
	vals[2] = NULL;
	return PQconnectdbParams(keys, vals, 1);
}

/*
 * EXIT_PERM when waiting will not mend it: authentication (class 28), no such
 * database (3D) or schema (3F), no such object: the schema not loaded (42);
 * else EXIT_TEMP.
 * A failed connection has no SQLSTATE in libpq: its message tells.
 */
int
db_exitcode(PGconn *conn, const PGresult *res)
{
	const char *s;

	if (res != NULL &&
	    (s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL)
		return strncmp(s, "28", 2) == 0 || strncmp(s, "3D", 2) == 0 ||
		    strncmp(s, "3F", 2) == 0 ||
		    strncmp(s, "42", 2) == 0 ? EXIT_PERM : EXIT_TEMP;
	if (conn == NULL || PQstatus(conn) == CONNECTION_OK)
		return EXIT_TEMP;
	if (PQconnectionNeedsPassword(conn))
		return EXIT_PERM;
	s = PQerrorMessage(conn);
	if (strstr(s, "password authentication failed") != NULL ||
	    strstr(s, "does not exist") != NULL)
		return EXIT_PERM;
	return EXIT_TEMP;
}

/*
 * 1 when the same statement may well succeed a little later: a lock not
 * granted in time (55P03), a statement cancelled, by statement_timeout
 * for one (57014), a serialization failure (40001) or a deadlock (40P01).
 */
int
db_retryable(const PGresult *res)
{
	static const char *const codes[] = { "55P03", "57014", "40001",
	    "40P01" };
	const char *s;
	size_t i;

	if (res == NULL ||
	    (s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL)
		return 0;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(s, codes[i]) == 0)
			return 1;
	return 0;
}

/*
 * Reports the error of res, or of the connection when res is NULL, with hint
 * after it; frees both (nothing is left for a leak check) and exits with
 * code.
 */
void
db_exit(PGconn *conn, PGresult *res, int code, const char *hint)
{
	const char *msg;

	msg = db_error(conn, res);	/* a static buffer: it stays */
	PQclear(res);
	PQfinish(conn);
	log_errx(code, "database: %s%s", msg, hint != NULL ? hint : "");
}

/* db_exit() with the code the error calls for. */
void
db_fail(PGconn *conn, PGresult *res, const char *hint)
{
	db_exit(conn, res, db_exitcode(conn, res), hint);
}

/*
 * The statuses of the ended rooms (not open in helpim.statuses) as an array
 * literal, for "status <> ALL ($n::text[])": a parameter, unlike a subquery,
 * is known to the planner, so the partial indexes of the open rooms serve.
 */
void
db_ended(PGconn *conn, char *buf, size_t size)
{
	PGresult *res;

	res = PQexec(conn, "SELECT coalesce(array_agg(name ORDER BY ord), "
	    "'{}')::text FROM helpim.statuses WHERE NOT open");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		db_fail(conn, res, NULL);
	if (strlcpy(buf, PQgetvalue(res, 0, 0), size) >= size)
		log_errx(EXIT_PERM, "helpim.statuses: too many ended statuses");
	PQclear(res);
}
