"""``rbsync dlq``: review, retry and discard dead-letter entries.

Tables for people, ``--json`` for scripts. Retries go through the ``rbsync.retry_dead_letter`` task (the
same path as Flower's send-task), never by running task code here, so the atomic retry guard, locks and
idempotency keys all apply; a batch retry is paced (``--per-second``) so it cannot flood the APIs.

These commands need only Redis (:class:`tasks.settings.StoreSettings`), never the API tokens, so an
operator can read and retry dead letters on any host that reaches the store. Whatever goes wrong with
Redis (unreachable, a wrong URL, a database the server does not have, a refused password) ends the command
with one line naming the setting, never a traceback.

Exit status: 0 done; 1 refused or failed (including a retried transfer that failed again); 2 wrong usage or
settings; 3 ``retry --wait``: the transfer had not finished within the wait.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import click
import redis
from kombu.exceptions import OperationalError

from tasks.deadletter import STATUSES, DeadLetterStore, parse_iso
from tasks.dlq_actions import (
    NON_API_ERROR_CLASSES,  # noqa: F401  (re-exported: the CLI's names stay valid)
    ActionRefused,
    celery_app,
    discard_entry,
    entry_facts,
    format_age,
    known_error_classes,
    known_kinds,
    matching_new_ids,
    parse_duration,
    reason_of,
    retry_entry,
    send_paced_retries,
    transfer_outcome,  # noqa: F401
)

EXIT_FAILED = 1
EXIT_NOT_FINISHED = 3


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _where(url: str) -> str:
    """``host:port/db`` of a Redis URL: enough to recognise it, never its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    try:
        port = str(parts.port or 6379)
    except ValueError:
        port = "?"
    database = parts.path.strip("/") or "0"
    return f"{parts.hostname or '?'}:{port}/{database}"


def redis_problem(error: BaseException, url: str) -> str:
    """What a Redis error says about the URL it met, in words an operator can act on."""
    where = _where(url)
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, redis.AuthenticationError) or "NOAUTH" in text or "WRONGPASS" in text:
        return f"Redis at {where} refused the password ({text})"
    if isinstance(error, redis.ResponseError) and "DB index" in text:
        database = where.rsplit("/", 1)[-1]
        return f"Redis at {where} has no database {database} ({text})"
    if isinstance(error, redis.TimeoutError):
        return f"Redis at {where} did not answer in time ({text})"
    if isinstance(error, redis.ConnectionError | OSError):
        return f"cannot reach Redis at {where} ({text})"
    return f"Redis at {where} failed: {text}"


def _store_settings() -> Any:
    from tasks.settings import load_store_settings_or_exit

    return load_store_settings_or_exit()


def _store() -> DeadLetterStore:
    """The dead-letter store of the configured connection, after one PING (so a wrong URL or database
    fails here, with one line, not halfway through a listing)."""
    from tasks.redis import get_redis

    settings = _store_settings()
    client = get_redis(settings.redis_url)
    client.ping()
    return DeadLetterStore(client, settings.connection_id)


