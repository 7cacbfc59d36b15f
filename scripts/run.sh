#!/usr/bin/env bash
# Installs what is missing, builds the relay, makes a sandbox account and an SMTP login on first run,
# and starts the relay in the foreground. Data goes to ./gmail-relay-data unless GMAIL_RELAY_DATA_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# A failed build stops here: a stale binary must not start as if it were this code.
build_log=$(mktemp)
if ! swift build -c release >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    echo "scripts/run.sh: the build failed (log: $build_log)" >&2
    exit 1
fi
rm -f "$build_log"
relay=.build/release/gmail-relay

if ! "$relay" account list | grep -q '^sandbox '; then
    "$relay" account add sandbox --sandbox --from relay@example.com
    echo
    echo "A sandbox account is set up: mail goes through every step but the call to Google."
    echo "SMTP login for your CMS (shown once; store it now):"
    "$relay" credential add wordpress --account sandbox
    echo
fi

echo "SMTP on ${GMAIL_RELAY_SMTP_LISTEN:-127.0.0.1:2525}. Try:"
echo "  swaks --server 127.0.0.1:2525 --auth-user wordpress --auth-password PASSWORD --from relay@example.com --to you@example.com"
echo "  $relay log"
echo
echo "Status page (tokens are required; this link signs you in once, for 60 minutes):"
"$relay" web-token "$@" | sed -n 's/^Sign-in link[^:]*: /  /p'
echo "  (a new link any time: $relay web-token)"
echo
exec "$relay" serve "$@"
