"""Chaos: fuzzed deliveries against a real webhook receiver (`python -m web`), over loopback.

    .venv/bin/python -m bench.chaos_receiver_fuzz [--requests 3000] [--seed 20260] [--concurrency 4]
                                                  [--max-seconds 300] [--redis-url redis://127.0.0.1:PORT/0]
                                                  [--details]

A private `redis-server` on loopback (or the loopback Redis given) holds the receiver's tokens, pending
markers and broker; no worker consumes its `transfers` queue, so what is queued there is exactly what the
receiver enqueued.
Every request is built (deterministically from the seed) as either

- a *control*: a valid delivery with a key no other request uses (string, integer and leading-zero keys,
  the event in the body, the deepest nesting allowed, a BOM...) that must be answered 202; or
- a *bad* request, broken in one way chosen so it can never be a valid delivery: deep nesting, huge or odd
  numbers, odd key types, huge keys, control characters, lone surrogates, wrong / missing / foreign tokens,
  truncated JSON, non-UTF-8 or UTF-16 bodies, dot keys for integer-keyed kinds, very long headers, empty or
  over-long bodies, non-object bodies, wrong methods; or deliveries the receiver must ignore (an event no
  kind handles, a product named by `id`), answered 200 and never queued.

Content types are drawn at random for every request, controls included: Rackbeat documents a JSON body and
nothing about the header, so the receiver judges the body and a control must pass with any content type.

Printed: requests sent and the wall time, answers per status class, the 5xx count (goal 0), the bad
requests the receiver accepted and the transfers queued for anything but a control (goal 0 each), and the
controls accepted (goal: all). "no answer" counts connections the HTTP layer (uvicorn) closed without an
answer, which only very long headers cause; `--details` prints the answers per defect. Exit status 1 when a
goal is missed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
RECEIVER_PATH = "/webhooks/rackbeat"

# Events with a registered token, by the kind they route to. Products and lots are keyed by item number
# (a string), customers and product groups by an integer (rackbeat-api.md §1.5).
ITEM_EVENTS = {"product.updated": "product", "product.created": "product", "lot.updated": "lot"}
INTEGER_EVENTS = {"customer.updated": "customer", "product_group.created": "product_group"}
UNHANDLED_EVENT = "gadget.updated"  # registered, but no kind handles it: answered 200 ignored
EVENTS = [*ITEM_EVENTS, *INTEGER_EVENTS, UNHANDLED_EVENT]
INTEGER_KEY_LIMIT = 2**63 - 1
MAX_BODY_BYTES = 256 * 1024
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
    None,  # no header at all
]
CONTROL_SHARE = 0.12


@dataclass(frozen=True)
class FuzzCase:
    """One request. `control` is the (kind, normalised key) a valid delivery must queue; None for bad ones."""

    defect: str
    body: bytes
    headers: tuple[tuple[str, str | bytes], ...]
    method: str = "POST"
    control: tuple[str, str] | None = None


@dataclass
class Answer:
    status: int | None  # None: the connection was closed without an HTTP answer
    body: dict[str, Any] | None = None


@dataclass
class Figures:
    sent: int = 0
    seconds: float = 0.0
    classes: Counter[str] = field(default_factory=Counter)
    codes: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    bad_accepted: int = 0
    bad_queued: int = 0
    controls: int = 0
    controls_accepted: int = 0
    by_defect: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.server_errors == 0
            and self.bad_accepted == 0
            and self.bad_queued == 0
            and self.controls_accepted == self.controls
        )


# ------------------------------------------------------------------------------------------- generation


class Generator:
    """Deterministic cases for a seed; `tokens` maps each event in EVENTS to its registered token."""

    def __init__(self, seed: int, tokens: Mapping[str, str]) -> None:
        self.rnd = random.Random(seed)
        self.tokens = dict(tokens)
        self.run = f"{seed:x}-{self.rnd.getrandbits(24):06x}"  # keys unique to this run, yet reproducible
        self.serial = 0
        self.bad: list[Callable[[], FuzzCase]] = [
            self.deep_nesting,
            self.huge_integer_key,
            self.odd_key_type,
            self.huge_string_key,
            self.control_characters,
            self.wrong_token,
            self.truncated_json,
            self.not_utf8,
            self.dot_key_for_integer_kind,
            self.bad_integer_kind_key,
            self.long_headers,
            self.empty_or_oversized_body,
            self.not_an_object,
            self.missing_parts,
            self.ignored_delivery,
            self.wrong_method,
        ]

    # -- helpers --
    def unique(self, prefix: str = "FZ") -> str:
        self.serial += 1
        return f"{prefix}-{self.run}-{self.serial}"

    def unique_int(self) -> int:
        self.serial += 1
        return self.rnd.randrange(10**12, 10**15) * 1000 + self.serial % 1000

    def headers(self, event: str | None, token: str | None, **extra: str | bytes) -> tuple:
        found: list[tuple[str, str | bytes]] = [("User-Agent", "Rackbeat Webhook")]
        content_type = self.rnd.choice(CONTENT_TYPES)
        if content_type is not None:
            found.append(("Content-Type", content_type))
        if token is not None:
            found.append(("Rackbeat-Webhook-Token", token))
        if event is not None:
            found.append(("Rackbeat-Webhook-Event", event))
        found.extend(extra.items())
        return tuple(found)

    def valid_headers(self, event: str) -> tuple:
        return self.headers(event, self.tokens[event])

    def item_event(self) -> str:
        return self.rnd.choice(list(ITEM_EVENTS))

    def integer_event(self) -> str:
        return self.rnd.choice(list(INTEGER_EVENTS))

    @staticmethod
    def dumps(value: Any) -> bytes:
        return json.dumps(value).encode()

    def case(self, defect: str, body: bytes, headers: tuple, **kw: Any) -> FuzzCase:
        return FuzzCase(defect=defect, body=body, headers=headers, **kw)

    # -- the mix --
    def cases(self, count: int) -> list[FuzzCase]:
        made = []
        for _ in range(count):
            made.append(self.control() if self.rnd.random() < CONTROL_SHARE else self.rnd.choice(self.bad)())
        return made

    # -- controls: valid deliveries that must be accepted --
    def control(self) -> FuzzCase:
        choice = self.rnd.randrange(8)
        if choice == 0:  # the observed minimal body
            event, key = self.item_event(), self.unique()
            body = {"key_name": "number", "key": key}
        elif choice == 1:  # the documented body, integer key, under the limit
            event, number = self.integer_event(), self.unique_int()
            body, key = {"key": number, "key_name": "number", "event": event, "data": {"x": 1}}, str(number)
        elif choice == 2:  # integer-keyed kind, digits with leading zeros: normalised
            event, number = self.integer_event(), self.unique_int()
            body, key = {"key": f"000{number}"}, str(number)
        elif choice == 3:  # no event header: the event from the body
            event, key = self.item_event(), self.unique()
            case_body = self.dumps({"event": event, "key": key})
            return self.case(
                "control",
                case_body,
                self.headers(None, self.tokens[event]),
                control=(ITEM_EVENTS[event], key),
            )
        elif choice == 4:  # exactly the deepest nesting allowed (32 levels, the object included)
            event, key = self.item_event(), self.unique()
            raw = f'{{"key": "{key}", "data": {"[" * 31}1{"]" * 31}}}'
            return self.case(
                "control", raw.encode(), self.valid_headers(event), control=(ITEM_EVENTS[event], key)
            )
        elif choice == 5:  # a BOM, printable non-ASCII, a dot inside the number
            event, key = self.item_event(), self.unique("Søm.2,5")
            return self.case(
                "control",
                b"\xef\xbb\xbf" + json.dumps({"key": key}).encode(),
                self.valid_headers(event),
                control=(ITEM_EVENTS[event], key),
            )
        elif choice == 6:  # the longest key allowed, with old_key/changed extras
            event = self.item_event()
            stem = self.unique()
            key = (stem + "-" + "K" * 100)[:100]
            body = {"key": key, "old_key": "x", "new_key": key, "changed": ["name"]}
        else:  # a body close to the size limit
            event, key = self.item_event(), self.unique()
            body = {"key": key, "data": {"description": "d" * (MAX_BODY_BYTES - 200)}}
        kind = ITEM_EVENTS.get(event) or INTEGER_EVENTS[event]
        return self.case("control", self.dumps(body), self.valid_headers(event), control=(kind, key))

    # -- bad requests, each broken so it can never be a valid delivery --
    def deep_nesting(self) -> FuzzCase:
        depth = self.rnd.choice([33, 40, 100, 1000, 50_000, 200_000])
        opener = self.rnd.choice(["[", '{"a":'])
        closer = "]" if opener == "[" else "}"
        inner = opener * depth + "1" + closer * depth
        # inside a delivery's `data`, or the bare unclosed brackets the chaos review sent
        raw = f'{{"key": "{self.unique()}", "data": {inner}}}' if self.rnd.random() < 0.5 else opener * depth
        raw_bytes = raw.encode()[:MAX_BODY_BYTES]
        token_kind = self.rnd.randrange(3)  # the right token, a wrong one, none
        event = self.item_event()
        token = [self.tokens[event], secrets.token_hex(16), None][token_kind]
        with_header = self.rnd.random() < 0.7
        return self.case(
            f"deep-nesting/{'right' if token_kind == 0 else 'wrong'}-token",
            raw_bytes,
            self.headers(event if with_header else None, token),
        )

    def huge_integer_key(self) -> FuzzCase:
        digits = self.rnd.choice([20, 40, 400, 3772, 4300, 5000, 20_000])
        number = str(self.rnd.randrange(1, 10)) + "".join(self.rnd.choices("0123456789", k=digits - 1))
        if self.rnd.random() < 0.3:
            number = str(INTEGER_KEY_LIMIT + 1 + self.rnd.randrange(10**6))
        event = self.rnd.choice([self.item_event(), self.integer_event()])
        raw = f'{{"key_name": "number", "key": {number}}}'
        return self.case("huge-integer-key", raw.encode(), self.valid_headers(event))

    def odd_key_type(self) -> FuzzCase:
        values = [
            "null",
            "true",
            "false",
            "1.5",
            "1e400",
            "-1e400",
            "NaN",
            "Infinity",
            "-7",
            "-0.0",
            "[]",
            '["1"]',
            "{}",
            '{"number": "1"}',
            '""',
            '"   "',
            "1E2",
            "0.1e1",
        ]
        raw = f'{{"key": {self.rnd.choice(values)}}}'
        event = self.rnd.choice([self.item_event(), self.integer_event()])
        return self.case("odd-key-type", raw.encode(), self.valid_headers(event))

    def huge_string_key(self) -> FuzzCase:
        size = self.rnd.choice([101, 1000, 100_000, MAX_BODY_BYTES - 20])
        body = self.dumps({"key": "K" * size})[: MAX_BODY_BYTES + self.rnd.choice([0, 10])]
        return self.case("huge-string-key", body, self.valid_headers(self.item_event()))

    def control_characters(self) -> FuzzCase:
        char = self.rnd.choice(["\x00", "\n", "\t", "\x1b", "\x7f", "\u2028", "\u200b\x00", "\x85"])
        stem = self.unique()
        # Inside the key, not at its ends: the receiver strips surrounding whitespace ("\n", "\x85"...).
        if self.rnd.random() < 0.5:  # escaped: valid JSON holding a control character
            body = self.dumps({"key": stem + char + "x"})
        else:  # raw: invalid JSON, or valid JSON whose key is not printable
            body = f'{{"key": "{stem}{char}x"}}'.encode()
        if self.rnd.random() < 0.3:  # or a lone surrogate
            body = f'{{"key": "{stem}\\ud800"}}'.encode()
        return self.case("control-characters", body, self.valid_headers(self.item_event()))

    def wrong_token(self) -> FuzzCase:
        event = self.rnd.choice(EVENTS[:-1])
        right = self.tokens[event]
        other = self.tokens[self.rnd.choice([e for e in EVENTS if e != event])]
        token = self.rnd.choice(
            [
                # (no " " + right: HTTP strips spaces around a header value, so that one is the right token)
                None,
                "",
                secrets.token_hex(16),
                right.upper(),
                right[:-1],
                right + "0",
                right + "\t0",
                other,
                "x" * 10_000,
                right[:16],
            ]
        )
        kind = ITEM_EVENTS.get(event) or INTEGER_EVENTS[event]
        key = self.unique() if kind in ITEM_EVENTS.values() else str(self.unique_int())
        body = self.dumps({"key": key, "event": event})
        with_header = self.rnd.random() < 0.8
        return self.case("wrong-token", body, self.headers(event if with_header else None, token))

    def truncated_json(self) -> FuzzCase:
        whole = self.dumps({"key_name": "number", "key": self.unique(), "data": {"lines": [1, 2]}})
        cut = self.rnd.randrange(1, len(whole) - 1)
        return self.case("truncated-json", whole[:cut], self.valid_headers(self.item_event()))

    def not_utf8(self) -> FuzzCase:
        key = self.unique()
        body = self.rnd.choice(
            [
                f'{{"key": "{key}-\u00f8"}}'.encode("latin-1"),
                json.dumps({"key": key}).encode("utf-16"),
                json.dumps({"key": key}).encode("utf-32"),
                # a continuation byte with no lead byte first, then anything: never UTF-8
                b'{"key": "' + bytes([0x80 | self.rnd.getrandbits(6)]) + self.rnd.randbytes(11) + b'"}',
                b"\xff\xfe\x00\x00",
                b'{"key": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate: not UTF-8
            ]
        )
        return self.case("not-utf-8", body, self.valid_headers(self.item_event()))

    def dot_key_for_integer_kind(self) -> FuzzCase:
        body = self.dumps({"key": self.rnd.choice([".", "..", "...", "./1", "../1", "%2E", "1.0"])})
        return self.case("dot-key-integer-kind", body, self.valid_headers(self.integer_event()))

    def bad_integer_kind_key(self) -> FuzzCase:
        key = self.rnd.choice(
            [
                "ABC",
                "12a",
                "+12",
                "1 2",
                "²",
                "١٢٣",
                "9" * 20,
                str(INTEGER_KEY_LIMIT + 1),
                "0x10",
                "1_000",
            ]
        )
        return self.case(
            "bad-integer-kind-key", self.dumps({"key": key}), self.valid_headers(self.integer_event())
        )

    def long_headers(self) -> FuzzCase:
        event = self.item_event()
        body = self.dumps({"key": self.unique()})
        choice = self.rnd.randrange(4)
        if choice == 0:  # an event name far too long: no registered token matches it
            return self.case(
                "long-headers/event", body, self.headers("product." + "u" * 10_000, self.tokens[event])
            )
        if choice == 1:  # padding, with a wrong token
            pad = "p" * self.rnd.choice([8_000, 60_000, 300_000])
            return self.case(
                "long-headers/padding", body, self.headers(event, secrets.token_hex(16), X_Pad=pad)
            )
        if choice == 2:  # many headers, no token
            many = tuple((f"X-Fuzz-{i}", "v" * 20) for i in range(self.rnd.choice([100, 1000])))
            return self.case("long-headers/many", body, self.headers(event, None) + many)
        latin = "ø" * 500  # non-ASCII token bytes
        return self.case("long-headers/latin-1-token", body, self.headers(event, latin.encode("latin-1")))

    def empty_or_oversized_body(self) -> FuzzCase:
        body = self.rnd.choice([b"", b" ", b"\n\t ", b"\x00", b"{}" + b" " * MAX_BODY_BYTES])
        return self.case("empty-or-oversized-body", body, self.valid_headers(self.item_event()))

    def not_an_object(self) -> FuzzCase:
        body = self.rnd.choice([b"[]", b'[{"key": "1"}]', b'"1021"', b"1021", b"null", b"true", b"1e999"])
        return self.case("not-an-object", body, self.valid_headers(self.item_event()))

    def missing_parts(self) -> FuzzCase:
        event = self.item_event()
        choice = self.rnd.randrange(3)
        if choice == 0:
            return self.case("missing-key", self.dumps({"key_name": "number"}), self.valid_headers(event))
        if choice == 1:
            return self.case(
                "key-name-not-string",
                self.dumps({"key": self.unique(), "key_name": 5}),
                self.valid_headers(event),
            )
        # no event anywhere: only the token of some event, which cannot be matched without one
        return self.case(
            "no-event", self.dumps({"key": self.unique()}), self.headers(None, self.tokens[event])
        )

    def ignored_delivery(self) -> FuzzCase:
        if self.rnd.random() < 0.5:  # an event no kind handles: 200 ignored
            return self.case(
                "unhandled-event", self.dumps({"key": self.unique()}), self.valid_headers(UNHANDLED_EVENT)
            )
        # a product looked up by id: never guessed, 200 ignored
        return self.case(
            "key-name-id",
            self.dumps({"key": self.unique_int(), "key_name": "id"}),
            self.valid_headers(self.item_event()),
        )

    def wrong_method(self) -> FuzzCase:
        event = self.item_event()
        method = self.rnd.choice(["GET", "PUT", "DELETE", "PATCH"])
        return self.case(
            "wrong-method", self.dumps({"key": self.unique()}), self.valid_headers(event), method=method
        )


def generate(count: int, seed: int, tokens: Mapping[str, str]) -> list[FuzzCase]:
    return Generator(seed, tokens).cases(count)


def new_tokens() -> dict[str, str]:
    return {event: secrets.token_hex(16) for event in EVENTS}


# ---------------------------------------------------------------------------------------------- sending


def send(
    url: str, cases: Sequence[FuzzCase], concurrency: int = 4, max_seconds: float = 300.0
) -> list[Answer]:
    """Every case to the receiver at `url` (its /webhooks/rackbeat), from `concurrency` keep-alive clients;
    cases not started before `max_seconds` are left unsent (their answer stays None)."""
    answers: list[Answer | None] = [None] * len(cases)
    give_up = time.monotonic() + max_seconds
    local = threading.local()

    def client() -> httpx.Client:
        if getattr(local, "client", None) is None:
            local.client = httpx.Client(timeout=30)
        return local.client

    def one(index: int) -> None:
        if time.monotonic() > give_up:
            return
        case = cases[index]
        try:
            response = client().request(case.method, url, content=case.body, headers=list(case.headers))
        except httpx.TransportError:
            local.client.close()
            local.client = None
            answers[index] = Answer(None)
            return
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        answers[index] = Answer(response.status_code, parsed if isinstance(parsed, dict) else None)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(len(cases))))
    return [answer if answer is not None else Answer(-1) for answer in answers]


# -------------------------------------------------------------------------------------------- the broker


def queued_transfers(client: redis.Redis, broker_prefix: str, queue: str = "transfers") -> list[tuple]:
    """(kind, key) of every message waiting on the receiver's queue (every kombu priority sub-queue)."""
    found: list[tuple] = []
    for name in client.scan_iter(match=f"{broker_prefix}{queue}*"):
        text = name.decode() if isinstance(name, bytes) else name
        rest = text[len(broker_prefix) + len(queue) :]
        if rest and not rest.startswith("\x06\x16"):
            continue
        for raw in client.lrange(name, 0, -1):
            envelope = json.loads(raw)
            body = envelope["body"]
            if envelope.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, _kwargs, _embed = json.loads(body)
            found.append(tuple(args))
    return found


