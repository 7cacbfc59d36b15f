"""`gmail-relay reauth NAME`: Google's installed-app consent (loopback redirect + PKCE) against the
fake Google, driven like a person would: an HTTP client follows the printed consent address (to the
relay's loopback listener), or takes the redirect's address and pastes it on the command's stdin.
Every refused consent must leave the stored grant byte for byte as it was.

Also `account remove NAME --revoke`: the grant is revoked at google.revoke_url before the account
goes; "already revoked" counts as done; any other failure keeps the account.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import smtplib
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from harness import BINARY, HOST, free_port

OWNER = "owner@example.com"
BROWSER_TIMEOUT = 30

CLIENT_ID, CLIENT_SECRET = "e2e-client", "e2e-secret"  # the shared fixture's OAuth client
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"


class ConsentFake:
    """The shared `fake_google` fixture plus what consent tests need: the consent endpoint, how the
    fake user answers it, and refresh-token grants straight at the token endpoint."""

    def __init__(self, fake):
        self.fake = fake
        self.auth_url = fake.url + "/o/oauth2/v2/auth"

    def __getattr__(self, name):
        return getattr(self.fake, name)

    def consent(self, **body):
        return self.fake.call("/_fake/consent", body)

    def refresh(self, refresh_token: str) -> tuple[int, dict]:
        """A refresh-token grant at the fake's token endpoint: (status, JSON body)."""
        form = urllib.parse.urlencode({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                       "refresh_token": refresh_token, "grant_type": "refresh_token"}).encode()
        try:
            with _direct.open(self.fake.url + "/token", data=form, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def google(fake_google):
    fake_google.add_client(CLIENT_ID, CLIENT_SECRET)
    return ConsentFake(fake_google)


@pytest.fixture
def relay(make_relay, google):
    return make_relay(config=google.relay_config(), start=False)


# -- a browser, as far as the flow needs one ---------------------------------------------------

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _KeepRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 302 and its Location


_no_redirect = urllib.request.build_opener(urllib.request.ProxyHandler({}), _KeepRedirect())


def browse(url: str) -> tuple[int, str, str]:
    """GET, following redirects (the consent endpoint's 302 leads to the loopback listener):
    (status, final URL, body)."""
    try:
        with _direct.open(url, timeout=BROWSER_TIMEOUT) as response:
            return response.status, response.geturl(), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.geturl(), error.read().decode("utf-8", "replace")


def redirect_location(url: str) -> str:
    """GET the consent address without following Google's redirect: the address the browser would end on."""
    try:
        _no_redirect.open(url, timeout=BROWSER_TIMEOUT)
    except urllib.error.HTTPError as error:
        assert error.code == 302, f"consent endpoint answered {error.code}: {error.read()!r}"
        return error.headers["Location"]
    raise AssertionError("the consent endpoint did not redirect")


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


def with_query(url: str, **changes: str) -> str:
    parts = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    params = [(k, changes.get(k, v)) for k, v in params]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(params, quote_via=urllib.parse.quote)))


# -- the command while it waits ----------------------------------------------------------------

