"""The legacy ``filter`` query grammar (§9.1), parsed once into a predicate over stored records.

Grammar: ``expr := and ($or: and)*``, ``and := term ($and: term)*``, ``term := '(' expr ')' | path op
value``. ``$and:`` binds tighter than ``$or:`` (the reference leaves precedence open; this is the usual
reading).

Choices where the reference is unsure or live behaviour is odd:
- Strings compare case-insensitively; ``$like:`` without ``*`` means *contains*; ``[...]`` under ``$like:``
  is a character class, so ``[[]`` matches a literal ``[``.
- Escapes ``$$ $( $) $* $,`` are honoured. ``$[`` and ``$]`` are kept literally (the live API ignores them,
  so such a filter silently matches nothing), as observed.
- ``$in:``/``$nin:`` need the square brackets (400 "Syntax error, expected: [") and take at most 200 values.
- ``$null:`` as the value matches absent properties.
- A ``lastUpdated`` value must be a date or ``YYYY-MM-DDTHH:MM:SSZ``; an offset such as ``+00:00`` is
  refused. It compares as an instant to the second (a date alone is the start of that day, UTC), never
  as case-folded text: a poll with a watermark inside a day finds only what changed after it
  (economic-api.md 10, the incremental-polling filter ``lastUpdated$gte:<ts>``).

"""

from __future__ import annotations

import operator as _operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
_OPERATORS = ("$eq:", "$ne:", "$gte:", "$gt:", "$lte:", "$lt:", "$like:", "$in:", "$nin:")
_ESCAPES = {"$$": "$", "$(": "(", "$)": ")", "$,": ","}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$")
_MAX_IN_VALUES = 200


