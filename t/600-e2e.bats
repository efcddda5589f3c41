#!/usr/bin/env bats
# End to end: helpim-run on the sandbox, real participants, the database
# checked after each step of the protocol (helpim.7).

load helper

setup_file() {
	sandbox_up
	run_start
}

teardown_file() {
	run_stop
	sandbox_down
}

@test "the pool fills to pool_size with rooms that exist on the server" {
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE status = 'available'"
	assert_output 5
	chat_start probe
	for r in $(sql "SELECT jid FROM helpim.rooms WHERE status = 'available'"); do
		chat probe "info $r"
		chat_wait probe "^info $r done"
	done
	run -0 grep -c '^feature muc_passwordprotected' "$BATS_FILE_TMPDIR/probe.out"
	assert_output 5
	run -0 grep -c '^feature muc_hidden' "$BATS_FILE_TMPDIR/probe.out"
	assert_output 5
	chat_stop probe
}

@test "a whole chat: staff, client, leaves, closed, history, refill" {
	claim staff web-staff-1
	run -0 sql "SELECT status, staff_ref FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "staff_claimed|web-staff-1"

	chat_start staff
	chat staff "join $ROOM Anna $PASS"
	chat_wait staff "^joined $ROOM"
	wait_until 10 status_is "$ROOM" staff_waiting

	claim client web-client-1
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output client_claimed
	chat_start client
	chat client "join $ROOM Visitor $PASS"
	chat_wait client "^joined $ROOM"
	wait_until 10 status_is "$ROOM" chatting
	run -0 sql "SELECT staff_nick, client_nick, chatters FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "Anna|Visitor|2"

	chat client "leave $ROOM"
	chat_wait client "^left $ROOM"
	wait_until 10 status_is "$ROOM" closing

	chat staff "leave $ROOM"
	chat_wait staff "^left $ROOM"
	wait_until 15 status_is "$ROOM" closed

	# gone from the server: a participant with the password cannot get in
	chat client "join $ROOM Again $PASS"
	chat_wait client "^error $ROOM "

	# every stage has its time, in order
	run -0 sql "SELECT created_at <= staff_claimed_at AND staff_claimed_at <= staff_joined_at
		AND staff_joined_at <= client_claimed_at AND client_claimed_at <= client_joined_at
		AND client_joined_at <= closing_at AND closing_at <= closed_at
		FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output t
	run -0 sql "SELECT string_agg(new_status, ' ' ORDER BY at, id) FROM helpim.room_events
		WHERE jid = '$ROOM' AND new_status IS DISTINCT FROM old_status"
	assert_output "staff_claimed staff_waiting client_claimed chatting closing closed"

	wait_until 20 pool_full
	chat_stop staff
	chat_stop client
}

@test "a page reload within the grace keeps the chat" {
	claim staff web-staff-2
	chat_start staff
	chat staff "join $ROOM Bea $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client web-client-2
	chat_start client
	chat client "join $ROOM Guest $PASS"
	wait_until 10 status_is "$ROOM" chatting

	chat client "leave $ROOM"
	chat_wait client "^left $ROOM"
	chat client "join $ROOM Guest $PASS"
	chat_wait client "^joined $ROOM.*" 
	wait_until 10 status_is "$ROOM" chatting
	sleep 2
	run -0 sql "SELECT status, chatters FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "chatting|2"
	run -1 grep -c "^destroyed $ROOM" "$BATS_FILE_TMPDIR/staff.out"
	assert_output 0
	chat_stop client
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
}

@test "an extra chatter with the password is kicked (or refused) and the chat goes on" {
	claim staff web-staff-3
	chat_start staff
	chat staff "join $ROOM Cleo $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client web-client-3
	chat_start client
	chat client "join $ROOM Caller $PASS"
	wait_until 10 status_is "$ROOM" chatting

	chat_start extra
	chat extra "join $ROOM Intruder $PASS"
	if [ "$XMPP" = prosody ]; then
		# Prosody has no maximum per room: the bot kicks the extra one
		chat_wait extra "^kicked $ROOM"
		kicks=1
	else
		# ejabberd refuses users beyond the room's maxusers itself
		chat_wait extra "^error $ROOM resource-constraint$"
		kicks=0
	fi
	sleep 1
	run -0 sql "SELECT status, chatters FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "chatting|2"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = '$ROOM' AND event = 'kick' AND nick = 'Intruder'"
	assert_output "$kicks"
	chat_stop extra
	chat_stop client
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
}

@test "with two staff members waiting, the one who waited longest gets the client" {
	claim staff web-a
	A=$ROOM APASS=$PASS
	claim staff web-b
	B=$ROOM BPASS=$PASS
	chat_start sa
	chat_start sb
	# B was claimed later but joins first: joining, not claiming, is waiting
	chat sb "join $B Bob $BPASS"
	wait_until 10 status_is "$B" staff_waiting
	chat sa "join $A Ada $APASS"
	wait_until 10 status_is "$A" staff_waiting
	claim client web-c
	assert_equal "$ROOM" "$B"
	claim client web-d
	assert_equal "$ROOM" "$A"
	run -1 helpim-webapp client web-e
	chat_stop sa
	chat_stop sb
	wait_until 15 status_is "$A" closed
	wait_until 15 status_is "$B" closed
}

@test "helpim-run logs each stage with a timestamp and its name" {
	run -0 grep -cE '^[0-9-]+T[0-9:]+Z helpim-run: info: starting$' "$BATS_FILE_TMPDIR/run.log"
	assert_output 1
}
