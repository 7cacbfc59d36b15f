"""swaks against the real relay: AUTH mechanisms, STARTTLS, implicit TLS, pipelining, exact bytes."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from harness import SENT_RE

RCPT = "rcpt@example.com"
SENDER = "site@example.com"


def swaks(port: int, *args: str, to: str = RCPT, timeout: float = 90) -> subprocess.CompletedProcess:
    """Runs swaks; `result.output` is its whole transcript (stdout + stderr)."""
    result = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(port), "--timeout", "30",
         "--from", SENDER, "--to", to, *args],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
    )
    result.output = (result.stdout + result.stderr).decode("utf-8", "replace")
    return result


def auth_args(relay, mechanism: str, password: str | None = None) -> list[str]:
    return ["--auth", mechanism, "--auth-user", relay.username, "--auth-password", password or relay.password]


def sent_log_id(result) -> int:
    """The log id from `250 2.0.0 Ok: sent as sandbox-<id> (log <id>)` in swaks' transcript."""
    m = SENT_RE.search(result.output)
    assert result.returncode == 0 and m, f"swaks exited {result.returncode}:\n{result.output}"
    assert m.group(1) == f"sandbox-{m.group(2)}", m.group(0)
    return int(m.group(2))


def assert_logged(relay, log_id: int, rcpts=(RCPT,)):
    row = next((r for r in relay.log_json() if r["id"] == log_id), None)
    assert row is not None, f"log {log_id} missing from log --json: {relay.log_json()}"
    assert row["status"] == "sent", row
    assert row["account"] == "sandbox", row
    assert row["mail_from"] == SENDER, row
    assert row["recipients"] == list(rcpts), row
    return row


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_mechanism(relay, mechanism):
    result = swaks(relay.port, *auth_args(relay, mechanism))
    log_id = sent_log_id(result)
    assert "235 " in result.output, result.output
    row = assert_logged(relay, log_id)
    assert row["gmail_id"] == f"sandbox-{log_id}", row


def test_starttls(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert)
    result = swaks(relay.port, "--tls", *auth_args(relay, "PLAIN"))
    log_id = sent_log_id(result)
    assert "TLS started" in result.output, result.output
    # swaks marks commands/replies sent inside TLS with ~> / <~.
    assert "<~  250 2.0.0 Ok: sent as" in result.output, result.output
    assert_logged(relay, log_id)


def test_implicit_tls(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert, tls_listen=True)
    result = swaks(relay.tls_port, "--tlsc", *auth_args(relay, "LOGIN"))
    log_id = sent_log_id(result)
    assert "TLS started" in result.output, result.output
    banner = next(line for line in result.output.splitlines() if "<~  220" in line)
    assert "ESMTP gmail-relay" in banner, result.output
    assert_logged(relay, log_id)


def test_pipeline(relay):
    result = swaks(relay.port, "--pipeline", *auth_args(relay, "PLAIN"), to=f"{RCPT},second@example.com")
    log_id = sent_log_id(result)
    assert_logged(relay, log_id, rcpts=(RCPT, "second@example.com"))


# -- exact bytes -----------------------------------------------------------------------------
# How swaks 20201014 turns `--data @file` into DATA (read from /usr/bin/swaks, "SMTP DATA" block,
# and checked below against a capture server): it splits the headers off at the first blank line and
# re-joins header lines with CRLF; replaces literal `\n` and %TOKENS%; strips a leading "From " line
# and a trailing "." line; dot-stuffs ("\n." -> "\n.."); turns every bare LF into CRLF (CRLF stays);
# then appends "\r\n." and sends it with a final CRLF. So for a file with LF line ends, no CR, no
# backslash-n, no %TOKEN%, no "From " first line and no final "." line, the message swaks MEANS is
# `file.replace(LF, CRLF) + CRLF` (the CRLF it adds before the dot ends one extra empty line).
# All bytes pass through unchanged: swaks reads and writes the file as raw bytes.

