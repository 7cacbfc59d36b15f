"""Delivery through the fake Google: real SMTP clients -> the real relay -> the fake's Gmail endpoints.

The relay's URLSession client is the code under test; the fake answers with Google's real bodies and
injects each failure by count. Every wait is bounded.
"""

from __future__ import annotations

import json
import re
import smtplib
import subprocess
import threading
import time
from datetime import datetime
from email import message_from_bytes
from pathlib import Path

import pytest

from harness import HOST, PASSWORD, USERNAME

ADDRESS = "shop@example.com"
SENT_GMAIL_RE = re.compile(r"250[ -]2\.0\.0 Ok: sent as ([0-9a-f]{16}) \(log (\d+)\)")
QUEUED_RE = re.compile(r"250[ -]2\.0\.0 Ok: queued as (\d+)")
HELD_RE = re.compile(r"queued as (\d+), held: ([a-z_]+)")
FAST = {"delivery.sends_per_minute": 100000, "delivery.sync_timeout_seconds": 5}


def gmail_relay(make_relay, fake_google, config: dict | None = None, start: bool = True):
    """A relay with one OAuth account `shop` (a refresh token from the fake) and the SMTP login site1."""
    client_id, secret = fake_google.add_client()
    refresh = fake_google.refresh_token(ADDRESS)
    relay = make_relay(config={**fake_google.relay_config(), **FAST, **(config or {})}, setup=False, start=False)
    # The secrets on standard input, as the docs show: never in shell history or /proc/PID/cmdline.
    relay.cli_ok("account", "add", "shop", "--client-id", client_id, "--client-secret-stdin",
                 "--refresh-token-stdin", "--from", ADDRESS, input=f"{secret}\n{refresh}\n")
    relay.cli_ok("credential", "add", USERNAME, "--account", "shop", "--password-stdin", input=PASSWORD + "\n")
    relay.refresh = refresh
    if start:
        relay.start()
    return relay


def send(relay, message: bytes, rcpts: list[str], sender: str = "wordpress@shop.example") -> str:
    """One message over smtplib; returns the relay's final reply text (code and text)."""
    with smtplib.SMTP(HOST, relay.port, timeout=60) as s:
        s.ehlo("e2e.example")
        s.login(USERNAME, PASSWORD)
        s.mail(sender)
        for rcpt in rcpts:
            code, _ = s.rcpt(rcpt)
            assert code == 250
        code, text = s.data(message)
        return f"{code} {text.decode()}"


def message(subject: str, to: str = "alice@example.com", sender: str = ADDRESS, extra: str = "") -> bytes:
    return (f"From: Shop <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody of {subject}\r\n").encode()


