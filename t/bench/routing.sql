-- Bench only, never in sql/: the staff members of the routing benchmark.
-- Each one is a loop in one connection that commits at every step, as
-- helpim-setstatus would apply the events of a real chat: the staff
-- member's claim and join, the client's join and leave, the staff member's
-- leave, the destroy.  bench.joins keeps the time of each staff member's
-- join (the database's clock, just before the join is applied) and the
-- time the room was claimed for a client, as the staff member saw it.
CREATE SCHEMA bench;
CREATE TABLE bench.joins (jid text PRIMARY KEY, joined_at timestamptz,
    claimed_at timestamptz);
CREATE SEQUENCE bench.refs;

CREATE PROCEDURE bench.staff(s integer, chats integer)
LANGUAGE plpgsql AS $$
DECLARE
	j	text;
	c	text;
	t	timestamptz;
	nick	text := 'staff' || s;
BEGIN
	WHILE (SELECT count(*) FROM bench.joins) < chats LOOP
		SELECT jid INTO j FROM helpim.claim_staff_room(nick);
		COMMIT;
		EXIT WHEN j IS NULL;
		t := clock_timestamp();
		PERFORM helpim.apply_event('join', t, j, 1, nick);
		COMMIT;
		LOOP
			SELECT client_ref INTO c FROM helpim.rooms
			WHERE jid = j AND status = 'client_claimed';
			EXIT WHEN c IS NOT NULL OR
			    (SELECT count(*) FROM bench.joins) >= chats;
			COMMIT;
			PERFORM pg_sleep(0.0005);
		END LOOP;
		IF c IS NOT NULL THEN
			INSERT INTO bench.joins VALUES (j, t,
			    (SELECT client_claimed_at FROM helpim.rooms
			    WHERE jid = j));
			PERFORM helpim.apply_event('join', clock_timestamp(), j,
			    2, c);
			COMMIT;
			PERFORM helpim.apply_event('leave', clock_timestamp(), j,
			    1, c);
			COMMIT;
		END IF;
		PERFORM helpim.apply_event('leave', clock_timestamp(), j, 0,
		    nick);
		PERFORM helpim.apply_event('destroyed', clock_timestamp(), j, 0);
		COMMIT;
	END LOOP;
END
$$;