class DlqGroup(click.Group):
    """Turns Redis and broker failures of any sub-command into one line naming the setting."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except redis.RedisError as error:
            self._refuse("RBSYNC_REDIS_URL", redis_problem(error, _store_settings().redis_url))
        except OperationalError as error:  # kombu: the broker could not take the retry request
            cause = error.__cause__ or error.__context__ or error
            self._refuse("RBSYNC_BROKER_URL", redis_problem(cause, _store_settings().broker_url or ""))

    @staticmethod
    def _refuse(setting: str, problem: str) -> None:
        click.echo(f"rbsync: setting {setting}: {problem}", err=True)
        sys.exit(EXIT_FAILED)


def _check_filters(store: DeadLetterStore, kind: str | None, error_class: str | None) -> None:
    """Refuse a --kind or --error-class no entry could ever have (a typo would otherwise list 0 entries).

    Valid: the registry's kinds and the taxonomy's classes, plus any value an existing entry carries (a
    kind since removed, an unexpected exception of an ``unprocessable`` entry): those can be listed and
    retried. The store is only scanned when a value is not already known."""
    checks = [
        (option, value, known())
        for option, value, known in (
            ("--kind", kind, known_kinds),
            ("--error-class", error_class, known_error_classes),
        )
        if value is not None
    ]
    checks = [(option, value, known) for option, value, known in checks if value not in known]
    if not checks:
        return
    present: dict[str, set[str]] = {"--kind": set(), "--error-class": set()}
    for entry in store.list():
        present["--kind"].add(entry["kind"])
        present["--error-class"].add(entry["error_class"])
    for option, value, known in checks:
        if value in present[option]:
            continue
        extra = sorted(present[option] - set(known))
        listed = ", ".join(known) + (f"; in entries also: {', '.join(extra)}" if extra else "")
        what = option.removeprefix("--").replace("-", " ")
        raise click.BadParameter(
            f"{value!r} is not a known {what} (valid: {listed})", param_hint=f"'{option}'"
        )


def _clip(text: Any, width: int) -> str:
    text = " ".join(str(text if text is not None else "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


TABLE_COLUMNS = (
    ("ID", 12),
    ("STATUS", 10),
    ("CLASS", 19),
    ("KIND", 16),  # the longest kind names (customer_invoice) whole
    ("KEY", 14),
    ("ERROR CLASS", 16),
    ("TRIES", 5),
    ("AGE", 7),
    ("ERROR", 50),
)


def table_rows(entries: Iterable[dict[str, Any]], now: float) -> Iterator[str]:
    """The human listing, one line per entry (header first)."""
    yield "  ".join(title.ljust(width) for title, width in TABLE_COLUMNS).rstrip()
    for entry in entries:
        values = (
            entry["id"],
            entry["status"],
            entry["classification"],
            entry["kind"],
            entry["key"],
            entry["error_class"],
            entry.get("attempts", ""),
            format_age(now - parse_iso(entry["first_failed_at"])),
            reason_of(entry),
        )
        yield "  ".join(
            _clip(value, width).ljust(width) for value, (_, width) in zip(values, TABLE_COLUMNS, strict=True)
        ).rstrip()


def _write_json_array(entries: Iterable[dict[str, Any]]) -> None:
    """Stream a JSON array (an entry at a time: a long DLQ is never held in memory)."""
    click.echo("[", nl=False)
    for index, entry in enumerate(entries):
        click.echo(("," if index else "") + "\n  " + json.dumps(entry, ensure_ascii=False), nl=False)
    click.echo("\n]")


@click.group("dlq", cls=DlqGroup)
def dlq() -> None:
    """Dead-letter entries: transfers that stayed failed."""


@dlq.command("list")
@click.option("--kind", help="Only this record kind (e.g. product).")
@click.option("--error-class", help="Only this error class (e.g. ValidationFailed).")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status (default: all).")
@click.option("--older-than", type=Duration(), help="First failed longer ago than this (e.g. 2h).")
@click.option("--newer-than", type=Duration(), help="First failed within this (e.g. 30m).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of full records, for scripts.")
def list_command(
    kind: str | None,
    error_class: str | None,
    status: str | None,
    older_than: float | None,
    newer_than: float | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List entries, oldest first."""
    store = _store()
    _check_filters(store, kind, error_class)
    now = time.time()
    entries: Iterator[dict[str, Any]] = store.list(
        kind=kind,
        error_class=error_class,
        status=status,
        older_than=older_than,
        newer_than=newer_than,
        now=now,
    )
    if limit is not None:
        entries = (entry for index, entry in enumerate(entries) if index < limit)
    if as_json:
        _write_json_array(entries)
        return
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for entry in entries:
            count += 1
            yield entry

    for line in table_rows(counted(), now):
        click.echo(line)
    click.echo(f"{count} entr{'y' if count == 1 else 'ies'}")


