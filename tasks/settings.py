"""Service settings, read from ``RBSYNC_*`` environment variables and an optional ``.env`` file.

Two layers: :class:`StoreSettings` is what a process needs to reach our Redis and to build the Celery
configuration (``rbsync dlq ...``, Flower and beat need nothing more, so they run without the API tokens);
:class:`Settings` adds the APIs, their tokens and the mapping defaults (workers, the receiver).

Tokens are ``SecretStr`` so they never show up in a repr, a log line or an exception. A wrong or missing
setting must stop start-up with one line an operator can act on, hence :func:`load_settings_or_exit`
and :func:`load_store_settings_or_exit`. An empty or blank token is wrong, not missing-but-fine: it is
what an unedited ``.env.example`` gives Compose, and it would only fail later, at every API call.
"""

from __future__ import annotations

import ipaddress
import sys
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "RBSYNC_"
# Margin between the visibility timeout and the longest a message may legitimately stay unacked
# (longest retry countdown + hard time limit): a message is only restored when its worker is really gone.
VISIBILITY_MARGIN_SECONDS = 60
# The web console's password (RBSYNC_CONSOLE_PASSWORD): anything shorter is refused at start-up.
CONSOLE_PASSWORD_MIN_LENGTH = 12

MasterSide = Literal["rackbeat", "economic"]

# URL schemes redis-py (our store) and kombu's Redis transport (the broker) accept.
REDIS_SCHEMES = ("redis", "rediss", "unix")
BROKER_SCHEMES = ("redis", "rediss", "redis+socket", "sentinel")


def _redis_url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why ``url`` cannot be a Redis URL (scheme, database number), or None. Never echoes the URL: it
    may carry a password."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in schemes:
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        return f"{shown} is not a Redis URL (use {', '.join(s + '://' for s in schemes)})"
    if parts.scheme.lower() in ("redis", "rediss"):
        database = parts.path.strip("/")
        if database and not database.isdigit():
            return f"the database must be a number (redis://host:6379/0), not {database!r}"
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            return "the port must be a number"
    return None


