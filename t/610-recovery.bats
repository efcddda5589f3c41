#!/usr/bin/env bats
# Crash recovery: kill any program at any moment, restart the XMPP server or
# the database; the database comes back to the truth by itself.

load helper

setup_file() {
	sandbox_up
	# a longer grace, so that a kill can land while an empty room waits
	sed -i 's/^grace = .*/grace = 3s/' "$HELPIM_CONF"
	HELPIM_BACKOFF_MAX=1 run_start
}

teardown_file() {
	run_stop
	sandbox_down
}

# on_server ROOM: the room exists (0) or not (1) on the XMPP server
on_server() {
	local f=$BATS_FILE_TMPDIR/probe.out n
	n=$(wc -l <"$f")
	chat probe "info $1"
	wait_until 10 sh -c "tail -n +$((n + 1)) '$f' | grep -qE '^(info $1 done|error $1 )'" ||
		return 2
	! tail -n +$((n + 1)) "$f" | grep -q "^error $1 "
}

gone_from_server() {
	local rc=0
	on_server "$1" || rc=$?
	[ "$rc" -eq 1 ]
}

# The invariants: no open room missing on the server, none with another
# number of chatters there, no closed room on it, no empty room chatting.
truthful() {
	local r
	for r in $(sql "SELECT jid FROM helpim.rooms WHERE status NOT IN ('closed', 'lost')"); do
		on_server "$r" || { echo "open room $r missing on the server" >&2; return 1; }
		wait_until 10 counted "$r" || { counted "$r"; return 1; }
	done
	for r in $(sql "SELECT jid FROM helpim.rooms WHERE status = 'closed'
			AND closed_at > now() - interval '2 minutes'"); do
		! on_server "$r" || { echo "closed room $r still on the server" >&2; return 1; }
	done
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE status = 'chatting' AND chatters < 2"
	assert_output 0
}

chatting() {
	claim staff "s-$1"
	chat staff "join $ROOM Staff $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client "c-$1"
	chat client "join $ROOM Client $PASS"
	wait_until 10 status_is "$ROOM" chatting
}

kill_stage() {
	wait_until 20 prog_pid "$1" >/dev/null
	kill -9 "$(prog_pid "$1")"
	T0=$(date +%s.%N)
}

converged() {
	echo "# $1: converged in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }") s" >&3
}

# scenario VICTIM MOMENT
scenario() {
	chat_start probe
	chat_start staff
	chat_start client
	chatting "$1-$2"
	case $2 in
	mid-chat)
		kill_stage "$1"
		chat client "leave $ROOM"
		wait_until 30 status_is "$ROOM" closing
		converged "$1 killed mid-chat"
		chat staff "leave $ROOM"
		wait_until 30 status_is "$ROOM" closed ;;
	between-leaves)
		chat client "leave $ROOM"
		wait_until 10 status_is "$ROOM" closing
		kill_stage "$1"
		chat staff "leave $ROOM"
		wait_until 30 status_is "$ROOM" closed
		converged "$1 killed between the leaves" ;;
	awaiting-destroy)
		chat client "leave $ROOM"
		wait_until 10 status_is "$ROOM" closing
		chat staff "leave $ROOM"
		chat_wait staff "^left $ROOM"
		kill_stage "$1"
		wait_until 30 status_is "$ROOM" closed
		converged "$1 killed while an empty room awaits destruction" ;;
	esac
	wait_until 30 pool_full
	truthful
	chat_stop staff
	chat_stop client
	chat_stop probe
}

@test "kill -9 helpim-watch mid-chat" { scenario watch mid-chat; }
@test "kill -9 helpim-watch between the two leaves" { scenario watch between-leaves; }
@test "kill -9 helpim-watch while an empty room awaits destruction" { scenario watch awaiting-destroy; }
@test "kill -9 helpim-setstatus mid-chat" { scenario setstatus mid-chat; }
@test "kill -9 helpim-setstatus between the two leaves" { scenario setstatus between-leaves; }
@test "kill -9 helpim-setstatus while an empty room awaits destruction" { scenario setstatus awaiting-destroy; }
@test "kill -9 helpim-rooms mid-chat" { scenario rooms mid-chat; }
@test "kill -9 helpim-rooms between the two leaves" { scenario rooms between-leaves; }
@test "kill -9 helpim-rooms while an empty room awaits destruction" { scenario rooms awaiting-destroy; }

# The bot destroyed the empty room; helpim-setstatus died before it applied
# that: after the restart the room is gone from the server, and closed.
@test "kill -9 helpim-setstatus between the destroy and its event" {
	local pid
	chat_start probe
	chat_start staff
	chat_start client
	chatting destroy-lost
	chat client "leave $ROOM"
	chat staff "leave $ROOM"
	wait_until 10 sh -c "[ \"\$(psql -XAtqc \"SELECT status || chatters
		FROM helpim.rooms WHERE jid = '$ROOM'\")\" = closing0 ]"
	pid=$(prog_pid setstatus)
	kill -STOP "$pid"
	# the grace passes and the bot destroys the room; its event waits
	wait_until 30 gone_from_server "$ROOM"
	kill -9 "$pid"
	T0=$(date +%s.%N)
	wait_until 30 status_is "$ROOM" closed
	converged "setstatus killed after the destroy"
	run -0 sql "SELECT closed_at IS NOT NULL FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output t
	wait_until 30 pool_full
	truthful
	chat_stop staff
	chat_stop client
	chat_stop probe
}

@test "restarting the XMPP server ($XMPP) mid-chat: the chat ends, the pool survives" {
	chat_start staff
	chat_start client
	chatting prosody
	helpim-sandbox stop-xmpp "$SB"
	T0=$(date +%s.%N)
	helpim-sandbox start-xmpp "$SB"
	# the participants were disconnected: the room empties and is closed
	wait_until 60 status_is "$ROOM" closed
	converged "$XMPP restarted"
	wait_until 30 pool_full
	chat_start probe
	truthful
	chat_stop probe
}

@test "restarting PostgreSQL mid-chat: nothing is lost" {
	chat_start staff
	chat_start client
	chatting postgres
	helpim-sandbox stop-db "$SB"
	T0=$(date +%s.%N)
	chat client "leave $ROOM"
	sleep 1
	helpim-sandbox start-db "$SB"
	wait_until 60 status_is "$ROOM" closing
	converged "PostgreSQL restarted"
	chat staff "leave $ROOM"
	wait_until 30 status_is "$ROOM" closed
	wait_until 30 pool_full
	chat_start probe
	truthful
	chat_stop probe
}
