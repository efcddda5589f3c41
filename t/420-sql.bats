#!/usr/bin/env bats
# The webapp's SQL functions (helpim-sql(7)) and helpim-webapp, under
# concurrency.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }
setup() { sql "TRUNCATE helpim.room_events, helpim.rooms"; }

M=rooms.localhost

# rooms PREFIX N [STATUS]: N rooms PREFIX1..PREFIXN, the first one the oldest,
# seen by the pipeline (a snapshot) a minute ago
rooms() {
	sql "INSERT INTO helpim.rooms (jid, password, status, chatters, created_at, staff_joined_at, seen_at)
		SELECT '$1' || g || '@$M', 'pw-$1' || g, '${3:-available}',
			CASE WHEN '${3:-available}' = 'staff_waiting' THEN 1 ELSE 0 END,
			now() - (1000 - g) * interval '1 second',
			CASE WHEN '${3:-available}' = 'staff_waiting'
			THEN now() - (1000 - g) * interval '1 second' END,
			now() - interval '1 minute'
		FROM generate_series(1, $2) g"
}

# claimers KIND N: N helpim-webapp processes at once; their answers in $d
claimers() {
	d=$BATS_TEST_TMPDIR/claims
	mkdir -p "$d"
	for i in $(seq 1 "$2"); do
		{
			if helpim-webapp "$1" "ref-$i" >"$d/out.$i" 2>&1; then
				r=0
			else
				r=$?
			fi
			echo "$r" >"$d/rc.$i"
		} 3>&- &
	done
	wait
}

@test "schema version 2 is recorded" {
	run -0 sql "SELECT version FROM helpim.schema_version ORDER BY 1"
	assert_line -n 0 1
	assert_line -n 1 2
}

@test "claim_staff_room: the oldest available room, then none" {
	rooms s 2
	sql "UPDATE helpim.rooms SET status = 'chatting' WHERE jid = 's1@$M'"
	run -0 sql "SELECT * FROM helpim.claim_staff_room('web-1')"
	assert_output "s2@$M|pw-s2"
	run -0 sql "SELECT status, staff_ref, staff_claimed_at = status_at FROM helpim.rooms WHERE jid = 's2@$M'"
	assert_output "staff_claimed|web-1|t"
	run -0 sql "SELECT count(*) FROM helpim.claim_staff_room('web-2')"
	assert_output 0
	run -1 helpim-webapp staff web-3
	refute_output
}

@test "50 concurrent staff claimers get 50 distinct rooms" {
	rooms c 60
	claimers staff 50
	run -0 sh -c "cat '$d'/rc.* | sort | uniq -c"
	assert_output --regexp '^ *50 0$'
	run -0 sh -c "cat '$d'/out.* | cut -d' ' -f1 | sort -u | wc -l"
	assert_output 50
	run -0 sql "SELECT count(*), count(DISTINCT staff_ref) FROM helpim.rooms WHERE status = 'staff_claimed'"
	assert_output "50|50"
	# the ten left are the youngest
	run -0 sql "SELECT string_agg(replace(jid, '@$M', ''), ' ' ORDER BY id)
		FROM helpim.rooms WHERE status = 'available'"
	assert_output "c51 c52 c53 c54 c55 c56 c57 c58 c59 c60"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE event = 'staff_claim'"
	assert_output 50
}

@test "more claimers than rooms: each room once, the others get none" {
	rooms c 20
	claimers staff 50
	run -0 sh -c "cat '$d'/rc.* | sort | uniq -c"
	assert_line --regexp '^ *20 0$'
	assert_line --regexp '^ *30 1$'
	run -0 sh -c "cat '$d'/out.* | sort | uniq -d"
	refute_output
}

