/* Stanza helpers for the programs that speak XMPP (watch, chat, mkrooms). */

#include <dlfcn.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "conf.h"
#include "log.h"
#include "stanza.h"

int st_sock = -1;

/*
 * libstrophe's memory, cleared when it is freed: the bot's password and the
 * rooms' pass through its buffers.  A header before each block holds its size.
 */
union st_block {
	size_t		n;
	max_align_t	align;
};

static void *
st_alloc(size_t n, void *arg)
{
	union st_block *b;

	(void)arg;
	if (n > SIZE_MAX - sizeof(*b) || (b = malloc(sizeof(*b) + n)) == NULL)
		return NULL;
	b->n = n;
	return b + 1;
}

static void
st_free(void *p, void *arg)
{
	union st_block *b;

	(void)arg;
	if (p == NULL)
		return;
	b = (union st_block *)p - 1;
	explicit_bzero(p, b->n);
	free(b);
}

static void *
st_realloc(void *p, size_t n, void *arg)
{
	void *q;
	size_t old;

	if (p == NULL)
		return st_alloc(n, arg);
	if ((q = st_alloc(n, arg)) == NULL)
		return NULL;
	old = ((union st_block *)p - 1)->n;
	memcpy(q, p, old < n ? old : n);
	st_free(p, arg);
	return q;
}

const xmpp_mem_t st_mem = { st_alloc, st_free, st_realloc, NULL };

/*
 * The text of a stanza, as libstrophe writes it.  The library calls
 * xmpp_stanza_to_text for every stanza it sends, and for every stanza it
 * receives, for a debug line that it formats whether or not a logger wants
 * it (_handle_stream_stanza, in 0.12 and in its newest source).  Its own
 * renders into 1 KB, renders again when that was too small, and allocates
 * an escaped copy of every attribute and text: a third of helpim-mkrooms's
 * CPU.  It calls the public function through its PLT, so the definition
 * below serves the library too, in one pass into one buffer, for the
 * stanzas of the context st_ctx_new made (whose memory it knows); the
 * library's own serves every other context, and would serve all of them
 * should a build of the library bind the call inside itself.  t/040 holds
 * the two texts equal.  A stanza is taken for one without a parent, as
 * every caller in the library and here passes it: the library would
 * compare a child's xmlns with its parent's, which no call can read.
 */
static xmpp_ctx_t *st_ctx;	/* the context made by st_ctx_new */
unsigned long st_text_lib;	/* stanzas the library's own wrote */

/* The text in the making: grown by doubling, in st_mem's blocks. */
struct text {
	char	*d;
	size_t	 n, size;
	int	 bad;
};

static void
put(struct text *t, const char *s, size_t k)
{
	size_t size;
	char *d;

	if (t->bad)
		return;
	if (k >= (size_t)INT_MAX - t->n) {	/* the library's bound */
		t->bad = 1;
		return;
	}
	if (k >= t->size - t->n) {	/* and a byte for the NUL */
		for (size = t->size * 2; k >= size - t->n; size *= 2)
			;
		if ((d = st_alloc(size, NULL)) == NULL) {
			t->bad = 1;
			return;
		}
		memcpy(d, t->d, t->n);
		st_free(t->d, NULL);
		t->d = d;
		t->size = size;
	}
	memcpy(t->d + t->n, s, k);
	t->n += k;
}

/* s, escaped as the library does: < > & and the double quote. */
static void
put_esc(struct text *t, const char *s)
{
	size_t k;

	for (;;) {
		k = strcspn(s, "<>&\"");
		put(t, s, k);
		switch (s[k]) {
		case '\0':	return;
		case '<':	put(t, "&lt;", 4); break;
		case '>':	put(t, "&gt;", 4); break;
		case '&':	put(t, "&amp;", 5); break;
		default:	put(t, "&quot;", 6); break;
		}
		s += k + 1;
	}
}

#define put_str(t, s)	put((t), (s), strlen(s))
#define ST_MAXATTR	32	/* more, and the library's own writes it */

/*
 * st as text; top: st is the stanza, pns: else its parent's xmlns, if it
 * has one.  -1: a node without a name or text, or too many attributes.
 * As the library writes it: attributes in double quotes, an xmlns left
 * out when it is the parent's or, at the top, the stream's; an empty tag
 * closed.
 */
