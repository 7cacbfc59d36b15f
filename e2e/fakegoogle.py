"""The `fake-google` executable as a pytest helper: start it on a free loopback port, drive it through
its /_fake control plane, and point a relay at it (google.* config keys).

The relay's real HTTP client (URLSession) talks to it; nothing here mocks the relay's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from harness import HOST

FAKE_BINARY = os.environ.get(
    "FAKE_GOOGLE_BINARY",
    str(Path(os.environ.get("GMAIL_RELAY_BINARY", Path(__file__).resolve().parents[1] / ".build" / "debug" / "gmail-relay")).parent
        / "fake-google"),
)
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"


class FakeGoogle:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        port_file = self.dir / "port"
        self.log_path = self.dir / "fake-google.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([FAKE_BINARY, "--host", HOST, "--port", "0", "--port-file", str(port_file)],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if port_file.exists() and port_file.read_text().strip():
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"fake-google exited {self.proc.returncode}: {self.log_path.read_text()}")
            time.sleep(0.05)
        else:
            raise AssertionError("fake-google did not start within 20 s")
        self.port = int(port_file.read_text().strip())
        self.url = f"http://{HOST}:{self.port}"

    # -- control plane ------------------------------------------------------------------------
    def call(self, path: str, body: dict | None = None, method: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if body is not None else "GET"),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.loads(response.read() or b"null")

    def add_client(self, client_id: str = "e2e-client", secret: str = "e2e-secret") -> tuple[str, str]:
        self.call("/_fake/clients", {"client_id": client_id, "client_secret": secret})
        return client_id, secret

    def refresh_token(self, email: str, client_id: str = "e2e-client", scopes: list[str] | None = None) -> str:
        return self.call("/_fake/refresh-tokens", {"client_id": client_id, "email": email, "scopes": scopes or [GMAIL_SEND]})["refresh_token"]

    def revoke(self, refresh_token: str):
        self.call("/_fake/refresh-tokens/revoke", {"refresh_token": refresh_token})

    def inject(self, preset: str | None = None, endpoint: str = "send", count: int = 1, **extra):
        body = {"endpoint": endpoint, "count": count, **extra}
        if preset:
            body["preset"] = preset
        return self.call("/_fake/inject", body)

    def clear(self):
        self.call("/_fake/clear-injections", {})

    def outbox(self) -> list[dict]:
        return self.call("/_fake/outbox")

    def stats(self) -> dict:
        return self.call("/_fake/stats")

    def wait_outbox(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            box = self.outbox()
            if len(box) >= count:
                return box
            time.sleep(0.1)
        raise AssertionError(f"fake Google's outbox has {len(self.outbox())} message(s), expected {count}")

    def relay_config(self) -> dict:
        """The relay's google.* keys pointing here."""
        return {
            "google.auth_url": f"{self.url}/o/oauth2/v2/auth",
            "google.token_url": f"{self.url}/token",
            "google.gmail_url": self.url,
            "google.tokeninfo_url": f"{self.url}/tokeninfo",
            "google.revoke_url": f"{self.url}/revoke",
        }

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
