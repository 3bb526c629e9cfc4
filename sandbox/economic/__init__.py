"""A faithful local emulator of the Visma e-conomic REST API (legacy REST plus the OpenAPI services the
integration writes through). See ``app.EconomicSandbox``.

Choices made where the reference (``shared/reference/economic-api.md``) marks a fact as uncertain:
- Self links and paging links use the base URL the client called, not restapi.e-conomic.com.
- 401 bodies use the legacy error shape (problem+json under the OpenAPI prefixes); the API does not say
  which token was wrong. ``demo``/``demo`` reads like the demo agreement; a write with them gets 403.
- 429 (empty bucket) answers in the legacy error shape with ``Retry-After`` (whole seconds); every call
  costs 1.
- Error codes the reference does not name are the sandbox's own (see ``errors.py``): E04300 wrong type,
  E04310 null, E04200/E04210 length, E04400 range, E04600 enum, E04900 conflict, E06160 in use, E07080 date
  outside the accounting year, E07090 accounting year closed, E07120 entry type not allowed in the journal,
  E07130 account blocks direct entries.
- Closed accounting years refuse new vouchers, bookings of journal entries and of draft invoices dated in
  them; a draft invoice may still be created (``years.py``). ``/accounts/{n}/accounting-years/...`` and
  ``/accounting-years/{y}/totals``: see ``ledger.py``.
- Idempotency keys are scoped by both tokens, method and path; a request racing one in flight waits for it;
  5xx answers are not cached.
- ``$and:`` binds tighter than ``$or:``; see ``filters.py`` for the filter choices.
- A supplier without a layout gets the agreement's default layout (the GET schema requires one).
- VAT on sales documents: 25 % for VAT zone 1, otherwise 0 %; see ``documents.py``.
- Webhook bodies on create/delete and the invoice template: see ``webhooks.py``.
- ``GET /projects`` answers (the reference leaves it open) with a legacy view of the Projects API's
  projects.
- The invoice family (``invoices.py``): ``/invoices/not-due`` lists every booked invoice due today or later,
  paid or not (no source restricts it to unpaid ones); "today" is the sandbox's clock (``/_sandbox/clock``);
  a booked invoice's remainder changes only through ``PUT /_sandbox/invoices/booked/{n}/remainder``; the
  period totals number calendar months within the accounting year holding today; totals link only to the
  totals that have a published schema. ``/invoices/sent`` records (``documents.sent_record``) carry status
  ``sent``, ``createdBy`` ``sandbox`` and ``sendBy`` ``ean`` for EAN (none for Email, which the schema's
  enum lacks); a booked invoice's ``sent`` link lists its sent records.
- Voucher attachments (``attachments.py``): 413 over 9 000 000 bytes per request, 415 for other file types,
  one attachment per voucher (400 on a second POST), kept (read-only) when the voucher is booked, PATCH
  answered 501; images are served as a placeholder PDF. Its error codes E08010-E08050 are the sandbox's own.

"""

from sandbox.economic.app import EconomicSandbox
from sandbox.economic.ids import decode_key, encode_key

__all__ = ["EconomicSandbox", "decode_key", "encode_key"]
