#!/usr/bin/env bats
# Routing in the database (helpim-sql(7)): the client queue, staff priority
# and capacity, the notifications on helpim_webapp, helpim.daily.  The
# matching is the database's: most tests make the staff members join with
# helpim.apply_event, as helpim-setstatus does; the last ones run helpim-run
# with real participants.

load helper

M=rooms.localhost

setup_file() {
	sandbox_up
	# A staff member and a client of the concurrency test, each a loop in
	# one connection that commits at each step.
	psql -XAtq -v ON_ERROR_STOP=1 >/dev/null <<-'EOF'
	CREATE SCHEMA t470;
	CREATE TABLE t470.pos (id bigserial, ref text, pos integer);
	CREATE PROCEDURE t470.clients(c integer, n integer, total integer)
	LANGUAGE plpgsql AS $$
	DECLARE
		r	text;
	BEGIN
		FOR i IN 1..n LOOP
			r := 'c' || c || '-' || i;
			INSERT INTO t470.pos (ref, pos)
			VALUES (r, helpim.enqueue_client(r));
			COMMIT;
		END LOOP;
		WHILE (SELECT count(*) FROM helpim.queue
		    WHERE status <> 'waiting') < total LOOP
			INSERT INTO t470.pos (ref, pos)
			SELECT q.ref, p.position FROM helpim.queue AS q,
			    helpim.queue_position(q.ref) AS p
			WHERE q.ref LIKE 'c' || c || '-%' AND q.status = 'waiting';
			COMMIT;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END
	$$;
	CREATE PROCEDURE t470.staff(s integer, total integer)
	LANGUAGE plpgsql AS $$
	DECLARE
		j	text;
		c	text;
		nick	text := 'staff' || s;
	BEGIN
		WHILE (SELECT count(*) FROM helpim.queue
		    WHERE status = 'served') < total LOOP
			SELECT jid INTO j FROM helpim.claim_staff_room(nick);
			COMMIT;
			PERFORM helpim.apply_event('join', clock_timestamp(), j, 1,
			    nick);
			COMMIT;
			LOOP
				SELECT client_ref INTO c FROM helpim.rooms
				WHERE jid = j AND status = 'client_claimed';
				EXIT WHEN c IS NOT NULL OR (SELECT count(*)
				    FROM helpim.queue WHERE status = 'served') >=
				    total;
				COMMIT;
				PERFORM pg_sleep(0.005);
			END LOOP;
			IF c IS NOT NULL THEN
				PERFORM helpim.apply_event('join',
				    clock_timestamp(), j, 2, c);
				COMMIT;
				PERFORM helpim.apply_event('leave',
				    clock_timestamp(), j, 1, c);
				COMMIT;
			END IF;
			PERFORM helpim.apply_event('leave', clock_timestamp(), j,
			    0, nick);
			PERFORM helpim.apply_event('destroyed', clock_timestamp(),
			    j, 0);
			COMMIT;
		END LOOP;
	END
	$$;
	EOF
}

teardown_file() {
	sandbox_down
}

# a listener of a failed test stops too; the run.log of helper.bash
teardown() {
	[ ! -e "$BATS_FILE_TMPDIR/listen.pid" ] || listen_stop
	[ -n "${BATS_TEST_COMPLETED:-}" ] || [ ! -s "$BATS_FILE_TMPDIR/run.log" ] ||
		tail -n 30 "$BATS_FILE_TMPDIR/run.log" | sed 's/^/run.log: /' >&2
}

fresh() {
	sql "TRUNCATE helpim.queue_events, helpim.queue, helpim.queue_shown, helpim.room_events,
		helpim.rooms, t470.pos"
}

# rooms PREFIX N: N available rooms PREFIX1..PREFIXN, the first the oldest
rooms() {
	sql "INSERT INTO helpim.rooms (jid, password, created_at)
		SELECT '$1' || g || '@$M', 'pw-$1' || g,
			now() - (1000 - g) * interval '1 second'
		FROM generate_series(1, $2) g"
}

