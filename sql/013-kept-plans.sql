-- helpim schema, version 13: a batch of helpim-setstatus runs the plans
-- that its session keeps, instead of planning its statements again.
-- Forward-only, like every migration.
--
-- A session keeps the plan of a PL/pgSQL statement only when the plan
-- made for no parameter in particular looks as cheap as the plans made for
-- the values of the first five calls.  The statements of a batch take its
-- events as arrays, and a plan made for one array of one element always
-- looks cheaper than one for an array of unknown length: every statement
-- of every batch was planned again.  Most batches of a helpline hold one
-- event or a few, and for them the planning cost more than the work:
-- 2000 batches of one event took 0.71 to 0.89 ms each, and 0.30 to 0.45
-- ms with the kept plans; batches of 100 events cost the same either way
-- (22 to 28 ms).  The kept plans find rows by an index, as the planned
-- ones did: every statement of a batch runs with enable_seqscan off
-- (version 10).
ALTER FUNCTION helpim.apply_events(text[], timestamptz[], text[], integer[],
    text[], text[]) SET plan_cache_mode = force_generic_plan;

INSERT INTO helpim.schema_version (version) VALUES (13);
