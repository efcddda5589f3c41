#!/usr/bin/env bats
# helpim-watch against a real Prosody (or ejabberd with XMPP=ejabberd), with
# real helpim-chat participants.

load helper

T='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

setup_file() {
	sandbox_up
	BOTPW=$(sed -n 's/^password = //p' "$HELPIM_CONF")
	export BOTPW
}

teardown_file() {
	sandbox_down
}

teardown() {
	watch_stop
}

# mkroom ROOM PASSWORD: create and configure a room as the bot account
# (the way helpim-mkrooms does), then leave it.
mkroom() {
	local out=$BATS_TEST_TMPDIR/mk.out
	{
		echo "join $1 creator"
		wait_until 5 grep -q "^joined $1 " "$out"
		echo "raw <iq type='set' to='$1' id='cfg'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field><field var='muc#roomconfig_publicroom'><value>0</value></field><field var='muc#roomconfig_whois'><value>moderators</value></field><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>$2</value></field></x></query></iq>"
		echo "info $1"
		wait_until 5 grep -q "^feature muc_passwordprotected" "$out"
		echo "leave $1"
		wait_until 5 grep -q "^left $1" "$out"
	} | HELPIM_CHAT_PASSWORD=$BOTPW helpim-chat -j "$BOT_JID/mk" \
		-p "$XMPP_PORT" >"$out" 3>&-
}

# destroy ROOM PASSWORD: another session of the bot account destroys it.
destroy() {
	local out=$BATS_TEST_TMPDIR/rm.out
	{
		echo "join $1 remover $2"
		wait_until 5 grep -q "^joined $1 " "$out"
		echo "raw <iq type='set' to='$1' id='rm'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy><reason>by hand</reason></destroy></query></iq>"
		wait_until 5 grep -q "^destroyed $1" "$out"
	} | HELPIM_CHAT_PASSWORD=$BOTPW helpim-chat -j "$BOT_JID/rm" \
		-p "$XMPP_PORT" >"$out" 3>&-
}

# as_owner ROOM PASSWORD STANZA: another session of the bot account sends
# STANZA from inside the room.
as_owner() {
	local out=$BATS_TEST_TMPDIR/own.out
	{
		echo "join $1 owner $2"
		wait_until 5 grep -q "^joined $1 " "$out"
		echo "raw $3"
		echo "info $1"
		wait_until 5 grep -q "^info $1 done" "$out"
		echo "leave $1"
		wait_until 5 grep -q "^left $1" "$out"
	} | HELPIM_CHAT_PASSWORD=$BOTPW helpim-chat -j "$BOT_JID/own" \
		-p "$XMPP_PORT" >"$out" 3>&-
}

