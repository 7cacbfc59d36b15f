#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: Debian's postgresql, a fresh initdb in a temporary
# directory owned by the postgres user (PostgreSQL refuses to run as root), listening on 127.0.0.1 on a
# free port with TLS (its own CA), a role `relay` with a random password and a database `relay`.
#
# Usage:
#   scripts/postgres.sh install       installs Debian's postgresql (and openssl) when missing
#   scripts/postgres.sh start         installs if needed, starts a cluster, prints its directory (the handle)
#   scripts/postgres.sh url DIR       postgres://relay:PASSWORD@127.0.0.1:PORT/relay?sslmode=disable
#   scripts/postgres.sh ca DIR        the CA certificate that signed the server's (for sslmode=verify-full)
#   scripts/postgres.sh down DIR      stops the server at once (like a crash), keeping its data
#   scripts/postgres.sh up DIR        starts it again on the same port
#   scripts/postgres.sh stop DIR      stops the cluster and removes DIR
#
# scripts/test.sh starts one for the whole run and stops it on exit; the Swift tests start their own
# (once per test process) when GMAIL_RELAY_TEST_PG_URL is not set.
set -euo pipefail

# The directory holds this file so that `stop` never removes a directory this script did not make.
marker=gmail-relay-test-cluster

die() { echo "scripts/postgres.sh: $*" >&2; exit 1; }

# The newest installed server's bin directory (Debian keeps them off the PATH), or nothing.
pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then echo "$dir"; fi
}

install_packages() {
    local missing=()
    [[ -n "$(pg_bin)" ]] || missing+=(postgresql)
    command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    ((${#missing[@]})) || return 0
    echo "installing: ${missing[*]}" >&2
    local sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    [[ -n "$(pg_bin)" ]] || die "apt-get installed postgresql but no server binaries are in /usr/lib/postgresql/*/bin"
}

# Runs a command as the cluster's owner: postgres when we are root, else ourselves.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- env LC_ALL=C "$@"
    else
        env LC_ALL=C "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A CA and a server certificate for 127.0.0.1 and localhost, so the tests can use sslmode=require and
# verify-full against a real TLS server.
make_certificates() {
    local dir=$1
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=gmail-relay test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 7 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
    rm -f "$dir/ca.key" "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
    chmod 600 "$dir/server.key"
    chmod 644 "$dir/ca.crt" "$dir/server.crt"
}

start() {
    install_packages
    local bin base port password
    bin=$(pg_bin)
    base=$(mktemp -d "${TMPDIR:-/tmp}/gmail-relay-pg.XXXXXX")
    touch "$base/$marker"
    make_certificates "$base"
    if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$base"; fi
    chmod 700 "$base"
    cd "$base"  # the postgres user may not be able to enter the caller's directory

    password=$(openssl rand -hex 24)
    # The superuser reaches the cluster only through the socket in $base (trust); TCP needs a password.
    if ! as_owner "$bin/initdb" -D "$base/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1; then
        cat "$base/initdb.log" >&2
        rm -rf "$base"
        die "initdb failed"
    fi

    # A free port can be taken between the check and the start: try a few.
    local started=""
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        # fsync off: a throw-away cluster for tests, nothing here has to survive a power cut.
        echo "-c listen_addresses=127.0.0.1 -p $port -k $base -c fsync=off -c ssl=on -c ssl_cert_file=$base/server.crt -c ssl_key_file=$base/server.key -c max_connections=200" >"$base/options"
        if as_owner "$bin/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 60 -o "$(cat "$base/options")" start >/dev/null; then
            started=yes
            break
        fi
    done
    if [[ -z "$started" ]]; then
        tail -n 30 "$base/server.log" >&2 || true
        rm -rf "$base"
        die "the cluster did not start"
    fi
    echo "$port" >"$base/port"

    # CREATEDB: the tests make a fresh database for each migration test.
    as_owner psql -X -q -h "$base" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE relay LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE relay OWNER relay" >/dev/null
    echo "postgres://relay:$password@127.0.0.1:$port/relay?sslmode=disable" >"$base/url"
    chmod 644 "$base/url"
    echo "$base"
}

check_dir() {
    local dir=${1:-}
    [[ -n "$dir" ]] || die "name the directory that start printed"
    [[ -f "$dir/$marker" ]] || die "$dir is not a cluster made by scripts/postgres.sh start"
}

stop() {
    local dir=${1:-}
    check_dir "$dir"
    local bin
    bin=$(pg_bin)
    if [[ -n "$bin" && -f "$dir/data/postmaster.pid" ]]; then
        (cd "$dir" && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null) || true
    fi
    rm -rf "$dir"
}

# The server stops at once, as in a crash (clients lose their connections), keeping its data: `up`
# starts it again on the same port. For tests of a database that goes away.
down() {
    check_dir "${1:-}"
    (cd "$1" && as_owner "$(pg_bin)/pg_ctl" -D "$1/data" -m immediate -w -t 30 stop >/dev/null)
}

up() {
    check_dir "${1:-}"
    (cd "$1" && as_owner "$(pg_bin)/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 -o "$(cat "$1/options")" start >/dev/null)
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    url) check_dir "${2:-}"; cat "$2/url" ;;
    ca) check_dir "${2:-}"; echo "$2/ca.crt" ;;
    stop) stop "${2:-}" ;;
    down) down "${2:-}" ;;
    up) up "${2:-}" ;;
    *) die "usage: scripts/postgres.sh install | start | url DIR | ca DIR | down DIR | up DIR | stop DIR" ;;
esac