DATA_FILE = (
    b"From: Site <site@example.com>\n"
    b"To: rcpt@example.com\n"
    b"Subject: =?UTF-8?Q?caf=C3=A9?= bytes test\n"
    b"X-Raw-UTF8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n"
    b"X-Raw-Latin1: caf\xe9 na\xefve\n"
    b"Message-ID: <swaks-bytes-1@example.com>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"Latin-1: \xe0 \xe9 \xfc \xdf \xff\n"
    b"UTF-8: \xc3\xa0 \xe2\x82\xac \xe4\xb8\xad\n"
    b"\n"
    b"A group of dot lines follows:\n"
    b".\n"
    b"..\n"
    b".x\n"
    b"...three\n"
    b" .space-dot\n"
    b"text after the dots\n"
    b".\n"
    b"tail line\n"
)


def swaks_meaning(file_bytes: bytes) -> bytes:
    assert b"\r" not in file_bytes and b"\\n" not in file_bytes and b"%" not in file_bytes
    return file_bytes.replace(b"\n", b"\r\n") + b"\r\n"


def capture_swaks_wire(tmp_path, data_path) -> bytes:
    """Runs swaks against a minimal local SMTP listener and returns the raw DATA bytes (up to the final dot)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(30)
    port = server.getsockname()[1]
    captured: dict = {}

    def serve():
        conn, _ = server.accept()
        conn.settimeout(30)
        f = conn.makefile("rb")
        conn.sendall(b"220 capture ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-capture\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += f.readline()
                captured["data"] = data
                conn.sendall(b"250 ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                conn.close()
                return
            else:
                conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    result = swaks(port, "--data", f"@{data_path}")
    thread.join(timeout=30)
    server.close()
    assert result.returncode == 0, result.output
    return captured["data"]


def unstuff(wire: bytes) -> bytes:
    assert wire.endswith(b"\r\n.\r\n")
    body = wire[:-3]  # keep the CRLF that ends the last line
    lines = body.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_data_file_bytes_exact(relay, tmp_path):
    data_path = tmp_path / "message.eml"
    data_path.write_bytes(DATA_FILE)
    meant = swaks_meaning(DATA_FILE)
    # The model above is what this swaks really does on the wire (after undoing its dot-stuffing).
    wire = capture_swaks_wire(tmp_path, data_path)
    assert b"\r\n..\r\n" in wire and b"\r\n...\r\n" in wire and b"\r\n..x\r\n" in wire
    assert unstuff(wire) == meant

    result = swaks(relay.port, *auth_args(relay, "PLAIN"), "--data", f"@{data_path}")
    log_id = sent_log_id(result)
    stored = relay.stored_bytes(log_id)
    assert stored == meant, f"stored spool differs from what swaks meant:\nstored={stored!r}\nmeant ={meant!r}"
    row = assert_logged(relay, log_id)
    assert row["size"] == len(meant), row
    assert row["message_id"].strip("<>") == "swaks-bytes-1@example.com", row


def test_data_file_bytes_exact_over_starttls_pipelined(make_relay, tls_cert, tmp_path):
    relay = make_relay(tls=tls_cert)
    data_path = tmp_path / "message.eml"
    data_path.write_bytes(DATA_FILE)
    result = swaks(relay.port, "--tls", "--pipeline", *auth_args(relay, "LOGIN"), "--data", f"@{data_path}")
    log_id = sent_log_id(result)
    assert relay.stored_bytes(log_id) == swaks_meaning(DATA_FILE)


def test_wrong_password(relay):
    result = swaks(relay.port, *auth_args(relay, "PLAIN", password="not-the-password"))
    assert result.returncode != 0, result.output
    assert "535 5.7.8" in result.output, result.output
    assert "250 2.0.0" not in result.output
    assert relay.log_json() == []


def test_wrong_user_login_mechanism(relay):
    result = swaks(relay.port, "--auth", "LOGIN", "--auth-user", "nobody", "--auth-password", relay.password)
    assert result.returncode != 0, result.output
    assert "535 5.7.8" in result.output, result.output
    assert relay.log_json() == []


def test_no_auth(relay):
    result = swaks(relay.port)
    assert result.returncode != 0, result.output
    assert "530 5.7.0" in result.output, result.output
    assert relay.log_json() == []
