#!/usr/bin/env bats
# Bad input to every program: garbage, empty input, a 1 MB line, binary
# data, a missing or broken configuration, an unreachable server or
# database.  A clear message, the documented exit status, nothing lost.

load helper

PROGS="helpim-conf helpim-mkrooms helpim-rooms helpim-watch helpim-setstatus"

setup_file() {
	sandbox_up
	helpim-mkrooms 3>&-
	head -c 1048576 /dev/zero | tr '\0' 'x' >"$BATS_FILE_TMPDIR/mb"
	head -c 65536 /dev/urandom >"$BATS_FILE_TMPDIR/bin"
}

teardown_file() {
	sandbox_down
}

now() {
	date -u +%Y-%m-%dT%H:%M:%S.000Z
}

@test "a missing configuration: exit 100 naming the file" {
	local p
	for p in $PROGS; do
		run -100 "$p" -f "$BATS_FILE_TMPDIR/nonexistent.conf" </dev/null
		assert_output "$p: error: $BATS_FILE_TMPDIR/nonexistent.conf: No such file or directory"
	done
}

@test "a broken configuration: garbage, binary, empty, a directory: exit 100" {
	local p f
	printf 'jid = a@b\n{{{ garbage\n' >"$BATS_FILE_TMPDIR/garbage.conf"
	cp "$BATS_FILE_TMPDIR/bin" "$BATS_FILE_TMPDIR/binary.conf"
	: >"$BATS_FILE_TMPDIR/empty.conf"
	for p in $PROGS; do
		for f in garbage binary empty; do
			run -100 "$p" -f "$BATS_FILE_TMPDIR/$f.conf" </dev/null
			assert_output --regexp "^$p: error: $BATS_FILE_TMPDIR/$f.conf(:[0-9]+)?: "
			assert_equal "${#lines[@]}" 1
		done
		run -100 "$p" -f "$BATS_FILE_TMPDIR" </dev/null
		assert_output --regexp "^$p: error: $BATS_FILE_TMPDIR: "
	done
}

@test "usage errors: exit 100 with the synopsis" {
	local p
	for p in $PROGS; do
		run -100 "$p" -Z </dev/null
		assert_output --partial "usage: $p"
	done
}

@test "an unreachable XMPP server: exit 111" {
	local c
	c=$(conf_with noxmpp port=1 instance=elsewhere)
	# it logs in once its feed begins
	run -111 helpim-watch -f "$c" <<<'helpim-feed|1'
	assert_output --partial "helpim-watch: error: cannot reach the XMPP server 127.0.0.1 port 1"
	run -111 helpim-mkrooms -f "$c" </dev/null
	assert_output --partial "helpim-mkrooms: error: cannot connect to 127.0.0.1 port 1"
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE instance = 'elsewhere'"
	assert_output 0
	run -111 helpim-chat -p 1 </dev/null
}

@test "an unreachable database: exit 111" {
	local c p
	c=$(conf_with nodb "db=host=$BATS_FILE_TMPDIR/nowhere dbname=helpim")
	for p in helpim-mkrooms helpim-rooms helpim-setstatus; do
		run -111 "$p" -f "$c" </dev/null
		assert_output --regexp "^$p: error: .*(database|connection|socket)"
	done
	run -111 helpim-rooms -F -f "$c"
}

