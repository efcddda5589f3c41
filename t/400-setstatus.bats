#!/usr/bin/env bats
# helpim-setstatus: the status table of DESIGN.md section 4, driven by event
# lines alone, on a real PostgreSQL.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

M=rooms.localhost

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# room NAME [STATUS [CHATTERS]]: a room row, as helpim-mkrooms leaves it
room() {
	sql "INSERT INTO helpim.rooms (jid, password, status, chatters)
		VALUES ('$1@$M', 'pw-$1', '${2:-available}', ${3:-0})"
}

status() { sql "SELECT status || ' ' || chatters FROM helpim.rooms WHERE jid = '$1@$M'"; }

# events LINE...: the version line, then the lines, into helpim-setstatus
events() {
	{ echo 'helpim-events|1'; printf '%s\n' "$@"; } | helpim-setstatus -q
}

@test "a first join makes an available or staff_claimed room staff_waiting" {
	room a1
	room a2 staff_claimed
	run -0 events "join|$(now)|a1@$M|1|Anna|anna@anon.localhost/x" \
		"join|$(now)|a2@$M|1|Bert|"
	refute_output
	run -0 status a1
	assert_output "staff_waiting 1"
	run -0 status a2
	assert_output "staff_waiting 1"
	run -0 sql "SELECT staff_nick, staff_joined_at IS NOT NULL FROM helpim.rooms WHERE jid = 'a1@$M'"
	assert_output "Anna|t"
}

@test "a second join into staff_waiting or client_claimed makes chatting" {
	room b1 staff_waiting 1
	room b2 client_claimed 1
	sql "UPDATE helpim.rooms SET staff_nick = 'Anna' WHERE jid IN ('b1@$M', 'b2@$M')"
	run -0 events "join|$(now)|b1@$M|2|client|" "join|$(now)|b2@$M|2|Client%7C2|"
	run -0 status b1
	assert_output "chatting 2"
	run -0 status b2
	assert_output "chatting 2"
	run -0 sql "SELECT client_nick, client_joined_at IS NOT NULL FROM helpim.rooms WHERE jid = 'b2@$M'"
	assert_output "Client|2|t"
}

@test "a leave from chatting makes closing, a return makes chatting again" {
	room c1 chatting 2
	run -0 events "leave|$(now)|c1@$M|1|client|disconnected"
	run -0 status c1
	assert_output "closing 1"
	run -0 events "join|$(now)|c1@$M|2|client|"
	run -0 status c1
	assert_output "chatting 2"
	run -0 sql "SELECT string_agg(old_status || '>' || new_status, ' ' ORDER BY id)
		FROM helpim.room_events WHERE jid = 'c1@$M'"
	assert_output "chatting>closing closing>chatting"
}

@test "the last leave leaves every open status unchanged" {
	for s in available staff_claimed staff_waiting client_claimed chatting closing; do
		room "d-$s" "$s" 1
		run -0 events "leave|$(now)|d-$s@$M|0|someone|left"
		run -0 status "d-$s"
		assert_output "$s 0"
	done
}

@test "a destroy closes, a gone room is lost, from every open status" {
	for s in available staff_claimed staff_waiting client_claimed chatting closing; do
		room "e-$s" "$s"
		# someone in it, or a room of the pool: it vanished mid-way
		room "f-$s" "$s" "$(case $s in available | staff_claimed) echo 0 ;; *) echo 1 ;; esac)"
		run -0 events "destroyed|$(now)|e-$s@$M|0|empty" \
			"gone|$(now)|f-$s@$M|0|item-not-found"
		run -0 status "e-$s"
		assert_output "closed 0"
		run -0 status "f-$s"
		assert_output "lost 0"
	done
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE jid LIKE 'e-%' AND closed_at IS NULL"
	assert_output 0
}

