/*
 * totext: reads one stanza a line, parses it with libstrophe and writes it
 * out twice, with the library's xmpp_stanza_to_text and with stanza.c's,
 * which the bot's programs put in its place.  Prints "same LENGTH", with
 * " (library's)" when stanza.c left the stanza to the library's, or
 * "differs" and both texts, or "unparsed" for a line the parser refused;
 * exits 1 if any differs.  With -b, the same for stanzas built as the bot
 * builds the ones it sends, instead of parsed ones.
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "../src/stanza.h"

static int (*lib)(xmpp_stanza_t *, char **, size_t *);
static int rc;

static void
compare(xmpp_ctx_t *ctx, xmpp_stanza_t *st)
{
	unsigned long before = st_text_lib;
	size_t alen, blen;
	char *a, *b;

	if (lib(st, &a, &alen) != XMPP_EOK ||
	    xmpp_stanza_to_text(st, &b, &blen) != XMPP_EOK) {
		fprintf(stderr, "totext: cannot write out a stanza\n");
		exit(2);
	}
	if (alen == blen && memcmp(a, b, alen) == 0 && strlen(b) == blen)
		printf("same %zu%s\n", blen, st_text_lib != before ?
		    " (library's)" : "");
	else {
		printf("differs\n%s\n%s\n", a, b);
		rc = 1;
	}
	xmpp_free(ctx, a);
	xmpp_free(ctx, b);
	xmpp_stanza_release(st);
}

/* The bot's kinds of stanzas, built with stanza.c and libstrophe's calls. */
static void
built(xmpp_ctx_t *ctx)
{
	static const char secret[] = "a&b<c>d\"e'f";
	xmpp_stanza_t *st, *q, *x, *t;

	compare(ctx, st_join(ctx, "r@rooms.localhost/helpim", secret));
	compare(ctx, st_iq_query(ctx, "get", "i r@rooms.localhost",
	    "r@rooms.localhost", "http://jabber.org/protocol/disco#info",
	    NULL));
	st = st_iq_query(ctx, "set", "kick r@rooms.localhost/a \"b\"",
	    "r@rooms.localhost", "http://jabber.org/protocol/muc#admin", &q);
	x = st_add(q, st_tag(ctx, "item", NULL));
	xmpp_stanza_set_attribute(x, "nick", "<&>\"'");
	xmpp_stanza_set_attribute(x, "role", "none");
	st_add_text(ctx, x, "reason", "room full & <closed>");
	compare(ctx, st);
	st = st_iq_query(ctx, "set", "rekey r@rooms.localhost",
	    "r@rooms.localhost", "http://jabber.org/protocol/muc#owner", &q);
	x = st_add(q, st_tag(ctx, "x", "jabber:x:data"));
	xmpp_stanza_set_type(x, "submit");
	t = st_add(x, st_tag(ctx, "field", NULL));
	xmpp_stanza_set_attribute(t, "var", "muc#roomconfig_roomsecret");
	st_add_text(ctx, t, "value", secret);
	compare(ctx, st);
	/* a message: text beside tags, two texts in a row, an inner xmlns
	 * equal to its parent's and one of the stream's */
	st = xmpp_message_new(ctx, "groupchat", "r@rooms.localhost", "m1");
	xmpp_stanza_set_ns(st, "jabber:client");
	xmpp_message_set_body(st, "hello <you> & \"them\"");
	x = st_add(st, st_tag(ctx, "x", "urn:example"));
	st_add(x, st_tag(ctx, "y", "urn:example"));
	st_add(x, st_tag(ctx, "z", "jabber:client"));
	t = xmpp_stanza_new(ctx);
	xmpp_stanza_set_text(t, "one ");
	st_add(x, t);
	t = xmpp_stanza_new(ctx);
	xmpp_stanza_set_text(t, "two & three");
	st_add(x, t);
	compare(ctx, st);
	/* a text alone */
	t = xmpp_stanza_new(ctx);
	xmpp_stanza_set_text(t, "<just text>");
	compare(ctx, t);
	compare(ctx, xmpp_presence_new(ctx));
}

int
main(int argc, char *argv[])
{
	char *line = NULL;
	size_t size = 0;
	ssize_t n;
	xmpp_ctx_t *ctx;
	xmpp_stanza_t *st;

	if ((ctx = st_ctx_new(NULL)) == NULL ||
	    (*(void **)&lib = dlsym(RTLD_NEXT, "xmpp_stanza_to_text")) == NULL) {
		fprintf(stderr, "totext: cannot set up\n");
		return 2;
	}
	if (argc > 1 && strcmp(argv[1], "-b") == 0)
		built(ctx);
	else
		while ((n = getline(&line, &size, stdin)) != -1) {
			if (n > 0 && line[n - 1] == '\n')
				line[n - 1] = '\0';
			if ((st = xmpp_stanza_new_from_string(ctx, line)) ==
			    NULL)
				puts("unparsed");
			else
				compare(ctx, st);
		}
	free(line);
	st_ctx_free(ctx);
	xmpp_shutdown();
	return rc;
}
