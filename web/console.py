"""The operator console: dead letters and recent transfers in a browser, at ``/console/`` on the receiver.

What it offers (plain server-rendered HTML and a little CSS, no script):
- counters: open dead letters (``new`` + ``retrying``), the age of the oldest, and the transfers of the last
  hour by outcome, counted from the event stream (tasks/events.py; entries with ``via``, dependencies checked
  inside another transfer, are not counted, as in ``rbsync run``'s summaries);
- the dead letters (open ones by default), oldest first: kind, key, the API's own words
  (:func:`tasks.dlq_actions.reason_of`, as ``rbsync dlq list`` shows them), attempts, age, and a link to the
  failed task in Flower; filters by status, kind, error class and age (``2h``, ``30m``: ``rbsync dlq``'s
  durations);
- retry one entry, retry all ``new`` entries matching the filters (paced, 5 per second, like
  ``rbsync dlq retry --all-matching``), discard one with a reason;
- a history per record: every dead letter of the record with everything ``rbsync dlq show`` lists, its
  retries (each linked to Flower) and history, and the record's recent transfer events.

Decisions:
- Same code path as ``rbsync dlq``: retry, discard and presentation are :mod:`tasks.dlq_actions`, shared
  with the CLI. A retry sends the ``rbsync.retry_dead_letter`` task and waits up to
  :data:`RETRY_WAIT_SECONDS` for the transfer's outcome, then shows it (transferred, or failed again with the
  API's new words); a transfer still running leaves a page that reloads itself until it has ended.
- Its own credentials, ``RBSYNC_CONSOLE_USERNAME`` / ``RBSYNC_CONSOLE_PASSWORD`` (``SecretStr``, both or
  neither, the password at least 12 characters; tasks/settings.py). With neither, every console path
  answers 503 with a line saying which settings turn it on: the console is never open.
- Log in by a small form; the session is a cookie (``rbsync_console``: expiry and a random nonce, signed
  with HMAC-SHA256 under a key drawn at random when the app is built, so a restart logs everyone out and no
  key is stored anywhere), ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``, ``Secure`` when the
  request came over HTTPS (directly or per ``X-Forwarded-Proto``), valid for 8 hours; logging out revokes it
  in this process. Credentials are compared in constant time; a failed login waits a second.
- CSRF: every change is a POST carrying a token derived from the session (HMAC of its nonce), compared in
  constant time; a POST whose ``Origin`` names another host is refused, and SameSite=Strict keeps the
  cookie off cross-site requests in the first place. Pages are ``no-store``, cannot be framed and load
  nothing from elsewhere (Content-Security-Policy).
- Flower links: ``<RBSYNC_FLOWER_URL>/task/<task id>``, default ``http://127.0.0.1:5555``, where
  ``rbsync run`` and Compose publish Flower (reached through the operator's tunnel or proxy).
- Secrets never reach a page, a log line or a URL: the credentials are only read to compare, entries hold
  no tokens (tasks/deadletter.py), and the session cookie is not a credential of anything else.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from tasks.deadletter import OPEN_STATUSES, STATUSES, DeadLetterStore, parse_iso
from tasks.dlq_actions import (
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
)
from tasks.events import OUTCOMES, read_events
from tasks.redis import get_redis
from tasks.settings import Settings

PREFIX = "/console"
COOKIE = "rbsync_console"
SESSION_SECONDS = 8 * 3600
RETRY_WAIT_SECONDS = 8.0
BATCH_PER_SECOND = 5.0
LIST_LIMIT = 500
FAILED_LOGIN_DELAY_SECONDS = 1.0
FORM_LIMIT_BYTES = 16 * 1024
RECORD_EVENTS_SHOWN = 30
HOUR = 3600.0

OFF_TEXT = (
    "The rbsync console is off: set RBSYNC_CONSOLE_USERNAME and RBSYNC_CONSOLE_PASSWORD "
    "(at least 12 characters) and restart the receiver (README, 'Console').\n"
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send "Origin: null"
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f5f6f8}
header{background:#1f3a5f;color:#fff;padding:10px 20px;display:flex;align-items:center;gap:16px}
header h1{font-size:18px;margin:0;flex:1}header a{color:#fff}header form{margin:0}
main{padding:16px 20px}
.counters{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:14px}
.counter{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 14px}
.counter b{display:block;font-size:22px}.counter.alert b{color:#b3261e}
.outcomes span{margin-right:12px;white-space:nowrap}.outcomes span b{display:inline;font-size:18px}
td.key,td.nowrap{white-space:nowrap}
form.filters{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 12px;margin-bottom:10px}
form.filters label{margin-right:10px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e7ec;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.reason{color:#8a1c14;max-width:420px}
.status-new{color:#b3261e;font-weight:600}.status-retrying{color:#9a6700;font-weight:600}
.status-resolved,.status-superseded{color:#1a7f37;font-weight:600}.status-discarded{color:#57606a}
.notice{padding:8px 12px;border-radius:6px;margin-bottom:12px;background:#ddf4ff;border:1px solid #54aeff}
.notice.bad{background:#ffebe9;border-color:#ff8182}.notice.good{background:#dafbe1;border-color:#4ac26b}
td form{display:inline;margin:0}input[name=reason]{width:150px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;background:#fff;padding:10px;margin:0}
dt{font-weight:600}dd{margin:0}section.entry{border:1px solid #d8dde3;border-radius:6px;margin:12px 0;
background:#fff;padding:0 0 8px}section.entry h3{margin:0;padding:8px 10px;background:#eef1f5}
.muted{color:#57606a}
.login{max-width:320px;margin:60px auto;background:#fff;padding:20px;border:1px solid #d8dde3;
border-radius:6px}.login input{display:block;width:100%;margin:4px 0 12px;padding:6px;box-sizing:border-box}
"""


