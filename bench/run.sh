#!/usr/bin/env bash
# The benchmark, in one command: builds the release binaries, installs Postfix (the reference and
# the load generator smtp-source) and Cyrus SASL (sasldb, for the AUTH reference) when missing, then
# runs bench/bench.py, which starts a relay, the fake Google and a throw-away Postfix on loopback and
# prints the table and the goal lines. docs/performance.md explains every figure. Not part of CI.
#
#   bench/run.sh [--quick] [--no-build] [--json FILE] [--only ingest,e2e,latency,memory,auth,fleet]
#                [--baseline BINARY] [--scratch-path DIR]   (DIR: swift build's, default .build)
#                [--ingest-connections 1,8,64] [--repeats N]   (section ingest: which cells, rounds per cell)
#
# Needs root (apt-get, the Postfix instance). Exit status: 0 every goal passed, 1 a goal failed,
# 2 the bench could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
scratch=()
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) pass+=(--quick) ;;
        --no-build) build=0 ;;
        --json|--only|--work-dir|--baseline|--ingest-connections|--repeats)
            [ $# -ge 2 ] || { echo "bench/run.sh: $1 needs a value" >&2; exit 2; }
            pass+=("$1" "$2"); shift ;;
        --scratch-path)
            [ $# -ge 2 ] || { echo "bench/run.sh: $1 needs a value" >&2; exit 2; }
            scratch=(--scratch-path "$2"); shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: run as root (it installs Postfix if missing and starts a Postfix instance)" >&2
    exit 2
fi
export PATH="$PATH:/usr/sbin:/sbin"
command -v python3 >/dev/null || { echo "bench/run.sh: python3 is needed" >&2; exit 2; }

if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null || ! command -v postfix >/dev/null; then
    echo "== installing postfix (smtp-source, smtp-sink and the reference MTA)"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix; }
    install || { apt-get update -q && install; }
fi

# Section auth: Postfix's smtpd with Cyrus SASL, passwords in a sasldb (saslpasswd2; the sasldb and
# PLAIN/LOGIN plugins).
if ! command -v saslpasswd2 >/dev/null || ! ls /usr/lib/*/sasl2/libsasldb.so* >/dev/null 2>&1 \
        || ! ls /usr/lib/*/sasl2/libplain.so* >/dev/null 2>&1; then
    echo "== installing sasl2-bin and libsasl2-modules (Cyrus SASL with sasldb, for the AUTH reference)"
    install_sasl() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sasl2-bin libsasl2-modules; }
    install_sasl || { apt-get update -q && install_sasl; }
fi

if [ "$build" = 1 ]; then
    echo "== swift build -c release (gmail-relay, fake-google); the first build takes 10+ minutes"
    build_log=$(mktemp /tmp/gmail-relay-bench-build.XXXXXX)
    for product in gmail-relay fake-google; do
        if ! swift build -c release "${scratch[@]}" --product "$product" >"$build_log" 2>&1; then
            tail -n 40 "$build_log" >&2
            echo "bench/run.sh: the release build of $product failed (log: $build_log)" >&2
            exit 2
        fi
    done
    rm -f "$build_log"
fi
bin=$(swift build -c release "${scratch[@]}" --show-bin-path)
for binary in gmail-relay fake-google; do
    [ -x "$bin/$binary" ] || { echo "bench/run.sh: $bin/$binary missing (run without --no-build)" >&2; exit 2; }
done

exec python3 bench/bench.py --relay "$bin/gmail-relay" --fake "$bin/fake-google" "${pass[@]}"
