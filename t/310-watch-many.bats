#!/usr/bin/env bats
# helpim-watch with thousands of rooms stays small.

load helper

# 5000 rooms are measured by make bench; the suite keeps to fewer
N=${HELPIM_MANY_ROOMS:-2000}

setup_file() {
	sandbox_up
}

teardown_file() {
	sandbox_down
}

@test "$N rooms watched in one session, in under 16 MB" {
	local d=$BATS_TEST_TMPDIR i
	# create them as the bot account, the way helpim-mkrooms does
	for i in $(seq -w 1 "$N"); do
		printf 'join m%s@rooms.localhost creator\n' "$i"
		printf "raw <iq type='set' to='m%s@rooms.localhost' id='c%s'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field><field var='muc#roomconfig_publicroom'><value>0</value></field><field var='muc#roomconfig_roomsecret'><value>pw%s</value></field></x></query></iq>\n" "$i" "$i" "$i"
		printf 'leave m%s@rooms.localhost\n' "$i"
	done >"$d/mk.in"
	mkfifo "$d/mk.fifo"
	HELPIM_CHAT_PASSWORD=$(sed -n 's/^password = //p' "$HELPIM_CONF") \
		helpim-chat -j "$BOT_JID/mk" -p "$XMPP_PORT" <"$d/mk.fifo" \
		>"$d/mk.out" 3>&- &
	exec {mk}>"$d/mk.fifo"
	cat "$d/mk.in" >&"$mk"
	wait_until 240 sh -c "[ \$(grep -c '^left ' '$d/mk.out') -eq $N ]"
	exec {mk}>&-

	{
		echo 'helpim-feed|1'
		for i in $(seq -w 1 "$N"); do
			printf 'watch|m%s@rooms.localhost|available|pw%s\n' "$i" "$i"
		done
	} >"$d/feed"
	mkfifo "$d/w.fifo"
	helpim-watch -q <"$d/w.fifo" >"$d/w.out" 2>"$d/w.err" 3>&- &
	pid=$!
	echo "$pid" >"$BATS_FILE_TMPDIR/watch.pid"
	exec {w}>"$d/w.fifo"
	cat "$d/feed" >&"$w"
	wait_until 60 sh -c "[ \$(grep -c '^snapshot|' '$d/w.out') -eq $N ]" || {
		grep -c '^snapshot' "$d/w.out" >&2; head -3 "$d/w.out" "$d/w.err" >&2; false; }
	rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	echo "# $N rooms: peak RSS $rss kB" >&3
	exec {w}>&-
	wait_until 10 gone "$pid"
	run -0 grep -c '^snapshot|[^|]*|m[0-9]*@rooms.localhost|0$' "$d/w.out"
	assert_output "$N"
	run -0 cat "$d/w.err"
	assert_output ""
	# AddressSanitizer's shadow memory and quarantine come on top
	max=16384
	[ -z "${HELPIM_ASAN:-}" ] || max=$((max * 8))
	assert [ "$rss" -le "$max" ]
}
