# pgtest.sh - a private, throwaway PostgreSQL server for the test suite.
# Source it, then:
#   pg_test_start   starts a server on a free loopback port in a temp dir and
#                   exports PARLEY_TEST_PG (a connection URI)
#   pg_test_stop    stops it and removes the directory
# Always pair them with `trap pg_test_stop EXIT`, or a failed step leaves the
# postmaster running. The server runs as user postgres when we are root
# (initdb refuses root). fsync is off: this data is thrown away.

pg_test_start() {
    PGT_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ ! -x "$PGT_BIN/initdb" ]; then
        echo "pgtest: the postgresql server is not installed (tools/install-deps)" >&2
        return 1
    fi
    PGT_DIR=$(mktemp -d /tmp/parley-pg.XXXXXX) || return 1
    PGT_AS=""
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$PGT_DIR"
        PGT_AS="runuser -u postgres --"
    fi
    if ! $PGT_AS "$PGT_BIN/initdb" -D "$PGT_DIR/data" -A trust -U postgres -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$PGT_DIR/initdb.log" 2>&1; then
        cat "$PGT_DIR/initdb.log" >&2
        return 1
    fi
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
        if $PGT_AS "$PGT_BIN/pg_ctl" -D "$PGT_DIR/data" -l "$PGT_DIR/server.log" -w -t 30 \
                -o "-c listen_addresses=127.0.0.1 -p $port -k $PGT_DIR -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
                start >/dev/null 2>&1; then
            PARLEY_TEST_PG="postgresql://postgres@127.0.0.1:$port/postgres"
            export PARLEY_TEST_PG PGT_DIR PGT_BIN PGT_AS
            return 0
        fi
    done
    cat "$PGT_DIR/server.log" >&2
    return 1
}

pg_test_stop() {
    if [ -n "${PGT_DIR:-}" ] && [ -d "$PGT_DIR/data" ]; then
        $PGT_AS "$PGT_BIN/pg_ctl" -D "$PGT_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PGT_DIR"
    fi
    unset PARLEY_TEST_PG PGT_DIR
}
