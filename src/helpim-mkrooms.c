/*
 * helpim-mkrooms: reads the configuration and the pool counts of
 * helpim.rooms; creates, configures and verifies rooms on the MUC service,
 * inserts them as available (with a NOTIFY) and prints their JIDs.  With
 * -F it stays logged in and tops the pool up again whenever the database
 * says a room left it (LISTEN helpim_webapp), and every refill_interval.
 *
 * The file reads in the order of a room's life: the slots and their moves,
 * how many rooms to make, then make, join, form, configure, verify, publish
 * and destroy; then the server's answers that drive the moves, the
 * connection, and the run.
 */

#include <sys/tree.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <strophe.h>

#include "clock.h"
#include "conf.h"
#include "db.h"
#include "line.h"
#include "log.h"
#include "stanza.h"

#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_MUC_OWNER	"http://jabber.org/protocol/muc#owner"
#define NS_INFO		"http://jabber.org/protocol/disco#info"
#define NS_DATA		"jabber:x:data"
#define NAME_RAND	16	/* base32 characters: 80 bits */
#define PW_LEN		24	/* base64url characters: 144 bits */
#define NODE_MAX	(sizeof(((struct conf *)0)->room_prefix) + NAME_RAND)
#define STALL_MS	30000	/* no answer from the server for this long */
#define MAX_WARN	10	/* per-room failures reported one by one */
#define GATHER_MS	200	/* -F: claims gathered into one refill */
#define LOCKED_MS	1000	/* -F: next try when another run counts */
#define BATCH_BYTES	12288	/* -F: an insert, within libpq's 16 KiB */

/*
 * A slot holds one room being made, from the join that creates it to its
 * row in the database (or its destruction), then the next one.  A slot's
 * life: every legal move is in moves[][], the state that an input takes the
 * slot to and what is done on the way.  An input without a move is
 * ignored.  The answers to a submitted form and to the disco#info query
 * behind it come in either order: S_CONF waits for both, the states after
 * it for the other one.  A new room passes through S_WAIT, at once unless
 * another room is fetching the form.  The run's form may be out of date, so
 * a refusal of it is retried once, with the form fetched again; a refusal
 * of a form fetched for the room or after its refusal (the _FRESH states)
 * is final.  fail destroys a room that moves to S_DESTROY if the server is
 * there, and forgets it otherwise; an empty why is not reported.  S_JOIN to
 * S_DESTROY wait for the server.
 */
enum state {
	S_FREE,
	S_JOIN,
	S_WAIT,		/* created, waiting for the form another room fetches */
	S_FORM,		/* fetching a form for this room */
	S_CONF,
	S_CONF_OK, S_CONF_RETRY, S_CONF_ERR, S_INFO_OK, S_INFO_ERR,
	S_WAIT_FRESH,	/* refused: waiting for the form fetched again */
	S_CONF_FRESH, S_INFO_OK_FRESH, S_INFO_ERR_FRESH,
	S_DESTROY,
	S_READY,	/* verified, in the queue for the database */
	S_DB,		/* in an insert */
	NSTATES
};
enum input {
	START,		/* a free slot starts a room: join */
	CREATED,	/* our presence with 201: the room is new, ours */
	EXISTED,	/* our presence without 201: somebody else's */
	REMOVED,	/* our presence leaving */
	JOIN_REFUSED,	/* a presence error */
	FORM_IN,	/* the run's form is known */
	FORM_MISSING,	/* it is not: fetch it */
	FORM_OK, FORM_REFUSED,	/* the answer to the fetch */
	CONF_OK, CONF_REFUSED,	/* the answer to the submit */
	INFO_OK,	/* disco#info: hidden, password-protected, persistent */
	INFO_BAD,
	DESTROYED,	/* the answer to the destroy */
	SENT,		/* in an insert */
	PUBLISHED,	/* inserted */
	UNPUBLISHED,	/* not inserted */
	DOUBT,		/* whether it was inserted is not known */
	ABANDON,	/* the server went away or stopped answering */
	NINPUTS
};
static const char *const statename[] = { "free", "join", "wait", "form",
	"conf", "conf-ok", "conf-retry", "conf-err", "info-ok", "info-err",
	"wait-fresh", "conf-fresh", "info-ok-fresh", "info-err-fresh",
	"destroy", "ready", "db" };
static const char *const inputname[] = { "start", "created", "existed",
	"removed", "join-refused", "form-in", "form-missing", "form-ok",
	"form-refused", "conf-ok", "conf-refused", "info-ok", "info-bad",
	"destroyed", "sent", "published", "unpublished", "doubt", "abandon" };

struct slot;
typedef void action(struct slot *, const char *);
static action join, new_room, existed, join_refused, getform, configure,
    configure_own, no_form, retry, ready, fail, destroyed,
    published, nothing;

#define REFUSED		"configuration refused"
#define NOT_HIDDEN	"not hidden, password-protected and persistent " \
			"after configuration"

