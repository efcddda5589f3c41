/*
 * helpim-chat: a participant for tests and the demo.  Reads commands on
 * stdin, writes what happens to it and in its rooms on stdout.
 */

#include <sys/queue.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "helpim.h"

#define NS_MUC		"http://jabber.org/protocol/muc"
#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_ITEMS	"http://jabber.org/protocol/disco#items"
#define NS_INFO		"http://jabber.org/protocol/disco#info"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"

struct room {
	LIST_ENTRY(room) entry;
	char	*jid;
	char	*nick;
	int	 in;		/* self-presence seen */
};

static LIST_HEAD(, room) rooms = LIST_HEAD_INITIALIZER(rooms);
static xmpp_ctx_t *ctx;
static xmpp_conn_t *conn;
static int online, quitting, gone;
static volatile sig_atomic_t sigquit;

static void
usage(void)
{
	fprintf(stderr, "usage: helpim-chat [-s host] [-p port] [-d domain] "
	    "[-j jid]\n");
	exit(EXIT_PERM);
}

static void
onsignal(int sig)
{
	(void)sig;
	sigquit = 1;
}

static struct room *
room_find(const char *jid)
{
	struct room *r;

	LIST_FOREACH(r, &rooms, entry)
		if (strcasecmp(r->jid, jid) == 0)
			return r;
	return NULL;
}

static void
room_free(struct room *r)
{
	LIST_REMOVE(r, entry);
	free(r->jid);
	free(r->nick);
	free(r);
}

static void
presence_to(const char *to, const char *type, xmpp_stanza_t *child)
{
	xmpp_stanza_t *p;

	p = xmpp_presence_new(ctx);
	if (to != NULL)
		xmpp_stanza_set_to(p, to);
	if (type != NULL)
		xmpp_stanza_set_type(p, type);
	if (child != NULL)
		st_add(p, child);
	xmpp_send(conn, p);
	xmpp_stanza_release(p);
}

static int
on_presence(xmpp_conn_t *c, xmpp_stanza_t *st, void *arg)
{
	xmpp_stanza_t *x, *s;
	const char *from, *type, *code;
	char codes[256] = "", room[3072], *nick;
	struct room *r;
	int self, destroyed;

	(void)c, (void)arg;
	if ((from = xmpp_stanza_get_from(st)) == NULL)
		return 1;
	strlcpy(room, from, sizeof(room));
	if ((nick = strchr(room, '/')) == NULL)
		return 1;
	*nick++ = '\0';
	line_lower(room);
	r = room_find(room);
	type = xmpp_stanza_get_type(st);
	if (type != NULL && strcmp(type, "error") == 0) {
		printf("error %s %s\n", room, st_condition(st));
		if (r != NULL && !r->in && strcmp(r->nick, nick) == 0)
			room_free(r);
		return 1;
	}
	if ((x = xmpp_stanza_get_child_by_name_and_ns(st, "x",
	    NS_MUC_USER)) == NULL)
		return 1;
	destroyed = xmpp_stanza_get_child_by_name(x, "destroy") != NULL;
	self = st_has_code(x, "110");
	for (s = xmpp_stanza_get_children(x); s != NULL;
	    s = xmpp_stanza_get_next(s))
		if (xmpp_stanza_is_tag(s) &&
		    strcmp(xmpp_stanza_get_name(s), "status") == 0 &&
		    (code = xmpp_stanza_get_attribute(s, "code")) != NULL &&
		    strcmp(code, "110") != 0) {
			strlcat(codes, " ", sizeof(codes));
			strlcat(codes, code, sizeof(codes));
		}
	if (r != NULL && !self && strcmp(nick, r->nick) == 0 && r->in)
		self = 1;
	if (!self) {
		printf("occupant %s %s %s%s\n", room, nick,
		    type != NULL && strcmp(type, "unavailable") == 0 ?
		    "left" : "joined", codes);
		return 1;
	}
	if (r == NULL)
		return 1;
	if (type != NULL && strcmp(type, "unavailable") == 0) {
		if (st_has_code(x, "303"))
			return 1;	/* the available one follows */
		if (destroyed)
			printf("destroyed %s\n", room);
		else if (st_has_code(x, "307"))
			printf("kicked %s\n", room);
		else if (st_has_code(x, "301"))
			printf("banned %s\n", room);
		else
			printf("left %s\n", room);
		/* unless it ends an earlier stay, and a new join is pending */
		if (r->in || strcmp(r->nick, nick) == 0)
			room_free(r);
		return 1;
	}
	if (!r->in) {
		r->in = 1;
		free(r->nick);
		if ((r->nick = strdup(nick)) == NULL)
			log_err(EXIT_TEMP, "strdup");
		printf("joined %s %s\n", room, nick);
	} else if (strcmp(r->nick, nick) != 0) {
		free(r->nick);
		if ((r->nick = strdup(nick)) == NULL)
			log_err(EXIT_TEMP, "strdup");
		printf("nick %s %s\n", room, nick);
	}
	return 1;
}

