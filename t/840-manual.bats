#!/usr/bin/env bats
# The examples of helpim(7) run: the webapp's SQL, as the webapp's role.

load helper

setup_file() {
	sandbox_up
	psql -XAtq -v ON_ERROR_STOP=1 -f "$top/etc/postgresql-roles.sql" >/dev/null
	sql "CREATE ROLE web1 LOGIN IN ROLE helpim_webapp"
	# the webapp's example, unescaped from mdoc
	awk '/^\.Ss The webapp/ { s = 1 } s && /^\.Ed/ { exit }
	    s == 2 { print } s && /^\.Bd -literal/ { s = 2 }' \
		"$top/man/helpim.7" | sed 's/\\e/\\/g' >"$BATS_FILE_TMPDIR/webapp.sql"
	run_start
}
teardown_file() {
	run_stop
	sandbox_down
}

@test "the webapp's example is there: three calls" {
	run -0 grep -c '^SELECT' "$BATS_FILE_TMPDIR/webapp.sql"
	assert_output 3
}

@test "the webapp's example runs: a staff room, a client room, a close" {
	local room pass
	# the staff member's claim
	run -0 psql -X -A -t -q -F ' ' -v ON_ERROR_STOP=1 -U web1 \
		-c "$(sed -n '1,/^SELECT/p' "$BATS_FILE_TMPDIR/webapp.sql")"
	assert_output --regexp '^helpim-[a-z2-7]+@rooms\.localhost [^ ]+$'
	room=${output% *}
	pass=${output#* }
	run -0 status_is "$room" staff_claimed
	chat_start staff
	chat staff "join $room Anna $pass"
	wait_until 10 status_is "$room" staff_waiting
	# the client's claim and the close, in one psql session
	sed '1,/^SELECT/d' "$BATS_FILE_TMPDIR/webapp.sql" \
		>"$BATS_FILE_TMPDIR/client.sql"
	run -0 psql -X -A -t -q -v ON_ERROR_STOP=1 -U web1 \
		-f "$BATS_FILE_TMPDIR/client.sql"
	assert_output t
	run -0 sql "SELECT client_ref, close_reason FROM helpim.rooms
	    WHERE jid = '$room'"
	assert_output "visitor-7|staff ended the chat"
	chat_wait staff "^(kicked|destroyed) $room"
	wait_until 10 status_is "$room" closed
	chat_stop staff
}
