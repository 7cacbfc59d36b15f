"""`account add` for real Gmail accounts: the secrets are stored encrypted and never shown."""
import json
import subprocess
from pathlib import Path

import pytest


def _db_bytes(relay) -> bytes:
    return b"".join(p.read_bytes() for p in relay.data_dir.glob("relay.sqlite*"))


def _service_account_key(tmp: Path, pkcs1: bool) -> tuple[Path, str]:
    key = tmp / ("k1.pem" if pkcs1 else "k8.pem")
    args = ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"] if pkcs1 else \
           ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    pem = key.read_text()
    assert ("BEGIN RSA PRIVATE KEY" in pem) == pkcs1
    document = {
        "type": "service_account", "project_id": "p", "private_key_id": "0" * 40, "private_key": pem,
        "client_email": "relay@p.iam.gserviceaccount.com", "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp / ("sa1.json" if pkcs1 else "sa8.json")
    path.write_text(json.dumps(document))
    return path, pem


def test_imported_refresh_token_is_encrypted(make_relay):
    relay = make_relay(start=False)
    secret, token = "GOCSPX-client-secret-value", "1//refresh-token-value-xyz"
    out = relay.cli_ok("account", "add", "gmail", "--client-id", "123.apps.googleusercontent.com",
                       "--client-secret", secret, "--refresh-token", token, "--from", "owner@example.com")
    assert secret not in out.stdout and token not in out.stdout
    accounts = {a["name"]: a for a in relay.cli_json("account", "list")}
    assert accounts["gmail"]["kind"] == "oauth_user" and accounts["gmail"]["state"] == "ok", accounts
    listing = relay.cli_ok("account", "list")
    assert token not in listing.stdout and secret not in listing.stdout
    db = _db_bytes(relay)
    assert token.encode() not in db and secret.encode() not in db
    key = relay.data_dir / "secret.key"
    assert key.exists() and (key.stat().st_mode & 0o077) == 0, oct(key.stat().st_mode)


@pytest.mark.parametrize("pkcs1", [False, True])
def test_service_account_with_subject(make_relay, tmp_path, pkcs1):
    relay = make_relay(start=False)
    path, pem = _service_account_key(tmp_path, pkcs1)
    relay.cli_ok("account", "add", "workspace", "--service-account", str(path), "--subject", "user@example.com")
    accounts = {a["name"]: a for a in relay.cli_json("account", "list")}
    assert accounts["workspace"]["kind"] == "service_account"
    assert accounts["workspace"]["addresses"][0] == "user@example.com"
    body = pem.splitlines()[5].encode()  # a line of the private key itself
    assert body not in _db_bytes(relay)


def test_service_account_without_subject_warns(make_relay, tmp_path):
    relay = make_relay(start=False)
    path, _ = _service_account_key(tmp_path, False)
    out = relay.cli_ok("account", "add", "nosub", "--service-account", str(path))
    assert "--subject" in out.stdout and "failedPrecondition" in out.stdout, out.stdout


def test_client_secret_file_needs_reauth(make_relay, tmp_path):
    relay = make_relay(start=False)
    client = tmp_path / "client.json"
    client.write_text(json.dumps({"installed": {"client_id": "9.apps.googleusercontent.com", "client_secret": "s3cr3t-value",
                                                "redirect_uris": ["http://localhost"]}}))
    out = relay.cli_ok("account", "add", "pending", "--client-secret-file", str(client))
    assert "reauth pending" in out.stdout
    accounts = {a["name"]: a for a in relay.cli_json("account", "list")}
    assert accounts["pending"]["state"] == "needs_reauth"
    assert b"s3cr3t-value" not in _db_bytes(relay)


def test_wrong_files_are_explained(make_relay, tmp_path):
    relay = make_relay(start=False)
    sa_path, _ = _service_account_key(tmp_path, False)
    wrong = relay.cli("account", "add", "x", "--client-secret-file", str(sa_path))
    assert wrong.returncode != 0 and "--service-account" in wrong.stderr, wrong.stderr
    client = tmp_path / "client.json"
    client.write_text(json.dumps({"installed": {"client_id": "a", "client_secret": "b"}}))
    wrong = relay.cli("account", "add", "y", "--service-account", str(client))
    assert wrong.returncode != 0 and "service_account" in wrong.stderr, wrong.stderr
    both = relay.cli("account", "add", "z", "--sandbox", "--client-id", "a", "--client-secret", "b")
    assert both.returncode != 0 and "exactly one" in both.stderr, both.stderr
