"""Hand-written SMTP bytes: defences (cross-protocol, error limit, smuggling) and pipelining/STARTTLS framing.

Transcripts: `C:` is what the test sends, `S:` what the relay must answer.
"""

from __future__ import annotations

import socket
import ssl

from harness import log_id_from_reply, unverified_context

SENDER = "site@example.com"


def test_greeting_and_ehlo_extensions(make_relay):
    relay = make_relay(config={"smtp.max_message_bytes": 123456})
    with relay.connect(greet=False) as c:
        greeting = c.read_reply()
        assert greeting.code == 220 and greeting.lines[0].endswith(" ESMTP gmail-relay"), greeting
        extensions = c.ehlo()
        for required in ("PIPELINING", "SIZE 123456", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"):
            assert required in extensions, f"{required} missing from {extensions}"
        assert any(e.startswith("AUTH ") and {"PLAIN", "LOGIN"} <= set(e.split()[1:]) for e in extensions), extensions
        assert "STARTTLS" not in extensions  # no certificate configured


def test_http_request_is_refused_and_closed(relay):
    with relay.connect() as c:
        # C: GET / HTTP/1.1   S: 554 5.7.0 ... and close
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: e2e\r\n\r\n")
        reply = c.read_reply()
        assert reply.code == 554 and reply.lines[0].startswith("5.7.0"), reply
        leftover = c.wait_closed()
        assert b"250" not in leftover and b"500" not in leftover, leftover


def test_unknown_verb_and_vrfy(relay):
    with relay.connect() as c:
        c.ehlo()
        reply = c.cmd("FROBNICATE now")
        assert reply.code == 500, reply
        reply = c.cmd("VRFY postmaster")
        assert reply.code == 252, reply
        c.expect("NOOP", 250)
        c.expect("QUIT", 221)


def test_three_protocol_errors_close(relay):
    with relay.connect() as c:
        c.ehlo()
        codes = []
        for verb in (b"BOGUS1", b"BOGUS2", b"BOGUS3"):
            c.send(verb + b"\r\n")
            codes.append(c.read_reply().code)
            if codes[-1] == 421:
                break
        else:
            codes.append(c.read_reply().code)  # the 421 after the third error's own reply
        # S: 500, 500, 421 (third error answered with the 421) or 500, 500, 500, 421.
        assert codes in ([500, 500, 421], [500, 500, 500, 421]), f"replies {codes}"
        c.wait_closed()


def auth_and_envelope(c, rcpts):
    c.expect(f"MAIL FROM:<{SENDER}>", 250)
    for rcpt in rcpts:
        c.expect(f"RCPT TO:<{rcpt}>", 250)
    c.expect("DATA", 354)


SMUGGLED_HEAD = b"From: site@example.com\r\nTo: victim@example.com\r\nSubject: smuggling\r\n\r\nhello\r\n"
# Three fake end-of-data markers (LF.LF, LF.CRLF, CRLF.LF), each followed by a full smuggled transaction.
SMUGGLED_REST = (
    b"part one\n.\n"
    b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@x>\r\nDATA\r\nsmuggled-1\r\n"
    b"part two\n.\r\n"
    b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@x>\r\nDATA\r\nsmuggled-2\r\n"
    b"part three\r\n.\n"
    b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@x>\r\nDATA\r\nsmuggled-3\r\n"
)


def test_smtp_smuggling_stays_one_message(relay):
    with relay.authed() as c:
        auth_and_envelope(c, ["victim@example.com"])
        c.send(SMUGGLED_HEAD + SMUGGLED_REST + b".\r\n")
        final = c.read_reply(timeout=60)
        assert final.code == 250, final
        # No replies to smuggled commands may follow.
        assert c.nothing_pending(1.0) == b""
        c.expect("NOOP", 250)
        c.expect("QUIT", 221)
    rows = relay.log_json()
    assert len(rows) == 1, f"expected exactly one message, log has {rows}"
    assert rows[0]["recipients"] == ["victim@example.com"], rows[0]
    assert rows[0]["mail_from"] == SENDER, rows[0]
    stored = relay.stored_bytes(rows[0]["id"])
    exact = SMUGGLED_HEAD + SMUGGLED_REST
    # "\r\n.\nMAIL..." is a CRLF line starting with a dot that has more on it, so RFC 5321 4.5.2
    # unstuffing may remove that dot; either way nothing else may change.
    unstuffed = exact.replace(b"part three\r\n.\n", b"part three\r\n\n")
    assert stored in (exact, unstuffed), f"stored {stored!r}"
    for marker in (b"smuggled-1", b"smuggled-2", b"smuggled-3", b"MAIL FROM:<evil@x>"):
        assert marker in stored


def test_bare_lf_dot_not_end_of_data_even_at_packet_edges(relay):
    """The fake ends arrive in their own packets: the relay must not decide per-read."""
    with relay.authed() as c:
        auth_and_envelope(c, ["victim@example.com"])
        pieces = [b"Subject: split\r\n\r\nstart\n", b".", b"\n", b"MAIL FROM:<evil@x>\r\n", b"\r", b"\n.",
                  b"\nafter\r\n", b".", b"\r\n"]
        for piece in pieces[:-1]:
            c.send(piece)
            assert c.nothing_pending(0.15) == b"", f"relay replied after {piece!r}"
        c.send(pieces[-1])
        final = c.read_reply(timeout=60)
        assert final.code == 250, final
    [row] = relay.log_json()
    stored = relay.stored_bytes(row["id"])
    exact = b"Subject: split\r\n\r\nstart\n.\nMAIL FROM:<evil@x>\r\n\r\n.\nafter\r\n"
    assert stored in (exact, exact.replace(b"\r\n\r\n.\nafter", b"\r\n\r\n\nafter")), stored


def test_pipelined_group(relay):
    with relay.authed() as c:
        # One packet: MAIL, RCPT, RCPT, DATA. Four replies in order, nothing before the group is read.
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<p1@example.com>\r\nRCPT TO:<p2@example.com>\r\nDATA\r\n".encode())
        codes = [c.read_reply().code for _ in range(4)]
        assert codes == [250, 250, 250, 354], codes
        message = b"Subject: pipelined\r\n\r\n.dot\r\nbody\r\n"
        c.send(b"Subject: pipelined\r\n\r\n..dot\r\nbody\r\n.\r\n")
        final = c.read_reply(timeout=60)
        assert final.code == 250, final
        log_id = log_id_from_reply(final.text)
        # A second transaction pipelined with RSET/NOOP in the same packet.
        c.send(b"RSET\r\nNOOP\r\nMAIL FROM:<site@example.com>\r\nRCPT TO:<p3@example.com>\r\nDATA\r\n")
        codes = [c.read_reply().code for _ in range(5)]
        assert codes == [250, 250, 250, 250, 354], codes
        c.send(b"Subject: second\r\n\r\nx\r\n.\r\nQUIT\r\n")
        assert c.read_reply(timeout=60).code == 250
        assert c.read_reply().code == 221
    rows = sorted(relay.log_json(), key=lambda r: r["id"])
    assert [r["recipients"] for r in rows] == [["p1@example.com", "p2@example.com"], ["p3@example.com"]], rows
    assert relay.stored_bytes(log_id) == message


def test_starttls_discards_pipelined_plaintext(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert)
    c = relay.connect()
    try:
        c.ehlo()
        # C: STARTTLS + a command in the same plaintext packet (the STARTTLS command-injection attack).
        c.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        reply = c.read_reply()
        assert reply.code == 220, reply
        assert c.buf == b"", f"relay answered the injected command in plaintext: {c.buf!r}"
        c.sock = unverified_context().wrap_socket(c.sock, server_hostname="localhost")
        assert isinstance(c.sock, ssl.SSLSocket)
        # Inside TLS the first reply must answer our EHLO, not the injected MAIL.
        extensions = c.ehlo()
        assert "STARTTLS" not in extensions
        assert c.nothing_pending(0.5) == b""
        # The session was reset: no sender from before, and AUTH is needed again.
        reply = c.cmd("RCPT TO:<x@example.com>")
        assert reply.code in (503, 530), reply
        reply = c.auth_plain()
        assert reply.code == 235, reply
        c.expect(f"MAIL FROM:<{SENDER}>", 250)
        c.expect("RCPT TO:<tls@example.com>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: after starttls\r\n\r\nok\r\n.\r\n")
        assert c.read_reply(timeout=60).code == 250
        c.expect("QUIT", 221)
    finally:
        c.close()
    [row] = relay.log_json()
    assert row["mail_from"] == SENDER and row["recipients"] == ["tls@example.com"], row


def test_mail_before_auth(relay):
    with relay.connect() as c:
        c.ehlo()
        reply = c.cmd(f"MAIL FROM:<{SENDER}>")
        assert reply.code == 530 and reply.lines[0].startswith("5.7.0"), reply


def test_mail_without_helo(relay):
    with relay.connect() as c:
        reply = c.cmd(f"MAIL FROM:<{SENDER}>")
        assert reply.code in (503, 530), reply
