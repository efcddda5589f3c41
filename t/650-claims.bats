#!/usr/bin/env bats
# A room belongs to the people of its current claims, and to nobody else:
# an expired claim's password opens nothing, a claim does not expire in a
# room the pipeline has not seen, and after a restart the bot removes the
# stranger, never the staff member or the client.  Prosody and ejabberd.

load helper

setup_file() {
	sandbox_up
	sed -i 's/^staff_claim_timeout = .*/staff_claim_timeout = 2s/;
		s/^client_claim_timeout = .*/client_claim_timeout = 2s/' "$HELPIM_CONF"
	HELPIM_BACKOFF_MAX=1 run_start
}

teardown_file() {
	run_stop
	sandbox_down
}

# a listener of a failed test stops too
teardown() {
	[ ! -e "$BATS_FILE_TMPDIR/listen.pid" ] || listen_stop
}

# happened ROOM EVENT: the history of ROOM holds EVENT
happened() {
	[ "$(sql "SELECT count(*) FROM helpim.room_events WHERE jid = '$1' AND event = '$2'")" -gt 0 ]
}

@test "an expired client claim: its password opens nothing, the next client gets a new one" {
	claim staff s-a
	chat_start staff
	chat staff "join $ROOM Staff $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client c-x
	XROOM=$ROOM XPASS=$PASS
	# the client does not come: the claim expires, the bot sets a new password
	wait_until 15 happened "$XROOM" rekeyed
	run -0 sql "SELECT status, new_password IS NULL, password <> '$XPASS', client_ref IS NULL
		FROM helpim.rooms WHERE jid = '$XROOM'"
	assert_output "staff_waiting|t|t|t"
	# late, with the expired claim's password: the server refuses
	chat_start x
	chat x "join $XROOM Late $XPASS"
	chat_wait x "^error $XROOM not-authorized$"
	# the next client gets the room with the new password
	claim client c-y
	assert_equal "$ROOM" "$XROOM"
	[ "$PASS" != "$XPASS" ]
	chat_start y
	chat y "join $ROOM Next $PASS"
	wait_until 10 status_is "$ROOM" chatting
	run -0 sql "SELECT staff_nick, client_nick, client_ref, chatters FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "Staff|Next|c-y|2"
	run -1 grep "^joined $XROOM" "$BATS_FILE_TMPDIR/x.out"
	chat_stop x
	chat_stop y
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
}

