/* watch-room.c: the rooms that helpim-watch holds, and who is in each. */

#ifndef WATCH_ROOM_H
#define WATCH_ROOM_H

#include <sys/tree.h>

#include <stddef.h>

#include "line.h"

struct occ {
	char		*nick;
	char		*realjid;	/* to ban an extra whose kick fails */
	int		 extra;		/* one too many: kicked */
};

/* Small on purpose: there may be thousands. */
struct room {
	RB_ENTRY(room)	 entry;
	RB_ENTRY(room)	 tentry;	/* in timers while wake is set */
	const char	*jid;		/* bare, lower case: the key; stored
					   after the room */
	char		*pass;		/* until joined */
	char		*newpass;	/* to set: a claim expired */
	char		*reason;	/* close asked for, or under way */
	char		*self;		/* our nick, as the room says (110) */
	char		*named[FEED_NAMED]; /* whom the database expects */
	struct occ	*occ;		/* in the order they came */
	long long	 due;		/* IN: destroy if empty then; JOINING:
					   join again; CLOSING: destroy again */
	long long	 retry;		/* IN: send the new password again */
	long long	 wake;		/* the earlier of due and retry set */
	unsigned int	 backoff;	/* ms: after a temporary error */
	unsigned short	 nocc;
	unsigned char	 state;		/* helpim-watch's enum state */
	unsigned char	 had;		/* a chatter came before */
	unsigned char	 tries;		/* joins refused with conflict */
	unsigned char	 waits;		/* joins unanswered */
	unsigned char	 rekey;		/* helpim-watch's enum rekey */
	unsigned short	 sfx;		/* nick-sfx; 0: the plain nick */
};

int		 roomcmp(const struct room *, const struct room *);
RB_HEAD(rooms, room);
RB_PROTOTYPE(rooms, room, entry, roomcmp)
extern struct rooms rooms;

/* The rooms with a timer set, the first to wake first. */
int		 wakecmp(const struct room *, const struct room *);
RB_HEAD(timers, room);
RB_PROTOTYPE(timers, room, tentry, wakecmp)
extern struct timers timers;

void		 room_timer(struct room *, long long *, long long);
long long	 room_wake(void);

struct room	*room_find(const char *);
struct room	*room_add(const char *);
void		 room_del(struct room *);
int		 room_chatters(struct room *);
int		 room_named(struct room *, const char *);
void		 room_name(struct room *, const char *, int);

int		 occ_find(struct room *, const char *);
int		 occ_unnamed(struct room *);
void		 occ_add(struct room *, const char *, const char *, int);
void		 occ_rename(struct room *, int, const char *);
void		 occ_del(struct room *, int);

void		*xcalloc(size_t, size_t);
char		*xstrdup(const char *);
void		 freesecret(char **);

#endif
