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
import re
import socket
import subprocess
import threading
import urllib.error
import urllib.request
import time
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from harness import ACCOUNT, ACCOUNT_FROM, HOST, PASSWORD, SENT_RE, USERNAME, free_port
from wordpress_site import PLUGIN, PLUGIN_SOURCE, MariaDB, WordPressSite, write_mo

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
def wordpress(tmp_path_factory):
    base = tmp_path_factory.mktemp("wordpress")
    db = MariaDB(base / "mariadb").start()
    site = None
    try:
        site = WordPressSite(base, db).create()
        yield site
    finally:
        if site is not None:
            site.stop()
        db.stop()


@pytest.fixture(autouse=True)
def no_php_diagnostics(request):
    """Under WP_DEBUG nothing may be logged while a test runs (core's own PHP 8.2 deprecations aside)."""
    if "wordpress" not in request.fixturenames:
        yield
        return
    site = request.getfixturevalue("wordpress")
    mark = site.log_mark()
    yield
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
