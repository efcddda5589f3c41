#!/usr/bin/env bats
# helpim-setstatus stopping and waiting: events in the pipe are applied
# before it stops, and a locked room does not freeze it.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

M=rooms.localhost

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# A running helpim-setstatus fed through a fifo, as in the pipeline.
start_setstatus() {
	rm -f "$BATS_FILE_TMPDIR/in"
	mkfifo "$BATS_FILE_TMPDIR/in"
	helpim-setstatus -q <"$BATS_FILE_TMPDIR/in" 2>"$BATS_FILE_TMPDIR/err" 3>&- &
	pid=$!
	echo "$pid" >"$BATS_FILE_TMPDIR/setstatus.pid"
	exec {ssfd}>"$BATS_FILE_TMPDIR/in"
	echo 'helpim-events|1' >&"$ssfd"
}

@test "on SIGTERM the events still in the pipe are applied, then exit 0" {
	sql "INSERT INTO helpim.rooms (jid, password)
		SELECT 'p' || g || '@$M', 'x' FROM generate_series(1, 200) g"
	start_setstatus
	# ready: it has connected to the database
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_stat_activity WHERE application_name LIKE 'helpim-setstatus %' AND backend_type = 'client backend'"
	kill -TERM "$pid"
	t=$(now)
	for i in $(seq 1 200); do
		echo "join|$t|p$i@$M|1|Anna|"
	done >&"$ssfd"
	exec {ssfd}>&-
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run -0 sql "SELECT status, count(*) FROM helpim.rooms WHERE jid LIKE 'p%' GROUP BY 1"
	assert_output "staff_waiting|200"
}

@test "on SIGTERM with the input left open: stops after 5 s, what came applied" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('q1@$M', 'x')"
	start_setstatus
	echo "join|$(now)|q1@$M|1|Anna|" >&"$ssfd"
	wait_until 5 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = 'q1@$M' AND status = 'staff_waiting'"
	kill -TERM "$pid"
	s=$SECONDS
	rc=0
	wait "$pid" || rc=$?
	exec {ssfd}>&-
	assert_equal "$rc" 0
	assert_equal "$((SECONDS - s <= 7))" 1
	run -0 cat "$BATS_FILE_TMPDIR/err"
	assert_output "helpim-setstatus: warning: stdin still open 5 s after the signal to stop"
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = 'q1@$M'"
	assert_output staff_waiting
}

# lock ROOM SECONDS: the webapp holds the room's row in a transaction
lock() {
	psql -X -q -c "BEGIN" -c "SELECT 1 FROM helpim.rooms WHERE jid = '$1' FOR UPDATE" \
		-c "SELECT pg_sleep($2)" -c "COMMIT" >/dev/null 3>&- &
	locker=$!
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_locks WHERE mode = 'RowShareLock' AND relation = 'helpim.rooms'::regclass"
}

@test "a room locked by the webapp: its events wait, in order; the others go on" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('k1@$M', 'x'), ('k2@$M', 'x')"
	lock "k1@$M" 4
	start_setstatus
	echo "join|$(now)|k1@$M|1|Anna|" >&"$ssfd"
	echo "join|$(now)|k2@$M|1|Bert|" >&"$ssfd"
	echo "join|$(now)|k1@$M|2|Carl|" >&"$ssfd"
	# k2 at once, while k1 is still locked
	wait_until 2 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = 'k2@$M' AND status = 'staff_waiting'"
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = 'k1@$M'"
	assert_output available
	run -0 cat "$BATS_FILE_TMPDIR/err"
	assert_output "helpim-setstatus: warning: line 2: k1@$M: locked by another transaction; the room's events wait"
	wait "$locker"
	wait_until 3 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = 'k1@$M' AND status = 'chatting'"
	exec {ssfd}>&-
	# not under run: its subshell cannot wait for this shell's child
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run -0 sql "SELECT string_agg(nick || ':' || new_status, ' ' ORDER BY id)
		FROM helpim.room_events WHERE jid LIKE 'k%'"
	assert_output "Bert:staff_waiting Anna:staff_waiting Carl:chatting"
}

@test "on SIGTERM while a room is locked: the others applied, exit 111 saying so" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('l1@$M', 'x'), ('l2@$M', 'x')"
	lock "l1@$M" 15
	start_setstatus
	echo "join|$(now)|l1@$M|1|Anna|" >&"$ssfd"
	echo "join|$(now)|l2@$M|1|Bert|" >&"$ssfd"
	wait_until 5 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = 'l2@$M' AND status = 'staff_waiting'"
	kill -TERM "$pid"
	s=$SECONDS
	exec {ssfd}>&-
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 111
	# at once at the end of the input, or 5 s after the signal
	assert_equal "$((SECONDS - s <= 7))" 1
	run -0 cat "$BATS_FILE_TMPDIR/err"
	assert_line "helpim-setstatus: error: 1 event not applied: 1 room stayed held up"
	refute_output --partial skipped
	kill "$locker" 2>/dev/null || true
	sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(15)%' AND pid <> pg_backend_pid()" >/dev/null
	wait "$locker" || true
}

# The watcher must never block on its output: events go on being read while
# a room waits, far past a batch and the pipe's buffer.
@test "a room locked by the webapp: the input is read on, 5000 events" {
	sql "INSERT INTO helpim.rooms (jid, password)
		SELECT 'w' || g || '@$M', 'x' FROM generate_series(0, 999) g"
	lock "w0@$M" 8
	start_setstatus
	s=$SECONDS
	awk -v M="$M" -v t="$(now)" 'BEGIN {
		for (i = 0; i < 5000; i++)
			printf "join|%s|w%d@%s|1|n%d|\n", t, (i % 2 ? int(i / 2) % 999 + 1 : 0), M, i
	}' >&"$ssfd"
	echo "# 5000 events written in $((SECONDS - s)) s" >&3
	# before the lock ends (a writer that stops reading waits for it)
	assert_equal "$((SECONDS - s < 7))" 1
	# the other rooms at once: only w0 is left available
	wait_until 5 sql "SELECT 1 / (count(*) = 1)::int FROM helpim.rooms WHERE jid LIKE 'w%' AND status = 'available'"
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = 'w0@$M'"
	assert_output available
	wait "$locker"
	exec {ssfd}>&-
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	# w0's 2500 events, in order: the first one joined, the others are
	# the same join again
	run -0 sql "SELECT count(*), min(nick), bool_and(id > (SELECT max(id) FROM helpim.room_events WHERE jid = 'w1@$M'))
		FROM helpim.room_events WHERE jid = 'w0@$M'"
	assert_output "2500|n0|t"
	run -0 sql "SELECT nick FROM helpim.room_events WHERE jid = 'w0@$M' ORDER BY id LIMIT 3"
	assert_output "n0
n2
n4"
}

@test "events waiting past 16 MB: exit 111 saying so" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('x1@$M', 'x')"
	lock "x1@$M" 6
	start_setstatus
	# 2100 lines of 8000 bytes for the locked room
	awk -v M="$M" -v t="$(now)" 'BEGIN {
		x = sprintf("%7900s", ""); gsub(/ /, "x", x)
		for (i = 0; i < 2100; i++)
			printf "join|%s|x1@%s|1|n%d|%s\n", t, M, i, x
	}' >&"$ssfd" 2>/dev/null || true
	exec {ssfd}>&-
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 111
	run -0 cat "$BATS_FILE_TMPDIR/err"
	assert_line --regexp "^helpim-setstatus: error: line [0-9]+: [0-9]+ events wait, and no more fit in 16 MB; exiting for a restart$"
	wait "$locker"
}
