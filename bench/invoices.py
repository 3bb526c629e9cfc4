"""Customer and supplier invoices into e-conomic exactly once (issue 10): a chaos run and a speed run.

    .venv/bin/python -m bench.invoices [--only chaos|speed] [--invoices N] [--supplier-invoices 300]
                                       [--rate 10] [--seconds 60] [--redis-restarts 2] [--redis-down 2]

Both runs use the chaos stack (`bench._chaos_stack`): its own `redis-server`, both sandboxes in this
process, the real receiver (`python -m web`, its webhooks registered with the Rackbeat sandbox) and a
prefork worker with 2 processes, with `RBSYNC_CUSTOMER_DEFAULT_LAYOUT=19` (a layout the e-conomic sandbox
has), `RBSYNC_CUSTOMER_INVOICES_BOOKED=true`, the supplier-invoice journal 2 with accounts 1310 (domestic)
and 1320 (EU, abroad) and auto-booking (`RBSYNC_SUPPLIER_INVOICE_JOURNAL`, `..._ACCOUNTS`,
`RBSYNC_SUPPLIER_INVOICES_AUTO_BOOK`: what the e-conomic sandbox has), a 5 s visibility timeout, and retries
with backoff capped at 2 s. The company (payment terms, a product group, products, customers; for the chaos
run also suppliers with their own terms, one of them in the EU, and the products they sell) is written into
Rackbeat quietly before each run; its invoices' dependencies are exported by the invoices themselves.

- **chaos** (default 1,000 customer and 300 supplier invoices): the invoices are booked in Rackbeat
  quietly, then every `customer_invoice.booked` and `supplier_invoice.booked` delivery is posted to the
  receiver 3 times, both kinds shuffled into one stream, with Rackbeat's tokens, paced at
  `--delivery-rate` (20/s), so an invoice's copies meet its first transfer queued (coalesced by the
  receiver), running, or finished (the worker then finds it posted). Meanwhile the e-conomic sandbox
  answers 20 % of requests with a 5xx and drops 5 % of connections, a twentieth of the invoices' count of
  writes is committed and then answered with a 500 (then as many with a dropped connection), every
  `--kill-every` seconds (3) the pool process running a transfer is SIGKILLed, and `--redis-restarts` times
  (2), spread over the deliveries, Redis (the broker and the store of bindings and claims) is stopped while
  a transfer runs (SIGTERM, then SIGKILL, in turn), kept down `--redis-down` seconds (2) and started again
  on its AOF. A delivery the receiver does not take (its 503 while Redis is down) is delivered again after
  1, 2, 4, 8 s, as Rackbeat does. The faults stay on until the run has settled. The invoices' customers,
  suppliers, payment terms, products and group, exported as their dependencies, are counted too: each must
  be in e-conomic once.
- **speed** (default 10 invoices/s for 60 s): after a warm-up (one invoice per customer, not counted),
  invoices are booked in Rackbeat at `--rate` with its own webhooks firing (one delivery each, no faults,
  sandboxes at zero latency). Latency: from the moment the invoice is booked in Rackbeat to the transfer's
  event in the stream (the invoice is then booked in e-conomic). Then `--supplier-invoices` supplier
  invoices the same way (after a warm-up of one per supplier), for their latency and calls per invoice.

Counted at the end, from the e-conomic sandbox. Customer invoices: documents per `references.other`
(drafts + booked), the booked `grossAmount` against Rackbeat's `total_total`. Supplier invoices (journal
vouchers): entries per `text` ("Rackbeat supplier invoice <n>"), booked ones in `booked-entries` (the
supplier side of each voucher entry; its amounts summed and negated are the invoice's total, against
`total_total`) and unbooked ones in `journal-entries`; a voucher is its `voucherNumber`. For both kinds:
duplicates (documents or vouchers beyond one per invoice), lost (none and no open dead letter), left
unbooked, dead letters (tasks/deadletter.py), 429s, the API requests both sandboxes served per invoice
(each request given to the kind whose route or record it names; and by route), the transfers' own
`api_calls`, wall time.
Exit status 1 when an invoice was duplicated, lost, left unbooked, booked at another total or
dead-lettered (the issue expects every invoice in e-conomic), or the run did not settle.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import re
import statistics
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from bench._chaos_stack import ChaosSettings, ChaosStack, ChaosStackError, wait
from bench.chaos import RECEIVER_PATH

KIND = "customer_invoice"
EVENT = "customer_invoice.booked"
REFERENCE = "Rackbeat invoice {}"
DRAFTS, BOOKED = "invoices/drafts", "invoices/booked"
SUPPLIER_KIND = "supplier_invoice"
SUPPLIER_EVENT = "supplier_invoice.booked"
SUPPLIER_REFERENCE = "Rackbeat supplier invoice {}"
JOURNAL_ENTRIES, BOOKED_ENTRIES = "journal-entries", "booked-entries"
KINDS = (KIND, SUPPLIER_KIND)
FINAL = {"created", "replaced", "unchanged", "dead-lettered", "ignored"}
VISIBLE = {"created", "replaced", "unchanged"}
REQUEST_LOG_SIZE = 2_000_000  # every request of a run kept (the sandboxes keep 10,000 by default)
# routes (of either API) only supplier invoices take: theirs, their suppliers, vouchers, accounts, entries
SUPPLIER_ROUTES = frozenset(
    {"supplier-invoices", "suppliers", "supplier-groups", "journals", "accounting-years", "accounts"}
)


@dataclass(frozen=True)
class InvoiceSettings(ChaosSettings):
    """The chaos stack's settings plus what posting customer and supplier invoices needs."""

    customer_default_layout: int = 19
    customer_invoices_booked: bool = True
    supplier_invoice_journal: int = 2  # the e-conomic sandbox's supplier-invoice journal
    supplier_invoice_accounts: str = '{"*": {"domestic": 1310, "eu": 1320, "abroad": 1320}}'
    supplier_invoices_auto_book: bool = True
    worker_loglevel: str = "INFO"

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "RBSYNC_CUSTOMER_DEFAULT_LAYOUT": str(self.customer_default_layout),
            "RBSYNC_CUSTOMER_INVOICES_BOOKED": "true" if self.customer_invoices_booked else "false",
            "RBSYNC_SUPPLIER_INVOICE_JOURNAL": str(self.supplier_invoice_journal),
            "RBSYNC_SUPPLIER_INVOICE_ACCOUNTS": self.supplier_invoice_accounts,
            "RBSYNC_SUPPLIER_INVOICES_AUTO_BOOK": "true" if self.supplier_invoices_auto_book else "false",
        }


# ------------------------------------------------------------------------------------ the company


@dataclass
class Company:
    tag: str
    customers: list[int] = field(default_factory=list)
    customer_names: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # Rackbeat number -> record
    booked_at: dict[str, float] = field(default_factory=dict)  # Rackbeat number -> epoch seconds
    warm_up: set[str] = field(default_factory=set)  # invoices posted before the measurement, not counted
    suppliers: list[int] = field(default_factory=list)
    supplier_names: list[str] = field(default_factory=list)
    supplier_terms: str = ""  # the Rackbeat number of the suppliers' payment terms
    supplier_products: list[str] = field(default_factory=list)
    supplier_invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # Rackbeat number -> record
    supplier_booked_at: dict[str, float] = field(default_factory=dict)
    supplier_warm_up: set[str] = field(default_factory=set)

    def reference(self, number: str) -> str:
        return REFERENCE.format(number)

    def supplier_reference(self, number: str) -> str:
        return SUPPLIER_REFERENCE.format(number)

    @property
    def terms_name(self) -> str:
        return f"Netto 8 {self.tag}"

    @property
    def supplier_terms_name(self) -> str:
        return f"Netto 30 {self.tag}"

    @property
    def group_name(self) -> str:
        return f"Varer {self.tag}"

    @property
    def supplier_group_name(self) -> str:
        return f"Raavarer {self.tag}"


def create_company(rackbeat: Any, customers: int = 10, products: int = 8) -> Company:
    """Payment terms, a product group, products and customers, written quietly (no webhooks)."""
    company = Company(tag=uuid.uuid4().hex[:4].upper())
    terms = rackbeat.create(
        "payment-terms", {"name": company.terms_name, "type": "net", "maturity_days": 8}, suppress=True
    )
    group = rackbeat.create("product-groups", {"name": company.group_name}, suppress=True)
    for index in range(1, products + 1):
        number = f"IV{company.tag}-{index:03d}"
        body = {
            "number": number,
            "name": f"Invoice item {index}",
            "group_id": group["number"],
            # whole kroner in fours and discounts in quarters keep every line's 25 % VAT a whole øre: the two
            # sandboxes round a half øre differently (as two real systems may), which the poster rightly
            # refuses; that refusal is tested in the suite, this bench measures exactly-once
            "sales_price": float(4 * (3 + index)),
        }
        rackbeat.create("products", body, suppress=True)
        company.products.append(number)
    for index in range(1, customers + 1):
        body = {
            "company_name": f"Kunde {company.tag} {index} A/S",
            "payment_terms_id": terms["number"],
            "address_country": "Danmark",
            "currency": "DKK",
        }
        company.customers.append(int(rackbeat.create("customers", body, suppress=True)["number"]))
        company.customer_names.append(body["company_name"])
    return company