# The bot destroyed an empty closing room, then died before its event was
# applied; after the restart the room is gone (or recreated, and destroyed).
@test "a room that everyone had left and that is gone is closed" {
	# its destroyed event was lost with a stage: the chat had ended
	for s in staff_waiting client_claimed chatting closing; do
		room "e0-$s" "$s" 0
		run -0 events "gone|$(now)|e0-$s@$M|0|recreated"
		run -0 status "e0-$s"
		assert_output "closed 0"
	done
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE jid LIKE 'e0-%' AND closed_at IS NULL"
	assert_output 0
}

@test "status times are on the database's clock, whatever the watcher's says" {
	room ck1
	# a watcher whose clock is months behind the database's
	run -0 events "join|2026-01-01T00:00:00.000Z|ck1@$M|1|Anna|" \
		"join|2026-01-01T00:00:01.000Z|ck1@$M|2|guest|"
	run -0 sql "SELECT abs(extract(epoch FROM now() - staff_joined_at)) < 60,
		abs(extract(epoch FROM now() - client_joined_at)) < 60,
		abs(extract(epoch FROM now() - status_at)) < 60,
		staff_joined_at <= client_joined_at
		FROM helpim.rooms WHERE jid = 'ck1@$M'"
	assert_output "t|t|t|t"
	# the history keeps the watcher's time of each event
	run -0 sql "SELECT min(at) FROM helpim.room_events WHERE jid = 'ck1@$M'"
	assert_output "2026-01-01 00:00:00+00"
}

@test "a kicked extra chatter changes nothing but is recorded" {
	room g1 chatting 2
	run -0 events "kick|$(now)|g1@$M|2|third|room full"
	run -0 status g1
	assert_output "chatting 2"
	run -0 sql "SELECT event, nick, detail, old_status, new_status FROM helpim.room_events WHERE jid = 'g1@$M'"
	assert_output "kick|third|room full|chatting|chatting"
}

@test "a snapshot: the count decides" {
	room h1
	room h2 chatting 2
	room h3 staff_waiting 1
	run -0 events "snapshot|$(now)|h1@$M|2|Anna|client" \
		"snapshot|$(now)|h2@$M|1|Anna" "snapshot|$(now)|h3@$M|1|Anna"
	run -0 status h1
	assert_output "chatting 2"
	# of two, which one came first is unknown
	run -0 sql "SELECT staff_nick, client_nick FROM helpim.rooms WHERE jid = 'h1@$M'"
	assert_output "|"
	run -0 status h2
	assert_output "closing 1"
	run -0 status h3
	assert_output "staff_waiting 1"
	# a snapshot that changes neither status nor count is not history
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = 'h3@$M'"
	assert_output 0
}

@test "a nick change follows the staff member and the client" {
	room i1
	run -0 events "join|$(now)|i1@$M|1|Anna|" "join|$(now)|i1@$M|2|guest|" \
		"nick|$(now)|i1@$M|2|Anna|Anna%20B" "nick|$(now)|i1@$M|2|guest|Kim"
	run -0 sql "SELECT status, staff_nick, client_nick FROM helpim.rooms WHERE jid = 'i1@$M'"
	assert_output "chatting|Anna B|Kim"
}

@test "stage timestamps follow each other in order" {
	room j0
	sql "UPDATE helpim.rooms SET created_at = created_at - interval '1 hour' WHERE jid = 'j0@$M'"
	# no other room to claim
	sql "UPDATE helpim.rooms SET status = 'closed'
		WHERE status IN ('available', 'staff_waiting') AND jid <> 'j0@$M'"
	run -0 helpim-webapp staff web-1
	assert_output "j0@$M pw-j0"
	run -0 events "join|$(now)|j0@$M|1|Anna|"
	run -0 helpim-webapp client web-2
	assert_output "j0@$M pw-j0"
	run -0 events "join|$(now)|j0@$M|2|guest|"
	run -0 events "leave|$(now)|j0@$M|1|guest|left" "leave|$(now)|j0@$M|0|Anna|left"
	run -0 events "destroyed|$(now)|j0@$M|0|empty"
	run -0 sql "SELECT status, created_at < staff_claimed_at,
		staff_claimed_at < staff_joined_at, staff_joined_at < client_claimed_at,
		client_claimed_at < client_joined_at, client_joined_at < closing_at,
		closing_at < closed_at, status_at = closed_at, staff_ref, client_ref
		FROM helpim.rooms WHERE jid = 'j0@$M'"
	assert_output "closed|t|t|t|t|t|t|t|web-1|web-2"
	run -0 sql "SELECT string_agg(event || ':' || new_status, ' ' ORDER BY at)
		FROM helpim.room_events WHERE jid = 'j0@$M'"
	assert_output "staff_claim:staff_claimed join:staff_waiting client_claim:client_claimed join:chatting leave:closing leave:closing destroyed:closed"
}

