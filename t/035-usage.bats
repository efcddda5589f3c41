#!/usr/bin/env bats
# Every program and script: the usage it prints is the SYNOPSIS of its
# manual page, line for line, so that the two never drift apart.

load helper

# progs: every program (src/helpim-*.c) and script (bin/helpim-*)
progs() {
	local f
	for f in "$top"/src/helpim-*.c "$top"/bin/helpim-*; do
		f=${f##*/}
		echo "${f%.c}"
	done
}

# manpage PROG: its page, in whichever section
manpage() {
	local m
	for m in "$top/man/$1".[18]; do
		[ -e "$m" ] && echo "$m"
	done
}

# usage_of PROG: what a bad option prints, without "usage: " and the
# alignment of the lines after the first, spaces squeezed
usage_of() {
	"$1" -Z </dev/null 2>&1 >/dev/null |
		sed -n '/^usage: /,$p' | sed -E 's/^usage: //; s/^ +//; s/ +/ /g'
}

# synopsis_of PROG: the SYNOPSIS of its page as mandoc renders it for a
# terminal wide enough for every line, spaces squeezed
synopsis_of() {
	mandoc -Tascii -Owidth=1000 "$(manpage "$1")" | sed 's/.\x08//g' |
		awk '/^SYNOPSIS/ { p = 1; next } /^[^ ]/ { p = 0 } p && NF' |
		sed -E 's/^ +//; s/ +/ /g'
}

@test "every program and script has a manual page" {
	for p in $(progs); do
		run -0 manpage "$p"
		assert_output --regexp "/$p\.[18]\$"
	done
}

@test "a bad option prints the SYNOPSIS of the manual page and exits 100" {
	for p in $(progs); do
		run -100 "$p" -Z </dev/null
		run -0 synopsis_of "$p"
		refute_output ""
		assert_equal "$(usage_of "$p")" "$output"
	done
}

@test "helpim-chat -h: the same usage line first, on standard output" {
	run -0 --separate-stderr helpim-chat -h
	assert_line --index 0 "usage: $(synopsis_of helpim-chat)"
	assert_equal "$stderr" ""
}

@test "the check compares: a usage that differs from its page is caught" {
	d=$BATS_TEST_TMPDIR
	printf '%s\n' '#!/bin/sh' \
	    'echo "usage: helpim-run [-nqv] [-f file]" >&2; exit 100' \
	    >"$d/helpim-run"
	chmod +x "$d/helpim-run"
	run -0 synopsis_of helpim-run
	assert_output "helpim-run [-nqsv] [-f file]"
	PATH=$d:$PATH run -0 usage_of helpim-run
	assert_output "helpim-run [-nqv] [-f file]"
}
