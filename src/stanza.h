/* Stanzas and the XMPP connection (stanza.c). */

#ifndef STANZA_H
#define STANZA_H

#include <strophe.h>

extern int	 st_sock;	/* the socket, once st_on_sockopt has run */
extern const xmpp_mem_t st_mem;	/* for xmpp_ctx_new: clears what it frees */
extern unsigned long st_text_lib; /* stanzas xmpp_stanza_to_text left to
					   the library's own */
const char	*st_condition(xmpp_stanza_t *);
int		 st_has_code(xmpp_stanza_t *, const char *);
xmpp_stanza_t	*st_tag(xmpp_ctx_t *, const char *, const char *);
xmpp_stanza_t	*st_add(xmpp_stanza_t *, xmpp_stanza_t *);
void		 st_add_text(xmpp_ctx_t *, xmpp_stanza_t *, const char *,
		    const char *);
xmpp_stanza_t	*st_iq_query(xmpp_ctx_t *, const char *, const char *,
		    const char *, const char *, xmpp_stanza_t **);
xmpp_stanza_t	*st_join(xmpp_ctx_t *, const char *, const char *);
void		 st_send(xmpp_conn_t *, xmpp_stanza_t *);
int		 st_on_sockopt(xmpp_conn_t *, void *);
int		 st_login_refused(const char *);
xmpp_ctx_t	*st_ctx_new(const xmpp_log_t *);
void		 st_ctx_free(xmpp_ctx_t *);
struct conf;
xmpp_conn_t	*st_connect(xmpp_ctx_t **, const xmpp_log_t *, struct conf *,
		    const char *, const char *, xmpp_conn_handler);

#endif
