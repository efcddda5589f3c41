#!/usr/bin/env bats
# The throwaway XMPP server ($XMPP: Prosody or ejabberd) and PostgreSQL of
# helpim-sandbox.

load helper

alive() {
	# processes of this sandbox that still run (zombies do not count)
	ps -eo stat=,args= | grep -F "$1" | grep -v -e '^Z' -e grep || true
}

@test "the sandbox comes up, answers, and goes down leaving nothing" {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	run -0 helpim-sandbox start "$SB"
	. "$SB/env"
	run -0 ss -Hltn "sport = :$XMPP_PORT"
	assert_output --partial "127.0.0.1:$XMPP_PORT"
	run -0 psql -XAtc 'select current_database()'
	assert_output helpim
	# PostgreSQL listens on its socket only
	run -0 psql -XAtc 'show listen_addresses'
	assert_output ""
	run -0 helpim-conf -f "$SB/helpim.conf" -n
	run -0 stat -c %a "$SB/helpim.conf"
	assert_output 600
	run -0 alive "$SB"
	refute_output ""
	run -0 helpim-sandbox stop "$SB"
	run -0 alive "$SB"
	assert_output ""
	rm -rf "$SB"
}

@test "the server's ports lie outside the range of outgoing connections" {
	# random numbers that the old choice took to ports in that range:
	# 15000, 15001, ...
	mkdir "$BATS_TEST_TMPDIR/bin"
	echo 15000 >"$BATS_TEST_TMPDIR/n"
	cat >"$BATS_TEST_TMPDIR/bin/od" <<-SH
	#!/bin/sh
	if [ "\$*" = "-An -N2 -tu2 /dev/urandom" ]; then
		n=\$(cat "$BATS_TEST_TMPDIR/n")
		echo \$((n + 1)) >"$BATS_TEST_TMPDIR/n"
		echo " \$n"
		exit
	fi
	exec /usr/bin/od "\$@"
	SH
	chmod +x "$BATS_TEST_TMPDIR/bin/od"
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run -0 helpim-sandbox start "$SB"
	. "$SB/env"
	helpim-sandbox stop "$SB"
	rm -rf "$SB"
	for p in "$XMPP_PORT" ${ERL_DIST:+"${ERL_DIST##* }"}; do
		[ "$p" -lt "$lo" ] || [ "$p" -gt "$hi" ] ||
			fail "port $p: in $lo to $hi"
	done
}

@test "a start whose XMPP server fails leaves no database running" {
	# where the servers' unprivileged user finds them too
	bin=$(mktemp -d /tmp/helpim-bin.XXXXXX)
	chmod 755 "$bin"
	for t in prosodyctl erl; do
		printf '#!/bin/sh\nexit 1\n' >"$bin/$t"
		chmod 755 "$bin/$t"
	done
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	PATH=$bin:$PATH run -111 helpim-sandbox start "$SB"
	rm -rf "$bin"
	run -0 alive "$SB"
	helpim-sandbox stop "$SB"
	rm -rf "$SB"
	assert_output ""
}

@test "as root the servers run as an unprivileged user" {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	helpim-sandbox start "$SB"
	run -0 sh -c "ps -eo user=,args= | grep -F '$SB' | grep -e prosody -e beam -e postgres | grep -v grep | cut -d' ' -f1 | sort -u"
	if [ "$(id -u)" = 0 ]; then
		assert_output nobody
	else
		assert_output "$(id -un)"
	fi
	helpim-sandbox stop "$SB"
	rm -rf "$SB"
}

@test "an ordinary user can run the sandbox too" {
	[ "$(id -u)" = 0 ] || skip "already an ordinary user"
	d=$(mktemp -d /tmp/helpim-sbu.XXXXXX)
	cp "$top/bin/helpim-sandbox" "$d/"
	chmod 755 "$d"
	chown nobody "$d"
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME="$d" "$d/helpim-sandbox" start "$d/sb"
	run -0 alive "$d/sb"
	refute_output ""
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME="$d" "$d/helpim-sandbox" stop "$d/sb"
	run -0 alive "$d/sb"
	assert_output ""
	rm -rf "$d"
}

