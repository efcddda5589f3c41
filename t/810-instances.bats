#!/usr/bin/env bats
# Two bot instances, a and b, share one database and one XMPP account; each
# only ever touches its own rooms: creation, joins, closes, sweeps.

load helper

setup_file() {
	sandbox_up
	for i in a b; do
		{ cat "$SB/helpim.conf"; echo "instance = $i"; echo "nick = bot-$i"; } \
			>"$BATS_FILE_TMPDIR/$i.conf"
		chmod 600 "$BATS_FILE_TMPDIR/$i.conf"
	done
}
teardown_file() {
	stop_inst a
	stop_inst b
	sandbox_down
}

# start_inst NAME: helpim-run of instance NAME, its log in NAME.log
start_inst() {
	HELPIM_CONF=$BATS_FILE_TMPDIR/$1.conf helpim-run \
		2>>"$BATS_FILE_TMPDIR/$1.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/$1.run"
}

stop_inst() {
	local pid
	[ -f "$BATS_FILE_TMPDIR/$1.run" ] || return 0
	pid=$(cat "$BATS_FILE_TMPDIR/$1.run")
	kill "$pid" 2>/dev/null || true
	wait_until 10 gone "$pid" || true
	rm -f "$BATS_FILE_TMPDIR/$1.run"
}

count() {
	sql "SELECT count(*) FROM helpim.rooms WHERE instance = '$1' AND $2"
}

full() { [ "$(count "$1" "status = 'available'")" = 5 ]; }

# room_of NAME: an available room of instance NAME; sets ROOM and PASS
room_of() {
	local r
	r=$(sql "SELECT jid || ' ' || password FROM helpim.rooms
	    WHERE instance = '$1' AND status = 'available' ORDER BY id LIMIT 1")
	ROOM=${r% *}
	PASS=${r#* }
}

@test "each instance fills its own pool, with its own sessions" {
	start_inst a
	start_inst b
	wait_until 30 full a
	wait_until 30 full b
	sleep 3		# a few more refills: neither counts the other's rooms
	run -0 count a "status = 'available'"
	assert_output 5
	run -0 count b "status = 'available'"
	assert_output 5
	run -0 helpim-rooms -P -f "$BATS_FILE_TMPDIR/a.conf"
	assert_equal "$(grep -c '^watch|' <<<"$output")" 5
	# both watch sessions live on: neither replaced the other
	run -1 grep -c 'Replaced\|conflict' "$BATS_FILE_TMPDIR/a.log" \
		"$BATS_FILE_TMPDIR/b.log"
	refute_output --regexp ':[1-9]'
}

@test "a room of a is occupied by a's bot only, and b's by b's" {
	local ra rb
	chat_start staff
	room_of a
	ra=$ROOM
	chat staff "join $ROOM Anna $PASS"
	chat_wait staff "^joined $ROOM Anna"
	room_of b
	rb=$ROOM
	chat staff "join $ROOM Bert $PASS"
	chat_wait staff "^joined $ROOM Bert"
	wait_until 10 status_is "$ra" staff_waiting
	wait_until 10 status_is "$rb" staff_waiting
	run -0 grep "^occupant $ra " "$BATS_FILE_TMPDIR/staff.out"
	assert_output "occupant $ra bot-a joined"
	run -0 grep "^occupant $rb " "$BATS_FILE_TMPDIR/staff.out"
	assert_output "occupant $rb bot-b joined"
	chat staff "leave $ra"
	chat staff "leave $rb"
	wait_until 10 status_is "$ra" closed
	wait_until 10 status_is "$rb" closed
	chat_stop staff
}

@test "a close request for b's room is b's job: a stopped b leaves it open" {
	local rb
	stop_inst b
	room_of b
	rb=$ROOM
	run -0 helpim-webapp close "$rb" test
	sleep 3
	run -0 status_is "$rb" available
	start_inst b
	wait_until 20 status_is "$rb" closed
	run -0 sql "SELECT count(*) FROM helpim.room_events
	    WHERE jid = '$rb' AND event = 'destroyed'"
	assert_output 1
}

@test "a's sweep leaves b's expired claims alone" {
	local rb
	wait_until 30 full b
	stop_inst b
	room_of b
	rb=$ROOM
	sql "UPDATE helpim.rooms SET status = 'staff_claimed',
	    staff_claimed_at = now() - interval '1 hour' WHERE jid = '$rb'"
	sleep 3		# a's helpim-setstatus sweeps about once a second
	run -0 status_is "$rb" staff_claimed
	start_inst b
	wait_until 20 status_is "$rb" available
	run -0 sql "SELECT count(*) FROM helpim.room_events
	    WHERE jid = '$rb' AND event = 'staff_claim_expired'"
	assert_output 1
}

@test "stopping b leaves a's rooms and pipeline alone" {
	local ra
	wait_until 30 full a
	stop_inst b
	room_of a
	ra=$ROOM
	chat_start client
	chat client "join $ra Cleo $PASS"
	chat_wait client "^joined $ra Cleo"
	wait_until 10 status_is "$ra" staff_waiting
	wait_until 30 full a
	chat_stop client
	wait_until 10 status_is "$ra" closed
	run -1 grep 'exited' "$BATS_FILE_TMPDIR/a.log"
}

@test "retiring b as helpim(7) says: pool_size 0, its free rooms closed" {
	stop_inst b
	sed -i 's/^pool_size = .*/pool_size = 0/' "$BATS_FILE_TMPDIR/b.conf"
	start_inst b
	sql "SELECT helpim.request_close(jid, 'retired') FROM helpim.rooms
	    WHERE instance = 'b' AND status = 'available'" >/dev/null
	wait_until 20 sh -c "[ \"\$(psql -XAtq -c \"SELECT count(*) FROM helpim.rooms
	    WHERE instance = 'b' AND status NOT IN ('closed', 'lost')\")\" = 0 ]"
	sleep 3		# a few refills of b: nothing new
	run -0 count b "status NOT IN ('closed', 'lost')"
	assert_output 0
	run -0 count b "status = 'lost'"
	assert_output 0
	wait_until 30 full a
}
