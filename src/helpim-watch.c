/*
 * helpim-watch: reads feed lines (watch, rekey, close) on stdin, occupies
 * those MUC rooms as the bot and writes event lines on stdout.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "clock.h"
#include "conf.h"
#include "line.h"
#include "log.h"
#include "stanza.h"
#include "watch-room.h"

#define NS_MUC		"http://jabber.org/protocol/muc"
#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_MUC_ADMIN	"http://jabber.org/protocol/muc#admin"
#define NS_MUC_OWNER	"http://jabber.org/protocol/muc#owner"
#define NS_MUC_ROOMCONFIG "http://jabber.org/protocol/muc#roomconfig"
#define NS_WATCH	"urn:helpim:watch"	/* our sessions' presence */
#define DESTROY_ID	"destroy "	/* + room JID */
#define REKEY_ID	"rekey "	/* + room JID */
#define KICK_ID		"kick "		/* + room JID/nick */
#define BAN_ID		"ban "		/* + room JID */
#define FULL_REASON	"room full"
#define EMPTY_REASON	"empty"
#define NICK_TRIES	5		/* nick, nick-2, then nick-RANDOM */
#define NICK_RETRY	60000		/* ms: all taken, try again then */
#define JOIN_TIMEOUT	15000		/* ms: a join not answered is sent again */
#define BACKOFF_MIN	1000		/* ms: after a temporary error, */
#define BACKOFF_MAX	60000		/* doubling up to this */
#define POLL_MAX	1000		/* ms: the longest poll */
#define SETTLE		500		/* ms online before joining: time for
					   a running watcher to say so */

/*
 * A room's life: every legal move is in moves[][], the state that an input
 * takes the room to and what is done on the way.  An input without a move
 * is ignored.  Occupants come and go within IN (occupant_presence).
 */
enum state { JOINING, IN, CLOSING, GONE };
enum input {
	JOIN_OK,	/* our presence in the room: we are in */
	JOIN_NEW,	/* the same, but the room had vanished: a new one */
	JOIN_TAKEN,	/* join refused: the nick is taken */
	JOIN_OLDPASS,	/* refused: the room has its new password already */
	JOIN_BUSY,	/* refused for now */
	JOIN_REFUSED,	/* refused for good */
	LEFT,		/* we are out: kicked, banned, the room destroyed */
	CLOSE,		/* the feed closes the room */
	DUE,		/* r->due came */
	REKEY,		/* a new password to set */
	REKEY_OK, REKEY_BUSY, REKEY_REFUSED,	/* its answer */
	DESTROY_OK, DESTROY_BUSY, DESTROY_REFUSED, /* our destroy's */
	NINPUTS
};
/* the new password of a room whose claim expired */
enum rekey { REKEY_NONE, REKEY_SENT, REKEY_WAIT, REKEY_FAILED };
static const char *const statename[] = { "joining", "in", "closing",
	"gone" };
static const char *const inputname[] = { "join-ok", "join-new",
	"join-taken", "join-oldpass", "join-busy", "join-refused", "left",
	"close", "due", "rekey", "rekey-ok", "rekey-busy", "rekey-refused",
	"destroy-ok", "destroy-busy", "destroy-refused" };

typedef void action(struct room *, const char *);
static action joined, recreated, nick_taken, new_password, join_later,
    join_again, gone, keep_reason, close_room, close_empty, rekey, rekeyed,
    rekey_later, rekey_refused, destroyed, destroy_later, destroy_again,
    nothing;

static const struct move {
	unsigned char	 next;
	action		*act;
} moves[][NINPUTS] = {
	[JOINING] = {
		[JOIN_OK] =		{ IN, joined },
		[JOIN_NEW] =		{ GONE, recreated },
		[JOIN_TAKEN] =		{ JOINING, nick_taken },
		[JOIN_OLDPASS] =	{ JOINING, new_password },
		[JOIN_BUSY] =		{ JOINING, join_later },
		[JOIN_REFUSED] =	{ GONE, gone },
		[LEFT] =		{ GONE, gone },
		[CLOSE] =		{ JOINING, keep_reason }, /* once in */
		[DUE] =			{ JOINING, join_again },
		[REKEY] =		{ JOINING, nothing },	/* once in */
	},
	[IN] = {
		[LEFT] =		{ GONE, gone },
		[CLOSE] =		{ CLOSING, close_room },
		[DUE] =			{ CLOSING, close_empty },
		[REKEY] =		{ IN, rekey },
		[REKEY_OK] =		{ IN, rekeyed },
		[REKEY_BUSY] =		{ IN, rekey_later },
		[REKEY_REFUSED] =	{ IN, rekey_refused },
	},
	[CLOSING] = {	/* our presence leaving is ours: the answer counts */
		[DUE] =			{ CLOSING, destroy_again },
		[DESTROY_OK] =		{ GONE, destroyed },
		[DESTROY_BUSY] =	{ CLOSING, destroy_later },
		[DESTROY_REFUSED] =	{ GONE, gone },
	},
};

