"""A 250 after the final dot means the message is on disk: kill -9 the next instant and it survives."""

from __future__ import annotations

import pytest

from harness import log_id_from_reply

ROUNDS = 5


def crash_message(n: int) -> bytes:
    return (
        f"From: site@example.com\r\nTo: crash@example.com\r\nSubject: crash round {n}\r\n"
        f"Message-ID: <crash-{n}@example.com>\r\n\r\n".encode()
        + b"8-bit: caf\xe9 \xc3\xa9\r\n.leading dot\r\n"
        + (f"round {n} filler line ".encode() * 3 + b"\r\n") * 2000  # ~130 KB: more than one write
        + b"end\r\n"
    )


@pytest.mark.parametrize("mode", ["sync", "queue"])
def test_kill9_right_after_250(make_relay, mode):
    relay = make_relay(config={"delivery.mode": mode})
    expected = {}
    for n in range(1, ROUNDS + 1):
        message = crash_message(n)
        c = relay.authed()
        try:
            final = c.send_message("site@example.com", ["crash@example.com", f"round{n}@example.com"], message)
            assert final.code == 250, final
            relay.kill9()  # before QUIT, the instant the 250 is read
        finally:
            c.close()
        log_id = log_id_from_reply(final.text)
        assert log_id not in expected, f"log id {log_id} reused"
        expected[log_id] = message
        relay.start()

        rows = {row["id"]: row for row in relay.log_json("--limit", "100")}
        for known_id, known_message in expected.items():
            assert known_id in rows, f"round {n}: message {known_id} lost after kill -9; log: {list(rows)}"
            row = rows[known_id]
            assert row["status"] in ("queued", "sending", "sent"), row
            assert row["size"] == len(known_message), row
        assert rows[log_id]["recipients"] == ["crash@example.com", f"round{n}@example.com"], rows[log_id]
        assert relay.stored_bytes(log_id) == message, f"round {n}: spool bytes differ after kill -9"
    assert len(relay.log_json("--limit", "100")) == ROUNDS
