-- helpim schema, version 6: routing in the database (helpim-sql(7)): a client
-- queue that survives restarts, staff priority and capacity, the matching
-- of waiting clients with waiting staff members, notifications for the
-- webapp on the channel helpim_webapp, and the daily figures.
-- Forward-only, like every migration.
--
-- The matching and the notifications live in a trigger on helpim.rooms, so
-- that whatever makes a room ready (a first join, a new password confirmed
-- after an expired client claim) hands it to the head of the queue in the
-- same transaction.
--
-- Order without a global lock held to the commit.  Two kinds of
-- transactions must see each other: an enqueue, and a matcher (a room that
-- became ready).  Were they to run side by side, neither would see the
-- other's uncommitted row, and a client would be left waiting beside an
-- idle staff member.  So both lock the table helpim.queue_gate, which
-- holds no rows, in modes that conflict across the two kinds only:
-- enqueues in ROW EXCLUSIVE mode, matchers in SHARE mode; enqueues run
-- side by side, and so do matchers.  Between matchers (and enqueues that
-- find a ready room), the assignment itself (the best room, the head of
-- the queue) is a short critical section under a session-level advisory
-- lock, released as soon as the rows are chosen and locked, not at the
-- commit: the next matcher skips the rows still locked and takes the
-- next ones.

-- The priority that the staff member's claim gave the room.
ALTER TABLE helpim.rooms ADD COLUMN staff_priority integer NOT NULL DEFAULT 0;

-- The rooms with a staff member alone in them, best first.
CREATE INDEX rooms_ready ON helpim.rooms
	(staff_priority DESC, staff_joined_at, id)
	WHERE status = 'staff_waiting';
-- The free rooms, oldest first, for claim_staff_room.
CREATE INDEX rooms_free ON helpim.rooms (created_at, id)
	WHERE status = 'available';
-- The open rooms of a staff member's reference, for max_chats.
CREATE INDEX rooms_staff_ref ON helpim.rooms (staff_ref)
	WHERE status NOT IN ('closed', 'lost');

-- One row per client ever queued.  status: waiting (in the queue), assigned
-- (a room is claimed for the client, who has not come yet), served (the
-- client came), expired (the client did not come in time), left (gave up).
CREATE TABLE helpim.queue (
	id		bigserial PRIMARY KEY,
	ref		text NOT NULL,
	priority	integer NOT NULL DEFAULT 0,
	status		text NOT NULL DEFAULT 'waiting' CHECK (status IN
		('waiting', 'assigned', 'served', 'expired', 'left')),
	enqueued_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	assigned_at	timestamptz,
	ended_at	timestamptz,
	room_id		bigint		-- helpim.rooms (id), without a foreign
					-- key: clearing the rooms need not
					-- know the queue
);

-- The last position told each waiting client (helpim.queue_show): a table
-- of its own, so that telling never locks a row of the queue that a
-- matcher would then pass over.
CREATE TABLE helpim.queue_shown (
	queue_id	bigint PRIMARY KEY,
	shown		integer NOT NULL
);

-- A reference is at most once in the queue.
CREATE UNIQUE INDEX queue_ref ON helpim.queue (ref)
	WHERE status IN ('waiting', 'assigned');
CREATE INDEX queue_waiting ON helpim.queue (priority DESC, id)
	WHERE status = 'waiting';
CREATE INDEX queue_room ON helpim.queue (room_id) WHERE status = 'assigned';
CREATE INDEX queue_assigned_at ON helpim.queue (assigned_at);
CREATE INDEX queue_enqueued_at ON helpim.queue (enqueued_at);

-- The history of the queue: one row per change of an entry, with its new
-- status (event enqueued, assigned, served, expired, left, or requeued: the
-- room closed before the client came, the client is waiting again).
CREATE TABLE helpim.queue_events (
	id		bigserial PRIMARY KEY,
	queue_id	bigint NOT NULL REFERENCES helpim.queue (id),
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	event		text NOT NULL,
	ref		text NOT NULL,
	priority	integer NOT NULL,
	room_id		bigint
);

CREATE INDEX queue_events_queue ON helpim.queue_events (queue_id, at);

