#!/usr/bin/env python3
"""How long GET /api/stats takes on a big send log (issue 17): a store with 1,000,000 attempts over
30 days, read through a running relay. Prints the figures; not a test, not part of CI or bench/run.sh.

    python3 bench/stats_query.py [--binary .build/release/gmail-relay] [--attempts 1000000] [--repeat 20]

The relay makes the database (its own migrations, so the schema and the events_kind_at index are the
real ones); the rows are then written straight into it with Python's sqlite3 (one message, one attempt
and its events per row: `accepted`, then `sent` or, for 2%, `failed`; 3% are also `held` once).
The same query is then timed without the index, to show what the index buys.
Standard library only; everything on 127.0.0.1; the temp directory is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# RelayStore.hourlyCountsQuery, and the plain GROUP BY it replaced, for comparison.
QUERY = """WITH RECURSIVE hours(hour) AS (SELECT ? UNION ALL SELECT hour + 1 FROM hours WHERE hour < ?)
SELECT hour,
 (SELECT COUNT(*) FROM events WHERE kind = 'sent' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000),
 (SELECT COUNT(*) FROM events WHERE kind = 'failed' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000),
 (SELECT COUNT(*) FROM events WHERE kind = 'held' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000),
 (SELECT COUNT(*) FROM events WHERE kind = 'accepted' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000)
FROM hours"""
GROUP_BY = """SELECT at / 3600000 AS hour, kind, COUNT(*) AS n FROM events
WHERE kind IN ('sent', 'failed', 'held', 'accepted') AND at >= ? AND at < ? GROUP BY hour, kind"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(db: Path, attempts: int, now_ms: int) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous = OFF")
    account_id = conn.execute("SELECT id FROM accounts WHERE name = 'main'").fetchone()[0]
    rng = random.Random(17)
    span = 30 * 86_400_000
    batch = 50_000
    start_id = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0] or 0) + 1
    for first in range(0, attempts, batch):
        messages, tries, events = [], [], []
        for i in range(first, min(first + batch, attempts)):
            mid = start_id + i
            at = now_ms - rng.randrange(span)
            failed = rng.random() < 0.02
            status = "failed" if failed else "sent"
            messages.append((mid, status, "main", account_id, "127.0.0.1:50000", 0, "site@example.com",
                             '["reader@example.net"]', 900, 1, 1, at, at + 400))
            tries.append((mid, at + 100, at + 400, "https://gmail.googleapis.com/send", 400 if failed else 200))
            events.append((mid, account_id, "main", at, "accepted", "bench"))
            if rng.random() < 0.03:
                events.append((mid, account_id, "main", at + 50, "held", "bench"))
            events.append((mid, account_id, "main", at + 400, status, "bench"))
        conn.executemany("""INSERT INTO messages (id, status, account, account_id, peer, tls, mail_from, recipients,
            size, sandbox, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""", messages)
        conn.executemany("""INSERT INTO attempts (message_id, started_at, finished_at, endpoint, http_status)
            VALUES (?,?,?,?,?)""", tries)
        conn.executemany("INSERT INTO events (message_id, account_id, account, at, kind, detail) VALUES (?,?,?,?,?,?)", events)
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def timed(fn, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parent.parent
    default = repo / ".build/release/gmail-relay"
    parser.add_argument("--binary", default=str(default if default.exists() else repo / ".build/debug/gmail-relay"))
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    proc = None
    try:
        web_port = free_port()
        config = work / "config.toml"
        config.write_text(
            f'data.dir = "{work / "data"}"\nsmtp.listen = "127.0.0.1:{free_port()}"\n'
            f'web.listen = "127.0.0.1:{web_port}"\nweb.open = true\nlog.retention_days = 60\n')
        run = lambda *a: subprocess.run([args.binary, *a, "--config", str(config)], check=True,
                                        capture_output=True, text=True, timeout=120)
        run("account", "add", "main", "--sandbox", "--from", "owner@example.com")
        db = work / "data" / "relay.sqlite"
        t = time.perf_counter()
        fill(db, args.attempts, int(time.time() * 1000))
        print(f"filled {args.attempts:,} messages with one attempt each in {time.perf_counter() - t:.0f} s "
              f"({db.stat().st_size / 1e6:.0f} MB)")
        conn = sqlite3.connect(db)
        counts = dict(conn.execute("SELECT 'attempts', COUNT(*) FROM attempts UNION ALL SELECT 'events', COUNT(*) FROM events"))
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + QUERY, (0, 1)) if "events" in row[3]]
        conn.close()
        print(f"rows: {counts['attempts']:,} attempts, {counts['events']:,} events; plan: {' / '.join(plan)}")

        proc = subprocess.Popen([args.binary, "serve", "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    print("the relay did not start", file=sys.stderr)
                    return 2
                time.sleep(0.2)

        def get(hours: int):
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/stats?hours={hours}", timeout=60) as r:
                return json.loads(r.read())

        totals = get(720)["totals"]
        print(f"/api/stats?hours=720 totals: {totals}")
        for hours in (48, 720):
            get(hours)  # warm the page cache and the statement cache
            median, p95 = timed(lambda: get(hours), args.repeat)
            print(f"GET /api/stats?hours={hours}: median {median:.1f} ms, p95 {p95:.1f} ms ({args.repeat} requests)")
        median, p95 = timed(lambda: urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=60).read(), args.repeat)
        print(f"GET / (both charts, 720 hours): median {median:.1f} ms, p95 {p95:.1f} ms")
        proc.terminate()
        proc.wait(timeout=30)
        proc = None

        conn = sqlite3.connect(db)
        now_ms = int(time.time() * 1000)
        hours = (now_ms // 3_600_000 - 719, now_ms // 3_600_000)
        window = hours[0] * 3_600_000, (hours[1] + 1) * 3_600_000
        with_index = timed(lambda: conn.execute(QUERY, hours).fetchall(), 5)
        grouped = timed(lambda: conn.execute(GROUP_BY, window).fetchall(), 5)
        conn.execute("DROP INDEX events_kind_at")
        without = timed(lambda: conn.execute(GROUP_BY, window).fetchall(), 3)
        conn.close()
        print(f"the 720-hour query alone (Python sqlite3): {with_index[0]:.1f} ms; the plain GROUP BY "
              f"{grouped[0]:.1f} ms with events_kind_at, {without[0]:.1f} ms without any index on kind")
        return 0
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
