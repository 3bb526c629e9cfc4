"""Item numbers made of dots stay in their own path segment: the client against the Rackbeat sandbox over
HTTP.

`quote` leaves dots alone and URL normalisation drops dot segments, so before the fix a product numbered "."
was read from ``/api/products`` (the list) and one numbered ".." from ``/api``. What the sandbox received is
read from its request log (``/_sandbox/requests``, which logs the path decoded once).
"""

from __future__ import annotations

import httpx
import pytest

from clients.errors import NotFoundError
from clients.rackbeat import RackbeatClient, UrlFriendly, item_key, path_key
from tests.fixtures.sandboxes import RunningSandbox

GROUP = {"number": 1, "name": "Goods"}


def product(number: str) -> dict[str, object]:
    return {"number": number, "name": f"dots {number}", "group_id": 1, "sales_price": 5}


def admin(sandbox: RunningSandbox, method: str, path: str, body: object = None) -> httpx.Response:
    answer = httpx.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer


def requests_seen(sandbox: RunningSandbox) -> list[tuple[str, str, int | None]]:
    log = admin(sandbox, "GET", "requests").json()["requests"]
    return [(entry["method"], entry["path"], entry["status"]) for entry in log]


@pytest.fixture
def dotted(rackbeat_sandbox: RunningSandbox) -> RunningSandbox:
    """The sandbox holding products "." and "..", a decoy "x", and an empty request log."""
    admin(rackbeat_sandbox, "POST", "load", {"product-groups": [GROUP]})
    admin(rackbeat_sandbox, "POST", "load", {"products": [product("."), product(".."), product("x")]})
    admin(rackbeat_sandbox, "DELETE", "requests")
    return rackbeat_sandbox


def client(sandbox: RunningSandbox) -> RackbeatClient:
    return RackbeatClient(sandbox.api_url, sandbox.token)


@pytest.mark.parametrize("number", [".", "..", "..."])
def test_a_product_numbered_with_dots_is_read_as_that_record(dotted: RunningSandbox, number: str) -> None:
    if number == "...":
        admin(dotted, "POST", "load", {"products": [product("...")]})
        admin(dotted, "DELETE", "requests")

    with client(dotted) as rackbeat:
        record = rackbeat.get("products", number, "product")

    assert record["number"] == number
    encoded_once = "%2E" * len(number)
    assert requests_seen(dotted) == [("GET", f"/api/products/{encoded_once}", 200)]


@pytest.mark.parametrize("number", [".", ".."])
def test_updates_and_deletes_of_a_dot_number_touch_only_that_record(
    dotted: RunningSandbox, number: str
) -> None:
    with client(dotted) as rackbeat:
        assert rackbeat.update("products", number, "product", {"name": "renamed"})["number"] == number
        rackbeat.delete("products", number)
        with pytest.raises(NotFoundError):
            rackbeat.get("products", number, "product")
        left = {record["number"]: record["name"] for record in rackbeat.iter("products", "products")}

    assert number not in left
    assert left["x"] == "dots x"  # the decoy (and the other dot product) untouched
    assert {".", ".."} - {number} <= set(left)


@pytest.mark.parametrize("number", [".", ".."])
def test_a_missing_dot_number_is_a_404_for_that_record_not_the_list(
    rackbeat_sandbox: RunningSandbox, number: str
) -> None:
    admin(rackbeat_sandbox, "POST", "load", {"product-groups": [GROUP]})
    admin(rackbeat_sandbox, "POST", "load", {"products": [product("x")]})
    admin(rackbeat_sandbox, "DELETE", "requests")

    with client(rackbeat_sandbox) as rackbeat, pytest.raises(NotFoundError):
        rackbeat.get("products", number, "product")

    assert requests_seen(rackbeat_sandbox) == [("GET", f"/api/products/{'%2E' * len(number)}", 404)]


def test_a_dot_urlfriendly_number_from_the_sandbox_still_reads_the_record(dotted: RunningSandbox) -> None:
    # The sandbox's urlfriendly_number is the number percent-encoded once, which leaves "." as it is; the
    # client must not put that in a path as it comes.
    with client(dotted) as rackbeat:
        listed = {record["number"]: record for record in rackbeat.iter("products", "products")}
        for number in (".", ".."):
            assert rackbeat.get("products", item_key(listed[number]), "product")["number"] == number


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("%2E", "."),
        ("%252E", "."),
        ("%2e", "."),
        ("%2E%2E", ".."),
        ("%252E%252E", ".."),
        ("%252e%252E", ".."),
    ],
)
def test_the_sandbox_decodes_encoded_dots_single_or_double(
    dotted: RunningSandbox, raw: str, number: str
) -> None:
    # rackbeat-api.md §1.5: Rackbeat's docs advise double URL-encoding item numbers in paths, the official SDK
    # encodes once, so the emulator accepts both forms; an encoded dot must come back as the dot.
    answer = httpx.get(f"{dotted.api_url}products/{raw}", headers=dotted.headers, timeout=10)

    assert answer.status_code == 200, answer.text
    assert answer.json()["product"]["number"] == number


@pytest.mark.parametrize(
    ("key", "segment"),
    [
        (".", "%252E"),
        ("..", "%252E%252E"),
        ("1.5", "1%252E5"),
        ("ABC/123+DEF", "ABC%252F123%252BDEF"),
        (UrlFriendly("."), "%2E"),
        (UrlFriendly(".."), "%2E%2E"),
        (UrlFriendly("A%2F1"), "A%2F1"),
        (1021, "1021"),
    ],
)
def test_path_keys_never_form_a_dot_segment(key: str | int, segment: str) -> None:
    assert path_key(key) == segment


@pytest.mark.parametrize("friendly", [".", "..", "A/1", "A?1", "A#1"])
def test_an_urlfriendly_number_that_is_not_one_segment_is_not_used(friendly: str) -> None:
    key = item_key({"number": "N.1", "urlfriendly_number": friendly})

    assert not isinstance(key, UrlFriendly)
    assert key == "N.1"
