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
	# helpim-mkrooms ran and ended: its pid file is gone
	wait_until 20 test ! -e "$tmp/mkrooms.pid"
	# a pid file left over, with a pid the system gave another process
	sleep 300 3>&- &
	stranger=$!
	echo "$stranger" >"$tmp/mkrooms.pid"
	# the pool is still refilled: a stranger is no helpim-mkrooms
	claim staff s-pid
	wait_until 20 pool_full
	run_stop
	# and it was never signalled, not even on the way out
	run -0 kill -0 "$stranger"
	kill "$stranger"
}
