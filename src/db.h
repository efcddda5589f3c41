/* PostgreSQL: connections and errors (db.c). */

#ifndef DB_H
#define DB_H

/* PostgreSQL (db.c); the types of libpq-fe.h, declared here without it. */
struct pg_conn;
struct pg_result;

const char	*db_error(struct pg_conn *, const struct pg_result *);
int		 db_exitcode(struct pg_conn *, const struct pg_result *);
int		 db_retryable(const struct pg_result *);
void		 db_exit(struct pg_conn *, struct pg_result *, int,
		    const char *) __attribute__((__noreturn__));
void		 db_fail(struct pg_conn *, struct pg_result *, const char *)
		    __attribute__((__noreturn__));
struct pg_conn	*db_open(const char *);
void		 db_ended(struct pg_conn *, char *, size_t);

#endif
