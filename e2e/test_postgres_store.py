"""`gmail-relay migrate`, the CLI and relays serving from a real PostgreSQL (issue 15).

The cluster is the one scripts/test.sh started (RELAY_TEST_PG_URL), or one started here through
scripts/postgres.sh for this session. Each test gets a database of its own.
"""

from __future__ import annotations

import json
import os
import smtplib
import time
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from harness import ACCOUNT, ACCOUNT_FROM, HOST, PASSWORD, USERNAME, free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "postgres.sh"


@pytest.fixture(scope="session")
def pg_url():
    url = os.environ.get("RELAY_TEST_PG_URL")
    if url:
        yield url
        return
    if not any(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.fail("PostgreSQL is not installed: run scripts/postgres.sh install (scripts/test.sh does), then the tests again")
    directory = subprocess.run([str(SCRIPT), "start"], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    try:
        yield subprocess.run([str(SCRIPT), "url", directory], check=True, capture_output=True, text=True).stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop", directory], check=False)


def psql(url: str, sql: str) -> str:
    psql_binary = shutil.which("psql")
    assert psql_binary, "psql is missing: run scripts/postgres.sh install"
    result = subprocess.run([psql_binary, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def database(pg_url):
    """(URL without the password, the password, the full URL) of a fresh database."""
    name = "e2e_" + uuid.uuid4().hex[:16]
    psql(pg_url, f"CREATE DATABASE {name}")
    parts = urlsplit(pg_url)
    full = urlunsplit(parts._replace(path="/" + name))
    bare = urlunsplit(parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}", path="/" + name))
    yield bare, parts.password, full
    psql(pg_url, f"DROP DATABASE {name} WITH (FORCE)")


def pg_relay(make_relay, url: str):
    return make_relay(config={"store.url": url}, start=False, setup=False)


def test_migrate_sqlite(make_relay):
    relay = make_relay(start=False, setup=False)
    result = relay.cli_ok("migrate")
    # Every SQLite migration this binary knows is applied (serve ran them); the number grows with each one.
    match = re.fullmatch(rf"SQLite store {re.escape(str(relay.data_dir))}/relay\.sqlite: schema version (\d+) \(up to date\)",
                         result.stdout.strip())
    assert match and int(match.group(1)) >= 7, result.stdout


def test_migrate_postgres_then_up_to_date(make_relay, database):
    bare, password, full = database
    relay = pg_relay(make_relay, bare)
    shown = re.sub(r"^postgres://([^@]+)@", r"postgres://\1:***@", bare)  # the query (sslmode=disable) is kept
    env = {"GMAIL_RELAY_STORE_PASSWORD": password}
    first = relay.cli_ok("migrate", env=env)
    # Every PostgreSQL migration this binary knows is applied, in order; the number grows with each one.
    match = re.fullmatch(rf"PostgreSQL store {re.escape(shown)}: schema version (\d+) \(migrated from 0\)", first.stdout.strip())
    assert match and int(match.group(1)) >= 2, first.stdout
    version = int(match.group(1))
    second = relay.cli_ok("migrate", env=env)
    assert second.stdout.strip() == f"PostgreSQL store {shown}: schema version {version} (up to date)"
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert password not in output
    assert psql(full, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations") == \
        ",".join(str(v) for v in range(1, version + 1))
    tables = set(psql(full, "SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'public'").split(","))
    assert {"accounts", "credentials", "messages", "message_chunks", "attempts", "events", "relays"} <= tables


def test_older_relay_refuses_a_newer_schema(make_relay, database):
    bare, password, full = database
    relay = pg_relay(make_relay, bare)
    env = {"GMAIL_RELAY_STORE_PASSWORD": password}
    known = int(re.search(r"schema version (\d+)", relay.cli_ok("migrate", env=env).stdout).group(1))
    psql(full, "INSERT INTO schema_migrations (version, name, applied_by) VALUES (99, 'future', 'newer-relay')")
    expected = (f"the PostgreSQL store's schema is version 99, but this gmail-relay knows only up to version {known}: "
                "a newer gmail-relay migrated it; upgrade this relay before starting it")
    for command in ("migrate", "serve"):
        result = relay.cli(command, env=env)
        assert result.returncode != 0, f"{command} started against a newer schema: {result.stdout}"
        assert expected in result.stderr, result.stderr
        assert password not in result.stderr + result.stdout
    assert psql(full, "SELECT count(*) FROM schema_migrations") == str(known + 1)


def test_a_relay_serves_from_postgres(make_relay, database):
    """The whole path on the shared store: CLI set-up, SMTP AUTH, a message stored with its body in the
    database (nothing left in the local spool, no SQLite file), sent, and in the log."""
    bare, password, full = database
    env = {"GMAIL_RELAY_STORE_PASSWORD": password}
    relay = make_relay(config={"store.url": bare, "store.relay_name": "relay-one", "delivery.mode": "queue"},
                       start=False, setup=False)
    # The first command of a new install seals a grant with the key file in data.dir, which it makes.
    assert not relay.data_dir.exists()
    relay.cli_ok("account", "add", "other", "--client-id", "id-1", "--client-secret-stdin", "--refresh-token-stdin",
                 "--from", "other@example.com", input="client-secret\nrefresh-token-e2e\n", env=env)
    assert (relay.data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
    assert relay.data_dir.stat().st_mode & 0o777 == 0o700
    relay.cli_ok("account", "add", ACCOUNT, "--sandbox", "--from", ACCOUNT_FROM, env=env)
    relay.cli_ok("credential", "add", USERNAME, "--account", ACCOUNT, "--password-stdin", input=PASSWORD + "\n", env=env)
    assert "refresh-token-e2e" not in psql(full, "SELECT encode(secret, 'escape') FROM accounts WHERE name = 'other'")
    relay.start(env=env)
    body = "x" * 300_000  # past the in-memory limit: received into the local spool, then moved into the database
    with smtplib.SMTP(HOST, relay.port, timeout=30) as client:
        client.login(USERNAME, PASSWORD)
        client.sendmail(ACCOUNT_FROM, ["rcpt@example.com"],
                        f"From: {ACCOUNT_FROM}\r\nTo: rcpt@example.com\r\nSubject: shared store\r\n\r\n{body}\r\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if psql(full, "SELECT status FROM messages WHERE subject = 'shared store'") == "sent":
            break
        time.sleep(0.2)
    assert psql(full, "SELECT status || ',' || accepted_by FROM messages WHERE subject = 'shared store'") == "sent,relay-one"
    assert int(psql(full, "SELECT sum(length(data)) FROM message_chunks")) > 300_000
    rows = json.loads(relay.cli_ok("log", "--json", env=env).stdout)
    assert [row["subject"] for row in rows] == ["shared store"]
    assert not relay.data_dir.joinpath("relay.sqlite").exists()
    assert list(relay.data_dir.joinpath("spool", "incoming").iterdir()) == []
    assert list(relay.data_dir.joinpath("spool", "messages").iterdir()) == []
    assert psql(full, "SELECT name FROM relays") == "relay-one"
    relay.stop()
    assert password not in relay.stderr_text()


def add_shop_account(relay, fake_google, address: str, env: dict | None = None):
    """An OAuth account `shop` on the fake Google (its grant sealed by this relay's CLI) and the login
    USERNAME for it."""
    client_id, secret = fake_google.add_client()
    refresh = fake_google.refresh_token(address)
    relay.cli_ok("account", "add", "shop", "--client-id", client_id, "--client-secret-stdin", "--refresh-token-stdin",
                 "--from", address, input=f"{secret}\n{refresh}\n", env=env)
    relay.cli_ok("credential", "add", USERNAME, "--account", "shop", "--password-stdin", input=PASSWORD + "\n", env=env)


def submit_message(relay, address: str, subject: str, body: str = "body", log_id: bytes = rb"queued as (\d+)") -> int:
    """One message over smtplib from `address`; the log id the 250 names (`log_id` matches it)."""
    with smtplib.SMTP(HOST, relay.port, timeout=60) as client:
        client.login(USERNAME, PASSWORD)
        client.mail("wordpress@shop.example")
        client.rcpt("alice@example.com")
        code, text = client.data(f"From: {address}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode())
    assert code == 250, (code, text)
    match = re.search(log_id, text)
    assert match, text
    return int(match.group(1))


def test_a_large_message_goes_to_gmail_from_the_database_piece_by_piece(make_relay, fake_google, database, tmp_path):
    """A message past 1 MiB is kept in the database as chunks and uploaded from them (read one chunk at a
    time into the upload file): Gmail gets every byte, and nothing is left in the relay's directory."""
    bare, password, full = database
    env = {"GMAIL_RELAY_STORE_PASSWORD": password}
    relay = make_relay(config={**fake_google.relay_config(), "store.url": bare, "store.relay_name": "relay-one",
                               "delivery.mode": "queue"}, start=False, setup=False)
    add_shop_account(relay, fake_google, FLEET_ADDRESS, env)
    relay.start(env=env)
    body = "".join(f"line {n:07d} of a large message, every byte must arrive\r\n" for n in range(60_000))  # ~3.4 MB
    with smtplib.SMTP(HOST, relay.port, timeout=60) as client:
        client.login(USERNAME, PASSWORD)
        client.sendmail("wordpress@shop.example", ["alice@example.com"],
                        f"From: {FLEET_ADDRESS}\r\nTo: alice@example.com\r\nSubject: large\r\n\r\n{body}")
    [sent] = fake_google.wait_outbox(1, timeout=60)
    assert sent["raw"].split("\r\n\r\n", 1)[1] == body
    assert int(psql(full, "SELECT count(*) FROM message_chunks")) >= len(body) // (256 * 1024), "kept as chunks"
    wait_until(lambda: psql(full, "SELECT status FROM messages WHERE subject = 'large'") == "sent", 30, "the log says sent")
    leftovers = [str(p) for p in relay.data_dir.joinpath("spool").rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
    relay.stop()


def test_unreachable_database_is_one_sentence(make_relay):
    port = free_port()
    relay = pg_relay(make_relay, f"postgres://relay:Hunter2-e2e@127.0.0.1:{port}/relay")
    result = relay.cli("migrate")
    assert result.returncode != 0
    assert f"cannot connect to the PostgreSQL store postgres://relay:***@127.0.0.1:{port}/relay?sslmode=disable" in result.stderr
    assert "Hunter2" not in result.stderr + result.stdout


# -- a fleet ---------------------------------------------------------------------------------

FLEET_ADDRESS = "shop@example.com"


def fleet(make_relay, fake_google, database, tmp_path, lease: int = 6):
    """Two relays (relay-a, relay-b) on one database and one secret key file, an OAuth account `shop`
    on the fake Google set up through relay-a's CLI, queue mode."""
    bare, password, full = database
    env = {"GMAIL_RELAY_STORE_PASSWORD": password, "GMAIL_RELAY_SECRET_KEY_FILE": str(tmp_path / "fleet.key")}
    config = {**fake_google.relay_config(), "store.url": bare, "store.lease_seconds": lease,
              "delivery.mode": "queue", "delivery.sends_per_minute": 100000}
    a = make_relay(config={**config, "store.relay_name": "relay-a"}, start=False, setup=False)
    b = make_relay(config={**config, "store.relay_name": "relay-b"}, start=False, setup=False)
    add_shop_account(a, fake_google, FLEET_ADDRESS, env)
    a.start(env=env)
    b.start(env=env)
    return a, b, env, full


def submit(relay, subject: str) -> int:
    """One message from the fleet's account; the log id from the 250."""
    return submit_message(relay, FLEET_ADDRESS, subject)


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_two_relays_share_the_load_and_one_killed_loses_nothing(make_relay, fake_google, database, tmp_path):
    a, b, env, full = fleet(make_relay, fake_google, database, tmp_path)
    # Load over both: each relay accepts half, and both send (a claim is whoever polls first).
    accepted: dict[int, str] = {}
    for n in range(40):
        accepted[submit(a if n % 2 == 0 else b, f"fleet {n}")] = f"fleet {n}"
    wait_until(lambda: psql(full, "SELECT count(*) FROM messages WHERE status = 'sent'") == str(len(accepted)),
               60, "the first 40 messages sent")
    assert psql(full, "SELECT string_agg(DISTINCT accepted_by, ',' ORDER BY accepted_by) FROM messages") == "relay-a,relay-b"
    assert len(fake_google.outbox()) == len(accepted)

    # Relay-a alone, its first sends hanging at Google, is killed while they are in flight.
    b.stop()
    fake_google.inject(endpoint="send", count=3, hang_seconds=6)
    for n in range(40, 50):
        accepted[submit(a, f"fleet {n}")] = f"fleet {n}"
    wait_until(lambda: int(psql(full, "SELECT count(*) FROM messages WHERE status = 'sending' AND lease_owner = 'relay-a'")) > 0,
               30, "relay-a to be sending")
    in_flight = int(psql(full, "SELECT count(*) FROM messages WHERE status = 'sending' AND lease_owner = 'relay-a'"))
    a.kill9()
    # Relay-b, started again, takes over once relay-a's leases run out (6 s) and sends everything.
    b.start(env=env)
    wait_until(lambda: psql(full, "SELECT count(*) FROM messages WHERE status = 'sent'") == str(len(accepted)),
               90, f"all {len(accepted)} messages sent")
    rows = psql(full, "SELECT string_agg(id::text || '=' || status, ',' ORDER BY id) FROM messages")
    assert rows == ",".join(f"{i}=sent" for i in sorted(accepted)), "every message that got a 250 is sent"
    box = fake_google.outbox()
    duplicates = len(box) - len(accepted)
    assert 0 <= duplicates <= in_flight, f"{duplicates} duplicates, but only {in_flight} sends were in flight"
    takeovers = int(psql(full, "SELECT coalesce(sum(takeovers), 0) FROM messages"))
    assert 1 <= takeovers <= in_flight, (takeovers, in_flight)
    # Two relays, a restart and a kill: one token refresh for the whole fleet (the token is shared, sealed).
    assert fake_google.stats()["token_requests_total"] == 1, fake_google.stats()
    # The survivor's API and metrics say relay-a is gone.
    status = json.loads(b.web_get("/api/status"))
    relays = {r["name"]: r for r in status["relays"]}
    assert relays["relay-a"]["state"] == "gone" and relays["relay-b"]["state"] == "up", relays
    assert relays["relay-a"]["claimed"] == 0
    assert 'relay_fleet_up{relay="relay-a"} 0' in b.web_get("/metrics")
    assert "relay-a: gone" in b.cli_ok("status", env=env).stdout
    b.stop()


@pytest.fixture
def own_cluster():
    """A cluster of this test's own, which it may take down and bring back (scripts/postgres.sh down|up)."""
    directory = subprocess.run([str(SCRIPT), "start"], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    try:
        yield directory, subprocess.run([str(SCRIPT), "url", directory], check=True, capture_output=True, text=True).stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop", directory], check=False)


def try_submit(relay, subject: str) -> tuple[int, str]:
    """(code, text) of the first refusal (AUTH or DATA), or of the DATA reply."""
    try:
        with smtplib.SMTP(HOST, relay.port, timeout=60) as client:
            try:
                client.login(USERNAME, PASSWORD)
            except smtplib.SMTPAuthenticationError as error:
                return error.smtp_code, error.smtp_error.decode()
            code, text = client.mail("wordpress@shop.example")
            if code != 250:
                return code, text.decode()
            client.rcpt("alice@example.com")
            code, text = client.data(f"From: {ACCOUNT_FROM}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n".encode())
            return code, text.decode()
    except smtplib.SMTPResponseException as error:
        return error.smtp_code, error.smtp_error.decode()


def test_the_database_going_away_means_try_again_later_and_nothing_acknowledged_is_lost(make_relay, own_cluster):
    directory, url = own_cluster
    parts = urlsplit(url)
    bare = urlunsplit(parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}"))
    env = {"GMAIL_RELAY_STORE_PASSWORD": parts.password}
    relay = make_relay(config={"store.url": bare, "store.relay_name": "relay-one", "store.lease_seconds": 6,
                               "delivery.mode": "queue"}, start=False, setup=False)
    relay.cli_ok("account", "add", ACCOUNT, "--sandbox", "--from", ACCOUNT_FROM, env=env)
    relay.cli_ok("credential", "add", USERNAME, "--account", ACCOUNT, "--password-stdin", input=PASSWORD + "\n", env=env)
    relay.start(env=env)
    acknowledged = []
    for n in range(5):
        code, text = try_submit(relay, f"before {n}")
        assert code == 250, text
        acknowledged.append(f"before {n}")

    subprocess.run([str(SCRIPT), "down", directory], check=True)
    refusals = []
    for n in range(3):
        started = time.monotonic()
        code, text = try_submit(relay, f"while down {n}")
        refusals.append((code, text, time.monotonic() - started))
    for code, text, seconds in refusals:
        # Try again later: 451 at DATA, or 454 at AUTH (the login cannot be checked); never a 5xx, never a 250.
        assert code in (451, 454), refusals
        assert seconds < 45, refusals
    assert any("store is unavailable" in text or "Temporary" in text for _, text, _ in refusals), refusals
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as refused:
        relay.web_get("/api/status", timeout=60)
    assert refused.value.code == 503
    assert "message store is unavailable" in json.loads(refused.value.read())["error"]
    assert relay.proc.poll() is None, "the relay must keep running while the database is away"

    subprocess.run([str(SCRIPT), "up", directory], check=True)
    # Nothing acknowledged is lost: every message that got a 250 before the outage is in the database,
    # and none of the refused ones is.
    subjects = psql(url, "SELECT string_agg(subject, ',' ORDER BY id) FROM messages").split(",")
    assert subjects == acknowledged, subjects
    # Everything resumes within seconds: postgres-nio's pool alone would wait up to a minute between
    # attempts after an outage this long; the relay probes the database itself and renews the pool.
    back = time.monotonic()
    code, text = 0, ""
    while time.monotonic() - back < 60:
        code, text = try_submit(relay, "after")
        if code == 250:
            break
        time.sleep(0.5)
    resumed = time.monotonic() - back
    assert code == 250, (code, text)
    assert resumed < 10, f"accepting again only {resumed:.1f} s after the database came back"
    # And it stops cleanly: no store operation left from the outage holds the worker (SIGTERM used to hang here).
    relay.stop()



# -- store copy: a SQLite install moved into PostgreSQL ---------------------------------------

COPY_ADDRESS = "shop@example.com"
STORE_TABLES = ("accounts", "credentials", "messages", "attempts", "events")


def sqlite_counts(relay) -> dict[str, int]:
    """Rows per table of the stopped relay's SQLite store, read with Python's own sqlite3."""
    import sqlite3
    with sqlite3.connect(f"file:{relay.data_dir / 'relay.sqlite'}?mode=ro", uri=True) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in STORE_TABLES}


def pg_counts(url: str) -> dict[str, int]:
    return {table: int(psql(url, f"SELECT count(*) FROM {table}")) for table in STORE_TABLES}


def copy_relay(make_relay, fake_google):
    """A SQLite relay in queue mode with an OAuth account `shop` (its grant sealed in the store) on the
    fake Google and the login site1, running."""
    relay = make_relay(config={**fake_google.relay_config(), "delivery.mode": "queue", "delivery.sends_per_minute": 100000,
                               "store.relay_name": "moved"}, start=False, setup=False)
    add_shop_account(relay, fake_google, COPY_ADDRESS)
    relay.start()
    return relay


def submit_body(relay, subject: str, body: str) -> int:
    return submit_message(relay, COPY_ADDRESS, subject, body)


def show(relay, log_id: int, env: dict) -> dict:
    """`log show ID --json` (on PostgreSQL: with the password in the environment)."""
    return json.loads(relay.cli_ok("log", "show", str(log_id), "--json", env=env).stdout)


def test_store_copy_moves_a_sqlite_install_into_postgres(make_relay, fake_google, database):
    bare, password, full = database
    env = {"GMAIL_RELAY_STORE_PASSWORD": password}
    relay = copy_relay(make_relay, fake_google)
    sent_id = submit_body(relay, "sent before the move", "small body")
    wait_until(lambda: relay.show(sent_id)["status"] == "sent", 30, "the first message to be sent")
    # Gmail says "slow down, retry in 25 s": the large message (a spool file, past 64 KiB) stays queued
    # with one attempt, and is due again after the move.
    fake_google.inject("userRateLimit", count=1, retry_after=25)
    large = "".join(f"line {n:06d} of a large body that SQLite keeps as a spool file\r\n" for n in range(3000))
    assert len(large) > 64 * 1024
    queued_id = submit_body(relay, "queued across the move", large)
    detail = wait_until(lambda: (d := relay.show(queued_id))["attempts"] and d, 30, "the 429 attempt")
    assert detail["status"] == "queued" and detail["spool_path"], detail
    old_sent = relay.show(sent_id)

    # A running relay is refused: mail would arrive or go out during the copy.
    refused = relay.cli("store", "copy", "--to", bare, env=env)
    assert refused.returncode != 0
    assert "stop the relay" in refused.stderr, refused.stderr
    assert pg_counts_or_empty(full) == {}

    relay.stop()
    before = sqlite_counts(relay)
    assert before["messages"] == 2 and before["accounts"] == 1 and before["credentials"] == 1, before
    result = relay.cli_ok("store", "copy", "--to", bare, env=env)
    out = result.stdout
    assert "accounts: 1\n" in out and "logins: 1\n" in out, out
    assert "messages: 2 (1 queued, 1 sent)" in out, out
    assert re.search(r"bodies: \d+ \(\d+ inline, 1 spool files, \d+ bytes\)", out), out
    assert f"attempts: {before['attempts']}\n" in out and f"events: {before['events']}" in out, out
    assert "set store.url" in out and "gmail-relay serve" in out, out
    assert password not in out + result.stderr
    assert pg_counts(full) == before
    # The ids are the log ids the SMTP replies gave; the large body is in 256 KiB chunks, byte for byte.
    assert psql(full, "SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM messages") == \
        f"{sent_id}:sent,{queued_id}:queued"
    assert int(psql(full, f"SELECT sum(length(data)) FROM message_chunks WHERE message_id = {queued_id}")) == \
        int(psql(full, f"SELECT size FROM messages WHERE id = {queued_id}"))

    # The same configuration with store.url: the relay serves from PostgreSQL.
    with relay.config_path.open("a") as config:
        config.write(f'store.url = "{bare}"\n')
    old_outbox = len(fake_google.outbox())
    relay.start(env=env)
    # The queued message goes out (its grant, sealed on SQLite, opens on PostgreSQL), with the whole body.
    box = fake_google.wait_outbox(old_outbox + 1, timeout=60)
    raw = __import__("base64").b64decode(box[-1]["raw_base64"]).decode()
    assert "queued across the move" in raw and large.replace("\r\n", "\n") in raw.replace("\r\n", "\n")
    moved = wait_until(lambda: (d := show(relay, queued_id, env))["status"] == "sent" and d, 30, "the queued message sent")
    assert [a["http_status"] for a in moved["attempts"]] == [429, 200], moved["attempts"]
    # The old message's record is the same: its attempts and history came along.
    shown = show(relay, sent_id, env)
    assert shown["status"] == "sent" and shown["subject"] == "sent before the move"
    assert [a["http_status"] for a in old_sent["attempts"]] == [200]
    assert shown["attempts"] == old_sent["attempts"]
    assert old_sent["events"] and shown["events"] == old_sent["events"]
    # The login still authenticates; a new message gets an id past the copied ones.
    new_id = submit_body(relay, "after the move", "new body")
    assert new_id > queued_id
    wait_until(lambda: psql(full, f"SELECT status FROM messages WHERE id = {new_id}") == "sent", 30, "the new message sent")
    relay.stop()
    assert password not in relay.stderr_text()


def pg_counts_or_empty(url: str) -> dict[str, int]:
    """The copy's tables' non-zero counts; {} for a database never migrated or empty."""
    if psql(url, "SELECT to_regclass('messages') IS NOT NULL") != "t":
        return {}
    return {table: count for table, count in pg_counts(url).items() if count}


def test_store_copy_refuses_a_target_that_is_not_empty(make_relay, fake_google, database, tmp_path):
    bare, password, full = database
    relay = copy_relay(make_relay, fake_google)
    submit_body(relay, "one", "body")
    relay.stop()
    password_file = tmp_path / "pg.password"
    password_file.write_text(password + "\n")
    relay.cli_ok("store", "copy", "--to", bare, "--password-file", str(password_file))
    copied = pg_counts(full)
    again = relay.cli("store", "copy", "--to", bare, "--password-file", str(password_file))
    assert again.returncode != 0
    assert "the PostgreSQL store is not empty (1 accounts, 1 logins, 1 messages)" in again.stderr, again.stderr
    assert password not in again.stdout + again.stderr
    assert pg_counts(full) == copied
    # Two places for the password is one too many, as for store.url.
    both = relay.cli("store", "copy", "--to", bare, "--password-file", str(password_file),
                     env={"GMAIL_RELAY_STORE_PASSWORD": password})
    assert both.returncode != 0 and "more than one place" in both.stderr, both.stderr
    assert password not in both.stdout + both.stderr


def test_store_copy_queues_a_send_cut_off_by_a_crash(make_relay, fake_google, database):
    """A relay killed -9 while Gmail had not answered leaves a `sending` row: the copy queues it again,
    says so, its history says why, and the relay on PostgreSQL sends it."""
    bare, password, full = database
    env = {"GMAIL_RELAY_STORE_PASSWORD": password}
    relay = copy_relay(make_relay, fake_google)
    fake_google.inject(hang_seconds=20, count=1)
    log_id = submit_body(relay, "cut off", "body")
    wait_until(lambda: relay.show(log_id)["status"] == "sending", 15, "the send in flight")
    relay.kill9()
    fake_google.clear()
    result = relay.cli_ok("store", "copy", "--to", bare, env=env)
    assert "messages: 1 (1 queued)" in result.stdout, result.stdout
    assert "note: 1 messages were being sent when the relay stopped; they are queued again" in result.stdout, result.stdout
    assert psql(full, f"SELECT status || ',' || coalesce(lease_owner, '-') FROM messages WHERE id = {log_id}") == "queued,-"
    with relay.config_path.open("a") as config:
        config.write(f'store.url = "{bare}"\n')
    relay.start(env=env)
    sent = wait_until(lambda: (d := show(relay, log_id, env))["status"] == "sent" and d, 60, "the requeued message sent")
    assert any(event["detail"] == "interrupted by a restart" for event in sent["events"]), sent["events"]
    relay.stop()
