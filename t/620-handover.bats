#!/usr/bin/env bats
# End to end: a client who comes in after the staff member left is never
# handed on to a second client, and the room is closed after the linger.

load helper

setup_file() {
	sandbox_up
	run_start
}

teardown_file() {
	run_stop
	sandbox_down
}

@test "the staff member left before the client came: closing, then closed" {
	claim staff web-staff
	chat_start staff
	chat staff "join $ROOM Anna $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client web-client-1
	chat staff "leave $ROOM"
	chat_wait staff "^left $ROOM"
	wait_until 10 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = '$ROOM' AND chatters = 0"

	chat_start client
	chat client "join $ROOM Visitor $PASS"
	chat_wait client "^joined $ROOM"
	wait_until 10 status_is "$ROOM" closing
	run -0 sql "SELECT staff_nick, client_nick, chatters FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "Anna|Visitor|1"
	# past the client claim time-out, no second client gets the room
	sleep 6
	run -1 helpim-webapp client web-client-2
	refute_output

	# the linger ends the chat: the client is kicked, the room destroyed
	chat_wait client "^(kicked|destroyed) $ROOM" 20
	wait_until 10 status_is "$ROOM" closed
	chat_stop client
	chat_stop staff
}
