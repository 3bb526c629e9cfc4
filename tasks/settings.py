"""Service settings, read from ``RBSYNC_*`` environment variables and an optional ``.env`` file.

Tokens are ``SecretStr`` so they never show up in a repr, a log line or an exception. A wrong or missing
setting must stop start-up with one line an operator can act on, hence :func:`load_settings_or_exit`.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "RBSYNC_"
# Margin between the visibility timeout and the longest a message may legitimately stay unacked
# (longest retry countdown + hard time limit): a message is only restored when its worker is really gone.
VISIBILITY_MARGIN_SECONDS = 60

MasterSide = Literal["rackbeat", "economic"]


class Settings(BaseSettings):
    """Everything the service needs to run; field names map to ``RBSYNC_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Redis and Celery
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = Field(default=None, description="Celery broker; defaults to redis_url")
    broker_key_prefix: str = Field(
        default="", description="kombu global_keyprefix: isolates one deployment's (or test run's) queues"
    )
    connection_id: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]+$")

    # Rackbeat
    rackbeat_base_url: str = "https://app.rackbeat.com/api/"
    rackbeat_token: SecretStr
    rackbeat_requests_per_minute: int = Field(default=480, gt=0)

    # e-conomic
    economic_base_url: str = "https://restapi.e-conomic.com/"
    economic_openapi_base_url: str = "https://apis.e-conomic.com/"
    economic_app_secret_token: SecretStr
    economic_agreement_grant_token: SecretStr
    economic_bucket_size: int = Field(default=10000, gt=0)
    economic_bucket_window_seconds: float = Field(default=60, gt=0)
    # Share of each API's budget left unused. Our bucket and the API's refill at the same rate, so at
    # 0 arrival jitter still meets an occasional 429 (measured: 0-1 per 600 transfers at 480/min); 2%
    # measured none. Raise it when the same token is also used outside this service's shared buckets.
    rate_limit_headroom: float = Field(default=0.02, ge=0, lt=1)

    # Which side owns master data (decides the direction of polls and the start-up sync)
    customers_master: MasterSide = "rackbeat"
    products_master: MasterSide = "rackbeat"

    # Web
    public_url: str = "http://127.0.0.1:8000"
    webhook_token: SecretStr | None = None

    # Transfers and their failure policy
    http_timeout_seconds: float = Field(default=30, gt=0)
    http_call_retries: int = Field(
        default=2, ge=0, description="extra attempts of a GET or idempotency-keyed write that met a 5xx or "
        "a dropped connection, before the whole transfer is retried"
    )
    transfer_max_retries: int = Field(default=8, ge=0)
    retry_backoff_base_seconds: float = Field(default=2, gt=0)
    retry_backoff_max_seconds: float = Field(default=300, gt=0)
    transfer_time_limit_seconds: int = Field(default=120, ge=2)
    max_redeliveries: int = Field(default=3, ge=0)
    visibility_timeout_seconds: int | None = Field(
        default=None, gt=0, description="defaults to longest retry delay + time limit + a margin"
    )
    worker_soft_shutdown_seconds: float = Field(default=30, ge=0)
    pending_claim_seconds: int = Field(
        default=10, ge=1, description="how long a pending marker lives before its task is confirmed published"
    )
    redbeat_lock_timeout_seconds: int = Field(default=150, gt=0)
    # The safety net under the webhooks (tasks/polls.py)
    poll_interval_seconds: int = Field(default=300, ge=0, description="0 turns the change poll off")
    poll_overlap_seconds: int = Field(default=120, ge=0)
    poll_first_lookback_seconds: int = Field(default=3600, ge=0)
    deletion_sweep_interval_seconds: int = Field(default=3600, ge=0, description="0 turns the sweep off")
    beat_max_loop_interval_seconds: int = Field(default=30, gt=0)

    # Customers (issue 4): the company's home country decides a customer's VAT zone (domestic / EU / abroad,
    # see tasks/entities/_customer_vat.py); groups created in e-conomic need a debtor account; customers
    # without a group or layout in Rackbeat get these defaults.
    company_home_country: str = Field(default="DK", pattern=r"^[A-Z]{2}$")
    customer_group_account: int = Field(default=5600, ge=1)
    customer_default_group: int = Field(default=1, ge=1)
    customer_default_layout: int | None = Field(default=None, ge=1)

    # Suppliers and employees from Rackbeat (added with those kinds): Rackbeat knows no accounts or
    # employee groups, e-conomic requires them. 6800 is "Kreditorer" in e-conomic's standard chart.
    supplier_group_creditor_account: int = Field(default=6800, ge=1)
    default_supplier_group: int = Field(default=1, ge=1, description="for suppliers without a group")
    employee_group: int = Field(default=1, ge=1, description="e-conomic employee group of new employees")

    @model_validator(mode="after")
    def _defaults_from_other_fields(self) -> Settings:
        if not self.broker_url:
            self.broker_url = self.redis_url
        return self

    @property
    def soft_time_limit_seconds(self) -> int:
        """Soft limit leaves 15 s (or half the limit when it is short) to clean up before the hard kill."""
        return max(1, self.transfer_time_limit_seconds - min(15, self.transfer_time_limit_seconds // 2))

    @property
    def effective_visibility_timeout(self) -> int:
        if self.visibility_timeout_seconds is not None:
            return self.visibility_timeout_seconds
        return int(
            self.retry_backoff_max_seconds + self.transfer_time_limit_seconds + VISIBILITY_MARGIN_SECONDS
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment


def reset_settings() -> None:
    """Forget the cached settings so the next :func:`get_settings` reads the environment again (tests)."""
    get_settings.cache_clear()


def describe_settings_error(error: ValidationError) -> str:
    """One line naming the first bad setting (and any others), without echoing the value."""
    problems: list[tuple[str, str]] = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "?"
        message = item["msg"]
        problems.append((f"{ENV_PREFIX}{field.upper()}", message[:1].lower() + message[1:]))
    if not problems:
        return "rbsync: invalid settings"
    name, message = problems[0]
    line = f"rbsync: setting {name}: {message}"
    if len(problems) > 1:
        line += f" (also wrong: {', '.join(other for other, _ in problems[1:])})"
    return line


def load_settings_or_exit() -> Settings:
    """Settings for a process start-up: on error print one line to stderr and exit with status 2."""
    try:
        return get_settings()
    except ValidationError as error:
        print(describe_settings_error(error), file=sys.stderr)
        raise SystemExit(2) from None