-- Locked, never written: see "Order" above.
CREATE TABLE helpim.queue_gate ();

-- A room a client can be sent to: a staff member alone in it, unclaimed,
-- with the password that the staff member holds (no new one pending).
CREATE FUNCTION helpim.room_ready(r helpim.rooms)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT r.status = 'staff_waiting' AND r.chatters = 1 AND
	    r.client_nick IS NULL AND r.close_requested_at IS NULL AND
	    r.new_password IS NULL
$$;

-- In plpgsql, whose plan is kept for the session: a SQL function called
-- from plpgsql is planned again at every call.
CREATE FUNCTION helpim.queue_log(q helpim.queue, ev text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO helpim.queue_events (queue_id, event, ref, priority,
	    room_id)
	VALUES (q.id, ev, q.ref, q.priority, q.room_id);
END
$$;

-- Hands the best ready rooms to the heads of the queue while both exist;
-- with a reference, first puts that client in the queue (as enqueue_client,
-- whose entry is then numbered in the order of the assignments).  The
-- caller holds the gate (see "Order").  Each pair is chosen and locked
-- (FOR UPDATE SKIP LOCKED), and its time taken, under the matchers'
-- session-level lock, released right after, on an error too; the updates
-- follow outside: a matcher waits for another only while it chooses,
-- never for its updates or its commit.  Returns the number of assignments.
CREATE FUNCTION helpim.match(ref text DEFAULT NULL, priority integer DEFAULT 0)
RETURNS integer LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
			-- the room first: a head that another matcher holds
			-- is one that it has a room for
			SELECT * INTO r FROM helpim.rooms AS x
			WHERE x.status = 'staff_waiting' AND helpim.room_ready(x)
			ORDER BY staff_priority DESC, staff_joined_at, id LIMIT 1
			FOR UPDATE SKIP LOCKED;
			got := FOUND;
			IF got THEN
				SELECT * INTO q FROM helpim.queue
				WHERE status = 'waiting'
				ORDER BY priority DESC, id LIMIT 1
				FOR UPDATE SKIP LOCKED;
				got := FOUND;
			END IF;
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

-- After each change of a room: the status notification; the fate of the
-- queue entry whose room it was; a match when the room became ready.
CREATE FUNCTION helpim.rooms_routed()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	q	helpim.queue%ROWTYPE;
	again	boolean := false;
BEGIN
	-- A room that this transaction changed again since (a match in the
	-- trigger of another room) was notified with its later status.
	IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status =
	    (SELECT status FROM helpim.rooms WHERE id = NEW.id) THEN
		PERFORM pg_notify('helpim_webapp', 'status ' || NEW.jid || ' ' ||
		    NEW.status || ' ' || NEW.chatters);
	END IF;
	IF OLD.status = 'client_claimed' AND NEW.status <> 'client_claimed' THEN
		SELECT * INTO q FROM helpim.queue
		WHERE room_id = NEW.id AND status = 'assigned'
		FOR UPDATE;
		IF FOUND THEN
			IF NEW.status = 'staff_waiting' THEN
				-- the claim expired: the client did not come
				UPDATE helpim.queue SET status = 'expired',
				    ended_at = clock_timestamp()
				WHERE id = q.id RETURNING * INTO q;
				PERFORM helpim.queue_log(q, 'expired');
				PERFORM pg_notify('helpim_webapp',
				    'expired ' || q.ref);
			ELSIF NEW.status IN ('chatting', 'closing') THEN
				UPDATE helpim.queue SET status = 'served',
				    ended_at = clock_timestamp()
				WHERE id = q.id RETURNING * INTO q;
				PERFORM helpim.queue_log(q, 'served');
			ELSE
				-- the room ended before the client came: the
				-- client waits again, in the old place
				UPDATE helpim.queue SET status = 'waiting',
				    assigned_at = NULL, room_id = NULL
				WHERE id = q.id RETURNING * INTO q;
				PERFORM helpim.queue_log(q, 'requeued');
				PERFORM helpim.queue_overtaken(q, true);
				again := true;
			END IF;
		END IF;
	END IF;
	IF again OR helpim.room_ready(NEW) AND NOT helpim.room_ready(OLD) THEN
		LOCK TABLE helpim.queue_gate IN SHARE MODE;
		PERFORM helpim.match();
	END IF;
	RETURN NULL;
END
$$;

-- only the columns that make a room ready or change its status
CREATE TRIGGER rooms_routed AFTER UPDATE ON helpim.rooms
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR
	    OLD.chatters IS DISTINCT FROM NEW.chatters OR
	    OLD.client_nick IS DISTINCT FROM NEW.client_nick OR
	    OLD.close_requested_at IS DISTINCT FROM NEW.close_requested_at OR
	    OLD.new_password IS DISTINCT FROM NEW.new_password)
	EXECUTE FUNCTION helpim.rooms_routed();