static int
render(xmpp_stanza_t *st, int top, const char *pns, struct text *t)
{
	/* static: used before the children's turn; a deep stanza of a
	 * hostile participant takes no more stack than the library's */
	static const char *a[2 * ST_MAXATTR];
	const char *name, *ns = NULL;
	xmpp_stanza_t *c;
	int i, na;

	if (xmpp_stanza_is_text(st)) {
		if ((name = xmpp_stanza_get_text_ptr(st)) == NULL)
			return -1;
		put_esc(t, name);
		return 0;
	}
	if (!xmpp_stanza_is_tag(st) || (name = xmpp_stanza_get_name(st)) ==
	    NULL || xmpp_stanza_get_attribute_count(st) > ST_MAXATTR)
		return -1;
	put(t, "<", 1);
	put_str(t, name);
	na = xmpp_stanza_get_attributes(st, a, 2 * ST_MAXATTR);
	for (i = 0; i + 1 < na; i += 2) {
		if (strcmp(a[i], "xmlns") == 0) {
			ns = a[i + 1];
			if (top ? strcmp(ns, XMPP_NS_CLIENT) == 0 :
			    pns != NULL && strcmp(ns, pns) == 0)
				continue;
		}
		put(t, " ", 1);
		put_str(t, a[i]);
		put(t, "=\"", 2);
		put_esc(t, a[i + 1]);
		put(t, "\"", 1);
	}
	if ((c = xmpp_stanza_get_children(st)) == NULL) {
		put(t, "/>", 2);
		return 0;
	}
	put(t, ">", 1);
	for (; c != NULL; c = xmpp_stanza_get_next(c))
		if (render(c, 0, ns, t) == -1)
			return -1;
	put(t, "</", 2);
	put_str(t, name);
	put(t, ">", 1);
	return 0;
}

int
xmpp_stanza_to_text(xmpp_stanza_t *st, char **buf, size_t *buflen)
{
	static int (*lib)(xmpp_stanza_t *, char **, size_t *);
	struct text t = { NULL, 0, 1024, 0 };

	*buf = NULL;	/* on an error, as the library's */
	*buflen = 0;
	if (st_ctx == NULL || xmpp_stanza_get_context(st) != st_ctx)
		goto theirs;
	if ((t.d = st_alloc(t.size, NULL)) == NULL)
		return XMPP_EMEM;
	if (render(st, 1, NULL, &t) == -1) {
		st_free(t.d, NULL);
		goto theirs;
	}
	if (t.bad) {
		st_free(t.d, NULL);
		return XMPP_EMEM;
	}
	t.d[t.n] = '\0';
	*buf = t.d;
	*buflen = t.n;
	return XMPP_EOK;
theirs:
	/* POSIX's way to take a function from dlsym */
	if (lib == NULL && (*(void **)&lib = dlsym(RTLD_NEXT,
	    "xmpp_stanza_to_text")) == NULL)
		return XMPP_EMEM;
	st_text_lib++;
	return lib(st, buf, buflen);
}

/* The defined condition of a stanza error. */
const char *
st_condition(xmpp_stanza_t *st)
{
	xmpp_stanza_t *e, *c;
	const char *name;

	if ((e = xmpp_stanza_get_child_by_name(st, "error")) == NULL)
		return "undefined-condition";
	for (c = xmpp_stanza_get_children(e); c != NULL;
	    c = xmpp_stanza_get_next(c)) {
		name = xmpp_stanza_get_name(c);
		if (xmpp_stanza_is_tag(c) && name != NULL &&
		    strcmp(name, "text") != 0)
			return name;
	}
	return "undefined-condition";
}

/*
 * Whether a log line of libstrophe tells of a refused login.  Version 0.12
 * ends a refused login, as a refused connection, with a DISCONNECT of error
 * 0; only its log says which: a SASL mechanism that failed ("SASL %s auth
 * failed", then maybe another one tried) and, the last, "Cannot
 * authenticate with known methods".  Taken for a refusal only while not
 * online.
 */
int
st_login_refused(const char *msg)
{
	return strstr(msg, "Cannot authenticate with known methods") != NULL ||
	    (strncmp(msg, "SASL ", 5) == 0 &&
	    strstr(msg, " auth failed") != NULL);
}

/* A context whose memory is st_mem and whose stanzas render() writes. */
xmpp_ctx_t *
st_ctx_new(const xmpp_log_t *logger)
{
	xmpp_initialize();
	return st_ctx = xmpp_ctx_new(&st_mem, logger);
}

/* Frees it: a context made later at the same address may not be ours. */
void
st_ctx_free(xmpp_ctx_t *ctx)
{
	if (ctx == st_ctx)
		st_ctx = NULL;
	xmpp_ctx_free(ctx);
}

/*
 * A session of the bot for the program what: the resource
 * RESOURCE[-INSTANCE]-WHAT-TAG, so that no two sessions share a full JID
 * (the newer would log the older out); TLS as the configuration says, and
 * its CA file; the password wiped from c once libstrophe holds it (st_mem
 * clears what libstrophe frees).  Sets *ctxp; exits 111 when no connection
 * can be started.  A refused login shows in the log (st_login_refused).
 */