watch_start() {
	local d=$BATS_FILE_TMPDIR f closes=
	rm -f "$d/watch.in" "$d/watch.out" "$d/watch.err"
	mkfifo "$d/watch.in"
	for f in "$d"/*.fd; do
		[ -e "$f" ] && closes="$closes $(cat "$f")>&-"
	done
	eval "helpim-watch \"\$@\" <\"\$d/watch.in\" >\"\$d/watch.out\" \
		2>\"\$d/watch.err\" 3>&- $closes &"
	echo $! >"$d/watch.pid"
	eval "exec {fd}>\"$d/watch.in\""
	echo "$fd" >"$d/watch.fd"
	feed 'helpim-feed|1'
}

feed() {
	printf '%s\n' "$1" >&"$(cat "$BATS_FILE_TMPDIR/watch.fd")"
}

watch_wait() {
	wait_until "${2:-10}" grep -qE "$1" "$BATS_FILE_TMPDIR/watch.out" || {
		echo "watch_wait '$1': got:" >&2
		cat "$BATS_FILE_TMPDIR/watch.out" "$BATS_FILE_TMPDIR/watch.err" >&2
		return 1
	}
}

# watch_stop: end of input; the exit status goes to $BATS_FILE_TMPDIR/rc.
watch_stop() {
	local d=$BATS_FILE_TMPDIR pid rc=0
	[ -e "$d/watch.pid" ] || return 0
	pid=$(cat "$d/watch.pid")
	if [ -e "$d/watch.fd" ]; then
		eval "exec $(cat "$d/watch.fd")>&-"
		rm -f "$d/watch.fd"
	fi
	wait_until 10 gone "$pid" || kill -9 "$pid"
	wait "$pid" || rc=$?
	echo "$rc" >"$d/rc"
	rm -f "$d/watch.pid"
}

events() {
	cat "$BATS_FILE_TMPDIR/watch.out"
}

@test "snapshot, join, nick, leave and an extra chatter kicked" {
	mkroom ev@rooms.localhost pw-ev
	chat_start early
	chat early "join ev@rooms.localhost early pw-ev"
	chat_wait early '^joined '
	watch_start
	feed 'watch|ev@rooms.localhost|staff_waiting|pw-ev'
	watch_wait "^snapshot\|$T\|ev@rooms.localhost\|1\|early$"
	chat_wait early '^occupant ev@rooms.localhost helpim joined'

	chat_start anna
	chat anna "join ev@rooms.localhost anna pw-ev"
	watch_wait "^join\|$T\|ev@rooms.localhost\|2\|anna\|$"
	chat anna "nick ev@rooms.localhost anne"
	watch_wait "^nick\|$T\|ev@rooms.localhost\|2\|anna\|anne$"

	chat_start third
	chat third "join ev@rooms.localhost third pw-ev"
	chat_wait third '^kicked ev@rooms.localhost'
	watch_wait "^kick\|$T\|ev@rooms.localhost\|2\|third\|room full$"

	chat early "leave ev@rooms.localhost"
	watch_wait "^leave\|$T\|ev@rooms.localhost\|1\|early\|left$"
	chat_stop anna
	watch_wait "^leave\|$T\|ev@rooms.localhost\|0\|anne\|left$"
	chat_stop early
	chat_stop third

	run -0 events
	assert_line --index 0 'helpim-events|1'
	# the extra chatter was never counted: no join or leave for it
	refute_output --regexp '\|third\|left'
	refute_output --regexp '^join.*\|third\|'
	# not a leave: the nick change
	refute_output --regexp '^leave.*\|anna\|'
}

@test "an empty room survives a return within the grace, not a longer absence" {
	mkroom grace@rooms.localhost pw-g
	watch_start
	feed 'watch|grace@rooms.localhost|available|pw-g'
	watch_wait "^snapshot\|$T\|grace@rooms.localhost\|0$"
	chat_start staff
	chat staff "join grace@rooms.localhost staff pw-g"
	watch_wait "^join\|$T\|grace@rooms.localhost\|1\|staff\|"
	# a page reload: gone and back well within the grace of 1 s
	chat staff "leave grace@rooms.localhost"
	watch_wait "^leave\|$T\|grace@rooms.localhost\|0\|staff\|left$"
	chat staff "join grace@rooms.localhost staff pw-g"
	chat_wait staff '^joined grace@rooms.localhost staff'
	watch_wait "^join\|$T\|grace@rooms.localhost\|1\|staff\|.*"
	sleep 1.5
	run -0 events
	refute_output --partial destroyed
	# now for good
	chat staff "leave grace@rooms.localhost"
	watch_wait "^destroyed\|$T\|grace@rooms.localhost\|0\|empty$"
	run -0 events
	assert_equal "$(grep -c '^leave|' <<<"$output")" 2
	# the room is gone from the server
	chat staff "join grace@rooms.localhost staff pw-g"
	chat_wait staff '^error grace@rooms.localhost '
	chat_stop staff
}

@test "a room that had chatters and is empty on joining gets the grace too" {
	mkroom had@rooms.localhost pw-h
	watch_start
	feed 'watch|had@rooms.localhost|chatting|pw-h'
	watch_wait "^snapshot\|$T\|had@rooms.localhost\|0$"
	watch_wait "^destroyed\|$T\|had@rooms.localhost\|0\|empty$" 5
}

@test "close kicks the chatters with the reason and destroys the room" {
	mkroom cl@rooms.localhost pw-c
	watch_start -v
	feed 'watch|cl@rooms.localhost|available|pw-c'
	watch_wait "^snapshot\|$T\|cl@rooms.localhost\|0$"
	chat_start a
	chat a "join cl@rooms.localhost a pw-c"
	chat_start b
	chat b "join cl@rooms.localhost b pw-c"
	watch_wait "^join\|$T\|cl@rooms.localhost\|2\|b\|"
	# a second close, read with the first: the room is closing already
	feed $'close|cl@rooms.localhost|chat ended%7Cbye\nclose|cl@rooms.localhost|again'
	watch_wait "^destroyed\|$T\|cl@rooms.localhost\|0\|chat ended%7Cbye$"
	chat_wait a '^kicked cl@rooms.localhost'
	chat_wait b '^kicked cl@rooms.localhost'
	run -0 events
	assert_line --regexp "^leave\|$T\|cl@rooms.localhost\|1\|a\|kicked$"
	assert_line --regexp "^leave\|$T\|cl@rooms.localhost\|0\|b\|kicked$"
	run -0 cat "$BATS_FILE_TMPDIR/watch.err"
	assert_line --partial "cl@rooms.localhost: close while closing: ignored"
	chat_stop a
	chat_stop b
}

@test "after a restart the snapshot tells who is in the room" {
	mkroom rs@rooms.localhost pw-r
	watch_start
	feed 'watch|rs@rooms.localhost|available|pw-r'
	watch_wait "^snapshot\|$T\|rs@rooms.localhost\|0$"
	kill -9 "$(cat "$BATS_FILE_TMPDIR/watch.pid")"
	watch_stop
	chat_start x
	chat x "join rs@rooms.localhost x pw-r"
	chat_start y
	chat y "join rs@rooms.localhost y pw-r"
	chat_wait y '^joined '
	watch_start
	feed 'watch|rs@rooms.localhost|available|pw-r'
	watch_wait "^snapshot\|$T\|rs@rooms.localhost\|2\|(x\|y|y\|x)$"
	chat_stop x
	chat_stop y
	watch_wait "^leave\|$T\|rs@rooms.localhost\|0\|"
}

@test "too many chatters found on joining: the extra ones are kicked" {
	mkroom tm@rooms.localhost pw-t
	for c in p q r; do
		chat_start "$c"
		chat "$c" "join tm@rooms.localhost $c pw-t"
		chat_wait "$c" '^joined '
	done
	watch_start
	feed 'watch|tm@rooms.localhost|chatting|pw-t'
	watch_wait "^snapshot\|$T\|tm@rooms.localhost\|2\|[pqr]\|[pqr]$"
	watch_wait "^kick\|$T\|tm@rooms.localhost\|2\|[pqr]\|room full$"
	run -0 events
	refute_output --regexp '^(leave|join)'
	for c in p q r; do
		chat_stop "$c"
	done
	watch_wait "^leave\|$T\|tm@rooms.localhost\|0\|"
	run -0 grep -c '^leave|' "$BATS_FILE_TMPDIR/watch.out"
	assert_output 2
}

@test "a room destroyed by someone else, or never there, is reported gone" {
	mkroom va@rooms.localhost pw-v
	watch_start
	feed 'watch|va@rooms.localhost|available|pw-v'
	watch_wait "^snapshot\|$T\|va@rooms.localhost\|0$"
	destroy va@rooms.localhost pw-v
	watch_wait "^gone\|$T\|va@rooms.localhost\|0\|destroyed$"
	# never created: the bot's join creates it (201); it is destroyed again
	feed 'watch|never@rooms.localhost|available|pw-n'
	watch_wait "^gone\|$T\|never@rooms.localhost\|0\|recreated$"
	chat_start n
	chat n "join never@rooms.localhost n pw-n"
	chat_wait n '^error never@rooms.localhost '
	chat_stop n
	# destroyed before the bot came: the bot (an admin) may recreate it
	feed 'watch|va@rooms.localhost|available|pw-v'
	watch_wait "^gone\|$T\|va@rooms.localhost\|0\|recreated$"
	run -0 events
	refute_output --regexp '^snapshot.*never@'
}

@test "a wrong room password: Prosody refuses the bot (gone), ejabberd lets its owner in" {
	mkroom wp@rooms.localhost pw-right
	watch_start
	feed 'watch|wp@rooms.localhost|available|pw-wrong'
	if [ "$XMPP" = prosody ]; then
		watch_wait "^gone\|$T\|wp@rooms.localhost\|0\|not-authorized$"
		run -0 events
		refute_output --regexp '^snapshot.*wp@'
	else
		watch_wait "^snapshot\|$T\|wp@rooms.localhost\|0$"
	fi
}

@test "hostile nicks come out encoded and the stream stays parseable" {
	mkroom ho@rooms.localhost pw-ho
	watch_start
	feed 'watch|ho@rooms.localhost|available|pw-ho'
	watch_wait "^snapshot\|$T\|ho@rooms.localhost\|0$"
	chat_start h
	long=$(printf 'x%.0s' $(seq 1000))
	chat h "join ho@rooms.localhost a|b%c pw-ho"
	watch_wait "^join\|$T\|ho@rooms.localhost\|1\|a%7Cb%25c\|"
	chat h "nick ho@rooms.localhost Ünïcødé→☃"
	watch_wait "^nick\|$T\|ho@rooms.localhost\|1\|a%7Cb%25c\|Ünïcødé→☃$"
	chat h "nick ho@rooms.localhost $long"
	watch_wait "^nick\|$T\|ho@rooms.localhost\|1\|Ünïcødé→☃\|$long$"
	# a tab: XMPP forbids control characters in nicks; refused
	chat h "raw <presence to='ho@rooms.localhost/tab&#9;nick'><x xmlns='http://jabber.org/protocol/muc'><password>pw-ho</password></x></presence>"
	chat_wait h '^error ho@rooms.localhost '
	# requests and messages to the bot get no answer, so no error
	chat h "raw <iq type='get' to='ho@rooms.localhost/helpim' id='v1'><query xmlns='jabber:iq:version'/></iq>"
	chat h "raw <iq type='get' to='ho@rooms.localhost/helpim' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
	chat h "raw <iq type='set' to='ho@rooms.localhost/helpim' id='s1'><query xmlns='urn:x-bogus'/></iq>"
	chat h "raw <message to='ho@rooms.localhost/helpim' type='chat'><body>hello bot</body></message>"
	chat h "say ho@rooms.localhost hello room"
	chat h "info ho@rooms.localhost"
	chat_wait h '^info ho@rooms.localhost done'
	sleep 0.5	# an answer from the bot would have come back by now
	run -0 cat "$BATS_FILE_TMPDIR/h.out"
	refute_output --partial 'helpim left'
	chat h "leave ho@rooms.localhost"
	watch_wait "^leave\|$T\|ho@rooms.localhost\|0\|$long\|left$"
	chat_stop h
	watch_stop
	# leaving at the end of input is not the room going away
	run -0 events
	refute_output --partial gone
	refute_output --partial hello
	# every line: a known verb, the time, the room, a count, no raw controls
	run -1 grep -cvE "^(helpim-events\|1|(snapshot|join|leave|nick|kick|destroyed|gone)\|$T\|[^|]+@[^|]+\|[0-9]+(\|[^|[:cntrl:]]*)*)$" "$BATS_FILE_TMPDIR/watch.out"
	assert_output 0
}

@test "malformed feed lines are reported with their line numbers and skipped" {
	mkroom mf@rooms.localhost pw-m
	watch_start
	feed 'frobnicate|x'
	feed 'watch|mf@rooms.localhost|available'
	feed 'watch|not-a-jid|available|pw'
	feed 'watch|mf@rooms.localhost|Weird|pw-m'
	feed 'watch|mf@rooms.localhost|available|bad%zz'
	feed 'close|mf@rooms.localhost'
	feed ''
	feed "watch|mf@rooms.localhost|available|$(printf 'p%.0s' $(seq 9000))"
	feed 'watch|mf@rooms.localhost|available|pw-m'
	feed 'watch|mf@rooms.localhost|available|pw-m'
	watch_wait "^snapshot\|$T\|mf@rooms.localhost\|0$"
	run -0 cat "$BATS_FILE_TMPDIR/watch.err"
	assert_line "helpim-watch: warning: line 2: unknown verb 'frobnicate', skipped"
	assert_line "helpim-watch: warning: line 3: watch: wrong number of fields, skipped"
	assert_line "helpim-watch: warning: line 4: bad room JID, skipped"
	assert_line "helpim-watch: warning: line 5: bad status 'Weird', skipped"
	assert_line "helpim-watch: warning: line 6: bad password, skipped"
	assert_line "helpim-watch: warning: line 7: close: wrong number of fields, skipped"
	assert_line "helpim-watch: warning: line 8: unknown verb '', skipped"
	assert_line "helpim-watch: warning: line 9: longer than 8192 bytes, skipped"
	# the passwords never show
	refute_output --partial pw-m
	# a second watch line for the same room is ignored
	run -0 grep -c '^snapshot|' "$BATS_FILE_TMPDIR/watch.out"
	assert_output 1
}

@test "nicks taken by chatters: the bot joins as nick-2, then nick-RANDOM" {
	mkroom nk@rooms.localhost pw-k
	chat_start imp
	chat imp "join nk@rooms.localhost helpim pw-k"
	chat_wait imp '^joined '
	watch_start
	feed 'watch|nk@rooms.localhost|available|pw-k'
	watch_wait "^snapshot\|$T\|nk@rooms.localhost\|1\|helpim$"
	chat_wait imp '^occupant nk@rooms.localhost helpim-2 joined'
	watch_stop
	# both taken: a random suffix, and the room is watched as before
	chat imp "nick nk@rooms.localhost helpim-2"
	chat_wait imp '^nick nk@rooms.localhost helpim-2'
	chat_start imp2
	chat imp2 "join nk@rooms.localhost helpim pw-k"
	chat_wait imp2 '^joined '
	watch_start
	feed 'watch|nk@rooms.localhost|available|pw-k'
	watch_wait "^snapshot\|$T\|nk@rooms.localhost\|2\|(helpim\|helpim-2|helpim-2\|helpim)$"
	chat_wait imp '^occupant nk@rooms.localhost helpim-[0-9]{3,5} joined'
	chat_start imp3
	chat imp3 "join nk@rooms.localhost imp3 pw-k"
	chat_wait imp3 '^kicked nk@rooms.localhost'
	watch_wait "^kick\|$T\|nk@rooms.localhost\|2\|imp3\|room full$"
	run -0 events
	refute_output --partial gone
	chat_stop imp
	chat_stop imp2
	chat_stop imp3
}

@test "SIGTERM and end of input leave the rooms alive and exit 0" {
	mkroom st@rooms.localhost pw-s
	chat_start s
	chat s "join st@rooms.localhost s pw-s"
	watch_start
	feed 'watch|st@rooms.localhost|staff_waiting|pw-s'
	watch_wait "^snapshot\|$T\|st@rooms.localhost\|1\|s$"
	kill -TERM "$(cat "$BATS_FILE_TMPDIR/watch.pid")"
	watch_stop
	run -0 cat "$BATS_FILE_TMPDIR/rc"
	assert_output 0
	chat_wait s '^occupant st@rooms.localhost helpim left$'
	run -0 cat "$BATS_FILE_TMPDIR/s.out"
	refute_output --partial destroyed

	watch_start
	feed 'watch|st@rooms.localhost|staff_waiting|pw-s'
	watch_wait "^snapshot\|$T\|st@rooms.localhost\|1\|s$"
	watch_stop
	run -0 cat "$BATS_FILE_TMPDIR/rc"
	assert_output 0
	chat_wait s '^occupant st@rooms.localhost helpim left$'
	run -0 cat "$BATS_FILE_TMPDIR/s.out"
	refute_output --partial destroyed
	# the room is still there
	chat_start t
	chat t "join st@rooms.localhost t pw-s"
	chat_wait t '^joined st@rooms.localhost t'
	chat_stop t
	chat_stop s
}

@test "wrong password exits 100 and says so" {
	C=$BATS_TEST_TMPDIR/bad.conf
	(umask 077; sed 's/^password = .*/password = wrong/' "$HELPIM_CONF" >"$C")
	# it logs in once its feed begins
	run -100 helpim-watch -f "$C" <<<"helpim-feed|1"
	assert_line --partial 'wrong password'
	refute_output --partial "$BOTPW"
}

