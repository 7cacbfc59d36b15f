#!/usr/bin/env bash
# A longer HTTP fuzz run of the live web listener (e2e/test_http_fuzz.py) for local use; CI runs
# the default 3000 cases as part of the end-to-end tests.
#
#   scripts/http-fuzz.sh                 200000 cases, a random seed (printed)
#   scripts/http-fuzz.sh 50000 12345     that many cases with that seed (replays a reported run)
#
# Uses the built binary (GMAIL_RELAY_BINARY, default .build/debug/gmail-relay). Every input that killed
# the relay, got a 5xx or got no answer is listed with the seed; HTTP_FUZZ_ONLY=INDEX,... replays cases.
set -euo pipefail
cd "$(dirname "$0")/.."

cases="${1:-200000}"
case "$cases" in
    *[!0-9]* | "") echo "usage: $0 [CASES] [SEED]" >&2; exit 2 ;;
esac
export HTTP_FUZZ_CASES="$cases"
if [[ -n "${2:-}" ]]; then export HTTP_FUZZ_SEED="$2"; fi
export GMAIL_RELAY_BINARY="${GMAIL_RELAY_BINARY:-$PWD/.build/debug/gmail-relay}"
# No time budget unless one is given: a long run takes what it takes.
export HTTP_FUZZ_SECONDS="${HTTP_FUZZ_SECONDS:-1000000}"
exec python3 -m pytest e2e/test_http_fuzz.py -q -p no:cacheprovider -s
