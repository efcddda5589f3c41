#!/usr/bin/env bats
# Monitoring: helpim-rooms -m in Prometheus' text format, restarts counted,
# helpim-run -s handing its log to logger.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }
teardown() { [ ! -f "$BATS_FILE_TMPDIR/run.pid" ] || run_stop; }

@test "-m: HELP and TYPE before each metric, names, labels, values" {
	local names
	helpim-mkrooms -N 2
	sql "INSERT INTO helpim.rooms (jid, password, instance, status)
	    VALUES ('other@rooms.localhost', 'x', 'b', 'closed')"
	sql "SELECT helpim.apply_event('join', now(), 'nowhere@rooms.localhost', 1, 'n', '')" >/dev/null
	run -0 helpim-rooms -m
	# every line a comment of HELP or TYPE, or a sample with a number
	refute_line --regexp '^([^#h]|#[^ ]|# [^HT]|h[^e])'
	refute_line --regexp '^helpim_[a-z_]+\{[^}]*\} [^0-9]'
	refute_line --regexp '^helpim_[a-z_]+\{[^}]*\} [0-9]+[^0-9]'
	# each metric named once in HELP and TYPE, before its samples
	names=$(echo "$output" | sed -n 's/^# TYPE \(helpim_[a-z_]*\) \(gauge\|counter\)$/\1/p')
	assert_equal "$(echo "$names" | wc -l)" 9
	assert_equal "$(echo "$names" | sort -u | wc -l)" 9
	assert_equal "$(echo "$output" | grep -c '^# HELP helpim_[a-z_]* [A-Z].*\.$')" 9
	run -0 awk '/^# TYPE/ { t[$3] = 1 } /^helpim/ { n = $1; sub(/\{.*/, "", n);
	    if (!(n in t)) { print "no TYPE before " n; exit 1 } }' <<<"$output"
	echo "$names" | grep -q '_total$' && ! echo "$output" |
		grep -E '^# TYPE helpim_[a-z_]*_total gauge'
	run -0 helpim-rooms -m
	assert_line 'helpim_rooms{instance="",status="available"} 2'
	assert_line 'helpim_rooms{instance="",status="lost"} 0'
	assert_line 'helpim_rooms_open{instance=""} 2'
	assert_line 'helpim_pool_free{instance=""} 2'
	assert_line 'helpim_chats{instance=""} 0'
	assert_line 'helpim_staff_wait_seconds_max{instance=""} 0'
	assert_line 'helpim_anomalies_total{instance=""} 1'
	assert_line 'helpim_events_total{instance=""} 1'
	assert_line 'helpim_pipeline_restarts_total{instance=""} 0'
	assert_line '# TYPE helpim_rooms gauge'
	assert_line '# TYPE helpim_events_total counter'
}

@test "-m: a staff member waiting, a chat, and the instance label" {
	local a b
	run_start
	chat_start staff
	claim staff s1
	a=$ROOM
	chat staff "join $a Anna $PASS"
	wait_until 10 status_is "$a" staff_waiting
	sleep 1.1
	run -0 helpim-rooms -m
	assert_line --regexp '^helpim_staff_wait_seconds_max\{instance=""\} [1-9][0-9]*$'
	chat_start client
	claim client c1
	chat client "join $a guest $PASS"
	wait_until 10 status_is "$a" chatting
	run -0 helpim-rooms -m
	assert_line 'helpim_chats{instance=""} 1'
	assert_line 'helpim_rooms{instance="",status="chatting"} 1'
	chat_stop client
	chat_stop staff
	run_stop
	b=$BATS_FILE_TMPDIR/b.conf
	{ cat "$HELPIM_CONF"; echo 'instance = b"x'; } >"$b"
	chmod 600 "$b"
	run -0 helpim-rooms -m -f "$b"
	assert_line 'helpim_rooms{instance="b\"x",status="available"} 0'
}

@test "helpim-run counts each restart of the pipeline" {
	run_start
	wait_until 20 prog_pid watch >/dev/null
	kill -9 "$(prog_pid watch)"
	wait_until 20 grep -q 'restarting the pipeline' "$BATS_FILE_TMPDIR/run.log"
	wait_until 20 sh -c "helpim-rooms -m | grep -qx 'helpim_pipeline_restarts_total{instance=\"\"} 1'"
	run_stop
	run -0 sql "SELECT instance, stage, exit_code FROM helpim.restarts"
	assert_output "|watch|137"
	run -0 helpim-rooms -S
	assert_line restarts=1
}

