#!/usr/bin/env bash
# Runs every test: Swift unit and live-socket tests (the PostgreSQL store's against a throw-away
# cluster, scripts/postgres.sh), a short fuzz run, then the end-to-end tests
# that drive the real binary with real SMTP clients (swaks, Python smtplib, PHPMailer via php-cli)
# and the WordPress plugin in a real WordPress (php-bridge/). Each phase has a time limit
# (scripts/bounded.sh): a hang fails the run with the stacks of what hung.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

echo "== swift build"
# A failed build fails the run: a stale binary from an earlier build must not pass the tests.
build_log=$(mktemp)
if ! swift build --build-tests >"$build_log" 2>&1; then
    grep -v '^\[' "$build_log" | tail -n 60 >&2
    echo "scripts/test.sh: the build failed" >&2
    exit 1
fi
grep -v '^\[' "$build_log" || true
rm -f "$build_log"
test -x .build/debug/gmail-relay

echo "== PostgreSQL (a throw-away cluster for the PostgreSQL store tests)"
# Stopped and removed on any exit, failed tests included. The variables lack the GMAIL_RELAY_ prefix:
# the relay warns about GMAIL_RELAY_* variables it does not know, and the e2e relays inherit these.
pg_cluster=$(scripts/postgres.sh start)
trap 'scripts/postgres.sh stop "$pg_cluster"' EXIT
RELAY_TEST_PG_URL=$(scripts/postgres.sh url "$pg_cluster")
RELAY_TEST_PG_CA=$(scripts/postgres.sh ca "$pg_cluster")
export RELAY_TEST_PG_URL RELAY_TEST_PG_CA

echo "== swift test"
scripts/bounded.sh 900 swift test --skip-build

echo "== fuzz (short run)"
scripts/bounded.sh 900 scripts/fuzz.sh 100000

echo "== php-bridge (php -l, PHPUnit)"
scripts/bounded.sh 1200 php-bridge/tests/run.sh

echo "== contrib (systemd unit, Prometheus rules, dashboard, .deb)"
scripts/bounded.sh 1500 scripts/check-contrib.sh

echo "== end-to-end"
GMAIL_RELAY_BINARY="$PWD/.build/debug/gmail-relay" scripts/bounded.sh 1800 python3 -m pytest e2e -q -p no:cacheprovider
