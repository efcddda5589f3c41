-- helpim schema, version 11: a client never waits beside a ready room
-- because of a row lock.  Forward-only, like every migration.
--
-- The matchers pass over the rows that others hold (SKIP LOCKED), so as
-- never to wait for another matcher's commit.  Two kinds of holders kept a
-- ready room from a client who came meanwhile, and the client waited
-- beside an idle staff member until the next join or enqueue:
-- - a matcher that found a room and then no client for it kept the room
--   locked until its commit; an enqueue beside it found no room.  Once
--   the first committed, the next client to come took the room ahead of
--   the one who waited (the rare swap in the queue order of t/470);
-- - helpim-setstatus locks the rooms of its batch until the commit, and
--   an enqueue passed over a ready room whose staff member's presence or
--   nick was in the batch.
-- And a matcher in helpim-setstatus's session, a writer fenced to its
-- instance (version 7), failed (HL001) when the best room for the head of
-- the queue was another instance's, and helpim-setstatus exited and
-- failed again at each restart.  The matching answers the database's
-- state, not an instance's events: it is not fenced.

-- A room and a client, or neither: the room is chosen and locked in a
-- subtransaction that is rolled back, and so unlocked, when no client is
-- there for it.  Otherwise as in version 6.
CREATE OR REPLACE FUNCTION helpim.match(ref text DEFAULT NULL, priority integer DEFAULT 0)
RETURNS integer LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET helpim.epoch = '' AS $$
#variable_conflict use_column
DECLARE
	q	helpim.queue%ROWTYPE;
	r	helpim.rooms%ROWTYPE;
	ts	timestamptz;
	got	boolean;
	k	integer := 0;
BEGIN
	LOOP
		PERFORM pg_advisory_lock(7242, 1);
		BEGIN
			IF k = 0 AND match.ref IS NOT NULL THEN
				INSERT INTO helpim.queue (ref, priority)
				VALUES (match.ref, match.priority)
				ON CONFLICT (ref)
				WHERE status IN ('waiting', 'assigned')
				DO NOTHING
				RETURNING * INTO q;
				IF FOUND THEN
					PERFORM helpim.queue_log(q, 'enqueued');
				END IF;
			END IF;
			BEGIN
				-- the room first: a head that another
				-- matcher holds is one it has a room for
				SELECT * INTO STRICT r FROM helpim.rooms AS x
				WHERE x.status = 'staff_waiting' AND
				    helpim.room_ready(x)
				ORDER BY staff_priority DESC, staff_joined_at, id
				LIMIT 1
				FOR UPDATE SKIP LOCKED;
				SELECT * INTO STRICT q FROM helpim.queue
				WHERE status = 'waiting'
				ORDER BY priority DESC, id LIMIT 1
				FOR UPDATE SKIP LOCKED;
				got := true;
			EXCEPTION WHEN no_data_found THEN
				got := false;
			END;
			ts := clock_timestamp();
		EXCEPTION WHEN OTHERS OR query_canceled THEN
			PERFORM pg_advisory_unlock(7242, 1);
			RAISE;
		END;
		PERFORM pg_advisory_unlock(7242, 1);
		EXIT WHEN NOT got;
		UPDATE helpim.queue SET status = 'assigned', assigned_at = ts,
		    room_id = r.id
		WHERE id = q.id
		RETURNING * INTO q;
		PERFORM helpim.queue_log(q, 'assigned');
		UPDATE helpim.rooms SET status = 'client_claimed', status_at = ts,
		    client_ref = q.ref, client_claimed_at = ts
		WHERE id = r.id;
		INSERT INTO helpim.room_events (room_id, jid, at, event,
		    chatters, detail, old_status, new_status)
		VALUES (r.id, r.jid, ts, 'client_claim', r.chatters, q.ref,
		    r.status, 'client_claimed');
		PERFORM pg_notify('helpim_webapp',
		    'assigned ' || q.ref || ' ' || r.jid);
		k := k + 1;
	END LOOP;
	RETURN k;
