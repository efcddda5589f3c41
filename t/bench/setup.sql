-- Bench only, never in sql/: a NOTIFY on channel helpim_bench_event for
-- every join and leave recorded, with its time at the watcher (at) and at
-- the database (recorded_at), in seconds; delivered once committed.
CREATE FUNCTION public.helpim_bench_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('helpim_bench_event', NEW.jid || ' ' || NEW.event ||
	    ' ' || coalesce(NEW.nick, '') || ' ' ||
	    extract(epoch FROM NEW.at) || ' ' ||
	    extract(epoch FROM NEW.recorded_at));
	RETURN NULL;
END
$$;
CREATE TRIGGER helpim_bench_event AFTER INSERT ON helpim.room_events
	FOR EACH ROW WHEN (NEW.event IN ('join', 'leave'))
	EXECUTE FUNCTION public.helpim_bench_event();