def book_invoice(rackbeat: Any, company: Company, serial: int, *, quietly: bool) -> str:
    """One booked invoice of 1-3 lines (quantities, prices and discounts vary with `serial`)."""
    rng = random.Random(serial)
    lines = []
    for product in rng.sample(company.products, 1 + serial % 3):
        line: dict[str, Any] = {"item_id": product, "quantity": rng.randint(1, 12)}
        if serial % 4 == 0:
            line["discount_percentage"] = 25 * rng.randint(1, 2)
        lines.append(line)
    body = {
        "customer_id": company.customers[serial % len(company.customers)],
        "invoice_date": date.today().isoformat(),
        "lines": lines,
    }
    started = time.time()
    record = rackbeat.create("customer-invoices", body, booked=True, suppress=quietly)
    number = str(record["number"])
    company.invoices[number] = record
    company.booked_at[number] = started
    return number


def create_suppliers(rackbeat: Any, company: Company, suppliers: int = 4, products: int = 6) -> None:
    """The suppliers (their own payment terms; the last one in Germany, so its invoices carry no VAT and go
    to the EU account) and the products they sell, in a group of their own, written quietly."""
    terms = rackbeat.create(
        "payment-terms",
        {"name": company.supplier_terms_name, "type": "net", "maturity_days": 30},
        suppress=True,
    )
    company.supplier_terms = str(terms["number"])
    group = rackbeat.create("product-groups", {"name": company.supplier_group_name}, suppress=True)
    for index in range(1, products + 1):
        number = f"SV{company.tag}-{index:03d}"
        body = {
            "number": number,
            "name": f"Raw material {index}",
            "group_id": group["number"],
            # the Rackbeat sandbox requires a sales price; a supplier invoice's lines carry their own price
            "sales_price": float(8 * (2 + index)),
        }
        rackbeat.create("products", body, suppress=True)
        company.supplier_products.append(number)
    for index in range(1, suppliers + 1):
        abroad = index == suppliers and suppliers > 1
        body = {
            "company_name": f"Leverandoer {company.tag} {index} {'GmbH' if abroad else 'ApS'}",
            "payment_terms_id": terms["number"],
            "address_country": "Tyskland" if abroad else "Danmark",
            "vat_zone": "eu" if abroad else "domestic",
            "currency": "DKK",
        }
        company.suppliers.append(int(rackbeat.create("suppliers", body, suppress=True)["number"]))
        company.supplier_names.append(body["company_name"])


def book_supplier_invoice(rackbeat: Any, company: Company, serial: int, *, quietly: bool) -> str:
    """One booked supplier invoice of 1-3 lines. Its prices keep VAT a whole øre, as the customer invoices'
    do: whole kroner in fours, discounts in quarters."""
    rng = random.Random(100_000 + serial)
    lines = []
    for product in rng.sample(company.supplier_products, 1 + serial % 3):
        line: dict[str, Any] = {
            "item_id": product,
            "quantity": rng.randint(1, 40),
            "line_price": float(4 * rng.randint(1, 60)),
        }
        if serial % 4 == 1:
            line["discount_percentage"] = 25 * rng.randint(1, 2)
        lines.append(line)
    body = {
        "supplier_id": company.suppliers[serial % len(company.suppliers)],
        "invoice_date": date.today().isoformat(),
        "supplier_invoice_number": f"F{company.tag}-{serial}",
        "lines": lines,
    }
    started = time.time()
    record = rackbeat.create("supplier-invoices", body, booked=True, suppress=quietly)
    number = str(record["number"])
    company.supplier_invoices[number] = record
    company.supplier_booked_at[number] = started
    return number


# -------------------------------------------------------------------------------- watching the run


Ref = tuple[str, str]  # (kind, Rackbeat number): customer and supplier invoices are numbered apart


class EventWatcher:
    """Reads the transfer event stream as the run goes (it is trimmed at about 10,000 entries, which a
    long run passes): the first final event of each invoice, the invoices' outcomes (per kind)."""

    def __init__(self, stack: ChaosStack) -> None:
        self.stack = stack
        self.first_final: dict[Ref, dict[str, Any]] = {}
        self.first_visible: dict[Ref, dict[str, Any]] = {}
        self.outcomes: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        self.visible_calls: dict[str, list[int]] = {kind: [] for kind in KINDS}
        self.dead_letters: list[tuple[Ref, str]] = []  # (invoice, dead-letter entry id), as they came
        self.worker_deaths: list[
            str
        ] = []  # how the worker ended each time it died unbidden (and was revived)
        self.swept = 0  # transfers the stale-marker sweep queued again (their message had vanished)
        self.last_change = time.monotonic()
        self._after = "0"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="invoice-events", daemon=True)

    def start(self) -> EventWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.poll()  # whatever came in since the last read

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.poll()
            except Exception:  # Redis busy or restarting: read again on the next tick
                time.sleep(0.2)

    def poll(self) -> None:
        from tasks.events import read_events

        with self._lock:
            while True:
                rows = read_events(
                    self.stack.redis, after=self._after, count=1000, connection_id=self.stack.connection_id
                )
                if not rows:
                    return
                self.last_change = time.monotonic()
                for stream_id, event in rows:
                    self._after = stream_id
                    kind = str(event.get("kind"))
                    if kind not in KINDS or event.get("via"):
                        continue
                    ref, outcome = (kind, str(event.get("key"))), str(event.get("outcome"))
                    self.outcomes[kind][outcome] += 1
                    if outcome == "dead-lettered":
                        self.dead_letters.append((ref, str(event.get("entry_id") or "")))
                    if outcome in FINAL:
                        self.first_final.setdefault(ref, event)
                    if outcome in VISIBLE and ref not in self.first_visible:
                        self.first_visible[ref] = event
                        if outcome != "unchanged":
                            self.visible_calls[kind].append(int(event.get("api_calls") or 0))

    def visible(self, refs: Iterable[Ref]) -> int:
        with self._lock:
            return sum(1 for ref in refs if ref in self.first_visible)

    def progress(self) -> tuple[int, int]:
        """What settling watches: invoices with a final event, events read."""
        with self._lock:
            return len(self.first_final), sum(sum(c.values()) for c in self.outcomes.values())


def enlarge_request_logs(stack: ChaosStack) -> None:
    """Keep every request of the run in the sandboxes' logs (for the calls per invoice, by route)."""
    for sandbox in (stack.rackbeat, stack.economic):
        log = sandbox.request_log
        with log._lock:
            log._entries = deque(log._entries, maxlen=REQUEST_LOG_SIZE)


def served(stack: ChaosStack) -> dict[str, int]:
    """Requests each sandbox served so far (its counters, which are never trimmed) and 429s among them."""
    figures: dict[str, int] = {}
    for name, sandbox in (("rackbeat", stack.rackbeat), ("economic", stack.economic)):
        counts = sandbox.counters.snapshot()
        figures[name] = sum(v for k, v in counts.items() if k.startswith("requests:"))
        figures[f"{name} 429"] = counts.get("status:429", 0)
    return figures


_KEYISH = re.compile(r"\d")


def route(api: str, entry: dict[str, Any]) -> str:
    """`GET rackbeat customers/{n}`: a request's method and path with its keys folded."""
    parts = [p for p in str(entry.get("path") or "").split("/") if p and p != "api"]
    shown = "/".join("{n}" if _KEYISH.search(part) else part for part in parts)
    if "filter=" in str(entry.get("query") or ""):
        shown += "?filter"
    return f"{entry.get('method')} {api} {shown}"


def routes_since(stack: ChaosStack, marks: dict[str, int]) -> Counter[str]:
    found: Counter[str] = Counter()
    for api, sandbox in (("rackbeat", stack.rackbeat), ("e-conomic", stack.economic)):
        for entry in sandbox.request_log.entries()[marks.get(api, 0) :]:
            found[route(api, entry)] += 1
    return found


@dataclass
class KindRequests:
    """The requests both sandboxes served for one kind of invoice (see `request_kind`)."""

    total: int = 0
    economic_5xx: int = 0  # e-conomic answers >= 500 (drawn at random, or a committed write's answer failed)
    economic_dropped: int = 0  # e-conomic connections dropped without an answer
    status_429: int = 0
    routes: Counter[str] = field(default_factory=Counter)


