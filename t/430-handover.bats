#!/usr/bin/env bats
# Who is the staff member: a room is handed to one client at most, and the
# staff member is never taken from a crowd.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }
setup() { sql "TRUNCATE helpim.room_events, helpim.rooms"; }

M=rooms.localhost

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

room() {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('$1@$M', 'pw-$1')"
}

status() { sql "SELECT status || ' ' || chatters FROM helpim.rooms WHERE jid = '$1@$M'"; }

events() {
	{ echo 'helpim-events|1'; printf '%s\n' "$@"; } | helpim-setstatus -q
}

@test "a client alone after the staff member left is not handed a second client" {
	room h1
	run -0 sql "SELECT jid FROM helpim.claim_staff_room('s1')"
	assert_output "h1@$M"
	run -0 events "join|$(now)|h1@$M|1|Anna|"
	run -0 sql "SELECT jid FROM helpim.claim_client_room('c1')"
	assert_output "h1@$M"
	run -0 events "leave|$(now)|h1@$M|0|Anna|left" "join|$(now)|h1@$M|1|client1|"
	run -0 sql "SELECT status, chatters, staff_nick, client_nick FROM helpim.rooms"
	assert_output "closing|1|Anna|client1"
	# neither the sweep nor the next claim hands the room out again
	run -0 sql "SELECT helpim.sweep('0', '0', '1 hour')"
	run -0 sql "SELECT count(*) FROM helpim.claim_client_room('c2')"
	assert_output 0
	# the staff member coming back resumes the chat
	run -0 events "join|$(now)|h1@$M|2|Anna|"
	run -0 status h1
	assert_output "chatting 2"
}

@test "the same in staff_waiting, and from a snapshot" {
	room h2
	room h3
	run -0 events "join|$(now)|h2@$M|1|Anna|" "leave|$(now)|h2@$M|0|Anna|left" \
		"join|$(now)|h2@$M|1|Other|" \
		"join|$(now)|h3@$M|1|Bert|" "snapshot|$(now)|h3@$M|1|Stranger"
	run -0 sql "SELECT jid, status, client_nick FROM helpim.rooms ORDER BY jid"
	assert_output "h2@$M|closing|Other
h3@$M|closing|Stranger"
	run -0 sql "SELECT count(*) FROM helpim.claim_client_room('c')"
	assert_output 0
	# past the linger, the bot is asked to close them
	run -0 sql "SELECT helpim.sweep('1 hour', '1 hour', '0')"
	assert_output 2
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE close_reason = 'linger'"
	assert_output 2
}

@test "the staff member coming back alone still waits" {
	room h4
	run -0 events "join|$(now)|h4@$M|1|Anna|" "leave|$(now)|h4@$M|0|Anna|left" \
		"join|$(now)|h4@$M|1|Anna|"
	run -0 status h4
	assert_output "staff_waiting 1"
	run -0 sql "SELECT jid FROM helpim.claim_client_room('c')"
	assert_output "h4@$M"
}

@test "an expired client claim falls back only with the staff member alone" {
	room h5
	room h6
	# snapshots: the pipeline has seen both rooms, so their claims may expire
	run -0 events "snapshot|$(now)|h5@$M|1|Anna" "snapshot|$(now)|h6@$M|1|Bert"
	sql "SELECT helpim.claim_client_room('c1')"
	sql "SELECT helpim.claim_client_room('c2')"
	run -0 events "leave|$(now)|h6@$M|0|Bert|left"
	sql "UPDATE helpim.rooms SET client_claimed_at = now() - interval '1 hour'"
	run -0 sql "SELECT helpim.sweep('1 hour', '1 minute', '1 hour')"
	run -0 sql "SELECT jid, status FROM helpim.rooms ORDER BY jid"
	assert_output "h5@$M|staff_waiting
h6@$M|client_claimed"
}

@test "a snapshot of two does not name the staff member" {
	room h7
	room h8
	run -0 events "snapshot|$(now)|h7@$M|2|client|Anna" "snapshot|$(now)|h8@$M|1|Anna"
	run -0 sql "SELECT jid, status, coalesce(staff_nick, '-'), coalesce(client_nick, '-') FROM helpim.rooms ORDER BY jid"
	assert_output "h7@$M|chatting|-|-
h8@$M|staff_waiting|Anna|-"
}