@test "helpim-setstatus: garbage, binary and a 1 MB line are skipped, nothing else lost" {
	local jid t
	jid=$(sql "SELECT jid FROM helpim.rooms WHERE status = 'available'
		   ORDER BY id LIMIT 1")
	t=$(now)
	{
		echo 'helpim-events|1'
		echo "join|$t|$jid|1|before|"
		echo 'garbage | | |||'
		cat "$BATS_FILE_TMPDIR/mb"
		echo
		cat "$BATS_FILE_TMPDIR/bin"
		echo
		echo "leave|$t|$jid|0|before|left"
		echo "join|$t|$jid|1|after|"
	} >"$BATS_TEST_TMPDIR/in"
	run -0 helpim-setstatus <"$BATS_TEST_TMPDIR/in"
	assert_line "helpim-setstatus: warning: line 3: unknown verb 'garbage ', skipped"
	assert_line "helpim-setstatus: warning: line 4: longer than 8192 bytes, skipped"
	run -0 sql "SELECT event || ' ' || nick FROM helpim.room_events
		    WHERE jid = '$jid' ORDER BY id"
	assert_output "join before
leave before
join after"
}

# A writer killed mid-line leaves a line without its newline: not a record.
@test "helpim-setstatus: an unfinished last line is reported and dropped" {
	local jid t
	jid=$(sql "SELECT jid FROM helpim.rooms WHERE status = 'available'
		   ORDER BY id LIMIT 1 OFFSET 2")
	t=$(now)
	run -0 helpim-setstatus < <(printf 'helpim-events|1\njoin|%s|%s|1|Anna|\njoin|%s|%s|2|Bert|' \
		"$t" "$jid" "$t" "$jid")
	assert_output "helpim-setstatus: warning: line 3: unfinished at end of input, dropped"
	run -0 sql "SELECT status || ' ' || chatters FROM helpim.rooms WHERE jid = '$jid'"
	assert_output "staff_waiting 1"
}

@test "helpim-setstatus: empty input, binary only, a missing or wrong version line" {
	run -0 helpim-setstatus -q </dev/null
	assert_output ""
	run -0 helpim-setstatus -q <"$BATS_FILE_TMPDIR/bin"
	assert_line --regexp "^helpim-setstatus: warning: line [0-9]+: no version line 'helpim-events\|1'$"
	run -1 grep -v '^helpim-setstatus: warning: line [0-9]*: ' <<<"$output"
	run -0 helpim-setstatus -q < <(echo "join|$(now)|a@b|1|x|")
	assert_line --index 0 "helpim-setstatus: warning: line 1: no version line 'helpim-events|1'"
	run -100 helpim-setstatus -q < <(echo 'helpim-events|2')
	assert_output "helpim-setstatus: error: line 1: 'helpim-events|2' is not supported; expected 'helpim-events|1'"
}

@test "helpim-watch: empty input, garbage, binary and a 1 MB line; the good line after them works" {
	local jid pw
	# no feed: never online, nothing written
	run -0 helpim-watch -q </dev/null
	assert_output ""
	jid=$(sql "SELECT jid FROM helpim.rooms WHERE status = 'available'
		   ORDER BY id LIMIT 1 OFFSET 1")
	pw=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$jid'")
	{
		echo 'helpim-feed|1'
		echo 'garbage|||'
		cat "$BATS_FILE_TMPDIR/mb"
		echo
		cat "$BATS_FILE_TMPDIR/bin"
		echo
		echo "watch|$jid|available|$pw"
		sleep 3
	} | helpim-watch >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&-
	run -0 grep -c "^snapshot|[^|]*|$jid|0$" "$BATS_TEST_TMPDIR/out"
	assert_output 1
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_line "helpim-watch: warning: line 2: unknown verb 'garbage', skipped"
	assert_line "helpim-watch: warning: line 3: longer than 8192 bytes, skipped"
	refute_output --partial "$pw"
	run -0 grep -c . "$BATS_TEST_TMPDIR/out"
	assert_output 2
}

# helpim-run's SIGKILL can cut a feed line mid-password: a join with half of
# it would be refused and the live room taken for gone.
@test "helpim-watch: an unfinished last line is reported and dropped" {
	local jid pw
	jid=$(sql "SELECT jid FROM helpim.rooms WHERE status = 'available'
		   ORDER BY id LIMIT 1 OFFSET 1")
	pw=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$jid'")
	{
		echo 'helpim-feed|1'
		printf 'watch|%s|available|%.5s' "$jid" "$pw"
		sleep 2
	} | helpim-watch -q >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&-
	run -0 cat "$BATS_TEST_TMPDIR/out"
	assert_output "helpim-events|1"
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_output "helpim-watch: warning: line 2: unfinished at end of input, dropped"
}

@test "helpim-watch: a feed of another version is refused" {
	run -100 helpim-watch < <(echo 'helpim-feed|2')
	assert_output --partial "helpim-watch: error: line 1: 'helpim-feed|2' is not supported"
}

@test "helpim-rooms and helpim-conf ignore their input; helpim-rooms -F ends with its reader" {
	run -0 helpim-rooms <"$BATS_FILE_TMPDIR/bin"
	run -0 helpim-conf jid <"$BATS_FILE_TMPDIR/bin"
	assert_output bot@localhost
	run -0 sh -c 'helpim-rooms -q -F | head -n 1'
	assert_output 'helpim-feed|1'
}

@test "helpim-chat: garbage commands are refused, the session goes on" {
	run -0 helpim-chat -p "$XMPP_PORT" < <(printf 'frobnicate\n\njoin\n'; \
	    cat "$BATS_FILE_TMPDIR/bin"; printf '\nquit\n')
	assert_line --regexp '^online '
}
