#!/usr/bin/env bats
# TLS: required by default, mandatory when required, certificates verified.

load helper

setup_file() {
	sandbox_up
	# a CA of this test and a certificate for localhost signed by it
	local c=$SB/xmpp/certs ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1'
	# shellcheck disable=SC2086
	openssl req -x509 $ec -nodes -days 2 -subj /CN=helpim-test-ca \
		-keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
	# shellcheck disable=SC2086
	openssl req $ec -nodes -subj /CN=localhost -keyout "$c/host.key" \
		-out "$c/host.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost\n' >"$c/ext"
	openssl x509 -req -in "$c/host.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" \
		-CAcreateserial -days 2 -extfile "$c/ext" \
		-out "$c/host.crt" 2>/dev/null
	# another CA, which signed nothing here
	# shellcheck disable=SC2086
	openssl req -x509 $ec -nodes -days 2 -subj /CN=other-ca \
		-keyout "$c/other.key" -out "$c/other.crt" 2>/dev/null
	chown -R "$(stat -c %U "$SB/xmpp/data")" "$c"
	cp "$SB/xmpp/prosody.cfg.lua" "$SB/xmpp/plain.cfg.lua"
	sed -e 's/"ping" }/"ping", "tls" }/' \
		-e 's/c2s_require_encryption = false/c2s_require_encryption = true/' \
		"$SB/xmpp/plain.cfg.lua" >"$SB/xmpp/tls.cfg.lua"
}

teardown_file() {
	sandbox_down
}

# xmpp plain|tls: restart the XMPP server without TLS, or with STARTTLS
# required of every client and the certificate of the test CA.
xmpp() {
	helpim-sandbox stop-xmpp "$SB"
	cp "$SB/xmpp/$1.cfg.lua" "$SB/xmpp/prosody.cfg.lua"
	if [ "$1" = tls ]; then
		cp -p "$SB/xmpp/certs/host.crt" "$SB/xmpp/certs/localhost.crt"
		cp -p "$SB/xmpp/certs/host.key" "$SB/xmpp/certs/localhost.key"
	else
		rm -f "$SB/xmpp/certs/localhost.crt" "$SB/xmpp/certs/localhost.key"
	fi
	helpim-sandbox start-xmpp "$SB"
}

available() {
	sql "SELECT count(*) FROM helpim.rooms WHERE instance = '$1'"
}

# watch_one CONF: helpim-watch on one room of instance ok until its snapshot
watch_one() {
	local room pw
	room=$(sql "SELECT jid FROM helpim.rooms WHERE instance = 'ok' LIMIT 1")
	pw=$(sql "SELECT password FROM helpim.rooms WHERE jid = '$room'")
	{
		printf 'helpim-feed|1\nwatch|%s|available|%s\n' "$room" "$pw"
		sleep $((5 * ${HELPIM_SLOW:-1}))
	} | timeout $((20 * ${HELPIM_SLOW:-1})) helpim-watch -f "$1" 3>&-
}

@test "tls is required unless the configuration says off" {
	run -0 helpim-conf -f "$(conf_with deflt 'tls=required')" tls
	assert_output required
	grep -v '^tls' "$HELPIM_CONF" >"$BATS_FILE_TMPDIR/notls.conf"
	chmod 600 "$BATS_FILE_TMPDIR/notls.conf"
	run -0 helpim-conf -f "$BATS_FILE_TMPDIR/notls.conf" tls
	assert_output required
}

@test "tls = required: a server that offers no TLS is refused" {
	xmpp plain
	run -111 helpim-mkrooms -f "$(conf_with req 'tls=required' 'instance=plain')"
	assert_output --partial "helpim-mkrooms: error: cannot connect"
	run -0 available plain
	assert_output 0
	run -111 watch_one "$BATS_FILE_TMPDIR/req.conf"
	refute_output --partial snapshot
	run -1 grep 'Authenticated as' "$SB/xmpp/prosody.log"
}

@test "a certificate of an unknown CA is refused, by mkrooms and watch" {
	xmpp tls
	run -111 helpim-mkrooms -f "$(conf_with noca 'tls=required' 'instance=noca')"
	assert_output --partial "helpim-mkrooms: error: cannot connect"
	run -111 helpim-mkrooms -f "$(conf_with otherca 'tls=required' \
		'instance=noca' "cafile=$SB/xmpp/certs/other.crt")"
	assert_output --partial "helpim-mkrooms: error: cannot connect"
	run -0 available noca
	assert_output 0
	run -0 helpim-mkrooms -f "$(conf_with ok 'tls=required' 'instance=ok' \
		"cafile=$SB/xmpp/certs/ca.crt")"
	run -111 watch_one "$BATS_FILE_TMPDIR/noca.conf"
	refute_output --partial snapshot
	assert_output --partial "helpim-watch: error: cannot reach"
	run -111 watch_one "$BATS_FILE_TMPDIR/otherca.conf"
	refute_output --partial snapshot
	run -0 grep -c 'Authenticated as' "$SB/xmpp/prosody.log"
	assert_output 1
}

@test "with cafile naming its CA, mkrooms and watch work over TLS" {
	xmpp tls
	run -0 available ok
	assert_output 5
	run -0 watch_one "$BATS_FILE_TMPDIR/ok.conf"
	assert_line --regexp '^snapshot\|.*\|helpim-[a-z2-7]{16}@rooms.localhost\|0$'
	run -0 grep -c 'Stream encrypted' "$SB/xmpp/prosody.log"
	assert_output 2
}

@test "tls = off: refused for a server that is not loopback" {
	run -100 helpim-conf -f "$(conf_with far 'tls=off' 'server=xmpp.example.org')"
	assert_output --partial "'tls = off' is allowed only for a loopback server"
	run -100 helpim-watch -n -f "$BATS_FILE_TMPDIR/far.conf"
	run -100 helpim-mkrooms -n -f "$BATS_FILE_TMPDIR/far.conf"
}