@dlq.command("show")
@click.argument("entry_id")
@click.option("--json", "as_json", is_flag=True, help="The full record as JSON.")
def show_command(entry_id: str, as_json: bool) -> None:
    """Everything about one entry: arguments, the API's error text, field errors, retries, history."""
    entry = _store().get(entry_id)
    if entry is None:
        raise click.ClickException(f"no dead-letter entry {entry_id}")
    if as_json:
        click.echo(json.dumps(entry, indent=2, ensure_ascii=False))
        return
    for label, value in entry_facts(entry):
        click.echo(f"{label + ':':<16}{value}")
    click.echo(f"{'Arguments:':<16}{json.dumps(entry['args'])} {json.dumps(entry['kwargs'])}")
    if entry.get("field_errors"):
        click.echo("Field errors:")
        for field, messages in entry["field_errors"].items():
            click.echo(f"  {field}: {'; '.join(messages)}")
    for name, value in (entry.get("api_details") or {}).items():  # e.g. logId, for Visma support
        click.echo(f"{name + ':':<16}{value}")
    if entry.get("retries"):
        click.echo("Retries:")
        for retry in entry["retries"]:
            click.echo(f"  {retry['at']}  task {retry['task_id']}")
    click.echo("History:")
    for event in entry.get("history", []):
        click.echo(f"  {event['at']}  {event['event']}  {event.get('detail', '')}".rstrip())
    if entry.get("traceback"):
        click.echo("Traceback (last part):")
        click.echo(entry["traceback"].rstrip())


def _celery_app() -> Any:
    """The Celery app, configured from the store settings when nothing configured it yet."""
    return celery_app(_store_settings())


def _say_transfer(entry: dict[str, Any], answer: dict[str, Any]) -> int:
    """Print a waited single retry's outcome; returns the exit status."""
    record = f"{entry['kind']} {entry['key']}"
    task = f"task {answer['task_id']}"
    transfer = answer["transfer"]
    if transfer["outcome"] == "succeeded":
        how = f", {transfer['result']}" if transfer.get("result") else ""
        click.echo(f"entry {entry['id']}: {record} transferred ({task}{how}); entry {transfer['status']}")
        return 0
    if transfer["outcome"] == "failed":
        status = f" {transfer['status_code']}" if transfer.get("status_code") else ""
        api = f" from {transfer['api']}" if transfer.get("api") else ""
        click.echo(
            f"entry {transfer['entry_id']}: {record} FAILED again ({task}): "
            f"{transfer['error_class']}{status}{api}: {' '.join(str(transfer['error']).split())}"
        )
        for field, messages in (transfer.get("field_errors") or {}).items():
            click.echo(f"  {field}: {'; '.join(messages)}")
        return EXIT_FAILED
    if transfer["outcome"] == "discarded":
        click.echo(f"entry {entry['id']}: discarded while its retry ran ({task})")
        return EXIT_FAILED
    click.echo(
        f"entry {entry['id']}: {record} sent again as {task}, not finished after the wait; "
        f"follow it with `rbsync dlq show {entry['id']}`"
    )
    return EXIT_NOT_FINISHED