@test "helpim-run -s hands its log to logger, without the time" {
	mkdir "$BATS_TEST_TMPDIR/bin"
	# a logger that writes what it gets into a file
	cat >"$BATS_TEST_TMPDIR/bin/logger" <<-EOF
	#!/bin/sh
	echo "\$*" >"$BATS_TEST_TMPDIR/logger.args"
	cat >"$BATS_TEST_TMPDIR/logger.out"
	EOF
	chmod 755 "$BATS_TEST_TMPDIR/bin/logger"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH helpim-run -s 2>"$BATS_TEST_TMPDIR/run.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	wait_until 20 grep -q 'helpim-run: info: starting' "$BATS_TEST_TMPDIR/logger.out"
	run_stop
	wait_until 10 grep -q 'helpim-run: info: stopping' "$BATS_TEST_TMPDIR/logger.out"
	run -0 cat "$BATS_TEST_TMPDIR/run.log"
	assert_output ""
	run -0 cat "$BATS_TEST_TMPDIR/logger.args"
	assert_output "--prio-prefix -t helpim -p daemon.info"
	run -0 cat "$BATS_TEST_TMPDIR/logger.out"
	assert_line "<30>helpim-run: info: starting"
	assert_line --regexp '^<30>watch: helpim-watch: info: online as '
	refute_line --regexp '^(<[0-9]+>)?[0-9]{4}-'
}

@test "on the journal, each line starts with the priority of its level" {
	local log=$BATS_TEST_TMPDIR/journal
	: >"$log"
	# systemd names the stream that is our stderr: here, this file
	JOURNAL_STREAM=$(stat -L -c %d:%i "$log") HELPIM_BACKOFF_MAX=1 \
		helpim-run 2>>"$log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	wait_until 20 grep -q 'helpim-watch: info: online' "$log"
	wait_until 20 prog_pid watch >/dev/null
	kill -9 "$(prog_pid watch)"
	wait_until 20 grep -q 'restarting the pipeline' "$log"
	run_stop
	run -0 cat "$log"
	assert_line "<30>helpim-run: info: starting"
	assert_line --regexp '^<30>watch: helpim-watch: info: online as '
	assert_line "<28>helpim-run: warning: helpim-watch exited 137"
	assert_line "<30>helpim-run: info: stopping"
	# every line has its priority, none the time
	refute_line --regexp '^[^<]'
	refute_line --regexp '^<[0-9]+>[0-9]{4}-'
	# a stream that is not ours is left alone
	JOURNAL_STREAM=1:1 run -0 helpim-run -n
	: >"$log"
	JOURNAL_STREAM=1:1 helpim-run 2>>"$log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	wait_until 20 grep -q 'helpim-run: info: starting' "$log"
	run_stop
	run -0 grep -c '^[0-9-]*T[0-9:]*Z helpim-run: info: ' "$log"
	assert_output 2
}

@test "helpim-run -q and -v reach every program" {
	local log=$BATS_TEST_TMPDIR/run.log p
	helpim-run -q 2>"$log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	wait_until 20 prog_pid watch >/dev/null
	wait_until 20 pool_full
	run_stop
	run -1 grep ': info: ' "$log"
	helpim-run -v 2>"$log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	for p in rooms watch setstatus; do
		wait_until 20 prog_pid "$p" >/dev/null
		run -0 tr '\0' ' ' <"/proc/$(prog_pid "$p")/cmdline"
		assert_output --partial ' -v'
	done
	wait_until 20 grep -q '^[0-9TZ:-]* watch: helpim-watch: debug: ' "$log"
	run_stop
}

@test "log levels: info by default, none with -q, debug with -v" {
	local c=$BATS_FILE_TMPDIR/lv.conf
	{ cat "$HELPIM_CONF"; echo 'instance = lv'; } >"$c"
	chmod 600 "$c"
	expire() {
		# seen by the pipeline (seen_at) after helpim-setstatus starts
		sql "INSERT INTO helpim.rooms (jid, password, instance, status,
		    staff_claimed_at, seen_at) VALUES ('$1@rooms.localhost', 'x',
		    'lv', 'staff_claimed', now() - interval '1 hour',
		    now() + interval '1 hour')"
	}
	expire lv1
	# the sweep runs once the events have begun, about once a second
	run -0 --separate-stderr helpim-setstatus -f "$c" < <(echo 'helpim-events|1'; sleep 1.5)
	assert_equal "$stderr" "helpim-setstatus: info: sweep: 1 rooms expired or asked to close"
	expire lv2
	run -0 --separate-stderr helpim-setstatus -q -f "$c" < <(echo 'helpim-events|1'; sleep 1.5)
	assert_equal "$stderr" ""
	run -0 status_is lv2@rooms.localhost available
	run -0 --separate-stderr helpim-setstatus -q -v -f "$c" <<-EOF
	helpim-events|1
	join|2026-11-25T13:37:00.000Z|lv2@rooms.localhost|1|Anna|
	EOF
	assert_equal "$stderr" "helpim-setstatus: debug: line 2: join lv2@rooms.localhost: staff_waiting"
}
