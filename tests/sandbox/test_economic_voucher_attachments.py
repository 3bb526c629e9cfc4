"""Voucher attachments in the e-conomic sandbox (issue 10): upload, metadata, the PDF, delete, the refusals,
the replay of a repeated upload, and the attachment outliving the booking of its voucher."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.attachments import MAX_REQUEST_BYTES
from sandbox.economic.testing import client, serve

PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def http(server: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    server[0].reset()
    with client(server[1]) as session:
        yield session


def new_voucher(http: httpx.Client) -> str:
    """A supplier-invoice voucher in journal 2; its ``{year}-{number}``."""
    year = http.get("accounting-years").json()["collection"][0]["year"]
    entry = {"contraAccount": {"accountNumber": 3600}, "amount": 100.0, "date": f"{year}-05-03"}
    body = {"accountingYear": {"year": year}, "entries": {"supplierInvoices": [entry]}}
    created = http.post("journals/2/vouchers", json=body)
    assert created.status_code == 201, created.text
    return f"{year}-{created.json()[0]['voucherNumber']}"


def upload(
    http: httpx.Client, key: str, name: str = "invoice.pdf", content: bytes = PDF, **options: Any
) -> httpx.Response:
    files = options.pop("files", None) or {"file": (name, content, options.pop("media", "application/pdf"))}
    return http.post(f"journals/2/vouchers/{key}/attachment/file", files=files, **options)


def test_upload_then_metadata_file_and_delete(http: httpx.Client) -> None:
    key = new_voucher(http)
    assert http.get(f"journals/2/vouchers/{key}/attachment").status_code == 404
    created = upload(http, key)
    assert created.status_code == 201, created.text
    meta = created.json()
    assert meta["pages"] == 2 and meta["self"].endswith(f"/journals/2/vouchers/{key}/attachment")
    assert meta["file"] == meta["self"] + "/file" and len(meta["createdAt"]) == 10
    assert created.headers["Location"] == meta["self"]
    assert meta["self"].startswith(str(http.base_url))  # links lead back to the sandbox
    assert http.get(f"journals/2/vouchers/{key}/attachment").json() == meta
    file = http.get(f"journals/2/vouchers/{key}/attachment/file")
    assert file.status_code == 200 and file.content == PDF
    assert file.headers["content-type"] == "application/pdf"
    assert http.delete(f"journals/2/vouchers/{key}/attachment/file").status_code == 204
    assert http.get(f"journals/2/vouchers/{key}/attachment").status_code == 404
    assert http.get(f"journals/2/vouchers/{key}/attachment/file").status_code == 404
    assert http.delete(f"journals/2/vouchers/{key}/attachment/file").status_code == 404


def test_an_image_is_served_as_a_pdf(http: httpx.Client) -> None:
    key = new_voucher(http)
    assert upload(http, key, "scan.png", PNG, media="image/png").json()["pages"] == 1
    file = http.get(f"journals/2/vouchers/{key}/attachment/file")
    assert file.headers["content-type"] == "application/pdf" and file.content.startswith(b"%PDF-")
    assert b"scan.png" in file.content


def test_refusals_use_e_conomics_error_body(http: httpx.Client) -> None:
    key = new_voucher(http)
    wrong_type = upload(http, key, "notes.txt", b"hello", media="text/plain")
    assert wrong_type.status_code == 415 and wrong_type.json()["httpStatusCode"] == 415
    assert "jpg, jpeg, pdf, gif or png" in wrong_type.json()["message"]
    not_a_pdf = upload(http, key, "fake.pdf", b"GIF89a...")
    assert not_a_pdf.status_code == 400 and "file" in not_a_pdf.json()["errors"]
    two = {"a": ("a.pdf", PDF, "application/pdf"), "b": ("b.pdf", PDF, "application/pdf")}
    assert upload(http, key, files=two).status_code == 400
    as_json = http.post(f"journals/2/vouchers/{key}/attachment/file", json={"file": "x"})
    assert as_json.status_code == 415
    assert upload(http, "1999-77").status_code == 404  # no such voucher
    assert http.patch(f"journals/2/vouchers/{key}/attachment/file").status_code == 501
    assert http.put(f"journals/2/vouchers/{key}/attachment/file").status_code == 405
    assert upload(http, key).status_code == 201
    second = upload(http, key, "other.pdf")
    assert second.status_code == 400 and second.json()["errorCode"] == "E08030"
    assert "PATCH" in second.json()["developerHint"]


def test_a_request_over_9_mb_is_413_and_nothing_is_kept(http: httpx.Client) -> None:
    key = new_voucher(http)
    big = PDF + b"0" * (MAX_REQUEST_BYTES - len(PDF))  # the file alone fits; with the form around it, not
    refused = upload(http, key, "big.pdf", big)
    assert refused.status_code == 413, refused.text
    assert refused.json()["httpStatusCode"] == 413 and "9.0 MB" in refused.json()["message"]
    assert http.get(f"journals/2/vouchers/{key}/attachment").status_code == 404
    just_fits = PDF + b"0" * (MAX_REQUEST_BYTES - len(PDF) - 400)
    assert upload(http, key, "fits.pdf", just_fits).status_code == 201
    assert len(http.get(f"journals/2/vouchers/{key}/attachment/file").content) == len(just_fits)


def test_a_repeated_upload_with_the_same_key_is_replayed(
    http: httpx.Client, server: tuple[EconomicSandbox, str]
) -> None:
    key = new_voucher(http)
    first = upload(http, key, headers={"Idempotency-Key": "attach-1"})
    again = upload(http, key, headers={"Idempotency-Key": "attach-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("X-ResultFromCache") == "true"
    assert server[0].replays == 1
    other_key = upload(http, key, headers={"Idempotency-Key": "attach-2"})
    assert other_key.status_code == 400  # a second upload under a new key is refused, not duplicated
    assert len(server[0].store.table("voucher-attachments")) == 1


def test_the_attachment_survives_booking_and_its_voucher_number_is_not_reused(
    http: httpx.Client, server: tuple[EconomicSandbox, str]
) -> None:
    key = new_voucher(http)
    assert upload(http, key).status_code == 201
    assert http.post("journalsapi/v15.0.0/journals/2/book").status_code == 204
    assert http.get(f"journals/2/vouchers/{key}").status_code == 404  # it left the journal
    assert http.get(f"journals/2/vouchers/{key}/attachment").json()["pages"] == 2
    assert http.get(f"journals/2/vouchers/{key}/attachment/file").content == PDF
    booked = http.delete(f"journals/2/vouchers/{key}/attachment/file")
    assert booked.status_code == 400 and booked.json()["errorCode"] == "E08040"
    assert upload(http, key, "late.pdf").status_code == 400
    following = new_voucher(http)
    assert following != key
    assert http.get(f"journals/2/vouchers/{following}/attachment").status_code == 404
    state = server[0].snapshot()  # the state file keeps the bytes
    restored = EconomicSandbox()
    try:
        restored.restore(state)
        assert restored.store.table("voucher-attachment-files") == server[0].store.table(
            "voucher-attachment-files"
        )
    finally:
        restored.close()


def test_a_draft_voucher_deleted_takes_its_attachment_along(http: httpx.Client) -> None:
    key = new_voucher(http)
    assert upload(http, key).status_code == 201
    entry = http.get("journals/2/entries").json()["collection"][0]["journalEntryNumber"]
    assert http.delete(f"journals/2/entries/{entry}").status_code == 204
    assert http.get(f"journals/2/vouchers/{key}/attachment").status_code == 404
    again = new_voucher(http)
    assert again == key  # an unbooked number is free again, and carries nothing over
    assert http.get(f"journals/2/vouchers/{again}/attachment").status_code == 404


def test_the_tables_it_fills_itself_dump_empty_before_the_first_write(
    server: tuple[EconomicSandbox, str],
) -> None:
    server[0].reset()
    for table in ("booked-entries", "vouchers", "voucher-attachments", "booked-vouchers"):
        assert server[0].dump(table) == []
    with pytest.raises(KeyError):
        server[0].dump("no-such-table")