static void
step(struct room *r, enum input in, const char *arg)
{
	const struct move *m = &moves[r->state][in];

	if (m->act == NULL) {
		log_debug("%s: %s while %s: ignored", r->jid, inputname[in],
		    statename[r->state]);
		return;
	}
	r->state = m->next;
	m->act(r, arg);
}

static struct conf conf;
static xmpp_ctx_t *ctx;
static xmpp_conn_t *conn;
static long long started;	/* ms since the epoch: the older one stays */
static long long settle;	/* joining from then on */
static int online, dropped, droperr, authfail, in_eof, leaving;
static volatile sig_atomic_t sigquit;

static __dead void
usage(void)
{
	fprintf(stderr, "usage: helpim-watch [-nqv] [-f file]\n");
	exit(EXIT_PERM);
}

static void
onsignal(int sig)
{
	(void)sig;
	sigquit = 1;
}

static void
set_due(struct room *r, long long due)
{
	room_timer(r, &r->due, due);
}

/* After a temporary error: 1 s, doubling up to a minute. */
static long long
backoff(struct room *r)
{
	r->backoff = r->backoff == 0 ? BACKOFF_MIN :
	    r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
	return clock_ms() + r->backoff;
}

/* An error that waiting may mend: the room is tried again, not lost. */
static int
temporary(xmpp_stanza_t *st)
{
	static const char *conds[] = { "resource-constraint",
	    "service-unavailable", "internal-server-error",
	    "remote-server-timeout" };
	xmpp_stanza_t *e;
	const char *type, *c;
	size_t i;

	if ((e = xmpp_stanza_get_child_by_name(st, "error")) != NULL &&
	    (type = xmpp_stanza_get_type(e)) != NULL &&
	    strcmp(type, "wait") == 0)
		return 1;
	c = st_condition(st);
	for (i = 0; i < sizeof(conds) / sizeof(conds[0]); i++)
		if (strcmp(c, conds[i]) == 0)
			return 1;
	return 0;
}

static const char *
cause(xmpp_stanza_t *st, xmpp_stanza_t *x)
{
	if (st_has_code(x, "301"))
		return "banned";
	if (st_has_code(x, "321") || st_has_code(x, "322"))
		return "removed";
	if (st_has_code(x, "332"))
		return "shutdown";
	if (st_has_code(x, "333"))
		return "disconnected";
	if (st_has_code(x, "307"))
		return "kicked";
	if (xmpp_stanza_get_child_by_name(st, "error") != NULL)
		return "error";
	return "left";
}

/* Another session of the bot's own account: never a chatter. */
static int
is_bot(const char *realjid)
{
	size_t n = strlen(conf.jid);

	return realjid != NULL && strncasecmp(realjid, conf.jid, n) == 0 &&
	    (realjid[n] == '\0' || realjid[n] == '/');
}

static void
put(char *line, size_t len)
{
	line[len++] = '\n';
	if (fwrite(line, 1, len, stdout) != len || fflush(stdout) == EOF)
		log_err(EXIT_TEMP, "stdout");
}

/*
 * One event line: VERB|TIME|ROOM|N, then the fields, percent-encoded.
 * XMPP keeps nicks and JIDs short enough; a field that still does not
 * fit (a close reason near the feed's line limit) is left empty.
 */
static void
emit(const char *verb, struct room *r, int n, int nf, ...)
{
	char line[LINE_MAX_LEN + 2], t[TIME_LEN];
	size_t len, w;
	va_list ap;

	clock_stamp(t, sizeof(t));
	len = snprintf(line, sizeof(line), "%s|%s|%s|%d", verb, t, r->jid, n);
	va_start(ap, nf);
	while (nf-- > 0) {
		w = line_encode(line + len + 1, sizeof(line) - len - 1,
		    va_arg(ap, const char *));
		if (len + 1 + w > LINE_MAX_LEN)
			w = 0;
		line[len] = '|';
		len += 1 + w;
	}
	va_end(ap);
	log_debug("%.*s", (int)len, line);
	put(line, len);
}

/* The nick list ends early if it would make the line too long. */
static void
snapshot(struct room *r)
{
	char line[LINE_MAX_LEN + 2], t[TIME_LEN];
	size_t len, w;
	int i;

	clock_stamp(t, sizeof(t));
	len = snprintf(line, sizeof(line), "snapshot|%s|%s|%d", t, r->jid,
	    room_chatters(r));
	for (i = 0; i < r->nocc && len < LINE_MAX_LEN; i++) {
		if (r->occ[i].extra)
			continue;
		w = line_encode(line + len + 1, sizeof(line) - len - 1,
		    r->occ[i].nick);
		if (len + 1 + w > LINE_MAX_LEN)
			break;
		line[len] = '|';
		len += 1 + w;
	}
	put(line, len);
}

static const char *
botnick(struct room *r)
{
	static char alt[sizeof(conf.nick) + sizeof("-65535")];

	if (r->sfx == 0)
		return conf.nick;
	snprintf(alt, sizeof(alt), "%s-%u", conf.nick, r->sfx);
	return alt;
}

