"""Alerts end to end: a real `gmail-relay serve`, the fake Google, and a local HTTP catcher (Python's
http.server) in place of Slack, Discord, Teams, ntfy or a JSON hook. A revoked grant injected at the fake
Google changes the account's state; the catcher must get exactly one alert in the right shape. The page's
"Send test alert" button and `gmail-relay alerts test` reach the catcher too; `alerts.email_to` sends the
alert as mail through the healthy account at the fake Google and never through the broken one."""

from __future__ import annotations

import base64
import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.request
from email import message_from_bytes

import pytest

from harness import HOST
from test_delivery import ADDRESS, HELD_RE, gmail_relay, message, send as smtp_send

PUBLIC_URL = "https://relay.example.com"


class Catcher:
    """Records every request (method, path, headers, body) and answers `status` with `answer`."""

    def __init__(self, status: int = 200, answer: bytes = b"ok"):
        self.requests: list[dict] = []
        self.status, self.answer = status, answer
        catcher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(min(length, 1 << 20))
                catcher.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                self.send_response(catcher.status)
                self.send_header("Content-Length", str(len(catcher.answer)))
                self.end_headers()
                self.wfile.write(catcher.answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hook/T000/secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.requests)

    def stop(self):
        self.server.shutdown()


def wait_probed(relay):
    """The start-up token health probe must finish first, so its refresh cannot race the injected failure."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(a["checked_at"] for a in relay.cli_json("status")["accounts"] if a["kind"] != "sandbox"):
            return
        time.sleep(0.2)
    raise AssertionError("the health probe did not run")


def revoke_grant(relay, fake_google) -> int:
    """The grant dies while the relay runs: the cached access token stops working and the refresh gets
    invalid_grant. The next message is held; returns its log id."""
    fake_google.call("/_fake/expire-access-tokens", {})
    fake_google.inject("invalidGrantRevoked", endpoint="token", count=1)
    reply = smtp_send(relay, message("Order 1001"), ["alice@example.com"])
    held = HELD_RE.search(reply)
    assert held and held.group(2) == "grant_revoked", reply
    return int(held.group(1))


def check_shape(fmt: str, request: dict):
    """The documented shape of each format, with the account, the states, the problem and the command."""
    body, headers = request["body"], request["headers"]
    assert request["path"] == "/hook/T000/secret"
    if fmt == "json":
        assert headers["content-type"] == "application/json"
        alert = json.loads(body)
        assert alert["event"] == "state_change" and alert["account"] == "shop" and alert["email"] == ADDRESS
        assert alert["from_state"] == "ok" and alert["to_state"] == "needs_reauth"
        assert alert["problem"]["code"] == "grant_revoked"
        return
    if fmt == "ntfy":
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["title"] == "gmail-relay: shop needs reauthorization"
        assert headers["priority"] == "high" and headers["tags"] == "warning,gmail-relay"
        assert headers["click"] == f"{PUBLIC_URL}/#account-shop"
        text = body.decode()
    else:
        assert headers["content-type"] == "application/json"
        document = json.loads(body)
        if fmt == "slack":
            assert list(document) == ["text"]
            text = document["text"]
        elif fmt == "discord":
            assert set(document) == {"content", "allowed_mentions"} and document["allowed_mentions"] == {"parse": []}
            text = document["content"]
            assert len(text) <= 2000
        else:
            assert document["@type"] == "MessageCard" and document["@context"] == "https://schema.org/extensions"
            assert document["summary"] == document["title"] == "gmail-relay: shop needs reauthorization"
            assert document["themeColor"] == "D13438"
            facts = {f["name"]: f["value"] for f in document["sections"][0]["facts"]}
            assert facts == {"Account": "shop", "State": "ok → needs reauthorization",
                             "Problem": "Authorization expired or revoked", "Run": "gmail-relay reauth shop"}, facts
            assert document["potentialAction"][0]["targets"][0]["uri"] == f"{PUBLIC_URL}/#account-shop"
            text = document["text"]
    assert f"Account shop ({ADDRESS}): ok → needs reauthorization" in text, text
    assert "Problem: Authorization expired or revoked" in text, text
    assert "Run: gmail-relay reauth shop" in text, text
    assert f"Status page: {PUBLIC_URL}/#account-shop" in text, text
    assert "secret" not in text and "T000" not in text, "the webhook URL is never in an alert"


@pytest.mark.parametrize("fmt", ["json", "slack", "discord", "teams", "ntfy"])
def test_a_revoked_grant_gives_one_alert_in_the_format(make_relay, fake_google, fmt):
    catcher = Catcher(status=204 if fmt == "json" else 200, answer=b"" if fmt == "json" else b"ok")
    try:
        relay = gmail_relay(make_relay, fake_google, config={
            "alerts.webhook_url": catcher.url, "alerts.webhook_format": fmt, "web.public_url": PUBLIC_URL})
        wait_probed(relay)
        assert catcher.requests == [], "no alert for the state at start"
        revoke_grant(relay, fake_google)
        [alert] = catcher.wait(1)
        check_shape(fmt, alert)
        # Several more readings of the watcher (every 2 s): still exactly one.
        time.sleep(5)
        assert len(catcher.requests) == 1, [r["body"][:200] for r in catcher.requests]
        assert "T000/secret" not in relay.stderr_text(), "the webhook URL is a secret: never logged"
        # Fixed (the injected failure was one refresh): held mail goes out and a "resolved" alert follows.
        relay.cli_ok("queue", "retry", "--all")
        requests = catcher.wait(2, timeout=60)
        assert len(requests) == 2, [r["body"][:200] for r in requests]
        resolved = requests[1]
        if fmt == "json":
            assert json.loads(resolved["body"])["event"] == "resolved"
        elif fmt == "ntfy":
            assert resolved["headers"]["title"] == "gmail-relay: shop is ok again" and resolved["headers"]["priority"] == "default"
        else:
            assert "gmail-relay: shop is ok again" in resolved["body"].decode(), resolved["body"]
    finally:
        catcher.stop()


def test_the_button_and_the_cli_send_a_test_alert(make_relay, fake_google):
    from test_web import web
    catcher = Catcher()
    try:
        relay = gmail_relay(make_relay, fake_google, config={
            "alerts.webhook_url": catcher.url, "alerts.webhook_format": "slack", "web.read_token": "e2e-read-token-7d1c9e2a4b6f"})
        admin = {"Authorization": f"Bearer {relay.web_token}"}
        status, _, page = web(relay, "/", headers=admin)
        assert status == 200 and "Alerts go to: a Slack-compatible webhook." in page and 'action="/alerts/test"' in page
        assert catcher.url not in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        # The read token may look, not send; a form without the CSRF token is refused.
        reader = {"Authorization": "Bearer e2e-read-token-7d1c9e2a4b6f"}
        status, _, _ = web(relay, "/alerts/test", method="POST", headers={**reader, **form}, data=f"csrf={csrf}".encode())
        assert status == 403
        status, _, _ = web(relay, "/alerts/test", method="POST", headers={**admin, **form}, data=b"")
        assert status == 403
        assert catcher.requests == []
        status, _, result = web(relay, "/alerts/test", method="POST", headers={**admin, **form}, data=f"csrf={csrf}".encode())
        assert status == 200 and "webhook (slack): delivered, HTTP 200" in result, result
        [test] = catcher.wait(1)
        assert json.loads(test["body"])["text"].startswith("gmail-relay: test alert\n")

        out = relay.cli("alerts", "test")
        assert out.returncode == 0 and "webhook (slack): delivered, HTTP 200" in out.stdout, out.stdout + out.stderr
        assert len(catcher.wait(2)) == 2
        # The endpoint refuses: exit 1, the status and the body printed.
        catcher.status, catcher.answer = 404, b"no_service"
        out = relay.cli("alerts", "test")
        assert out.returncode == 1, out.stdout + out.stderr
        assert "webhook (slack): refused, HTTP 404: no_service" in out.stdout, out.stdout
        assert catcher.url not in out.stdout + out.stderr
    finally:
        catcher.stop()


def test_email_alerts_go_through_the_healthy_account(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, config={"alerts.email_to": "ops@example.com"}, start=False)
    # A second, healthy account with its own grant at the fake Google.
    other = "alerts@example.org"
    client_id, secret = fake_google.add_client("e2e-client-2", "e2e-secret-2")
    refresh = fake_google.refresh_token(other, client_id="e2e-client-2")
    relay.cli_ok("account", "add", "office", "--client-id", client_id, "--client-secret-stdin",
                 "--refresh-token-stdin", "--from", other, input=f"{secret}\n{refresh}\n")
    relay.start()
    wait_probed(relay)
    revoke_grant(relay, fake_google)
    deadline = time.monotonic() + 40
    alerts = []
    while time.monotonic() < deadline and not alerts:
        alerts = [m for m in fake_google.outbox() if "ops@example.com" in m["recipients"]]
        time.sleep(0.2)
    assert len(alerts) == 1, fake_google.outbox()
    [mail] = alerts
    assert mail["user"] == other, "sent with the healthy account's grant"
    assert mail["subject"] == "gmail-relay: shop needs reauthorization"
    raw = message_from_bytes(base64.b64decode(mail["raw_base64"]))
    assert other in raw["From"] and raw["Auto-Submitted"] == "auto-generated"
    body = raw.get_payload(decode=True).decode()
    assert "Run: gmail-relay reauth shop" in body, body
    assert not [m for m in fake_google.outbox() if m["user"] == ADDRESS and "ops@example.com" in m["recipients"]]
    # Queued like any message: in the send log, sent through office.
    deadline = time.monotonic() + 15
    while True:
        entries = [e for e in relay.log_json("--account", "office") if e["subject"] == "gmail-relay: shop needs reauthorization"]
        if (len(entries) == 1 and entries[0]["status"] == "sent") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(entries) == 1 and entries[0]["status"] == "sent", entries


def test_without_a_healthy_account_the_log_and_the_page_say_so(make_relay, fake_google):
    from test_web import web
    relay = gmail_relay(make_relay, fake_google, config={"alerts.email_to": "ops@example.com"})
    wait_probed(relay)
    revoke_grant(relay, fake_google)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "no healthy account" not in relay.stderr_text():
        time.sleep(0.2)
    assert "alert email not sent: no healthy account to send it through" in relay.stderr_text()
    _, _, page = web(relay, "/", headers={"Authorization": f"Bearer {relay.web_token}"})
    assert "could not be sent" in page and "no healthy account to send it through" in page, page
    assert not [m for m in fake_google.outbox() if "ops@example.com" in m["recipients"]], "never through the broken account"
