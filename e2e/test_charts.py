"""Charts: /api/stats through the live relay after mail went through the fake Google, and the status
page's inline SVG charts as headless Chromium renders them (docs/status-page.md "Charts")."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from harness import HOST
from test_delivery import HELD_RE, SENT_GMAIL_RE, after_startup_probe, gmail_relay, message, send
from test_web import chromium, dump_dom, seen, web

REPO = Path(__file__).resolve().parent.parent


def test_api_stats_and_the_charts_after_real_mail(make_relay, fake_google, tmp_path):
    # Chromium sends no Bearer token: the page is open on loopback (web.open).
    relay = gmail_relay(make_relay, fake_google, config={"web.open": True})
    after_startup_probe(relay)
    for n in range(3):
        reply = send(relay, message(f"chart-sent-{n}"), ["alice@example.com"])
        assert SENT_GMAIL_RE.search(reply), reply
    fake_google.inject("invalidArgumentRecipient", count=1)
    reply = send(relay, message("chart-failed"), ["alice@example.com"])
    assert reply.startswith("554 "), reply
    fake_google.call("/_fake/expire-access-tokens", {})
    fake_google.inject("invalidGrantRevoked", endpoint="token", count=1)
    reply = send(relay, message("<b>chart</b> held"), ["alice@example.com"])
    assert HELD_RE.search(reply), reply

    status, headers, body = web(relay, "/api/stats?hours=48")
    assert status == 200 and headers["Content-Type"].startswith("application/json"), (status, body)
    stats = json.loads(body)
    assert stats["hours"] == 48 and len(stats["buckets"]) == 48
    # Totals, not the last bucket: the test may cross an hour.
    assert stats["totals"] == {"sent": 3, "failed": 1, "held": 1, "queued": 5}, stats["totals"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", b["hour"]) for b in stats["buckets"])
    assert stats["from"] == stats["buckets"][0]["hour"]
    assert sum(b["sent"] for b in stats["buckets"][-2:]) == 3
    status, _, body = web(relay, "/api/stats?hours=721")
    assert status == 400 and "hours must be a number from 1 to 720" in body, body
    assert json.loads(web(relay, "/api/stats?hours=720")[2])["totals"]["queued"] == 5

    base = f"http://{HOST}:{relay.web_port}"
    dom = dump_dom(base + "/")
    page = seen(dom)
    assert page.scripts == 0 and not page.handlers
    # Chromium parsed both inline SVGs as SVG, with their accessible names and numbers.
    for chart_id, title in [("chart-48h", "Mail per hour, last 48 hours (UTC)"), ("chart-30d", "Mail per day, last 30 days (UTC)")]:
        svg = re.search(rf'<svg [^>]*id="{chart_id}"[^>]*>.*?</svg>', dom, re.S)
        assert svg, dom[:3000]
        svg = svg.group(0)
        assert 'role="img"' in svg and f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in svg
        assert f'<title id="{chart_id}-title">{title}</title>' in svg
        assert "3 sent, 1 failed, 1 held, 5 accepted." in svg, svg[:2000]
        assert 'class="sent"' in svg and 'class="failed"' in svg and 'class="held"' in svg
        assert "failed (hatched)" in svg and "held (dotted)" in svg
    text = page.text
    assert "Mail per hour, last 48 hours (UTC): 3 sent, 1 failed, 1 held, 5 accepted" in text, text
    # The visually hidden table carries the numbers for screen readers.
    assert re.search(r"<tr><th scope=\"row\">\d{4}-\d\d-\d\d \d\d:00 UTC</th><td>\d</td>", dom)

    shot = tmp_path / "status-chart.png"
    result = chromium(f"--screenshot={shot}", "--window-size=900,1100", "--hide-scrollbars", base + "/")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, len(data)
    # docs/images/status-chart.png is this screenshot; refresh it with GMAIL_RELAY_DOC_IMAGES=1.
    if os.environ.get("GMAIL_RELAY_DOC_IMAGES") == "1":
        shutil.copy(shot, REPO / "docs" / "images" / "status-chart.png")
