"""e-conomic's id encoding for string keys in URLs (product numbers).

e-conomic does not percent-encode the characters that would confuse its router; it replaces each with a
numbered token such as ``_9_`` for a space. Every other unsafe character is percent-encoded as usual.

"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

_TOKENS: dict[str, str] = {
    "<": "_0_",
    ">": "_1_",
    "*": "_2_",
    "%": "_3_",
    ":": "_4_",
    "&": "_5_",
    "/": "_6_",
    "\\": "_7_",
    "_": "_8_",
    " ": "_9_",
    "?": "_10_",
    ".": "_11_",
    "#": "_12_",
    "+": "_13_",
}
_REVERSE = {token: char for char, token in _TOKENS.items()}
_TOKEN_RE = re.compile(r"_(1[0-3]|[0-9])_")


_NOTHING_TO_ENCODE = re.compile(r"[A-Za-z0-9-]*\Z")


def encode_key(key: object) -> str:
    """Encode an id for use as a path segment, as e-conomic writes it in ``self`` links."""
    text = str(key)
    if _NOTHING_TO_ENCODE.match(text):  # most keys: skip the work
        return text
    encoded = "".join(_TOKENS.get(char, char) for char in text)
    return quote(encoded, safe="_-~")


def decode_key(segment: str) -> str:
    """Invert :func:`encode_key` for a raw (still percent-encoded or already decoded) path segment."""
    text = unquote(segment)
    return _TOKEN_RE.sub(lambda match: _REVERSE[match.group(0)], text)