@test "replaying the same events changes nothing" {
	room k1
	room k2
	t=$(now)
	cat >"$BATS_TEST_TMPDIR/ev" <<-EOF
	helpim-events|1
	snapshot|$t|k1@$M|0
	join|$t|k1@$M|1|Anna|
	snapshot|$(now)|k1@$M|1|Anna
	join|$(now)|k1@$M|2|guest|
	join|$(now)|k2@$M|1|Bert|
	leave|$(now)|k1@$M|1|guest|left
	join|$(now)|k1@$M|2|guest|
	nick|$(now)|k1@$M|2|guest|Kim
	leave|$(now)|k1@$M|1|Kim|left
	leave|$(now)|k1@$M|0|Anna|left
	destroyed|$(now)|k1@$M|0|empty
	join|$(now)|nobody@$M|1|x|
	EOF
	state() {
		# (seen_at: the time of the last snapshot)
		sql "SELECT md5(string_agg((to_jsonb(r) - 'seen_at')::text, '/' ORDER BY id)) FROM helpim.rooms r WHERE jid LIKE 'k_@$M'"
		sql "SELECT count(*), md5(string_agg(concat_ws(',', jid, at, event, chatters, nick, detail, old_status, new_status, anomaly), '/' ORDER BY id))
			FROM helpim.room_events WHERE jid LIKE 'k_@$M' OR jid = 'nobody@$M'"
	}
	run -0 helpim-setstatus <"$BATS_TEST_TMPDIR/ev"
	run -0 status k1
	assert_output "closed 0"
	run -0 state
	first=$output
	run -0 helpim-setstatus <"$BATS_TEST_TMPDIR/ev"
	run -0 state
	assert_output "$first"
	# a snapshot after a restart that finds things as they are
	run -0 events "snapshot|$(now)|k2@$M|1|Bert"
	run -0 state
	assert_output "$first"
}

@test "a clock that stepped back: the snapshot after the restart still counts" {
	room k5 chatting 2
	# the last event came from a clock ten minutes ahead of this one
	run -0 events "leave|$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%S.000Z)|k5@$M|1|guest|left"
	run -0 status k5
	assert_output "closing 1"
	# the bot restarted and found the room empty; its clock is right now
	run -0 events "snapshot|$(now)|k5@$M|0"
	run -0 status k5
	assert_output "closing 0"
	# an old snapshot, replayed, is still stale
	room k6 chatting 2
	run -0 events "leave|$(now)|k6@$M|1|guest|left"
	run -0 events "snapshot|$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%S.000Z)|k6@$M|2|Anna|guest"
	run -0 status k6
	assert_output "closing 1"
}

@test "an exact replay within one batch changes nothing" {
	room k3 chatting 2
	t1=$(now)
	sleep 0.01
	t2=$(now)
	run -0 events "leave|$t1|k3@$M|1|guest|left" "join|$t2|k3@$M|2|guest|" \
		"leave|$t1|k3@$M|1|guest|left"
	run -0 status k3
	assert_output "chatting 2"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = 'k3@$M'"
	assert_output 2
}