# ----------------------------------------------------------------------------------------------- tallying


def status_class(status: int | None) -> str:
    if status is None:
        return "no answer"
    if status < 0:
        return "not sent"
    return f"{status // 100}xx"


def tally(
    cases: Sequence[FuzzCase], answers: Sequence[Answer], queued: Sequence[tuple], seconds: float
) -> Figures:
    figures = Figures(seconds=seconds)
    controls = {case.control for case in cases if case.control is not None}
    for case, answer in zip(cases, answers, strict=True):
        if answer.status is not None and answer.status < 0:
            figures.classes["not sent"] += 1
            continue
        figures.sent += 1
        cls = status_class(answer.status)
        figures.classes[cls] += 1
        if answer.status is not None:
            figures.codes[answer.status] += 1
        figures.by_defect[f"{case.defect} {cls}"] += 1
        if answer.status is not None and answer.status >= 500:
            figures.server_errors += 1
            figures.problems.append(f"{case.defect}: {answer.status} {answer.body}")
        if case.control is not None:
            figures.controls += 1
            accepted = answer.status == 202 and (answer.body or {}).get("key") == case.control[1]
            figures.controls_accepted += accepted
            if not accepted:
                figures.problems.append(f"control {case.control} answered {answer.status} {answer.body}")
        elif (
            answer.status is not None
            and 200 <= answer.status < 300
            and (answer.body or {}).get("status") == "accepted"
        ):
            figures.bad_accepted += 1
            figures.problems.append(f"{case.defect} accepted: {answer.body}")
    strays = [entry for entry in queued if tuple(entry) not in controls]
    figures.bad_queued = len(strays)
    figures.problems.extend(f"queued for no control: {entry}" for entry in strays[:20])
    return figures


