#!/usr/bin/env python3
"""Makes docs/images/wordpress-widget.png: the dashboard of a real WordPress with the plugin, the
relay's status served from the recorded needs-reauth answer, photographed by headless Chromium.

Not a test (nothing is asserted); run by hand after changing the widget:
    python3 php-bridge/tests/screenshot.py
Needs the test packages (scripts/install-deps.sh --test) and `chromium`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "e2e"))

from test_wordpress import StatusServer  # noqa: E402
from wordpress_site import MariaDB, WordPressSite  # noqa: E402

OUTPUT = REPO / "docs" / "images" / "wordpress-widget.png"

# Staging for the picture only: the admin is logged in, and the dashboard shows just this widget.
STAGING = """<?php
function auth_redirect() {}
add_filter( 'determine_current_user', function () { return 1; }, 100 );
add_action( 'wp_dashboard_setup', function () {
	global $wp_meta_boxes;
	foreach ( $wp_meta_boxes['dashboard'] as $context => $priorities ) {
		foreach ( $priorities as $priority => $boxes ) {
			foreach ( array_keys( $boxes ) as $id ) {
				if ( 'gmail_relay_bridge_status' !== $id ) {
					remove_meta_box( $id, 'dashboard', $context );
				}
			}
		}
	}
}, 1000 );
add_action( 'admin_init', function () { remove_action( 'welcome_panel', 'wp_welcome_panel' ); } );
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        db = MariaDB(base / "mariadb").start()
        site = None
        try:
            site = WordPressSite(base, db).create()
            with StatusServer("status-needs-reauth.json") as api:
                site.relay_constants(host="127.0.0.1", port=2525, user="mysite", **{"pass": "x"}, security="none",
                                     **{"from": "owner@example.com"}, status_url=api.url)
                mu = site.root / "wp-content" / "mu-plugins"
                mu.mkdir(exist_ok=True)
                (mu / "screenshot-staging.php").write_text(STAGING)
                site.serve()
                OUTPUT.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(
                    ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     "--window-size=1100,900", f"--host-resolver-rules=MAP localhost 127.0.0.1",
                     f"--screenshot={OUTPUT}", f"{site.url}/wp-admin/index.php"],
                    check=True, timeout=120, stdin=subprocess.DEVNULL, capture_output=True,
                )
        finally:
            if site is not None:
                site.stop()
            db.stop()
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
