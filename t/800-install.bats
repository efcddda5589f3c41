#!/usr/bin/env bats
# make install into a temporary DESTDIR; the installed programs run from there.

load helper

setup_file() {
	sandbox_up
	D=$BATS_FILE_TMPDIR/dest
	export D
	make -s -C "$top" install DESTDIR="$D" PREFIX=/usr >/dev/null
	# a second database for the installed helpim-initdb
	sql "CREATE DATABASE installed"
	sed 's/dbname=helpim/dbname=installed/' "$HELPIM_CONF" >"$BATS_FILE_TMPDIR/conf"
	chmod 600 "$BATS_FILE_TMPDIR/conf"
	export CONF=$BATS_FILE_TMPDIR/conf
}
teardown_file() { sandbox_down; }

@test "programs, scripts, man pages, examples and SQL are in their places" {
	local f
	# BINDIR holds what an operator runs, and nothing else
	run -0 ls "$D/usr/bin"
	assert_output "$(printf 'helpim-%s\n' conf initdb mkrooms rooms run setstatus watch)"
	for f in conf mkrooms rooms watch setstatus run initdb; do
		assert_file_executable "$D/usr/bin/helpim-$f"
	done
	# the test and demo tools (helpim-chat sends any XML) are off the PATH
	run -0 ls "$D/usr/libexec/helpim"
	assert_output "$(printf 'helpim-%s\n' chat demo listen sandbox webapp)"
	for f in chat demo listen sandbox webapp; do
		assert_file_executable "$D/usr/libexec/helpim/helpim-$f"
	done
	for f in man1/helpim-rooms.1 man5/helpim.conf.5 man7/helpim.7 \
		man8/helpim-run.8; do
		assert_file_exists "$D/usr/share/man/$f"
	done
	for f in helpim.conf crontab prosody-helpim.cfg.lua \
		postgresql-roles.sql sql/001-schema.sql sql/003-roles.sql; do
		assert_file_exists "$D/usr/share/helpim/$f"
	done
	run -0 grep -x 'ExecStart=/usr/bin/helpim-run' \
		"$D/usr/lib/systemd/system/helpim.service"
}

@test "the installed programs run: conf -n, initdb, mkrooms -c 1, rooms -s" {
	run -0 "$D/usr/bin/helpim-conf" -n -f "$CONF"
	run -0 "$D/usr/bin/helpim-initdb" -f "$CONF"
	assert_line "helpim-initdb: applied 001-schema.sql"
	assert_line "helpim-initdb: applied 003-roles.sql"
	run -0 psql -XAtq -d installed -c "SELECT max(version) FROM helpim.schema_version"
	assert_output "$(last_migration)"
	run -0 "$D/usr/bin/helpim-mkrooms" -N 1 -f "$CONF"
	run -0 "$D/usr/bin/helpim-rooms" -S -f "$CONF"
	assert_line "rooms_available=1"
	run -0 "$D/usr/bin/helpim-run" -n -f "$CONF"
}

@test "the installed tools find the operator's programs in BINDIR" {
	local w=$D/usr/libexec/helpim/helpim-webapp
	run -0 grep -x 'PATH=$here:/usr/bin:$PATH' "$w"
	# BINDIR on the PATH as the operator has it, the build's programs not
	run -0 env PATH="$D/usr/bin:/usr/bin:/bin" "$w" -n -f "$CONF"
	run -0 env PATH="$D/usr/bin:/usr/bin:/bin" "$w" -f "$CONF" status
	assert_output --regexp '^[0-9]+ [0-9]+ [0-9]+ '
	run -0 grep -c '/usr/bin' "$D/usr/libexec/helpim/helpim-demo"
	assert_output 2
}

@test "the installed man pages read with man -l" {
	local f
	for f in "$D"/usr/share/man/man*/*; do
		run -0 env MANPAGER=cat MANWIDTH=80 man -l "$f"
		assert_output --partial "NAME"
	done
	run -0 env MANPAGER=cat man -l "$D/usr/share/man/man7/helpim.7"
	assert_output --partial "helpim-mkrooms"
}

@test "the systemd unit verifies" {
	command -v systemd-analyze
	sed "s|/usr/bin/|$D/usr/bin/|g" "$top/etc/helpim.service" \
		>"$BATS_FILE_TMPDIR/helpim.service"
	# the only complaints allowed: man pages not installed system-wide
	run systemd-analyze verify "$BATS_FILE_TMPDIR/helpim.service"
	refute_output --partial "not executable"
	refute_output --partial "nknown"
	refute_output --regexp "[Ii]nvalid|[Ff]ailed to parse"
}

@test "make uninstall removes everything it installed" {
	make -s -C "$top" uninstall DESTDIR="$D" PREFIX=/usr >/dev/null
	run -0 find "$D" -type f
	assert_output ""
}
