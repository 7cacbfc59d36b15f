"""`gmail-relay migrate` and a relay start against a real PostgreSQL (issue 15's groundwork).

The cluster is the one scripts/test.sh started (RELAY_TEST_PG_URL), or one started here through
scripts/postgres.sh for this session. Each test gets a database of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from harness import free_port

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


def test_serve_with_store_url_refuses_until_postgres_serving_exists(make_relay, database):
    bare, password, full = database
    relay = pg_relay(make_relay, bare)
    result = relay.cli("serve", env={"GMAIL_RELAY_STORE_PASSWORD": password})
    assert result.returncode != 0
    assert "cannot serve from PostgreSQL yet: unset store.url to serve from SQLite in data.dir" in result.stderr
    # The start migrated the schema first (to the newest version, 2 or later), as a relay start will.
    assert int(psql(full, "SELECT max(version) FROM schema_migrations")) >= 2
    assert not relay.data_dir.joinpath("relay.sqlite").exists()


def test_unreachable_database_is_one_sentence(make_relay):
    port = free_port()
    relay = pg_relay(make_relay, f"postgres://relay:Hunter2-e2e@127.0.0.1:{port}/relay")
    result = relay.cli("migrate")
    assert result.returncode != 0
    assert f"cannot connect to the PostgreSQL store postgres://relay:***@127.0.0.1:{port}/relay?sslmode=disable" in result.stderr
    assert "Hunter2" not in result.stderr + result.stdout