# staff_joins REF [PRIORITY]: a staff claim and the staff member's join,
# as helpim-setstatus applies it; sets ROOM
staff_joins() {
	ROOM=$(sql "SELECT jid FROM helpim.claim_staff_room('$1', ${2:-0})")
	sql "SELECT helpim.apply_event('join', clock_timestamp(), '$ROOM', 1, '$1')" \
		>/dev/null
}

# client_of ROOM: the reference of the client claim of ROOM
client_of() {
	sql "SELECT coalesce(client_ref, '-') FROM helpim.rooms WHERE jid = '$1'"
}

# an enqueue waits for a lock
enqueue_waits() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND query LIKE '%enqueue_client%'")" = 1 ]
}

# queued_or_waits FILE: an enqueue wrote its answer to FILE or waits for a lock
queued_or_waits() {
	[ -s "$1" ] || enqueue_waits
}

# hold SQL: SQL in a transaction that stays open, in the background, until
# release; waits for SQL's first line of output
hold() {
	mkfifo "$BATS_TEST_TMPDIR/hold.in"
	psql -XAtq -v ON_ERROR_STOP=1 <"$BATS_TEST_TMPDIR/hold.in" \
		>"$BATS_TEST_TMPDIR/hold.out" 2>&1 3>&- &
	HOLD_PID=$!
	exec {HOLD_FD}>"$BATS_TEST_TMPDIR/hold.in"
	printf '%s\n' "BEGIN;" "$1" >&"$HOLD_FD"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/hold.out"
}

release() {
	printf '%s\n' "COMMIT;" >&"$HOLD_FD"
	exec {HOLD_FD}>&-
	wait "$HOLD_PID"
}


@test "schema version 6; queue, position, room and leave with helpim-webapp" {
	fresh
	run -0 sql "SELECT max(version) >= 6 FROM helpim.schema_version"
	assert_output t
	rooms r 3
	run -0 helpim-webapp queue v1
	assert_output 1
	run -0 helpim-webapp queue v2
	assert_output 2
	# idempotent: the client keeps the place
	run -0 helpim-webapp queue v1
	assert_output 1
	run -0 helpim-webapp position v2
	assert_output "2 -"
	run -1 helpim-webapp room v1
	refute_output
	run -0 helpim-webapp status
	assert_output "0 2 0 -"

	staff_joins s1
	run -0 client_of "$ROOM"
	assert_output v1
	run -0 helpim-webapp room v1
	assert_output "$ROOM pw-r1"
	run -0 helpim-webapp position v1
	assert_output "0 00:00:00"
	run -0 helpim-webapp position v2
	assert_output --regexp '^1 [0-9:]+$'

	run -0 helpim-webapp leave v2
	run -1 helpim-webapp leave v2
	run -1 helpim-webapp position v2
	run -1 helpim-webapp room v2
	# a staff member waiting: the next client is assigned at once
	staff_joins s2
	run -0 helpim-webapp queue v3
	assert_output 0
	run -0 client_of "$ROOM"
	assert_output v3
	run -0 sql "SELECT string_agg(event || ':' || ref, ' ' ORDER BY id)
		FROM helpim.queue_events"
	assert_output "enqueued:v1 enqueued:v2 assigned:v1 left:v2 enqueued:v3 assigned:v3"
	run -0 sql "SELECT event, detail, old_status, new_status FROM helpim.room_events
		WHERE jid = '$ROOM' AND event = 'client_claim'"
	assert_output "client_claim|v3|staff_waiting|client_claimed"
}