/* A why of its own, or else the input's, goes to the action. */
static const struct move {
	unsigned char	 next;
	action		*act;
	const char	*why;
} moves[NSTATES][NINPUTS] = {
	[S_FREE] = {
		[START] =		{ S_JOIN, join },
	},
	[S_JOIN] = {
		[CREATED] =		{ S_WAIT, new_room },
		[EXISTED] =		{ S_FREE, existed, "already existed" },
		[REMOVED] =		{ S_FREE, fail,
		    "removed from the room while creating it" },
		[JOIN_REFUSED] =	{ S_FREE, join_refused },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_WAIT] = {
		[FORM_IN] =		{ S_CONF, configure },
		[FORM_MISSING] =	{ S_FORM, getform },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_FORM] = {
		[FORM_OK] =		{ S_CONF_FRESH, configure_own },
		[FORM_REFUSED] =	{ S_DESTROY, no_form,
		    "no configuration form" },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_CONF] = {
		[CONF_OK] =		{ S_CONF_OK, nothing },
		[CONF_REFUSED] =	{ S_CONF_RETRY, nothing },
		[INFO_OK] =		{ S_INFO_OK, nothing },
		[INFO_BAD] =		{ S_INFO_ERR, nothing },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_CONF_OK] = {
		[INFO_OK] =		{ S_READY, ready },
		[INFO_BAD] =		{ S_DESTROY, fail, NOT_HIDDEN },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_CONF_RETRY] = {
		[INFO_OK] =		{ S_WAIT_FRESH, retry },
		[INFO_BAD] =		{ S_WAIT_FRESH, retry },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_CONF_ERR] = {
		[INFO_OK] =		{ S_DESTROY, fail, REFUSED },
		[INFO_BAD] =		{ S_DESTROY, fail, REFUSED },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_INFO_OK] = {
		[CONF_OK] =		{ S_READY, ready },
		[CONF_REFUSED] =	{ S_WAIT_FRESH, retry },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_INFO_ERR] = {
		[CONF_OK] =		{ S_DESTROY, fail, NOT_HIDDEN },
		[CONF_REFUSED] =	{ S_WAIT_FRESH, retry },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_WAIT_FRESH] = {
		[FORM_IN] =		{ S_CONF_FRESH, configure },
		[FORM_MISSING] =	{ S_FORM, getform },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_CONF_FRESH] = {
		[CONF_OK] =		{ S_CONF_OK, nothing },
		[CONF_REFUSED] =	{ S_CONF_ERR, nothing },
		[INFO_OK] =		{ S_INFO_OK_FRESH, nothing },
		[INFO_BAD] =		{ S_INFO_ERR_FRESH, nothing },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_INFO_OK_FRESH] = {
		[CONF_OK] =		{ S_READY, ready },
		[CONF_REFUSED] =	{ S_DESTROY, fail, REFUSED },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_INFO_ERR_FRESH] = {
		[CONF_OK] =		{ S_DESTROY, fail, NOT_HIDDEN },
		[CONF_REFUSED] =	{ S_DESTROY, fail, REFUSED },
		[ABANDON] =		{ S_FREE, fail },
	},
	[S_DESTROY] = {		/* REMOVED: the destroy, or our leaving */
		[REMOVED] =		{ S_DESTROY, nothing },
		[DESTROYED] =		{ S_FREE, destroyed },
		[ABANDON] =		{ S_FREE, destroyed, "" },
	},
	[S_READY] = {
		[REMOVED] =		{ S_READY, nothing },
		[SENT] =		{ S_DB, nothing },
		[UNPUBLISHED] =		{ S_DESTROY, fail },
	},
	[S_DB] = {
		[REMOVED] =		{ S_DB, nothing },
		[PUBLISHED] =		{ S_FREE, published },
		[UNPUBLISHED] =		{ S_DESTROY, fail },
		[DOUBT] =		{ S_FREE, fail, "" },
	},
};

/* One of the jobs * 4 places for a room in the making. */
struct slot {
	char		 node[NODE_MAX];	/* the room's name */
	char		 pw[PW_LEN + 1];
	uint32_t	 serial;
	enum state	 state;
	int		 next;		/* free list or ready queue */
	RB_ENTRY(slot)	 entry;		/* in flight, by node */
};

static int
nodecmp(const struct slot *a, const struct slot *b)
{
	return strcmp(a->node, b->node);
}

RB_HEAD(nodes, slot);
RB_PROTOTYPE(nodes, slot, entry, nodecmp)
RB_GENERATE(nodes, slot, entry, nodecmp)

static struct conf	 conf;
static struct slot	*slots;
static struct nodes	 nodes = RB_INITIALIZER(&nodes);
static int		 nslots;
static int		 freelist = -1, readyhead = -1, readytail = -1;
static int		*batch, nbatch;
static uint32_t		 serial;
static size_t		 prefixlen;

/*
 * The owner form is fetched once per run (the same service offers the
 * same form) and fetched again only if a submit is refused; with -j 1 it
 * is fetched for every room.
 */
static enum { FORM_NONE, FORM_ASKED, FORM_KNOWN } form;
static unsigned		 formhave;	/* its fields, a bit per fields[] */
static int		 formcache;
static long		 nforms;	/* fetched */

static xmpp_ctx_t	*ctx;
static xmpp_conn_t	*conn;
static PGconn		*db;
static int		 dbbusy, dbok, dbbad;
static int		 dbcode = EXIT_TEMP;	/* exit code of a database failure */

static volatile sig_atomic_t gotsig;
static int	 online, connfail, authfail, lost, refused, dbdead, follow;
static char	 lasterr[256];
static long	 nflight, nready, started, created, failed, nwarn;
static long long lastheard;

static __dead void
usage(void)
{
	fprintf(stderr, "usage: helpim-mkrooms [-Fnqv] [-f file] [-J jobs] "
	    "[-N count]\n");
	exit(EXIT_PERM);
}

static void
onsig(int sig)
{
	gotsig = sig;
}

/* Room JIDs go into the database as they are: only what nodeprep keeps. */
static int
lowercheck(char *s, const char *extra)
{
	for (; *s != '\0'; s++) {
		*s = tolower((unsigned char)*s);
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return -1;
	}
	return 0;
}

/* The slots: finding a slot by an answer, and moving it. */

/*
 * The rooms in flight: presences are matched by room name; iq answers by
 * the id, which carries the slot, and by the sender, the room itself.
 */
static struct slot *
node_find(const char *node, size_t len)
{
	struct slot key;

	if (len >= sizeof(key.node))
		return NULL;
	memcpy(key.node, node, len);
	key.node[len] = '\0';
	return RB_FIND(nodes, &nodes, &key);
}

/* A room from "node@domain[/nick]", if the domain is the MUC service. */
static struct slot *
slot_by_jid(const char *jid)
{
	const char *at, *dom;
	size_t dlen;

	if (jid == NULL || (at = strchr(jid, '@')) == NULL)
		return NULL;
	dom = at + 1;
	dlen = strcspn(dom, "/");
	if (dlen != strlen(conf.muc_domain) ||
	    strncasecmp(dom, conf.muc_domain, dlen) != 0)
		return NULL;
	return node_find(jid, at - jid);
}

static struct slot *
slot_by_id(const char *id, int kind)
{
	unsigned long i, ser;
	char *end;

	if (id == NULL || id[0] != kind)
		return NULL;
	errno = 0;
	i = strtoul(id + 1, &end, 16);
	if (errno != 0 || *end != '.' || i >= (unsigned long)nslots)
		return NULL;
	ser = strtoul(end + 1, &end, 16);
	if (errno != 0 || *end != '\0' || slots[i].serial != ser ||
	    slots[i].state == S_FREE)
		return NULL;
	return &slots[i];
}

