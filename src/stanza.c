/* Stanza helpers for the programs that speak XMPP (watch, chat, mkrooms). */

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

	xmpp_initialize();
	if ((*ctxp = xmpp_ctx_new(&st_mem, logger)) == NULL ||
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
