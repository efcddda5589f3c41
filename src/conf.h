/* The configuration (conf.c) and the JID hash (jidhash.c). */

#ifndef CONF_H
#define CONF_H

#include <limits.h>
#include <stddef.h>

#define CONF_DEFAULT	"/etc/helpim/helpim.conf"

enum { TLS_REQUIRED, TLS_OFF };

struct conf {
	char	 path[PATH_MAX];
	char	 jid[1024];
	char	 password[1024];	/* secret; filled only with CONF_SECRET */
	char	 password_file[PATH_MAX];
	char	 resource[256];
	char	 nick[256];
	char	 server[256];
	int	 port;
	int	 tls;
	char	 cafile[PATH_MAX];
	char	 muc_domain[256];
	char	 room_prefix[64];
	int	 pool_size;
	int	 max_rooms;
	int	 max_chatters;
	int	 history_length;
	char	 db[1024];
	char	 instance[64];
	char	 jid_hash_key_file[PATH_MAX];
	/* timers, in milliseconds */
	long long grace;
	long long staff_claim_timeout;
	long long client_claim_timeout;
	long long linger;
	long long refill_interval;
	long long retention;
	long long lease;
};

#define CONF_SECRET	0x1	/* read the XMPP password (inline or from its file) */
#define KEY_MIN_LEN	16	/* characters of a JID hash key */

const char	*conf_path(const char *);
int		 conf_opt(int, const char **, int *);
int		 conf_load(struct conf *, const char *, int);
void		 conf_clear(struct conf *);
int		 conf_duration(const char *, long long *);
int		 conf_key(const struct conf *, char *, size_t);

/* jidhash.c: the keyed hash of a real JID, "" without a key (helpim-watch) */
int		 jidhash_init(const struct conf *);
const char	*jidhash(const char *);

#endif
