#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the store and pipeline tests.
#
#   eval "$(bash .ci/postgres.sh)"        # installs PostgreSQL from Debian if absent, starts it, exports
#                                         # IMAGEBIO_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/imagebio_test
#   bash .ci/postgres.sh stop             # stops the server started above (uses $IMAGEBIO_TEST_PG_DIR)
#
# Only the `export` lines go to stdout; progress goes to stderr.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

as_owner() {
    # initdb/pg_ctl refuse to run as root: run them as the postgres user then.
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-}" = "stop" ]; then
    dir="${IMAGEBIO_TEST_PG_DIR:?IMAGEBIO_TEST_PG_DIR is not set}"
    bin="$(cat "$dir/bindir")"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2
    exit 0
fi

find_bindir() {
    local candidate
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then
        echo "$candidate"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
    fi
}

bindir="$(find_bindir)"
if [ -z "$bindir" ]; then
    log "PostgreSQL not found: installing it from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
    bindir="$(find_bindir)"
fi
[ -n "$bindir" ] || { log "no initdb after installing postgresql"; exit 1; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
dir="$(mktemp -d /tmp/imagebio-pg.XXXXXX)"
echo "$bindir" > "$dir/bindir"
if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown -R postgres "$dir"
fi

log "initdb in $dir/data (PostgreSQL $("$bindir/postgres" --version | awk '{print $NF}'))"
as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=100" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres imagebio_test
log "PostgreSQL listening on 127.0.0.1:$port (stop with: bash .ci/postgres.sh stop)"

echo "export IMAGEBIO_TEST_PG_DIR=$dir"
echo "export IMAGEBIO_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1:$port/imagebio_test"
