"""A local emulator of the Rackbeat REST API (`app.rackbeat.com/api/`), served by ``app.RackbeatSandbox``.

It follows /work/shared/reference/rackbeat-api.md. Where that reference marks a fact as uncertain, the
sandbox makes the choice below (each is easy to change in one place):

- 401 body ``{"message": "Unauthenticated."}``; 404 ``{"message": "Resource not found."}``; 405 for a method a
  route does not have; 422 ``{"message": "The given data was invalid.", "errors": {field: [...]}}`` (Laravel's
  shape; the reference shows only ``errors``, so clients must read ``errors`` and may ignore ``message``).
- Rate limit: a token bucket per API token (default 480 per 60 s, refilling continuously;
  ``rate_limit_style="fixed-window"`` gives Laravel's throttle instead); 429 answers
  ``{"message": "Too Many Attempts."}`` with ``Retry-After``; every answer carries ``X-RateLimit-Limit`` and
  ``X-RateLimit-Remaining`` (Laravel's throttle headers).
- Lists: 206, ``{plural, total, pages, limit, page}``; ``pages`` is at least 1 (Laravel's paginator), a page
  past the end is an empty array. Default order is ascending by number.
- Dates: ISO-8601 with offset (``2025-01-08T10:30:00+00:00``); filters also accept ``YYYY-MM-DD HH:MM:SS``
  (read as UTC).
- ``urlfriendly_number`` is the number percent-encoded once (the real algorithm is unknown).
- Documents (orders, customer and supplier invoices): ``POST /<resource>`` creates a booked document (fires
  ``.created`` then ``.booked``), ``POST /<resource>/drafts`` (or ``is_draft: true``) a draft, and
  ``POST /<resource>/{n}/book`` books a draft (422 when already booked). Booked invoices cannot be changed or
  deleted; a booked order keeps its lines locked but its header editable. Booking a supplier invoice with
  ``mark_received: true`` puts the goods in stock and moves the product's average cost price.
  ``POST orders/{n}/convert-to-invoice?book=true|false`` answers 200 ``{"invoice_id": n}``; the invoice
  carries ``order_id`` and the order becomes ``is_invoiced`` (a second conversion is a 422).
- A product's ``cost_price`` starts as its ``recommended_cost_price`` (no purchases yet).
- Stock is one figure per item, held at its ``default_location_id`` (else the location marked ``is_default``).
  Booking a customer invoice ships its lines out of stock; every stock move (receipt, shipment, inventory
  adjustment) is written to a stock ledger dated by the sandbox clock (``PUT /_sandbox/clock``), so
  ``reports/valuation?date_to=`` reads the stock as of the end of a day in Copenhagen. Moves leave the
  item's ``updated_at`` alone and fire no webhook. Why and how: ``stock.py``, ``ledger.py``, ``clock.py``;
  ``POST inventory-adjustments`` and ``…/{id}/book``: ``adjustments.py``; the report's shape: ``reports.py``.
- Layouts come from e-conomic: the reference documents only ``GET layouts``, but Rackbeat's own integration
  imports them in its start-up sync, so the sandbox takes ``POST layouts`` and ``PUT layouts/{n}`` (an
  inference, [I], reasoned in ``resources.py``); no DELETE or PATCH, and no webhook events.
- Webhooks: body ``{"event", "key_name": "number", "key": "<number as a string>"}`` (real payloads carry the
  key as a string). Event names are ``<entity>.<created|updated|deleted|booked>`` with singular snake_case
  entities. Payment terms fire ``payment_terms.*`` (the documented spelling) and are also delivered to hooks
  registered as ``payment_term.*``. Deliveries are retried with exponential backoff, 5 attempts by default
  (the real service retries for about a day).
- ``suppress_webhooks=true`` in the query or the JSON body of any write suppresses its events.
- ``fields=`` selects top-level fields; ``expand=`` is accepted and ignored (relations are always embedded).
- A user's files on a supplier invoice (the reference documents no endpoint): ``GET
  supplier-invoices/{n}/attachments`` (206 list), ``…/attachments/{id}`` and ``…/attachments/{id}/download``
  (the bytes); attached by tests with ``RackbeatSandbox.attach`` or ``POST /_sandbox/attachments/…``. The
  shape and why: ``attachments.py``.
"""

from sandbox.rackbeat.app import RackbeatSandbox

__all__ = ["RackbeatSandbox"]
