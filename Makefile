# HelpIM room bot.  Plain make: each program links only what it needs.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/helpim
MANDIR	?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/helpim
UNITDIR	?= $(PREFIX)/lib/systemd/system
DESTDIR	?=

CC	?= cc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Wshadow \
	   -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	   -Wwrite-strings -Wformat=2 -Wno-format-nonliteral -Wcast-qual
PKG	= pkg-config
BSD_CFLAGS	= $$($(PKG) --cflags libbsd-overlay)
BSD_LIBS	= $$($(PKG) --libs libbsd-overlay)
XMPP_CFLAGS	= $$($(PKG) --cflags libstrophe)
XMPP_LIBS	= $$($(PKG) --libs libstrophe)
PQ_CFLAGS	= $$($(PKG) --cflags libpq)
PQ_LIBS		= $$($(PKG) --libs libpq)
CRYPTO_CFLAGS	= $$($(PKG) --cflags libcrypto)
CRYPTO_LIBS	= $$($(PKG) --libs libcrypto)
ALL_CFLAGS	= $(CFLAGS) $(BSD_CFLAGS) $(XMPP_CFLAGS) $(PQ_CFLAGS) $(CRYPTO_CFLAGS)

PROGS	= $(patsubst src/%.c,%,$(wildcard src/helpim-*.c))
SCRIPTS	= $(wildcard bin/helpim-*)
# BINDIR gets what an operator runs; the test and demo tools (helpim-chat
# sends any XML) go to LIBEXECDIR, off the PATH, and find BINDIR themselves.
OPER	= helpim-conf helpim-initdb helpim-mkrooms helpim-rooms helpim-run \
	  helpim-setstatus helpim-watch
