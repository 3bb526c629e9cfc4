"""The invoice family beyond drafts and booked: the ``/invoices`` index, the views over booked invoices
(paid, unpaid, overdue, not-due), the totals and the customer's invoice collections.

Facts it rests on:
- §11 and §12.12: ``/invoices`` leads to drafts, booked, paid, unpaid, overdue, not-due, sent and totals;
  the views are read-only collections of booked invoices, paged, filtered and sorted like every legacy
  collection (§8, §9); their filterable/sortable fields are the ones each view's own GET schema flags
  (§9.3: the booked list's fields apply to paid, unpaid, overdue and not-due).
- What each view holds, from §12.12 and the descriptions in ``invoices.get.schema.json``:
  ``paid``: no remaining amount (``remainder`` is 0); ``unpaid``: a remaining amount (``remainder`` is not
  0, credit notes included); ``overdue``: unpaid and the due date is before today; ``not-due``: the due date
  is today or later (the schema's "This includes invoices that are due today"; neither source restricts
  it to unpaid invoices, so a paid invoice not yet due is listed too). An invoice without a ``dueDate``
  is due on its ``date`` (the sandbox's choice). "Today" is the sandbox's clock (:class:`Clock`).
- The totals answer exactly the properties their schemas (``invoices.totals.*.get.schema.json``) define:
  ``netAmountInBaseCurrency`` (the sum of the invoices' ``netAmountInBaseCurrency``), ``invoiceCount``,
  ``minDate``/``maxDate`` (the earliest and latest invoice ``date``; left out when nothing is counted) and,
  where the schema has it, ``grossRemainderInBaseCurrency`` (the sum of ``remainderInBaseCurrency``; the
  remainder is the gross amount still to pay, §12.12). Links are given only to the totals the sandbox
  serves, those with a published schema; the booked totals by customer, employee, year and period and the
  ``predefinedPeriodFilters`` have none, so they are left out rather than linked to a 404.
- Draft totals by employee group on ``references.salesPerson`` (the link e-conomic's employee resource
  uses for its draft invoices). The employee totals' schemas spell their reference ``employee
  {customerNumber, self}``; the sandbox writes ``employee {employeeNumber, self}``, as the grouped list's
  schema (``invoices.totals.drafts.employees.get``) does.
- Totals for an accounting year count the drafts dated within the year's ``fromDate``..``toDate``; an
  unknown year answers 404 ``E06000``, as ``GET /accounting-years/{year}`` does. No source says how
  e-conomic numbers the ``accountingPeriod`` of the period totals; the sandbox takes it as the number of a
  calendar month within the accounting year that holds today (1 = the month of ``fromDate``) and answers
  404 for a number outside that year.
- A booked invoice's ``sent`` link (``/invoices/booked/{n}/sent``, schema: "a convenience link to see if
  the invoice has been sent or not") lists its ``/invoices/sent`` records (:func:`sent_of`).
- §11: ``/customers/{n}/invoices`` links to the customer's drafts and booked invoices, two collections
  filtered on ``customer.customerNumber`` with the fields their own schemas flag.

"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from sandbox.economic import documents, legacy
from sandbox.economic.errors import not_found
from sandbox.economic.resources import ACCOUNTING_YEARS, CUSTOMERS, EMPLOYEES
from sandbox.economic.schemas import collection_fields
from sandbox.economic.store import Store, link

Record = dict[str, Any]
#: the views over booked invoices, by their path segment under ``/invoices``
VIEWS = ("paid", "unpaid", "overdue", "not-due")


class Clock:
    """The sandbox's "today": the machine's date unless a test fixed it (``/_sandbox/clock``)."""

    def __init__(self) -> None:
        self._fixed: date | None = None
        self._lock = threading.Lock()

    def today(self) -> date:
        with self._lock:
            return self._fixed or date.today()

    def fix(self, day: date | None) -> None:
        """Fix today to ``day``; None follows the machine's date again."""
        with self._lock:
            self._fixed = day

    @property
    def fixed(self) -> date | None:
        return self._fixed


def invoices_index() -> Record:
    """``GET /invoices`` (schema ``invoices.get``)."""
    names = {
        "drafts": "drafts",
        "booked": "booked",
        "paid": "paid",
        "unpaid": "unpaid",
        "overdue": "overdue",
        "notDue": "not-due",
        "sent": "sent",
        "totals": "totals",
    }
    return {**{name: link(f"invoices/{path}") for name, path in names.items()}, "self": link("invoices")}


# ---------------------------------------------------------------------------------------------- the views


def _remainder(record: Record) -> float:
    return round(float(record.get("remainder", 0.0) or 0.0), 2)