def report(figures: Figures, details: bool = False) -> None:
    print(
        f"requests sent                 {figures.sent} in {figures.seconds:.1f} s "
        f"({figures.sent / figures.seconds if figures.seconds else 0:.0f} req/s)"
    )
    for cls in sorted(figures.classes):
        codes = sorted(code for code in figures.codes if status_class(code) == cls)
        split = ", ".join(f"{code}: {figures.codes[code]}" for code in codes)
        print(f"  {cls:<27} {figures.classes[cls]}{f'   ({split})' if split else ''}")
    print(f"5xx answers                   {figures.server_errors}   (goal 0)")
    print(f"bad requests accepted         {figures.bad_accepted}   (goal 0)")
    print(f"queued for bad input          {figures.bad_queued}   (goal 0; the receiver's broker queue)")
    print(f"controls accepted             {figures.controls_accepted} of {figures.controls}")
    if details:
        print("answers per defect:")
        for line in sorted(figures.by_defect):
            print(f"  {line:<45} {figures.by_defect[line]}")
    for problem in figures.problems[:20]:
        print(f"  ! {problem[:200]}{'...' if len(problem) > 200 else ''}")


# ------------------------------------------------------------------------------------------ the receiver


@contextmanager
def private_redis(url: str | None) -> Iterator[str]:
    if url is not None:
        from tasks.harness.localredis import is_loopback_url

        if not is_loopback_url(url):
            raise SystemExit("bench.chaos_receiver_fuzz: --redis-url must be a loopback URL")
        yield url
        return
    from tasks.harness.localredis import LocalRedis

    server = LocalRedis().start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def receiver_process(redis_url: str, connection_id: str, broker_prefix: str) -> Iterator[str]:
    """`python -m web` on a free loopback port, settings from the environment only; yields its base URL."""
    from tasks.harness.localredis import free_port

    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update(
        {
            "RBSYNC_REDIS_URL": redis_url,
            "RBSYNC_BROKER_URL": redis_url,
            "RBSYNC_CONNECTION_ID": connection_id,
            "RBSYNC_BROKER_KEY_PREFIX": broker_prefix,
            "RBSYNC_PUBLIC_URL": f"http://127.0.0.1:{port}",
            # never called (no registration, no worker), but required settings: loopback placeholders
            "RBSYNC_RACKBEAT_BASE_URL": "http://127.0.0.1:9/api/",
            "RBSYNC_ECONOMIC_BASE_URL": "http://127.0.0.1:9/",
            "RBSYNC_ECONOMIC_OPENAPI_BASE_URL": "http://127.0.0.1:9/",
            "RBSYNC_RACKBEAT_TOKEN": "unused",
            "RBSYNC_ECONOMIC_APP_SECRET_TOKEN": "unused",
            "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN": "unused",
        }
    )
    command = [
        sys.executable,
        "-m",
        "web",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--no-register-webhooks",
    ]
    # Run outside the project directory so a developer's .env cannot add settings (a fixed token, say).
    with tempfile.TemporaryDirectory(prefix="rbsync-fuzz-") as workdir:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            give_up = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > give_up:
                    raise SystemExit("bench.chaos_receiver_fuzz: python -m web did not start")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)


