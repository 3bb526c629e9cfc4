"""The clients' file paths (issue 10): Rackbeat's attachments and their streamed, size-limited download;
e-conomic's multipart upload of a voucher's attachment, with its Idempotency-Key replay and refusals.

Against the sandboxes over loopback, except where a server must misbehave in a way the sandboxes never do
(a chunked answer without ``Content-Length``): that uses httpx's MockTransport.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from clients.economic import EconomicClient
from clients.errors import NotFoundError, PermanentError, ValidationFailed
from clients.http import ResponseTooLarge
from clients.rackbeat import RackbeatClient
from tests.fixtures.sandboxes import RunningSandbox

PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n" + b"x" * 4000 + b"\n%%EOF\n"


def rackbeat(running: RunningSandbox, **kwargs: Any) -> RackbeatClient:
    return RackbeatClient(running.api_url, SecretStr(running.tokens["token"]), **kwargs)


def economic(running: RunningSandbox, **kwargs: Any) -> EconomicClient:
    return EconomicClient(
        running.api_url,
        running.api_url,
        SecretStr(running.tokens["app_secret_token"]),
        running.tokens["agreement_grant_token"],
        call_retry_backoff=0.01,
        **kwargs,
    )


@pytest.fixture
def invoice(rackbeat_sandbox: RunningSandbox) -> Iterator[int]:
    rackbeat_sandbox.sandbox.load(
        {
            "payment-terms": [{"number": 1, "name": "Net", "maturity_days": 14, "type": "net"}],
            "suppliers": [{"number": 70, "company_name": "Parts AB", "payment_terms_id": 1}],
            "supplier-invoices": [{"number": 601, "supplier_id": 70, "lines": []}],
        }
    )
    yield 601


@pytest.fixture
def voucher(economic_sandbox: RunningSandbox) -> tuple[RunningSandbox, str]:
    """A supplier-invoice voucher in journal 2: (the sandbox, its ``year-number``)."""
    with economic(economic_sandbox) as client:
        year = next(client.iter_collection("accounting-years"))["year"]
        entry = {"contraAccount": {"accountNumber": 3600}, "amount": 80.0, "date": f"{year}-03-01"}
        body = {"accountingYear": {"year": year}, "entries": {"supplierInvoices": [entry]}}
        created = client.create("journals/2/vouchers", body, idempotency_key="attachments-voucher")
    return economic_sandbox, f"{year}-{created[0]['voucherNumber']}"


# --- Rackbeat ------------------------------------------------------------------------------------


def test_attachments_are_listed_and_downloaded(rackbeat_sandbox: RunningSandbox, invoice: int) -> None:
    rackbeat_sandbox.sandbox.attach("supplier-invoices", invoice, "bill.pdf", PDF)
    rackbeat_sandbox.sandbox.attach("supplier-invoices", invoice, "scan.png", b"\x89PNG", "image/png")
    with rackbeat(rackbeat_sandbox) as client:
        listed = client.attachments("supplier-invoices", invoice)
        assert [(a["filename"], a["size"]) for a in listed] == [("bill.pdf", len(PDF)), ("scan.png", 4)]
        assert client.download(listed[0]["download_url"]) == PDF  # the absolute link, as listed
        path = f"supplier-invoices/{invoice}/attachments/{listed[1]['id']}/download"
        assert client.download(path, max_bytes=4) == b"\x89PNG"  # a relative path; exactly at the limit
        with pytest.raises(NotFoundError):
            client.attachments("supplier-invoices", 999)
        assert client.calls == {"GET": 4}


def test_a_file_over_the_limit_is_not_read(rackbeat_sandbox: RunningSandbox, invoice: int) -> None:
    stored = rackbeat_sandbox.sandbox.attach("supplier-invoices", invoice, "big.pdf", PDF)
    with rackbeat(rackbeat_sandbox) as client:
        url = client.attachments("supplier-invoices", invoice)[0]["download_url"]
        with pytest.raises(ResponseTooLarge) as caught:
            client.download(url, max_bytes=len(PDF) - 1)
    error = caught.value
    assert isinstance(error, PermanentError) and error.status == 200
    assert (error.size, error.limit) == (stored["size"], len(PDF) - 1)
    assert f"is {len(PDF)} bytes" in str(error) and "not downloaded" in str(error)
    assert error.to_dict()["size"] == len(PDF)


def test_a_chunked_file_stops_being_read_past_the_limit() -> None:
    """No Content-Length: the client reads chunk by chunk and stops at the first one past the limit."""
    served: list[int] = []

    def chunks() -> Iterator[bytes]:
        for index in range(100):
            served.append(index)
            yield b"z" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Chunks(chunks()))

    client = RackbeatClient("http://rackbeat.test/api/", "tok-123", transport=httpx.MockTransport(handler))
    with client, pytest.raises(ResponseTooLarge) as caught:
        client.download("supplier-invoices/1/attachments/1/download", max_bytes=2500)
    assert caught.value.size is None and "more than 2500 bytes" in str(caught.value)
    assert len(served) == 3  # 3000 bytes read of 100000


class _Chunks(httpx.SyncByteStream):
    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        yield from self._parts


def test_a_download_outside_the_base_url_is_refused_before_the_token_travels(
    rackbeat_sandbox: RunningSandbox,
) -> None:
    with rackbeat(rackbeat_sandbox) as client:
        for foreign in (
            "https://files.example.com/a.pdf",
            rackbeat_sandbox.url + "/_sandbox/counts",  # same host, outside /api/
            "//evil.example/api/x",
        ):
            with pytest.raises(ValueError):
                client.download(foreign)
        assert client.call_count == 0


# --- e-conomic -----------------------------------------------------------------------------------


def test_a_voucher_file_is_uploaded_once_and_replayed(voucher: tuple[RunningSandbox, str]) -> None:
    running, key = voucher
    with economic(running) as client:
        assert client.voucher_attachment(2, key) is None
        meta = client.attach_voucher_file(2, key, "bill.pdf", PDF, idempotency_key="attach-bill")
        assert meta["pages"] == 1 and client.last_response_from_cache is False
        again = client.attach_voucher_file(2, key, "bill.pdf", PDF, idempotency_key="attach-bill")
        assert again == meta and client.last_response_from_cache is True
        assert client.voucher_attachment(2, key) == meta
        with pytest.raises(ValidationFailed) as caught:
            client.attach_voucher_file(2, key, "bill.pdf", PDF, idempotency_key="attach-bill-2")
        assert caught.value.error_code == "E08030"
        with pytest.raises(ValueError):
            client.attach_voucher_file(2, key, "bill.pdf", PDF, idempotency_key=" ")
    file = httpx.get(f"{running.url}/journals/2/vouchers/{key}/attachment/file", headers=running.headers)
    assert file.content == PDF


def test_an_upload_whose_answer_is_lost_is_replayed_inside_one_call(
    voucher: tuple[RunningSandbox, str],
) -> None:
    running, key = voucher
    running.sandbox.faults.set(commit_then_fail=1, drop_after_commit=True)
    try:
        with economic(running) as client:
            meta = client.attach_voucher_file(2, key, "bill.pdf", PDF, idempotency_key="attach-lost")
            assert client.last_response_from_cache is True and client.calls == {"POST": 2}
    finally:
        running.sandbox.faults.set(commit_then_fail=0, drop_after_commit=False)
    assert meta["self"].endswith(f"/journals/2/vouchers/{key}/attachment")
    assert running.sandbox.stats()["idempotent_replays"] == 1


def test_refusals_are_permanent_and_name_no_token(
    voucher: tuple[RunningSandbox, str], caplog: pytest.LogCaptureFixture
) -> None:
    running, key = voucher
    caplog.set_level(logging.DEBUG)
    secrets = (running.tokens["app_secret_token"], running.tokens["agreement_grant_token"])
    with economic(running) as client:
        with pytest.raises(PermanentError) as wrong_type:
            client.attach_voucher_file(
                2, key, "a.txt", b"hi", idempotency_key="t1", content_type="text/plain"
            )
        assert wrong_type.value.status == 415
        big = PDF + b"0" * 9_000_000
        with pytest.raises(PermanentError) as too_big:
            client.attach_voucher_file(2, key, "big.pdf", big, idempotency_key="t2")
        assert too_big.value.status == 413 and "9.0 MB" in too_big.value.message
        with pytest.raises(NotFoundError):
            client.attach_voucher_file(2, "1999-9", "a.pdf", PDF, idempotency_key="t3")
        assert client.calls == {"POST": 3}  # permanent: none of them was sent twice
    for error in (wrong_type.value, too_big.value):
        texts = [str(error), repr(error), json.dumps(error.to_dict()), caplog.text]
        assert not [s for s in secrets for text in texts if s in text]
    rb_error = None
    with RackbeatClient("http://rackbeat.test/api/", "rb-secret-token", transport=_big_answer()) as rb:
        try:
            rb.download("x", max_bytes=10)
        except ResponseTooLarge as error:
            rb_error = error
    assert rb_error is not None and "rb-secret-token" not in json.dumps(rb_error.to_dict()) + str(rb_error)


def _big_answer() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=b"y" * 100))


def test_a_download_rides_out_a_503_and_maps_errors_like_any_call() -> None:
    answers = [httpx.Response(503, json={"message": "busy"}), httpx.Response(200, content=PDF)]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"message": "Resource not found."})
        return answers.pop(0)

    transport = httpx.MockTransport(handler)
    with RackbeatClient("http://rackbeat.test/api/", "tok", transport=transport) as client:
        client.call_retry_backoff = 0.01
        assert client.download("supplier-invoices/1/attachments/1/download", max_bytes=len(PDF)) == PDF
        with pytest.raises(NotFoundError) as caught:
            client.download("supplier-invoices/1/attachments/gone")
        assert caught.value.message == "Resource not found."
        assert client.calls == {"GET": 3}
    assert seen[0] == seen[1] == "/api/supplier-invoices/1/attachments/1/download"
