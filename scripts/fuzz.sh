#!/usr/bin/env bash
# Fuzzes the pure cores with libFuzzer and AddressSanitizer:
#   smtp     the SMTP session, parser and DATA decoder (Sources/SMTPProtocol)
#   rewrite  the header rewriter for Gmail (Sources/MessageRewrite)
#
#   scripts/fuzz.sh                  both targets, 200000 runs each
#   scripts/fuzz.sh 1000000          both, that many runs each
#   scripts/fuzz.sh 300s rewrite     one target for five minutes
#
# Exits non-zero when an input crashes or breaks an invariant; the input is saved in
# .build-fuzz/artifacts/ (replay: .build-fuzz/TARGET-fuzz .build-fuzz/artifacts/crash-...).
# New interesting inputs go to .build-fuzz/corpus-TARGET/; fuzz/corpus*/ hold the committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

limit="${1:-200000}"
case "$limit" in
    *s) limit_flag="-max_total_time=${limit%s}" ;;
    *[!0-9]* | "") echo "usage: $0 [RUNS | SECONDSs] [smtp|rewrite]" >&2; exit 2 ;;
    *) limit_flag="-runs=$limit" ;;
esac
targets=("${2:-smtp}")
if [[ -z "${2:-}" ]]; then targets=(smtp rewrite); fi

out=.build-fuzz
mkdir -p "$out/artifacts"
# libFuzzer and ASan print the crash's stack; Swift's own backtracer would only add a helper process that
# can outlive the fuzzer and keep its output pipe open.
export SWIFT_BACKTRACE=enable=no

for target in "${targets[@]}"; do
    case "$target" in
        smtp)
            sources=(Sources/SMTPProtocol/*.swift fuzz/SMTPSessionFuzz.swift)
            module=SMTPFuzz; seeds=fuzz/corpus; extra=(-dict=fuzz/smtp.dict -max_len=4096) ;;
        rewrite)
            sources=(Sources/MessageRewrite/*.swift fuzz/HeaderRewriteFuzz.swift)
            module=RewriteFuzz; seeds=fuzz/corpus-rewrite; extra=(-max_len=8192) ;;
        *) echo "unknown fuzz target $target (smtp, rewrite)" >&2; exit 2 ;;
    esac
    binary="$out/$target-fuzz"
    mkdir -p "$out/corpus-$target"
    # Rebuild only when a source is newer than the binary.
    if [[ ! -x "$binary" ]] || [[ -n "$(find "${sources[@]}" -newer "$binary" 2>/dev/null)" ]]; then
        echo "building $binary" >&2
        # lld: gold links too, but warns about every ASan symbol.
        swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "$module" -use-ld=lld \
            "${sources[@]}" -o "$binary"
    fi
    echo "== fuzz $target ($limit_flag)"
    # The first corpus folder receives new inputs; the committed seeds are only read.
    "$binary" "$limit_flag" "${extra[@]}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus-$target" "$seeds"
done