class ReauthRun:
    """`gmail-relay reauth ARGS` in the background with stdin, stdout and stderr as pipes."""

    def __init__(self, relay, *args: str, env: dict | None = None, stdin=subprocess.PIPE):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_RELAY_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [BINARY, "reauth", *args, "--config", str(relay.config_path)],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
            env=full_env,
        )
        self._out: list[str] = []
        self._err: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out, self._lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err, None), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, sink: list[str], lines: queue.Queue | None):
        for line in stream:
            sink.append(line)
            if lines is not None:
                lines.put(line)

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def consent_url(self, auth_url: str, timeout: float = 20) -> str:
        """The consent address, as printed on a line of its own."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2).strip()
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line.startswith(auth_url + "?"):
                return line
        raise AssertionError(f"no consent address printed\nstdout: {self.stdout}\nstderr: {self.stderr}")

    def wait_for_output(self, text: str, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            assert time.monotonic() < deadline, f"{text!r} not printed\nstdout: {self.stdout}\nstderr: {self.stderr}"
            time.sleep(0.05)

    def paste(self, line: str):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 30) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"reauth still running after {timeout}s\nstdout: {self.stdout}\nstderr: {self.stderr}")
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def runs():
    started: list[ReauthRun] = []
    yield started
    for run in started:
        run.kill()


def start(runs, relay, *args, **kw) -> ReauthRun:
    run = ReauthRun(relay, *args, **kw)
    runs.append(run)
    return run


# -- the store, looked at directly --------------------------------------------------------------

def grant_row(relay, name: str = "gmail") -> tuple:
    """The sealed secret and the consent time as stored: equal bytes mean an untouched grant."""
    with sqlite3.connect(relay.data_dir / "relay.sqlite", timeout=10) as db:
        row = db.execute("SELECT secret, consented_at, state FROM accounts WHERE name = ?", (name,)).fetchone()
    assert row is not None, f"account {name} missing"
    return row


def accounts(relay) -> dict:
    return {a["name"]: a for a in relay.cli_json("account", "list")}


def add_oauth_account(relay, refresh_token: str | None = None, from_address: str | None = OWNER):
    args = ["account", "add", "gmail", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
    if refresh_token:
        args += ["--refresh-token", refresh_token]
    if from_address:
        args += ["--from", from_address]
    relay.cli_ok(*args)


def assert_nothing_secret(run: ReauthRun, *secrets: str):
    for secret in (CLIENT_SECRET, *secrets):
        assert secret not in run.stdout and secret not in run.stderr, f"a secret was printed: {secret[:8]}..."


# -- the loopback flow ----------------------------------------------------------------------------

def test_loopback_flow_connects_the_account(relay, google, runs):
    add_oauth_account(relay)
    assert accounts(relay)["gmail"]["state"] == "needs_reauth"
    port = free_port()
    run = start(runs, relay, "gmail", "--no-browser", "--port", str(port))
    url = run.consent_url(google.auth_url)

    params = query(url)
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == f"http://127.0.0.1:{port}/"
    assert params["response_type"] == "code"
    assert params["scope"].split() == [GMAIL_SEND, "openid", "email"]
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32
    assert params["login_hint"] == OWNER
    assert f"ssh -L {port}:127.0.0.1:{port}" in run.stdout

    # Requests that are not the redirect are answered at once and change nothing.
    status, _, _ = browse(f"http://127.0.0.1:{port}/favicon.ico")
    assert status == 404
    status, _, _ = browse(f"http://127.0.0.1:{port}/")
    assert status == 404
    assert run.proc.poll() is None, "a stray request ended the flow"

    status, final_url, page = browse(url)
    assert final_url.startswith(f"http://127.0.0.1:{port}/?"), final_url
    assert status == 200, page
    assert "connected" in page and "close this window" in page, page
    assert run.wait() == 0, run.stderr
    assert f"account gmail reauthorized as {OWNER}" in run.stdout, run.stdout
    assert "released 0 held message(s)" in run.stdout
    assert "7 days" in run.stdout and "docs/reauth.md" in run.stdout
    assert query(final_url)["code"] not in run.stdout + run.stderr
    assert_nothing_secret(run)

    account = accounts(relay)["gmail"]
    assert account["state"] == "ok" and account["addresses"] == [OWNER]
    stats = google.stats()
    assert stats["token_requests"].get("authorization_code") == 1, stats
    assert stats["token_requests"].get("refresh_token") == 1, stats  # the one verifying refresh
    assert stats["tokeninfo_requests"] == 1, stats
    secret, consented_at, _ = grant_row(relay)
    assert consented_at is not None and abs(consented_at / 1000 - time.time()) < 120

    # The stored grant is the new, live one: Google accepts it for revocation.
    out = relay.cli_ok("account", "remove", "gmail", "--revoke")
    assert "revoked the Google grant" in out.stdout, out.stdout


def test_address_is_learned_when_the_account_has_none(relay, google, runs):
    add_oauth_account(relay, from_address=None)
    google.consent(action="approve", email="learned@example.com")
    run = start(runs, relay, "gmail", "--no-browser")
    url = run.consent_url(google.auth_url)
    assert "login_hint" not in query(url)
    status, _, page = browse(url)
    assert status == 200, page
    assert run.wait() == 0, run.stderr
    assert accounts(relay)["gmail"]["addresses"] == ["learned@example.com"]
    assert "reauthorized as learned@example.com" in run.stdout


def test_xdg_open_gets_the_consent_address(relay, google, runs, tmp_path):
    """Without --no-browser the command runs xdg-open on the address; here "the browser" it opens is
    curl, which follows Google's redirect to the loopback listener like a browser would."""
    add_oauth_account(relay)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened, page = tmp_path / "opened.txt", tmp_path / "page.html"
    opener = bin_dir / "xdg-open"
    opener.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$1" >> "{opened}"\n'
        f'exec curl --silent --show-error --location --noproxy "*" --max-time 30 --output "{page}" "$1"\n'
    )
    opener.chmod(0o755)
    # Started from a desktop launcher, stdin is often not a terminal: end of input must not end the wait.
    run = start(runs, relay, "gmail", env={"PATH": f"{bin_dir}:{os.environ['PATH']}"}, stdin=subprocess.DEVNULL)
    url = run.consent_url(google.auth_url)
    assert run.wait() == 0, run.stderr
    assert opened.read_text().splitlines() == [url]
    assert "account gmail is connected" in page.read_text()
    assert accounts(relay)["gmail"]["state"] == "ok"