# --- sessions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    nonce: str
    expires: int


class Sessions:
    """Signed session cookies under a key that lives as long as the process (see the module docstring)."""

    def __init__(self, lifetime: float = SESSION_SECONDS, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self.lifetime = lifetime
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.lifetime)
        payload = f"{expires}.{secrets.token_hex(16)}"
        return f"{payload}.{self._sign(payload)}"

    def check(self, cookie: str | None, now: float | None = None) -> Session | None:
        if not cookie or cookie.count(".") != 2:
            return None
        expires_text, nonce, signature = cookie.split(".")
        if not hmac.compare_digest(self._sign(f"{expires_text}.{nonce}"), signature):
            return None
        if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
            return None
        with self._lock:
            if nonce in self._revoked:
                return None
        return Session(nonce=nonce, expires=int(expires_text))

    def revoke(self, session: Session) -> None:
        now = time.time()
        with self._lock:
            self._revoked = {nonce: until for nonce, until in self._revoked.items() if until > now}
            self._revoked[session.nonce] = session.expires

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf:{session.nonce}")

    def csrf_ok(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session), token)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


# --- HTML helpers ----------------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def record_url(kind: str, key: str) -> str:
    return f"{PREFIX}/record?{urlencode({'kind': kind, 'key': key})}"


def page(title: str, body: str, *, refresh: str | None = None, csrf: str | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{esc(refresh)}">' if refresh else ""
    logout = (
        f'<form method="post" action="{PREFIX}/logout"><input type="hidden" name="csrf" value="{esc(csrf)}">'
        '<button type="submit" id="logout">Log out</button></form>'
        if csrf
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} · rbsync console</title>{meta}<style>{STYLE}</style></head><body>"
        f'<header><h1><a href="{PREFIX}/">rbsync console</a> · {esc(title)}</h1>{logout}</header>'
        f"<main>{body}</main></body></html>"
    )


def notice_html(text: str | None, tone: str = "") -> str:
    return f'<div class="notice {esc(tone)}" id="notice">{esc(text)}</div>' if text else ""


def options(values: Iterable[str], selected: str | None, blank: str | None = "any") -> str:
    items = [f'<option value="">{esc(blank)}</option>'] if blank is not None else []
    for value in values:
        chosen = " selected" if value == selected else ""
        items.append(f'<option value="{esc(value)}"{chosen}>{esc(value)}</option>')
    return "".join(items)


def hidden(name: str, value: Any) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


