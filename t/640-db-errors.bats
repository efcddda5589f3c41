#!/usr/bin/env bats
# Database errors while the bot works: what may pass (a lock, a cancelled
# statement) is retried per room and holds up no other room; anything else
# makes helpim-setstatus exit 111, and helpim-run's restart with the
# snapshots brings the table to the truth.  No event is ever skipped.

load helper

setup_file() { sandbox_up; }

teardown_file() {
	[ ! -e "$BATS_FILE_TMPDIR/run.pid" ] || run_stop
	sandbox_down
}

M=rooms.localhost

# a failed test leaves the database writable for the next one
eval "helper_$(declare -f teardown)"
teardown() {
	[ "$(psql -XAtqc 'SHOW default_transaction_read_only')" = off ] ||
		read_only off
	helper_teardown
}

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# read_only on|off: the whole cluster refuses writes, as during a failover
read_only() {
	if [ "$1" = on ]; then
		sql "ALTER SYSTEM SET default_transaction_read_only = on"
	else
		sql "ALTER SYSTEM RESET default_transaction_read_only"
	fi
	sql "SELECT pg_reload_conf()" >/dev/null
	wait_until 5 sh -c "[ \"\$(psql -XAtqc 'SHOW default_transaction_read_only')\" = $1 ]"
}

# pipeline: helpim-run for the rest of the file; the rooms of the tests
# before it are on no server, out of the webapp's way
pipeline() {
	[ ! -e "$BATS_FILE_TMPDIR/run.pid" ] || return 0
	sql "UPDATE helpim.rooms SET status = 'closed' WHERE jid NOT LIKE 'helpim-%'"
	HELPIM_BACKOFF_MAX=1 run_start
}

# chatting NAME: staff and client of that name chat; their room in ROOM
chatting() {
	chat_start "s$1"
	chat_start "c$1"
	claim staff "s-$1"
	chat "s$1" "join $ROOM Staff $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client "c-$1"
	chat "c$1" "join $ROOM Client $PASS"
	wait_until 10 status_is "$ROOM" chatting
}

# the events of ROOM that came from the bot, as event:new_status, in order
history() {
	sql "SELECT string_agg(event || ':' || new_status, ' ' ORDER BY id)
		FROM helpim.room_events WHERE jid = '$1' AND event NOT LIKE '%claim%'"
}

@test "helpim-setstatus on a read-only database: exit 111 with the reason, nothing skipped" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('ro1@$M', 'x')"
	read_only on
	run helpim-setstatus -q <<-EOF
	helpim-events|1
	join|$(now)|ro1@$M|1|Anna|
	EOF
	read_only off
	assert_failure 111
	assert_output --regexp "^helpim-setstatus: error: database: .*read-only transaction; [0-9]+ events? not applied, exiting for a restart$"
	refute_output --partial skipped
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = 'ro1@$M'"
	assert_output available
}

# The apply waits for a lock on the history, and statement_timeout cancels
# it: the events wait, and are applied once the lock is gone.
@test "helpim-setstatus: statement_timeout cancels the apply: the events wait, then all applied" {
	local pid rc
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('st1@$M', 'x'), ('st2@$M', 'x')"
	psql -X -q -c "BEGIN" -c "LOCK helpim.room_events IN SHARE MODE" \
		-c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null 3>&- &
	locker=$!
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_locks WHERE mode = 'ShareLock' AND relation = 'helpim.room_events'::regclass"
	rm -f "$BATS_FILE_TMPDIR/in"
	mkfifo "$BATS_FILE_TMPDIR/in"
	PGOPTIONS='-c statement_timeout=100ms' helpim-setstatus -q \
		<"$BATS_FILE_TMPDIR/in" 2>"$BATS_FILE_TMPDIR/err" 3>&- &
	pid=$!
	exec {ssfd}>"$BATS_FILE_TMPDIR/in"
	printf '%s\n' 'helpim-events|1' "join|$(now)|st1@$M|1|Anna|" \
		"join|$(now)|st2@$M|1|Bert|" "join|$(now)|st1@$M|2|Carl|" >&"$ssfd"
	wait_until 5 grep -q "statement timeout; the room's events wait" "$BATS_FILE_TMPDIR/err"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid LIKE 'st%'"
	assert_output 0
	wait "$locker"
	wait_until 5 status_is "st1@$M" chatting
	wait_until 5 status_is "st2@$M" staff_waiting
	exec {ssfd}>&-
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run -0 cat "$BATS_FILE_TMPDIR/err"
	assert_line "helpim-setstatus: warning: line 2: st1@$M: canceling statement due to statement timeout; the room's events wait"
	refute_output --partial skipped
	run -0 history "st1@$M"
	assert_output "join:staff_waiting join:chatting"
}

@test "a room row locked for 10 s: the other rooms' events at once, its own in order after" {
	local a t0 ms
	pipeline
	chatting A
	a=$ROOM
	# the webapp holds room A in a transaction
	psql -X -q -c "BEGIN" -c "SELECT 1 FROM helpim.rooms WHERE jid = '$a' FOR UPDATE" \
		-c "SELECT pg_sleep(10)" -c "COMMIT" >/dev/null 3>&- &
	locker=$!
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_locks WHERE mode = 'RowShareLock' AND relation = 'helpim.rooms'::regclass"
	chat cA "leave $a"
	chat sA "leave $a"
	chat_wait sA "^left $a"
	# meanwhile another staff member arrives in another room
	chat_start sB
	claim staff s-B
	t0=$(date +%s%N)
	chat sB "join $ROOM Staff $PASS"
	wait_until 3 status_is "$ROOM" staff_waiting
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# room B staff_waiting $ms ms after the join, room A locked" >&3
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = '$a'"
	assert_output chatting
	wait "$locker"
	wait_until 10 status_is "$a" closed
	run -0 history "$a"
	assert_output "join:staff_waiting join:chatting leave:closing leave:closing destroyed:closed"
	run -0 cat "$BATS_FILE_TMPDIR/run.log"
	assert_output --partial "helpim-setstatus: warning: line "
	assert_output --partial "$a: locked by another transaction; the room's events wait"
	refute_output --partial "helpim-setstatus exited"
	refute_output --partial skipped
	chat_stop sA
	chat_stop cA
	chat_stop sB
}

@test "a read-only database for 4 s while a participant leaves: the leave reaches the table" {
	pipeline
	chatting R
	read_only on
	chat cR "leave $ROOM"
	chat_wait cR "^left $ROOM"
	sleep 4
	read_only off
	wait_until 30 status_is "$ROOM" closing
	run -0 cat "$BATS_FILE_TMPDIR/run.log"
	assert_line --regexp " setstatus: helpim-setstatus: error: database: .*read-only transaction; [0-9]+ events? not applied, exiting for a restart$"
	assert_line --regexp "helpim-run: warning: helpim-setstatus exited 111$"
	refute_output --partial skipped
	chat sR "leave $ROOM"
	wait_until 30 status_is "$ROOM" closed
	chat_stop sR
	chat_stop cR
}

@test "PostgreSQL restarted mid-chat: the chat's later events reach the table" {
	pipeline
	chatting P
	helpim-sandbox restart-db "$SB"
	chat cP "leave $ROOM"
	wait_until 30 status_is "$ROOM" closing
	chat sP "leave $ROOM"
	wait_until 30 status_is "$ROOM" closed
	run -0 cat "$BATS_FILE_TMPDIR/run.log"
	refute_output --partial skipped
	chat_stop sP
	chat_stop cP
}
