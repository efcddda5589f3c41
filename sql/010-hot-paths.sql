-- helpim schema, version 10: the hot paths (a batch of events, a staff
-- claim, an enqueue) cost what they must, whatever the statistics of the
-- moment.  Forward-only, like every migration.
--
-- A session keeps the plans of the PL/pgSQL it runs (and of the triggers,
-- the matching and the foreign-key checks that it sets off) for its whole
-- life, and helpim-setstatus and a webapp's pooled connections live long.
-- A plan made while a table was small (a new service, or a table grown in
-- the minute before autovacuum analyses it) scans the table whole, and goes
-- on doing so as the table grows: helpim-setstatus looked up the replays
-- with a sequential scan of helpim.room_events, a batch of 84 events took
-- 85 ms once the history held 5700 rows, and the routing benchmark's join
-- to the assignment had a p99 of 30 ms instead of 10 ms; an enqueue counted
-- the clients ahead, and checked its foreign key, by scanning the queue.
-- Every statement of these functions finds rows by a key that an index
-- holds, so they never scan a table whole.
ALTER FUNCTION helpim.apply_events(text[], timestamptz[], text[], integer[],
    text[], text[]) SET enable_seqscan = off;
ALTER FUNCTION helpim.enqueue_client(text, integer) SET enable_seqscan = off;
ALTER FUNCTION helpim.claim_client_room(text) SET enable_seqscan = off;
ALTER FUNCTION helpim.client_room(text) SET enable_seqscan = off;
ALTER FUNCTION helpim.queue_position(text) SET enable_seqscan = off;
ALTER FUNCTION helpim.dequeue_client(text) SET enable_seqscan = off;

-- A staff claim took the oldest free room after calling the SQL function
-- helpim.instance_live for each candidate, a function that the planner
-- cannot inline (it holds a subquery): with the free rooms not analysed yet
-- (a pool just filled), the planner sorted all of them and called it for
-- each, 100 to 270 ms for a pool of 2100 rooms.  The same test is now a
-- join, one probe of helpim.instances' key per room looked at; and, as
-- above, never a scan of all the rooms.
CREATE OR REPLACE FUNCTION helpim.claim_staff_room(ref text, priority integer DEFAULT 0,
    max_chats integer DEFAULT NULL)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	IF max_chats IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(7243, hashtext(ref));
		IF (SELECT count(*) FROM helpim.rooms AS x
		    WHERE x.staff_ref = claim_staff_room.ref AND
		    x.status NOT IN ('closed', 'lost')) >= max_chats THEN
			RETURN;
		END IF;
	END IF;
	SELECT * INTO r FROM helpim.rooms AS x
	WHERE x.status = 'available' AND x.close_requested_at IS NULL AND
	    x.new_password IS NULL AND NOT EXISTS (SELECT 1
	    FROM helpim.instances AS i
	    WHERE i.instance = x.instance AND i.until < now())
	ORDER BY x.created_at, x.id LIMIT 1
	FOR UPDATE OF x SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	UPDATE helpim.rooms SET status = 'staff_claimed', status_at = now(),
	    staff_ref = ref, staff_claimed_at = now(),
	    staff_priority = coalesce(claim_staff_room.priority, 0)
	WHERE id = r.id;
	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    detail, old_status, new_status)
	VALUES (r.id, r.jid, now(), 'staff_claim', r.chatters, ref,
	    r.status, 'staff_claimed');
	jid := r.jid;
	password := r.password;
	RETURN NEXT;
END
$$;

-- A client's rank was a SQL function called from PL/pgSQL (queue_show), so
-- planned again at every enqueue; in PL/pgSQL its plan is kept.  An enqueue
-- into a queue of up to 1000 clients went from about 1400/s to 1800/s on 10
-- connections.
CREATE OR REPLACE FUNCTION helpim.queue_rank(q helpim.queue)
RETURNS integer LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT count(*) FROM helpim.queue AS x
	    WHERE x.status = 'waiting' AND x.priority > q.priority) +
	    (SELECT count(*) FROM helpim.queue AS x
	    WHERE x.status = 'waiting' AND x.priority = q.priority AND
	    x.id <= q.id);
END
$$;

-- The recent assignments (helpim.queue_gap) are the only reader of this
-- index: the clients still waiting, who have no assignment, need no entry
-- in it, and an enqueue writes one index less.
DROP INDEX helpim.queue_assigned_at;
CREATE INDEX queue_assigned_at ON helpim.queue (assigned_at)
	WHERE assigned_at IS NOT NULL;

INSERT INTO helpim.schema_version (version) VALUES (10);