@test "60 clients from 10 connections, 10 staff members: each served once, in order" {
	fresh
	rooms r 80
	local d=$BATS_TEST_TMPDIR i
	for i in $(seq 1 10); do
		timeout 120 psql -XAtq -v ON_ERROR_STOP=1 \
			-c "CALL t470.clients($i, 6, 60)" >"$d/c$i" 2>&1 3>&- &
		timeout 120 psql -XAtq -v ON_ERROR_STOP=1 \
			-c "CALL t470.staff($i, 60)" >"$d/s$i" 2>&1 3>&- &
	done
	wait
	run -0 sh -c "cat '$d'/c* '$d'/s*"
	refute_output
	# every client served once, every room to one client
	run -0 sql "SELECT count(*), count(DISTINCT ref), count(DISTINCT room_id)
		FROM helpim.queue WHERE status = 'served'"
	assert_output "60|60|60"
	run -0 sql "SELECT count(*), count(DISTINCT detail), count(DISTINCT jid)
		FROM helpim.room_events WHERE event = 'client_claim'"
	assert_output "60|60|60"
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE status NOT IN ('closed', 'available')"
	assert_output 0
	# in queue order: the assignments in the order of the entries; when
	# not, the history of each entry out of place, for the failure's report
	run -0 sql "SELECT count(*) FROM (SELECT row_number() OVER (ORDER BY id) AS a,
		row_number() OVER (ORDER BY assigned_at) AS b FROM helpim.queue) AS x
		WHERE a <> b"
	[ "$output" = 0 ] || sql "SELECT x.id, x.ref, (SELECT string_agg(e.event || ' ' ||
		to_char(e.at, 'HH24:MI:SS.US') || coalesce(' room ' || e.room_id, ''), ', '
		ORDER BY e.id) FROM helpim.queue_events AS e WHERE e.queue_id = x.id)
		FROM (SELECT q.*, row_number() OVER (ORDER BY id) AS a,
		row_number() OVER (ORDER BY assigned_at) AS b FROM helpim.queue AS q) AS x
		WHERE a <> b ORDER BY id" >&2
	assert_output 0
	# each client's position only went down
	run -0 sql "SELECT count(*), count(*) FILTER (WHERE pos > prev) FROM
		(SELECT pos, lag(pos) OVER (PARTITION BY ref ORDER BY id) AS prev
		FROM t470.pos) AS x WHERE prev IS NOT NULL"
	assert_output --regexp '^[1-9][0-9]*\|0$'
	run -0 sql "SELECT string_agg(DISTINCT e, ' ') FROM (SELECT string_agg(event, ' '
		ORDER BY id) AS e FROM helpim.queue_events GROUP BY queue_id) AS x"
	assert_output "enqueued assigned served"
}

@test "a matcher never waits for another's commit; an enqueue waits for an open matcher" {
	fresh
	rooms r 3
	run -0 helpim-webapp queue c1
	run -0 helpim-webapp queue c2
	S1=$(sql "SELECT jid FROM helpim.claim_staff_room('s1')")
	S2=$(sql "SELECT jid FROM helpim.claim_staff_room('s2')")
	# a matcher in a transaction that stays open
	local d=$BATS_TEST_TMPDIR
	hold "SELECT helpim.apply_event('join', clock_timestamp(), '$S1', 1, 's1');"
	run -0 cat "$d/hold.out"
	assert_output staff_waiting
	# another staff member joins and is matched meanwhile: the next client
	run -0 timeout 5 psql -XAtq -c "SELECT helpim.apply_event('join', clock_timestamp(), '$S2', 1, 's2')"
	run -0 client_of "$S2"
	assert_output c2
	# an enqueue waits until the open matcher is done
	timeout 10 helpim-webapp queue c3 >"$d/c3.out" 2>&1 3>&- &
	local pid=$!
	wait_until 5 enqueue_waits
	run -0 cat "$d/c3.out"
	refute_output
	release
	wait "$pid"
	run -0 cat "$d/c3.out"
	assert_output 1
	run -0 client_of "$S1"
	assert_output c1
	run -0 sql "SELECT string_agg(ref, ' ' ORDER BY assigned_at) FROM helpim.queue
		WHERE status = 'assigned'"
	assert_output "c1 c2"
}

@test "a matcher keeps no room it has no client for: the next enqueue gets it" {
	fresh
	rooms r 3
	staff_joins s1
	local r1=$ROOM
	staff_joins s2
	local r2=$ROOM
	# c1 takes the first room; its matcher, looking for a client for the
	# second, finds none, in a transaction that stays open
	hold "SELECT helpim.enqueue_client('c1');"
	run -0 cat "$BATS_TEST_TMPDIR/hold.out"
	assert_output 0
	run -0 timeout 5 helpim-webapp queue c2
	assert_output 0
	release
	run -0 client_of "$r1"
	assert_output c1
	run -0 client_of "$r2"
	assert_output c2
}

