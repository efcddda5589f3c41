#!/usr/bin/env bats
# Two instances on one XMPP server and one database, each under its own
# helpim-run: a dead instance's open rooms are adopted by the live one, and
# an instance paused past its lease comes back fenced and stands down.
# Prosody and ejabberd.

load helper

setup_file() {
	sandbox_up
	A=$(conf_with a instance=a nick=bot-a lease=4s grace=2s pool_size=3)
	B=$(conf_with b instance=b nick=bot-b lease=4s grace=2s pool_size=3)
	export A B
	inst_start a "$A"
	wait_until 30 pool_of a
	inst_start b "$B"
	wait_until 30 pool_of b
	chat_start probe
}

teardown_file() {
	local n
	chat_stop probe
	for n in a b; do
		[ -e "$BATS_FILE_TMPDIR/$n.pgid" ] || continue
		kill_group TERM "$n" 2>/dev/null || true
		kill_group CONT "$n" 2>/dev/null || true
	done
	sleep 2
	sandbox_down
}

teardown() {
	local n
	[ -n "${BATS_TEST_COMPLETED:-}" ] && return 0
	for n in a b; do
		[ ! -s "$BATS_FILE_TMPDIR/$n.log" ] ||
			tail -n 20 "$BATS_FILE_TMPDIR/$n.log" | sed "s/^/$n.log: /" >&2
	done
}

# inst_start NAME CONF: helpim-run of that instance in a session of its own
inst_start() {
	session_start "$1" env HELPIM_CONF="$2" HELPIM_BACKOFF_MAX=1 helpim-run
}

pool_of() {
	[ "$(sql "SELECT count(*) FROM helpim.rooms WHERE instance = '$1'
		AND status = 'available'")" -ge 3 ]
}

open_of() {
	sql "SELECT count(*) FROM helpim.rooms WHERE instance = '$1'
		AND status NOT IN ('closed', 'lost')"
}

instance_is() {
	[ "$(sql "SELECT instance FROM helpim.rooms WHERE jid = '$1'")" = "$2" ]
}

none_open() { [ "$(open_of "$1")" -eq 0 ]; }

# room_of NAME: a free room of that instance, as ROOM and PASS
room_of() {
	local out
	out=$(sql "SELECT jid || ' ' || password FROM helpim.rooms
		WHERE instance = '$1' AND status = 'available' ORDER BY id LIMIT 1")
	ROOM=${out% *}
	PASS=${out#* }
}

@test "kill -9 of an instance: the other adopts its rooms within lease + 5 s, chats go on" {
	room_of a
	R1=$ROOM P1=$PASS
	chat_start staff
	chat staff "join $R1 Staff $P1"
	wait_until 10 status_is "$R1" staff_waiting
	chat_start client
	chat client "join $R1 Client $P1"
	wait_until 10 status_is "$R1" chatting
	room_of a
	R2=$ROOM
	chat staff "join $R2 Staff2 $PASS"
	wait_until 10 status_is "$R2" staff_waiting

	kill_group KILL a
	SECONDS=0
	# counted once a is dead: its refiller may publish a room up to then
	sleep 0.5
	open=$(open_of a)
	# a leave while nobody watches the room
	chat client "leave $R1"
	# nothing is claimed from the dead instance once its lease ran out
	wait_until 10 sql "SELECT 1 / count(*) FROM helpim.instances
		WHERE instance = 'a' AND (until < now() OR adopted_by IS NOT NULL)"
	for _ in 1 2 3; do
		out=$(helpim-webapp staff "s-dead-$_" || true)
		[ -z "$out" ] || run -0 sql "SELECT instance FROM helpim.rooms WHERE jid = '${out% *}'"
		[ -z "$out" ] || refute_output a
	done
	wait_until 15 none_open a
	echo "# $open rooms adopted ${SECONDS} s after the kill (lease 4 s)" >&3
	[ "$SECONDS" -le 9 ]
	run -0 sql "SELECT adopted_by FROM helpim.instances WHERE instance = 'a'"
	assert_output b
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE event = 'adopted' AND detail = 'a'"
	assert_output "$open"
	# the leave made during the outage is applied; the chat goes on
	wait_until 10 status_is "$R1" closing
	wait_until 10 status_is "$R2" staff_waiting
	wait_until 10 counted "$R1"
	wait_until 10 counted "$R2"
	# the chat that ends is closed and its room destroyed by the adopter
	chat staff "leave $R1"
	wait_until 15 status_is "$R1" closed
	chat staff "leave $R2"
	wait_until 15 status_is "$R2" closed
	chat_stop client
	chat_stop staff
}

@test "an instance paused past its lease comes back fenced, writes nothing and stands down" {
	inst_start a "$A"
	wait_until 30 pool_of a
	epoch=$(sql "SELECT epoch FROM helpim.instances WHERE instance = 'a'")
	room_of a
	R3=$ROOM
	chat_start staff
	chat staff "join $R3 Staff3 $PASS"
	wait_until 10 status_is "$R3" staff_waiting

	kill_group STOP a
	wait_until 15 instance_is "$R3" b
	# while a sleeps, the room is b's: a join is b's to see (ejabberd
	# counts a's sleeping bot against the room's maximum: the client
	# comes once a has stood down)
	chat_start client
	[ "$XMPP" = ejabberd ] || chat client "join $R3 Client3 $PASS"
	[ "$XMPP" = ejabberd ] || wait_until 10 status_is "$R3" chatting
	t=$(sql "SELECT now()")
	kill_group CONT a

	# a stands down and starts again as a fresh instance with a new epoch
	wait_until 20 grep -q "standing down" "$BATS_FILE_TMPDIR/a.log"
	if [ "$XMPP" = ejabberd ]; then
		wait_until 10 counted "$R3"
		chat client "join $R3 Client3 $PASS"
		wait_until 10 status_is "$R3" chatting
	fi
	wait_until 30 sql "SELECT 1 / count(*) FROM helpim.instances
		WHERE instance = 'a' AND epoch > $epoch + 1 AND adopted_by IS NULL"
	wait_until 30 pool_of a
	# a wrote nothing into the room it lost, and kicked nobody
	run -0 sql "SELECT status, chatters, instance FROM helpim.rooms WHERE jid = '$R3'"
	assert_output "chatting|2|b"
	run -1 grep -E "^kicked $R3" "$BATS_FILE_TMPDIR/staff.out" "$BATS_FILE_TMPDIR/client.out"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = '$R3' AND at > '$t'
		AND event IN ('leave', 'kick', 'destroyed', 'gone')"
	assert_output 0
	# every open room has exactly one bot on the server
	for r in $(sql "SELECT jid FROM helpim.rooms WHERE status NOT IN ('closed', 'lost')"); do
		wait_until 10 counted "$r"
	done
	chat_stop client
	chat_stop staff
	wait_until 15 status_is "$R3" closed
}
