-- Bench only, never in sql/: the steps of the staff members of the routing
-- benchmark (t/bench/staff runs them, one transaction each, as
-- helpim-setstatus would apply the events of a real chat).  bench.joins
-- keeps the time of each staff member's join (the database's clock, just
-- before the join is applied) and the time the room was claimed for a
-- client, as the staff member saw it.
CREATE SCHEMA bench;
CREATE TABLE bench.joins (jid text PRIMARY KEY, joined_at timestamptz,
    claimed_at timestamptz);
CREATE SEQUENCE bench.refs;

-- The client of the room j (whose staff member joined at t) joins.
CREATE FUNCTION bench.chat(j text, t timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms WHERE jid = j;
	INSERT INTO bench.joins VALUES (j, t, r.client_claimed_at);
	PERFORM helpim.apply_event('join', clock_timestamp(), j, 2,
	    r.client_ref);
END
$$;

-- The client leaves.
CREATE FUNCTION bench.part(j text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM helpim.apply_event('leave', clock_timestamp(), j, 1,
	    (SELECT client_ref FROM helpim.rooms WHERE jid = j));
END
$$;

-- The staff member leaves; the bot destroys the room.
CREATE FUNCTION bench.leave(j text, nick text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM helpim.apply_event('leave', clock_timestamp(), j, 0, nick);
	PERFORM helpim.apply_event('destroyed', clock_timestamp(), j, 0);
END
$$;
