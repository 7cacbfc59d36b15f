"""AUTH only on TLS or from smtp.plaintext_auth_networks; STARTTLS and implicit TLS unlock it."""

from __future__ import annotations

import base64
import subprocess

import pytest

from harness import PASSWORD, USERNAME, log_id_from_reply

# Loopback is NOT in this network, so the tests' own connections count as "remote".
REMOTE_ONLY = {"smtp.plaintext_auth_networks": "10.255.0.0/16"}
MESSAGE = b"From: site@example.com\r\nTo: r@example.com\r\nSubject: after tls\r\n\r\nbody\r\n"


def has_auth(extensions: list[str]) -> bool:
    return any(e.split()[0] == "AUTH" for e in extensions)


def auth_line(extensions: list[str]) -> list[str]:
    line = next(e for e in extensions if e.split()[0] == "AUTH")
    return line.split()[1:]


@pytest.fixture
def remote_relay(make_relay, tls_cert):
    return make_relay(config=REMOTE_ONLY, tls=tls_cert, tls_listen=True)


def test_plaintext_auth_refused_then_starttls_auth_works(remote_relay):
    relay = remote_relay
    with relay.connect() as c:
        extensions = c.ehlo()
        assert not has_auth(extensions), f"AUTH advertised without TLS to a non-allowed peer: {extensions}"
        assert "STARTTLS" in extensions, extensions

        token = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
        reply = c.cmd(f"AUTH PLAIN {token}")
        assert reply.code == 538 and reply.lines[0].startswith("5.7.11"), reply
        reply = c.cmd("MAIL FROM:<site@example.com>")
        assert reply.code == 530 and reply.lines[0].startswith("5.7.0"), reply

        c.starttls()
        extensions = c.ehlo()
        assert has_auth(extensions), f"AUTH not advertised after STARTTLS: {extensions}"
        assert {"PLAIN", "LOGIN"} <= set(auth_line(extensions)), extensions
        assert "STARTTLS" not in extensions, f"STARTTLS advertised inside TLS: {extensions}"
        reply = c.auth_plain()
        assert reply.code == 235, reply
        final = c.send_message("site@example.com", ["r@example.com"], MESSAGE)
        assert final.code == 250, final
        log_id = log_id_from_reply(final.text)
        assert relay.stored_bytes(log_id) == MESSAGE
        c.expect("QUIT", 221)
    assert [row["id"] for row in relay.log_json()] == [log_id]


def test_auth_login_over_starttls(remote_relay):
    relay = remote_relay
    with relay.connect() as c:
        c.ehlo()
        reply = c.cmd("AUTH LOGIN")
        assert reply.code == 538 and reply.lines[0].startswith("5.7.11"), reply
        c.starttls()
        c.ehlo()
        c.expect("AUTH LOGIN", 334)
        c.expect(base64.b64encode(USERNAME.encode()).decode(), 334)
        reply = c.cmd(base64.b64encode(PASSWORD.encode()).decode(), timeout=30)
        assert reply.code == 235, reply


def test_implicit_tls_offers_auth(remote_relay):
    relay = remote_relay
    with relay.connect(implicit_tls=True) as c:
        extensions = c.ehlo()
        assert has_auth(extensions), extensions
        assert "STARTTLS" not in extensions, extensions
        assert c.auth_plain().code == 235


def test_swaks_needs_tls_for_auth(remote_relay):
    relay = remote_relay
    base = ["swaks", "--server", "127.0.0.1", "--port", str(relay.port), "--timeout", "30",
            "--from", "site@example.com", "--to", "r@example.com",
            "--auth", "PLAIN", "--auth-user", USERNAME, "--auth-password", PASSWORD]
    plain = subprocess.run(base, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    assert plain.returncode != 0, plain.stdout.decode()
    assert b"250 2.0.0" not in plain.stdout
    tls = subprocess.run(base + ["--tls"], capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    assert tls.returncode == 0, (tls.stdout + tls.stderr).decode()
    assert b"Ok: sent as sandbox-" in tls.stdout
    assert len(relay.log_json()) == 1


def test_default_networks_allow_loopback_plaintext_auth(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert)
    with relay.connect() as c:
        extensions = c.ehlo()
        assert has_auth(extensions) and {"PLAIN", "LOGIN"} <= set(auth_line(extensions)), extensions
        assert "STARTTLS" in extensions, extensions
        assert c.auth_plain().code == 235


def test_no_starttls_without_certificate(relay):
    with relay.connect() as c:
        extensions = c.ehlo()
        assert "STARTTLS" not in extensions, extensions
        reply = c.cmd("STARTTLS")
        assert reply.code != 220 and reply.code >= 400, reply
        c.expect("NOOP", 250)
