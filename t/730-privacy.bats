#!/usr/bin/env bats
# Privacy (helpim.7, PERSONAL DATA): no password kept after a chat, no real
# JID in the database (a keyed hash at most), the personal data purged after
# the retention, no personal datum in the log at the default level.

load helper

setup_file() {
	sandbox_up
	local d=$BATS_FILE_TMPDIR
	printf 'first-key-0123456789abcdef\n' >"$d/key1"
	printf 'second-key-0123456789abcdef\n' >"$d/key2"
	chmod 600 "$d/key1" "$d/key2"
	PLAIN=$HELPIM_CONF
	KEYED1=$(conf_with key1 jid_hash_key_file="$d/key1")
	KEYED2=$(conf_with key2 jid_hash_key_file="$d/key2")
	export PLAIN KEYED1 KEYED2
	run_start
}

teardown_file() {
	run_stop
	sandbox_down
}

# the bare JID of participant NAME, from its "online" line
bare_jid() {
	sed -n 's|^online \([^/]*\)/.*|\1|p' "$BATS_FILE_TMPDIR/$1.out"
}

# hmac KEYFILE JID: the hash helpim-watch must give, computed apart
hmac() {
	printf '%s' "$2" | openssl dgst -sha256 -hmac "$(head -n 1 "$1")" -r |
		cut -d ' ' -f 1
}

join_hashes() {
	sql "SELECT coalesce(detail, '-') FROM helpim.room_events
		WHERE jid = '$1' AND event = 'join' ORDER BY at, id"
}

# restart CONF: helpim-run again, with that configuration
restart() {
	run_stop
	HELPIM_CONF=$1 run_start
}

@test "a whole chat leaves no room password and no real JID in the database" {
	local jid
	claim staff ref-staff-7x1
	chat_start staff
	chat staff "join $ROOM Annabel $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	claim client ref-client-7x1
	chat_start client
	chat client "join $ROOM Visitorix $PASS"
	wait_until 10 status_is "$ROOM" chatting
	run -0 helpim-webapp close "$ROOM" "reason-abuse-7x1"
	wait_until 15 status_is "$ROOM" closed
	echo "$ROOM" >"$BATS_FILE_TMPDIR/chat1"
	bare_jid staff >"$BATS_FILE_TMPDIR/jids"
	bare_jid client >>"$BATS_FILE_TMPDIR/jids"
	chat_stop staff
	chat_stop client

	run -0 sql "SELECT password IS NULL FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output t
	run -0 sql "SELECT count(*) FROM helpim.rooms
		WHERE status IN ('closed', 'lost') AND password IS NOT NULL"
	assert_output 0
	# no key: no hash either
	run -0 join_hashes "$ROOM"
	assert_output "-
-"
	pg_dump -f "$BATS_FILE_TMPDIR/dump.sql"
	for jid in $(cat "$BATS_FILE_TMPDIR/jids") "@$ANON_DOMAIN"; do
		run -1 grep -F -- "$jid" "$BATS_FILE_TMPDIR/dump.sql"
	done
	# the dump holds the history: the nick is there, until the purge
	run -0 grep -c -F Annabel "$BATS_FILE_TMPDIR/dump.sql"
}

@test "the log of that run at the default level holds no nick, JID, reference or reason" {
	local w log=$BATS_FILE_TMPDIR/run.log
	run -0 grep -c 'helpim-run: info: starting' "$log"
	assert_output 1
	for w in Annabel Visitorix ref-staff-7x1 ref-client-7x1 reason-abuse-7x1 \
	    "@$ANON_DOMAIN" $(cat "$BATS_FILE_TMPDIR/jids"); do
		run -1 grep -F -- "$w" "$log"
	done
}

@test "a key file readable by others is refused" {
	chmod 644 "$BATS_FILE_TMPDIR/key1"
	run -100 helpim-watch -n -f "$KEYED1"
	assert_output --partial "key1: readable by others; chmod 600 it"
	run -100 helpim-conf -n -f "$KEYED1"
	assert_output --partial "key1: readable by others; chmod 600 it"
	chmod 600 "$BATS_FILE_TMPDIR/key1"
	run -0 helpim-watch -n -f "$KEYED1"
	run -0 helpim-conf -f "$KEYED1" jid_hash_key_file
	assert_output "$BATS_FILE_TMPDIR/key1"
	run -100 helpim-conf -n -f "$(conf_with nokey jid_hash_key_file=/nonexistent)"
	assert_output --partial "/nonexistent"
	printf 'short\n' >"$BATS_FILE_TMPDIR/key3"
	chmod 600 "$BATS_FILE_TMPDIR/key3"
	run -100 helpim-watch -n -f "$(conf_with short jid_hash_key_file="$BATS_FILE_TMPDIR/key3")"
	assert_output --partial "key3: a key shorter than 16 characters"
}

