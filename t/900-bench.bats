#!/usr/bin/env bats
# The benchmark tools at a tiny size, so that they cannot rot; the
# benchmarks themselves are `make bench`, never part of `make check`.

load helper

setup_file() {
	make -s -C "$top" t/bench/flood t/bench/paced t/bench/staff >&2
	sandbox_up
	sed -i 's/^max_rooms = .*/max_rooms = 100/' "$HELPIM_CONF"
}

teardown_file() {
	sandbox_down
}

# bench ARGS...: t/bench/run -Q, stopped if it runs past 10 minutes
bench() { timeout -k 60 600 "$top/t/bench/run" -Q "$@"; }

@test "flood: creates and configures rooms without the database" {
	run -0 "$top/t/bench/flood" -N 5
	assert_output 5
	run -0 "$top/t/bench/flood" -i -N 5
	assert_output 5
	run -0 sql "SELECT count(*) FROM helpim.rooms"
	assert_output 0
}

@test "paced: chats on a Poisson schedule, latencies split at the watcher" {
	psql -X -q -v ON_ERROR_STOP=1 -f "$top/t/bench/setup.sql"
	sed -i 's/^pool_size = .*/pool_size = 20/' "$HELPIM_CONF"
	run -0 helpim-mkrooms
	helpim-run 2>"$BATS_FILE_TMPDIR/run.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	wait_until 10 sql "SELECT 1 / count(*) FROM helpim.rooms WHERE seen_at IS NOT NULL"
	run -0 timeout -k 60 120 "$top/t/bench/paced" -d "$ANON_DOMAIN" -c 2 -r 4 -l 1 -t 3
	assert_line --index 0 steady
	assert_line --index 1 --regexp '^chats [1-9][0-9]* steady [0-9]+ samples [1-9][0-9]* lost [0-9]+ empty [0-9]+ late [0-9]+ foreign [0-9]+ cpu [0-9.]+ e2e-p50 [0-9.]+ e2e-p99 [0-9.]+ e2e-max [0-9.]+ server-p50 [0-9.-]+ server-p99 [0-9.-]+ server-max [0-9.-]+ bot-p50 [0-9.]+ bot-p99 [0-9.]+ bot-max [0-9.]+$'
	kill "$(cat "$BATS_FILE_TMPDIR/run.pid")"
	rm -f "$BATS_FILE_TMPDIR/run.pid"
}

@test "run -Q fill: helpim-mkrooms as a share of the flood run beside it" {
	run -0 bench -o "$BATS_FILE_TMPDIR/F.md" fill
	assert_line --regexp '^\| pool fill, 20 rooms, Prosody SQLite \| helpim-mkrooms \(default: -J 128, the form fetched once\) \| [0-9]+ rooms/s; [0-9]+ % of the flood \(the median; each round against its own: [0-9]+\); [0-9]+ % of flood -i, the flood with the check \(the median; each round against its own: [0-9]+\) \| >= 90 % \| (yes|no) \|$'
	assert_line --regexp '^\| pool fill, 20 rooms, Prosody SQLite \| helpim-mkrooms -J 1 .* [0-9]+ % of the flood '
	assert_line --regexp '^\| pool fill, 20 rooms, Prosody SQLite \| raw flood with .*disco#info.* \| [0-9]+ rooms/s; [0-9]+ % of the flood .*; Prosody CPU [0-9.]+ s \|'
}

@test "run -Q status: the status writer against pgbench, every event applied" {
	run -0 bench -o "$BATS_FILE_TMPDIR/B.md" status
	assert_line --regexp '^\| status writer, 2000 events, fsync on \| helpim-setstatus \| [0-9]+ events/s, 2000 of 2000 applied \| all applied \| yes \|$'
	assert_file_contains "$BATS_FILE_TMPDIR/B.md" '^## Machine$'
}

@test "run -Q routing: the queue through helpim-setstatus, every client served once" {
	run -0 bench -o "$BATS_FILE_TMPDIR/R.md" routing
	assert_line --regexp '^\| routing, 100 clients, 10 staff members, chats of 100 ms on average, fsync on \| enqueue_client, 10 connections \(pgbench\), the median of 3 rounds \| [0-9]+/s \([0-9 ]+\) '
	assert_line --regexp "^\\| routing, 100 clients, 10 staff members, chats of 100 ms on average, fsync on \\| the queue: a staff member's join to the assigned notification \\| p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms \\(100\\); .*; 100 of 100 clients served \\|"
	assert_line --regexp "^\\| routing, 100 clients, 10 staff members, chats of 100 ms on average, fsync on \\| the same, its two parts: .* \\| p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms \\(100\\); p50 [0-9.]+ ms"
}

@test "run -Q capacity: the CPU per chat of each part of the bot, the old bot beside" {
	BENCH_RATES=4 BENCH_BOT_BEFORE=$top run -0 bench -o "$BATS_FILE_TMPDIR/C.md" capacity
	assert_line --regexp '^\| capacity, Prosody SQLite \(chats of 1 s, 3 s a step, the bot of '"$top"'\) \| CPU per chat at 4 chats/s'
	# the rest of the machine beside the load average: a busy neighbour
	assert_line --regexp '^\| capacity, Prosody SQLite \(chats of 1 s, 3 s a step\) \| highest arrival rate .*; load average [0-9.]+; other processes [0-9.]+ cores, stolen by the host [0-9.]+ cores \|'
	assert_line --regexp '^\| capacity, Prosody SQLite \(chats of 1 s, 3 s a step\) \| CPU per chat at 4 chats/s \([1-9][0-9]* chats in 2 s; load average [0-9.]+; other processes [0-9.]+ cores, stolen by the host [0-9.]+ cores\) \|.* the bot \(all of helpim-run\) [0-9.]+ ms = [0-9.]+ % of Prosody \(helpim-watch, helpim-setstatus, helpim-rooms [0-9.]+ ms.*, the rest [0-9.]+ ms: helpim-run'
}

@test "usage: a bad option exits 100" {
	run -100 "$top/t/bench/flood" -x
	run -100 "$top/t/bench/paced" -x
	run -100 "$top/t/bench/paced" -r 0
	run -100 "$top/t/bench/staff" -x
	run -100 "$top/t/bench/staff" -n 1 -c 1 -l -1
	run -100 "$top/t/bench/run" -x
}
