"""Hardening, tried from outside as an attacker on the same machine (or a web page in the operator's
browser) would: the secure default of the status page, file modes, connection limits per address,
forged log lines, header recipients past the limit, and a flood of wrong passwords."""

from __future__ import annotations

import base64
import os
import re
import smtplib
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.request

from harness import HOST, PASSWORD, USERNAME, RawSMTP
from test_web import dump_dom, seen, web

SIGN_IN_RE = re.compile(r"http://127\.0\.0\.1:\d+/login\?ticket=[0-9a-f.]+")


def no_redirect_get(url: str, headers: dict | None = None):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_secure_by_default_token_file_and_one_time_sign_in_link(make_relay):
    """No token configured and no web.open: serve makes a token (0600), prints a one-time sign-in link,
    and the page needs it, also on loopback. Chromium opens the link as a new user would."""
    relay = make_relay(config={"web.admin_token": None})
    token_file = relay.data_dir / "web-admin-token"
    assert token_file.exists() and mode(token_file) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 24
    assert mode(relay.data_dir) == 0o700
    for name in ("relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm"):
        assert mode(relay.data_dir / name) == 0o600, name

    for path in ("/", "/messages", "/api/status", "/metrics"):
        status, _, _ = web(relay, path, token=False)
        assert status in (303, 401), (path, status)
    assert web(relay, "/api/status", headers={"Authorization": f"Bearer {token}"})[0] == 200
    assert token not in relay.stderr_text()

    [link] = SIGN_IN_RE.findall(relay.stderr_text())
    link = link.replace("127.0.0.1:" + link.split(":")[2].split("/")[0], f"127.0.0.1:{relay.web_port}")
    page = seen(dump_dom(link))
    assert "Status" in page.text and "sandbox" in page.text and "Sign in" not in page.text, page.text
    # The link works once.
    status, _, body = no_redirect_get(link)
    assert status == 401 and "already used or has expired" in body

    # `web-token` prints a new link for the running relay (and the token only when asked).
    printed = relay.cli_ok("web-token").stdout
    assert token not in printed
    [again] = SIGN_IN_RE.findall(printed)
    status, headers, _ = no_redirect_get(again)
    assert status == 303 and headers["Location"] == "/" and "gmail_relay_session=" in headers["Set-Cookie"]
    cookie = headers["Set-Cookie"].split(";")[0]
    status, _, body = web(relay, "/", headers={"Cookie": cookie}, token=False)
    assert status == 200 and "sandbox" in body
    assert token in relay.cli_ok("web-token", "--show-token").stdout

    # A restart keeps the token and prints no new link.
    relay.restart()
    assert token_file.read_text().strip() == token
    assert len(SIGN_IN_RE.findall(relay.stderr_text())) == 1


def test_read_token_may_look_but_not_act(make_relay):
    read_token = "e2e-read-token-for-the-plugin-0b6f2d91"
    relay = make_relay(config={"web.read_token": read_token})
    with relay.authed() as conn:
        reply = conn.send_message("site@example.com", ["reader@example.net"],
                                  b"Subject: look only\r\n\r\nhello\r\n")
        assert reply.code == 250, reply
    [row] = relay.log_json()
    read = {"Authorization": f"Bearer {read_token}"}
    for path in ("/api/status", "/api/messages", f"/api/messages/{row['id']}", "/metrics", "/healthz", "/"):
        assert web(relay, path, headers=read)[0] == 200, path
    status, _, body = web(relay, f"/api/messages/{row['id']}/discard", method="POST", headers=read)
    assert status == 403 and "web.admin_token" in body, body
    assert relay.show(row["id"])["status"] == "sent"


