"""A real WordPress for the bridge's tests: Debian's `wordpress` package on a throw-away MariaDB.

`MariaDB` starts `mariadbd` on a unix socket in a temp dir (no TCP, no system service) with a data
dir made by `mariadb-install-db`. `WordPressSite` copies Debian's WordPress tree into a temp dir with
its own wp-config.php (that database, WP_DEBUG on, no outside HTTP), installs WordPress from PHP
(`wp_install()`), installs the plugin from the zip that scripts/package-plugin.sh builds, with
WordPress's own upgrader (what Plugins -> Add New -> Upload Plugin runs), and drives it with php-cli
(`wordpress/wp_driver.php`) or, for real admin pages, `php -S` and an HTTP client. With
`network=True` it is a multisite network (subdirectory sites): WP_ALLOW_MULTISITE, the network
installed as Tools -> Network Setup does, then the MULTISITE constants, and the plugin network-activated.
Everything is bounded in time and stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import time
import urllib.parse
from pathlib import Path

from harness import HOST, free_port

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SOURCE = REPO / "php-bridge" / "gmail-relay-bridge"
PLUGIN = "gmail-relay-bridge/gmail-relay-bridge.php"
DRIVER = Path(__file__).with_name("wordpress") / "wp_driver.php"
PACKAGE_SCRIPT = REPO / "scripts" / "package-plugin.sh"
WORDPRESS_SOURCE = Path("/usr/share/wordpress")
ADMIN_PASSWORD = "wp-Admin-pass-4Tq8"
ADMIN_EMAIL = "admin@example.com"
PHP_TIMEOUT = 90
# A PHP diagnostic line ("PHP Warning:  ..." in the log, "Warning: ..." on a page).
PHP_DIAGNOSTIC = re.compile(r"(PHP )?(Notice|Warning|Deprecated|Fatal error|Parse error)(:| - )", re.I)
# WordPress 6.1 predates PHP 8.1/8.2 (its Requests library's return types, null passed to trim() on
# wp-login.php): deprecations raised in core's own files are core's. Every other line counts:
# any notice or warning, and anything in the plugin's files.
CORE_DEPRECATION = re.compile(r"PHP Deprecated: .* in \S+/wordpress/(wp-includes|wp-admin)/\S+\.php on line \d+$")


def _stop(proc: subprocess.Popen | None, timeout: float = 15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class MariaDB:
    def __init__(self, base: Path):
        self.base = base
        self.data = base / "data"
        self.socket = base / "mysqld.sock"
        self.log = base / "mariadb.err"
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.base.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}",
             "--skip-networking", "--user=root", f"--pid-file={self.base / 'mariadb.pid'}",
             f"--log-error={self.log}", "--innodb-buffer-pool-size=32M", "--skip-log-bin"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mariadbd exited {self.proc.returncode}:\n{self.log_text()}")
            ping = subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                                  capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
            if ping.returncode == 0:
                return self
            time.sleep(0.2)
        raise AssertionError(f"mariadbd did not answer on {self.socket} within 60s:\n{self.log_text()}")

    def sql(self, statement: str) -> str:
        result = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B", "-e", statement],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"SQL {statement!r} failed: {result.stderr}"
        return result.stdout

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return "(no MariaDB log)"

    def stop(self):
        _stop(self.proc, timeout=30)


WP_CONFIG = """<?php
// Written by e2e/wordpress_site.py: a throw-away site on a throw-away database.
define( 'DB_NAME', '{database}' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', 'localhost:{socket}' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{salts}
$table_prefix = 'wp_';
{site_constants}
define( 'WP_DEBUG', true );
// Diagnostics go to the log, which the tests read (a notice on stdout would also break the driver's JSON).
define( 'WP_DEBUG_DISPLAY', false );
define( 'WP_DEBUG_LOG', '{debug_log}' );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
// No HTTP beyond this machine: only the site itself and the relay's status API on 127.0.0.1.
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1' );
// The bridge's constants for the current test (rewritten by WordPressSite.relay_constants()).
if ( file_exists( __DIR__ . '/relay-constants.php' ) ) {{
	require __DIR__ . '/relay-constants.php';
}}
if ( ! defined( 'ABSPATH' ) ) {{
	define( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"""


SINGLE_SITE = """define( 'WP_HOME', '{url}' );
define( 'WP_SITEURL', '{url}' );"""

# Before the network exists: what Tools -> Network Setup asks for. (No WP_HOME/WP_SITEURL on a
# network: they would be every site's address.)
ALLOW_MULTISITE = "define( 'WP_ALLOW_MULTISITE', true );"

# After the network install: the lines Tools -> Network Setup tells one to add.
MULTISITE = """define( 'WP_ALLOW_MULTISITE', true );
define( 'MULTISITE', true );
define( 'SUBDOMAIN_INSTALL', false );
define( 'DOMAIN_CURRENT_SITE', '{domain}' );
define( 'PATH_CURRENT_SITE', '/' );
define( 'SITE_ID_CURRENT_SITE', 1 );
define( 'BLOG_ID_CURRENT_SITE', 1 );"""


def build_plugin_zip(outdir: Path) -> Path:
    """scripts/package-plugin.sh's zip, the one people upload."""
    result = subprocess.run([str(PACKAGE_SCRIPT), str(outdir)], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, cwd=REPO)
    assert result.returncode == 0, f"package-plugin.sh exited {result.returncode}: {result.stderr}"
    zip_path = Path(result.stdout.strip().splitlines()[-1])
    assert zip_path.is_file() and zip_path.parent == outdir.resolve(), result.stdout
    return zip_path


# wp-admin checks wordpress.org for updates on admin_init; here that is blocked and WordPress
# logs a warning for each attempt. The test site does not check.
NO_UPDATE_CHECKS = """<?php
// Written by e2e/wordpress_site.py.
remove_action( 'admin_init', '_maybe_update_core' );
remove_action( 'admin_init', '_maybe_update_plugins' );
remove_action( 'admin_init', '_maybe_update_themes' );
"""


def write_mo(path: Path, translations: dict[str, str]):
    """A gettext .mo file (the format WordPress's MO reader loads) with these translations."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"}
    entries.update(translations)
    keys = sorted(entries)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(entries[k].encode() + b"\0" for k in keys)
    count = len(keys)
    originals_at, translations_at = 28, 28 + count * 8
    data_at = translations_at + count * 8
    originals, offset = [], data_at
    for k in keys:
        originals.append((len(k.encode()), offset))
        offset += len(k.encode()) + 1
    strings_at, translated = offset, []
    for k in keys:
        translated.append((len(entries[k].encode()), offset))
        offset += len(entries[k].encode()) + 1
    assert strings_at == data_at + len(ids)
    # An empty hash table, placed where WordPress's reader expects it (right after the tables).
    out = struct.pack("<7I", 0x950412DE, 0, count, originals_at, translations_at, 0, data_at)
    out += b"".join(struct.pack("<2I", *pair) for pair in originals)
    out += b"".join(struct.pack("<2I", *pair) for pair in translated)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + ids + strs)


def _php_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class WordPressSite:
    def __init__(self, base: Path, db: MariaDB, network: bool = False, database: str = "wordpress"):
        self.base = base
        self.root = base / "wordpress"
        self.db = db
        self.network = network
        self.database = database
        self.port = free_port()
        self.domain = f"localhost:{self.port}"
        self.salts = "\n".join(
            f"define( '{name}', '{secrets.token_hex(32)}' );"
            for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                         "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
        )
        # Host "localhost" on purpose: WordPress's default From is then wordpress@localhost,
        # which is not even a valid address (the bridge must replace it). Clients connect to
        # 127.0.0.1 and send Host: localhost:PORT.
        self.url = f"http://localhost:{self.port}"
        self.debug_log = base / "debug.log"
        self.server: subprocess.Popen | None = None
        self.server_log = base / "php-server.log"

    # -- set-up --------------------------------------------------------------------------
    def _write_config(self, site_constants: str):
        (self.root / "wp-config.php").write_text(WP_CONFIG.format(
            socket=self.db.socket, salts=self.salts, database=self.database, debug_log=self.debug_log,
            site_constants=site_constants,
        ))

    def create(self, plugin_zip: Path):
        shutil.copytree(WORDPRESS_SOURCE, self.root, symlinks=True)
        (self.root / "wp-config.php").unlink()
        self._write_config(ALLOW_MULTISITE if self.network else SINGLE_SITE.format(url=self.url))
        (self.root / "site-url").write_text(self.url + "\n")
        mu_plugins = self.root / "wp-content" / "mu-plugins"
        mu_plugins.mkdir(exist_ok=True)
        (mu_plugins / "test-site-no-update-checks.php").write_text(NO_UPDATE_CHECKS)
        self.db.sql(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4")
        self.php("install", {"title": "Relay Test Site", "admin_email": ADMIN_EMAIL, "admin_password": ADMIN_PASSWORD,
                             "url": self.url})
        if self.network:
            made = self.php("install_network", {"domain": self.domain, "admin_email": ADMIN_EMAIL, "title": "Relay Test Network"})
            assert made == {"error": None}, made
            self._write_config(MULTISITE.format(domain=self.domain))
        installed = self.php("install_zip", {"zip": str(plugin_zip)})
        assert installed["error"] is None and installed["plugin"] == PLUGIN, installed
        activated = self.php("activate", {"plugin": PLUGIN, "network": self.network})
        assert activated == {"error": None, "active": True}, activated
        return self

    def add_site(self, path: str, title: str) -> dict:
        """A site of the network at /path/ (subdirectory install)."""
        assert self.network
        made = self.php("add_site", {"site_path": path, "title": title})
        assert made["error"] is None, made
        return made

    def relay_constants(self, **constants):
        """Writes the GMAIL_RELAY_* constants wp-config.php loads (host=..., port=... -> GMAIL_RELAY_HOST ...)."""
        lines = ["<?php"] + [
            f"define( 'GMAIL_RELAY_{name.upper()}', {_php_literal(value)} );" for name, value in constants.items()
        ]
        (self.root / "relay-constants.php").write_text("\n".join(lines) + "\n")

    def plugin_files(self, *files: tuple[str, str]):
        """Extra plugins for one test: (relative path under wp-content/plugins, PHP source)."""
        for relative, source in files:
            path = self.root / "wp-content" / "plugins" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)

    # -- php-cli -------------------------------------------------------------------------
    def php_raw(self, command: str, args: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["php", "-d", "display_errors=stdout", "-d", "error_reporting=-1", str(DRIVER), str(self.root), command,
             json.dumps(args or {})],
            capture_output=True, text=True, errors="replace", timeout=PHP_TIMEOUT, stdin=subprocess.DEVNULL,
        )

    def php(self, command: str, args: dict | None = None):
        result = self.php_raw(command, args)
        assert result.returncode == 0, f"wp_driver {command} exited {result.returncode}\nstdout: {result.stdout[:3000]}\nstderr: {result.stderr}"
        assert not PHP_DIAGNOSTIC.search(result.stdout), f"PHP printed a diagnostic during {command}:\n{result.stdout}"
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            raise AssertionError(f"wp_driver {command} printed more than its JSON:\n{result.stdout}\nstderr: {result.stderr}") from error

    def log_mark(self) -> int:
        """Where debug.log ends now; diagnostics() reads from here."""
        try:
            return self.debug_log.stat().st_size
        except FileNotFoundError:
            return 0

    def diagnostics(self, since: int = 0) -> list[str]:
        """Notices, warnings, errors and deprecations WordPress logged (WP_DEBUG), less core's known ones."""
        try:
            with open(self.debug_log, "rb") as log:
                log.seek(since)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip() and not CORE_DEPRECATION.search(line)]

    # -- php -S --------------------------------------------------------------------------
    def serve(self):
        """WordPress under PHP's built-in web server on 127.0.0.1."""
        if self.server is not None and self.server.poll() is None:
            return self
        log = open(self.server_log, "ab")
        self.server = subprocess.Popen(
            # No opcache: tests rewrite relay-constants.php between requests, faster than its revalidation.
            ["php", "-d", "display_errors=stdout", "-d", "error_reporting=-1", "-d", "opcache.enable=0",
             "-S", f"{HOST}:{self.port}", "-t", str(self.root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.root,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise AssertionError(f"php -S exited {self.server.returncode}: {self.server_log.read_text(errors='replace')}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/wp-login.php", headers={"Host": f"localhost:{self.port}"})
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("php -S did not answer within 20s")

    def browser(self) -> "Browser":
        return Browser(self)

    def stop(self):
        _stop(self.server)


class Browser:
    """A small HTTP client for wp-admin: cookies by name, Host header of the site, redirects by hand."""

    def __init__(self, site: WordPressSite):
        self.site = site
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, timeout: float = 60) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection(HOST, self.site.port, timeout=timeout)
        headers = {"Host": f"localhost:{self.site.port}", "User-Agent": "gmail-relay-e2e"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, cookie_value = pair.partition("=")
                if cookie_value == "deleted" or "expires=Thu, 01-Jan-1970" in value or "Max-Age=0" in value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie_value
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def get(self, path: str, follow: int = 5) -> tuple[int, str, str]:
        """GET, following redirects within the site; returns (status, final path, body)."""
        status, headers, body = self.request("GET", path)
        while status in (301, 302, 303) and follow > 0:
            path = self._local(headers["location"])
            status, headers, body = self.request("GET", path)
            follow -= 1
        return status, path, body

    def post(self, path: str, form: dict) -> tuple[int, str, str]:
        status, headers, body = self.request("POST", path, form)
        if status in (301, 302, 303):
            return self.get(self._local(headers["location"]))
        return status, path, body

    def _local(self, location: str) -> str:
        parsed = urllib.parse.urlsplit(location)
        assert parsed.netloc in ("", f"localhost:{self.site.port}"), f"redirect off the site: {location}"
        return parsed.path + (f"?{parsed.query}" if parsed.query else "")

    def login(self):
        self.cookies["wordpress_test_cookie"] = "WP%20Cookie%20check"
        status, path, body = self.post("/wp-login.php", {
            "log": "admin", "pwd": ADMIN_PASSWORD, "wp-submit": "Log In", "redirect_to": "/wp-admin/", "testcookie": "1",
        })
        assert status == 200 and path.startswith("/wp-admin"), f"login failed: {status} {path}\n{body[:2000]}"
        return body
