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

#include "clock.h"
#include "line.h"
#include "log.h"
#include "stanza.h"

#define NS_MUC		"http://jabber.org/protocol/muc"
#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_ITEMS	"http://jabber.org/protocol/disco#items"
#define NS_INFO		"http://jabber.org/protocol/disco#info"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"

struct room {
	LIST_ENTRY(room) entry;
	char	*jid;
	char	*nick;
	int	 in;		/* in the room: a stay has begun, not ended */
	int	 stays;		/* joins that begin a stay, not ended */
	int	 leaves;	/* leaves sent, not yet answered */
	int	 again;		/* joins sent while one was unanswered */
};

static LIST_HEAD(, room) rooms = LIST_HEAD_INITIALIZER(rooms);
static xmpp_ctx_t *ctx;
static xmpp_conn_t *conn;
static int online, quitting, gone;
static volatile sig_atomic_t sigquit;

#define USAGE	"usage: helpim-chat [-h] [-d domain] [-H host] [-j jid] [-p port]\n"
#define LEAVE_MS	3000	/* on quitting: waiting for the rooms to answer */

static void help(FILE *);

static __dead void
usage(void)
{
	fprintf(stderr, USAGE);
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

/*
 * A room answers a participant's presences in the order they were sent, so
 * commands written at once may be answered long after: the answers to one
 * stay can come after the next join is sent.  A room is forgotten when the
 * last stay asked for has ended: left, or its join refused.
 */
static void
stay_end(struct room *r)
{
	r->in = 0;
	if (r->leaves > 0)
		r->leaves--;
	if (--r->stays <= 0)
		room_free(r);
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

/* to the occupant NICK of room r */
static void
presence_in(struct room *r, const char *nick, const char *type,
    xmpp_stanza_t *x)
{
	char *to;

	if (asprintf(&to, "%s/%s", r->jid, nick) == -1)
		log_err(EXIT_TEMP, "asprintf");
	presence_to(to, type, x);
	free(to);
}

/* A leave; the room ignores one from a participant who will not be in it. */
static void
leave(struct room *r)
{
	if (r->stays > r->leaves)
		r->leaves++;
	presence_in(r, r->nick, "unavailable", NULL);
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
		/* out of the room, an error answers the first join pending;
		 * a join sent after it is a join, not a change of nick */
		if (r != NULL && !r->in && r->stays > 0) {
			if (r->again > 0)
				r->again--;
			else
				stay_end(r);
		}
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
		stay_end(r);
		return 1;
	}
	if (!r->in) {
		r->in = 1;
		r->again = 0;
		free(r->nick);
		if ((r->nick = strdup(nick)) == NULL)
			log_err(EXIT_TEMP, "strdup");
		printf("joined %s %s\n", room, nick);
		/* a join answered after the quit */
		if (quitting)
			leave(r);
	} else if (strcmp(r->nick, nick) != 0) {
		free(r->nick);
		if ((r->nick = strdup(nick)) == NULL)
			log_err(EXIT_TEMP, "strdup");
		printf("nick %s %s\n", room, nick);
	}
	return 1;
}

/*
 * What others say in a room, one line each: the text percent-encoded as in
 * helpim-protocol(7).  The participant's own messages come back from the
 * room and are not shown again.
 */
static int
on_message(xmpp_conn_t *c, xmpp_stanza_t *st, void *arg)
{
	const char *from, *type;
	char room[3072], *nick, *body, *text;
	struct room *r;
	size_t n;

	(void)c, (void)arg;
	if ((from = xmpp_stanza_get_from(st)) == NULL)
		return 1;
	strlcpy(room, from, sizeof(room));
	if ((nick = strchr(room, '/')) != NULL)
		*nick++ = '\0';
	line_lower(room);
	type = xmpp_stanza_get_type(st);
	if (type != NULL && strcmp(type, "error") == 0) {
		printf("error %s %s\n", room, st_condition(st));
		return 1;
	}
	if (type == NULL || strcmp(type, "groupchat") != 0 || nick == NULL ||
	    (r = room_find(room)) == NULL || strcmp(nick, r->nick) == 0 ||
	    (body = xmpp_message_get_body(st)) == NULL)
		return 1;
	n = line_encode(NULL, 0, body) + 1;
	if ((text = malloc(n)) == NULL)
		log_err(EXIT_TEMP, "malloc");
	line_encode(text, n, body);
	printf("message %s %s %s\n", room, nick, text);
	free(text);
	xmpp_free(ctx, body);
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
say(struct room *r, const char *text)
{
	xmpp_stanza_t *m;

	m = xmpp_message_new(ctx, "groupchat", r->jid, NULL);
	st_add_text(ctx, m, "body", text);
	xmpp_send(conn, m);
	xmpp_stanza_release(m);
}

static void
join(char *jid, const char *nick, const char *password)
{
	struct room *r;
	xmpp_stanza_t *x;

	line_lower(jid);
	if ((r = room_find(jid)) == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL ||
		    (r->jid = strdup(jid)) == NULL)
			log_err(EXIT_TEMP, "calloc");
		LIST_INSERT_HEAD(&rooms, r, entry);
	}
	/* the room takes it as a change of nick if it will still be in */
	if (r->stays == r->leaves) {
		r->stays++;
		/* a stay still on keeps its nick until it ends */
		if (!r->in) {
			free(r->nick);
			if ((r->nick = strdup(nick)) == NULL)
				log_err(EXIT_TEMP, "strdup");
		}
	} else if (!r->in)
		r->again++;
	x = st_tag(ctx, "x", NS_MUC);
	if (password != NULL)
		st_add_text(ctx, x, "password", password);
	presence_in(r, nick, NULL, x);
}

static void
leave_all(void)
{
	struct room *r;

	LIST_FOREACH(r, &rooms, entry)
		if (r->in)
			leave(r);
}

/*
 * The commands.  A command with an optional ROOM takes the one room this
 * participant is in when ROOM is left out; "rest" takes the rest of the
 * line as its last argument.
 */
enum verb { JOIN, SAY, LEAVE, NICK, DISCO, INFO, RAW, HELP, QUIT };
static const struct cmd {
	const char	*name;
	const char	*args;
	const char	*what;
	int		 min, max;	/* arguments */
	int		 room;		/* the first one is an optional ROOM */
	int		 rest;
} cmds[] = {
	[JOIN] = { "join", "ROOM NICK [PASSWORD]", "enter a room", 2, 3 },
	[SAY] = { "say", "[ROOM] TEXT", "say TEXT in the room", 1, 2, 1, 1 },
	[LEAVE] = { "leave", "[ROOM]", "leave the room", 0, 1, 1 },
	[NICK] = { "nick", "[ROOM] NEWNICK", "change the nickname", 1, 2, 1 },
	[DISCO] = { "disco", "JID", "list the items of JID", 1, 1 },
	[INFO] = { "info", "JID", "show the features of JID", 1, 1 },
	[RAW] = { "raw", "XML", "send XML as it is (for tests)", 1, 1, 0, 1 },
	[HELP] = { "help", "", "show these commands", 0, 0 },
	[QUIT] = { "quit", "", "leave the rooms and exit", 0, 0 },
};

static void
help(FILE *fp)
{
	size_t i;
	int n;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		n = fprintf(fp, "  %s %s", cmds[i].name, cmds[i].args);
		fprintf(fp, "%*s%s\n", n < 30 ? 30 - n : 1, "", cmds[i].what);
	}
	fprintf(fp, "  ROOM may be left out while in one room only; "
	    "the end of input quits.\n");
}

