# Loaded by every test file: paths, the sandbox, and a participant client.

bats_require_minimum_version 1.5.0

top=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
PATH=$top:$top/bin:$PATH
# make check-asan: the programs of a sanitizer build come first
[ -z "${HELPIM_BINDIR:-}" ] || PATH=$HELPIM_BINDIR:$PATH
# make check-valgrind: the long-running programs run under memcheck
if [ "${HELPIM_VALGRIND:-0}" = 1 ]; then
	vgdir=$BATS_RUN_TMPDIR/valgrind
	mkdir -p "$vgdir" "${HELPIM_VGLOG:=$BATS_RUN_TMPDIR/vglog}"
	for p in helpim-watch helpim-setstatus helpim-rooms helpim-mkrooms; do
		cat >"$vgdir/$p" <<-EOF
		#!/bin/sh
		exec valgrind -q --error-exitcode=99 --leak-check=full \\
		    --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
		    --log-file=$HELPIM_VGLOG/$p.%p ${HELPIM_BINDIR:-$top}/$p "\$@"
		EOF
		chmod +x "$vgdir/$p"
	done
	PATH=$vgdir:$PATH
fi
export PATH

bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

# Start a sandbox for this file (call from setup_file) with the schema applied;
# its XMPP server is $XMPP: prosody (the default) or ejabberd.
XMPP=${XMPP:-prosody}
export XMPP
sandbox_up() {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	export SB
	if ! XMPP=$XMPP helpim-sandbox start "$SB" >&2; then
		# another job may have taken the free port first: once more
		helpim-sandbox stop "$SB" 2>/dev/null || true
		rm -rf "$SB"
		SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
		XMPP=$XMPP helpim-sandbox start "$SB" >&2
	fi
	# shellcheck disable=SC1091
	. "$SB/env"
	export HELPIM_CONF=$SB/helpim.conf
	helpim-initdb 2>/dev/null
}

sandbox_down() {
	[ -n "${SB:-}" ] || return 0
	for f in "$BATS_FILE_TMPDIR"/*.pid; do
		[ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	helpim-sandbox stop "$SB"
	rm -rf "$SB"
}

# conf_with NAME key=value...: a copy of the sandbox config with these keys set.
conf_with() {
	local f=$BATS_FILE_TMPDIR/$1.conf kv
	shift
	cp "$HELPIM_CONF" "$f"
	for kv in "$@"; do
		grep -v "^${kv%%=*} *=" "$f" >"$f.new" || true
		echo "${kv%%=*} = ${kv#*=}" >>"$f.new"
		mv "$f.new" "$f"
	done
	chmod 600 "$f"
	echo "$f"
}

sql() {
	psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"
}

# the number of the last migration in sql/, the schema version it records
last_migration() {
	local f
	for f in "$top"/sql/[0-9][0-9][0-9]-*.sql; do
		f=${f##*/}
	done
	echo "$((10#${f%%-*}))"
}

# wait_until SECONDS CMD...: retry CMD every 0.1 s until it succeeds.
# HELPIM_SLOW: a factor for slow runs (valgrind).
wait_until() {
	local n=$(($1 * 10 * ${HELPIM_SLOW:-1}))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			echo "wait_until: timed out: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# gone PID: no such process, or one that has exited and waits to be
# reaped (an init may reap an orphan a second or more later), its other
# threads ended too (fields after the name: state, ..., 18th the threads)
gone() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
	# shellcheck disable=SC2086 # the fields, one word each
	set -- $st
	[ $# -ge 18 ] && [ "$1" = Z ] && [ "${18}" -le 1 ]
}

# session_start NAME CMD...: CMD in the background in a session of its
# own (stderr to NAME.log); in NAME.pgid, its process group and the start
# time of its first process.  Written only once setsid has run: read
# before, the group is the test's own, and a signal to it would end the
# whole run.
session_start() {
	local n=$1 pid
	shift
	rm -f "$BATS_FILE_TMPDIR/$n.pgid"
	setsid "$@" 2>>"$BATS_FILE_TMPDIR/$n.log" 3>&- &
	pid=$!
	if ! wait_until 10 leads_session "$pid"; then
		[ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != "$BASHPID" ] ||
			kill -KILL "$pid"
		return 1
	fi
	echo "$pid $(starttime "$pid")" >"$BATS_FILE_TMPDIR/$n.pgid"
}

# leads_session PID: PID is a session's first process (setsid has run)
leads_session() { [ "$(ps -o sid= -p "$1" | tr -d ' ')" = "$1" ]; }

# starttime PID: when PID started, in clock ticks since the boot: a pid
# taken again by another process has another
starttime() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	# shellcheck disable=SC2086 # the fields, one word each
	set -- $st
	echo "${20}"
}

# kill_group SIG NAME: SIG to the process group in NAME.pgid while the
# process that session_start started (the same start time) still runs,
# and so still leads it; never to the test's own group
kill_group() {
	local g t ours
	read -r g t <"$BATS_FILE_TMPDIR/$2.pgid" || return 1
	ours=$(ps -o pgid= -p $$ | tr -d ' ')
	case $g in '' | *[!0-9]* | 0 | 1) g='' ;; esac
	if [ -z "$g" ] || [ -z "$ours" ] || [ "$g" = "$ours" ] ||
		[ "$(starttime "$g")" != "$t" ]; then
		echo "kill_group: $2.pgid holds no session of its own" >&2
		return 1
	fi
	kill "-$1" -- "-$g"
}

