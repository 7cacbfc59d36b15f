"""One token refresh per account for a fleet of relays sharing a PostgreSQL store (issue 15).

Two `serve` processes on one database and one key file, one fake Google with a real (fake) OAuth user
grant: both relays probe the grant at start and each sends the mail it accepts (sync mode), yet the
fake Google sees one token request. The database holds the token sealed.
"""

from __future__ import annotations

from test_postgres_store import add_shop_account, database, pg_url, psql, submit_message  # noqa: F401  (fixtures and helpers)

ADDRESS = "shop@example.com"


def submit(relay, subject: str) -> int:
    return submit_message(relay, ADDRESS, subject, log_id=rb"\(log (\d+)\)")  # sync mode: "sent as GMAIL-ID (log N)"


def token_refreshes(relay) -> int:
    """relay_token_refreshes_total{account="shop",result="ok"} on this relay's /metrics (0 when absent)."""
    for line in relay.web_get("/metrics").splitlines():
        if line.startswith('relay_token_refreshes_total{account="shop",result="ok"} '):
            return int(float(line.split()[-1]))
    return 0


def test_two_relays_ask_google_for_one_token(make_relay, fake_google, database, tmp_path):  # noqa: F811
    bare, password, full = database
    env = {"GMAIL_RELAY_STORE_PASSWORD": password, "GMAIL_RELAY_SECRET_KEY_FILE": str(tmp_path / "fleet.key")}
    config = {**fake_google.relay_config(), "store.url": bare, "delivery.mode": "sync"}
    a = make_relay(config={**config, "store.relay_name": "relay-a"}, start=False, setup=False)
    b = make_relay(config={**config, "store.relay_name": "relay-b"}, start=False, setup=False)
    add_shop_account(a, fake_google, ADDRESS, env)
    a.start(env=env)
    b.start(env=env)

    ids = [submit(a if n % 2 == 0 else b, f"fleet token {n}") for n in range(12)]
    # Sync mode: the 250 came after Gmail took it, from the relay that accepted it.
    assert psql(full, "SELECT count(*) FROM messages WHERE status = 'sent'") == str(len(ids))
    assert psql(full, "SELECT string_agg(DISTINCT relay, ',' ORDER BY relay) FROM attempts") == "relay-a,relay-b"
    assert len(fake_google.outbox()) == len(ids)

    # Two start-up probes and twelve sends on two relays: one request to Google's token endpoint.
    stats = fake_google.stats()
    assert stats["token_requests"].get("refresh_token") == 1, stats
    assert stats["token_requests_total"] == 1, stats
    assert token_refreshes(a) + token_refreshes(b) == 1, "a token read from the store is not a token request"
    assert psql(full, "SELECT refreshes FROM account_tokens") == "1"
    # Sealed: the row has no bearer-looking text, and the column is binary the key file opens.
    row = psql(full, "SELECT t::text FROM account_tokens t")
    assert "ya29" not in row, row  # the fake issues "ya29." tokens, as Google does
    a.stop()
    b.stop()
