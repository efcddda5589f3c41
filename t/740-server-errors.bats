#!/usr/bin/env bats
# Errors of a real server that waiting mends are tried again, never taken
# for a lost room: a room the server cannot load for now (its storage
# locked), a join that gets no answer, a destroy refused for now.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

T='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# lock_storage SECONDS: Prosody's SQLite storage locked that long
lock_storage() {
	{ echo "BEGIN EXCLUSIVE;"; sleep "$1"; echo "COMMIT;"; } |
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		sqlite3 "$SB/xmpp/data/prosody.sqlite" 3>&- &
}

@test "a room the server cannot load for now is joined once it can, not lost" {
	local jid pw out=$BATS_TEST_TMPDIR/out
	helpim-mkrooms
	jid=$(sql "SELECT jid FROM helpim.rooms ORDER BY id LIMIT 1")
	pw=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$jid'")
	# after a restart Prosody loads a persistent room when it is asked for
	helpim-sandbox stop-xmpp "$SB"
	helpim-sandbox start-xmpp "$SB"
	{
		echo 'helpim-feed|1'
		wait_until 10 grep -q ' online as ' "$out"
		lock_storage 4
		sleep 0.5
		echo "watch|$jid|available|$pw"
		wait_until 20 grep -q '^snapshot|' "$out"
	} | helpim-watch >"$out" 2>&1 3>&-
	run -0 cat "$out"
	assert_line "helpim-watch: warning: $jid: join refused for now (internal-server-error); trying again"
	assert_line --regexp "^snapshot\|$T\|$jid\|0$"
	refute_line --regexp '^gone'
}

@test "a join that gets no answer is sent again" {
	local out=$BATS_TEST_TMPDIR/out
	# a user's host: the server drops a presence to nobody there
	{
		echo 'helpim-feed|1'
		echo 'watch|nobody@localhost|available|pw'
		wait_until 20 grep -q 'join unanswered, sent again' "$out"
	} | helpim-watch -v >"$out" 2>&1 3>&-
	run -0 cat "$out"
	assert_line "helpim-watch: debug: nobody@localhost: join unanswered, sent again"
	refute_line --regexp '^gone'
}
