"""The constant-time check of a delivery's token against the one Rackbeat gave us (or the fixed one).

The tokens themselves are kept by :class:`tasks.webhooks.WebhookTokenStore`, which registration fills;
this is the receiver's side. Tokens never leave this module except as the boolean answer of
`is_authentic`.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def _matches(presented: bytes, expected: SecretStr | None) -> bool:
    if expected is None:
        # Still compare, so a missing registration costs the same time as a wrong token.
        hmac.compare_digest(presented, presented)
        return False
    return hmac.compare_digest(presented, expected.get_secret_value().encode())


def is_authentic(presented: str | None, registered: SecretStr | None, fixed: SecretStr | None) -> bool:
    """True when the presented token equals the event's registered token or the fixed one.

    Both candidates are always compared (no short-circuit) with `hmac.compare_digest`, so the answer time
    does not tell which one exists or how much of a guess was right.
    """
    if not presented:
        return False
    data = presented.encode()
    registered_ok = _matches(data, registered)
    fixed_ok = _matches(data, fixed)
    return registered_ok or fixed_ok
