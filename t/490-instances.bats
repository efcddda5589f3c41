#!/usr/bin/env bats
# Leases, adoption and fencing in the database (helpim-sql(7)).

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }
setup() {
	sql "TRUNCATE helpim.room_events, helpim.rooms, helpim.instances"
}

M=rooms.localhost

# room JID INSTANCE STATUS CHATTERS
room() {
	sql "INSERT INTO helpim.rooms (jid, password, instance, status, chatters, staff_joined_at, staff_nick)
		VALUES ('$1@$M', 'pw-$1', '$2', '$3', $4,
		CASE WHEN $4 > 0 THEN now() END, CASE WHEN $4 > 0 THEN 'S' END)"
}

@test "a lease: taken with a new epoch each time, renewed only by its epoch" {
	run -0 sql "SELECT helpim.lease_take('a', 'helpim-rooms 1@h', '10 s')"
	assert_output 1
	run -0 sql "SELECT helpim.lease_take('a', 'helpim-rooms 2@h', '10 s')"
	assert_output 2
	run -0 sql "SELECT helpim.lease_renew('a', 1, '10 s'), helpim.lease_renew('a', 2, '10 s')"
	assert_output "f|t"
	run -0 sql "SELECT holder, until > now() + interval '9 s' FROM helpim.instances"
	assert_output "helpim-rooms 2@h|t"
}

@test "adoption: the open rooms of a run-out lease, one epoch on, announced" {
	sql "SELECT helpim.lease_take('a', 'x', '10 s'), helpim.lease_take('b', 'y', '10 s')"
	room a1 a chatting 2
	room a2 a available 0
	room a3 a closed 0
	room b1 b available 0
	# a live lease is not adopted
	run -0 sql "SELECT helpim.adopt('b', 1)"
	assert_output 0
	sql "UPDATE helpim.instances SET until = now() - interval '1 s' WHERE instance = 'a'"
	# only the holder of a live lease adopts, and only with its epoch
	run -0 sql "SELECT helpim.adopt('b', 7)"
	assert_output 0
	run -0 sql "LISTEN helpim; SELECT helpim.adopt('b', 1)"
	assert_line --index 0 2
	assert_line "Asynchronous notification \"helpim\" with payload \"watch a1@$M\" received from server process with PID $(echo "$output" | sed -n '2s/.*PID \([0-9]*\)\./\1/p')."
	refute_output --partial a3
	run -0 sql "SELECT jid, instance FROM helpim.rooms ORDER BY jid"
	assert_output "a1@$M|b
a2@$M|b
a3@$M|a
b1@$M|b"
	run -0 sql "SELECT epoch, adopted_by FROM helpim.instances WHERE instance = 'a'"
	assert_output "2|b"
	run -0 sql "SELECT jid, event, detail, old_status, new_status FROM helpim.room_events ORDER BY jid"
	assert_output "a1@$M|adopted|a|chatting|chatting
a2@$M|adopted|a|available|available"
	# once
	run -0 sql "SELECT helpim.adopt('b', 1)"
	assert_output 0
}

@test "fencing: a writer of a stale epoch is refused by the database" {
	sql "SELECT helpim.lease_take('a', 'x', '10 s')"
	room a1 a staff_waiting 1
	t="SELECT set_config('helpim.instance', 'a', false), set_config('helpim.epoch', '1', false);"
	run -0 sql "$t SELECT helpim.apply_event('join', now(), 'a1@$M', 2, 'C')"
	assert_line chatting
	# adopted: epoch 2, the rooms b's
	sql "UPDATE helpim.instances SET until = now() - interval '1 s' WHERE instance = 'a'"
	sql "SELECT helpim.lease_take('b', 'y', '10 s'); SELECT helpim.adopt('b', 1)"
	run -1 sql "$t SELECT helpim.apply_event('leave', now(), 'a1@$M', 1, 'C', 'left')"
	assert_output --partial "epoch 1 is stale"
	# the room is as b's watcher left it; the webapp is no writer
	run -0 sql "SELECT status, chatters FROM helpim.rooms"
	assert_output "chatting|2"
	run -0 sql "SELECT helpim.request_close('a1@$M', 'bye')"
	assert_output t
	# the same epoch of b writes
	run -0 sql "SELECT set_config('helpim.instance', 'b', false), set_config('helpim.epoch', '1', false);
		SELECT helpim.apply_event('leave', now(), 'a1@$M', 1, 'C', 'left')"
	assert_line closing
}

@test "claims skip the rooms of an instance whose lease has run out" {
	sql "SELECT helpim.lease_take('a', 'x', '10 s')"
	room a1 a staff_waiting 1
	run -0 helpim-webapp client c1
	assert_output "a1@$M pw-a1"
	sql "UPDATE helpim.rooms SET status = 'staff_waiting', client_ref = NULL;
	     UPDATE helpim.instances SET until = now() - interval '1 s'"
	run -1 helpim-webapp client c2
	# a pipeline without a lease (run by hand) is not dead
	sql "TRUNCATE helpim.instances"
	run -0 helpim-webapp client c3
}

@test "a client queued while a lease ran out gets the adopted room at its first snapshot" {
	sql "TRUNCATE helpim.queue_events, helpim.queue, helpim.queue_shown"
	sql "SELECT helpim.lease_take('a', 'x', '10 s'), helpim.lease_take('b', 'y', '10 s')"
	room a1 a staff_waiting 1
	sql "UPDATE helpim.instances SET until = now() - interval '1 s' WHERE instance = 'a'"
	run -0 helpim-webapp queue c1
	assert_output 1
	run -0 sql "SELECT helpim.adopt('b', 1)"
	assert_output 1
	# the adopter's watcher joins the room and sees the staff member alone
	run -0 sql "SELECT helpim.apply_event('snapshot', clock_timestamp(), 'a1@$M', 1, NULL, 'S')"
	assert_output staff_waiting
	run -0 sql "SELECT client_ref, status FROM helpim.rooms WHERE jid = 'a1@$M'"
	assert_output "c1|client_claimed"
}