-- The waiting clients ahead of entry q, q included.
CREATE FUNCTION helpim.queue_rank(q helpim.queue)
RETURNS integer LANGUAGE sql STABLE AS $$
	SELECT count(*)::integer FROM helpim.queue AS x
	WHERE x.status = 'waiting' AND (x.priority > q.priority OR
	    x.priority = q.priority AND x.id <= q.id)
$$;

-- The position to tell the client of q: its rank, but never more than the
-- last one told.  Enqueues commit side by side, so an entry of a lower id
-- may become visible just after a later one; the client's number does not
-- go up for that.  A real overtaking (a higher priority, a client put back
-- in its old place) forgets what was told (queue_overtaken).
CREATE FUNCTION helpim.queue_show(q helpim.queue)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	r	integer := helpim.queue_rank(q);
	s	integer;
BEGIN
	SELECT shown INTO s FROM helpim.queue_shown WHERE queue_id = q.id;
	IF s < r THEN
		r := s;
	END IF;
	IF s IS DISTINCT FROM r THEN
		INSERT INTO helpim.queue_shown (queue_id, shown) VALUES (q.id, r)
		ON CONFLICT (queue_id) DO UPDATE SET shown = excluded.shown;
	END IF;
	RETURN r;
END
$$;

-- q went ahead of others (a higher priority; put back, also ahead of the
-- later ones of its own): their next position is their true rank.  Not for
-- an entry that merely became visible late.
CREATE FUNCTION helpim.queue_overtaken(q helpim.queue, back boolean)
RETURNS void LANGUAGE sql AS $$
	DELETE FROM helpim.queue_shown AS s USING helpim.queue AS x
	WHERE s.queue_id = x.id AND x.status = 'waiting' AND
	    (x.priority < q.priority OR back AND x.priority = q.priority AND
	    x.id > q.id)
$$;

-- The mean gap between the recent assignments: up to the last 20 within the
-- last hour, measured up to now, so that a queue that does not move shows
-- a growing wait.  NULL when nobody was assigned within the hour.
CREATE FUNCTION helpim.queue_gap()
RETURNS interval LANGUAGE sql STABLE AS $$
	SELECT (clock_timestamp() - min(a)) / count(*)
	FROM (SELECT assigned_at AS a FROM helpim.queue
	    WHERE assigned_at > now() - interval '1 hour'
	    ORDER BY assigned_at DESC LIMIT 20) AS x
	HAVING count(*) > 0
$$;

-- Under the gate in ROW EXCLUSIVE mode no room can become ready (that
-- takes SHARE mode) until this commits, so a client who finds no ready
-- room is queued without further ado, side by side with other enqueues;
-- one who finds a ready room is queued and matched in the matchers'
-- critical section.
CREATE FUNCTION helpim.enqueue_client(ref text, priority integer DEFAULT 0)
RETURNS integer LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	q	helpim.queue%ROWTYPE;
BEGIN
	IF enqueue_client.ref IS NULL OR enqueue_client.priority IS NULL THEN
		RAISE EXCEPTION 'enqueue_client: NULL argument';
	END IF;
	LOCK TABLE helpim.queue_gate IN ROW EXCLUSIVE MODE;
	IF EXISTS (SELECT 1 FROM helpim.rooms AS x
	    WHERE x.status = 'staff_waiting' AND helpim.room_ready(x)) THEN
		PERFORM helpim.match(enqueue_client.ref, enqueue_client.priority);
	ELSE
		INSERT INTO helpim.queue (ref, priority)
		VALUES (enqueue_client.ref, enqueue_client.priority)
		ON CONFLICT (ref) WHERE status IN ('waiting', 'assigned')
		DO NOTHING
		RETURNING * INTO q;
		IF FOUND THEN
			PERFORM helpim.queue_log(q, 'enqueued');
			PERFORM helpim.queue_overtaken(q, false);
			RETURN helpim.queue_show(q);
		END IF;
	END IF;
	SELECT * INTO q FROM helpim.queue AS x
	WHERE x.ref = enqueue_client.ref AND x.status IN ('waiting', 'assigned');
	IF q.status = 'assigned' THEN
		RETURN 0;
	END IF;
	RETURN helpim.queue_show(q);
