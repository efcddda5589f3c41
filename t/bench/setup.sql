-- Bench only, never in sql/: a NOTIFY on channel helpim_bench for every
-- committed change of a room's status or number of chatters.
CREATE FUNCTION public.helpim_bench_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('helpim_bench',
	    NEW.jid || ' ' || NEW.status || ' ' || NEW.chatters);
	RETURN NULL;
END
$$;
CREATE TRIGGER helpim_bench_notify AFTER UPDATE ON helpim.rooms
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR
	    OLD.chatters IS DISTINCT FROM NEW.chatters)
	EXECUTE FUNCTION public.helpim_bench_notify();
