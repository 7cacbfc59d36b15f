"""The command line: logins, accounts, the send log, configuration errors."""

from __future__ import annotations

import re
import smtplib
import socket

import pytest

from harness import ACCOUNT, ACCOUNT_FROM, HOST, PASSWORD, USERNAME, free_port

STATUSES = {"queued", "sending", "sent", "held", "failed"}


def smtp_login(relay, user: str, password: str):
    s = smtplib.SMTP(HOST, relay.port, timeout=30)
    s.ehlo()
    s.user, s.password = user, password
    try:
        return s.auth("PLAIN", s.auth_plain)  # one mechanism, one attempt
    finally:
        s.close()


def test_generated_password_list_and_remove(relay):
    result = relay.cli_ok("credential", "add", "site2", "--account", ACCOUNT)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be the password only: {result.stdout!r}"
    generated = lines[0]
    assert generated == generated.strip() and len(generated) >= 16, f"weak password {generated!r}"
    assert generated not in result.stderr

    listed = relay.cli_json("credential", "list")
    by_user = {row["username"]: row for row in listed}
    assert set(by_user) == {USERNAME, "site2"}, listed
    assert by_user["site2"]["account"] == ACCOUNT
    assert by_user["site2"]["last_used_at"] is None, listed

    code, _ = smtp_login(relay, "site2", generated)
    assert code == 235
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.login("site2", generated)
        assert s.sendmail("site2@example.com", ["r@example.com"], b"Subject: site2\r\n\r\nx\r\n") == {}
    [row] = relay.log_json()
    assert row["account"] == ACCOUNT and row["subject"] == "site2", row

    listing = relay.cli("credential", "list", "--json")
    table = relay.cli_ok("credential", "list")
    for output in (listing.stdout, listing.stderr, table.stdout, table.stderr):
        assert generated not in output and PASSWORD not in output
    for row in relay.cli_json("credential", "list"):
        assert set(row) <= {"username", "account", "created_at", "last_used_at", "daily_limit", "sent_today"}, row
        assert not any("pass" in key or "hash" in key or "secret" in key for key in row), row
        assert isinstance(row["created_at"], str) and row["created_at"], row
    used = {r["username"]: r for r in relay.cli_json("credential", "list")}["site2"]
    assert isinstance(used["last_used_at"], str) and used["last_used_at"], used

    db_files = sorted(relay.data_dir.glob("relay.sqlite*"))
    assert any(p.name == "relay.sqlite" for p in db_files), f"no relay.sqlite in {list(relay.data_dir.iterdir())}"
    for path in db_files:
        data = path.read_bytes()
        for secret in (generated, PASSWORD):
            assert secret.encode() not in data, f"password stored in clear in {path.name}"
            assert secret.encode("utf-16-le") not in data, f"password stored in clear in {path.name}"

    relay.cli_ok("credential", "remove", "site2")
    assert [r["username"] for r in relay.cli_json("credential", "list")] == [USERNAME]
    with pytest.raises(smtplib.SMTPAuthenticationError) as error:
        smtp_login(relay, "site2", generated)
    assert error.value.smtp_code == 535, error.value
    # site1 is untouched
    assert smtp_login(relay, USERNAME, PASSWORD)[0] == 235


def test_password_stdin_wrong_account(relay):
    result = relay.cli("credential", "add", "site3", "--account", "no-such-account", "--password-stdin",
                       input="whatever-password\n")
    assert result.returncode != 0, result
    assert "no-such-account" in result.stderr, result.stderr
    assert "site3" not in [r["username"] for r in relay.cli_json("credential", "list")]


def write_bad_config(relay, lines: list[str]):
    path = relay.dir / "bad.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_misspelled_key_names_key_and_line(relay):
    path = write_bad_config(relay, [
        f'data.dir = "{relay.data_dir}"',
        f'smtp.listen = "127.0.0.1:{relay.port}"',
        'smtp.lisen = "127.0.0.1:1"',
    ])
    for args in (("account", "list"), ("log",), ("credential", "list")):
        result = relay.cli(*args, config=path)
        assert result.returncode != 0, (args, result.stdout)
        assert "smtp.lisen" in result.stderr, (args, result.stderr)
        assert re.search(r"(:3\b|line 3\b)", result.stderr), f"line number missing: {result.stderr!r}"


def test_bad_value_in_file(relay):
    path = write_bad_config(relay, [
        f'data.dir = "{relay.data_dir}"',
        "smtp.max_recipients = many",
    ])
    result = relay.cli("account", "list", config=path)
    assert result.returncode != 0
    assert "smtp.max_recipients" in result.stderr and re.search(r"(:2\b|line 2\b)", result.stderr), result.stderr


def test_serve_refuses_bad_config(relay):
    path = write_bad_config(relay, [f'data.dir = "{relay.data_dir}"', 'smtp.lisen = "x"'])
    result = relay.cli("serve", config=path, timeout=30)
    assert result.returncode != 0
    assert "smtp.lisen" in result.stderr


def test_env_bad_value_names_variable(relay):
    result = relay.cli("account", "list", env={"GMAIL_RELAY_SMTP_MAX_RECIPIENTS": "abc"})
    assert result.returncode != 0, result.stdout
    assert "GMAIL_RELAY_SMTP_MAX_RECIPIENTS" in result.stderr, result.stderr


