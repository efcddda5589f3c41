/*
 * The rooms that helpim-watch holds, by JID, and who is in each: the
 * chatters in the order they came, and the ones the database names.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "watch-room.h"

struct rooms rooms = RB_INITIALIZER(&rooms);
struct timers timers = RB_INITIALIZER(&timers);

RB_GENERATE(rooms, room, entry, roomcmp)
RB_GENERATE(timers, room, tentry, wakecmp)

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n, size)) == NULL)
		log_err(EXIT_TEMP, "calloc");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		log_err(EXIT_TEMP, "strdup");
	return p;
}

void
freesecret(char **p)
{
	if (*p != NULL) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

int
roomcmp(const struct room *a, const struct room *b)
{
	return strcmp(a->jid, b->jid);
}

/* By time, then by room: two rooms may wake in the same millisecond. */
int
wakecmp(const struct room *a, const struct room *b)
{
	if (a->wake != b->wake)
		return a->wake < b->wake ? -1 : 1;
	return strcmp(a->jid, b->jid);
}

/*
 * Sets timer *t of room r (its due or its retry) to at, 0 for none, and
 * files the room under the earlier of the two: finding what is due is
 * then one look at the first room, not a walk through thousands.
 */
void
room_timer(struct room *r, long long *t, long long at)
{
	if (*t == at)
		return;
	*t = at;
	if (r->wake != 0)
		RB_REMOVE(timers, &timers, r);
	r->wake = r->due == 0 ? r->retry : r->retry == 0 ? r->due :
	    r->due < r->retry ? r->due : r->retry;
	if (r->wake != 0)
		RB_INSERT(timers, &timers, r);
}

/* When the first room wakes, 0 if none has a timer. */
long long
room_wake(void)
{
	struct room *r = RB_MIN(timers, &timers);

	return r != NULL ? r->wake : 0;
}

struct room *
room_find(const char *jid)
{
	struct room key;

	key.jid = jid;
	return RB_FIND(rooms, &rooms, &key);
}

/* A new room, or NULL if it is held already. */
struct room *
room_add(const char *jid)
{
	struct room *r;
	size_t n = strlen(jid) + 1;

	r = xcalloc(1, sizeof(*r) + n);
	r->jid = memcpy(r + 1, jid, n);
	if (RB_INSERT(rooms, &rooms, r) != NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
room_del(struct room *r)
{
	int i;

	RB_REMOVE(rooms, &rooms, r);
	if (r->wake != 0)
		RB_REMOVE(timers, &timers, r);
	for (i = 0; i < r->nocc; i++) {
		free(r->occ[i].nick);
		free(r->occ[i].realjid);
	}
	free(r->occ);
	freesecret(&r->pass);
	freesecret(&r->newpass);
	for (i = 0; i < FEED_NAMED; i++)
		free(r->named[i]);
	free(r->self);
	free(r->reason);
	free(r);
}

/* The extras, kicked, count no more. */
int
room_chatters(struct room *r)
{
	int i, n = 0;

	for (i = 0; i < r->nocc; i++)
		n += !r->occ[i].extra;
	return n;
}

int
room_named(struct room *r, const char *nick)
{
	int i;

	for (i = 0; i < FEED_NAMED; i++)
		if (r->named[i] != NULL && strcmp(r->named[i], nick) == 0)
			return 1;
	return 0;
}

/* The first chatters are the staff member and the client, as the
 * database takes them: up to max. */
void
room_name(struct room *r, const char *nick, int max)
{
	int i;

	if (room_named(r, nick))
		return;
	for (i = 0; i < FEED_NAMED && i < max; i++)
		if (r->named[i] == NULL) {
			r->named[i] = xstrdup(nick);
			return;
		}
}

int
occ_find(struct room *r, const char *nick)
{
	int i;

	for (i = 0; i < r->nocc; i++)
		if (strcmp(r->occ[i].nick, nick) == 0)
			return i;
	return -1;
}

/* The latest arrival the database does not name, or -1. */
int
occ_unnamed(struct room *r)
{
	int i;

	for (i = r->nocc - 1; i >= 0; i--)
		if (!r->occ[i].extra && !room_named(r, r->occ[i].nick))
			return i;
	return -1;
}

void
occ_add(struct room *r, const char *nick, const char *realjid, int extra)
{
	struct occ *o;

	if ((r->occ = reallocarray(r->occ, r->nocc + 1,
	    sizeof(*r->occ))) == NULL)
		log_err(EXIT_TEMP, "reallocarray");
	o = &r->occ[r->nocc++];
	o->nick = xstrdup(nick);
	o->realjid = realjid != NULL ? xstrdup(realjid) : NULL;
	o->extra = extra;
}

/* Under its new nick, a named chatter stays named. */
void
occ_rename(struct room *r, int i, const char *newnick)
{
	int k;

	for (k = 0; k < FEED_NAMED; k++)
		if (r->named[k] != NULL &&
		    strcmp(r->named[k], r->occ[i].nick) == 0) {
			free(r->named[k]);
			r->named[k] = xstrdup(newnick);
		}
	free(r->occ[i].nick);
	r->occ[i].nick = xstrdup(newnick);
}

void
occ_del(struct room *r, int i)
{
	free(r->occ[i].nick);
	free(r->occ[i].realjid);
	/* arrival order: the snapshot's first nick is the first to come */
	memmove(r->occ + i, r->occ + i + 1,
	    (--r->nocc - i) * sizeof(*r->occ));
}
