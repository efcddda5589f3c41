/* The configuration file of helpim.conf(5): key = value lines. */

#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

enum type { STR, INT, DUR, TLS };

static const struct key {
	const char	*name;
	enum type	 type;
	size_t		 off;
	size_t		 size;		/* STR: buffer size; INT: maximum */
	int		 required;
} keys[] = {
#define S(k, req)	{ #k, STR, offsetof(struct conf, k), sizeof(((struct conf *)0)->k), req }
#define I(k, max)	{ #k, INT, offsetof(struct conf, k), max, 0 }
#define D(k)		{ #k, DUR, offsetof(struct conf, k), 0, 0 }
	S(jid, 1),
	S(password, 0),
	S(password_file, 0),
	S(resource, 0),
	S(nick, 0),
	S(server, 0),
	I(port, 65535),
	{ "tls", TLS, offsetof(struct conf, tls), 0, 0 },
	S(cafile, 0),
	S(muc_domain, 1),
	S(room_prefix, 0),
	I(pool_size, 100000),
	I(max_rooms, 1000000),
	I(max_chatters, 100),
	I(history_length, 1000),
	S(db, 1),
	S(instance, 0),
	S(jid_hash_key_file, 0),
	D(grace),
	D(staff_claim_timeout),
	D(client_claim_timeout),
	D(linger),
	D(refill_interval),
	D(retention),
	D(lease),
#undef S
#undef I
#undef D
};

/*
 * The options every program takes: -f file, -n (check), -q, -v.  -1 for
 * another letter.
 */
int
conf_opt(int ch, const char **file, int *check)
{
	switch (ch) {
	case 'f':
		*file = optarg;
		return 0;
	case 'n':
		*check = 1;
		return 0;
	case 'q':
		log_level = LOGLEVEL_QUIET;
		return 0;
	case 'v':
		log_level = LOGLEVEL_DEBUG;
		return 0;
	}
	return -1;
}

const char *
conf_path(const char *arg)
{
	const char *p;

	if (arg != NULL)
		return arg;
	if ((p = getenv("HELPIM_CONF")) != NULL && *p != '\0')
		return p;
	return CONF_DEFAULT;
}

/* "90", "90s", "500ms", "5m", "2h", "30d": a duration in milliseconds. */
int
conf_duration(const char *s, long long *ms)
{
	static const struct { const char *u; long long f; } units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 },
		{ "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	};
	char *end;
	long long v;
	size_t i;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v > 1000000000LL)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].u) == 0) {
			*ms = v * units[i].f;
			return 0;
		}
	return -1;
}

static void
defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	strlcpy(c->resource, "helpim", sizeof(c->resource));
	strlcpy(c->nick, "helpim", sizeof(c->nick));
	strlcpy(c->room_prefix, "helpim-", sizeof(c->room_prefix));
	c->port = 5222;
	c->tls = TLS_REQUIRED;
	c->pool_size = 10;
	c->max_rooms = 100;
	c->max_chatters = 2;
	c->history_length = 20;
	c->grace = 10000;
	c->staff_claim_timeout = 120000;
	c->client_claim_timeout = 60000;
	c->linger = 600000;
	c->refill_interval = 10000;
	c->retention = 30 * 86400000LL;
	c->lease = 15000;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
setkey(struct conf *c, const struct key *k, const char *v)
{
	char *p = (char *)c + k->off;
	const char *e;

	switch (k->type) {
	case STR:
		if (*v == '\0')
			return -1;
		return strlcpy(p, v, k->size) < k->size ? 0 : -1;
	case INT:
		*(int *)p = strtonum(v, 0, k->size, &e);
		return e == NULL ? 0 : -1;
	case DUR:
		return conf_duration(v, (long long *)p);
	case TLS:
		if (strcmp(v, "required") == 0)
			*(int *)p = TLS_REQUIRED;
		else if (strcmp(v, "off") == 0)
			*(int *)p = TLS_OFF;
		else
			return -1;
		return 0;
	}
	return -1;
}

/* An address of 127/8 or ::1, or localhost: not a name like 127.example.org */
static int
loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ntohl(a4.s_addr) >> 24 == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * The first line of a secret file that only its owner may read, in buf;
 * its length, or -1.
 */
