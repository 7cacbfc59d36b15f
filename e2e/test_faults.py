"""Fault tests: a full data disk, abandoned connections, trusted networks. Loopback only, bounded."""

from __future__ import annotations

import os
import resource
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import HOST, QUEUED_RE, SENT_RE, log_id_from_reply


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs mounted for this test: the relay's data.dir lives on it (the test runs as root)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"cannot mount a tmpfs for the disk-full test (needs root): {result.stderr}"
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def fill(directory: Path, leave_bytes: int) -> Path:
    """Writes a filler file until only about `leave_bytes` are free."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    filler = directory / "filler"
    with open(filler, "wb") as f:
        remaining = max(0, free - leave_bytes)
        chunk = b"\0" * (1 << 20)
        while remaining > 0:
            n = min(len(chunk), remaining)
            f.write(chunk[:n])
            remaining -= n
    return filler


def big_message(n: int, size: int = 400_000) -> bytes:
    head = f"From: site@example.com\r\nTo: full@example.com\r\nSubject: disk {n}\r\n\r\n".encode()
    line = f"message {n} ".encode() * 7 + b"\r\n"
    return head + line * (size // len(line))


def test_full_disk_answers_452_keeps_what_it_acknowledged_and_recovers(make_relay, small_disk):
    relay = make_relay(config={"data.dir": str(small_disk / "data"), "delivery.mode": "queue"})
    acknowledged: dict[int, bytes] = {}
    with smtplib.SMTP(HOST, relay.port, timeout=60) as s:
        s.login(relay.username, relay.password)
        message = big_message(0)
        code, text = s.sendmail("site@example.com", ["full@example.com"], message) or (250, b"")
    first = relay.log_json()
    assert len(first) == 1
    acknowledged[first[0]["id"]] = message

    filler = fill(small_disk, leave_bytes=1_200_000)
    refused = 0
    for n in range(1, 30):
        conn = relay.authed()
        try:
            reply = conn.send_message("site@example.com", ["full@example.com"], big_message(n))
        finally:
            conn.close()
        if reply.code == 250:
            acknowledged[log_id_from_reply(reply.text)] = big_message(n)
        else:
            assert reply.code == 452, f"a full disk must be a temporary 452, not {reply!r}"
            assert "4.3.1" in reply.text
            refused += 1
            if refused >= 2:
                break
    assert refused >= 1, "the disk never filled up"

    # Everything acknowledged is intact, byte for byte; nothing half-written is left in incoming/.
    rows = {row["id"]: row for row in relay.log_json("--limit", "100")}
    for log_id, message in acknowledged.items():
        assert log_id in rows, f"acknowledged message {log_id} lost"
        assert relay.stored_bytes(log_id) == message
    incoming = small_disk / "data" / "spool" / "incoming"
    assert not incoming.exists() or os.listdir(incoming) == [], os.listdir(incoming)

    # Space comes back: the relay accepts again without a restart.
    filler.unlink()
    conn = relay.authed()
    try:
        reply = conn.send_message("site@example.com", ["full@example.com"], big_message(99))
    finally:
        conn.close()
    assert reply.code == 250, reply
    relay.stop()


def test_500_connections_abandoned_mid_data_leak_nothing(make_relay):
    relay = make_relay(config={"smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "sandbox",
                               "smtp.max_connections": 1000, "smtp.max_connections_per_address": 1000,
                               "delivery.mode": "queue"})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    baseline = open_fds(relay.proc.pid)
    sockets = []
    try:
        for batch in range(5):
            for _ in range(100):
                s = socket.create_connection((HOST, relay.port), timeout=10)
                s.sendall(b"EHLO faults.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
                sockets.append(s)
            for s in sockets[batch * 100:]:
                data = b""
                deadline = time.monotonic() + 10
                while b"354" not in data and time.monotonic() < deadline:
                    data += s.recv(4096)
                assert b"354" in data, data
                # Past the 64 KiB kept in memory, so each open DATA holds a spool file.
                s.sendall(b"Subject: abandoned\r\n\r\n" + (b"x" * 998 + b"\r\n") * 70)
        time.sleep(0.5)
        incoming = relay.data_dir / "spool" / "incoming"
        assert len(os.listdir(incoming)) >= 400, "the relay should hold a spool file per open DATA"
    finally:
        for s in sockets:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
            s.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if open_fds(relay.proc.pid) <= baseline + 2 and os.listdir(relay.data_dir / "spool" / "incoming") == []:
            break
        time.sleep(0.2)
    assert open_fds(relay.proc.pid) <= baseline + 2, f"file descriptors leaked: {open_fds(relay.proc.pid)} vs {baseline}"
    assert os.listdir(relay.data_dir / "spool" / "incoming") == [], "half-received spool files left behind"
    assert relay.log_json() == [], "no abandoned message may be recorded"
    # And the relay still works.
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.sendmail("a@example.com", ["b@example.com"], b"Subject: after\r\n\r\nstill here\r\n")
    assert len(relay.log_json()) == 1


def test_trusted_network_submits_without_auth_through_its_account(make_relay):
    relay = make_relay(config={"smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "sandbox"})
    result = subprocess.run(["swaks", "--server", HOST, "--port", str(relay.port), "--from", "app@example.com",
                             "--to", "ops@example.com", "--header", "Subject: from a container"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert SENT_RE.search(result.stdout), result.stdout
    [row] = relay.log_json()
    assert row["account"] == "sandbox" and row["status"] == "sent"
    assert relay.show(row["id"])["credential"] is None

    untrusted = make_relay(config={"smtp.trusted_networks": "10.99.0.0/16", "smtp.trusted_account": "sandbox"})
    result = subprocess.run(["swaks", "--server", HOST, "--port", str(untrusted.port), "--from", "app@example.com",
                             "--to", "ops@example.com"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "530 5.7.0" in result.stdout, result.stdout


def test_gmail_500s_and_hangs_queue_grows_then_drains_without_duplicates(make_relay, fake_google):
    from test_delivery import gmail_relay, message
    relay = gmail_relay(make_relay, fake_google, config={"delivery.mode": "queue"})
    fake_google.inject("backendError500", count=25)
    fake_google.inject(hang_seconds=2, count=4)
    with smtplib.SMTP(HOST, relay.port, timeout=60) as s:
        s.login(relay.username, relay.password)
        for i in range(30):
            s.sendmail("wordpress@shop.example", ["alice@example.com"],
                       message(f"storm {i}", extra=f"Message-ID: <storm-{i}@e2e.example>\r\n"))
    waiting = [r for r in relay.log_json("--limit", "100") if r["status"] in ("queued", "sending")]
    assert waiting, "with Gmail failing, the queue must hold the messages"
    fake_google.wait_outbox(30, timeout=90)
    time.sleep(1)
    outbox = fake_google.outbox()
    ids = [m["raw"].split("Message-ID: ", 1)[1].split("\r\n", 1)[0] for m in outbox]
    assert len(ids) == 30 and len(set(ids)) == 30, f"{len(ids)} sends for {len(set(ids))} messages: duplicates without a crash"
    rows = relay.log_json("--limit", "100")
    assert {r["status"] for r in rows} == {"sent"}
    assert sum(r["attempts"] for r in rows) >= 30 + 25, "every 500 is an attempt in the log"


def test_kill_9_under_ingest_load_loses_nothing_acknowledged(make_relay):
    """Clients keep sending while the relay is killed: every message that got its 250 is in the
    send log after restart, with its body, and is delivered; nothing half-received is left over."""
    import threading
    # Pacing out of the way: the check is that nothing is lost, not Gmail's sending rate.
    relay = make_relay(config={"delivery.mode": "queue", "delivery.sends_per_minute": 100000})
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int):
        try:
            with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
                s.login(relay.username, relay.password)
                for i in range(100_000):
                    if stop.is_set():
                        return
                    subject = f"load {n}-{i}"
                    body = f"Subject: {subject}\r\n\r\n".encode() + b"x" * 10_000 + b"\r\n"
                    s.sendmail("site@example.com", ["ops@example.com"], body)
                    with lock:
                        acknowledged.append(subject)
        except (smtplib.SMTPException, OSError):
            return  # the kill: this message got no 250, so it may be lost

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    relay.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=40)
    assert len(acknowledged) >= 150, f"only {len(acknowledged)} messages acknowledged before the kill"

    relay.start()
    incoming = Path(relay.data_dir) / "spool" / "incoming"
    assert not any(incoming.iterdir()), "half-received files are removed at start"
    rows = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = {r["subject"]: r for r in relay.log_json("--limit", "100000")}
        if all(rows.get(s, {}).get("status") == "sent" for s in acknowledged):
            break
        time.sleep(0.5)
    missing = [s for s in acknowledged if s not in rows]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
    unsent = {s: rows[s]["status"] for s in acknowledged if rows[s]["status"] != "sent"}
    assert not unsent, f"{len(unsent)} acknowledged messages not delivered: {list(unsent.items())[:5]}"
    sample = acknowledged[len(acknowledged) // 2]
    assert relay.stored_bytes(rows[sample]["id"]).startswith(f"Subject: {sample}\r\n".encode())