def request_kind(api: str, entry: dict[str, Any], company: Company, economic_terms: set[str]) -> str:
    """The kind of invoice a request served: supplier invoices' own routes (vouchers, suppliers, accounts,
    booked entries), their products and their suppliers' payment terms; everything else is the customer
    invoices' (their own products, customers, terms, group, layouts)."""
    from urllib.parse import unquote_plus

    parts = [p for p in str(entry.get("path") or "").split("/") if p and p != "api"]
    if any(part in SUPPLIER_ROUTES for part in parts):
        return SUPPLIER_KIND
    if parts[:1] == ["products"] and len(parts) > 1 and unquote_plus(parts[1]) in company.supplier_products:
        return SUPPLIER_KIND
    if parts[:1] == ["payment-terms"]:
        ours = {company.supplier_terms} if api == "rackbeat" else economic_terms
        body = entry.get("body")
        if (
            (len(parts) > 1 and parts[1] in ours)
            or company.supplier_terms_name in unquote_plus(str(entry.get("query") or ""))
            or (isinstance(body, dict) and body.get("name") == company.supplier_terms_name)
        ):
            return SUPPLIER_KIND
    return KIND


def requests_by_kind(stack: ChaosStack, marks: dict[str, int], company: Company) -> dict[str, KindRequests]:
    economic_terms = {
        str(row.get("paymentTermsNumber"))
        for row in stack.economic.dump("payment-terms")
        if row.get("name") == company.supplier_terms_name
    }
    found = {kind: KindRequests() for kind in KINDS}
    for api, sandbox in (("rackbeat", stack.rackbeat), ("e-conomic", stack.economic)):
        for entry in sandbox.request_log.entries()[marks.get(api, 0) :]:
            figures = found[request_kind(api, entry, company, economic_terms)]
            figures.total += 1
            figures.routes[route(api, entry)] += 1
            status = entry.get("status")
            figures.status_429 += status == 429
            if api == "e-conomic":
                figures.economic_dropped += status is None
                figures.economic_5xx += isinstance(status, int) and status >= 500
    return found


def log_marks(stack: ChaosStack) -> dict[str, int]:
    return {"rackbeat": len(stack.rackbeat.request_log), "e-conomic": len(stack.economic.request_log)}


def settle(
    stack: ChaosStack, watcher: EventWatcher, timeout: float, quiet: float = 2.0
) -> tuple[bool, float]:
    """Until nothing is queued, unacked or pending, no delivery is retried, and nothing changed for
    `quiet` seconds; (settled, monotonic time of the last change)."""
    deadline = time.monotonic() + timeout
    last_state: Any = object()
    last_change = time.monotonic()
    swept_at = 0.0
    while time.monotonic() < deadline:
        revived = stack.revive_worker()
        if revived:
            watcher.worker_deaths.append(revived)
        busy = stack.busy()
        state = (busy, served(stack), watcher.progress())
        now = time.monotonic()
        if state != last_state:
            last_state, last_change = state, now
        elif busy is not None and not any(busy.values()) and now - last_change >= quiet:
            return True, last_change
        elif (
            busy is not None
            and busy["pending"]
            and not (busy["queued"] or busy["unacked"] or busy["webhooks"])
            and min(now - last_change, now - swept_at) > stack.settings.visibility_timeout_seconds
        ):
            # Only pending markers left, with no message behind them for longer than the visibility
            # timeout: what the deployment's change poll sweeps (beat runs it; there is none here).
            swept_at = now
            watcher.swept += stack.run_stale_marker_sweep()
        time.sleep(0.2)
    return False, time.monotonic()


# ------------------------------------------------------------------------------------------ tally


@dataclass
class Tally:
    invoices: int = 0
    booked_once: int = 0
    duplicates: int = 0
    lost: int = 0
    left_as_draft: int = 0
    totals_mismatched: int = 0
    dead_lettered: int = 0
    open_dead_letters: int = 0  # every kind
    kind_dead_letters: int = 0  # of them, this kind of invoice's own
    unexpected_documents: int = 0
    master_duplicates: int = 0  # e-conomic customers, products, terms, groups beyond one per record
    redrafted: int = 0  # invoices whose draft was POSTed under more than one idempotency key
    refused_totals: int = (
        0  # dead-lettered because e-conomic priced the draft at another total (TotalsDiffer)
    )
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    letters: list[str] = field(default_factory=list)  # the dead-lettered invoices, one line each

    @property
    def exact(self) -> bool:
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.left_as_draft == 0
            and self.totals_mismatched == 0
            and self.unexpected_documents == 0
            and self.master_duplicates == 0
            and self.booked_once + self.dead_lettered == self.invoices
        )


def tally(stack: ChaosStack, company: Company) -> Tally:
    from tasks.deadletter import OPEN_STATUSES, DeadLetterStore

    result = Tally(invoices=len(company.invoices))
    documents: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for resource in (DRAFTS, BOOKED):
        for document in stack.economic.dump(resource):
            reference = str((document.get("references") or {}).get("other") or "")
            documents.setdefault(reference, []).append((resource, document))
    ours = {company.reference(number) for number in (*company.invoices, *company.warm_up)}
    for reference, found in documents.items():
        if reference not in ours:
            result.unexpected_documents += len(found)
            result.problems.append(
                f"{len(found)} e-conomic document(s) with reference {reference!r}: not ours"
            )
    draft_keys: dict[str, set[str]] = {}
    for entry in stack.economic.request_log.entries():
        body = entry.get("body")
        if entry.get("method") == "POST" and entry.get("path") == f"/{DRAFTS}" and isinstance(body, dict):
            reference = str((body.get("references") or {}).get("other") or "")
            draft_keys.setdefault(reference, set()).add(str(entry.get("idempotency_key")))
    store = DeadLetterStore(stack.redis, stack.connection_id)
    open_entries = [entry for entry in store.list() if entry.get("status") in OPEN_STATUSES]
    result.open_dead_letters = len(open_entries)
    result.kind_dead_letters = sum(1 for entry in open_entries if entry.get("kind") == KIND)
    for number, record in company.invoices.items():
        reference = company.reference(number)
        found = documents.get(reference, [])
        booked = [document for resource, document in found if resource == BOOKED]
        if len(draft_keys.get(reference, ())) > 1:
            result.redrafted += 1
            result.notes.append(
                f"invoice {number}: its draft was POSTed under {len(draft_keys[reference])} idempotency keys"
                f" (a draft withdrawn, then posted again); {len(found)} document(s) now"
            )
        if len(found) > 1:
            result.duplicates += len(found) - 1
            shown = ", ".join(
                f"{resource} {document.get('draftInvoiceNumber') or document.get('bookedInvoiceNumber')}"
                for resource, document in found
            )
            result.problems.append(f"invoice {number}: {len(found)} documents ({shown})")
        if booked:
            want = f"{float(record['total_total']):.2f}"
            if all(f"{float(document.get('grossAmount', 0)):.2f}" != want for document in booked):
                result.totals_mismatched += 1
                got = ", ".join(f"{float(document.get('grossAmount', 0)):.2f}" for document in booked)
                result.problems.append(f"invoice {number}: booked at {got}, Rackbeat's total is {want}")
            if len(found) == 1:
                result.booked_once += 1
            continue
        letters = [e for e in store.entries_for_record(KIND, number) if e.get("status") in OPEN_STATUSES]
        if found:
            result.left_as_draft += 1
            result.problems.append(f"invoice {number}: only a draft in e-conomic ({len(letters)} open DLQ)")
        elif letters:
            result.dead_lettered += 1
            entry = letters[0]
            if entry.get("error_class") == "TotalsDiffer":
                result.refused_totals += 1
            result.letters.append(
                f"invoice {number}: dead-lettered ({entry.get('classification')}: {entry.get('error_class')}:"
                f" {str(entry.get('error'))[:150]})"
            )
        else:
            result.lost += 1
            result.problems.append(
                f"invoice {number}: LOST (no e-conomic document, no dead letter):"
                f" {trace_lost(stack, KIND, number)}"
            )
    for problem in master_duplicates(stack, company):
        result.master_duplicates += 1
        result.problems.append(problem)
    return result


def trace_lost(stack: ChaosStack, kind: str, number: str) -> str:
    """What is left of a lost record's transfer: its pending marker, its events, and whether the marker's
    task is in the broker (queued or unacked) or was ever received by the worker, so a LOST row says where
    the transfer vanished."""
    from tasks.events import read_events
    from tasks.polls import live_task_ids

    client = stack.redis
    marker = client.get(stack.key("pending", kind, number))
    ttl = client.ttl(stack.key("pending", kind, number))
    task_id = (marker or "").removeprefix("claim:")
    events = [
        f"{event.get('outcome')}@{event.get('task_id', '')[:8]}"
        for _, event in read_events(client, count=100_000, connection_id=stack.connection_id)
        if event.get("kind") == kind and str(event.get("key")) == number
    ]
    where = "no marker"
    if task_id:
        live = task_id in live_task_ids(client, stack.broker_prefix)
        received = any(task_id in path.read_text(errors="replace") for path in stack.log_files())
        where = f"task {task_id[:8]}: {'in the broker' if live else 'not in the broker'}, " + (
            "received by a worker" if received else "never received by a worker"
        )
    return f"marker {marker!r} (ttl {ttl}); {where}; events {events or 'none'}"


