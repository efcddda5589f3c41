-- Bench only, never in sql/: the table of the routing benchmark.
-- t/bench/staff keeps in bench.joins the time of each staff member's join
-- (the time of its event line, as the watcher would stamp it) and the time
-- the room was claimed for a client.
CREATE SCHEMA bench;
CREATE TABLE bench.joins (jid text PRIMARY KEY, joined_at timestamptz,
    claimed_at timestamptz);
CREATE SEQUENCE bench.refs;
