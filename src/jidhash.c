/*
 * The keyed hash of a participant's real JID, the only trace of it that
 * leaves helpim-watch (helpim-protocol(7), join): HMAC-SHA-256 of the bare
 * JID, lower-cased, in hex, under the key of jid_hash_key_file.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "conf.h"

static char key[1024];
static int keylen;

/* -1 when a key is configured but cannot be used */
int
jidhash_init(const struct conf *c)
{
	return (keylen = conf_key(c, key, sizeof(key))) == -1 ? -1 : 0;
}

/* "" without a key or a JID */
const char *
jidhash(const char *realjid)
{
	static char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char bare[3072], md[EVP_MAX_MD_SIZE];
	unsigned int i, mdlen;
	size_t n;

	if (keylen <= 0 || realjid == NULL ||
	    (n = strcspn(realjid, "/")) == 0 || n >= sizeof(bare))
		return "";
	for (i = 0; i < n; i++)
		bare[i] = tolower((unsigned char)realjid[i]);
	if (HMAC(EVP_sha256(), key, keylen, bare, n, md, &mdlen) == NULL)
		mdlen = 0;
	explicit_bzero(bare, n);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * i] = '\0';
	return hex;
}
