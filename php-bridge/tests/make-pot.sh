#!/usr/bin/env bash
# Regenerates languages/gmail-relay-bridge.pot from the plugin's sources (needs gettext's xgettext).
set -euo pipefail
cd "$(dirname "$0")/../gmail-relay-bridge"
find . -name '*.php' -print0 | sort -z | xargs -0 xgettext --language=PHP --from-code=UTF-8 \
    --add-comments=translators: --keyword=__:1 --keyword=_e:1 --keyword=esc_html__:1 --keyword=esc_html_e:1 \
    --keyword=esc_attr__:1 --keyword=_n:1,2 --package-name="Gmail Relay Bridge" --package-version=0.1.0 \
    -o languages/gmail-relay-bridge.pot
sed -i "s/charset=CHARSET/charset=UTF-8/" languages/gmail-relay-bridge.pot
echo "$(grep -c '^msgid ' languages/gmail-relay-bridge.pot) strings in languages/gmail-relay-bridge.pot"
