#!/usr/bin/env bash
# Runs one test phase with a time limit: a phase that hangs fails the run in bounded time, and
# first prints every thread's stack of each process still running under it (with gdb), so the
# hang can be diagnosed from the CI log alone.
# Usage: scripts/bounded.sh SECONDS COMMAND [ARGS...]
set -uo pipefail

limit=$1
shift
setsid "$@" &
leader=$!
trap 'kill -TERM -- "-$leader" 2>/dev/null' INT TERM

deadline=$((SECONDS + limit))
while kill -0 "$leader" 2>/dev/null && ((SECONDS < deadline)); do sleep 1; done

if kill -0 "$leader" 2>/dev/null; then
    echo "!! '$*' still running after ${limit} s: stacks of what hangs, then stopped" >&2
    for pid in $(pgrep -g "$leader"); do
        echo "!! process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)" >&2
        if command -v gdb >/dev/null; then
            timeout 60 gdb -p "$pid" -batch -ex "thread apply all bt 30" 2>/dev/null |
                grep -E '^(Thread|#)' | grep -vE 'libc\.so|pthread_cond|futex|syscall\.S' >&2
        fi
    done
    kill -KILL -- "-$leader" 2>/dev/null
    wait "$leader" 2>/dev/null
    exit 124
fi
wait "$leader"
