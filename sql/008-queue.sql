-- helpim schema, version 8: the routing under helpim-setstatus's batches,
-- and the client queue's position in index ranges.
-- Forward-only, like every migration.
--
-- helpim-setstatus applies what it read at once, and helpim.apply_events
-- updates each room once per batch, with its last status.  The trigger on
-- helpim.rooms saw only the first and the last status of the batch: a whole
-- chat in one batch (client_claimed, chatting, closing, closed) looked like
-- a room that ended before its client came, and the client served was put
-- back in the queue to be served again; and the statuses in between were
-- never notified.  The status notification now follows the history, one
-- per change, in order, from a trigger on helpim.room_events; and whether
-- the client came is read from the room (client_nick, client_joined_at),
-- not from its status.
--
-- A client's rank was one count over an OR of two ranges, and the check
-- for the clients a new entry overtakes was one DELETE over the same OR.
-- Without fresh statistics (a queue that filled in a second) the planner
-- answered both with bitmaps of every entry ever queued, so an enqueue
-- cost more the longer the service had run.  Each range is now a scan of
-- its own on queue_waiting (priority DESC, id), and an entry that
-- overtakes nobody (the usual case: no lower priority waiting) costs one
-- probe of that index.

CREATE OR REPLACE FUNCTION helpim.queue_rank(q helpim.queue)
RETURNS integer LANGUAGE sql STABLE AS $$
	SELECT ((SELECT count(*) FROM helpim.queue AS x
	    WHERE x.status = 'waiting' AND x.priority > q.priority) +
	    (SELECT count(*) FROM helpim.queue AS x
	    WHERE x.status = 'waiting' AND x.priority = q.priority AND
	    x.id <= q.id))::integer
$$;

CREATE OR REPLACE FUNCTION helpim.queue_overtaken(q helpim.queue, back boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM helpim.queue AS x
	    WHERE x.status = 'waiting' AND x.priority < q.priority) THEN
		DELETE FROM helpim.queue_shown AS s USING helpim.queue AS x
		WHERE s.queue_id = x.id AND x.status = 'waiting' AND
		    x.priority < q.priority;
	END IF;
	IF back AND EXISTS (SELECT 1 FROM helpim.queue AS x
	    WHERE x.status = 'waiting' AND x.priority = q.priority AND
	    x.id > q.id) THEN
		DELETE FROM helpim.queue_shown AS s USING helpim.queue AS x
		WHERE s.queue_id = x.id AND x.status = 'waiting' AND
		    x.priority = q.priority AND x.id > q.id;
	END IF;
END
$$;

-- Every change of a status is a row of the history, whoever made it (the
-- events, the claims, the sweep, the matching): its notification.
CREATE FUNCTION helpim.room_events_notify()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_notify('helpim_webapp', 'status ' || NEW.jid || ' ' ||
	    NEW.new_status || ' ' || NEW.chatters);
	RETURN NULL;
END
$$;

CREATE TRIGGER room_events_notify AFTER INSERT ON helpim.room_events
	FOR EACH ROW WHEN (NEW.old_status IS DISTINCT FROM NEW.new_status AND
	    NEW.anomaly IS NULL)
	EXECUTE FUNCTION helpim.room_events_notify();

-- After each change of a room: the fate of the queue entry whose room it
-- was; a match when the room became ready.
CREATE OR REPLACE FUNCTION helpim.rooms_routed()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	q	helpim.queue%ROWTYPE;
	again	boolean := false;
BEGIN
	IF OLD.status = 'client_claimed' AND NEW.status <> 'client_claimed' THEN
		SELECT * INTO q FROM helpim.queue
		WHERE room_id = NEW.id AND status = 'assigned'
		FOR UPDATE;
		IF NOT FOUND THEN
			NULL;
		ELSIF NEW.client_nick IS NOT NULL OR
		    NEW.client_joined_at IS NOT NULL THEN
			-- the client came (and may have left since)
			UPDATE helpim.queue SET status = 'served',
			    ended_at = clock_timestamp()
			WHERE id = q.id RETURNING * INTO q;
			PERFORM helpim.queue_log(q, 'served');
		ELSIF NEW.status = 'staff_waiting' THEN
			-- the claim expired: the client did not come
			UPDATE helpim.queue SET status = 'expired',
			    ended_at = clock_timestamp()
			WHERE id = q.id RETURNING * INTO q;
			PERFORM helpim.queue_log(q, 'expired');
			PERFORM pg_notify('helpim_webapp', 'expired ' || q.ref);
		ELSE
			-- the room ended before the client came: the client
			-- waits again, in the old place
			UPDATE helpim.queue SET status = 'waiting',
			    assigned_at = NULL, room_id = NULL
			WHERE id = q.id RETURNING * INTO q;
			PERFORM helpim.queue_log(q, 'requeued');
			PERFORM helpim.queue_overtaken(q, true);
			again := true;
		END IF;
	END IF;
	IF again OR helpim.room_ready(NEW) AND NOT helpim.room_ready(OLD) THEN
		-- under the gate no enqueue is in flight: a queue without a
		-- waiting client has nobody for the room (the usual case
		-- where staff members wait for clients)
		LOCK TABLE helpim.queue_gate IN SHARE MODE;
		IF EXISTS (SELECT 1 FROM helpim.queue WHERE status = 'waiting')
		THEN
			PERFORM helpim.match();
		END IF;
	END IF;
	RETURN NULL;
END
$$;

INSERT INTO helpim.schema_version (version) VALUES (8);