static void
send_release(xmpp_stanza_t *st)
{
	xmpp_send(conn, st);
	xmpp_stanza_release(st);
}

static void
join(struct room *r)
{
	xmpp_stanza_t *p, *x, *h;
	char to[4096];

	p = xmpp_presence_new(ctx);
	snprintf(to, sizeof(to), "%s/%s", r->jid, botnick(r));
	xmpp_stanza_set_to(p, to);
	x = st_add(p, st_tag(ctx, "x", NS_MUC));
	st_add_text(ctx, x, "password", r->pass);
	h = st_add(x, st_tag(ctx, "history", NULL));
	xmpp_stanza_set_attribute(h, "maxstanzas", "0");
	send_release(p);
	/* unanswered: sent again after 15 s, 30 s, then every minute */
	set_due(r, clock_ms() + JOIN_TIMEOUT * (1 << (r->waits < 2 ?
	    r->waits : 2)));
}

/* The room's new password, in its configuration form: only that field. */
static void
rekey(struct room *r, const char *unused)
{
	xmpp_stanza_t *iq, *q, *x, *f;
	char id[4096];

	(void)unused;
	snprintf(id, sizeof(id), REKEY_ID "%s", r->jid);
	iq = xmpp_iq_new(ctx, "set", id);
	xmpp_stanza_set_to(iq, r->jid);
	q = st_add(iq, st_tag(ctx, "query", NS_MUC_OWNER));
	x = st_add(q, st_tag(ctx, "x", "jabber:x:data"));
	xmpp_stanza_set_type(x, "submit");
	f = st_add(x, st_tag(ctx, "field", NULL));
	xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
	st_add_text(ctx, f, "value", NS_MUC_ROOMCONFIG);
	f = st_add(x, st_tag(ctx, "field", NULL));
	xmpp_stanza_set_attribute(f, "var", "muc#roomconfig_roomsecret");
	st_add_text(ctx, f, "value", r->newpass);
	send_release(iq);
	r->rekey = REKEY_SENT;
}

/*
 * A muc#admin item: attr=value and role or affiliation.  The id names
 * the room, and for a kick the nick too, so that a failed kick is known.
 */
static void
admin(struct room *r, const char *idp, const char *attr, const char *value,
    const char *what, const char *to, const char *reason)
{
	xmpp_stanza_t *iq, *q, *item;
	char id[4096 + 1024];

	snprintf(id, sizeof(id), "%s%s%s%s", idp, r->jid,
	    strcmp(attr, "nick") == 0 ? "/" : "",
	    strcmp(attr, "nick") == 0 ? value : "");
	iq = xmpp_iq_new(ctx, "set", id);
	xmpp_stanza_set_to(iq, r->jid);
	q = st_add(iq, st_tag(ctx, "query", NS_MUC_ADMIN));
	item = st_add(q, st_tag(ctx, "item", NULL));
	xmpp_stanza_set_attribute(item, attr, value);
	xmpp_stanza_set_attribute(item, what, to);
	if (reason[0] != '\0')
		st_add_text(ctx, item, "reason", reason);
	send_release(iq);
}

static void
kick(struct room *r, const char *nick, const char *reason)
{
	admin(r, KICK_ID, "nick", nick, "role", "none", reason);
}

/* Anonymous JIDs are never reused: banning one bans one visit. */
static void
ban(struct room *r, const char *realjid, const char *reason)
{
	admin(r, BAN_ID, "jid", realjid, "affiliation", "outcast", reason);
}

static void
destroy(struct room *r, const char *reason)
{
	xmpp_stanza_t *iq, *q, *d;
	char id[4096];

	snprintf(id, sizeof(id), DESTROY_ID "%s", r->jid);
	iq = xmpp_iq_new(ctx, "set", id);
	xmpp_stanza_set_to(iq, r->jid);
	q = st_add(iq, st_tag(ctx, "query", NS_MUC_OWNER));
	d = st_add(q, st_tag(ctx, "destroy", NULL));
	if (reason[0] != '\0')
		st_add_text(ctx, d, "reason", reason);
	send_release(iq);
}

/*
 * Our presence to the account's other sessions (to == NULL), or the answer
 * to a newcomer: a watcher of this instance runs, since then.  Priority
 * -1: no message for the account is ever routed here.
 */
static void
announce(const char *to)
{
	xmpp_stanza_t *p, *x;
	char since[32];

	p = xmpp_presence_new(ctx);
	if (to != NULL)
		xmpp_stanza_set_to(p, to);
	else
		st_add_text(ctx, p, "priority", "-1");
	x = st_add(p, st_tag(ctx, "x", NS_WATCH));
	xmpp_stanza_set_attribute(x, "instance", conf.instance);
	snprintf(since, sizeof(since), "%lld", started);
	xmpp_stanza_set_attribute(x, "since", since);
	if (to != NULL)
		xmpp_stanza_set_attribute(x, "reply", "1");
	send_release(p);
}