@test "the queue: an assigned client who never comes expires; the next one gets the room and its new password" {
	listen_start
	run -0 helpim-webapp queue q-gone
	run -0 helpim-webapp queue q-next
	claim staff s-q
	chat_start staff
	chat staff "join $ROOM Staff $PASS"
	wait_until 10 heard "assigned q-gone $ROOM"
	run -0 helpim-webapp room q-gone
	XPASS=${output#* }
	# q-gone does not come: expired; the bot sets a new password and
	# confirms it; only then is the room assigned to the next client
	wait_until 15 heard "expired q-gone"
	wait_until 15 heard "assigned q-next $ROOM"
	run -0 happened "$ROOM" rekeyed
	run -1 helpim-webapp room q-gone
	run -0 helpim-webapp room q-next
	assert_output --regexp "^$ROOM "
	NPASS=${output#* }
	assert_not_equal "$NPASS" "$XPASS"
	# the expired client's password opens nothing; the next client's does
	chat_start x
	chat x "join $ROOM Late $XPASS"
	chat_wait x "^error $ROOM not-authorized$"
	chat_start y
	chat y "join $ROOM Next $NPASS"
	wait_until 10 status_is "$ROOM" chatting
	run -1 grep "^joined $ROOM" "$BATS_FILE_TMPDIR/x.out"
	run -0 sql "SELECT staff_nick, client_nick, client_ref, chatters FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "Staff|Next|q-next|2"
	run -0 grep -E "^(assigned|expired) " "$LISTEN"
	assert_output "assigned q-gone $ROOM
expired q-gone
assigned q-next $ROOM"
	run -0 sql "SELECT string_agg(event || ':' || ref, ' ' ORDER BY id) FROM helpim.queue_events"
	assert_output "enqueued:q-gone enqueued:q-next assigned:q-gone expired:q-gone assigned:q-next served:q-next"
	run -0 sql "SELECT event FROM helpim.room_events WHERE jid = '$ROOM' AND
		event IN ('client_claim', 'client_claim_expired', 'rekeyed') ORDER BY id"
	assert_output "client_claim
client_claim_expired
rekeyed
client_claim"
	chat_stop x
	chat_stop y
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
	listen_stop
}

@test "an expired staff claim: its password opens nothing, the next staff member gets a new one" {
	wait_until 20 pool_full
	claim staff s-1
	SROOM=$ROOM SPASS=$PASS
	wait_until 15 happened "$SROOM" rekeyed
	run -0 sql "SELECT status, new_password IS NULL, password <> '$SPASS', staff_ref IS NULL
		FROM helpim.rooms WHERE jid = '$SROOM'"
	assert_output "available|t|t|t"
	chat_start s1
	chat s1 "join $SROOM Late $SPASS"
	chat_wait s1 "^error $SROOM not-authorized$"
	# the oldest free room again, with its new password
	claim staff s-2
	assert_equal "$ROOM" "$SROOM"
	[ "$PASS" != "$SPASS" ]
	chat_start s2
	chat s2 "join $ROOM Second $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	run -0 sql "SELECT staff_nick, staff_ref FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "Second|s-2"
	chat_stop s1
	chat_stop s2
	wait_until 15 status_is "$ROOM" closed
}

@test "a client who came while the pipeline was down keeps the claim" {
	claim staff s-d
	chat_start staff
	chat staff "join $ROOM Staff $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	run_stop
	claim client c-d
	chat_start client
	chat client "join $ROOM Client $PASS"
	chat_wait client "^joined $ROOM"
	sleep 3		# past client_claim_timeout
	run_start_nowait
	wait_until 20 status_is "$ROOM" chatting
	sleep 2		# a sweep or two
	run -1 happened "$ROOM" client_claim_expired
	run -0 sql "SELECT client_ref, client_nick FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output "c-d|Client"
	chat_stop client
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
}

@test "after a restart the bot removes the stranger, never the staff member or the client" {
	local k rooms=() pws=()
	chat_start staff
	chat_start client
	chat_start third
	for k in 1 2 3; do
		claim staff "s-r$k"
		rooms[k]=$ROOM pws[k]=$PASS
		chat staff "join $ROOM Staff$k $PASS"
		wait_until 10 status_is "$ROOM" staff_waiting
		claim client "c-r$k"
		chat client "join $ROOM Client$k $PASS"
		wait_until 10 status_is "$ROOM" chatting
	done
	run_stop
	# a third person with the password gets in while the bot is away
	# (ejabberd may refuse beyond its own maximum)
	for k in 1 2 3; do
		chat third "join ${rooms[k]} Third$k ${pws[k]}"
		wait_until 10 grep -qE "^(joined|error) ${rooms[k]}" "$BATS_FILE_TMPDIR/third.out"
	done
	t0=$(sql "SELECT now()")
	run_start_nowait
	for k in 1 2 3; do
		wait_until 20 sh -c "grep -qE '^(kicked|error) ${rooms[k]}' '$BATS_FILE_TMPDIR/third.out'"
		wait_until 10 sql "SELECT 1 / count(*) FROM helpim.rooms
			WHERE jid = '${rooms[k]}' AND seen_at > '$t0'"
	done
	sleep 1
	for k in 1 2 3; do
		run -0 sql "SELECT status, chatters, staff_nick, client_nick FROM helpim.rooms WHERE jid = '${rooms[k]}'"
		assert_output "chatting|2|Staff$k|Client$k"
	done
	run -1 grep '^kicked ' "$BATS_FILE_TMPDIR/staff.out" "$BATS_FILE_TMPDIR/client.out"
	chat_stop third
	chat_stop client
	chat_stop staff
	for k in 1 2 3; do
		wait_until 15 status_is "${rooms[k]}" closed
	done
}

@test "a second pipeline or watcher of the instance refuses to start; the first goes on" {
	wait_until 20 pool_full
	watch=$(prog_pid watch)
	run -100 timeout 60 helpim-run
	assert_output --partial "runs already"
	assert_output --partial "not starting a second pipeline"
	run -100 sh -c "{ echo 'helpim-feed|1'; sleep 5; } | timeout 30 helpim-watch"
	assert_output --partial "another helpim-watch of instance '' runs as"
	# the first one was never knocked off the server
	assert_equal "$(prog_pid watch)" "$watch"
	run -1 grep -iE 'conflict|replaced|exited' "$BATS_FILE_TMPDIR/run.log"
	claim staff s-second
	chat_start staff
	chat staff "join $ROOM Staff $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
}
