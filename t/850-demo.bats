#!/usr/bin/env bats
# make demo, as the README gives it: the bot for real on a private Prosody and
# PostgreSQL, a whole chat played by hand, and Ctrl-C stops everything.

load helper

@test "make demo: the pool fills, a chat goes through, Ctrl-C leaves nothing" {
	local out=$BATS_TEST_TMPDIR/demo.out d pg
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
	(
		# shellcheck disable=SC1091
		. "$d/env"
		export HELPIM_CONF=$d/helpim.conf
		wait_until 60 pool_full
		# the chat of the README, by hand
		claim staff web-1
		chat_start staff
		chat staff "join $ROOM Staff $PASS"
		wait_until 20 status_is "$ROOM" staff_waiting
		claim client web-2
		chat_start client
		chat client "join $ROOM Client $PASS"
		wait_until 20 status_is "$ROOM" chatting
		chat client "leave $ROOM"
		chat staff "leave $ROOM"
		wait_until 30 status_is "$ROOM" closed
		chat_stop staff
		chat_stop client
	)
	run -0 ours "$d/helpim.conf" "$d"
	assert [ "${#lines[@]}" -ge 5 ]
	# Ctrl-C
	kill -INT -- "-$pg"
	wait_until 60 sh -c "! kill -0 $pg 2>/dev/null"
	run -0 cat "$out"
	assert_line 'helpim-demo: stopped; nothing left running'
	run -0 ours "$d/helpim.conf" "$d"
	assert_output ""
	assert [ ! -e "$d" ]
}