def test_open_data_directory_is_refused_with_the_chmod_to_run(make_relay):
    relay = make_relay(start=False)
    os.chmod(relay.data_dir, 0o755)
    result = relay.cli("log")
    assert result.returncode != 0
    assert f"run `chmod 700 {relay.data_dir}`" in result.stderr, result.stderr
    proc = subprocess.run([relay_binary(), "serve", "--config", str(relay.config_path)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")})
    assert proc.returncode != 0 and "chmod 700" in proc.stderr, proc.stderr
    os.chmod(relay.data_dir, 0o700)
    relay.start()


def relay_binary() -> str:
    from harness import BINARY
    return BINARY


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_one_address_cannot_take_every_slot(make_relay, tls_cert):
    """smtp.max_connections_per_address: the next connection from that address gets 421 at once, in clear
    also on the implicit-TLS listener (no handshake first), and its socket is closed."""
    relay = make_relay(config={"smtp.max_connections_per_address": 5}, tls=tls_cert, tls_listen=True)
    baseline = open_fds(relay.proc.pid)
    held = [relay.connect() for _ in range(5)]
    try:
        for port in (relay.port, relay.tls_port):
            with socket.create_connection((HOST, port), timeout=10) as s:
                s.settimeout(5)
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                assert data.startswith(b"421 4.7.0") and b"too many connections from your address" in data, data
                assert s.recv(1024) == b"", "the refused socket stays open"
        # A client that never reads anything is closed on a short timer as well.
        idle = [socket.create_connection((HOST, relay.tls_port), timeout=10) for _ in range(20)]
        deadline = time.monotonic() + 10
        while open_fds(relay.proc.pid) > baseline + 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert open_fds(relay.proc.pid) <= baseline + 5 + 1, "refused sockets outlive their connection"
        for s in idle:
            s.close()
    finally:
        for conn in held:
            conn.close()
    # The slots come back once the holder lets go.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with relay.connect(greet=False) as conn:
            if conn.read_reply().code == 220:
                break
        time.sleep(0.1)
    else:
        raise AssertionError("slots did not come back")


def test_a_username_cannot_forge_log_lines(relay):
    forged = "gmail-relay : [info] smtp auth succeeded smtp.user=admin"
    username = f"x\r\n{forged}\nnext"
    with relay.connect() as conn:
        conn.ehlo()
        token = base64.b64encode(f"\0{username}\0wrong-password".encode()).decode()
        reply = conn.cmd(f"AUTH PLAIN {token}", timeout=30)
        assert reply.code == 535, reply
    log = relay.stderr_text()
    assert "smtp auth failed" in log
    assert not any(line.startswith(forged) or line.startswith("next") for line in log.splitlines()), log[-3000:]
    assert "x\\r\\ngmail-relay" in log, log[-3000:]


def test_header_recipients_count_against_the_limit(make_relay):
    relay = make_relay(config={"smtp.max_recipients": 10})
    to = ", ".join(f"r{i}@example.net" for i in range(11))
    message = f"From: site@example.com\r\nTo: {to}\r\nSubject: many\r\n\r\nhello\r\n".encode()
    with relay.authed() as conn:
        reply = conn.send_message("site@example.com", ["r0@example.net"], message)
    assert reply.code == 550 and "5.5.3" in reply.text and "smtp.max_recipients" in reply.text, reply
    assert relay.log_json() == []
    # Ten in all (header and envelope together, each address once) is fine.
    to = ", ".join(f"r{i}@example.net" for i in range(9))
    message = f"From: site@example.com\r\nTo: {to}\r\nSubject: ten\r\n\r\nhello\r\n".encode()
    with relay.authed() as conn:
        reply = conn.send_message("site@example.com", ["r0@example.net", "r9@example.net"], message)
    assert reply.code == 250, reply


def test_a_flood_of_wrong_passwords_does_not_lock_out_a_good_client(make_relay):
    """100 connections send wrong passwords in a loop; a site with a generated login and one with a
    chosen (cached after its first login) password keep logging in and sending within their time-out."""
    relay = make_relay(config={"smtp.max_connections_per_address": 300, "smtp.max_connections": 300,
                               "delivery.mode": "queue"})
    generated = relay.cli_ok("credential", "add", "site2", "--account", "sandbox").stdout.strip()
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:  # the chosen password's first login
        s.login(USERNAME, PASSWORD)

    stop = threading.Event()
    wrong_answers = [0]
    lock = threading.Lock()

    def flood():
        while not stop.is_set():
            try:
                with RawSMTP(relay.port, timeout=30) as conn:
                    conn.greeting()
                    conn.ehlo()
                    while not stop.is_set():
                        token = base64.b64encode(f"\0{USERNAME}\0guess-{time.monotonic()}".encode()).decode()
                        reply = conn.cmd(f"AUTH PLAIN {token}", timeout=30)
                        with lock:
                            wrong_answers[0] += 1
                        if reply.code in (421, 0):
                            break
            except OSError:
                time.sleep(0.05)

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(100)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)  # the flood is in full swing
        times = []
        for i in range(10):
            for user, password in ((USERNAME, PASSWORD), ("site2", generated)):
                started = time.monotonic()
                with smtplib.SMTP(HOST, relay.port, timeout=10) as s:
                    s.login(user, password)
                    s.sendmail("site@example.com", ["reader@example.net"], f"Subject: good {i}\r\n\r\nhi\r\n".encode())
                times.append(time.monotonic() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
    assert wrong_answers[0] >= 100, wrong_answers
    assert max(times) < 10, times
    assert len([r for r in relay.log_json("--limit", "100") if r["subject"].startswith("good")]) == 20