def test_env_overrides_file(make_relay):
    relay = make_relay(start=False)
    file_port = free_port()
    relay.config_path.write_text(relay.config_path.read_text().replace(f":{relay.port}", f":{file_port}"))
    relay.start(env={"GMAIL_RELAY_SMTP_LISTEN": f"127.0.0.1:{relay.port}",
                     "GMAIL_RELAY_SMTP_MAX_MESSAGE_BYTES": "4321"})
    with relay.connect() as c:
        assert "SIZE 4321" in c.ehlo()
    with pytest.raises(OSError):
        socket.create_connection((HOST, file_port), timeout=2).close()
    relay.stop()


def test_log_json_fields_and_filters(relay):
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.login(USERNAME, PASSWORD)
        s.sendmail("a@example.com", ["x@example.com", "y@example.com"],
                   b"Subject: first\r\nMessage-ID: <first@example.com>\r\n\r\none\r\n")
        s.sendmail("b@example.com", ["z@example.com"], b"Subject: second\r\n\r\ntwo\r\n")
    rows = relay.log_json()
    assert len(rows) == 2, rows
    types = {
        "id": int, "status": str, "account": str, "mail_from": str, "recipients": list, "subject": str,
        "size": int, "attempts": int, "created_at": str, "updated_at": str,
    }
    nullable = {"message_id": str, "gmail_id": str, "problem": (str, dict)}
    for row in rows:
        for key, kind in types.items():
            assert key in row and isinstance(row[key], kind) and not isinstance(row[key], bool), (key, row)
        for key, kind in nullable.items():
            assert key in row and (row[key] is None or isinstance(row[key], kind)), (key, row)
        assert row["status"] in STATUSES, row
        assert all(isinstance(r, str) for r in row["recipients"]), row
        assert row["status"] == "sent" and row["problem"] is None, row
        assert row["gmail_id"] == f"sandbox-{row['id']}", row
        assert row["attempts"] >= 1, row
        assert row["account"] == ACCOUNT
    first = next(r for r in rows if r["subject"] == "first")
    assert first["mail_from"] == "a@example.com" and first["recipients"] == ["x@example.com", "y@example.com"]
    assert first["message_id"].strip("<>") == "first@example.com"
    assert rows[0]["id"] > rows[1]["id"], "log is newest first"

    detail = relay.show(first["id"])
    for key in list(types) + list(nullable) + ["spool_path", "rewritten_headers", "events"]:
        assert key in detail, (key, detail)
    assert detail["id"] == first["id"] and detail["recipients"] == first["recipients"]
    assert isinstance(detail["events"], list) and detail["events"], detail
    # A small message lives in the database (no spool file); `log show --raw` prints it either way.
    assert detail["spool_path"] is None, detail
    assert relay.stored_bytes(first["id"]).endswith(b"\r\n")

    assert len(relay.log_json("--limit", "1")) == 1
    assert len(relay.log_json("--status", "sent")) == 2
    assert relay.log_json("--status", "failed") == []
    assert relay.log_json("--status", "queued") == []
    assert len(relay.log_json("--account", ACCOUNT)) == 2
    assert relay.log_json("--account", "nobody") == []

    missing = relay.cli("log", "show", "999999", "--json")
    assert missing.returncode != 0 and "999999" in missing.stderr, missing
    assert relay.cli("log", "--status", "bogus").returncode != 0
    text = relay.cli_ok("log")
    assert "first" in text.stdout and "second" in text.stdout


def test_account_list_add_remove(relay):
    accounts = relay.cli_json("account", "list")
    assert accounts == [{"name": ACCOUNT, "kind": "sandbox", "addresses": [ACCOUNT_FROM],
                         "state": accounts[0]["state"], "fallback": None}], accounts
    assert accounts[0]["state"] in {"ok", "needs_reauth", "blocked", "unconfigured"}, accounts

    relay.cli_ok("account", "add", "second", "--sandbox", "--from", "a@example.org", "--from", "alias@example.org")
    accounts = {a["name"]: a for a in relay.cli_json("account", "list")}
    assert set(accounts) == {ACCOUNT, "second"}
    assert accounts["second"]["addresses"] == ["a@example.org", "alias@example.org"], accounts
    assert accounts["second"]["kind"] == "sandbox"

    duplicate = relay.cli("account", "add", "second", "--sandbox")
    assert duplicate.returncode != 0 and "second" in duplicate.stderr, duplicate

    relay.cli_ok("account", "remove", "second")
    assert [a["name"] for a in relay.cli_json("account", "list")] == [ACCOUNT]


def test_credential_sends_through_its_own_account(relay):
    relay.cli_ok("account", "add", "other", "--sandbox", "--from", "other@example.org")
    relay.cli_ok("credential", "add", "site-other", "--account", "other", "--password-stdin",
                 input="other-site-password-123\n")
    with smtplib.SMTP(HOST, relay.port, timeout=30) as s:
        s.login("site-other", "other-site-password-123")
        s.sendmail("x@example.org", ["r@example.com"], b"Subject: other\r\n\r\nx\r\n")
    [row] = relay.log_json()
    assert row["account"] == "other", row
    assert relay.log_json("--account", ACCOUNT) == []
    assert len(relay.log_json("--account", "other")) == 1
