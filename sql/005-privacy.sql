-- helpim schema, version 5: keep little, keep it briefly (helpim(7),
-- PERSONAL DATA).  An ended room keeps no password, the history no real JID,
-- and helpim.purge() blanks the personal data of rooms ended long ago.
-- Forward-only, like every migration.

-- A closed or lost room has no password: whatever ends a room, a trigger
-- clears it in the same statement, and a pending new one (new_password of
-- version 4) with it.
ALTER TABLE helpim.rooms ALTER COLUMN password DROP NOT NULL;

CREATE FUNCTION helpim.forget_password()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- every password column there is, by name
	NEW := jsonb_populate_record(NEW,
	    '{"password": null, "new_password": null}');
	RETURN NEW;
END
$$;

CREATE TRIGGER rooms_forget_password BEFORE INSERT OR UPDATE ON helpim.rooms
	FOR EACH ROW WHEN (NEW.status IN ('closed', 'lost'))
	EXECUTE FUNCTION helpim.forget_password();

-- through the trigger
UPDATE helpim.rooms SET status = status WHERE status IN ('closed', 'lost');

-- A join's detail is a keyed hash of the real JID (64 hex digits), or
-- nothing: a real JID from an older helpim-watch is dropped on the way in,
-- and those recorded before this migration are dropped now.
CREATE FUNCTION helpim.forget_jid()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.detail := NULL;
	RETURN NEW;
END
$$;

CREATE TRIGGER room_events_forget_jid BEFORE INSERT OR UPDATE
	ON helpim.room_events
	FOR EACH ROW WHEN (NEW.event = 'join' AND
	    NEW.detail !~ '^[0-9a-f]{64}$')
	EXECUTE FUNCTION helpim.forget_jid();

UPDATE helpim.room_events SET detail = NULL
WHERE event = 'join' AND detail !~ '^[0-9a-f]{64}$';

-- When helpim.purge() blanked the room's personal data.
ALTER TABLE helpim.rooms ADD COLUMN purged_at timestamptz;

-- A purge looks only at the ended rooms not purged yet, by their end.
CREATE INDEX rooms_unpurged ON helpim.rooms (status_at)
	WHERE status IN ('closed', 'lost') AND purged_at IS NULL;
CREATE INDEX room_events_roomless ON helpim.room_events (at)
	WHERE room_id IS NULL;

-- The rooms that ended (closed or lost) before now() - older_than lose
-- their nicks, references, close reason and password; in their history,
-- nicks become numbers in the order of arrival (#1, #2: who came, left,
-- was kicked stays readable) and every detail but a leave's cause and a
-- gone's condition is blanked: JID hashes, references, reasons.  Times,
-- statuses and counts stay, and with them every statistic.  Events of
-- no room (anomalies) that old are deleted.  Returns the number of rooms
-- purged; a second call purges nothing more.
CREATE FUNCTION helpim.purge(older_than interval)
RETURNS integer LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ids	bigint[];
BEGIN
	WITH p AS (
		UPDATE helpim.rooms SET staff_nick = NULL, client_nick = NULL,
		    staff_ref = NULL, client_ref = NULL, close_reason = NULL,
		    password = NULL, purged_at = now()
		WHERE status IN ('closed', 'lost') AND purged_at IS NULL AND
		    status_at < now() - older_than
		RETURNING id)
	SELECT array_agg(id) INTO ids FROM p;

	DELETE FROM helpim.room_events
	WHERE room_id IS NULL AND at < now() - older_than;

	IF ids IS NULL THEN
		RETURN 0;
	END IF;
	-- Through a prefix that no nick can hold (XMPP forbids control
	-- characters), so that no two rows share (jid, at, event, nick) on
	-- the way.
	UPDATE helpim.room_events AS e SET nick = E'\x01' || l.k
	FROM (SELECT room_id, nick, row_number() OVER (PARTITION BY room_id
	    ORDER BY min(at), min(id)) AS k
	    FROM helpim.room_events
	    WHERE room_id = ANY (ids) AND nick IS NOT NULL
	    GROUP BY room_id, nick) AS l
	WHERE e.room_id = l.room_id AND e.nick = l.nick;
	UPDATE helpim.room_events SET
		nick = '#' || substr(nick, 2),
		detail = CASE WHEN event IN ('leave', 'gone') THEN detail END
	WHERE room_id = ANY (ids) AND (nick IS NOT NULL OR
	    detail IS NOT NULL AND event NOT IN ('leave', 'gone'));
	RETURN cardinality(ids);
END
$$;

REVOKE ALL ON FUNCTION helpim.purge(interval) FROM PUBLIC;

INSERT INTO helpim.schema_version (version) VALUES (5);