/* An answer: its id names the room, and the room sent it. */
static struct slot *
slot_by_answer(xmpp_stanza_t *st, int kind)
{
	struct slot *s;
	const char *from;
	size_t n;

	if ((s = slot_by_id(xmpp_stanza_get_id(st), kind)) == NULL ||
	    (from = xmpp_stanza_get_from(st)) == NULL)
		return NULL;
	/* room JIDs are nodeprep'd and nameprep'd: case does not count */
	n = strlen(s->node);
	if (strncasecmp(from, s->node, n) != 0 || from[n] != '@' ||
	    strcasecmp(from + n + 1, conf.muc_domain) != 0)
		return NULL;
	return s;
}

/* Waiting for an answer from the XMPP server. */
static int
inflight(const struct slot *s)
{
	return s->state >= S_JOIN && s->state <= S_DESTROY;
}

static void
step(struct slot *s, enum input in, const char *arg)
{
	const struct move *m = &moves[s->state][in];

	if (m->act == NULL) {
		log_debug("room %s@%s: %s while %s: ignored", s->node,
		    conf.muc_domain, inputname[in], statename[s->state]);
		return;
	}
	nflight -= inflight(s);
	s->state = m->next;
	nflight += inflight(s);
	m->act(s, m->why != NULL ? m->why : arg);
}

static void
nothing(struct slot *s, const char *unused)
{
	(void)s;
	(void)unused;
}

/* The room's JID, with the bot's nick as the resource when nick is set. */
static const char *
slot_jid(const struct slot *s, int nick)
{
	static char jid[NODE_MAX + sizeof(conf.muc_domain) +
	    sizeof(conf.nick) + 2];

	snprintf(jid, sizeof(jid), "%s@%s%s%s", s->node, conf.muc_domain,
	    nick ? "/" : "", nick ? conf.nick : "");
	return jid;
}

/* The id of an iq about the room: kind, slot and serial. */
static const char *
slot_id(const struct slot *s, int kind)
{
	static char id[32];

	snprintf(id, sizeof(id), "%c%x.%x", kind, (unsigned)(s - slots),
	    s->serial);
	return id;
}

static void
slot_free(struct slot *s)
{
	int i = s - slots;

	if (inflight(s))
		nflight--;
	RB_REMOVE(nodes, &nodes, s);
	explicit_bzero(s->pw, sizeof(s->pw));
	s->state = S_FREE;
	s->next = freelist;
	freelist = i;
}

/* How many rooms to make: the database's lock and count. */

static PGconn *
db_connect(void)
{
	PGconn *d;

	d = db_open(conf.db);
	if (PQstatus(d) != CONNECTION_OK) {
		log_errorx("database: %s", db_error(d, NULL));
		dbcode = db_exitcode(d, NULL);
		PQfinish(d);
		return NULL;
	}
	return d;
}

static PGresult *
db_exec(const char *sql, int n, const char *const *p, ExecStatusType want)
{
	PGresult *res;

	res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != want) {
		log_errorx("database: %s", db_error(db, res));
		dbcode = db_exitcode(db, res);
		PQclear(res);
		PQfinish(db);
		exit(dbcode);
	}
	return res;
}

/*
 * Serialise concurrent runs of one instance: the lock is held from before
 * the count until the rows are in, so the second run counts what the first
 * made.  A run holds it until it exits, -F for each refill.  Without wait,
 * 0 when another run holds it.
 */
static int
db_lock(int wait)
{
	const char *p[1] = { conf.instance };
	PGresult *res;
	int got;

	res = db_exec("SELECT pg_try_advisory_lock(hashtextextended("
	    "'helpim-mkrooms ' || $1, 0))", 1, p, PGRES_TUPLES_OK);
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (got || !wait)
		return got;
	log_debug("waiting for the other run of instance '%s'", conf.instance);
	PQclear(db_exec("SELECT pg_advisory_lock(hashtextextended("
	    "'helpim-mkrooms ' || $1, 0))", 1, p, PGRES_TUPLES_OK));
	return 1;
}

static void
db_unlock(void)
{
	const char *p[1] = { conf.instance };

	if (db != NULL && !dbdead)
		PQclear(db_exec("SELECT pg_advisory_unlock(hashtextextended("
		    "'helpim-mkrooms ' || $1, 0))", 1, p, PGRES_TUPLES_OK));
}

static long
db_count(long want)
{
	static char ended[1024];	/* the statuses, read once a process */
	const char *p[2] = { conf.instance, NULL };
	PGresult *res;
	long avail, open, room;

	if (ended[0] == '\0')
		db_ended(db, ended, sizeof(ended));
	p[1] = ended;
	res = db_exec("SELECT count(*) FILTER (WHERE status = 'available'), "
	    "count(*) FROM helpim.rooms WHERE instance = $1 "
	    "AND status <> ALL ($2::text[])", 2, p, PGRES_TUPLES_OK);
	avail = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	open = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	room = conf.max_rooms - open;
	if (want < 0)
		want = conf.pool_size - avail;
	if (want > room)
		want = room;
	log_debug("%ld available, %ld open, pool_size %d, max_rooms %d: "
	    "creating %ld", avail, open, conf.pool_size, conf.max_rooms,
	    want > 0 ? want : 0);
	return want > 0 ? want : 0;
}

/* Make: a free slot starts a room. */

static void
slot_start(void)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[NAME_RAND + PW_LEN];
	struct slot *s;
	size_t i;

	s = &slots[freelist];
	freelist = s->next;
	do {	/* a name of its own among the rooms in flight */
		arc4random_buf(rnd, sizeof(rnd));
		memcpy(s->node, conf.room_prefix, prefixlen);
		for (i = 0; i < NAME_RAND; i++)
			s->node[prefixlen + i] = b32[rnd[i] & 31];
		s->node[prefixlen + NAME_RAND] = '\0';
		for (i = 0; i < PW_LEN; i++)
			s->pw[i] = b64[rnd[NAME_RAND + i] & 63];
		s->pw[PW_LEN] = '\0';
	} while (RB_INSERT(nodes, &nodes, s) != NULL);
	explicit_bzero(rnd, sizeof(rnd));
	s->serial = ++serial;
	started++;
	step(s, START, NULL);
}

