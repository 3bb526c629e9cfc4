"""The product catalogue: products and lots (BOMs), streamed in index order.

Numbers are unique by construction (a serial derived from the index) and at most 25 characters. Most look like
`SB-100042`; a few use `/`, a space or `+`, or are bare digits, as real catalogues do, because those are the
numbers that break URL handling. The first indices always cover each style so even a tiny data set has them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import accumulate

from sandbox.seed import vocabulary as vocab
from sandbox.seed.identifiers import ean13
from sandbox.seed.model import Product
from sandbox.seed.parties import FIRST_SUPPLIER_NUMBER
from sandbox.seed.randomness import money, pick, rng_for, shelf_price, timestamp_before
from sandbox.seed.reference import (
    CATALOGUE_GROUPS,
    KIT_GROUP,
    PRODUCT_GROUP_BY_KEY,
    STOCK_LOCATIONS,
    UNIT_BY_KEY,
)

MAX_NUMBER_LENGTH = 25
FIRST_PRODUCT_SERIAL = 100_000
FIRST_LOT_SERIAL = 1_000

GROUP_PREFIXES = {
    "power_tools": "EV",
    "hand_tools": "HV",
    "fasteners": "SB",
    "boards": "BP",
    "timber": "TL",
    "paint": "MF",
    "safety": "SA",
    "plumbing": "VV",
    "electrical": "EA",
}
# Relative share of the catalogue per group: a wholesaler carries far more fasteners than power tools.
GROUP_WEIGHTS = (8, 10, 22, 8, 10, 10, 10, 11, 11)
_CUMULATIVE_WEIGHTS = tuple(accumulate(GROUP_WEIGHTS))
_FORCED_STYLES = {1: "/", 2: " ", 3: "+", 4: ""}
# The first products are never barred, so even a tiny catalogue has something to sell.
NEVER_BARRED_PREFIX = 5
# Documents and lots draw from the head of the catalogue: the items a wholesaler actually sells most.
POPULAR_PRODUCTS = 500
PACK_SIZES = (50, 100, 200, 250, 500, 1000)


def product_number(index: int, prefix: str, style: str) -> str:
    """`style` is the separator between prefix and serial; "" means the bare serial."""
    serial = FIRST_PRODUCT_SERIAL + index
    return str(serial) if style == "" else f"{prefix}{style}{serial}"


def lot_number(index: int) -> str:
    return f"KIT-{FIRST_LOT_SERIAL + index}"


def _style(rng: random.Random, index: int) -> str:
    if index in _FORCED_STYLES:
        return _FORCED_STYLES[index]
    roll = rng.random()
    if roll < 0.84:
        return "-"
    if roll < 0.89:
        return "/"
    if roll < 0.93:
        return " "
    if roll < 0.96:
        return "+"
    return ""


def make_product(rng: random.Random, index: int, supplier_count: int) -> Product:
    """Product `index`, drawing from the catalogue's stream (call in index order)."""
    r = rng.random
    group = rng.choices(CATALOGUE_GROUPS, cum_weights=_CUMULATIVE_WEIGHTS)[0]
    family = pick(rng, vocab.PRODUCT_FAMILIES[group.key])
    unit_key = pick(rng, family.units)
    spec = pick(rng, family.specs)
    variant = pick(rng, family.variants)
    brand = ""
    if family.branded:
        brand = pick(rng, vocab.POWER_TOOL_BRANDS if group.key == "power_tools" else vocab.HAND_TOOL_BRANDS)
    name = " ".join(p for p in (brand, family.noun, spec) if p)
    if variant:
        name = f"{name}, {variant}"
    if unit_key == "pk" and "stk" not in name:
        name = f"{name}, {pick(rng, PACK_SIZES)} stk"
    low, high = family.cost_range
    cost = money(low + (high - low) * r())
    sales = shelf_price(cost * (1.35 + 0.55 * r()))
    number = product_number(index, GROUP_PREFIXES[group.key], _style(rng, index))
    barcode = "" if r() < 0.15 else ean13(f"57012{index:07d}")  # GS1 Denmark prefix, unique per index
    stock = 0.0 if r() < 0.2 else float(1 + int(r() * 600))
    return Product(
        number=number,
        name=name,
        description=f"{family.noun} {spec}".strip() + f". Varegruppe: {group.name}.",
        group=group.number,
        unit=UNIT_BY_KEY[unit_key].number,
        cost_price=cost,
        sales_price=sales,
        recommended_price=shelf_price(sales * 1.25),
        barcode=barcode,
        barred=r() < 0.04 and index >= NEVER_BARRED_PREFIX,
        stock_quantity=stock,
        min_stock=pick(rng, (0.0, 5.0, 10.0, 25.0)),
        location=4 if group.key == "boards" else pick(rng, STOCK_LOCATIONS),
        supplier=FIRST_SUPPLIER_NUMBER + int(r() * supplier_count) if supplier_count else None,
        weight_kg=round(0.05 + 25 * r(), 2),
        updated_at=timestamp_before(rng, 365),
    )


def iter_products(seed: int, count: int, supplier_count: int) -> Iterator[Product]:
    rng = rng_for(seed, "products")
    for index in range(count):
        yield make_product(rng, index, supplier_count)


def popular_products(seed: int, count: int, supplier_count: int) -> list[Product]:
    """The sellable (not barred) products among the first POPULAR_PRODUCTS: what documents and lots use."""
    head = iter_products(seed, min(count, POPULAR_PRODUCTS), supplier_count)
    return [product for product in head if not product.barred]


def iter_lots(seed: int, count: int, popular: list[Product]) -> Iterator[Product]:
    """BOMs built from popular products; from the third lot on, some contain an earlier lot."""
    rng = rng_for(seed, "lots")
    by_group: dict[int, list[Product]] = {}
    for product in popular:
        by_group.setdefault(product.group, []).append(product)
    earlier: list[Product] = []
    for index in range(count):
        kit_name, group_keys = pick(rng, vocab.KIT_NAMES)
        candidates = [p for key in group_keys for p in by_group.get(PRODUCT_GROUP_BY_KEY[key].number, ())]
        candidates = candidates or popular
        components: dict[str, float] = {}
        cost = 0.0
        for _ in range(rng.randint(2, 5)):
            product = pick(rng, candidates)
            if product.number not in components:
                quantity = pick(rng, (1.0, 1.0, 2.0, 4.0, 10.0))
                components[product.number] = quantity
                cost += product.cost_price * quantity
        if index >= 2 and rng.random() < 0.15:
            inner = pick(rng, earlier)
            components[inner.number] = 1.0
            cost += inner.cost_price
        sales = shelf_price(cost * rng.uniform(1.2, 1.45))
        lot = Product(
            number=lot_number(index),
            name=f"{kit_name} {pick(rng, ('basis', 'plus', 'pro'))} nr. {index + 1}",
            description=f"Samlet sæt med {len(components)} varer. Varegruppe: {KIT_GROUP.name}.",
            group=KIT_GROUP.number,
            unit=UNIT_BY_KEY["sæt"].number,
            cost_price=money(cost),
            sales_price=sales,
            recommended_price=shelf_price(sales * 1.2),
            barcode=ean13(f"57013{index:07d}"),
            barred=False,
            stock_quantity=float(rng.randint(0, 40)),
            min_stock=0.0,
            location=1,
            supplier=None,
            weight_kg=0.0,
            updated_at=timestamp_before(rng, 365),
            components=tuple(components.items()),
        )
        earlier.append(lot)
        yield lot
