"""Business identifiers with real check digits: EAN-13 barcodes, Danish CVR and Norwegian org. numbers.

The integration never validates these, but people reading sandbox data (and any future validation) should see
numbers that look and check like the real ones.
"""

from __future__ import annotations

import random

_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
_NO_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def ean13(first_twelve: str) -> str:
    """Append the EAN-13 check digit to twelve digits."""
    if len(first_twelve) != 12 or not first_twelve.isdigit():
        raise ValueError("EAN-13 needs twelve digits before the check digit")
    total = sum(map(int, first_twelve[0::2])) + 3 * sum(map(int, first_twelve[1::2]))
    return first_twelve + str((10 - total % 10) % 10)


def is_valid_ean13(code: str) -> bool:
    return len(code) == 13 and code.isdigit() and ean13(code[:12]) == code


def danish_cvr(rng: random.Random) -> str:
    """An 8-digit CVR number whose weighted digit sum is divisible by 11 (the modulus-11 rule)."""
    while True:
        first = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(6)]
        partial = sum(d * w for d, w in zip(first, _CVR_WEIGHTS, strict=False))
        check = (-partial) % 11
        if check < 10:
            return "".join(map(str, first)) + str(check)


def is_valid_cvr(cvr: str) -> bool:
    return (
        len(cvr) == 8
        and cvr.isdigit()
        and cvr[0] != "0"
        and sum(int(d) * w for d, w in zip(cvr, _CVR_WEIGHTS, strict=True)) % 11 == 0
    )


def norwegian_org_number(rng: random.Random) -> str:
    """A 9-digit Norwegian organisation number (starts with 8 or 9, modulus-11 check digit)."""
    while True:
        first = [rng.choice((8, 9))] + [rng.randint(0, 9) for _ in range(7)]
        remainder = sum(d * w for d, w in zip(first, _NO_ORG_WEIGHTS, strict=True)) % 11
        check = 0 if remainder == 0 else 11 - remainder
        if check < 10:
            return "".join(map(str, first)) + str(check)


def is_valid_norwegian_org_number(number: str) -> bool:
    if len(number) != 9 or not number.isdigit():
        return False
    remainder = sum(int(d) * w for d, w in zip(number[:8], _NO_ORG_WEIGHTS, strict=True)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return check < 10 and int(number[8]) == check


def eu_vat_number(rng: random.Random, country_code: str) -> str:
    """A plausible EU VAT id for the countries the company trades with (format only, no checksum)."""
    digits = {"DE": 9, "SE": 12, "NL": 9, "FI": 8, "PL": 10}.get(country_code, 9)
    body = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
    if country_code == "NL":
        body += "B01"
    return country_code + body