def _due(record: Record) -> str:
    return str(record.get("dueDate") or record.get("date") or "")


def is_paid(record: Record) -> bool:
    return _remainder(record) == 0


def is_unpaid(record: Record) -> bool:
    return _remainder(record) != 0


def is_overdue(record: Record, today: str) -> bool:
    return is_unpaid(record) and _due(record) < today


def is_not_due(record: Record, today: str) -> bool:
    return _due(record) >= today


def view_test(name: str, today: date) -> Callable[[Record], bool] | None:
    """The records a view over booked invoices holds, or None when ``name`` is not a view."""
    day = today.isoformat()
    tests: dict[str, Callable[[Record], bool]] = {
        "paid": is_paid,
        "unpaid": is_unpaid,
        "overdue": lambda record: is_overdue(record, day),
        "not-due": lambda record: is_not_due(record, day),
    }
    return tests.get(name)


def list_view(store: Store, name: str, params: Mapping[str, str], base: str, today: date) -> Record:
    """``GET /invoices/{paid|unpaid|overdue|not-due}`` (schemas ``invoices.{name}.get``)."""
    test = view_test(name, today)
    if test is None:
        raise not_found("The resource")
    return legacy.list_resource(
        store,
        documents.BOOKED_INVOICES,
        params,
        base,
        view=documents.without_lines,
        view_name="list",
        where=test,
        path=f"invoices/{name}",
        fields=collection_fields(f"invoices.{name}.get"),
    )


def sent_of(store: Store, number: int, params: Mapping[str, str], base: str) -> Record:
    """``GET /invoices/booked/{n}/sent``, the booked invoice's ``sent`` link, which its schema describes as
    "a convenience link to see if the invoice has been sent or not" and no source spells out: the sandbox
    answers the ``/invoices/sent`` collection (schema ``invoices.sent.get``) narrowed to that invoice, so an
    empty collection means "not sent"."""
    return legacy.list_resource(
        store,
        documents.SENT_INVOICES,
        params,
        base,
        where=lambda record: record["invoice"]["bookedInvoiceNumber"] == number,
        path=f"invoices/booked/{number}/sent",
    )


# ------------------------------------------------------------------------------------- customer invoices


def customer_invoices(store: Store, parts: list[str], params: Mapping[str, str], base: str) -> Record:
    """``GET /customers/{n}/invoices[/drafts|/booked]`` (schemas ``customers.customerNumber.invoices*``);
    ``parts`` is the whole path split on ``/``."""
    customer = legacy.get_item(store, CUSTOMERS, parts[1])
    number = customer["customerNumber"]
    prefix = f"customers/{number}/invoices"
    if len(parts) == 3:
        return {"drafts": link(f"{prefix}/drafts"), "booked": link(f"{prefix}/booked"), "self": link(prefix)}
    kinds = {"drafts": documents.DRAFT_INVOICES, "booked": documents.BOOKED_INVOICES}
    if len(parts) != 4 or parts[3] not in kinds:
        raise not_found("The resource")
    return legacy.list_resource(
        store,
        kinds[parts[3]],
        params,
        base,
        view=documents.without_lines,
        view_name="list",
        where=lambda record: (record.get("customer") or {}).get("customerNumber") == number,
        path=f"{prefix}/{parts[3]}",
        fields=collection_fields(f"customers.customerNumber.invoices.{parts[3]}.get"),
    )


# ------------------------------------------------------------------------------------------------ totals


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def _sums(records: Iterable[Record], *, remainder: bool = False, dates: bool = True) -> Record:
    rows = list(records)
    body: Record = {
        "netAmountInBaseCurrency": _money(sum(float(r.get("netAmountInBaseCurrency", 0.0)) for r in rows)),
        "invoiceCount": len(rows),
    }
    issued = sorted(str(r["date"]) for r in rows if r.get("date"))
    if dates and issued:
        body["maxDate"] = issued[-1]
        body["minDate"] = issued[0]
    if remainder:
        body["grossRemainderInBaseCurrency"] = _money(
            sum(float(r.get("remainderInBaseCurrency", 0.0)) for r in rows)
        )
    return body


