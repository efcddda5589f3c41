#!/usr/bin/env bats
# helpim.statuses: the one list of the statuses, which the rooms, the
# literal lists of the partial indexes and helpim-rooms follow.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

# the statuses of the table, in their order, on one line
statuses() {
	sql "SELECT string_agg(name, ' ' ORDER BY ord) FROM helpim.statuses $1"
}

@test "a whole chat, a fallback and a lost room use exactly the statuses of the table" {
	run_start
	claim staff web-staff-1
	chat_start staff
	chat staff "join $ROOM Anna $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client web-client-1
	chat_start client
	chat client "join $ROOM Visitor $PASS"
	wait_until 10 status_is "$ROOM" chatting
	chat client "leave $ROOM"
	wait_until 10 status_is "$ROOM" closing
	chat staff "leave $ROOM"
	wait_until 15 status_is "$ROOM" closed
	chat_stop client
	chat_stop staff
	# a staff claim that nobody followed falls back
	claim staff web-staff-2
	run -0 sql "SELECT helpim.sweep('0 s', '1 h', '1 h')"
	wait_until 10 status_is "$ROOM" available
	run_stop
	# a room gone from the server
	run -0 sql "SELECT helpim.apply_event('gone', now(), '$ROOM', 0)"
	assert_output lost

	run -0 sql "SELECT string_agg(DISTINCT s, ' ') FROM helpim.room_events,
		unnest(ARRAY[old_status, new_status]) AS s
		WHERE s NOT IN (SELECT name FROM helpim.statuses)"
	assert_output ""
	run -0 sql "SELECT string_agg(name, ' ' ORDER BY ord) FROM helpim.statuses
		WHERE name NOT IN (SELECT old_status FROM helpim.room_events
		    WHERE old_status IS NOT NULL UNION
		    SELECT new_status FROM helpim.room_events
		    WHERE new_status IS NOT NULL)"
	assert_output ""
}

@test "the status machine gives no status that the table lacks" {
	run -0 sql "SELECT string_agg(DISTINCT helpim.next_status(name, n), ' ')
		FROM helpim.statuses, generate_series(0, 3) AS n
		WHERE helpim.next_status(name, n) NOT IN
		    (SELECT name FROM helpim.statuses)"
	assert_output ""
	run -0 statuses "WHERE NOT open"
	assert_output "closed lost"
}

@test "a status outside the table is refused by the foreign key" {
	jid=st-$RANDOM@rooms.localhost
	run -0 sql "INSERT INTO helpim.rooms (jid, password) VALUES ('$jid', 'x')"
	run -1 sql "UPDATE helpim.rooms SET status = 'bogus' WHERE jid = '$jid'"
	assert_output --partial 'violates foreign key constraint "rooms_status_fkey"'
	run -1 sql "DELETE FROM helpim.statuses WHERE name = 'available'"
	assert_output --partial 'violates foreign key constraint "rooms_status_fkey"'
	run -1 sql "INSERT INTO helpim.statuses VALUES ('Bad-Name', true, 99, 'x')"
	assert_output --partial 'violates check constraint'
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = '$jid'"
	assert_output available
}

@test "the literal lists of the indexes and triggers name the statuses that are not open" {
	defs="SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'helpim'
		AND tablename = 'rooms' UNION ALL SELECT tgname, pg_get_triggerdef(oid)
		FROM pg_trigger WHERE tgrelid = 'helpim.rooms'::regclass"
	run -0 sql "SELECT string_agg(name, ' ' ORDER BY name) FROM ($defs) AS d(name, def)
		WHERE def LIKE '%''closed''%'"
	assert_output "rooms_forget_password rooms_open rooms_staff_ref rooms_unpurged"
	run -0 sql "SELECT name FROM ($defs) AS d(name, def), (SELECT 'ARRAY[' ||
		    string_agg(quote_literal(s.name) || '::text', ', ' ORDER BY ord)
		    || '])' AS a FROM helpim.statuses AS s WHERE NOT open) AS e
		WHERE def LIKE '%''closed''%' AND position(e.a IN def) = 0"
	assert_output ""
}

@test "helpim-rooms counts every status of the table, a new one without a rebuild" {
	run -0 helpim-rooms -S
	assert_equal "$(grep '^rooms_' <<<"$output" | grep -v '^rooms_open=' |
		sed 's/^rooms_//; s/=.*//' | tr '\n' ' ')" "$(statuses) "
	jid=hold-$RANDOM@rooms.localhost
	sql "INSERT INTO helpim.statuses VALUES ('on_hold', true, 9, 'a test')"
	sql "INSERT INTO helpim.rooms (jid, password, status)
		VALUES ('$jid', 'x', 'on_hold')"
	open=$(sql "SELECT count(*) FROM helpim.rooms r JOIN helpim.statuses s
		ON s.name = r.status AND s.open")
	run -0 helpim-rooms -S
	assert_line rooms_on_hold=1
	assert_line "rooms_open=$open"
	run -0 helpim-rooms -m
	assert_line 'helpim_rooms{instance="",status="on_hold"} 1'
	# open: in the feed, which helpim-watch takes
	run -0 helpim-rooms -P
	assert_line "watch|$jid|on_hold|x"
	# not open: history, like closed
	sql "UPDATE helpim.statuses SET open = false WHERE name = 'on_hold'"
	run -0 helpim-rooms -S
	assert_line rooms_on_hold=1
	assert_line "rooms_open=$((open - 1))"
	run -0 helpim-rooms -P
	refute_output --partial "$jid"
}
