#!/usr/bin/env bats
# A hostile participant against the pipeline: forged status codes, error
# stanzas, floods, bad bytes.  The bot neither crashes nor miscounts, and
# its event stream stays parseable.

load helper
load pipeline

MUC=http://jabber.org/protocol/muc
USER=$MUC#user

setup_file() {
	sandbox_up
	helpim-mkrooms 3>&-
	pipe_start
	wait_until 20 sh -c '[ "$(grep -c "^snapshot|" "$0")" -eq 5 ]' \
		"$BATS_FILE_TMPDIR/events"
}

teardown_file() {
	sandbox_down
}

# the checks after every test: the pipeline runs, the stream parses, no
# room was given up, the counts agree
teardown() {
	local d=$BATS_FILE_TMPDIR p
	for p in rooms watch setstatus; do
		kill -0 "$(cat "$d/$p.pid")" || {
			cat "$d/$p.err" >&2
			return 1
		}
	done
	events_parseable
	# empty rooms are destroyed after the grace; nothing else ends one
	run -1 grep -E '^gone\||^destroyed\|.*\|[^|]*[^y]$' "$d/events"
	run -0 sql "SELECT jid, status FROM helpim.rooms WHERE status = 'lost'"
	assert_output ""
}

room() {
	sql "SELECT jid FROM helpim.rooms ORDER BY id LIMIT 1 OFFSET $1"
}

chatters() {
	sql "SELECT chatters FROM helpim.rooms WHERE jid = '$1'"
}

# count_is ROOM N: wait until the database counts N chatters in ROOM
count_is() {
	wait_until 10 sh -c "[ \"\$(psql -XAtqc \"SELECT chatters FROM helpim.rooms WHERE jid = '$1'\")\" = $2 ]" ||
		assert_equal "$(chatters "$1")" "$2"
}

# witness ROOM PASSWORD: a participant who stays in the room throughout,
# so that it never empties
witness() {
	chat_start w
	chat w "join $1 witness $2"
	chat_wait w "^joined $1 witness"
	count_is "$1" 1
}

# witness_leaves ROOM: the bot still counts
witness_leaves() {
	chat w "leave $1"
	count_is "$1" 0
	run -0 last "$1"
	assert_output "leave|0|witness|left"
	chat_stop w
}

# bad COMMAND: a participant sends it and is refused or cut off
bad() {
	chat_start bad
	chat bad "$1"
	chat_wait bad '^(offline|error) ?' 10
	chat_stop bad
}

# last event of ROOM
last() {
	grep -F "|$1|" "$BATS_FILE_TMPDIR/events" | tail -n 1 | cut -d'|' -f1,4-
}

@test "status codes 110, 201, 307, 333 forged in a participant's presence change nothing" {
	local jid pw
	jid=$(room 0)
	pw=$(room_pw "$jid")
	witness "$jid" "$pw"
	chat_start f
	chat f "raw <presence to='$jid/forger'><x xmlns='$MUC'><password>$pw</password></x><x xmlns='$USER'><status code='110'/><status code='201'/><status code='307'/><item role='moderator' affiliation='owner' nick='helpim'/></x></presence>"
	count_is "$jid" 2
	run -0 last "$jid"
	# no key: no hash of the real JID (helpim.conf(5))
	assert_output --regexp "^join\\|2\\|forger\\|$"
	# a presence update and an unavailable, both with forged codes
	chat f "raw <presence to='$jid/forger'><show>away</show><x xmlns='$USER'><status code='110'/><status code='307'/><status code='332'/><destroy/></x></presence>"
	chat f "raw <presence to='$jid/forger' type='unavailable'><x xmlns='$USER'><status code='110'/><status code='301'/><status code='303'/><item nick='helpim'/><destroy/></x></presence>"
	count_is "$jid" 1
	run -0 last "$jid"
	assert_output "leave|1|forger|left"
	chat_stop f
	witness_leaves "$jid"
}

@test "error stanzas into the room and at the bot: the bot stays, the sender leaves" {
	local jid pw err
	jid=$(room 1)
	pw=$(room_pw "$jid")
	err="<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
	witness "$jid" "$pw"
	chat_start e
	chat e "join $jid errant $pw"
	chat_wait e "^joined $jid errant"
	count_is "$jid" 2
	chat e "raw <message to='$jid/helpim' type='error'>$err</message>"
	chat e "raw <iq to='$jid/helpim' type='error' id='destroy $jid'>$err</iq>"
	chat e "raw <iq to='$jid/helpim' type='result' id='destroy $jid'/>"
	chat e "raw <presence to='$jid/helpim' type='error'>$err</presence>"
	chat e "raw <message to='$jid' type='groupchat'><body>hi</body><x xmlns='$USER'><destroy/><status code='110'/></x></message>"
	chat e "raw <message to='$jid' type='error'>$err</message>"
	chat e "raw <presence to='$jid/errant' type='error'>$err</presence>"
	count_is "$jid" 1
	run -0 last "$jid"
	assert_output --regexp '^leave\|1\|errant\|(left|error|disconnected|kicked)$'
	chat_stop e
	witness_leaves "$jid"
}