END
$$;

-- The waiting clients get the ready rooms, under the gate (see "Order" in
-- version 6): it waits for the enqueues in flight, which may have passed
-- over a room that the caller holds.  An enqueue held open past the
-- caller's lock_timeout (helpim-setstatus: 200 ms) is not waited for: the
-- caller's batch or sweep goes on, and the next sweep hands the room on.
CREATE FUNCTION helpim.match_waiting()
RETURNS void LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off AS $$
BEGIN
	BEGIN
		LOCK TABLE helpim.queue_gate IN SHARE MODE;
	EXCEPTION WHEN lock_not_available THEN
		RETURN;
	END;
	IF EXISTS (SELECT 1 FROM helpim.queue WHERE status = 'waiting') THEN
		PERFORM helpim.match();
	END IF;
END
$$;

-- A batch of events that may leave a room ready (a result staff_waiting;
-- a room whose event was not applied keeps its status, ready or not) hands
-- the ready rooms to the clients who came while the batch held them.  A
-- test of the results, not of the rooms: a query here, planned again at
-- each call for its array, cost a batch a fifth more.  The batch itself is
-- the function of version 4, renamed.
ALTER FUNCTION helpim.apply_events(text[], timestamptz[], text[], integer[],
    text[], text[]) RENAME TO apply_batch;

CREATE FUNCTION helpim.apply_events(p_event text[], p_at timestamptz[],
    p_jid text[], p_chatters integer[], p_nick text[], p_detail text[])
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
	res	text[] := helpim.apply_batch(p_event, p_at, p_jid, p_chatters,
	    p_nick, p_detail);
BEGIN
	IF res && ARRAY['staff_waiting', 'duplicate', 'stale', 'anomaly'] THEN
		PERFORM helpim.match_waiting();
	END IF;
	RETURN res;
END
$$;

-- Whatever else leaves a client waiting beside a ready room is undone
-- within a second, by helpim-setstatus's sweep: a transaction that held the
-- room and rolled back (a webapp's close request, claim or enqueue), a
-- lease that ran out and was renewed.  Two probes of partial indexes when
-- nothing is left over.  The sweep itself is the function of version 4,
-- renamed.
ALTER FUNCTION helpim.sweep(interval, interval, interval, text, timestamptz)
    RENAME TO sweep_claims;

CREATE FUNCTION helpim.sweep(staff_claim interval, client_claim interval,
    linger interval, inst text DEFAULT NULL, since timestamptz DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
	k	integer := helpim.sweep_claims(staff_claim, client_claim,
	    linger, inst, since);
BEGIN
	IF EXISTS (SELECT 1 FROM helpim.queue WHERE status = 'waiting') AND
	    EXISTS (SELECT 1 FROM helpim.rooms AS x
	    WHERE x.status = 'staff_waiting' AND helpim.room_ready(x)) THEN
		PERFORM helpim.match_waiting();
	END IF;
	RETURN k;
END
$$;

-- The bot calls match_waiting (through apply_events and sweep), nobody
-- else; given here too (the renamed functions keep their grants), so that the bot does not stop until the roles
-- file (etc/postgresql-roles.sql) runs again.
REVOKE ALL ON FUNCTION helpim.match_waiting(),
    helpim.apply_events(text[], timestamptz[], text[], integer[], text[],
    text[]),
    helpim.sweep(interval, interval, interval, text, timestamptz)
    FROM PUBLIC;
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'helpim_bot') THEN
		GRANT EXECUTE ON FUNCTION helpim.match_waiting(),
		    helpim.apply_events(text[], timestamptz[], text[],
		    integer[], text[], text[]),
		    helpim.sweep(interval, interval, interval, text,
		    timestamptz)
		    TO helpim_bot;
	END IF;
END
$$;

INSERT INTO helpim.schema_version (version) VALUES (11);