def supplier_tally(stack: ChaosStack, company: Company) -> Tally:
    """Supplier invoices as e-conomic holds them: each a journal voucher whose entries carry the invoice's
    reference as their `text`; booked, the supplier side of each entry is a booked entry naming the
    supplier (its amounts, negated, add up to the invoice's total); unbooked, journal entries."""
    from tasks.deadletter import OPEN_STATUSES, DeadLetterStore

    result = Tally(invoices=len(company.supplier_invoices))
    prefix = SUPPLIER_REFERENCE.format("")
    booked: dict[str, dict[int, float]] = {}  # reference -> voucher number -> supplier side's amount
    accounts: Counter[str] = Counter()  # the expense side's booked entries, by account
    for entry in _dump_or_none(stack, BOOKED_ENTRIES):
        reference = str(entry.get("text") or "")
        if reference.startswith(prefix) and "account" in entry:
            accounts[str((entry.get("account") or {}).get("accountNumber"))] += 1
        if reference.startswith(prefix) and "supplier" in entry:
            vouchers = booked.setdefault(reference, {})
            voucher = int(entry.get("voucherNumber") or 0)
            vouchers[voucher] = vouchers.get(voucher, 0.0) + float(entry.get("amount") or 0)
    unbooked: dict[str, set[int]] = {}
    for entry in _dump_or_none(stack, JOURNAL_ENTRIES):
        reference = str(entry.get("text") or "")
        if reference.startswith(prefix):
            voucher = int((entry.get("voucher") or {}).get("voucherNumber") or 0)
            unbooked.setdefault(reference, set()).add(voucher)
    shown = ", ".join(f"{account} {count}" for account, count in sorted(accounts.items()))
    result.notes.append(f"booked expense entries by account: {shown or 'none'}")
    ours = {
        company.supplier_reference(number)
        for number in (*company.supplier_invoices, *company.supplier_warm_up)
    }
    for reference in sorted((booked.keys() | unbooked.keys()) - ours):
        count = len(booked.get(reference, {}).keys() | unbooked.get(reference, set()))
        result.unexpected_documents += count
        result.problems.append(f"{count} e-conomic voucher(s) with text {reference!r}: not ours")
    store = DeadLetterStore(stack.redis, stack.connection_id)
    open_entries = [entry for entry in store.list() if entry.get("status") in OPEN_STATUSES]
    result.open_dead_letters = len(open_entries)
    result.kind_dead_letters = sum(1 for entry in open_entries if entry.get("kind") == SUPPLIER_KIND)
    for number, record in company.supplier_invoices.items():
        reference = company.supplier_reference(number)
        vouchers = booked.get(reference, {})
        drafts = unbooked.get(reference, set())
        every = vouchers.keys() | drafts
        if len(every) > 1:
            result.duplicates += len(every) - 1
            shown = ", ".join(
                f"{'booked' if voucher in vouchers else 'unbooked'} voucher {voucher}"
                for voucher in sorted(every)
            )
            result.problems.append(f"supplier invoice {number}: {len(every)} vouchers ({shown})")
        if vouchers:
            want = f"{float(record['total_total']):.2f}"
            if all(f"{-amount:.2f}" != want for amount in vouchers.values()):
                result.totals_mismatched += 1
                got = ", ".join(f"{-amount:.2f}" for amount in vouchers.values())
                result.problems.append(
                    f"supplier invoice {number}: booked at {got}, Rackbeat's total is {want}"
                )
            if drafts:
                result.left_as_draft += 1
                result.problems.append(
                    f"supplier invoice {number}: unbooked entries beside its booked voucher"
                    f" ({sorted(drafts)})"
                )
            elif len(every) == 1:
                result.booked_once += 1
            continue
        letters = [
            e for e in store.entries_for_record(SUPPLIER_KIND, number) if e.get("status") in OPEN_STATUSES
        ]
        if drafts:
            result.left_as_draft += 1
            result.problems.append(
                f"supplier invoice {number}: only unbooked journal entries ({len(letters)} open DLQ)"
            )
        elif letters:
            result.dead_lettered += 1
            entry = letters[0]
            result.letters.append(
                f"supplier invoice {number}: dead-lettered ({entry.get('classification')}:"
                f" {entry.get('error_class')}: {str(entry.get('error'))[:150]})"
            )
        else:
            result.lost += 1
            result.problems.append(
                f"supplier invoice {number}: LOST (no e-conomic voucher, no dead letter):"
                f" {trace_lost(stack, SUPPLIER_KIND, number)}"
            )
    for problem in supplier_master_duplicates(stack, company):
        result.master_duplicates += 1
        result.problems.append(problem)
    return result


def _dump_or_none(stack: ChaosStack, table: str) -> list[dict[str, Any]]:
    try:
        return list(stack.economic.dump(table))
    except KeyError:  # the sandbox has no such table until its first row
        return []


def supplier_master_duplicates(stack: ChaosStack, company: Company) -> list[str]:
    """The supplier invoices' suppliers and their payment terms found more than once in e-conomic."""
    found: Counter[str] = Counter()
    for row in stack.economic.dump("payment-terms"):
        if row.get("name") == company.supplier_terms_name:
            found[f"payment terms {company.supplier_terms_name!r}"] += 1
    names = set(company.supplier_names)
    for row in stack.economic.dump("suppliers"):
        if row.get("name") in names:
            found[f"supplier {row.get('name')!r}"] += 1
    return [f"{what}: {count} records in e-conomic" for what, count in found.items() if count > 1]


def master_duplicates(stack: ChaosStack, company: Company) -> list[str]:
    """The invoices' dependencies (exported by the invoices themselves) found more than once in e-conomic."""
    economic = stack.economic
    found: Counter[str] = Counter()
    for row in economic.dump("payment-terms"):
        if row.get("name") == company.terms_name:
            found[f"payment terms {company.terms_name!r}"] += 1
    names = set(company.customer_names)
    for row in economic.dump("customers"):
        if row.get("name") in names:
            found[f"customer {row.get('name')!r}"] += 1
    products = set(company.products)
    for row in economic.dump("products"):
        if row.get("productNumber") in products:
            found[f"product {row.get('productNumber')}"] += 1
    for row in economic.dump("product-groups"):
        if row.get("name") == company.group_name:
            found[f"product group {company.group_name!r}"] += 1
    return [f"{what}: {count} records in e-conomic" for what, count in found.items() if count > 1]


# ------------------------------------------------------------------------------------------ figures


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank (every figure is a latency that really happened)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass
class Side:
    """The chaos run's figures for one kind of invoice (customer or supplier)."""

    label: str
    invoices: int = 0
    deliveries: int = 0
    tally: Tally = field(default_factory=Tally)
    latencies: list[float] = field(default_factory=list)  # booked in Rackbeat -> first visible event
    from_delivery: list[float] = field(default_factory=list)  # first delivery posted -> first visible event
    transfer_calls: list[int] = field(default_factory=list)
    requests: KindRequests = field(default_factory=KindRequests)
    outcomes: Counter[str] = field(default_factory=Counter)
    kills: int = 0  # pool processes SIGKILLed while running a transfer of this kind
    seconds: float = math.nan  # the run's start -> this kind's last invoice visible

    @property
    def calls_per_invoice(self) -> float:
        return self.requests.total / self.invoices if self.invoices else math.nan

    def report(self) -> str:
        t, n = self.tally, self.invoices or 1
        lines = [
            f"  {self.label} invoices: {self.invoices}, {t.booked_once} booked once,"
            f" {t.duplicates} duplicates, {t.lost} lost, {t.left_as_draft} left unbooked,"
            f" {t.totals_mismatched} totals mismatched,"
            f" {t.dead_lettered} dead-lettered ({t.kind_dead_letters} open DLQ entries of this kind),"
            f" last visible {self.seconds:.1f} s into the run",
            f"    requests served for them: {self.requests.total} = {self.calls_per_invoice:.2f} per invoice"
            f" (e-conomic 5xx {self.requests.economic_5xx}, dropped {self.requests.economic_dropped},"
            f" 429s {self.requests.status_429}); a successful transfer's own api_calls: mean"
            f" {statistics.mean(self.transfer_calls) if self.transfer_calls else math.nan:.2f}",
            "    requests per invoice by route:",
        ]
        lines.extend(
            f"      {count / n:7.3f}  {name}"
            for name, count in sorted(self.requests.routes.items(), key=lambda i: -i[1])
        )
        shown = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        lines.append(f"    transfer events: {shown}")
        if t.master_duplicates:
            lines.append(f"    ! {t.master_duplicates} dependency record(s) more than once in e-conomic")
        lines.extend(f"    {note}" for note in t.notes[:10])
        lines.extend(f"    ! {problem}" for problem in t.problems[:20])
        if len(t.problems) > 20:
            lines.append(f"    ! ... and {len(t.problems) - 20} more")
        lines.extend(f"    ! {letter}" for letter in t.letters[:10])
        if len(t.letters) > 10:
            lines.append(f"    ! ... and {len(t.letters) - 10} more dead-lettered invoices")
        return "\n".join(lines)