/* An extra chatter: kicked, no longer counted. */
static void
make_extra(struct room *r, int i)
{
	r->occ[i].extra = 1;
	kick(r, r->occ[i].nick, FULL_REASON);
}

/*
 * Too many chatters (the bot was away): those the database does not name
 * go, the last listed first; one it names only if nobody else can (never,
 * while the names are right).  Prosody lists occupants in no order of
 * arrival.
 */
static void
trim(struct room *r)
{
	int i, max = conf.max_chatters;

	for (i = r->nocc - 1; i >= 0 && room_chatters(r) > max; i--)
		if (!r->occ[i].extra && !room_named(r, r->occ[i].nick))
			make_extra(r, i);
	for (i = r->nocc - 1; i >= 0 && room_chatters(r) > max; i--)
		if (!r->occ[i].extra)
			make_extra(r, i);
}

static void
occupant_presence(struct room *r, xmpp_stanza_t *st, xmpp_stanza_t *x,
    const char *nick, int unavailable)
{
	xmpp_stanza_t *item;
	const char *realjid = NULL, *newnick;
	int i, k, extra, n;

	if ((item = xmpp_stanza_get_child_by_name(x, "item")) != NULL)
		realjid = xmpp_stanza_get_attribute(item, "jid");
	if (is_bot(realjid))
		return;
	i = occ_find(r, nick);
	if (unavailable) {
		if (i < 0)
			return;
		if (st_has_code(x, "303") && item != NULL &&
		    (newnick = xmpp_stanza_get_attribute(item, "nick")) !=
		    NULL) {
			if (!r->occ[i].extra && r->state != JOINING)
				emit("nick", r, room_chatters(r), 2, nick,
				    newnick);
			occ_rename(r, i, newnick);
			/* renamed before our kick came: that kick fails */
			if (r->occ[i].extra && r->state == IN)
				kick(r, newnick, FULL_REASON);
			return;
		}
		extra = r->occ[i].extra;
		occ_del(r, i);
		if (extra || r->state == JOINING)
			return;
		n = room_chatters(r);
		emit("leave", r, n, 2, nick, cause(st, x));
		if (n == 0 && r->state == IN)
			set_due(r, clock_ms() + conf.grace);
		return;
	}
	if (i >= 0 || r->state == CLOSING)
		return;		/* a presence update; or too late */
	if (r->state == JOINING) {
		occ_add(r, nick, realjid, 0);
		return;
	}
	/* one the database does not name, into a full room: kicked */
	if (!room_named(r, nick) && room_chatters(r) >= conf.max_chatters) {
		occ_add(r, nick, realjid, 1);
		kick(r, nick, FULL_REASON);
		emit("kick", r, room_chatters(r), 2, nick, FULL_REASON);
		return;
	}
	/* one it names, into a room full of others: an unnamed one goes */
	if (room_chatters(r) >= conf.max_chatters &&
	    (k = occ_unnamed(r)) >= 0) {
		make_extra(r, k);
		emit("kick", r, room_chatters(r), 2, r->occ[k].nick,
		    FULL_REASON);
	}
	occ_add(r, nick, realjid, 0);
	room_name(r, nick, conf.max_chatters);
	set_due(r, 0);
	emit("join", r, room_chatters(r), 2, nick, jidhash(realjid));
}

/* The actions of moves[][], in its order. */

static void
joined(struct room *r, const char *nick)
{
	int i;

	freesecret(&r->pass);
	set_due(r, 0);
	r->backoff = 0;
	r->waits = 0;
	/* the server may have changed our nick (210) */
	free(r->self);
	r->self = xstrdup(nick);
	trim(r);
	if (room_chatters(r) == 1 && r->named[0] == NULL)
		for (i = 0; i < r->nocc; i++)
			if (!r->occ[i].extra)
				room_name(r, r->occ[i].nick, conf.max_chatters);
	snapshot(r);
	for (i = 0; i < r->nocc; i++)
		if (r->occ[i].extra)
			emit("kick", r, room_chatters(r), 2, r->occ[i].nick,
			    FULL_REASON);
	if (r->newpass != NULL)
		rekey(r, NULL);
	if (r->reason != NULL)
		step(r, CLOSE, r->reason);
	else if (room_chatters(r) == 0 && r->had)
		set_due(r, clock_ms() + conf.grace);
}

/* It had vanished; our join just made a new, locked one. */
static void
recreated(struct room *r, const char *unused)
{
	(void)unused;
	destroy(r, "recreated");
	gone(r, "recreated");
}

/*
 * Chatters may hold the bot's nicks (before a restart, say): a random
 * suffix they cannot guess gets the bot in.  If even that fails the room
 * is not given up: it stays unsupervised, so say so, and try again later.
 */
static void
nick_taken(struct room *r, const char *unused)
{
	(void)unused;
	if (++r->tries < NICK_TRIES) {
		r->sfx = r->tries == 1 ? 2 : 100 + arc4random_uniform(65436);
		join(r);
		return;
	}
	log_warnx("%s: every nick tried is taken; trying again in %d s", r->jid,
	    NICK_RETRY / 1000);
	r->tries = 0;
	r->sfx = 0;
	set_due(r, clock_ms() + NICK_RETRY);
}