@test "a batch of helpim-setstatus that holds a ready room: a client queued meanwhile gets it" {
	fresh
	rooms r 3
	staff_joins s1
	# a batch with the staff member's nick change, not committed yet
	hold "SELECT helpim.apply_event('nick', clock_timestamp(), '$ROOM', 1, 's1', 'staff1');"
	timeout 10 helpim-webapp queue c1 >"$BATS_TEST_TMPDIR/c1.out" 2>&1 3>&- &
	local pid=$!
	wait_until 10 queued_or_waits "$BATS_TEST_TMPDIR/c1.out"
	release
	wait "$pid"
	run -0 client_of "$ROOM"
	assert_output c1
	run -0 sql "SELECT count(*) FROM helpim.queue WHERE status = 'waiting'"
	assert_output 0
}

@test "a priority client overtakes; a priority staff member is served first" {
	fresh
	rooms r 6
	run -0 helpim-webapp queue a
	run -0 helpim-webapp queue b
	run -0 helpim-webapp queue vip 5
	assert_output 1
	run -0 helpim-webapp position a
	assert_output --regexp '^2 '
	staff_joins s1
	run -0 client_of "$ROOM"
	assert_output vip
	staff_joins s2
	run -0 client_of "$ROOM"
	assert_output a

	# two staff members wait; the one with the priority joined later
	sql "SELECT helpim.dequeue_client('b')" >/dev/null
	staff_joins low 0
	LOW=$ROOM
	staff_joins high 3
	HIGH=$ROOM
	run -0 helpim-webapp queue x
	assert_output 0
	run -0 client_of "$HIGH"
	assert_output x
	# without the queue, the same order
	staff_joins high2 3
	run -0 helpim-webapp client y
	assert_output "$ROOM pw-r5"
	run -0 helpim-webapp client z
	assert_output "$LOW pw-r3"
}

@test "max_chats: 20 concurrent claims for one ref with max_chats 3 give 3 rooms" {
	fresh
	rooms r 30
	local d=$BATS_TEST_TMPDIR i
	for i in $(seq 1 20); do
		{
			if helpim-webapp staff busy 0 3 >"$d/out.$i" 2>&1; then
				echo 0 >"$d/rc.$i"
			else
				echo $? >"$d/rc.$i"
			fi
		} 3>&- &
	done
	wait
	run -0 sh -c "cat '$d'/rc.* | sort | uniq -c"
	assert_line --regexp '^ *3 0$'
	assert_line --regexp '^ *17 1$'
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE staff_ref = 'busy'"
	assert_output 3
	# one chat ended: room for one more
	ROOM=$(sql "SELECT jid FROM helpim.rooms WHERE staff_ref = 'busy' LIMIT 1")
	sql "SELECT helpim.apply_event('destroyed', clock_timestamp(), '$ROOM', 0)" >/dev/null
	run -0 helpim-webapp staff busy 0 3
	run -1 helpim-webapp staff busy 0 3
	# without max_chats, no cap
	run -0 helpim-webapp staff busy
}

@test "a room with a new password pending is not assigned until the bot confirms it" {
	fresh
	rooms r 2
	staff_joins s1
	run -0 helpim-webapp queue v1
	assert_output 0
	listen_start
	# the client does not come: the claim expires, the room gets a new
	# password, the client leaves the queue
	sql "UPDATE helpim.rooms SET seen_at = clock_timestamp(),
		client_claimed_at = client_claimed_at - interval '1 hour'"
	run -0 helpim-webapp queue v2
	assert_output 1
	sql "SELECT helpim.sweep('1h', '1s', '1h')" >/dev/null
	wait_until 5 heard "expired v1"
	run -0 sql "SELECT status, new_password IS NOT NULL FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "staff_waiting|t"
	run -0 helpim-webapp position v2
	assert_output --regexp '^1 '
	run -1 helpim-webapp room v1
	run -1 helpim-webapp position v1
	run -1 helpim-webapp client other
	refute_output
	# the bot confirms the new password: the next client gets the room
	sql "SELECT helpim.apply_event('rekeyed', clock_timestamp(), '$ROOM', 1)" >/dev/null
	wait_until 5 heard "assigned v2 $ROOM"
	run -0 client_of "$ROOM"
	assert_output v2
	run -0 sql "SELECT string_agg(event || ':' || ref, ' ' ORDER BY id) FROM helpim.queue_events"
	assert_output "enqueued:v1 assigned:v1 enqueued:v2 expired:v1 assigned:v2"
	listen_stop
}

