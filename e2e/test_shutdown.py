"""SIGTERM: idle clients hear 421, the process exits 0, and what was accepted stays accepted."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from harness import HOST, STOP_TIMEOUT


def test_sigterm_with_idle_client(relay):
    idle = relay.connect()
    authed = relay.authed()
    try:
        idle.ehlo()
        relay.proc.send_signal(signal.SIGTERM)
        for c in (idle, authed):
            reply = c.read_reply(timeout=STOP_TIMEOUT)
            assert reply.code == 421, reply
            assert reply.lines[0].startswith("4.3.2"), reply
            c.wait_closed(timeout=STOP_TIMEOUT)
        code = relay.proc.wait(timeout=STOP_TIMEOUT)
        assert code == 0, f"exit code {code} after SIGTERM"
    finally:
        idle.close()
        authed.close()
    with pytest.raises(OSError):
        socket.create_connection((HOST, relay.port), timeout=2).close()


def test_sigint_is_graceful_too(relay):
    with relay.connect() as c:
        c.ehlo()
        relay.proc.send_signal(signal.SIGINT)
        assert c.read_reply(timeout=STOP_TIMEOUT).code == 421
    assert relay.proc.wait(timeout=STOP_TIMEOUT) == 0


def test_sigterm_does_not_cut_a_message_in_flight(relay):
    """A client in the middle of DATA may finish: the message is accepted, then the session ends."""
    c = relay.authed()
    try:
        c.expect("MAIL FROM:<site@example.com>", 250)
        c.expect("RCPT TO:<r@example.com>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
        relay.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        c.send(b"second half\r\n.\r\n")
        final = c.read_reply(timeout=STOP_TIMEOUT)
        assert final.code == 250, final
        try:
            after = c.cmd("NOOP", timeout=STOP_TIMEOUT)
            assert after.code == 421, after
        except (ConnectionError, OSError):
            pass  # closing right after the 250 is fine as well
    finally:
        c.close()
    assert relay.proc.wait(timeout=STOP_TIMEOUT) == 0
    [row] = relay.log_json()
    assert row["subject"] == "in flight"
    assert relay.stored_bytes(row["id"]) == b"Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n"


def test_restart_keeps_log(relay):
    with relay.authed() as c:
        final = c.send_message("site@example.com", ["r@example.com"], b"Subject: before restart\r\n\r\nx\r\n")
        assert final.code == 250, final
        c.expect("QUIT", 221)
    relay.stop()
    relay.start()
    assert [r["subject"] for r in relay.log_json()] == ["before restart"]
    with relay.authed() as c:
        assert c.send_message("site@example.com", ["r@example.com"], b"Subject: after\r\n\r\ny\r\n").code == 250
    assert len(relay.log_json()) == 2
    relay.stop()