/* A claim expired and the room's new password was set already. */
static void
new_password(struct room *r, const char *unused)
{
	(void)unused;
	freesecret(&r->pass);
	r->pass = xstrdup(r->newpass);
	join(r);
}

static void
join_later(struct room *r, const char *condition)
{
	log_warnx("%s: join refused for now (%s); trying again", r->jid,
	    condition);
	set_due(r, backoff(r));
}

static void
gone(struct room *r, const char *why)
{
	emit("gone", r, 0, 1, why);
	room_del(r);
}

static void
keep_reason(struct room *r, const char *reason)
{
	if (r->reason != reason) {
		free(r->reason);
		r->reason = xstrdup(reason);
	}
}

static void
join_again(struct room *r, const char *unused)
{
	(void)unused;
	if (r->waits < UCHAR_MAX)
		r->waits++;
	log_debug("%s: join unanswered, sent again", r->jid);
	join(r);
}

static void
nothing(struct room *r, const char *unused)
{
	(void)r, (void)unused;
}

/* Close: kick the chatters with the reason, then destroy the room. */
static void
close_room(struct room *r, const char *reason)
{
	int i;

	keep_reason(r, reason);
	set_due(r, 0);
	for (i = 0; i < r->nocc; i++)
		kick(r, r->occ[i].nick, reason);
	destroy(r, reason);
}

static void
close_empty(struct room *r, const char *unused)
{
	(void)unused;
	close_room(r, EMPTY_REASON);
}

/*
 * The room took its new password: the old one, which an expired claim
 * handed out, opens it no more, and it may be handed out again.
 */
static void
rekeyed(struct room *r, const char *unused)
{
	(void)unused;
	r->rekey = REKEY_NONE;
	freesecret(&r->newpass);
	emit("rekeyed", r, room_chatters(r), 0);
}

static void
rekey_later(struct room *r, const char *condition)
{
	r->rekey = REKEY_WAIT;
	log_warnx("%s: cannot set the new password for now (%s); trying again",
	    r->jid, condition);
	room_timer(r, &r->retry, backoff(r));
}

/* The room stays out of the claims: safe, and said. */
static void
rekey_refused(struct room *r, const char *condition)
{
	r->rekey = REKEY_FAILED;
	log_errorx("%s: cannot set the new password (%s); the room is not "
	    "handed out again", r->jid, condition);
}

static void
destroy_again(struct room *r, const char *unused)
{
	(void)unused;
	destroy(r, r->reason);
}

static void
destroyed(struct room *r, const char *unused)
{
	(void)unused;
	emit("destroyed", r, 0, 1, r->reason);
	room_del(r);
}

static void
destroy_later(struct room *r, const char *condition)
{
	log_warnx("%s: cannot destroy the room for now (%s); trying again",
	    r->jid, condition);
	set_due(r, backoff(r));
}

/*
 * Another session of the account.  A newcomer announcing itself is told
 * that we run; told so in turn by a watcher of our instance that started
 * first, we go: two watchers of one instance would fight over the rooms.
 * Only an answer counts, never a presence the server stored: that of a
 * session that died may linger.
 */
static void
sibling(xmpp_stanza_t *st, const char *from)
{
	xmpp_stanza_t *x;
	const char *inst, *since, *type, *e;
	long long t;

	if ((x = xmpp_stanza_get_child_by_name_and_ns(st, "x",
	    NS_WATCH)) == NULL ||
	    (inst = xmpp_stanza_get_attribute(x, "instance")) == NULL ||
	    strcmp(inst, conf.instance) != 0 ||
	    (since = xmpp_stanza_get_attribute(x, "since")) == NULL ||
	    ((type = xmpp_stanza_get_type(st)) != NULL &&
	    strcmp(type, "unavailable") == 0) ||
	    strcasecmp(from, xmpp_conn_get_bound_jid(conn)) == 0)
		return;
	if (xmpp_stanza_get_attribute(x, "reply") == NULL) {
		announce(from);
		return;
	}
	t = strtonum(since, 0, LLONG_MAX, &e);
	if (e == NULL && (t < started || (t == started &&
	    strcmp(from, xmpp_conn_get_bound_jid(conn)) < 0)))
		log_errx(EXIT_PERM, "another helpim-watch of instance '%s' "
		    "runs as %s: not starting", conf.instance, from);
}

static int
is_self(struct room *r, const char *nick, xmpp_stanza_t *x)
{
	int mine;

	mine = r->self != NULL ? strcmp(nick, r->self) == 0 :
	    strcmp(nick, botnick(r)) == 0;
	if (st_has_code(x, "110"))
		return mine || (r->state == JOINING && st_has_code(x, "210"));
	return mine && xmpp_stanza_get_child_by_name(x, "destroy") != NULL;
}