/* Join: the server creates the room, or says whose it is. */

static void
join(struct slot *s, const char *unused)
{
	(void)unused;
	st_send(conn, st_join(ctx, slot_jid(s, 1), s->pw));
}

static void
send_leave(struct slot *s)
{
	xmpp_stanza_t *p;

	p = xmpp_presence_new(ctx);
	xmpp_stanza_set_type(p, "unavailable");
	xmpp_stanza_set_to(p, slot_jid(s, 1));
	st_send(conn, p);
}

/* Not ours: leave it alone. */
static void
existed(struct slot *s, const char *why)
{
	send_leave(s);
	fail(s, why);
}

static void
join_refused(struct slot *s, const char *code)
{
	char msg[128];

	if (strcmp(code, "not-allowed") == 0 || strcmp(code, "forbidden") == 0)
		refused = 1;
	snprintf(msg, sizeof(msg), "creation refused: %s", code);
	fail(s, msg);
}

/* Created (201): configure it with the run's form, or fetch the form. */
static void
new_room(struct slot *s, const char *unused)
{
	(void)unused;
	if (!formcache || form == FORM_NONE)
		step(s, FORM_MISSING, NULL);
	else if (form == FORM_KNOWN)
		step(s, FORM_IN, NULL);
}

/* Form: the owner form, once a run or for each room. */

/*
 * The configuration the bot wants.  Servers differ in the fields their
 * owner form offers, and some refuse a form with a field they do not offer
 * (ejabberd), so only offered fields are submitted; disco#info checks the
 * result.  A NULL value stands for the room's password.
 */