@test "a participant cannot create, destroy, configure rooms or kick the bot" {
	local jid pw
	jid=$(room 2)
	pw=$(room_pw "$jid")
	witness "$jid" "$pw"
	chat_start c
	chat c "join new-room@rooms.localhost creator"
	chat_wait c "^error new-room@rooms.localhost "
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE jid LIKE 'new-room%'"
	assert_output 0
	chat c "join $jid plain $pw"
	chat_wait c "^joined $jid plain"
	chat c "raw <iq type='set' to='$jid' id='d1'><query xmlns='$MUC#owner'><destroy><reason>mine</reason></destroy></query></iq>"
	chat c "raw <iq type='set' to='$jid' id='k1'><query xmlns='$MUC#admin'><item nick='helpim' role='none'/></query></iq>"
	chat c "raw <iq type='set' to='$jid' id='b1'><query xmlns='$MUC#admin'><item jid='bot@localhost' affiliation='outcast'/></query></iq>"
	chat c "raw <iq type='get' to='$jid' id='c1'><query xmlns='$MUC#owner'/></iq>"
	chat c "info $jid"
	chat_wait c "^info $jid done"
	run -1 grep "^destroyed $jid" "$BATS_FILE_TMPDIR/c.out"
	chat c "leave $jid"
	count_is "$jid" 1
	chat_stop c
	witness_leaves "$jid"
}

@test "a flood of joins, leaves and nick changes: the counts stay right" {
	local jid pw i
	jid=$(room 3)
	pw=$(room_pw "$jid")
	chat_start s
	chat s "join $jid stayer $pw"
	chat_wait s "^joined $jid stayer"
	chat_start fl
	# all at once: the client sends each join before the answers to
	# the stay before it come back
	chat fl "$(for i in $(seq 40); do
		printf 'join %s flood%d %s\nnick %s flood%d-x\nleave %s\n' \
		    "$jid" "$i" "$pw" "$jid" "$i" "$jid"
	done; printf 'join %s last %s' "$jid" "$pw")"
	chat_wait fl "^joined $jid last" 30
	count_is "$jid" 2
	# a leave and a join sent quickly may reach the room as a nick change:
	# whatever the server says, joins less leaves is the count
	run -0 sh -c "echo \$((\$(grep -c '^join|[^|]*|$jid|' \"\$0\") - \
	    \$(grep -c '^leave|[^|]*|$jid|' \"\$0\")))" "$BATS_FILE_TMPDIR/events"
	assert_output 2
	chat_stop fl
	chat_stop s
	count_is "$jid" 0
}

@test "a huge nick, control characters and invalid UTF-8: refused, or encoded" {
	local jid pw huge
	jid=$(room 4)
	pw=$(room_pw "$jid")
	huge=$(printf '☃%.0s' $(seq 341))	# 1023 bytes
	witness "$jid" "$pw"
	chat_start u
	chat u "join $jid $huge $pw"
	chat_wait u "^joined $jid "
	count_is "$jid" 2
	run -0 last "$jid"
	assert_output --regexp "^join\\|2\\|$huge\\|$"
	chat u "leave $jid"
	count_is "$jid" 1
	chat u "join $jid $(printf 'x%.0s' $(seq 1100)) $pw"
	chat_wait u "^error $jid "
	chat_stop u
	# each of these ends the sender's stream, or is refused
	bad "raw <presence to='$jid/c&#1;trl'><x xmlns='$MUC'><password>$pw</password></x></presence>"
	bad "raw <message to='$jid' type='groupchat'><body>$(printf 'bad \377\376 utf-8')</body></message>"
	bad "join $jid $(printf 'bad\300\257') $pw"
	bad "raw <presence to='$jid/$(printf 'n\001l')'><x xmlns='$MUC'><password>$pw</password></x></presence>"
	count_is "$jid" 1
	witness_leaves "$jid"
	run -1 grep -a "$(printf '\300')" "$BATS_FILE_TMPDIR/events"
}