@test "helpim.apply_event applies one event and says what it did" {
	room k4
	t=$(now)
	run -0 sql "SELECT helpim.apply_event('join', '$t', 'k4@$M', 1, 'Anna', NULL)"
	assert_output staff_waiting
	run -0 sql "SELECT helpim.apply_event('join', '$t', 'k4@$M', 1, 'Anna', NULL)"
	assert_output duplicate
	run -0 sql "SELECT helpim.apply_event('snapshot', '2020-01-01T00:00:00Z', 'k4@$M', 0)"
	assert_output stale
	run -0 sql "SELECT helpim.apply_event('bogus', now(), 'k4@$M', 1)"
	assert_output anomaly
	run -0 sql "SELECT unnest(helpim.apply_events('{join,join}', ARRAY[now(), now()],
		'{k4@$M,nosuch-k4@$M}', '{2,1}', '{guest,x}', '{NULL,NULL}'))"
	assert_output "chatting
anomaly"
}

@test "anomalies are recorded and the program goes on" {
	room l1 closed
	room l2
	run -0 events "join|$(now)|nosuch@$M|1|x|" "join|$(now)|l1@$M|1|x|" \
		"join|$(now)|l2@$M|0|x|" "join|$(now)|l2@$M|1|Anna|"
	assert_line --partial "line 2: join nosuch@$M: anomaly recorded"
	assert_line --partial "line 3: join l1@$M: anomaly recorded"
	assert_line --partial "line 4: join l2@$M: anomaly recorded"
	run -0 status l2
	assert_output "staff_waiting 1"
	run -0 sql "SELECT jid, anomaly FROM helpim.room_events WHERE anomaly IS NOT NULL AND jid IN ('nosuch@$M', 'l1@$M', 'l2@$M') ORDER BY id"
	assert_output "nosuch@$M|unknown room
l1@$M|room is closed
l2@$M|join leaves no chatter"
	run -0 status l1
	assert_output "closed 0"
}

@test "malformed lines are reported with their line numbers and skipped" {
	room m1
	run -0 events "join|$(now)|m1@$M|1|Anna" "hello" "join|yesterday|m1@$M|1|x|" \
		"join|2026-02-30T10:00:00.000Z|m1@$M|1|x|" "join|$(now)|m1@$M|many|x|" \
		"join|$(now)|m1@$M|1|bad%zz|" "leave|$(now)|m1@$M|1||left" \
		"join|$(now)|M1/x@$M|1|x|" "join|$(now)|m1@$M|1|Anna|"
	assert_line "helpim-setstatus: warning: line 2: join: 5 fields instead of 6, skipped"
	assert_line "helpim-setstatus: warning: line 3: unknown verb 'hello', skipped"
	assert_line "helpim-setstatus: warning: line 4: join: bad time, skipped"
	assert_line "helpim-setstatus: warning: line 5: join: bad time, skipped"
	assert_line "helpim-setstatus: warning: line 6: join: bad number of chatters, skipped"
	assert_line "helpim-setstatus: warning: line 7: join: bad nick, skipped"
	assert_line "helpim-setstatus: warning: line 8: leave: bad nick, skipped"
	assert_line "helpim-setstatus: warning: line 9: join: bad room JID, skipped"
	run -0 status m1
	assert_output "staff_waiting 1"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = 'm1@$M'"
	assert_output 1
}

# The database would refuse it; it must not stop the events of the others.
@test "a nick that is not UTF-8 makes a malformed line, its batch applied" {
	room u1
	room u2
	room u3
	run -0 events "join|$(now)|u1@$M|1|Anna|" "join|$(now)|u2@$M|1|%FF%FE|" \
		"join|$(now)|u3@$M|1|Bert|" "snapshot|$(now)|u2@$M|1|A%C0%80" \
		"join|$(now)|u2@$M|1|%ED%A0%80|" "join|$(now)|u$(printf '\324')2@$M|1|Carl|"
	assert_output "helpim-setstatus: warning: line 3: join: bad nick, skipped
helpim-setstatus: warning: line 5: snapshot: bad nick, skipped
helpim-setstatus: warning: line 6: join: bad nick, skipped
helpim-setstatus: warning: line 7: join: bad room JID, skipped"
	run -0 status u1
	assert_output "staff_waiting 1"
	run -0 status u2
	assert_output "available 0"
	run -0 status u3
	assert_output "staff_waiting 1"
}

