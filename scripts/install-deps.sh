#!/usr/bin/env bash
# Installs the Debian packages the relay and its tests need, only those missing.
# Usage: scripts/install-deps.sh [--test]
set -euo pipefail

runtime=(libsqlite3-dev libcurl4-openssl-dev)
testing=(swaks libnet-ssleay-perl libio-socket-ssl-perl php-cli libphp-phpmailer openssl curl chromium phpunit wordpress mariadb-server php-mysql gdb)

wanted=("${runtime[@]}")
if [[ "${1:-}" == "--test" ]]; then wanted+=("${testing[@]}"); fi

missing=()
for package in "${wanted[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done

if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--test" ]]; then
    python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q pytest
fi