# --- what the pages show ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: str = "open"
    kind: str | None = None
    error_class: str | None = None
    older_than: str | None = None
    newer_than: str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Filters:
        def value(name: str) -> str | None:
            text = (values.get(name) or "").strip()
            return text or None

        status = value("status") or "open"
        if status not in ("open", "all", *STATUSES):
            status = "open"
        return cls(status, value("kind"), value("error_class"), value("older_than"), value("newer_than"))

    def ages(self) -> tuple[float | None, float | None, list[str]]:
        """(older_than, newer_than) in seconds, and the problems of the ones that are not durations."""
        found: list[float | None] = []
        problems = []
        for label, text in (("older than", self.older_than), ("newer than", self.newer_than)):
            try:
                found.append(parse_duration(text) if text else None)
            except ValueError as error:
                problems.append(f"{label}: {error}")
                found.append(None)
        return found[0], found[1], problems

    def query(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}

    @property
    def narrowed(self) -> bool:
        """Whether a batch retry may take these filters (``rbsync dlq retry --all-matching`` needs one)."""
        return any((self.kind, self.error_class, self.older_than, self.newer_than))


def transfers_last_hour(client: redis.Redis, connection_id: str, now: float) -> dict[str, int]:
    """Finished transfers per outcome in the hour before ``now``, from the event stream."""
    counts = dict.fromkeys(OUTCOMES, 0)
    after = f"{int((now - HOUR) * 1000)}-0"
    while True:
        rows = read_events(client, after=after, count=1000, connection_id=connection_id)
        for _, event in rows:
            if event.get("via"):
                continue
            outcome = str(event.get("outcome") or "?")
            counts[outcome] = counts.get(outcome, 0) + 1
        if len(rows) < 1000:
            return counts
        after = rows[-1][0]


def record_events(client: redis.Redis, connection_id: str, kind: str, key: str) -> list[dict[str, Any]]:
    """The record's transfer events still in the stream (it keeps about the last 10,000), newest first."""
    found: list[dict[str, Any]] = []
    after = "0"
    while True:
        rows = read_events(client, after=after, count=2000, connection_id=connection_id)
        found.extend(event for _, event in rows if event.get("kind") == kind and event.get("key") == key)
        if len(rows) < 2000:
            break
        after = rows[-1][0]
    return list(reversed(found))[:RECORD_EVENTS_SHOWN]


def describe_retry(entry: Mapping[str, Any], answer: Mapping[str, Any]) -> tuple[str, str]:
    """(sentence, tone) for a retry's answer, in the terms ``rbsync dlq retry`` reports it."""
    record = f"{entry['kind']} {entry['key']}"
    transfer = answer.get("transfer")
    if transfer:
        outcome = transfer["outcome"]
        if outcome == "succeeded":
            how = f" ({transfer['result']})" if transfer.get("result") else ""
            return f"{record} transferred{how}; entry {transfer['status']}.", "good"
        if outcome == "failed":
            status = f" {transfer['status_code']}" if transfer.get("status_code") else ""
            api = f" from {transfer['api']}" if transfer.get("api") else ""
            words = reason_of(transfer)
            return f"{record} failed again: {transfer['error_class']}{status}{api}: {words}", "bad"
        if outcome == "discarded":
            return f"entry {entry['id']} was discarded while its retry ran.", "bad"
        return f"{record} sent again; the transfer had not finished yet (this page reloads).", ""
    if answer.get("retried") is False:
        return f"entry {entry['id']} not retried ({answer.get('reason')}).", "bad"
    return f"retry of {record} requested; {answer.get('note', 'no answer from a worker yet')}.", ""


# --- the console ------------------------------------------------------------------------------------


Handler = Callable[[Request], Awaitable[Response]]