/*
 * The room that the first argument names, taken off the arguments; else,
 * when the command does without it, the only room.
 */
static struct room *
room_arg(const struct cmd *c, char **argv, int *argc, unsigned long lineno)
{
	struct room *r, *named = NULL;
	char *sp = NULL, first[3072];
	int n = 0;

	if (*argc > 0) {
		strlcpy(first, argv[0], sizeof(first));
		if (c->rest && (sp = strchr(first, ' ')) != NULL)
			*sp = '\0';
		line_lower(first);
		if ((r = room_find(first)) != NULL && (!c->rest ||
		    sp != NULL)) {
			named = r;
			if (c->rest)
				argv[0] += sp - first + 1;
			else
				memmove(argv, argv + 1, --*argc * sizeof(*argv));
		} else if (*argc == c->max && !c->rest) {
			log_warnx("line %lu: %s: not in %s", lineno, c->name,
			    first);
			return NULL;
		}
	}
	if (*argc < c->min || (*argc > 0 && *argv[*argc - 1] == '\0')) {
		log_warnx("line %lu: usage: %s %s", lineno, c->name, c->args);
		return NULL;
	}
	if (named != NULL)
		return named;
	LIST_FOREACH(r, &rooms, entry) {
		named = r;
		n++;
	}
	if (n != 1) {
		log_warnx("line %lu: %s: %s", lineno, c->name, n == 0 ?
		    "in no room" : "in several rooms: name one");
		return NULL;
	}
	return named;
}