@test "an unreachable server exits 111" {
	C=$BATS_TEST_TMPDIR/off.conf
	(umask 077; sed 's/^port = .*/port = 1/' "$HELPIM_CONF" >"$C")
	run -111 helpim-watch -f "$C" <<<"helpim-feed|1"
	assert_line --partial 'cannot reach'
	# no feed, no login: an empty input ends it before it tries
	run -0 helpim-watch -f "$C" </dev/null
	refute_output
	run -0 helpim-watch -n -f "$C"
	run -100 helpim-watch -x
	assert_line 'usage: helpim-watch [-nqv] [-f file]'
}

@test "a server shutdown: a leave seen is left or shutdown; the lost connection exits 111" {
	mkroom sd@rooms.localhost pw-d
	chat_start sd
	chat sd "join sd@rooms.localhost sd pw-d"
	watch_start
	feed 'watch|sd@rooms.localhost|available|pw-d'
	watch_wait "^snapshot\|$T\|sd@rooms.localhost\|1\|sd$"
	helpim-sandbox stop-xmpp "$SB"
	wait_until 10 gone "$(cat "$BATS_FILE_TMPDIR/watch.pid")"
	watch_stop
	helpim-sandbox start-xmpp "$SB"
	run -0 cat "$BATS_FILE_TMPDIR/rc"
	assert_output 111
	# Prosody ends the chatter's session first (a plain leave) or tells
	# the room it shuts down (332), unless the bot's own session ends
	# first; ejabberd ends the bot's session first, and the bot sees
	# nobody leave.  A leave seen has one of those two causes.
	run -0 events
	refute_line --regexp "^leave\|.*\|(kicked|banned|removed|disconnected|error)$"
	if [ "$XMPP" = ejabberd ]; then
		refute_line --regexp "^leave\|"
	fi
	run -0 cat "$BATS_FILE_TMPDIR/watch.err"
	assert_output --partial 'connection to the XMPP server lost'
	chat_stop sd
}

