"""Customers and suppliers, streamed in number order from one random stream per resource."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator

from sandbox.seed import vocabulary as vocab
from sandbox.seed.identifiers import danish_cvr, eu_vat_number, norwegian_org_number
from sandbox.seed.model import Address, Party
from sandbox.seed.randomness import rng_for, timestamp_before
from sandbox.seed.reference import SALES_EMPLOYEES, VAT_ZONE_BY_KEY

FIRST_CUSTOMER_NUMBER = 10001
FIRST_SUPPLIER_NUMBER = 70001

_LEGAL_SUFFIXES = ("a/s", "aps", "as", "i/s", "gmbh", "ab", "b.v.", "oy", "ehf.", "p/f", "ltd")
_TRANSLIT = str.maketrans(
    {"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue", "ð": "d", "ß": "ss"}
)


def customer_number(index: int) -> int:
    return FIRST_CUSTOMER_NUMBER + index


def supplier_number(index: int) -> int:
    return FIRST_SUPPLIER_NUMBER + index


def domain_slug(company_name: str) -> str:
    """`Jensen & Søn VVS ApS` -> `jensen-soen-vvs`: the name as a web domain label."""
    words = [w for w in company_name.lower().split() if w not in _LEGAL_SUFFIXES and w != "&"]
    ascii_name = unicodedata.normalize("NFKD", " ".join(words).translate(_TRANSLIT))
    cleaned = "".join(ch if ch.isalnum() else " " for ch in ascii_name if ord(ch) < 128)
    return "-".join(cleaned.split())[-63:].strip("-") or "firma"  # a DNS label holds 63 characters


def _region(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.58:
        return "dk"
    if roll < 0.85:
        return "no"
    if roll < 0.95:
        return "eu"
    return "abroad"


def _danish_phone(rng: random.Random) -> str:
    return f"+45 {rng.randint(20, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"


def _norwegian_phone(rng: random.Random) -> str:
    return f"+47 {rng.randint(220, 999)} {rng.randint(10, 99)} {rng.randint(100, 999)}"


def _town_name(city: str) -> str:
    """`Aarhus C` -> `Aarhus`: postal district letters do not belong in a company name."""
    head, _, tail = city.rpartition(" ")
    return head if head and len(tail) == 1 else city


def _name(rng: random.Random, patterns: tuple[str, ...], surnames: tuple[str, ...], town: str) -> str:
    first, second = rng.sample(surnames, 2)
    return rng.choice(patterns).format(surname=first, surname2=second, town=town)


def _address_and_identity(rng: random.Random, region: str, patterns: dict[str, tuple[str, ...]]) -> dict:
    """Name, address, phone, company ids, currency and locale for a party in `region`."""
    if region == "dk":
        zip_code, city = rng.choice(vocab.DANISH_TOWNS)
        cvr = danish_cvr(rng)
        return {
            "name": _name(rng, patterns["dk"], vocab.DANISH_SURNAMES, _town_name(city)),
            "address": Address(
                f"{rng.choice(vocab.DANISH_STREETS)} {rng.randint(1, 140)}", zip_code, city, "Danmark", "DK"
            ),
            "phone": _danish_phone(rng),
            "corporate_id": cvr,
            "vat_id": f"DK{cvr}",
            "currency": "DKK",
            "locale": "da",
            "tld": "dk",
        }
    if region == "no":
        zip_code, city = rng.choice(vocab.NORWEGIAN_TOWNS)
        org = norwegian_org_number(rng)
        return {
            "name": _name(rng, patterns["no"], vocab.NORWEGIAN_SURNAMES, city),
            "address": Address(
                f"{rng.choice(vocab.NORWEGIAN_STREETS)} {rng.randint(1, 90)}", zip_code, city, "Norge", "NO"
            ),
            "phone": _norwegian_phone(rng),
            "corporate_id": org,
            "vat_id": f"NO{org}MVA",
            "currency": "NOK",
            "locale": "nb",
            "tld": "no",
        }
    markets = [m for m in vocab.FOREIGN_MARKETS if m.in_eu == (region == "eu")]
    market = rng.choice(markets)
    zip_code, city = rng.choice(market.towns)
    surname = rng.choice(market.surnames)
    name = f"{surname} {market.trade_word} {market.company_suffix}"
    vat_id = eu_vat_number(rng, market.code) if market.in_eu else ""
    return {
        "name": name,
        "address": Address(
            f"{market.street} {rng.randint(1, 60)}", zip_code, city, market.country, market.code
        ),
        "phone": f"+{rng.randint(30, 49)} {rng.randint(100, 999)} {rng.randint(100000, 999999)}",
        "corporate_id": vat_id,
        "vat_id": vat_id,
        "currency": market.currency,
        "locale": "en",
        "tld": market.domain,
    }


_CUSTOMER_PATTERNS = {"dk": vocab.DANISH_CUSTOMER_PATTERNS, "no": vocab.NORWEGIAN_CUSTOMER_PATTERNS}
_SUPPLIER_PATTERNS = {"dk": vocab.SUPPLIER_PATTERNS_DK, "no": vocab.SUPPLIER_PATTERNS_NO}


# Per region: customer group, payment terms (numbers from reference.PAYMENT_TERMS, repeats weigh) and layouts.
_CUSTOMER_GROUPS = {"dk": 1, "no": 2, "eu": 3, "abroad": 4}
_CUSTOMER_TERMS = {"dk": (1, 2, 3, 3, 4, 5), "no": (7, 3), "eu": (3, 6), "abroad": (6,)}
_CHAIN_TERMS = (4, 8)  # building-supply chains get current month + 30 or net 60
_CUSTOMER_LAYOUTS = {"dk": (19, 20), "no": (21,), "eu": (22,), "abroad": (22,)}


def _unique(name: str, number: int, taken: set[str]) -> str:
    """Names repeat once a few hundred parties have been drawn; the number keeps each one (and its domain)
    distinct, as two companies never share a web domain."""
    if name in taken:
        name = f"{name} {number}"
    taken.add(name)
    return name


def make_customer(rng: random.Random, index: int, taken: set[str]) -> Party:
    """Customer `index`, drawing from the customers' stream (call in index order; `taken` holds the names
    given so far)."""
    region = _region(rng)
    who = _address_and_identity(rng, region, _CUSTOMER_PATTERNS)
    name = _unique(who["name"], customer_number(index), taken)
    domain = f"{domain_slug(name)}.{who['tld']}"
    primary = f"{'post' if region == 'no' else 'info'}@{domain}"
    extras: tuple[str, ...] = ()
    if rng.random() < 0.35:
        extras = (f"{'faktura' if region in ('dk', 'no') else 'invoice'}@{domain}",)
        if rng.random() < 0.3:
            mailbox = {"dk": "bogholderi", "no": "regnskap"}.get(region, "accounts")
            extras += (f"{mailbox}@{domain}",)
    chain = region == "dk" and rng.random() < 0.1
    group = 5 if chain else _CUSTOMER_GROUPS[region]
    term = rng.choice(_CHAIN_TERMS if chain else _CUSTOMER_TERMS[region])
    zone_key = {"dk": "domestic", "eu": "eu"}.get(region, "abroad")  # Norway is outside the EU
    layout = rng.choice(_CUSTOMER_LAYOUTS[region])
    employee = 3 if region == "no" else rng.choice(SALES_EMPLOYEES)
    ean = ""
    if region == "dk" and rng.random() < 0.08:  # public customers invoiced by EAN (NemHandel)
        ean = "5798" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    return Party(
        number=customer_number(index),
        name=name,
        region=region,
        address=who["address"],
        email=primary,
        extra_emails=extras,
        phone=who["phone"],
        corporate_id=who["corporate_id"],
        vat_id=who["vat_id"],
        currency=who["currency"],
        payment_term=term,
        group=group,
        vat_zone=VAT_ZONE_BY_KEY[zone_key].number,
        layout=layout,
        employee=employee,
        locale=who["locale"],
        website=f"www.{domain}",
        ean=ean,
        credit_limit=float(rng.choice((0, 25_000, 50_000, 100_000, 250_000))),
        barred=rng.random() < 0.03,
        bank_account="",
        updated_at=timestamp_before(rng, 400),
    )


def make_supplier(rng: random.Random, index: int, taken: set[str]) -> Party:
    """Supplier `index`, drawing from the suppliers' stream (call in index order)."""
    region = rng.choice(("dk", "dk", "dk", "no", "eu"))
    who = _address_and_identity(rng, region, _SUPPLIER_PATTERNS)
    name = _unique(who["name"], supplier_number(index), taken)
    domain = f"{domain_slug(name)}.{who['tld']}"
    zone_key = {"dk": "domestic", "no": "abroad", "eu": "eu"}[region]
    bank = (
        f"{rng.randint(1000, 9999)} {rng.randint(1000000000, 9999999999)}"
        if region == "dk"
        else f"{who['address'].country_code}{rng.randint(10, 99)}{rng.randint(10**13, 10**14 - 1)}"
    )
    return Party(
        number=supplier_number(index),
        name=name,
        region=region,
        address=who["address"],
        email=f"ordre@{domain}",
        extra_emails=(),
        phone=who["phone"],
        corporate_id=who["corporate_id"],
        vat_id=who["vat_id"],
        currency=who["currency"],
        payment_term=rng.choice((2, 3, 3, 4)),
        group=1 if region == "dk" else 2,
        vat_zone=VAT_ZONE_BY_KEY[zone_key].number,
        layout=19,
        employee=5,
        locale=who["locale"],
        website=f"www.{domain}",
        ean="",
        credit_limit=0.0,
        barred=rng.random() < 0.05,
        bank_account=bank,
        updated_at=timestamp_before(rng, 400),
    )


def iter_customers(seed: int, count: int) -> Iterator[Party]:
    rng = rng_for(seed, "customers")
    taken: set[str] = set()
    for index in range(count):
        yield make_customer(rng, index, taken)


def iter_suppliers(seed: int, count: int) -> Iterator[Party]:
    rng = rng_for(seed, "suppliers")
    taken: set[str] = set()
    for index in range(count):
        yield make_supplier(rng, index, taken)
