"""The e-conomic sandbox's orders as the order import reads them (tasks/entities/order.py): which collection
holds a confirmed order, what `lastUpdated` says and how a poll filters on it, and what a list leaves out.

Facts (economic-api.md): 12.10 (drafts, sent, archived; a sent order cannot be modified; back to drafts by
POSTing it there), 9.3 and 10 (drafts and sent orders filter on `lastUpdated`, archived ones do not; a
filter value is `YYYY-MM-DDTHH:MM:SSZ` and an offset is refused), 15.11 (`lastUpdated` is set on writes),
and collection items of sales documents carry no lines (section 8 of the sandbox, `documents.without_lines`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.testing import CUSTOMER, PRODUCT, client, draft_invoice, serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def http(server: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    server[0].reset()
    with client(server[1]) as session:
        assert session.post("customers", json=CUSTOMER).status_code == 201
        assert session.post("products", json=PRODUCT).status_code == 201
        yield session


def sent_order(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    draft = http.post("orders/drafts", json=draft_invoice(1, "P-1", **extra))
    assert draft.status_code == 201, draft.text
    sent = http.post("orders/sent", json=draft.json())
    assert sent.status_code == 201, sent.text
    return sent.json()


def changed_since(http: httpx.Client, collection: str, since: str, operator: str = "$gte:") -> httpx.Response:
    return http.get(collection, params={"filter": f"lastUpdated{operator}{since}", "pagesize": 1000})


def test_a_sent_order_keeps_its_number_and_carries_last_updated_in_utc(http: httpx.Client) -> None:
    order = sent_order(http)
    assert order["orderNumber"] == 1 and http.get("orders/drafts").json()["collection"] == []
    stamp = order["lastUpdated"]
    assert len(stamp) == 20 and stamp[10] == "T" and stamp.endswith("Z"), stamp


def test_a_poll_of_sent_orders_finds_what_changed_since_its_watermark(http: httpx.Client) -> None:
    order = sent_order(http)
    stamp = order["lastUpdated"]
    found = changed_since(http, "orders/sent", stamp)
    assert found.status_code == 200
    assert [o["orderNumber"] for o in found.json()["collection"]] == [1]
    assert changed_since(http, "orders/sent", stamp, "$gt:").json()["collection"] == []
    assert changed_since(http, "orders/sent", "2000-01-01").json()["pagination"]["results"] == 1


def test_a_watermark_with_an_offset_is_refused_as_e_conomic_does(http: httpx.Client) -> None:
    sent_order(http)
    refused = changed_since(http, "orders/sent", "2000-01-01T00:00:00+00:00")
    assert refused.status_code == 400 and "lastUpdated" in refused.text


def test_archived_orders_cannot_be_polled_by_last_updated(http: httpx.Client) -> None:
    refused = changed_since(http, "orders/archived", "2000-01-01T00:00:00Z")
    assert refused.status_code == 400
    assert "lastUpdated" not in refused.json().get("allowedFilteringFields", [])


def test_a_list_of_orders_leaves_the_lines_out_and_one_order_has_them(http: httpx.Client) -> None:
    sent_order(http, notes={"heading": "Forår"}, references={"other": "PO-4711"})
    [listed] = http.get("orders/sent").json()["collection"]
    assert "lines" not in listed and listed["notes"]["heading"] == "Forår"
    one = http.get("orders/sent/1").json()
    assert [line["product"]["productNumber"] for line in one["lines"]] == ["P-1"]
    assert one["references"]["other"] == "PO-4711"


def test_a_sent_order_cannot_change_until_it_is_back_in_drafts_and_sent_again(http: httpx.Client) -> None:
    order = sent_order(http)
    assert http.put("orders/sent/1", json=order).status_code == 405
    back = http.post("orders/drafts", json=order)
    assert back.status_code == 201 and http.get("orders/sent").json()["collection"] == []
    changed = {**back.json(), "lines": [{"product": {"productNumber": "P-1"}, "quantity": 5}]}
    assert http.put("orders/drafts/1", json=changed).status_code == 200
    again = http.post("orders/sent", json=http.get("orders/drafts/1").json())
    assert again.status_code == 201 and again.json()["lines"][0]["quantity"] == 5
    assert again.json()["lastUpdated"] >= order["lastUpdated"]


def test_a_watermark_within_a_day_finds_only_what_changed_after_it(
    http: httpx.Client, server: tuple[EconomicSandbox, str]
) -> None:
    """`lastUpdated` compares as an instant, to the second: a poll does not read the whole day again."""
    order = sent_order(http)
    early, late = dict(order, orderNumber=2), dict(order, orderNumber=3)
    early["lastUpdated"], late["lastUpdated"] = "2026-11-30T08:00:00Z", "2026-11-30T12:00:00Z"
    server[0].load({"orders.sent": [early, late]})

    def numbers(operator: str, since: str) -> list[int]:
        found = changed_since(http, "orders/sent", since, operator)
        assert found.status_code == 200, found.text
        return sorted(o["orderNumber"] for o in found.json()["collection"] if o["orderNumber"] != 1)

    assert numbers("$gte:", "2026-11-30T10:00:00Z") == [3]
    assert numbers("$gt:", "2026-11-30T12:00:00Z") == []
    assert numbers("$gte:", "2026-11-30T12:00:00Z") == [3]
    assert numbers("$lt:", "2026-11-30T10:00:00Z") == [2]
    assert numbers("$gte:", "2026-11-30") == [2, 3], "a date alone is the start of that day"
    assert numbers("$lt:", "2026-11-30") == []


def test_order_numbers_are_one_series_across_drafts_sent_and_archived(
    http: httpx.Client, server: tuple[EconomicSandbox, str]
) -> None:
    """An order keeps its number as it moves between the three collections (12.10), so a new draft never
    takes the number of a sent or archived order (the sandbox's choice: the next number after every
    order's, as for other numbers it assigns, 15.7)."""
    first = sent_order(http)
    archived = dict(first, orderNumber=7)
    server[0].load({"orders.archived": [archived]})
    second = http.post("orders/drafts", json=draft_invoice(1, "P-1"))
    assert second.status_code == 201 and second.json()["orderNumber"] == 8
    assert http.get("orders/sent/1").json()["orderNumber"] == 1, "the sent order is still there"
    assert http.post("orders/sent", json=second.json()).status_code == 201
    after_sending = http.post("orders/drafts", json=draft_invoice(1, "P-1")).json()
    assert after_sending["orderNumber"] == 9, "a sent order's number stays taken"
