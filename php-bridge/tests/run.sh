#!/usr/bin/env bash
# The WordPress plugin's own checks: php -l over every file, then the PHPUnit unit tests
# (Debian's phpunit). The plugin in a real WordPress is e2e/test_wordpress.py.
set -euo pipefail
cd "$(dirname "$0")/.."

while IFS= read -r -d '' file; do
    php -l "$file" >/dev/null
done < <(find gmail-relay-bridge tests -name '*.php' -print0)
echo "php -l: $(find gmail-relay-bridge tests -name '*.php' | wc -l) files without syntax errors"

phpunit -c tests/phpunit.xml
