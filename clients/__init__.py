"""The only code that speaks HTTP to Rackbeat and e-conomic.

As in httpx, the package re-exports what the rest of the service uses (``__all__`` below) and every
module names its own public part in its ``__all__``; anything a module does not list is internal to
``clients`` and may change without notice.
"""

from clients.economic import EconomicClient, encode_key
from clients.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
    ValidationFailed,
)
from clients.rackbeat import RackbeatClient, UrlFriendly, item_key
from clients.ratelimit import RedisTokenBucket, parse_rate_limiting_header

__all__ = [
    "ApiError",
    "AuthError",
    "EconomicClient",
    "NotFoundError",
    "PermanentError",
    "RackbeatClient",
    "RateLimitedError",
    "RedisTokenBucket",
    "TransientError",
    "UrlFriendly",
    "ValidationFailed",
    "encode_key",
    "item_key",
    "parse_rate_limiting_header",
]