@test "room JIDs are taken in lower case" {
	room n1
	run -0 events "join|$(now)|N1@Rooms.Localhost|1|Anna|"
	run -0 status n1
	assert_output "staff_waiting 1"
}

@test "another version is refused, a missing version line only reported" {
	run -100 helpim-setstatus -q <<-EOF
	helpim-events|2
	EOF
	assert_output "helpim-setstatus: error: line 1: 'helpim-events|2' is not supported; expected 'helpim-events|1'"
	room v1
	run -0 helpim-setstatus -q <<-EOF
	join|$(now)|v1@$M|1|Anna|
	EOF
	assert_output "helpim-setstatus: warning: line 1: no version line 'helpim-events|1'"
	run -0 status v1
	assert_output "staff_waiting 1"
	run -0 helpim-setstatus </dev/null
	run -100 helpim-setstatus -x
	assert_line "usage: helpim-setstatus [-nqv] [-f file]"
	run -0 helpim-setstatus -n
}

# A running helpim-setstatus fed through a fifo, as in the pipeline.
start_setstatus() {
	rm -f "$BATS_FILE_TMPDIR/in"
	mkfifo "$BATS_FILE_TMPDIR/in"
	helpim-setstatus <"$BATS_FILE_TMPDIR/in" 2>"$BATS_FILE_TMPDIR/err" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/setstatus.pid"
	exec {ssfd}>"$BATS_FILE_TMPDIR/in"
	echo 'helpim-events|1' >&"$ssfd"
}

running() { kill -0 "$(cat "$BATS_FILE_TMPDIR/setstatus.pid")"; }

is() { [ "$(status "$1")" = "$2" ]; }

@test "a pause in the input commits what came before" {
	room o1
	start_setstatus
	echo "join|$(now)|o1@$M|1|Anna|" >&"$ssfd"
	wait_until 5 is o1 "staff_waiting 1"
	running
	echo "join|$(now)|o1@$M|2|guest|" >&"$ssfd"
	wait_until 5 is o1 "chatting 2"
	exec {ssfd}>&-
	wait_until 5 gone "$(cat "$BATS_FILE_TMPDIR/setstatus.pid")"
}

@test "the sweep runs in helpim-setstatus: claims expire, closing lingers" {
	room p1 staff_claimed
	room p2 client_claimed 1
	room p3 closing 1
	sql "UPDATE helpim.rooms SET staff_claimed_at = now() - interval '1 minute' WHERE jid = 'p1@$M';
	     UPDATE helpim.rooms SET client_claimed_at = now() - interval '1 minute' WHERE jid = 'p2@$M';
	     UPDATE helpim.rooms SET status_at = now() - interval '1 hour' WHERE jid = 'p3@$M'"
	room p4 staff_claimed
	sql "UPDATE helpim.rooms SET staff_claimed_at = now() - interval '1 minute' WHERE jid = 'p4@$M'"
	start_setstatus
	# the pipeline sees p1, p2 and p3 (snapshots), never p4
	printf '%s\n' "snapshot|$(now)|p1@$M|0" "snapshot|$(now)|p2@$M|1|Anna" \
		"snapshot|$(now)|p3@$M|1|Bert" >&"$ssfd"
	wait_until 5 is p1 "available 0"
	wait_until 5 is p2 "staff_waiting 1"
	wait_until 5 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE jid = 'p3@$M' AND close_reason = 'linger'"
	running
	exec {ssfd}>&-
	run -0 sql "SELECT event, old_status, new_status FROM helpim.room_events
		WHERE jid LIKE 'p_@$M' AND event <> 'snapshot' ORDER BY jid"
	assert_output "staff_claim_expired|staff_claimed|available
client_claim_expired|client_claimed|staff_waiting
close_request|closing|closing"
	# a claim expires only in a room seen since the pipeline started
	run -0 status p4
	assert_output "staff_claimed 0"
}