class Console:
    """The console's endpoints for one app (``settings`` decide credentials, store and Flower)."""

    def __init__(self, settings: Settings, sessions: Sessions | None = None) -> None:
        self.settings = settings
        self.sessions = sessions or Sessions()
        self.enabled = settings.console_username is not None and settings.console_password is not None
        self.flower_url = settings.flower_url.rstrip("/")

    # plumbing

    def store(self) -> DeadLetterStore:
        return DeadLetterStore(self.redis(), self.settings.connection_id)

    def redis(self) -> redis.Redis:
        return get_redis(self.settings.redis_url)

    def flower_link(self, task_id: str | None, text: str | None = None) -> str:
        if not task_id:
            return ""
        url = f"{self.flower_url}/task/{quote(task_id, safe='')}"
        label = text or task_id[:8]
        attributes = 'target="_blank" rel="noopener noreferrer" class="flower"'
        return f'<a href="{esc(url)}" {attributes}>{esc(label)}</a>'

    @staticmethod
    def respond(content: str, status_code: int = 200) -> HTMLResponse:
        return HTMLResponse(content, status_code=status_code, headers=SECURITY_HEADERS)

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.check(request.cookies.get(COOKIE))

    @staticmethod
    def over_https(request: Request) -> bool:
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return request.url.scheme == "https" or forwarded == "https"

    @staticmethod
    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not sent by every client; the CSRF token still has to match
        return urlsplit(origin).netloc == request.headers.get("host", "")

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        """An urlencoded form body (what the pages' forms send), at most 16 KiB."""
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return {}
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > FORM_LIMIT_BYTES:
                return {}
        parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}

    def guarded(self, handler: Callable[[Request, Session], Awaitable[Response]]) -> Handler:
        """A page behind the login: off -> 503, no session -> the login form."""

        async def endpoint(request: Request) -> Response:
            if not self.enabled:
                return PlainTextResponse(OFF_TEXT, status_code=503, headers=SECURITY_HEADERS)
            session = self.session_of(request)
            if session is None:
                if request.method == "GET":
                    return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=SECURITY_HEADERS)
                return PlainTextResponse("log in first\n", status_code=401, headers=SECURITY_HEADERS)
            return await handler(request, session)

        return endpoint

    def posted(self, handler: Callable[[Request, Session, dict[str, str]], Awaitable[Response]]) -> Handler:
        """A change: logged in, same origin, and the session's CSRF token in the form."""

        async def checked(request: Request, session: Session) -> Response:
            form = await self.form(request)
            if not self.same_origin(request) or not self.sessions.csrf_ok(session, form.get("csrf", "")):
                return PlainTextResponse(
                    "refused: this form did not come from the console page (reload it and try again)\n",
                    status_code=403,
                    headers=SECURITY_HEADERS,
                )
            return await handler(request, session, form)

        return self.guarded(checked)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX, self.to_index, methods=["GET"]),
            Route(f"{PREFIX}/", self.guarded(self.index), methods=["GET"]),
            Route(f"{PREFIX}/login", self.login_form, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/logout", self.posted(self.logout), methods=["POST"]),
            Route(f"{PREFIX}/record", self.guarded(self.record), methods=["GET"]),
            Route(f"{PREFIX}/retry", self.posted(self.retry), methods=["POST"]),
            Route(f"{PREFIX}/retry-matching", self.posted(self.retry_matching), methods=["POST"]),
            Route(f"{PREFIX}/discard", self.posted(self.discard), methods=["POST"]),
        ]

    # login

    async def to_index(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    def login_page(self, problem: str | None = None) -> str:
        body = (
            f'<form class="login" method="post" action="{PREFIX}/login">'
            f"{notice_html(problem, 'bad')}"
            '<label>Username<input id="username" name="username" autocomplete="username" required></label>'
            '<label>Password<input id="password" name="password" type="password" '
            'autocomplete="current-password" required></label>'
            '<button type="submit" id="login">Log in</button></form>'
        )
        return page("log in", body)

    async def login_form(self, request: Request) -> Response:
        if not self.enabled:
            return PlainTextResponse(OFF_TEXT, status_code=503, headers=SECURITY_HEADERS)
        if self.session_of(request) is not None:
            return RedirectResponse(f"{PREFIX}/", status_code=303, headers=SECURITY_HEADERS)
        return self.respond(self.login_page())

    async def login(self, request: Request) -> Response:
        if not self.enabled:
            return PlainTextResponse(OFF_TEXT, status_code=503, headers=SECURITY_HEADERS)
        if not self.same_origin(request):
            return PlainTextResponse("refused: cross-site login\n", status_code=403, headers=SECURITY_HEADERS)
        form = await self.form(request)
        assert self.settings.console_username is not None and self.settings.console_password is not None
        # Both compared, always, in constant time (digests: equal lengths whatever was typed).
        user_ok = hmac.compare_digest(
            _digest(form.get("username", "")), _digest(self.settings.console_username.get_secret_value())
        )
        password_ok = hmac.compare_digest(
            _digest(form.get("password", "")), _digest(self.settings.console_password.get_secret_value())
        )
        if not (user_ok and password_ok):
            await asyncio.sleep(FAILED_LOGIN_DELAY_SECONDS)
            return self.respond(self.login_page("Wrong username or password."), status_code=401)
        response = RedirectResponse(f"{PREFIX}/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            self.sessions.issue(),
            max_age=int(self.sessions.lifetime),
            path=PREFIX,
            secure=self.over_https(request),
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        self.sessions.revoke(session)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    # the list

    async def index(self, request: Request, session: Session) -> Response:
        filters = Filters.from_mapping(request.query_params)
        html_text = await run_in_threadpool(self.render_index, filters, session, None, "")
        return self.respond(html_text)

    def render_index(self, filters: Filters, session: Session, notice: str | None, tone: str) -> str:
        now = time.time()
        client = self.redis()
        store = self.store()
        csrf = self.sessions.csrf_token(session)
        older, newer, problems = filters.ages()
        counts = store.counts()
        oldest = store.oldest_open_age(now)
        transfers = transfers_last_hour(client, self.settings.connection_id, now)
        status = None if filters.status in ("open", "all") else filters.status
        rows, kinds, classes, shown, total = [], set(known_kinds()), set(known_error_classes()), 0, 0
        for entry in store.list(
            kind=filters.kind,
            error_class=filters.error_class,
            status=status,
            older_than=older,
            newer_than=newer,
            now=now,
        ):
            if filters.status == "open" and entry["status"] not in OPEN_STATUSES:
                continue
            kinds.add(entry["kind"])
            classes.add(entry["error_class"])
            total += 1
            if shown < LIST_LIMIT:
                shown += 1
                rows.append(self.entry_row(entry, now, csrf))
        open_count = counts["new"] + counts["retrying"]
        outcome_spans = "".join(
            f'<span class="outcome" data-outcome="{esc(name)}">{esc(name)} <b>{count}</b></span>'
            for name, count in transfers.items()
        )
        counters = (
            '<div class="counters">'
            f'<div class="counter{" alert" if open_count else ""}" id="open-count">open dead letters'
            f"<b>{open_count}</b></div>"
            f'<div class="counter" id="oldest-age">oldest open<b>{esc(format_age(oldest) if oldest else "-")}'
            "</b></div>"
            f'<div class="counter outcomes" id="transfers-hour">transfers in the last hour<br>{outcome_spans}'
            "</div></div>"
        )
        filter_form = (
            f'<form class="filters" method="get" action="{PREFIX}/">'
            f'<label>Status <select name="status">'
            f"{options(('open', 'all', *STATUSES), filters.status, blank=None)}</select></label>"
            f'<label>Kind <select name="kind">{options(sorted(kinds), filters.kind)}</select></label>'
            f'<label>Error class <select name="error_class">'
            f"{options(sorted(classes), filters.error_class)}</select></label>"
            f'<label>Older than <input name="older_than" size="6" placeholder="2h" '
            f'value="{esc(filters.older_than)}"></label>'
            f'<label>Newer than <input name="newer_than" size="6" placeholder="30m" '
            f'value="{esc(filters.newer_than)}"></label>'
            '<button type="submit" id="filter">Filter</button></form>'
        )
        batch = ""
        if filters.narrowed and not problems:
            fields = "".join(
                hidden(name, value) for name, value in filters.query().items() if name != "status"
            )
            batch = (
                f'<form method="post" action="{PREFIX}/retry-matching">{hidden("csrf", csrf)}{fields}'
                '<button type="submit" id="retry-matching">Retry all new entries matching these filters'
                "</button></form>"
            )
        notices = notice_html(notice, tone) + "".join(notice_html(problem, "bad") for problem in problems)
        more = f'<p class="muted">showing the first {shown} of {total}</p>' if total > shown else ""
        table = (
            '<table id="entries"><thead><tr><th>Status</th><th>Kind</th><th>Key</th><th>Error class</th>'
            "<th>The API's words</th><th>Attempts</th><th>Age</th><th>Task</th><th>Actions</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else '<p id="no-entries">No dead letters match.</p>'
        )
        body = f"{notices}{counters}{filter_form}{batch}<p>{total} matching</p>{table}{more}"
        return page("dead letters", body, csrf=csrf)

    def actions(self, entry: Mapping[str, Any], csrf: str) -> str:
        """Retry (a ``new`` entry) and discard with a reason (an open one)."""
        actions = ""
        if entry["status"] == "new":
            actions += (
                f'<form method="post" action="{PREFIX}/retry">{hidden("csrf", csrf)}'
                f'{hidden("entry_id", entry["id"])}<button type="submit" class="retry">Retry</button></form> '
            )
        if entry["status"] in OPEN_STATUSES:
            actions += (
                f'<form method="post" action="{PREFIX}/discard">{hidden("csrf", csrf)}'
                f'{hidden("entry_id", entry["id"])}<input name="reason" placeholder="reason" required> '
                '<button type="submit" class="discard">Discard</button></form>'
            )
        return actions

    def entry_row(self, entry: Mapping[str, Any], now: float, csrf: str) -> str:
        link = record_url(entry["kind"], entry["key"]) + f"#entry-{entry['id']}"
        return (
            f'<tr id="entry-{esc(entry["id"])}" data-kind="{esc(entry["kind"])}" '
            f'data-key="{esc(entry["key"])}">'
            f'<td class="status-{esc(entry["status"])}">{esc(entry["status"])}</td>'
            f"<td>{esc(entry['kind'])}</td>"
            f'<td class="key"><a href="{esc(link)}" class="record">{esc(entry["key"])}</a></td>'
            f"<td>{esc(entry['error_class'])}</td>"
            f'<td class="reason">{esc(reason_of(entry))}</td>'
            f"<td>{esc(entry.get('attempts', ''))}</td>"
            f"<td>{esc(format_age(now - parse_iso(entry['first_failed_at'])))}</td>"
            f"<td>{self.flower_link(entry.get('task_id'))}</td>"
            f'<td class="nowrap">{self.actions(entry, csrf)}</td></tr>'
        )

    # one record

    async def record(self, request: Request, session: Session) -> Response:
        kind = request.query_params.get("kind", "")
        key = request.query_params.get("key", "")
        html_text = await run_in_threadpool(self.render_record, kind, key, session, None, "")
        return self.respond(html_text)

    def render_record(self, kind: str, key: str, session: Session, notice: str | None, tone: str) -> str:
        now = time.time()
        csrf = self.sessions.csrf_token(session)
        entries = self.store().entries_for_record(kind, key)
        events = record_events(self.redis(), self.settings.connection_id, kind, key)
        sections = [self.entry_section(entry, now, csrf) for entry in reversed(entries)]
        waiting = any(entry["status"] == "retrying" for entry in entries)
        event_rows = "".join(
            f"<tr><td>{esc(iso(event.get('at')))}</td><td>{esc(event.get('outcome'))}</td>"
            f"<td>{esc(event.get('economic_key'))}</td><td>{esc(event.get('api_calls'))}</td>"
            f"<td>{esc(event.get('via') or '')}</td><td>{self.flower_link(event.get('task_id'))}</td></tr>"
            for event in events
        )
        events_html = (
            '<table id="events"><thead><tr><th>At (UTC)</th><th>Outcome</th><th>e-conomic key</th>'
            f"<th>API calls</th><th>Via</th><th>Task</th></tr></thead><tbody>{event_rows}</tbody></table>"
            if events
            else '<p class="muted">No transfer of this record in the event stream.</p>'
        )
        body = (
            f"{notice_html(notice, tone)}"
            f'<p><a href="{PREFIX}/">← all dead letters</a></p>'
            f"<h2>{esc(kind)} {esc(key)}</h2>"
            f"<h3>Dead letters ({len(entries)})</h3>"
            f"{''.join(sections) or '<p class=muted>None.</p>'}"
            f"<h3>Recent transfers</h3>{events_html}"
        )
        refresh = f"2; url={record_url(kind, key)}" if waiting or tone == "wait" else None
        return page(f"{kind} {key}", body, refresh=refresh, csrf=csrf)

    def entry_section(self, entry: Mapping[str, Any], now: float, csrf: str) -> str:
        facts = "".join(
            f"<dt>{esc(label)}</dt><dd>"
            + (self.flower_link(str(value), str(value)) if label == "Task id" else esc(value))
            + "</dd>"
            for label, value in entry_facts(entry)
        )
        facts += f"<dt>Arguments</dt><dd>{esc(entry.get('args'))} {esc(entry.get('kwargs'))}</dd>"
        for field, messages in (entry.get("field_errors") or {}).items():
            facts += f"<dt>Field error</dt><dd>{esc(field)}: {esc('; '.join(messages))}</dd>"
        for name, value in (entry.get("api_details") or {}).items():
            facts += f"<dt>{esc(name)}</dt><dd>{esc(value)}</dd>"
        retries = "".join(
            f"<li>{esc(retry['at'])} {self.flower_link(retry['task_id'], retry['task_id'])}</li>"
            for retry in entry.get("retries") or []
        )
        history = "".join(
            f"<tr><td>{esc(event['at'])}</td><td>{esc(event['event'])}</td>"
            f"<td>{esc(event.get('detail', ''))}</td></tr>"
            for event in entry.get("history") or []
        )
        actions = self.actions(entry, csrf)
        return (
            f'<section class="entry" id="entry-{esc(entry["id"])}">'
            f'<h3>Entry {esc(entry["id"])}: <span class="status-{esc(entry["status"])} entry-status">'
            f"{esc(entry['status'])}</span> {actions}</h3>"
            f'<p class="reason">{esc(reason_of(entry))}</p><dl>{facts}</dl>'
            + (f"<h4>Retries</h4><ul>{retries}</ul>" if retries else "")
            + f'<h4>History</h4><table class="history"><tbody>{history}</tbody></table></section>'
        )

    # actions

    async def retry(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        entry_id = form.get("entry_id", "")

        def run() -> str:
            store = self.store()
            try:
                entry, answer = retry_entry(
                    store, celery_app(self.settings), entry_id, wait_seconds=RETRY_WAIT_SECONDS
                )
            except ActionRefused as refused:
                found = store.get(entry_id)
                if found is None:
                    return self.render_index(Filters(), session, str(refused), "bad")
                return self.render_record(found["kind"], found["key"], session, str(refused), "bad")
            text, tone = describe_retry(entry, answer)
            pending = answer.get("transfer", {}).get("outcome") == "pending" or answer.get("retried") is None
            return self.render_record(entry["kind"], entry["key"], session, text, "wait" if pending else tone)

        return self.respond(await run_in_threadpool(run))

    async def discard(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        entry_id = form.get("entry_id", "")
        reason = form.get("reason", "")

        def run() -> str:
            store = self.store()
            try:
                discard_entry(store, entry_id, reason)
                text, tone = f"entry {entry_id} discarded: {reason.strip()}", "good"
            except ActionRefused as refused:
                text, tone = str(refused), "bad"
            found = store.get(entry_id)
            if found is None:
                return self.render_index(Filters(), session, text, tone)
            return self.render_record(found["kind"], found["key"], session, text, tone)

        return self.respond(await run_in_threadpool(run))

    async def retry_matching(self, request: Request, session: Session, form: dict[str, str]) -> Response:
        filters = Filters.from_mapping({**form, "status": "new"})

        def run() -> str:
            older, newer, problems = filters.ages()
            if problems or not filters.narrowed:
                text = "; ".join(problems) or "retry all matching needs a filter (kind, error class or age)"
                return self.render_index(filters, session, text, "bad")
            ids = matching_new_ids(
                self.store(),
                kind=filters.kind,
                error_class=filters.error_class,
                older_than=older,
                newer_than=newer,
            )
            app = celery_app(self.settings)
            threading.Thread(
                target=send_paced_retries,
                args=(app, ids, BATCH_PER_SECOND),
                name="console-retry-matching",
                daemon=True,
            ).start()
            count = len(ids)
            text = (
                f"{count} retr{'y' if count == 1 else 'ies'} requested ({BATCH_PER_SECOND:g} per second); "
                "entries turn 'retrying', then 'resolved' or 'new' again with the API's new words."
            )
            return self.render_index(filters, session, text, "good")

        return self.respond(await run_in_threadpool(run))


def console_routes(settings: Settings) -> list[BaseRoute]:
    """The console's routes for ``create_app`` (answering 503 on every path while it has no login)."""
    return Console(settings).routes()
