/* libFuzzer harness: one event line through line_event(). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/clock.h"
#include "../../src/line.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event e;
	char *s;

	if (size > LINE_MAX_LEN || memchr(data, '\0', size) != NULL ||
	    memchr(data, '\n', size) != NULL)
		return 0;	/* lread_next() never returns such a line */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (line_event(s, &e) == NULL) {
		/* what goes to the database: strings within the line */
		if (e.time == NULL || e.room == NULL || e.count == NULL ||
		    strlen(e.time) != TIME_LEN - 1 || e.chatters < 0 ||
		    (e.nick != NULL && *e.nick == '\0') ||
		    (e.detail != NULL && *e.detail == '\0'))
			abort();
		if (e.detail != NULL && strlen(e.detail) > size)
			abort();
	}
	free(s);
	return 0;
}
