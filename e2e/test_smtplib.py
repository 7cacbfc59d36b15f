"""Python's smtplib against the real relay: envelopes, Bcc, SMTPUTF8, limits, STARTTLS, implicit TLS."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

import pytest

from harness import HOST, PASSWORD, USERNAME, unverified_context

SENDER = "site@example.com"


def client(relay, login: bool = True) -> smtplib.SMTP:
    s = smtplib.SMTP(HOST, relay.port, timeout=30)
    s.ehlo("e2e.example")
    if login:
        s.login(USERNAME, PASSWORD)
    return s


def rows_oldest_first(relay) -> list[dict]:
    return sorted(relay.log_json(), key=lambda r: r["id"])


def simple_message(subject: str, size: int = 0) -> bytes:
    """A small message; with `size`, padded with body lines to exactly that many bytes."""
    message = f"From: {SENDER}\r\nTo: r@example.com\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    if size:
        pad = size - len(message)
        assert pad >= 2
        while pad > 74:
            message += b"y" * 70 + b"\r\n"
            pad -= 72
        message += b"z" * (pad - 2) + b"\r\n"
        assert len(message) == size
    return message


def test_login_sendmail_several_recipients(relay):
    rcpts = ["a@example.com", "b@example.net", "c@example.org", "a+tag@example.com"]
    message = (
        b"From: site@example.com\r\nTo: a@example.com, b@example.net\r\nCc: c@example.org\r\n"
        b"Subject: several\r\nMessage-ID: <several-1@example.com>\r\n\r\n"
        b"line one\r\n.leading dot\r\n..two dots\r\n.\r\nlast\r\n"
    )
    with client(relay) as s:
        refused = s.sendmail(SENDER, rcpts, message)
        assert refused == {}
    [row] = rows_oldest_first(relay)
    assert row["recipients"] == rcpts, row
    assert row["mail_from"] == SENDER, row
    assert row["subject"] == "several", row
    assert row["message_id"].strip("<>") == "several-1@example.com", row
    assert row["status"] == "sent" and row["gmail_id"] == f"sandbox-{row['id']}", row
    # smtplib dot-stuffs on the wire; the relay must store the original.
    assert relay.stored_bytes(row["id"]) == message


def test_send_message_bcc_is_envelope_only(relay):
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "to@example.com"
    msg["Cc"] = "cc@example.com"
    msg["Bcc"] = "hidden@example.com, hidden2@example.org"
    msg["Subject"] = "with bcc"
    msg.set_content("secret recipients\n")
    with client(relay) as s:
        assert s.send_message(msg) == {}
    [row] = rows_oldest_first(relay)
    assert sorted(row["recipients"]) == sorted(
        ["to@example.com", "cc@example.com", "hidden@example.com", "hidden2@example.org"]), row
    stored = relay.stored_bytes(row["id"])
    header = stored.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nbcc:" not in b"\r\n" + header.lower(), header  # smtplib strips Bcc before sending
    assert b"hidden@example.com" not in stored


def test_smtputf8_recipient(relay):
    sender = "sïte@exämple.com"
    rcpts = ["josé@example.com", "用户@例子.example"]
    message = (
        "From: Sïte <sïte@exämple.com>\r\nTo: josé@example.com, 用户@例子.example\r\n"
        "Subject: ünïcödé 主题\r\n\r\nGrüße, 你好\r\n"
    ).encode("utf-8")
    with client(relay) as s:
        assert s.has_extn("smtputf8"), s.esmtp_features
        assert s.has_extn("8bitmime"), s.esmtp_features
        assert s.sendmail(sender, rcpts, message, mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
    [row] = rows_oldest_first(relay)
    assert row["recipients"] == rcpts, row
    assert row["mail_from"] == sender, row
    assert row["subject"] == "ünïcödé 主题", row
    assert relay.stored_bytes(row["id"]) == message


LIMIT = 2000


def test_size_limit(make_relay):
    relay = make_relay(config={"smtp.max_message_bytes": LIMIT})
    big = simple_message("too big", LIMIT + 1)
    exact = simple_message("exactly the limit", LIMIT)
    with client(relay) as s:
        assert s.esmtp_features.get("size") == str(LIMIT), s.esmtp_features
        # smtplib announces SIZE=<len> at MAIL when the server offers SIZE: refused right there.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            s.sendmail(SENDER, ["r@example.com"], big)
        assert refused.value.smtp_code == 552, refused.value
        assert refused.value.smtp_error.startswith(b"5.3.4"), refused.value

        # Without SIZE=, the relay finds out while reading DATA.
        code, text = s.mail(SENDER)
        assert code == 250, text
        code, text = s.rcpt("r@example.com")
        assert code == 250, text
        code, text = s.data(big)  # data() returns the final reply, it does not raise
        assert code == 552 and text.startswith(b"5.3.4"), (code, text)

        # The session goes on, and a message of exactly the limit is fine.
        assert s.noop()[0] == 250
        assert s.sendmail(SENDER, ["r@example.com"], exact) == {}
    rows = rows_oldest_first(relay)
    assert [r["subject"] for r in rows] == ["exactly the limit"], rows
    assert relay.stored_bytes(rows[0]["id"]) == exact


def test_size_parameter_over_limit_raw(make_relay):
    relay = make_relay(config={"smtp.max_message_bytes": LIMIT})
    with relay.authed() as c:
        reply = c.cmd(f"MAIL FROM:<{SENDER}> SIZE={LIMIT + 1}")
        assert reply.code == 552 and reply.lines[0].startswith("5.3.4"), reply
        c.expect(f"MAIL FROM:<{SENDER}> SIZE={LIMIT}", 250)


def test_too_many_recipients(make_relay):
    relay = make_relay(config={"smtp.max_recipients": 3})
    rcpts = [f"r{i}@example.com" for i in range(1, 6)]
    with client(relay) as s:
        s.mail(SENDER)
        for rcpt in rcpts[:3]:
            assert s.rcpt(rcpt)[0] == 250
        code, text = s.rcpt(rcpts[3])
        assert code == 452 and text.startswith(b"4.5.3"), (code, text)
        s.rset()
        # The header names one of the accepted recipients: Gmail sends to three addresses in all.
        message = simple_message("five rcpts").replace(b"To: r@example.com", b"To: r1@example.com")
        refused = s.sendmail(SENDER, rcpts, message)
        assert set(refused) == set(rcpts[3:]), refused
        assert all(code == 452 for code, _ in refused.values()), refused
    [row] = rows_oldest_first(relay)
    assert row["recipients"] == rcpts[:3], row


def test_header_recipients_count_too(make_relay):
    """Gmail sends to To/Cc/Bcc, not to the envelope: a header naming more than the limit is refused."""
    relay = make_relay(config={"smtp.max_recipients": 3})
    with client(relay) as s:
        try:
            s.sendmail(SENDER, ["r1@example.com"], simple_message("header fan-out").replace(
                b"To: r@example.com", b"To: r1@example.com, r2@example.com\r\nCc: r3@example.com, r4@example.com"))
        except smtplib.SMTPDataError as error:
            assert error.smtp_code == 550 and error.smtp_error.startswith(b"5.5.3"), error
        else:
            raise AssertionError("a message to four header recipients was accepted with max_recipients 3")
    assert rows_oldest_first(relay) == []


def test_starttls(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert)
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=unverified_context())
        assert code == 220
        s.ehlo()
        assert not s.has_extn("starttls"), s.esmtp_features
        assert "PLAIN" in s.esmtp_features.get("auth", "").upper().split(), s.esmtp_features
        s.login(USERNAME, PASSWORD)
        assert s.sendmail(SENDER, ["tls@example.com"], simple_message("over starttls")) == {}
    [row] = rows_oldest_first(relay)
    assert row["recipients"] == ["tls@example.com"] and row["status"] == "sent", row


def test_implicit_tls(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert, tls_listen=True)
    with smtplib.SMTP_SSL(HOST, relay.tls_port, timeout=30, context=unverified_context()) as s:
        s.ehlo()
        assert not s.has_extn("starttls"), s.esmtp_features
        s.login(USERNAME, PASSWORD)
        assert s.sendmail(SENDER, ["ssl@example.com"], simple_message("over implicit tls")) == {}
    [row] = rows_oldest_first(relay)
    assert row["recipients"] == ["ssl@example.com"], row


def test_wrong_password_is_delayed_and_growing(relay):
    durations = []
    for _ in range(3):
        with relay.connect() as c:
            c.ehlo()
            start = time.monotonic()
            reply = c.auth_plain(USERNAME, "wrong-password")
            durations.append(time.monotonic() - start)
            assert reply.code == 535 and reply.lines[0].startswith("5.7.8"), reply
    assert durations[0] >= 0.2, f"first 535 not delayed: {durations}"
    assert durations[2] > durations[0] * 1.5, f"delay not growing per peer: {durations}"
    # The right password still works afterwards (the delay slows guessing, it does not lock out).
    with client(relay) as s:
        assert s.noop()[0] == 250
