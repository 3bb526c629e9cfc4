"""The only code that speaks HTTP to Rackbeat and e-conomic."""

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