@test "a lost connection exits 111" {
	mkroom lc@rooms.localhost pw-l
	watch_start
	feed 'watch|lc@rooms.localhost|available|pw-l'
	watch_wait "^snapshot\|$T\|lc@rooms.localhost\|0$"
	helpim-sandbox kill-xmpp "$SB"
	wait_until 10 gone "$(cat "$BATS_FILE_TMPDIR/watch.pid")"
	watch_stop
	helpim-sandbox start-xmpp "$SB"
	run -0 cat "$BATS_FILE_TMPDIR/rc"
	assert_output 111
	run -0 cat "$BATS_FILE_TMPDIR/watch.err"
	assert_output --partial 'connection to the XMPP server lost'
}

@test "a room made by helpim-mkrooms is watched like any other" {
	run -0 helpim-mkrooms -N 1
	room=$output
	assert_regex "$room" '^[a-z0-9._-]+@rooms\.localhost$'
	pw=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$room'")
	watch_start
	feed "watch|$room|available|$pw"
	watch_wait "^snapshot\|$T\|$room\|0$"
	chat_start m
	chat m "join $room staff $pw"
	watch_wait "^join\|$T\|$room\|1\|staff\|$"
	chat_stop m
	watch_wait "^leave\|$T\|$room\|0\|staff\|left$"
	watch_wait "^destroyed\|$T\|$room\|0\|empty$"
}