@test "100000 events apply in batches" {
	sql "INSERT INTO helpim.rooms (jid, password)
		SELECT 'q' || g || '@$M', 'x' FROM generate_series(1, 1000) g"
	awk -v M="$M" 'BEGIN {
		print "helpim-events|1"
		split("1 2 1 2", n, " ")
		for (i = 0; i < 100000; i++) {
			r = i % 1000 + 1; k = int(i / 1000)
			t = sprintf("2026-11-25T10:%02d:%02d.%03dZ", int(k / 60) % 60, k % 60, r - 1)
			if (k % 4 == 2)
				printf "leave|%s|q%d@%s|1|guest|left\n", t, r, M
			else
				printf "join|%s|q%d@%s|%d|n%d|\n", t, r, M, n[k % 4 + 1], k
		}
	}' >"$BATS_TEST_TMPDIR/ev"
	SECONDS=0
	run -0 helpim-setstatus <"$BATS_TEST_TMPDIR/ev"
	echo "# 100000 events in $SECONDS s" >&3
	# the sweep asks to close the rooms left in closing since 10:00
	run -0 sql "SELECT count(*) FROM helpim.room_events
		WHERE jid LIKE 'q%@$M' AND event <> 'close_request'"
	assert_output 100000
	run -0 sql "SELECT status, count(*) FROM helpim.rooms WHERE jid LIKE 'q%@$M' GROUP BY 1"
	assert_output "chatting|1000"
}

@test "the database stopped under load: exit 111, the committed events a prefix" {
	sql "INSERT INTO helpim.rooms (jid, password)
		SELECT 'y' || g || '@$M', 'x' FROM generate_series(1, 1000) g"
	# every line is recorded; its nick is its number
	awk -v M="$M" 'BEGIN {
		print "helpim-events|1"
		split("1 2 1 2", n, " ")
		for (i = 1; i <= 400000; i++) {
			r = i % 1000 + 1; k = int(i / 1000)
			t = sprintf("2026-11-27T%02d:%02d:%02d.%03dZ", int(k / 3600), int(k / 60) % 60, k % 60, r - 1)
			if (k % 4 == 2)
				printf "leave|%s|y%d@%s|1|%d|left\n", t, r, M, i
			else
				printf "join|%s|y%d@%s|%d|%d|\n", t, r, M, n[k % 4 + 1], i
		}
	}' >"$BATS_TEST_TMPDIR/ev"
	helpim-setstatus <"$BATS_TEST_TMPDIR/ev" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	echo "$pid" >"$BATS_FILE_TMPDIR/load.pid"
	wait_until 10 sql "SELECT 1 / (count(*) / 5000) FROM helpim.room_events WHERE jid LIKE 'y%@$M'"
	helpim-sandbox stop-db "$SB"
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 111
	helpim-sandbox start-db "$SB"
	run -0 sql "SELECT count(*) = max(nick::int), count(*) >= 5000, count(*) < 400000
		FROM helpim.room_events WHERE jid LIKE 'y%@$M'"
	assert_output "t|t|t"
}

# Last: it stops the database.
@test "a lost database: exit 111, every committed event kept" {
	room z1
	room z2
	start_setstatus
	echo "join|$(now)|z1@$M|1|Anna|" >&"$ssfd"
	wait_until 5 is z1 "staff_waiting 1"
	helpim-sandbox stop-db "$SB"
	pid=$(cat "$BATS_FILE_TMPDIR/setstatus.pid")
	(echo "join|$(now)|z2@$M|1|Bert|" >&"$ssfd") 2>/dev/null || true
	rc=0
	wait "$pid" || rc=$?
	exec {ssfd}>&-
	assert_equal "$rc" 111
	run -0 cat "$BATS_FILE_TMPDIR/err"
	assert_output --partial "helpim-setstatus: error: database: "
	helpim-sandbox start-db "$SB"
	run -0 status z1
	assert_output "staff_waiting 1"
	run -0 sql "SELECT count(*) FROM helpim.room_events WHERE jid = 'z1@$M'"
	assert_output 1
}
