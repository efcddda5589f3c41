-- helpim schema, version 2: the status machine of helpim-setstatus and the
-- functions of the webapp (helpim-sql(7)).  Forward-only, like every migration.

-- Time of the last event applied to the room (the bot's clock): a snapshot
-- older than that is stale, and so is any event up to the end of a room.
ALTER TABLE helpim.rooms ADD COLUMN event_at timestamptz;

-- An exact replay of an event finds its row and changes nothing.
CREATE UNIQUE INDEX room_events_replay ON helpim.room_events
	(jid, at, event, nick) NULLS NOT DISTINCT;

CREATE INDEX rooms_staff_waiting ON helpim.rooms (staff_joined_at, id)
	WHERE status = 'staff_waiting';

-- The status that a count of chatters gives an open room: the count decides.
CREATE FUNCTION helpim.next_status(status text, chatters integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
	WHEN chatters < 1 THEN status
	WHEN status IN ('available', 'staff_claimed') THEN
		CASE WHEN chatters = 1 THEN 'staff_waiting' ELSE 'chatting' END
	WHEN status IN ('staff_waiting', 'client_claimed', 'closing') THEN
		CASE WHEN chatters >= 2 THEN 'chatting' ELSE status END
	WHEN status = 'chatting' THEN
		CASE WHEN chatters = 1 THEN 'closing' ELSE status END
	ELSE status
	END
$$;

-- One event line of helpim-protocol(7).  Returns the room's new status,
-- 'duplicate' or 'stale' (nothing changed) or 'anomaly' (recorded only).
CREATE FUNCTION helpim.apply_event(p_event text, p_at timestamptz,
    p_jid text, p_chatters integer, p_nick text DEFAULT NULL,
    p_detail text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r	helpim.rooms%ROWTYPE;
	st	text;
	bad	text;
	n	integer := p_chatters;
	nicks	text[];
	eid	bigint;
BEGIN
	SELECT * INTO r FROM helpim.rooms WHERE jid = p_jid FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO helpim.room_events (jid, at, event, chatters, nick,
		    detail, anomaly)
		VALUES (p_jid, p_at, p_event, p_chatters, p_nick, p_detail,
		    'unknown room')
		ON CONFLICT DO NOTHING;
		RETURN 'anomaly';
	END IF;
	IF r.event_at IS NOT NULL AND (p_at < r.event_at AND
	    p_event = 'snapshot' OR p_at <= r.event_at AND
	    r.status IN ('closed', 'lost')) THEN
		RETURN 'stale';
	END IF;

	IF r.status IN ('closed', 'lost') THEN
		bad := 'room is ' || r.status;
	ELSIF p_event = 'destroyed' THEN
		st := 'closed';
		n := 0;
	ELSIF p_event = 'gone' THEN
		st := 'lost';
		n := 0;
	ELSIF p_event = 'join' AND n < 1 THEN
		bad := 'join leaves no chatter';
	ELSIF p_event IN ('snapshot', 'join', 'leave') THEN
		st := helpim.next_status(r.status, n);
	ELSIF p_event IN ('nick', 'kick') THEN
		st := r.status;
	ELSE
		bad := 'unknown event';
	END IF;

	IF bad IS NOT NULL THEN
		INSERT INTO helpim.room_events (room_id, jid, at, event,
		    chatters, nick, detail, old_status, new_status, anomaly)
		VALUES (r.id, p_jid, p_at, p_event, p_chatters, p_nick, p_detail,
		    r.status, r.status, bad)
		ON CONFLICT DO NOTHING;
		RETURN 'anomaly';
	END IF;
	IF p_event = 'snapshot' AND st = r.status AND n = r.chatters THEN
		RETURN st;
	END IF;

	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    nick, detail, old_status, new_status)
	VALUES (r.id, p_jid, p_at, p_event, n, p_nick, p_detail, r.status, st)
	ON CONFLICT DO NOTHING
	RETURNING id INTO eid;
	IF eid IS NULL THEN
		RETURN 'duplicate';
	END IF;

	-- The first chatter is the staff member, the second the client.
	IF p_event = 'join' THEN
		IF r.staff_nick IS NULL THEN
			r.staff_nick := p_nick;
		ELSIF r.client_nick IS NULL AND n >= 2 AND
		    p_nick <> r.staff_nick THEN
			r.client_nick := p_nick;
		END IF;
	ELSIF p_event = 'snapshot' AND coalesce(p_detail, '') <> '' THEN
		nicks := string_to_array(p_detail, E'\n');
		r.staff_nick := coalesce(r.staff_nick, nicks[1]);
		IF r.client_nick IS NULL AND n >= 2 THEN
			SELECT x INTO r.client_nick FROM unnest(nicks) AS x
			WHERE x <> r.staff_nick LIMIT 1;
		END IF;
	ELSIF p_event = 'nick' THEN
		IF r.staff_nick = p_nick THEN
			r.staff_nick := p_detail;
		ELSIF r.client_nick = p_nick THEN
			r.client_nick := p_detail;
		END IF;
	END IF;

	IF st <> r.status THEN
		r.status_at := p_at;
		IF st IN ('staff_waiting', 'chatting') THEN
			r.staff_joined_at := coalesce(r.staff_joined_at, p_at);
		END IF;
		IF st = 'chatting' THEN
			r.client_joined_at := coalesce(r.client_joined_at, p_at);
		ELSIF st = 'closing' THEN
			r.closing_at := p_at;
		ELSIF st = 'closed' THEN
			r.closed_at := p_at;
		END IF;
	END IF;

	UPDATE helpim.rooms SET
		status = st,
		status_at = r.status_at,
		chatters = n,
		event_at = greatest(r.event_at, p_at),
		staff_joined_at = r.staff_joined_at,
		client_joined_at = r.client_joined_at,
		closing_at = r.closing_at,
		closed_at = r.closed_at,
		staff_nick = r.staff_nick,
		client_nick = r.client_nick
	WHERE id = r.id;
	RETURN st;
END
$$;

CREATE FUNCTION helpim.claim_staff_room(ref text)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms
	WHERE status = 'available' AND close_requested_at IS NULL
	ORDER BY created_at, id LIMIT 1
	FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	UPDATE helpim.rooms SET status = 'staff_claimed', status_at = now(),
	    staff_ref = ref, staff_claimed_at = now()
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

CREATE FUNCTION helpim.claim_client_room(ref text)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms
	WHERE status = 'staff_waiting' AND chatters > 0 AND
	    close_requested_at IS NULL
	ORDER BY staff_joined_at, id LIMIT 1
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

CREATE FUNCTION helpim.request_close(jid text, reason text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms AS x
	WHERE x.jid = lower(request_close.jid)
	FOR UPDATE;
	IF NOT FOUND OR r.status IN ('closed', 'lost') THEN
		RETURN false;
	END IF;
	UPDATE helpim.rooms SET close_requested_at = now(),
	    close_reason = reason
	WHERE id = r.id;
	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    detail, old_status, new_status)
	VALUES (r.id, r.jid, now(), 'close_request', r.chatters, reason,
	    r.status, r.status)
	ON CONFLICT DO NOTHING;
	PERFORM pg_notify('helpim', 'close ' || r.jid);
	RETURN true;
END
$$;

-- Claims not followed by a join fall back; rooms left in closing past the
-- linger get a close request.  inst NULL: every instance.  Returns the number
-- of rooms changed.
CREATE FUNCTION helpim.sweep(staff_claim interval, client_claim interval,
    linger interval, inst text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	r	helpim.rooms%ROWTYPE;
	k	integer := 0;
BEGIN
	FOR r IN SELECT * FROM helpim.rooms AS x
	    WHERE x.status = 'staff_claimed' AND
	    x.staff_claimed_at < now() - staff_claim AND
	    (inst IS NULL OR x.instance = inst)
	    FOR UPDATE SKIP LOCKED LOOP
		UPDATE helpim.rooms SET status = 'available', status_at = now(),
		    staff_ref = NULL, staff_claimed_at = NULL
		WHERE id = r.id;
		INSERT INTO helpim.room_events (room_id, jid, at, event,
		    chatters, detail, old_status, new_status)
		VALUES (r.id, r.jid, now(), 'staff_claim_expired', r.chatters,
		    r.staff_ref, r.status, 'available')
		ON CONFLICT DO NOTHING;
		k := k + 1;
	END LOOP;
	FOR r IN SELECT * FROM helpim.rooms AS x
	    WHERE x.status = 'client_claimed' AND
	    x.client_claimed_at < now() - client_claim AND
	    (inst IS NULL OR x.instance = inst)
	    FOR UPDATE SKIP LOCKED LOOP
		UPDATE helpim.rooms SET status = 'staff_waiting',
		    status_at = now(), client_ref = NULL,
		    client_claimed_at = NULL
		WHERE id = r.id;
		INSERT INTO helpim.room_events (room_id, jid, at, event,
		    chatters, detail, old_status, new_status)
		VALUES (r.id, r.jid, now(), 'client_claim_expired', r.chatters,
		    r.client_ref, r.status, 'staff_waiting')
		ON CONFLICT DO NOTHING;
		k := k + 1;
	END LOOP;
	FOR r IN SELECT * FROM helpim.rooms AS x
	    WHERE x.status = 'closing' AND x.status_at < now() - linger AND
	    x.close_requested_at IS NULL AND
	    (inst IS NULL OR x.instance = inst)
	    FOR UPDATE SKIP LOCKED LOOP
		PERFORM helpim.request_close(r.jid, 'linger');
		k := k + 1;
	END LOOP;
	RETURN k;
END
$$;

INSERT INTO helpim.schema_version (version) VALUES (2);
