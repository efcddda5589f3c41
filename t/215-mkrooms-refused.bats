#!/usr/bin/env bats
# helpim-mkrooms when the server refuses a room's configuration.  The run
# fetches the owner form once, from its first room, and submits it for
# every room.  A refusal of the form of another room is not final: the
# form is fetched again and the room tries once more.  A refusal of a form
# fetched for the room itself is final: the room is destroyed unpublished.
# A Prosody module of the test refuses the submits (the first of each room,
# or every one while the file refuse-every exists).

load helper
XMPP=prosody

setup_file() {
	sandbox_up
	helpim-sandbox stop-xmpp "$SB"
	mkdir -p "$SB/xmpp/plugins"
	cat >"$SB/xmpp/plugins/mod_helpim_refuse.lua" <<-'LUA'
	local st = require "util.stanza";
	local every = module:get_option_string("helpim_refuse_every");
	local seen = {};
	module:hook("iq-set/bare/http://jabber.org/protocol/muc#owner:query",
	    function (event)
		local stanza = event.stanza;
		local x = stanza.tags[1]:get_child("x", "jabber:x:data");
		if not x or x.attr.type ~= "submit" then return; end
		local f = io.open(every);
		if f then f:close(); elseif seen[stanza.attr.to] then return; end
		seen[stanza.attr.to] = true;
		event.origin.send(st.error_reply(stanza, "modify",
		    "not-acceptable", "refused by the test"));
		return true;
	end, 100);
	LUA
	chmod -R a+rX "$SB/xmpp/plugins"
	sed -i "1i plugin_paths = { \"$SB/xmpp/plugins\" }" "$SB/xmpp/prosody.cfg.lua"
	printf '    modules_enabled = { "helpim_refuse" }\n    helpim_refuse_every = "%s"\n' \
		"$SB/xmpp/refuse-every" >>"$SB/xmpp/prosody.cfg.lua"
	helpim-sandbox start-xmpp "$SB"
}
teardown_file() { sandbox_down; }

rows() {
	sql "SELECT count(*) FROM helpim.rooms WHERE instance = '$1'"
}

# the rooms on the server, destroyed ones aside
on_server() {
	sqlite3 -cmd '.timeout 5000' "$SB/xmpp/data/prosody.sqlite" \
	    "SELECT count(*) FROM prosody WHERE host = 'rooms.localhost'
	     AND store = 'config' AND key = '_data'
	     AND value NOT LIKE '%\"destroyed\":true%'"
}

@test "the first submit of each room refused: the others try again with a form fetched again" {
	local f
	f=$(conf_with once instance=once pool_size=0)
	run -111 --separate-stderr helpim-mkrooms -v -N 3 -J 8 -f "$f"
	# the first room, whose own form was refused, fails; the two others
	# were refused the first room's form, and are made with a new one
	assert_equal "${#lines[@]}" 2
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err"
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_line --partial "created 2, failed 1"
	assert_line "helpim-mkrooms: debug: owner form fetched 2 times"
	run -0 rows once
	assert_output 2
	run -0 on_server
	assert_output 2
}

@test "every submit refused: each room fails, is destroyed, and nothing is published" {
	local f
	f=$(conf_with every instance=every pool_size=0)
	touch "$SB/xmpp/refuse-every"
	run -111 --separate-stderr helpim-mkrooms -v -N 2 -J 8 -f "$f"
	rm -f "$SB/xmpp/refuse-every"
	assert_output ""
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err"
	run -0 cat "$BATS_TEST_TMPDIR/err"
	assert_line --partial "created 0, failed 2"
	assert_line --regexp "room helpim-[a-z0-9]+@rooms.localhost: configuration refused"
	run -0 rows every
	assert_output 0
	run -0 on_server
	assert_output 2
}
