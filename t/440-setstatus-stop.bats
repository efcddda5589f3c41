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
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_stat_activity WHERE application_name = '' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
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

@test "a room locked by the webapp: the event waits, is not dropped, nothing freezes" {
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('k1@$M', 'x'), ('k2@$M', 'x')"
	# the webapp holds k1 in a transaction for 6 seconds
	psql -X -q -c "BEGIN" -c "SELECT 1 FROM helpim.rooms WHERE jid = 'k1@$M' FOR UPDATE" \
		-c "SELECT pg_sleep(6)" -c "COMMIT" >/dev/null 3>&- &
	locker=$!
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_locks WHERE mode = 'RowShareLock' AND relation = 'helpim.rooms'::regclass"
	start_setstatus
	echo "join|$(now)|k1@$M|1|Anna|" >&"$ssfd"
	echo "join|$(now)|k2@$M|1|Bert|" >&"$ssfd"
	# it says so within the lock timeout, and applies the events after it
	wait_until 5 grep -q "lock timeout; trying again" "$BATS_FILE_TMPDIR/err"
	wait "$locker"
	wait_until 5 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = 'k2@$M' AND status = 'staff_waiting'"
	exec {ssfd}>&-
	# not under run: its subshell cannot wait for this shell's child
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run -0 sql "SELECT jid, status FROM helpim.rooms WHERE jid LIKE 'k%' ORDER BY 1"
	assert_output "k1@$M|staff_waiting
k2@$M|staff_waiting"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid LIKE 'k%'"
	assert_output 2
}