END
$$;

CREATE FUNCTION helpim.client_room(ref text)
RETURNS TABLE (jid text, password text) LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT r.jid, r.password FROM helpim.queue AS q
	JOIN helpim.rooms AS r ON r.id = q.room_id
	WHERE q.ref = client_room.ref AND q.status IN ('assigned', 'served') AND
	    r.client_ref = client_room.ref AND
	    r.status IN ('client_claimed', 'chatting', 'closing') AND
	    r.close_requested_at IS NULL
	ORDER BY q.id DESC LIMIT 1
$$;

CREATE FUNCTION helpim.queue_position(ref text)
RETURNS TABLE ("position" integer, eta interval) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	q	helpim.queue%ROWTYPE;
BEGIN
	SELECT * INTO q FROM helpim.queue AS x
	WHERE x.ref = queue_position.ref AND
	    x.status IN ('waiting', 'assigned');
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF q.status = 'assigned' THEN
		"position" := 0;
		eta := interval '0';
	ELSE
		"position" := helpim.queue_show(q);
		eta := "position" * helpim.queue_gap();
	END IF;
	RETURN NEXT;
END
$$;

-- A client who gives up leaves the queue.  A room already claimed for the
-- client stays claimed until the claim expires: its password was handed
-- out, and only the expiry gives the room a new one.
CREATE FUNCTION helpim.dequeue_client(ref text)
RETURNS boolean LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	q	helpim.queue%ROWTYPE;
BEGIN
	UPDATE helpim.queue AS x SET status = 'left',
	    ended_at = clock_timestamp()
	WHERE x.ref = dequeue_client.ref AND
	    x.status IN ('waiting', 'assigned')
	RETURNING * INTO q;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM helpim.queue_log(q, 'left');
	RETURN true;
END
$$;

CREATE FUNCTION helpim.service_status()
RETURNS TABLE (staff_waiting integer, queued integer, chatting integer,
    eta interval) LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT s.w, s.q, s.c, CASE WHEN s.w > 0 THEN interval '0'
	    ELSE (s.q + 1) * helpim.queue_gap() END
	FROM (SELECT
	    (SELECT count(*)::integer FROM helpim.rooms AS x
	    WHERE x.status = 'staff_waiting' AND helpim.room_ready(x)) AS w,
	    (SELECT count(*)::integer FROM helpim.queue
	    WHERE status = 'waiting') AS q,
	    (SELECT count(*)::integer FROM helpim.rooms
	    WHERE status = 'chatting') AS c) AS s
$$;

-- The staff claim gains a priority and a cap on the open rooms of one
-- reference; the cap holds under concurrency through a lock per reference.
DROP FUNCTION helpim.claim_staff_room(text);
CREATE FUNCTION helpim.claim_staff_room(ref text, priority integer DEFAULT 0,
    max_chats integer DEFAULT NULL)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
	SELECT * INTO r FROM helpim.rooms
	WHERE status = 'available' AND close_requested_at IS NULL AND
	    new_password IS NULL
	ORDER BY created_at, id LIMIT 1
	FOR UPDATE SKIP LOCKED;
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

