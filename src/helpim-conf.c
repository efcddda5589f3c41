/* helpim-conf: check the configuration, print the values of keys for scripts. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

static __dead void
usage(void)
{
	fprintf(stderr, "usage: helpim-conf [-n] [-f file] [key ...]\n");
	exit(EXIT_PERM);
}

static int
print(const struct conf *conf, const char *k)
{
	if (strcmp(k, "password") == 0) {
		log_errorx("the password is not printed");
		return -1;
	}
#define STR(x)	if (strcmp(k, #x) == 0) { puts(conf->x); return 0; }
#define INT(x)	if (strcmp(k, #x) == 0) { printf("%d\n", conf->x); return 0; }
#define DUR(x)	if (strcmp(k, #x) == 0) { printf("%lld\n", conf->x); return 0; }
	STR(path) STR(jid) STR(password_file) STR(resource) STR(nick)
	STR(server) INT(port) STR(cafile) STR(muc_domain) STR(room_prefix)
	INT(pool_size) INT(max_rooms) INT(max_chatters) INT(history_length)
	STR(db) STR(instance) STR(jid_hash_key_file) DUR(grace)
	DUR(staff_claim_timeout) DUR(client_claim_timeout) DUR(linger)
	DUR(refill_interval) DUR(retention)
	if (strcmp(k, "tls") == 0) {
		puts(conf->tls == TLS_OFF ? "off" : "required");
		return 0;
	}
	log_errorx("unknown key '%s'", k);
	return -1;
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	char key[1024];
	const char *file = NULL;
	int ch, check = 0, rc = 0;

	while ((ch = getopt(argc, argv, "f:n")) != -1)
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;

	/* -n checks the password (file) and the key file as well */
	if (conf_load(&conf, conf_path(file), check ? CONF_SECRET : 0) == -1)
		return EXIT_PERM;
	conf_clear(&conf);
	if (check && conf_key(&conf, key, sizeof(key)) == -1)
		return EXIT_PERM;
	explicit_bzero(key, sizeof(key));
	for (; argc > 0; argc--, argv++)
		if (print(&conf, *argv) == -1)
			rc = EXIT_PERM;
	if (fflush(stdout) == EOF)
		log_err(EXIT_TEMP, "stdout");
	return rc;
}
