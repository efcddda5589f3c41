/* libFuzzer harness: one feed line through line_feed(). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/line.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed fd;
	char *s;
	int i;

	if (size > LINE_MAX_LEN || memchr(data, '\0', size) != NULL ||
	    memchr(data, '\n', size) != NULL)
		return 0;	/* lread_next() never returns such a line */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (line_feed(s, &fd) == NULL) {
		if (strcmp(fd.verb, "close") == 0 ? fd.reason == NULL :
		    fd.password == NULL || *fd.password == '\0')
			abort();
		if (strcmp(fd.verb, "watch") == 0 && (fd.status == NULL ||
		    fd.nnamed < 0 || fd.nnamed > FEED_NAMED))
			abort();
		if (fd.status != NULL && (*fd.status == '\0' ||
		    strlen(fd.status) > STATUS_MAX || fd.status[strspn(fd.status,
		    "abcdefghijklmnopqrstuvwxyz_")] != '\0'))
			abort();
		for (i = 0; i < fd.nnamed; i++)
			if (fd.named[i] == NULL || *fd.named[i] == '\0')
				abort();
		if (strchr(fd.room, '@') == NULL)
			abort();
	}
	free(s);
	return 0;
}
