#!/usr/bin/env bats
# A close request with a long reason still makes a feed line that
# helpim-watch reads: the reason is cut, never an escape.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

M=rooms.localhost

@test "request_close keeps the first 1000 characters of a reason" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('l1@$M', 'pw')"
	run -0 sql "SELECT helpim.request_close('l1@$M', repeat('x', 5000))"
	assert_output t
	run -0 sql "SELECT length(close_reason) FROM helpim.rooms WHERE jid = 'l1@$M'"
	assert_output 1000
	run -0 sql "SELECT length(detail) FROM helpim.room_events WHERE jid = 'l1@$M'"
	assert_output 1000
}

@test "a close line fits LINE_MAX_LEN, escapes whole" {
	sql "INSERT INTO helpim.rooms (jid, password, close_requested_at, close_reason)
		VALUES ('l2@$M', 'pw', now(), repeat('a|', 5000))"
	run -0 sh -c "helpim-rooms -P | grep '^close|l2@' | awk '{ print length(\$0) }'"
	# 25 bytes before the reason; 'a%7C' ... 'a', and no room for '%7C'
	assert_output 8190
	run -0 sh -c "helpim-rooms -P | grep '^close|l2@' | grep -Ec '\|(a%7C)+a\$'"
	assert_output 1
	sql "UPDATE helpim.rooms SET close_reason = repeat('%', 5000) WHERE jid = 'l2@$M'"
	run -0 sh -c "helpim-rooms -P | grep '^close|l2@' | awk '{ print length(\$0) }'"
	assert_output 8191
}
