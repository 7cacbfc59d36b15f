"""Shared pieces of the end-to-end tests: constants, a raw SMTP client, reply patterns.

Imported by conftest.py (the Relay fixture) and by the test modules.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import ssl
import time
from pathlib import Path

BINARY = os.environ.get(
    "GMAIL_RELAY_BINARY",
    str(Path(__file__).resolve().parents[1] / ".build" / "debug" / "gmail-relay"),
)
HOST = "127.0.0.1"
USERNAME = "site1"
# Known to the tests; fed to `credential add --password-stdin`.
PASSWORD = "e2e-Site1-pass-7Kq9Zr"
# The status page's admin token every test relay gets unless its config says otherwise (web.open, or
# "web.admin_token": None to leave it unset so serve makes its own).
WEB_TOKEN = "e2e-web-admin-token-7d1c9b4e2a5f8836"
ACCOUNT = "sandbox"
ACCOUNT_FROM = "owner@example.com"

CLI_TIMEOUT = 60
START_TIMEOUT = 20
STOP_TIMEOUT = 15

SENT_RE = re.compile(r"250[ -]2\.0\.0 Ok: sent as (sandbox-\S+) \(log (\d+)\)")
QUEUED_RE = re.compile(r"250[ -]2\.0\.0 Ok: queued as (\d+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def log_id_from_reply(text: str) -> int:
    """The log id in a final-dot reply, sync (`sent as sandbox-N (log N)`) or queue (`queued as N`)."""
    m = SENT_RE.search(text)
    if m:
        return int(m.group(2))
    m = QUEUED_RE.search(text)
    if m:
        return int(m.group(1))
    raise AssertionError(f"no 'sent as ... (log N)' / 'queued as N' reply in: {text!r}")


class Reply:
    def __init__(self, code: int, lines: list[str]):
        self.code = code
        self.lines = lines  # text after "NNN-" / "NNN "

    @property
    def text(self) -> str:
        return "\n".join(f"{self.code} {line}" for line in self.lines)

    def __repr__(self) -> str:
        return f"Reply({self.text!r})"


class RawSMTP:
    """A hand-driven SMTP connection: exact bytes out, replies parsed line by line."""

    def __init__(self, port: int, implicit_tls: bool = False, timeout: float = 15):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        if implicit_tls:
            self.sock = unverified_context().wrap_socket(self.sock)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed by relay; unparsed buffer {self.buf!r}")
        self.buf += chunk
        return chunk

    def read_line(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply line within {timeout or self.timeout}s; buffer {self.buf!r}")
            self._fill(left)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self, timeout: float | None = None) -> Reply:
        lines = []
        while True:
            line = self.read_line(timeout).decode("utf-8", "replace")
            assert re.match(r"^\d{3}[ -]", line) or re.match(r"^\d{3}$", line), f"malformed reply line {line!r}"
            code = int(line[:3])
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return Reply(code, lines)

    def cmd(self, line: str | bytes, timeout: float | None = None) -> Reply:
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.read_reply(timeout)

    def expect(self, line: str | bytes, code: int, timeout: float | None = None) -> Reply:
        reply = self.cmd(line, timeout)
        assert reply.code == code, f"C: {line!r} -> expected {code}, got {reply!r}"
        return reply

    def greeting(self) -> Reply:
        reply = self.read_reply()
        assert reply.code == 220, f"greeting: {reply!r}"
        return reply

    def ehlo(self, name: str = "e2e.example") -> list[str]:
        reply = self.expect(f"EHLO {name}", 250)
        return [line.upper() for line in reply.lines[1:]]

    def auth_plain(self, user: str = USERNAME, password: str = PASSWORD) -> Reply:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}", timeout=30)

    def starttls(self):
        self.expect("STARTTLS", 220)
        assert self.buf == b"", f"plaintext bytes after the STARTTLS 220: {self.buf!r}"
        self.sock = unverified_context().wrap_socket(self.sock, server_hostname="localhost")

    def send_message(self, mail_from: str, rcpts: list[str], message: bytes) -> Reply:
        """MAIL/RCPT/DATA one step at a time; `message` is dot-stuffed here. Returns the final reply."""
        self.expect(f"MAIL FROM:<{mail_from}>", 250)
        for rcpt in rcpts:
            self.expect(f"RCPT TO:<{rcpt}>", 250)
        self.expect("DATA", 354)
        self.send(dot_stuff(message) + b".\r\n")
        return self.read_reply(timeout=60)

    def wait_closed(self, timeout: float = 10) -> bytes:
        """Reads until the relay closes; returns what arrived meanwhile. Fails if it stays open."""
        deadline = time.monotonic() + timeout
        extra = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"relay did not close the connection within {timeout}s (got {extra!r})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return extra
            except ssl.SSLError:
                return extra
            except socket.timeout:
                continue
            if not chunk:
                return extra
            extra += chunk

    def nothing_pending(self, wait: float = 0.5) -> bytes:
        """Whatever the relay sends unasked within `wait` seconds (should be b"")."""
        got = self.buf
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ssl.SSLError, BlockingIOError):
            pass
        return got


def dot_stuff(message: bytes) -> bytes:
    """What an SMTP client puts on the wire for `message` (which must end in CRLF), minus the final dot."""
    assert message.endswith(b"\r\n")
    out = b"." + message if message.startswith(b".") else message
    return out.replace(b"\r\n.", b"\r\n..")
