#!/usr/bin/env bash
# Fuzzes the pure SMTP core (Sources/SMTPProtocol) with libFuzzer and AddressSanitizer.
#
#   scripts/fuzz.sh            200000 runs
#   scripts/fuzz.sh 1000000    that many runs
#   scripts/fuzz.sh 300s       for five minutes
#
# Exits non-zero when an input crashes or breaks an invariant; the input is saved in
# .build-fuzz/artifacts/ (replay: .build-fuzz/smtp-fuzz .build-fuzz/artifacts/crash-...).
# New interesting inputs go to .build-fuzz/corpus/; fuzz/corpus/ holds the committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

limit="${1:-200000}"
case "$limit" in
    *s) limit_flag="-max_total_time=${limit%s}" ;;
    *[!0-9]* | "") echo "usage: $0 [RUNS | SECONDSs]" >&2; exit 2 ;;
    *) limit_flag="-runs=$limit" ;;
esac

out=.build-fuzz
mkdir -p "$out/corpus" "$out/artifacts"

sources=(Sources/SMTPProtocol/*.swift fuzz/SMTPSessionFuzz.swift)
binary="$out/smtp-fuzz"
# Rebuild only when a source is newer than the binary.
if [[ ! -x "$binary" ]] || [[ -n "$(find "${sources[@]}" -newer "$binary" 2>/dev/null)" ]]; then
    echo "building $binary" >&2
    # lld: gold links too, but warns about every ASan symbol.
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SMTPFuzz -use-ld=lld \
        "${sources[@]}" -o "$binary"
fi

# libFuzzer and ASan print the crash's stack; Swift's own backtracer would only add a helper process that
# can outlive the fuzzer and keep its output pipe open.
export SWIFT_BACKTRACE=enable=no
# The first corpus folder receives new inputs; the committed seeds are only read.
exec "$binary" "$limit_flag" -dict=fuzz/smtp.dict -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus" fuzz/corpus