static void
self_presence(struct room *r, xmpp_stanza_t *st, xmpp_stanza_t *x,
    const char *nick, int unavailable)
{
	if (unavailable && st_has_code(x, "332"))
		return;		/* the server goes: we follow */
	if (unavailable)
		step(r, LEFT, xmpp_stanza_get_child_by_name(x, "destroy") !=
		    NULL ? "destroyed" : cause(st, x));
	else
		step(r, st_has_code(x, "201") ? JOIN_NEW : JOIN_OK, nick);
}

static enum input
join_error(struct room *r, xmpp_stanza_t *st)
{
	const char *c = st_condition(st);

	if (strcmp(c, "conflict") == 0)
		return JOIN_TAKEN;
	if (strcmp(c, "not-authorized") == 0 && r->pass != NULL &&
	    r->newpass != NULL && strcmp(r->pass, r->newpass) != 0)
		return JOIN_OLDPASS;
	return temporary(st) ? JOIN_BUSY : JOIN_REFUSED;
}

static int
on_presence(xmpp_conn_t *c, xmpp_stanza_t *st, void *arg)
{
	xmpp_stanza_t *x;
	const char *from, *type;
	char room[4096], *nick;
	struct room *r;
	int unavailable;

	(void)c, (void)arg;
	/* leaving: what comes now is acted on no more (no kick, no event) */
	if (leaving || (from = xmpp_stanza_get_from(st)) == NULL ||
	    strlcpy(room, from, sizeof(room)) >= sizeof(room) ||
	    (nick = strchr(room, '/')) == NULL)
		return 1;
	*nick++ = '\0';
	if (strcasecmp(room, conf.jid) == 0) {
		sibling(st, from);
		return 1;
	}
	line_lower(room);
	if ((r = room_find(room)) == NULL)
		return 1;
	type = xmpp_stanza_get_type(st);
	/* never answered: an error into a room gets us kicked */
	if (type != NULL && strcmp(type, "error") == 0) {
		if (strcmp(nick, botnick(r)) == 0)
			step(r, join_error(r, st), st_condition(st));
		return 1;
	}
	if ((x = xmpp_stanza_get_child_by_name_and_ns(st, "x",
	    NS_MUC_USER)) == NULL)
		return 1;
	unavailable = type != NULL && strcmp(type, "unavailable") == 0;
	/*
	 * Ours: 110 under the nick we asked for, or the one the server gave
	 * us instead (210), or ejabberd's destroy notice, which has no 110.
	 */
	if (is_self(r, nick, x))
		self_presence(r, st, x, nick, unavailable);
	else
		occupant_presence(r, st, x, nick, unavailable);
	return 1;
}

/*
 * A kick failed: the extra chatter may still be in, say renamed in
 * between (then kicked again under the new nick) or not kickable by
 * nick.  An extra still under that nick is banned by its real JID.
 */
static void
kick_failed(xmpp_stanza_t *st, const char *what)
{
	char room[4096], *nick;
	struct room *r;
	int i;

	if (strlcpy(room, what, sizeof(room)) >= sizeof(room) ||
	    (nick = strchr(room, '/')) == NULL)
		return;
	*nick++ = '\0';
	if ((r = room_find(room)) == NULL || r->state != IN ||
	    (i = occ_find(r, nick)) < 0 || !r->occ[i].extra)
		return;
	if (r->occ[i].realjid != NULL)
		ban(r, r->occ[i].realjid, FULL_REASON);
	else
		log_warnx("%s: cannot kick an extra chatter: %s", r->jid,
		    st_condition(st));
}

/* An iq's answer: OK, then for the errors BUSY and REFUSED, in that order. */
static void
answer(struct room *r, enum input ok, xmpp_stanza_t *st, const char *type)
{
	if (strcmp(type, "result") == 0)
		step(r, ok, NULL);
	else if (strcmp(type, "error") == 0)
		step(r, ok + (temporary(st) ? 1 : 2), st_condition(st));
}

/* Answers to our own iqs only; requests from others are never answered. */
static int
on_iq(xmpp_conn_t *c, xmpp_stanza_t *st, void *arg)
{
	const char *id, *type, *from;
	struct room *r;
	size_t n;

	(void)c, (void)arg;
	if (leaving || (id = xmpp_stanza_get_id(st)) == NULL ||
	    (type = xmpp_stanza_get_type(st)) == NULL ||
	    (from = xmpp_stanza_get_from(st)) == NULL)
		return 1;
	/* the answer comes from the room the id names, or it is forged */
	if (strncmp(id, KICK_ID, strlen(KICK_ID)) == 0) {
		n = strlen(from);
		if (strcmp(type, "error") == 0 &&
		    strncasecmp(id + strlen(KICK_ID), from, n) == 0 &&
		    id[strlen(KICK_ID) + n] == '/')
			kick_failed(st, id + strlen(KICK_ID));
		return 1;
	}
	if (strncmp(id, BAN_ID, strlen(BAN_ID)) == 0) {
		if (strcmp(type, "error") == 0 &&
		    strcasecmp(id + strlen(BAN_ID), from) == 0)
			log_warnx("%s: cannot ban an extra chatter: %s", from,
			    st_condition(st));
		return 1;
	}
	if (strncmp(id, REKEY_ID, strlen(REKEY_ID)) == 0) {
		if (strcasecmp(id + strlen(REKEY_ID), from) == 0 &&
		    (r = room_find(id + strlen(REKEY_ID))) != NULL &&
		    r->rekey == REKEY_SENT)
			answer(r, REKEY_OK, st, type);
		return 1;
	}
	if (strncmp(id, DESTROY_ID, strlen(DESTROY_ID)) == 0 &&
	    strcasecmp(id + strlen(DESTROY_ID), from) == 0 &&
	    (r = room_find(id + strlen(DESTROY_ID))) != NULL)
		answer(r, DESTROY_OK, st, type);
	return 1;
}

