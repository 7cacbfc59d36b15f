"""HTTP fuzz of the live web listener (`web.listen`): thousands of random, mutated requests against a real
`gmail-relay serve`; the relay must answer every one without dying.

What is sent (raw sockets, so that malformed HTTP can be sent too), per case one connection with one to
three requests (keep-alive, sometimes pipelined):

- the known routes (/, /messages, /messages/{id}, .../retry, .../discard, /login, /logout, /api/status,
  /api/messages, /api/messages/{id}, .../retry, .../discard, /api/stats, /alerts/test, /metrics, /healthz,
  /style.css) and some
  unknown ones, with ids and query numbers at the edges (Int64 limits and one past them, -1, 1e9, 0x10,
  NaN, 10^40, empty, the page number where `(page - 1) * 50` overflows), huge strings (up to ~16 KB),
  percent-encoded bytes (%00 %0d%0a %2e%2e %2f %ff, broken escapes), double slashes, /./ and /../,
  backslashes, unicode (raw and encoded);
- query parameters page, limit, offset, status, account, q, next, done, refused, csrf (duplicated,
  without "=", a thousand of them);
- methods GET POST HEAD PUT DELETE OPTIONS PATCH TRACE CONNECT, unknown and malformed ones;
- headers with and without `Authorization: Bearer <token>`, a wrong bearer, session cookies (a real one
  from signing in, forged ones), Origin / Sec-Fetch-Site, Host variants, X-Forwarded-Proto, Expect,
  Content-Length mismatches, chunked bodies, form-encoded garbage bodies (with the real CSRF tokens, so
  that some actions really retry or discard the test's messages: the mail state is never asserted on).

Every run starts with a deterministic sweep of the edge numbers through every numeric slot (page,
limit, offset, message ids), then `HTTP_FUZZ_CASES` random cases. Each case is generated from
`random.Random(f"{seed}/{index}")`, so a seed replays a run and `HTTP_FUZZ_ONLY=17,2040` replays cases.

What must hold (else the test fails, listing every offending input with the seed):

- the process never dies (checked after every case; after a death the relay is restarted, the input
  replayed once to see whether it kills again, and the run goes on, at most HTTP_FUZZ_MAX_RESTARTS times);
- no 5xx except 503 (the database is busy) and the two codes HTTP prescribes for what a server does not
  implement: 501 (unknown method or transfer coding) and 505 (HTTP version), only for such requests;
- a well-formed request (RFC 9112 request line with a token method and an RFC 3986 request-target,
  well-formed header fields, a body framed exactly by Content-Length or chunked) gets a complete
  response: status line, header, and the whole body as framed. A request that is not well-formed
  (control bytes or raw non-ASCII or a backslash in the target, a broken version, header lines without a
  colon or with bare CR/LF/NUL, Content-Length that is wrong, negative, duplicated or paired with
  Transfer-Encoding, a broken chunked body) may be answered 400 or simply closed on: HTTP lets a server
  close a connection whose framing it cannot trust (RFC 9112 sections 2.2, 6.3, 11.2), so only death
  and 5xx count for those. A reset (not a clean close) on a request that carried a body is also not
  counted: a server that answers early and closes with unread input makes the kernel send RST, which
  can discard the response before the client reads it;
- every HTTP_FUZZ_CHECK_EVERY (100) cases and at the end: the process is alive, `GET /healthz` with the
  bearer token answers 200 `ok`, and a fresh SMTP connection is greeted with 220.

Not counted, and kept out of the way so that they cost no time-outs: swift-nio's HTTP/1 decoder stops
parsing a connection after a request with `Connection: upgrade` + `Upgrade:` (it answers that request,
then never answers the next one on the connection, which stays open), so such a request is always the
last on its connection here; a CONNECT request gets a response head without its body. A malformed
request gets LENIENT_TIMEOUT (3 s) for its answer, a well-formed one IO_TIMEOUT (10 s).

Two relays are fuzzed: one with `web.admin_token` (bearer, sign-in and session paths) and one open on
loopback without a token (`web.open = true` where the binary knows that key; the Host and Origin checks
run only then), with a third of the cases. The default run (2 x 816 sweep cases, 3000 + 1000 random)
takes under a minute; a run stops without failing when its time budget is used up, so that a slow
machine cannot make it flaky.

A longer run for local use (about 100 cases a second; a random seed unless HTTP_FUZZ_SEED is set):

    HTTP_FUZZ_CASES=200000 GMAIL_RELAY_BINARY=$PWD/.build/debug/gmail-relay \\
        python3 -m pytest e2e/test_http_fuzz.py -q -p no:cacheprovider -s

or `scripts/http-fuzz.sh 200000 [SEED]`. Knobs: HTTP_FUZZ_CASES (random cases, default 3000),
HTTP_FUZZ_SEED, HTTP_FUZZ_ONLY (comma-separated case indices; the sweep's are negative),
HTTP_FUZZ_CHECK_EVERY (100), HTTP_FUZZ_MAX_RESTARTS (5), HTTP_FUZZ_SECONDS (time budget per relay,
default 30 + 0.02 s per case).
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import pytest

from harness import HOST, RawSMTP

TOKEN = "http-fuzz-admin-token-5f2a9c1e7b3d4a60e8"
CASES = int(os.environ.get("HTTP_FUZZ_CASES", "3000"))
SEED = int(os.environ["HTTP_FUZZ_SEED"]) if os.environ.get("HTTP_FUZZ_SEED") else random.SystemRandom().randrange(1, 2**32)
ONLY = [int(x) for x in os.environ.get("HTTP_FUZZ_ONLY", "").replace(" ", "").split(",") if x]
CHECK_EVERY = int(os.environ.get("HTTP_FUZZ_CHECK_EVERY", "100"))
MAX_RESTARTS = int(os.environ.get("HTTP_FUZZ_MAX_RESTARTS", "5"))
IO_TIMEOUT = 10.0        # every connect, send and read
CASE_TIMEOUT = 20.0      # one case, all its requests
LENIENT_TIMEOUT = 3.0    # the wait for an answer to a malformed request (a server may also just wait for more)
DEATH_WAIT = 15.0        # after a request got nothing: how long to wait for a dying process (backtrace)

# -- inputs ------------------------------------------------------------------------------------

ROUTES = [
    "/", "/messages", "/messages/{id}", "/messages/{id}/retry", "/messages/{id}/discard", "/login", "/logout",
    "/api/status", "/api/messages", "/api/messages/{id}", "/api/messages/{id}/retry",
    "/api/messages/{id}/discard", "/metrics", "/healthz", "/style.css", "/api/stats", "/api/stats?hours=48",
    "/alerts/test",
]
OTHER_ROUTES = [
    "/api", "/api/", "/messages/", "/api/messages/", "/favicon.ico", "/robots.txt", "/nonexistent",
    "/api/messages/{id}/", "/messages/{id}/unknown", "/api/status/extra", "/healthz/", "/login/", "/index.html",
    "/%2e%2e/%2e%2e/etc/passwd", "/../../../../etc/passwd", "/.env", "/api/messages/{id}/retry/{id}",
]
# Int.max / 50 = 184467440737095516: from page 184467440737095518 on, (page - 1) * 50 overflows Int64.
EDGE_NUMBERS = [
    "0", "1", "2", "-1", "-0", "+1", "+0", "49", "50", "51", "1000", "1001", "10000",
    "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
    "9223372036854775806", "9223372036854775807", "9223372036854775808", "-9223372036854775807",
    "-9223372036854775808", "-9223372036854775809",
    "184467440737095516", "184467440737095517", "184467440737095518", "184467440737095519",
    "18446744073709551615", "18446744073709551616", "1" + "0" * 40, "-1" + "0" * 40, "9" * 400,
    "1e9", "1E400", "1.5", "-1.5", "1.", ".5", "0x10", "0b1", "0o7", "1_000", "1,000", " 1", "1 ", "\t1",
    "NaN", "nan", "Infinity", "-inf", "", "+", "-", "--1", "+-1", "00000000000000000000000001",
    "0" * 100, "null", "true", "[]", "1/0", "١٢٣", "１", "1\x00", "1\r\n", "1%",
]
STATUSES = ["sent", "queued", "sending", "held", "failed", "discarded", "SENT", "nope", "sent ", "%"]
WORDS = [
    "sandbox", "nosuch", "' OR 1=1 --", "\"", "%", "_", "\\", "%_\\", "*", "<script>alert(1)</script>",
    "fuzz", "Invoice", "reader@example.net", "💥", "é", "\u202e", "\ufeff", "\x00", "\r\nSet-Cookie: x=1",
    "../..", "//", "a=b&c=d", "+", "%2B", "${jndi:ldap://x}", "{{title}}", "{{{body}}}",
]
NEXTS = [
    "/", "/messages", "/messages/1", "//evil.example", "/\\evil.example", "http://evil.example/", "javascript:alert(1)",
    "/%0d%0aSet-Cookie:%20x=1", "/\r\nX: y", "", "messages", "/" + "a" * 3000, "/?next=/%2F%2Fevil",
]
PARAMS = ["page", "limit", "offset", "status", "account", "q", "next", "done", "refused", "csrf", "token", "id", "ticket"]
PARAM_ODD = ["PAGE", "page[]", "", "%70age", "pa%00ge", "p a g e", "💥", "page;", "limit=", "=", "?"]
BAD_ESCAPES = ["%", "%z", "%zz", "%g0", "%ff", "%c3%28", "%ed%a0%80", "%f4%90%80%80", "%00", "%0d%0a", "%25", "%2525"]
PATH_JUNK = [
    "%00", "%0d%0a", "%0a", "%2e%2e", "%2e", "%2f", "%2F", "%5c", "%ff", "%c3%28", "%", "%zz", "%25", "..", ".",
    ";x=1", ";", "~", "%e2%80%ae", "%f0%9f%92%a5", "@", ":", "!$&'()*+,=",
]
RAW_JUNK = ["\\", "é", "💥", "\u202e", " ", "\t", "\x00", "\x7f", "\r", "\n", "<", ">", "\"", "{", "}", "|", "^", "`", "#frag"]
METHODS_OK = ["GET"] * 9 + ["POST"] * 4 + ["HEAD"] * 2 + ["PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]
METHODS_ODD = ["get", "Get", "FOO", "M-SEARCH", "PROPFIND", "BREW", "X" * 200, "GET" * 50, "CONNECT", "PRI"]
METHODS_BAD = ["", "G ET", "GET\x00", "GÉT", "G@T", "GET:", "(GET)", "\x16\x03\x01", "GET\t"]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "application/json",
    "multipart/form-data; boundary=x", "text/plain", "", "garbage", "application/x-www-form-urlencoded" + ";a" * 200,
]

TCHAR = set(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# RFC 3986 characters of an origin-form request-target (unreserved, sub-delims, ":", "@", "/", "?", "%").
TARGET_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%")
HEX = set(b"0123456789abcdefABCDEF")


def well_formed_target(target: bytes) -> bool:
    """origin-form of RFC 3986 characters with complete %HH escapes, absolute-form, or "*"."""
    if target == b"*":
        return True
    if not (target.startswith(b"/") or target.startswith(b"http://")) or any(c not in TARGET_CHARS for c in target):
        return False
    return all(len(target[i + 1:i + 3]) == 2 and set(target[i + 1:i + 3]) <= HEX
               for i, c in enumerate(target) if c == ord("%"))


@dataclass
class Context:
    """What the running relay knows: its port, real message ids, a session and the CSRF tokens."""
    port: int
    smtp_port: int
    token_mode: bool
    ids: list[int]
    session: str = ""
    session_csrf: str = ""
    login_csrf: str = ""


@dataclass
class Req:
    method: str
    target: bytes
    version: bytes = b"HTTP/1.1"
    headers: list[bytes] = field(default_factory=list)
    body: bytes = b""
    lenient: list[str] = field(default_factory=list)   # why a close without an answer is allowed
    unimplemented: bool = False                          # 501 allowed (unknown method / coding)
    half_close: bool = False
    closes: bool = False                                 # the server may close after answering

    @property
    def strict(self) -> bool:
        return not self.lenient

    def raw(self) -> bytes:
        line = self.method.encode("utf-8", "surrogateescape") + b" " + self.target
        if self.version:
            line += b" " + self.version
        return line + b"\r\n" + b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + self.body

    def describe(self, limit: int = 400) -> str:
        raw = self.raw()
        text = repr(raw[:limit]) + (f"...({len(raw)} bytes)" if len(raw) > limit else "")
        return text


@dataclass
class Case:
    index: int
    requests: list[Req]
    pipelined: bool = False

    def describe(self) -> str:
        parts = [f"case {self.index}" + (" (pipelined)" if self.pipelined else "")]
        parts += [f"  [{i}] {r.describe()}" + ("" if r.strict else f"  (not well-formed: {', '.join(r.lenient)})")
                  for i, r in enumerate(self.requests)]
        return "\n".join(parts)


def enc(r: random.Random, text: str, req: Req, where: str) -> str:
    """A query value as a client might send it: percent-encoded, '+' for spaces, raw, or with broken escapes."""
    choice = r.random()
    if choice < 0.45:
        return urllib.parse.quote(text, safe="")
    if choice < 0.65:
        return urllib.parse.quote_plus(text)
    if choice < 0.85:
        return urllib.parse.quote(text, safe="/:@!$'()*,;") + (r.choice(BAD_ESCAPES) if r.random() < 0.3 else "")
    if choice < 0.96:
        return r.choice(BAD_ESCAPES) + urllib.parse.quote(text, safe="") + r.choice(BAD_ESCAPES)
    return text  # raw: may hold spaces, controls, non-ASCII; the target check below decides


def huge(r: random.Random) -> str:
    """Up to ~16 KB on the wire, also once percent-encoded."""
    size = r.choice([256, 1024, 4096, 8000, 15000, 16384, 16385])
    unit = r.choice(["A", "9", "%41", "💥", "%00", "-", "/", "&", "a=1&", "é"])
    if not (unit.isascii() and unit.isalnum()):   # it is probably percent-encoded on the way: three bytes per byte
        size //= 3 * len(unit.encode())
    return unit * max(1, size // len(unit))


def number(r: random.Random, ctx: Context) -> str:
    roll = r.random()
    if roll < 0.25 and ctx.ids:
        return str(r.choice(ctx.ids))
    if roll < 0.75:
        return r.choice(EDGE_NUMBERS)
    if roll < 0.85:
        return str(r.randint(-2**70, 2**70))
    if roll < 0.92:
        return r.choice(WORDS)
    return huge(r)


def param_value(r: random.Random, name: str, ctx: Context) -> str:
    if name in ("page", "limit", "offset", "id"):
        return number(r, ctx)
    if name == "status":
        return r.choice(STATUSES + WORDS[:4])
    if name in ("account", "q"):
        return huge(r) if r.random() < 0.08 else r.choice(WORDS + ["", "fuzz one", "Invoice 42"])
    if name == "next":
        return r.choice(NEXTS)
    if name in ("done", "refused"):
        return r.choice(["retry", "discard", "nope", "", "RETRY", "retry\x00"])
    if name == "csrf":
        return r.choice([ctx.session_csrf, ctx.login_csrf, "", "0" * 64, huge(r)])
    if name == "token":
        return r.choice([TOKEN, TOKEN, TOKEN, "wrong", "", TOKEN + "x"])
    if name == "ticket":
        return r.choice(["", "x", "0" * 64, "9223372036854775808.00.00", "9223372036854775807.ab.cd", "-1..",
                         "1e400.x.y", "...", huge(r)])
    return r.choice(WORDS)


def gen_query(r: random.Random, ctx: Context, req: Req) -> str:
    roll = r.random()
    if roll < 0.04:
        return "&".join(f"{r.choice(PARAMS)}={r.randint(-9, 9)}" for _ in range(r.choice([100, 500, 1500])))
    if roll < 0.08:
        return huge(r)
    pairs = []
    for _ in range(r.choice([1, 1, 1, 2, 2, 3, 5])):
        name = r.choice(PARAMS) if r.random() < 0.9 else r.choice(PARAM_ODD)
        if r.random() < 0.7 and name not in PARAMS:
            name = urllib.parse.quote(name, safe="%")
        value = enc(r, param_value(r, name, ctx), req, "query")
        shape = r.random()
        if shape < 0.85:
            pairs.append(f"{name}={value}")
        elif shape < 0.9:
            pairs.append(name)
        elif shape < 0.95 or len(value) > 1000:
            pairs.append(f"{name}=={value}")
        else:
            pairs.append(f"{name}={value}={value}")
    sep = "&" if r.random() < 0.9 else r.choice(["&&", ";", "&amp;", "&" * 10])
    query = sep.join(pairs)
    if r.random() < 0.05:
        query = r.choice(["&", "?", "=", "&&"]) + query
    return query


def gen_path(r: random.Random, ctx: Context) -> str:
    route = r.choice(ROUTES) if r.random() < 0.9 else r.choice(OTHER_ROUTES)
    while "{id}" in route:
        roll = r.random()
        ident = number(r, ctx) if roll < 0.6 else (
            urllib.parse.quote(number(r, ctx), safe="") if roll < 0.9 else r.choice(PATH_JUNK + RAW_JUNK[:4]))
        if not ident.isascii() or any(c in ident for c in "/?# \t\r\n\x00") and r.random() < 0.9:
            ident = urllib.parse.quote(ident, safe="")
        route = route.replace("{id}", ident, 1)
    path = route
    for _ in range(r.choice([0, 0, 0, 1, 1, 2, 3])):
        slashes = [i for i, c in enumerate(path) if c == "/"] or [0]
        at = r.choice(slashes)
        mutation = r.randrange(13)
        if mutation == 0:
            path = path[:at] + "//" + path[at + 1:]
        elif mutation == 1:
            path = path[:at] + r.choice(["/./", "/../", "/%2e/", "/%2e%2e/", "/.%2e/", "/..;/"]) + path[at + 1:]
        elif mutation == 2:
            path += r.choice(["/", "/.", "/..", "//", "/%2f", "%2f"])
        elif mutation == 3:
            path = path[:at] + r.choice(["\\", "%5c", "%5C"]) + path[at + 1:]
        elif mutation == 4:
            path = path[:at + 1] + r.choice(PATH_JUNK) + path[at + 1:]
        elif mutation == 5 and r.random() < 0.5:
            path = path[:at + 1] + r.choice(RAW_JUNK) + path[at + 1:]
        elif mutation == 6:
            path = path.upper()
        elif mutation == 7:
            path = path + "/" + huge(r)
        elif mutation == 8:
            path = path[:at + 1] + urllib.parse.quote(r.choice(["é", "💥", "\u202e", "\ufeff", "ü" * 100]), safe="") + path[at + 1:]
        elif mutation == 9:
            path = path.replace("/", "%2f") if r.random() < 0.5 else path.replace("/", "/" * r.randint(2, 50))
        elif mutation == 10 and at > 0:
            path = path[:at] + path[at + 1:]
        else:
            path = "/" * r.randint(2, 4) + path.lstrip("/")
    return path


def gen_target(r: random.Random, ctx: Context, req: Req) -> bytes:
    roll = r.random()
    if roll < 0.015:
        return r.choice([b"*", b"", b"messages", b"http://evil.example/", b"//", b"?page=1", b"/%", b"\x00"])
    path = gen_path(r, ctx)
    if r.random() < 0.55:
        path += "?" + gen_query(r, ctx, req)
    elif r.random() < 0.05:
        path += r.choice(["?", "??", "?#", "#"])
    if r.random() < 0.03:
        path = f"http://{HOST}:{ctx.port}" + (path if path.startswith("/") else "/" + path)
    return path.encode("utf-8", "surrogatepass")


def host_header(r: random.Random, ctx: Context) -> list[bytes] | None:
    roll = r.random()
    if roll < 0.75:
        return [f"Host: {HOST}:{ctx.port}".encode()]
    if roll < 0.8:
        return None
    return [b"Host: " + r.choice([
        b"localhost", f"localhost:{ctx.port}".encode(), b"127.0.0.1", b"[::1]", b"[::1]:80", b"[::1", b"::1",
        b"evil.example", b"evil.example:8025", b"", b"127.0.0.1:99999999999999999999", b"a:b:c", b"127.0.0.2",
        b"LOCALHOST", b"localhost.", b"0x7f.1", b"2130706433", b"127.1", b"[::ffff:127.0.0.1]", b"[]", b":",
        b"localhost:-1", b"h" * 5000, "évil.example".encode(), b"localhost\x00.evil",
    ])] + ([f"Host: {HOST}:{ctx.port}".encode()] if r.random() < 0.05 else [])


def auth_header(r: random.Random, ctx: Context) -> list[bytes]:
    # A wrong token may be answered only after a deliberate delay (300 ms, against guessing): rare here.
    roll = r.random()
    if roll < 0.8:
        return [f"Authorization: Bearer {TOKEN}".encode()]
    if roll < 0.97:
        return []
    return [b"Authorization: " + r.choice([
        b"Bearer wrong", b"bearer " + TOKEN.encode(), b"BEARER  " + TOKEN.encode() + b"  ", b"Bearer",
        b"Bearer ", b"", b"Basic c2l0ZTE6eA==", b"Bearer " + TOKEN[:-1].encode(), b"Bearer " + TOKEN.encode() + b"x",
        b"Bearer " + b"A" * 16000, b"Bearer " + TOKEN.encode() + b" extra", b"Token " + TOKEN.encode(),
        "Bearer é".encode(),
    ])]


def cookie_header(r: random.Random, ctx: Context) -> list[bytes]:
    roll = r.random()
    if roll < 0.7:
        return []
    value = r.choice([
        f"gmail_relay_session={ctx.session}", f"gmail_relay_session={ctx.session}x",
        "gmail_relay_session=9223372036854775808.00.00", "gmail_relay_session=99999999999999999999999.a.b",
        "gmail_relay_session=-1..", "gmail_relay_session=1.2.3.4", "gmail_relay_session=9223372036854775807.admin.00.00",
        "gmail_relay_session=1e400.reader.x.y", "gmail_relay_session=" + "9" * 300 + ".admin..", "gmail_relay_session=", "gmail_relay_session",
        "=;=;;", "a=b; gmail_relay_session=x; gmail_relay_session=" + ctx.session, "x=" + "y" * 8000,
        "; " * 300, "gmail_relay_session=\"" + ctx.session + "\"", "gmail_relay_session=%00",
    ])
    return [b"Cookie: " + value.encode("utf-8", "surrogatepass")]


def extra_headers(r: random.Random, ctx: Context, req: Req) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
        kind = r.randrange(14)
        if kind == 0:
            out.append(b"Origin: " + r.choice([
                b"http://evil.example", b"null", f"http://{HOST}:{ctx.port}".encode(), b"http://[::1",
                b"http://a:99999999999999999999", b"::::", b"", b"http://localhost", "http://é".encode(), b"file://",
                b"http://127.0.0.1:" + str(ctx.port).encode() + b"/path?x", b"%", b"http://" + b"a" * 3000,
            ]))
        elif kind == 1:
            out.append(b"Sec-Fetch-Site: " + r.choice([b"cross-site", b"same-origin", b"none", b"same-site", b"", b"X" * 100]))
        elif kind == 2:
            out.append(b"X-Forwarded-Proto: " + r.choice([b"https", b"HTTPS", b"http", b""]))
        elif kind == 3:
            out.append(b"Accept: " + r.choice([b"*/*", b"text/html", b"application/json", b"", b";;;"]))
        elif kind == 4:
            out.append(b"User-Agent: " + r.choice([b"curl/8", b"", "💥".encode(), b"x" * 5000]))
        elif kind == 5:
            out.append(b"X-Junk-" + str(r.randrange(1000)).encode() + b": " + huge(r).encode())
        elif kind == 6:
            out += [f"X-Many-{i}: {i}".encode() for i in range(r.choice([50, 200]))]
        elif kind == 7:
            out.append(b"Expect: 100-continue")
        elif kind == 8:
            out.append(b"Accept-Encoding: " + r.choice([b"gzip, deflate, br", b"identity;q=0", b"*;q=0", b"x"]))
        elif kind == 9:
            out.append(b"Range: " + r.choice([b"bytes=0-1", b"bytes=-1", b"bytes=99999999999999999999-", b"garbage"]))
        elif kind == 10:
            out.append(b"If-None-Match: " + r.choice([b"*", b"\"x\"", b""]))
        elif kind == 11:
            # swift-nio's HTTP/1 decoder stops parsing a connection after a request with `Connection:
            # upgrade` and `Upgrade` (the bytes would belong to the new protocol), even though no upgrade
            # happens: that request is answered, later ones on the connection never are. So such a request
            # is the last on its connection here.
            out += r.choice([[b"Connection: Upgrade", b"Upgrade: websocket"], [b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c", b"HTTP2-Settings: AAMAAABkAAQAAP__"]])
            req.closes = True
        elif kind == 12:
            out.append(b"Content-Type: " + r.choice(CONTENT_TYPES).encode())
        else:
            bad = r.choice([
                b"Bad Header: x", b"NoColon", b": empty-name", "Ünicode: x".encode(), b"X-Ctl: a\x00b", b"X-Cr: a\rb",
                b" folded: continuation", b"X-Long" + b"n" * 9000 + b": v", b"X-Tab\t: v",
            ])
            out.append(bad)
            req.lenient.append("malformed header line")
    return out


def gen_body(r: random.Random, ctx: Context, req: Req) -> tuple[bytes, list[bytes]]:
    """The body and its framing headers."""
    roll = r.random()
    if roll < 0.6:
        fields = []
        for _ in range(r.choice([0, 1, 2, 3, 3, 4])):
            name = r.choice(["csrf", "token", "next", "csrf", "x", "", "csrf[]"])
            fields.append(f"{urllib.parse.quote_plus(name)}={enc(r, param_value(r, name if name in PARAMS else 'q', ctx), req, 'body')}")
        body = "&".join(fields).encode("utf-8", "surrogatepass")
    elif roll < 0.75:
        body = huge(r).encode()
    elif roll < 0.85:
        body = bytes(r.randrange(256) for _ in range(r.choice([1, 10, 100, 1000])))
    elif roll < 0.9:
        body = b"csrf=" + ctx.session_csrf.encode() + b"&x=" + b"A" * r.choice([16300, 16384, 17000, 40000])
    else:
        body = b""
    framing = r.random()
    if framing < 0.8:
        return body, [f"Content-Length: {len(body)}".encode()]
    if framing < 0.88:
        chunks, rest = [], body
        while rest:
            size = r.randint(1, max(1, len(rest)))
            chunks.append(f"{size:x}\r\n".encode() + rest[:size] + b"\r\n")
            rest = rest[size:]
        return b"".join(chunks) + b"0\r\n\r\n", [b"Transfer-Encoding: chunked"]
    req.lenient.append("body framing broken")
    bad = r.randrange(9)
    if bad == 0:
        req.half_close = True
        return body, [f"Content-Length: {len(body) + r.choice([1, 100, 100000])}".encode()]
    if bad == 1:
        return body + b"GARBAGE\r\n\r\n", [f"Content-Length: {max(0, len(body) - 1)}".encode()]
    if bad == 2:
        return body, [b"Content-Length: " + r.choice([b"-1", b"abc", b"", b"1e3", b"0x10", b"99999999999999999999", b"+5", b" 5 "])]
    if bad == 3:
        return body, [f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) + 1}".encode()]
    if bad == 4:
        return body, [f"Content-Length: {len(body)}".encode(), b"Transfer-Encoding: chunked"]
    if bad == 5:
        req.half_close = True
        return b"zz\r\n" + body, [b"Transfer-Encoding: chunked"]
    if bad == 6:
        req.half_close = True
        return b"ffffffffffffffffffff\r\n" + body[:100], [b"Transfer-Encoding: chunked"]
    if bad == 7:
        req.unimplemented = True
        return body, [b"Transfer-Encoding: " + r.choice([b"gzip", b"chunked, gzip", b"identity", b"x"])]
    req.half_close = True
    return body, []   # a body without any framing: read as the next request


def gen_request(r: random.Random, ctx: Context, last: bool) -> Req:
    roll = r.random()
    req = Req(method="GET", target=b"/")
    if roll < 0.9:
        req.method = r.choice(METHODS_OK)
    elif roll < 0.96:
        req.method = r.choice(METHODS_ODD)
        req.unimplemented = True
        if req.method in ("CONNECT", "PRI"):
            req.lenient.append(f"{req.method} with an origin-form target")
    else:
        req.method = r.choice(METHODS_BAD)
        req.lenient.append("method is not a token")
    if not req.method or any(ord(c) not in TCHAR for c in req.method):
        if "method is not a token" not in req.lenient:
            req.lenient.append("method is not a token")
    req.target = gen_target(r, ctx, req)
    if not well_formed_target(req.target):
        req.lenient.append("request-target outside RFC 3986")
    elif req.target == b"*" and req.method != "OPTIONS":
        req.lenient.append("asterisk-form with a method other than OPTIONS")
    version = r.random()
    if version < 0.9:
        req.version = b"HTTP/1.1"
    elif version < 0.95:
        req.version = b"HTTP/1.0"
        req.closes = True
    else:
        req.version = r.choice([b"HTTP/2.0", b"HTTP/1.2", b"HTTP/9.9", b"http/1.1", b"HTTP/1.1x", b"HTTP/1", b"",
                                b"HTTP/1.1 extra", b"HTTP/0.9", b"HTTP/01.1"])
        req.lenient.append("broken HTTP version")
        req.closes = True
    headers: list[bytes] = []
    host = host_header(r, ctx)
    if host is None:
        if req.version == b"HTTP/1.1":
            req.lenient.append("HTTP/1.1 without Host")
    else:
        headers += host
        if len(host) > 1:
            req.lenient.append("two Host fields")
        elif b"\x00" in host[0] or any(c > 127 for c in host[0]):
            req.lenient.append("Host with bytes outside ASCII/with NUL")
    headers += auth_header(r, ctx) + cookie_header(r, ctx) + extra_headers(r, ctx, req)
    wants_body = req.method in ("POST", "PUT", "PATCH") and r.random() < 0.85 or r.random() < 0.05
    if wants_body:
        body, framing = gen_body(r, ctx, req)
        if not any(h.lower().startswith(b"content-type:") for h in headers) and r.random() < 0.8:
            headers.append(b"Content-Type: application/x-www-form-urlencoded")
        req.body = body
        headers += framing
    if last and r.random() < 0.7:
        headers.append(b"Connection: " + r.choice([b"close", b"Close", b"CLOSE", b"keep-alive, close"]))
        req.closes = True
    elif r.random() < 0.05:
        headers.append(b"Connection: keep-alive")
    r.shuffle(headers)
    req.headers = headers
    if req.half_close or not req.strict:
        req.closes = True
    return req


def gen_case(seed: int, index: int, ctx: Context) -> Case:
    r = random.Random(f"{seed}/{index}")
    count = 1 if r.random() < 0.8 else r.choice([2, 3])
    requests = []
    for i in range(count):
        req = gen_request(r, ctx, last=i == count - 1)
        requests.append(req)
        if req.closes:
            break
    return Case(index, requests, pipelined=len(requests) > 1 and r.random() < 0.3)


def sweep(ctx: Context) -> list[Case]:
    """Every edge number in every numeric slot, authorized, well-formed: the regression corpus."""
    slots = [
        ("GET", "/messages?page={}"), ("GET", "/messages?status=sent&page={}"), ("GET", "/api/messages?limit={}"),
        ("GET", "/api/messages?offset={}"), ("GET", "/api/messages?limit=1&offset={}"), ("GET", "/messages/{}"),
        ("GET", "/api/messages/{}"), ("GET", "/messages/{}?done=retry&refused=discard"), ("HEAD", "/messages?page={}"),
        ("POST", "/api/messages/{}/retry"), ("POST", "/api/messages/{}/discard"), ("POST", "/messages/{}/retry"),
        ("GET", "/api/stats?hours={}"),
    ]
    cases = []
    for slot, (method, template) in enumerate(slots):
        for n, value in enumerate(EDGE_NUMBERS):
            target = template.format(urllib.parse.quote(value, safe="")).encode()
            headers = [f"Host: {HOST}:{ctx.port}".encode(), f"Authorization: Bearer {TOKEN}".encode(), b"Connection: close"]
            body = b""
            if method == "POST":
                body = f"csrf={ctx.session_csrf}".encode()
                headers += [f"Cookie: gmail_relay_session={ctx.session}".encode(),
                            b"Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}".encode()]
            index = -(slot * len(EDGE_NUMBERS) + n + 1)
            cases.append(Case(index, [Req(method, target, headers=headers, body=body, closes=True)]))
    return cases


# -- the client --------------------------------------------------------------------------------

class NoResponse(Exception):
    pass


@dataclass
class Response:
    status: int
    close: bool
    body: bytes
    head: bytes


class Conn:
    def __init__(self, port: int, deadline: float):
        self.deadline = deadline
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes):
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.sendall(data)

    def fill(self):
        left = min(IO_TIMEOUT, self.deadline - time.monotonic())
        if left <= 0:
            raise NoResponse("timeout")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise NoResponse("timeout")
        except ConnectionResetError:
            raise NoResponse("reset")
        if not chunk:
            raise NoResponse("closed")
        self.buf += chunk

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise NoResponse("garbled: line too long")
            self.fill()
        data, self.buf = self.buf.split(b"\r\n", 1)
        return data

    def response(self, method: str) -> Response:
        got_any = bool(self.buf)
        while True:
            try:
                while b"\r\n\r\n" not in self.buf:
                    if len(self.buf) > 256 * 1024:
                        raise NoResponse("garbled: header never ends")
                    self.fill()
                    got_any = True
            except NoResponse as error:
                if got_any or self.buf:
                    raise NoResponse(f"incomplete response head ({error}): {self.buf[:200]!r}")
                raise
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            m = re.fullmatch(rb"HTTP/1\.([01]) (\d{3})(?: .*)?", lines[0])
            if not m:
                raise NoResponse(f"garbled: status line {lines[0][:200]!r}")
            minor, status = m.group(1), int(m.group(2))
            fields: dict[bytes, list[bytes]] = {}
            for raw in lines[1:]:
                name, sep, value = raw.partition(b":")
                if not sep:
                    raise NoResponse(f"garbled: header line {raw[:200]!r}")
                fields.setdefault(name.strip().lower(), []).append(value.strip())
            if 100 <= status < 200 and status != 101:
                continue   # 100 Continue: the final answer follows
            connection = b",".join(fields.get(b"connection", [])).lower()
            close = b"close" in connection or (minor == b"0" and b"keep-alive" not in connection)
            body = b""
            try:
                # CONNECT: swift-nio sends the head of any answer to CONNECT without its body.
                if method in ("HEAD", "CONNECT") or status in (204, 304) or 100 <= status < 200:
                    pass
                elif b"chunked" in b",".join(fields.get(b"transfer-encoding", [])).lower():
                    while True:
                        chunk = int(self.line().split(b";")[0].strip(), 16)
                        if chunk == 0:
                            while self.line():
                                pass
                            break
                        body += self.take(chunk)
                        if self.take(2) != b"\r\n":
                            raise NoResponse("garbled: chunk not followed by CRLF")
                elif b"content-length" in fields:
                    body = self.take(int(fields[b"content-length"][0]))
                else:
                    close = True
                    try:
                        while True:
                            self.fill()
                    except NoResponse as error:
                        if str(error) == "timeout":
                            raise
                    body, self.buf = self.buf, b""
            except NoResponse as error:
                raise NoResponse(f"incomplete body of a {status} ({error})")
            except ValueError:
                raise NoResponse(f"garbled: body framing of a {status}")
            return Response(status, close, body, head[:300])


@dataclass
class Outcome:
    responses: list[Response] = field(default_factory=list)
    error: str | None = None
    failed_at: int | None = None     # the request that got no (complete) answer
    refused: bool = False


def exchange(port: int, case: Case) -> Outcome:
    outcome = Outcome()
    deadline = time.monotonic() + CASE_TIMEOUT
    try:
        conn = Conn(port, deadline)
    except OSError as error:
        outcome.error, outcome.failed_at, outcome.refused = f"connect: {error!r}", 0, True
        return outcome
    try:
        if case.pipelined:
            sent = False
            for i, req in enumerate(case.requests):
                if not sent:
                    try:
                        conn.send(b"".join(r.raw() for r in case.requests))
                        if any(r.half_close for r in case.requests):
                            conn.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass  # the server may already have answered and closed: read what came
                    sent = True
                outcome.failed_at = i
                conn.deadline = min(deadline, time.monotonic() + (IO_TIMEOUT if req.strict else LENIENT_TIMEOUT))
                response = conn.response(req.method)
                outcome.responses.append(response)
                if response.close:
                    break
        else:
            for i, req in enumerate(case.requests):
                outcome.failed_at = i
                try:
                    conn.send(req.raw())
                    if req.half_close:
                        conn.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                conn.deadline = min(deadline, time.monotonic() + (IO_TIMEOUT if req.strict else LENIENT_TIMEOUT))
                response = conn.response(req.method)
                outcome.responses.append(response)
                if response.close:
                    break
        outcome.failed_at = None
    except NoResponse as error:
        outcome.error = str(error)
    except OSError as error:
        outcome.error = f"socket: {error!r}"
    finally:
        conn.close()
    return outcome


# -- checks ------------------------------------------------------------------------------------

def healthz(relay) -> str | None:
    """None when `GET /healthz` with the bearer token answers 200 `ok`, else what went wrong."""
    req = Req("GET", b"/healthz", headers=[f"Host: {HOST}:{relay.web_port}".encode(),
                                           f"Authorization: Bearer {TOKEN}".encode(), b"Connection: close"])
    try:
        conn = Conn(relay.web_port, time.monotonic() + CASE_TIMEOUT)
    except OSError as error:
        return f"/healthz: connect: {error!r}"
    try:
        conn.send(req.raw())
        response = conn.response("GET")
        if response.status != 200 or response.body != b"ok\n":
            return f"/healthz answered {response.status} {response.body[:200]!r}"
        return None
    except (NoResponse, OSError) as error:
        return f"/healthz: {error}"
    finally:
        conn.close()


def smtp_greets(relay) -> str | None:
    try:
        with RawSMTP(relay.port, timeout=IO_TIMEOUT) as conn:
            reply = conn.read_reply()
            if reply.code != 220:
                return f"SMTP greeting {reply!r}"
            conn.send(b"QUIT\r\n")
    except Exception as error:  # noqa: BLE001 - any failure is the finding
        return f"SMTP: {error!r}"
    return None


def health(relay) -> list[str]:
    if relay.proc.poll() is not None:
        return [f"relay exited {relay.proc.returncode}"]
    return [problem for problem in (healthz(relay), smtp_greets(relay)) if problem]


# -- the run -----------------------------------------------------------------------------------

def http(port: int, method: str, target: str, headers: list[str], body: bytes = b"") -> tuple[int, bytes]:
    """A plain request for the set-up: (status, head + body)."""
    with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as s:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close", *headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    assert m, f"{method} {target}: {data[:300]!r}"
    return int(m.group(1)), data


def prepare(relay, token_mode: bool) -> Context:
    """Real message ids and, with a token, a signed-in session and its CSRF token."""
    ids = sorted(row["id"] for row in relay.log_json())
    ctx = Context(port=relay.web_port, smtp_port=relay.port, token_mode=token_mode, ids=ids)
    status, data = http(relay.web_port, "GET", "/login", [])
    m = re.search(rb'name="csrf" value="([0-9a-f]+)"', data)
    if token_mode:
        assert status == 200 and m, data[:500]
        ctx.login_csrf = m.group(1).decode()
        form = urllib.parse.urlencode({"token": TOKEN, "csrf": ctx.login_csrf, "next": "/"}).encode()
        status, data = http(relay.web_port, "POST", "/login", ["Content-Type: application/x-www-form-urlencoded"], form)
        cookie = re.search(rb"(?im)^set-cookie: gmail_relay_session=([^;\r\n]+)", data)
        assert status == 303 and cookie, data[:500]
        ctx.session = cookie.group(1).decode()
        status, data = http(relay.web_port, "GET", "/", [f"Cookie: gmail_relay_session={ctx.session}"])
        m = re.search(rb'name="csrf" value="([0-9a-f]+)"', data)
        assert status == 200 and m, data[:500]
        ctx.session_csrf = m.group(1).decode()
    else:
        ctx.session = "1.2.3"
        # Without a token the action forms carry the process-bound token; a retryable message may not exist,
        # so it is taken from a form when there is one.
        for log_id in ids:
            status, data = http(relay.web_port, "GET", f"/messages/{log_id}", [])
            m = re.search(rb'name="csrf" value="([0-9a-f]+)"', data)
            if m:
                ctx.session_csrf = m.group(1).decode()
                break
    return ctx


def send_mail(relay):
    subjects = ["fuzz one", "Invoice 42 <b>bold</b> & 'quotes'", "100% _under_ \\back",
                "=?UTF-8?B?" + __import__("base64").b64encode("Ünïcödé ✉ 💥".encode()).decode() + "?="]
    with relay.authed() as conn:
        for subject in subjects:
            message = (f"From: site@example.com\r\nTo: reader@example.net\r\nSubject: {subject}\r\n\r\nhello\r\n").encode()
            reply = conn.send_message("site@example.com", ["reader@example.net"], message)
            assert reply.code == 250, reply


def stderr_tail(relay) -> str:
    """What the dying relay said: Swift's fatal error line and the first frames in this project's sources."""
    text = relay.stderr_text(400000)
    lines = text[text.rfind("==== start #"):].splitlines()
    fatal = [line for line in lines if re.search(r"Fatal error|Program crashed|Crashed thread|precondition|overflow", line)]
    frames = [line.strip() for line in lines if "/Sources/" in line and "/.build/" not in line][:4]
    return "\n".join(fatal[:3] + frames) or "\n".join(lines[-8:])


@dataclass
class Findings:
    deaths: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    no_response: list[str] = field(default_factory=list)
    unhealthy: list[str] = field(default_factory=list)
    tolerated: Counter = field(default_factory=Counter)
    slow: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    requests: int = 0
    cases: int = 0
    restarts: int = 0
    aborted: str = ""
    out_of_time: str = ""

    def failed(self) -> bool:
        return bool(self.deaths or self.server_errors or self.no_response or self.unhealthy or self.aborted)


def fuzz(relay, token_mode: bool, cases_wanted: int, label: str) -> Findings:
    found = Findings()
    ctx = prepare(relay, token_mode)
    # The run stops (without failing) when its time is up, so that a slow machine cannot make it flaky.
    budget = float(os.environ.get("HTTP_FUZZ_SECONDS", 30 + 0.02 * cases_wanted))
    started = time.monotonic()
    corpus = sweep(ctx)
    plan: list[int | Case] = [c for c in corpus if not ONLY or c.index in ONLY]
    plan += [i for i in range(cases_wanted) if not ONLY or i in ONLY]

    def case_for(item) -> Case:
        return item if isinstance(item, Case) else gen_case(SEED, item, ctx)

    def died() -> bool:
        return relay.proc.poll() is not None

    def restart() -> bool:
        nonlocal ctx
        if found.restarts >= MAX_RESTARTS:
            found.aborted = f"stopped after {found.restarts} restarts"
            return False
        found.restarts += 1
        relay.start()
        ctx = prepare(relay, token_mode)
        return True

    for done, item in enumerate(plan, 1):
        if time.monotonic() - started > budget:
            found.out_of_time = f"time budget of {budget:.0f} s used up after {found.cases} of {len(plan)} cases"
            break
        case = case_for(item)
        case_started = time.monotonic()
        outcome = exchange(ctx.port, case)
        took = time.monotonic() - case_started
        if took > 1:
            found.slow.append((round(took, 1), case.index, outcome.error))
        found.cases += 1
        found.requests += len(outcome.responses) + (1 if outcome.error else 0)
        for response in outcome.responses:
            found.statuses[response.status] += 1
        for req, response in zip(case.requests, outcome.responses):
            if response.status >= 500 and response.status != 503 and not (
                    (response.status == 501 and req.unimplemented) or (response.status == 505 and not req.strict)):
                found.server_errors.append(f"{label} seed {SEED}: {response.status} for\n{case.describe()}\n"
                                           f"    response head: {response.head!r}")
        if outcome.error is not None:
            deadline = time.monotonic() + (DEATH_WAIT if not outcome.refused else 2)
            while not died() and time.monotonic() < deadline and (
                    outcome.refused or case.requests[outcome.failed_at].strict):
                time.sleep(0.05)
        if died():
            code = relay.proc.returncode
            text = (f"{label} seed {SEED}: relay exited {code} on\n{case.describe()}\n"
                    f"    client saw: {outcome.error}\n    stderr: " + stderr_tail(relay).replace("\n", "\n            "))
            if not restart():
                found.deaths.append(text)
                break
            again = exchange(ctx.port, case)
            deadline = time.monotonic() + DEATH_WAIT
            while again.error is not None and not died() and time.monotonic() < deadline:
                time.sleep(0.05)
            if died():
                text += "\n    replayed after a restart: it killed the relay again"
                found.deaths.append(text)
                if not restart():
                    break
            else:
                text += "\n    replayed after a restart: the relay survived it (not reproducible alone)"
                found.deaths.append(text)
            continue
        if outcome.error is not None:
            req = case.requests[outcome.failed_at]
            reset_with_body = outcome.error == "reset" and bool(req.body)
            if outcome.refused or (req.strict and not reset_with_body and not (case.pipelined and any(
                    not r.strict for r in case.requests))):
                found.no_response.append(f"{label} seed {SEED}: no complete response ({outcome.error}) to request "
                                         f"[{outcome.failed_at}] of\n{case.describe()}")
            else:
                found.tolerated[outcome.error.split(" (")[0].split(":")[0]] += 1
        if done % CHECK_EVERY == 0:
            problems = health(relay)
            if problems:
                found.unhealthy.append(f"{label} seed {SEED}: after {found.cases} cases: {'; '.join(problems)}")
                if died() and not restart():
                    break
        if len(found.server_errors) + len(found.no_response) + len(found.unhealthy) > 200:
            found.aborted = "stopped after 200 findings"
            break
    problems = health(relay)
    if problems:
        found.unhealthy.append(f"{label} seed {SEED}: at the end: {'; '.join(problems)}")
    elapsed = time.monotonic() - started
    print(f"\n[{label}] seed {SEED}: {found.cases} cases ({len(corpus)} sweep + random), {found.requests} requests "
          f"in {elapsed:.1f} s; statuses {dict(sorted(found.statuses.items()))}; tolerated closes "
          f"{dict(found.tolerated)}; restarts {found.restarts}; cases over 1 s: {len(found.slow)} {found.slow[:20]}"
          + (f"; {found.out_of_time}" if found.out_of_time else ""))
    return found


def report(found: Findings, label: str) -> str:
    parts = [f"HTTP fuzz ({label}) failed; replay with HTTP_FUZZ_SEED={SEED}"
             f" (HTTP_FUZZ_CASES={CASES}; HTTP_FUZZ_ONLY=<case> for single cases)"]
    if found.aborted:
        parts.append(f"run {found.aborted}")
    for title, items in [("the relay died", found.deaths), ("5xx answers", found.server_errors),
                         ("no complete response to a well-formed request", found.no_response),
                         ("health checks failed", found.unhealthy)]:
        if items:
            parts.append(f"== {title}: {len(items)}")
            parts += items[:25]
            if len(items) > 25:
                parts.append(f"... and {len(items) - 25} more")
    return "\n".join(parts)


def open_config(make_relay) -> dict:
    """The settings of a page without tokens: `web.open = true` where the binary knows the key (newer
    binaries make a token when none is set), nothing where it does not (older ones refuse unknown keys)."""
    probe = make_relay(config={"web.open": True}, start=False, setup=False)
    result = probe.cli("account", "list")
    return {} if "web.open" in result.stderr and "unknown" in result.stderr else {"web.open": True}


@pytest.mark.parametrize("mode", ["admin-token", "open-loopback"])
def test_http_fuzz(make_relay, mode):
    token_mode = mode == "admin-token"
    relay = make_relay(config={"web.admin_token": TOKEN} if token_mode else open_config(make_relay))
    send_mail(relay)
    assert not health(relay), health(relay)
    wanted = CASES if token_mode else max(1, CASES // 3)
    found = fuzz(relay, token_mode, wanted, mode)
    assert not found.failed(), report(found, mode)