static const struct field {
	const char	*var;
	const char	*val;
} fields[] = {
	{ "muc#roomconfig_persistentroom", "1" },
	{ "muc#roomconfig_publicroom", "0" },
	{ "muc#roomconfig_membersonly", "0" },
	{ "muc#roomconfig_passwordprotectedroom", "1" },
	{ "muc#roomconfig_roomsecret", NULL },
	{ "muc#roomconfig_enablelogging", "0" },
	{ "muc#roomconfig_enablearchiving", "0" },
	{ "muc#roomconfig_historylength", "history" },
	{ "muc#maxhistoryfetch", "history" },
	{ "muc#roomconfig_maxusers", "maxusers" },
	{ "muc#roomconfig_allowinvites", "0" },
	{ "muc#roomconfig_allowpm", "none" },
	{ "allow_private_messages", "0" },
	{ "muc#roomconfig_whois", "moderators" },
	{ "muc#roomconfig_changesubject", "0" },
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/*
 * Configure only a room the server says it just created (201), so that a
 * name collision can never reconfigure somebody else's room: ask for its
 * owner form first.
 */
static void
getform(struct slot *s, const char *unused)
{
	(void)unused;
	st_send(conn, st_iq_query(ctx, "get", slot_id(s, 'g'), slot_jid(s, 0),
	    NS_MUC_OWNER, NULL));
	if (formcache)
		form = FORM_ASKED;
	nforms++;
}

/* The offered fields of an owner form, a bit per entry of fields[]. */
static unsigned
offered(xmpp_stanza_t *st)
{
	xmpp_stanza_t *q, *x, *k;
	const char *var;
	unsigned i, have = 0;

	if ((q = xmpp_stanza_get_child_by_name(st, "query")) == NULL ||
	    (x = xmpp_stanza_get_child_by_ns(q, NS_DATA)) == NULL)
		return 0;
	for (k = xmpp_stanza_get_children(x); k != NULL;
	    k = xmpp_stanza_get_next(k)) {
		if ((var = xmpp_stanza_get_name(k)) == NULL ||
		    strcmp(var, "field") != 0 ||
		    (var = xmpp_stanza_get_attribute(k, "var")) == NULL)
			continue;
		for (i = 0; i < NFIELDS; i++)
			if (strcmp(var, fields[i].var) == 0)
				have |= 1U << i;
	}
	return have;
}

/* The form came, or could not be had: the rooms that wait for it go on. */
static void
form_done(int ok)
{
	int i;

	if (!formcache)
		return;
	form = ok ? FORM_KNOWN : FORM_NONE;
	for (i = 0; i < nslots; i++)
		if ((ok || form == FORM_NONE) && (slots[i].state == S_WAIT ||
		    slots[i].state == S_WAIT_FRESH))
			step(&slots[i], ok ? FORM_IN : FORM_MISSING, NULL);
}

static void
no_form(struct slot *s, const char *why)
{
	fail(s, why);
	form_done(0);
}

/* Configure: submit the form, and once more if it was refused. */

/*
 * The form's fields but the password, as XML: the same for every room of
 * the run, written once for the fields the server offered.  Their values
 * are digits and words that need no escaping.  *secret: the password is
 * offered too.
 */
static const char *
form_fixed(int *secret)
{
	static char *text;
	static unsigned have, pw;
	const char *val;
	char num[16];
	size_t len;
	unsigned i;
	FILE *f;

	if (text == NULL || have != formhave) {
		free(text);
		if ((f = open_memstream(&text, &len)) == NULL)
			log_err(EXIT_TEMP, "open_memstream");
		have = formhave;
		pw = 0;
		fputs("<field var='FORM_TYPE'><value>"
		    "http://jabber.org/protocol/muc#roomconfig</value></field>",
		    f);
		for (i = 0; i < NFIELDS; i++) {
			if ((have & (1U << i)) == 0)
				continue;
			if ((val = fields[i].val) == NULL) {
				pw = 1;
				continue;
			}
			if (strcmp(val, "history") == 0 ||
			    strcmp(val, "maxusers") == 0) {
				snprintf(num, sizeof(num), "%d", *val == 'h' ?
				    conf.history_length : conf.max_chatters + 1);
				val = num;
			}
			fprintf(f, "<field var='%s'><value>%s</value></field>",
			    fields[i].var, val);
		}
		if (ferror(f) | fclose(f))
			log_err(EXIT_TEMP, "open_memstream");
	}
	*secret = pw;
	return text;
}

/*
 * Submit the form; the disco#info query goes right behind it.  The
 * password is copied in, never formatted: printf's buffers, grown and
 * moved, would leave copies of it in freed memory.
 */
static void
configure(struct slot *s, const char *unused)
{
	const char *fixed, *tail;
	char *head, *iq;
	size_t len, pwlen, taillen;
	int n, secret;

	(void)unused;
	fixed = form_fixed(&secret);
	if ((n = asprintf(&head, "<iq type='set' id='%s' to='%s'>"
	    "<query xmlns='%s'><x xmlns='%s' type='submit'>%s%s",
	    slot_id(s, 'f'), slot_jid(s, 0), NS_MUC_OWNER, NS_DATA, fixed,
	    secret ? "<field var='muc#roomconfig_roomsecret'><value>" : "")) ==
	    -1)
		log_err(EXIT_TEMP, "asprintf");
	tail = secret ? "</value></field></x></query></iq>" :
	    "</x></query></iq>";
	pwlen = secret ? strlen(s->pw) : 0;
	taillen = strlen(tail);
	len = n + pwlen + taillen;
	/* libstrophe logs what it sends as a string: NUL-terminated */
	if ((iq = malloc(len + 1)) == NULL)
		log_err(EXIT_TEMP, NULL);
	memcpy(iq, head, n);
	memcpy(iq + n, s->pw, pwlen);
	memcpy(iq + n + pwlen, tail, taillen);
	iq[len] = '\0';
	xmpp_send_raw(conn, iq, len);
	explicit_bzero(iq, len);
	free(iq);
	free(head);
	st_send(conn, st_iq_query(ctx, "get", slot_id(s, 'i'), slot_jid(s, 0),
	    NS_INFO, NULL));
}

static void
configure_own(struct slot *s, const char *unused)
{
	configure(s, unused);
	form_done(1);
}

/* Fetch the form again, then configure again. */
static void
retry(struct slot *s, const char *unused)
{
	s->serial = ++serial;	/* what is still to come is stale */
	if (form == FORM_KNOWN)
		form = FORM_NONE;
	new_room(s, unused);
}

/* Verify: disco#info says the room is what was asked for. */

static int
verified(xmpp_stanza_t *st)
{
	xmpp_stanza_t *q, *k;
	const char *var;
	int need = 0;

	if ((q = xmpp_stanza_get_child_by_name(st, "query")) == NULL)
		return 0;
	for (k = xmpp_stanza_get_children(q); k != NULL;
	    k = xmpp_stanza_get_next(k)) {
		if ((var = xmpp_stanza_get_name(k)) == NULL ||
		    strcmp(var, "feature") != 0 ||
		    (var = xmpp_stanza_get_attribute(k, "var")) == NULL)
			continue;
		if (strcmp(var, "muc_hidden") == 0)
			need |= 1;
		else if (strcmp(var, "muc_passwordprotected") == 0)
			need |= 2;
		else if (strcmp(var, "muc_persistent") == 0)
			need |= 4;
	}
	return need == 7;
}

static void
ready(struct slot *s, const char *unused)
{
	int i = s - slots;

	(void)unused;
	send_leave(s);
	s->next = -1;
	if (readytail == -1)
		readyhead = i;
	else
		slots[readytail].next = i;
	readytail = i;
	nready++;
}

/* Publish: the verified rooms go into the database in batches. */

static const char insert_sql[] =
    "WITH ins AS (INSERT INTO helpim.rooms (jid, password, instance) "
    "SELECT j, p, $3 FROM unnest($1::text[], $2::text[]) AS u(j, p) "
    "ON CONFLICT (jid) DO NOTHING RETURNING jid) "
    "SELECT jid, pg_notify('helpim', 'watch ' || jid) FROM ins";

static char	*abuf;
static size_t	 asize, scrublen;

static void
db_send(void)
{
	const char *p[3];
	size_t need, off, pwoff;
	struct slot *s;
	int i, most = nslots;

	if (follow)
		most = BATCH_BYTES / (prefixlen + NAME_RAND +
		    strlen(conf.muc_domain) + PW_LEN + 8);
	need = (size_t)nready *
	    (NODE_MAX + sizeof(conf.muc_domain) + PW_LEN + 8) + 16;
	if (need > asize) {
		free(abuf);
		if ((abuf = malloc(need)) == NULL)
			log_err(EXIT_TEMP, NULL);
		asize = need;
	}
	nbatch = 0;
	off = 0;
	abuf[off++] = '{';
	for (i = readyhead; i != -1 && nbatch < most; i = slots[i].next) {
		off += snprintf(abuf + off, asize - off, "%s\"%s@%s\"",
		    nbatch > 0 ? "," : "", slots[i].node, conf.muc_domain);
		batch[nbatch++] = i;
	}
	readyhead = i;
	if (readyhead == -1)
		readytail = -1;
	nready -= nbatch;
	abuf[off++] = '}';
	abuf[off++] = '\0';
	pwoff = off;
	abuf[off++] = '{';
	for (i = 0; i < nbatch; i++) {
		s = &slots[batch[i]];
		step(s, SENT, NULL);
		off += snprintf(abuf + off, asize - off, "%s\"%s\"",
		    i > 0 ? "," : "", s->pw);
	}
	abuf[off++] = '}';
	abuf[off] = '\0';
	p[0] = abuf;
	p[1] = abuf + pwoff;
	p[2] = conf.instance;
	if (!PQsendQueryParams(db, insert_sql, 3, NULL, p, NULL, NULL, 0)) {
		log_errorx("database: %s", db_error(db, NULL));
		dbdead = 1;
	} else
		dbbusy = 1;
	explicit_bzero(abuf, off);
	if (scrublen < off + sizeof(insert_sql) + 256)
		scrublen = off + sizeof(insert_sql) + 256;
}

/*
 * libpq keeps the last message it sent in its output buffer, and an insert
 * carries the rooms' passwords: a run that stays overwrites it with a
 * message at least as long, written from the same place.  Its inserts stay
 * within the buffer libpq starts with (BATCH_BYTES), so that the buffer is
 * never moved, leaving a copy behind.
 */
static void
db_scrub(void)
{
	const char *p[1];
	char *s;

	if (scrublen == 0 || db == NULL || dbdead)
		return;
	if ((s = malloc(scrublen + 1)) == NULL)
		log_err(EXIT_TEMP, NULL);
	memset(s, 'x', scrublen);
	s[scrublen] = '\0';
	p[0] = s;
	PQclear(db_exec("SELECT length($1)", 1, p, PGRES_TUPLES_OK));
	free(s);
	scrublen = 0;
}

static void
publish(const char *jid)
{
	const char *at = strchr(jid, '@');
	struct slot *s;

	if (at != NULL && (s = node_find(jid, at - jid)) != NULL)
		step(s, PUBLISHED, jid);
}

static void
published(struct slot *s, const char *jid)
{
	printf("%s\n", jid);
	created++;
	slot_free(s);
}

/* The rooms of the batch not published. */
static void
batch_left(enum input in, const char *why)
{
	int i;

	for (i = 0; i < nbatch; i++)
		if (slots[batch[i]].state == S_DB)
			step(&slots[batch[i]], in, why);
}

/*
 * The connection broke during an insert: whether it committed is unknown.
 * Ask a fresh session which rooms are in; without an answer keep the rest
 * (an unpublished room is harmless, a row without a room is not).
 */
static void
db_doubt(void)
{
	const char *p[1];
	PGresult *res;
	PGconn *d;
	size_t off = 0;
	int i, n;

	PQfinish(db);
	db = NULL;
	if ((d = db_connect()) == NULL) {
		batch_left(DOUBT, NULL);
		log_warnx("%d rooms may be left on the server unpublished",
		    nbatch);
		return;
	}
	abuf[off++] = '{';
	for (i = 0; i < nbatch; i++)
		off += snprintf(abuf + off, asize - off, "%s\"%s@%s\"",
		    i > 0 ? "," : "", slots[batch[i]].node, conf.muc_domain);
	abuf[off++] = '}';
	abuf[off] = '\0';
	p[0] = abuf;
	res = PQexecParams(d, "SELECT jid FROM helpim.rooms "
	    "WHERE jid = ANY($1::text[])", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		n = PQntuples(res);
		for (i = 0; i < n; i++)
			publish(PQgetvalue(res, i, 0));
		batch_left(UNPUBLISHED, "not inserted");
	} else
		log_errorx("database: %s", db_error(d, NULL));
	PQclear(res);
	PQfinish(d);
}

static void
db_input(void)
{
	PGresult *res;
	int i, n, done = 0;

	if (!PQconsumeInput(db)) {
		if (!dbbad)
			log_errorx("database: %s", db_error(db, NULL));
		done = 1;
	}
	while (!done && !PQisBusy(db)) {
		if ((res = PQgetResult(db)) == NULL) {
			done = 1;
			break;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			n = PQntuples(res);
			for (i = 0; i < n; i++)
				publish(PQgetvalue(res, i, 0));
			fflush(stdout);
			dbok = 1;
		} else {
			log_errorx("database: %s", db_error(db, NULL));
			dbbad = 1;
		}
		PQclear(res);
	}
	if (!done)
		return;
	dbbusy = 0;
	if (dbbad || PQstatus(db) != CONNECTION_OK)
		dbdead = 1;
	/* an answer, good or bad, says whether the batch committed */
	if (!dbok && !dbbad)
		db_doubt();
	else
		batch_left(UNPUBLISHED, dbbad ? "insert failed" :
		    "name already in the database");
	nbatch = 0;
	dbok = dbbad = 0;
}

/* Destroy: a room that failed, if it may exist on the server. */

static void
send_destroy(struct slot *s)
{
	xmpp_stanza_t *iq, *q, *d;

	iq = st_iq_query(ctx, "set", slot_id(s, 'd'), slot_jid(s, 0),
	    NS_MUC_OWNER, &q);
	d = st_add(q, st_tag(ctx, "destroy", NULL));
	st_add_text(ctx, d, "reason", "not published");
	st_send(conn, iq);
}

/*
 * Count a room as failed (saying why, unless the why is empty); destroy it
 * on the server if it may exist there as ours, otherwise forget it.
 */
static void
fail(struct slot *s, const char *why)
{
	failed++;
	if (why[0] != '\0') {
		if (nwarn++ < MAX_WARN)
			log_warnx("room %s@%s: %s", s->node, conf.muc_domain,
			    why);
		else if (nwarn == MAX_WARN + 1)
			log_warnx("more rooms failed; counts at the end");
	}
	if (s->state == S_DESTROY && online && !lost)
		send_destroy(s);
	else
		slot_free(s);
}

static void
destroyed(struct slot *s, const char *cond)
{
	if (cond != NULL && cond[0] != '\0')
		log_warnx("room %s@%s: could not destroy it: %s",
		    s->node, conf.muc_domain, cond);
	slot_free(s);
}

/* The server's answers, as inputs of the moves. */

static int
on_presence(xmpp_conn_t *cn, xmpp_stanza_t *st, void *arg)
{
	xmpp_stanza_t *x;
	struct slot *s;
	const char *type;

	(void)cn;
	(void)arg;
	lastheard = clock_ms();
	if ((s = slot_by_jid(xmpp_stanza_get_from(st))) == NULL)
		return 1;
	type = xmpp_stanza_get_type(st);
	if (type != NULL && strcmp(type, "error") == 0)
		step(s, JOIN_REFUSED, st_condition(st));
	else if ((x = xmpp_stanza_get_child_by_ns(st, NS_MUC_USER)) == NULL ||
	    !st_has_code(x, "110"))
		return 1;
	else if (type != NULL && strcmp(type, "unavailable") == 0)
		step(s, REMOVED, NULL);
	else
		step(s, st_has_code(x, "201") ? CREATED : EXISTED, NULL);
	return 1;
}

static int
on_iq(xmpp_conn_t *cn, xmpp_stanza_t *st, void *arg)
{
	struct slot *s;
	const char *type, *id;
	int ok;

	(void)cn;
	(void)arg;
	lastheard = clock_ms();
	if ((type = xmpp_stanza_get_type(st)) == NULL ||
	    (id = xmpp_stanza_get_id(st)) == NULL)
		return 1;
	ok = strcmp(type, "result") == 0;
	if ((!ok && strcmp(type, "error") != 0) ||
	    (s = slot_by_answer(st, id[0])) == NULL)
		return 1;
	switch (id[0]) {
	case 'g':
		if (ok && s->state == S_FORM)
			formhave = offered(st);
		step(s, ok ? FORM_OK : FORM_REFUSED, NULL);
		break;
	case 'f':
		step(s, ok ? CONF_OK : CONF_REFUSED, NULL);
		break;
	case 'i':
		step(s, ok && verified(st) ? INFO_OK : INFO_BAD, NULL);
		break;
	case 'd':
		step(s, DESTROYED, ok ? NULL : st_condition(st));
		break;
	}
	return 1;
}

/* The connection to the XMPP server. */

static void
on_conn(xmpp_conn_t *cn, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *arg)
{
	(void)arg;
	if (ev == XMPP_CONN_CONNECT) {
		online = 1;
		/* logged in: the password is needed no more (st_mem clears) */
		xmpp_conn_set_pass(cn, "");
		return;
	}
	if (ev != XMPP_CONN_DISCONNECT)
		return;
	if (!online) {
		connfail = 1;
		if (lasterr[0] == '\0' && error != 0)
			strlcpy(lasterr, strerror(error), sizeof(lasterr));
	} else {
		lost = 1;
		if (se != NULL && se->stanza != NULL &&
		    xmpp_stanza_get_children(se->stanza) != NULL)
			snprintf(lasterr, sizeof(lasterr), "stream error %s",
			    xmpp_stanza_get_name(
			    xmpp_stanza_get_children(se->stanza)));
		else if (error != 0)
			strlcpy(lasterr, strerror(error), sizeof(lasterr));
	}
}

static void
on_log(void *arg, xmpp_log_level_t level, const char *area, const char *msg)
{
	const char *p;

	(void)arg;
	(void)area;
	if (st_login_refused(msg))
		authfail = 1;
	else if ((p = strstr(msg, "connection failed, error ")) != NULL)
		strlcpy(lasterr, strerror(atoi(p + 25)), sizeof(lasterr));
	else if (level >= XMPP_LEVEL_ERROR)
		strlcpy(lasterr, msg, sizeof(lasterr));
}

static xmpp_log_t logger = { on_log, NULL };

static void
xmpp_up(void)
{
	char pid[32];
	const char *host;
	long long t0;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	conn = st_connect(&ctx, &logger, &conf, "mkrooms", pid, on_conn);
	host = conf.server[0] != '\0' ? conf.server : strchr(conf.jid, '@') + 1;
	t0 = clock_ms();
	while (!online && !connfail && !gotsig) {
		xmpp_run_once(ctx, 100);
		if (clock_ms() - t0 > STALL_MS) {
			strlcpy(lasterr, "timed out", sizeof(lasterr));
			connfail = 1;
		}
	}
	if (authfail && !online)
		log_errx(EXIT_PERM, "%s: authentication failed: wrong password "
		    "(or no such account)", conf.jid);
	if (!online)
		log_errx(EXIT_TEMP, "cannot connect to %s port %d: %s", host,
		    conf.port, lasterr[0] != '\0' ? lasterr : "failed");
	/* from here on every stanza would be formatted for the log */
	logger.handler = NULL;
	lasterr[0] = '\0';
	xmpp_handler_add(conn, on_presence, NULL, "presence", NULL, NULL);
	xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, NULL);
}