def test_scopes_option_replaces_the_send_scope(relay, google, runs):
    add_oauth_account(relay)
    run = start(runs, relay, "gmail", "--no-browser", "--scopes", "gmail.compose")
    url = run.consent_url(google.auth_url)
    assert query(url)["scope"].split() == ["https://www.googleapis.com/auth/gmail.compose", "openid", "email"]
    status, _, page = browse(url)
    assert status == 200, page
    assert run.wait() == 0, run.stderr
    assert "granted: email gmail.compose openid" in run.stdout, run.stdout


# -- headless: the redirected address pasted on stdin --------------------------------------------

def test_pasted_redirect_connects_the_account(relay, google, runs):
    add_oauth_account(relay)
    run = start(runs, relay, "gmail", "--no-browser")
    url = run.consent_url(google.auth_url)
    location = redirect_location(url)  # what the laptop's address bar shows on the page that fails to load
    port = urllib.parse.urlsplit(query(url)["redirect_uri"]).port
    assert location.startswith(f"http://127.0.0.1:{port}/?"), location

    run.paste("this is not it")
    run.wait_for_output("That is not the redirected address")
    assert run.proc.poll() is None
    run.paste(location)
    assert run.wait() == 0, run.stderr
    assert f"reauthorized as {OWNER}" in run.stdout
    assert_nothing_secret(run, query(location)["code"])
    assert accounts(relay)["gmail"]["state"] == "ok"
    assert google.stats()["token_requests"].get("authorization_code") == 1


