-- helpim schema, version 9: the statuses of a room are rows of a table, the
-- one list that the database, the programs and the webapp read
-- (helpim-sql(7), Statuses).  Forward-only, like every migration.

CREATE TABLE helpim.statuses (
	name		text PRIMARY KEY CHECK (name ~ '^[a-z_]{1,32}$'),
	open		boolean NOT NULL,	-- false: history, the room is gone
	ord		integer NOT NULL UNIQUE,	-- the order of a chat
	meaning		text NOT NULL
);

INSERT INTO helpim.statuses (name, open, ord, meaning) VALUES
	('available', true, 1, 'created, configured, empty, free'),
	('staff_claimed', true, 2,
	    'the webapp sent a staff member; not arrived yet'),
	('staff_waiting', true, 3,
	    'one chatter present: the staff member, waiting for a client'),
	('client_claimed', true, 4,
	    'the webapp sent a client; not arrived yet'),
	('chatting', true, 5, 'two chatters present'),
	('closing', true, 6, 'one of the two left'),
	('closed', false, 7, 'the bot destroyed the room; kept as history'),
	('lost', false, 8,
	    'the room vanished or became unusable outside the protocol');

-- The list of version 1 gives way to the table: a room takes a status of
-- the table, and a status that a room holds stays in it.
ALTER TABLE helpim.rooms DROP CONSTRAINT rooms_status_check,
	ADD CONSTRAINT rooms_status_fkey FOREIGN KEY (status)
	REFERENCES helpim.statuses (name);

-- Whether a status is open.  An unknown status is neither (NULL).
CREATE FUNCTION helpim.status_open(status text)
RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT s.open FROM helpim.statuses AS s WHERE s.name = status
$$;

-- Left with a literal list, on purpose:
-- - the partial indexes rooms_open, rooms_staff_ref, rooms_unpurged (and
--   the queries that must match their predicates to use them: the max_chats
--   count of claim_staff_room, adopt, purge): an index predicate cannot
--   read a table, and a query that does cannot use the index;
-- - the trigger rooms_forget_password: in its WHEN, helpim.status_open()
--   made an UPDATE of the rooms a fifth slower, and apply_events updates
--   every room of a batch;
-- - next_status and apply_events: they are the status machine itself, each
--   status named for what it means there;
-- - request_close: one predicate is not worth a second copy of its body;
--   the next change to it reads helpim.status_open().
-- A test (t/425-statuses.bats) checks that the literal lists of the indexes
-- and triggers name exactly the statuses that are not open.

-- The programs read the table at start-up: where the roles of
-- etc/postgresql-roles.sql exist, an upgrade gives them the right at once,
-- so that the bot does not stop until the roles file runs again.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'helpim_bot') THEN
		GRANT SELECT ON helpim.statuses TO helpim_bot;
	END IF;
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'helpim_webapp') THEN
		GRANT SELECT ON helpim.statuses TO helpim_webapp;
		GRANT EXECUTE ON FUNCTION helpim.status_open(text)
			TO helpim_webapp;
	END IF;
END
$$;

INSERT INTO helpim.schema_version (version) VALUES (9);
