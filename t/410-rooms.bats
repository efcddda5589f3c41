#!/usr/bin/env bats
# helpim-rooms: the table, the feed, the follow, the summary.

load helper

setup_file() {
	sandbox_up
	sql "INSERT INTO helpim.rooms (jid, password, status, chatters, staff_nick, client_nick) VALUES
		('r1@rooms.localhost', 'pw|1%', 'available', 0, NULL, NULL),
		('r2@rooms.localhost', 'pw2', 'staff_waiting', 1, 'Anna', NULL),
		('r3@rooms.localhost', 'pw3', 'chatting', 2, 'Bert', 'guest'),
		('r4@rooms.localhost', 'pw4', 'closed', 0, 'Cleo', 'x');
	     INSERT INTO helpim.rooms (jid, password, instance)
		VALUES ('other@rooms.localhost', 'pw5', 'other');
	     UPDATE helpim.rooms SET staff_joined_at = now() - interval '42 seconds'
		WHERE jid = 'r2@rooms.localhost'"
}
teardown_file() { sandbox_down; }

@test "without options: a table of the open rooms, no passwords" {
	run -0 helpim-rooms
	assert_line --index 0 --regexp '^ROOM +STATUS +SINCE +AGE +CHATTERS +STAFF +CLIENT$'
	assert_line --index 1 --regexp '^r1@rooms.localhost +available +[0-9]+s +[0-9]+s +0 +- +-$'
	assert_line --index 2 --regexp '^r2@rooms.localhost +staff_waiting .* 1 +Anna +-$'
	assert_line --index 3 --regexp '^r3@rooms.localhost +chatting .* 2 +Bert +guest$'
	refute_output --partial pw
	refute_output --partial r4@
	refute_output --partial other@
}

@test "-P: the same rooms as feed lines" {
	run -0 helpim-rooms -P
	assert_output "helpim-feed|1
watch|r1@rooms.localhost|available|pw%7C1%25
watch|r2@rooms.localhost|staff_waiting|pw2|Anna
watch|r3@rooms.localhost|chatting|pw3|Bert|guest"
}

@test "-S: a summary in key=value lines" {
	run -0 helpim-rooms -S
	assert_line rooms_available=1
	assert_line rooms_staff_waiting=1
	assert_line rooms_chatting=1
	assert_line rooms_closed=1
	assert_line rooms_open=3
	assert_line pool_free=1
	assert_line chats=1
	assert_line close_pending=0
	assert_line --regexp '^staff_wait_max=4[2-9]$'
	assert_equal "$(echo "$output" | grep -c '^[a-z_]*=[0-9]*$')" 16
}

@test "usage and configuration" {
	run -100 helpim-rooms -x
	assert_line "usage: helpim-rooms [-FmnPqSv] [-f file]"
	run -100 helpim-rooms -P -S
	run -0 helpim-rooms -n
	run -100 helpim-rooms -f /nonexistent
	assert_output "helpim-rooms: error: /nonexistent: No such file or directory"
}

@test "the old letters: -c, -p, -s work a release more, with a warning" {
	run -0 helpim-rooms -n -c "$HELPIM_CONF"
	assert_output "helpim-rooms: warning: -c is now -f; -c goes in the next release"
	run -0 --separate-stderr helpim-rooms -p
	assert_line --index 0 "helpim-feed|1"
	assert_equal "$stderr" "helpim-rooms: warning: -p is now -P; -p goes in the next release"
	run -0 --separate-stderr helpim-rooms -s
	assert_line --partial "pool_free="
	assert_equal "$stderr" "helpim-rooms: warning: -s is now -S; -s goes in the next release"
	# -P and its old spelling are one mode, -S another
	run -100 helpim-rooms -P -s
}

@test "-f without a file, the old follow mode, says what it is now" {
	run -100 helpim-rooms -f
	assert_line "helpim-rooms: error: -f takes the configuration file; follow mode is -F"
	run -100 helpim-rooms -f -q
	assert_output "helpim-rooms: error: -f takes the configuration file; follow mode is -F"
}

@test "-F: the listing, then new rooms and close requests without a gap" {
	out=$BATS_TEST_TMPDIR/out
	helpim-rooms -F >"$out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	wait_until 5 grep -q '^watch|r3@' "$out"
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('r5@rooms.localhost', 'pw5');
	     SELECT pg_notify('helpim', 'watch r5@rooms.localhost')" >/dev/null
	wait_until 5 grep -q '^watch|r5@rooms.localhost|available|pw5$' "$out"
	run -0 helpim-webapp close r2@rooms.localhost 'staff|gone'
	wait_until 5 grep -q '^close|r2@rooms.localhost|staff%7Cgone$' "$out"
	# other instances' rooms and unknown rooms are not ours
	sql "SELECT pg_notify('helpim', 'watch other@rooms.localhost'),
		pg_notify('helpim', 'watch nosuch@rooms.localhost')" >/dev/null
	run -0 helpim-webapp close other@rooms.localhost bye
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('r6@rooms.localhost', 'pw6');
	     SELECT pg_notify('helpim', 'watch r6@rooms.localhost')" >/dev/null
	wait_until 5 grep -q '^watch|r6@' "$out"
	kill "$pid"
	wait "$pid" || true
	run -0 cat "$out"
	assert_output "helpim-feed|1
watch|r1@rooms.localhost|available|pw%7C1%25
watch|r2@rooms.localhost|staff_waiting|pw2|Anna
watch|r3@rooms.localhost|chatting|pw3|Bert|guest
watch|r5@rooms.localhost|available|pw5
close|r2@rooms.localhost|staff%7Cgone
watch|r6@rooms.localhost|available|pw6"
}

@test "-F: a room committed while the listing runs is not missed" {
	# a transaction that inserts and notifies, held open across the listing
	out=$BATS_TEST_TMPDIR/out
	coproc PSQL { psql -X -q -v ON_ERROR_STOP=1 3>&- 2>&1; }
	echo "BEGIN; INSERT INTO helpim.rooms (jid, password) VALUES ('r7@rooms.localhost', 'pw7');
		SELECT pg_notify('helpim', 'watch r7@rooms.localhost');" >&"${PSQL[1]}"
	helpim-rooms -F >"$out" 3>&- &
	pid=$!
	wait_until 5 grep -q '^watch|r3@' "$out"
	echo "COMMIT;" >&"${PSQL[1]}"
	wait_until 5 grep -q '^watch|r7@' "$out"
	# a second room shows that the first notification was read
	sql "INSERT INTO helpim.rooms (jid, password) VALUES ('r8@rooms.localhost', 'pw8');
	     SELECT pg_notify('helpim', 'watch r8@rooms.localhost')" >/dev/null
	wait_until 5 grep -q '^watch|r8@' "$out"
	kill "$pid"
	eval "exec ${PSQL[1]}>&-"
	wait "$pid" || true
	run -0 grep -c '^watch|r7@' "$out"
	assert_output 1
	run -0 grep -c '^close|r2@' "$out"
	assert_output 1
}

@test "-F: exits 0 when its reader goes away" {
	run -0 bash -c 'helpim-rooms -q -F | head -n 1; exit "${PIPESTATUS[0]}"'
	assert_output "helpim-feed|1"
}

# Last: it stops the database.
@test "-F: exits 111 when the database goes away" {
	out=$BATS_TEST_TMPDIR/out
	helpim-rooms -F >"$out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	wait_until 5 grep -q '^watch|r3@' "$out"
	helpim-sandbox stop-db "$SB"
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 111
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_output --partial "helpim-rooms: error: database: "
	run -111 helpim-rooms -P
	helpim-sandbox start-db "$SB"
}
