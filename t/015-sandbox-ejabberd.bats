#!/usr/bin/env bats
# helpim-sandbox with XMPP=ejabberd: Erlang nodes of their own, side by side,
# with no epmd, and nothing left behind.

load helper

alive() {
	ps -eo stat=,args= | grep -F "$1" | grep -v -e '^Z' -e grep || true
}

epmds() {
	ps -eo pid=,comm= | grep -w epmd | sort || true
}

# a failed test must not leave servers holding the output of bats
teardown() {
	for d in ${A:-} ${B:-} ${SB:-}; do
		helpim-sandbox stop "$d" 2>/dev/null || true
		rm -rf "$d"
	done
}

@test "two ejabberd sandboxes run at once and stop without a trace" {
	before=$(epmds)
	A=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	B=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	XMPP=ejabberd helpim-sandbox start "$A"
	XMPP=ejabberd helpim-sandbox start "$B"
	run -0 grep -h '^XMPP=' "$A/env" "$B/env"
	assert_output "XMPP=ejabberd
XMPP=ejabberd"
	run -0 sh -c "grep -h '^EJABBERD_NODE=' '$A/env' '$B/env' | sort -u | wc -l"
	assert_output 2
	# the verbs find the server in DIR/env, whatever XMPP says now
	run -0 env XMPP=prosody helpim-sandbox ctl "$A" status
	assert_output --partial "is started"
	run -0 helpim-sandbox ctl "$B" registered_users localhost
	assert_output bot
	run -0 alive "$A"
	refute_output ""
	run -0 epmds
	assert_output "$before"
	run -0 helpim-sandbox stop "$A"
	run -0 alive "$A"
	assert_output ""
	run -0 helpim-sandbox ctl "$B" status
	assert_output --partial "is started"
	run -0 helpim-sandbox stop "$B"
	run -0 alive "$B"
	assert_output ""
	run -0 epmds
	assert_output "$before"
}

@test "ejabberd: accounts, the bot's password, anonymous participants" {
	SB=$(mktemp -d /tmp/helpim-sb.XXXXXX)
	XMPP=ejabberd helpim-sandbox start "$SB"
	. "$SB/env"
	run -0 sh -c "echo 'sec ret' | helpim-sandbox adduser '$SB' staff@localhost"
	run -0 helpim-sandbox prosodyctl "$SB" registered_users localhost
	assert_line bot
	assert_line staff
	# the password is on no command line and in no log
	run -1 grep -rF "$(sed -n 's/^password = //p' "$SB/helpim.conf")" \
		"$SB/xmpp" --exclude=*.DCD --exclude=*.DAT --exclude=*.DCL
	run -0 sh -c "printf 'join x@$MUC_DOMAIN eve\n' | timeout 10 helpim-chat 2>&1"
	assert_line --regexp "^online [^@]+@$ANON_DOMAIN/"
	assert_line "error x@$MUC_DOMAIN forbidden"
	run -0 helpim-sandbox kill-xmpp "$SB"
	run -0 helpim-sandbox start-xmpp "$SB"
	run -0 helpim-sandbox ctl "$SB" registered_users localhost
	assert_line staff
	run -0 helpim-sandbox stop "$SB"
	run -0 alive "$SB"
	assert_output ""
}