# A participant: helpim-chat reading commands from a fifo.
chat_start() {
	local d=$BATS_FILE_TMPDIR f closes=
	rm -f "$d/$1.in" "$d/$1.out" "$d/$1.fd"
	mkfifo "$d/$1.in"
	# the other participants' fifos stay out of this one
	for f in "$d"/*.fd; do
		[ -e "$f" ] && closes="$closes $(cat "$f")>&-"
	done
	eval "helpim-chat -p \"\$XMPP_PORT\" -d \"\$ANON_DOMAIN\" <\"\$d/\$1.in\" \
		>\"\$d/\$1.out\" 2>\"\$d/\$1.err\" 3>&- $closes &"
	echo $! >"$d/$1.pid"
	# hold the fifo open for writing until chat_stop
	eval "exec {fd}>\"$d/$1.in\""
	echo "$fd" >"$d/$1.fd"
	chat_wait "$1" '^online '
}

chat() {
	local fd
	fd=$(cat "$BATS_FILE_TMPDIR/$1.fd")
	printf '%s\n' "$2" >&"$fd"
}

chat_wait() {
	wait_until "${3:-10}" grep -qE "$2" "$BATS_FILE_TMPDIR/$1.out" || {
		echo "chat_wait $1 '$2': got:" >&2
		cat "$BATS_FILE_TMPDIR/$1.out" >&2
		return 1
	}
}

chat_stop() {
	local d=$BATS_FILE_TMPDIR fd pid
	fd=$(cat "$d/$1.fd")
	pid=$(cat "$d/$1.pid")
	eval "exec $fd>&-"
	rm -f "$d/$1.fd"
	wait_until 5 gone "$pid" || kill -9 "$pid" 2>/dev/null
	rm -f "$d/$1.pid"
}

# prog_pid NAME: the pid of helpim-NAME running with this file's configuration
# (found by argv[0], since a process name stops at 15 characters)
prog_pid() {
	local p
	for p in $(pgrep -f "^helpim-$1( |\$)"); do
		if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
			grep -qxF "HELPIM_CONF=$HELPIM_CONF"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ours CONF [TEXT]: the programs running with the configuration CONF (and
# helpim-run's stage wrappers), and the processes whose argv holds TEXT
ours() {
	local p
	[ -z "${2:-}" ] || pgrep -f -- "$2" || true
	for p in $(pgrep -f '^(helpim-|sh -c echo)'); do
		tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
			grep -qxF "HELPIM_CONF=$1" && echo "$p"
	done
	return 0
}

# helpim-run in the background for this file, its stderr in run.log, until
# the pool is full and its watcher is in every open room
run_start() {
	local t
	t=$(sql "SELECT now()")
	run_start_nowait
	wait_until 30 pool_full
	wait_until 30 all_seen "$t"
}

# all_seen TIME: every open room of the instance was seen (a snapshot)
# since TIME
all_seen() {
	[ "$(sql "SELECT count(*) FROM helpim.rooms WHERE helpim.status_open(status)
		AND instance = '$(helpim-conf instance)'
		AND (seen_at IS NULL OR seen_at < '$1')")" -eq 0 ]
}

run_start_nowait() {
	helpim-run 2>"$BATS_FILE_TMPDIR/run.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/run.pid"
}

run_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/run.pid")
	kill "$pid" 2>/dev/null || true
	wait_until 10 gone "$pid" || true
	rm -f "$BATS_FILE_TMPDIR/run.pid"
}

# A failed test shows what the supervisor saw (a file may define its own).
teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || [ ! -s "$BATS_FILE_TMPDIR/run.log" ] ||
		tail -n 30 "$BATS_FILE_TMPDIR/run.log" | sed 's/^/run.log: /' >&2
}

pool_full() {
	[ "$(sql "SELECT count(*) FROM helpim.rooms WHERE status = 'available'")" = \
		"$(helpim-conf pool_size)" ]
}

status_is() {
	[ "$(sql "SELECT status FROM helpim.rooms WHERE jid = '$1'")" = "$2" ]
}

# claim staff|client REF: the webapp's claim; sets ROOM and PASS
# shellcheck disable=SC2034 # ROOM and PASS are for the caller
claim() {
	local out
	out=$(helpim-webapp "$1" "$2")
	ROOM=${out% *}
	PASS=${out#* }
}

# listen_start: helpim-listen in the background, into $LISTEN (a
# teardown calls listen_stop when $BATS_FILE_TMPDIR/listen.pid is left)
listen_start() {
	LISTEN=$BATS_TEST_TMPDIR/listen.out
	helpim-listen >"$LISTEN" 2>"$LISTEN.err" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/listen.pid"
	wait_until 10 grep -q 'listening on helpim_webapp' "$LISTEN.err"
}

listen_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/listen.pid")
	rm -f "$BATS_FILE_TMPDIR/listen.pid"
	kill "$pid"
	wait_until 5 gone "$pid"
}

# heard LINE: helpim-listen printed LINE
heard() {
	grep -qxF "$1" "$LISTEN"
}

# counted ROOM: the room's chatters in the database are those on the server
# (its muc#roominfo_occupants, one bot being one of them), asked by the
# participant probe (chat_start probe)
counted() {
	local f=$BATS_FILE_TMPDIR/probe.out n db occ
	n=$(wc -l <"$f")
	chat probe "info $1"
	wait_until 10 sh -c "tail -n +$((n + 1)) '$f' | grep -q '^info $1 done'" ||
		return 2
	occ=$(tail -n +$((n + 1)) "$f" | sed -n 's/^field muc#roominfo_occupants //p')
	db=$(sql "SELECT chatters FROM helpim.rooms WHERE jid = '$1'")
	if [ -z "$occ" ] || [ "$occ" -ne $((db + 1)) ]; then
		echo "$1: $db chatters in the database, $occ occupants on the server" >&2
		return 1
	fi
}
