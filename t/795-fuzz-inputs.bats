#!/usr/bin/env bats
# The fuzzers' inputs (t/fuzz/corpus-*: seeds, what the fuzzers kept, and
# every input that once crashed a parser) through the real programs: each
# is accepted or rejected cleanly, never a crash.

load helper

setup_file() {
	sandbox_up
}

teardown_file() {
	sandbox_down
}

# lines KIND: the version line, then each input of the corpus as one line
lines() {
	local f
	echo "$1"
	for f in "$top"/t/fuzz/corpus-"$2"/*; do
		cat "$f"
		echo
	done
}

# clean PROG FILE: every message is a line-numbered report
clean() {
	run -1 grep -av "^$1: line [0-9]*: " "$2"
}

@test "the feed inputs through helpim-watch" {
	run -0 sh -c "ls '$top/t/fuzz/corpus-feed' | wc -l"
	assert [ "$output" -gt 5 ]
	lines 'helpim-feed|1' feed >"$BATS_TEST_TMPDIR/in"
	run -0 helpim-watch -q <"$BATS_TEST_TMPDIR/in" \
	    2>"$BATS_TEST_TMPDIR/err" 3>&-
	clean helpim-watch "$BATS_TEST_TMPDIR/err"
}

@test "the event inputs through helpim-setstatus" {
	run -0 sh -c "ls '$top/t/fuzz/corpus-event' | wc -l"
	assert [ "$output" -gt 5 ]
	lines 'helpim-events|1' event >"$BATS_TEST_TMPDIR/in"
	run -0 helpim-setstatus -q <"$BATS_TEST_TMPDIR/in" \
	    2>"$BATS_TEST_TMPDIR/err" 3>&-
	clean helpim-setstatus "$BATS_TEST_TMPDIR/err"
}

@test "the configuration inputs through helpim-conf -n" {
	local f n=0
	for f in "$top"/t/fuzz/corpus-conf/*; do
		cp "$f" "$BATS_TEST_TMPDIR/c"
		chmod 600 "$BATS_TEST_TMPDIR/c"
		run helpim-conf -n -f "$BATS_TEST_TMPDIR/c"
		[ "$status" -eq 0 ] || [ "$status" -eq 100 ] ||
			fail "$f: exit $status: $output"
		[ "$status" -eq 0 ] || assert_output --regexp "^helpim-conf: "
		n=$((n + 1))
	done
	assert [ "$n" -gt 2 ]
}