def in_threads(count: int, target, timeout: float = 180):
    """Runs target(n) for n in range(count) in parallel threads and waits (bounded) for all."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)


def wait_status(relay, log_id: int, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    detail = None
    while time.monotonic() < deadline:
        detail = relay.show(log_id)
        if detail["status"] == status:
            return detail
        time.sleep(0.2)
    raise AssertionError(f"message {log_id} is {detail and detail['status']}, expected {status}: {json.dumps(detail, indent=1)[:3000]}")


def accounts(relay) -> dict:
    return {a["name"]: a for a in relay.cli_json("account", "list")}


def test_user_grant_envelope_bcc_from_policy_and_body(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    body = ("From: WordPress <wordpress@shop.example>\r\nTo: alice@example.com\r\nCc: carol@example.com\r\n"
            "Subject: =?UTF-8?B?w5xiZXJzaWNodA==?=\r\n\r\nline one\r\n.dot line\r\n\xc3\xa4 8-bit\r\n").encode("latin-1")
    reply = send(relay, body, ["alice@example.com", "carol@example.com", "hidden@example.com"])
    match = SENT_GMAIL_RE.search(reply)
    assert match, reply
    [sent] = fake_google.outbox()
    assert sent["id"] == match.group(1)
    assert sent["to"] == ["alice@example.com"] and sent["cc"] == ["carol@example.com"]
    assert sent["bcc"] == ["hidden@example.com"], "the envelope-only recipient must reach Gmail as Bcc"
    assert sorted(sent["recipients"]) == ["alice@example.com", "carol@example.com", "hidden@example.com"]
    raw = bytes(__import__("base64").b64decode(sent["raw_base64"]))
    headers = message_from_bytes(raw)
    assert ADDRESS in headers["From"], "a From the account cannot send as is rewritten to the account's address"
    assert "wordpress@shop.example" in headers["Reply-To"], "the original From is kept as Reply-To"
    assert raw.split(b"\r\n\r\n", 1)[1] == body.split(b"\r\n\r\n", 1)[1], "body bytes untouched"
    detail = relay.show(int(match.group(2)))
    assert detail["gmail_id"] == sent["id"] and detail["status"] == "sent"
    assert [a["http_status"] for a in detail["attempts"]] == [200]
    assert "Bcc: hidden@example.com" in detail["rewritten_headers"]


def service_account_key(fake_google, tmp_path) -> Path:
    """A fresh RSA key registered with the fake as a service account with delegation for gmail.send."""
    key = tmp_path / "sa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
                   check=True, capture_output=True, timeout=60)
    public = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"], check=True, capture_output=True,
                            text=True, timeout=60).stdout
    email = "relay@proj.iam.gserviceaccount.com"
    fake_google.call("/_fake/service-accounts", {"client_email": email, "public_key_pem": public,
                                                 "delegated_scopes": ["https://www.googleapis.com/auth/gmail.send"],
                                                 "client_id": "1098765"})
    fake_google.call("/_fake/users", {"email": "ceo@corp.example"})
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"type": "service_account", "project_id": "proj", "private_key_id": "k1",
                                    "private_key": key.read_text(), "client_email": email, "client_id": "1098765",
                                    "token_uri": f"{fake_google.url}/token"}))
    return key_file


def test_service_account_with_subject(make_relay, fake_google, tmp_path):
    key_file = service_account_key(fake_google, tmp_path)
    relay = make_relay(config={**fake_google.relay_config(), **FAST}, setup=False, start=False)
    relay.cli_ok("account", "add", "corp", "--service-account", str(key_file), "--subject", "ceo@corp.example")
    relay.cli_ok("credential", "add", USERNAME, "--account", "corp", "--password-stdin", input=PASSWORD + "\n")
    relay.start()
    reply = send(relay, message("quarterly", sender="ceo@corp.example"), ["bob@example.com"])
    assert SENT_GMAIL_RE.search(reply), reply
    [sent] = fake_google.outbox()
    assert sent["user"] == "ceo@corp.example"
    stats = fake_google.stats()
    assert stats["last_assertion_claims"]["sub"] == "ceo@corp.example"
    assert stats["token_requests"].get("urn:ietf:params:oauth:grant-type:jwt-bearer") == 1


def test_concurrent_messages_share_one_token_refresh(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    replies: list[str] = []
    lock = threading.Lock()

    def worker(n: int):
        for i in range(4):
            text = send(relay, message(f"c{n}-{i}"), ["alice@example.com"])
            with lock:
                replies.append(text)

    in_threads(5, worker, timeout=120)
    assert len(replies) == 20, replies
    # 5 clients and 4 sends in flight per account: a message that finds the lane full is queued, not refused.
    assert all(SENT_GMAIL_RE.search(r) or QUEUED_RE.search(r) for r in replies), replies
    fake_google.wait_outbox(20)
    assert fake_google.stats()["token_requests"].get("refresh_token") == 1, fake_google.stats()


def test_backend_errors_twice_then_delivered_with_both_bodies(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    fake_google.inject("backendError500", count=2)
    reply = send(relay, message("flaky"), ["alice@example.com"])
    queued = QUEUED_RE.search(reply)
    assert queued, f"a 500 in the first attempt means queued: {reply}"
    log_id = int(queued.group(1))
    detail = wait_status(relay, log_id, "sent", timeout=30)
    attempts = detail["attempts"]
    assert [a["http_status"] for a in attempts] == [500, 500, 200], attempts
    for attempt in attempts[:2]:
        assert '"reason": "backendError"' in attempt["response_body"], attempt
        assert attempt["problem"] == "backend_error"
        assert attempt["next_delay_seconds"] is not None
    assert len(fake_google.outbox()) == 1


def test_rate_limit_retry_time_is_honoured(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    fake_google.inject("userRateLimit", count=1, retry_after=4)
    reply = send(relay, message("limited"), ["alice@example.com"])
    log_id = int(QUEUED_RE.search(reply).group(1))
    detail = wait_status(relay, log_id, "sent", timeout=30)
    first, retry = detail["attempts"][0], detail["attempts"][-1]
    assert first["http_status"] == 429 and first["problem"] == "rate_limited", first
    # Measured on the relay's own record, not the test's clock (a loaded machine delays the test, not the
    # relay's schedule): the retry started no earlier than Gmail's time. The log has whole seconds, and
    # the relay's own backoff after a first failure would be about 1 s.
    waited = (datetime.fromisoformat(retry["started_at"].replace("Z", "+00:00"))
              - datetime.fromisoformat(first["finished_at"].replace("Z", "+00:00"))).total_seconds()
    assert waited >= 3, (first, retry)
    assert retry["http_status"] == 200, retry
    assert 1.5 <= first["next_delay_seconds"] <= 4.5, first


def test_daily_sending_limit_pauses_the_account(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    started = time.monotonic()
    fake_google.inject("dailyLimit", count=1, retry_after=10)
    first = int(QUEUED_RE.search(send(relay, message("day-1"), ["alice@example.com"])).group(1))
    second = int(QUEUED_RE.search(send(relay, message("day-2"), ["alice@example.com"])).group(1))
    time.sleep(max(0.0, 3 - (time.monotonic() - started)))
    assert time.monotonic() - started < 9, "the machine is too slow for this test's 10 s window"
    assert fake_google.outbox() == [], "the paused account must not send before the limit resets"
    assert fake_google.stats()["send_requests"] == 1, "one call found the limit; the next message waited"
    assert accounts(relay)["shop"]["state"] == "ok"
    wait_status(relay, first, "sent", timeout=30)
    wait_status(relay, second, "sent", timeout=30)


def after_startup_probe(relay, timeout: float = 30):
    """Waits until the start-up token health probe has checked the account, so that its refresh cannot
    take a failure the test injects for the send."""
    deadline = time.monotonic() + timeout
    while relay.cli_json("status")["accounts"][0]["checked_at"] is None and time.monotonic() < deadline:
        time.sleep(0.2)


def test_revoked_grant_holds_mail_and_retry_all_delivers_it(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    after_startup_probe(relay)
    # The grant dies while the relay runs: its cached access token stops working (401), and the one
    # refresh the relay then tries answers invalid_grant.
    fake_google.call("/_fake/expire-access-tokens", {})
    fake_google.inject("invalidGrantRevoked", endpoint="token", count=1)
    first = send(relay, message("held-1"), ["alice@example.com"])
    assert HELD_RE.search(first) and HELD_RE.search(first).group(2) == "grant_revoked", first
    second = send(relay, message("held-2"), ["alice@example.com"])
    assert HELD_RE.search(second), f"later mail of a blocked account is held at once: {second}"
    assert fake_google.stats()["send_requests"] == 1, "one upload (401), then no more calls for held mail"
    assert accounts(relay)["shop"]["state"] == "needs_reauth"
    held = relay.log_json("--status", "held")
    assert len(held) == 2 and all(r["problem"] == "grant_revoked" for r in held), held
    detail = relay.show(int(HELD_RE.search(first).group(1)))
    assert [a["http_status"] for a in detail["attempts"]] == [401, 400], detail["attempts"]
    assert '"error_description": "Token has been expired or revoked."' in detail["attempts"][1]["response_body"]
    assert detail["attempts"][1]["endpoint"].endswith("/token") and detail["attempts"][1]["problem"] == "grant_revoked"
    # The fake is fixed (its one injected failure used up); the operator retries everything.
    out = relay.cli_ok("queue", "retry", "--all").stdout
    assert "2 message(s)" in out, out
    fake_google.wait_outbox(2, timeout=30)
    assert {r["status"] for r in relay.log_json()} == {"sent"}
    assert accounts(relay)["shop"]["state"] == "ok"


def test_failed_precondition_once_is_delivered_twice_is_held(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    fake_google.inject("failedPrecondition", count=1)
    once = send(relay, message("fp-once"), ["alice@example.com"])
    log_id = int((SENT_GMAIL_RE.search(once) or QUEUED_RE.search(once)).groups()[-1])
    detail = wait_status(relay, log_id, "sent")
    assert [a["problem"] for a in detail["attempts"]] == ["precondition_transient", None]

    fake_google.inject("failedPrecondition", count=2)
    twice = send(relay, message("fp-twice"), ["alice@example.com"])
    log_id = int((QUEUED_RE.search(twice) or HELD_RE.search(twice)).group(1))
    detail = wait_status(relay, log_id, "held")
    assert detail["problem"] == "precondition_failed"
    assert accounts(relay)["shop"]["state"] == "blocked"


def test_invalid_argument_is_a_554_in_sync_mode(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    fake_google.inject("invalidArgumentRecipient", count=1)
    with smtplib.SMTP(HOST, relay.port, timeout=60) as s:
        s.login(USERNAME, PASSWORD)
        s.mail("wordpress@shop.example")
        s.rcpt("alice@example.com")
        code, text = s.data(message("bad"))
    assert code == 554, (code, text)
    text = text.decode()
    assert text.startswith("5.6.0 Recipient address required (log "), text
    log_id = int(re.search(r"\(log (\d+)\)", text).group(1))
    detail = relay.show(log_id)
    assert detail["status"] == "failed" and detail["problem"] == "message_rejected"
    assert '"reason": "invalidArgument"' in detail["attempts"][0]["response_body"]


def test_queue_mode_answers_after_commit_and_worker_delivers(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, config={"delivery.mode": "queue"})
    reply = send(relay, message("queued"), ["alice@example.com"])
    log_id = int(QUEUED_RE.search(reply).group(1))
    detail = wait_status(relay, log_id, "sent")
    assert [e["kind"] for e in detail["events"]][:1] == ["accepted"]
    assert len(fake_google.outbox()) == 1
    metrics = relay.web_get("/metrics")
    assert 'relay_messages_accepted_total{account="shop"} 1' in metrics, metrics
    assert 'relay_messages_total{account="shop",outcome="sent"} 1' in metrics, metrics
    assert 'relay_token_refreshes_total{account="shop",result="ok"}' in metrics, metrics
    assert "relay_send_duration_seconds_bucket" in metrics, metrics
    # One message, so one group-commit transaction holding it.
    assert "relay_accept_commits_total 1\n" in metrics, metrics
    assert "relay_accept_committed_messages_total 1\n" in metrics, metrics


def test_discard_and_retry_refuse_what_they_cannot_do(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google)
    after_startup_probe(relay)
    fake_google.call("/_fake/expire-access-tokens", {})
    fake_google.inject("invalidGrantRevoked", endpoint="token", count=1)
    log_id = int(HELD_RE.search(send(relay, message("to-drop"), ["alice@example.com"])).group(1))
    assert relay.cli_ok("queue", "discard", str(log_id)).stdout.strip() == f"message {log_id} discarded"
    assert relay.show(log_id)["status"] == "discarded"
    again = relay.cli("queue", "discard", str(log_id))
    assert again.returncode != 0 and "discarded and cannot become discarded" in again.stderr, again
    missing = relay.cli("queue", "retry", "99999")
    assert missing.returncode != 0 and "no message with id 99999" in missing.stderr, missing
    assert any(e["kind"] == "discarded" and "operator" in e["detail"] for e in relay.show(log_id)["events"])


def test_kill_9_during_delivery_loses_nothing(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, config={"delivery.mode": "queue", "delivery.account_concurrency": 4})
    # Slow Gmail down so the kill lands while sends are in flight.
    fake_google.inject(hang_seconds=1.5, count=12)
    sent_ids: list[str] = []
    lock = threading.Lock()

    def client(n: int):
        with smtplib.SMTP(HOST, relay.port, timeout=60) as s:
            s.login(USERNAME, PASSWORD)
            for i in range(40):
                mid = f"<crash-{n}-{i}@e2e.example>"
                s.sendmail("wordpress@shop.example", ["alice@example.com"],
                           message(f"crash {n}-{i}", extra=f"Message-ID: {mid}\r\n"))
                with lock:
                    sent_ids.append(mid)

    in_threads(5, client)
    assert len(sent_ids) == 200
    time.sleep(0.5)
    relay.kill9()
    delivered_before = len(fake_google.outbox())
    assert delivered_before < 200, "the kill should land in the middle of delivery"
    relay.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ids = {m["raw"].split("Message-ID: ", 1)[1].split("\r\n", 1)[0] for m in fake_google.outbox()}
        if len(ids) >= 200:
            break
        time.sleep(0.5)
    ids = {m["raw"].split("Message-ID: ", 1)[1].split("\r\n", 1)[0] for m in fake_google.outbox()}
    assert ids == set(sent_ids), f"missing after restart: {len(set(sent_ids) - ids)}"
    duplicates = len(fake_google.outbox()) - len(ids)
    assert duplicates <= 4 + 12, f"{duplicates} duplicates: more than the sends in flight at the kill"
    rows = relay.log_json("--limit", "500")
    assert len(rows) == 200 and {r["status"] for r in rows} == {"sent"}


def test_doctor_and_send_test(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, start=False)
    fake_google.call("/_fake/users", {"email": ADDRESS})
    report = relay.cli_ok("doctor", "shop").stdout
    assert "ok    token refresh" in report and "ok    scopes: can send" in report, report
    assert relay.refresh not in report and "e2e-secret" not in report, "doctor never prints secrets"

    out = relay.cli_ok("send-test", "--account", "shop", "--to", "bob@example.com").stdout
    [sent] = fake_google.outbox()
    assert f"sent as {sent['id']}" in out and sent["to"] == ["bob@example.com"], out

    # A grant without a send scope: doctor says what was granted and what is needed.
    narrow = fake_google.refresh_token(ADDRESS, scopes=["openid", "email"])
    relay.cli_ok("account", "add", "narrow", "--client-id", "e2e-client", "--client-secret", "e2e-secret",
                 "--refresh-token", narrow, "--from", ADDRESS)
    result = relay.cli("doctor", "narrow")
    assert result.returncode == 1, result
    assert "FAIL  scopes: no scope that allows sending" in result.stdout and "gmail.send" in result.stdout, result.stdout
    narrow_status = next(a for a in relay.cli_json("status")["accounts"] if a["name"] == "narrow")
    assert narrow_status["state"] == "needs_reauth" and narrow_status["problem"]["code"] == "scope_insufficient"
    explained = json.dumps(narrow_status["problem"])
    assert "The grant has: email, openid." in explained, explained

    fake_google.revoke(relay.refresh)
    result = relay.cli("doctor", "shop")
    assert result.returncode == 1 and "FAIL  token refresh: grant_revoked" in result.stdout, result.stdout
    assert "Token has been expired or revoked." in result.stdout
    assert accounts(relay)["shop"]["state"] == "needs_reauth", "doctor records what Google said"
    failed = relay.cli("send-test", "--account", "shop", "--to", "bob@example.com")
    assert failed.returncode == 1 and "not sent: grant_revoked" in failed.stdout, failed


def test_sigterm_lets_the_send_in_flight_finish(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, config={"delivery.mode": "queue"})
    fake_google.inject(hang_seconds=3, count=1)
    log_id = int(QUEUED_RE.search(send(relay, message("in flight"), ["alice@example.com"])).group(1))
    deadline = time.monotonic() + 10
    while relay.show(log_id)["status"] != "sending" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert relay.show(log_id)["status"] == "sending"
    started = time.monotonic()
    relay.stop(timeout=30)  # asserts exit code 0
    assert time.monotonic() - started >= 1.5, "shutdown must wait for the send in flight"
    assert relay.show(log_id)["status"] == "sent"
    assert len(fake_google.outbox()) == 1


def test_account_update_gives_held_mail_another_try(make_relay, fake_google, tmp_path):
    key_file = service_account_key(fake_google, tmp_path)
    relay = make_relay(config={**fake_google.relay_config(), **FAST}, setup=False, start=False)
    relay.cli_ok("account", "add", "corp", "--service-account", str(key_file), "--from", "ceo@corp.example")
    relay.cli_ok("credential", "add", USERNAME, "--account", "corp", "--password-stdin", input=PASSWORD + "\n")
    relay.start()
    reply = send(relay, message("no subject yet", sender="ceo@corp.example"), ["bob@example.com"])
    held = HELD_RE.search(reply)
    assert held and held.group(2) == "sa_no_subject", reply
    status = next(a for a in relay.cli_json("status")["accounts"] if a["name"] == "corp")
    assert any("account update corp --subject" in step for step in status["problem"]["steps"]), status
    out = relay.cli_ok("account", "update", "corp", "--subject", "ceo@corp.example").stdout
    assert "1 held message(s) queued for another attempt" in out, out
    detail = wait_status(relay, int(held.group(1)), "sent")
    assert fake_google.outbox()[0]["user"] == "ceo@corp.example"
    assert accounts(relay)["corp"]["state"] == "ok"
    wrong = relay.cli("account", "update", "corp", "--client-secret-file", str(key_file))
    assert wrong.returncode != 0 and "service account" in (wrong.stderr + wrong.stdout), wrong
