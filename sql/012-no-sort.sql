-- helpim schema, version 12: a claim and the matcher take the first room
-- of their index, however small the table was when the session planned.
-- Forward-only, like every migration.
--
-- Version 10 kept the hot paths off sequential scans, but a plan may still
-- fetch every candidate through another index and sort them.  A session
-- that planned while the rooms were not analysed yet (a pool just filled,
-- or a table grown in the minute before autovacuum analyses it) did so
-- until the next analysis.  Measured on 2000 free rooms and 500 waiting
-- staff members, each call in a new session, the psql round trip included:
--   - claim_staff_room read every free room and sorted them: 4 to 4.5 ms
--     a claim instead of 1 ms; in the paced benchmark of 1000 chats the
--     webapp's staff claims took twice the CPU of every batch of the bot;
--   - claim_client_room tested helpim.room_ready() on every room with a
--     staff member waiting, one probe of the instances each, and sorted
--     them: 5 ms instead of 1 ms;
--   - the matcher of an enqueue did the same: 10 to 14 ms instead of 1.2
--     to 3.7 ms.
-- Each of these queries is answered by the first rows of a partial index
-- in the order it asks for (rooms_free, rooms_ready, queue_waiting); with
-- sorting off, that index scan is the plan whatever the statistics say.
ALTER FUNCTION helpim.claim_staff_room(text, integer, integer)
    SET enable_sort = off;
ALTER FUNCTION helpim.claim_client_room(text) SET enable_sort = off;
ALTER FUNCTION helpim.match(text, integer) SET enable_sort = off;

INSERT INTO helpim.schema_version (version) VALUES (12);
