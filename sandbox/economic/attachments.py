"""A voucher's attachment: ``/journals/{n}/vouchers/{accountingYear-voucherNumber}/attachment[/file]``.

Rests on /work/shared/reference/economic-api.md §12.13 ("Attachments"): ``GET …/attachment`` gives the
metadata ``{createdAt, description, file, pages, self}`` (schema
``journals.journalNumber.vouchers.accountingYear-voucherNumber.attachment.get``), ``GET …/attachment/file``
the file (always PDF), ``POST …/attachment/file`` takes multipart/form-data (jpg, jpeg, pdf, gif or png,
at most 9.0 MB per request), ``PATCH …/attachment/file`` adds pages, ``DELETE …/attachment/file`` removes it.

Where the reference is silent, the sandbox chooses (each choice is one constant or one check below):

- **Size**: a request body over :data:`MAX_REQUEST_BYTES` (9.0 MB read as 9 000 000 bytes, the stricter
  reading) is answered ``413`` with the legacy error body (error code :data:`TOO_LARGE`), after the body is
  read and dropped (answering mid-upload would look like a dropped connection to the client).
- **Type**: from the file name's extension, else the part's Content-Type; anything but the five types is
  ``415`` with the legacy error body (:data:`WRONG_TYPE`); a file whose first bytes are not those of its
  type is ``400`` (``Validation error.``, field ``file``).
- **The form**: exactly one file part, under any field name (the reference names none); none or several
  is ``400``.
- **One attachment per voucher**: a POST to a voucher that already has one is ``400`` (:data:`HAS_ONE`)
  naming ``PATCH`` and ``DELETE``; a repeated POST with the same ``Idempotency-Key`` is replayed by the
  idempotency middleware instead (its cache is keyed by credentials, method, path and key, never the body,
  so a multipart body replays like any other).
- **Answer to POST**: ``201`` with the metadata and ``Location`` of ``…/attachment``.
- **PATCH** (adding pages) is not emulated: ``501``, e-conomic's status for "linked but not implemented".
- **Always PDF**: a PDF is served as uploaded; an image is served as a one-page placeholder PDF naming it
  (the sandbox has no image renderer), and counts one page. A PDF's pages are counted from its
  ``/Type /Page`` objects.
- **Booking**: the attachment lives beside the voucher, not in it, so it survives booking: after the
  journal is booked its metadata and file are still served at the same address, but it can no longer be
  replaced or deleted (``400``, :data:`BOOKED`). A draft voucher whose entries are all deleted takes its
  attachment with it. The sandbox does not serve ``/accounting-years/{y}/vouchers``.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import re
from datetime import UTC, datetime
from typing import Any

from sandbox.economic.errors import EconomicError, not_found, validation_error
from sandbox.economic.store import Store, link

ATTACHMENTS_TABLE = "voucher-attachments"
"""Metadata, as ``GET …/attachment`` shows it, keyed ``"{journal}/{year}-{voucherNumber}"``."""
FILES_TABLE = "voucher-attachment-files"
"""The uploaded bytes (base64, so the state file stays JSON), same keys."""
BOOKED_VOUCHERS_TABLE = "booked-vouchers"
"""Vouchers whose entries were booked, same keys: they keep their attachment and their number."""

MAX_REQUEST_BYTES = 9_000_000
TOO_LARGE = "E08010"
WRONG_TYPE = "E08020"
HAS_ONE = "E08030"
BOOKED = "E08040"
NOT_IMPLEMENTED = "E08050"

#: extension -> (media type, leading bytes)
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
}
_BY_MEDIA_TYPE = {media: ext for ext, (media, _) in ALLOWED_TYPES.items()}
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def attachment_key(journal_number: int, voucher_key: str) -> str:
    return f"{journal_number}/{voucher_key}"


def voucher_state(store: Store, journal_number: int, voucher_key: str) -> str:
    """``"draft"``, ``"booked"`` or 404 for a voucher that never existed (or was deleted unbooked)."""
    key = attachment_key(journal_number, voucher_key)
    if store.exists(BOOKED_VOUCHERS_TABLE, key):
        return "booked"
    if store.exists("vouchers", key):
        return "draft"
    raise not_found("The voucher")


def metadata(store: Store, journal_number: int, voucher_key: str) -> dict[str, Any]:
    voucher_state(store, journal_number, voucher_key)
    found = store.get(ATTACHMENTS_TABLE, attachment_key(journal_number, voucher_key))
    if found is None:
        raise not_found("The attachment")
    return found


def file_content(store: Store, journal_number: int, voucher_key: str) -> bytes:
    """The attachment as PDF (see the module docstring for images)."""
    meta = metadata(store, journal_number, voucher_key)
    stored = store.get(FILES_TABLE, attachment_key(journal_number, voucher_key)) or {}
    content = base64.b64decode(stored.get("content", ""))
    if stored.get("contentType") == "application/pdf":
        return content
    return placeholder_pdf(f"{stored.get('fileName', 'image')} ({len(content)} bytes), {meta['createdAt']}")


def store_file(
    store: Store, journal_number: int, voucher_key: str, content_type: str, body: bytes, too_large: bool
) -> dict[str, Any]:
    """``POST …/attachment/file``: check and keep the one file of a multipart body; the metadata."""
    if too_large:
        raise EconomicError(
            413,
            f"The request is larger than {MAX_REQUEST_BYTES / 1_000_000:.1f} MB.",
            error_code=TOO_LARGE,
            developer_hint="Send files of at most 9.0 MB per request.",
        )
    with store.lock:
        state = voucher_state(store, journal_number, voucher_key)
        key = attachment_key(journal_number, voucher_key)
        if state == "booked":
            raise _booked()
        if store.exists(ATTACHMENTS_TABLE, key):
            raise EconomicError(
                400,
                "The voucher already has an attachment.",
                error_code=HAS_ONE,
                developer_hint="Use PATCH to add pages, or DELETE the attachment first.",
            )
        file_name, media, content = _one_file(content_type, body)
        pages = (len(_PAGE.findall(content)) or 1) if media == "application/pdf" else 1
        self_link = link(f"journals/{journal_number}/vouchers/{voucher_key}/attachment")
        record = {
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%d"),
            "file": self_link + "/file",
            "pages": pages,
            "self": self_link,
        }
        store.put(ATTACHMENTS_TABLE, key, record)
        store.put(
            FILES_TABLE,
            key,
            {"fileName": file_name, "contentType": media, "content": base64.b64encode(content).decode()},
        )
        return record


def delete_file(store: Store, journal_number: int, voucher_key: str) -> None:
    with store.lock:
        if voucher_state(store, journal_number, voucher_key) == "booked":
            raise _booked()
        metadata(store, journal_number, voucher_key)
        drop(store, attachment_key(journal_number, voucher_key))


def drop(store: Store, key: str) -> None:
    """Forget an attachment (its draft voucher is gone)."""
    store.delete(ATTACHMENTS_TABLE, key)
    store.delete(FILES_TABLE, key)


def not_implemented() -> EconomicError:
    return EconomicError(
        501,
        "Adding pages to an attachment (PATCH) is not implemented by the sandbox.",
        error_code=NOT_IMPLEMENTED,
        developer_hint="DELETE the attachment and POST the whole file again.",
    )


def _booked() -> EconomicError:
    return EconomicError(
        400,
        "The voucher is booked; its attachment can no longer be changed.",
        error_code=BOOKED,
        developer_hint="Attach the file before the journal is booked.",
    )


def _one_file(content_type: str, body: bytes) -> tuple[str, str, bytes]:
    if not content_type.lower().startswith("multipart/form-data"):
        raise EconomicError(
            415,
            "Unsupported Media Type: send the file as multipart/form-data.",
            error_code=WRONG_TYPE,
            developer_hint="Send one file part in a multipart/form-data body.",
        )
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    files = [
        part
        for part in (message.iter_parts() if message.is_multipart() else [])
        if part.get_filename() is not None
    ]
    if len(files) != 1:
        raise validation_error(
            {"file": {"errors": [_field("E04042", f"Send exactly one file; the form held {len(files)}.")]}}
        )
    part = files[0]
    file_name = str(part.get_filename())
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension not in ALLOWED_TYPES:
        extension = _BY_MEDIA_TYPE.get(part.get_content_type(), "")
    if not extension:
        raise EconomicError(
            415,
            f"The file type of {file_name!r} is not supported: send jpg, jpeg, pdf, gif or png.",
            error_code=WRONG_TYPE,
            developer_hint="Attach a PDF or a jpg, jpeg, gif or png image.",
        )
    media, signatures = ALLOWED_TYPES[extension]
    payload = part.get_payload(decode=True)
    content = payload if isinstance(payload, bytes) else b""
    if not content.startswith(signatures):
        raise validation_error(
            {"file": {"errors": [_field("E04300", f"{file_name!r} is not a valid {extension} file.")]}}
        )
    return file_name, media, content


def _field(code: str, message: str) -> dict[str, Any]:
    return {"errorCode": code, "message": message, "developerHint": "Correct the file and try again."}


def placeholder_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (what the sandbox serves for an uploaded image)."""
    safe = text.encode("latin-1", errors="replace").replace(b"\\", b"\\\\")
    safe = safe.replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 12 Tf 72 770 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