@test "with a key, one participant in two rooms has one hash; another key, another" {
	local a b c jid
	restart "$KEYED1"
	chat_start staff
	jid=$(bare_jid staff)
	claim staff ref-a
	a=$ROOM
	chat staff "join $a Annabel $PASS"
	claim staff ref-b
	b=$ROOM
	chat staff "join $b Annabel $PASS"
	wait_until 10 status_is "$a" staff_waiting
	wait_until 10 status_is "$b" staff_waiting
	run -0 join_hashes "$a"
	assert_output "$(hmac "$BATS_FILE_TMPDIR/key1" "$jid")"
	run -0 join_hashes "$b"
	assert_output "$(hmac "$BATS_FILE_TMPDIR/key1" "$jid")"
	chat staff "leave $a"
	chat staff "leave $b"
	wait_until 15 status_is "$a" closed
	wait_until 15 status_is "$b" closed

	restart "$KEYED2"
	claim staff ref-c
	c=$ROOM
	chat staff "join $c Annabel $PASS"
	wait_until 10 status_is "$c" staff_waiting
	run -0 join_hashes "$c"
	assert_output "$(hmac "$BATS_FILE_TMPDIR/key2" "$jid")"
	refute_output "$(join_hashes "$a")"
	chat_stop staff
	wait_until 15 status_is "$c" closed
	restart "$PLAIN"
}

# the numbers the statistics are made of: statuses, times, events
counts() {
	sql "SELECT status, count(*), sum(extract(epoch FROM created_at)),
		sum(extract(epoch FROM closed_at)), count(staff_joined_at),
		count(client_joined_at), sum(extract(epoch FROM status_at))
		FROM helpim.rooms GROUP BY status ORDER BY status"
	sql "SELECT event, count(*), old_status, new_status, sum(chatters),
		sum(extract(epoch FROM at)) FROM helpim.room_events
		GROUP BY event, old_status, new_status ORDER BY 1, 3, 4"
}

# every column of the rooms and events but those of ROOM
others() {
	sql "SELECT md5(string_agg(r::text, '' ORDER BY id)) FROM helpim.rooms AS r
		WHERE jid <> '$1'"
	sql "SELECT md5(string_agg(e::text, '' ORDER BY id)) FROM helpim.room_events AS e
		WHERE jid <> '$1'"
}

# age ROOM DAYS: move every time of the room and its history back
age() {
	sql "UPDATE helpim.rooms SET created_at = created_at - interval '$2 days',
		status_at = status_at - interval '$2 days',
		event_at = event_at - interval '$2 days',
		staff_claimed_at = staff_claimed_at - interval '$2 days',
		staff_joined_at = staff_joined_at - interval '$2 days',
		client_claimed_at = client_claimed_at - interval '$2 days',
		client_joined_at = client_joined_at - interval '$2 days',
		closing_at = closing_at - interval '$2 days',
		closed_at = closed_at - interval '$2 days',
		close_requested_at = close_requested_at - interval '$2 days'
		WHERE jid = '$1'"
	sql "UPDATE helpim.room_events SET at = at - interval '$2 days',
		recorded_at = recorded_at - interval '$2 days' WHERE jid = '$1'"
}

@test "purge after a month: old rooms lose their personal data, the counts stay" {
	local old young before after
	old=$(cat "$BATS_FILE_TMPDIR/chat1")
	age "$old" 40
	# a room still in the pool, created long ago: not ended, not purged
	young=$(sql "SELECT jid FROM helpim.rooms WHERE status = 'available' LIMIT 1")
	age "$young" 40
	before=$(counts)
	others "$old" >"$BATS_FILE_TMPDIR/others"

	run -0 sql "SELECT helpim.purge(interval '30 days')"
	assert_output 1
	run -0 sql "SELECT staff_nick, client_nick, staff_ref, client_ref,
		close_reason, password FROM helpim.rooms WHERE jid = '$old'"
	assert_output "|||||"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = '$old'
		AND (nick !~ '^#[0-9]+$' OR event NOT IN ('leave', 'gone')
		AND detail IS NOT NULL)"
	assert_output 0
	# the nicks became numbers in the order they came
	run -0 sql "SELECT string_agg(event || ' ' || nick, ', ' ORDER BY at, id)
		FROM helpim.room_events WHERE jid = '$old' AND event = 'join'"
	assert_output "join #1, join #2"
	after=$(counts)
	assert_equal "$after" "$before"
	run -0 others "$old"
	assert_output "$(cat "$BATS_FILE_TMPDIR/others")"

	# once purged, always the same
	others '' >"$BATS_FILE_TMPDIR/all"
	run -0 sql "SELECT helpim.purge(interval '30 days')"
	assert_output 0
	run -0 others ''
	assert_output "$(cat "$BATS_FILE_TMPDIR/all")"
	# a shorter retention reaches the younger rooms too
	run -0 sql "SELECT helpim.purge(interval '0 s') > 0"
	assert_output t
	run -0 sql "SELECT count(*) FROM helpim.rooms
		WHERE status IN ('closed', 'lost') AND staff_nick IS NOT NULL"
	assert_output 0
	assert_equal "$(counts)" "$before"
}

