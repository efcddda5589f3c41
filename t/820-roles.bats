#!/usr/bin/env bats
# etc/postgresql-roles.sql: the bot's role runs the bot; the webapp's role
# may only claim rooms and request closes.

load helper

setup_file() {
	sandbox_up
	psql -XAtq -v ON_ERROR_STOP=1 -f "$top/etc/postgresql-roles.sql" >/dev/null
	sql "CREATE ROLE bot1 LOGIN IN ROLE helpim_bot"
	sql "CREATE ROLE web1 LOGIN IN ROLE helpim_webapp"
	sql "CREATE ROLE other LOGIN"
	sed 's/user=postgres/user=bot1/' "$HELPIM_CONF" >"$BATS_FILE_TMPDIR/bot.conf"
	chmod 600 "$BATS_FILE_TMPDIR/bot.conf"
	export HELPIM_CONF=$BATS_FILE_TMPDIR/bot.conf
}
teardown_file() { sandbox_down; }

as() {
	local u=$1
	shift
	psql -X -A -t -q -v ON_ERROR_STOP=1 -U "$u" "$@"
}

@test "the roles file runs twice" {
	run -0 psql -XAtq -v ON_ERROR_STOP=1 -f "$top/etc/postgresql-roles.sql"
}

@test "an upgrade to schema 9 lets the roles read the statuses before the roles file runs again" {
	sql "CREATE DATABASE upgraded"
	sed 's/dbname=helpim/dbname=upgraded/' "$BATS_FILE_TMPDIR/bot.conf" |
		sed 's/user=bot1/user=postgres/' >"$BATS_FILE_TMPDIR/up.conf"
	chmod 600 "$BATS_FILE_TMPDIR/up.conf"
	run -0 helpim-initdb -f "$BATS_FILE_TMPDIR/up.conf"
	run -0 psql -XAtq -d upgraded -c "SELECT has_table_privilege('helpim_bot', 'helpim.statuses', 'SELECT'),
		has_table_privilege('helpim_webapp', 'helpim.statuses', 'SELECT'),
		has_table_privilege('helpim_webapp', 'helpim.rooms', 'SELECT')"
	assert_output "t|t|f"
	sql "DROP DATABASE upgraded"
}

@test "the bot's role runs helpim-mkrooms, helpim-rooms and the pipeline" {
	run -0 helpim-mkrooms -N 2
	run -0 helpim-rooms -S
	assert_line "rooms_available=2"
	run_start
	chat_start staff
	claim staff s1
	chat staff "join $ROOM Anna $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	run -0 as bot1 -c "SELECT helpim.sweep('1s', '1s', '1s', '')"
	chat_stop staff
	wait_until 10 status_is "$ROOM" closed
	run_stop
}

@test "the webapp's role claims rooms and requests closes" {
	local jid
	run -0 as web1 -c "SELECT jid FROM helpim.claim_staff_room('s2')"
	assert_output --regexp '^helpim-'
	jid=$output
	run -0 as web1 -c "SELECT * FROM helpim.claim_client_room('c2')"
	assert_output ""
	run -0 as web1 -c "SELECT helpim.request_close('$jid', 'test')"
	assert_output t
}

@test "the webapp's role reads the statuses, and may not change them" {
	run -0 as web1 -c "SELECT string_agg(name, ' ' ORDER BY ord) FROM helpim.statuses WHERE NOT open"
	assert_output "closed lost"
	run -0 as web1 -c "SELECT helpim.status_open('chatting')"
	assert_output t
	run -1 as web1 -c "DELETE FROM helpim.statuses"
	assert_output --partial "permission denied"
	run -1 as bot1 -c "INSERT INTO helpim.statuses VALUES ('x', true, 99, 'x')"
	assert_output --partial "permission denied"
}

@test "the webapp's role reads and changes no row by itself" {
	run -1 as web1 -c "SELECT password FROM helpim.rooms"
	assert_output --partial "permission denied"
	run -1 as web1 -c "UPDATE helpim.rooms SET status = 'available'"
	assert_output --partial "permission denied"
	run -1 as web1 -c "SELECT count(*) FROM helpim.room_events"
	assert_output --partial "permission denied"
	run -1 as web1 -c "SELECT helpim.apply_event('join', now(), 'x', 1)"
	assert_output --partial "permission denied"
	run -1 as web1 -c "SELECT helpim.sweep('0', '0', '0')"
	assert_output --partial "permission denied"
}

@test "a role without either may call nothing" {
	run -1 as other -c "SELECT * FROM helpim.claim_staff_room('x')"
	assert_output --partial "permission denied"
	run -1 as other -c "SELECT helpim.request_close('x', 'y')"
	assert_output --partial "permission denied"
}
