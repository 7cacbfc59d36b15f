"""Fallback accounts: while an account needs reauthorization or is blocked, the account named with
`account update NAME --fallback OTHER` sends its mail (OTHER's From, the original in Reply-To), one
step only, and the account's own grant takes over again once it works.

Real smtplib -> the real relay -> the fake Google's token and send endpoints.
"""

from __future__ import annotations

import base64
from email import message_from_bytes

from test_delivery import (ADDRESS, HELD_RE, QUEUED_RE, SENT_GMAIL_RE, accounts, after_startup_probe, gmail_relay,
                           message, send, wait_status)

SPARE = "spare@example.com"


def add_spare(relay, fake_google) -> str:
    """A second OAuth account `spare` with its own refresh token from the fake; returns the token."""
    refresh = fake_google.refresh_token(SPARE)
    relay.cli_ok("account", "add", "spare", "--client-id", "e2e-client", "--client-secret-stdin",
                 "--refresh-token-stdin", "--from", SPARE, input=f"e2e-secret\n{refresh}\n")
    return refresh


def outgoing_headers(sent: dict):
    return message_from_bytes(base64.b64decode(sent["raw_base64"]))


def event_details(detail: dict) -> list[str]:
    return [f"{e['kind']}: {e['detail']}" for e in detail["events"]]


def test_fallback_sends_while_the_account_needs_reauth_and_stops_when_it_is_fixed(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, start=False)
    add_spare(relay, fake_google)
    out = relay.cli_ok("account", "update", "shop", "--fallback", "spare").stdout
    assert "fallback spare" in out, out
    listed = accounts(relay)
    assert listed["shop"]["fallback"] == "spare" and listed["spare"]["fallback"] is None, listed
    relay.start()
    after_startup_probe(relay)

    # shop's grant dies while the relay runs: its access token stops working, the refresh says invalid_grant.
    fake_google.revoke(relay.refresh)
    fake_google.call("/_fake/expire-access-tokens", {})
    first = send(relay, message("through the spare"), ["alice@example.com"])
    assert not HELD_RE.search(first), f"with a working fallback the message is not held: {first}"
    log_id = int((QUEUED_RE.search(first) or SENT_GMAIL_RE.search(first)).groups()[-1])
    detail = wait_status(relay, log_id, "sent")
    assert detail["account"] == "shop" and detail["sent_through"] == "spare", detail
    assert any("sent through fallback spare because shop: grant_revoked" in e for e in event_details(detail)), detail["events"]
    [sent] = fake_google.outbox()
    headers = outgoing_headers(sent)
    assert SPARE in headers["From"], f"From is the fallback's address: {headers['From']}"
    assert ADDRESS in headers["Reply-To"], f"the original From goes to Reply-To: {headers['Reply-To']}"
    state = {a["name"]: a for a in relay.cli_json("status")["accounts"]}
    assert state["shop"]["state"] == "needs_reauth" and state["spare"]["state"] == "ok"
    assert state["shop"]["fallback"] == "spare" and state["shop"]["fallback_in_use"] is True, state["shop"]
    assert state["spare"]["fallback_in_use"] is False
    page = relay.web_get("/")
    assert "<dt>Fallback</dt>" in page and "spare: in use" in page and "mail goes out through spare" in page, page[:3000]

    # New mail of the broken account goes straight through the fallback (sync mode: the reply says sent).
    second = send(relay, message("second"), ["bob@example.com"])
    match = SENT_GMAIL_RE.search(second)
    assert match, second
    assert relay.show(int(match.group(2)))["sent_through"] == "spare"

    # Without the fallback, the account's mail is held again, as before.
    relay.cli_ok("account", "update", "shop", "--no-fallback")
    third = send(relay, message("held"), ["carol@example.com"])
    held = HELD_RE.search(third)
    assert held and held.group(2) == "grant_revoked", third
    # Naming the fallback again releases the held mail through it.
    out = relay.cli_ok("account", "update", "shop", "--fallback", "spare").stdout
    assert "1 held message(s) queued to go through spare" in out, out
    assert wait_status(relay, int(held.group(1)), "sent")["sent_through"] == "spare"

    # shop gets a new grant: its mail goes through shop again, From shop's address.
    relay.cli_ok("account", "update", "shop", "--refresh-token-stdin",
                 input=fake_google.refresh_token(ADDRESS) + "\n")
    fourth = send(relay, message("own account again"), ["dave@example.com"])
    match = SENT_GMAIL_RE.search(fourth)
    assert match, fourth
    assert relay.show(int(match.group(2)))["sent_through"] is None
    last = fake_google.outbox()[-1]
    assert ADDRESS in outgoing_headers(last)["From"]
    assert {a["name"]: a for a in relay.cli_json("status")["accounts"]}["shop"]["fallback_in_use"] is False


def test_a_fallbacks_fallback_is_not_followed_and_fixing_the_fallback_releases_held_mail(make_relay, fake_google):
    relay = gmail_relay(make_relay, fake_google, start=False)
    spare_token = add_spare(relay, fake_google)
    # Each names the other: a loop if fallbacks were followed further than one step.
    relay.cli_ok("account", "update", "shop", "--fallback", "spare")
    relay.cli_ok("account", "update", "spare", "--fallback", "shop")
    refused = relay.cli("account", "update", "shop", "--fallback", "shop")
    assert refused.returncode != 0 and "own fallback" in refused.stderr, refused
    unknown = relay.cli("account", "update", "shop", "--fallback", "nobody")
    assert unknown.returncode != 0 and "no account nobody" in unknown.stderr, unknown
    relay.start()
    after_startup_probe(relay)

    fake_google.revoke(relay.refresh)
    fake_google.revoke(spare_token)
    fake_google.call("/_fake/expire-access-tokens", {})
    reply = send(relay, message("both broken"), ["alice@example.com"])
    # shop's refresh fails, spare looks ok, so the message goes to spare, whose refresh fails too: held,
    # and not handed back to shop.
    held_id = int((HELD_RE.search(reply) or QUEUED_RE.search(reply)).group(1))
    detail = wait_status(relay, held_id, "held")
    assert detail["problem"] == "grant_revoked", detail
    states = accounts(relay)
    assert states["shop"]["state"] == "needs_reauth" and states["spare"]["state"] == "needs_reauth", states
    assert fake_google.outbox() == []
    token_calls = fake_google.stats()["token_requests_total"]
    later = send(relay, message("still broken"), ["bob@example.com"])
    assert HELD_RE.search(later), f"both broken: new mail is held at once: {later}"
    assert fake_google.stats()["token_requests_total"] == token_calls, "no token call for mail held at intake"

    # The fallback gets a new grant: the mail of the account it stands in for goes out through it.
    out = relay.cli_ok("account", "update", "spare", "--refresh-token-stdin",
                       input=fake_google.refresh_token(SPARE) + "\n").stdout
    assert "held message(s) queued" in out, out
    assert wait_status(relay, held_id, "sent")["sent_through"] == "spare"
    fake_google.wait_outbox(2, timeout=30)
    assert {r["status"] for r in relay.log_json()} == {"sent"}