class Totals:
    """``GET /invoices/totals[/...]`` over one store, with today from the clock."""

    def __init__(self, store: Store, today: date) -> None:
        self.store = store
        self.today = today.isoformat()
        self.booked = list(store.table(documents.BOOKED_INVOICES.path).values())
        self.drafts = list(store.table(documents.DRAFT_INVOICES.path).values())

    def answer(self, rest: list[str]) -> Record:
        """The body for the path below ``invoices/totals`` (split on ``/``); 404 for any other."""
        if not rest:
            return self.index()
        head, tail = rest[0], rest[1:]
        if head == "booked":
            booked = {
                (): self.booked_totals,
                ("paid",): self.paid,
                ("unpaid",): self.unpaid,
                ("unpaid", "overdue"): self.overdue,
                ("unpaid", "not-overdue"): self.not_overdue,
            }.get(tuple(tail))
            if booked is not None:
                return booked()
        elif head == "drafts":
            return self.drafts_totals(tail)
        raise not_found("The resource")

    # -- booked
    def _paid(self) -> list[Record]:
        return [r for r in self.booked if is_paid(r)]

    def _unpaid(self) -> list[Record]:
        return [r for r in self.booked if is_unpaid(r)]

    def _overdue(self) -> list[Record]:
        return [r for r in self.booked if is_overdue(r, self.today)]

    def _not_overdue(self) -> list[Record]:
        return [r for r in self._unpaid() if not is_overdue(r, self.today)]

    def booked_totals(self) -> Record:
        """Schema ``invoices.totals.booked.get``."""
        path = "invoices/totals/booked"
        return {
            **_sums(self.booked),
            "paid": link(f"{path}/paid"),
            "unpaid": link(f"{path}/unpaid"),
            "self": link(path),
        }

    def paid(self) -> Record:
        """Schema ``invoices.totals.booked.paid.get``."""
        return {**_sums(self._paid()), "self": link("invoices/totals/booked/paid")}

    def unpaid(self) -> Record:
        """Schema ``invoices.totals.booked.unpaid.get``."""
        path = "invoices/totals/booked/unpaid"
        return {
            **_sums(self._unpaid(), remainder=True),
            "overdue": link(f"{path}/overdue"),
            "notOverdue": link(f"{path}/not-overdue"),
            "self": link(path),
        }

    def overdue(self) -> Record:
        """Schema ``invoices.totals.booked.unpaid.overdue.get``."""
        return {
            **_sums(self._overdue(), remainder=True),
            "self": link("invoices/totals/booked/unpaid/overdue"),
        }

    def not_overdue(self) -> Record:
        """Schema ``invoices.totals.booked.unpaid.not-overdue.get``."""
        return {
            **_sums(self._not_overdue(), remainder=True),
            "self": link("invoices/totals/booked/unpaid/not-overdue"),
        }

    def index(self) -> Record:
        """Schema ``invoices.totals.get``: drafts and booked, each part with its description and its link.
        The schema gives ``grossRemainderInBaseCurrency`` to ``unpaid`` and ``overdue`` only, not to
        ``notOverdue`` (whose own resource has it), and no ``minDate``/``maxDate``: so does the answer."""

        def part(
            rows: list[Record], description: str, path: str, *, remainder: bool = False, **children: Record
        ) -> Record:
            sums = _sums(rows, remainder=remainder, dates=False)
            return {**sums, "description": description, **children, "self": link(path)}

        booked = "invoices/totals/booked"
        unpaid = part(
            self._unpaid(),
            "Booked invoices not yet paid.",
            f"{booked}/unpaid",
            remainder=True,
            overdue=part(
                self._overdue(),
                "Unpaid booked invoices past their due date.",
                f"{booked}/unpaid/overdue",
                remainder=True,
            ),
            notOverdue=part(
                self._not_overdue(),
                "Unpaid booked invoices due today or later.",
                f"{booked}/unpaid/not-overdue",
            ),
        )
        return {
            "drafts": part(self.drafts, "All draft invoices.", "invoices/totals/drafts"),
            "booked": part(
                self.booked,
                "All booked invoices.",
                booked,
                paid=part(self._paid(), "Booked invoices paid in full.", f"{booked}/paid"),
                unpaid=unpaid,
            ),
            "self": link("invoices/totals"),
        }

    # -- drafts
    def drafts_totals(self, rest: list[str]) -> Record:
        path = "invoices/totals/drafts"
        if not rest:  # schema invoices.totals.drafts.get
            return {
                **_sums(self.drafts),
                "customers": link(f"{path}/customers"),
                "employees": link(f"{path}/employees"),
                "self": link(path),
            }
        group = {"customers": ("customer", "customerNumber"), "employees": ("employee", "employeeNumber")}
        if rest[0] not in group:
            raise not_found("The resource")
        kind, key_name = group[rest[0]]
        resource = CUSTOMERS if kind == "customer" else EMPLOYEES

        def owner(record: Record) -> Any:
            holder = (
                record.get("customer")
                if kind == "customer"
                else (record.get("references") or {}).get("salesPerson")
            )
            return (holder or {}).get(key_name)

        group_path = f"{path}/{rest[0]}"
        if len(rest) == 1:  # schemas invoices.totals.drafts.{customers,employees}.get
            numbers = sorted({owner(r) for r in self.drafts if owner(r) is not None})
            return {
                **_sums(self.drafts),
                rest[0]: [
                    {
                        **_sums(r for r in self.drafts if owner(r) == n),
                        "self": link(f"{group_path}/{n}"),
                        kind: {key_name: n, "self": link(f"{resource.path}/{n}")},
                    }
                    for n in numbers
                ],
                "self": link(group_path),
            }
        number = legacy.get_item(self.store, resource, rest[1])[key_name]
        mine = [r for r in self.drafts if owner(r) == number]
        one_path = f"{group_path}/{number}"
        reference = {kind: {key_name: number, "self": link(f"{resource.path}/{number}")}}
        if len(rest) == 2:  # ... .customerNumber.get / .employeeNumber.get
            return {**_sums(mine), **reference, "self": link(one_path)}
        if len(rest) == 4 and rest[2] == "accounting-years":  # ... .accounting-years.accountingYear.get
            year = legacy.get_item(self.store, ACCOUNTING_YEARS, rest[3])
            within = [r for r in mine if year["fromDate"] <= str(r.get("date", "")) <= year["toDate"]]
            body = _sums(within, dates=False)
            if kind == "customer":
                body["customers"] = link(group_path)
            body["accountingYear"] = {"year": year["year"], "self": year["self"]}
            body["self"] = link(f"{one_path}/accounting-years/{year['year']}")
            return body
        if len(rest) == 4 and rest[2] == "periods":  # ... .periods.accountingPeriod.get
            period, first, last = self._period(rest[3])
            within = [r for r in mine if first <= str(r.get("date", "")) <= last]
            body = _sums(within, dates=False)
            if kind == "customer":
                body["customers"] = link(group_path)
            body["period"] = {"periodNumber": period}
            body["self"] = link(f"{one_path}/periods/{period}")
            return body
        raise not_found("The resource")

    def _period(self, segment: str) -> tuple[int, str, str]:
        """(number, first day, last day) of a period of the accounting year holding today (see the module
        docstring)."""
        try:
            number = int(segment)
        except ValueError:
            raise not_found() from None
        years = self.store.table(ACCOUNTING_YEARS.path).values()
        year = next((y for y in years if y["fromDate"] <= self.today <= y["toDate"]), None)
        if year is None or number < 1:
            raise not_found()
        start = date.fromisoformat(year["fromDate"])
        month_index = start.month - 1 + number - 1
        first = date(start.year + month_index // 12, month_index % 12 + 1, 1)
        if number == 1:
            first = start
        next_index = month_index + 1
        following = date(start.year + next_index // 12, next_index % 12 + 1, 1)
        last = min(date.fromordinal(following.toordinal() - 1), date.fromisoformat(year["toDate"]))
        if first > date.fromisoformat(year["toDate"]):
            raise not_found()
        return number, first.isoformat(), last.isoformat()


# ------------------------------------------------------------------------------------------ test knob


def set_remainder(store: Store, number: int, body: Any) -> Record:
    """The admin knob behind ``PUT /_sandbox/invoices/booked/{n}/remainder`` (the sandbox's own route, for
    tests; the real API records payments through journals, §12.13, which the sandbox does not settle
    against invoices). ``body`` is ``{"remainder": x}`` with an optional ``remainderInBaseCurrency``
    (default ``x`` at the invoice's exchange rate, §4 "Exchange rate"). Amounts take at most 2 decimals
    (§4 "Money"). KeyError for an unknown invoice, ValueError for a bad body."""
    if not isinstance(body, dict) or "remainder" not in body:
        raise ValueError('the body must be a JSON object with "remainder"')
    amounts: dict[str, float] = {}
    for name in ("remainder", "remainderInBaseCurrency"):
        if name not in body:
            continue
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError(f"{name} must be a number")
        if round(float(value), 2) != float(value):
            raise ValueError(f"{name} takes at most 2 decimals")
        amounts[name] = float(value)
    with store.lock:
        booked = store.get(documents.BOOKED_INVOICES.path, number)
        if booked is None:
            raise KeyError(number)
        updated = dict(booked)
        updated["remainder"] = amounts["remainder"]
        rate = float(booked.get("exchangeRate") or 100.0)
        updated["remainderInBaseCurrency"] = amounts.get(
            "remainderInBaseCurrency", _money(amounts["remainder"] * rate / 100.0)
        )
        store.put(documents.BOOKED_INVOICES.path, number, updated)
    return updated
