#!/usr/bin/env bats
# helpim-mkrooms takes an answer only from the room it asked: a participant
# who floods the bot's full JID with iq results and errors forged with the
# ids the bot uses neither skips the check that a room is hidden,
# password-protected and persistent, nor makes a room fail.

load helper
XMPP=prosody

OWNER=http://jabber.org/protocol/muc#owner
INFO=http://jabber.org/protocol/disco#info
ERR="<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"

setup_file() {
	sandbox_up
	chat_start f
}
teardown_file() { sandbox_down; }

# The ids of a run's first room (slot 0, serial 1): g the owner form,
# f the submitted form, i disco#info.
#
# results TO: an empty owner form (the bot would configure nothing), and
# a disco#info result that says all is well
results() {
	printf "raw <iq type='result' to='%s' id='g0.1'><query xmlns='%s'><x xmlns='jabber:x:data' type='form'/></query></iq>\n" "$1" "$OWNER"
	printf "raw <iq type='result' to='%s' id='i0.1'><query xmlns='%s'><feature var='muc_hidden'/><feature var='muc_passwordprotected'/><feature var='muc_persistent'/></query></iq>\n" "$1" "$INFO"
}
# errors TO: each answer refused
errors() {
	local id
	for id in g0.1 f0.1 i0.1; do
		printf "raw <iq type='error' to='%s' id='%s'>%s</iq>\n" "$1" "$id" "$ERR"
	done
}

on_server() {
	sqlite3 -cmd '.timeout 5000' "$SB/xmpp/data/prosody.sqlite" \
	    "SELECT count(*) FROM prosody WHERE host = 'rooms.localhost'
	     AND store = 'config' AND key = '_data'
	     AND user || '@rooms.localhost' = '$1'"
}

# forged_run N KIND: helpim-mkrooms makes one room while participant f
# floods its full JID with the KIND lines.  The bot is stopped now and then
# (as on a busy machine), so that forged answers queue up behind the
# server's own and reach it while it waits for them.
forged_run() {
	local d=$BATS_TEST_TMPDIR n=$1 pid fd flood pause pings rc=0
	fd=$(cat "$BATS_FILE_TMPDIR/f.fd")
	mkfifo "$d/go$n"
	# the pid, and so the full JID, is known before the bot logs in
	sh -c 'read -r go <"$0"; exec helpim-mkrooms -v -N 1 -J 1' \
		"$d/go$n" >"$d/out$n" 2>"$d/err$n" 3>&- &
	pid=$!
	"$2" "bot@localhost/helpim-mkrooms-$pid" |
		awk '{ l[NR] = $0 } END { for (i = 0; i < 1000; i++)
			for (j = 1; j <= NR; j++) print l[j] }' >"$d/flood$n"
	cat "$d/flood$n" >&"$fd" 3>&- &
	flood=$!
	sleep 0.2
	echo go >"$d/go$n"
	(while kill -STOP "$pid" 2>/dev/null; do
		sleep 0.005
		kill -CONT "$pid"
		sleep 0.001
	done) 3>&- &
	pause=$!
	wait "$pid" || rc=$?
	wait "$pause" "$flood" || true
	# the rest of the flood, through before the next run
	pings=$(grep -c '^info rooms.localhost done' "$BATS_FILE_TMPDIR/f.out" || true)
	chat f "info rooms.localhost"
	wait_until 20 sh -c '[ "$(grep -c "^info rooms.localhost done" "$0")" -gt "$1" ]' \
		"$BATS_FILE_TMPDIR/f.out" "$pings"
	run -0 cat "$d/err$n"
	assert_output --partial 'created 1, failed 0'
	refute_output --partial 'warning'
	assert_equal "$rc" 0
	# what the bot published is on the server and as the bot wants it
	JID=$(cat "$d/out$n")
	run -0 on_server "$JID"
	assert_output 1
	chat_start "q$n"
	chat "q$n" "info $JID"
	chat_wait "q$n" "^(info $JID done|error $JID)"
	run -0 cat "$BATS_FILE_TMPDIR/q$n.out"
	assert_line "feature muc_hidden"
	assert_line "feature muc_passwordprotected"
	assert_line "feature muc_persistent"
	chat_stop "q$n"
	run -0 sql "SELECT count(*) FROM helpim.rooms WHERE jid = '$JID'"
	assert_output 1
}

@test "forged iq results do not skip the check that a room is hidden, password-protected and persistent" {
	forged_run 1 results
	forged_run 2 results
	forged_run 3 results
}

@test "forged iq errors do not make a room fail" {
	forged_run 4 errors
	forged_run 5 errors
}