-- The plain client claim, for webapps without the queue: the staff
-- priority first, as for the queue.
CREATE OR REPLACE FUNCTION helpim.claim_client_room(ref text)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms AS x
	WHERE x.status = 'staff_waiting' AND helpim.room_ready(x)
	ORDER BY staff_priority DESC, staff_joined_at, id LIMIT 1
	FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	UPDATE helpim.rooms SET status = 'client_claimed', status_at = now(),
	    client_ref = ref, client_claimed_at = now()
	WHERE id = r.id;
	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    detail, old_status, new_status)
	VALUES (r.id, r.jid, now(), 'client_claim', r.chatters, ref,
	    r.status, 'client_claimed');
	jid := r.jid;
	password := r.password;
	RETURN NEXT;
END
$$;

-- Per day (in the session's time zone): the chats that began (the client
-- came) and the median of their length (to the first leave, else to the
-- close); the clients who entered the queue, answered (came into a room)
-- or abandoned (left the queue, or did not come to the room assigned),
-- and the wait of the answered ones from the queue to the assignment.
CREATE VIEW helpim.daily AS
	WITH c AS (
		SELECT client_joined_at::date AS day, count(*) AS chats,
		    percentile_cont(0.5) WITHIN GROUP (ORDER BY
		    coalesce(closing_at, closed_at) - client_joined_at) AS
		    duration_p50
		FROM helpim.rooms WHERE client_joined_at IS NOT NULL
		GROUP BY 1
	), q AS (
		SELECT enqueued_at::date AS day,
		    count(*) FILTER (WHERE status = 'served') AS answered,
		    count(*) FILTER (WHERE status IN ('left', 'expired')) AS
		    abandoned,
		    percentile_cont(0.5) WITHIN GROUP (ORDER BY
		    assigned_at - enqueued_at) FILTER (WHERE status = 'served')
		    AS wait_p50,
		    percentile_cont(0.9) WITHIN GROUP (ORDER BY
		    assigned_at - enqueued_at) FILTER (WHERE status = 'served')
		    AS wait_p90
		FROM helpim.queue GROUP BY 1
	)
	SELECT day, coalesce(c.chats, 0) AS chats,
	    coalesce(q.answered, 0) AS answered,
	    coalesce(q.abandoned, 0) AS abandoned,
	    q.wait_p50, q.wait_p90, c.duration_p50
	FROM c FULL JOIN q USING (day);

-- The purge of version 5 (helpim-sql(7)) goes on as helpim.purge_rooms;
-- helpim.purge does it and blanks the client references of the queue
-- entries that ended (served, expired, left) before the same cutoff, in
-- the entries and in their history.  Times and statuses stay, and with
-- them helpim.daily.  Returns the number of rooms purged, as before.
ALTER TABLE helpim.queue ALTER COLUMN ref DROP NOT NULL;
ALTER TABLE helpim.queue_events ALTER COLUMN ref DROP NOT NULL;
CREATE INDEX queue_unpurged ON helpim.queue (ended_at)
	WHERE ref IS NOT NULL AND status IN ('served', 'expired', 'left');
ALTER FUNCTION helpim.purge(interval) RENAME TO purge_rooms;

CREATE FUNCTION helpim.purge(older_than interval)
RETURNS integer LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n	integer;
BEGIN
	n := helpim.purge_rooms(older_than);
	WITH p AS (
		UPDATE helpim.queue SET ref = NULL
		WHERE ref IS NOT NULL AND
		    status IN ('served', 'expired', 'left') AND
		    ended_at < now() - older_than
		RETURNING id)
	UPDATE helpim.queue_events AS e SET ref = NULL
	FROM p WHERE e.queue_id = p.id AND e.ref IS NOT NULL;
	RETURN n;
END
$$;

REVOKE ALL ON FUNCTION helpim.claim_staff_room(text, integer, integer),
	helpim.enqueue_client(text, integer), helpim.client_room(text),
	helpim.queue_position(text), helpim.dequeue_client(text),
	helpim.service_status(), helpim.match(text, integer),
	helpim.rooms_routed(),
	helpim.room_ready(helpim.rooms), helpim.queue_log(helpim.queue, text),
	helpim.queue_rank(helpim.queue), helpim.queue_gap(),
	helpim.queue_show(helpim.queue), helpim.queue_overtaken(helpim.queue, boolean),
	helpim.purge(interval)
	FROM PUBLIC;

INSERT INTO helpim.schema_version (version) VALUES (6);