@test "a room that ends before the assigned client came: the client waits again, first" {
	fresh
	rooms r 3
	staff_joins s1
	run -0 helpim-webapp queue v1
	assert_output 0
	run -0 helpim-webapp queue v2
	assert_output 1
	sql "SELECT helpim.apply_event('destroyed', clock_timestamp(), '$ROOM', 0)" >/dev/null
	run -0 helpim-webapp position v1
	assert_output --regexp '^1 '
	run -0 helpim-webapp position v2
	assert_output --regexp '^2 '
	staff_joins s2
	run -0 client_of "$ROOM"
	assert_output v1
}

@test "a whole chat in one batch of helpim-setstatus: the client served once, every status heard" {
	fresh
	rooms r 3
	run -0 helpim-webapp queue v1
	assert_output 1
	run -0 helpim-webapp queue v2
	assert_output 2
	listen_start
	staff_joins s1
	wait_until 10 heard "assigned v1 $ROOM"
	# the client comes, both leave, the bot destroys the room: one call,
	# as helpim-setstatus applies what it read at once
	sql "SELECT helpim.apply_events(
		ARRAY['join', 'leave', 'leave', 'destroyed'],
		ARRAY[clock_timestamp(), clock_timestamp(), clock_timestamp(),
		    clock_timestamp()],
		ARRAY['$ROOM', '$ROOM', '$ROOM', '$ROOM'], ARRAY[2, 1, 0, 0],
		ARRAY['v1', 'v1', 's1', NULL], ARRAY[NULL, 'left', 'left', 'empty'])" >/dev/null
	wait_until 10 heard "status $ROOM closed 0"
	run -0 sql "SELECT string_agg(event || ':' || ref, ' ' ORDER BY id)
		FROM helpim.queue_events"
	assert_output "enqueued:v1 enqueued:v2 assigned:v1 served:v1"
	run -0 sql "SELECT ref, status FROM helpim.queue ORDER BY id"
	assert_output "v1|served
v2|waiting"
	run -0 grep -F "$ROOM" "$LISTEN"
	assert_output "status $ROOM staff_claimed 0
status $ROOM staff_waiting 1
status $ROOM client_claimed 1
assigned v1 $ROOM
status $ROOM chatting 2
status $ROOM closing 1
status $ROOM closed 0"
	listen_stop
}

