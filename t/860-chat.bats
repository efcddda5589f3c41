#!/usr/bin/env bats
# The one signal policy: SIGHUP stops the programs as cleanly as SIGTERM and
# SIGINT do, the XMPP ones out of their rooms first.

load helper

setup_file() {
	sandbox_up
	helpim-mkrooms 2>/dev/null
	R1=$(sql "SELECT jid FROM helpim.rooms ORDER BY id LIMIT 1")
	P1=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$R1'")
	R2=$(sql "SELECT jid FROM helpim.rooms ORDER BY id OFFSET 1 LIMIT 1")
	P2=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$R2'")
	export R1 P1 R2 P2
}

teardown_file() { sandbox_down; }

# enter NAME ROOM PASSWORD: NAME joins ROOM
enter() {
	chat "$1" "join $2 $1 $3"
	chat_wait "$1" "^joined $2 $1\$"
}

# bot_wait REGEX: until helpim-watch has written a line that matches
bot_wait() {
	wait_until 10 grep -qE "$1" "$BATS_FILE_TMPDIR/watch.out"
}

@test "SIGHUP: helpim-watch leaves its rooms and exits 0" {
	local d=$BATS_FILE_TMPDIR pid fd rc=0
	mkfifo "$d/watch.in"
	helpim-watch <"$d/watch.in" >"$d/watch.out" 2>"$d/watch.err" 3>&- &
	pid=$!
	exec {fd}>"$d/watch.in"
	printf 'helpim-feed|1\nwatch|%s|available|%s\n' "$R1" "$P1" >&"$fd"
	bot_wait "^snapshot\|.*\|$R1\|0$"
	chat_start staff
	enter staff "$R1" "$P1"
	bot_wait "^join\|.*\|$R1\|1\|staff\|"
	kill -HUP "$pid"
	chat_wait staff "^occupant $R1 helpim left"
	wait "$pid" || rc=$?
	exec {fd}>&-
	assert_equal "$rc" 0
	run -0 cat "$d/watch.err"
	assert_line "helpim-watch: info: signal: leaving the rooms"
	chat_stop staff
}

@test "SIGHUP: helpim-run stops every program and leaves nothing behind" {
	local pid rc=0
	run_start
	pid=$(cat "$BATS_FILE_TMPDIR/run.pid")
	run -0 ours "$HELPIM_CONF"
	assert [ "${#lines[@]}" -ge 3 ]
	kill -HUP "$pid"
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	wait_until 10 sh -c "[ -z \"\$(ps -o pid= --ppid $pid)\" ]" || true
	run -0 ours "$HELPIM_CONF"
	assert_output ""
	rm -f "$BATS_FILE_TMPDIR/run.pid"
}