@test "leave causes: kicked, banned, disconnected" {
	mkroom lv@rooms.localhost pw-lv
	watch_start
	feed 'watch|lv@rooms.localhost|available|pw-lv'
	watch_wait "^snapshot\|$T\|lv@rooms.localhost\|0$"
	chat_start k
	chat k "join lv@rooms.localhost k pw-lv"
	watch_wait "^join\|$T\|lv@rooms.localhost\|1\|k\|"
	as_owner lv@rooms.localhost pw-lv "<iq type='set' to='lv@rooms.localhost' id='k1'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='k' role='none'/></query></iq>"
	watch_wait "^leave\|$T\|lv@rooms.localhost\|0\|k\|kicked$"
	chat_wait k '^kicked lv@rooms.localhost'

	chat_start b
	jid=$(sed -n 's/^online \([^/]*\).*/\1/p' "$BATS_FILE_TMPDIR/b.out")
	chat b "join lv@rooms.localhost b pw-lv"
	watch_wait "^join\|$T\|lv@rooms.localhost\|1\|b\|"
	as_owner lv@rooms.localhost pw-lv "<iq type='set' to='lv@rooms.localhost' id='b1'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='$jid' affiliation='outcast'/></query></iq>"
	watch_wait "^leave\|$T\|lv@rooms.localhost\|0\|b\|banned$"
	chat_wait b '^banned lv@rooms.localhost'

	# an error sent into the room gets its sender thrown out: 333 on
	# Prosody; on ejabberd a plain leave with a status text only
	chat k "join lv@rooms.localhost k pw-lv"
	wait_until 5 sh -c "[ \$(grep -c '^join|.*|k|' '$BATS_FILE_TMPDIR/watch.out') -eq 2 ]"
	chat k "raw <message type='error' to='lv@rooms.localhost/helpim'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
	if [ "$XMPP" = prosody ]; then
		watch_wait "^leave\|$T\|lv@rooms.localhost\|0\|k\|disconnected$"
	else
		watch_wait "^leave\|$T\|lv@rooms.localhost\|0\|k\|left$"
	fi
	chat_stop k
	chat_stop b
	# the bot itself was never thrown out
	run -0 events
	refute_output --partial gone
}

