#!/usr/bin/env bats
# helpim-mkrooms -F: stays logged in and tops the pool up when rooms are
# claimed, on one connection to each server.

load helper

setup_file() {
	sandbox_up
	echo pwfor-other | helpim-sandbox adduser "$SB" other@localhost
}
teardown_file() { sandbox_down; }

teardown() {
	[ ! -e "$BATS_FILE_TMPDIR/refill.pid" ] || refill_stop
}

available() {
	sql "SELECT count(*) FROM helpim.rooms
	     WHERE instance = '$1' AND status = 'available'"
}

# is_available INSTANCE N: the pool of INSTANCE holds N rooms
is_available() { [ "$(available "$1")" = "$2" ]; }

# refill_start CONF: helpim-mkrooms -F in the background, its stdout in
# refill.out and its stderr in refill.err
refill_start() {
	HELPIM_CONF=$1 helpim-mkrooms -F -v >"$BATS_FILE_TMPDIR/refill.out" \
		2>"$BATS_FILE_TMPDIR/refill.err" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/refill.pid"
}

refill_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/refill.pid")
	rm -f "$BATS_FILE_TMPDIR/refill.pid"
	kill "$pid" 2>/dev/null || :
	wait "$pid"
}

# change INSTANCE FROM TO [COUNT]: COUNT rooms (all) of INSTANCE in
# status FROM go to TO, each with its row of history, as the claims and
# the status writer make them (the row sends the notification)
change() {
	sql "WITH r AS (UPDATE helpim.rooms SET status = '$3'
	     WHERE id IN (SELECT id FROM helpim.rooms WHERE instance = '$1'
	     AND status = '$2' ORDER BY id LIMIT ${4:-ALL}) RETURNING id, jid)
	     INSERT INTO helpim.room_events (room_id, jid, at, event,
	     chatters, old_status, new_status)
	     SELECT id, jid, now(), 'test', 0, '$2', '$3' FROM r"
}

# staff INSTANCE: the webapp claims a room of that instance for staff
staff() { change "$1" available staff_claimed 1; }

@test "-F with -N is a usage error" {
	run -100 helpim-mkrooms -F -N 3
	assert_output "usage: helpim-mkrooms [-Fnqv] [-f file] [-J jobs] [-N count]"
}

@test "-F fills the pool and tops it up at once after claims" {
	local f pid
	f=$(conf_with follow instance=follow pool_size=4 max_rooms=100 \
		refill_interval=1h)
	refill_start "$f"
	pid=$(cat "$BATS_FILE_TMPDIR/refill.pid")
	wait_until 20 is_available follow 4
	staff follow
	staff follow
	wait_until 2 is_available follow 4
	change follow available closed
	wait_until 2 is_available follow 4
	# one process, one session all along; a line a room made
	run -0 kill -0 "$pid"
	run -0 sql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'helpim-mkrooms %'"
	assert_output 1
	run -0 wc -l <"$BATS_FILE_TMPDIR/refill.out"
	assert_output 10
	refill_stop
	# the owner form of the first room served all ten
	run -0 grep -x 'helpim-mkrooms: debug: owner form fetched 1 time' \
		"$BATS_FILE_TMPDIR/refill.err"
}

@test "-F respects max_rooms, and a room that closes makes room" {
	local f
	f=$(conf_with capped instance=capped pool_size=3 max_rooms=4 \
		refill_interval=1h)
	refill_start "$f"
	wait_until 20 is_available capped 3
	staff capped
	wait_until 2 is_available capped 3
	staff capped
	sleep 1
	run -0 available capped
	assert_output 2
	change capped staff_claimed closed
	wait_until 2 is_available capped 3
	refill_stop
}

@test "-F and a run from cron at the same time do not overshoot" {
	local f
	f=$(conf_with both instance=both pool_size=30 max_rooms=100 \
		refill_interval=1h)
	refill_start "$f"
	helpim-mkrooms -f "$f" >"$BATS_TEST_TMPDIR/cron" 2>&1 3>&-
	wait_until 20 is_available both 30
	sleep 1
	run -0 available both
	assert_output 30
	refill_stop
}

@test "-F: SIGTERM exits 0 and leaves no session" {
	local f
	f=$(conf_with stop instance=stop pool_size=2 refill_interval=1h)
	refill_start "$f"
	wait_until 20 is_available stop 2
	local rc=0
	refill_stop || rc=$?
	assert_equal "$rc" 0
	run -0 sql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'helpim-mkrooms %'"
	assert_output 0
}

@test "-F: a wrong password or an account that may not create rooms exits 100" {
	run -100 helpim-mkrooms -F -f "$(conf_with wrongpw password=not-it)"
	assert_output --partial "wrong password"
	run -100 helpim-mkrooms -F -f "$(conf_with other jid=other@localhost \
		password=pwfor-other instance=other)"
	assert_output --partial "may not create rooms"
}

# outage INSTANCE MESSAGE DOWN UP: the refiller of INSTANCE exits 111 with
# MESSAGE when DOWN takes a server away; after UP, the next one refills
outage() {
	local f pid
	f=$(conf_with "$1" instance="$1" pool_size=2 refill_interval=1h)
	refill_start "$f"
	pid=$(cat "$BATS_FILE_TMPDIR/refill.pid")
	wait_until 20 is_available "$1" 2
	helpim-sandbox "$3" "$SB"
	rm -f "$BATS_FILE_TMPDIR/refill.pid"
	run -111 wait "$pid"
	run -0 grep -c "helpim-mkrooms: error: $2" "$BATS_FILE_TMPDIR/refill.err"
	[ -z "$4" ] || helpim-sandbox "$4" "$SB"
	staff "$1"
	refill_start "$f"
	wait_until 20 is_available "$1" 2
	refill_stop
}

@test "-F: the database restarting exits 111; the next one refills" {
	outage dbgone 'database: ' restart-db ''
}

@test "-F: the XMPP server restarting exits 111; the next one refills" {
	outage xgone 'connection to the XMPP server lost' stop-xmpp start-xmpp
}