@test "helpim-run purges with the configured retention" {
	local r
	run -0 helpim-conf -f "$PLAIN" retention
	assert_output 2592000000
	run -0 helpim-conf -f "$(conf_with week retention=7d)" retention
	assert_output 604800000
	claim staff ref-run
	r=$ROOM
	chat_start staff
	chat staff "join $r Runner $PASS"
	wait_until 10 status_is "$r" staff_waiting
	chat_stop staff
	wait_until 15 status_is "$r" closed
	age "$r" 8
	restart "$BATS_FILE_TMPDIR/week.conf"
	wait_until 10 sh -c "[ \"\$(psql -XAtqc \"SELECT staff_nick IS NULL
		FROM helpim.rooms WHERE jid = '$r'\")\" = t ]"
}

@test "the daily purge of etc/crontab runs" {
	local line
	claim staff ref-cron
	chat_start staff
	chat staff "join $ROOM Cronus $PASS"
	wait_until 10 status_is "$ROOM" staff_waiting
	chat_stop staff
	wait_until 15 status_is "$ROOM" closed
	age "$ROOM" 31
	line=$(grep 'helpim.purge' "$top/etc/crontab" | grep -v '^#' |
		cut -f 3- | sed "s|/etc/helpim/helpim.conf|$HELPIM_CONF|")
	run -0 sh -c "$line"
	run -0 sql "SELECT staff_nick IS NULL FROM helpim.rooms WHERE jid = '$ROOM'"
	assert_output t
}

@test "the migration clears the passwords and real JIDs kept before it" {
	local d=$BATS_FILE_TMPDIR/oldsql conf
	mkdir -p "$d"
	# the migrations before this one, and only those
	for f in "$top"/sql/*.sql; do
		case ${f##*/} in 00[0-4]-*) ln -s "$f" "$d/" ;; esac
	done
	sql "CREATE DATABASE helpim_old"
	conf=$(conf_with old "db=host=$PGHOST port=$PGPORT dbname=helpim_old user=postgres")
	HELPIM_SQL=$d run -0 helpim-initdb -f "$conf"
	# new_password: the pending password of version 4 (there or not yet)
	psql -XAtq -v ON_ERROR_STOP=1 -d helpim_old <<-'EOF'
	ALTER TABLE helpim.rooms ADD COLUMN IF NOT EXISTS new_password text;
	INSERT INTO helpim.rooms (jid, password, new_password, status)
	VALUES ('old-1@rooms.localhost', 'pw1', 'new1', 'closed'),
	    ('old-2@rooms.localhost', 'pw2', NULL, 'lost'),
	    ('old-3@rooms.localhost', 'pw3', 'new3', 'available'),
	    ('old-4@rooms.localhost', 'pw4', 'new4', 'available');
	INSERT INTO helpim.room_events (jid, at, event, chatters, nick, detail)
	VALUES ('old-1@rooms.localhost', now(), 'join', 1, 'A', 'x9@anon.localhost/r1'),
	    ('old-1@rooms.localhost', now(), 'leave', 0, 'A', 'left');
	EOF
	run -0 helpim-initdb -f "$conf"
	psql -XAtq -d helpim_old -c "UPDATE helpim.rooms SET status = 'lost'
		WHERE jid = 'old-4@rooms.localhost'"
	run -0 psql -XAtq -d helpim_old -c "SELECT jid, coalesce(password, '-'),
		coalesce(new_password, '-') FROM helpim.rooms ORDER BY jid"
	assert_output "old-1@rooms.localhost|-|-
old-2@rooms.localhost|-|-
old-3@rooms.localhost|pw3|new3
old-4@rooms.localhost|-|-"
	run -0 psql -XAtq -d helpim_old -c "SELECT event, coalesce(detail, '-')
		FROM helpim.room_events ORDER BY id"
	assert_output "join|-
leave|left"
	# and a real JID that still comes in (an older helpim-watch) stays out
	run -0 psql -XAtq -d helpim_old -c "SELECT helpim.apply_event('join', now(),
		'old-3@rooms.localhost', 1, 'B', 'y7@anon.localhost/r2')"
	assert_output staff_waiting
	run -0 psql -XAtq -d helpim_old -c "SELECT count(*) FROM helpim.room_events
		WHERE detail LIKE '%@%'"
	assert_output 0
}

@test "the webapp's role reads no JID hash" {
	psql -XAtq -v ON_ERROR_STOP=1 -f "$top/etc/postgresql-roles.sql" >/dev/null
	sql "CREATE ROLE web730 LOGIN IN ROLE helpim_webapp"
	run -1 psql -XAtq -U web730 -c "SELECT detail FROM helpim.room_events"
	assert_output --partial "permission denied"
	run -0 psql -XAtq -U web730 -c "SELECT has_column_privilege('helpim.room_events', 'detail', 'SELECT')"
	assert_output f
}