@test "an extra chatter renaming at once is kicked under the new nick" {
	mkroom sn@rooms.localhost pw-sn
	watch_start
	feed 'watch|sn@rooms.localhost|available|pw-sn'
	watch_wait "^snapshot\|$T\|sn@rooms.localhost\|0$"
	for c in staff client; do
		chat_start "$c"
		chat "$c" "join sn@rooms.localhost $c pw-sn"
		watch_wait "^join\|$T\|sn@rooms.localhost\|[12]\|$c\|"
	done
	chat_start third
	# join and rename back to back: the server renames before the kick
	chat third "raw <presence to='sn@rooms.localhost/third'><x xmlns='http://jabber.org/protocol/muc'><password>pw-sn</password></x></presence><presence to='sn@rooms.localhost/sneaky'/>"
	watch_wait "^kick\|$T\|sn@rooms.localhost\|2\|third\|room full$"
	chat_wait staff '^occupant sn@rooms.localhost sneaky left 307'
	# the chat goes on
	chat client "say sn@rooms.localhost still here"
	chat staff "nick sn@rooms.localhost staff2"
	watch_wait "^nick\|$T\|sn@rooms.localhost\|2\|staff\|staff2$"
	run -0 events
	refute_output --regexp '^(leave|join|nick)\|.*\|(third|sneaky)'
	refute_output --regexp '^leave\|.*\|(staff|client)\|'
	chat_stop third
	chat_stop staff
	chat_stop client
}

