"""`CachedBindings`: a dependency's binding read once per run, the kind being brought across always live."""

from __future__ import annotations

import redis

from tasks.startup.cached_bindings import CachedBindings
from tasks.sync.bindings import BindingStore


def bind(store: BindingStore, kind: str, rackbeat_key: str, economic_key: int) -> None:
    store.put_import(kind, rackbeat_key, economic_key=economic_key, economic_resource=kind, rackbeat_hash="h")


def test_settled_kinds_are_kept_the_focus_kind_is_read_live(
    redis_client: redis.Redis, namespace: str
) -> None:
    plain = BindingStore(redis_client, namespace)
    cached = CachedBindings(redis_client, namespace)
    try:
        bind(plain, "customer_group", "1", 1)
        cached.settle("customer_group")
        cached.start("customer")
        assert cached.rackbeat_key_for("customer_group", 1) == "1"
        assert cached.rackbeat_key_for("customer_group", 2) is None
        bind(plain, "customer_group", "2", 2)  # behind the run's back: a settled kind is not re-read
        assert cached.rackbeat_key_for("customer_group", 2) is None
        cached.forget("customer_group")
        assert cached.rackbeat_key_for("customer_group", 2) == "2"

        assert cached.rackbeat_key_for("unit", 5) is None
        bind(plain, "unit", "u5", 5)  # an unsettled kind's absence is never kept
        assert cached.rackbeat_key_for("unit", 5) == "u5"

        assert cached.rackbeat_key_for("customer", 9) is None
        bind(plain, "customer", "9", 9)  # the focus kind is always live
        assert cached.rackbeat_key_for("customer", 9) == "9"
        binding = cached.get("customer", "9")
        assert binding is not None and binding.economic_key == 9
    finally:
        for kind, key in (
            ("customer_group", "1"),
            ("customer_group", "2"),
            ("unit", "u5"),
            ("customer", "9"),
        ):
            plain.delete(kind, key)
