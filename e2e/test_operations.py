"""Operations: --version, SIGHUP certificate reload, systemd readiness, backup and restore (docs/operations.md).

Real binary, real sockets, real TLS (openssl s_client and Python's ssl), real SQLite files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import BINARY, HOST, USERNAME, PASSWORD, RawSMTP, log_id_from_reply, unverified_context

MESSAGE = b"From: owner@example.com\r\nTo: r@example.com\r\nSubject: ops %d\r\n\r\nbody of message %d\r\n"


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- version -----------------------------------------------------------------------------------

def test_version_is_the_same_on_the_command_line_metrics_and_page(relay):
    result = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    version = result.stdout.strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"--version printed {result.stdout!r}"
    assert f'relay_build_info{{version="{version}"}} 1' in relay.web_get("/metrics")
    assert f"gmail-relay {version} · page made" in relay.web_get("/")


# -- SIGHUP: certificate reload ------------------------------------------------------------------

def make_pair(directory: Path, name: str, days: int) -> tuple[Path, Path]:
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", str(days), "-subj", f"/CN=relay-{name}.test"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def s_client_subject(port: int, starttls: bool) -> str:
    """The subject of the certificate a new connection sees, as `openssl s_client` prints it."""
    args = ["openssl", "s_client", "-connect", f"{HOST}:{port}"]
    if starttls:
        args += ["-starttls", "smtp"]
    result = subprocess.run(args, input=b"QUIT\r\n", capture_output=True, timeout=30)
    text = result.stdout.decode("utf-8", "replace")
    match = re.search(r"^subject=(.*)$", text, re.M)
    assert match, f"s_client printed no subject (exit {result.returncode}):\n{text}\n{result.stderr.decode()}"
    return match.group(1)


def test_sighup_reloads_the_certificate_without_dropping_sessions(make_relay, tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    a_cert, a_key = make_pair(pairs, "a", 10)
    b_cert, b_key = make_pair(pairs, "b", 90)
    served_cert, served_key = tmp_path / "served-cert.pem", tmp_path / "served-key.pem"
    shutil.copy(a_cert, served_cert)
    shutil.copy(a_key, served_key)
    relay = make_relay(tls=(served_cert, served_key), tls_listen=True)

    assert "relay-a.test" in s_client_subject(relay.port, starttls=True)
    assert "relay-a.test" in s_client_subject(relay.tls_port, starttls=False)
    # A ends in 10 days: the page and the API warn (14 days ahead).
    problems = json.loads(relay.web_get("/api/status"))["relay_problems"]
    assert [p["code"] for p in problems] == ["smtp_certificate_expiring"], problems
    assert "SMTP certificate expires soon" in relay.web_get("/")

    # A session opened on A, encrypted and logged in, stays usable across both reloads.
    session = RawSMTP(relay.tls_port, implicit_tls=True)
    session.greeting()
    session.ehlo()
    assert session.auth_plain().code == 235
    first_peer = session.sock.getpeercert(binary_form=True)

    shutil.copy(b_cert, served_cert)
    shutil.copy(b_key, served_key)
    os.kill(relay.proc.pid, signal.SIGHUP)
    wait_for(lambda: "smtp certificate reloaded" in relay.stderr_text(), 10, "the reload log line")
    assert "relay-b.test" in s_client_subject(relay.port, starttls=True)
    assert "relay-b.test" in s_client_subject(relay.tls_port, starttls=False)
    assert relay.proc.poll() is None, "SIGHUP stopped the relay"
    # B has 90 days: the warning goes with the reload.
    assert json.loads(relay.web_get("/api/status"))["relay_problems"] == []
    # The served certificate's end for the expiry alert: about 90 days ahead now.
    [end] = re.findall(r"^relay_smtp_certificate_expiry_timestamp_seconds (\d+)$", relay.web_get("/metrics"), re.M)
    assert 89 * 86400 < int(end) - time.time() < 91 * 86400, end

    # A broken new file: the old (B) context stays, and the log says why without key material.
    served_key.write_text("-----BEGIN PRIVATE KEY-----\nMIIBroken\n-----END PRIVATE KEY-----\n")
    os.kill(relay.proc.pid, signal.SIGHUP)
    wait_for(lambda: "smtp certificate reload failed" in relay.stderr_text(), 10, "the failed-reload log line")
    log = relay.stderr_text()
    failure = next(line for line in log.splitlines() if "smtp certificate reload failed" in line)
    assert str(served_key) in failure, f"the log should name the file: {failure}"
    assert "MIIBroken" not in log and b_key.read_text().splitlines()[1] not in log, "key material in the log"
    assert "relay-b.test" in s_client_subject(relay.tls_port, starttls=False)
    assert relay.proc.poll() is None

    assert session.sock.getpeercert(binary_form=True) == first_peer
    session.expect("NOOP", 250)
    reply = session.send_message("owner@example.com", ["r@example.com"], MESSAGE % (1, 1))
    assert reply.code == 250, reply
    session.expect("QUIT", 221)
    session.close()
    relay.stop()


def test_sighup_without_tls_does_not_stop_the_relay(relay):
    os.kill(relay.proc.pid, signal.SIGHUP)
    wait_for(lambda: "no certificate to reload" in relay.stderr_text(), 10, "the SIGHUP log line")
    assert relay.proc.poll() is None
    with relay.connect() as c:
        c.expect("NOOP", 250)
    relay.stop()


# -- systemd Type=notify -------------------------------------------------------------------------

@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_is_sent_to_notify_socket_once_smtp_listens(make_relay, tmp_path, abstract):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"@gmail-relay-e2e-{os.getpid()}-{time.monotonic_ns()}"
        listener.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        listener.bind(name)
    listener.settimeout(10)
    relay = make_relay(start=False)
    try:
        relay.start(env={"NOTIFY_SOCKET": name})
        # start() returned after the SMTP greeting; READY=1 must be there by then or very soon.
        first = listener.recv(4096).decode()
        assert first.splitlines()[0] == "READY=1", first
        with relay.connect() as c:  # both listeners answer once READY=1 was sent
            c.expect("NOOP", 250)
        assert relay.web_get("/healthz") == "ok\n"
        relay.stop()
        assert listener.recv(4096).decode() == "STOPPING=1"
    finally:
        listener.close()


# -- backup and restore --------------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_while_sending_and_restore_into_a_fresh_relay(make_relay, tmp_path):
    # Queue mode with one send a minute: after the first send, mail stays queued.
    queued_config = {"delivery.mode": "queue", "delivery.sends_per_minute": 1}
    source = make_relay(config=queued_config)

    accepted: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def load():
        n = 0
        try:
            with source.authed() as c:
                while not stop.is_set() and n < 2000:
                    n += 1
                    reply = c.send_message("owner@example.com", ["r@example.com"], MESSAGE % (n, n))
                    assert reply.code == 250, reply
                    accepted.append(log_id_from_reply(reply.text))
                    c.expect("RSET", 250)
        except Exception as error:  # reported by the main thread
            errors.append(repr(error))

    sender = threading.Thread(target=load, daemon=True)
    sender.start()
    wait_for(lambda: len(accepted) >= 10, 60, "ten accepted messages")
    backup_dir = tmp_path / "backup"
    accepted_before_backup = len(accepted)
    result = source.cli("backup", str(backup_dir))
    accepted_after_backup = len(accepted)
    stop.set()
    sender.join(timeout=60)
    assert result.returncode == 0, f"backup: {result.stdout}\n{result.stderr}"
    assert not errors, errors
    assert "secret key is not in this backup" in result.stderr

    assert mode(backup_dir) == 0o700
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["version"] and manifest["created_at"] and manifest["includes_key"] is False
    for entry in manifest["files"]:
        assert mode(backup_dir / entry["path"]) == 0o600, entry["path"]
        assert len(entry["sha256"]) == 64
    assert not (backup_dir / "secret.key").exists()

    # Restore into a fresh data.dir, on other ports, then serve from it.
    target = make_relay(config={"delivery.mode": "queue", "delivery.sends_per_minute": 6000}, setup=False, start=False)
    restored = target.cli("restore", str(backup_dir))
    assert restored.returncode == 0, f"restore: {restored.stdout}\n{restored.stderr}"
    assert "no secret key" in restored.stderr
    assert mode(target.data_dir) == 0o700

    # A second restore into the now non-empty data.dir is refused, clearly.
    again = target.cli("restore", str(backup_dir))
    assert again.returncode != 0 and "not empty" in again.stderr, again.stderr

    rows = {row["id"]: row for row in target.log_json("--limit", "1000")}
    # The snapshot has every message accepted before the command started, and nothing not yet accepted.
    assert set(accepted[:accepted_before_backup]) <= set(rows), f"{len(rows)} rows, {accepted_before_backup} accepted before"
    assert set(rows) <= set(accepted[:accepted_after_backup])
    assert accepted_after_backup > accepted_before_backup, "the load should run while the backup does"
    waiting = [i for i, row in rows.items() if row["status"] in ("queued", "sending", "held", "failed")]
    assert waiting, "the backup should hold queued mail"
    for log_id in rows:
        detail = target.show(log_id)
        if log_id in waiting:
            # Small bodies travel inside the database copy; a spool file is relocated into the new data.dir.
            if detail["spool_path"] is not None:
                assert detail["spool_path"].startswith(str(target.data_dir)), detail["spool_path"]
            assert target.stored_bytes(log_id) == source.stored_bytes(log_id), f"body of {log_id}"
        else:
            assert detail["spool_path"] is None, f"sent message {log_id} should have no spool file in the backup"

    target.start()
    wait_for(lambda: all(r["status"] == "sent" for r in target.log_json("--limit", "1000") if r["id"] in waiting),
             90, "the restored relay to deliver the queued mail", interval=0.5)
    # The restored logins work: a new message goes through the restored relay.
    with target.authed() as c:
        assert c.send_message("owner@example.com", ["r@example.com"], MESSAGE % (0, 0)).code == 250
    target.stop()
    source.stop()


def test_backup_with_key_restores_the_key_and_warns(make_relay, tmp_path):
    source = make_relay(start=False)
    # A stored secret makes the key file exist (a sandbox account alone never creates one).
    key_file = source.data_dir / "secret.key"
    add = source.cli("account", "add", "grant", "--client-id", "id.apps.googleusercontent.com",
                     "--client-secret-stdin", "--refresh-token-stdin", input="secret-value\nrefresh-value\n")
    assert add.returncode == 0, add.stderr
    assert key_file.exists()
    backup_dir = tmp_path / "backup-with-key"
    result = source.cli("backup", str(backup_dir), "--include-key")
    assert result.returncode == 0, result.stderr
    assert "warning: this backup holds the secret key" in result.stderr
    assert (backup_dir / "secret.key").read_bytes() == key_file.read_bytes()
    assert mode(backup_dir / "secret.key") == 0o600

    target = make_relay(setup=False, start=False)
    restored = target.cli("restore", str(backup_dir))
    assert restored.returncode == 0, restored.stderr
    assert (target.data_dir / "secret.key").read_bytes() == key_file.read_bytes()
    accounts = target.cli_json("account", "list")
    assert any(a["name"] == "grant" for a in accounts), accounts

    # A damaged backup is refused before anything is written.
    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    db = damaged / "relay.sqlite"
    data = bytearray(db.read_bytes())
    data[-1] ^= 0xFF
    db.write_bytes(bytes(data))
    fresh = make_relay(setup=False, start=False)
    refused = fresh.cli("restore", str(damaged))
    assert refused.returncode != 0 and "checksum" in refused.stderr, refused.stderr
    assert not fresh.data_dir.exists()
