"""PHPMailer (Debian's libphp-phpmailer, run by php-cli): what WordPress plugins use to talk SMTP.

PHPMailer never writes a Bcc header when it sends over SMTP: Bcc recipients exist only in the
envelope (RCPT TO). That is why the relay has to carry envelope recipients into the Gmail call itself.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import HOST, PASSWORD, USERNAME, log_id_from_reply

SCRIPT = Path(__file__).with_name("phpmailer_send.php")
TO = ["to1@example.com", "to2@example.net"]
CC = ["cc@example.org"]
BCC = ["blind1@example.com", "blind2@example.org"]


def phpmailer(port: int, secure: str = "", verify: bool = True, password: str = PASSWORD,
              subject: str = "PHPMailer test") -> subprocess.CompletedProcess:
    options = {
        "host": HOST, "port": port, "user": USERNAME, "pass": password, "secure": secure, "verify": verify,
        "from": "wordpress@example.com", "to": TO, "cc": CC, "bcc": BCC,
        "subject": subject, "body": "Hello from PHPMailer.\nÜmlauts and a line:\n.\nend\n",
    }
    return subprocess.run(["php", str(SCRIPT), json.dumps(options)], capture_output=True, text=True,
                          errors="replace", timeout=90, stdin=subprocess.DEVNULL)


def check_sent(relay, result, subject):
    assert result.returncode == 0, f"PHPMailer failed:\n{result.stderr}"
    out = json.loads(result.stdout)
    log_id = log_id_from_reply(result.stderr)  # the "SERVER -> CLIENT: 250 2.0.0 Ok: sent as ..." line
    detail = relay.show(log_id)
    assert detail["status"] == "sent", detail
    assert detail["mail_from"] == "wordpress@example.com", detail
    assert sorted(detail["recipients"]) == sorted(TO + CC + BCC), detail
    assert detail["subject"] == subject, detail
    assert detail["message_id"].strip("<>") == out["message_id"].strip("<>"), (detail, out)

    stored = relay.stored_bytes(log_id)
    header = stored.split(b"\r\n\r\n", 1)[0]
    header_names = [line.split(b":", 1)[0].lower() for line in header.split(b"\r\n") if not line[:1].isspace()]
    assert b"bcc" not in header_names, header
    for address in BCC:
        assert address.encode() not in stored, f"{address} appears in the stored message"
    for address in TO + CC:
        assert address.encode() in header
    assert b"\r\n.\r\n" in stored  # PHPMailer dot-stuffed the lone dot; the relay unstuffed it
    assert stored.endswith(b"\r\n")
    assert b"\n" not in stored.replace(b"\r\n", b"")  # PHPMailer sends CRLF only
    return detail


def test_phpmailer_plain_auth(relay):
    result = phpmailer(relay.port, secure="")
    check_sent(relay, result, "PHPMailer test")
    assert "CLIENT -> SERVER: STARTTLS" not in result.stderr


def test_phpmailer_starttls(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert)
    result = phpmailer(relay.port, secure="tls", verify=False, subject="PHPMailer over STARTTLS")
    assert "CLIENT -> SERVER: STARTTLS" in result.stderr, result.stderr
    check_sent(relay, result, "PHPMailer over STARTTLS")


def test_phpmailer_implicit_tls(make_relay, tls_cert):
    relay = make_relay(tls=tls_cert, tls_listen=True)
    result = phpmailer(relay.tls_port, secure="ssl", verify=False, subject="PHPMailer over SSL")
    check_sent(relay, result, "PHPMailer over SSL")


def test_phpmailer_wrong_password(relay):
    result = phpmailer(relay.port, password="wrong")
    assert result.returncode != 0
    assert "535" in result.stderr, result.stderr
    assert relay.log_json() == []