def test_pasted_redirect_with_another_state_is_refused(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    run = start(runs, relay, "gmail", "--no-browser")
    location = redirect_location(run.consent_url(google.auth_url))
    run.paste(with_query(location, state="someone-elses-state"))
    assert run.wait() == 1
    assert "state does not match" in run.stderr, run.stderr
    assert grant_row(relay) == before
    assert google.stats()["token_requests"].get("authorization_code") is None, "a code with a foreign state was exchanged"
    assert google.refresh(old)[0] == 200


# -- refusals: the old grant stays ----------------------------------------------------------------

def test_browser_redirect_with_another_state_is_refused(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    run = start(runs, relay, "gmail", "--no-browser")
    location = redirect_location(run.consent_url(google.auth_url))
    status, _, page = browse(with_query(location, state="forged"))
    assert status == 400 and "state" in page, page
    assert run.wait() == 1
    assert "state does not match" in run.stderr, run.stderr
    assert grant_row(relay) == before
    assert accounts(relay)["gmail"]["state"] == "ok"


def test_access_denied_is_explained(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    google.consent(action="deny")
    run = start(runs, relay, "gmail", "--no-browser")
    status, final_url, page = browse(run.consent_url(google.auth_url))
    assert query(final_url)["error"] == "access_denied"
    assert status == 400 and "access_denied" in page, page
    assert run.wait() == 1
    assert "Access was denied" in run.stderr and "access_denied" in run.stderr, run.stderr
    assert grant_row(relay) == before
    assert google.refresh(old)[0] == 200


def test_grant_without_gmail_send_is_refused(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    google.consent(action="approve", granted_scopes=["openid", "email"])  # the user unticked "Send email"
    run = start(runs, relay, "gmail", "--no-browser")
    status, _, page = browse(run.consent_url(google.auth_url))
    assert status == 400 and "not connected" in page, page
    assert run.wait() == 1
    assert "no scope that can send" in run.stderr and "Nothing was stored" in run.stderr, run.stderr
    assert "email openid" in run.stderr, run.stderr
    assert grant_row(relay) == before
    stats = google.stats()
    assert stats["token_requests"].get("authorization_code") == 1
    assert stats["token_requests"].get("refresh_token") is None, "the refused grant was used"
    assert stats["revoke_requests"] == 0, "revoking the refused grant would end the old one too"
    assert google.refresh(old)[0] == 200


def test_wrong_code_verifier_is_refused(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    run = start(runs, relay, "gmail", "--no-browser")
    url = run.consent_url(google.auth_url)
    # Another well-formed challenge: the code is issued for it, so the run's verifier cannot match.
    tampered = with_query(url, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    status, _, page = browse(tampered)
    assert status == 400, page
    assert run.wait() == 1
    assert "Invalid code verifier" in run.stderr and "auth_code_invalid" in run.stderr, run.stderr
    assert "PKCE" in run.stderr, run.stderr
    assert grant_row(relay) == before
    assert google.refresh(old)[0] == 200


def test_time_out_leaves_the_grant(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    run = start(runs, relay, "gmail", "--no-browser", "--timeout", "2")
    run.consent_url(google.auth_url)
    started = time.monotonic()
    assert run.wait(timeout=20) == 1
    assert time.monotonic() - started < 10
    assert "no redirect from Google within 2 seconds" in run.stderr, run.stderr
    assert grant_row(relay) == before


def test_ctrl_c_leaves_the_grant(relay, google, runs):
    old = google.refresh_token(OWNER)
    add_oauth_account(relay, refresh_token=old)
    before = grant_row(relay)
    run = start(runs, relay, "gmail", "--no-browser")
    url = run.consent_url(google.auth_url)
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 130
    assert "interrupted; nothing was changed" in run.stderr, run.stderr
    assert grant_row(relay) == before
    # The listener is gone with the command: Google's redirect has nowhere to go.
    port = urllib.parse.urlsplit(query(url)["redirect_uri"]).port
    with pytest.raises(OSError):
        _direct.open(f"http://127.0.0.1:{port}/", timeout=5)


def test_port_in_use_is_explained(relay, google, runs):
    add_oauth_account(relay)
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = relay.cli("reauth", "gmail", "--no-browser", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr, result.stderr


def test_accounts_without_consent_are_refused(relay, google):
    sandbox = relay.cli("reauth", "sandbox", "--no-browser")
    assert sandbox.returncode == 1 and "sandbox account" in sandbox.stderr, sandbox.stderr
    missing = relay.cli("reauth", "nobody", "--no-browser")
    assert missing.returncode == 1 and "no account nobody" in missing.stderr, missing.stderr
    scopes = relay.cli("reauth", "sandbox", "--scopes", "gmail.readonly")
    assert scopes.returncode != 0 and "--scopes must include a scope that can send" in scopes.stderr, scopes.stderr
    assert google.stats()["authorization_requests"] == 0


# -- held mail ------------------------------------------------------------------------------------

def test_held_mail_is_delivered_after_reauth_while_serve_runs(make_relay, google, runs):
    """The whole story: the grant dies, mail is held (nothing dropped), reauth while `serve` runs
    releases it, and the running worker delivers it to Gmail without a restart."""
    old = google.refresh_token(OWNER)
    relay = make_relay(config={**google.relay_config(), "delivery.sync_timeout_seconds": 5}, start=False)
    add_oauth_account(relay, refresh_token=old)
    relay.cli_ok("credential", "add", "site2", "--account", "gmail", "--password-stdin", input="site2-Pass-xyz-123\n")
    relay.start()
    google.revoke(old)  # the user removed the app's access, or the 7 days of Testing mode ran out

    for subject in ("first", "second"):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = OWNER, "reader@example.net", f"held until reauth: {subject}"
        message.set_content(f"body of {subject}\n")
        with smtplib.SMTP(HOST, relay.port, timeout=30) as smtp:
            smtp.login("site2", "site2-Pass-xyz-123")
            smtp.send_message(message)
    held = relay.log_json("--account", "gmail", "--status", "held")
    assert len(held) == 2 and all(row["problem"] == "grant_revoked" for row in held), held
    assert accounts(relay)["gmail"]["state"] == "needs_reauth"
    assert google.outbox() == []

    run = start(runs, relay, "gmail", "--no-browser")
    status, _, page = browse(run.consent_url(google.auth_url))
    assert status == 200, page
    assert run.wait() == 0, run.stderr
    assert "released 2 held message(s) for delivery" in run.stdout, run.stdout

    outbox = google.wait_outbox(2, timeout=30)
    assert sorted(m["subject"] for m in outbox) == ["held until reauth: first", "held until reauth: second"]
    assert all(m["user"] == OWNER for m in outbox), outbox
    deadline = time.monotonic() + 15
    while {relay.show(row["id"])["status"] for row in held} != {"sent"}:
        assert time.monotonic() < deadline, [relay.show(row["id"]) for row in held]
        time.sleep(0.2)
    for row in held:
        kinds = [event["kind"] for event in relay.show(row["id"])["events"]]
        assert "released" in kinds and kinds.index("released") < kinds.index("sent"), kinds
    assert accounts(relay)["gmail"]["state"] == "ok"
    assert relay.proc.poll() is None


# -- account remove --revoke ----------------------------------------------------------------------

def add_account(relay, google) -> str:
    token = google.refresh_token(OWNER)
    relay.cli_ok("account", "add", "gmail", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
                 "--refresh-token", token, "--from", OWNER)
    return token


def names(relay) -> set[str]:
    return {a["name"] for a in relay.cli_json("account", "list")}


def test_revoke_ends_the_grant_and_removes_the_account(relay, google):
    token = add_account(relay, google)
    assert google.refresh(token)[0] == 200
    out = relay.cli_ok("account", "remove", "gmail", "--revoke")
    assert "revoked the Google grant of gmail" in out.stdout and "account gmail removed" in out.stdout, out.stdout
    assert token not in out.stdout + out.stderr
    assert google.stats()["revoke_requests"] == 1
    status, body = google.refresh(token)
    assert (status, body["error"], body["error_description"]) == (400, "invalid_grant", "Token has been expired or revoked.")
    assert "gmail" not in names(relay)


def test_already_revoked_counts_as_revoked(relay, google):
    token = add_account(relay, google)
    google.revoke(token)
    out = relay.cli_ok("account", "remove", "gmail", "--revoke")
    assert "already expired or revoked (invalid_token)" in out.stdout, out.stdout
    assert google.stats()["revoke_requests"] == 1
    assert "gmail" not in names(relay)


def test_failed_revoke_keeps_the_account(relay, google):
    token = add_account(relay, google)
    google.call("/_fake/inject", {"endpoint": "revoke", "count": 1, "status": 503, "body": "backend unavailable"})
    result = relay.cli("account", "remove", "gmail", "--revoke")
    assert result.returncode == 1
    assert "could not revoke" in result.stderr and "HTTP 503" in result.stderr, result.stderr
    assert "was not removed" in result.stderr and "myaccount.google.com/permissions" in result.stderr, result.stderr
    assert token not in result.stdout + result.stderr
    assert "gmail" in names(relay)
    assert google.refresh(token)[0] == 200, "the grant should still be alive"
    # Once Google answers again the same command finishes the job.
    relay.cli_ok("account", "remove", "gmail", "--revoke")
    assert "gmail" not in names(relay)
    assert google.stats()["revoke_requests"] == 2


def test_nothing_to_revoke_for_sandbox_and_unfinished_accounts(relay, google):
    out = relay.cli_ok("account", "remove", "sandbox", "--revoke")
    assert "nothing to revoke" in out.stdout and "account sandbox removed" in out.stdout, out.stdout
    relay.cli_ok("account", "add", "pending", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET)
    out = relay.cli_ok("account", "remove", "pending", "--revoke")
    assert "no refresh token is stored" in out.stdout, out.stdout
    assert google.stats()["revoke_requests"] == 0
    assert names(relay) == set()


def test_remove_without_revoke_does_not_call_google(relay, google):
    token = add_account(relay, google)
    relay.cli_ok("account", "remove", "gmail")
    assert google.stats()["revoke_requests"] == 0
    assert google.refresh(token)[0] == 200
    missing = relay.cli("account", "remove", "gmail", "--revoke")
    assert missing.returncode == 1 and "no account gmail" in missing.stderr, missing.stderr
