#!/usr/bin/env bats
# The exit code of a database failure, in helpim-rooms, helpim-setstatus and
# helpim-mkrooms: 100 when waiting will not mend it, 111 otherwise.

load helper

setup_file() {
	sandbox_up
	sql "CREATE DATABASE empty"
}
teardown_file() { sandbox_down; }

# conf CONNINFO: a configuration with another db line, in $C
conf() { C=$(conf_with db "db=$1"); }

# each EXIT: all three programs exit EXIT with the configuration $C
each() {
	run -"$1" helpim-rooms -c "$C" -p
	assert_output --partial "helpim-rooms: error: database: "
	run -"$1" helpim-setstatus -f "$C" </dev/null
	assert_output --partial "helpim-setstatus: error: database: "
	run -"$1" helpim-mkrooms -f "$C" -N 1
	assert_output --partial "helpim-mkrooms: error: database: "
}

@test "an unknown database: 100" {
	conf "host=$PGHOST port=$PGPORT dbname=nosuch user=postgres"
	each 100
	assert_output --partial 'database "nosuch" does not exist'
}

@test "an unknown role: 100" {
	conf "host=$PGHOST port=$PGPORT dbname=helpim user=nosuch"
	each 100
	assert_output --partial 'role "nosuch" does not exist'
}

@test "a database without the schema: 100" {
	conf "host=$PGHOST port=$PGPORT dbname=empty user=postgres"
	each 100
}

@test "helpim-rooms: a query that times out is temporary: 111" {
	psql -X -q -c "BEGIN" -c "LOCK helpim.rooms" -c "SELECT pg_sleep(3)" \
		-c "COMMIT" >/dev/null 3>&- &
	locker=$!
	wait_until 5 sql "SELECT 1 / count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'helpim.rooms'::regclass"
	PGOPTIONS='-c lock_timeout=200ms' run -111 helpim-rooms -P
	assert_output --partial "lock timeout"
	wait "$locker"
}

# Last: it stops the database.
@test "a stopped database: 111" {
	helpim-sandbox stop-db "$SB"
	C=$HELPIM_CONF
	each 111
	helpim-sandbox start-db "$SB"
}