def is_loopback_host(url: str) -> bool:
    """Whether ``url`` points at this machine only (localhost, 127.0.0.0/8, ::1, 0.0.0.0)."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class StoreSettings(BaseSettings):
    """What a process needs to reach our Redis, and the Celery policy built from it; no API tokens.

    Enough for ``rbsync dlq ...``, Flower and beat, and for :func:`tasks.celery.build_config`.
    Field names map to ``RBSYNC_<FIELD>`` (case-insensitive).
    """

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

    # Transfers and their failure policy (the Celery configuration is built from these)
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
    # The safety net under the webhooks (tasks/polls.py): beat's schedule
    poll_interval_seconds: int = Field(default=300, ge=0, description="0 turns the change poll off")
    poll_overlap_seconds: int = Field(default=120, ge=0)
    poll_first_lookback_seconds: int = Field(default=3600, ge=0)
    deletion_sweep_interval_seconds: int = Field(default=3600, ge=0, description="0 turns the sweep off")
    beat_max_loop_interval_seconds: int = Field(default=30, gt=0)
    # e-conomic -> Rackbeat (issue 12, tasks/imports.py): beat's polls of e-conomic, each reading what changed
    # since its watermark (lastUpdated) with this overlap; 0 turns a poll off. Orders every 5 minutes, the
    # master data e-conomic owns (RBSYNC_CUSTOMERS_MASTER / RBSYNC_PRODUCTS_MASTER=economic) and projects
    # (only with Project Management on) every hour.
    economic_orders_poll_seconds: int = Field(default=300, ge=0)
    economic_master_poll_seconds: int = Field(default=3600, ge=0)
    economic_projects_poll_seconds: int = Field(default=3600, ge=0)
    economic_poll_overlap_seconds: int = Field(default=120, ge=0)
    project_management_enabled: bool = False
    # The stock value in the books (issue 11, rackbeat-api.md 4.6; tasks/stock_value): the schedule lives
    # here, beside the polls, because beat builds it without API tokens. The company's time zone is the
    # one its 23:59 is read in, and Celery's (crontabs are read in the app's time zone).
    stock_value_enabled: bool = False
    stock_value_frequency: Literal["daily", "weekly", "monthly"] = "daily"
    company_timezone: str = "Europe/Copenhagen"

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, value: str) -> str:
        problem = _redis_url_problem(value, REDIS_SCHEMES)
        if problem:
            raise PydanticCustomError("redis_url", problem)
        return value

    @field_validator("broker_url")
    @classmethod
    def _a_broker_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # unset or empty: the same as redis_url
        problem = _redis_url_problem(value, BROKER_SCHEMES)
        if problem:
            raise PydanticCustomError("broker_url", problem)
        return value

    @field_validator("company_timezone")
    @classmethod
    def _a_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "company_timezone", "not an IANA time zone (e.g. Europe/Copenhagen)"
            ) from None
        return value

    @model_validator(mode="after")
    def _defaults_from_other_fields(self) -> StoreSettings:
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


class Settings(StoreSettings):
    """Everything the service needs to run: the store settings plus the APIs, their tokens and the
    mapping defaults."""

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

    # The start-up sync (issue 13, tasks/startup): how many Rackbeat writes it keeps in flight. The shared
    # Rackbeat budget is the limit; a few in flight keep it full while each answer takes its time.
    startup_sync_concurrency: int = Field(default=8, ge=1, le=64)
    # Batched Rackbeat reads (issue 14, tasks/sync/readahead): when at least this many transfers of one kind
    # are queued, one list call reads them all (0 turns batching off); a record read so is used by a
    # transfer only when it was read after that record's last event, and is kept this long.
    batch_read_min_pending: int = Field(default=3, ge=0)
    batch_read_keep_seconds: int = Field(default=60, ge=1)
    # Look-ups a transfer needs but does not move (payment terms, sales person, groups, units), shared by
    # all workers for this long; the webhooks that change them invalidate them at once.
    lookup_cache_seconds: int = Field(default=300, ge=0)

    # Which side owns master data (decides the direction of polls and the start-up sync)
    customers_master: MasterSide = "rackbeat"
    products_master: MasterSide = "rackbeat"

    # Web
    public_url: str = "http://127.0.0.1:8000"
    webhook_token: SecretStr | None = None
    # The shared secret e-conomic's webhooks carry (issue 12): set, the receiver accepts /webhooks/economic.
    economic_webhook_token: SecretStr | None = None
    # GET /metrics: HTTP basic auth with these when set (both or neither); without them only loopback
    metrics_username: SecretStr | None = None
    metrics_password: SecretStr | None = None
    # The operator console at /console/ (web/console.py): its own login, both or neither; with neither the
    # console answers 503 and is never open. flower_url is where its task links point (<flower>/task/<id>).
    console_username: SecretStr | None = None
    console_password: SecretStr | None = Field(default=None, validate_default=True)
    flower_url: str = "http://127.0.0.1:5555"

    # Calls to the APIs
    http_timeout_seconds: float = Field(default=30, gt=0)
    http_call_retries: int = Field(
        default=2,
        ge=0,
        description="extra attempts of a GET or idempotency-keyed write that met a 5xx or "
        "a dropped connection, before the whole transfer is retried",
    )

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

    # Customer invoices (issue 10, rackbeat-api.md 4.4): a draft in e-conomic, or booked there too; booked
    # under Rackbeat's invoice number where e-conomic takes it; EAN invoices can be kept drafts regardless.
    customer_invoices_booked: bool = False
    customer_invoices_book_with_rackbeat_number: bool = True
    never_book_ean_invoices: bool = False

    # Supplier invoices (issue 10, rackbeat-api.md 4.5): one voucher per invoice in this journal, one entry
    # per expense account; the account per product group and VAT zone, as JSON:
    # {"<group number or *>": {"domestic": 1310, "eu": 1320, "abroad": 1330}}; booked at once when auto-book.
    supplier_invoice_journal: int | None = Field(default=None, ge=1)
    supplier_invoice_accounts: dict[str, dict[str, int]] = Field(default_factory=dict)
    supplier_invoices_auto_book: bool = False

    # The stock-value adjustment (issue 11, rackbeat-api.md 4.6): a "Rackbeat Justering" finance voucher in
    # this journal, debit the stock account and credit the offset account (cost of goods) when the value
    # rose, the reverse when it fell. With no journal nothing is posted (the run says so). Negative item
    # values count unless turned off; auto-book books exactly the voucher a run wrote.
    stock_value_journal: int | None = Field(default=None, ge=1)
    stock_value_stock_account: int | None = Field(default=None, ge=1)
    stock_value_offset_account: int | None = Field(default=None, ge=1)
    stock_value_include_negative: bool = True
    stock_value_auto_book: bool = False

    @field_validator(
        "rackbeat_token",
        "economic_app_secret_token",
        "economic_agreement_grant_token",
        "webhook_token",
        "economic_webhook_token",
    )
    @classmethod
    def _tokens_say_something(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise PydanticCustomError("empty_token", "empty (an unset or blank token is not a token)")
        return value

    @field_validator("console_username")
    @classmethod
    def _console_username_says_something(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise PydanticCustomError("empty_login", "empty (unset it to turn the console off)")
        return value

    @field_validator("console_password")
    @classmethod
    def _console_login_is_both_or_neither(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        """Runs also when unset (validate_default), so a username without a password is refused."""
        username = info.data.get("console_username")
        if value is None:
            if username is not None:
                raise PydanticCustomError("console_login", "unset while RBSYNC_CONSOLE_USERNAME is set")
            return value
        if username is None and "console_username" not in info.data:
            return value  # the username itself was refused; that error names it
        if username is None:
            raise PydanticCustomError("console_login", "set, but RBSYNC_CONSOLE_USERNAME is not")
        if len(value.get_secret_value()) < CONSOLE_PASSWORD_MIN_LENGTH:
            raise PydanticCustomError(
                "console_login", f"shorter than {CONSOLE_PASSWORD_MIN_LENGTH} characters"
            )
        return value

    @field_validator("flower_url")
    @classmethod
    def _flower_url_is_http(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PydanticCustomError("flower_url", "not an http(s) URL (e.g. http://127.0.0.1:5555)")
        return value.strip().rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment


@lru_cache(maxsize=1)
def get_store_settings() -> StoreSettings:
    """The process-wide store settings (Redis, broker, Celery policy), read once; need no API token."""
    return StoreSettings()


def reset_settings() -> None:
    """Forget the cached settings so the next :func:`get_settings` reads the environment again (tests)."""
    get_settings.cache_clear()
    get_store_settings.cache_clear()


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


def load_store_settings_or_exit() -> StoreSettings:
    """Store settings for a process that needs only Redis (``rbsync dlq``, Flower, beat): one line and
    status 2 on error, like :func:`load_settings_or_exit`, but no API token is required."""
    try:
        return get_store_settings()
    except ValidationError as error:
        print(describe_settings_error(error), file=sys.stderr)
        raise SystemExit(2) from None


def public_url_problem(settings: Settings) -> str | None:
    """The one-line refusal when Rackbeat could never reach ``public_url``, else None.

    A loopback (or 0.0.0.0) public URL only works when Rackbeat is on this machine too, i.e. the local
    sandboxes (``rbsync run``, the tests); against any other Rackbeat the webhooks would be registered at
    an address Rackbeat cannot call, and every change would wait for the next poll.

    This is not a :class:`Settings` validator on purpose: the worker, beat, Flower and ``rbsync dlq``
    share these settings but never register webhooks, and must not be refused for it (a worker with the
    default public URL is fine). Call :func:`check_public_url` where registration starts.
    """
    if is_loopback_host(settings.public_url) and not is_loopback_host(settings.rackbeat_base_url):
        host = urlsplit(settings.public_url.strip()).hostname or settings.public_url
        return (
            f"rbsync: setting {ENV_PREFIX}PUBLIC_URL: {host} is this machine only, which Rackbeat at "
            f"{urlsplit(settings.rackbeat_base_url).hostname} can never reach (set the receiver's public "
            "address, e.g. https://rbsync.example.com)"
        )
    return None


def check_public_url(settings: Settings) -> Settings:
    """Refuse a start-up that would register webhooks Rackbeat can never call: one line on stderr and
    exit status 2 (see :func:`public_url_problem`). Returns ``settings`` when fine."""
    problem = public_url_problem(settings)
    if problem:
        print(problem, file=sys.stderr)
        raise SystemExit(2)
    return settings