@dataclass
class Run:
    name: str
    invoices: int = 0
    deliveries: int = 0
    rate: float = 0.0
    tally: Tally = field(default_factory=Tally)
    latencies: list[float] = field(default_factory=list)
    from_delivery: list[float] = field(default_factory=list)  # chaos: first delivery posted -> visible
    transfer_calls: list[int] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    routes: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    kills_mid_transfer: int = 0
    seconds: float = 0.0
    settled: bool = False
    log_dir: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""
    # chaos: the supplier invoices mixed into the run, and each kind's figures (customer, supplier)
    supplier_invoices: int = 0
    supplier_tally: Tally = field(default_factory=Tally)
    sides: list[Side] = field(default_factory=list)
    redis_restarts: list[RedisRestart] = field(default_factory=list)  # chaos: each restart, as done

    @property
    def calls_per_invoice(self) -> float:
        """Requests both sandboxes served per invoice of either kind."""
        total = self.requests.get("rackbeat", 0) + self.requests.get("economic", 0)
        count = self.invoices + self.supplier_invoices
        return total / count if count else math.nan

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and self.settled
            and self.tally.exact
            and self.tally.open_dead_letters == 0
            and (self.supplier_invoices == 0 or self.supplier_tally.exact)
            and all(side.tally.exact and side.tally.open_dead_letters == 0 for side in self.sides)
        )

    def report(self) -> str:
        t = self.tally
        n = self.invoices or 1
        lines = [
            f"{self.name}: {self.invoices} invoices, {t.booked_once} booked once, {t.duplicates} duplicates,"
            f" {t.lost} lost, {t.left_as_draft} left as draft, {t.totals_mismatched} totals mismatched,"
            f" {t.dead_lettered} dead-lettered ({t.open_dead_letters} open DLQ entries of any kind),"
            f" {self.seconds:.1f} s" + ("" if self.settled else " (did NOT settle in time)")
        ]
        if self.supplier_invoices:
            s = self.supplier_tally
            lines.append(
                f"{self.name}: {self.supplier_invoices} supplier invoices, {s.booked_once} booked once,"
                f" {s.duplicates} duplicates, {s.lost} lost, {s.left_as_draft} left unbooked,"
                f" {s.totals_mismatched} totals mismatched, {s.dead_lettered} dead-lettered"
            )
        if self.error:
            lines.append(f"  ! the run did not finish: {self.error}")
        lines.append(
            f"  requests served: Rackbeat {self.requests.get('rackbeat', 0)}, e-conomic"
            f" {self.requests.get('economic', 0)} = {self.calls_per_invoice:.2f} per invoice"
            + (" of either kind" if self.supplier_invoices else "")
            + " (faulted answers and retries included)"
            + (
                ""
                if any(side.label == "customer" for side in self.sides)
                else f"; a successful transfer's own api_calls: mean"
                f" {statistics.mean(self.transfer_calls) if self.transfer_calls else math.nan:.2f}"
            )
            + f"; 429s {self.requests.get('rackbeat 429', 0) + self.requests.get('economic 429', 0)}"
        )
        if any(side.label == "customer" for side in self.sides):
            lines.extend(side.report() for side in self.sides)
        else:
            lines.append("  requests per invoice by route:")
            lines.extend(
                f"    {count / n:7.3f}  {name}"
                for name, count in sorted(self.routes.items(), key=lambda i: -i[1])
            )
            shown = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
            lines.append(f"  invoice transfer events: {shown}")
            if t.master_duplicates:
                lines.append(f"  ! {t.master_duplicates} dependency record(s) more than once in e-conomic")
            lines.extend(f"  {note}" for note in t.notes[:10])
            lines.extend(f"  ! {problem}" for problem in t.problems[:20])
            if len(t.problems) > 20:
                lines.append(f"  ! ... and {len(t.problems) - 20} more")
            lines.extend(f"  ! {letter}" for letter in t.letters[:10])
            if len(t.letters) > 10:
                lines.append(f"  ! ... and {len(t.letters) - 10} more dead-lettered invoices")
            lines.extend(side.report() for side in self.sides)  # the speed run's supplier invoices
        lines.extend(f"  {note}" for note in self.notes)
        if self.log_dir:
            lines.append(f"  logs kept in {self.log_dir}")
        return "\n".join(lines)


def _429s(run: Run) -> int:
    return run.requests.get("rackbeat 429", 0) + run.requests.get("economic 429", 0)


