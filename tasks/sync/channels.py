"""How e-conomic holds a posted document: the poster's two channels (the writers of documents).

- `InvoiceChannel`: a draft invoice e-conomic prices itself (`/invoices/drafts`), booked as an invoice
  (`/invoices/booked`, under a chosen number where e-conomic takes it: economic-api.md 12.11, 12.12).
- `VoucherChannel`: a journal voucher whose entries carry our amounts (`/journals/{n}/vouchers`), booked from
  the journal by journalsapi's `bookdraftentries` (economic-api.md 12.13); each entry's VAT code is its
  account's own (rackbeat-api.md 4.5), read once per account. The entries a post created are booked by the
  numbers e-conomic answered with (its answer's entries carry `journalEntryNumber`, economic-api.md 12.13);
  a voucher posted by an earlier attempt has its entries found by their text.

Both find a document by the reference it carries, in a field that is filterable before and after booking
(`references.other` on invoices, `text` on journal and accounting-year entries), so a poster whose answer
was lost adopts what is there instead of posting again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clients.economic import EconomicClient
from clients.errors import NotFoundError
from tasks.errors import TotalsDiffer

CENT = Decimal("0.01")
JOURNALS_API = "journalsapi/v15.0.0"


@dataclass(frozen=True)
class Found:
    """A document as e-conomic holds it: where (`resource`), under which key, and its body."""

    resource: str
    key: Any
    document: dict[str, Any]


class Channel(ABC):
    #: The binding's resource for a document posted but not booked, and for a booked one.
    posted: str
    booked: str

    def __init__(self, economic: EconomicClient) -> None:
        self.economic = economic

    @abstractmethod
    def find(self, reference: str, document: dict[str, Any], *, booked_only: bool = False) -> Found | None:
        """The document carrying `reference` (unbooked first, then booked), or None."""

    @abstractmethod
    def post(self, document: dict[str, Any], idempotency_key: str) -> Found:
        """Send the unbooked document; returns it as e-conomic answered."""

    @abstractmethod
    def check(self, found: Found, gross_total: Decimal, withdraw_key: str) -> None:
        """When e-conomic holds a different total than the source: take the unbooked document back and raise
        `TotalsDiffer`."""

    @abstractmethod
    def still_unbooked(self, key: Any, reference: str, document: dict[str, Any]) -> bool:
        """Whether the unbooked document bound under `key` is still there to be booked."""

    @abstractmethod
    def book(
        self, key: Any, reference: str, document: dict[str, Any], number: int | None, idempotency_key: str
    ) -> Any:
        """Book the unbooked document; returns the booked key."""


class InvoiceChannel(Channel):
    posted = "invoices/drafts"
    booked = "invoices/booked"

    def find(self, reference: str, document: dict[str, Any], *, booked_only: bool = False) -> Found | None:
        wanted = f"references.other$eq:{reference}"
        places = [(self.booked, "bookedInvoiceNumber")]
        if not booked_only:
            places.insert(0, (self.posted, "draftInvoiceNumber"))
        for resource, key_field in places:
            for found in self.economic.iter_collection(resource, filter=wanted):
                if (found.get("references") or {}).get("other") == reference:
                    return Found(resource, found[key_field], found)
        return None

    def post(self, document: dict[str, Any], idempotency_key: str) -> Found:
        answer = self.economic.create(self.posted, document, idempotency_key=idempotency_key)
        return Found(self.posted, answer["draftInvoiceNumber"], answer)

    def check(self, found: Found, gross_total: Decimal, withdraw_key: str) -> None:
        priced = Decimal(str(found.document.get("grossAmount", 0))).quantize(CENT)
        if priced != gross_total:
            self.economic.delete(self.posted, found.key, idempotency_key=withdraw_key)
            raise TotalsDiffer(
                str(gross_total), str(priced), api="economic", resource=self.posted, field="grossAmount"
            )

    def still_unbooked(self, key: Any, reference: str, document: dict[str, Any]) -> bool:
        try:
            self.economic.get_item(self.posted, key)
        except NotFoundError:
            return False
        return True

    def book(
        self, key: Any, reference: str, document: dict[str, Any], number: int | None, idempotency_key: str
    ) -> Any:
        request: dict[str, Any] = {"draftInvoice": {"draftInvoiceNumber": key}}
        if number is not None:
            request["bookWithNumber"] = number
        booked = self.economic.create(self.booked, request, idempotency_key=idempotency_key)
        return booked["bookedInvoiceNumber"]


class VoucherChannel(Channel):
    posted = "journals/vouchers"
    booked = "accounting-years/entries"

    def __init__(self, economic: EconomicClient) -> None:
        super().__init__(economic)
        self._vat_codes: dict[int, str | None] = {}
        # (voucher key, its journal entry numbers) as e-conomic answered this channel's last post: booked by
        # them when that voucher is booked next (the poster's channel lives for one transfer)
        self._last_posted: tuple[Any, list[int]] | None = None

    @staticmethod
    def _journal(document: dict[str, Any]) -> int:
        return int(document["journal"]["journalNumber"])

    @staticmethod
    def _year(document: dict[str, Any]) -> str:
        return str(document["accountingYear"]["year"])

    def _draft_entries(self, reference: str, document: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"journals/{self._journal(document)}/entries"
        entries = self.economic.iter_collection(path, filter=f"text$eq:{reference}")
        return [entry for entry in entries if entry.get("text") == reference]

    def find(self, reference: str, document: dict[str, Any], *, booked_only: bool = False) -> Found | None:
        if not booked_only:
            drafts = self._draft_entries(reference, document)
            if drafts:
                voucher = drafts[0]["voucher"]
                key = f"{voucher['accountingYear']['year']}-{voucher['voucherNumber']}"
                return Found(self.posted, key, {"entries": drafts})
        path = f"accounting-years/{self._year(document)}/entries"
        booked = [
            e
            for e in self.economic.iter_collection(path, filter=f"text$eq:{reference}")
            if e.get("text") == reference
        ]
        if booked:
            return Found(
                self.booked, f"{self._year(document)}-{booked[0]['voucherNumber']}", {"entries": booked}
            )
        return None

    def check(self, found: Found, gross_total: Decimal, withdraw_key: str) -> None:
        """A voucher carries our own amounts, checked against Rackbeat's total when it was mapped."""

    def _vat_code(self, account: int) -> str | None:
        if account not in self._vat_codes:
            found = self.economic.get_item("accounts", account)
            self._vat_codes[account] = (found.get("vatAccount") or {}).get("vatCode")
        return self._vat_codes[account]

    def post(self, document: dict[str, Any], idempotency_key: str) -> Found:
        body = {
            **document,
            "entries": {name: [dict(e) for e in rows] for name, rows in document["entries"].items()},
        }
        for entry in body["entries"].get("supplierInvoices", []):
            code = self._vat_code(int(entry["contraAccount"]["accountNumber"]))
            if code and "contraVatAccount" not in entry:
                entry["contraVatAccount"] = {"vatCode": code}
        answer = self.economic.create(
            f"journals/{self._journal(document)}/vouchers", body, idempotency_key=idempotency_key
        )
        vouchers = answer if isinstance(answer, list) else [answer]
        voucher = vouchers[0]
        key = f"{voucher['accountingYear']['year']}-{voucher['voucherNumber']}"
        numbers = _entry_numbers(vouchers)
        self._last_posted = (key, numbers) if numbers else None
        return Found(self.posted, key, voucher)

    def still_unbooked(self, key: Any, reference: str, document: dict[str, Any]) -> bool:
        return bool(self._draft_entries(reference, document))

    def book(
        self, key: Any, reference: str, document: dict[str, Any], number: int | None, idempotency_key: str
    ) -> Any:
        posted, self._last_posted = self._last_posted, None
        if posted is not None and posted[0] == key:
            numbers = posted[1]
        else:
            numbers = [int(entry["journalEntryNumber"]) for entry in self._draft_entries(reference, document)]
        self.economic.openapi_post(
            JOURNALS_API,
            f"journals/{self._journal(document)}/bookdraftentries",
            {"entryNumbers": numbers},
            idempotency_key=idempotency_key,
        )
        return key


def _entry_numbers(vouchers: list[dict[str, Any]]) -> list[int]:
    """The journal entry numbers of every entry of the vouchers e-conomic answered a post with (it may split
    one posted voucher into several); [] when any entry lacks its number (then they are found by text)."""
    entries = [
        entry
        for voucher in vouchers
        for rows in (voucher.get("entries") or {}).values()
        if isinstance(rows, list)
        for entry in rows
    ]
    if not entries or any(
        not isinstance(entry, dict) or "journalEntryNumber" not in entry for entry in entries
    ):
        return []
    return [int(entry["journalEntryNumber"]) for entry in entries]


CHANNELS: dict[str, type[Channel]] = {"invoice": InvoiceChannel, "voucher": VoucherChannel}
