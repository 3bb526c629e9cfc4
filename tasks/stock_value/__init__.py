"""The stock value in the books (issue 11, rackbeat-api.md 4.6): one "Rackbeat Justering" finance voucher
per period for the difference between Rackbeat's stock value and the value booked on the stock account.

- `periods`: daily / weekly / monthly periods, their ids and their 23:59 ends in the company's time zone;
- `figures`: reading Rackbeat's valuation and e-conomic's booked value;
- `voucher`: the voucher of a period, a pure function;
- `ledger`: our log of what was done for each period (the only adjustments we ever touch);
- `adjuster`: posting exactly once, replacing our own older unbooked drafts, booking;
- `jobs`: the Celery tasks (beat's schedule run and the per-period post).
"""
