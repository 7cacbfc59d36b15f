"""The status page and JSON API of a live `gmail-relay serve`, read by a real headless Chromium
(Debian's `chromium`) and by Python's urllib: what a person sees, what a script gets, and who may see it."""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from harness import HOST, PASSWORD, USERNAME, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVIL_SUBJECT = "<script>alert(1)</script> Invoice 42"
ADMIN_TOKEN = "e2e-admin-token-4c1d9b7e2a"


def chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """Headless Chromium with a throw-away profile (root needs --no-sandbox)."""
    assert CHROMIUM, "chromium is not installed (scripts/install-deps.sh --test installs it)"
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL,
        )


def dump_dom(url: str) -> str:
    result = chromium("--dump-dom", url)
    assert result.returncode == 0 and "<html" in result.stdout, f"chromium --dump-dom {url}: {result.stderr[-2000:]}"
    return result.stdout


class VisibleText(html.parser.HTMLParser):
    """The text a person sees, and every element that would run code."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.scripts = 0
        self.handlers: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag in ("script", "style", "title"):
            self._skip += 1
        self.handlers += [name for name, _ in attrs if name.startswith("on")]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.parts))


def seen(dom: str) -> VisibleText:
    parser = VisibleText()
    parser.feed(dom)
    return parser


def web(relay, path: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None,
        token: bool = True):
    """(status, headers, body) without following redirects; with the relay's admin token as Bearer unless
    `token` is False or the request names its own Authorization."""
    headers = dict(headers or {})
    if token and relay.web_token and "Authorization" not in headers:
        headers["Authorization"] = f"Bearer {relay.web_token}"
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://{HOST}:{relay.web_port}{path}", data=data, method=method, headers=headers)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def send(relay, subject: str) -> int:
    message = f"From: site@example.com\r\nTo: reader@example.net\r\nSubject: {subject}\r\n\r\nhello\r\n"
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.ehlo("e2e.example")
        s.login(USERNAME, PASSWORD)
        s.sendmail("site@example.com", ["reader@example.net"], message.encode())
    [row] = [r for r in relay.log_json() if r["subject"] == subject]
    return row["id"]


def test_overview_and_message_page_as_a_person_sees_them(make_relay, tmp_path):
    """Chromium cannot send a Bearer token: this relay's page is open (web.open, loopback only)."""
    relay = make_relay(config={"web.open": True})
    log_id = send(relay, EVIL_SUBJECT)
    base = f"http://{HOST}:{relay.web_port}"

    overview = seen(dump_dom(base + "/"))
    text = overview.text
    assert "Status" in text and "sandbox" in text, text
    assert "owner@example.com" in text, text
    assert "1 sent in 24 h" in text, text
    assert "0 held" in text and "0 failed" in text, text
    assert overview.scripts == 0 and not overview.handlers

    page = seen(dump_dom(f"{base}/messages/{log_id}"))
    text = page.text
    assert f"Message {log_id}" in text, text
    # The subject is shown as text, not run: Chromium built no script element from it.
    assert EVIL_SUBJECT in text, text
    assert page.scripts == 0 and not page.handlers
    assert "reader@example.net" in text and "site@example.com" in text, text
    assert "sandbox: sandbox-" in text or "sandbox-" in text, text
    assert "Headers sent to Gmail" in text and "Attempts" in text and "History" in text, text

    log = seen(dump_dom(f"{base}/messages?status=sent"))
    assert EVIL_SUBJECT in log.text and log.scripts == 0

    # A phone-sized screenshot (412x915) for a person to look at; it must be a real PNG.
    shot = tmp_path / "overview-phone.png"
    result = chromium(f"--screenshot={shot}", "--window-size=412,915", "--hide-scrollbars", base + "/")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, len(data)
    keep = os.environ.get("GMAIL_RELAY_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "overview-phone.png")
        chromium(f"--screenshot={Path(keep) / 'message-phone.png'}", "--window-size=412,915", "--hide-scrollbars",
                 f"{base}/messages/{log_id}")


def test_status_command_prints_what_the_api_serves(relay):
    send(relay, "status check")
    status, headers, body = web(relay, "/api/status")
    assert status == 200 and headers["Content-Type"].startswith("application/json"), (status, body)
    api = json.loads(body)
    cli = relay.cli_json("status")
    assert cli == api
    [account] = api["accounts"]
    assert {"name", "email", "kind", "state", "token_expires_at", "last_success_at", "problem"} <= set(account)
    assert account["name"] == "sandbox" and account["state"] == "ok" and account["problem"] is None
    assert api["queue"]["sent_24h"] == 1 and api["queue"]["held"] == 0
    text = relay.cli_ok("status").stdout
    assert "sandbox: ok" in text and "1 sent in 24 h" in text, text


def test_api_messages_and_actions(relay):
    log_id = send(relay, "api one")
    status, _, body = web(relay, "/api/messages?status=sent&limit=10")
    assert status == 200
    assert [row["id"] for row in json.loads(body)] == [log_id]
    status, _, body = web(relay, f"/api/messages/{log_id}")
    document = json.loads(body)
    assert status == 200 and document["id"] == log_id and document["status"] == "sent"
    assert isinstance(document["attempts"], list) and "events" in document and document["explanation"] is None
    assert document == relay.show(log_id)
    # A sent message cannot be retried: 409 with the store's words, and nothing changes.
    status, _, body = web(relay, f"/api/messages/{log_id}/retry", method="POST")
    assert status == 409, body
    assert relay.show(log_id)["status"] == "sent"
    status, _, body = web(relay, "/api/messages?status=nope")
    assert status == 400 and "status must be one of" in body
    assert web(relay, "/healthz")[2] == "ok\n"
    metrics = web(relay, "/metrics")[2]
    assert 'relay_messages{status="sent_24h"} 1' in metrics, metrics


def test_non_loopback_listen_needs_an_admin_token(make_relay):
    relay = make_relay(config={"web.listen": f"0.0.0.0:{free_port()}", "web.admin_token": None}, start=False, setup=False)
    result = relay.cli("status")
    assert result.returncode != 0
    assert "web.admin_token" in result.stderr, result.stderr
    proc = subprocess.run([relay_binary(), "serve", "--config", str(relay.config_path)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")})
    assert proc.returncode != 0
    assert "web.admin_token" in proc.stderr, proc.stderr


def relay_binary() -> str:
    from harness import BINARY
    return BINARY


def test_admin_token_bearer_and_login_cookie(make_relay):
    port = free_port()
    relay = make_relay(config={"web.listen": f"0.0.0.0:{port}", "web.admin_token": ADMIN_TOKEN})
    relay.web_port = port
    log_id = send(relay, "behind a token")

    status, headers, _ = web(relay, "/api/status", token=False)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    status, _, body = web(relay, "/api/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 200 and json.loads(body)["accounts"][0]["name"] == "sandbox"

    status, headers, _ = web(relay, f"/messages/{log_id}", token=False)
    assert status == 303 and headers["Location"].startswith("/login?next=")
    # What Chromium sees without signing in: the sign-in form, no data.
    login_page = seen(dump_dom(f"http://{HOST}:{port}/messages/{log_id}"))
    assert "Sign in" in login_page.text and "behind a token" not in login_page.text, login_page.text

    status, _, body = web(relay, "/login", token=False)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', body).group(1)
    assert ADMIN_TOKEN not in body
    form = urllib.parse.urlencode({"token": ADMIN_TOKEN, "next": f"/messages/{log_id}"}).encode()
    assert web(relay, "/login", "POST", form, {"Content-Type": "application/x-www-form-urlencoded"}, token=False)[0] == 403
    form = urllib.parse.urlencode({"token": ADMIN_TOKEN, "csrf": csrf, "next": f"/messages/{log_id}"}).encode()
    status, headers, _ = web(relay, "/login", "POST", form, {"Content-Type": "application/x-www-form-urlencoded"}, token=False)
    assert status == 303 and headers["Location"] == f"/messages/{log_id}"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and ADMIN_TOKEN not in cookie
    status, _, body = web(relay, f"/messages/{log_id}", headers={"Cookie": cookie.split(";")[0]}, token=False)
    assert status == 200 and "behind a token" in body and ADMIN_TOKEN not in body
    assert ADMIN_TOKEN not in relay.stderr_text()


def test_docs_page_is_what_the_binary_generates(relay):
    generated = relay.cli_ok("troubleshooting-doc").stdout
    committed = (Path(__file__).resolve().parents[1] / "docs" / "troubleshooting.md").read_text()
    assert generated == committed


def test_open_loopback_refuses_foreign_host_names(make_relay):
    """With web.open the page is open on loopback, but only under loopback names (DNS rebinding)."""
    relay = make_relay(config={"web.open": True})
    import http.client
    for host, expected in [("evil.example:8025", 403), (f"127.0.0.1:{relay.web_port}", 200), (f"localhost:{relay.web_port}", 200)]:
        conn = http.client.HTTPConnection(HOST, relay.web_port, timeout=30)
        conn.putrequest("GET", "/api/status", skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        assert response.status == expected, (host, response.status, body)
    # A page of another site cannot make the browser retry or discard through the API.
    status, _, body = web(relay, "/api/messages/1/discard", method="POST", headers={"Origin": "http://evil.example"})
    assert status == 403, body


class Receiver:
    """A local HTTP receiver for the alert webhook (Python's http.server on a free loopback port)."""

    def __init__(self):
        import http.server
        import threading
        self.bodies: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 30) -> list[dict]:
        import time
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.bodies

    def stop(self):
        self.server.shutdown()


def test_held_mail_is_explained_on_the_page_and_alerted(make_relay, fake_google):
    """invalid_grant from the fake Google: mail is held, the overview explains it with the steps, the alert
    webhook hears ok -> needs_reauth, and after `queue retry --all` it hears the way back to ok."""
    from test_delivery import HELD_RE, gmail_relay, message, send as smtp_send, wait_status

    receiver = Receiver()
    try:
        # Chromium reads the page: open on loopback (web.open), as on a single-user machine.
        relay = gmail_relay(make_relay, fake_google, config={"alerts.webhook_url": receiver.url, "web.open": True})
        base = f"http://{HOST}:{relay.web_port}"
        # Let the start-up token health probe finish first, so that its refresh cannot race the failure.
        import time
        deadline = time.monotonic() + 30
        while relay.cli_json("status")["accounts"][0]["checked_at"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
        # The grant dies while the relay runs: the cached access token stops working, the refresh fails.
        fake_google.call("/_fake/expire-access-tokens", {})
        fake_google.inject("invalidGrantRevoked", endpoint="token", count=1)
        reply = smtp_send(relay, message("<b>Order</b> 1001"), ["alice@example.com"])
        held = HELD_RE.search(reply)
        assert held and held.group(2) == "grant_revoked", reply
        log_id = int(held.group(1))

        overview = seen(dump_dom(base + "/"))
        text = overview.text
        assert "shop needs reauthorization" in text, text
        assert "Authorization expired or revoked" in text, text
        assert "gmail-relay reauth shop" in text, text
        assert "“Token has been expired or revoked.”" in text, text
        assert "1 held" in text, text
        assert "Mail for this account is held" in text, text
        keep = os.environ.get("GMAIL_RELAY_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            chromium(f"--screenshot={Path(keep) / 'held-phone.png'}", "--window-size=412,1800", "--hide-scrollbars", base + "/")

        page = seen(dump_dom(f"{base}/messages/{log_id}"))
        text = page.text
        assert "<b>Order</b> 1001" in text and page.scripts == 0, text
        assert '"error_description": "Token has been expired or revoked."' in text, text
        assert "Retry now" in text and "Discard" in text, text

        [alert] = receiver.wait(1)
        assert alert["account"] == "shop" and alert["from_state"] == "ok" and alert["to_state"] == "needs_reauth", alert
        assert alert["problem"]["code"] == "grant_revoked", alert
        assert any("gmail-relay reauth shop" in step for step in alert["problem"]["steps"]), alert

        status = relay.cli_json("status")
        [account] = status["accounts"]
        assert account["state"] == "needs_reauth" and account["problem"]["code"] == "grant_revoked", account

        relay.cli_ok("queue", "retry", "--all")
        wait_status(relay, log_id, "sent", timeout=60)
        bodies = receiver.wait(2)
        assert len(bodies) == 2, bodies
        assert bodies[1]["from_state"] == "needs_reauth" and bodies[1]["to_state"] == "ok" and bodies[1]["problem"] is None
    finally:
        receiver.stop()


def test_sigterm_with_a_kept_alive_page_connection(relay):
    """A browser keeps its connection open; SIGTERM still ends `serve` promptly and cleanly."""
    import http.client
    import time
    conn = http.client.HTTPConnection(HOST, relay.web_port, timeout=30)
    conn.request("GET", "/", headers={"Authorization": f"Bearer {relay.web_token}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 200 and response.getheader("Connection", "keep-alive").lower() != "close"
    started = time.monotonic()
    relay.stop(timeout=15)
    assert time.monotonic() - started < 10
    conn.close()


def test_connection_close_is_honoured_in_any_case(relay):
    """WordPress's HTTP client sends `Connection: Close`; the server must close, not wait for a time-out."""
    import socket
    import time
    for value in ("close", "Close", "CLOSE"):
        s = socket.create_connection((HOST, relay.web_port), timeout=5)
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{relay.web_port}\r\nConnection: {value}\r\n"
                  f"Authorization: Bearer {relay.web_token}\r\n\r\n".encode())
        started, data = time.monotonic(), b""
        while True:
            chunk = s.recv(4096)  # a socket.timeout here means the server kept the connection open
            if not chunk:
                break
            data += chunk
        s.close()
        assert data.startswith(b"HTTP/1.1 200"), data
        assert time.monotonic() - started < 2, f"Connection: {value} was held open"
