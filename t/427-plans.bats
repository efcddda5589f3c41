#!/usr/bin/env bats
# The plans of the hot paths (sql/010-hot-paths.sql,
# sql/012-no-sort.sql): what a session planned
# while the tables were small stays right when they have grown, and a claim
# does not look at every free room.  The plans are read with auto_explain,
# in the session that runs the statements.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

# each test's rooms and clients are gone before the next one, pass or fail
teardown() {
	sql "UPDATE helpim.rooms SET status = 'closed' WHERE status <> 'closed';
		SELECT count(helpim.dequeue_client(ref)) FROM helpim.queue
		WHERE status IN ('waiting', 'assigned')" >/dev/null
}

# the statements that follow, then STMT, whose plans (nested ones too) are
# printed; in one session
explained() {
	psql -X -A -t -q -v ON_ERROR_STOP=1 2>&1 <<-EOF
	$1
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_nested_statements = on;
	SET client_min_messages = log;
	$2
	EOF
}

# few_looked_at: the plans printed test the instance of fewer than 10
# rooms (one statement per room looked at)
few_looked_at() {
	local n
	n=$(grep -c "SELECT NOT EXISTS" <<<"$output" || true)
	[ "$n" -lt 10 ] || { echo "$n rooms looked at"; false; }
}

# staff_waiting PREFIX N: N rooms with a staff member waiting, not analysed
staff_waiting() {
	sql "INSERT INTO helpim.rooms (jid, password, status, chatters, staff_nick, staff_joined_at)
		SELECT '$1' || g || '@rooms.localhost', 'pw', 'staff_waiting', 1, 'S', now()
		FROM generate_series(1, $2) AS g"
}

@test "apply_events: planned on a small history, no sequential scan of it once it has grown" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('plan@rooms.localhost', 'pw')"
	# seven batches of ten events, planned while the history is small and
	# analysed so (as autovacuum does it; a generic plan is made after
	# five), then 20000 events more, not analysed again
	local calls='' i
	for i in 1 2 3 4 5 6 7; do
		calls="$calls SELECT helpim.apply_events(array_fill('snapshot'::text, '{10}'),
		    ARRAY(SELECT now() + ($i * 10 + g) * '1 s'::interval FROM generate_series(1, 10) AS g),
		    array_fill('plan@rooms.localhost'::text, '{10}'),
		    ARRAY(SELECT g % 2 FROM generate_series(1, 10) AS g),
		    array_fill(NULL::text, '{10}'),
		    ARRAY(SELECT CASE WHEN g % 2 = 1 THEN 'Anna' END FROM generate_series(1, 10) AS g));"
	done
	run -0 explained "INSERT INTO helpim.room_events (jid, at, event)
		SELECT 'early' || g || '@rooms.localhost', now(), 'leave'
		FROM generate_series(1, 50) AS g;
		VACUUM ANALYZE helpim.room_events;
		SET auto_explain.log_min_duration = -1;
		$calls
		INSERT INTO helpim.room_events (jid, at, event)
		SELECT 'other' || g || '@rooms.localhost', now(), 'leave'
		FROM generate_series(1, 20000) AS g;" \
		"SELECT helpim.apply_events('{join}', ARRAY[now() + '9 s']::timestamptz[],
		    '{plan@rooms.localhost}', '{1}', '{Anna}', '{NULL}');"
	assert_output --partial "room_events_replay"
	refute_output --partial "Seq Scan on room_events"
}

@test "apply_events: a batch of one event is not planned again at each call" {
	local calls='' i
	sql "INSERT INTO helpim.rooms (jid, password, status, chatters, staff_nick)
		SELECT 'once' || g || '@rooms.localhost', 'pw', 'chatting', 2, 'S'
		FROM generate_series(1, 9) AS g"
	# past the five calls after which a session may keep a generic plan
	for i in 1 2 3 4 5 6 7 8; do
		calls="$calls SELECT helpim.apply_events('{nick}', ARRAY[now() + '$i s']::timestamptz[],
		    '{once$i@rooms.localhost}', '{2}', '{S}', '{S}');"
	done
	run -0 explained "$calls" "SELECT helpim.apply_events('{nick}',
		ARRAY[now() + '9 s']::timestamptz[], '{once9@rooms.localhost}', '{2}', '{S}', '{S}');"
	# a plan made for the call names its array; the kept one, a parameter
	assert_output --regexp 'Index Cond: \(jid = ANY \(\$[0-9]+\)\)'
	refute_output --partial "once9@rooms.localhost}'::text[]"
}

@test "claim_staff_room: of 2000 free rooms not analysed, it looks at a few" {
	sql "INSERT INTO helpim.rooms (jid, password)
		SELECT 'free' || g || '@rooms.localhost', 'pw'
		FROM generate_series(1, 2000) AS g"
	run -0 explained "" "SELECT jid FROM helpim.claim_staff_room('web-plan');"
	assert_output --partial "@rooms.localhost"
	# the oldest free room is the first of its index, not the first of
	# all the free rooms sorted
	assert_output --partial "Index Scan using rooms_free"
	refute_output --partial "Sort Key: x.created_at"
	few_looked_at
}

@test "claim_client_room: of 500 waiting staff members not analysed, it looks at a few" {
	staff_waiting wait 500
	run -0 explained "" "SELECT jid FROM helpim.claim_client_room('web-plan-c');"
	assert_output --partial "@rooms.localhost"
	refute_output --partial "Sort Key"
	few_looked_at
}

@test "enqueue_client: of 500 waiting staff members not analysed, the matcher looks at a few" {
	staff_waiting match 500
	run -0 explained "" "SELECT helpim.enqueue_client('web-plan-m');"
	refute_output --partial "Sort Key"
	few_looked_at
	run -0 sql "SELECT r.jid FROM helpim.queue AS q JOIN helpim.rooms AS r ON r.id = q.room_id
		WHERE q.ref = 'web-plan-m'"
	assert_output match1@rooms.localhost
}

@test "enqueue_client: planned on a short queue, no sequential scan of it once it is long" {
	local calls='' i
	for i in 1 2 3 4 5 6 7; do
		calls="$calls SELECT helpim.enqueue_client('early-$i');"
	done
	run -0 explained "VACUUM ANALYZE helpim.queue;
		SET auto_explain.log_min_duration = -1;
		$calls
		INSERT INTO helpim.queue (ref)
		SELECT 'long-' || g FROM generate_series(1, 3000) AS g;" \
		"SELECT helpim.enqueue_client('late');"
	assert_output --partial "queue_waiting"
	refute_output --partial "Seq Scan on queue"
}
