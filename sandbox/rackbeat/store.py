"""The Rackbeat data and the writes the API makes on it: a :class:`Store` of one :class:`Collection` per
resource (a dict keyed by number) plus the registered webhooks, guarded by one re-entrant lock.

The store is what the sandbox hands its API (``RackbeatApi(store, ...)``), as the e-conomic sandbox hands its
own. Each write validates (raising :class:`~sandbox.rackbeat.errors.Invalid` or ``NotFound``), commits under
the lock, then tells ``notify`` what happened (resource, action, key, whether suppressed); the sandbox turns
that into webhook deliveries. Saving the state file is not the store's business: the API calls its
``on_change`` after each write it answered with success.

The writes rest on /work/shared/reference/rackbeat-api.md: drafts, ``/book`` and ``convert-to-invoice``
(section 2.2, endpoint map), an order's lines locked once it is booked and ``mark_received`` putting goods in
stock (section 2.3, order and supplier invoice), ``suppress_webhooks`` (sections 1.4 and 3.2). Where the
reference is silent (booked invoices cannot change or be deleted, the average cost price on receipt) the
choice is listed in the package docstring (``sandbox/rackbeat/__init__.py``).

Changes of stock (receipts, shipments, inventory adjustments) go through ``stock.Stock``, which writes each
to the stock ledger at the sandbox clock's time; see ``stock.py`` for which writes move stock and why a move
neither touches ``updated_at`` nor fires a webhook.

Single reads are dict look-ups. Lists need the records in key order; that order is computed lazily and kept
until a key is added or removed (an update keeps it), so paging an unchanged collection costs only the page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sandbox.rackbeat import records as rec
from sandbox.rackbeat.attachments import ATTACHABLE, Attachments
from sandbox.rackbeat.clock import Clock
from sandbox.rackbeat.errors import Invalid, NotFound, invalid
from sandbox.rackbeat.present import PRESENTATION_ONLY
from sandbox.rackbeat.records import urlfriendly_number
from sandbox.rackbeat.resources import ITEM_RESOURCES, RESOURCES, ResourceSpec
from sandbox.rackbeat.stock import Stock
from sandbox.rackbeat.validation import normalise, validate, validate_lines
from sandbox.rackbeat.webhooks import WebhookRegistry, public_view

#: documents -> the field naming their customer or supplier
DOCUMENT_PARTY = {
    "orders": "customer_id",
    "customer-invoices": "customer_id",
    "supplier-invoices": "supplier_id",
}
PARTY_RESOURCE = {"customer_id": "customers", "supplier_id": "suppliers"}

Notify = Callable[[ResourceSpec, str, Any, bool], None]
"""Told of each committed write: (resource, action ``created``/``updated``/``deleted``/``booked``, key,
whether the caller asked to suppress webhooks)."""


def _ignore(spec: ResourceSpec, action: str, key: Any, suppress: bool) -> None:
    """The default :data:`Notify`: nobody listens."""


def sort_value(value: Any) -> tuple:
    """A total order over mixed JSON values: None first, then numbers, then strings, then the rest."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


class Collection:
    def __init__(self, key_type: type):
        self.key_type = key_type
        self.records: dict[Any, dict] = {}
        self._by_urlfriendly: dict[str, Any] = {}
        self._sorted_keys: list[Any] | None = None
        self._next_id = 1
        self._max_number = 0

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: Any) -> dict | None:
        return self.records.get(key)

    def find_by_urlfriendly(self, value: str) -> dict | None:
        key = self._by_urlfriendly.get(value)
        return None if key is None else self.records.get(key)

    def put(self, record: dict) -> None:
        """Insert or replace the record stored under ``record["number"]``."""
        key = record["number"]
        if key not in self.records:
            self._sorted_keys = None
        self.records[key] = record
        if self.key_type is str:
            self._by_urlfriendly[urlfriendly_number(key)] = key
        if isinstance(key, int) and key > self._max_number:
            self._max_number = key
        if isinstance(record.get("id"), int) and record["id"] >= self._next_id:
            self._next_id = record["id"] + 1

    def delete(self, key: Any) -> dict | None:
        record = self.records.pop(key, None)
        if record is not None:
            self._sorted_keys = None
            if self.key_type is str:
                self._by_urlfriendly.pop(urlfriendly_number(key), None)
        return record

    def sorted_keys(self) -> list[Any]:
        """All keys in ascending order (cached until a key is added or removed)."""
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.records, key=sort_value)
        return self._sorted_keys

    def sorted_records(self) -> list[dict]:
        records = self.records
        return [records[k] for k in self.sorted_keys()]

    def page_in_key_order(self, offset: int, limit: int, descending: bool = False) -> list[dict]:
        """One page in key order without touching the other records."""
        keys = self.sorted_keys()
        if descending:
            end = len(keys) - offset
            chosen = keys[max(0, end - limit) : max(0, end)][::-1]
        else:
            chosen = keys[offset : offset + limit]
        return [self.records[k] for k in chosen]

    def next_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def next_number(self) -> int:
        return self._max_number + 1

    def clear(self) -> None:
        self.records.clear()
        self._by_urlfriendly.clear()
        self._sorted_keys = None
        self._next_id = 1
        self._max_number = 0


