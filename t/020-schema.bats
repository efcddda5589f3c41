#!/usr/bin/env bats
# The schema migrations and helpim-initdb.

load helper

setup_file() { sandbox_up; }
teardown_file() { sandbox_down; }

@test "the schema applies to an empty database and records its version" {
	sql 'DROP SCHEMA helpim CASCADE'
	run -0 helpim-initdb
	assert_line --partial "applied 001-schema.sql"
	run -0 sql 'SELECT max(version) FROM helpim.schema_version'
	assert_output "$(last_migration)"
}

@test "applying it twice is harmless" {
	run -0 helpim-initdb
	assert_output ""
	run -0 sql 'SELECT count(*) = count(DISTINCT version) FROM helpim.schema_version'
	assert_output t
}

@test "two runs at once apply each migration once" {
	sql 'DROP SCHEMA helpim CASCADE'
	helpim-initdb 3>&- &
	helpim-initdb 3>&- &
	wait || true
	run -0 helpim-initdb
	run -0 sql 'SELECT count(*), count(DISTINCT version) FROM helpim.schema_version'
	n=$(ls "$top"/sql/[0-9]*.sql | wc -l)
	assert_output "$n|$n"
}

@test "rooms take only the known statuses and lower-case jids" {
	run -0 sql "INSERT INTO helpim.rooms (jid, password) VALUES ('a@rooms.localhost', 'x') RETURNING status"
	assert_output available
	run -1 sql "INSERT INTO helpim.rooms (jid, password, status) VALUES ('b@rooms.localhost', 'x', 'bogus')"
	assert_output --partial 'violates foreign key constraint "rooms_status_fkey"'
	run -1 sql "INSERT INTO helpim.rooms (jid, password) VALUES ('C@rooms.localhost', 'x')"
	assert_output --partial "violates check constraint"
	run -1 sql "INSERT INTO helpim.rooms (jid, password) VALUES ('a@rooms.localhost', 'y')"
	assert_output --partial "duplicate key"
}

@test "an unreachable database exits 111" {
	C=$BATS_TEST_TMPDIR/c.conf
	sed 's|^db = .*|db = host=/nonexistent dbname=helpim|' "$HELPIM_CONF" >"$C"
	chmod 600 "$C"
	run -111 helpim-initdb -f "$C"
	assert_line "helpim-initdb: cannot connect to the database"
}

@test "-n checks the configuration only" {
	run -0 helpim-initdb -n
	assert_output ""
	run -100 helpim-initdb -f /nonexistent
}