static void
feed(char *line, unsigned long lineno)
{
	struct feed fd;
	struct room *r;
	const char *why;
	size_t len = strlen(line);
	int i;

	if (lineno == 1 && strncmp(line, "helpim-feed|", 12) == 0) {
		if (strcmp(line, FEED_VERSION) != 0)
			log_errx(EXIT_PERM, "line 1: '%.40s' is not supported; "
			    "expected '%s'", line, FEED_VERSION);
		return;
	}
	if (lineno == 1)
		log_warnx("line 1: no version line '%s'", FEED_VERSION);
	if ((why = line_feed(line, &fd)) != NULL)
		log_warnx("line %lu: %s, skipped", lineno, why);
	else if (fd.status != NULL) {
		if ((r = room_add(fd.room)) != NULL) {	/* else watched */
			r->pass = xstrdup(fd.password);
			for (i = 0; i < fd.nnamed; i++)
				room_name(r, fd.named[i], conf.max_chatters);
			/* from staff_waiting on, a chatter has been here */
			r->had = strcmp(fd.status, "available") != 0 &&
			    strcmp(fd.status, "staff_claimed") != 0;
			join(r);
		}
	} else if ((r = room_find(fd.room)) == NULL)
		log_warnx("line %lu: %s %s: not watched, skipped", lineno,
		    fd.verb, fd.room);
	else if (fd.password != NULL) {
		freesecret(&r->newpass);
		r->newpass = xstrdup(fd.password);
		step(r, REKEY, NULL);
	} else
		step(r, CLOSE, fd.reason);
	/* the password, or what is left of it in a refused line */
	explicit_bzero(line, len);
}

/*
 * The timers that came, the room that wakes first first (in a room, its
 * retry before its due).  A step may set a timer, end one, or delete its
 * room: the first room is looked up again each time.
 */
static void
fire_due(void)
{
	long long now = clock_ms();
	struct room *r;

	while ((r = RB_MIN(timers, &timers)) != NULL && r->wake <= now) {
		if (r->retry != 0 && r->retry <= now) {
			room_timer(r, &r->retry, 0);
			if (r->rekey == REKEY_WAIT)
				step(r, REKEY, NULL);
		} else {
			set_due(r, 0);
			step(r, DUE, NULL);
		}
	}
}

static void
on_log(void *arg, xmpp_log_level_t level, const char *area, const char *msg)
{
	(void)arg;
	if (st_login_refused(msg))
		authfail = 1;
	else if (level >= XMPP_LEVEL_ERROR)
		log_warnx("xmpp %s: %s", area, msg);
}

static xmpp_log_t logger = { on_log, NULL };

static void
on_conn(xmpp_conn_t *c, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *arg)
{
	(void)arg;
	if (ev == XMPP_CONN_CONNECT) {
		online = 1;
		/*
		 * From here on libstrophe would format every stanza, a
		 * room's chat and passwords among them, for a debug line in
		 * a buffer on the stack; the end of the connection is told
		 * by the exit, with its error.
		 */
		logger.handler = NULL;
		/* logged in: the password is needed no more (st_mem clears) */
		xmpp_conn_set_pass(c, "");
		log_info("online as %s", xmpp_conn_get_bound_jid(c));
		xmpp_handler_add(c, on_presence, NULL, "presence", NULL, NULL);
		xmpp_handler_add(c, on_iq, NULL, "iq", NULL, NULL);
		announce(NULL);
		settle = clock_ms() + SETTLE;
		return;
	}
	if (se != NULL)
		log_warnx("stream error%s%s", se->text != NULL ? ": " : "",
		    se->text != NULL ? se->text : "");
	droperr = error;
	dropped = 1;
}

/* Leave the rooms (they stay), close the stream, wait a little for it. */
static void
shutdown_xmpp(void)
{
	long long end = clock_ms() + 3000;
	struct pollfd pfd;
	xmpp_stanza_t *p;

	leaving = 1;
	/* one broadcast reaches every room we sent presence to */
	p = xmpp_presence_new(ctx);
	xmpp_stanza_set_type(p, "unavailable");
	send_release(p);
	xmpp_disconnect(conn);
	while (!dropped && clock_ms() < end) {
		pfd.fd = st_sock;
		pfd.events = POLLIN |
		    (xmpp_conn_send_queue_len(conn) > 0 ? POLLOUT : 0);
		if (poll(&pfd, 1, 50) == -1 && errno != EINTR)
			break;
		xmpp_run_once(ctx, 0);
	}
}

