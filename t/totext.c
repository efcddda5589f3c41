/*
 * totext: reads one stanza a line, parses it with libstrophe and writes it
 * out twice, with the library's xmpp_stanza_to_text and with stanza.c's,
 * which the bot's programs put in its place.  Prints "same LENGTH" or
 * "differs" and both texts, "unparsed" for a line the parser refused;
 * exits 1 if any differs.
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "../src/stanza.h"

int
main(void)
{
	int (*lib)(xmpp_stanza_t *, char **, size_t *);
	char *line = NULL, *a, *b;
	size_t size = 0, alen, blen;
	ssize_t n;
	xmpp_ctx_t *ctx;
	xmpp_stanza_t *st;
	int rc = 0;

	if ((ctx = st_ctx_new(NULL)) == NULL ||
	    (*(void **)&lib = dlsym(RTLD_NEXT, "xmpp_stanza_to_text")) == NULL) {
		fprintf(stderr, "totext: cannot set up\n");
		return 2;
	}
	while ((n = getline(&line, &size, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if ((st = xmpp_stanza_new_from_string(ctx, line)) == NULL) {
			puts("unparsed");
			continue;
		}
		if (lib(st, &a, &alen) != XMPP_EOK ||
		    xmpp_stanza_to_text(st, &b, &blen) != XMPP_EOK) {
			fprintf(stderr, "totext: cannot write out: %s\n", line);
			return 2;
		}
		if (alen == blen && memcmp(a, b, alen) == 0 &&
		    strlen(b) == blen)
			printf("same %zu\n", blen);
		else {
			printf("differs\n%s\n%s\n", a, b);
			rc = 1;
		}
		xmpp_free(ctx, a);
		xmpp_free(ctx, b);
		xmpp_stanza_release(st);
	}
	free(line);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	return rc;
}