@test "the staff member who waited longest gets the next client" {
	rooms w 3 staff_waiting
	sql "UPDATE helpim.rooms SET staff_joined_at = now() - interval '1 hour' WHERE jid = 'w2@$M'"
	run -0 helpim-webapp client web-1
	assert_output "w2@$M pw-w2"
	run -0 helpim-webapp client web-2
	assert_output "w1@$M pw-w1"
	run -0 sql "SELECT status, client_ref FROM helpim.rooms WHERE jid = 'w2@$M'"
	assert_output "client_claimed|web-1"
	run -0 helpim-webapp client web-3
	assert_output "w3@$M pw-w3"
	run -1 helpim-webapp client web-4
}

@test "50 concurrent client claimers get 50 distinct rooms" {
	rooms w 50 staff_waiting
	claimers client 50
	run -0 sh -c "cat '$d'/rc.* | sort | uniq -c"
	assert_output --regexp '^ *50 0$'
	run -0 sh -c "cat '$d'/out.* | cut -d' ' -f1 | sort -u | wc -l"
	assert_output 50
	run -0 sql "SELECT count(*), count(DISTINCT client_ref) FROM helpim.rooms WHERE status = 'client_claimed'"
	assert_output "50|50"
}

@test "request_close: true for an open room, false for unknown and closed ones" {
	rooms x 2
	sql "UPDATE helpim.rooms SET status = 'closed' WHERE jid = 'x2@$M'"
	run -0 sql "SELECT helpim.request_close('X1@$M', 'operator'), helpim.request_close('x2@$M', 'y'),
		helpim.request_close('nosuch@$M', 'z')"
	assert_output "t|f|f"
	run -0 sql "SELECT close_reason, close_requested_at IS NOT NULL, status FROM helpim.rooms WHERE jid = 'x1@$M'"
	assert_output "operator|t|available"
	run -0 sql "SELECT event, detail FROM helpim.room_events"
	assert_output "close_request|operator"
	# a room asked to close is no longer handed out
	run -1 helpim-webapp staff web-1
	run -0 helpim-webapp close x1@$M "again"
	run -1 helpim-webapp close x2@$M "again"
	run -100 helpim-webapp close x1@$M
}

@test "sweep: expired claims fall back, closing past linger gets a close request" {
	rooms y 6
	sql "UPDATE helpim.rooms SET status = 'staff_claimed', staff_ref = 'a',
		staff_claimed_at = now() - interval '10 minutes' WHERE jid = 'y1@$M';
	     UPDATE helpim.rooms SET status = 'staff_claimed', staff_ref = 'b',
		staff_claimed_at = now() - interval '10 seconds' WHERE jid = 'y2@$M';
	     UPDATE helpim.rooms SET status = 'client_claimed', chatters = 1, client_ref = 'c',
		client_claimed_at = now() - interval '10 minutes' WHERE jid = 'y3@$M';
	     UPDATE helpim.rooms SET status = 'client_claimed', chatters = 1, client_ref = 'd',
		client_claimed_at = now() - interval '10 seconds' WHERE jid = 'y4@$M';
	     UPDATE helpim.rooms SET status = 'closing', chatters = 1,
		status_at = now() - interval '2 hours' WHERE jid = 'y5@$M';
	     UPDATE helpim.rooms SET status = 'closing', chatters = 1,
		status_at = now() - interval '10 seconds' WHERE jid = 'y6@$M'"
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour')"
	assert_output 3
	run -0 sql "SELECT jid, status, staff_ref, client_ref, close_reason,
		status_at > now() - interval '1 minute' FROM helpim.rooms ORDER BY jid"
	assert_output "y1@$M|available||||t
y2@$M|staff_claimed|b|||t
y3@$M|staff_waiting||||t
y4@$M|client_claimed||d||t
y5@$M|closing|||linger|f
y6@$M|closing||||t"
	run -0 sql "SELECT jid, event, detail, old_status, new_status FROM helpim.room_events ORDER BY jid"
	assert_output "y1@$M|staff_claim_expired|a|staff_claimed|available
y3@$M|client_claim_expired|c|client_claimed|staff_waiting
y5@$M|close_request|linger|closing|closing"
	# once is enough
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour')"
	assert_output 0
}

