#!/usr/bin/env bats
# helpim-run: the supervisor.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

@test "-n checks the configuration; usage errors exit 100" {
	run -0 helpim-run -n
	assert_output ""
	run -100 helpim-run -x
	assert_line "usage: helpim-run [-nqsv] [-f file]"
	run -100 helpim-run -n -f /nonexistent
	# the password file too, for helpim-run and helpim-watch
	local c=$BATS_TEST_TMPDIR/pf.conf p=$BATS_TEST_TMPDIR/pw
	(umask 077; echo pw >"$p"
	 sed "s|^password = .*|password_file = $p|" "$HELPIM_CONF" >"$c")
	run -0 helpim-run -n -f "$c"
	run -0 helpim-watch -n -f "$c"
	chmod 644 "$p"
	run -100 helpim-run -n -f "$c"
	assert_output "helpim-conf: error: $p: readable by others; chmod 600 it"
	run -100 helpim-watch -n -f "$c"
	assert_output "helpim-watch: error: $p: readable by others; chmod 600 it"
}

@test "SIGTERM stops every program and leaves nothing behind" {
	run_start
	run -0 ours "$HELPIM_CONF"
	assert [ "${#lines[@]}" -ge 3 ]
	run_stop
	run -0 ours "$HELPIM_CONF"
	assert_output ""
	run -0 grep -E 'helpim-run: info: stopping$' "$BATS_FILE_TMPDIR/run.log"
}

@test "a stage that exits restarts the pipeline with growing pauses" {
	HELPIM_BACKOFF_MAX=2 run_start
	for i in 1 2 3; do
		wait_until 20 prog_pid watch >/dev/null
		kill -9 "$(prog_pid watch)"
		wait_until 20 grep -q "restarting the pipeline in $(( i < 3 ? i : 2 )) s" "$BATS_FILE_TMPDIR/run.log"
		wait_until 20 sh -c "grep -c 'helpim-run: warning: helpim-watch exited 137' '$BATS_FILE_TMPDIR/run.log' | grep -qx $i"
	done
	run_stop
	run -0 grep -c 'restarting the pipeline in 2 s' "$BATS_FILE_TMPDIR/run.log"
	assert_output 2
}

# The stages end one after the other (helpim-rooms when helpim-watch is gone)
# while helpim-run stops them: a stage gone between its check and its signal
# must not end the supervisor.
@test "stages that end while they are being stopped do not end helpim-run" {
	HELPIM_BACKOFF_MAX=1 run_start
	local pid i
	pid=$(cat "$BATS_FILE_TMPDIR/run.pid")
	for i in $(seq 1 8); do
		wait_until 20 prog_pid watch >/dev/null
		wait_until 20 prog_pid rooms >/dev/null
		kill -9 "$(prog_pid setstatus)"
		sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
		kill -9 "$(prog_pid watch)" 2>/dev/null || :
		wait_until 20 sh -c "[ \$(grep -c 'restarting the pipeline' \
			'$BATS_FILE_TMPDIR/run.log') -ge $i ]"
		kill -0 "$pid"
	done
	run_stop
	run -0 grep -E 'helpim-run: info: stopping$' "$BATS_FILE_TMPDIR/run.log"
}

@test "each stage's stderr is prefixed with the time and its name" {
	HELPIM_CONF=$BATS_TEST_TMPDIR/c.conf
	sed 's/^port = .*/port = 1/' "$SB/helpim.conf" >"$HELPIM_CONF"
	chmod 600 "$HELPIM_CONF"
	sql "UPDATE helpim.rooms SET status = 'closed'"
	HELPIM_BACKOFF_MAX=1 run_start_nowait
	wait_until 20 grep -q ' watch: ' "$BATS_FILE_TMPDIR/run.log"
	run_stop
	run -0 grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z (mkrooms|watch): ' "$BATS_FILE_TMPDIR/run.log"
	refute_output ""
}

@test "a permanent failure stops everything and says why" {
	HELPIM_CONF=$BATS_TEST_TMPDIR/c.conf
	sed 's/^password = .*/password = wrong/' "$SB/helpim.conf" >"$HELPIM_CONF"
	chmod 600 "$HELPIM_CONF"
	sql "UPDATE helpim.rooms SET status = 'closed'"
	run -100 helpim-run
	assert_line --regexp 'helpim-run: error: helpim-(mkrooms|watch) failed permanently; not restarting'
	assert_line --partial 'wrong password'
	run -0 ours "$HELPIM_CONF"
	assert_output ""
}

