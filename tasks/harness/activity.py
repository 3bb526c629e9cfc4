"""Scripted activity in the Rackbeat sandbox, so a person watching `rbsync run` sees transfers happen.

Every few seconds it creates a product (in one of the sandbox's product groups) or changes the price or
name of one it made before, through the public Rackbeat API like any user would; the sandbox then sends
its webhooks to our receiver.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from typing import Any

from clients.errors import ApiError
from clients.rackbeat import RackbeatClient

ADJECTIVES = ("Oak", "Steel", "Linen", "Copper", "Birch", "Wool", "Glass", "Slate", "Cedar", "Cotton")
NOUNS = ("shelf", "lamp", "stool", "basket", "tray", "hook", "crate", "bench", "mirror", "rug")


def product_groups(client: RackbeatClient) -> list[str]:
    return [str(group["number"]) for group in client.iter("product-groups", "product_groups", limit=100)]


def new_product_body(number: str, group: str, rng: random.Random) -> dict[str, Any]:
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    return {"number": number, "name": name, "group": group, "sales_price": round(rng.uniform(20, 900), 2)}


def product_change(rng: random.Random) -> dict[str, Any]:
    """A change a user might make: a new price most of the time, sometimes a new name."""
    if rng.random() < 0.7:
        return {"sales_price": round(rng.uniform(20, 900), 2)}
    return {"name": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} (v{rng.randint(2, 9)})"}


class ActivitySimulator:
    """Creates and updates products every `interval` seconds in a background thread until `stop()`."""

    def __init__(
        self,
        client: RackbeatClient,
        interval: float = 5.0,
        report: Callable[[str], None] = print,
        seed: int | None = None,
        prefix: str = "SIM",
        groups: list[str] | None = None,
    ) -> None:
        self.client = client
        self.interval = interval
        self.report = report
        self.rng = random.Random(seed)
        self.prefix = prefix
        self._made: list[str] = []
        self._numbers = itertools.count(1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rbsync-activity", daemon=True)
        self.groups: list[str] = list(groups or [])

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> ActivitySimulator:
        """Read the product groups (unless given) and start changing products in the background."""
        if not self.groups:
            self.groups = product_groups(self.client)
        if not self.groups:
            raise RuntimeError("the Rackbeat sandbox has no product groups to put products in")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def step(self) -> str:
        """One action; returns what it did (also used by tests)."""
        if not self._made or self.rng.random() < 0.5:
            number = f"{self.prefix}-{next(self._numbers):04d}"
            body = new_product_body(number, self.rng.choice(self.groups), self.rng)
            self.client.create("products", "product", body)
            self._made.append(number)
            return f"created product {number} ({body['name']}, {body['sales_price']:.2f})"
        number = self.rng.choice(self._made)
        change = product_change(self.rng)
        self.client.update("products", number, "product", change)
        detail = ", ".join(f"{field}={value}" for field, value in change.items())
        return f"updated product {number} ({detail})"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.report(f"activity: {self.step()}")
            except ApiError as error:
                self.report(f"activity: Rackbeat refused a change: {error}")