@dlq.command("retry")
@click.argument("entry_id", required=False)
@click.option("--all-matching", is_flag=True, help="Retry every new entry matching the filters below.")
@click.option("--kind", help="With --all-matching: only this kind.")
@click.option("--error-class", help="With --all-matching: only this error class.")
@click.option("--older-than", type=Duration(), help="With --all-matching: first failed longer ago than this.")
@click.option("--limit", type=click.IntRange(min=1), help="With --all-matching: at most this many.")
@click.option(
    "--per-second",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    help="Pace of a batch retry.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Single retry: seconds to wait for the transfer's outcome (0: only queue the retry). "
    "Exit 1 when it failed again, 3 when it had not finished.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
def retry_command(
    entry_id: str | None,
    all_matching: bool,
    kind: str | None,
    error_class: str | None,
    older_than: float | None,
    limit: int | None,
    per_second: float,
    wait_seconds: float,
    as_json: bool,
) -> None:
    """Run an entry's task again (new task id) through the retry task; refuses entries not `new`.

    A single retry waits (--wait) for the transfer itself and reports how it ended: transferred, or failed
    again with the API's new error text."""
    store = _store()
    if all_matching == (entry_id is not None):
        raise click.UsageError("give an ENTRY_ID or --all-matching (with filters), not both")
    if all_matching:
        _check_filters(store, kind, error_class)
        _retry_batch(store, kind, error_class, older_than, limit, per_second, as_json)
        return
    assert entry_id is not None
    try:
        entry, answer = retry_entry(store, _celery_app(), entry_id, wait_seconds)
    except ActionRefused as refused:
        raise click.ClickException(str(refused)) from None
    request_id = answer["retry_request"]
    status = 0
    if as_json:
        click.echo(json.dumps(answer))
    elif answer.get("transfer"):
        status = _say_transfer(entry, answer)
    elif answer["retried"] is False:
        click.echo(f"entry {entry_id}: not retried ({answer.get('reason')})")
    elif wait_seconds == 0:
        click.echo(
            f"entry {entry_id}: retry queued ({request_id}); not waiting, so the transfer's outcome "
            f"is unknown: see `rbsync dlq show {entry_id}`"
        )
    else:
        click.echo(f"entry {entry_id}: retry requested ({request_id}); {answer.get('note', '')}".rstrip("; "))
    if answer["retried"] is False:
        status = EXIT_FAILED
    elif as_json and answer.get("transfer"):
        exits = {"succeeded": 0, "pending": EXIT_NOT_FINISHED}
        status = exits.get(answer["transfer"]["outcome"], EXIT_FAILED)
    elif "note" in answer:
        status = EXIT_NOT_FINISHED
    if status:
        sys.exit(status)


def _retry_batch(
    store: DeadLetterStore,
    kind: str | None,
    error_class: str | None,
    older_than: float | None,
    limit: int | None,
    per_second: float,
    as_json: bool,
) -> None:
    if kind is None and error_class is None and older_than is None:
        raise click.UsageError("--all-matching needs a filter (--kind, --error-class or --older-than)")
    ids = matching_new_ids(store, kind=kind, error_class=error_class, older_than=older_than, limit=limit)
    with click.progressbar(ids, label=f"retrying {len(ids)} entries", file=sys.stderr) as bar:
        sent = send_paced_retries(_celery_app(), bar, per_second)
    if as_json:
        click.echo(json.dumps(sent))
    else:
        click.echo(f"{len(sent)} retr{'y' if len(sent) == 1 else 'ies'} requested")


@dlq.command("discard")
@click.argument("entry_id")
@click.option("--reason", required=True, help="Why this entry needs no retry (kept on the entry).")
def discard_command(entry_id: str, reason: str) -> None:
    """Close an entry without retrying it."""
    store = _store()
    if not reason.strip():
        raise click.UsageError("--reason must say something")
    try:
        discard_entry(store, entry_id, reason)
    except ActionRefused as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"entry {entry_id} discarded")


@dlq.command("stats")
@click.option("--json", "as_json", is_flag=True)
def stats_command(as_json: bool) -> None:
    """Entries per status and the age of the oldest open one (what to alert on)."""
    store = _store()
    counts = store.counts()
    oldest = store.oldest_open_age()
    if as_json:
        click.echo(json.dumps({"counts": counts, "oldest_open_age_seconds": oldest}))
        return
    for status, count in counts.items():
        click.echo(f"{status:<11}{count}")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    click.echo(f"oldest open entry: {format_age(oldest) if oldest is not None else '-'} (at {stamp})")
