#!/usr/bin/env bats
# The configuration parser, through helpim-conf.

load helper

setup() {
	C=$BATS_TEST_TMPDIR/helpim.conf
	(umask 077; cat >"$C" <<-EOF
	# a comment
	jid = bot@example.org
	password = s3cret
	muc_domain = rooms.example.org
	db = host=/tmp dbname=helpim
	EOF
	)
}

conf() { printf '%s\n' "$@" >>"$C"; }

@test "a minimal file is good and gets the defaults" {
	run -0 helpim-conf -n -f "$C"
	run -0 helpim-conf -f "$C" jid muc_domain pool_size max_chatters grace tls resource
	assert_output "bot@example.org
rooms.example.org
10
2
10000
required
helpim"
}

@test "-f wins over HELPIM_CONF, which wins over the default" {
	HELPIM_CONF=$C run -0 helpim-conf jid
	assert_output bot@example.org
	HELPIM_CONF=/nonexistent run -0 helpim-conf -f "$C" jid
	assert_output bot@example.org
	HELPIM_CONF=/nonexistent run -100 helpim-conf jid
	assert_output --partial "/nonexistent: No such file"
}

@test "durations take ms, s, m, h and plain seconds" {
	conf "grace = 250ms" "linger = 5m" "staff_claim_timeout = 2h" \
		"client_claim_timeout = 7" "refill_interval = 3s"
	run -0 helpim-conf -f "$C" grace linger staff_claim_timeout client_claim_timeout refill_interval
	assert_output "250
300000
7200000
7000
3000"
}

@test "an unknown key names the file and line" {
	conf "colour = blue"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: unknown key 'colour'"
}

@test "a line without '=' names the file and line" {
	conf "pool_size 5"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: expected 'key = value'"
}

@test "a bad number names the key and line" {
	conf "pool_size = five"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: bad value for 'pool_size'"
}

@test "a number out of range is refused" {
	conf "max_chatters = 1000"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: bad value for 'max_chatters'"
}

@test "a bad duration is refused" {
	for v in 10x -5s 1.5s s "" 99999999999; do
		setup
		conf "grace = $v"
		run -100 helpim-conf -n -f "$C"
		assert_output "helpim-conf: error: $C:6: bad value for 'grace'"
	done
}

@test "a key given twice is refused" {
	conf "jid = other@example.org"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: 'jid' given twice"
}

@test "a missing required key is named" {
	sed -i '/^muc_domain/d' "$C"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: missing required key 'muc_domain'"
}

@test "a jid that is not user@host is refused" {
	sed -i 's/^jid = .*/jid = bot@example.org\/res/' "$C"
	run -100 helpim-conf -n -f "$C"
	assert_output --partial "is not of the form user@host"
}

@test "tls takes required or off, and off only for a loopback server" {
	conf "tls = maybe"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: bad value for 'tls'"
	setup
	conf "tls = off"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: 'tls = off' is allowed only for a loopback server"
	# a name that only looks like a loopback address is not one
	for s in 127.example.org 127.0.0.1.example.org 128.0.0.1 ::2 10.0.0.1; do
		setup
		conf "tls = off" "server = $s"
		run -100 helpim-conf -n -f "$C"
		assert_output --partial "'tls = off' is allowed only for a loopback server"
	done
	for s in 127.0.0.1 127.1.2.3 ::1 localhost; do
		setup
		conf "tls = off" "server = $s"
		run -0 helpim-conf -f "$C" tls
		assert_output off
	done
}

@test "a file holding the password and readable by others is refused" {
	chmod 640 "$C"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: holds the password and is readable by others; chmod 600 it"
}

@test "a password file keeps the configuration shareable" {
	P=$BATS_TEST_TMPDIR/pw
	(umask 077; echo filepw >"$P")
	sed -i "s|^password = .*|password_file = $P|" "$C"
	chmod 644 "$C"
	run -0 helpim-conf -n -f "$C"
	# -n checks the password file too; a key is read without it
	chmod 644 "$P"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $P: readable by others; chmod 600 it"
	run -0 helpim-conf -f "$C" jid
	chmod 600 "$P"
	: >"$P"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $P: empty password"
	rm "$P"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $P: No such file or directory"
}

@test "password and password_file together, or neither, are refused" {
	conf "password_file = /dev/null"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: give exactly one of 'password' and 'password_file'"
	sed -i '/^password/d' "$C"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: give exactly one of 'password' and 'password_file'"
}

@test "a password in db is refused" {
	sed -i 's/^db = .*/db = host=\/tmp password=hunter2/' "$C"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: 'db' must not hold a password; use a passfile"
	sed -i 's|^db = .*|db = postgresql://u:hunter2@h/d|' "$C"
	run -100 helpim-conf -n -f "$C"
	refute_output --partial hunter2
	sed -i 's|^db = .*|db = postgresql://u@h:5432/d|' "$C"
	run -0 helpim-conf -n -f "$C"
}

@test "pool_size above max_rooms is refused" {
	conf "pool_size = 50" "max_rooms = 10"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C: 'pool_size' exceeds 'max_rooms'"
}

@test "refill_interval below 1s is refused: the refiller would never rest" {
	for v in 0 500ms 999ms; do
		setup
		conf "refill_interval = $v"
		run -100 helpim-conf -n -f "$C"
		assert_output "helpim-conf: error: $C: 'refill_interval' must be at least 1s"
	done
	setup
	conf "refill_interval = 1s"
	run -0 helpim-conf -n -f "$C"
}

@test "the password is never printed" {
	run -100 helpim-conf -f "$C" password
	refute_output --partial s3cret
}

@test "a NUL byte or an overlong line is refused" {
	printf 'nick = a\0b\n' >>"$C"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: NUL byte"
	setup
	conf "nick = $(head -c 5000 /dev/zero | tr '\0' x)"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: line too long"
}

@test "an overlong value is refused" {
	conf "nick = $(head -c 300 /dev/zero | tr '\0' x)"
	run -100 helpim-conf -n -f "$C"
	assert_output "helpim-conf: error: $C:6: bad value for 'nick'"
}

@test "blank lines, comments and spaces around '=' are fine" {
	conf "" "   # indented comment" "	nick	=	bot nick  "
	run -0 helpim-conf -f "$C" nick
	assert_output "bot nick"
}

@test "the example configuration parses" {
	cp "$top/etc/helpim.conf" "$C"
	chmod 600 "$C"
	run -0 helpim-conf -f "$C" password_file
	assert_output /etc/helpim/xmpp-password
	# -n reads the password file: one of ours in its place
	(umask 077; echo pw >"$BATS_TEST_TMPDIR/pw")
	sed -i "s|^password_file = .*|password_file = $BATS_TEST_TMPDIR/pw|" "$C"
	run -0 helpim-conf -n -f "$C"
}

@test "usage errors exit 100" {
	run -100 helpim-conf -x
	assert_line "usage: helpim-conf [-n] [-f file] [key ...]"
}
