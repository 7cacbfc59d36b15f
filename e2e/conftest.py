"""End-to-end harness: runs the real `gmail-relay` binary and talks to it with real SMTP clients.

Every test gets its own Relay (own temp dir, ports, SQLite database, spool) so tests never share
state. Everything talks to 127.0.0.1 only, and every subprocess call and socket read is bounded.
The relay's stderr goes to a file that is attached to the report of a failed test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import (
    ACCOUNT, ACCOUNT_FROM, BINARY, CLI_TIMEOUT, HOST, PASSWORD, START_TIMEOUT, STOP_TIMEOUT, USERNAME, WEB_TOKEN,
    RawSMTP, free_port, toml_value,
)


class Relay:
    def __init__(self, base: Path, config: dict | None = None, tls: tuple[Path, Path] | None = None,
                 tls_listen: bool = False, setup: bool = True):
        self.dir = base
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "config.toml"
        self.stderr_path = self.dir / "relay.stderr"
        self.port = free_port()
        self.web_port = free_port()
        self.tls_port = free_port() if tls_listen else None
        self.username = USERNAME
        self.password = PASSWORD
        self.proc: subprocess.Popen | None = None
        self._stderr = None
        self.starts = 0
        settings = {
            "data.dir": str(self.data_dir),
            "smtp.listen": f"{HOST}:{self.port}",
            "web.listen": f"{HOST}:{self.web_port}",
            "delivery.mode": "sync",
        }
        if tls:
            settings["smtp.tls.cert"] = str(tls[0])
            settings["smtp.tls.key"] = str(tls[1])
        if self.tls_port:
            settings["smtp.tls_listen"] = f"{HOST}:{self.tls_port}"
        # Tokens are required by default, as in production; a test may open the page (web.open) or
        # leave the token unset (None) so that serve makes its own.
        if not (config or {}).get("web.open"):
            settings["web.admin_token"] = WEB_TOKEN
        settings.update(config or {})
        settings = {key: value for key, value in settings.items() if value is not None}
        self.settings = settings
        self.web_token: str | None = settings.get("web.admin_token")
        self.config_path.write_text(
            "# written by e2e/conftest.py\n"
            + "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
        )
        if setup:
            self.setup()

    # -- CLI ---------------------------------------------------------------------------------
    def cli(self, *args: str, input: str | None = None, env: dict | None = None, config: Path | None = None,
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        """`gmail-relay ARGS --config FILE`; text output, never raises on a non-zero exit."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
        full_env.update(env or {})
        return subprocess.run(
            [BINARY, *args, "--config", str(config or self.config_path)],
            input=input, stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, errors="replace", env=full_env, timeout=timeout,
        )

    def cli_ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        result = self.cli(*args, **kw)
        assert result.returncode == 0, (
            f"gmail-relay {' '.join(args)} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result

    def cli_json(self, *args: str):
        result = self.cli_ok(*args, "--json")
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            raise AssertionError(f"gmail-relay {' '.join(args)} --json printed non-JSON: {result.stdout!r}") from error

    def setup(self):
        self.cli_ok("account", "add", ACCOUNT, "--sandbox", "--from", ACCOUNT_FROM)
        self.cli_ok("credential", "add", USERNAME, "--account", ACCOUNT, "--password-stdin", input=PASSWORD + "\n")

    def log_json(self, *args: str) -> list[dict]:
        rows = self.cli_json("log", *args)
        assert isinstance(rows, list), f"log --json is not an array: {rows!r}"
        return rows

    def show(self, log_id: int) -> dict:
        detail = self.cli_json("log", "show", str(log_id))
        assert isinstance(detail, dict), f"log show --json is not an object: {detail!r}"
        return detail

    def stored_bytes(self, log_id: int) -> bytes:
        """The message as the relay stored it (small ones in the database, large ones in the spool)."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
        result = subprocess.run([BINARY, "log", "show", str(log_id), "--raw", "--config", str(self.config_path)],
                                capture_output=True, stdin=subprocess.DEVNULL, env=full_env, timeout=CLI_TIMEOUT)
        assert result.returncode == 0, f"log show {log_id} --raw: {result.stderr!r}"
        detail = self.show(log_id)
        if detail.get("spool_path"):
            assert Path(detail["spool_path"]).read_bytes() == result.stdout, "--raw differs from the spool file"
        return result.stdout

    # -- process -----------------------------------------------------------------------------
    def start(self, env: dict | None = None):
        """`serve` in the background; returns once the SMTP port greets. `env` adds GMAIL_RELAY_* variables."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._stderr = open(self.stderr_path, "ab")
        self._stderr.write(f"\n==== start #{self.starts + 1} ====\n".encode())
        self._stderr.flush()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr, env=full_env,
        )
        self.starts += 1
        self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode} while starting:\n{self.stderr_text()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.settimeout(5)
                    data = b""
                    while b"\r\n" not in data:
                        chunk = s.recv(1024)
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"220"):
                        try:
                            s.sendall(b"QUIT\r\n")
                        except OSError:
                            pass
                        if self.tls_port:
                            socket.create_connection((HOST, self.tls_port), timeout=2).close()
                        # The web server is a service of its own: it may listen a moment after SMTP.
                        if str(self.settings.get("web.listen", "")).startswith(f"{HOST}:"):
                            socket.create_connection((HOST, self.web_port), timeout=2).close()
                        return
                    last_error = f"greeting {data!r}"
            except OSError as error:
                last_error = repr(error)
            time.sleep(0.1)
        raise AssertionError(f"relay did not greet on {self.port} within {START_TIMEOUT}s ({last_error}):\n"
                             f"{self.stderr_text()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM; the relay must exit 0 within `timeout`."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"relay did not exit within {timeout}s of SIGTERM:\n{self.stderr_text()}")
        assert code == 0, f"relay exited {code} after SIGTERM:\n{self.stderr_text()}"
        return code

    def kill9(self):
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def restart(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._stderr:
            self._stderr.close()

    def stderr_text(self, limit: int = 20000) -> str:
        try:
            text = self.stderr_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return "(no stderr file)"
        return text[-limit:]

    def web_get(self, path: str, timeout: float = 10) -> str:
        """GET on the status page with the admin token (when one is set); the body as text."""
        import urllib.request
        headers = {"Authorization": f"Bearer {self.web_token}"} if self.web_token else {}
        request = urllib.request.Request(f"http://{HOST}:{self.web_port}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()

    # -- clients -----------------------------------------------------------------------------
    def connect(self, implicit_tls: bool = False, greet: bool = True) -> RawSMTP:
        conn = RawSMTP(self.tls_port if implicit_tls else self.port, implicit_tls=implicit_tls)
        if greet:
            conn.greeting()
        return conn

    def authed(self) -> RawSMTP:
        """Connected, greeted, EHLO'd and authenticated (plaintext from loopback)."""
        conn = self.connect()
        conn.ehlo()
        reply = conn.auth_plain()
        assert reply.code == 235, f"AUTH PLAIN: {reply!r}"
        return conn


# -- fixtures --------------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for index, relay in enumerate(getattr(item, "_relays", [])):
            report.sections.append((f"relay #{index} stderr ({relay.stderr_path})", relay.stderr_text()))


@pytest.fixture(scope="session", autouse=True)
def binary_present():
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"gmail-relay binary not found at {BINARY} (set GMAIL_RELAY_BINARY)")


@pytest.fixture
def make_relay(request, tmp_path):
    """make_relay(config={...}, tls=tls_cert, tls_listen=True, start=True) -> a running Relay."""
    relays: list[Relay] = []
    request.node._relays = relays

    def factory(config: dict | None = None, tls=None, tls_listen: bool = False, start: bool = True,
                setup: bool = True) -> Relay:
        relay = Relay(tmp_path / f"relay{len(relays)}", config=config, tls=tls, tls_listen=tls_listen, setup=setup)
        relays.append(relay)
        if start:
            relay.start()
        return relay

    yield factory
    for relay in relays:
        relay.cleanup()


@pytest.fixture
def relay(make_relay) -> Relay:
    return make_relay()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture
def fake_google(tmp_path):
    """A running fake-google process for this test."""
    from fakegoogle import FakeGoogle
    google = FakeGoogle(tmp_path / "fake-google")
    yield google
    google.stop()
