"""The WordPress plugin (php-bridge/gmail-relay-bridge) in a real WordPress, against the live relay.

Debian's `wordpress` on a throw-away MariaDB (wordpress_site.py), installed once for this module
from PHP; each test writes the GMAIL_RELAY_* constants for its own relay. wp_mail() runs in php-cli
exactly as in a request; the admin pages run in php-cli (the widget's registered callback) and over
HTTP through `php -S` with a real login, nonce and redirect.
"""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.error
import urllib.request
import time
import zipfile
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from harness import ACCOUNT, ACCOUNT_FROM, HOST, PASSWORD, SENT_RE, USERNAME, free_port
from wordpress_site import PLUGIN, PLUGIN_SOURCE, MariaDB, WordPressSite, build_plugin_zip, write_mo

FIXTURES = PLUGIN_SOURCE.parent / "tests" / "fixtures"
SUBJECT = "Grüße – Bestellung ✓ 注文 #42"
TO = ["to1@example.com", "Second Person <to2@example.net>"]
CC = "cc@example.org"
BCC = "blind@example.com"
# The relay's web.read_token (GET only) and web.admin_token for the live status tests: the plugin
# is given only the read token.
READ_TOKEN = "wp-read-token-7Kq2mX9vB4nR8tY1wZ6cF3hJ5pL0sD"
ADMIN_TOKEN = "relay-admin-token-N4bV8cX2zQ6wE1rT9yU3iO7pA5sG"


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    """The zip people upload in Plugins -> Add New, built by scripts/package-plugin.sh."""
    return build_plugin_zip(tmp_path_factory.mktemp("plugin-zip"))


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    db = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    try:
        yield db
    finally:
        db.stop()


@pytest.fixture(scope="module")
def wordpress(tmp_path_factory, mariadb, plugin_zip):
    site = WordPressSite(tmp_path_factory.mktemp("wordpress"), mariadb)
    try:
        yield site.create(plugin_zip)
    finally:
        site.stop()


@pytest.fixture(scope="module")
def network(tmp_path_factory, mariadb, plugin_zip):
    """A multisite network (subdirectory sites) with the plugin network-activated, and a second site /shop/."""
    site = WordPressSite(tmp_path_factory.mktemp("network"), mariadb, network=True, database="wordpress_network")
    try:
        site.create(plugin_zip)
        site.shop = site.add_site("/shop/", "Shop")
        yield site
    finally:
        site.stop()


@pytest.fixture(autouse=True)
def no_php_diagnostics(request):
    """Under WP_DEBUG nothing may be logged while a test runs (core's own PHP 8.2 deprecations aside)."""
    sites = [request.getfixturevalue(name) for name in ("wordpress", "network") if name in request.fixturenames]
    marks = [(site, site.log_mark()) for site in sites]
    yield
    for site, mark in marks:
        lines = site.diagnostics(mark)
        assert not lines, "WordPress logged diagnostics:\n" + "\n".join(lines[:20])


def use_relay(site: WordPressSite, relay, **overrides):
    constants = {"host": HOST, "port": relay.port, "user": USERNAME, "pass": PASSWORD, "security": "none",
                 "from": ACCOUNT_FROM, "status_url": f"http://{HOST}:{relay.web_port}"}
    constants.update(overrides)
    site.relay_constants(**{k: v for k, v in constants.items() if v is not None})
    site.php("set_option", {"name": "_transient_gmail_relay_bridge_status", "value": None})
    site.php("set_option", {"name": "_transient_gmail_relay_bridge_stats", "value": None})


def log_id(reply: str) -> int:
    m = SENT_RE.search(reply or "")
    assert m, f"not a 'sent as ... (log N)' reply: {reply!r}"
    return int(m.group(2))


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [line.split(b":", 1)[0].decode().lower() for line in head.split(b"\r\n") if line and not line[:1].isspace()]