static void
xmpp_down(void)
{
	long long t0 = clock_ms();

	if (online && !lost) {
		xmpp_disconnect(conn);
		while (!lost && clock_ms() - t0 < 5000)
			xmpp_run_once(ctx, 50);
	}
	xmpp_conn_release(conn);
	st_ctx_free(ctx);
	xmpp_shutdown();
}

static void
xmpp_input(void)
{
	int i;

	/*
	 * libstrophe reads at most 4 KiB per call; with TLS, poll(2) cannot
	 * see what the TLS layer holds, so try a few more times.
	 */
	for (i = 0; i < 64 && !lost; i++) {
		struct pollfd pfd = { st_sock, POLLIN, 0 };

		xmpp_run_once(ctx, 0);
		if (conf.tls == TLS_OFF ? poll(&pfd, 1, 0) != 1 : i >= 7)
			break;
	}
}

/* Rooms in flight when the server stopped answering or went away. */
static void
abandon(const char *why)
{
	int i;

	for (i = 0; i < nslots; i++)
		if (inflight(&slots[i]))
			step(&slots[i], ABANDON, why);
}

/* The run: make n rooms, or with -F keep the pool full. */

static int
stopping(void)
{
	return gotsig || refused || dbdead || lost || db == NULL;
}

static void
run(long n, int jobs)
{
	struct pollfd pfd[2];
	long long t;
	int i, timeout;

	lastheard = clock_ms();
	for (;;) {
		while (!stopping() && started < n && nflight < jobs &&
		    freelist != -1)
			slot_start();
		if (!dbbusy && nready > 0 && db != NULL && !dbdead)
			db_send();
		if (nready > 0 && (dbdead || db == NULL)) {
			/* verified but unpublishable: take them down */
			while (readyhead != -1) {
				i = readyhead;
				readyhead = slots[i].next;
				step(&slots[i], UNPUBLISHED, "not inserted");
			}
			readytail = -1;
			nready = 0;
		}
		if (nflight == 0 && nready == 0 && !dbbusy &&
		    (stopping() || started == n))
			break;

		pfd[0].fd = lost ? -1 : st_sock;
		pfd[0].events = POLLIN;
		if (xmpp_conn_send_queue_len(conn) > 0)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = dbbusy ? PQsocket(db) : -1;
		pfd[1].events = POLLIN;
		timeout = nflight > 0 || conf.tls != TLS_OFF ? 10 : 1000;
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR)
			log_err(EXIT_TEMP, "poll");
		if (!lost)
			xmpp_input();
		if (dbbusy && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			db_input();
		t = clock_ms();
		if (lost) {
			log_errorx("connection to the XMPP server lost%s%s",
			    lasterr[0] != '\0' ? ": " : "", lasterr);
			lasterr[0] = '\0';
			abandon("connection lost");
		} else if (nflight > 0 && t - lastheard > STALL_MS) {
			log_errorx("no answer from the XMPP server for %d s",
			    STALL_MS / 1000);
			lost = 1;
			abandon("no answer");
		}
	}
}