@test "a stopped XMPP server comes back on the same port" {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	helpim-sandbox start "$SB"
	. "$SB/env"
	run -0 helpim-sandbox stop-xmpp "$SB"
	run -1 sh -c "ss -Hltn 'sport = :$XMPP_PORT' | grep -q ."
	run -0 helpim-sandbox start-xmpp "$SB"
	run -0 ss -Hltn "sport = :$XMPP_PORT"
	assert_output --partial LISTEN
	run -0 helpim-sandbox stop-db "$SB"
	run -2 psql -XAtc 'select 1'
	run -0 helpim-sandbox start-db "$SB"
	run -0 psql -XAtc 'select 1'
	helpim-sandbox stop "$SB"
	rm -rf "$SB"
}

@test "a server that has exited but is not reaped yet counts as stopped" {
	local d=$BATS_TEST_TMPDIR/sb z
	mkdir -p "$d/xmpp"
	echo XMPP=prosody >"$d/env"
	# a zombie: its parent (sleep, after the exec) never reaps it, as an
	# init that reaps late does not for a while
	sh -c 'sleep 0 & exec sleep 10' 3>&- &
	wait_until 5 sh -c "pgrep -P $! >/dev/null"
	z=$(pgrep -P $!)
	wait_until 5 gone "$z"
	echo "$z" >"$d/xmpp/pid"
	run -0 timeout 3 helpim-sandbox stop-xmpp "$d"
	run -1 test -e "$d/xmpp/pid"
	kill $!
}

@test "session_start writes the new session's group, never the test's, when setsid is slow" {
	local shim=$BATS_TEST_TMPDIR/bin g t o f
	mkdir -p "$shim"
	# a setsid that takes its time to run, as on a loaded machine
	printf '#!/bin/sh\nsleep 1\nexec %s "$@"\n' "$(command -v setsid)" >"$shim/setsid"
	chmod +x "$shim/setsid"
	PATH=$shim:$PATH session_start slow sleep 30
	read -r g t <"$BATS_FILE_TMPDIR/slow.pgid"
	assert_not_equal "$g" "$(ps -o pgid= -p $$ | tr -d ' ')"
	assert_equal "$(ps -o pgid= -p "$g" | tr -d ' ')" "$g"
	# refused: the test's own group; the group of another process that
	# took the number (another start time); no number
	o=$(ps -o pgid= -p $$ | tr -d ' ')
	echo "$o $(starttime "$o")" >"$BATS_FILE_TMPDIR/ours.pgid"
	echo "$g $((t + 1))" >"$BATS_FILE_TMPDIR/other.pgid"
	echo "x $t" >"$BATS_FILE_TMPDIR/bad.pgid"
	for f in ours other bad; do
		run -1 kill_group 0 "$f"
		assert_output "kill_group: $f.pgid holds no session of its own"
	done
	kill_group TERM slow
	wait_until 5 gone "$g"
}

@test "SANDBOX_STORAGE=pgsql: Prosody keeps its rooms in the sandbox's PostgreSQL" {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	if [ "$XMPP" = ejabberd ]; then
		SANDBOX_STORAGE=pgsql run -100 helpim-sandbox start "$SB"
		assert_output --partial "Prosody only"
		rm -rf "$SB"
		return
	fi
	SANDBOX_STORAGE=pgsql helpim-sandbox start "$SB"
	. "$SB/env"
	HELPIM_CONF=$SB/helpim.conf helpim-initdb 2>/dev/null
	run -0 env HELPIM_CONF="$SB/helpim.conf" helpim-mkrooms -c 2
	run -0 psql -XAt -d prosody -c "SELECT store, count(*) FROM prosody
		WHERE host = 'rooms.localhost' AND store = 'persistent' GROUP BY 1"
	assert_output "persistent|2"
	run -0 helpim-sandbox stop "$SB"
	rm -rf "$SB"
}

@test "a directory that is not empty is refused" {
	d=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	touch "$d/x"
	run -100 helpim-sandbox start "$d"
	assert_output "helpim-sandbox: $d is not empty"
	rm -rf "$d"
}

@test "participants log in anonymously and may not create rooms" {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	helpim-sandbox start "$SB"
	. "$SB/env"
	run -0 sh -c "printf 'join new@$MUC_DOMAIN eve\n' | timeout 10 helpim-chat -p $XMPP_PORT -d $ANON_DOMAIN 2>&1"
	assert_line --regexp "^online [^@]+@$ANON_DOMAIN/"
	# Prosody says not-allowed, ejabberd forbidden
	if [ "$XMPP" = prosody ]; then
		assert_line "error new@$MUC_DOMAIN not-allowed"
	else
		assert_line "error new@$MUC_DOMAIN forbidden"
	fi
	helpim-sandbox stop "$SB"
	rm -rf "$SB"
}