@test "an expired claim's password opens nothing handed out again" {
	rooms w 2 staff_waiting
	sql "UPDATE helpim.rooms SET status = 'staff_claimed', staff_ref = 'a', chatters = 0,
		staff_claimed_at = now() - interval '10 minutes' WHERE jid = 'w1@$M';
	     UPDATE helpim.rooms SET status = 'client_claimed', client_ref = 'c',
		client_claimed_at = now() - interval '10 minutes' WHERE jid = 'w2@$M'"
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour')"
	assert_output 2
	# a new password each, pending until the bot has set it on the server
	run -0 sql "SELECT jid, status, new_password IS NOT NULL,
		length(new_password), new_password <> password FROM helpim.rooms ORDER BY jid"
	assert_output "w1@$M|available|t|64|t
w2@$M|staff_waiting|t|64|t"
	# the claims skip both meanwhile
	run -1 helpim-webapp staff s2
	run -1 helpim-webapp client c2
	# the bot set it: the room is handed out again, with the new password
	new=$(sql "SELECT new_password FROM helpim.rooms WHERE jid = 'w2@$M'")
	run -0 sql "SELECT helpim.apply_event('rekeyed', now(), 'w2@$M', 1)"
	assert_output staff_waiting
	run -0 helpim-webapp client c2
	assert_output "w2@$M $new"
	# once: a replay finds nothing pending
	run -0 sql "SELECT helpim.apply_event('rekeyed', now() + interval '1 ms', 'w2@$M', 1)"
	assert_output stale
}

@test "no claim expires in a room the pipeline has not seen since it started" {
	rooms u 2
	sql "UPDATE helpim.rooms SET status = 'staff_claimed',
		staff_claimed_at = now() - interval '10 minutes';
	     UPDATE helpim.rooms SET seen_at = NULL WHERE jid = 'u2@$M'"
	# u1 was seen a minute ago, before a pipeline that started 10 s ago
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour', NULL,
		now() - interval '10 seconds')"
	assert_output 0
	# without a start: seen at all
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour')"
	assert_output 1
	run -0 sql "SELECT jid, status FROM helpim.rooms ORDER BY jid"
	assert_output "u1@$M|available
u2@$M|staff_claimed"
}

@test "sweep: only the given instance" {
	rooms v 1
	sql "UPDATE helpim.rooms SET status = 'staff_claimed', instance = 'other',
		staff_claimed_at = now() - interval '10 minutes'"
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour', '')"
	assert_output 0
	run -0 sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour', 'other')"
	assert_output 1
}

@test "concurrent sweeps and claims never hand out a room twice" {
	rooms k 40
	sql "UPDATE helpim.rooms SET status = 'staff_claimed', staff_claimed_at = now() - interval '1 hour'
		WHERE jid LIKE 'k_@$M' OR jid LIKE 'k1_@$M'"
	for _ in 1 2 3 4 5; do
		sql "SELECT helpim.sweep('1 minute', '1 minute', '1 hour')" >/dev/null 3>&- &
	done
	claimers staff 40
	run -0 sh -c "cat '$d'/out.* | grep . | sort | uniq -d"
	refute_output
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE event = 'staff_claim_expired'"
	assert_output 19
}

@test "helpim-webapp: usage and a lost database" {
	run -100 helpim-webapp
	assert_line --index 0 "usage: helpim-webapp [-n] [-f file]"
	assert_line "       helpim-webapp [-f file] close jid reason"
	run -100 helpim-webapp staff
	run -100 helpim-webapp lunch x
	run -100 helpim-webapp -f /nonexistent staff x
	C=$BATS_TEST_TMPDIR/c.conf
	sed 's|^db = .*|db = host=/nonexistent dbname=helpim|' "$HELPIM_CONF" >"$C"
	chmod 600 "$C"
	run -111 helpim-webapp -f "$C" staff x
}

@test "helpim-conf prints values for scripts, never the password" {
	run -0 helpim-conf db instance linger
	assert_line --index 0 --partial "dbname=helpim"
	assert_line 10000
	run -100 helpim-conf password
}