xmpp_conn_t *
st_connect(xmpp_ctx_t **ctxp, const xmpp_log_t *logger, struct conf *c,
    const char *what, const char *tag, xmpp_conn_handler handler)
{
	char jid[sizeof(c->jid) + sizeof(c->resource) + sizeof(c->instance) +
	    64];
	xmpp_conn_t *conn;

	if ((*ctxp = st_ctx_new(logger)) == NULL ||
	    (conn = xmpp_conn_new(*ctxp)) == NULL)
		log_errx(EXIT_TEMP, "cannot set up libstrophe");
	snprintf(jid, sizeof(jid), "%s/%s%s%s-%s-%s", c->jid, c->resource,
	    *c->instance != '\0' ? "-" : "", c->instance, what, tag);
	xmpp_conn_set_jid(conn, jid);
	xmpp_conn_set_pass(conn, c->password);
	conf_clear(c);
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_SM |
	    (c->tls == TLS_OFF ? XMPP_CONN_FLAG_DISABLE_TLS :
	    XMPP_CONN_FLAG_MANDATORY_TLS));
	if (c->cafile[0] != '\0')
		xmpp_conn_set_cafile(conn, c->cafile);
	xmpp_conn_set_sockopt_callback(conn, st_on_sockopt);
	if (xmpp_connect_client(conn, c->server[0] != '\0' ? c->server : NULL,
	    c->port, handler, NULL) != XMPP_EOK)
		log_errx(EXIT_TEMP, "cannot connect to %s port %d",
		    c->server[0] != '\0' ? c->server : strchr(c->jid, '@') + 1,
		    c->port);
	return conn;
}

/* Whether a muc#user x element holds <status code='code'/>. */
int
st_has_code(xmpp_stanza_t *x, const char *code)
{
	xmpp_stanza_t *s;
	const char *c;

	for (s = xmpp_stanza_get_children(x); s != NULL;
	    s = xmpp_stanza_get_next(s)) {
		if (xmpp_stanza_is_tag(s) &&
		    strcmp(xmpp_stanza_get_name(s), "status") == 0 &&
		    (c = xmpp_stanza_get_attribute(s, "code")) != NULL &&
		    strcmp(c, code) == 0)
			return 1;
	}
	return 0;
}

xmpp_stanza_t *
st_tag(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
	xmpp_stanza_t *t;

	t = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(t, name);
	if (ns != NULL)
		xmpp_stanza_set_ns(t, ns);
	return t;
}

/* Adds child to parent, hands it over, returns it. */
xmpp_stanza_t *
st_add(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
	xmpp_stanza_add_child(parent, child);
	xmpp_stanza_release(child);
	return child;
}

/* <name>text</name> into parent. */
void
st_add_text(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
    const char *text)
{
	xmpp_stanza_t *t, *s;

	t = st_add(parent, st_tag(ctx, name, NULL));
	s = xmpp_stanza_new(ctx);
	xmpp_stanza_set_text(s, text);
	st_add(t, s);
}

/* <iq type='type' id='id' to='to'><query xmlns='ns'/></iq>; *q the query. */
xmpp_stanza_t *
st_iq_query(xmpp_ctx_t *ctx, const char *type, const char *id,
    const char *to, const char *ns, xmpp_stanza_t **q)
{
	xmpp_stanza_t *iq, *query;

	iq = xmpp_iq_new(ctx, type, id);
	xmpp_stanza_set_to(iq, to);
	query = st_add(iq, st_tag(ctx, "query", ns));
	if (q != NULL)
		*q = query;
	return iq;
}

/* A MUC join without history; to is room@service/nick. */
xmpp_stanza_t *
st_join(xmpp_ctx_t *ctx, const char *to, const char *password)
{
	xmpp_stanza_t *p, *x, *h;

	p = xmpp_presence_new(ctx);
	xmpp_stanza_set_to(p, to);
	x = st_add(p, st_tag(ctx, "x", "http://jabber.org/protocol/muc"));
	st_add_text(ctx, x, "password", password);
	h = st_add(x, st_tag(ctx, "history", NULL));
	xmpp_stanza_set_attribute(h, "maxstanzas", "0");
	return p;
}

/* Sends a stanza and lets go of it. */
void
st_send(xmpp_conn_t *conn, xmpp_stanza_t *st)
{
	xmpp_send(conn, st);
	xmpp_stanza_release(st);
}

/* libstrophe has no call that returns the socket: keep it for poll(2). */
int
st_on_sockopt(xmpp_conn_t *c, void *s)
{
	st_sock = *(int *)s;
	return xmpp_sockopt_cb_keepalive(c, s);
}
