"""The VAT zone of a trading partner (customer or supplier), decided in one place for every kind.

e-conomic files each customer and supplier under a VAT zone, which decides how VAT is booked on its
invoices. Its standard agreement has four zones (the numbers below). The rule:

1. A partner Rackbeat marks as domestic VAT-exempt stays exempt: the country cannot tell that.
2. Otherwise the partner's country decides: the company's home country is domestic, another EU member
   state is EU (only when home is in the EU too; for a company outside the EU, the EU is abroad), any
   other country is abroad.
3. A country we cannot read (free text Rackbeat does not validate) falls back to the zone set in
   Rackbeat; with neither, a partner without a country is domestic and one with an unknown country is
   refused (`UnknownCountry`) rather than guessed, because a wrong zone books the wrong VAT.

Countries arrive as ISO 3166 alpha-2 codes or as names in English, Danish or the country's own language.
"""

from __future__ import annotations

import unicodedata
from enum import IntEnum


class VatZone(IntEnum):
    """e-conomic's standard VAT zone numbers."""

    DOMESTIC = 1
    EU = 2
    ABROAD = 3
    DOMESTIC_EXEMPT = 4


RACKBEAT_ZONES: dict[str, VatZone] = {
    "domestic": VatZone.DOMESTIC,
    "eu": VatZone.EU,
    "abroad": VatZone.ABROAD,
    "domestic_exempt": VatZone.DOMESTIC_EXEMPT,
}
"""Rackbeat's `vat_zone` keys."""


class UnknownCountry(ValueError):
    """The country is not one we can place, and Rackbeat gives no zone to fall back on."""

    def __init__(self, country: str) -> None:
        super().__init__(f"country {country!r} is not known, and no VAT zone is set in Rackbeat")
        self.country = country


EU_MEMBERS = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)

_NAMES: dict[str, tuple[str, ...]] = {
    # EU members: English, Danish, own language(s)
    "AT": ("austria", "østrig", "österreich"),
    "BE": ("belgium", "belgien", "belgië", "belgique"),
    "BG": ("bulgaria", "bulgarien", "българия"),
    "CY": ("cyprus", "cypern", "κύπρος"),
    "CZ": ("czech republic", "czechia", "tjekkiet", "česko", "česká republika"),
    "DE": ("germany", "tyskland", "deutschland"),
    "DK": ("denmark", "danmark"),
    "EE": ("estonia", "estland", "eesti"),
    "ES": ("spain", "spanien", "españa"),
    "FI": ("finland", "suomi"),
    "FR": ("france", "frankrig"),
    "GR": ("greece", "grækenland", "ελλάδα", "hellas"),
    "HR": ("croatia", "kroatien", "hrvatska"),
    "HU": ("hungary", "ungarn", "magyarország"),
    "IE": ("ireland", "irland", "éire"),
    "IT": ("italy", "italien", "italia"),
    "LT": ("lithuania", "litauen", "lietuva"),
    "LU": ("luxembourg", "luxemburg"),
    "LV": ("latvia", "letland", "latvija"),
    "MT": ("malta",),
    "NL": ("netherlands", "the netherlands", "holland", "nederland", "nederlandene"),
    "PL": ("poland", "polen", "polska"),
    "PT": ("portugal",),
    "RO": ("romania", "rumænien", "românia"),
    "SE": ("sweden", "sverige"),
    "SI": ("slovenia", "slovenien", "slovenija"),
    "SK": ("slovakia", "slovakiet", "slovensko"),
    # neighbours and frequent partners outside the EU
    "NO": ("norway", "norge", "noreg"),
    "IS": ("iceland", "island", "ísland"),
    "FO": ("faroe islands", "færøerne", "føroyar"),
    "GL": ("greenland", "grønland", "kalaallit nunaat"),
    "GB": ("united kingdom", "uk", "great britain", "england", "storbritannien"),
    "CH": ("switzerland", "schweiz", "suisse", "svizzera"),
    "US": ("united states", "usa", "united states of america"),
    "CN": ("china", "kina"),
}

_BY_NAME: dict[str, str] = {name: code for code, names in _NAMES.items() for name in names}


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().casefold()


def country_code(country: str | None) -> str | None:
    """The ISO alpha-2 code for a country code or name, or None when it is empty or not recognised."""
    if not country or not country.strip():
        return None
    text = _folded(country)
    if text in _BY_NAME:
        return _BY_NAME[text]
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return None


def vat_zone(country: str | None, home_country: str, rackbeat_zone: str | None = None) -> VatZone:
    """The e-conomic VAT zone of a partner in `country`, seen from a company in `home_country` (ISO)."""
    marked = RACKBEAT_ZONES.get((rackbeat_zone or "").strip().lower())
    if marked is VatZone.DOMESTIC_EXEMPT:
        return marked
    code = country_code(country)
    home = home_country.strip().upper()
    if code is not None:
        if code == home:
            return VatZone.DOMESTIC
        if code in EU_MEMBERS and home in EU_MEMBERS:
            return VatZone.EU
        return VatZone.ABROAD
    if marked is not None:
        return marked
    if country is None or not country.strip():
        return VatZone.DOMESTIC
    raise UnknownCountry(country)
