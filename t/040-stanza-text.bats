#!/usr/bin/env bats
# stanza.c's xmpp_stanza_to_text, which serves libstrophe in the bot's
# programs: the text of every stanza is the library's, byte for byte.

load helper

setup_file() {
	make -s -C "$top" t/totext >&2
}

@test "the bot's programs put their own xmpp_stanza_to_text in the library's place" {
	local p lib
	for p in helpim-watch helpim-mkrooms; do
		run -0 nm -D --defined-only "$top/$p"
		assert_output --partial ' T xmpp_stanza_to_text'
	done
	# the library calls it through its PLT, where the program's serves
	lib=$(ldd "$top/helpim-watch" | awk '/libstrophe/ { print $3 }')
	run -0 readelf -rW "$lib"
	assert_output --regexp 'JUMP_SLOT +[0-9a-f]+ xmpp_stanza_to_text'
}

@test "the stanzas the bot builds: the library's text, written by stanza.c" {
	run -0 "$top/t/totext" -b
	assert_output "same 169
same 122
same 247
same 263
same 196
same 17
same 11"
}

@test "every stanza is written out as the library writes it" {
	run -0 "$top/t/totext" <<-'EOF'
	<presence to="r@rooms.localhost/bot"><x xmlns="http://jabber.org/protocol/muc"><password>a&amp;b&lt;c&gt;d&quot;e'f</password><history maxstanzas="0"/></x></presence>
	<iq type="result" id="i1" xmlns="jabber:client"><query xmlns="http://jabber.org/protocol/disco#info"><identity category="conference" name="a &amp; &quot;b&quot; &lt;c&gt;"/><feature var="muc_hidden"/><x xmlns="jabber:x:data" type="result"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/muc#roominfo</value></field></x></query></iq>
	<message type="groupchat"><body>hello &lt;b&gt; &amp; 'you' "there"</body><x xmlns="jabber:x:data"><x xmlns="jabber:x:data"><y/></x></x></message>
	<a><b xmlns="n"><c xmlns="n"/><d xmlns="m"/>text<e/>more</b></a>
	<a><b xmlns=""><c xmlns=""/></b><d xmlns="x"><e xmlns=""/></d></a>
	<presence xmlns="jabber:client"><x xmlns="jabber:client"/></presence>
	<presence type="unavailable"><status>é ünïcødé 中文 🙂</status></presence>
	<x/>
	not xml
	EOF
	assert_output "same 166
same 333
same 134
same 54
same 39
same 25
same 83
same 4
unparsed"
}

@test "long stanzas, many attributes, many children: the library's text too" {
	local i body='' attrs='' many='' kids=''
	for i in $(seq 1 700); do body+='x&amp;&lt;&quot;y'; done
	for i in $(seq 0 31); do attrs+=" a$i=\"v$i&amp;\""; done
	for i in $(seq 0 39); do many+=" a$i=\"v$i\""; done
	for i in $(seq 1 300); do kids+='<q xmlns="n">t</q>'; done
	{
		echo "<message><body>$body</body></message>"
		echo "<iq$attrs/>"
		echo "<iq$many><x/></iq>"
		echo "<p>$kids</p>"
	} >"$BATS_TEST_TMPDIR/in"
	run -0 "$top/t/totext" <"$BATS_TEST_TMPDIR/in"
	assert_output "same 11932
same 465
same 393 (library's)
same 5407"
}

@test "the text fuzzer's kept inputs: the library's text, or unparsed" {
	local f
	for f in "$top"/t/fuzz/corpus-text/*; do
		tr '\n' ' ' <"$f"
		echo
	done >"$BATS_TEST_TMPDIR/in"
	run -0 "$top/t/totext" <"$BATS_TEST_TMPDIR/in"
	refute_output --partial differs
	refute_output --partial "(library's)"
	# most of them parse: the comparison is not of nothing
	run -0 grep -c '^same ' <<<"$output"
	assert [ "$output" -ge 100 ]
}
