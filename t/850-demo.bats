#!/usr/bin/env bats
# make demo, as the README gives it: the bot for real on a private Prosody and
# PostgreSQL, a whole chat with messages through the two lines it prints, the
# statuses beside it, and Ctrl-C stops everything.

load helper

# side_start staff|client DIR: that line of the demo, its input a fifo held
# open until side_stop
side_start() {
	local f=$BATS_FILE_TMPDIR/$1 fd
	mkfifo "$f.in"
	helpim-demo "$1" "$2" <"$f.in" >"$f.out" 2>&1 3>&- &
	echo $! >"$f.pid"
	exec {fd}>"$f.in"
	echo "$fd" >"$f.fd"
}

side() {
	printf '%s\n' "$2" >&"$(cat "$BATS_FILE_TMPDIR/$1.fd")"
}

side_wait() {
	wait_until 30 grep -qE "$2" "$BATS_FILE_TMPDIR/$1.out" || {
		echo "side_wait $1 '$2': got:" >&2
		cat "$BATS_FILE_TMPDIR/$1.out" >&2
		return 1
	}
}

# side_stop NAME: Ctrl-D; the side's exit status in $rc
side_stop() {
	local f=$BATS_FILE_TMPDIR/$1
	eval "exec $(cat "$f.fd")>&-"
	rc=0
	wait "$(cat "$f.pid")" || rc=$?
}

@test "make demo: the pool fills, a chat with messages goes through, Ctrl-C leaves nothing" {
	local out=$BATS_TEST_TMPDIR/demo.out d pg room rc
	# a session of its own, as a terminal would give it; Ctrl-C is a SIGINT
	# to the foreground process group (a test's background job would
	# ignore it otherwise)
	setsid env --default-signal=INT make -s -C "$top" demo >"$out" 2>&1 3>&- &
	wait_until 120 grep -q 'Ctrl-C stops everything' "$out"
	# make leads the session and its process group
	pg=$(ps -o sid= -p "$(pgrep -f "^make -s -C $top demo\$" | head -1)" | tr -d ' ')
	assert [ -n "$pg" ]
	d=$(sed -n 's/.*PostgreSQL in \(.*\)\/pg\.$/\1/p' "$out")
	assert [ -d "$d" ]
	# the two lines to paste
	run -0 grep -xE " +$top/bin/helpim-demo (staff|client) $d" "$out"
	assert_equal "${#lines[@]}" 2
	(
		# shellcheck disable=SC1091
		. "$d/env"
		export HELPIM_CONF=$d/helpim.conf
		wait_until 60 pool_full
	)
	# the client comes first and waits in the queue
	side_start client "$d"
	side_wait client '^helpim-demo: in the queue at 1;'
	side_start staff "$d"
	side_wait staff '^joined [^ ]+ staff$'
	room=$(sed -n 's/^joined \([^ ]*\) staff$/\1/p' "$BATS_FILE_TMPDIR/staff.out")
	side_wait client "^joined $room client\$"
	wait_until 20 grep -qx "status $room chatting 2" "$out"
	side staff "say hello, how can I help?"
	side_wait client "^message $room staff hello, how can I help\?\$"
	side client "say 100% anonymous | right?"
	side_wait staff "^message $room client 100%25 anonymous %7C right\?\$"
	side client "leave"
	side_wait client "^left $room\$"
	wait_until 20 grep -qx "status $room closing 1" "$out"
	side_stop staff
	assert_equal "$rc" 0
	run -0 cat "$BATS_FILE_TMPDIR/staff.out"
	assert_line "left $room"
	assert_line --index -1 offline
	wait_until 30 grep -qx "status $room closed 0" "$out"
	side_stop client
	assert_equal "$rc" 0
	# the statuses, in order, beside the chat
	run -0 grep -E "^status $room " "$out"
	assert_line --index 0 "status $room staff_claimed 0"
	assert_line "status $room staff_waiting 1"
	assert_line "status $room client_claimed 1"
	assert_line --index -1 "status $room closed 0"
	# the bot never saw the words: not in its logs, not in the database
	run -0 cat "$out"
	refute_output --partial "anonymous"
	run -1 sh -c "PGHOST=$d/pg pg_dump -U postgres helpim | grep -e anonymous -e 'how can I help'"
	run -0 ours "$d/helpim.conf" "$d"
	assert [ "${#lines[@]}" -ge 5 ]
	# Ctrl-C
	kill -INT -- "-$pg"
	wait_until 60 gone "$pg"
	run -0 cat "$out"
	assert_line 'helpim-demo: stopped; nothing left running'
	run -0 ours "$d/helpim.conf" "$d"
	assert_output ""
	assert [ ! -e "$d" ]
}

@test "helpim-demo: usage, and a side without a demo" {
	run -100 helpim-demo staff
	assert_output "usage: helpim-demo
       helpim-demo staff|client dir [nick]"
	run -100 helpim-demo visitor /tmp
	run -100 helpim-demo client "$BATS_TEST_TMPDIR"
	assert_output "helpim-demo: $BATS_TEST_TMPDIR: no demo there"
}
