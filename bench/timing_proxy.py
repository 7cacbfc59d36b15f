#!/usr/bin/env python3
"""A timing proxy between the relay and the fake Google, for the bench's added-latency figure.

The relay's google.* URLs point here; every request is forwarded unchanged to the fake Google and
timed from the moment its headers have been read to the moment the last byte of the answer has been
written back. That time is "Google's" share of a message's sync-mode DATA-to-250 time (the fake's
own handling plus this proxy's forwarding); the rest is the relay's added latency. Each Gmail send is
keyed by its message's Subject header, so the bench can pair it with the SMTP transaction.

Standard library only. Loopback only. `GET /_bench/timings` and `POST /_bench/reset` are answered
by the proxy itself.

    timing_proxy.py --upstream http://127.0.0.1:PORT --port-file FILE
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOST = "127.0.0.1"
# Not forwarded: they describe this hop, not the request (RFC 9110 section 7.6.1), and the proxy
# answers 100-continue itself.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "expect", "content-length"}
SUBJECT = re.compile(rb"^Subject:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


class Timings:
    def __init__(self):
        self.lock = threading.Lock()
        self.sends: dict[str, list[float]] = {}
        self.other: list[tuple[str, float]] = []

    def record(self, path: str, subject: str | None, seconds: float):
        with self.lock:
            if subject is not None:
                self.sends.setdefault(subject, []).append(seconds)
            else:
                self.other.append((path.split("?", 1)[0], seconds))

    def snapshot(self) -> dict:
        with self.lock:
            return {"sends": dict(self.sends), "other": list(self.other)}

    def reset(self):
        with self.lock:
            self.sends.clear()
            self.other.clear()


def subject_of(path: str, body: bytes) -> str | None:
    """The Subject of a Gmail media upload (the body is the message itself); None for other calls."""
    if "/messages/send" not in path:
        return None
    end = body.find(b"\r\n\r\n")
    match = SUBJECT.search(body[: end if end >= 0 else 65536])
    return match.group(1).strip().decode("utf-8", "replace") if match else ""


def make_handler(upstream: str, timings: Timings):
    target = urlsplit(upstream)
    local = threading.local()

    def connection(fresh: bool = False) -> http.client.HTTPConnection:
        if fresh or getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            local.conn.connect()
            local.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return local.conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            # Without it a reply written in two pieces waits for the client's delayed ACK (40 ms on
            # Linux), and that wait would be counted as the relay's.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

        def read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def answer(self, status: int, body: bytes, headers: list[tuple[str, str]]):
            """The whole answer in one write: its last byte is on the wire when the clock stops."""
            reason = self.responses.get(status, ("",))[0]
            head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
            self.wfile.write(head.encode("latin-1") + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            self.wfile.flush()

        def control(self) -> bool:
            if self.path == "/_bench/timings":
                self.answer(200, json.dumps(timings.snapshot()).encode(), [("Content-Type", "application/json")])
            elif self.path == "/_bench/reset":
                self.read_body()
                timings.reset()
                self.answer(200, b"{}", [("Content-Type", "application/json")])
            else:
                return False
            return True

        def forward(self):
            started = time.perf_counter()
            if self.control():
                return
            body = self.read_body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):
                try:
                    conn = connection(fresh=attempt == 2)
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    # A kept-alive upstream connection the fake closed: one retry on a new one.
                    if attempt == 2:
                        self.answer(502, b"timing proxy: upstream failed\n", [("Content-Type", "text/plain")])
                        return
            answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            self.answer(response.status, data, answer_headers)
            timings.record(self.path, subject_of(self.path, body), time.perf_counter() - started)

        do_GET = forward
        do_POST = forward
        do_PUT = forward
        do_DELETE = forward

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="the fake Google's base URL (loopback)")
    parser.add_argument("--port-file", required=True, help="where to write the port this proxy listens on")
    args = parser.parse_args()
    if urlsplit(args.upstream).hostname not in ("127.0.0.1", "localhost"):
        parser.error("--upstream must be a loopback URL")
    server = ThreadingHTTPServer((HOST, 0), make_handler(args.upstream, Timings()))
    server.daemon_threads = True
    with open(args.port_file, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