/* The fields of a data form (the room's extended info), one a line. */
static void
fields(xmpp_stanza_t *x)
{
	xmpp_stanza_t *f, *v;
	const char *var;
	char *text;

	for (f = xmpp_stanza_get_children(x); f != NULL;
	    f = xmpp_stanza_get_next(f)) {
		if (!xmpp_stanza_is_tag(f) ||
		    strcmp(xmpp_stanza_get_name(f), "field") != 0 ||
		    (var = xmpp_stanza_get_attribute(f, "var")) == NULL ||
		    (v = xmpp_stanza_get_child_by_name(f, "value")) == NULL ||
		    (text = xmpp_stanza_get_text(v)) == NULL)
			continue;
		text[strcspn(text, "\n")] = '\0';
		printf("field %s %s\n", var, text);
		xmpp_free(xmpp_stanza_get_context(v), text);
	}
}

static int
on_disco(xmpp_conn_t *c, xmpp_stanza_t *st, void *arg)
{
	xmpp_stanza_t *q, *i;
	const char *from, *type, *v, *verb = arg;
	int items = strcmp(verb, "disco") == 0;

	(void)c;
	from = xmpp_stanza_get_from(st);
	if (from == NULL)
		from = "";
	type = xmpp_stanza_get_type(st);
	if (type != NULL && strcmp(type, "error") == 0) {
		printf("error %s %s\n", from, st_condition(st));
		return 0;
	}
	if ((q = xmpp_stanza_get_child_by_name(st, "query")) != NULL)
		for (i = xmpp_stanza_get_children(q); i != NULL;
		    i = xmpp_stanza_get_next(i)) {
			if (!xmpp_stanza_is_tag(i))
				continue;
			if (items && strcmp(xmpp_stanza_get_name(i),
			    "item") == 0 &&
			    (v = xmpp_stanza_get_attribute(i, "jid")) != NULL)
				printf("item %s\n", v);
			if (!items && strcmp(xmpp_stanza_get_name(i),
			    "feature") == 0 &&
			    (v = xmpp_stanza_get_attribute(i, "var")) != NULL)
				printf("feature %s\n", v);
			if (!items && strcmp(xmpp_stanza_get_name(i), "x") == 0)
				fields(i);
		}
	printf("%s %s done\n", items ? "disco" : "info", from);
	return 0;
}

static void
disco(const char *verb, const char *jid)
{
	static unsigned long seq;
	static char disco_verb[] = "disco", info_verb[] = "info";
	xmpp_stanza_t *iq;
	char id[32];
	int items = strcmp(verb, "disco") == 0;

	snprintf(id, sizeof(id), "disco%lu", ++seq);
	iq = xmpp_iq_new(ctx, "get", id);
	xmpp_stanza_set_to(iq, jid);
	st_add(iq, st_tag(ctx, "query", items ? NS_ITEMS : NS_INFO));
	xmpp_id_handler_add(conn, on_disco, id, items ? disco_verb : info_verb);
	xmpp_send(conn, iq);
	xmpp_stanza_release(iq);
}

static void
command(char *line, unsigned long lineno)
{
	char *f[4], *to, *sp;
	xmpp_stanza_t *x, *m;
	struct room *r;
	size_t n;
	int nf = 0;

	if (strncmp(line, "raw ", 4) == 0) {
		xmpp_send_raw(conn, line + 4, strlen(line + 4));
		return;
	}
	if (strncmp(line, "say ", 4) == 0) {
		if ((sp = strchr(line + 4, ' ')) == NULL)
			goto bad;
		*sp++ = '\0';
		m = xmpp_message_new(ctx, "groupchat", line + 4, NULL);
		xmpp_message_set_body(m, sp);
		xmpp_send(conn, m);
		xmpp_stanza_release(m);
		return;
	}
	for (sp = line; nf < 4 && sp != NULL; nf++) {
		f[nf] = sp;
		if ((sp = strchr(sp, ' ')) != NULL)
			*sp++ = '\0';
	}
	if (sp != NULL)
		goto bad;
	if (strcmp(f[0], "quit") == 0 && nf == 1) {
		quitting = 1;
		return;
	}
	if (nf < 2)
		goto bad;
	line_lower(f[1]);
	if (strcmp(f[0], "disco") == 0 || strcmp(f[0], "info") == 0) {
		if (nf != 2)
			goto bad;
		disco(f[0], f[1]);
		return;
	}
	r = room_find(f[1]);
	if (strcmp(f[0], "join") == 0 && (nf == 3 || nf == 4)) {
		if (r == NULL) {
			if ((r = calloc(1, sizeof(*r))) == NULL ||
			    (r->jid = strdup(f[1])) == NULL)
				log_err(EXIT_TEMP, "calloc");
			LIST_INSERT_HEAD(&rooms, r, entry);
		}
		free(r->nick);
		if ((r->nick = strdup(f[2])) == NULL)
			log_err(EXIT_TEMP, "strdup");
		/* a join after a leave not yet answered: this one is pending */
		r->in = 0;
		x = st_tag(ctx, "x", NS_MUC);
		if (nf == 4)
			st_add_text(ctx, x, "password", f[3]);
	} else if (strcmp(f[0], "nick") == 0 && nf == 3 && r != NULL) {
		x = NULL;
	} else if (strcmp(f[0], "leave") == 0 && nf == 2 && r != NULL) {
		x = NULL;
		f[2] = r->nick;
	} else
		goto bad;
	n = strlen(f[1]) + strlen(f[2]) + 2;
	if ((to = malloc(n)) == NULL)
		log_err(EXIT_TEMP, "malloc");
	snprintf(to, n, "%s/%s", f[1], f[2]);
	presence_to(to, strcmp(f[0], "leave") == 0 ? "unavailable" : NULL, x);
	free(to);
	return;
bad:
	log_warnx("line %lu: bad command, skipped", lineno);
}