# sweep: helpim-setstatus's call, about once a second
sweep() {
	sql "SELECT helpim.sweep('1 hour', '1 hour', '1 hour')"
}

# another session sleeps in pg_sleep
asleep() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity
		WHERE state = 'active' AND query LIKE '%pg_sleep(%' AND pid <> pg_backend_pid()")" -ge 1 ]
}

@test "a client left beside a room whose lease ran out and was renewed is matched at the next sweep" {
	sql "TRUNCATE helpim.queue_events, helpim.queue, helpim.queue_shown"
	sql "SELECT helpim.lease_take('b', 'y', '10 s')"
	room b1 b staff_waiting 1
	sql "UPDATE helpim.instances SET until = now() - interval '1 s'"
	run -0 helpim-webapp queue c1
	assert_output 1
	run -0 sql "SELECT helpim.lease_renew('b', 1, '10 s')"
	assert_output t
	run -0 sweep
	run -0 sql "SELECT client_ref, status FROM helpim.rooms WHERE jid = 'b1@$M'"
	assert_output "c1|client_claimed"
}

@test "a client left beside a room by a close request rolled back is matched at the next sweep" {
	sql "TRUNCATE helpim.queue_events, helpim.queue, helpim.queue_shown"
	room a1 '' staff_waiting 1
	# a webapp's close request holds the room while c1 comes, then rolls back
	psql -XAtq -v ON_ERROR_STOP=1 >"$BATS_TEST_TMPDIR/close.out" 2>&1 3>&- <<-EOF2 &
		BEGIN;
		SELECT helpim.request_close('a1@$M', 'test');
		SELECT pg_sleep(2);
		ROLLBACK;
	EOF2
	local pid=$!
	wait_until 5 asleep
	run -0 helpim-webapp queue c1
	assert_output 1
	wait "$pid"
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE status = 'staff_waiting' AND close_requested_at IS NULL"
	assert_output 1
	run -0 sweep
	run -0 sql "SELECT client_ref, status FROM helpim.rooms WHERE jid = 'a1@$M'"
	assert_output "c1|client_claimed"
}

@test "a writer fenced to its instance hands another instance's room to the queue" {
	sql "TRUNCATE helpim.queue_events, helpim.queue, helpim.queue_shown"
	sql "SELECT helpim.lease_take('a', 'x', '10 s'), helpim.lease_take('b', 'y', '10 s')"
	room b1 b staff_waiting 1
	room a1 a staff_claimed 0
	sql "UPDATE helpim.rooms SET staff_ref = 's' WHERE jid = 'a1@$M'"
	# c1 waits while b's lease has run out; b renews it
	sql "UPDATE helpim.instances SET until = now() - interval '1 s' WHERE instance = 'b'"
	run -0 helpim-webapp queue c1
	run -0 sql "SELECT helpim.lease_renew('b', 1, '10 s')"
	# a's helpim-setstatus applies its staff member's join: the matching
	# in its session gives c1 the room that waited longest, b's
	run -0 sql "SELECT set_config('helpim.instance', 'a', false), set_config('helpim.epoch', '1', false);
		SELECT helpim.apply_event('join', clock_timestamp(), 'a1@$M', 1, 'S')"
	assert_line staff_waiting
	run -0 sql "SELECT jid, coalesce(client_ref, '-') FROM helpim.rooms ORDER BY jid"
	assert_output "a1@$M|-
b1@$M|c1"
}

@test "an enqueue held open does not stop the sweep: the claims expire, the queue waits" {
	sql "TRUNCATE helpim.queue_events, helpim.queue, helpim.queue_shown"
	sql "SELECT helpim.lease_take('b', 'y', '10 s')"
	room b1 b staff_waiting 1
	room a2 '' staff_claimed 0
	sql "UPDATE helpim.rooms SET staff_ref = 's2', staff_claimed_at = now() - interval '1 hour',
		seen_at = now() WHERE jid = 'a2@$M'"
	# a client left beside b1 (the lease ran out and was renewed)
	sql "UPDATE helpim.instances SET until = now() - interval '1 s'"
	run -0 helpim-webapp queue c1
	run -0 sql "SELECT helpim.lease_renew('b', 1, '10 s')"
	# a webapp's transaction with an enqueue stays open
	psql -XAtq -v ON_ERROR_STOP=1 >"$BATS_TEST_TMPDIR/enq.out" 2>&1 3>&- <<-EOF2 &
		BEGIN;
		SELECT helpim.enqueue_client('c2');
		SELECT pg_sleep(3);
		COMMIT;
	EOF2
	local pid=$!
	wait_until 5 asleep
	# helpim-setstatus's sweep, with its lock_timeout
	run -0 sql "SET lock_timeout = '200ms'; SELECT helpim.sweep('1 minute', '1 hour', '1 hour')"
	assert_output 1
	run -0 sql "SELECT status FROM helpim.rooms WHERE jid = 'a2@$M'"
	assert_output available
	wait "$pid"
	run -0 sweep
	run -0 sql "SELECT count(*) FROM helpim.queue WHERE status = 'assigned'"
	assert_output 1
}
