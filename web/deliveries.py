"""Parsing and validating one Rackbeat webhook delivery (pure: no I/O).

Rackbeat's documented body is ``{"key": 123, "key_name": "id", "event": "order.created", "data": {...}}``,
but real deliveries were seen carrying only ``{"key_name": "number", "key": "1021"}`` with the event in the
``Rackbeat-Webhook-Event`` header. So the header wins, the body's ``event`` is the fallback, and everything
except ``key`` is optional.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENT_HEADER = "rackbeat-webhook-event"
TOKEN_HEADER = "rackbeat-webhook-token"

# A delivery is a key and a few small fields; the optional `data` object can carry a whole document, so leave
# room for a large order while refusing anything that is clearly not a webhook.
MAX_BODY_BYTES = 256 * 1024
# Rackbeat item numbers are at most 25 characters, integer numbers are far shorter; anything longer is junk.
MAX_KEY_LENGTH = 100
MAX_EVENT_LENGTH = 100
# A delivery is a flat object whose optional `data` holds a document with lines: a few levels deep. The
# bound keeps json.loads (recursive) far from the recursion limit; it is checked by a scan, not by recursion.
MAX_NESTING_DEPTH = 32
# Rackbeat runs on Laravel (PHP): every integer it can send fits a PHP int, a signed 64-bit number, so
# 2**63 - 1 (PHP_INT_MAX, 19 digits) is the largest key it can mean. Anything larger is not a Rackbeat record,
# and bounding it keeps a 4,000-digit number out of the pending markers, the broker and the API paths.
MAX_INTEGER_KEY = 2**63 - 1

# A JSON string from its opening quote to its closing one (escapes included), or to the end of the body
# when it is never closed (a lone trailing backslash too), so every match succeeds from where it starts:
# no backtracking and no second attempt inside the same string, hence linear in the body's length.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_ASCII_DIGITS = re.compile(r"[0-9]+")


class MalformedDelivery(ValueError):
    """The delivery cannot be processed; the message says why and is safe to return to the caller."""


@dataclass(frozen=True)
class Delivery:
    event: str
    key: str
    key_name: str | None


def decode_body(body: bytes) -> Any:
    """The JSON value of the body, or MalformedDelivery (the only exception it raises for any input).

    Bounded before json.loads runs: the size (MAX_BODY_BYTES), UTF-8 (JSON between systems is UTF-8,
    RFC 8259 §8.1; decoding it here also keeps the nesting scan exact, which a UTF-16 body would defeat) and
    the nesting depth (MAX_NESTING_DEPTH), so the recursive parser can never hit the recursion limit.
    """
    if len(body) > MAX_BODY_BYTES:
        raise MalformedDelivery(f"body is longer than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise MalformedDelivery("body is empty; expected a JSON object with a 'key'")
    try:
        text = body.decode("utf-8-sig")  # a leading BOM is tolerated, as json.loads(bytes) did
    except UnicodeDecodeError:
        raise MalformedDelivery("body is not UTF-8") from None
    if nesting_depth(text) > MAX_NESTING_DEPTH:
        raise MalformedDelivery(f"body nests deeper than {MAX_NESTING_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and integers over Python's 4,300-digit conversion limit. RecursionError
        # cannot happen below MAX_NESTING_DEPTH; caught anyway, since no body may turn into a 5xx.
        raise MalformedDelivery(f"body is not valid JSON ({type(exc).__name__})") from None


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, found in one pass without recursion.

    Strings are skipped first (a ``[`` inside a string opens nothing); then brackets are counted. For the
    part of the text that is valid JSON, which is all json.loads ever descends into, this equals its
    recursion depth.
    Past MAX_NESTING_DEPTH it stops counting and answers MAX_NESTING_DEPTH + 1.
    """
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))  # both in C, linear
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_NESTING_DEPTH:
                break
    return deepest


def event_name(headers: Mapping[str, str], payload: Any) -> str | None:
    """The event from the header, else from the body; None when neither names one usable."""
    candidate: Any = headers.get(EVENT_HEADER)
    if not candidate and isinstance(payload, dict):
        candidate = payload.get("event")
    if not isinstance(candidate, str):
        return None
    candidate = candidate.strip()
    if not candidate or len(candidate) > MAX_EVENT_LENGTH or not candidate.isprintable():
        return None
    return candidate


def normalise_key(value: Any) -> str:
    """The record key as the string the pending marker and the task use.

    Rackbeat sends ``"1021"`` in some deliveries and ``1021`` in others for the same record; normalising both
    to one string lets a burst mixing the two coalesce into one transfer.
    """
    if isinstance(value, bool) or value is None:
        raise MalformedDelivery("'key' must be a string or an integer")
    if isinstance(value, int):
        if value < 0:
            raise MalformedDelivery("'key' must not be negative")
        if value > MAX_INTEGER_KEY:
            raise MalformedDelivery(f"'key' is larger than {MAX_INTEGER_KEY}")
        return str(value)
    if not isinstance(value, str):
        raise MalformedDelivery(f"'key' must be a string or an integer, not {_json_type(value)}")
    key = value.strip()
    if not key:
        raise MalformedDelivery("'key' is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise MalformedDelivery(f"'key' is longer than {MAX_KEY_LENGTH} characters")
    if not key.isprintable():
        raise MalformedDelivery("'key' contains control characters")
    return key


def integer_key(key: str) -> str:
    """A normalised key for a kind Rackbeat addresses by an integer number (customers, groups, units...).

    Only ASCII digits (``str.isdigit`` would also pass ``"²"`` or Arabic-Indic digits), at most
    MAX_INTEGER_KEY, written canonically so ``"0042"``, ``"42"`` and ``42`` coalesce into one transfer.
    """
    if not _ASCII_DIGITS.fullmatch(key):
        raise MalformedDelivery("'key' must be an integer number for this event")
    if len(key.lstrip("0")) > len(str(MAX_INTEGER_KEY)) or int(key) > MAX_INTEGER_KEY:
        raise MalformedDelivery(f"'key' is larger than {MAX_INTEGER_KEY}")
    return str(int(key))


def event_in_header(headers: Mapping[str, str]) -> bool:
    """Whether the header names the event (then the body is never consulted for it, see event_name)."""
    return bool(headers.get(EVENT_HEADER))


def parse_delivery(headers: Mapping[str, str], payload: Any) -> Delivery:
    """Validate an already decoded body; headers must be a case-insensitive mapping (lower-case names)."""
    if not isinstance(payload, dict):
        raise MalformedDelivery(f"body must be a JSON object, not {_json_type(payload)}")
    if "key" not in payload:
        raise MalformedDelivery("body has no 'key'")
    key = normalise_key(payload["key"])
    event = event_name(headers, payload)
    if event is None:
        raise MalformedDelivery("no event: send the Rackbeat-Webhook-Event header or an 'event' field")
    key_name = payload.get("key_name")
    if key_name is not None and not isinstance(key_name, str):
        raise MalformedDelivery("'key_name' must be a string")
    return Delivery(event=event, key=key, key_name=key_name)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", float: "a number", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int) and not isinstance(value, bool):
        return "an integer"
    return names.get(type(value), type(value).__name__)