static void
leave_all(void)
{
	struct room *r;
	char to[3072];

	LIST_FOREACH(r, &rooms, entry)
		if (r->in) {
			snprintf(to, sizeof(to), "%s/%s", r->jid, r->nick);
			presence_to(to, "unavailable", NULL);
		}
}

static void
on_conn(xmpp_conn_t *c, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *arg)
{
	xmpp_stanza_t *p;

	(void)error, (void)arg;
	if (ev == XMPP_CONN_CONNECT) {
		online = 1;
		xmpp_handler_add(c, on_presence, NULL, "presence", NULL, NULL);
		p = xmpp_presence_new(ctx);
		xmpp_send(c, p);
		xmpp_stanza_release(p);
		printf("online %s\n", xmpp_conn_get_bound_jid(c));
		return;
	}
	if (se != NULL)
		log_warnx("stream error %d%s%s", se->type, se->text != NULL ?
		    ": " : "", se->text != NULL ? se->text : "");
	gone = 1;
}

int
main(int argc, char *argv[])
{
	struct lread lr = { .lineno = 0 };
	struct pollfd pfd[2];
	const char *host = "127.0.0.1", *domain = "anon.localhost", *jid = NULL;
	const char *e, *pass;
	long port = 5222;
	char *line;
	int ch, n, in_eof = 0;

	if ((e = getenv("XMPP_PORT")) != NULL && *e != '\0')
		port = strtonum(e, 1, 65535, NULL);
	if ((e = getenv("ANON_DOMAIN")) != NULL && *e != '\0')
		domain = e;
	while ((ch = getopt(argc, argv, "s:p:d:j:")) != -1) {
		switch (ch) {
		case 's':
			host = optarg;
			break;
		case 'p':
			port = strtonum(optarg, 1, 65535, &e);
			if (e != NULL)
				log_errx(EXIT_PERM, "port %s: %s", optarg, e);
			break;
		case 'd':
			domain = optarg;
			break;
		case 'j':
			jid = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port == 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, onsignal);
	signal(SIGINT, onsignal);

	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, getenv("HELPIM_CHAT_DEBUG") == NULL ? NULL :
	    xmpp_get_default_logger(XMPP_LEVEL_DEBUG));
	conn = xmpp_conn_new(ctx);
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_TLS |
	    XMPP_CONN_FLAG_DISABLE_SM);
	if (jid != NULL) {
		if ((pass = getenv("HELPIM_CHAT_PASSWORD")) == NULL)
			log_errx(EXIT_PERM, "-j needs HELPIM_CHAT_PASSWORD");
		xmpp_conn_set_jid(conn, jid);
		xmpp_conn_set_pass(conn, pass);
	} else
		xmpp_conn_set_jid(conn, domain);
	xmpp_conn_set_sockopt_callback(conn, st_on_sockopt);
	if (xmpp_connect_client(conn, host, port, on_conn, NULL) != 0)
		log_errx(EXIT_TEMP, "cannot connect to %s port %ld", host,
		    port);

	while (!gone) {
		if (sigquit)
			quitting = 1;
		if (quitting == 1 && online) {
			quitting = 2;
			leave_all();
			xmpp_disconnect(conn);
		}
		n = 0;
		if (online && !in_eof && !quitting) {
			pfd[n].fd = STDIN_FILENO;
			pfd[n++].events = POLLIN;
		}
		if (st_sock != -1) {
			pfd[n].fd = st_sock;
			pfd[n++].events = POLLIN |
			    (xmpp_conn_send_queue_len(conn) > 0 ? POLLOUT : 0);
		}
		/* libstrophe's own replies while logging in are not counted
		 * in the send queue: poll briefly then */
		if (poll(pfd, n, online ? 100 : 5) == -1 && errno != EINTR)
			log_err(EXIT_TEMP, "poll");
		if (n > 0 && pfd[0].fd == STDIN_FILENO &&
		    (pfd[0].revents & (POLLIN | POLLHUP))) {
			if (lread_fill(&lr, STDIN_FILENO) <= 0)
				in_eof = 1;
			while ((line = lread_next(&lr)) != NULL)
				if (*line != '\0')
					command(line, lr.lineno);
			if (in_eof)
				quitting = quitting ? quitting : 1;
		}
		xmpp_run_once(ctx, 0);
	}
	printf("offline\n");
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	return quitting ? 0 : EXIT_TEMP;
}
