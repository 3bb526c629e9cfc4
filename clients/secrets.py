"""Credentials arrive as ``str`` or pydantic ``SecretStr``; this is the one place that unwraps them."""

from __future__ import annotations

from pydantic import SecretStr

__all__ = [
    "REDACTED",
    "Secret",
    "reveal",
    "scrub",
]

Secret = str | SecretStr

REDACTED = "***"


def reveal(secret: Secret) -> str:
    """The plain value, for an HTTP header or a fingerprint; never for a log line or a repr."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each secret replaced, for anything that may be shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
