-- helpim schema, version 3: the webapp's functions run with the rights of
-- their owner, so a role that may only call them needs no right on the
-- tables (etc/postgresql-roles.sql); and a record of pipeline restarts.
-- Forward-only, like every migration.

-- A fixed search_path: a caller's own objects never stand in for ours.
ALTER FUNCTION helpim.claim_staff_room(text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION helpim.claim_client_room(text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION helpim.request_close(text, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION helpim.claim_staff_room(text),
	helpim.claim_client_room(text), helpim.request_close(text, text)
	FROM PUBLIC;

-- One row each time helpim-run restarts the pipeline of an instance.
CREATE TABLE helpim.restarts (
	id		bigserial PRIMARY KEY,
	instance	text NOT NULL DEFAULT '',
	at		timestamptz NOT NULL DEFAULT now(),
	stage		text NOT NULL,
	exit_code	integer
);

CREATE INDEX restarts_instance ON helpim.restarts (instance, at);

INSERT INTO helpim.schema_version (version) VALUES (3);