/*
 * -F: a room changed its status (the notification of its history row): it
 * may have left the pool, or ended and made room under max_rooms.  Only a
 * room that became available is no reason to count.
 */
static int
pool_changed(const char *extra)
{
	const char *st;

	if (strncmp(extra, "status ", 7) != 0 ||
	    (st = strchr(extra + 7, ' ')) == NULL)
		return 0;
	return strncmp(st + 1, "available ", 10) != 0;
}

/*
 * -F: one refill.  The pool is counted first without the lock (a full pool
 * needs none: nothing is made), then again under it.  0 when another run
 * holds the lock, -1 when the refill failed or was stopped.
 */
static int
refill(int jobs, long *target)
{
	if (db_count(-1) == 0)
		return 1;
	if (!db_lock(0))
		return 0;
	*target = started + db_count(-1);
	if (started < *target) {
		run(*target, jobs);
		if (stopping() || failed > 0)
			return -1;
		db_scrub();
	}
	db_unlock();
	return 1;
}

/*
 * -F: refill, then wait for a change of the pool (the claims of a burst
 * gathered into one refill), for refill_interval, or for the lock that
 * another run holds.  Returns what the created rooms were to be, when a
 * refill failed, a connection was lost or a signal came.
 */
static long
refill_loop(int jobs)
{
	PGnotify *nf;
	struct pollfd pfd[2];
	long long t, next;
	long target = 0;
	int rc;

	PQclear(db_exec("LISTEN helpim_webapp", 0, NULL, PGRES_COMMAND_OK));
	next = clock_ms();
	for (;;) {
		t = clock_ms();
		if (t >= next) {
			/* the changes so far are this refill's to count */
			if (PQconsumeInput(db))
				while ((nf = PQnotifies(db)) != NULL)
					PQfreemem(nf);
			next = t + conf.refill_interval;
			if ((rc = refill(jobs, &target)) == -1)
				return target;
			if (rc == 0)
				next = t + LOCKED_MS;
			t = clock_ms();
		}
		if (gotsig)
			return target;
		while ((nf = PQnotifies(db)) != NULL) {
			if (pool_changed(nf->extra) && next > t + GATHER_MS)
				next = t + GATHER_MS;
			PQfreemem(nf);
		}
		pfd[0].fd = st_sock;
		pfd[0].events = POLLIN;
		if (xmpp_conn_send_queue_len(conn) > 0)
			pfd[0].events |= POLLOUT;
		/* with a refill due within GATHER_MS, what the database says
		 * can wait for it: no wakeup for each change of a burst */
		pfd[1].fd = next > t + GATHER_MS ? PQsocket(db) : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, next > t ? next - t : 0) == -1 &&
		    errno != EINTR)
			log_err(EXIT_TEMP, "poll");
		xmpp_input();
		if (lost) {
			log_errorx("connection to the XMPP server lost%s%s",
			    lasterr[0] != '\0' ? ": " : "", lasterr);
			return target;
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (!PQconsumeInput(db) || PQstatus(db) != CONNECTION_OK)) {
			log_errorx("database: %s", db_error(db, NULL));
			dbdead = 1;
			return target;
		}
	}
}