@test "forged answers and self-presences from chatters change nothing" {
	mkroom fg@rooms.localhost pw-fg
	watch_start
	feed 'watch|fg@rooms.localhost|available|pw-fg'
	watch_wait "^snapshot\|$T\|fg@rooms.localhost\|0$"
	chat_start f
	chat f "join fg@rooms.localhost f pw-fg"
	watch_wait "^join\|$T\|fg@rooms.localhost\|1\|f\|"
	# a presence that claims to be the bot's own (110), then a leave
	chat f "raw <presence to='fg@rooms.localhost/f'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/><status code='201'/></x></presence>"
	chat f "raw <presence to='fg@rooms.localhost/f' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/><destroy/></x></presence>"
	watch_wait "^leave\|$T\|fg@rooms.localhost\|0\|f\|left$"
	chat f "join fg@rooms.localhost f pw-fg"
	watch_wait "^join\|$T\|fg@rooms.localhost\|1\|f\|"
	# an answer to the bot's destroy, sent by a chatter while it closes
	bot=$BOT_JID/$(helpim-conf resource)-watch
	kill -STOP "$(cat "$BATS_FILE_TMPDIR/watch.pid")"
	feed 'close|fg@rooms.localhost|bye'
	chat f "raw <iq type='result' id='destroy fg@rooms.localhost' to='$bot'/>"
	chat f "info fg@rooms.localhost"
	chat_wait f '^info fg@rooms.localhost done'
	sleep 0.2
	kill -CONT "$(cat "$BATS_FILE_TMPDIR/watch.pid")"
	watch_wait "^destroyed\|$T\|fg@rooms.localhost\|0\|bye$"
	chat_wait f '^kicked fg@rooms.localhost'
	run -0 events
	assert_line --index 1 --regexp "^snapshot\|"
	assert_line --regexp "^leave\|$T\|fg@rooms.localhost\|0\|f\|kicked$"
	assert_line --index -1 --regexp "^destroyed\|"
	refute_output --regexp '^gone'
	assert_equal "$(grep -c '^snapshot|' <<<"$output")" 1
	chat_stop f
}

