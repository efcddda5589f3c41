/*
 * libFuzzer harness: a stanza parsed by libstrophe, written out by the
 * library's xmpp_stanza_to_text and by stanza.c's: the same text.
 */

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "../../src/stanza.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int (*lib)(xmpp_stanza_t *, char **, size_t *);
	static xmpp_ctx_t *ctx;
	xmpp_stanza_t *st;
	size_t alen, blen;
	char *s, *a, *b;

	if (ctx == NULL && ((ctx = st_ctx_new(NULL)) == NULL ||
	    (*(void **)&lib = dlsym(RTLD_NEXT, "xmpp_stanza_to_text")) == NULL))
		abort();
	if (memchr(data, '\0', size) != NULL || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	st = xmpp_stanza_new_from_string(ctx, s);
	free(s);
	if (st == NULL)
		return 0;
	if (lib(st, &a, &alen) != XMPP_EOK) {
		xmpp_stanza_release(st);
		return 0;
	}
	if (xmpp_stanza_to_text(st, &b, &blen) != XMPP_EOK ||
	    alen != blen || memcmp(a, b, alen) != 0 || strlen(b) != blen)
		abort();
	xmpp_free(ctx, a);
	xmpp_free(ctx, b);
	xmpp_stanza_release(st);
	return 0;
}