static ssize_t
secretfile(const char *path, char *buf, size_t size, const char *what)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1) {
		log_error("%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || (st.st_mode & 077) != 0) {
		log_errorx("%s: readable by others; chmod 600 it", path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0) {
		log_error("%s", path);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		log_errorx("%s: empty %s", path, what);
		return -1;
	}
	return strlen(buf);
}

static int
readsecret(struct conf *c)
{
	return secretfile(c->password_file, c->password, sizeof(c->password),
	    "password") == -1 ? -1 : 0;
}

/*
 * The key of the JID hashes from jid_hash_key_file in buf: its length,
 * 0 when none is configured, -1 on error.
 */
int
conf_key(const struct conf *c, char *buf, size_t size)
{
	ssize_t n;

	if (c->jid_hash_key_file[0] == '\0')
		return 0;
	if ((n = secretfile(c->jid_hash_key_file, buf, size, "key")) == -1)
		return -1;
	if (n < KEY_MIN_LEN) {
		log_errorx("%s: a key shorter than %d characters",
		    c->jid_hash_key_file, KEY_MIN_LEN);
		explicit_bzero(buf, size);
		return -1;
	}
	return (int)n;
}

/* A password in a libpq connection string, as a keyword or user:pass@ */
static int
dbsecret(const char *db)
{
	const char *p, *at;

	if (strstr(db, "password") != NULL)
		return 1;
	if ((p = strstr(db, "://")) == NULL)
		return 0;
	p += 3;
	if ((at = strchr(p, '@')) == NULL)
		return 0;
	return memchr(p, ':', at - p) != NULL;
}

static int
check(struct conf *c, const char *path, const char *seen, int flags)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].required && !seen[i]) {
			log_errorx("%s: missing required key '%s'", path,
			    keys[i].name);
			return -1;
		}
	if (strchr(c->jid, '@') == NULL || strchr(c->jid, '/') != NULL) {
		log_errorx("%s: jid '%s' is not of the form user@host", path,
		    c->jid);
		return -1;
	}
	if ((c->password[0] != '\0') == (c->password_file[0] != '\0')) {
		log_errorx("%s: give exactly one of 'password' and "
		    "'password_file'", path);
		return -1;
	}
	if (dbsecret(c->db)) {
		log_errorx("%s: 'db' must not hold a password; use a passfile",
		    path);
		return -1;
	}
	if (c->tls == TLS_OFF &&
	    !loopback(c->server[0] != '\0' ? c->server : strchr(c->jid, '@') + 1)) {
		log_errorx("%s: 'tls = off' is allowed only for a loopback "
		    "server", path);
		return -1;
	}
	if (c->max_chatters < 1) {
		log_errorx("%s: 'max_chatters' must be at least 1", path);
		return -1;
	}
	if (c->refill_interval < 1000) {
		log_errorx("%s: 'refill_interval' must be at least 1s", path);
		return -1;
	}
	if (c->pool_size > c->max_rooms) {
		log_errorx("%s: 'pool_size' exceeds 'max_rooms'", path);
		return -1;
	}
	if (!(flags & CONF_SECRET))
		conf_clear(c);
	else if (c->password_file[0] != '\0')
		return readsecret(c);
	return 0;
}

int
conf_load(struct conf *c, const char *path, int flags)
{
	char seen[sizeof(keys) / sizeof(keys[0])] = { 0 };
	static char fbuf[BUFSIZ];	/* stdio's copy of the file: wiped */
	char *line = NULL, *k, *v, *eq;
	size_t linesize = 0;
	ssize_t n;
	struct stat st;
	unsigned long lineno = 0;
	size_t i;
	FILE *fp;
	int rc = -1;

	defaults(c);
	strlcpy(c->path, path, sizeof(c->path));
	if ((fp = fopen(path, "r")) == NULL) {
		log_error("%s", path);
		return -1;
	}
	setvbuf(fp, fbuf, _IOFBF, sizeof(fbuf));
	if (fstat(fileno(fp), &st) == -1) {
		log_error("%s", path);
		goto out;
	}
	while ((n = getline(&line, &linesize, fp)) != -1) {
		lineno++;
		if (n > 4096) {
			log_errorx("%s:%lu: line too long", path, lineno);
			goto out;
		}
		if (strlen(line) != (size_t)n) {
			log_errorx("%s:%lu: NUL byte", path, lineno);
			goto out;
		}
		k = trim(line);
		if (*k == '#' || *k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			log_errorx("%s:%lu: expected 'key = value'", path,
			    lineno);
			goto out;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(k, keys[i].name) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			log_errorx("%s:%lu: unknown key '%s'", path, lineno, k);
			goto out;
		}
		if (seen[i]) {
			log_errorx("%s:%lu: '%s' given twice", path, lineno, k);
			goto out;
		}
		seen[i] = 1;
		if (setkey(c, &keys[i], v) == -1) {
			log_errorx("%s:%lu: bad value for '%s'", path, lineno,
			    k);
			goto out;
		}
	}
	if (ferror(fp)) {
		log_error("%s", path);
		goto out;
	}
	if (c->password[0] != '\0' && (st.st_mode & 077) != 0) {
		log_errorx("%s: holds the password and is readable by others; "
		    "chmod 600 it", path);
		goto out;
	}
	rc = check(c, path, seen, flags);
out:
	if (line != NULL)
		explicit_bzero(line, linesize);
	free(line);
	fclose(fp);
	explicit_bzero(fbuf, sizeof(fbuf));
	if (rc == -1)
		conf_clear(c);
	return rc;
}

void
conf_clear(struct conf *c)
{
	explicit_bzero(c->password, sizeof(c->password));
}