def register_tokens(client: redis.Redis, connection_id: str, tokens: Mapping[str, str]) -> None:
    from pydantic import SecretStr

    from tasks.redis import key as namespaced_key
    from tasks.webhooks import WebhookTokenStore

    store = WebhookTokenStore(client, lambda *parts: namespaced_key(*parts, connection_id=connection_id))
    for event, token in tokens.items():
        store.put(event, SecretStr(token))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos_receiver_fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=3000, help="how many requests to send (default 3000)")
    parser.add_argument("--seed", type=int, default=20260, help="seed of the generator (default 20260)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop sending after this long")
    parser.add_argument("--redis-url", default=None, help="a loopback Redis to use (default: a private one)")
    parser.add_argument("--details", action="store_true", help="also print the answers per defect")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000:
        parser.error("--requests must be within 1..100000")

    connection_id = f"fuzz-{uuid.uuid4().hex[:10]}"
    broker_prefix = f"rbsync:{connection_id}:celery:"
    tokens = new_tokens()
    cases = generate(args.requests, args.seed, tokens)
    with private_redis(args.redis_url) as redis_url:
        client = redis.Redis.from_url(redis_url)
        try:
            register_tokens(client, connection_id, tokens)
            with receiver_process(redis_url, connection_id, broker_prefix) as url:
                began = time.perf_counter()
                answers = send(url + RECEIVER_PATH, cases, args.concurrency, args.max_seconds)
                seconds = time.perf_counter() - began
            figures = tally(cases, answers, queued_transfers(client, broker_prefix), seconds)
        finally:
            for pattern in (f"rbsync:{connection_id}:*",):
                names = list(client.scan_iter(match=pattern, count=1000))
                if names:
                    client.delete(*names)
            client.close()
    report(figures, args.details)
    return 0 if figures.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
