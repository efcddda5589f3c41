#!/usr/bin/env bats
# helpim-chat, the participant of the tests and the demo: what it says, what
# it shows of the others, its help and its errors; and the one signal
# policy: SIGHUP stops the XMPP programs as cleanly as SIGTERM and SIGINT
# do, out of their rooms first.

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

err() {
	cat "$BATS_FILE_TMPDIR/$1.err"
}

@test "say, and what the others say: one line each, percent-encoded" {
	chat_start anna
	chat_start ben
	enter anna "$R1" "$P1"
	enter ben "$R1" "$P1"
	chat anna "say hello | 100% done"
	chat_wait ben "^message $R1 anna hello %7C 100%25 done\$"
	chat ben "say $R1 two  words"
	chat_wait anna "^message $R1 ben two  words\$"
	# a message of two lines stays on one
	chat anna "raw <message to='$R1' type='groupchat'><body>one&#10;two</body></message>"
	chat_wait ben "^message $R1 anna one%0Atwo\$"
	chat anna "info $R1"
	chat_wait anna "^info $R1 done"
	# the room sends one's own messages back: not shown again
	run -0 cat "$BATS_FILE_TMPDIR/anna.out"
	refute_line --partial "message $R1 anna "
	chat_stop anna
	chat_stop ben
}

@test "-h and help list the commands; a typo names itself and points to help" {
	run -0 helpim-chat -h
	assert_line --index 0 "usage: helpim-chat [-h] [-d domain] [-H host] [-j jid] [-p port]"
	assert_line --regexp '^  say \[ROOM\] TEXT +say TEXT in the room$'
	run -100 helpim-chat -x
	assert_output --partial "usage: helpim-chat [-h]"
	# the host's old letter, for a release more
	run -100 helpim-chat -s 127.0.0.1 -x
	assert_line --index 0 "helpim-chat: warning: -s is now -H; -s goes in the next release"
	chat_start cleo
	chat cleo "sya hello"
	chat cleo "join $R1"
	chat cleo help
	chat_wait cleo '^  quit +leave the rooms and exit$'
	run -0 err cleo
	assert_line 'helpim-chat: warning: line 1: unknown command "sya"; type help for the commands'
	assert_line 'helpim-chat: warning: line 2: usage: join ROOM NICK [PASSWORD]'
	chat_stop cleo
}

@test "leave, say and nick without ROOM take the only room, and ask for one among several" {
	chat_start dora
	chat_start eve
	chat dora leave
	enter eve "$R1" "$P1"
	enter dora "$R1" "$P1"
	enter dora "$R2" "$P2"
	chat dora "say hello"
	chat dora "leave nowhere@$MUC_DOMAIN"
	chat dora "leave $R2"
	chat_wait dora "^left $R2\$"
	chat dora "say hello"
	chat_wait eve "^message $R1 dora hello\$"
	chat dora "nick dora2"
	chat_wait dora "^nick $R1 dora2\$"
	chat dora leave
	chat_wait dora "^left $R1\$"
	chat_wait eve "^occupant $R1 dora2 left"
	run -0 err dora
	assert_line 'helpim-chat: warning: line 1: leave: in no room'
	assert_line 'helpim-chat: warning: line 4: say: in several rooms: name one'
	assert_line "helpim-chat: warning: line 5: leave: not in nowhere@$MUC_DOMAIN"
	assert_equal "${#lines[@]}" 3
	chat_stop dora
	chat_stop eve
}

@test "joins and leaves written at once: each stay is shown, the last one stays" {
	local r=$R1 p=$P1
	chat_start cora
	# one write: each join goes out before the stay before it is answered
	chat cora "$(printf 'join %s c%d %s\nleave %s\n' \
	    "$r" 1 "$p" "$r" "$r" 2 "$p" "$r")
join $r c3 $p"
	chat_wait cora "^joined $r c3\$"
	run -0 grep -E '^(joined|left) ' "$BATS_FILE_TMPDIR/cora.out"
	assert_output "joined $r c1
left $r
joined $r c2
left $r
joined $r c3"
	# a join while in, with no leave before it: a new nick
	chat cora "join $r c4 $p"
	chat_wait cora "^nick $r c4\$"
	# still in the room: leave without ROOM takes it
	chat cora leave
	wait_until 10 test "$(grep -c "^left $r\$" \
	    "$BATS_FILE_TMPDIR/cora.out")" -eq 3
	run -0 err cora
	assert_output ''
	chat_stop cora
}

@test "a refused join and a join behind it, written at once: the second gets in" {
	chat_start dan
	chat dan "join $R1 d1 wrong-$P1
join $R1 d2 $P1"
	chat_wait dan "^joined $R1 d2\$"
	run -0 grep -E "^(error|joined) " "$BATS_FILE_TMPDIR/dan.out"
	assert_output "error $R1 not-authorized
joined $R1 d2"
	# the room is known: leave without ROOM takes it
	chat dan leave
	chat_wait dan "^left $R1\$"
	run -0 err dan
	assert_output ''
	chat_stop dan
}

@test "quit: the rooms answer the leave before the participant goes offline" {
	chat_start finn
	enter finn "$R1" "$P1"
	enter finn "$R2" "$P2"
	chat finn quit
	wait_until 10 grep -qx offline "$BATS_FILE_TMPDIR/finn.out"
	run -0 cat "$BATS_FILE_TMPDIR/finn.out"
	assert_line "left $R1"
	assert_line "left $R2"
	assert_line --index -1 offline
	chat_stop finn
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

@test "SIGHUP: helpim-chat leaves its rooms and exits 0" {
	local d=$BATS_FILE_TMPDIR pid rc=0
	chat_start staff
	enter staff "$R1" "$P1"
	chat_start client
	enter client "$R1" "$P1"
	pid=$(cat "$d/client.pid")
	kill -HUP "$pid"
	chat_wait staff "^occupant $R1 client left"
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run -0 cat "$d/client.out"
	assert_line "left $R1"
	assert_line --index -1 offline
	chat_stop client
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