class FilterError(ValueError):
    """An unparsable or disallowed filter; ``allowed`` is set when a property cannot be filtered."""

    def __init__(self, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.allowed = allowed


@dataclass(frozen=True)
class _Null:
    """The ``$null:`` value."""


NULL = _Null()


def getter(path: str) -> Callable[[dict[str, Any]], Any]:
    """A fast accessor for a dotted property path."""
    parts = path.split(".")
    if len(parts) == 1:
        key = parts[0]
        return lambda record: record.get(key)

    def nested(record: dict[str, Any]) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return nested


def compile_filter(text: str, fields: dict[str, str]) -> Predicate:
    """Parse ``text`` into a predicate; ``fields`` maps filterable property paths to their JSON type."""
    parser = _Parser(text, fields)
    predicate = parser.parse_or()
    if parser.pos != len(text):
        raise FilterError(f"Syntax error at position {parser.pos}: unexpected '{text[parser.pos]}'.")
    return predicate


class _Parser:
    def __init__(self, text: str, fields: dict[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.fields = fields

    def startswith(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def parse_or(self) -> Predicate:
        options = [self.parse_and()]
        while self.startswith("$or:"):
            self.pos += 4
            options.append(self.parse_and())
        return _combine(options, every=False)

    def parse_and(self) -> Predicate:
        clauses = [self.parse_term()]
        while self.startswith("$and:"):
            self.pos += 5
            clauses.append(self.parse_term())
        return _combine(clauses, every=True)

    def parse_term(self) -> Predicate:
        if self.startswith("("):
            self.pos += 1
            inner = self.parse_or()
            if not self.startswith(")"):
                raise FilterError("Syntax error, expected: )")
            self.pos += 1
            return inner
        return self.parse_predicate()

    def parse_predicate(self) -> Predicate:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] != "$":
            self.pos += 1
        path = self.text[start : self.pos]
        if not path:
            raise FilterError(f"Syntax error at position {start}: expected a property name.")
        operator = next((op for op in _OPERATORS if self.startswith(op)), None)
        if operator is None:
            raise FilterError(f"Syntax error at position {self.pos}: unknown operator.")
        if path not in self.fields:
            raise FilterError(f"Filtering is not allowed on property '{path}'.", allowed=sorted(self.fields))
        self.pos += len(operator)
        kind = self.fields[path]
        if operator in ("$in:", "$nin:"):
            values = self.read_list()
            return _membership(path, kind, values, negate=operator == "$nin:")
        raw, literal_stars = self.read_value()
        if operator == "$like:":
            if kind not in ("string",):
                raise FilterError(f"The operator $like is not allowed on property '{path}'.")
            return _like(path, raw, literal_stars)
        return _comparison(path, kind, operator, raw)

    def read_value(self) -> tuple[Any, set[int]]:
        """Read up to the next unescaped ``$and:``, ``$or:`` or ``)``; return the text and escaped-star
        offsets."""
        out: list[str] = []
        literal_stars: set[int] = set()
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == ")":
                break
            if char == "$":
                if self.startswith("$and:") or self.startswith("$or:"):
                    break
                if self.startswith("$null:"):
                    self.pos += 6
                    return NULL, literal_stars
                pair = text[self.pos : self.pos + 2]
                if pair in _ESCAPES:
                    out.append(_ESCAPES[pair])
                    self.pos += 2
                    continue
                if pair == "$*":
                    literal_stars.add(len(out))
                    out.append("*")
                    self.pos += 2
                    continue
            out.append(char)
            self.pos += 1
        return "".join(out), literal_stars

    def read_list(self) -> list[str]:
        if not self.startswith("["):
            raise FilterError("Syntax error, expected: [")
        self.pos += 1
        values: list[str] = []
        current: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise FilterError("Syntax error, expected: ]")
            char = self.text[self.pos]
            pair = self.text[self.pos : self.pos + 2]
            if pair in _ESCAPES or pair == "$*":
                current.append(pair[1] if pair != "$$" else "$")
                self.pos += 2
                continue
            self.pos += 1
            if char == "]":
                values.append("".join(current))
                break
            if char == ",":
                values.append("".join(current))
                current = []
            else:
                current.append(char)
        values = [value for value in values if value != ""]
        if len(values) > _MAX_IN_VALUES:
            raise FilterError(f"The $in operator takes at most {_MAX_IN_VALUES} values.")
        return values


def _is_last_updated(path: str) -> bool:
    return path == "lastUpdated" or path.endswith(".lastUpdated")


def _instant(stamp: str) -> str:
    """A ``lastUpdated`` value in one comparable form: ``YYYY-MM-DDTHH:MM:SSZ`` (a date is its midnight)."""
    return f"{stamp}T00:00:00Z" if len(stamp) == 10 else stamp.upper()


def _coerce(path: str, kind: str, raw: str) -> Any:
    if kind in ("integer", "number"):
        try:
            number = float(raw)
        except ValueError:
            raise FilterError(f"Value '{raw}' is not a number for property '{path}'.") from None
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise FilterError(f"Value '{raw}' is not a boolean for property '{path}'.")
        return lowered == "true"
    if _is_last_updated(path):
        if not _TIMESTAMP.match(raw):
            raise FilterError(f"Value '{raw}' is not a valid date for property '{path}'.")
        return raw
    return raw.casefold()


def _normalise(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string":
        return str(value).casefold()
    if kind == "boolean":
        return bool(value)
    return value


def _comparison(path: str, kind: str, operator: str, raw: Any) -> Predicate:
    get = getter(path)
    if raw is NULL:
        if operator == "$eq:":
            return lambda record: get(record) is None
        if operator == "$ne:":
            return lambda record: get(record) is not None
        raise FilterError(f"The operator {operator[:-1]} cannot be used with $null.")
    target = _coerce(path, kind, raw)
    test = _TESTS[operator]
    if _is_last_updated(path):

        def instant_test(record: dict[str, Any]) -> bool:
            value = get(record)
            if value is None:
                return operator == "$ne:"
            return test(_instant(str(value)), _instant(target))

        return instant_test
    if kind == "boolean":  # e-conomic omits false booleans, so an absent property compares as false
        return lambda record: test(bool(get(record)), target)
    if kind == "string":

        def text_test(record: dict[str, Any]) -> bool:
            value = get(record)
            if value is None:
                return operator == "$ne:"
            return test(str(value).casefold(), target)

        return text_test

    def number_test(record: dict[str, Any]) -> bool:
        value = get(record)
        if value is None or isinstance(value, str):
            return operator == "$ne:"
        return test(value, target)

    return number_test


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq:": _operator.eq,
    "$ne:": _operator.ne,
    "$gt:": _operator.gt,
    "$gte:": _operator.ge,
    "$lt:": _operator.lt,
    "$lte:": _operator.le,
}


def _combine(parts: list[Predicate], *, every: bool) -> Predicate:
    """``$and``/``$or`` of compiled clauses, unrolled for the common two-clause case."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        if every:
            return lambda record: first(record) and second(record)
        return lambda record: first(record) or second(record)
    if every:
        return lambda record: all(part(record) for part in parts)
    return lambda record: any(part(record) for part in parts)


def _membership(path: str, kind: str, values: list[str], *, negate: bool) -> Predicate:
    get = getter(path)
    try:
        wanted = {_coerce(path, kind, value) for value in values}
    except FilterError:
        wanted = set()  # a list of the wrong type is not rejected, it just matches nothing

    def member(record: dict[str, Any]) -> bool:
        return (_normalise(get(record), kind) in wanted) != negate

    return member


def _like(path: str, raw: Any, literal_stars: set[int]) -> Predicate:
    if raw is NULL:
        raise FilterError("The operator $like cannot be used with $null.")
    pattern = _like_regex(raw, literal_stars)
    get = getter(path)

    def like(record: dict[str, Any]) -> bool:
        value = get(record)
        return value is not None and pattern.search(str(value)) is not None

    return like


def _like_regex(raw: str, literal_stars: set[int]) -> re.Pattern[str]:
    parts: list[str] = []
    wildcard = False
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "*" and index not in literal_stars:
            parts.append(".*")
            wildcard = True
        elif char == "[":
            end = raw.find("]", index + 2)
            if end == -1:
                parts.append(re.escape(char))
            else:
                members = raw[index + 1 : end]
                parts.append("[" + "".join(re.escape(c) for c in members) + "]")
                index = end
        else:
            parts.append(re.escape(char))
        index += 1
    body = "".join(parts)
    if wildcard:
        return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL)
    return re.compile(body, re.IGNORECASE | re.DOTALL)