class Store:
    """All Rackbeat data and the operations on it; see the module docstring."""

    def __init__(self, notify: Notify = _ignore, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.collections: dict[str, Collection] = {p: Collection(s.key_type) for p, s in RESOURCES.items()}
        self.webhooks = WebhookRegistry()
        self.attachments = Attachments()
        self.clock = clock or Clock()
        self.stock = Stock(self.collections, self.clock)
        self._notify = notify

    # -- look-ups --
    def spec(self, resource: str) -> ResourceSpec:
        spec = RESOURCES.get(resource) or next((s for s in RESOURCES.values() if s.plural == resource), None)
        if spec is None:
            raise KeyError(resource)
        return spec

    def get(self, resource: str, key: Any) -> dict | None:
        """The stored record (for tests: the sandbox's own view, no embeds)."""
        spec = self.spec(resource)
        if spec.key_type is int:
            try:
                key = int(key)
            except (TypeError, ValueError):
                return None
        return self.collections[spec.path].get(key)

    def exists(self, resource: str, key: Any) -> bool:
        return self.get(resource, key) is not None

    def find_item(self, number: str) -> dict | None:
        """A product or lot by number."""
        return self.collections["products"].get(number) or self.collections["lots"].get(number)

    def lookup(self, resource: str, key: Any) -> dict | None:
        return self.collections[resource].get(key)

    # -- writes (called by the API; each raises Invalid / NotFound) --
    def create(self, resource: str, payload: dict, *, booked: bool = False, suppress: bool = False) -> dict:
        spec = self.spec(resource)
        with self.lock:
            collection = self.collections[spec.path]
            fields = self._validated(spec, payload, creating=True, current_key=None)
            number = fields.pop("number", None)
            if number is None:
                number = collection.next_number()
            now = rec.now_iso()
            record = rec.new_record(spec, fields, record_id=collection.next_id(), number=number, now=now)
            self._complete_document(spec, record, fields)
            if spec.bookable and booked:
                record["is_booked"] = True
                record["booked_at"] = now
                if spec.path == "customer-invoices":
                    self.stock.ship(record)
            collection.put(record)
        self._notify(spec, "created", number, suppress)
        if spec.bookable and booked:
            self._notify(spec, "booked", number, suppress)
        return record

    def update(self, resource: str, key: Any, payload: dict, *, suppress: bool = False) -> dict:
        spec = self.spec(resource)
        with self.lock:
            collection = self.collections[spec.path]
            record = self._existing(spec, key)
            if spec.bookable and record.get("is_booked"):
                self._check_booked_update(spec, payload)
            fields = self._validated(spec, payload, creating=False, current_key=record["number"])
            new_number = fields.pop("number", record["number"])
            updated = rec.updated_record(spec, record, fields, now=rec.now_iso())
            self._complete_document(spec, updated, fields)
            if new_number != record["number"]:
                collection.delete(record["number"])
                updated["number"] = new_number
                rec.derive(spec, updated)
            if spec.path in ITEM_RESOURCES:
                self.stock.record_update(spec.path, record, updated)
            collection.put(updated)
        self._notify(spec, "updated", new_number, suppress)
        return updated

    def delete(self, resource: str, key: Any, *, suppress: bool = False) -> dict:
        spec = self.spec(resource)
        with self.lock:
            record = self._existing(spec, key)
            if spec.bookable and record.get("is_booked") and spec.path != "orders":
                raise invalid("is_booked", "A booked invoice cannot be deleted.")
            self.collections[spec.path].delete(record["number"])
            self.attachments.drop(spec.path, record["number"])
        self._notify(spec, "deleted", record["number"], suppress)
        return record

    def book(self, resource: str, key: Any, options: dict, *, suppress: bool = False) -> dict:
        spec = self.spec(resource)
        if not spec.bookable:
            raise NotFound()
        with self.lock:
            record = self._existing(spec, key)
            if record.get("is_booked"):
                raise invalid("is_booked", f"The {spec.singular.replace('_', ' ')} is already booked.")
            booked = dict(record, is_booked=True, booked_at=rec.now_iso(), updated_at=rec.now_iso())
            if spec.path == "supplier-invoices" and options.get("mark_received"):
                self.stock.receive(booked)
            if spec.path == "customer-invoices":
                self.stock.ship(booked)
            self.collections[spec.path].put(booked)
        self._notify(spec, "booked", booked["number"], suppress)
        return booked

    def convert_order_to_invoice(self, key: Any, *, book: bool, suppress: bool = False) -> dict:
        """An invoice from an order's lines, linked by ``order_id``; the order is marked invoiced."""
        with self.lock:
            order = self._existing(RESOURCES["orders"], key)
            if order.get("is_invoiced"):
                raise invalid("is_invoiced", "The order is already invoiced.")
            lines = [
                {
                    k: line[k]
                    for k in (
                        "item_id",
                        "name",
                        "quantity",
                        "line_price",
                        "discount_percentage",
                        "vat_percentage",
                        "location_id",
                    )
                    if line.get(k) is not None
                }
                for line in order.get("lines", [])
            ]
            header = {
                k: order[k]
                for k in (
                    "customer_id",
                    "currency",
                    "vat_zone",
                    "layout_id",
                    "payment_terms_id",
                    "employee_id",
                    "project_id",
                    "heading",
                )
                if order.get(k) is not None
            }
            invoice = self.create(
                "customer-invoices",
                header | {"order_id": order["number"], "lines": lines},
                booked=book,
                suppress=suppress,
            )
            self.collections["orders"].put(dict(order, is_invoiced=True, updated_at=rec.now_iso()))
        return invoice

    def upsert_project(self, payload: dict, *, suppress: bool = False) -> tuple[dict, bool]:
        number = payload.get("number")
        if number is not None and self.exists("projects", number):
            return self.update("projects", number, payload, suppress=suppress), False
        return self.create("projects", payload, suppress=suppress), True

    def create_adjustment(self, payload: dict) -> dict:
        """``POST inventory-adjustments`` (see ``adjustments.py``): the stored, unbooked regulation."""
        with self.lock:
            return self.stock.create_adjustment(payload)

    def book_adjustment(self, regulation_id: int) -> dict:
        """``POST inventory-adjustments/{id}/book``: the stock set to the target; the booked regulation."""
        with self.lock:
            return self.stock.book_adjustment(regulation_id)

    def attach(self, resource: str, key: Any, filename: str, content: bytes, mime_type: str) -> dict:
        """A user's file on a record (see ``sandbox.rackbeat.attachments``): the stored attachment."""
        spec = self.spec(resource)
        if spec.path not in ATTACHABLE:
            raise ValueError(f"{spec.path} records take no attachments (only {sorted(ATTACHABLE)})")
        if not filename or not isinstance(content, bytes) or not mime_type:
            raise ValueError("an attachment needs a filename, bytes and a mime type")
        with self.lock:
            record = self.get(spec.path, key)
            if record is None:
                raise NotFound()
            return self.attachments.add(spec.path, record["number"], filename, content, mime_type)

    # -- write helpers --
    def _existing(self, spec: ResourceSpec, key: Any) -> dict:
        record = self.collections[spec.path].get(key)
        if record is None:
            raise NotFound()
        return record

    def _validated(self, spec: ResourceSpec, payload: dict, *, creating: bool, current_key: Any) -> dict:
        fields, written_as = normalise(spec, payload)
        collection = self.collections[spec.path]
        errors = validate(
            spec,
            fields,
            written_as,
            creating=creating,
            exists=lambda resource, key: self.collections[resource].get(key) is not None,
            key_taken=lambda key: key != current_key and collection.get(key) is not None,
        )
        if "lines" in fields and isinstance(fields["lines"], list) and "lines" not in errors:
            key = fields.get("number", current_key)
            item_exists = (
                (lambda n: self.find_item(n) is not None and n != key)
                if spec.path == "lots"
                else (lambda n: self.find_item(n) is not None)
            )
            if spec.path != "lots" or fields["lines"]:
                item_field = "product_id" if spec.path == "lots" else "item_id"
                errors |= validate_lines(fields["lines"], item_exists, item_field=item_field)
        if errors:
            raise Invalid(errors)
        return fields

    def _check_booked_update(self, spec: ResourceSpec, payload: dict) -> None:
        if spec.path == "orders":
            if "lines" in payload:
                raise invalid("lines", "The lines of a booked order cannot be changed.")
            return
        raise invalid("is_booked", f"A booked {spec.singular.replace('_', ' ')} cannot be changed.")

    def _complete_document(self, spec: ResourceSpec, record: dict, fields: dict) -> None:
        """Lines, totals and party defaults of documents and BOMs (in place)."""
        if spec.path == "lots" and "lines" in fields:
            record["lines"] = rec.build_bom_lines(fields["lines"], self.find_item, first_id=1)
            return
        party_field = DOCUMENT_PARTY.get(spec.path)
        if party_field is None:
            return
        party = self.collections[PARTY_RESOURCE[party_field]].get(record.get(party_field)) or {}
        for inherited in ("vat_zone", "currency", "payment_terms_id", "layout_id"):
            if inherited not in fields and party.get(inherited) is not None and party_field in fields:
                record[inherited] = party[inherited]
        if party_field in fields and "address_street" not in fields:
            for part in ("street", "street2", "city", "zipcode", "country"):
                record[f"address_{part}"] = party.get(f"address_{part}")
        if "lines" in fields:
            record["lines"] = rec.build_lines(
                fields["lines"],
                self.find_item,
                purchase=spec.path == "supplier-invoices",
                vat_percentage=rec.vat_for_zone(record.get("vat_zone")),
                first_id=1,
            )
        record |= rec.document_totals(record["lines"])
        if spec.path != "orders":
            record["balance"] = record["total_total"]
            if record.get("due_date") is None and record.get("invoice_date"):
                terms = self.collections["payment-terms"].get(record.get("payment_terms_id")) or {}
                record["due_date"] = rec.due_date(record["invoice_date"], terms.get("maturity_days"))

    # -- whole-store operations (the sandbox's admin hooks) --
    def clear(self) -> None:
        with self.lock:
            for collection in self.collections.values():
                collection.clear()
            self.webhooks.clear()
            self.attachments.clear()
            self.stock.clear()

    def counts(self) -> dict[str, int]:
        with self.lock:
            counts = {path: len(collection) for path, collection in self.collections.items()}
            counts["webhooks"] = len(self.webhooks.hooks)
            counts["inventory-adjustments"] = len(self.stock.regulations)
            counts["stock-ledger"] = len(self.stock.ledger)
        return counts

    def dump(self, resource: str) -> list[dict]:
        with self.lock:
            if resource == "webhooks":  # like the API, never show a webhook's token again
                return [public_view(hook) for hook in self.webhooks.hooks.values()]
            if resource == "inventory-adjustments":
                return self.stock.regulations.snapshot()
            if resource == "stock-ledger":
                return self.stock.ledger.snapshot()
            return [dict(r) for r in self.collections[self.spec(resource).path].sorted_records()]

    def load(self, data: dict[str, list[dict]]) -> dict[str, int]:
        """Upsert records in the API's JSON shape (no validation, no webhooks): seeding and fixtures."""
        loaded: dict[str, int] = {}
        with self.lock:
            for resource, rows in data.items():
                if not isinstance(rows, list):
                    raise ValueError(f"{resource}: expected a list of records")
                if resource == "webhooks":
                    self.webhooks.restore(self.webhooks.snapshot() + rows)
                    loaded["webhooks"] = len(rows)
                    continue
                spec = self.spec(resource)
                for row in rows:
                    self._load_one(spec, row)
                loaded[spec.path] = len(rows)
        return loaded

    def _load_one(self, spec: ResourceSpec, row: dict) -> None:
        if not isinstance(row, dict) or row.get("number") in (None, ""):
            raise ValueError(f"{spec.path}: every record needs a number")
        collection = self.collections[spec.path]
        fields = dict(row)
        for alias, stored in spec.aliases.items():
            value = fields.pop(alias, None)
            if stored not in fields and value is not None:
                fields[stored] = value.get("number") if isinstance(value, dict) else value
        for presented in PRESENTATION_ONLY:
            fields.pop(presented, None)
        number = spec.key_type(fields.pop("number"))
        existing = collection.get(number)
        now = rec.now_iso()
        if existing is not None:
            record = rec.derive(spec, dict(existing) | fields)
        else:
            record_id = fields.pop("id", None) or collection.next_id()
            record = rec.new_record(spec, fields, record_id=record_id, number=number, now=now)
            record["created_at"] = fields.get("created_at", now)
            record["updated_at"] = fields.get("updated_at", now)
        if spec.path in DOCUMENT_PARTY and record.get("lines") and "total_total" not in row:
            record["lines"] = rec.build_lines(
                record["lines"],
                self.find_item,
                purchase=spec.path == "supplier-invoices",
                vat_percentage=rec.vat_for_zone(record.get("vat_zone")),
                first_id=1,
            )
            record |= rec.document_totals(record["lines"])
        collection.put(record)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "collections": {path: list(c.records.values()) for path, c in self.collections.items()},
                "webhooks": self.webhooks.snapshot(),
                "attachments": self.attachments.snapshot(),
                **self.stock.snapshot(),
            }

    def restore(self, state: dict) -> None:
        with self.lock:
            for path, rows in state.get("collections", {}).items():
                collection = self.collections[path]
                collection.clear()
                for row in rows:
                    collection.put(row)
            self.webhooks.restore(state.get("webhooks", []))
            self.attachments.restore(state.get("attachments", []))
            self.stock.restore(state)
