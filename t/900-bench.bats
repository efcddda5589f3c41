#!/usr/bin/env bats
# The benchmark tools at a tiny size, so that they cannot rot; the
# benchmarks themselves are `make bench`, never part of `make check`.

load helper

setup_file() {
	make -s -C "$top" t/bench/flood t/bench/chats t/bench/staff t/bench/nosync.so >&2
	sandbox_up
	sed -i 's/^max_rooms = .*/max_rooms = 100/' "$HELPIM_CONF"
}

teardown_file() {
	sandbox_down
}

@test "flood: creates and configures rooms without the database" {
	run -0 "$top/t/bench/flood" -N 5
	assert_output 5
	run -0 sql "SELECT count(*) FROM helpim.rooms"
	assert_output 0
}

@test "chats: whole chats through helpim-run, latencies from NOTIFY" {
	psql -X -q -v ON_ERROR_STOP=1 -f "$top/t/bench/setup.sql"
	run -0 helpim-mkrooms -N 10
	helpim-run 2>"$BATS_FILE_TMPDIR/run.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
	sleep 1
	run -0 "$top/t/bench/chats" -d "$ANON_DOMAIN" -N 2 -t 2
	assert_output --regexp '^pairs 2 chats [1-9][0-9]* samples [1-9][0-9]* empty [0-9]+ p50 [0-9.]+ p99 [0-9.]+ max [0-9.]+$'
	kill "$(cat "$BATS_FILE_TMPDIR/run.pid")"
	rm -f "$BATS_FILE_TMPDIR/run.pid"
}

@test "run -q status: the status writer against pgbench, every event applied" {
	run -0 "$top/t/bench/run" -Q -o "$BATS_FILE_TMPDIR/B.md" status
	assert_line --regexp '^\| status writer, 2000 events, fsync on \| helpim-setstatus \| [0-9]+ events/s, 2000 of 2000 applied \| all applied \| yes \|$'
	assert_file_contains "$BATS_FILE_TMPDIR/B.md" '^## Machine$'
}

@test "usage: a bad option exits 100" {
	run -100 "$top/t/bench/flood" -x
	run -100 "$top/t/bench/chats" -x
	run -100 "$top/t/bench/run" -x
}
