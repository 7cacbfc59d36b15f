#!/usr/bin/env python3
"""The gmail-relay benchmark (issue 8): ingest against Postfix, end to end through the fake Google,
added latency, memory, token refreshes. Run it through bench/run.sh, which builds the release binaries
and installs Postfix first; docs/performance.md explains every figure and how it is measured.

Standard library only. Everything listens on 127.0.0.1; every wait and loop is bounded in count and
time; every process the bench starts is stopped, and its temp directory removed, when it ends.

Exit status: 0 every goal passed, 1 a goal failed, 2 the bench itself could not run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import base64
import json
import multiprocessing
import os
import platform
import re
import resource
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
SENDER = "bench@example.com"
RECIPIENT = "sink@example.com"
BODY_BYTES = 10 * 1024
BIG_MESSAGE_BYTES = 30 * 1024 * 1024
BENCH_DIR = Path(__file__).resolve().parent
POSTFIX_MAIN_CF = Path("/etc/postfix/main.cf")
MAIN_CF_BEGIN = "# gmail-relay bench: begin (removed when the bench ends)"
MAIN_CF_END = "# gmail-relay bench: end"

# Pacing must not be what is measured: high enough that the account's lane never waits.
FAST_DELIVERY = {"delivery.sends_per_minute": 1_000_000, "delivery.account_concurrency": 64}

# Goals of issue 8.
GOAL_INGEST_RATIO = 2.0
GOAL_INGEST_ONE_RATIO = 1.2  # ingest at 1 connection against Postfix (issue 13)
# Memory goals of the issue "authenticated submission at CMS pace" (raised from 32 x 30 MB in 250 MB).
GOAL_PEAK_RSS_MB = 128
GOAL_IDLE_RSS_MB = 120
GOAL_ADDED_P99_MS = 5.0

# Section auth (issue "Authenticated submission at CMS pace").
AUTH_USER = "wordpress"
SASL_REALM = "bench.realm"
FLOOD_CONNECTIONS = 100
FLOOD_RAMP_SECONDS = 3
GOAL_AUTH_RATIO = 1.2
GOAL_AUTH_P50_MS = 3.0
GOAL_FLOOD_P99_MS = 50.0


class BenchError(Exception):
    """The bench could not measure something (not a failed goal)."""


@dataclass
class Plan:
    """Counts per measurement; --quick divides them so a smoke run takes a couple of minutes."""
    quick: bool
    ingest_counts: dict = field(default_factory=dict)
    repeats: int = 3
    e2e_messages: int = 2000
    latency_per_connection: int = 250
    big_messages: int = 256
    idle_connections: int = 10_000
    deadline_seconds: int = 1800
    # auth: (messages per client, at most seconds) for 1 and for 8 clients; the flood's good-client time
    auth_one: tuple = (300, 40)
    auth_eight: tuple = (200, 30)
    auth_repeats: int = 3
    flood_seconds: int = 30
    auth_deadline_seconds: int = 1200  # added to deadline_seconds when the section runs

    @staticmethod
    def make(quick: bool) -> "Plan":
        if quick:
            return Plan(quick=True, ingest_counts={1: 200, 8: 600, 64: 640}, repeats=1, e2e_messages=400,
                        latency_per_connection=40, big_messages=32, idle_connections=1000, deadline_seconds=420,
                        auth_one=(60, 10), auth_eight=(40, 8), auth_repeats=1, flood_seconds=10, auth_deadline_seconds=300)
        return Plan(quick=False, ingest_counts={1: 1500, 8: 4000, 64: 4000})


# -- small helpers -------------------------------------------------------------------------------

def log(text: str):
    print(text, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def wait_for(what: str, check, timeout: float, interval: float = 0.05):
    """Polls `check()` until it returns something truthy; BenchError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_greeting(port: int, proc: subprocess.Popen | None, name: str, timeout: float = 30):
    def greeted():
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{name} exited with status {proc.returncode} while starting")
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return True
        except OSError:
            return False
        return False
    wait_for(f"{name} to greet on {HOST}:{port}", greeted, timeout, interval=0.1)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) ... of a process, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.startswith("Vm"):
                fields[name] = int(rest.split()[0])
    return fields


def load_average() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def stop_process(proc: subprocess.Popen, timeout: float = 30):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Cleanup:
    """What the bench started or changed, undone in reverse order however the bench ends."""

    def __init__(self):
        self.actions: list[tuple[str, callable]] = []

    def push(self, what: str, action):
        self.actions.append((what, action))

    def run(self):
        while self.actions:
            what, action = self.actions.pop()
            try:
                action()
            except Exception as error:  # keep undoing the rest
                log(f"cleanup: {what}: {error}")


class LogCounter:
    """Counts lines containing each marker in a growing log file, reading only what was added.
    Progress is read from the logs rather than the databases: a reader polling SQLite while the
    relay writes holds back its WAL checkpoints and would change what is measured."""

    def __init__(self, path: Path, markers: dict[str, bytes]):
        self.path = path
        self.markers = markers
        self.counts = {name: 0 for name in markers}
        self.offset = 0
        self.partial = b""

    def read(self) -> dict[str, int]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.counts
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            for name, marker in self.markers.items():
                if marker in line:
                    self.counts[name] += 1
        return self.counts


# -- the relay -----------------------------------------------------------------------------------

_KNOWN_KEYS: dict[tuple[str, str], bool] = {}


def binary_knows_key(binary: str, key: str) -> bool:
    """Whether this gmail-relay build accepts a config key (an older --baseline build refuses new ones)."""
    if (binary, key) not in _KNOWN_KEYS:
        with tempfile.TemporaryDirectory(prefix="gmail-relay-bench-key-") as directory:
            config = Path(directory) / "config.toml"
            config.write_text(f'data.dir = "{directory}/data"\n{key} = 1000\n')
            env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
            result = subprocess.run([binary, "status", "--config", str(config)], capture_output=True, text=True,
                                    env=env, timeout=60, stdin=subprocess.DEVNULL)
            _KNOWN_KEYS[(binary, key)] = "unknown key" not in result.stderr
    return _KNOWN_KEYS[(binary, key)]


