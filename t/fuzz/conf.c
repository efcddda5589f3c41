/* libFuzzer harness: a configuration file through conf_load(). */

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "/tmp/helpim-fuzz-conf.XXXXXX";
	static int fd = -1;
	struct conf c;
	size_t i;

	if (fd == -1) {
		if ((fd = mkstemp(path)) == -1)
			err(1, "mkstemp");
		unlink(path);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		err(1, "%s", path);
	if (conf_load(&c, path, 0) == 0) {
		if (strchr(c.jid, '@') == NULL || c.db[0] == '\0' ||
		    c.muc_domain[0] == '\0' || c.max_chatters < 1 ||
		    c.pool_size > c.max_rooms)
			abort();
	}
	for (i = 0; i < sizeof(c.password); i++)
		if (c.password[i] != '\0')
			abort();	/* flag 0: never kept */
	return 0;
}