@test "purge: the queue entries that ended before the cutoff lose their references" {
	fresh
	sql "INSERT INTO helpim.queue (ref, status, enqueued_at, assigned_at, ended_at)
	VALUES
	('old-served', 'served', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'),
	('old-left', 'left', now() - interval '41 days', NULL, now() - interval '41 days'),
	('old-expired', 'expired', now() - interval '42 days', now() - interval '42 days', now() - interval '42 days'),
	('new-left', 'left', now() - interval '1 day', NULL, now() - interval '1 day'),
	('long-wait', 'waiting', now() - interval '40 days', NULL, NULL)"
	sql "INSERT INTO helpim.queue_events (queue_id, at, event, ref, priority)
		SELECT id, enqueued_at, 'enqueued', ref, 0 FROM helpim.queue"
	sql "INSERT INTO helpim.rooms (jid, status, status_at, client_ref)
		VALUES ('p1@$M', 'closed', now() - interval '40 days', 'old-served')"
	run -0 sql "SELECT * FROM helpim.daily ORDER BY day"
	local daily=$output
	run -0 sql "SELECT helpim.purge(interval '30 days')"
	assert_output 1
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE client_ref IS NULL AND purged_at IS NOT NULL"
	assert_output 1
	run -0 sql "SELECT coalesce(ref, '-') FROM helpim.queue ORDER BY id"
	assert_output "-
-
-
new-left
long-wait"
	run -0 sql "SELECT coalesce(e.ref, '-') FROM helpim.queue_events AS e
		JOIN helpim.queue AS q ON q.id = e.queue_id ORDER BY q.id"
	assert_output "-
-
-
new-left
long-wait"
	# times and statuses stay, and so do the figures
	run -0 sql "SELECT string_agg(status, ' ' ORDER BY id) FROM helpim.queue
		WHERE ended_at IS NOT NULL AND enqueued_at IS NOT NULL"
	assert_output "served left expired left"
	run -0 sql "SELECT * FROM helpim.daily ORDER BY day"
	assert_output "$daily"
	# the purge of the rooms goes on, and a second purge changes nothing
	run -0 sql "SELECT helpim.purge(interval '30 days')"
	assert_output 0
	run -0 sql "SELECT count(*) FROM helpim.queue WHERE ref IS NULL"
	assert_output 3
}

@test "helpim.daily for a scripted day" {
	fresh
	sql "INSERT INTO helpim.rooms (jid, password, status, client_joined_at, closing_at, closed_at)
	VALUES
	('d1@$M', '', 'closed', '2026-03-02 10:00Z', '2026-03-02 10:05Z', '2026-03-02 10:06Z'),
	('d2@$M', '', 'closed', '2026-03-02 11:00Z', '2026-03-02 11:10Z', '2026-03-02 11:11Z'),
	('d3@$M', '', 'closed', '2026-03-02 12:00Z', '2026-03-02 12:20Z', '2026-03-02 12:21Z'),
	('d4@$M', '', 'closed', '2026-03-02 13:00Z', NULL, '2026-03-02 13:40Z'),
	('d5@$M', '', 'closed', NULL, NULL, '2026-03-02 14:00Z'),
	('d6@$M', '', 'closed', '2026-03-03 09:00Z', '2026-03-03 09:03Z', '2026-03-03 09:04Z')"
	sql "INSERT INTO helpim.queue (ref, status, enqueued_at, assigned_at, ended_at)
	VALUES
	('q1', 'served', '2026-03-02 10:00:00Z', '2026-03-02 10:00:10Z', '2026-03-02 10:00:20Z'),
	('q2', 'served', '2026-03-02 10:01:00Z', '2026-03-02 10:01:30Z', '2026-03-02 10:01:40Z'),
	('q3', 'served', '2026-03-02 10:02:00Z', '2026-03-02 10:03:00Z', '2026-03-02 10:03:10Z'),
	('q4', 'served', '2026-03-02 10:05:00Z', '2026-03-02 10:07:00Z', '2026-03-02 10:07:10Z'),
	('q5', 'left', '2026-03-02 11:00:00Z', NULL, '2026-03-02 11:05:00Z'),
	('q6', 'expired', '2026-03-02 12:00:00Z', '2026-03-02 12:00:05Z', '2026-03-02 12:01:05Z'),
	('q7', 'left', '2026-03-03 08:00:00Z', NULL, '2026-03-03 08:01:00Z')"
	run -0 psql -XAtq -c "SET TimeZone = 'UTC'" -c "SELECT * FROM helpim.daily ORDER BY day"
	assert_line -n 0 "2026-03-02|4|4|2|00:00:45|00:01:42|00:15:00"
	assert_line -n 1 "2026-03-03|1|0|1|||00:03:00"
}

@test "the webapp's role may call the routing functions and nothing more" {
	fresh
	rooms r 2
	psql -XAtq -v ON_ERROR_STOP=1 -f "$top/etc/postgresql-roles.sql" >/dev/null
	sql "CREATE ROLE web470 LOGIN IN ROLE helpim_webapp"
	as() { psql -X -A -t -q -v ON_ERROR_STOP=1 -U web470 -c "$1"; }
	run -0 as "SELECT jid FROM helpim.claim_staff_room('s1', 1, 2)"
	run -0 as "SELECT helpim.enqueue_client('w1', 0)"
	assert_output 1
	run -0 as "SELECT position FROM helpim.queue_position('w1')"
	assert_output 1
	run -0 as "SELECT count(*) FROM helpim.client_room('w1')"
	assert_output 0
	run -0 as "SELECT queued FROM helpim.service_status()"
	assert_output 1
	run -0 as "SELECT helpim.dequeue_client('w1')"
	assert_output t
	run -1 as "SELECT count(*) FROM helpim.queue"
	assert_output --partial "permission denied"
	run -1 as "SELECT count(*) FROM helpim.queue_events"
	assert_output --partial "permission denied"
	run -1 as "SELECT count(*) FROM helpim.daily"
	assert_output --partial "permission denied"
	run -1 as "SELECT helpim.match()"
	assert_output --partial "permission denied"
	run -1 as "SELECT helpim.match_waiting()"
	assert_output --partial "permission denied"
}

@test "listen: assigned and every status of a whole chat, in order" {
	fresh
	run_start
	listen_start
	run -0 helpim-webapp queue visitor
	assert_output 1
	claim staff anna
	chat_start staff
	chat staff "join $ROOM Anna $PASS"
	wait_until 10 heard "assigned visitor $ROOM"
	run -0 helpim-webapp room visitor
	CPASS=${output#* }
	chat_start client
	chat client "join $ROOM Visitor $CPASS"
	wait_until 10 status_is "$ROOM" chatting
	chat client "leave $ROOM"
	wait_until 10 status_is "$ROOM" closing
	chat staff "leave $ROOM"
	wait_until 15 heard "status $ROOM closed 0"
	run -0 grep -F -e "$ROOM" -e visitor "$LISTEN"
	assert_output "status $ROOM staff_claimed 0
status $ROOM staff_waiting 1
status $ROOM client_claimed 1
assigned visitor $ROOM
status $ROOM chatting 2
status $ROOM closing 1
status $ROOM closed 0"
	# no password ever travels
	run -1 grep -F -e "$PASS" "$LISTEN"
	run -0 sql "SELECT status FROM helpim.queue WHERE ref = 'visitor'"
	assert_output served
	chat_stop client
	chat_stop staff
	listen_stop
}

@test "helpim-listen -t: each notification after the time it came" {
	fresh
	rooms r 1
	t0=$EPOCHREALTIME
	helpim-listen -t >"$BATS_TEST_TMPDIR/t.out" 2>"$BATS_TEST_TMPDIR/t.err" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/listen.pid"
	wait_until 10 grep -q 'listening on helpim_webapp' "$BATS_TEST_TMPDIR/t.err"
	staff_joins s1
	wait_until 10 grep -q " status $ROOM staff_waiting 1\$" "$BATS_TEST_TMPDIR/t.out"
	run -0 cat "$BATS_TEST_TMPDIR/t.out"
	assert_line --regexp "^[0-9]+\.[0-9]{6} status $ROOM staff_claimed 0\$"
	# the time is the time it came: after the start, not in the future
	run -0 awk -v t0="$t0" -v t1="$EPOCHREALTIME" '$1 < t0 || $1 > t1 { bad = 1 } END { exit bad }' "$BATS_TEST_TMPDIR/t.out"
	listen_stop
}

@test "the queue survives helpim-run's restart and PostgreSQL's restart" {
	run -0 helpim-webapp queue first
	run -0 helpim-webapp queue second
	run -0 helpim-webapp queue third
	run_stop
	run_start
	run -0 helpim-webapp position second
	assert_output --regexp '^2 '
	run_stop
	helpim-sandbox stop-db "$SB"
	helpim-sandbox start-db "$SB"
	run -0 helpim-webapp position third
	assert_output --regexp '^3 '
	run_start
	claim staff bea
	chat_start staff
	chat staff "join $ROOM Bea $PASS"
	wait_until 10 status_is "$ROOM" client_claimed
	run -0 client_of "$ROOM"
	assert_output first
	run -0 helpim-webapp position third
	assert_output --regexp '^2 '
	chat_stop staff
	run_stop
}