@test "the chatters stay in arrival order after one leaves" {
	C=$BATS_TEST_TMPDIR/three.conf
	(umask 077; cp "$HELPIM_CONF" "$C"; echo 'max_chatters = 3' >>"$C")
	mkroom ao@rooms.localhost pw-ao
	watch_start -f "$C"
	feed 'watch|ao@rooms.localhost|available|pw-ao'
	watch_wait "^snapshot\|$T\|ao@rooms.localhost\|0$"
	n=0
	for c in a b c; do
		chat_start "$c"
		chat "$c" "join ao@rooms.localhost $c pw-ao"
		n=$((n + 1))
		watch_wait "^join\|$T\|ao@rooms.localhost\|$n\|$c\|"
	done
	chat a "leave ao@rooms.localhost"
	watch_wait "^leave\|$T\|ao@rooms.localhost\|2\|a\|left$"
	# close kicks in the bot's order: b, who came first, then c
	feed 'close|ao@rooms.localhost|bye'
	watch_wait "^destroyed\|$T\|ao@rooms.localhost\|0\|bye$"
	run -0 events
	assert_line --regexp "^leave\|$T\|ao@rooms.localhost\|1\|b\|kicked$"
	assert_line --regexp "^leave\|$T\|ao@rooms.localhost\|0\|c\|kicked$"
	for c in a b c; do
		chat_stop "$c"
	done
}