@test "a stage's pid file goes with it; a pid reused by another process is never signalled" {
	local tmp stranger d=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$d"
	TMPDIR=$d run_start
	tmp=$(echo "$d"/helpim-run.*)
	# the refiller ended (killed): its pid file is gone
	wait_until 20 test -e "$tmp/mkrooms.pid"
	kill -9 "$(prog_pid mkrooms)"
	wait_until 20 test ! -e "$tmp/mkrooms.pid"
	# a pid file left over, with a pid the system gave another process
	sleep 300 3>&- &
	stranger=$!
	echo "$stranger" >"$tmp/mkrooms.pid"
	# the refiller is restarted: a stranger is no helpim-mkrooms
	wait_until 20 grep -q 'helpim-mkrooms exited 137; restarting it in 1 s' \
		"$BATS_FILE_TMPDIR/run.log"
	claim staff s-pid
	wait_until 20 pool_full
	run_stop
	# and it was never signalled, not even on the way out
	run -0 kill -0 "$stranger"
	kill "$stranger"
}

# names LIKE: the application_name of every session that matches, sorted
names() {
	sql "SELECT application_name FROM pg_stat_activity
	    WHERE application_name LIKE '$1' ORDER BY 1"
}

@test "pg_stat_activity names each stage of the running pipeline: program pid@host" {
	local h d=$BATS_FILE_TMPDIR inst lock
	h=$(uname -n)
	inst=$(helpim-conf instance)
	run_start
	helpim-listen >/dev/null 2>&1 3>&- &
	echo $! >"$d/listen.pid"
	# the refiller cannot refill while another run holds the lock
	lock="SELECT pg_advisory_lock(hashtextextended('helpim-mkrooms ' || '$inst', 0))"
	PGAPPNAME=lockholder psql -X -q -c "$lock" -c "SELECT pg_sleep(60)" \
	    >/dev/null 2>&1 3>&- &
	echo $! >"$d/lockholder.pid"
	wait_until 10 sh -c "psql -X -A -t -c \"SELECT 1 FROM pg_locks AS l
	    JOIN pg_stat_activity AS a USING (pid) WHERE l.locktype = 'advisory'
	    AND l.granted AND a.application_name = 'lockholder'\" | grep -qx 1"
	wait_until 20 sh -c "psql -X -A -t -c \"SELECT 1 FROM pg_stat_activity
	    WHERE application_name LIKE 'helpim-mkrooms %'\" | grep -qx 1"
	run -0 names 'helpim-mkrooms %'
	assert_output "helpim-mkrooms $(prog_pid mkrooms)@$h"
	run -0 names 'helpim-rooms %'
	assert_output "helpim-rooms $(prog_pid rooms)@$h"
	run -0 names 'helpim-listen %'
	assert_output "helpim-listen $(cat "$d/listen.pid")@$h"
	run -0 names 'helpim-setstatus %'
	assert_output "helpim-setstatus $(prog_pid setstatus)@$h"
	# a backend in pg_sleep() does not notice that its client went away
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE application_name = 'lockholder'" >/dev/null
	kill "$(cat "$d/listen.pid")"
	rm -f "$d/lockholder.pid" "$d/listen.pid"
	run_stop
	# and each goes with its program
	wait_until 10 sh -c "psql -X -A -t -c \"SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'helpim-%'\" | grep -qx 0"
}

# desc PID: the processes under PID
desc() { local p; for p in $(pgrep -P "$1"); do echo "$p"; desc "$p"; done; }

@test "the refiller stays: a claim is refilled at once, a kill restarts only it" {
	local f pid w before
	# no claim of this test expires back into the pool (a slow build takes
	# longer than the sandbox's 5 s), and none of an earlier test either
	f=$(conf_with stay refill_interval=1h staff_claim_timeout=1h)
	sql "UPDATE helpim.rooms SET status = 'closed'
	    WHERE status NOT IN ('available', 'closed', 'lost')"
	HELPIM_CONF=$f run_start
	pid=$(cat "$BATS_FILE_TMPDIR/run.pid")
	w=$(HELPIM_CONF=$f prog_pid watch)
	HELPIM_CONF=$f claim staff s-stay
	wait_until 2 pool_full
	HELPIM_CONF=$f claim staff s-stay2
	wait_until 2 pool_full
	# idle, nothing is started: no tick, no poll
	before=$(desc "$pid" | sort)
	sleep 3
	run -0 sh -c "$(declare -f desc); desc $pid | sort"
	assert_output "$before"
	kill -9 "$(HELPIM_CONF=$f prog_pid mkrooms)"
	wait_until 20 grep -q 'helpim-mkrooms exited 137; restarting it in 1 s' \
		"$BATS_FILE_TMPDIR/run.log"
	HELPIM_CONF=$f claim staff s-stay3
	wait_until 10 pool_full
	# the pipeline was left alone
	run -0 env HELPIM_CONF="$f" sh -c "$(declare -f prog_pid); prog_pid watch"
	assert_output "$w"
	run_stop
	run -0 ours "$f"
	assert_output ""
}
