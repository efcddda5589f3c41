-- PostgreSQL roles for the HelpIM room bot.  Run once as the owner of the
-- schema helpim (the role that ran helpim-initdb), after helpim-initdb:
--	psql -d helpim -f postgresql-roles.sql
-- then give the roles to login roles of your own, e.g.
--	CREATE ROLE helpim LOGIN IN ROLE helpim_bot;
--	CREATE ROLE webapp LOGIN PASSWORD '...' IN ROLE helpim_webapp;
-- Run it again after a migration that adds tables or functions.

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'helpim_bot') THEN
		CREATE ROLE helpim_bot NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'helpim_webapp') THEN
		CREATE ROLE helpim_webapp NOLOGIN;
	END IF;
END
$$;

-- Nobody else calls into the schema.
REVOKE ALL ON SCHEMA helpim FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA helpim FROM PUBLIC;

-- The bot (helpim-mkrooms, helpim-rooms, helpim-setstatus, helpim-run):
-- reads and writes rooms and history, never deletes, never changes the
-- schema.
GRANT USAGE ON SCHEMA helpim TO helpim_bot;
GRANT SELECT ON helpim.schema_version, helpim.statuses TO helpim_bot;
GRANT SELECT, INSERT, UPDATE ON helpim.rooms TO helpim_bot;
GRANT SELECT, INSERT ON helpim.room_events, helpim.restarts TO helpim_bot;
-- the leases of the instances (helpim-rooms -F takes, renews, adopts)
GRANT SELECT, INSERT, UPDATE ON helpim.instances TO helpim_bot;
-- the queue changes through the functions and the trigger of the rooms,
-- which run with their owner's rights; the bot only reads it
GRANT SELECT ON helpim.queue, helpim.queue_events, helpim.daily TO helpim_bot;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA helpim TO helpim_bot;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA helpim TO helpim_bot;

-- The webapp: only the claims, the queue and the close request, which run
-- with their owner's rights (sql/003-roles.sql, sql/006-routing.sql); it can
-- read no password but those the claims hand out, no nick, no JID hash
-- (helpim(7), PERSONAL DATA), and change no row by itself.
REVOKE ALL ON ALL TABLES IN SCHEMA helpim FROM helpim_webapp;
GRANT USAGE ON SCHEMA helpim TO helpim_webapp;
-- the list of the statuses, which the notifications name
GRANT SELECT ON helpim.statuses TO helpim_webapp;
GRANT EXECUTE ON FUNCTION helpim.status_open(text) TO helpim_webapp;
GRANT EXECUTE ON FUNCTION helpim.claim_staff_room(text, integer, integer),
	helpim.claim_client_room(text), helpim.request_close(text, text),
	helpim.enqueue_client(text, integer), helpim.client_room(text),
	helpim.queue_position(text), helpim.dequeue_client(text),
	helpim.service_status()
	TO helpim_webapp;
