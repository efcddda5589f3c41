#!/usr/bin/env bats
# PostgreSQL as a primary and a streaming standby behind one libpq
# connection string: the primary dies mid-chat, the standby is promoted,
# every program comes back to it, and what happened meanwhile reaches it.

load helper

setup_file() {
	sandbox_up
	helpim-sandbox standby "$SB"
	sed -i "s|^db = .*|db = host=$SB/pg,$SB/pg2 dbname=helpim user=postgres target_session_attrs=read-write|" \
		"$HELPIM_CONF"
	HELPIM_BACKOFF_MAX=1 run_start
}

teardown_file() {
	run_stop
	sandbox_down
}

# on the standby: the rows of the primary arrive there
replicated() {
	[ "$(PGHOST=$SB/pg2 sql "SELECT status FROM helpim.rooms WHERE jid = '$1'")" = "$2" ]
}

@test "the primary dies mid-chat: the standby takes over, nothing is lost" {
	claim staff s-1
	chat_start staff
	chat staff "join $ROOM Staff $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client c-1
	chat_start client
	chat client "join $ROOM Client $PASS"
	wait_until 10 status_is "$ROOM" chatting
	wait_until 10 replicated "$ROOM" chatting

	helpim-sandbox stop-db "$SB" immediate
	# during the switch: the client leaves
	chat client "leave $ROOM"
	chat_wait client "^left $ROOM"
	helpim-sandbox promote "$SB"
	export PGHOST=$SB/pg2
	run -0 sql "SELECT pg_is_in_recovery()"
	assert_output f

	# every program came back to the new primary: the leave is there
	wait_until 30 status_is "$ROOM" closing
	chat staff "leave $ROOM"
	wait_until 20 status_is "$ROOM" closed
	run -0 sql "SELECT string_agg(new_status, ' ' ORDER BY id) FROM helpim.room_events
		WHERE jid = '$ROOM' AND new_status IS DISTINCT FROM old_status"
	assert_output "staff_claimed staff_waiting client_claimed chatting closing closed"
	# nothing was skipped, and the pool is refilled on the new primary
	run -1 grep -i skipped "$BATS_FILE_TMPDIR/run.log"
	wait_until 30 pool_full
	chat_stop client
	chat_stop staff
}