class StatusServer:
    """The relay's status API from recorded JSON (php-bridge/tests/fixtures), on 127.0.0.1."""

    def __init__(self, status: str, failed: str = "messages-failed.json", code: int = 200):
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Authorization")))
                if code != 200:
                    body, status_code = b'{"error":"unauthorized"}', code
                elif self.path == "/api/status":
                    body, status_code = (FIXTURES / status).read_bytes(), 200
                elif self.path.startswith("/api/messages?status=failed"):
                    body, status_code = (FIXTURES / failed).read_bytes(), 200
                else:
                    body, status_code = b"not found", 404
                self.send_response(status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


# -- files --------------------------------------------------------------------------------------

def test_plugin_files_pass_php_lint():
    files = sorted(PLUGIN_SOURCE.rglob("*.php"))
    assert len(files) >= 9, files
    for path in files:
        result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "No syntax errors" in result.stdout, f"{path}: {result.stdout}{result.stderr}"


# -- mail ---------------------------------------------------------------------------------------

def test_wp_mail_with_cc_bcc_attachment_and_utf8_subject(wordpress, relay, tmp_path):
    use_relay(wordpress, relay)
    attachment = tmp_path / "report.csv"
    attachment.write_bytes(b"id,amount\n1,9.99\n" + bytes(range(256)))
    result = wordpress.php("mail", {
        "to": TO, "subject": SUBJECT, "message": "Hello from WordPress.\nÜmlaut line.\n.\nend\n",
        "headers": [f"Cc: {CC}", f"Bcc: {BCC}"], "attachments": [str(attachment)],
    })
    assert result["ok"] is True, result
    assert result["smtp_class"] == "Gmail_Relay_Bridge_SMTP"
    assert result["auto_tls"] is False
    assert result["from"] == ACCOUNT_FROM, "WordPress's default wordpress@localhost was not replaced"
    assert result["sender"] == ACCOUNT_FROM
    number = log_id(result["reply"])
    assert result["last_reply"]["reply"] == result["reply"]

    detail = relay.show(number)
    assert detail["status"] == "sent", detail
    assert detail["mail_from"] == ACCOUNT_FROM
    assert sorted(detail["recipients"]) == sorted(["to1@example.com", "to2@example.net", CC, BCC]), detail
    assert str(make_header(decode_header(detail["subject"]))) == SUBJECT
    assert detail["message_id"].strip("<>") == result["message_id"].strip("<>")

    # What To and Cc recipients get: no Bcc header, the blind address nowhere.
    stored = relay.stored_bytes(number)
    assert "bcc" not in header_names(stored)
    assert BCC.encode() not in stored
    message = email.message_from_bytes(stored, policy=email.policy.default)
    assert str(message["Subject"]) == SUBJECT
    assert message["From"].addresses[0].addr_spec == ACCOUNT_FROM
    assert {a.addr_spec for a in message["To"].addresses} == {"to1@example.com", "to2@example.net"}
    assert {a.addr_spec for a in message["Cc"].addresses} == {CC}
    parts = [part for part in message.iter_attachments()]
    assert [part.get_filename() for part in parts] == ["report.csv"]
    assert parts[0].get_payload(decode=True) == attachment.read_bytes()
    body = message.get_body(("plain",)).get_content()
    assert "Ümlaut line.\n.\nend" in body.replace("\r\n", "\n")

    # What goes to Gmail: the envelope's Bcc recipient added as the one Bcc header (Gmail delivers
    # to it and strips it from everyone else's copy).
    rewritten = detail["rewritten_headers"]
    assert re.search(r"(?im)^Bcc:.*blind@example\.com", rewritten), rewritten
    assert not re.search(r"(?im)^(To|Cc):.*blind@example\.com", rewritten), rewritten


def oauth_relay(make_relay, fake_google, config: dict | None = None):
    """A relay whose account `gmail` is an OAuth grant from the fake Google (address ACCOUNT_FROM)."""
    client_id, secret = fake_google.add_client()
    refresh = fake_google.refresh_token(ACCOUNT_FROM)
    relay = make_relay(config={**fake_google.relay_config(), "delivery.sync_timeout_seconds": 5, **(config or {})},
                       setup=False, start=False)
    relay.cli_ok("account", "add", "gmail", "--client-id", client_id, "--client-secret", secret,
                 "--refresh-token", refresh, "--from", ACCOUNT_FROM)
    relay.cli_ok("credential", "add", USERNAME, "--account", "gmail", "--password-stdin", input=PASSWORD + "\n")
    relay.refresh = refresh
    return relay.start()


def test_wp_mail_reaches_gmail_with_the_bcc_only_in_the_envelope_and_a_revoked_grant_holds_mail(wordpress, make_relay, fake_google, tmp_path):
    relay = oauth_relay(make_relay, fake_google)
    use_relay(wordpress, relay)
    attachment = tmp_path / "invoice.pdf"
    attachment.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    result = wordpress.php("mail", {
        "to": TO, "subject": SUBJECT, "message": "Your invoice is attached.\n",
        "headers": [f"Cc: {CC}", f"Bcc: {BCC}"], "attachments": [str(attachment)],
    })
    assert result["ok"] is True, result
    m = re.search(r"250 2\.0\.0 Ok: sent as ([0-9a-f]{16}) \(log (\d+)\)", result["reply"])
    assert m, result["reply"]
    [sent] = fake_google.outbox()
    assert sent["id"] == m.group(1)
    assert sent["bcc"] == [BCC], sent["bcc"]
    assert BCC not in json.dumps([sent["to"], sent["cc"]])
    assert sorted(sent["recipients"]) == sorted(["to1@example.com", "to2@example.net", CC, BCC])
    assert str(make_header(decode_header(sent["subject"]))) == SUBJECT
    raw = sent["raw"].encode()
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    for line in re.findall(r"(?im)^(To|Cc):.*(?:\r\n[ \t].*)*", head):
        assert BCC not in line
    delivered = email.message_from_bytes(base64.b64decode(sent["raw_base64"]), policy=email.policy.default)
    [part] = list(delivered.iter_attachments())
    assert part.get_filename() == "invoice.pdf" and part.get_payload(decode=True) == attachment.read_bytes()

    # Google revokes the grant; the next wp_mail() is accepted and held, and WordPress says so.
    fake_google.revoke(relay.refresh)
    fake_google.call("/_fake/expire-access-tokens", {})
    held = wordpress.php("mail", {"to": "to1@example.com", "subject": "after the revocation", "message": "x"})
    assert held["ok"] is True, held
    assert re.search(r"250 2\.0\.0 Ok: queued as \d+, held: grant_revoked", held["reply"]), held["reply"]
    assert held["last_reply"]["reply"] == held["reply"]

    # The Tools page's test email says the same in words.
    wordpress.serve()
    browser = wordpress.browser()
    browser.login()
    _, _, tools = browser.get("/wp-admin/tools.php?page=gmail-relay-bridge")
    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', tools).group(1)
    _, _, page = browser.post("/wp-admin/admin-post.php", {"action": "gmail_relay_bridge_test_email", "_wpnonce": nonce,
                                                          "_wp_http_referer": "/wp-admin/", "to": "tester@example.com"})
    assert "notice-warning inline gmail-relay-bridge-test-result" in page
    assert "holds it (grant_revoked)" in page
    assert len(fake_google.outbox()) == 1


def test_a_from_chosen_on_purpose_is_kept(wordpress, relay):
    use_relay(wordpress, relay)
    by_header = wordpress.php("mail", {"to": "to1@example.com", "subject": "header From", "message": "x",
                                       "headers": ["From: Shop <shop@example.org>"]})
    by_filter = wordpress.php("mail", {"to": "to1@example.com", "subject": "filter From", "message": "x",
                                       "from_filter": "alerts@example.net"})
    for result, address in ((by_header, "shop@example.org"), (by_filter, "alerts@example.net")):
        assert result["ok"] is True, result
        assert result["from"] == address
        stored = relay.stored_bytes(log_id(result["reply"]))
        message = email.message_from_bytes(stored, policy=email.policy.default)
        assert message["From"].addresses[0].addr_spec == address
        # The envelope sender is still the relay account.
        assert relay.show(log_id(result["reply"]))["mail_from"] == ACCOUNT_FROM


def test_without_a_relay_from_wordpress_default_sender_fails_and_is_recorded(wordpress, relay):
    use_relay(wordpress, relay, **{"from": None})
    result = wordpress.php("mail", {"to": "to1@example.com", "subject": "no from", "message": "x"})
    assert result["ok"] is False
    assert "wordpress@localhost" in result["failure"], result
    assert result["last_failure"]["to"] == ["to1@example.com"]
    assert "wordpress@localhost" in result["last_failure"]["detail"]
    assert relay.log_json() == []
    page = wordpress.php("page", {"hook": "tools_page_gmail-relay-bridge", "screen": "tools_page_gmail-relay-bridge", "admin": True})
    assert "Last failed email" in page["html"] and "wordpress@localhost" in page["html"]


def test_wrong_password_shows_the_relays_535(wordpress, relay):
    use_relay(wordpress, relay, **{"pass": "not-the-password"})
    result = wordpress.php("mail", {"to": "to1@example.com", "subject": "bad login", "message": "x"})
    assert result["ok"] is False
    assert result["last_failure"]["reply"].startswith("535 5.7.8"), result["last_failure"]
    assert relay.log_json() == []
    widget = wordpress.php("widget", {"admin": True})
    assert "Last failed email" in widget["widget"] and "535" in widget["widget"]
    assert PASSWORD not in widget["widget"] and "not-the-password" not in widget["widget"]


def test_security_none_never_upgrades_and_starttls_and_tls_verify_the_certificate(wordpress, make_relay, tls_cert):
    relay = make_relay(tls=tls_cert, tls_listen=True)
    cert = str(tls_cert[0])

    # The relay offers STARTTLS; "none" must not take it (PHPMailer's SMTPAutoTLS would).
    use_relay(wordpress, relay, security="none")
    plain = wordpress.php("mail", {"to": "to1@example.com", "subject": "plain", "message": "x", "transcript": True})
    assert plain["ok"] is True, plain
    assert any("STARTTLS" in line and "SERVER -> CLIENT" in line for line in plain["transcript"]), "relay did not offer STARTTLS"
    assert not any(line.startswith("CLIENT -> SERVER: STARTTLS") for line in plain["transcript"])
    assert relay.show(log_id(plain["reply"]))["tls"] is False

    use_relay(wordpress, relay, security="starttls", tls_ca_file=cert)
    upgraded = wordpress.php("mail", {"to": "to1@example.com", "subject": "starttls", "message": "x", "transcript": True})
    assert upgraded["ok"] is True, upgraded
    assert any(line.startswith("CLIENT -> SERVER: STARTTLS") for line in upgraded["transcript"])
    assert relay.show(log_id(upgraded["reply"]))["tls"] is True
    assert not any(PASSWORD in line for line in upgraded["transcript"]), "PHPMailer's debug output showed the password"

    use_relay(wordpress, relay, security="tls", port=relay.tls_port, tls_ca_file=cert)
    implicit = wordpress.php("mail", {"to": "to1@example.com", "subject": "implicit tls", "message": "x"})
    assert implicit["ok"] is True, implicit
    assert relay.show(log_id(implicit["reply"]))["tls"] is True

    # Without the certificate to trust, the self-signed one is refused: verification stays on.
    use_relay(wordpress, relay, security="starttls")
    refused = wordpress.php("mail", {"to": "to1@example.com", "subject": "unverified", "message": "x"})
    assert refused["ok"] is False, refused
    assert "certificate verify failed" in refused["last_failure"]["detail"], refused
    assert refused["reply"] == "", "bytes read after the failed handshake were taken for a reply"
    assert refused["last_failure"]["reply"] == ""
    assert len(relay.log_json()) == 3


# -- status in wp-admin -------------------------------------------------------------------------

def test_widget_shows_recorded_needs_reauth_status_and_notice(wordpress, relay):
    with StatusServer("status-needs-reauth.json") as api:
        use_relay(wordpress, relay, status_url=api.url + "/", read_token="tok-123")
        shown = wordpress.php("widget", {"admin": True})
        assert shown["registered"] is True and shown["title"] == "Gmail Relay"
        html = shown["widget"]
        assert 'data-account="main" data-state="needs_reauth"' in html
        assert 'data-account="alerts" data-state="ok"' in html
        assert "Google revoked the relay&#039;s access" in html
        assert "gmail-relay reauth main" in html
        assert "held: 3" in html and "failed: 2" in html
        assert "Order &lt;b&gt;#1001&lt;/b&gt; confirmed" in html and "<b>#1001" not in html, "failure subject not escaped"
        assert "bad@@example.com" in html
        assert "Google ends it on 2026-12-04 09:00 UTC" in html, "the grant warning of the ok account"
        notices = shown["notices"]
        assert 'id="gmail-relay-bridge-attention"' in notices
        assert "needs reauthorization" in notices and "3 messages are held" in notices
        assert api.requests[:2] == [("/api/status", "Bearer tok-123"), ("/api/messages?status=failed&limit=10", "Bearer tok-123")]

        # Cached: the next admin page does not ask the relay again.
        seen = len(api.requests)
        again = wordpress.php("widget", {"admin": True})
        assert 'data-state="needs_reauth"' in again["widget"]
        assert len(api.requests) == seen

    with StatusServer("status-ok.json", failed="messages-failed.json") as api:
        use_relay(wordpress, relay, status_url=api.url)
        healthy = wordpress.php("widget", {"admin": True})
        assert 'data-account="main" data-state="ok"' in healthy["widget"]
        assert "gmail-relay-bridge-attention" not in healthy["notices"]


def test_widget_draws_the_live_relays_48_hour_chart(wordpress, relay):
    use_relay(wordpress, relay, read_token=relay.web_token)
    for n in range(2):
        result = wordpress.php("mail", {"to": TO, "subject": f"chart {n}", "message": "Hello.\n"})
        assert result["ok"] is True, result
    html = wordpress.php("widget", {"admin": True})["widget"]
    assert 'id="gmail-relay-bridge-chart-48h"' in html and 'role="img"' in html, html[-3000:]
    assert "2 sent, 0 failed, 0 held, 2 accepted." in html, html[-3000:]
    assert '<table class="screen-reader-text">' in html and "failed (hatched)" in html


def test_editors_see_neither_the_widget_nor_the_notice(wordpress, relay):
    with StatusServer("status-needs-reauth.json") as api:
        use_relay(wordpress, relay, status_url=api.url)
        shown = wordpress.php("widget", {"admin": True, "login": "editor1"})
        assert api.requests == [], "the relay was asked on behalf of a user who may not see the answer"
    assert shown["registered"] is False
    assert shown["notices"] == ""


def test_everything_the_relay_says_is_escaped(wordpress, relay):
    with StatusServer("status-hostile.json", failed="messages-hostile.json") as api:
        use_relay(wordpress, relay, status_url=api.url)
        shown = wordpress.php("widget", {"admin": True})
        tools = wordpress.php("page", {"hook": "tools_page_gmail-relay-bridge", "screen": "tools_page_gmail-relay-bridge", "admin": True})
    pages = {"widget": shown["widget"], "notices": shown["notices"], "tools": tools["html"]}
    for where, html in pages.items():
        assert "<script" not in html and "<img" not in html and "<a href=\"javascript" not in html and "<i>" not in html, where
    assert "&lt;script&gt;alert(&#039;title&#039;)&lt;/script&gt;" in shown["notices"]
    for text in ("name", "step", "warning", "subject", "problem"):
        assert f"alert(&#039;{text}&#039;)" in pages["widget"] + pages["tools"], text
    assert "alert(&#039;cause&#039;)" in pages["tools"]


def test_widget_says_plainly_when_the_relay_cannot_be_reached(wordpress, relay):
    closed = free_port()
    use_relay(wordpress, relay, status_url=f"http://{HOST}:{closed}")
    shown = wordpress.php("widget", {"admin": True})
    assert f"could not be reached at http://{HOST}:{closed}/api/status" in shown["widget"]
    assert shown["seconds"] < 5
    assert "gmail-relay-bridge-attention" not in shown["notices"]

    # GMAIL_RELAY_ADMIN_TOKEN, the constant's older name, is still sent.
    with StatusServer("status-ok.json", code=401) as api:
        use_relay(wordpress, relay, status_url=api.url, admin_token="wrong")
        refused = wordpress.php("widget", {"admin": True})
        assert "refused the token (HTTP 401)" in refused["widget"]
        assert "GMAIL_RELAY_READ_TOKEN" in refused["widget"]
        assert "wrong" not in refused["widget"]
        assert api.requests[0] == ("/api/status", "Bearer wrong")


def test_strings_are_translated_through_the_text_domain(wordpress, relay):
    # WordPress only switches to an installed language: a (empty) core pack, then the plugin's.
    # Both go afterwards (with a language installed, wp-login.php asks wordpress.org for the list).
    core_pack = wordpress.root / "wp-content" / "languages" / "de_DE.mo"
    plugin_pack = wordpress.root / "wp-content" / "languages" / "plugins" / "gmail-relay-bridge-de_DE.mo"
    write_mo(core_pack, {})
    write_mo(plugin_pack, {
        "Gmail Relay": "Gmail-Relais",
        "needs reauthorization": "muss neu autorisiert werden",
        "%d message is held until this is fixed.\0%d messages are held until this is fixed.":
            "%d Nachricht wartet, bis das behoben ist.\0%d Nachrichten warten, bis das behoben ist.",
    })
    with StatusServer("status-needs-reauth.json") as api:
        use_relay(wordpress, relay, status_url=api.url)
        wordpress.php("set_option", {"name": "WPLANG", "value": "de_DE"})
        try:
            shown = wordpress.php("widget", {"admin": True})
        finally:
            wordpress.php("set_option", {"name": "WPLANG", "value": ""})
            core_pack.unlink()
            plugin_pack.unlink()
    assert shown["title"] == "Gmail-Relais"
    assert "muss neu autorisiert werden" in shown["widget"]
    assert "3 Nachrichten warten, bis das behoben ist." in shown["notices"]


def test_admin_pages_over_http_login_notice_and_test_email_button(wordpress, relay):
    with StatusServer("status-needs-reauth.json") as api:
        use_relay(wordpress, relay, status_url=api.url)
        wordpress.serve()
        browser = wordpress.browser()
        dashboard = browser.login()
        assert 'id="gmail_relay_bridge_status"' in dashboard, "widget missing from wp-admin/index.php"
        assert 'data-state="needs_reauth"' in dashboard
        assert 'id="gmail-relay-bridge-attention"' in dashboard
        status, _, posts = browser.get("/wp-admin/edit.php")
        assert status == 200 and 'id="gmail-relay-bridge-attention"' in posts, "notice missing on another admin page"

        status, _, tools = browser.get("/wp-admin/tools.php?page=gmail-relay-bridge")
        assert status == 200 and "Send a test email" in tools
        assert "Likely causes:" in tools and "Testing mode and the grant is older than 7 days" in tools
        nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', tools).group(1)

        # A forged form (no valid nonce) sends nothing.
        status, _, _ = browser.post("/wp-admin/admin-post.php", {"action": "gmail_relay_bridge_test_email", "_wpnonce": "0", "to": "x@example.com"})
        assert status == 403
        assert relay.log_json() == []

        status, path, page = browser.post("/wp-admin/admin-post.php", {
            "action": "gmail_relay_bridge_test_email", "_wpnonce": nonce, "_wp_http_referer": "/wp-admin/tools.php?page=gmail-relay-bridge",
            "to": "tester@example.com",
        })
        assert status == 200 and path.startswith("/wp-admin/tools.php?page=gmail-relay-bridge"), path
        shown = re.search(r'<code class="gmail-relay-bridge-reply">([^<]*)</code>', page)
        assert shown, page[-4000:]
        number = log_id(shown.group(1))
        assert "was accepted" in page
        detail = relay.show(number)
        assert detail["recipients"] == ["tester@example.com"] and detail["status"] == "sent"

        # A user without manage_options is turned away from the button.
        anonymous = wordpress.browser()
        status, _, _ = anonymous.post("/wp-admin/admin-post.php", {"action": "gmail_relay_bridge_test_email", "_wpnonce": nonce, "to": "x@example.com"})
        assert len(relay.log_json()) == 1


def test_settings_page_stores_the_password_sealed_and_never_shows_it(wordpress, relay):
    # No constants: everything comes from the settings page, saved through options.php. The login's
    # password has what forms and PHP like to mangle: a backslash, quotes, <, &.
    awkward = "Back\\slash'quo\"te&<b>-9Zq"
    relay.cli_ok("credential", "add", "site2", "--account", ACCOUNT, "--password-stdin", input=awkward + "\n")
    wordpress.relay_constants()
    wordpress.serve()
    browser = wordpress.browser()
    browser.login()
    status, _, form = browser.get("/wp-admin/options-general.php?page=gmail-relay-bridge-settings")
    assert status == 200
    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', form).group(1)
    fields = {
        "option_page": "gmail_relay_bridge", "action": "update", "_wpnonce": nonce,
        "_wp_http_referer": "/wp-admin/options-general.php?page=gmail-relay-bridge-settings",
        "gmail_relay_bridge_settings[host]": HOST, "gmail_relay_bridge_settings[port]": str(relay.port),
        "gmail_relay_bridge_settings[user]": "site2", "gmail_relay_bridge_settings[pass]": awkward,
        "gmail_relay_bridge_settings[security]": "none", "gmail_relay_bridge_settings[from]": ACCOUNT_FROM,
        "gmail_relay_bridge_settings[status_url]": f"http://{HOST}:{free_port()}",
        "gmail_relay_bridge_settings[read_token]": "", "gmail_relay_bridge_settings[tls_ca_file]": "",
    }
    status, _, saved = browser.post("/wp-admin/options.php", fields)
    assert status == 200 and "Settings saved." in saved, saved[-3000:]
    assert awkward not in saved and "Back\\slash" not in saved and "quo&quot;te" not in saved, "the password was echoed back into the page"
    assert "(stored; leave empty to keep)" in saved

    stored = wordpress.php("options_like", {"like": "gmail_relay_bridge_settings"})
    assert len(stored) == 1 and "slash" not in stored[0]["option_value"]

    result = wordpress.php("mail", {"to": "to1@example.com", "subject": "via settings page", "message": "x"})
    assert result["ok"] is True, result
    log_id(result["reply"])

    # A bad port is refused with a message; the working one stays, and an empty password keeps the stored one.
    status, _, form = browser.get("/wp-admin/options-general.php?page=gmail-relay-bridge-settings")
    fields["_wpnonce"] = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', form).group(1)
    fields["gmail_relay_bridge_settings[port]"] = "99999"
    fields["gmail_relay_bridge_settings[pass]"] = ""
    status, _, refused = browser.post("/wp-admin/options.php", fields)
    assert "1 to 65535" in refused
    again = wordpress.php("mail", {"to": "to1@example.com", "subject": "still working", "message": "x"})
    assert again["ok"] is True, again


class Listener:
    """A TCP port that records who connects and what they send (a server the site's admin controls)."""

    def __init__(self):
        self.sock = socket.create_server((HOST, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    conn.sendall(b"220 listener ESMTP\r\n")
                    data = conn.recv(65536)
                except OSError:
                    pass
                self.received.append(data)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(timeout=10)
        self.sock.close()


def test_secrets_from_wp_config_go_only_where_wp_config_says(wordpress, relay, tmp_path):
    # A site administrator (or one site's admin on a network) cannot point a host or status URL from
    # the settings page at a server of their own and receive the password or token of wp-config.php.
    sendmail = tmp_path / "sendmail"
    fallback = tmp_path / "fallback-mail"
    sendmail.write_text(f"#!/bin/sh\ncat > {fallback}\n")
    sendmail.chmod(0o755)
    with Listener() as smtp, StatusServer("status-ok.json") as api:
        wordpress.relay_constants(**{"user": USERNAME, "pass": PASSWORD, "from": ACCOUNT_FROM, "read_token": READ_TOKEN})
        wordpress.php("set_option", {"name": "gmail_relay_bridge_settings",
                                     "value": {"host": HOST, "port": str(smtp.port), "status_url": api.url}})
        wordpress.php("set_option", {"name": "_transient_gmail_relay_bridge_status", "value": None})
        try:
            # A From of its own: without the bridge, WordPress's wordpress@localhost fails before sending.
            refused = wordpress.php("mail", {"to": "to1@example.com", "subject": "to the page's host", "message": "x",
                                             "headers": ["From: Shop <shop@example.org>"], "fallback_sendmail": str(sendmail)})
            assert refused["mailer"] == "sendmail", "the bridge routed the message to the settings page's host"
            assert refused["password_set"] is False and refused["port"] != smtp.port, refused
            assert refused["smtp_class"] != "Gmail_Relay_Bridge_SMTP"
            assert PASSWORD.encode() not in fallback.read_bytes()
            shown = wordpress.php("widget", {"admin": True})
            tools = wordpress.php("page", {"hook": "tools_page_gmail-relay-bridge", "screen": "tools_page_gmail-relay-bridge", "admin": True})
            # Nothing reached the settings page's servers: no SMTP connection, no status request.
            assert smtp.received == []
            assert api.requests == []
            assert "GMAIL_RELAY_PASS is defined in wp-config.php, so GMAIL_RELAY_HOST must be too" in shown["notices"]
            assert "GMAIL_RELAY_PASS is defined in wp-config.php, so GMAIL_RELAY_PORT must be too" in tools["html"]
            assert "GMAIL_RELAY_READ_TOKEN is defined in wp-config.php, so GMAIL_RELAY_STATUS_URL must be too" in shown["widget"]
            assert PASSWORD not in tools["html"] and READ_TOKEN not in tools["html"] + shown["widget"]

            # Host, port and status URL in wp-config.php too: the same secrets are used.
            wordpress.relay_constants(**{"host": HOST, "port": relay.port, "user": USERNAME, "pass": PASSWORD,
                                         "from": ACCOUNT_FROM, "status_url": api.url, "read_token": READ_TOKEN})
            sent = wordpress.php("mail", {"to": "to1@example.com", "subject": "to the constant host", "message": "x"})
            assert sent["ok"] is True, sent
            assert relay.show(log_id(sent["reply"]))["status"] == "sent"
            wordpress.php("widget", {"admin": True, "fresh": True})
            assert api.requests[:2] == [("/api/status", f"Bearer {READ_TOKEN}"),
                                        ("/api/messages?status=failed&limit=10", f"Bearer {READ_TOKEN}")]
            assert smtp.received == []
        finally:
            wordpress.php("set_option", {"name": "gmail_relay_bridge_settings", "value": None})


def test_with_wp_mail_smtp_active_phpmailer_is_left_alone(wordpress, relay):
    # A stand-in with WP Mail SMTP's plugin file and function name (the real one is not packaged
    # in Debian): it configures PHPMailer itself, and the bridge must not change what it set.
    marker_port = free_port()
    wordpress.plugin_files(("wp-mail-smtp/wp_mail_smtp.php", f"""<?php
/**
 * Plugin Name: WP Mail SMTP (test stand-in)
 */
function wp_mail_smtp() {{ return null; }}
add_action( 'phpmailer_init', function ( $mailer ) {{
	$mailer->isSMTP();
	$mailer->Host = '127.0.0.1';
	$mailer->Port = {marker_port};
	$mailer->Timeout = 5;
}} );
"""))
    use_relay(wordpress, relay)
    assert wordpress.php("activate", {"plugin": "wp-mail-smtp/wp_mail_smtp.php"})["active"] is True
    try:
        result = wordpress.php("mail", {"to": "to1@example.com", "subject": "through WP Mail SMTP", "message": "x"})
        assert result["ok"] is False  # nothing listens on the stand-in's port
        assert result["smtp_class"] != "Gmail_Relay_Bridge_SMTP"
        assert result["from"] != ACCOUNT_FROM, "the bridge changed the From although WP Mail SMTP is active"
        assert relay.log_json() == []

        with StatusServer("status-ok.json") as api:
            use_relay(wordpress, relay, status_url=api.url)
            page = wordpress.php("page", {"hook": "tools_page_gmail-relay-bridge", "screen": "tools_page_gmail-relay-bridge", "admin": True})
            html = page["html"]
            assert "WP Mail SMTP is active" in html
            assert "Values for WP Mail SMTP" in html
            assert f"<code>{relay.port}</code>" in html and "<code>Other SMTP</code>" in html and f"<code>{USERNAME}</code>" in html
            assert PASSWORD not in html
            assert 'data-state="ok"' in html, "status is still shown"
    finally:
        wordpress.php("deactivate", {"plugin": "wp-mail-smtp/wp_mail_smtp.php"})


def test_uninstall_removes_every_option(wordpress, relay):
    use_relay(wordpress, relay)
    assert wordpress.php("mail", {"to": "to1@example.com", "subject": "before uninstall", "message": "x"})["ok"] is True
    wordpress.php("widget", {"admin": True})
    before = [row["option_name"] for row in wordpress.php("options_like", {"like": "gmail_relay_bridge"})]
    assert "gmail_relay_bridge_last_reply" in before and "_transient_gmail_relay_bridge_status" in before, before
    left = wordpress.php("uninstall", {"plugin": PLUGIN})["left"]
    assert left == []
    assert wordpress.php("activate", {"plugin": PLUGIN})["active"] is True


def wait_for_status_api(relay, token: str | None = None, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{relay.web_port}/api/status"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                return json.loads(response.read())
        except OSError as error:
            last = error
            time.sleep(0.2)
    raise AssertionError(f"the relay's status API did not answer at {url}: {last}")


def test_widget_reads_the_live_relay_and_shows_needs_reauth_once_google_revokes_the_grant(wordpress, make_relay, fake_google):
    # The relay wants a token on its API (web.admin_token); the plugin holds only web.read_token,
    # and reaches 127.0.0.1 through wp_safe_remote_get.
    relay = oauth_relay(make_relay, fake_google, config={"web.admin_token": ADMIN_TOKEN, "web.read_token": READ_TOKEN})
    wait_for_status_api(relay, READ_TOKEN)
    with pytest.raises(urllib.error.HTTPError) as unauthenticated:
        urllib.request.urlopen(f"http://{HOST}:{relay.web_port}/api/status", timeout=5)
    assert unauthenticated.value.code == 401
    use_relay(wordpress, relay, read_token=READ_TOKEN)
    assert wordpress.php("mail", {"to": "to1@example.com", "subject": "before", "message": "x"})["ok"] is True
    healthy = wordpress.php("widget", {"admin": True, "fresh": True})
    assert 'data-account="gmail" data-state="ok"' in healthy["widget"], healthy["widget"]
    assert "Sent in 24 hours: 1" in healthy["widget"]
    assert "gmail-relay-bridge-attention" not in healthy["notices"]

    fake_google.revoke(relay.refresh)
    fake_google.call("/_fake/expire-access-tokens", {})
    held = wordpress.php("mail", {"to": "to1@example.com", "subject": "after", "message": "x"})
    assert "held: grant_revoked" in held["reply"], held
    live = wait_for_status_api(relay, READ_TOKEN)
    assert live["accounts"][0]["state"] == "needs_reauth", live

    shown = wordpress.php("widget", {"admin": True, "fresh": True})
    html = shown["widget"]
    assert 'data-account="gmail" data-state="needs_reauth"' in html, html
    assert "<code>grant_revoked</code>" in html
    assert "reauth gmail" in html, "the catalogue's step with the account's name"
    assert "held: 1" in html
    assert 'id="gmail-relay-bridge-attention"' in shown["notices"]
    assert "1 message is held until this is fixed." in shown["notices"]


# -- the zip people install ---------------------------------------------------------------------

def plugin_version() -> str:
    return re.search(r"^ \* Version: +(\S+)$", (PLUGIN_SOURCE / "gmail-relay-bridge.php").read_text(), re.M).group(1)


def test_the_plugin_zip_is_the_plugin_folder_and_nothing_else(plugin_zip):
    assert plugin_zip.name == f"gmail-relay-bridge-{plugin_version()}.zip"
    with zipfile.ZipFile(plugin_zip) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    assert names and all(name.startswith("gmail-relay-bridge/") for name in names), names
    files = {name[len("gmail-relay-bridge/"):] for name in names if not name.endswith("/")}
    tracked = subprocess.run(["git", "ls-files", "-z", "."], cwd=PLUGIN_SOURCE, capture_output=True, check=True, timeout=30).stdout
    assert files == set(filter(None, tracked.decode().split("\0"))), "the zip is not exactly the plugin's files"
    assert {"gmail-relay-bridge.php", "readme.txt", "uninstall.php"} <= files


def test_the_packager_leaves_out_dotfiles_tests_and_dev_files_and_refuses_unknown_ones(tmp_path):
    # A copy of the repository's two parts the script reads, with what a developer's folder collects.
    shutil.copytree(PLUGIN_SOURCE, tmp_path / "php-bridge" / "gmail-relay-bridge")
    (tmp_path / "scripts").mkdir()
    shutil.copy2(Path(__file__).resolve().parents[1] / "scripts" / "package-plugin.sh", tmp_path / "scripts")
    plugin = tmp_path / "php-bridge" / "gmail-relay-bridge"
    for junk in (".DS_Store", ".git/config", ".phpcs.cache", "composer.json", "composer.lock", "phpcs.xml.dist",
                 "phpunit.xml", "tests/SettingsTest.php", "node_modules/x/index.js", "includes/old.php.orig",
                 "includes/class-gmail-relay-bridge-admin.php~"):
        (plugin / junk).parent.mkdir(parents=True, exist_ok=True)
        (plugin / junk).write_text("<?php // junk\n")
    script = tmp_path / "scripts" / "package-plugin.sh"
    built = subprocess.run([str(script), str(tmp_path / "out")], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                           env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(built.stdout.strip().splitlines()[-1]) as archive:
        shipped = {name for name in archive.namelist() if not name.endswith("/")}
    with zipfile.ZipFile(next(iter(sorted((tmp_path / "out").glob("*.zip"))))) as archive:
        assert all(info.date_time == (2023, 11, 14, 22, 13, 20) for info in archive.infolist())
    assert not any("/." in name or "tests/" in name or "composer" in name or "phpunit" in name or "phpcs" in name
                   or "node_modules" in name or name.endswith(("~", ".orig")) for name in shipped), shipped

    (plugin / "debug.log").write_text("something new\n")
    refused = subprocess.run([str(script), str(tmp_path / "out2")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert refused.returncode != 0 and "debug.log is neither a plugin file" in refused.stderr, refused.stderr
    (plugin / "debug.log").unlink()

    readme = (plugin / "readme.txt").read_text()
    (plugin / "readme.txt").write_text(readme.replace(f"Stable tag: {plugin_version()}", "Stable tag: 9.9.9"))
    mismatch = subprocess.run([str(script), str(tmp_path / "out3")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert mismatch.returncode != 0 and "must be the same" in mismatch.stderr, mismatch.stderr


# -- multisite ----------------------------------------------------------------------------------

SHOP_FROM = "shop-owner@example.org"
MAIN_LOGIN, MAIN_PASS = "main-site", "main-Site-pass-3Fh8Lw"
SHOP_LOGIN, SHOP_PASS = "shop-site", "shop-Site-pass-9Gq2Xe"
NETWORK_SETTINGS = "/wp-admin/network/settings.php?page=gmail-relay-bridge-network"
NETWORK_SITES = "/wp-admin/network/sites.php?page=gmail-relay-bridge-sites"
GOOGLE_SENT_RE = re.compile(r"250 2\.0\.0 Ok: sent as [0-9a-f]{16} \(log \d+\)")


def network_relay(make_relay, fake_google):
    """Two Gmail accounts on the fake Google (main: ACCOUNT_FROM, shop: SHOP_FROM), a login for each."""
    client_id, secret = fake_google.add_client()
    refresh = {"main": fake_google.refresh_token(ACCOUNT_FROM), "shop": fake_google.refresh_token(SHOP_FROM)}
    relay = make_relay(config={**fake_google.relay_config(), "delivery.sync_timeout_seconds": 5,
                               "web.admin_token": ADMIN_TOKEN, "web.read_token": READ_TOKEN}, setup=False, start=False)
    for name, address in (("main", ACCOUNT_FROM), ("shop", SHOP_FROM)):
        relay.cli_ok("account", "add", name, "--client-id", client_id, "--client-secret", secret,
                     "--refresh-token", refresh[name], "--from", address)
    relay.cli_ok("credential", "add", MAIN_LOGIN, "--account", "main", "--password-stdin", input=MAIN_PASS + "\n")
    relay.cli_ok("credential", "add", SHOP_LOGIN, "--account", "shop", "--password-stdin", input=SHOP_PASS + "\n")
    relay.refresh = refresh
    return relay.start()


def site_rows(page: str) -> dict[str, dict[str, str]]:
    """Sites -> Gmail Relay mail: site id => the row's data attributes and text."""
    rows = {}
    for attributes, body in re.findall(r'<tr class="gmail-relay-bridge-site" ([^>]*)>(.*?)</tr>', page, re.S):
        row = dict(re.findall(r'data-([a-z]+)="([^"]*)"', attributes))
        row["text"] = re.sub(r"<[^>]+>", " ", body)
        rows[row["site"]] = row
    return rows


def from_address(raw: str) -> str:
    return email.message_from_string(raw, policy=email.policy.default)["From"].addresses[0].addr_spec


def test_network_each_site_sends_with_its_own_login_and_the_network_admin_sees_every_site(network, make_relay, fake_google):
    relay = network_relay(make_relay, fake_google)
    wait_for_status_api(relay, READ_TOKEN)
    network.relay_constants()
    shop_id = str(network.shop["id"])
    assert network.shop["home"] == f"{network.url}/shop"

    # The network admin's settings form, over HTTP with a real login and nonce.
    network.serve()
    browser = network.browser()
    browser.login()
    status, _, form = browser.get(NETWORK_SETTINGS)
    assert status == 200, form[-2000:]
    assert f'name="gmail_relay_bridge_site_logins[{shop_id}][user]"' in form and 'name="gmail_relay_bridge_site_logins[1][user]"' in form
    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', form).group(1)
    option = "gmail_relay_bridge_settings"
    fields = {
        "_wpnonce": nonce, "_wp_http_referer": NETWORK_SETTINGS,
        f"{option}[host]": HOST, f"{option}[port]": str(relay.port), f"{option}[user]": "", f"{option}[pass]": "",
        f"{option}[security]": "none", f"{option}[from]": ACCOUNT_FROM,
        f"{option}[status_url]": f"http://{HOST}:{relay.web_port}", f"{option}[read_token]": READ_TOKEN,
        f"{option}[tls_ca_file]": "",
        "gmail_relay_bridge_site_logins[1][user]": MAIN_LOGIN, "gmail_relay_bridge_site_logins[1][pass]": MAIN_PASS,
        "gmail_relay_bridge_site_logins[1][from]": ACCOUNT_FROM,
        f"gmail_relay_bridge_site_logins[{shop_id}][user]": SHOP_LOGIN, f"gmail_relay_bridge_site_logins[{shop_id}][pass]": SHOP_PASS,
        f"gmail_relay_bridge_site_logins[{shop_id}][from]": SHOP_FROM,
    }
    # A forged form (no valid nonce) changes nothing.
    status, _, _ = browser.post("/wp-admin/network/edit.php?action=gmail_relay_bridge_network", {**fields, "_wpnonce": "0"})
    assert status == 403
    assert network.php("site_option", {"name": "gmail_relay_bridge_site_logins"}) is None

    status, path, saved = browser.post("/wp-admin/network/edit.php?action=gmail_relay_bridge_network", fields)
    assert status == 200 and path.startswith(NETWORK_SETTINGS) and "Settings saved." in saved, (path, saved[-3000:])
    assert "gmail-relay-bridge-save-errors" not in saved
    for secret in (MAIN_PASS, SHOP_PASS, READ_TOKEN):
        assert secret not in saved, "a secret was echoed back into the page"
    logins = network.php("site_option", {"name": "gmail_relay_bridge_site_logins"})
    assert sorted(logins) == sorted(["1", shop_id]) and logins[shop_id]["user"] == SHOP_LOGIN
    assert all(entry["pass"].startswith("grb1:") and "pass" not in entry["pass"] for entry in logins.values()), logins
    assert network.php("site_option", {"name": option})["read_token"].startswith("grb1:")

    # Each site's test email (the Tools page's button) goes through its own login and account.
    main = network.php("test_email", {"to": "reader@example.com"})
    shop = network.php("test_email", {"to": "reader@example.com", "path": "/shop/"})
    assert main["ok"] is True and main["routed"] is True, main
    assert shop["ok"] is True and shop["routed"] is True, shop
    assert GOOGLE_SENT_RE.search(main["reply"]) and GOOGLE_SENT_RE.search(shop["reply"]), (main, shop)
    outbox = {m["subject"]: m for m in fake_google.wait_outbox(2)}
    sent_main = outbox["Test email from Relay Test Site through gmail-relay"]
    sent_shop = outbox["Test email from Shop through gmail-relay"]
    assert sent_main["user"] == ACCOUNT_FROM and from_address(sent_main["raw"]) == ACCOUNT_FROM
    assert sent_shop["user"] == SHOP_FROM and from_address(sent_shop["raw"]) == SHOP_FROM
    assert "/shop/" in base64.b64decode(sent_shop["raw_base64"]).decode(), "the shop's test email names the shop's address"

    # The network admin sees both sites: login, relay account, state, last answer.
    status, _, page = browser.get(NETWORK_SITES + "&refresh=1")
    assert status == 200, page[-2000:]
    rows = site_rows(page)
    assert set(rows) == {"1", shop_id}, rows
    assert (rows["1"]["login"], rows["1"]["account"], rows["1"]["state"]) == (MAIN_LOGIN, "main", "ok")
    assert (rows[shop_id]["login"], rows[shop_id]["account"], rows[shop_id]["state"]) == (SHOP_LOGIN, "shop", "ok")
    assert main["reply"] in rows["1"]["text"] and shop["reply"] in rows[shop_id]["text"]
    assert "(this site&#039;s own)" in rows[shop_id]["text"] or "(this site's own)" in rows[shop_id]["text"]

    # Google revokes the shop's grant: the shop's mail is held, the main site's still goes out, and
    # the page tells the two apart.
    fake_google.revoke(relay.refresh["shop"])
    fake_google.call("/_fake/expire-access-tokens", {})
    held = network.php("mail", {"to": "buyer@example.com", "subject": "order", "message": "x", "path": "/shop/"})
    assert "held: grant_revoked" in held["reply"], held
    still = network.php("mail", {"to": "reader@example.com", "subject": "news", "message": "x"})
    assert GOOGLE_SENT_RE.search(still["reply"]), still
    deadline = time.monotonic() + 20
    while wait_for_status_api(relay, READ_TOKEN)["accounts"][1]["state"] != "needs_reauth" and time.monotonic() < deadline:
        time.sleep(0.2)
    _, _, page = browser.get(NETWORK_SITES + "&refresh=1")
    rows = site_rows(page)
    assert rows[shop_id]["state"] == "needs_reauth" and rows["1"]["state"] == "ok", rows
    assert "grant_revoked" in rows[shop_id]["text"] and "held: 1" in rows[shop_id]["text"], rows[shop_id]["text"]

    # A site's own Settings -> Gmail Relay points to the network admin; its Tools page names its login.
    note = network.php("page", {"hook": "settings_page_gmail-relay-bridge-settings", "screen": "settings_page_gmail-relay-bridge-settings",
                                "admin": True, "path": "/shop/"})
    assert "kept by the network administrator" in note["html"], note["html"][:2000]
    tools = network.php("page", {"hook": "tools_page_gmail-relay-bridge", "screen": "tools_page_gmail-relay-bridge", "admin": True, "path": "/shop/"})
    assert f"login {SHOP_LOGIN})" in tools["html"] and SHOP_PASS not in tools["html"]

    # wp-config.php still wins: with GMAIL_RELAY_USER and GMAIL_RELAY_PASS there, every site uses them.
    network.relay_constants(host=HOST, port=relay.port, user=MAIN_LOGIN, **{"pass": MAIN_PASS})
    try:
        constant = network.php("mail", {"to": "buyer@example.com", "subject": "with the constants", "message": "x", "path": "/shop/"})
        assert GOOGLE_SENT_RE.search(constant["reply"]), constant
        assert constant["from"] == ACCOUNT_FROM, "the ignored login's From went with it"
        assert {m["subject"]: m for m in fake_google.outbox()}["with the constants"]["user"] == ACCOUNT_FROM
        _, _, page = browser.get(NETWORK_SITES)
        assert site_rows(page)[shop_id]["login"] == MAIN_LOGIN
        assert "GMAIL_RELAY_USER is in wp-config.php" in site_rows(page)[shop_id]["text"]
    finally:
        network.relay_constants()


def test_network_uninstall_removes_the_network_settings_the_logins_and_every_sites_options(network, relay):
    use_relay(network, relay)
    shop_id = network.shop["id"]
    network.php("set_site_option", {"name": "gmail_relay_bridge_site_logins", "value": {str(shop_id): {"user": "x", "pass": "", "from": ""}}})
    network.php("set_site_option", {"name": "gmail_relay_bridge_settings", "value": {"security": "none"}})
    for path in ("/", "/shop/"):
        sent = network.php("mail", {"to": "to1@example.com", "subject": f"before uninstall {path}", "message": "x", "path": path})
        assert sent["ok"] is True, sent
    network.php("widget", {"admin": True, "fresh": True, "path": "/shop/"})
    before = network.php("options_like", {"like": "gmail_relay_bridge", "path": "/shop/"})
    assert "gmail_relay_bridge_last_reply" in [row["option_name"] for row in before]
    try:
        left = network.php("uninstall", {"plugin": PLUGIN})
        assert left["left_network"] == [], left
        assert left["left_sites"] == {"1": [], str(shop_id): []}, left
    finally:
        assert network.php("activate", {"plugin": PLUGIN, "network": True})["active"] is True
        network.relay_constants()
