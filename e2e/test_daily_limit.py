"""Per-login daily limit (`credential add|update USER --daily-limit N`): past it, MAIL FROM gets 452 4.5.3.

Real clients (smtplib, swaks) against the relay: the limit counts messages accepted for the login since
00:00 UTC, a refused message is not taken (nothing is stored or held), and another login of the same
account is not affected.
"""

from __future__ import annotations

import smtplib
import subprocess

from harness import ACCOUNT, HOST, PASSWORD, USERNAME

SENDER = "site@example.com"
OTHER = "site2"
OTHER_PASSWORD = "e2e-Site2-pass-Qw8Lm3"


def message(subject: str) -> bytes:
    return f"From: {SENDER}\r\nTo: r@example.com\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()


def send(relay, user: str, password: str, subject: str):
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.ehlo("e2e.example")
        s.login(user, password)
        return s.sendmail(SENDER, ["r@example.com"], message(subject))


def credentials(relay) -> dict[str, dict]:
    return {c["username"]: c for c in relay.cli_json("credential", "list")}


def test_limit_two_then_452_at_mail_from_and_other_login_unaffected(relay):
    relay.cli_ok("credential", "update", USERNAME, "--daily-limit", "2")
    relay.cli_ok("credential", "add", OTHER, "--account", ACCOUNT, "--password-stdin", input=OTHER_PASSWORD + "\n")

    assert send(relay, USERNAME, PASSWORD, "one") == {}
    assert send(relay, USERNAME, PASSWORD, "two") == {}
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.ehlo("e2e.example")
        s.login(USERNAME, PASSWORD)
        code, text = s.mail(SENDER)
        words = text.decode()
        assert code == 452, (code, words)
        assert words.startswith("4.5.3 "), words
        assert f"login {USERNAME}" in words and "2 messages a day" in words, words
        assert "resets at 00:00 UTC" in words, words
        # The transaction did not start: RCPT needs a MAIL first; the session goes on.
        code, _ = s.rcpt("r@example.com")
        assert code == 503
        assert s.noop()[0] == 250

    # The refused message was not taken: two rows, no held one.
    rows = relay.log_json()
    assert sorted(r["subject"] for r in rows) == ["one", "two"], rows

    # Another login of the same account sends on.
    assert send(relay, OTHER, OTHER_PASSWORD, "other") == {}

    listed = credentials(relay)
    assert listed[USERNAME]["daily_limit"] == 2 and listed[USERNAME]["sent_today"] == 2, listed
    assert listed[OTHER]["daily_limit"] is None and listed[OTHER]["sent_today"] == 1, listed
    text = relay.cli_ok("credential", "list").stdout
    assert "TODAY (UTC)" in text and "DAILY LIMIT" in text, text
    # The status page, /api/status and `status` show the same counts.
    logins = {l["username"]: l for l in relay.cli_json("status")["logins"]}
    assert logins[USERNAME] == {"username": USERNAME, "account": ACCOUNT, "sent_today": 2, "daily_limit": 2}, logins
    assert logins[OTHER]["sent_today"] == 1 and logins[OTHER]["daily_limit"] is None, logins
    page = relay.web_get("/")
    assert "SMTP logins today" in page and "(reached: refused until 00:00 UTC)" in page, page[-3000:]
    assert f"  {USERNAME} ({ACCOUNT}): 2 of 2, limit reached" in relay.cli_ok("status").stdout

    # Raising the limit lets the next message through; removing it too.
    relay.cli_ok("credential", "update", USERNAME, "--daily-limit", "3")
    assert send(relay, USERNAME, PASSWORD, "three") == {}
    relay.cli_ok("credential", "update", USERNAME, "--no-daily-limit")
    assert send(relay, USERNAME, PASSWORD, "four") == {}
    assert credentials(relay)[USERNAME]["daily_limit"] is None


def test_swaks_sees_the_refusal_with_a_limit_set_at_add(relay):
    relay.cli_ok("credential", "add", OTHER, "--account", ACCOUNT, "--daily-limit", "1", "--password-stdin",
                 input=OTHER_PASSWORD + "\n")

    def swaks(subject: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["swaks", "--server", f"{HOST}:{relay.port}", "--auth", "PLAIN", "--auth-user", OTHER,
             "--auth-password", OTHER_PASSWORD, "--from", SENDER, "--to", "r@example.com",
             "--header", f"Subject: {subject}", "--body", "hi"],
            capture_output=True, text=True, timeout=60,
        )

    first = swaks("first")
    assert first.returncode == 0, first.stdout + first.stderr
    second = swaks("second")
    assert second.returncode != 0
    assert f"452 4.5.3 Daily limit reached: login {OTHER} may send 1 message a day" in second.stdout, second.stdout
    assert [r["subject"] for r in relay.log_json()] == ["first"]


def test_bad_daily_limit_arguments_are_refused(relay):
    both = relay.cli("credential", "update", USERNAME, "--daily-limit", "2", "--no-daily-limit")
    assert both.returncode != 0 and "--no-daily-limit" in both.stderr, both.stderr
    negative = relay.cli("credential", "update", USERNAME, "--daily-limit", "-1")
    assert negative.returncode != 0
    unknown = relay.cli("credential", "update", "nobody", "--daily-limit", "2")
    assert unknown.returncode != 0 and "nobody" in unknown.stderr, unknown.stderr