def chaos_table(runs: list[Run]) -> str:
    header = (
        f"{'run':<6} {'kind':<8} {'invoices':>8} {'deliveries':>10} {'booked 1x':>9} {'dup':>4} {'lost':>4}"
        f" {'total!=':>7} {'DLQ':>4} {'DLQ total':>9} {'kills':>5} {'5xx':>5} {'drops':>5} {'429s':>4}"
        f" {'calls/inv':>9} {'p50 s':>6} {'p95 s':>6} {'p99 s':>6} {'d p50':>6} {'d p99':>6} {'wall s':>7}"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        for side in run.sides:
            t, r = side.tally, side.requests
            lines.append(
                f"{run.name:<6} {side.label:<8} {side.invoices:>8} {side.deliveries:>10} {t.booked_once:>9}"
                f" {t.duplicates:>4} {t.lost:>4} {t.totals_mismatched:>7} {t.kind_dead_letters:>4}"
                f" {t.refused_totals:>9} {side.kills:>5} {r.economic_5xx:>5} {r.economic_dropped:>5}"
                f" {r.status_429:>4} {side.calls_per_invoice:>9.2f} {percentile(side.latencies, 0.5):>6.1f}"
                f" {percentile(side.latencies, 0.95):>6.1f} {percentile(side.latencies, 0.99):>6.1f}"
                f" {percentile(side.from_delivery, 0.5):>6.1f} {percentile(side.from_delivery, 0.99):>6.1f}"
                f" {side.seconds:>7.1f}"
            )
        lines.append(
            f"{run.name:<6} {'both':<8} {run.invoices + run.supplier_invoices:>8} {run.deliveries:>10}"
            f"  kills {run.kills} ({run.kills_mid_transfer} mid-transfer); Redis restarts"
            f" {len(run.redis_restarts)}; e-conomic faults dealt:"
            f" {run.faults['errors_5xx']} 5xx, {run.faults['dropped']} dropped,"
            f" {run.faults['commit_then_fail']} writes committed then failed; {run.tally.open_dead_letters}"
            f" open DLQ entries of any kind; {run.calls_per_invoice:.2f} calls per invoice;"
            f" settled after {run.seconds:.1f} s" + ("" if run.settled else " (NOT settled)")
        )
    lines += [
        "",
        "dup: e-conomic documents beyond one per invoice (customer: drafts + booked, by references.other;",
        "supplier: journal vouchers, booked or not, by their entries' text); lost: none and no open dead",
        "letter; total!=: booked at another total than Rackbeat's total_total (customer: grossAmount;",
        "supplier: the supplier side of the booked entries, negated); DLQ: open dead letters of the kind;",
        "DLQ total: of them, invoices refused because e-conomic priced the draft at another total",
        "(TotalsDiffer); kills: pool processes SIGKILLed while running a transfer of the kind;",
        "5xx/drops: e-conomic answers >= 500 / connections dropped, on the kind's requests (drawn at random",
        "or a committed write's answer failed: c-t-f); calls/inv: requests both sandboxes served per",
        "invoice, each given to the kind whose route or record it names (faulted ones and retries included;",
        "a listing that names no record, such as GET e-conomic payment-terms, counts as a customer one);",
        "p50-p99: Rackbeat booked -> first transfer event (a burst: every invoice is booked before the",
        "first delivery, so this is mostly queueing); d p50/d p99: the invoice's first delivery posted to",
        "the receiver -> that event; wall s: the run's start -> the kind's last invoice visible.",
    ]
    return "\n".join(lines)


def speed_table(runs: list[Run]) -> str:
    header = (
        f"{'run':<6} {'kind':<8} {'invoices':>8} {'rate/s':>6} {'visible':>7} {'p50 s':>6} {'p95 s':>6}"
        f" {'p99 s':>6} {'max s':>6} {'calls/inv':>9} {'RB/inv':>6} {'EC/inv':>6} {'tr calls':>8} {'dup':>4}"
        f" {'lost':>4} {'DLQ':>4} {'429s':>4}"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        kinds: list[tuple[str, int, list[float], float, float, float, list[int], Tally, int, int]] = [
            (
                "customer",
                run.invoices,
                run.latencies,
                run.calls_per_invoice,
                run.requests.get("rackbeat", 0) / (run.invoices or 1),
                run.requests.get("economic", 0) / (run.invoices or 1),
                run.transfer_calls,
                run.tally,
                run.tally.open_dead_letters,
                _429s(run),
            )
        ]
        for side in run.sides:  # the speed run's supplier invoices
            on = Counter(name.split(" ")[1] for name in side.requests.routes.elements())
            count = side.invoices or 1
            kinds.append(
                (
                    side.label,
                    side.invoices,
                    side.latencies,
                    side.calls_per_invoice,
                    on["rackbeat"] / count,
                    on["e-conomic"] / count,
                    side.transfer_calls,
                    side.tally,
                    side.tally.kind_dead_letters,
                    side.requests.status_429,
                )
            )
        for kind, invoices, latencies, calls, rackbeat, economic, transfer_calls, t, dlq, limited in kinds:
            tr = statistics.mean(transfer_calls) if transfer_calls else math.nan
            lines.append(
                f"{run.name:<6} {kind:<8} {invoices:>8} {run.rate:>6.1f} {len(latencies):>7}"
                f" {percentile(latencies, 0.5):>6.2f} {percentile(latencies, 0.95):>6.2f}"
                f" {percentile(latencies, 0.99):>6.2f} {max(latencies, default=math.nan):>6.2f}"
                f" {calls:>9.2f} {rackbeat:>6.2f} {economic:>6.2f} {tr:>8.2f} {t.duplicates:>4} {t.lost:>4}"
                f" {dlq:>4} {limited:>4}" + ("" if run.settled else "  (not settled)")
            )
    lines += [
        "",
        "latency: booked in Rackbeat (its webhook then fires) -> the transfer's event in the stream (the",
        "invoice is then booked in e-conomic); calls/inv: requests both sandboxes served per invoice (RB/EC:",
        "Rackbeat / e-conomic); tr calls: the transfers' own api_calls (dependencies checked included).",
        "The supplier invoices are booked at the same rate after the customer invoices (their own warm-up:",
        "one per supplier); their requests are told apart by route (as in the chaos table's calls/inv).",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ the runs


def dead_letter_history(stack: ChaosStack, watcher: EventWatcher) -> list[str]:
    """Every invoice dead-lettered during the run, with its entry as it stands now: one a later transfer
    posted shows as resolved (not counted as a dead letter by the tally, but a failure all the same)."""
    from tasks.deadletter import DeadLetterStore

    store = DeadLetterStore(stack.redis, stack.connection_id)
    lines = []
    for (kind, key), entry_id in watcher.dead_letters:
        entry = store.get(entry_id) if entry_id else None
        if entry is None:
            lines.append(f"! {kind} {key} was dead-lettered (entry {entry_id or '?'} not found)")
            continue
        lines.append(
            f"! {kind} {key} was dead-lettered, now {entry.get('status')}: {entry.get('classification')}:"
            f" {entry.get('error_class')}: {str(entry.get('error'))[:200]}"
        )
    return lines


def _finish(run: Run, stack: ChaosStack, company: Company, watcher: EventWatcher) -> None:
    watcher.stop()
    run.tally = tally(stack, company)
    run.outcomes = watcher.outcomes[KIND]
    run.transfer_calls = watcher.visible_calls[KIND]
    run.latencies = [
        float(watcher.first_visible[(KIND, number)]["at"]) - company.booked_at[number]
        for number in company.invoices
        if (KIND, number) in watcher.first_visible
    ]
    if company.supplier_invoices:
        run.supplier_tally = supplier_tally(stack, company)
    run.notes.extend(dead_letter_history(stack, watcher))
    run.notes.extend(
        f"! the worker died unbidden and was started again (as a supervisor would): {death}"
        for death in watcher.worker_deaths
    )
    if watcher.swept:
        run.notes.append(
            f"the stale-marker sweep (the change poll's, run here as beat would) queued {watcher.swept}"
            " transfer(s) again whose message had vanished from the broker"
        )
    run.faults = Counter(stack.economic.faults.counters)
    hooks = stack.redis.hgetall(stack.key("stats", "webhooks"))
    shown = ", ".join(f"{name} {value}" for name, value in sorted(hooks.items()))
    run.notes.append(f"receiver counters: {shown}")
    died = stack.check_children()
    run.notes.extend(f"! {child} during the run" for child in died)
    if not run.ok or died:
        stack.keep_logs = True
        run.log_dir = str(stack.log_dir)


def chaos_run(
    invoices: int,
    supplier_invoices: int,
    kill_every: float,
    max_kills: int,
    delivery_rate: float,
    seed: int,
    settings: InvoiceSettings,
    keep_logs: bool,
    redis_restarts: int = 0,
    redis_down_seconds: float = 2.0,
) -> Run:
    run = Run(name="chaos", invoices=invoices, supplier_invoices=supplier_invoices)
    with ChaosStack(settings, label="invoices-chaos") as stack:
        enlarge_request_logs(stack)
        rackbeat, economic = stack.rackbeat, stack.economic
        company = create_company(rackbeat)
        refs: list[Ref] = [
            (KIND, book_invoice(rackbeat, company, serial, quietly=True)) for serial in range(1, invoices + 1)
        ]
        if supplier_invoices:
            create_suppliers(rackbeat, company)
            refs += [
                (SUPPLIER_KIND, book_supplier_invoice(rackbeat, company, serial, quietly=True))
                for serial in range(1, supplier_invoices + 1)
            ]
        events = {KIND: EVENT, SUPPLIER_KIND: SUPPLIER_EVENT}
        items = [(events[kind], number) for kind, number in refs for _ in range(3)]
        random.Random(seed).shuffle(items)
        run.deliveries = len(items)
        kind_of_event = {event: kind for kind, event in events.items()}
        commits = max(3, (invoices + supplier_invoices) // 20)
        economic.faults.set(error_rate=0.2, drop_rate=0.05, seed=seed, commit_then_fail=commits)
        economic.faults.set(drop_after_commit=False)
        watcher = EventWatcher(stack).start()
        before, marks = served(stack), log_marks(stack)
        started, started_at = time.monotonic(), time.time()
        rackbeat_side = Redeliveries(stack)
        first_delivered: dict[Ref, float] = {}

        def deliver() -> None:
            # Paced, so an invoice's three deliveries are spread over the run: some meet the first one's
            # transfer still queued (the receiver coalesces them), some arrive while it runs, some after.
            step = max(1, round(delivery_rate / 10))
            for first in range(0, len(items), step):
                time.sleep(max(0.0, started + first / delivery_rate - time.monotonic()))
                batch = items[first : first + step]
                posted = time.time()
                rackbeat_side.deliver(batch)
                for event, number in batch:
                    first_delivered.setdefault((kind_of_event[event], number), posted)
            rackbeat_side.finish()

        poster = threading.Thread(target=deliver, name="invoice-deliveries", daemon=True)
        poster.start()
        deadline = started + min(1800.0, 60.0 + 1.0 * len(refs))
        second_half = False
        next_kill = time.monotonic() + kill_every
        killed: list[str] = []
        # Redis (broker and store) restarted while the deliveries stream in, spread over them
        span = len(items) / delivery_rate
        restart_at = [started + span * (n + 1) / (redis_restarts + 1) for n in range(redis_restarts)]
        try:
            while time.monotonic() < deadline:
                if not poster.is_alive() and watcher.visible(refs) + _dead(watcher, refs) >= len(refs):
                    break
                if not second_half and economic.faults.config.commit_then_fail == 0:
                    # The first budget is spent (a 500 after each commit): now the connection is dropped.
                    economic.faults.set(commit_then_fail=commits, drop_after_commit=True)
                    second_half = True
                revived = stack.revive_worker()
                if revived:
                    watcher.worker_deaths.append(revived)
                if restart_at and time.monotonic() >= restart_at[0]:
                    restart_at.pop(0)
                    kill = len(run.redis_restarts) % 2 == 1  # TERM, then KILL, then TERM...
                    run.redis_restarts.append(
                        restart_redis(stack, kill=kill, down_seconds=redis_down_seconds)
                    )
                    next_kill = time.monotonic() + kill_every
                if time.monotonic() >= next_kill and (max_kills <= 0 or len(killed) < max_kills):
                    next_kill = time.monotonic() + kill_every
                    victim = _kill_one(stack)
                    if victim:
                        killed.append(victim)
                time.sleep(0.05)
            poster.join(timeout=120)
            run.settled, last_change = settle(stack, watcher, timeout=max(30.0, deadline - time.monotonic()))
        except ChaosStackError as error:
            run.error = str(error)
            last_change = time.monotonic()
        finally:
            run.faults = Counter(economic.faults.counters)
            economic.faults.set(error_rate=0.0, drop_rate=0.0, commit_then_fail=0)
        run.seconds = last_change - started
        run.kills = len(killed)
        run.kills_mid_transfer = sum(1 for victim in killed if victim != "idle")
        after = served(stack)
        run.requests = {name: after[name] - before.get(name, 0) for name in after}
        run.routes = routes_since(stack, marks)
        by_kind = requests_by_kind(stack, marks, company)
        faults = Counter(economic.faults.counters)
        _finish(run, stack, company, watcher)
        run.faults = faults
        run.from_delivery = [
            float(watcher.first_visible[ref]["at"]) - first_delivered[ref]
            for ref in first_delivered
            if ref[0] == KIND and ref in watcher.first_visible
        ]
        for kind, label, records, booked_at, kind_tally in (
            (KIND, "customer", company.invoices, company.booked_at, run.tally),
            (
                SUPPLIER_KIND,
                "supplier",
                company.supplier_invoices,
                company.supplier_booked_at,
                run.supplier_tally,
            ),
        ):
            if not records:
                continue
            seen = [watcher.first_visible[(kind, n)] for n in records if (kind, n) in watcher.first_visible]
            run.sides.append(
                Side(
                    label=label,
                    invoices=len(records),
                    deliveries=3 * len(records),
                    tally=kind_tally,
                    latencies=[
                        float(watcher.first_visible[(kind, n)]["at"]) - booked_at[n]
                        for n in records
                        if (kind, n) in watcher.first_visible
                    ],
                    from_delivery=[
                        float(watcher.first_visible[ref]["at"]) - first_delivered[ref]
                        for ref in first_delivered
                        if ref[0] == kind and ref in watcher.first_visible
                    ],
                    transfer_calls=watcher.visible_calls[kind],
                    requests=by_kind[kind],
                    outcomes=watcher.outcomes[kind],
                    kills=sum(1 for victim in killed if _victim_kind(victim) == kind),
                    seconds=max((float(event["at"]) for event in seen), default=math.nan) - started_at,
                )
            )
        shown = ", ".join(f"{status}: {n}" for status, n in sorted(rackbeat_side.answers.items(), key=str))
        run.notes.append(
            f"{len(items)} deliveries posted to the receiver (each invoice's x3, both kinds shuffled"
            f" together); answers {shown}; {rackbeat_side.redelivered} delivered again after a 5xx or no"
            f" answer (as Rackbeat does: after 1, 2, 4, 8 s), {len(rackbeat_side.given_up)} given up"
        )
        if rackbeat_side.given_up:
            run.error = (
                run.error or f"{len(rackbeat_side.given_up)} deliveries were never taken by the receiver"
            )
        run.notes.extend(f"Redis restart: {restart}" for restart in run.redis_restarts)
        run.notes.append(
            f"{run.kills} pool processes SIGKILLed, one every {kill_every:g} s,"
            f" {run.kills_mid_transfer} of them while running a transfer"
        )
        run.notes.append(
            "e-conomic faults dealt: "
            + ", ".join(f"{name} {count}" for name, count in sorted(faults.items()) if count)
            + f"; idempotent replays {economic.counters.get('idempotent_replays')}"
        )
        if keep_logs:
            stack.keep_logs = True
            run.log_dir = str(stack.log_dir)
    return run


REDELIVERY_ATTEMPTS = (
    5  # Rackbeat's dispatcher: 5 attempts in all, 1 s doubling (sandbox/rackbeat/webhooks.py)
)


def post_each(stack: ChaosStack, items: list[tuple[str, str]], threads: int = 2) -> list[int | str]:
    """POST each (event, key) to the receiver as Rackbeat does (token, event header, body); each one's
    answer, in order: its status, or "no answer" for a connection error."""
    tokens = stack.webhook_tokens()
    url = stack.web_url + RECEIVER_PATH
    local = threading.local()

    def one(item: tuple[str, str]) -> int | str:
        event, key = item
        if getattr(local, "client", None) is None:
            local.client = httpx.Client(timeout=10, headers={"User-Agent": "Rackbeat Webhook"})
        try:
            response = local.client.post(
                url,
                json={"event": event, "key_name": "number", "key": key},
                headers={"Rackbeat-Webhook-Token": tokens[event], "Rackbeat-Webhook-Event": event},
            )
        except httpx.TransportError:
            return "no answer"
        return response.status_code

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, items))


class Redeliveries:
    """Rackbeat's side of the chaos run: deliveries posted to the receiver, and one it did not take (a 5xx,
    which it answers while Redis is down, or no answer) delivered again after 1, 2, 4, 8 s, as Rackbeat's
    dispatcher does; given up after 5 attempts in all."""

    def __init__(self, stack: ChaosStack) -> None:
        self.stack = stack
        self.answers: Counter[int | str] = Counter()
        self.redelivered = 0
        self.given_up: list[tuple[str, str]] = []
        self._due: list[tuple[float, int, tuple[str, str]]] = []  # (when, attempt, delivery), a heap

    def deliver(self, batch: list[tuple[str, str]]) -> None:
        """Post the batch (first attempts) with every redelivery that is due."""
        now = time.monotonic()
        again: list[tuple[int, tuple[str, str]]] = []
        while self._due and self._due[0][0] <= now:
            _, attempt, item = heapq.heappop(self._due)
            again.append((attempt, item))
        self._post([(1, item) for item in batch] + again)

    def finish(self, timeout: float = 60) -> None:
        """Deliver again until every delivery was taken or given up."""
        deadline = time.monotonic() + timeout
        while self._due and time.monotonic() < deadline:
            time.sleep(max(0.0, min(self._due[0][0], deadline) - time.monotonic()))
            self.deliver([])

    def _post(self, attempts: list[tuple[int, tuple[str, str]]]) -> None:
        if not attempts:
            return
        answers = post_each(self.stack, [item for _, item in attempts])
        now = time.monotonic()
        for (attempt, item), status in zip(attempts, answers, strict=True):
            self.answers[status] += 1
            if isinstance(status, int) and 200 <= status < 300:
                continue
            if attempt >= REDELIVERY_ATTEMPTS:
                self.given_up.append(item)
                continue
            self.redelivered += 1
            heapq.heappush(self._due, (now + 2.0 ** (attempt - 1), attempt + 1, item))


@dataclass(frozen=True)
class RedisRestart:
    """One restart of Redis: how it was stopped, for how long, and the transfers running at that moment."""

    kill: bool
    seconds_down: float
    running: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{'SIGKILL' if self.kill else 'SIGTERM'}, {self.seconds_down:.1f} s down, with"
            f" {len(self.running)} transfer(s) running ({', '.join(self.running) or 'none'}), restarted on"
            " its AOF"
        )


def restart_redis(stack: ChaosStack, *, kill: bool, down_seconds: float) -> RedisRestart:
    """Stop Redis (broker and store; SIGTERM, or SIGKILL with `kill`) once a transfer is running (waiting at
    most 10 s for one), keep it down for `down_seconds`, and start it again on its AOF."""
    running = wait(stack.in_flight, 10, 0.01) or []
    stopped = time.monotonic()
    stack.stop_redis(kill=kill)
    try:
        time.sleep(max(0.0, stopped + down_seconds - time.monotonic()))
    finally:
        stack.start_redis()
    return RedisRestart(kill, time.monotonic() - stopped, tuple(f"{r['kind']} {r['key']}" for r in running))


def _victim_kind(victim: str) -> str:
    """The kind of invoice a killed transfer served ("" when the process was idle): a transfer's
    dependencies run inside it, so its task names the invoice's kind."""
    if victim in ("", "idle"):
        return ""
    return SUPPLIER_KIND if victim.startswith("supplier") else KIND


def _dead(watcher: EventWatcher, refs: list[Ref]) -> int:
    return sum(1 for ref in refs if watcher.first_final.get(ref, {}).get("outcome") == "dead-lettered")


def _kill_one(stack: ChaosStack) -> str:
    """SIGKILL the pool process running a transfer (any pool process when none runs); what it ran."""
    running = stack.in_flight()
    if running:
        stack.kill_pool_process(running[0]["pid"])
        return f"{running[0]['kind']} {running[0]['key']}"
    pids = stack.pool_pids()
    if not pids:
        return ""
    stack.kill_pool_process(pids[0])
    return "idle"


def speed_run(
    invoices: int, rate: float, settings: InvoiceSettings, keep_logs: bool, supplier_invoices: int = 0
) -> Run:
    run = Run(name="speed", invoices=invoices, rate=rate)
    with ChaosStack(settings, label="invoices-speed") as stack:
        # No Redis to kill here: persistence off, as in the other speed benchmarks.
        stack.redis.config_set("appendonly", "no")
        enlarge_request_logs(stack)
        rackbeat = stack.rackbeat
        company = create_company(rackbeat)
        watcher = EventWatcher(stack).start()
        # Warm-up, not counted: one invoice per customer, so every customer and product is in e-conomic.
        warm = [
            book_invoice(rackbeat, company, serial, quietly=False)
            for serial in range(len(company.customers) * 3 + 1, len(company.customers) * 4 + 1)
        ]
        warm_refs = [(KIND, number) for number in warm]
        if not wait(lambda: watcher.visible(warm_refs) == len(warm), 120, 0.1):
            run.error = f"the warm-up did not finish: {watcher.visible(warm_refs)} of {len(warm)} visible"
        settle(stack, watcher, timeout=30, quiet=1.0)
        for number in warm:
            del company.invoices[number]
            company.warm_up.add(number)
        before, marks = served(stack), log_marks(stack)
        started = time.monotonic()
        refs: list[Ref] = []
        for index in range(invoices):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            refs.append((KIND, book_invoice(rackbeat, company, 1000 + index, quietly=False)))
        run.deliveries = invoices
        wait(lambda: watcher.visible(refs) + _dead(watcher, refs) >= invoices, 60 + 2.0 * invoices, 0.05)
        run.settled, last_change = settle(stack, watcher, timeout=60, quiet=1.0)
        run.seconds = last_change - started
        after = served(stack)
        run.requests = {name: after[name] - before.get(name, 0) for name in after}
        run.routes = routes_since(stack, marks)
        if supplier_invoices:
            run.sides.append(_supplier_speed(stack, company, watcher, supplier_invoices, rate))
        _finish(run, stack, company, watcher)
        if run.sides:
            run.sides[0].tally = run.supplier_tally = supplier_tally(stack, company)
        hooks = stack.rackbeat.dispatcher.stats()
        run.notes.append(
            f"Rackbeat webhooks: {hooks.get('delivered', 0)} delivered (warm-up included), "
            f"{hooks.get('given_up', 0)} given up; {len(warm)} warm-up invoices not counted"
        )
        if keep_logs:
            stack.keep_logs = True
            run.log_dir = str(stack.log_dir)
    return run


def _supplier_speed(
    stack: ChaosStack, company: Company, watcher: EventWatcher, count: int, rate: float
) -> Side:
    """The speed run's supplier invoices, after its customer invoices: a warm-up (one per supplier, so every
    supplier is in e-conomic; not counted), then `count` booked in Rackbeat at `rate` with its own webhooks.
    Their requests are told from the customer invoices' by route (`request_kind`)."""
    create_suppliers(stack.rackbeat, company)
    warm = [
        (SUPPLIER_KIND, book_supplier_invoice(stack.rackbeat, company, serial, quietly=False))
        for serial in range(1, len(company.suppliers) + 1)
    ]
    wait(lambda: watcher.visible(warm) + _dead(watcher, warm) >= len(warm), 120, 0.1)
    settle(stack, watcher, timeout=30, quiet=1.0)
    for _, number in warm:
        del company.supplier_invoices[number]
        del company.supplier_booked_at[number]
        company.supplier_warm_up.add(number)
    marks = log_marks(stack)
    started, started_at = time.monotonic(), time.time()
    refs: list[Ref] = []
    for index in range(count):
        time.sleep(max(0.0, started + index / rate - time.monotonic()))
        refs.append(
            (SUPPLIER_KIND, book_supplier_invoice(stack.rackbeat, company, 1000 + index, quietly=False))
        )
    wait(lambda: watcher.visible(refs) + _dead(watcher, refs) >= count, 60 + 2.0 * count, 0.05)
    settle(stack, watcher, timeout=60, quiet=1.0)
    seen = [watcher.first_visible[ref] for ref in refs if ref in watcher.first_visible]
    return Side(
        label="supplier",
        invoices=count,
        deliveries=count,
        latencies=[
            float(watcher.first_visible[(SUPPLIER_KIND, n)]["at"]) - company.supplier_booked_at[n]
            for _, n in refs
            if (SUPPLIER_KIND, n) in watcher.first_visible
        ],
        transfer_calls=[
            int(event.get("api_calls") or 0) for event in seen if event["outcome"] != "unchanged"
        ],
        requests=requests_by_kind(stack, marks, company)[SUPPLIER_KIND],
        outcomes=Counter(str(event["outcome"]) for event in seen),
        seconds=max((float(event["at"]) for event in seen), default=math.nan) - started_at,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.invoices", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["chaos", "speed"], help="run one of the two runs")
    parser.add_argument(
        "--invoices",
        type=int,
        help="customer invoices per run (default: chaos 1000, speed --rate x --seconds)",
    )
    parser.add_argument(
        "--supplier-invoices",
        type=int,
        default=300,
        help="supplier invoices (300; 0: none): chaos, mixed into the same deliveries; speed, booked at"
        " --rate after the customer invoices",
    )
    parser.add_argument("--rate", type=float, default=10.0, help="speed: invoices booked per second (10)")
    parser.add_argument("--seconds", type=float, default=60.0, help="speed: how long to book them (60)")
    parser.add_argument("--kill-every", type=float, default=3.0, help="chaos: seconds between SIGKILLs (3)")
    parser.add_argument(
        "--kills", type=int, default=0, help="chaos: at most this many SIGKILLs (0: no limit)"
    )
    parser.add_argument(
        "--transfer-time-limit",
        type=int,
        default=10,
        help="RBSYNC_TRANSFER_TIME_LIMIT_SECONDS (10); a killed transfer's record lock lasts this + 5 s",
    )
    parser.add_argument(
        "--delivery-rate", type=float, default=20.0, help="chaos: deliveries posted per second (20)"
    )
    parser.add_argument(
        "--redis-restarts",
        type=int,
        default=2,
        help="chaos: times Redis (broker and store) is stopped while transfers run and started again on its"
        " AOF, spread over the deliveries; SIGTERM and SIGKILL in turn (2; 0: none)",
    )
    parser.add_argument(
        "--redis-down", type=float, default=2.0, help="chaos: seconds Redis stays down each time (2)"
    )
    parser.add_argument("--seed", type=int, default=20261, help="seed of the shuffle and the faults")
    parser.add_argument("--keep-logs", action="store_true", help="keep the stacks' logs (and say where)")
    args = parser.parse_args(argv)
    if args.invoices is not None and not 1 <= args.invoices <= 20000:
        parser.error("--invoices must be within 1..20000")
    if not 0 <= args.supplier_invoices <= 20000:
        parser.error("--supplier-invoices must be within 0..20000")
    if min(args.rate, args.kill_every, args.delivery_rate) <= 0:
        parser.error("--rate, --kill-every and --delivery-rate must be above 0")
    if args.redis_restarts < 0 or not 0 < args.redis_down <= 60:
        parser.error("--redis-restarts must be 0 or more, --redis-down within (0, 60]")
    settings = InvoiceSettings(transfer_time_limit_seconds=args.transfer_time_limit)
    runs: list[Run] = []
    if args.only in (None, "chaos"):
        count = args.invoices or 1000
        suppliers = args.supplier_invoices
        print(
            f"\n--- chaos: {count} customer and {suppliers} supplier invoices, each delivered 3 times,"
            f" worker concurrency 2, {args.redis_restarts} Redis restarts ...",
            flush=True,
        )
        try:
            run = chaos_run(
                count,
                suppliers,
                args.kill_every,
                args.kills,
                args.delivery_rate,
                args.seed,
                settings,
                args.keep_logs,
                args.redis_restarts,
                args.redis_down,
            )
        except Exception as error:  # the speed run's figures still count
            run = Run(
                name="chaos",
                invoices=count,
                supplier_invoices=suppliers,
                error=f"{type(error).__name__}: {error}",
            )
        print(run.report(), flush=True)
        runs.append(run)
    if args.only in (None, "speed"):
        count = args.invoices or max(1, round(args.rate * args.seconds))
        print(f"\n--- speed: {count} invoices at {args.rate:g}/s, worker concurrency 2 ...", flush=True)
        try:
            run = speed_run(count, args.rate, settings, args.keep_logs, args.supplier_invoices)
        except Exception as error:
            run = Run(name="speed", invoices=count, rate=args.rate, error=f"{type(error).__name__}: {error}")
        print(run.report(), flush=True)
        runs.append(run)
    chaos = [run for run in runs if run.name == "chaos"]
    speed = [run for run in runs if run.name == "speed"]
    if chaos:
        print()
        print(chaos_table(chaos))
    if speed:
        print()
        print(speed_table(speed))
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
