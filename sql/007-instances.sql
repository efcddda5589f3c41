-- helpim schema, version 7: several instances, several machines (helpim(7)).
-- Each pipeline holds a lease on its instance, renewed by helpim-rooms -f;
-- when a lease runs out, a live instance adopts the open rooms of the dead
-- one, and the dead one's epoch moves on, so that a writer of the old epoch
-- that comes back (paused, cut off) is refused by the database itself.
-- Forward-only, like every migration.

CREATE TABLE helpim.instances (
	instance	text PRIMARY KEY,
	holder		text NOT NULL,		-- helpim-rooms PID@HOST
	renewed		timestamptz NOT NULL DEFAULT now(),
	until		timestamptz NOT NULL,
	epoch		bigint NOT NULL DEFAULT 1,
	adopted_by	text,			-- took its rooms when it ran out
	adopted_at	timestamptz
);

-- The instance's lease runs (or it never had one: a pipeline of old).
CREATE FUNCTION helpim.instance_live(inst text)
RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT NOT EXISTS (SELECT 1 FROM helpim.instances AS i
	    WHERE i.instance = inst AND i.until < now())
$$;

-- Takes the lease of inst, for lease from now, with a new epoch: what an
-- older holder of inst writes afterwards is refused.  Returns the epoch.
CREATE FUNCTION helpim.lease_take(inst text, who text, lease interval)
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO helpim.instances AS i (instance, holder, until)
	VALUES (inst, who, now() + lease)
	ON CONFLICT (instance) DO UPDATE SET holder = excluded.holder,
	    renewed = now(), until = excluded.until, epoch = i.epoch + 1,
	    adopted_by = NULL, adopted_at = NULL
	RETURNING epoch
$$;

-- Renews the lease; false when the epoch is no longer inst's (adopted).
CREATE FUNCTION helpim.lease_renew(inst text, ep bigint, lease interval)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	UPDATE helpim.instances SET renewed = now(), until = now() + lease
	WHERE instance = inst AND epoch = ep;
	RETURN FOUND;
END
$$;

-- The holder of inst's lease (epoch ep) adopts the open rooms of every
-- instance whose lease has run out: one transaction per dead instance, its
-- epoch moved on, its rooms made inst's and announced on the channel helpim
-- (watch JID: the feed lists a pending rekey or close with it), so that
-- inst's watcher
-- joins them and its snapshots bring their statuses up to date.  Its free
-- rooms become inst's pool.  Returns the number of rooms adopted.
CREATE FUNCTION helpim.adopt(inst text, ep bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	d	helpim.instances%ROWTYPE;
	r	helpim.rooms%ROWTYPE;
	k	integer := 0;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM helpim.instances WHERE instance = inst
	    AND epoch = ep AND until > now()) THEN
		RETURN 0;
	END IF;
	FOR d IN SELECT * FROM helpim.instances AS x
	    WHERE x.instance <> inst AND x.until < now() AND
	    x.adopted_by IS NULL
	    FOR UPDATE SKIP LOCKED LOOP
		UPDATE helpim.instances SET epoch = epoch + 1,
		    adopted_by = inst, adopted_at = now()
		WHERE instance = d.instance;
		FOR r IN UPDATE helpim.rooms AS x SET instance = inst
		    WHERE x.instance = d.instance AND
		    x.status NOT IN ('closed', 'lost')
		    RETURNING * LOOP
			INSERT INTO helpim.room_events (room_id, jid, at, event,
			    chatters, detail, old_status, new_status)
			VALUES (r.id, r.jid, clock_timestamp(), 'adopted',
			    r.chatters, d.instance, r.status, r.status);
			PERFORM pg_notify('helpim', 'watch ' || r.jid);
			k := k + 1;
		END LOOP;
	END LOOP;
	RETURN k;
END
$$;

-- Fencing: a session that declared itself the writer of an instance
-- (helpim.instance and helpim.epoch, set by helpim-setstatus) may change a
-- room only while that is the room's instance and the epoch is still the
-- instance's.  Other sessions (the webapp, an adopter) are not writers.
CREATE FUNCTION helpim.fence()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	ep	text := current_setting('helpim.epoch', true);
	inst	text := current_setting('helpim.instance', true);
BEGIN
	IF coalesce(ep, '') = '' THEN
		RETURN NEW;
	END IF;
	IF OLD.instance IS DISTINCT FROM inst OR NOT EXISTS (SELECT 1
	    FROM helpim.instances AS i WHERE i.instance = inst AND
	    i.epoch = ep::bigint) THEN
		RAISE EXCEPTION 'instance ''%'' epoch % is stale: its rooms were '
		    'adopted', inst, ep USING ERRCODE = 'HL001';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER rooms_fence BEFORE UPDATE ON helpim.rooms
	FOR EACH ROW EXECUTE FUNCTION helpim.fence();

-- Claims skip the rooms of an instance whose lease has run out: nobody
-- watches them until they are adopted.
CREATE OR REPLACE FUNCTION helpim.room_ready(r helpim.rooms)
RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT r.status = 'staff_waiting' AND r.chatters = 1 AND
	    r.client_nick IS NULL AND r.close_requested_at IS NULL AND
	    r.new_password IS NULL AND helpim.instance_live(r.instance)
$$;

CREATE OR REPLACE FUNCTION helpim.claim_staff_room(ref text, priority integer DEFAULT 0,
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
	    new_password IS NULL AND helpim.instance_live(instance)
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

INSERT INTO helpim.schema_version (version) VALUES (7);
