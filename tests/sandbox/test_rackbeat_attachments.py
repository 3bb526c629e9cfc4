"""A user's files on a supplier invoice in the Rackbeat sandbox (issue 10): the list, one attachment, its
bytes, the test knobs that attach them, and auth, rate limit and error bodies as on every route."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.rackbeat import RackbeatSandbox
from sandbox.rackbeat.errors import NotFound

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4


@pytest.fixture
def api(rackbeat_sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers) as client:
        yield client


@pytest.fixture
def invoice(rackbeat_sandbox) -> int:
    """A supplier invoice (number 501), loaded directly."""
    rackbeat_sandbox.sandbox.load(
        {
            "payment-terms": [{"number": 1, "name": "Net 14", "maturity_days": 14, "type": "net"}],
            "suppliers": [{"number": 70, "company_name": "Parts AB", "payment_terms_id": 1}],
            "supplier-invoices": [{"number": 501, "supplier_id": 70, "lines": []}],
        }
    )
    return 501


def test_attached_files_are_listed_shown_and_downloaded(api: httpx.Client, rackbeat_sandbox, invoice) -> None:
    sandbox: RackbeatSandbox = rackbeat_sandbox.sandbox
    empty = api.get(f"supplier-invoices/{invoice}/attachments")
    assert empty.status_code == 206
    assert empty.json() == {"attachments": [], "total": 0, "pages": 1, "limit": 20, "page": 1}
    first = sandbox.attach("supplier-invoices", invoice, "bill.pdf", PDF)
    sandbox.attach("supplier-invoices", str(invoice), "photo.jpg", b"\xff\xd8\xff\xe0", "image/jpeg")
    assert first["size"] == len(PDF) and "content" not in first
    listed = api.get(f"supplier-invoices/{invoice}/attachments")
    assert listed.status_code == 206 and listed.json()["total"] == 2
    pdf, jpg = listed.json()["attachments"]
    assert (
        pdf["id"] == first["id"] and pdf["filename"] == "bill.pdf" and pdf["mime_type"] == "application/pdf"
    )
    assert set(pdf) == {
        "id",
        "filename",
        "mime_type",
        "size",
        "created_at",
        "updated_at",
        "self",
        "download_url",
    }
    assert pdf["self"] == f"{rackbeat_sandbox.api_url}supplier-invoices/{invoice}/attachments/{pdf['id']}"
    assert pdf["download_url"] == pdf["self"] + "/download"
    assert api.get(pdf["self"]).json() == {"attachment": pdf}
    download = api.get(pdf["download_url"])
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == 'attachment; filename="bill.pdf"'
    assert "x-ratelimit-remaining" in download.headers
    assert api.get(jpg["download_url"]).headers["content-type"] == "image/jpeg"
    second_page = api.get(f"supplier-invoices/{invoice}/attachments", params={"limit": 1, "page": 2})
    assert [a["filename"] for a in second_page.json()["attachments"]] == ["photo.jpg"]


def test_auth_errors_and_methods_as_on_every_route(api: httpx.Client, rackbeat_sandbox, invoice) -> None:
    attachment = rackbeat_sandbox.sandbox.attach("supplier-invoices", invoice, "bill.pdf", PDF)
    path = f"supplier-invoices/{invoice}/attachments/{attachment['id']}/download"
    anonymous = httpx.get(f"{rackbeat_sandbox.api_url}{path}")
    assert anonymous.status_code == 401 and anonymous.json() == {"message": "Unauthenticated."}
    assert api.get("supplier-invoices/999/attachments").json() == {"message": "Resource not found."}
    assert api.get(f"supplier-invoices/{invoice}/attachments/999").status_code == 404
    assert api.get(f"supplier-invoices/{invoice}/attachments/{attachment['id']}/other").status_code == 404
    assert api.get(f"supplier-invoices/{invoice}/attachments/x").status_code == 404
    assert api.post(f"supplier-invoices/{invoice}/attachments", json={}).status_code == 405
    assert api.delete(path).status_code == 405
    assert api.get(f"customer-invoices/{invoice}/attachments").status_code == 404  # only supplier invoices


def test_downloads_count_against_the_rate_limit(rackbeat_server_factory) -> None:
    running = rackbeat_server_factory(requests_per_minute=2)
    running.sandbox.load(
        {
            "payment-terms": [{"number": 1, "name": "Net", "maturity_days": 1, "type": "net"}],
            "suppliers": [{"number": 1, "company_name": "S", "payment_terms_id": 1}],
            "supplier-invoices": [{"number": 1, "supplier_id": 1, "lines": []}],
        }
    )
    attachment = running.sandbox.attach("supplier-invoices", 1, "a.pdf", PDF)
    with httpx.Client(base_url=running.api_url, headers=running.headers) as client:
        statuses = [
            client.get(f"supplier-invoices/1/attachments/{attachment['id']}/download") for _ in range(3)
        ]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].json() == {"message": "Too Many Attempts."} and "retry-after" in statuses[2].headers


def test_the_admin_route_attaches_and_the_knobs_refuse_what_cannot_be(rackbeat_sandbox, invoice) -> None:
    url = f"{rackbeat_sandbox.url}/_sandbox/attachments/supplier-invoices/{invoice}"
    created = httpx.post(
        url, params={"filename": "a.png"}, content=b"\x89PNG", headers={"Content-Type": "image/png"}
    )
    assert created.status_code == 201
    assert (
        created.json()["attachment"]["mime_type"] == "image/png" and created.json()["attachment"]["size"] == 4
    )
    assert httpx.post(url, content=PDF).status_code == 422  # no filename
    assert (
        httpx.post(url.replace(str(invoice), "999"), params={"filename": "a.pdf"}, content=PDF).status_code
        == 404
    )
    assert (
        httpx.post(url.replace("supplier-invoices", "nothing"), params={"filename": "a"}).status_code == 404
    )
    sandbox: RackbeatSandbox = rackbeat_sandbox.sandbox
    with pytest.raises(ValueError):
        sandbox.attach("customer-invoices", invoice, "a.pdf", PDF)
    with pytest.raises(NotFound):
        sandbox.attach("supplier-invoices", 999, "a.pdf", PDF)


def test_attachments_go_with_their_invoice_and_survive_a_restart(rackbeat_sandbox, invoice) -> None:
    sandbox: RackbeatSandbox = rackbeat_sandbox.sandbox
    sandbox.attach("supplier-invoices", invoice, "a.pdf", PDF)
    restored = RackbeatSandbox()
    try:
        restored.restore(sandbox.snapshot())
        again = restored.attach("supplier-invoices", invoice, "b.pdf", PDF)
        assert [a["size"] for a in restored.store.attachments.of("supplier-invoices", invoice)] == [
            len(PDF)
        ] * 2
        assert again["id"] == 2
    finally:
        restored.close()
    sandbox.delete("supplier-invoices", invoice)  # a draft loaded without booking: deletable
    assert len(sandbox.store.attachments) == 0