static void
command(char *line, unsigned long lineno)
{
	const struct cmd *c = NULL;
	struct room *r = NULL;
	char *argv[4], *sp;
	size_t i;
	int argc = 0;

	if ((sp = strchr(line, ' ')) != NULL)
		*sp++ = '\0';
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(line, cmds[i].name) == 0)
			c = &cmds[i];
	if (c == NULL) {
		log_warnx("line %lu: unknown command \"%s\"; type help for "
		    "the commands", lineno, line);
		return;
	}
	if (c->rest && sp != NULL) {
		argv[argc++] = sp;
		sp = NULL;
	}
	while (sp != NULL && argc < c->max) {
		argv[argc++] = sp;
		if ((sp = strchr(sp, ' ')) != NULL)
			*sp++ = '\0';
	}
	if (sp != NULL || (!c->room && (argc < c->min ||
	    (argc > 0 && *argv[argc - 1] == '\0')))) {
		log_warnx("line %lu: usage: %s %s", lineno, c->name, c->args);
		return;
	}
	if (c->room && (r = room_arg(c, argv, &argc, lineno)) == NULL)
		return;
	switch (c - cmds) {
	case JOIN:
		join(argv[0], argv[1], argc == 3 ? argv[2] : NULL);
		break;
	case SAY:
		say(r, argv[0]);
		break;
	case LEAVE:
		leave(r);
		break;
	case NICK:
		presence_in(r, argv[0], NULL, NULL);
		break;
	case DISCO:
	case INFO:
		line_lower(argv[0]);
		disco(c->name, argv[0]);
		break;
	case RAW:
		xmpp_send_raw(conn, argv[0], strlen(argv[0]));
		break;
	case HELP:
		help(stdout);
		break;
	case QUIT:
		quitting = 1;
		break;
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
		xmpp_handler_add(c, on_message, NULL, "message", NULL, NULL);
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
	long long leave_by = 0;
	int ch, n, rn, in_eof = 0;

	if ((e = getenv("XMPP_PORT")) != NULL && *e != '\0')
		port = strtonum(e, 1, 65535, NULL);
	if ((e = getenv("ANON_DOMAIN")) != NULL && *e != '\0')
		domain = e;
	while ((ch = getopt(argc, argv, "d:hH:j:p:s:")) != -1) {
		if (ch == 's')
			ch = log_renamed(ch, 'H');
		switch (ch) {
		case 'h':
			printf(USAGE "commands, one a line:\n");
			help(stdout);
			exit(0);
		case 'H':
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
	sig_stop(onsignal);

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
			leave_by = clock_ms() + LEAVE_MS;
		}
		if (quitting == 2 && (LIST_EMPTY(&rooms) ||
		    clock_ms() >= leave_by)) {
			quitting = 3;
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
			if ((rn = lread_fill(&lr, STDIN_FILENO)) == 0 ||
			    (rn == -1 && errno != EINTR))
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
