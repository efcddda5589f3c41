#!/usr/bin/env bats
# Every program and script: -n checks the configuration and exits.

load helper

setup() {
	C=$BATS_TEST_TMPDIR/helpim.conf
	(umask 077; printf '%s\n' 'jid = bot@localhost' 'password = x' \
		'server = 127.0.0.1' 'tls = off' 'muc_domain = rooms.localhost' \
		'db = host=/nonexistent dbname=helpim' >"$C")
	B=$BATS_TEST_TMPDIR/bad.conf
	(umask 077; printf 'jid = bot@localhost\nbogus = 1\n' >"$B")
}

@test "-n accepts a good configuration without connecting anywhere" {
	for p in helpim-conf helpim-mkrooms helpim-watch helpim-setstatus \
	    helpim-rooms helpim-listen helpim-initdb helpim-run helpim-webapp; do
		run -0 "$p" -n -f "$C"
		assert_output ""
		HELPIM_CONF=$C run -0 "$p" -n
	done
}

@test "-n refuses a bad configuration with exit 100 and the line" {
	for p in helpim-conf helpim-mkrooms helpim-watch helpim-setstatus \
	    helpim-rooms helpim-listen helpim-initdb helpim-run helpim-webapp; do
		run -100 "$p" -n -f "$B"
		assert_output --partial "$B:2: unknown key 'bogus'"
	done
}
