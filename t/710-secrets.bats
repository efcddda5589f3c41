#!/usr/bin/env bats
# Secrets stay out of argv, environments, memory and output; hostile text
# lands in the database byte for byte.

load helper
load pipeline

setup_file() {
	sandbox_up
	helpim-mkrooms 3>&-
	sql "SELECT password FROM helpim.rooms" >"$BATS_FILE_TMPDIR/secrets"
	sed -n 's/^password = //p' "$HELPIM_CONF" >>"$BATS_FILE_TMPDIR/secrets"
	pipe_start
	wait_until 20 sh -c '[ "$(grep -c "^snapshot|" "$0")" -eq 5 ]' \
		"$BATS_FILE_TMPDIR/events"
}

teardown_file() {
	sandbox_down
}

room() {
	sql "SELECT jid FROM helpim.rooms WHERE status = 'available'
	     ORDER BY id LIMIT 1 OFFSET $1"
}

# has_secret FILE...: does any of the passwords appear in these files?
has_secret() {
	grep -aqF -f "$BATS_FILE_TMPDIR/secrets" "$@"
}

# memory PID: the writable memory of a running process, on stdout; regions
# over 1 GB are the reserved shadow and heap spaces of a sanitizer build
memory() {
	local a b
	grep -E '^[0-9a-f]+-[0-9a-f]+ rw' "/proc/$1/maps" |
	while IFS='- ' read -r a b _; do
		[ $((16#$b - 16#$a)) -le 1073741824 ] || continue
		dd if="/proc/$1/mem" bs=64k iflag=skip_bytes,count_bytes \
			skip=$((16#$a)) count=$((16#$b - 16#$a)) 2>/dev/null
	done
}

@test "no password in the argv or the environment of the programs" {
	local p pid
	run -0 wc -l <"$BATS_FILE_TMPDIR/secrets"
	assert_output 6
	for p in rooms watch setstatus; do
		pid=$(cat "$BATS_FILE_TMPDIR/$p.pid")
		tr '\0' '\n' <"/proc/$pid/cmdline" >"$BATS_TEST_TMPDIR/$p.argv"
		tr '\0' '\n' <"/proc/$pid/environ" >"$BATS_TEST_TMPDIR/$p.env"
		run -0 grep -c . "$BATS_TEST_TMPDIR/$p.argv"
		run -1 has_secret "$BATS_TEST_TMPDIR/$p.argv" "$BATS_TEST_TMPDIR/$p.env"
	done
}

@test "the XMPP password is nowhere in memory, once helpim-watch has logged in" {
	local p pid pw
	pw=$(tail -n 1 "$BATS_FILE_TMPDIR/secrets")
	for p in rooms setstatus watch; do
		pid=$(cat "$BATS_FILE_TMPDIR/$p.pid")
		memory "$pid" >"$BATS_TEST_TMPDIR/$p.mem"
		run -0 test -s "$BATS_TEST_TMPDIR/$p.mem"
		run -1 grep -aqF "$pw" "$BATS_TEST_TMPDIR/$p.mem"
	done
	# the check itself finds a password where there is one
	memory $$ >"$BATS_TEST_TMPDIR/self.mem"
	run -0 grep -aqF "$pw" "$BATS_TEST_TMPDIR/self.mem"
}

@test "a nick and a close reason of quotes, backslashes, percent signs and UTF-8 land byte for byte" {
	local jid nick reason
	jid=$(room 0)
	nick="O'Br\"ie\\n%25%;--é€☃"  # XMPP: Unicode 3.2 only
	chat_start q
	chat q "join $jid $nick $(room_pw "$jid")"
	chat_wait q "^joined $jid "
	wait_until 10 sh -c "[ \"\$(psql -XAtqc \"SELECT chatters FROM helpim.rooms WHERE jid = '$jid'\")\" = 1 ]"
	run -0 sql "SELECT nick FROM helpim.room_events
		    WHERE jid = '$jid' AND event = 'join'"
	assert_output "$nick"
	run -0 sql "SELECT staff_nick FROM helpim.rooms WHERE jid = '$jid'"
	assert_output "$nick"
	run -0 sql "SELECT octet_length(staff_nick) FROM helpim.rooms
		    WHERE jid = '$jid'"
	assert_output "$(printf '%s' "$nick" | wc -c)"

	# a close reason of the same kind, through request_close
	reason="it's \"over\" \\ 100% |done| ☃ 'x'); DROP TABLE helpim.rooms; --"
	run -0 sql "SELECT helpim.request_close('$jid', \$r\$$reason\$r\$)"
	assert_output t
	chat_wait q "^kicked $jid"
	wait_until 10 sh -c "[ \"\$(psql -XAtqc \"SELECT status FROM helpim.rooms WHERE jid = '$jid'\")\" = closed ]"
	run -0 sql "SELECT detail FROM helpim.room_events
		    WHERE jid = '$jid' AND event = 'destroyed'"
	assert_output "$reason"
	run -0 sql "SELECT close_reason FROM helpim.rooms WHERE jid = '$jid'"
	assert_output "$reason"
	chat_stop q
}

@test "helpim-setstatus: encoded nicks and reasons land decoded, byte for byte" {
	local jid t
	jid=$(room 1)
	t=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
	printf '%s\n' 'helpim-events|1' \
	    "join|$t|$jid|1|%27%22\\%25%7C%09é€😀|" \
	    "kick|$t|$jid|1|%27%22\\%25%7C%09é€😀|x@y/%27;--" \
	    "leave|$t|$jid|0|%27%22\\%25%7C%09é€😀|left" |
		helpim-setstatus 3>&-
	# a join's detail is a JID hash or nothing: a kick's reason is free text
	run -0 sql "SELECT nick, detail FROM helpim.room_events
		    WHERE jid = '$jid' AND event = 'kick'"
	assert_output "$(printf '%s|%s' "'\"\\%|	é€😀" "x@y/';--")"
}

@test "no password in any output or message, nor in helpim-rooms" {
	local pid
	chat_start l
	chat l "join $(room 2) nobody wrong-password"
	chat_wait l "^error "
	chat_stop l
	helpim-rooms >"$BATS_TEST_TMPDIR/table" 2>&1
	helpim-rooms -S >"$BATS_TEST_TMPDIR/summary" 2>&1
	helpim-mkrooms -v >"$BATS_TEST_TMPDIR/mk" 2>&1
	pipe_stop
	grep -aF -f "$BATS_FILE_TMPDIR/secrets" "$BATS_FILE_TMPDIR"/*.err \
	    "$BATS_FILE_TMPDIR"/*.out "$BATS_TEST_TMPDIR"/* >&2 || true
	run -1 has_secret "$BATS_FILE_TMPDIR"/*.err "$BATS_FILE_TMPDIR"/*.out \
	    "$BATS_TEST_TMPDIR"/*
	run -0 grep -c . "$BATS_TEST_TMPDIR/table"
}

refill_pool() {
	[ "$(sql "SELECT count(*) FROM helpim.rooms
	    WHERE instance = 'refill' AND status = 'available'")" = 3 ]
}

@test "helpim-mkrooms -F keeps no password in memory: the bot's, nor its rooms'" {
	local f pid pw
	pw=$(tail -n 1 "$BATS_FILE_TMPDIR/secrets")
	f=$(conf_with refill instance=refill pool_size=3 refill_interval=1h)
	HELPIM_CONF=$f helpim-mkrooms -F 2>"$BATS_TEST_TMPDIR/refill.err" 3>&- &
	pid=$!
	wait_until 20 refill_pool
	# claims, with their history: the pool is topped up by the same process
	sql "WITH r AS (UPDATE helpim.rooms SET status = 'staff_claimed'
	    WHERE instance = 'refill' AND status = 'available' RETURNING id, jid)
	    INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    old_status, new_status) SELECT id, jid, now(), 'staff_claim', 0,
	    'available', 'staff_claimed' FROM r"
	wait_until 20 refill_pool
	sql "SELECT password FROM helpim.rooms WHERE instance = 'refill'" \
	    >"$BATS_TEST_TMPDIR/pws"
	run -0 grep -c . "$BATS_TEST_TMPDIR/pws"
	assert_output 6
	memory "$pid" >"$BATS_TEST_TMPDIR/refill.mem"
	run -0 test -s "$BATS_TEST_TMPDIR/refill.mem"
	run -1 grep -aqF -f "$BATS_TEST_TMPDIR/pws" "$BATS_TEST_TMPDIR/refill.mem"
	run -1 grep -aqF "$pw" "$BATS_TEST_TMPDIR/refill.mem"
	kill "$pid"
	wait "$pid"
}