class Relay:
    """One `gmail-relay serve` with its own data directory and config file."""

    def __init__(self, binary: str, base: Path, name: str, settings: dict, cleanup: Cleanup):
        self.binary = binary
        self.name = name
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.config_path = self.dir / "config.toml"
        self.settings = {
            "data.dir": str(self.dir / "data"),
            "smtp.listen": f"{HOST}:{self.port}",
            "web.listen": f"{HOST}:{free_port()}",
            **settings,
        }
        # Every bench client connects from loopback: the per-address limit (20 by default) would cap the
        # load itself. The flood of the auth section spreads its connections over 127.0.1.x addresses.
        if binary_knows_key(binary, "smtp.max_connections_per_address"):
            self.settings.setdefault("smtp.max_connections_per_address",
                                     max(1000, int(self.settings.get("smtp.max_connections", 200))))
        self.config_path.write_text("# written by bench/bench.py\n" + "".join(
            f"{key} = {toml_value(value)}\n" for key, value in self.settings.items()))
        self.proc: subprocess.Popen | None = None
        self.cleanup = cleanup

    def cli(self, *args: str, input: str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
        result = subprocess.run([self.binary, *args, "--config", str(self.config_path)], input=input,
                                stdin=None if input is not None else subprocess.DEVNULL, capture_output=True,
                                text=True, env=env, timeout=120)
        if result.returncode != 0:
            raise BenchError(f"gmail-relay {args[0]} {args[1] if len(args) > 1 else ''} exited {result.returncode}: "
                             f"{result.stderr.strip()[-2000:]}")
        return result.stdout

    def start(self) -> "Relay":
        env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
        self.log_file = open(self.dir / "relay.log", "ab")
        self.progress = LogCounter(self.dir / "relay.log", {"accepted": b"] message accepted", "sent": b"] message sent"})
        self.proc = subprocess.Popen([self.binary, "serve", "--config", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file, env=env)
        self.cleanup.push(f"stop relay {self.name}", self.stop)
        wait_greeting(self.port, self.proc, f"relay {self.name}")
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.log_file.close()

    def memory(self) -> dict[str, int]:
        return proc_status(self.proc.pid)

    def accepted(self) -> int:
        return self.progress.read()["accepted"]

    def in_flight(self) -> int:
        """Messages accepted and not yet sent, from the relay's own log lines."""
        counts = self.progress.read()
        return counts["accepted"] - counts["sent"]

    def wait_drained(self, timeout: float):
        wait_for(f"relay {self.name} to deliver its queue", lambda: self.in_flight() == 0, timeout, interval=0.1)

    def check_all_sent(self, timeout: float = 120) -> int:
        """After the load: the send log itself must agree that every message was sent. Returns the count."""
        self.wait_drained(timeout)
        counts = self.progress.read()
        waiting = [status for status in ("queued", "sending", "held", "failed")
                   if json.loads(self.cli("log", "--json", "--status", status, "--limit", "1"))]
        rows = json.loads(self.cli("log", "--json", "--limit", "1"))
        last = rows[0]["id"] if rows else 0
        if waiting or last != counts["accepted"] or counts["sent"] != last:
            raise BenchError(f"relay {self.name}: {last} messages in the send log, {counts['accepted']} accepted and "
                             f"{counts['sent']} sent in its log; some {' and '.join(waiting) or 'unaccounted'}")
        return last


# -- the fake Google -----------------------------------------------------------------------------

class FakeGoogle:
    def __init__(self, binary: str, base: Path, cleanup: Cleanup):
        self.dir = base / "fake-google"
        self.dir.mkdir(parents=True)
        port_file = self.dir / "port"
        self.log_file = open(self.dir / "fake-google.log", "ab")
        self.proc = subprocess.Popen([binary, "--host", HOST, "--port", "0", "--port-file", str(port_file)],
                                     stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file)
        cleanup.push("stop fake-google", self.stop)
        wait_for("fake-google to start", lambda: self._started(port_file), 30)
        self.url = f"http://{HOST}:{int(port_file.read_text())}"
        self.call("/_fake/clients", {"client_id": "bench-client", "client_secret": "bench-secret"})

    def _started(self, port_file: Path) -> bool:
        if self.proc.poll() is not None:
            raise BenchError(f"fake-google exited with status {self.proc.returncode}")
        return port_file.exists() and port_file.read_text().strip() != ""

    def call(self, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST" if body is not None else "GET",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def stats(self) -> dict:
        return self.call("/_fake/stats")

    def refresh_token(self, email: str) -> str:
        return self.call("/_fake/refresh-tokens", {"client_id": "bench-client", "email": email})["refresh_token"]

    def relay_settings(self, base_url: str | None = None) -> dict:
        url = base_url or self.url
        return {"google.auth_url": f"{url}/o/oauth2/v2/auth", "google.token_url": f"{url}/token",
                "google.gmail_url": url, "google.tokeninfo_url": f"{url}/tokeninfo", "google.revoke_url": f"{url}/revoke"}

    def stop(self):
        stop_process(self.proc)
        self.log_file.close()


class TimingProxy:
    """bench/timing_proxy.py in front of the fake Google (see its docstring)."""

    def __init__(self, upstream: str, base: Path, cleanup: Cleanup):
        port_file = base / "timing-proxy.port"
        self.proc = subprocess.Popen([sys.executable, str(BENCH_DIR / "timing_proxy.py"), "--upstream", upstream,
                                      "--port-file", str(port_file)], stdin=subprocess.DEVNULL)
        cleanup.push("stop timing proxy", lambda: stop_process(self.proc))
        wait_for("the timing proxy to start", lambda: port_file.exists() and port_file.read_text().strip(), 30)
        self.url = f"http://{HOST}:{int(port_file.read_text())}"

    def call(self, path: str, post: bool = False):
        request = urllib.request.Request(self.url + path, data=b"{}" if post else None, method="POST" if post else "GET")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


# -- Postfix, the reference ------------------------------------------------------------------------

MASTER_CF = """\
# written by gmail-relay bench/bench.py: the services smtpd -> cleanup -> queue -> smtp need, chroot off
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# Nothing here touches durability: cleanup(8) fsyncs every queue file before smtpd answers 250, as
# it always does (Postfix has no setting to turn that off).
MAIN_CF = """\
# written by gmail-relay bench/bench.py: a throw-away instance relaying everything to smtp-sink
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench-postfix.localdomain
mydomain = localdomain
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = {relay_restrictions}
relayhost = [127.0.0.1]:{sink_port}
smtp_dns_support_level = disabled
maillog_file = /dev/stdout
biff = no
"""

# The AUTH instance (section auth): Cyrus SASL, its config and sasldb in the instance's config directory.
# master.cf above runs smtpd without chroot, so smtpd (as user postfix) reads them at these very paths;
# Debian's own master.cf would chroot it to /var/spool/postfix, where they would have to be copied.
MAIN_CF_SASL = """\
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {sasl_dir}
smtpd_sasl_local_domain = {realm}
smtpd_sasl_security_options = noanonymous
"""

# Cyrus SASL's config for the application "smtpd" (smtpd_sasl_path), read as {sasl_dir}/smtpd.conf.
SASL_SMTPD_CONF = """\
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: {sasldb}
"""


class Postfix:
    """A second Postfix instance (config in a temp dir, listed in the default main.cf's
    alternate_config_directories while the bench runs) relaying to an smtp-sink. With `sasl`
    ((user, password, realm, saslpasswd2 binary)), smtpd offers AUTH through Cyrus SASL with a sasldb
    and relays only for authenticated clients."""

    def __init__(self, base: Path, cleanup: Cleanup, postfix: str, sink: str, name: str = "postfix",
                 sasl: tuple[str, str, str, str] | None = None):
        self.name = name
        self.dir = base / name
        self.conf = self.dir / "conf"
        self.port = free_port()
        self.sink_port = free_port()
        self.cleanup = cleanup
        self.postfix = postfix
        for sub in ("conf", "queue", "data"):
            (self.dir / sub).mkdir(parents=True)
        for path in (base, self.dir):
            path.chmod(0o755)  # the postfix user walks down to its queue
        shutil.chown(self.dir / "data", user="postfix")
        main_cf = MAIN_CF.format(dir=self.dir, sink_port=self.sink_port,
                                 relay_restrictions="permit_sasl_authenticated, reject" if sasl else "permit_mynetworks, reject")
        self.sasldb: Path | None = None
        if sasl:
            main_cf += MAIN_CF_SASL.format(sasl_dir=self.conf / "sasl", realm=sasl[2])
            self.sasldb = self._make_sasldb(*sasl)
        (self.conf / "main.cf").write_text(main_cf)
        (self.conf / "master.cf").write_text(MASTER_CF.format(listen=f"{HOST}:{self.port}"))
        self._register_config_directory()

        self.sink = subprocess.Popen([sink, "-u", "postfix", f"{HOST}:{self.sink_port}", "256"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "smtp-sink.log", "ab"))
        cleanup.push(f"stop smtp-sink of {name}", lambda: stop_process(self.sink))
        self.log_path = self.dir / "postfix.log"
        self.progress = LogCounter(self.log_path, {"accepted": b": message-id="})
        self.master = subprocess.Popen([postfix, "-c", str(self.conf), "start-fg"], stdin=subprocess.DEVNULL,
                                       stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        cleanup.push(f"stop {name}", self.stop)
        wait_greeting(self.port, self.master, name)

    def _make_sasldb(self, user: str, password: str, realm: str, saslpasswd2: str) -> Path:
        """smtpd.conf and a sasldb with one user, readable by smtpd (user postfix), not by others."""
        sasl_dir = self.conf / "sasl"  # Debian's Postfix reads $config_directory/sasl, whatever cyrus_sasl_config_path says
        sasl_dir.mkdir()
        sasl_dir.chmod(0o755)
        sasldb = sasl_dir / "sasldb2"
        (sasl_dir / "smtpd.conf").write_text(SASL_SMTPD_CONF.format(sasl_dir=sasl_dir, sasldb=sasldb))
        result = subprocess.run([saslpasswd2, "-c", "-p", "-f", str(sasldb), "-u", realm, user], input=password,
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0 or not sasldb.exists():
            raise BenchError(f"saslpasswd2 exited {result.returncode}: {result.stderr.strip()[-1000:]}")
        shutil.chown(sasldb, user="root", group="postfix")
        sasldb.chmod(0o640)
        return sasldb

    def _register_config_directory(self):
        original = POSTFIX_MAIN_CF.read_text() if POSTFIX_MAIN_CF.exists() else None
        kept = self._without_bench_lines(original or "")
        existing = ""
        if original is not None:
            existing = subprocess.run(["postconf", "-h", "alternate_config_directories"], capture_output=True,
                                      text=True, timeout=30).stdout.strip()
            existing = re.sub(r"\S*gmail-relay-bench-\S*,?", "", existing).strip(" ,")
        directories = ", ".join(d for d in (existing, str(self.conf)) if d)
        POSTFIX_MAIN_CF.parent.mkdir(parents=True, exist_ok=True)
        POSTFIX_MAIN_CF.write_text(f"{kept.rstrip()}\n{MAIN_CF_BEGIN}\nalternate_config_directories = {directories}\n{MAIN_CF_END}\n")

        def restore():
            if original is None:
                POSTFIX_MAIN_CF.unlink(missing_ok=True)
            else:
                POSTFIX_MAIN_CF.write_text(kept)
        self.cleanup.push("restore /etc/postfix/main.cf", restore)

    @staticmethod
    def _without_bench_lines(text: str) -> str:
        """Leaves out what an earlier, killed bench run may have left in main.cf."""
        out, skipping = [], False
        for line in text.splitlines(keepends=True):
            if line.strip() == MAIN_CF_BEGIN:
                skipping = True
            elif line.strip() == MAIN_CF_END:
                skipping = False
            elif not skipping:
                out.append(line)
        return "".join(out)

    def accepted(self) -> int:
        """Messages cleanup(8) has queued (one `message-id=` log line each)."""
        return self.progress.read()["accepted"]

    def in_flight(self) -> int:
        queue = self.dir / "queue"
        return sum(len(files) for sub in ("maildrop", "incoming", "active", "deferred", "hold")
                   for _, _, files in os.walk(queue / sub))

    def wait_drained(self, timeout: float):
        wait_for("postfix to deliver its queue", lambda: self.in_flight() == 0, timeout, interval=0.25)

    def stop(self):
        if self.master.poll() is None:
            subprocess.run([self.postfix, "-c", str(self.conf), "stop"], capture_output=True, timeout=60)
            try:
                self.master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait(timeout=10)


# -- load generators -------------------------------------------------------------------------------

def smtp_source(binary: str, port: int, sessions: int, count: int, size: int = BODY_BYTES) -> float:
    """Postfix's smtp-source: `count` messages over `sessions` connections, several per connection (-d).
    Returns the wall-clock seconds; BenchError when it reports any error."""
    started = time.perf_counter()
    result = subprocess.run([binary, "-s", str(sessions), "-m", str(count), "-l", str(size), "-d", "-M", "bench.example",
                             "-f", SENDER, "-t", RECIPIENT, f"{HOST}:{port}"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60 + count / 5)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or result.stderr.strip():
        raise BenchError(f"smtp-source -s {sessions} -m {count} to port {port} exited {result.returncode}: "
                         f"{result.stderr.strip()[-1000:]}")
    return elapsed


class SMTPConnection:
    """A minimal raw SMTP client (the bench times single replies, so no library in between)."""

    def __init__(self, port: int, timeout: float = 120, source: str | None = None):
        self.sock = socket.create_connection((HOST, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buffer = b""

    def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise BenchError(f"connection closed by the server after {lines!r}")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def command(self, line: str, expect: int) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        code, text = self.reply()
        if code != expect:
            raise BenchError(f"{line.split()[0]}: expected {expect}, got {text!r}")
        return text

    def greet(self):
        code, text = self.reply()
        if code != 220:
            raise BenchError(f"greeting: {text!r}")
        self.command("EHLO bench.example", 250)

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()


def message_bytes(subject: str, body_bytes: int) -> bytes:
    line = b"the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuv\r\n"
    body = (line * (body_bytes // len(line) + 1))[:body_bytes - 2] + b"\r\n"
    return (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@bench.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n").encode() + body


def default_sigterm():
    """In the bench's client processes: the bench's own SIGTERM handler (clean up, exit) is not theirs."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def latency_worker(args) -> list[tuple[str, float, str]]:
    """One connection sending `count` messages one after the other; per message the time from the
    end of the data (CRLF.CRLF written) to the final reply read."""
    port, worker, count = args
    conn = SMTPConnection(port)
    conn.greet()
    results = []
    for index in range(count):
        subject = f"bench-latency w{worker} n{index}"
        data = message_bytes(subject, BODY_BYTES) + b".\r\n"
        conn.command(f"MAIL FROM:<{SENDER}>", 250)
        conn.command(f"RCPT TO:<{RECIPIENT}>", 250)
        conn.command("DATA", 354)
        conn.sock.sendall(data)
        started = time.perf_counter()
        code, text = conn.reply()
        results.append((subject, time.perf_counter() - started, f"{code} {text}"))
    conn.close()
    return results


def big_message_client(port: int, index: int, barrier: threading.Barrier, results: list):
    """One 30 MB message, its DATA started together with the others' (the barrier)."""
    block = (b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n" * 840)[:65536 - 2] + b"\r\n"
    try:
        conn = SMTPConnection(port, timeout=300)
        conn.greet()
        conn.command(f"MAIL FROM:<{SENDER}> SIZE={BIG_MESSAGE_BYTES}", 250)
        conn.command(f"RCPT TO:<{RECIPIENT}>", 250)
        conn.command("DATA", 354)
        barrier.wait(timeout=60)
        header = f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: bench-big {index}\r\n\r\n".encode()
        conn.sock.sendall(header)
        for _ in range(BIG_MESSAGE_BYTES // len(block)):
            conn.sock.sendall(block)
        conn.sock.sendall(b".\r\n")
        code, text = conn.reply()
        results.append((code, text))
        conn.close()
    except (OSError, BenchError, threading.BrokenBarrierError) as error:
        results.append((0, repr(error)))


def auth_plain(user: str, password: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def auth_send_one(port: int, login: tuple[str, str] | None, subject: str, timeout: float = 60):
    """What PHPMailer (and smtplib's login + sendmail + quit) does for one message: a new connection,
    EHLO, AUTH PLAIN (unless `login` is None: the trusted-network path), one 10 KB message, QUIT, and
    the 221 read before the socket is closed."""
    conn = SMTPConnection(port, timeout=timeout)
    try:
        conn.greet()
        if login is not None:
            conn.command(auth_plain(*login), 235)
        conn.command(f"MAIL FROM:<{SENDER}>", 250)
        conn.command(f"RCPT TO:<{RECIPIENT}>", 250)
        conn.command("DATA", 354)
        conn.sock.sendall(message_bytes(subject, BODY_BYTES) + b".\r\n")
        code, text = conn.reply()
        if code != 250:
            raise BenchError(f"end of data: {text!r}")
        conn.command("QUIT", 221)
    finally:
        conn.sock.close()


def auth_send_worker(args) -> dict:
    """One client: up to `count` messages one after the other, each on its own connection, until
    `seconds` have passed. Per message the time from before connect() to the 221 read. A client error
    ends the run of this client (in a measured cell the bench treats it as fatal), unless
    `keep_going` (the flood's good client: a refused send is counted, and the next one tried)."""
    port, worker, count, seconds, login, *rest = args
    keep_going = bool(rest and rest[0])
    cpu_before = time.process_time()
    started = time.monotonic()
    deadline = started + seconds
    times, errors = [], []
    for index in range(count):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        try:
            auth_send_one(port, login, f"bench-auth w{worker} n{index}")
        except (OSError, BenchError) as error:
            errors.append(f"{type(error).__name__}: {error}")
            if not keep_going or len(errors) > 1000:
                break
            continue
        times.append(time.perf_counter() - t0)
    return {"times": times, "errors": errors, "start": started, "end": time.monotonic(),
            "cpu": time.process_time() - cpu_before}


def flood_worker(args) -> dict:
    """`connections` threads, each on its own loopback source address, sending AUTH PLAIN with a wrong
    password in a loop (reconnecting when the server closes after its error limit) until `stop_file`
    exists or `seconds` have passed. Returns the monotonic time of every 535 answer (password refused)
    and of every 454 (temporary failure: a relay may refuse to check at all under load)."""
    port, connections, seconds, user, stop_file = args
    hard_stop = time.monotonic() + seconds
    stop = lambda: time.monotonic() > hard_stop or os.path.exists(stop_file)  # noqa: E731
    answers: list[list[float]] = [[] for _ in range(connections)]
    temporary: list[list[float]] = [[] for _ in range(connections)]
    other: list[str] = []
    connects = [0] * connections

    def readable(conn: SMTPConnection) -> bool:
        """Waits in slices of 0.25 s for a reply (the relay delays a 535 by up to 10 s), or for the stop."""
        while b"\r\n" not in conn.buffer:
            if stop():
                return False
            if select.select([conn.sock], [], [], 0.25)[0]:
                return True
        return True

    def run(index: int):
        source = f"127.0.{1 + index // 250}.{1 + index % 250}"
        wrong = auth_plain(user, f"wrong-password-{index}")
        while not stop():
            conn = None
            try:
                conn = SMTPConnection(port, timeout=10, source=source)
                connects[index] += 1
                if not readable(conn):
                    break
                code, _ = conn.reply()
                if code != 220:
                    time.sleep(0.1)  # 421 too many connections: try again, a little later
                    continue
                conn.command("EHLO flood.example", 250)
                while True:
                    conn.sock.sendall(wrong.encode() + b"\r\n")
                    if not readable(conn):
                        break
                    code, text = conn.reply()
                    if code == 535:
                        answers[index].append(time.monotonic())
                    elif code == 454:
                        temporary[index].append(time.monotonic())
                    elif code == 421:
                        break  # the error limit: 421 and close; a new connection
                    else:
                        if len(other) < 20:
                            other.append(text)
                        break
            except (OSError, BenchError):
                time.sleep(0.05)
            finally:
                if conn is not None:
                    conn.sock.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, hard_stop - time.monotonic() + 15))
    return {"answers": sorted(t for a in answers for t in a), "temporary": sorted(t for a in temporary for t in a),
            "other": other, "connects": sum(connects),
            "alive": sum(1 for thread in threads if thread.is_alive())}


# -- the measurements --------------------------------------------------------------------------------

class Bench:
    def __init__(self, args, plan: Plan):
        self.args = args
        self.plan = plan
        self.cleanup = Cleanup()
        self.results: dict = {"quick": plan.quick, "baseline_binary": args.baseline}
        self.base = Path(tempfile.mkdtemp(prefix="gmail-relay-bench-", dir=args.work_dir))
        self.cleanup.push(f"remove {self.base}", lambda: shutil.rmtree(self.base, ignore_errors=True))

    # -- ingest ---------------------------------------------------------------------------------
    def ingest(self):
        relay = Relay(self.args.relay, self.base, "ingest", {
            "delivery.mode": "queue", "smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "bench",
            **FAST_DELIVERY}, self.cleanup)
        relay.cli("account", "add", "bench", "--sandbox", "--from", SENDER)
        relay.start()
        postfix = Postfix(self.base, self.cleanup, self.args.postfix, self.args.smtp_sink)
        targets = {"relay": (relay.port, relay.accepted, relay.wait_drained, relay.proc.pid),
                   "postfix": (postfix.port, postfix.accepted, postfix.wait_drained, postfix.master.pid)}
        baseline = None
        if self.args.baseline:
            # An earlier build of the relay, measured in the same rounds: "faster" is a side-by-side figure.
            baseline = Relay(self.args.baseline, self.base, "ingest-baseline", {
                "delivery.mode": "queue", "smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "bench",
                **FAST_DELIVERY}, self.cleanup)
            baseline.cli("account", "add", "bench", "--sandbox", "--from", SENDER)
            baseline.start()
            targets["baseline"] = (baseline.port, baseline.accepted, baseline.wait_drained, baseline.proc.pid)
        cpu = {name: {c: [] for c in self.plan.ingest_counts} for name in targets}

        def run(name: str, sessions: int, count: int, record: bool = False) -> float:
            port, accepted, wait_drained, root = targets[name]
            wait_drained(120)
            before = accepted()
            cpu_before, source_before = cpu_seconds(root), children_cpu_seconds()
            seconds = smtp_source(self.args.smtp_source, port, sessions, count)
            # Every message must have been accepted, not only answered (the log can lag a moment).
            wait_for(f"{name} to have accepted {count} messages", lambda: accepted() - before >= count, 30, 0.1)
            wait_drained(120)  # its deliveries are part of its cost, as Postfix's relaying to the sink is
            if record:
                cpu[name][sessions].append({"target_ms_per_message": 1000 * (cpu_seconds(root) - cpu_before) / count,
                                            "smtp_source_ms_per_message": 1000 * (children_cpu_seconds() - source_before) / count})
            return count / seconds

        log(f"ingest: warm-up (load average {load_average()})")
        for name in targets:
            run(name, 8, 100)
        rates = {name: {c: [] for c in self.plan.ingest_counts} for name in targets}
        for repeat in range(self.plan.repeats):
            for sessions, count in self.plan.ingest_counts.items():
                order = list(targets) if repeat % 2 == 0 else list(reversed(targets))
                for name in order:
                    rate = run(name, sessions, count, record=True)
                    rates[name][sessions].append(rate)
                    log(f"  {name:7} {sessions:2} connection(s) {count:5} messages: {rate:7.0f} msg/s")
        self.results["ingest"] = {
            str(c): {**{name: statistics.median(rates[name][c]) for name in targets},
                     **{f"{name}_runs": rates[name][c] for name in targets},
                     **{f"{name}_cpu_ms": statistics.median(r["target_ms_per_message"] for r in cpu[name][c]) for name in targets},
                     "smtp_source_cpu_ms": statistics.median(r["smtp_source_ms_per_message"] for name in targets for r in cpu[name][c]),
                     "messages": n}
            for c, n in self.plan.ingest_counts.items()}
        self.results["ingest_load_after"] = load_average()
        relay.check_all_sent()
        if self.args.strace:
            log("durability: fsync calls per message, 8 connections, under strace (rates meaningless here)")
            count = 200
            self.results["fsyncs"] = {
                "messages": count,
                "relay": self.fsyncs_per_message([relay.proc.pid], lambda: run("relay", 8, count), relay.wait_drained, count),
                "postfix": self.fsyncs_per_message(descendants(postfix.master.pid), lambda: run("postfix", 8, count),
                                                   postfix.wait_drained, count),
                "disk": fsync_latency(self.base)}
        postfix.stop()
        relay.stop()
        if baseline:
            baseline.check_all_sent()
            baseline.stop()

    def fsyncs_per_message(self, pids: list[int], load, wait_drained, count: int) -> dict[str, float]:
        """fsync-family calls of these processes (and their threads and children) while `count`
        messages are accepted and delivered, per message."""
        out = self.base / f"strace-{pids[0]}.txt"
        tracer = subprocess.Popen([self.args.strace, "-f", "-c", "-o", str(out), "-e", "trace=" + ",".join(FSYNC_CALLS),
                                   *[arg for pid in pids for arg in ("-p", str(pid))]],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cleanup.push("stop strace", lambda: stop_process(tracer))
        time.sleep(1.5)  # attaching to every thread
        load()
        wait_drained(120)
        time.sleep(0.5)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=60)
        calls = {}
        for line in out.read_text().splitlines():
            parts = line.split()
            if parts and parts[-1] in FSYNC_CALLS and len(parts) >= 5 and parts[3].isdigit():
                calls[parts[-1]] = int(parts[3])
        return {**{name: calls.get(name, 0) / count for name in FSYNC_CALLS}, "raw": calls, "pids": len(pids)}

    # -- end to end -------------------------------------------------------------------------------
    def gmail_relay(self, google: FakeGoogle, name: str, mode: str, google_url: str | None = None,
                    binary: str | None = None) -> Relay:
        relay = Relay(binary or self.args.relay, self.base, name, {
            "delivery.mode": mode, "smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "gmail",
            **FAST_DELIVERY, **google.relay_settings(google_url)}, self.cleanup)
        relay.cli("account", "add", "gmail", "--client-id", "bench-client", "--client-secret", "bench-secret",
                  "--refresh-token", google.refresh_token(SENDER), "--from", SENDER)
        return relay.start()

    def end_to_end(self, google: FakeGoogle):
        count = self.plan.e2e_messages
        self.results["e2e"] = {"messages": count, "connections": 8, **FAST_DELIVERY}
        for mode in ("sync", "queue"):
            # Counted from before the start: a relay may refresh the token as it starts (health probe).
            tokens_before = google.stats()["token_requests_total"]
            relay = self.gmail_relay(google, f"e2e-{mode}", mode)
            log(f"end to end, {mode} mode: {count} messages over 8 connections (load average {load_average()})")
            smtp_source(self.args.smtp_source, relay.port, 8, 16)  # warm-up: token, connections
            relay.wait_drained(60)
            outbox_before = google.stats()["outbox"]
            started = time.perf_counter()
            smtp_seconds = smtp_source(self.args.smtp_source, relay.port, 8, count)
            outbox_at_last_reply = google.stats()["outbox"] - outbox_before
            wait_for(f"{count} messages in the fake's outbox",
                     lambda: google.stats()["outbox"] - outbox_before >= count, 120 + count / 10, 0.02)
            seconds = time.perf_counter() - started
            relay.wait_drained(60)
            messages = relay.check_all_sent()
            relay.stop()
            tokens = google.stats()["token_requests_total"] - tokens_before
            self.results["e2e"][mode] = {
                "rate": count / seconds, "seconds": seconds, "smtp_seconds": smtp_seconds,
                "in_outbox_at_last_reply": outbox_at_last_reply, "token_requests": tokens, "messages_total": messages,
                "token_requests_per_1000": 1000 * tokens / messages}
            log(f"  {count / seconds:.0f} msg/s SMTP to outbox; {tokens} token call(s) for {messages} messages")

    # -- fleet: relays on PostgreSQL next to one on SQLite ------------------------------------------
    def fleet(self, google: FakeGoogle):
        """Ingest and end to end through 1 relay on SQLite, 1 relay on PostgreSQL and 2 relays sharing one
        PostgreSQL (issue 15), the same 8 connections in all (split 4 + 4 over two relays), and the token
        calls per 1,000 messages of the two-relay fleet."""
        script = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"
        cluster = subprocess.run([str(script), "start"], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        self.cleanup.push("stop the PostgreSQL cluster", lambda: subprocess.run([str(script), "stop", cluster], check=False))
        admin_url = subprocess.run([str(script), "url", cluster], check=True, capture_output=True, text=True).stdout.strip()
        count = self.plan.e2e_messages

        def database(name: str) -> str:
            subprocess.run(["psql", "-X", "-q", admin_url, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
            return admin_url.rsplit("/", 1)[0] + f"/{name}?sslmode=disable"

        def fleet_of(label: str, store_url: str | None, relays: int) -> list[Relay]:
            made = []
            for index in range(relays):
                settings = {"delivery.mode": "queue", "smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "gmail",
                            **FAST_DELIVERY, **google.relay_settings()}
                if store_url:
                    settings.update({"store.url": store_url, "store.relay_name": f"{label}-{index}"})
                relay = Relay(self.args.relay, self.base, f"{label}-{index}", settings, self.cleanup)
                if index == 0:
                    relay.cli("account", "add", "gmail", "--client-id", "bench-client", "--client-secret", "bench-secret",
                              "--refresh-token", google.refresh_token(SENDER), "--from", SENDER)
                else:
                    # The fleet shares one key file (docs/scaling.md): the first relay's, copied.
                    (relay.dir / "data").mkdir(mode=0o700)
                    shutil.copy2(made[0].dir / "data" / "secret.key", relay.dir / "data" / "secret.key")
                made.append(relay.start())
            return made

        self.results["fleet"] = {"messages": count, "connections": 8}
        for label, store_url, relays in (("sqlite", None, 1), ("pg1", "db", 1), ("pg2", "db", 2)):
            url = database(f"bench_{label}") if store_url else None
            tokens_before = google.stats()["token_requests_total"]
            fleet = fleet_of(label, url, relays)
            log(f"fleet {label}: {count} messages over 8 connections to {relays} relay(s) (load average {load_average()})")
            for relay in fleet:
                smtp_source(self.args.smtp_source, relay.port, 4, 16)  # warm-up: token, connections
            outbox_before = google.stats()["outbox"]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(len(fleet)) as pool:
                smtp_seconds = max(pool.map(lambda r: smtp_source(self.args.smtp_source, r.port, 8 // len(fleet), count // len(fleet)), fleet))
            wait_for(f"{count} messages in the fake's outbox", lambda: google.stats()["outbox"] - outbox_before >= count,
                     120 + count / 10, 0.02)
            seconds = time.perf_counter() - started
            sent = google.stats()["outbox"] - outbox_before
            for relay in fleet:
                relay.stop()
            tokens = google.stats()["token_requests_total"] - tokens_before
            total = count + 16 * len(fleet)
            self.results["fleet"][label] = {
                "relays": relays, "ingest_rate": count / smtp_seconds, "e2e_rate": count / seconds, "sent": sent,
                "token_requests": tokens, "token_requests_per_1000": 1000 * tokens / total}
            log(f"  ingest {count / smtp_seconds:.0f} msg/s, end to end {count / seconds:.0f} msg/s, {tokens} token call(s)")

    # -- added latency ----------------------------------------------------------------------------
    def latency(self, google: FakeGoogle):
        proxy = TimingProxy(google.url, self.base, self.cleanup)
        # One pool of client processes for every run: forking a second pool from a process that still
        # has the first one's threads can leave a child stuck on a lock it inherited (seen here).
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(8, initializer=default_sigterm) as pool:
            self.latency_of(google, proxy, pool, self.args.relay, "latency")
            if self.args.baseline:
                self.latency_of(google, proxy, pool, self.args.baseline, "latency_baseline")

    def latency_of(self, google: FakeGoogle, proxy: "TimingProxy", pool, binary: str, key: str):
        relay = self.gmail_relay(google, key.replace("_", "-"), "sync", google_url=proxy.url, binary=binary)
        per = self.plan.latency_per_connection
        self.results[key] = {}
        pool.map(latency_worker, [(relay.port, 100 + w, 4) for w in range(8)], chunksize=1)  # warm-up
        # 8 connections is the goal's; 1 connection shows the relay's own time without queueing.
        for connections, count in ((1, max(20, per * 2)), (8, per)):
            log(f"{key.replace('_', ' ')}, sync mode: {connections} connection(s) x {count} messages (load average {load_average()})")
            proxy.call("/_bench/reset", post=True)
            runs = pool.map_async(latency_worker, [(relay.port, 1000 * connections + w, count) for w in range(connections)],
                                  chunksize=1)
            samples = [s for worker in runs.get(timeout=120 + count * connections / 5) for s in worker]
            self.results[key][str(connections)] = self.added_latency(samples, proxy.call("/_bench/timings"))
        relay.wait_drained(60)
        relay.check_all_sent()
        relay.stop()

    @staticmethod
    def added_latency(samples: list[tuple[str, float, str]], timings: dict) -> dict:
        """Per message: the client's DATA-to-250 time minus the time its Gmail call(s) took at the proxy."""
        sends = timings["sends"]
        added, smtp, gmail, unsent, unmatched = [], [], [], 0, 0
        for subject, seconds, reply in samples:
            if "Ok: sent as" not in reply:
                unsent += 1
                continue
            google_times = sends.get(subject)
            if not google_times:
                unmatched += 1
                continue
            google_seconds = sum(google_times)  # a 401 retry would be two calls, both Google's time
            smtp.append(seconds)
            gmail.append(google_seconds)
            added.append(seconds - google_seconds)
        if not added:
            raise BenchError(f"no sync-mode message could be timed ({unsent} not sent synchronously, {unmatched} unmatched)")
        ms = lambda values, p: 1000 * percentile(values, p)  # noqa: E731
        return {"messages": len(samples), "timed": len(added), "not_sent_in_sync": unsent, "unmatched": unmatched,
                "token_calls_in_run": len(timings["other"]),
                "smtp_p50_ms": ms(smtp, 50), "smtp_p99_ms": ms(smtp, 99),
                "google_p50_ms": ms(gmail, 50), "google_p99_ms": ms(gmail, 99),
                "added_p50_ms": ms(added, 50), "added_p99_ms": ms(added, 99), "added_max_ms": 1000 * max(added)}

    # -- memory -----------------------------------------------------------------------------------
    def memory(self):
        relay = Relay(self.args.relay, self.base, "memory-big", {
            "delivery.mode": "queue", "smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "bench",
            "smtp.max_connections": self.plan.big_messages + 100, **FAST_DELIVERY}, self.cleanup)
        relay.cli("account", "add", "bench", "--sandbox", "--from", SENDER)
        relay.start()
        baseline = relay.memory()
        count = self.plan.big_messages
        log(f"memory: {count} concurrent {BIG_MESSAGE_BYTES >> 20} MB messages (load average {load_average()})")
        barrier = threading.Barrier(count)
        replies: list = []
        clients = [threading.Thread(target=big_message_client, args=(relay.port, i, barrier, replies), daemon=True)
                   for i in range(count)]
        started = time.perf_counter()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=max(1, 600 - (time.perf_counter() - started)))
        seconds = time.perf_counter() - started
        accepted = sum(1 for code, _ in replies if code == 250)
        if accepted != count:
            raise BenchError(f"{accepted} of {count} big messages accepted: {[t for c, t in replies if c != 250][:3]}")
        relay.wait_drained(300)  # the sandbox delivery reads each spool file too
        relay.check_all_sent()
        peak = relay.memory()
        relay.stop()
        self.results["memory_big"] = {"messages": count, "bytes": BIG_MESSAGE_BYTES, "seconds": seconds,
                                      "baseline_rss_kb": baseline["VmRSS"], "peak_rss_kb": peak["VmHWM"]}

        relay = Relay(self.args.relay, self.base, "memory-idle", {
            "delivery.mode": "queue", "smtp.max_connections": self.plan.idle_connections + 100}, self.cleanup)
        relay.start()
        baseline = relay.memory()
        log(f"memory: {self.plan.idle_connections} idle connections")
        connections = []
        try:
            for _ in range(self.plan.idle_connections):
                conn = SMTPConnection(relay.port, timeout=30)
                conn.greet()
                connections.append(conn)
            time.sleep(1)
            status = relay.memory()
            alive = relay.proc.poll() is None
        finally:
            for conn in connections:
                conn.sock.close()
        relay.stop()
        if not alive:
            raise BenchError("the relay exited while holding the idle connections")
        self.results["memory_idle"] = {"connections": len(connections), "baseline_rss_kb": baseline["VmRSS"],
                                       "rss_kb": status["VmRSS"], "peak_rss_kb": status["VmHWM"]}

    # -- AUTH per connection (the CMS path) ------------------------------------------------------
    def auth(self):
        """PHPMailer's pattern: a new connection, EHLO, AUTH PLAIN, one message and QUIT per message,
        against the relay (queue mode, an SMTP login), Postfix with Cyrus SASL (sasldb) and the
        relay's trusted-network path (no AUTH); then a wrong-password flood against the relay."""
        password = secrets.token_urlsafe(18)
        login = (AUTH_USER, password)
        plan = self.plan

        def auth_relay(name: str, binary: str) -> Relay:
            relay = Relay(binary, self.base, name, {"delivery.mode": "queue", **FAST_DELIVERY}, self.cleanup)
            relay.cli("account", "add", "bench", "--sandbox", "--from", SENDER)
            relay.cli("credential", "add", AUTH_USER, "--account", "bench", "--password-stdin", input=password + "\n")
            return relay.start()

        relay = auth_relay("auth", self.args.relay)
        postfix = Postfix(self.base, self.cleanup, self.args.postfix, self.args.smtp_sink, name="postfix-sasl",
                          sasl=(AUTH_USER, password, SASL_REALM, self.args.saslpasswd2))
        trusted = Relay(self.args.relay, self.base, "auth-trusted", {
            "delivery.mode": "queue", "smtp.trusted_networks": "127.0.0.0/8", "smtp.trusted_account": "bench",
            **FAST_DELIVERY}, self.cleanup)
        trusted.cli("account", "add", "bench", "--sandbox", "--from", SENDER)
        trusted.start()
        postfix_version = subprocess.run([self.args.postconf, "-h", "mail_version"], capture_output=True, text=True,
                                         timeout=30).stdout.strip()
        # name: (label, port, login, accepted, wait_drained, pid whose process tree is the target's CPU)
        targets = {
            "relay": ("relay, AUTH PLAIN", relay.port, login, relay.accepted, relay.wait_drained, relay.proc.pid),
            "postfix": (f"Postfix {postfix_version} + SASL", postfix.port, login, postfix.accepted, postfix.wait_drained,
                        postfix.master.pid),
            "trusted": ("relay, trusted, no AUTH", trusted.port, None, trusted.accepted, trusted.wait_drained,
                        trusted.proc.pid),
        }
        relays = {"relay": relay}
        baseline = None
        if self.args.baseline:
            baseline = auth_relay("auth-baseline", self.args.baseline)
            targets["baseline"] = ("baseline, AUTH PLAIN", baseline.port, login, baseline.accepted, baseline.wait_drained,
                                   baseline.proc.pid)
            relays["baseline"] = baseline
        cells = {name: {"one_times": [], "one_p50_runs": [], "eight_rates": [], "eight_cpu_ms": [], "client_cpu_ms": []}
                 for name in targets}

        def cell(pool, name: str, clients: int, tag: str) -> list[dict]:
            label, port, target_login, accepted, wait_drained, root = targets[name]
            count, seconds = plan.auth_one if clients == 1 else plan.auth_eight
            wait_drained(120)
            before, cpu_before = accepted(), cpu_seconds(root)
            runs = pool.map_async(auth_send_worker, [(port, f"{name}-{tag}-c{clients}-w{w}", count, seconds, target_login)
                                                     for w in range(clients)], chunksize=1)
            out = runs.get(timeout=seconds + 180)
            errors = [e for o in out for e in o["errors"]]
            if errors:
                raise BenchError(f"auth, {label}, {clients} client(s): {len(errors)} client error(s): {errors[:3]}")
            sent = sum(len(o["times"]) for o in out)
            wait_for(f"{name} to have accepted {sent} messages", lambda: accepted() - before >= sent, 30, 0.1)
            wait_drained(120)  # as in ingest: delivering (sandbox, smtp-sink) is part of the cost
            out[0]["target_cpu"] = cpu_seconds(root) - cpu_before
            return out

        flood_results = {}
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(8, initializer=default_sigterm) as pool:
            log(f"auth: warm-up (load average {load_average()})")
            for name in targets:
                cell(pool, name, 8, "warm")
            for repeat in range(plan.auth_repeats):
                order = list(targets) if repeat % 2 == 0 else list(reversed(targets))
                for clients in (1, 8):
                    for name in order:
                        out = cell(pool, name, clients, f"r{repeat}")
                        times = [t for o in out for t in o["times"]]
                        if clients == 1:
                            cells[name]["one_times"] += times
                            cells[name]["one_p50_runs"].append(1000 * percentile(times, 50))
                            log(f"  {name:8}  1 client  {len(times):5} messages: p50 {1000 * percentile(times, 50):8.2f} ms, "
                                f"p99 {1000 * percentile(times, 99):8.2f} ms")
                        else:
                            rate = len(times) / (max(o["end"] for o in out) - min(o["start"] for o in out))
                            cells[name]["eight_rates"].append(rate)
                            cells[name]["eight_cpu_ms"].append(1000 * out[0]["target_cpu"] / len(times))
                            cells[name]["client_cpu_ms"].append(1000 * sum(o["cpu"] for o in out) / len(times))
                            log(f"  {name:8}  8 clients {len(times):5} messages: {rate:7.1f} msg/s")
            for name, target in relays.items():
                flood_results[name] = self.flood(pool, name, target, login)

        sasldb_clear = password.encode() in postfix.sasldb.read_bytes()
        relay_clear = [str(path.relative_to(relay.dir)) for path in relay.dir.rglob("*")
                       if path.is_file() and password.encode() in path.read_bytes()]
        postfix.stop()
        for target in (relay, trusted, *([baseline] if baseline else [])):
            target.check_all_sent()
            target.stop()

        ms = lambda values, p: 1000 * percentile(values, p) if values else None  # noqa: E731
        self.results["auth"] = {
            "connections_flood": FLOOD_CONNECTIONS, "postfix_version": postfix_version,
            "sasldb_password_in_clear": sasldb_clear, "relay_files_with_password": relay_clear,
            "targets": {name: {
                "label": targets[name][0], "one_messages": len(c["one_times"]),
                "one_p50_ms": ms(c["one_times"], 50), "one_p99_ms": ms(c["one_times"], 99),
                "one_p50_runs_ms": c["one_p50_runs"],
                "eight_rate": statistics.median(c["eight_rates"]), "eight_rate_runs": c["eight_rates"],
                "eight_cpu_ms": statistics.median(c["eight_cpu_ms"]),
                "client_cpu_ms": statistics.median(c["client_cpu_ms"])} for name, c in cells.items()},
            "repeats": plan.auth_repeats, "flood": flood_results}

    def flood(self, pool, name: str, relay: Relay, login: tuple[str, str]) -> dict:
        """FLOOD_CONNECTIONS connections guessing passwords for the bench's login while one good
        client sends with AUTH, one connection per message, for plan.flood_seconds."""
        seconds = self.plan.flood_seconds
        relay.wait_drained(120)
        stop_file = self.base / f"flood-stop-{name}"
        log(f"auth flood against {name}: {FLOOD_CONNECTIONS} connections with wrong passwords, one good client, "
            f"{seconds} s (load average {load_average()})")
        flood = pool.apply_async(flood_worker, ((relay.port, FLOOD_CONNECTIONS, seconds + 150, AUTH_USER, str(stop_file)),))
        try:
            time.sleep(FLOOD_RAMP_SECONDS)  # the flood's connections are up and guessing
            good = pool.apply_async(auth_send_worker, ((relay.port, f"flood-good-{name}", 1_000_000, seconds, login, True),)
                                    ).get(timeout=seconds + 120)
        finally:
            stop_file.touch()
        flooded = flood.get(timeout=60)
        times = good["times"]
        answered = sum(1 for t in flooded["answers"] if good["start"] <= t <= good["end"])
        temporary = sum(1 for t in flooded["temporary"] if good["start"] <= t <= good["end"])
        window = good["end"] - good["start"]
        result = {"seconds": window, "good_sent": len(times), "good_failed": len(good["errors"]),
                  "good_errors": sorted(set(good["errors"]))[:5], "wrong_temporary": temporary,
                  "good_p50_ms": 1000 * percentile(times, 50) if times else None,
                  "good_p99_ms": 1000 * percentile(times, 99) if times else None,
                  "good_max_ms": 1000 * max(times) if times else None,
                  "wrong_answered": answered, "wrong_answered_total": len(flooded["answers"]),
                  "flood_connects": flooded["connects"], "flood_other_replies": flooded["other"],
                  "flood_threads_left": flooded["alive"], "relay_alive": relay.proc.poll() is None}
        log(f"  good client: {len(times)} sent in {window:.1f} s, p50 {result['good_p50_ms'] or 0:.1f} ms, "
            f"p99 {result['good_p99_ms'] or 0:.1f} ms, {len(good['errors'])} failed{': ' + '; '.join(result['good_errors']) if good['errors'] else ''}; "
            f"wrong attempts answered meanwhile: {answered} 535, {temporary} 454 ({flooded['connects']} flood connections made)")
        if flooded["other"]:
            raise BenchError(f"the flood against {name} got unexpected replies: {flooded['other'][:3]}")
        if not result["relay_alive"]:
            raise BenchError(f"relay {name} exited during the flood")
        return result

    def run(self, sections: list[str]):
        self.results["machine"] = {"host": platform.node(), "cpus": os.cpu_count(), "load_at_start": load_average(),
                                   "filesystem": filesystem_type(self.base), "python": platform.python_version()}
        log(f"bench directory {self.base} ({self.results['machine']['filesystem']}), load average {load_average()}")
        if "ingest" in sections:
            self.ingest()
        if "e2e" in sections or "latency" in sections or "fleet" in sections:
            google = FakeGoogle(self.args.fake, self.base, self.cleanup)
            if "e2e" in sections:
                self.end_to_end(google)
            if "fleet" in sections:
                self.fleet(google)
            if "latency" in sections:
                self.latency(google)
            google.stop()
        if "memory" in sections:
            self.memory()
        if "auth" in sections:
            self.auth()
        self.results["machine"]["load_at_end"] = load_average()


FSYNC_CALLS = ("fsync", "fdatasync", "sync_file_range")
SECTIONS = ("ingest", "e2e", "latency", "memory", "auth", "fleet")


def cpu_seconds(root: int) -> float:
    """CPU time (user + system, all threads, and reaped children) of `root` and every process below it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile: its time is in its parent's reaped-children fields
        total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
    return total


def children_cpu_seconds() -> float:
    """CPU time of the bench's own finished children (smtp-source runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (a Postfix master and its daemons)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo and len(found) < 10_000:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def fsync_latency(directory: Path, count: int = 200) -> dict[str, float]:
    """This disk's time for write(4 KB) + fsync, as the databases and queues here see it."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 4096)
            started = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50_ms": 1000 * percentile(times, 50), "p99_ms": 1000 * percentile(times, 99)}


def filesystem_type(path: Path) -> str:
    result = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", str(path)], capture_output=True, text=True, timeout=10)
    return result.stdout.strip() or "unknown"


# -- the report ------------------------------------------------------------------------------------

def report(results: dict) -> bool:
    """Prints the table and the goal lines; True when every goal that was measured passed."""
    machine = results["machine"]
    log("")
    log(f"gmail-relay benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {'quick' if results['quick'] else 'full'} run")
    log(f"machine: {machine['cpus']} CPUs, load average {machine['load_at_start']} at start, {machine['load_at_end']} at end;"
        f" data and Postfix queue on {machine['filesystem']}")
    goals: list[tuple[bool, str]] = []

    if "ingest" in results:
        log("")
        log(f"ingest: 10 KB messages (smtp-source -l {BODY_BYTES} -d), 250 after the durable commit, delivery.mode = queue,")
        log("        sandbox account; Postfix: smtpd -> cleanup -> incoming queue (fsync), relaying to smtp-sink")
        log(f"  {'connections':>11}  {'messages':>8}  {'relay msg/s':>11}  {'Postfix msg/s':>13}  {'relay/Postfix':>13}")
        for sessions, row in results["ingest"].items():
            log(f"  {sessions:>11}  {row['messages']:>8}  {row['relay']:>11.0f}  {row['postfix']:>13.0f}  {row['relay'] / row['postfix']:>12.2f}x")
        runs = len(next(iter(results["ingest"].values()))["relay_runs"])
        log(f"  (median of {runs} run(s) per cell, relay and Postfix alternating)")
        if runs > 1:
            # The machine's noise moves every target together within a round: each round's own ratio shows
            # how far the verdict of the medians could move.
            log("  relay/Postfix of each round (run i of the relay against run i of Postfix):")
            for sessions, row in results["ingest"].items():
                ratios = " ".join(f"{r / p:.2f}x" for r, p in zip(row["relay_runs"], row["postfix_runs"]))
                log(f"  {sessions:>11}  {ratios}")
        log("  CPU per message (user + system, accepting and delivering; the machine's cores are shared by all three):")
        log(f"  {'connections':>11}  {'relay ms':>9}  {'Postfix ms':>10}  {'smtp-source ms':>14}")
        for sessions, row in results["ingest"].items():
            log(f"  {sessions:>11}  {row['relay_cpu_ms']:>9.3f}  {row['postfix_cpu_ms']:>10.3f}  {row['smtp_source_cpu_ms']:>14.3f}")
        if "baseline" in next(iter(results["ingest"].values())):
            log(f"  baseline build ({results.get('baseline_binary')}), in the same rounds:")
            log(f"  {'connections':>11}  {'relay msg/s':>11}  {'baseline msg/s':>14}  {'relay/baseline':>14}")
            for sessions, row in results["ingest"].items():
                log(f"  {sessions:>11}  {row['relay']:>11.0f}  {row['baseline']:>14.0f}  {row['relay'] / row['baseline']:>13.2f}x")
        if "fsyncs" in results:
            f = results["fsyncs"]
            per = lambda who: " + ".join(f"{f[who][c]:.2f} {c}" for c in FSYNC_CALLS if f[who][c]) or "0"  # noqa: E731
            log(f"  durability, {f['messages']} messages at 8 connections under strace, accepted and delivered:")
            log(f"    relay:   {per('relay')} per message")
            log(f"    Postfix: {per('postfix')} per message")
            log(f"    this disk: write + fsync p50 {f['disk']['p50_ms']:.2f} ms, p99 {f['disk']['p99_ms']:.2f} ms")
        if "1" in results["ingest"]:
            one = results["ingest"]["1"]
            one_ratio = one["relay"] / one["postfix"]
            goals.append((one_ratio >= GOAL_INGEST_ONE_RATIO,
                          f"ingest at 1 connection >= {GOAL_INGEST_ONE_RATIO:.1f}x Postfix: {one_ratio:.2f}x "
                          f"(relay {one['relay']:.0f} msg/s, Postfix {one['postfix']:.0f} msg/s)"))
        if "8" in results["ingest"]:
            eight = results["ingest"]["8"]
            ratio = eight["relay"] / eight["postfix"]
            goals.append((ratio >= GOAL_INGEST_RATIO,
                          f"ingest at 8 connections >= {GOAL_INGEST_RATIO:.0f}x Postfix: {ratio:.2f}x "
                          f"(relay {eight['relay']:.0f} msg/s, Postfix {eight['postfix']:.0f} msg/s)"))

    if "fleet" in results:
        fleet = results["fleet"]
        log("")
        log(f"fleet: {fleet['messages']} messages of 10 KB over {fleet['connections']} connections (4 + 4 over two relays),")
        log("       OAuth account, queue mode, PostgreSQL on this machine (fsync off: a throw-away cluster)")
        log(f"  {'store':>22}  {'ingest msg/s':>12}  {'end to end msg/s':>16}  {'token calls per 1,000':>21}")
        names = {"sqlite": "1 relay, SQLite", "pg1": "1 relay, PostgreSQL", "pg2": "2 relays, PostgreSQL"}
        for key, name in names.items():
            if key in fleet:
                row = fleet[key]
                log(f"  {name:>22}  {row['ingest_rate']:>12.0f}  {row['e2e_rate']:>16.0f}  {row['token_requests_per_1000']:>21.2f}")
        log("  (one run per row; token calls include each relay's start-up probe, shared in a fleet)")

    if "e2e" in results:
        e2e = results["e2e"]
        log("")
        log(f"end to end: SMTP -> relay -> fake Google's outbox, OAuth account, {e2e['connections']} connections, "
            f"{e2e['messages']} messages of 10 KB;")
        log(f"        pacing out of the way: delivery.sends_per_minute = {e2e['delivery.sends_per_minute']}, "
            f"delivery.account_concurrency = {e2e['delivery.account_concurrency']}")
        for mode in ("sync", "queue"):
            if mode in e2e:
                row = e2e[mode]
                log(f"  {mode:5} mode  {row['rate']:7.0f} msg/s  ({row['in_outbox_at_last_reply']} of {e2e['messages']} "
                    f"in the outbox when the last 250 came)")
        log("")
        log("token refresh: calls to the token endpoint (fake's /_fake/stats), access tokens live 3599 s")
        for mode in ("sync", "queue"):
            if mode in e2e:
                row = e2e[mode]
                log(f"  {mode:5} relay  {row['token_requests']} call(s) for {row['messages_total']} messages = "
                    f"{row['token_requests_per_1000']:.2f} per 1,000 messages (expected: about one per relay start and hour)")

    if "latency" in results:
        log("")
        log("added latency, sync mode: per message, DATA end -> 250 at the client minus the time its Gmail call took")
        log("        at the timing proxy in front of the fake Google (docs/performance.md)")
        log(f"  {'connections':>11}  {'timed':>9}  {'DATA->250 p50/p99 ms':>21}  {'fake+proxy p50/p99':>19}  {'added p50/p99 ms':>17}")
        for connections, lat in results["latency"].items():
            log(f"  {connections:>11}  {lat['timed']:>4}/{lat['messages']:<4}  {lat['smtp_p50_ms']:>10.2f}/{lat['smtp_p99_ms']:<10.2f}"
                f"  {lat['google_p50_ms']:>9.2f}/{lat['google_p99_ms']:<9.2f}  {lat['added_p50_ms']:>8.2f}/{lat['added_p99_ms']:<8.2f}")
            if lat["not_sent_in_sync"] or lat["unmatched"]:
                log(f"  {'':>11}  ({lat['not_sent_in_sync']} not sent within the sync time-out, {lat['unmatched']} without a Gmail call)")
        if "latency_baseline" in results:
            log(f"  baseline build ({results.get('baseline_binary')}), same proxy and fake, right after:")
            for connections, lat in results["latency_baseline"].items():
                log(f"  {connections:>11}  {lat['timed']:>4}/{lat['messages']:<4}  {lat['smtp_p50_ms']:>10.2f}/{lat['smtp_p99_ms']:<10.2f}"
                    f"  {lat['google_p50_ms']:>9.2f}/{lat['google_p99_ms']:<9.2f}  {lat['added_p50_ms']:>8.2f}/{lat['added_p99_ms']:<8.2f}")
        lat = results["latency"]["8"]
        goals.append((lat["added_p99_ms"] < GOAL_ADDED_P99_MS and lat["not_sent_in_sync"] == 0,
                      f"added p99 latency at 8 connections < {GOAL_ADDED_P99_MS:.0f} ms: "
                      f"{lat['added_p99_ms']:.2f} ms (p50 {lat['added_p50_ms']:.2f} ms)"))

    if "memory_big" in results:
        big, idle = results["memory_big"], results.get("memory_idle")
        log("")
        log("memory: the relay's peak RSS (VmHWM in /proc/PID/status), a fresh relay for each")
        log(f"  {big['messages']} concurrent {big['bytes'] >> 20} MB messages: peak {big['peak_rss_kb'] / 1024:.0f} MB "
            f"(idle before: {big['baseline_rss_kb'] / 1024:.0f} MB; {big['messages'] * big['bytes'] / 2**20 / big['seconds']:.0f} MB/s in)")
        if idle:
            per = (idle["rss_kb"] - idle["baseline_rss_kb"]) / max(1, idle["connections"])
            log(f"  {idle['connections']} idle connections: peak {idle['peak_rss_kb'] / 1024:.0f} MB "
                f"(idle before: {idle['baseline_rss_kb'] / 1024:.0f} MB; {per:.1f} KB per connection)")
        peak_mb = big["peak_rss_kb"] / 1024
        goals.append((peak_mb < GOAL_PEAK_RSS_MB,
                      f"peak RSS with {big['messages']} x {big['bytes'] >> 20} MB < {GOAL_PEAK_RSS_MB} MB: {peak_mb:.0f} MB"))
        if idle:
            idle_mb = idle["peak_rss_kb"] / 1024
            goals.append((idle_mb < GOAL_IDLE_RSS_MB,
                          f"peak RSS with {idle['connections']} idle connections < {GOAL_IDLE_RSS_MB} MB: {idle_mb:.0f} MB"))

    if "auth" in results:
        auth = results["auth"]
        rows = auth["targets"]
        fmt = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
        log("")
        log("AUTH per connection (the CMS path): per message a new connection, EHLO, AUTH PLAIN, one 10 KB message,")
        log("        QUIT (raw-socket clients, as smtplib or PHPMailer); latency from connect() to the 221 read;")
        log("        relays in queue mode with a sandbox account; Postfix relays to smtp-sink, AUTH required to relay")
        log(f"  {'target':<27}  {'1 client p50/p99 ms':>19}  {'8 clients msg/s':>15}  {'CPU ms/msg at 8':>15}  {'clients CPU ms':>14}")
        for name, row in rows.items():
            log(f"  {row['label']:<27}  {fmt(row['one_p50_ms']):>9}/{fmt(row['one_p99_ms']):<9}  {row['eight_rate']:>15.1f}"
                f"  {row['eight_cpu_ms']:>15.2f}  {row['client_cpu_ms']:>14.2f}")
        log(f"  ({auth['repeats']} run(s) per cell, targets alternating; msg/s the median, latency over every run's messages;"
            f" CPU: target and the 8 Python clients, per message)")
        clear = ("the test password is in its sasldb file as plain bytes" if auth["sasldb_password_in_clear"]
                 else "the test password was not found in its sasldb file as plain bytes")
        relay_check = ("not found in any file of the relay's directory" if not auth["relay_files_with_password"]
                       else f"FOUND in {', '.join(auth['relay_files_with_password'])}")
        log(f"  note: Cyrus sasldb stores passwords in clear (checked: {clear}); the relay must not: it stores scrypt")
        log(f"        hashes (checked: the password is {relay_check}). The costs compared are not alike.")
        if auth["flood"]:
            log("")
            log(f"AUTH flood: {auth['connections_flood']} connections (one loopback source address each) sending AUTH PLAIN with")
            log("        wrong passwords in a loop (reconnecting after the 421 error limit) while one good client does")
            log("        connect + AUTH + one message + QUIT per message")
            log(f"  {'target':<27}  {'seconds':>7}  {'good sent/failed':>16}  {'good p50/p99 ms':>19}  {'wrong answered 535/454':>22}")
            for name, f in auth["flood"].items():
                log(f"  {rows[name]['label']:<27}  {f['seconds']:>7.1f}  {f['good_sent']:>9}/{f['good_failed']:<6}  {fmt(f['good_p50_ms']):>9}/"
                    f"{fmt(f['good_p99_ms']):<9}  {f['wrong_answered']:>15}/{f['wrong_temporary']:<6}")
                if f["good_errors"]:
                    log(f"  {'':<27}  good sends refused: {'; '.join(f['good_errors'])}")
        relay, postfix = rows["relay"], rows["postfix"]
        ratio = relay["eight_rate"] / postfix["eight_rate"]
        goals.append((ratio >= GOAL_AUTH_RATIO,
                      f"AUTH per connection at 8 clients >= {GOAL_AUTH_RATIO}x Postfix+SASL: {ratio:.2f}x "
                      f"(relay {relay['eight_rate']:.1f} msg/s, Postfix {postfix['eight_rate']:.1f} msg/s)"))
        goals.append((relay["one_p50_ms"] < GOAL_AUTH_P50_MS,
                      f"AUTH per connection, 1 client p50 < {GOAL_AUTH_P50_MS:.0f} ms: {relay['one_p50_ms']:.2f} ms "
                      f"(p99 {relay['one_p99_ms']:.2f} ms; Postfix+SASL p50 {postfix['one_p50_ms']:.2f} ms)"))
        if "relay" in auth["flood"]:
            f = auth["flood"]["relay"]
            passed = f["good_p99_ms"] is not None and f["good_p99_ms"] < GOAL_FLOOD_P99_MS and not f["good_failed"]
            goals.append((passed, f"AUTH flood, good client p99 < {GOAL_FLOOD_P99_MS:.0f} ms and none refused: {fmt(f['good_p99_ms'])} ms "
                                  f"({f['good_sent']} sent, {f['good_failed']} refused in {f['seconds']:.0f} s; "
                                  f"{f['wrong_answered']} wrong attempts answered 535, {f['wrong_temporary']} 454)"))

    log("")
    log("goals")
    for passed, text in goals:
        log(f"  {'PASS' if passed else 'FAIL'}  {text}")
    return all(passed for passed, _ in goals)


def main() -> int:
    parser = argparse.ArgumentParser(description="gmail-relay benchmark (run it through bench/run.sh)")
    parser.add_argument("--relay", required=True, help="release gmail-relay binary")
    parser.add_argument("--fake", required=True, help="release fake-google binary")
    parser.add_argument("--smtp-source", default=shutil.which("smtp-source") or "/usr/sbin/smtp-source")
    parser.add_argument("--smtp-sink", default=shutil.which("smtp-sink") or "/usr/sbin/smtp-sink")
    parser.add_argument("--postfix", default=shutil.which("postfix") or "/usr/sbin/postfix")
    parser.add_argument("--postconf", default=shutil.which("postconf") or "/usr/sbin/postconf")
    parser.add_argument("--saslpasswd2", default=shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2",
                        help="Cyrus SASL's saslpasswd2 (Debian package sasl2-bin), for section auth")
    parser.add_argument("--strace", default=shutil.which("strace"),
                        help="strace, to count fsync calls per message (skipped when missing)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, one run per cell: a smoke check")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--baseline", help="an earlier gmail-relay binary, measured side by side (ingest, latency, auth)")
    parser.add_argument("--ingest-connections", help="section ingest: comma-separated connection counts to run "
                        "(of 1, 8, 64; default all three)")
    parser.add_argument("--repeats", type=int, help="section ingest: rounds per cell (default 3, 1 with --quick)")
    parser.add_argument("--work-dir", help="where the temp directory goes (default: $TMPDIR or /tmp); a real disk, not tmpfs")
    args = parser.parse_args()
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}")
    for path in (args.relay, args.fake, args.smtp_source, args.smtp_sink, args.postfix, args.postconf,
                 *([args.saslpasswd2] if "auth" in sections else []), *([args.baseline] if args.baseline else [])):
        if not os.access(path, os.X_OK):
            parser.error(f"not an executable: {path}")
    if ("ingest" in sections or "auth" in sections) and os.geteuid() != 0:
        parser.error("the Postfix reference needs root (it starts a Postfix instance)")

    plan = Plan.make(args.quick)
    if args.ingest_connections:
        wanted_cells = [c.strip() for c in args.ingest_connections.split(",") if c.strip()]
        if not wanted_cells or any(not c.isdigit() or int(c) not in plan.ingest_counts for c in wanted_cells):
            parser.error(f"--ingest-connections: choose from {', '.join(map(str, plan.ingest_counts))}")
        plan.ingest_counts = {int(c): plan.ingest_counts[int(c)] for c in wanted_cells}
    if args.repeats is not None:
        if not 1 <= args.repeats <= 20:
            parser.error("--repeats: 1 to 20")
        plan.repeats = args.repeats
    if "auth" in sections:
        plan.deadline_seconds += plan.auth_deadline_seconds
    # 1,000 idle connections need more descriptors than the usual soft limit of 1024; the relay inherits it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = plan.idle_connections * 2 + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted, hard))

    def deadline(signum, frame):
        raise BenchError(f"the bench ran longer than its limit of {plan.deadline_seconds} s")
    signal.signal(signal.SIGALRM, deadline)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(2))
    signal.alarm(plan.deadline_seconds)

    bench = Bench(args, plan)
    try:
        bench.run(sections)
    except (BenchError, subprocess.TimeoutExpired, multiprocessing.TimeoutError, OSError) as error:
        log(f"bench: {error}")
        return 2
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 2
    finally:
        signal.alarm(0)
        bench.cleanup.run()
    if args.json:
        Path(args.json).write_text(json.dumps(bench.results, indent=2) + "\n")
    return 0 if report(bench.results) else 1


if __name__ == "__main__":
    sys.exit(main())