int
main(int argc, char *argv[])
{
	const char *file = NULL, *e;
	struct timespec t0, t1;
	double secs;
	long want = -1, n = 0;
	int ch, check = 0, jobs = 128, i, rc;

	while ((ch = getopt(argc, argv, "c:f:Fj:J:nN:qv")) != -1) {
		if (ch == 'c' || ch == 'j')
			ch = log_renamed(ch, ch == 'c' ? 'N' : 'J');
		switch (ch) {
		case 'F':
			follow = 1;
			break;
		case 'N':
			want = strtonum(optarg, 0, 1000000, &e);
			if (e != NULL)
				log_errx(EXIT_PERM, "count %s: %s", optarg, e);
			break;
		case 'J':
			jobs = strtonum(optarg, 1, 10000, &e);
			if (e != NULL)
				log_errx(EXIT_PERM, "jobs %s: %s", optarg, e);
			break;
		default:
			if (conf_opt(ch, &file, &check) == -1)
				usage();
		}
	}
	if (argc != optind || (follow && want >= 0))
		usage();

	if (conf_load(&conf, conf_path(file), CONF_SECRET) == -1)
		return EXIT_PERM;
	if (lowercheck(conf.room_prefix, "-_.") == -1 ||
	    lowercheck(conf.muc_domain, "-.") == -1) {
		conf_clear(&conf);
		log_errx(EXIT_PERM, "%s: 'room_prefix' and 'muc_domain' may "
		    "hold only letters, digits, '-', '.' (and '_' in the "
		    "prefix)", conf.path);
	}
	prefixlen = strlen(conf.room_prefix);
	formcache = jobs > 1;
	if (check) {
		conf_clear(&conf);
		return 0;
	}

	if ((db = db_connect()) == NULL) {
		conf_clear(&conf);
		return dbcode;
	}
	if (!follow && (!db_lock(1) || (n = db_count(want)) == 0)) {
		conf_clear(&conf);
		PQfinish(db);
		return 0;
	}

	nslots = jobs * 4;
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL ||
	    (batch = calloc(nslots, sizeof(*batch))) == NULL)
		log_err(EXIT_TEMP, NULL);
	for (i = nslots - 1; i >= 0; i--) {
		slots[i].next = freelist;
		freelist = i;
	}

	sig_stop(onsig);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	xmpp_up();
	if (follow)
		n = refill_loop(jobs);
	else
		run(n, jobs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	xmpp_down();
	if (db != NULL)
		PQfinish(db);

	rc = 0;
	if (fflush(stdout) == EOF) {
		log_error("stdout");
		rc = EXIT_TEMP;
	}
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	log_debug("owner form fetched %ld time%s", nforms,
	    nforms == 1 ? "" : "s");
	if (failed > 0 || started < n)
		log_warnx("created %ld, failed %ld, not tried %ld, %.2f "
		    "seconds, %.1f rooms/s", created, failed, n - started, secs,
		    secs > 0 ? created / secs : 0.0);
	else
		log_debug("created %ld, failed 0, not tried 0, %.2f seconds, "
		    "%.1f rooms/s", created, secs, secs > 0 ? created / secs : 0.0);
	if (refused)
		log_errx(EXIT_PERM, "the MUC service refuses to create rooms: "
		    "the bot account %s may not create rooms", conf.jid);
	if (failed > 0 || (started < n && !follow) || (follow && !gotsig))
		return EXIT_TEMP;
	return rc;
}