static void
connect_xmpp(void)
{
	char tag[16];

	/*
	 * A resource of our own: the same full JID would log the other
	 * session out, where the instance's watcher is told to go (sibling).
	 */
	snprintf(tag, sizeof(tag), "%08x", arc4random());
	conn = st_connect(&ctx, &logger, &conf, "watch", tag, on_conn);
}

/*
 * We were paused (SIGSTOP, a frozen machine) past half the instance's
 * lease: another instance may have adopted our rooms.  Act on nothing
 * that came meanwhile, leave the rooms without kicking anyone, and let
 * helpim-run start a fresh pipeline, which finds out.
 */
static void
stand_down(long long ms)
{
	log_warnx("paused for %lld s, over half the lease: leaving the rooms, "
	    "standing down", ms / 1000);
	shutdown_xmpp();
	exit(EXIT_TEMP);
}

static int
poll_timeout(void)
{
	long long t, max;

	if (!online || clock_ms() < settle)
		return 5;	/* libstrophe logs in on its own queue */
	/* with TLS, decrypted bytes may wait where poll cannot see them */
	max = conf.tls == TLS_OFF ? POLL_MAX : 20;
	if ((t = room_wake()) == 0)
		return max;
	t -= clock_ms();
	return t < 0 ? 0 : t > max ? max : (int)t;
}

int
main(int argc, char *argv[])
{
	static struct lread lr;
	struct pollfd pfd[2];
	const char *fileopt = NULL;
	char *line;
	ssize_t rn;
	long long before;
	int ch, n, ready, check = 0;

	while ((ch = getopt(argc, argv, "f:nqv")) != -1) {
		switch (ch) {
		default:
			if (conf_opt(ch, &fileopt, &check) == -1)
				usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_load(&conf, conf_path(fileopt), CONF_SECRET) == -1 ||
	    jidhash_init(&conf) == -1)
		exit(EXIT_PERM);
	if (check) {
		conf_clear(&conf);
		exit(0);
	}

	sig_stop(onsignal);
	/*
	 * Not on the server before the feed begins: the feed of a second
	 * pipeline of this instance is refused (helpim-rooms holds the
	 * instance's lock), and this one never knocks the first one off.
	 */
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	while (!sigquit && poll(pfd, 1, -1) == -1)
		if (errno != EINTR)
			log_err(EXIT_TEMP, "poll");
	if (sigquit)
		exit(0);
	if ((rn = lread_fill(&lr, STDIN_FILENO)) == 0)
		exit(0);
	if (rn == -1)
		log_err(EXIT_TEMP, "stdin");
	if (printf("%s\n", EVENTS_VERSION) < 0 || fflush(stdout) == EOF)
		log_err(EXIT_TEMP, "stdout");
	started = clock_epoch_ms();
	connect_xmpp();

	while (!dropped) {
		if (sigquit || (in_eof && online)) {
			log_info("%s: leaving the rooms", sigquit ? "signal" :
			    "end of the feed");
			shutdown_xmpp();
			exit(0);
		}
		ready = online && clock_ms() >= settle;
		n = 0;
		if (ready && !in_eof) {
			pfd[n].fd = STDIN_FILENO;
			pfd[n++].events = POLLIN;
		}
		if (st_sock != -1) {
			pfd[n].fd = st_sock;
			pfd[n++].events = POLLIN |
			    (xmpp_conn_send_queue_len(conn) > 0 ? POLLOUT : 0);
		}
		before = clock_ms();
		if (poll(pfd, n, poll_timeout()) == -1 && errno != EINTR)
			log_err(EXIT_TEMP, "poll");
		if (clock_ms() - before > POLL_MAX + conf.lease / 2)
			stand_down(clock_ms() - before);
		/* (what came before we were online is read first) */
		if (ready && !in_eof &&
		    (pfd[0].revents & (POLLIN | POLLHUP))) {
			while ((line = lread_next(&lr)) != NULL)
				feed(line, lr.lineno);
			if ((rn = lread_fill(&lr, STDIN_FILENO)) == 0 ||
			    (rn == -1 && errno != EINTR))
				in_eof = 1;
		}
		if (ready)
			while ((line = lread_next(&lr)) != NULL)
				feed(line, lr.lineno);
		xmpp_run_once(ctx, 0);
		fire_due();
	}
	if (authfail && !online)
		log_errx(EXIT_PERM, "%s: login refused: wrong password "
		    "(or no such account)", conf.jid);
	if (online)
		log_errx(EXIT_TEMP, "connection to the XMPP server lost%s%s",
		    droperr != 0 ? ": " : "", droperr != 0 ?
		    strerror(droperr) : "");
	log_errx(EXIT_TEMP, "cannot reach the XMPP server %s port %d",
	    conf.server[0] != '\0' ? conf.server : conf.jid, conf.port);
}
