-- helpim schema, version 1: the rooms and their history.
-- Forward-only: a later change is a new numbered file, never an edit here.

CREATE SCHEMA IF NOT EXISTS helpim;

CREATE TABLE helpim.schema_version (
	version		integer PRIMARY KEY,
	applied_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE helpim.rooms (
	id			bigserial PRIMARY KEY,
	jid			text NOT NULL UNIQUE CHECK (jid = lower(jid)),
	password		text NOT NULL,
	instance		text NOT NULL DEFAULT '',
	status			text NOT NULL DEFAULT 'available' CHECK (status IN
		('available', 'staff_claimed', 'staff_waiting', 'client_claimed',
		 'chatting', 'closing', 'closed', 'lost')),
	chatters		integer NOT NULL DEFAULT 0,
	created_at		timestamptz NOT NULL DEFAULT now(),
	status_at		timestamptz NOT NULL DEFAULT now(),
	staff_claimed_at	timestamptz,
	staff_joined_at		timestamptz,
	client_claimed_at	timestamptz,
	client_joined_at	timestamptz,
	closing_at		timestamptz,
	closed_at		timestamptz,
	close_requested_at	timestamptz,
	close_reason		text,
	staff_nick		text,
	client_nick		text,
	staff_ref		text,
	client_ref		text
);

-- The open rooms, the ones every program and the webapp look at.
CREATE INDEX rooms_open ON helpim.rooms (status, status_at)
	WHERE status NOT IN ('closed', 'lost');

CREATE TABLE helpim.room_events (
	id		bigserial PRIMARY KEY,
	room_id		bigint REFERENCES helpim.rooms (id),
	jid		text NOT NULL,
	at		timestamptz NOT NULL,
	recorded_at	timestamptz NOT NULL DEFAULT now(),
	event		text NOT NULL,
	chatters	integer,
	nick		text,
	detail		text,
	old_status	text,
	new_status	text,
	anomaly		text
);

CREATE INDEX room_events_room ON helpim.room_events (room_id, at);

INSERT INTO helpim.schema_version (version) VALUES (1);
