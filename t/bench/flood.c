/*
 * flood: reads the configuration; sends the create-and-configure stanzas
 * of helpim-mkrooms for COUNT rooms as fast as the XMPP server takes them,
 * without a database and without verification; prints the rooms configured.
 * The benchmark's measure of the server's own limit.  With -i, also the
 * disco#info query with which helpim-mkrooms checks each room (its answer
 * is not read): the server's limit with that check.
 */

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <strophe.h>

#include "../../src/conf.h"
#include "../../src/log.h"

#define FIELD(var, val) \
	"<field var='" var "'><value>" val "</value></field>"

static struct conf	 c;
static xmpp_ctx_t	*ctx;
static xmpp_conn_t	*conn;
static int		 xsock = -1, online, dead, info;
static long		 sent, done, failed;
static char		 tag[16];

static void
usage(void)
{
	fprintf(stderr, "usage: flood [-i] [-f file] [-J window] [-N count]\n");
	exit(EXIT_PERM);
}

static void
room(long i)
{
	char pw[33], buf[4096];
	unsigned char rnd[16];
	int k, n;

	arc4random_buf(rnd, sizeof(rnd));
	for (k = 0; k < 16; k++)
		snprintf(pw + 2 * k, 3, "%02x", rnd[k]);
	n = snprintf(buf, sizeof(buf),
	    "<presence to='bench-%s-%ld@%s/bot'>"
	    "<x xmlns='http://jabber.org/protocol/muc'>"
	    "<password>%s</password><history maxstanzas='0'/></x></presence>"
	    "<iq type='set' to='bench-%s-%ld@%s' id='f%ld'>"
	    "<query xmlns='http://jabber.org/protocol/muc#owner'>"
	    "<x xmlns='jabber:x:data' type='submit'>"
	    FIELD("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig")
	    FIELD("muc#roomconfig_persistentroom", "1")
	    FIELD("muc#roomconfig_publicroom", "0")
	    FIELD("muc#roomconfig_membersonly", "0")
	    FIELD("muc#roomconfig_passwordprotectedroom", "1")
	    FIELD("muc#roomconfig_roomsecret", "%s")
	    FIELD("muc#roomconfig_enablelogging", "0")
	    FIELD("muc#roomconfig_enablearchiving", "0")
	    FIELD("muc#roomconfig_historylength", "%d")
	    FIELD("muc#maxhistoryfetch", "%d")
	    FIELD("muc#roomconfig_maxusers", "%d")
	    FIELD("muc#roomconfig_allowinvites", "0")
	    FIELD("muc#roomconfig_allowpm", "none")
	    FIELD("muc#roomconfig_whois", "moderators")
	    FIELD("muc#roomconfig_changesubject", "0")
	    "</x></query></iq>",
	    tag, i, c.muc_domain, pw, tag, i, c.muc_domain, i, pw,
	    c.history_length, c.history_length, c.max_chatters + 1);
	if (info)
		n += snprintf(buf + n, sizeof(buf) - n,
		    "<iq type='get' to='bench-%s-%ld@%s' id='i%ld'>"
		    "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
		    tag, i, c.muc_domain, i);
	n += snprintf(buf + n, sizeof(buf) - n,
	    "<presence type='unavailable' to='bench-%s-%ld@%s/bot'/>",
	    tag, i, c.muc_domain);
	xmpp_send_raw(conn, buf, n);
	sent++;
}

static int
on_iq(xmpp_conn_t *cn, xmpp_stanza_t *st, void *arg)
{
	const char *id, *type;

	(void)cn;
	(void)arg;
	id = xmpp_stanza_get_id(st);
	type = xmpp_stanza_get_type(st);
	if (id == NULL || id[0] != 'f' || type == NULL)
		return 1;
	if (strcmp(type, "result") == 0)
		done++;
	else if (strcmp(type, "error") == 0)
		failed++;
	return 1;
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
		online = 1;
	else if (ev == XMPP_CONN_DISCONNECT)
		dead = 1;
}

static int
on_sockopt(xmpp_conn_t *cn, void *sock)
{
	(void)cn;
	xsock = *(int *)sock;
	return 0;
}

int
main(int argc, char *argv[])
{
	char jid[sizeof(c.jid) + sizeof(c.resource) + 32];
	const char *file = NULL, *e;
	struct pollfd pfd;
	unsigned char rnd[4];
	long count = 1000, window = 0;
	int ch;

	while ((ch = getopt(argc, argv, "f:iJ:N:")) != -1)
		switch (ch) {
		case 'i':
			info = 1;
			break;
		case 'N':
			count = strtonum(optarg, 1, 1000000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "count %s: %s", optarg, e);
			break;
		case 'f':
			file = optarg;
			break;
		case 'J':
			window = strtonum(optarg, 0, 1000000, &e);
			if (e != NULL)
				errx(EXIT_PERM, "window %s: %s", optarg, e);
			break;
		default:
			usage();
		}
	if (argc != optind)
		usage();
	if (conf_load(&c, conf_path(file), CONF_SECRET) == -1)
		return EXIT_PERM;
	if (window == 0)
		window = count;
	arc4random_buf(rnd, sizeof(rnd));
	snprintf(tag, sizeof(tag), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	    rnd[3]);

	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	conn = xmpp_conn_new(ctx);
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_SM |
	    XMPP_CONN_FLAG_DISABLE_TLS);
	snprintf(jid, sizeof(jid), "%s/%s-flood-%ld", c.jid, c.resource,
	    (long)getpid());
	xmpp_conn_set_jid(conn, jid);
	xmpp_conn_set_pass(conn, c.password);
	conf_clear(&c);
	xmpp_conn_set_sockopt_callback(conn, on_sockopt);
	if (xmpp_connect_client(conn, c.server, c.port, on_conn, NULL) !=
	    XMPP_EOK)
		errx(EXIT_TEMP, "cannot connect");
	while (!online && !dead)
		xmpp_run_once(ctx, 100);
	if (!online)
		errx(EXIT_TEMP, "cannot log in");
	xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, NULL);

	while (done + failed < count && !dead) {
		while (sent < count && sent - done - failed < window)
			room(sent);
		pfd.fd = xsock;
		pfd.events = POLLIN;
		if (xmpp_conn_send_queue_len(conn) > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR)
			err(EXIT_TEMP, "poll");
		xmpp_run_once(ctx, 0);
	}
	if (dead)
		errx(EXIT_TEMP, "connection lost after %ld rooms", done);
	xmpp_disconnect(conn);
	while (!dead)
		xmpp_run_once(ctx, 50);
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	printf("%ld\n", done);
	if (failed > 0)
		warnx("%ld rooms refused", failed);
	return failed > 0 ? EXIT_TEMP : 0;
}