TOOLS	= $(filter-out $(OPER),$(PROGS))
TOOL_SCRIPTS = $(filter-out $(OPER:%=bin/%),$(SCRIPTS))
MAN1	= $(wildcard man/*.1)
MAN5	= $(wildcard man/*.5)
MAN7	= $(wildcard man/*.7)
MAN8	= $(wildcard man/*.8)
# examples for the operator: configuration, cron, servers, service
EXAMPLES = etc/helpim.conf etc/crontab etc/prosody-helpim.cfg.lua \
	   etc/postgresql-roles.sql etc/helpim.service
TESTS	?=
# The XMPP server of the sandbox: prosody, or ejabberd for the tests that
# run against both (the sandbox's, helpim-watch's and the end-to-end ones).
XMPP	?= prosody
EJABBERD_TESTS = $(wildcard t/01*.bats t/3*.bats t/6*.bats)

all: $(PROGS)

HDRS	= $(wildcard src/*.h)
src/clock.o src/conf.o src/line.o src/log.o src/stanza.o src/db.o src/jidhash.o \
    src/watch-room.o: $(HDRS)

.c.o:
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

helpim-conf: src/helpim-conf.o src/conf.o src/log.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BSD_LIBS)
helpim-mkrooms: src/helpim-mkrooms.o src/clock.o src/conf.o src/line.o src/log.o src/db.o src/stanza.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(XMPP_LIBS) $(PQ_LIBS) $(BSD_LIBS)
helpim-rooms: src/helpim-rooms.o src/clock.o src/conf.o src/line.o src/log.o src/db.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(PQ_LIBS) $(BSD_LIBS)
helpim-watch: src/helpim-watch.o src/watch-room.o src/clock.o src/conf.o src/line.o src/log.o \
	    src/stanza.o src/jidhash.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(XMPP_LIBS) $(CRYPTO_LIBS) $(BSD_LIBS)
helpim-listen: src/helpim-listen.o src/conf.o src/line.o src/log.o src/db.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(PQ_LIBS) $(BSD_LIBS)
helpim-setstatus: src/helpim-setstatus.o src/clock.o src/conf.o src/line.o src/log.o src/db.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(PQ_LIBS) $(BSD_LIBS)
helpim-chat: src/helpim-chat.o src/clock.o src/conf.o src/line.o src/log.o src/stanza.o
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(XMPP_LIBS) $(BSD_LIBS)

$(PROGS:%=src/%.o): $(HDRS)

# Installs what the build and the suite need from Debian when root;
# otherwise says what to run.
DEPS	= gcc make pkg-config libstrophe-dev libpq-dev libbsd-dev libssl-dev prosody \
	  lua-dbi-sqlite3 lua-dbi-postgresql sqlite3 postgresql bats bats-assert bats-support bats-file \
	  mandoc shellcheck util-linux procps iproute2 man-db systemd ejabberd
deps:
	@missing=$$(for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing: $$missing"; \
		{ apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing; } >.deps.log 2>&1 || \
			{ cat .deps.log; exit 1; }; \
	else \
		echo "missing packages; run as root:" >&2; \
		echo "  apt-get install -y $$missing" >&2; exit 1; \
	fi

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory lint
	@XMPP=$(XMPP) t/run $(or $(TESTS),$(if $(filter ejabberd,$(XMPP)),$(EJABBERD_TESTS)))

check-ejabberd:
	@$(MAKE) --no-print-directory check XMPP=ejabberd

# The suite against a build with AddressSanitizer and UBSan in build/asan
# (the normal build stays as it is); a report anywhere fails the run.  The
# benchmark tools' smoke test stays in make check: under the sanitizers its
# figures mean nothing.
ASAN_TESTS	= $(filter-out t/900-bench.bats,$(wildcard t/*.bats))
ASAN_DIR	= build/asan
ASAN_FLAGS	= -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
		  -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz-deps:
	@$(MAKE) --no-print-directory deps DEPS="$(DEPS) clang"

check-asan: deps
	@rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)/log && \
		cp -R Makefile src $(ASAN_DIR)/
	@$(MAKE) --no-print-directory -s -C $(ASAN_DIR) all \
		CFLAGS="$(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)"
	@log=$$(pwd)/$(ASAN_DIR)/log; \
	HELPIM_BINDIR=$$(pwd)/$(ASAN_DIR) HELPIM_ASAN=1 \
	ASAN_OPTIONS=halt_on_error=1:exitcode=98:log_path=$$log/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$$log/ubsan \
		t/run $(or $(TESTS),$(ASAN_TESTS)); rc=$$?; \
	if [ -n "$$(ls "$$log")" ]; then \
		head -n 60 "$$log"/* >&2; \
		echo "check-asan: sanitizer reports in $$log" >&2; exit 1; \
	fi; exit $$rc

# The long-running programs' tests under valgrind (t/helper.bash wraps them).
VG_TESTS	= t/200-mkrooms.bats t/300-watch.bats t/400-setstatus.bats \
		  t/410-rooms.bats t/720-hostile-participant.bats
check-valgrind:
	@$(MAKE) --no-print-directory deps DEPS="$(DEPS) valgrind"
	@$(MAKE) --no-print-directory all
	@log=$$(pwd)/build/vglog; rm -rf "$$log"; mkdir -p "$$log"; \
	HELPIM_VALGRIND=1 HELPIM_VGLOG=$$log HELPIM_SLOW=$${HELPIM_SLOW:-4} \
		t/run $(if $(TESTS),$(TESTS),$(VG_TESTS)); rc=$$?; \
	for f in "$$log"/*; do \
		[ ! -s "$$f" ] || { cat "$$f" >&2; rc=1; }; \
	done; \
	[ "$$rc" -eq 0 ] || echo "check-valgrind: failed; logs in $$log" >&2; \
	exit $$rc

lint:
	@mandoc -Tlint -W warning $(MAN1) $(MAN5) $(MAN7) $(MAN8)
	@shellcheck -s sh $(SCRIPTS)
	@shellcheck -s bash t/run t/helper.bash

# The check of stanza.c's xmpp_stanza_to_text against the library's.
t/totext: t/totext.c src/stanza.o src/clock.o src/conf.o src/line.o src/log.o $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ t/totext.c src/stanza.o src/clock.o src/conf.o src/line.o src/log.o $(XMPP_LIBS) $(BSD_LIBS)

# Benchmarks (t/bench/run, BENCHMARKS.md): minutes, never part of check.
BENCHTOOLS = t/bench/flood t/bench/paced t/bench/staff
t/bench/flood: t/bench/flood.c src/conf.o src/log.o $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ t/bench/flood.c src/conf.o src/log.o $(XMPP_LIBS) $(BSD_LIBS)
t/bench/paced: t/bench/paced.c src/conf.o src/log.o $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ t/bench/paced.c src/conf.o src/log.o $(XMPP_LIBS) $(PQ_LIBS) $(BSD_LIBS) -lm
t/bench/staff: t/bench/staff.c src/conf.o src/log.o $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ t/bench/staff.c src/conf.o src/log.o $(PQ_LIBS) $(BSD_LIBS)
bench: deps
	@$(MAKE) --no-print-directory all $(BENCHTOOLS)
	@t/bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	@bin/helpim-demo

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SHAREDIR)/sql \
		$(DESTDIR)$(UNITDIR)
	install -m 755 $(filter $(OPER),$(PROGS)) \
		$(filter $(OPER:%=bin/%),$(SCRIPTS)) $(DESTDIR)$(BINDIR)
	install -m 755 $(TOOLS) $(DESTDIR)$(LIBEXECDIR)
	for f in $(TOOL_SCRIPTS); do \
		sed 's|$$here/\.\.|$(BINDIR)|g' $$f \
			>$(DESTDIR)$(LIBEXECDIR)/$${f#bin/} && \
		chmod 755 $(DESTDIR)$(LIBEXECDIR)/$${f#bin/} || exit 1; \
	done
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	[ -z "$(MAN8)" ] || install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8
	install -m 644 sql/*.sql $(DESTDIR)$(SHAREDIR)/sql
	install -m 644 $(EXAMPLES) $(DESTDIR)$(SHAREDIR)
	sed 's|/usr/bin/|$(BINDIR)/|g' etc/helpim.service \
		>$(DESTDIR)$(UNITDIR)/helpim.service
	chmod 644 $(DESTDIR)$(UNITDIR)/helpim.service

uninstall:
	for f in $(OPER); do rm -f $(DESTDIR)$(BINDIR)/$$f; done
	for f in $(TOOLS) $(notdir $(TOOL_SCRIPTS)); do \
		rm -f $(DESTDIR)$(LIBEXECDIR)/$$f; done
	! [ -d $(DESTDIR)$(LIBEXECDIR) ] || rmdir $(DESTDIR)$(LIBEXECDIR)
	for f in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$${f#man/}; done
	for f in $(MAN5); do rm -f $(DESTDIR)$(MANDIR)/man5/$${f#man/}; done
	for f in $(MAN7); do rm -f $(DESTDIR)$(MANDIR)/man7/$${f#man/}; done
	for f in $(MAN8); do rm -f $(DESTDIR)$(MANDIR)/man8/$${f#man/}; done
	rm -f $(DESTDIR)$(UNITDIR)/helpim.service
	rm -rf $(DESTDIR)$(SHAREDIR)

# libFuzzer harnesses of the three parsers and of stanza.c's text against
# libstrophe's, FUZZ_SECONDS each, one at a time; new inputs go to
# t/fuzz/build, the kept seeds stay as they are.
FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
FUZZ_FLAGS	= -g -O1 -fsanitize=fuzzer,address,undefined \
		  -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZERS		= feed event conf text
LINEFUZZERS	= feed event conf

fuzz: fuzz-deps $(FUZZERS:%=t/fuzz/build/%)
	@for f in $(FUZZERS); do \
		mkdir -p t/fuzz/build/corpus-$$f && \
		echo "fuzz $$f: $(FUZZ_SECONDS) s" && \
		t/fuzz/build/$$f -max_total_time=$(FUZZ_SECONDS) \
			-max_len=9000 -print_final_stats=1 -close_fd_mask=2 \
			-artifact_prefix=t/fuzz/build/$$f- \
			t/fuzz/build/corpus-$$f t/fuzz/corpus-$$f \
			>t/fuzz/build/$$f.log 2>&1 || \
			{ tail -40 t/fuzz/build/$$f.log; exit 1; }; \
		grep -E '^stat::number_of_executed_runs|^Done' \
			t/fuzz/build/$$f.log; \
	done

$(LINEFUZZERS:%=t/fuzz/build/%): t/fuzz/build/%: t/fuzz/%.c src/line.c src/conf.c src/log.c $(HDRS)
	@mkdir -p t/fuzz/build
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(BSD_CFLAGS) \
		-o $@ $< src/line.c src/conf.c src/log.c $(BSD_LIBS)
t/fuzz/build/text: t/fuzz/text.c src/stanza.c src/line.c src/conf.c src/log.c $(HDRS)
	@mkdir -p t/fuzz/build
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE $(BSD_CFLAGS) $(XMPP_CFLAGS) \
		-o $@ $< src/stanza.c src/line.c src/conf.c src/log.c $(XMPP_LIBS) $(BSD_LIBS)

clean:
	rm -f $(PROGS) $(BENCHTOOLS) t/totext src/*.o .deps.log
	rm -rf t/fuzz/build build

.PHONY: check-asan check-valgrind
.PHONY: all bench check check-ejabberd deps lint demo install uninstall clean fuzz
