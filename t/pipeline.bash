# The pipeline helpim-rooms -F | helpim-watch | helpim-setstatus for the
# 7xx tests, its event stream kept in $BATS_FILE_TMPDIR/events.

T='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# stage NAME IN OUT CMD...: CMD in the background reading IN, writing OUT
# and NAME.err, its pid in NAME.pid (once it runs), its exit status in
# NAME.rc when it ends
stage() {
	local d=$BATS_FILE_TMPDIR n=$1 in=$2 out=$3
	shift 3
	rm -f "$d/$n.pid" "$d/$n.rc"
	{
		sh -c 'echo $$ >"$0.new"; mv "$0.new" "$0"; exec "$@"' \
		    "$d/$n.pid" "$@" <"$in" >"$out" 2>"$d/$n.err"
		echo $? >"$d/$n.rc"
	} 3>&- &
}

pipe_start() {
	local d=$BATS_FILE_TMPDIR
	rm -f "$d/p1" "$d/p2" "$d/p3" "$d/events"
	mkfifo "$d/p1" "$d/p2" "$d/p3"
	stage rooms /dev/null "$d/p1" helpim-rooms -F
	stage watch "$d/p1" "$d/p2" helpim-watch
	tee "$d/events" <"$d/p2" >"$d/p3" 3>&- &
	stage setstatus "$d/p3" /dev/null helpim-setstatus
	wait_until 5 test -e "$d/rooms.pid" -a -e "$d/watch.pid" \
	    -a -e "$d/setstatus.pid"
}

# pipe_stop: stop the pipeline from its head; the others must exit 0.
pipe_stop() {
	local d=$BATS_FILE_TMPDIR p
	kill "$(cat "$d/rooms.pid")"
	for p in rooms watch setstatus; do
		wait_until 20 test -e "$d/$p.rc" || return 1
		rm -f "$d/$p.pid"
		# rooms ends on its signal; the others on end of input
		[ "$p" = rooms ] || [ "$(cat "$d/$p.rc")" -eq 0 ] || {
			echo "$p exited $(cat "$d/$p.rc")" >&2
			cat "$d/$p.err" >&2
			return 1
		}
	done
}

# the password of ROOM
room_pw() {
	sql "SELECT password FROM helpim.rooms WHERE jid = '$1'"
}

# the event lines must stay parseable: a known verb, the time, the room,
# a count, fields without raw control characters
events_parseable() {
	! grep -vE "^(helpim-events\|1|(snapshot|join|leave|nick|kick|destroyed|gone|rekeyed)\|$T\|[^|]+@[^|]+\|[0-9]+(\|[^|[:cntrl:]]*)*)$" \
		"$BATS_FILE_TMPDIR/events"
}

snapshots() {
	grep -c "^snapshot|" "$BATS_FILE_TMPDIR/events"
}
